//! End-to-end mode (R-E4) on MLS (RFC 9420, `openmls`): the adversary is the
//! platform's own server and its operators.
//!
//! * One MLS group per session, cipher suite 0x0001
//!   ([`CIPHERSUITE`]). Every leaf is a device whose [`DeviceCredential`] is signed by
//!   its user's identity key ([`IdentityKey`]), so only the user can add a device of
//!   theirs; a [`TrustStore`] decides which identity keys are the users' (strict, or
//!   trust on first use — only through the constructor that says so).
//! * A [`Device`] is one client: it publishes key packages, creates, joins and changes
//!   groups, and refuses any commit whose signed [`EpochRecord`] does not describe the
//!   epoch it computes (forks are detected, not followed).
//! * The server is only the Delivery Service ([`DsGroup`]): it checks commits against
//!   the public group state and accepts the first valid commit of each epoch.
//! * Content is sealed under a per-epoch exporter key and signed inside by the sending
//!   device ([`Device::seal`], [`Device::open`]); media keys per sender follow RFC 9605
//!   §5.2 and frames are signed ([`MediaSender`], [`MediaReceiver`]).
//! * The session's mode is a signed [`ModeDescriptor`] in the group context: no
//!   silent downgrade.
//! * History grants hand a new counsellor earlier epochs' keys, each checked against the
//!   record chain (R-E4b, R-E4c); a [`VerificationCode`] lets people compare the group.
//!
//! The full profile and every byte format are in `docs/E2E.md`.
//!
//! ```
//! use cai_crypto::e2e::{
//!     AccountRef, Device, DeviceId, DsGroup, IdentityKey, ModeDescriptor, TrustStore,
//! };
//! use cai_crypto::modes::SessionMode;
//! use cai_crypto::{ContentKind, ItemContext};
//!
//! // A counsellor and a client, each with an identity key and one device.
//! let (ck, cl) = (IdentityKey::generate()?, IdentityKey::generate()?);
//! let new = |k: &IdentityKey, a: &[u8], d: &[u8]| {
//!     Device::new(k, AccountRef::new(a)?, DeviceId::new(d)?, TrustStore::trust_on_first_use())
//! };
//! let mut counsellor = new(&ck, b"acc_c", b"laptop")?;
//! let mut client = new(&cl, b"acc_k", b"phone")?;
//!
//! // The counsellor creates the session's group; the server starts tracking it.
//! let d = ModeDescriptor::sign(&ck, &AccountRef::new(b"acc_c")?, b"ten_1", b"ses_9", SessionMode::EndToEnd)?;
//! let (group_info, record) = counsellor.create_group(&d)?;
//! let mut server = DsGroup::create(b"ten_1", b"ses_9", &group_info, &record)?;
//! let gid = server.group_id().to_vec();
//!
//! // Adding the client: the server checks and orders the commit, then both apply it.
//! let h = counsellor.add(&gid, &[client.key_package(false)?])?;
//! let checked = server.check(&h.commit, &h.record)?;
//! server.apply(checked)?;
//! counsellor.confirm(&gid)?;
//! client.join(b"ten_1", b"ses_9", h.welcome.as_deref().unwrap_or_default(), &h.record)?;
//! assert_eq!(counsellor.verification_code(&gid)?, client.verification_code(&gid)?);
//!
//! // Content is sealed in the current epoch and signed by the sending device.
//! let ctx = ItemContext::new(b"ten_1", b"ses_9", b"msg-1", 1, ContentKind::Message);
//! let sealed = counsellor.seal(&gid, &ctx, b"Hello")?;
//! let opened = client.open(&gid, &ctx, &sealed)?;
//! assert_eq!(opened.plaintext, b"Hello");
//! assert_eq!(opened.sender.account().as_bytes(), b"acc_c");
//! # Ok::<(), cai_crypto::Error>(())
//! ```

mod client;
mod content;
mod credential;
mod descriptor;
mod device;
pub mod ds;
mod history;
mod identity;
mod media;
mod mls;
mod record;
mod trust;
mod verify;
mod wire;
pub mod wrap;

