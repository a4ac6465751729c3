#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! RFC 9605 test vectors (`tests/vectors/sframe/test-vectors-rfc9605-025d568.json`, the
//! file the RFC cites) through the `sframe` crate with its own RustCrypto backend (a
//! dev-dependency feature, as an independent reference) and through cai's wrapper, whose
//! frames go through cai's prepared-key backend (`src/sframe/backend.rs`): both must give
//! the vectors' exact ciphertexts.
//!
//! * `header`: every (kid, ctr) encodes to exactly `encoded`, which decodes back, also via
//!   [`cai_crypto::sframe::parse_header`]; every proper prefix is reported as truncated.
//! * `sframe`: for the AES-GCM suites 0x0004/0x0005 the labels, `sframe_secret`,
//!   `sframe_key`, `sframe_salt`, `nonce` and `aad` are recomputed independently (the
//!   crate keeps its derived secret private), then the frame is encrypted with the given
//!   kid, counter and metadata and must equal `ct` byte for byte, and decrypts back. The
//!   crate's own tests feed the counter the same way, with a `SingleUseCounter`.
//! * The AES-CTR-HMAC suites 0x0001..0x0003 also run through the crate (it supports them
//!   with RustCrypto), although cai does not use them. The `aes_ctr_hmac` section tests
//!   the inner AEAD with raw `enc_key`/`auth_key`, which the crate does not expose: not run.

use cai_crypto::sframe::{FrameDecryptor, FrameEncryptor, MediaSuite, parse_header};
use hkdf::Hkdf;
use serde::Deserialize;
use sframe::CipherSuite;
use sframe::crypto::{get_hkdf_key_expand_label, get_hkdf_salt_expand_label};
use sframe::frame::{EncryptedFrame, MediaFrame, SingleUseCounter};
use sframe::header::SframeHeader;
use sframe::key::{DecryptionKey, EncryptionKey};
use sha2::{Sha256, Sha512};

const RFC_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/vectors/sframe/test-vectors-rfc9605-025d568.json"
);

#[derive(Deserialize)]
struct Vectors {
    header: Vec<HeaderVector>,
    sframe: Vec<SframeVector>,
}

#[derive(Deserialize)]
struct HeaderVector {
    kid: u64,
    ctr: u64,
    encoded: String,
}

#[derive(Deserialize)]
struct SframeVector {
    cipher_suite: u16,
    kid: u64,
    ctr: u64,
    base_key: String,
    sframe_key_label: String,
    sframe_salt_label: String,
    sframe_secret: String,
    sframe_key: String,
    sframe_salt: String,
    metadata: String,
    nonce: String,
    aad: String,
    pt: String,
    ct: String,
}

fn load() -> Vectors {
    serde_json::from_str(&std::fs::read_to_string(RFC_FILE).unwrap()).unwrap()
}

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

#[test]
fn header_vectors() {
    let vectors = load();
    let mut run = 0;
    for v in &vectors.header {
        let encoded = h(&v.encoded);
        let header = SframeHeader::new(v.kid, v.ctr);
        assert_eq!(header.len(), encoded.len(), "kid {} ctr {}", v.kid, v.ctr);
        let mut buf = vec![0u8; header.len()];
        header.serialize(&mut buf).unwrap();
        assert_eq!(buf, encoded, "kid {} ctr {}", v.kid, v.ctr);

        let parsed = SframeHeader::deserialize(&encoded).unwrap();
        assert_eq!((parsed.key_id(), parsed.counter()), (v.kid, v.ctr));

        // Through cai's parser, also with bytes following the header.
        let mut framed = encoded.clone();
        framed.extend_from_slice(b"payload and tag");
        for bytes in [&encoded, &framed] {
            let info = parse_header(bytes).unwrap();
            assert_eq!(
                (info.kid, info.counter, info.header_len),
                (v.kid, v.ctr, encoded.len())
            );
        }
        for cut in 0..encoded.len() {
            match parse_header(encoded.get(..cut).unwrap()) {
                Err(cai_crypto::Error::Truncated { needed, got, .. }) => {
                    assert_eq!(got, cut);
                    assert_eq!(needed, if cut == 0 { 1 } else { encoded.len() });
                }
                other => panic!("prefix {cut} of {}: {other:?}", v.encoded),
            }
        }
        run += 1;
    }
    assert_eq!(run, 289);
}

fn crate_suite(id: u16) -> CipherSuite {
    match id {
        0x0001 => CipherSuite::AesCtr128HmacSha256_80,
        0x0002 => CipherSuite::AesCtr128HmacSha256_64,
        0x0003 => CipherSuite::AesCtr128HmacSha256_32,
        0x0004 => CipherSuite::AesGcm128Sha256,
        0x0005 => CipherSuite::AesGcm256Sha512,
        other => panic!("unknown suite {other}"),
    }
}

/// RFC 9605 section 4.4.2, recomputed with the `hkdf` crate:
/// `(sframe_secret, sframe_key, sframe_salt)`.
fn rfc_key_schedule(v: &SframeVector, key_len: usize) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let base_key = h(&v.base_key);
    let key_label = h(&v.sframe_key_label);
    let salt_label = h(&v.sframe_salt_label);
    let mut key = vec![0u8; key_len];
    let mut salt = vec![0u8; 12];
    let secret = if v.cipher_suite == 0x0005 {
        let (prk, hk) = Hkdf::<Sha512>::extract(None, &base_key);
        hk.expand(&key_label, &mut key).unwrap();
        hk.expand(&salt_label, &mut salt).unwrap();
        prk.to_vec()
    } else {
        let (prk, hk) = Hkdf::<Sha256>::extract(None, &base_key);
        hk.expand(&key_label, &mut key).unwrap();
        hk.expand(&salt_label, &mut salt).unwrap();
        prk.to_vec()
    };
    (secret, key, salt)
}

