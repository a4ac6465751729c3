//! cai's crypto backend for the `sframe` crate: AES-GCM keys prepared once per key.
//!
//! The crate's built-in backends keep `sframe_key` as bytes and build the AES key
//! schedule and the GHASH key from them for every frame. This backend plugs into the
//! crate's own extension point (`sframe::crypto::{KeyDerivation, AeadEncrypt,
//! AeadDecrypt}`, consumed by `GenericEncryptionKey`/`GenericDecryptionKey`): the
//! derivation of RFC 9605 section 4.4.2 runs once, when a key is created, and leaves a
//! ready [`Aes128Gcm`]/[`Aes256Gcm`] plus the salt in a [`PreparedSecret`]. A frame then
//! costs one nonce (salt XOR counter, section 4.4.3) and one AES-GCM call. Headers, frame
//! layout, counters and replay protection stay with the crate; the wire format does not
//! depend on the backend.
//!
//! Only cai's suites are supported, `AES_128_GCM_SHA256_128` (0x0004) and
//! `AES_256_GCM_SHA512_128` (0x0005); any other suite is
//! [`SframeError::UnsupportedCipherSuite`].

use core::fmt;

use aes_gcm::aead::array::Array;
use aes_gcm::{AeadInOut, Aes128Gcm, Aes256Gcm, KeyInit};
use hkdf::Hkdf;
use sframe::CipherSuite;
use sframe::crypto::{
    AeadDecrypt, AeadEncrypt, DecryptionBufferView, EncryptionBufferView, KeyDerivation,
    get_hkdf_key_expand_label, get_hkdf_salt_expand_label,
};
use sframe::error::{Result as SframeResult, SframeError};
use sframe::header::{Counter, KeyId};
use sha2::{Sha256, Sha512};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::TAG_LEN;

/// Length of `sframe_salt` and of the AES-GCM nonce of both suites.
const NONCE_LEN: usize = 12;

/// The AES-GCM instance of a key, its key schedule and GHASH key already computed.
/// Both zeroize their state on drop (`aes-gcm`'s `zeroize` feature).
enum PreparedCipher {
    Aes128(Aes128Gcm),
    Aes256(Aes256Gcm),
}

/// The secret of one SFrame key: the prepared AES-GCM instance for `sframe_key` and
/// `sframe_salt`. Zeroized on drop; its `Debug` shows the suite only.
pub(crate) struct PreparedSecret {
    cipher: PreparedCipher,
    salt: [u8; NONCE_LEN],
}

impl PreparedSecret {
    /// `sframe_salt XOR counter`, the counter right-aligned (RFC 9605 section 4.4.3).
    fn nonce(&self, counter: Counter) -> Zeroizing<[u8; NONCE_LEN]> {
        let mut nonce = Zeroizing::new(self.salt);
        for (n, c) in nonce
            .iter_mut()
            .rev()
            .zip(counter.to_be_bytes().iter().rev())
        {
            *n ^= c;
        }
        nonce
    }

    fn suite(&self) -> CipherSuite {
        match self.cipher {
            PreparedCipher::Aes128(_) => CipherSuite::AesGcm128Sha256,
            PreparedCipher::Aes256(_) => CipherSuite::AesGcm256Sha512,
        }
    }
}

impl Drop for PreparedSecret {
    fn drop(&mut self) {
        // The cipher clears its own key schedule and GHASH key when dropped.
        self.salt.zeroize();
    }
}

impl ZeroizeOnDrop for PreparedSecret {}

impl fmt::Debug for PreparedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedSecret")
            .field("suite", &self.suite())
            .finish_non_exhaustive()
    }
}

/// RFC 9605 section 4.4.2 key derivation producing a [`PreparedSecret`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct PreparedKdf;

impl KeyDerivation for PreparedKdf {
    type Secret = PreparedSecret;

