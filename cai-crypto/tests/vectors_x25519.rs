#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
#![allow(clippy::indexing_slicing)]
//! Wycheproof X25519 (`x25519_test.json`) through `DeviceKeyPair::agree`: every case
//! with an all-zero shared secret must be `Error::NonContributory`, every other valid or
//! acceptable case must produce the expected shared secret.

use cai_crypto::e2e::{DeviceKeyPair, DevicePublicKey};
use cai_crypto::{Error, SecretBytes};
use serde_json::Value;

fn arr32(v: &Value) -> [u8; 32] {
    hex::decode(v.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

#[test]
fn wycheproof_x25519() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/wycheproof/x25519_test.json"
    ))
    .unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let (mut zero, mut matched, mut total) = (0usize, 0usize, 0usize);
    for group in doc["testGroups"].as_array().unwrap() {
        assert_eq!(group["curve"], "curve25519");
        for t in group["tests"].as_array().unwrap() {
            total += 1;
            let id = &t["tcId"];
            let flags: Vec<&str> = t["flags"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f.as_str().unwrap())
                .collect();
            let keys = DeviceKeyPair::from_secret(&SecretBytes::from_bytes(arr32(&t["private"])));
            let peer = DevicePublicKey::from_bytes(arr32(&t["public"]));
            let expected = arr32(&t["shared"]);
            let got = keys.agree(&peer);
            if flags.contains(&"ZeroSharedSecret") || expected == [0u8; 32] {
                assert_eq!(got, Err(Error::NonContributory), "tcId {id}");
                // Rosters refuse such keys before any agreement.
                assert_eq!(peer.validate(), Err(Error::InvalidPublicKey), "tcId {id}");
                zero += 1;
                continue;
            }
            match t["result"].as_str().unwrap() {
                "valid" | "acceptable" => {
                    assert_eq!(
                        got.unwrap().expose_secret(),
                        &expected,
                        "tcId {id} {flags:?}"
                    );
                    matched += 1;
                }
                "invalid" => assert!(
                    got.map(|s| *s.expose_secret() != expected).unwrap_or(true),
                    "tcId {id}"
                ),
                other => panic!("unknown result {other}"),
            }
        }
    }
    assert_eq!(total, doc["numberOfTests"].as_u64().unwrap() as usize);
    assert_eq!(zero, 31, "all-zero shared secret cases");
    assert_eq!(matched + zero, total);
    eprintln!("x25519: {total} cases, {zero} non-contributory, {matched} matched");
}
