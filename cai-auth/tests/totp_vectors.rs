//! RFC 4226 Appendix D (HOTP) and RFC 6238 Appendix B (TOTP) test vectors, as data
//! (`tests/vectors/totp/`), through the same code the second factor uses.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;

use cai_auth::totp::{HotpHash, STEP_SECS, TotpSecret, hotp, step_at};
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors/totp")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

#[test]
fn rfc4226_hotp_vectors() {
    let v = load("rfc4226_appendix_d_hotp.json");
    let key = v["secret_ascii"].as_str().unwrap().as_bytes().to_vec();
    let cases = v["vectors"].as_array().unwrap();
    assert_eq!(cases.len(), 10);
    for c in cases {
        let counter = c["counter"].as_u64().unwrap();
        assert_eq!(
            hotp(&key, counter, 6, HotpHash::Sha1).unwrap(),
            c["hotp"].as_str().unwrap(),
            "counter {counter}"
        );
    }
}

#[test]
fn rfc6238_totp_vectors() {
    let v = load("rfc6238_appendix_b.json");
    let cases = v["vectors"].as_array().unwrap();
    assert_eq!(cases.len(), 18);
    for c in cases {
        let time = c["unix_time"].as_u64().unwrap();
        let step = c["step"].as_u64().unwrap();
        assert_eq!(c["t0"].as_u64().unwrap(), 0);
        let counter = step_at(time, step);
        assert_eq!(format!("{counter:016X}"), c["T_hex"].as_str().unwrap());
        let hash = match c["algorithm"].as_str().unwrap() {
            "SHA1" => HotpHash::Sha1,
            "SHA256" => HotpHash::Sha256,
            "SHA512" => HotpHash::Sha512,
            other => panic!("{other}"),
        };
        let digits = u32::try_from(c["digits"].as_u64().unwrap()).unwrap();
        let key = c["seed_ascii"].as_str().unwrap().as_bytes();
        assert_eq!(
            hotp(key, counter, digits, hash).unwrap(),
            c["totp"].as_str().unwrap(),
            "{c}"
        );
    }
}

#[test]
fn the_authenticator_app_code_is_the_six_digit_tail_of_the_sha1_vectors() {
    // What an app shows for the RFC's SHA-1 seed is the same computation with 6 digits.
    let v = load("rfc6238_appendix_b.json");
    let secret = TotpSecret::from_bytes(*b"12345678901234567890");
    for c in v["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["algorithm"] == "SHA1")
    {
        let time = c["unix_time"].as_u64().unwrap();
        let eight = c["totp"].as_str().unwrap();
        let code = secret.code_at_step(step_at(time, STEP_SECS)).unwrap();
        assert_eq!(code, eight[2..], "at {time}");
        assert_eq!(
            secret.matching_step(&code, time, None).unwrap(),
            Some(step_at(time, STEP_SECS))
        );
    }
}

#[test]
fn out_of_range_digit_counts_are_errors() {
    for digits in [0, 5, 10] {
        assert!(hotp(b"key", 1, digits, HotpHash::Sha1).is_err());
    }
}