    fn expand_from<M, K>(
        cipher_suite: CipherSuite,
        key_material: M,
        key_id: K,
    ) -> SframeResult<PreparedSecret>
    where
        M: AsRef<[u8]>,
        K: Into<KeyId>,
    {
        let key_id = key_id.into();
        let key_label = get_hkdf_key_expand_label(key_id, cipher_suite);
        let salt_label = get_hkdf_salt_expand_label(key_id, cipher_suite);
        let mut salt = [0u8; NONCE_LEN];
        let cipher = match cipher_suite {
            CipherSuite::AesGcm128Sha256 => {
                let hkdf = Hkdf::<Sha256>::new(None, key_material.as_ref());
                let mut key = Zeroizing::new([0u8; 16]);
                hkdf.expand(&key_label, key.as_mut_slice())
                    .and_then(|()| hkdf.expand(&salt_label, &mut salt))
                    .map_err(|_| SframeError::KeyDerivationFailure)?;
                PreparedCipher::Aes128(
                    Aes128Gcm::new_from_slice(key.as_slice())
                        .map_err(|_| SframeError::KeyDerivationFailure)?,
                )
            }
            CipherSuite::AesGcm256Sha512 => {
                let hkdf = Hkdf::<Sha512>::new(None, key_material.as_ref());
                let mut key = Zeroizing::new([0u8; 32]);
                hkdf.expand(&key_label, key.as_mut_slice())
                    .and_then(|()| hkdf.expand(&salt_label, &mut salt))
                    .map_err(|_| SframeError::KeyDerivationFailure)?;
                PreparedCipher::Aes256(
                    Aes256Gcm::new_from_slice(key.as_slice())
                        .map_err(|_| SframeError::KeyDerivationFailure)?,
                )
            }
            _ => return Err(SframeError::UnsupportedCipherSuite),
        };
        let secret = PreparedSecret { cipher, salt };
        salt.zeroize();
        Ok(secret)
    }
}

/// AES-GCM with a [`PreparedSecret`], for the two suites cai uses.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PreparedAead;

impl TryFrom<CipherSuite> for PreparedAead {
    type Error = SframeError;

    fn try_from(suite: CipherSuite) -> SframeResult<Self> {
        match suite {
            CipherSuite::AesGcm128Sha256 | CipherSuite::AesGcm256Sha512 => Ok(PreparedAead),
            _ => Err(SframeError::UnsupportedCipherSuite),
        }
    }
}

impl AeadEncrypt for PreparedAead {
    type Secret = PreparedSecret;

    fn encrypt<'a, B>(
        &self,
        secret: &PreparedSecret,
        buffer: B,
        counter: Counter,
    ) -> SframeResult<()>
    where
        B: Into<EncryptionBufferView<'a>>,
    {
        let view = buffer.into();
        let nonce = Array::from(*secret.nonce(counter));
        let data = view.data.into();
        let tag = match &secret.cipher {
            PreparedCipher::Aes128(c) => c.encrypt_inout_detached(&nonce, view.aad, data),
            PreparedCipher::Aes256(c) => c.encrypt_inout_detached(&nonce, view.aad, data),
        }
        .map_err(|_| SframeError::EncryptionFailure)?;
        if view.tag.len() != tag.len() {
            return Err(SframeError::EncryptionFailure);
        }
        view.tag.copy_from_slice(&tag);
        Ok(())
    }
}

impl AeadDecrypt for PreparedAead {
    type Secret = PreparedSecret;

