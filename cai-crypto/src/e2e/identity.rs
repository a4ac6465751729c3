//! Ed25519 keys: a user's identity key (it cross-signs the user's device credentials and
//! session mode descriptors) and a device's MLS signature key. Verification is
//! [`verify_strict`](ed25519_dalek::VerifyingKey::verify_strict): canonical encodings
//! only, no small-order keys or `R` points, no malleable `S`.

use core::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use zeroize::Zeroize;

use crate::secret::{SecretBytes, fill_random};
use crate::{Error, Result};

/// Length of an Ed25519 public key.
pub const IDENTITY_PUBLIC_KEY_LEN: usize = 32;
/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

/// The secret half of an identity key. Zeroized on drop, redacted in `Debug`.
#[derive(Clone)]
pub struct IdentityKey(SigningKey);

impl IdentityKey {
    /// A fresh key from the operating system's random number generator.
    pub fn generate() -> Result<Self> {
        let mut seed = [0u8; 32];
        let filled = fill_random(&mut seed);
        let key = SigningKey::from_bytes(&seed);
        seed.zeroize();
        filled.map(|()| Self(key))
    }

    /// The key whose RFC 8032 private key (seed) is `seed`.
    pub fn from_seed(seed: &SecretBytes<32>) -> Self {
        Self(SigningKey::from_bytes(seed.expose_secret()))
    }

    /// The RFC 8032 private key (seed). Keep it in a backup or key store only.
    pub fn to_seed(&self) -> SecretBytes<32> {
        SecretBytes::from_bytes(self.0.to_bytes())
    }

    /// The public half.
    pub fn public(&self) -> IdentityPublicKey {
        IdentityPublicKey(self.0.verifying_key())
    }

    /// Signs an end-to-end structure. Crate-internal: every input starts with
    /// [`SIGNATURE_CONTEXT`](super::SIGNATURE_CONTEXT), so no other protocol's message
    /// can be made to look like one of ours.
    pub(crate) fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        self.0.sign(message).to_bytes()
    }
}

impl fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityKey")
            .field("public", &self.public())
            .finish_non_exhaustive()
    }
}

/// The public half of an identity key: a valid, not small-order Ed25519 point.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct IdentityPublicKey(VerifyingKey);

impl IdentityPublicKey {
    /// Parses a compressed Edwards point. Rejects encodings that are not points and
    /// small-order ("weak") keys with [`Error::InvalidPublicKey`].
    pub fn from_bytes(bytes: &[u8; IDENTITY_PUBLIC_KEY_LEN]) -> Result<Self> {
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| Error::InvalidPublicKey)?;
        if key.is_weak() {
            return Err(Error::InvalidPublicKey);
        }
        Ok(Self(key))
    }

    /// The 32-byte encoding.
    pub fn to_bytes(&self) -> [u8; IDENTITY_PUBLIC_KEY_LEN] {
        self.0.to_bytes()
    }

    /// Verifies an Ed25519 signature with `verify_strict`. Any failure, including a
    /// signature of the wrong length, is [`Error::InvalidSignature`].
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<()> {
        let sig: [u8; SIGNATURE_LEN] = signature.try_into().map_err(|_| Error::InvalidSignature)?;
        self.0
            .verify_strict(message, &Signature::from_bytes(&sig))
            .map_err(|_| Error::InvalidSignature)
    }
}

impl PartialOrd for IdentityPublicKey {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for IdentityPublicKey {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.0.as_bytes().cmp(other.0.as_bytes())
    }
}

impl fmt::Debug for IdentityPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdentityPublicKey(")?;
        self.0
            .as_bytes()
            .iter()
            .try_for_each(|b| write!(f, "{b:02x}"))?;
        write!(f, ")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify() {
        let k = IdentityKey::generate().unwrap();
        let sig = k.sign(b"m");
        k.public().verify(b"m", &sig).unwrap();
        assert_eq!(k.public().verify(b"n", &sig), Err(Error::InvalidSignature));
        assert_eq!(
            k.public().verify(b"m", &sig[..63]),
            Err(Error::InvalidSignature)
        );
        assert_eq!(
            k.public().verify(b"m", &[0u8; 64]),
            Err(Error::InvalidSignature)
        );
        let again = IdentityKey::from_seed(&k.to_seed());
        assert_eq!(again.public(), k.public());
    }

    #[test]
    fn weak_and_invalid_keys_are_rejected() {
        // The identity point (small order).
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            IdentityPublicKey::from_bytes(&identity),
            Err(Error::InvalidPublicKey)
        );
    }

    #[test]
    fn debug_is_redacted() {
        let k = IdentityKey::from_seed(&SecretBytes::from_bytes([0x5a; 32]));
        let s = format!("{k:?}");
        assert!(!s.contains("5a5a5a5a") && !s.contains("90, 90"), "{s}");
    }
}
