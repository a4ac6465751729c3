//! Media keys of a call and how a call's media is protected, for the peer's audio and
//! video tracks.
//!
//! Every encoded frame is SFrame-encrypted (`cai_crypto::sframe`, `docs/SFRAME.md`) before
//! packetisation and decrypted after depacketisation, so a media server forwarding the
//! RTP packets cannot read it. [`CallKeys`] holds the keys of one participant:
//!
//! * **End-to-end mode** ([`CallKeys::end_to_end`]): per-sender keys from the MLS exporter
//!   (`cai_crypto::e2e::MediaSender` / `MediaReceiver`, docs/E2E.md §9), every frame also
//!   signed by its sender; the group's verification code is shown to the participants.
//! * **Other modes** ([`CallKeys::session`]): per-sender keys derived (derivation v2,
//!   `cai_crypto::sframe::session_media_secret`, docs/SFRAME.md §3a) from the key
//!   epoch's key that cai-core's `session_keys` hands out — in server-managed sessions
//!   the call key (`SessionKeyMaterial::ServerSealed { call_key }`; the data key never
//!   leaves the server), in session-key and passphrase sessions the session's data key —
//!   and from the call instance's id (`admitted.call`), the epoch and the sender index,
//!   so frames of one call never open in another. This keeps out a media server without
//!   that key, but not the operator, so the call shows as transport-only.
//!
//! When the keys move on — every MLS epoch in end-to-end mode, otherwise every key epoch
//! cai-core starts (a participant removed, an account leaving a group the session is
//! shared with; never in passphrase sessions) — the call moves to the new epoch
//! ([`CallKeys::rekey_session`], [`CallKeys::rekey_end_to_end`]): the old keys are
//! removed, and frames still arriving under them are dropped and counted
//! ([`MediaStats::dropped_stale`]) — never an error that stops the call.

mod keys;

pub use keys::{CallKeys, CallProtection, DropReason, FrameDropped, MediaStats, UnprotectedFrame};
