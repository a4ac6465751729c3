//! AES-256-GCM backends.
//!
//! The wire formats of this crate never depend on the backend: every backend implements
//! the same AES-256-GCM (NIST SP 800-38D, 96-bit nonces, 128-bit tags). Like rustls'
//! `CryptoProvider`, a backend is a plain `&'static dyn` value:
//!
//! * [`RUST_CRYPTO`] — portable pure-Rust RustCrypto `aes-gcm`, always available.
//! * [`RING`] — `ring`'s assembly implementation (feature `ring`), several times faster
//!   on x86-64 and arm64.
//!
//! [`default_backend`] picks `ring` when the feature is on. Both run the same Wycheproof
//! vectors (`tests/vectors_aes_gcm.rs`).

use core::fmt;

use crate::{Error, Result};

/// AES-256 key length in bytes.
pub const KEY_LEN: usize = 32;
/// GCM nonce length in bytes.
pub const NONCE_LEN: usize = 12;
/// GCM tag length in bytes.
pub const TAG_LEN: usize = 16;

/// An AES-256-GCM implementation: turns raw key bytes into a prepared key.
pub trait AeadBackend: Send + Sync + fmt::Debug {
    /// A short name for reports and benchmarks.
    fn name(&self) -> &'static str;

    /// Expands `key` into a key ready for many seal/open calls.
    fn prepare(&self, key: &[u8; KEY_LEN]) -> Result<Box<dyn AeadKey>>;
}

/// A prepared AES-256-GCM key.
///
/// Implementations must not keep plaintext after a failed open: on
/// [`Error::AuthenticationFailed`] the buffer content is unspecified and the caller
/// discards it.
pub trait AeadKey: Send + Sync {
    /// Encrypts `buf` in place and returns the tag.
    fn seal_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN]>;

    /// Verifies `tag` and decrypts `buf` in place.
    fn open_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<()>;
}

/// The portable RustCrypto backend.
pub static RUST_CRYPTO: &dyn AeadBackend = &RustCryptoBackend;

/// The `ring` backend.
#[cfg(feature = "ring")]
pub static RING: &dyn AeadBackend = &RingBackend;

/// The fastest backend compiled in: [`RING`] with the `ring` feature, else [`RUST_CRYPTO`].
pub fn default_backend() -> &'static dyn AeadBackend {
    #[cfg(feature = "ring")]
    {
        RING
    }
    #[cfg(not(feature = "ring"))]
    {
        RUST_CRYPTO
    }
}

/// Every backend compiled in, for tests and benchmarks.
pub fn all_backends() -> Vec<&'static dyn AeadBackend> {
    #[allow(unused_mut)]
    let mut v = vec![RUST_CRYPTO];
    #[cfg(feature = "ring")]
    v.push(RING);
    v
}

#[derive(Debug)]
struct RustCryptoBackend;

struct RustCryptoKey(aes_gcm::Aes256Gcm);

impl AeadBackend for RustCryptoBackend {
    fn name(&self) -> &'static str {
        "rustcrypto"
    }

    fn prepare(&self, key: &[u8; KEY_LEN]) -> Result<Box<dyn AeadKey>> {
        use aes_gcm::KeyInit;
        Ok(Box::new(RustCryptoKey(aes_gcm::Aes256Gcm::new(
            &(*key).into(),
        ))))
    }
}

impl AeadKey for RustCryptoKey {
    fn seal_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN]> {
        use aes_gcm::aead::AeadInOut;
        let tag = self
            .0
            .encrypt_inout_detached(&(*nonce).into(), aad, buf.into())
            .map_err(|_| Error::TooLarge {
                what: "AES-GCM input",
                len: buf.len() as u64,
                limit: MAX_GCM_PLAINTEXT,
            })?;
        Ok(tag.into())
    }

    fn open_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<()> {
        use aes_gcm::aead::AeadInOut;
        self.0
            .decrypt_inout_detached(&(*nonce).into(), aad, buf.into(), &(*tag).into())
            .map_err(|_| Error::AuthenticationFailed)
    }
}

/// GCM's own plaintext limit (2^39 - 256 bits).
const MAX_GCM_PLAINTEXT: u64 = (1 << 36) - 32;

#[cfg(feature = "ring")]
#[derive(Debug)]
struct RingBackend;

#[cfg(feature = "ring")]
struct RingKey(ring::aead::LessSafeKey);

#[cfg(feature = "ring")]
impl AeadBackend for RingBackend {
    fn name(&self) -> &'static str {
        "ring"
    }

    fn prepare(&self, key: &[u8; KEY_LEN]) -> Result<Box<dyn AeadKey>> {
        let unbound = ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, key).map_err(|_| {
            Error::Malformed {
                what: "AES-256 key",
                reason: "rejected by ring",
            }
        })?;
        Ok(Box::new(RingKey(ring::aead::LessSafeKey::new(unbound))))
    }
}

#[cfg(feature = "ring")]
impl AeadKey for RingKey {
    fn seal_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN]> {
        let tag = self
            .0
            .seal_in_place_separate_tag(
                ring::aead::Nonce::assume_unique_for_key(*nonce),
                ring::aead::Aad::from(aad),
                buf,
            )
            .map_err(|_| Error::TooLarge {
                what: "AES-GCM input",
                len: buf.len() as u64,
                limit: MAX_GCM_PLAINTEXT,
            })?;
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(tag.as_ref());
        Ok(out)
    }

    fn open_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<()> {
        let tag = ring::aead::Tag::from(*tag);
        self.0
            .open_in_place_separate_tag(
                ring::aead::Nonce::assume_unique_for_key(*nonce),
                ring::aead::Aad::from(aad),
                tag,
                buf,
                0..,
            )
            .map(|_| ())
            .map_err(|_| Error::AuthenticationFailed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_agree_and_detect_tampering() {
        let key = [7u8; KEY_LEN];
        let nonce = [9u8; NONCE_LEN];
        let mut outputs = Vec::new();
        for b in all_backends() {
            let k = b.prepare(&key).unwrap();
            let mut buf = b"counselling notes".to_vec();
            let tag = k.seal_in_place(&nonce, b"aad", &mut buf).unwrap();
            outputs.push((buf.clone(), tag));
            let mut bad = buf.clone();
            assert_eq!(
                k.open_in_place(&nonce, b"aaD", &mut bad, &tag),
                Err(Error::AuthenticationFailed)
            );
            k.open_in_place(&nonce, b"aad", &mut buf, &tag).unwrap();
            assert_eq!(buf, b"counselling notes");
        }
        assert!(outputs.windows(2).all(|w| w[0] == w[1]));
    }
}
