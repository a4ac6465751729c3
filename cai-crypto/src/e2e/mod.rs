//! End-to-end keys (mode R-E4): the server relays key material it cannot read.
//!
//! * Every device has an X25519 [`DeviceKeyPair`] and signs with its user's Ed25519
//!   [`IdentityKey`]; a [`LocalDevice`] holds both and exports them for a backup blob
//!   ([`LocalDevice::to_backup_bytes`]).
//! * A session runs in **epochs**. Whoever starts an epoch draws a 32-byte
//!   [`EpochSecret`] and sends an [`EpochBundle`]: the secret wrapped to every device of
//!   the canonical [`Roster`] with HPKE base mode (RFC 9180, DHKEM(X25519, HKDF-SHA256),
//!   HKDF-SHA256, AES-256-GCM), whose `info` binds session, epoch, roster hash, sender
//!   and recipient device, and the whole bundle signed with the sender's Ed25519 identity
//!   key. Not HPKE auth mode: it allows key-compromise impersonation.
//! * A new epoch starts whenever anyone joins or leaves ([`requires_new_epoch`]); epochs
//!   advance one at a time, and each device signs with its own identity key.
//! * Receivers track each session in a [`SessionState`]: unsigned or badly signed
//!   bundles, senders outside the previous roster and non-increasing epochs are rejected,
//!   each with its own [`Error`](crate::Error) variant (R-E4c).
//! * Per-sender keys come from the epoch secret (they keep senders' key and nonce spaces
//!   apart; every participant can derive them, so they attribute content to *a
//!   participant*, not to one — see `docs/E2E.md`, "Limits"): a content [`DataKey`](crate::DataKey)
//!   for [`envelope`](crate::envelope) ([`EpochSecret::data_key`], its id from
//!   [`sender_key_id`]) and a media base secret for SFrame ([`EpochSecret::media_secret`]).
//! * A [`HistoryBundle`] grants past epochs' secrets to a newly added participant's
//!   devices, so a counsellor taking over a case can read its history when policy allows
//!   (R-E4b).
//!
//! X25519 agreement rejects the all-zero shared secret itself ([`Error::NonContributory`](crate::Error::NonContributory)):
//! x25519-dalek returns it without failing for low-order peer keys. Rosters accept only
//! canonical, not low-order X25519 keys and valid, not small-order Ed25519 keys;
//! signatures are checked with `verify_strict`. The byte formats are in `docs/E2E.md`.
//!
//! ```
//! use cai_crypto::e2e::{DeviceId, EpochBundle, LocalDevice, Roster, SessionState};
//! use cai_crypto::{ContentKind, ItemContext, KeyEpoch, envelope};
//!
//! // Two devices: a counsellor's laptop and a client's phone.
//! let counsellor = LocalDevice::generate(DeviceId::new(b"counsellor-laptop")?)?;
//! let client = LocalDevice::generate(DeviceId::new(b"client-phone")?)?;
//! let roster = Roster::new(vec![counsellor.roster_entry()?, client.roster_entry()?])?;
//!
//! // The counsellor starts epoch 1 and sends the bundle through the server.
//! let (bundle, secret) = EpochBundle::create(b"session-9", KeyEpoch(1), &roster, &counsellor)?;
//! let wire = bundle.to_bytes().to_vec();
//!
//! // The client accepts it (trusting the counsellor's identity key from the directory).
//! let mut state = SessionState::new(b"session-9", &[counsellor.identity().public()])?;
//! let received = state.accept(&wire, &client)?;
//! assert_eq!(received, secret);
//!
//! // The counsellor seals a message under its own sender key; the client derives it too.
//! let ctx = ItemContext::new(b"tenant-1", b"session-9", b"msg-1", 1, ContentKind::Message);
//! let sealed = envelope::seal(&secret.data_key(counsellor.id())?, &ctx, b"Hello")?;
//! let key = state.data_key(KeyEpoch(1), counsellor.id())?;
//! assert_eq!(envelope::open(&key, &ctx, &sealed)?, b"Hello");
//!
//! // Replaying the bundle is refused.
//! assert!(matches!(state.accept(&wire, &client), Err(cai_crypto::Error::StaleEpoch { .. })));
//! # Ok::<(), cai_crypto::Error>(())
//! ```

mod bundle;
mod device;
mod epoch;
mod history;
mod identity;
mod roster;
mod state;
mod wire;
pub mod wrap;

pub use bundle::{
    EpochBundle, KIND_EPOCH_BUNDLE, LABEL_EPOCH_INFO, MAX_EPOCH_BUNDLE_LEN, WRAPPED_LEN,
};
pub use device::{
    DEVICE_PUBLIC_KEY_LEN, DeviceId, DeviceKeyPair, DevicePublicKey, LocalDevice, MAX_DEVICE_ID_LEN,
};
pub use epoch::{
    EPOCH_SECRET_LEN, EpochSecret, LABEL_SENDER_CONTENT, LABEL_SENDER_KEY_ID, LABEL_SENDER_MEDIA,
    sender_key_id,
};
pub use history::{
    HistoryBundle, KIND_HISTORY_BUNDLE, LABEL_HISTORY_INFO, MAX_HISTORY_BUNDLE_LEN,
    MAX_HISTORY_EPOCHS,
};
pub use identity::{IDENTITY_PUBLIC_KEY_LEN, IdentityKey, IdentityPublicKey, SIGNATURE_LEN};
pub use roster::{
    LABEL_ROSTER, MAX_ROSTER_DEVICES, ROSTER_HASH_LEN, Roster, RosterEntry, requires_new_epoch,
};
pub use state::SessionState;

use crate::Result;

/// The four magic bytes that open every end-to-end structure.
pub const MAGIC: [u8; 4] = *b"CAIK";
/// The format version this module writes and reads.
pub const VERSION: u8 = 0x01;
/// Suite 0x01: HPKE base mode with DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and
/// AES-256-GCM; Ed25519 signatures; SHA-256 hashes.
pub const SUITE: u8 = 0x01;
/// Prefix of every Ed25519 signature input of this module: the signature covers
/// `SIGNATURE_CONTEXT ‖ every byte of the structure before the signature`.
pub const SIGNATURE_CONTEXT: &[u8] = b"cai e2e signature v1";
/// Kind byte of a [`LocalDevice`] key backup.
pub const KIND_DEVICE_BACKUP: u8 = device::KIND_DEVICE_BACKUP;

/// `SIGNATURE_CONTEXT ‖ body`.
pub(crate) fn signature_input(body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIGNATURE_CONTEXT.len() + body.len());
    m.extend_from_slice(SIGNATURE_CONTEXT);
    m.extend_from_slice(body);
    m
}

/// Verifies `signature` over `SIGNATURE_CONTEXT ‖ body`.
pub(crate) fn check_signature_input(
    identity: &IdentityPublicKey,
    body: &[u8],
    signature: &[u8],
) -> Result<()> {
    identity.verify(&signature_input(body), signature)
}
