//! AES-256-GCM backends.
//!
//! The wire formats of this crate never depend on the backend: every backend implements
//! the same AES-256-GCM (NIST SP 800-38D, 96-bit nonces, 128-bit tags). Like rustls'
//! `CryptoProvider`, a backend is a plain `&'static dyn` value:
//!
//! * [`RUST_CRYPTO`] — portable pure-Rust RustCrypto `aes-gcm`, always available.
//! * `RING` — `ring`'s assembly implementation (feature `ring`), several times faster
//!   on x86-64 and arm64.
//!
//! [`default_backend`] picks `ring` when the feature is on. Both run the same Wycheproof
//! vectors (`tests/vectors_aes_gcm.rs`).
//!
//! The traits [`AeadBackend`] and [`AeadKey`] are **sealed**: only this crate implements
//! them, so the formats built on them can rely on their contract (below). Choose among
//! the backends above; there is no way to plug in another one.
//!
//! # What is wiped when a key is dropped
//!
//! The 32-byte keys this crate hands to a backend (envelope, stream, key-wrapping and
//! backup subkeys) are [`SecretBytes`](crate::SecretBytes) and are zeroized on drop
//! whichever backend is used. A backend then *expands* the key into a prepared
//! [`AeadKey`]: the AES-256 round keys, from which the key is directly recoverable (the
//! first two round keys of the standard schedule *are* the key), and the GHASH key `H`
//! with the tables derived from it. That expanded state lives as long as the
//! [`Sealer`](crate::envelope::Sealer), [`Opener`](crate::envelope::Opener) or stream
//! object that holds it (one call, when wrapping a key or a backup), and:
//!
//! * **[`RUST_CRYPTO`] wipes it.** The crate enables `aes-gcm`'s `zeroize` feature:
//!   the `aes` cipher overwrites its round keys on drop, `ghash`/`polyval` overwrite
//!   their key, and the temporary `H` is zeroized after the key is set up.
//! * **`RING` does not.** `ring` 0.17's `LessSafeKey` (and the AES and GHASH key types
//!   inside it) has no `Drop` that clears memory and no `zeroize` support, so the round
//!   keys — hence the subkey itself — and `H` stay in freed heap memory until it is
//!   reused. This crate cannot clear them either: doing so would need `unsafe` code,
//!   which it forbids. Anyone who can read the process's freed memory (a core dump,
//!   swap, a memory-disclosure bug) may recover recent subkeys. Choose the `ring`
//!   feature for speed only where that risk is acceptable, or keep the default backend.
//!
//! Neither backend can promise more than Rust's `zeroize` does: a value's final location
//! is wiped, but copies the compiler made while moving it (before it was boxed) and
//! CPU registers are not.

use core::fmt;

use crate::{Error, Result};

/// AES-256 key length in bytes.
pub const KEY_LEN: usize = 32;
/// GCM nonce length in bytes.
pub const NONCE_LEN: usize = 12;
/// GCM tag length in bytes.
pub const TAG_LEN: usize = 16;

/// Private supertrait that seals [`AeadBackend`] and [`AeadKey`]: it is not nameable
/// outside this crate, so no other crate can implement them.
mod sealed {
    pub trait Sealed {}
}

/// An AES-256-GCM implementation: turns raw key bytes into a prepared key.
///
/// **Sealed:** implemented only by this crate's backends ([`RUST_CRYPTO`], and `RING`
/// with the `ring` feature), so the crate can rely on the contract below; an
/// implementation elsewhere does not compile:
///
/// ```compile_fail,E0277
/// use cai_crypto::aead::{AeadBackend, AeadKey, KEY_LEN};
///
/// #[derive(Debug)]
/// struct NullCipher;
///
/// impl AeadBackend for NullCipher {
///     fn name(&self) -> &'static str {
///         "null"
///     }
///     fn prepare(&self, _key: &[u8; KEY_LEN]) -> cai_crypto::Result<Box<dyn AeadKey>> {
///         Err(cai_crypto::Error::Rng)
///     }
/// }
/// ```
///
/// The contract: [`prepare`](Self::prepare) is AES-256-GCM keyed with exactly `key`
/// (same output as every other backend, NIST SP 800-38D); it keeps no copy of `key`
/// beyond the prepared key it returns.
pub trait AeadBackend: Send + Sync + fmt::Debug + sealed::Sealed {
    /// A short name for reports and benchmarks.
    fn name(&self) -> &'static str;

    /// Expands `key` into a key ready for many seal/open calls.
    fn prepare(&self, key: &[u8; KEY_LEN]) -> Result<Box<dyn AeadKey>>;
}

/// A prepared AES-256-GCM key.
///
/// **Sealed** like [`AeadBackend`]: no other crate can implement it,
///
/// ```compile_fail,E0277
/// use cai_crypto::aead::{AeadKey, NONCE_LEN, TAG_LEN};
///
/// struct Plaintext;
///
/// impl AeadKey for Plaintext {
///     fn seal_in_place(&self, _: &[u8; NONCE_LEN], _: &[u8], _: &mut [u8])
///         -> cai_crypto::Result<[u8; TAG_LEN]> {
///         Ok([0; TAG_LEN])
///     }
///     fn open_in_place(&self, _: &[u8; NONCE_LEN], _: &[u8], _: &mut [u8], _: &[u8; TAG_LEN])
///         -> cai_crypto::Result<()> {
///         Ok(())
///     }
/// }
/// ```
///
/// and the crate relies on this contract:
///
/// * `seal_in_place` is AES-256-GCM encryption with a 96-bit nonce and a 128-bit tag:
///   `buf` becomes the ciphertext (same length) and the tag is returned; it fails only
///   for input beyond GCM's length limit, leaving `buf` unspecified.
/// * `open_in_place` verifies the tag in constant time *before* it returns success and
///   fails with exactly [`Error::AuthenticationFailed`] on a wrong tag, nonce, AAD or
///   ciphertext. On failure the content of `buf` is unspecified (it may hold unverified
///   plaintext) and the caller zeroizes and discards it.
/// * No state changes between calls: the key is usable from many threads at once.
pub trait AeadKey: Send + Sync + sealed::Sealed {
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

/// The fastest backend compiled in: `RING` with the `ring` feature, else [`RUST_CRYPTO`].
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

impl sealed::Sealed for RustCryptoBackend {}
impl sealed::Sealed for RustCryptoKey {}

impl AeadBackend for RustCryptoBackend {
    fn name(&self) -> &'static str {
        "rustcrypto"
    }

    fn prepare(&self, key: &[u8; KEY_LEN]) -> Result<Box<dyn AeadKey>> {
        use aes_gcm::KeyInit;
        // Borrow the caller's bytes as the key array rather than copying them into a
        // temporary that nothing would wipe.
        Ok(Box::new(RustCryptoKey(aes_gcm::Aes256Gcm::new(key.into()))))
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
impl sealed::Sealed for RingBackend {}
#[cfg(feature = "ring")]
impl sealed::Sealed for RingKey {}

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