    fn decrypt<'a, B>(
        &self,
        secret: &PreparedSecret,
        buffer: B,
        counter: Counter,
    ) -> SframeResult<()>
    where
        B: Into<DecryptionBufferView<'a>>,
    {
        let view = buffer.into();
        let encrypted_len = view
            .data
            .len()
            .checked_sub(TAG_LEN)
            .ok_or(SframeError::DecryptionFailure)?;
        let (encrypted, tag) = view.data.split_at_mut(encrypted_len);
        let tag = Array::try_from(&*tag).map_err(|_| SframeError::DecryptionFailure)?;
        let nonce = Array::from(*secret.nonce(counter));
        let data = encrypted.into();
        match &secret.cipher {
            PreparedCipher::Aes128(c) => c.decrypt_inout_detached(&nonce, view.aad, data, &tag),
            PreparedCipher::Aes256(c) => c.decrypt_inout_detached(&nonce, view.aad, data, &tag),
        }
        .map_err(|_| SframeError::DecryptionFailure)
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )]

    use super::*;
    use serde::Deserialize;

    const RFC_FILE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/sframe/test-vectors-rfc9605-025d568.json"
    );

    #[derive(Deserialize)]
    struct Vectors {
        sframe: Vec<Vector>,
    }

    #[derive(Deserialize)]
    struct Vector {
        cipher_suite: u16,
        kid: u64,
        ctr: u64,
        base_key: String,
        sframe_key: String,
        sframe_salt: String,
        nonce: String,
    }

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    fn gcm_vectors() -> Vec<(CipherSuite, Vector)> {
        let v: Vectors = serde_json::from_str(&std::fs::read_to_string(RFC_FILE).unwrap()).unwrap();
        let out: Vec<_> = v
            .sframe
            .into_iter()
            .filter_map(|v| match v.cipher_suite {
                0x0004 => Some((CipherSuite::AesGcm128Sha256, v)),
                0x0005 => Some((CipherSuite::AesGcm256Sha512, v)),
                _ => None,
            })
            .collect();
        assert_eq!(out.len(), 2);
        out
    }

    /// The prepared cipher and salt are the RFC's `sframe_key` and `sframe_salt`: a block
    /// sealed with the prepared cipher equals one sealed with a cipher built from the
    /// vector's `sframe_key`, and the nonce for the vector's counter is its `nonce`.
    #[test]
    fn prepared_key_and_salt_match_the_rfc_vectors() {
        for (suite, v) in gcm_vectors() {
            let secret = PreparedKdf::expand_from(suite, h(&v.base_key), v.kid).unwrap();
            assert_eq!(secret.suite(), suite);
            assert_eq!(secret.salt.as_slice(), h(&v.sframe_salt).as_slice());
            assert_eq!(secret.nonce(v.ctr).as_slice(), h(&v.nonce).as_slice());

            let key = h(&v.sframe_key);
            let nonce = Array::from([3u8; NONCE_LEN]);
            let seal = |prepared: &PreparedCipher| {
                let mut block = [0x5au8; 32];
                let tag = match prepared {
                    PreparedCipher::Aes128(c) => {
                        c.encrypt_inout_detached(&nonce, b"aad", block.as_mut_slice().into())
                    }
                    PreparedCipher::Aes256(c) => {
                        c.encrypt_inout_detached(&nonce, b"aad", block.as_mut_slice().into())
                    }
                }
                .unwrap();
                (block, tag)
            };
            let reference = match suite {
                CipherSuite::AesGcm128Sha256 => {
                    PreparedCipher::Aes128(Aes128Gcm::new_from_slice(&key).unwrap())
                }
                _ => PreparedCipher::Aes256(Aes256Gcm::new_from_slice(&key).unwrap()),
            };
            assert_eq!(seal(&secret.cipher), seal(&reference), "{suite:?}");

            // Another KID gives another key.
            let other = PreparedKdf::expand_from(suite, h(&v.base_key), v.kid + 1).unwrap();
            assert_ne!(seal(&other.cipher), seal(&reference), "{suite:?}");
        }
    }

    #[test]
    fn round_trip_and_tamper() {
        for suite in [CipherSuite::AesGcm128Sha256, CipherSuite::AesGcm256Sha512] {
            let secret = PreparedKdf::expand_from(suite, b"base key", 7u64).unwrap();
            let aead = PreparedAead::try_from(suite).unwrap();
            let mut aad = *b"header";
            let mut data = b"a media frame".to_vec();
            let mut tag = [0u8; TAG_LEN];
            aead.encrypt(
                &secret,
                EncryptionBufferView {
                    aad: &mut aad,
                    data: &mut data,
                    tag: &mut tag,
                },
                9,
            )
            .unwrap();
            assert_ne!(data, b"a media frame");
            data.extend_from_slice(&tag);

            let mut flipped = data.clone();
            flipped[0] ^= 1;
            let tampered = DecryptionBufferView {
                aad: &mut aad,
                data: &mut flipped,
            };
            assert!(matches!(
                aead.decrypt(&secret, tampered, 9),
                Err(SframeError::DecryptionFailure)
            ));
            let mut wrong_counter = data.clone();
            let view = DecryptionBufferView {
                aad: &mut aad,
                data: &mut wrong_counter,
            };
            assert!(aead.decrypt(&secret, view, 10).is_err());

            let view = DecryptionBufferView {
                aad: &mut aad,
                data: &mut data,
            };
            aead.decrypt(&secret, view, 9).unwrap();
            assert_eq!(&data[..data.len() - TAG_LEN], b"a media frame");
        }
    }

    #[test]
    fn short_input_and_bad_tag_buffer_are_errors_not_panics() {
        let suite = CipherSuite::AesGcm128Sha256;
        let secret = PreparedKdf::expand_from(suite, b"k", 0u64).unwrap();
        let mut aad = [0u8; 1];
        for len in 0..TAG_LEN {
            let mut data = vec![0u8; len];
            let view = DecryptionBufferView {
                aad: &mut aad,
                data: &mut data,
            };
            assert!(matches!(
                PreparedAead.decrypt(&secret, view, 0),
                Err(SframeError::DecryptionFailure)
            ));
        }
        let mut data = [0u8; 4];
        let mut tag = [0u8; TAG_LEN - 1];
        let view = EncryptionBufferView {
            aad: &mut aad,
            data: &mut data,
            tag: &mut tag,
        };
        assert!(matches!(
            PreparedAead.encrypt(&secret, view, 0),
            Err(SframeError::EncryptionFailure)
        ));
    }

    #[test]
    fn other_suites_are_refused() {
        for suite in [
            CipherSuite::AesCtr128HmacSha256_80,
            CipherSuite::AesCtr128HmacSha256_64,
            CipherSuite::AesCtr128HmacSha256_32,
        ] {
            assert!(matches!(
                PreparedAead::try_from(suite),
                Err(SframeError::UnsupportedCipherSuite)
            ));
            assert!(matches!(
                PreparedKdf::expand_from(suite, b"k", 0u64),
                Err(SframeError::UnsupportedCipherSuite)
            ));
        }
    }

    #[test]
    fn secret_debug_prints_no_key_bytes() {
        for suite in [CipherSuite::AesGcm128Sha256, CipherSuite::AesGcm256Sha512] {
            let secret = PreparedKdf::expand_from(suite, [0xabu8; 32], 1u64).unwrap();
            let shown = format!("{secret:?}");
            // Exactly the suite: no field that could carry key, schedule or salt bytes.
            assert_eq!(shown, format!("PreparedSecret {{ suite: {suite:?}, .. }}"));
            assert!(!shown.contains(&hex::encode(secret.salt)), "{shown}");
            let pretty = format!("{secret:#?}");
            assert!(
                !pretty.contains("salt") && !pretty.contains("cipher"),
                "{pretty}"
            );
        }
    }

    #[test]
    fn secret_zeroizes_on_drop() {
        fn zeroizes_on_drop<T: ZeroizeOnDrop>() {}
        zeroizes_on_drop::<PreparedSecret>();
        zeroizes_on_drop::<Aes128Gcm>();
        zeroizes_on_drop::<Aes256Gcm>();
    }
}