#[test]
fn sframe_vectors_aes_gcm() {
    let vectors = load();
    let mut run = 0;
    for v in vectors
        .sframe
        .iter()
        .filter(|v| matches!(v.cipher_suite, 0x0004 | 0x0005))
    {
        let suite = crate_suite(v.cipher_suite);
        let ours = MediaSuite::from_id(v.cipher_suite).unwrap();
        let ctx = format!("suite {:#06x}", v.cipher_suite);

        // Labels as the crate builds them.
        assert_eq!(
            get_hkdf_key_expand_label(v.kid, suite),
            h(&v.sframe_key_label),
            "{ctx}"
        );
        assert_eq!(
            get_hkdf_salt_expand_label(v.kid, suite),
            h(&v.sframe_salt_label),
            "{ctx}"
        );

        // Key schedule, nonce and AAD recomputed from the vector's own inputs.
        let (secret, key, salt) = rfc_key_schedule(v, suite.key_len());
        assert_eq!(secret, h(&v.sframe_secret), "{ctx}");
        assert_eq!(key, h(&v.sframe_key), "{ctx}");
        assert_eq!(salt, h(&v.sframe_salt), "{ctx}");
        let mut nonce = salt.clone();
        for (n, c) in nonce.iter_mut().rev().zip(v.ctr.to_be_bytes().iter().rev()) {
            *n ^= c;
        }
        assert_eq!(nonce, h(&v.nonce), "{ctx}");
        let header: Vec<u8> = (&SframeHeader::new(v.kid, v.ctr)).into();
        let metadata = h(&v.metadata);
        assert_eq!(
            [header.clone(), metadata.clone()].concat(),
            h(&v.aad),
            "{ctx}"
        );

        // Encryption through the crate, fed as its own tests do.
        let pt = h(&v.pt);
        let ct = h(&v.ct);
        let enc_key = EncryptionKey::derive_from(suite, v.kid, h(&v.base_key)).unwrap();
        let mut counter = SingleUseCounter::new(v.ctr);
        let media = MediaFrame::try_with_meta_data(&mut counter, &pt, &metadata).unwrap();
        let encrypted = media.encrypt(&enc_key).unwrap();
        assert_eq!(encrypted.sframe_cipher_text(), ct.as_slice(), "{ctx}");
        assert_eq!(encrypted.meta_data(), metadata.as_slice(), "{ctx}");

        // Decryption through the crate.
        let dec_key = DecryptionKey::derive_from(suite, v.kid, h(&v.base_key)).unwrap();
        let received = EncryptedFrame::try_with_meta_data(&ct, &metadata).unwrap();
        assert_eq!(received.decrypt(&dec_key).unwrap().payload(), pt.as_slice());

        // The same through cai's wrapper.
        let mut enc =
            FrameEncryptor::from_rfc9605_base_key(ours, v.kid, &h(&v.base_key), v.ctr).unwrap();
        assert_eq!(enc.encrypt(&pt, &metadata).unwrap(), ct, "{ctx}");
        let mut dec = FrameDecryptor::new();
        dec.add_rfc9605_base_key(ours, v.kid, &h(&v.base_key))
            .unwrap();
        let mut out = Vec::new();
        let info = dec.decrypt_into(&ct, &metadata, &mut out).unwrap();
        assert_eq!(out, pt, "{ctx}");
        assert_eq!(
            (info.kid, info.counter, info.header_len),
            (v.kid, v.ctr, header.len())
        );

        // Wrong metadata does not authenticate.
        let mut dec = FrameDecryptor::new();
        dec.add_rfc9605_base_key(ours, v.kid, &h(&v.base_key))
            .unwrap();
        assert_eq!(
            dec.decrypt(&ct, b"other metadata"),
            Err(cai_crypto::Error::AuthenticationFailed)
        );
        run += 1;
    }
    assert_eq!(run, 2);
}

#[test]
fn sframe_vectors_aes_ctr_hmac_through_the_crate() {
    let vectors = load();
    let mut run = 0;
    for v in vectors
        .sframe
        .iter()
        .filter(|v| matches!(v.cipher_suite, 0x0001..=0x0003))
    {
        let suite = crate_suite(v.cipher_suite);
        assert!(
            MediaSuite::from_id(v.cipher_suite).is_err(),
            "cai refuses CTR suites"
        );
        let (secret, key, salt) = rfc_key_schedule(v, suite.key_len());
        assert_eq!(secret, h(&v.sframe_secret));
        assert_eq!(key, h(&v.sframe_key));
        assert_eq!(salt, h(&v.sframe_salt));

        let pt = h(&v.pt);
        let ct = h(&v.ct);
        let metadata = h(&v.metadata);
        let enc_key = EncryptionKey::derive_from(suite, v.kid, h(&v.base_key)).unwrap();
        let mut counter = SingleUseCounter::new(v.ctr);
        let media = MediaFrame::try_with_meta_data(&mut counter, &pt, &metadata).unwrap();
        assert_eq!(
            media.encrypt(&enc_key).unwrap().sframe_cipher_text(),
            ct.as_slice()
        );
        let dec_key = DecryptionKey::derive_from(suite, v.kid, h(&v.base_key)).unwrap();
        let received = EncryptedFrame::try_with_meta_data(&ct, &metadata).unwrap();
        assert_eq!(received.decrypt(&dec_key).unwrap().payload(), pt.as_slice());
        run += 1;
    }
    assert_eq!(run, 3);
}
