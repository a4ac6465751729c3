#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! HKDF-SHA256 ([`cai_crypto::kdf::hkdf_sha256`]) against Wycheproof
//! `hkdf_sha256_test.json` (invalid = output size above 255 × 32 → error) and RFC 5869
//! appendix A test cases 1–3.

use cai_crypto::kdf::hkdf_sha256;
use serde::Deserialize;

const FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/vectors/wycheproof/hkdf_sha256_test.json"
);

#[derive(Deserialize)]
struct File {
    #[serde(rename = "testGroups")]
    groups: Vec<Group>,
}

#[derive(Deserialize)]
struct Group {
    tests: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Case {
    tc_id: u32,
    ikm: String,
    salt: String,
    info: String,
    size: usize,
    okm: String,
    result: String,
}

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

#[test]
fn wycheproof_hkdf_sha256() {
    let file: File = serde_json::from_str(&std::fs::read_to_string(FILE).unwrap()).unwrap();
    let (mut valid, mut invalid) = (0usize, 0usize);
    for c in file.groups.iter().flat_map(|g| g.tests.iter()) {
        let mut okm = vec![0u8; c.size];
        let result = hkdf_sha256(&h(&c.ikm), &h(&c.salt), &[&h(&c.info)], &mut okm);
        match c.result.as_str() {
            "valid" => {
                result.unwrap();
                assert_eq!(okm, h(&c.okm), "tcId {}", c.tc_id);
                valid += 1;
            }
            "invalid" => {
                assert!(
                    matches!(result, Err(cai_crypto::Error::TooLarge { .. })),
                    "tcId {}: {result:?}",
                    c.tc_id
                );
                assert!(c.size > 255 * 32, "tcId {}", c.tc_id);
                invalid += 1;
            }
            other => panic!("tcId {}: unexpected result {other}", c.tc_id),
        }
    }
    assert_eq!((valid, invalid), (83, 3));
}

struct Rfc5869 {
    ikm: &'static str,
    salt: &'static str,
    info: &'static str,
    len: usize,
    okm: &'static str,
}

/// RFC 5869 appendix A.1–A.3 (the SHA-256 cases).
const RFC5869: [Rfc5869; 3] = [
    Rfc5869 {
        ikm: "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
        salt: "000102030405060708090a0b0c",
        info: "f0f1f2f3f4f5f6f7f8f9",
        len: 42,
        okm: "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf\
              34007208d5b887185865",
    },
    Rfc5869 {
        ikm: "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\
              202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f\
              404142434445464748494a4b4c4d4e4f",
        salt: "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f\
               808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f\
               a0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
        info: "b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf\
               d0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeef\
               f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
        len: 82,
        okm: "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c\
              59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71\
              cc30c58179ec3e87c14c01d5c1f3434f1d87",
    },
    Rfc5869 {
        ikm: "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
        salt: "",
        info: "",
        len: 42,
        okm: "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d\
              9d201395faa4b61a96c8",
    },
];

#[test]
fn rfc5869_cases_1_to_3() {
    let mut run = 0;
    for (i, c) in RFC5869.iter().enumerate() {
        let mut okm = vec![0u8; c.len];
        hkdf_sha256(&h(c.ikm), &h(c.salt), &[&h(c.info)], &mut okm).unwrap();
        assert_eq!(hex::encode(&okm), c.okm, "RFC 5869 case {}", i + 1);
        run += 1;
    }
    assert_eq!(run, 3);
}
