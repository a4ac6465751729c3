//! # cai-rtc
//!
//! Real-time transport for the cai SDK: the signaling protocol that brings participants
//! of a counselling session together, WebRTC peers (the `webrtc` crate), a data channel
//! whose every message is a `cai-crypto` envelope, and audio/video whose frames are
//! encrypted with SFrame (`cai_crypto::sframe`) before packetisation, so that neither the
//! server nor an SFU in the middle can read them.
//!
//! What is in it:
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
//!
//! A participant seals chat for the data channel with the session's data key, and the
//! other end opens it — refusing anything that claims a sender other than the
//! participant at the other end of the channel (everyone in a call holds the key):
//!
//! ```
//! use cai_crypto::{DataKey, KeyEpoch};
//! use cai_rtc::data::{ChannelContext, DataError, DataLimits, Incoming, SealedChannel};
//! use cai_rtc::signaling::CallId;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let key = DataKey::generate(KeyEpoch(1))?; // the session's key, as both hold it
//! let call = CallId::random()?; // stands in for signaling's `admitted.call`
//! let context = |own| ChannelContext {
//!     tenant: b"ten_nord".to_vec(),
//!     session: b"ses_0196f3c4a1b27c3d8e9f0a1b2c3d4e5f".to_vec(),
//!     call,
//!     sender_index: own, // from signaling's `admitted`
//!     mode: None,
//! };
//! let mut cora = SealedChannel::new(context(0), &key, DataLimits::default())?;
//! let mut robin = SealedChannel::new(context(1), &key, DataLimits::default())?;
//! robin.expect_remote(0);
//!
//! let sealed = cora.seal_chat("Guten Tag")?; // what the relay sees: ciphertext
//! assert_eq!(
//!     robin.open(&sealed)?,
//!     Some(Incoming::Chat { sender: 0, text: "Guten Tag".into() })
//! );
//! // The same bytes again are a replay.
//! assert!(matches!(robin.open(&sealed), Err(DataError::Replayed { .. })));
//! # Ok(())
//! # }
//! ```

#[cfg(feature = "peer")]
pub mod call;
pub mod data;
pub mod media;
#[cfg(feature = "peer")]
pub mod peer;
pub mod signaling;
pub mod webrtc_json;
