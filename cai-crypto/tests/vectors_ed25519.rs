#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
#![allow(clippy::indexing_slicing)]
//! Wycheproof Ed25519 (`ed25519_test.json`) through `IdentityPublicKey::verify`
//! (`verify_strict`). "valid" must verify and "invalid" must fail. "acceptable" cases
//! (none in this file version) may go either way: strict verification rejects what the
//! legacy rules tolerate, and we only count them.

use cai_crypto::e2e::IdentityPublicKey;
use serde_json::Value;

#[test]
fn wycheproof_ed25519() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/wycheproof/ed25519_test.json"
    ))
    .unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let (mut valid, mut invalid, mut acceptable) = (0usize, 0usize, 0usize);
    for group in doc["testGroups"].as_array().unwrap() {
        let pk: [u8; 32] = hex::decode(group["publicKey"]["pk"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let key = IdentityPublicKey::from_bytes(&pk);
        for t in group["tests"].as_array().unwrap() {
            let msg = hex::decode(t["msg"].as_str().unwrap()).unwrap();
            let sig = hex::decode(t["sig"].as_str().unwrap()).unwrap();
            let ok = key
                .as_ref()
                .map(|k| k.verify(&msg, &sig).is_ok())
                .unwrap_or(false);
            let id = &t["tcId"];
            match t["result"].as_str().unwrap() {
                "valid" => {
                    assert!(ok, "tcId {id} must verify");
                    valid += 1;
                }
                "invalid" => {
                    assert!(!ok, "tcId {id} must fail");
                    invalid += 1;
                }
                "acceptable" => acceptable += 1,
                other => panic!("unknown result {other}"),
            }
        }
    }
    assert_eq!(
        valid + invalid + acceptable,
        doc["numberOfTests"].as_u64().unwrap() as usize
    );
    assert_eq!((valid, invalid), (88, 63));
    eprintln!("ed25519: {valid} valid, {invalid} invalid, {acceptable} acceptable");
}
