//! Signaling (issue 12): how participants of a counselling session find each other for
//! a call. Versioned JSON messages ([`ClientMessage`], [`ServerMessage`]) travel over a
//! [`SignalingChannel`] (in memory for tests, a WebSocket for browsers with the feature
//! `websocket`) to a [`SignalingHub`], which admits through cai-auth and cai-core
//! ([`CaiBackend`]), relays offers, answers and ICE candidates between admitted members
//! of one call, and carries MLS handshakes to cai-core's Delivery Service in order.
//! `docs/SIGNALING.md` is the contract a frontend implements.
//!
//! - [`parse`]: strict and total; every limit in [`limits`], every failure typed
//!   ([`SignalingError`], [`ErrorCode`]).
//! - [`sdp_fingerprints`], [`check_certificate`], [`check_fingerprint`]: the DTLS
//!   fingerprint rule (ASVS V17) a peer applies after its handshake.
//! - [`sign_description`], [`verify_description`]: device signatures over offers and
//!   answers, so a server cannot swap them in end-to-end sessions.
//! - [`TokenBucket`] on an injectable [`MonotonicClock`]: per-connection rate limits.
//!
//! ```
//! use cai_rtc::signaling::{ClientBody, ErrorCode, ServerMessage, SignalingError, parse};
//!
//! let m = parse(br#"{"v":1,"id":7,"type":"ping"}"#)?;
//! assert_eq!(m.body, ClientBody::Ping);
//! // Whatever is wrong gets a typed answer, never a panic.
//! let e = parse(br#"{"v":2,"type":"ping"}"#).unwrap_err();
//! assert_eq!(e.code(), ErrorCode::UnsupportedVersion);
//! let pong = ServerMessage::Pong { in_reply_to: m.id };
//! assert_eq!(pong.to_json(), r#"{"v":1,"type":"pong","in_reply_to":7}"#);
//! # Ok::<(), SignalingError>(())
//! ```
//!
//! What this module does not do: it neither creates nor reads media (the peer layer
//! does), and it trusts no server-side check in place of the peers' own: fingerprints
//! and signatures are verified by the receiving peer.

mod admission;
mod channel;
mod error;
mod fingerprint;
mod hub;
pub mod limits;
mod message;
mod parse;
mod rate;
mod registry;
mod signature;
#[cfg(feature = "websocket")]
pub mod websocket;

pub use admission::{
    Admission, AdmissionOutcome, CaiBackend, DeliveryService, Denial, Entrant, Reauthorization,
};
/// The id of a call instance (`admitted.call`), from `cai_crypto::sframe`.
pub use cai_crypto::sframe::CallId;
pub use channel::{ChannelError, Frame, MemoryChannel, SignalingChannel};
pub use error::{DenyReason, ErrorCode, SignalingError};
pub use fingerprint::{
    Fingerprint, FingerprintAlgorithm, FingerprintError, check_certificate, check_fingerprint,
    sdp_fingerprints,
};
pub use hub::{HubConfig, SignalingHub};
pub use message::{
    Admitted, Blob, ClientBody, ClientMessage, DescriptionFrom, DescriptionTo, EncryptionMode,
    EndReason, IceFrom, IceTo, Join, JoinAuth, MlsClaim, MlsCommit, MlsEpoch, MlsGroup,
    MlsKeyPackages, MlsSync, PeerInfo, SecretText, SenderIndex, ServerMessage,
};
pub use parse::{parse, parse_with_id};
pub use rate::{ManualClock, MonotonicClock, SystemClock, TokenBucket};
pub use registry::HubEvents;
pub use signature::{
    DESCRIPTION_SIGNATURE_CONTEXT, DescriptionError, DescriptionRoute, description_signing_bytes,
    sign_description, verify_description,
};
