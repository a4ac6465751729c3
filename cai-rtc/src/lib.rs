//! # cai-rtc
//!
//! Real-time transport for the cai SDK — **not yet implemented; this crate exposes
//! nothing yet.**
//!
//! It will hold the WebRTC transport (the `webrtc` crate), the signaling protocol, the
//! end-to-end encrypted data channel and frame-encrypted media (SFrame, from
//! `cai-crypto::sframe`) that an SFU relays without being able to read it.