pub use client::{
    Device, EpochKeys, Handshake, Joined, KIND_DEVICE_STATE, MemberWarning, Processed,
};
pub use content::{KIND_CONTENT, LABEL_CONTENT_KEY, LABEL_CONTENT_KEY_ID, Opened};
pub use credential::{AccountRef, DeviceCredential, KIND_CREDENTIAL, MAX_ACCOUNT_ID_LEN};
pub use descriptor::{KIND_MODE_DESCRIPTOR, ModeDescriptor, group_id};
pub use device::{
    DEVICE_PUBLIC_KEY_LEN, DeviceId, DeviceKeyPair, DevicePublicKey, MAX_DEVICE_ID_LEN,
};
pub use ds::{CommitCheck, DsGroup, KeyPackageInfo};
pub use history::{KIND_HISTORY_GRANT, LABEL_HISTORY_INFO, MAX_HISTORY_EPOCHS, grant_group_id};
pub use identity::{IDENTITY_PUBLIC_KEY_LEN, IdentityKey, IdentityPublicKey, SIGNATURE_LEN};
pub use media::{
    LABEL_MEDIA_SIGNATURE, MEDIA_EPOCH_BITS, MediaReceiver, MediaSender, ReceivedFrame,
    SFRAME_EXPORTER_LABEL,
};
pub use mls::{
    CIPHERSUITE, EXTENSION_MODE_DESCRIPTOR, MAX_GROUP_MEMBERS, MAX_MLS_MESSAGE_LEN, MAX_STATE_LEN,
};
pub use record::{
    DIGEST_LEN, EpochRecord, KIND_EPOCH_RECORD, LABEL_AUTHENTICATOR, LABEL_KEY_COMMITMENT,
    LABEL_MEMBERS, LABEL_RECORD,
};
pub use trust::{TrustLevel, TrustStore};
pub use verify::{KIND_VERIFICATION_QR, LABEL_VERIFICATION_CODE, VerificationCode};

use crate::Result;

/// The four magic bytes that open every cai end-to-end structure.
pub const MAGIC: [u8; 4] = *b"CAIK";
/// The format version this module writes and reads: 0x02, the MLS profile.
pub const VERSION: u8 = 0x02;
/// Suite byte 0x01: MLS cipher suite 0x0001
/// (`MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519`); HPKE for history grants as in
/// [`wrap`]; SHA-256 hashes.
pub const SUITE: u8 = 0x01;
/// Prefix of every Ed25519 signature input of this module: a signature covers
/// `SIGNATURE_CONTEXT ‖ every byte of the structure before the signature`. MLS's own
/// signatures start with a TLS-encoded label length below 64, so no MLS signature
/// input can be one of ours, nor the reverse.
pub const SIGNATURE_CONTEXT: &[u8] = b"cai e2e signature v2";

/// `SIGNATURE_CONTEXT ‖ body`.
pub(crate) fn signature_input(body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIGNATURE_CONTEXT.len() + body.len());
    m.extend_from_slice(SIGNATURE_CONTEXT);
    m.extend_from_slice(body);
    m
}

/// Verifies `signature` over `SIGNATURE_CONTEXT ‖ body`.
pub(crate) fn check_signature_input(
    key: &IdentityPublicKey,
    body: &[u8],
    signature: &[u8],
) -> Result<()> {
    key.verify(&signature_input(body), signature)
}

/// Reads the Ed25519 signature that ends a structure at `r`'s position and checks it,
/// under `key`, over every byte of `bytes` before it; nothing may follow.
pub(crate) fn verify_signed_tail(
    r: &mut wire::Reader<'_>,
    bytes: &[u8],
    key: &IdentityPublicKey,
) -> Result<()> {
    let signed = r.position();
    let sig: [u8; SIGNATURE_LEN] = r.array()?;
    r.finish()?;
    let body = bytes.get(..signed).ok_or(crate::Error::Truncated {
        what: "signed structure",
        needed: signed,
        got: bytes.len(),
    })?;
    check_signature_input(key, body, &sig)
}
