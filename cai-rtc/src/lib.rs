//! # cai-rtc
//!
//! Real-time transport for the cai SDK: the signaling protocol that brings participants
//! of a counselling session together, WebRTC peers (the `webrtc` crate), a data channel
//! whose every message is a `cai-crypto` envelope, and audio/video whose frames are
//! encrypted with SFrame (`cai_crypto::sframe`) before packetisation, so that neither the
//! server nor an SFU in the middle can read them.
//!
//! This crate is being built (issue 12). What is in place so far:
//!
//! - [`webrtc_json`]: the browser's `RTCSessionDescriptionInit` and `RTCIceCandidateInit`
//!   dictionaries as Rust types with the same JSON shape, shared by signaling and peers.
//! - [`data`]: the data-channel protocol — chat and files as envelopes sealed with the
//!   session key, files chunked to the max-message-size and reassembled under limits
//!   (`docs/DATACHANNEL.md`).
//! - [`media`]: a call's media keys (MLS exporter in end-to-end mode, the session key
//!   otherwise), epoch changes with stale frames dropped and counted, and the protection
//!   status every participant sees (R-E5).
//! - `peer`: a WebRTC peer over the `webrtc` crate — negotiation with the
//!   [`webrtc_json`] types, trickle ICE, the sealed data channel and SFrame-protected
//!   audio/video tracks (feature `peer`, on by default).
//! - [`signaling`]: the versioned JSON signaling protocol (`docs/SIGNALING.md`), its strict
//!   parser, DTLS fingerprint and SDP signature checks, rate limits, the
//!   [`SignalingChannel`](signaling::SignalingChannel) seam and the
//!   [`SignalingHub`](signaling::SignalingHub) that admits through cai-auth and cai-core.
//! - `call`: a Rust participant's side of a call — join over a signaling channel, one
//!   peer per other participant (the newcomer offers), signed descriptions, the DTLS
//!   fingerprint check after each handshake, rekeying, and events (feature `peer`).

#[cfg(feature = "peer")]
pub mod call;
pub mod data;
pub mod media;
#[cfg(feature = "peer")]
pub mod peer;
pub mod signaling;
pub mod webrtc_json;
