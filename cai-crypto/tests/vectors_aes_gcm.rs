#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Wycheproof `aes_gcm_test.json` (AES-256, 96-bit IV, 128-bit tag groups) through every
//! AEAD backend compiled in ([`cai_crypto::aead::all_backends`]): valid cases must seal to
//! exactly `ct ‖ tag` and open again; invalid cases must not open.

use cai_crypto::aead::{KEY_LEN, NONCE_LEN, TAG_LEN, all_backends};
use serde::Deserialize;

const FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/vectors/wycheproof/aes_gcm_test.json"
);

#[derive(Deserialize)]
struct File {
    #[serde(rename = "testGroups")]
    groups: Vec<Group>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Group {
    key_size: usize,
    iv_size: usize,
    tag_size: usize,
    tests: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Case {
    tc_id: u32,
    key: String,
    iv: String,
    aad: String,
    msg: String,
    ct: String,
    tag: String,
    result: String,
}

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

#[test]
fn wycheproof_aes_256_gcm_all_backends() {
    let file: File = serde_json::from_str(&std::fs::read_to_string(FILE).unwrap()).unwrap();
    let cases: Vec<&Case> = file
        .groups
        .iter()
        .filter(|g| g.key_size == 256 && g.iv_size == 96 && g.tag_size == 128)
        .flat_map(|g| g.tests.iter())
        .collect();
    assert_eq!(cases.len(), 66);

    let backends = all_backends();
    #[cfg(feature = "ring")]
    assert_eq!(backends.len(), 2);
    #[cfg(not(feature = "ring"))]
    assert_eq!(backends.len(), 1);

    let (mut valid, mut invalid) = (0usize, 0usize);
    for backend in &backends {
        for c in &cases {
            let ctx = format!("{} tcId {}", backend.name(), c.tc_id);
            let key: [u8; KEY_LEN] = h(&c.key).try_into().unwrap();
            let nonce: [u8; NONCE_LEN] = h(&c.iv).try_into().unwrap();
            let tag: [u8; TAG_LEN] = h(&c.tag).try_into().unwrap();
            let (aad, msg, ct) = (h(&c.aad), h(&c.msg), h(&c.ct));
            let k = backend.prepare(&key).unwrap();
            match c.result.as_str() {
                "valid" => {
                    let mut buf = msg.clone();
                    let sealed_tag = k.seal_in_place(&nonce, &aad, &mut buf).unwrap();
                    assert_eq!(buf, ct, "{ctx}");
                    assert_eq!(sealed_tag, tag, "{ctx}");
                    k.open_in_place(&nonce, &aad, &mut buf, &tag).unwrap();
                    assert_eq!(buf, msg, "{ctx}");
                    valid += 1;
                }
                "invalid" => {
                    let mut buf = ct.clone();
                    assert_eq!(
                        k.open_in_place(&nonce, &aad, &mut buf, &tag),
                        Err(cai_crypto::Error::AuthenticationFailed),
                        "{ctx}"
                    );
                    invalid += 1;
                }
                other => panic!("{ctx}: unexpected result {other}"),
            }
        }
    }
    assert_eq!(valid, 39 * backends.len());
    assert_eq!(invalid, 27 * backends.len());
}
