//! End-to-end mode (R-E4) on MLS (RFC 9420, `openmls`).
//!
//! MODULE DOCS FOLLOW.

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
pub use content::{
    KIND_CONTENT, LABEL_CONTENT_KEY, LABEL_CONTENT_KEY_ID, LABEL_CONTENT_SIGNATURE, Opened,
};
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
