//! Signed session descriptions: in end-to-end sessions the server relays offers and
//! answers but must not be able to swap them (it could otherwise put its own DTLS
//! certificate between two peers). The sender's device key (Ed25519, the key of its MLS
//! credential) signs a canonical byte string; the receiver verifies it before using the
//! description, and after the DTLS handshake checks the certificate it saw against the
//! fingerprints the signature covered ([`check_certificate`](super::check_certificate)).
//!
//! The signed bytes (all integers big-endian):
//!
//! ```text
//! "cai-rtc session description v1" 0x00      domain separation
//! u32  protocol version (1)
//! u16  length ‖ session id text ("ses_…")
//! u16  from (sender index of the signer)
//! u16  to   (sender index of the receiver)
//! u8   type: 1 offer, 2 answer, 3 pranswer
//! u8   n ‖ n × (u8 algorithm: 1 sha-256, 2 sha-384, 3 sha-512 ‖ u8 length ‖ digest)
//!      the description's DTLS fingerprints, sorted, without duplicates
//! 32   SHA-256 of the SDP text
//! ```
//!
//! Covering the whole SDP (by its hash) as well as the fingerprints means no line of it
//! can be changed in transit; naming the fingerprints separately states what the peer
//! checks after the handshake. Verification is `verify_strict` (no malleable or
//! small-order signatures).

use cai_core::id::SessionId;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use super::fingerprint::{Fingerprint, FingerprintError, sdp_fingerprints};
use super::limits::{PROTOCOL_VERSION, SIGNATURE_BYTES};
use super::message::{Blob, SenderIndex};
use crate::webrtc_json::{SdpType, SessionDescriptionInit};

/// The domain-separation prefix of every signed description.
pub const DESCRIPTION_SIGNATURE_CONTEXT: &[u8] = b"cai-rtc session description v1\0";

/// Where a description travels: the session, the signer and the receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DescriptionRoute {
    /// The session of the call.
    pub session: SessionId,
    /// The signer's sender index.
    pub from: SenderIndex,
    /// The receiver's sender index.
    pub to: SenderIndex,
}

/// Why a signed description was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DescriptionError {
    /// The description's fingerprints do not pass [`sdp_fingerprints`].
    #[error(transparent)]
    Fingerprint(#[from] FingerprintError),
    /// Only offers and answers (and provisional answers) are signed.
    #[error("this description type is not signed")]
    UnsignedType,
    /// The signature is missing, malformed or does not verify.
    #[error("invalid description signature")]
    BadSignature,
}

fn type_code(t: SdpType) -> Result<u8, DescriptionError> {
    match t {
        SdpType::Offer => Ok(1),
        SdpType::Answer => Ok(2),
        SdpType::Pranswer => Ok(3),
        SdpType::Rollback => Err(DescriptionError::UnsignedType),
    }
}

/// The canonical bytes a description's signature covers (see the module documentation),
/// and the fingerprints they name.
pub fn description_signing_bytes(
    route: &DescriptionRoute,
    description: &SessionDescriptionInit,
) -> Result<(Vec<u8>, Vec<Fingerprint>), DescriptionError> {
    let kind = type_code(description.sdp_type)?;
    let fingerprints = sdp_fingerprints(&description.sdp)?;
    let session = route.session.to_string();
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(DESCRIPTION_SIGNATURE_CONTEXT);
    out.extend_from_slice(&PROTOCOL_VERSION.to_be_bytes());
    let session_len = u16::try_from(session.len()).map_err(|_| DescriptionError::UnsignedType)?;
    out.extend_from_slice(&session_len.to_be_bytes());
    out.extend_from_slice(session.as_bytes());
    out.extend_from_slice(&route.from.to_be_bytes());
    out.extend_from_slice(&route.to.to_be_bytes());
    out.push(kind);
    // More than 255 distinct fingerprints is no real description.
    let count = u8::try_from(fingerprints.len()).map_err(|_| FingerprintError::Malformed)?;
    out.push(count);
    for fp in &fingerprints {
        out.extend_from_slice(&fp.canonical());
    }
    out.extend_from_slice(&Sha256::digest(description.sdp.as_bytes()));
    Ok((out, fingerprints))
}

/// Signs `description` for `route` with the sender's device key; the result goes in the
/// `signature` member of `offer` / `answer`.
pub fn sign_description(
    key: &SigningKey,
    route: &DescriptionRoute,
    description: &SessionDescriptionInit,
) -> Result<Blob, DescriptionError> {
    let (bytes, _) = description_signing_bytes(route, description)?;
    Ok(Blob(key.sign(&bytes).to_bytes().to_vec()))
}

/// Verifies a relayed description's signature under the sender's device key and returns
/// the fingerprints it covers, for [`check_certificate`](super::check_certificate) after
/// the DTLS handshake. Any failure of the signature (missing, wrong length, wrong key,
/// changed SDP, other route) is [`DescriptionError::BadSignature`].
pub fn verify_description(
    key: &VerifyingKey,
    route: &DescriptionRoute,
    description: &SessionDescriptionInit,
    signature: Option<&Blob>,
) -> Result<Vec<Fingerprint>, DescriptionError> {
    let sig: [u8; SIGNATURE_BYTES] = signature
        .and_then(|s| s.0.as_slice().try_into().ok())
        .ok_or(DescriptionError::BadSignature)?;
    let (bytes, fingerprints) = description_signing_bytes(route, description)?;
    key.verify_strict(&bytes, &Signature::from_bytes(&sig))
        .map_err(|_| DescriptionError::BadSignature)?;
    Ok(fingerprints)
}
