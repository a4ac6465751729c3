#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Known-answer vectors of the session media keys (`docs/SFRAME.md` §3a,
//! `tests/vectors/cai/sframe_session_v2.json`), for the browser implementation.
//!
//! Every field is recomputed: the HKDF info and PRK independently with the `hkdf` crate,
//! `media_secret` through [`session_media_secret`], the SFrame `base_key` per §3, the
//! protected frame by a [`FrameEncryptor`] started at the vector's counter (byte for
//! byte), which a [`FrameDecryptor`] keyed through [`add_session_sender`] opens.

use cai_crypto::kdf::hkdf_sha256;
use cai_crypto::sframe::{
    CallId, FrameDecryptor, FrameEncryptor, LABEL_SESSION_MEDIA, LABEL_SFRAME, MediaKeyId,
    MediaSuite, add_session_sender, session_frame_encryptor, session_media_secret,
};
use cai_crypto::{DataKey, KeyEpoch, KeyId, SecretBytes};
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

const FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/vectors/cai/sframe_session_v2.json"
);

#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct File {
    format: String,
    spec: String,
    note: String,
    vectors: Vec<Vector>,
}

#[derive(Serialize, Deserialize, PartialEq, Debug, Clone)]
struct Vector {
    name: String,
    dek: String,
    session_id: String,
    call_id: String,
    epoch: u32,
    sender_index: u16,
    hkdf_salt: String,
    hkdf_info: String,
    prk: String,
    media_secret: String,
    suite: u16,
    kid: u64,
    base_key: String,
    counter: u64,
    metadata: String,
    plaintext: String,
    frame: String,
}

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn call(s: &str) -> CallId {
    CallId::from_bytes(h(s).try_into().unwrap())
}

fn key32(s: &str) -> SecretBytes<32> {
    SecretBytes::from_bytes(h(s).try_into().unwrap())
}

/// Computes every output field of `v` from its inputs.
fn compute(v: &Vector) -> Vector {
    let dek = key32(&v.dek);
    let epoch = KeyEpoch(v.epoch);
    let call_id = call(&v.call_id);
    let mut info = v.session_id.as_bytes().to_vec();
    info.push(0);
    info.extend_from_slice(&h(&v.call_id));
    info.extend_from_slice(&v.epoch.to_be_bytes());
    info.extend_from_slice(&v.sender_index.to_be_bytes());
    let (prk, _) = Hkdf::<Sha256>::extract(Some(LABEL_SESSION_MEDIA), dek.expose_secret());
    let mut independent = [0u8; 32];
    Hkdf::<Sha256>::from_prk(&prk)
        .unwrap()
        .expand(&info, &mut independent)
        .unwrap();

    let secret = session_media_secret(
        &dek,
        v.session_id.as_bytes(),
        &call_id,
        epoch,
        v.sender_index,
    )
    .unwrap();
    assert_eq!(secret.expose_secret(), &independent, "{}", v.name);

    let suite = MediaSuite::from_id(v.suite).unwrap();
    let kid = MediaKeyId::new(epoch, v.sender_index);
    let mut base_key = [0u8; 32];
    hkdf_sha256(
        secret.expose_secret(),
        b"",
        &[
            LABEL_SFRAME,
            &suite.id().to_be_bytes(),
            &kid.as_u64().to_be_bytes(),
        ],
        &mut base_key,
    )
    .unwrap();
    let mut enc =
        FrameEncryptor::from_rfc9605_base_key(suite, kid.as_u64(), &base_key, v.counter).unwrap();
    let frame = enc.encrypt(&h(&v.plaintext), &h(&v.metadata)).unwrap();

    Vector {
        hkdf_salt: hex::encode(LABEL_SESSION_MEDIA),
        hkdf_info: hex::encode(&info),
        prk: hex::encode(prk),
        media_secret: hex::encode(secret.expose_secret()),
        kid: kid.as_u64(),
        base_key: hex::encode(base_key),
        frame: hex::encode(frame),
        ..v.clone()
    }
}

fn load() -> File {
    serde_json::from_str(&std::fs::read_to_string(FILE).unwrap()).unwrap()
}

/// Also prints a fresh file from the stored inputs with
/// `CAI_PRINT_VECTORS=1 cargo test -p cai-crypto --test sframe_session -- --nocapture`.
#[test]
fn vectors_match() {
    let file = load();
    assert!(file.vectors.len() >= 3);
    let fresh = File {
        vectors: file.vectors.iter().map(compute).collect(),
        ..load()
    };
    if std::env::var_os("CAI_PRINT_VECTORS").is_some() {
        println!("{}", serde_json::to_string_pretty(&fresh).unwrap());
    }
    for (v, f) in file.vectors.iter().zip(&fresh.vectors) {
        assert_eq!(f, v, "vector {}", v.name);
    }
}

#[test]
fn vector_frames_open_with_session_keys() {
    let vectors = load().vectors;
    let call_ids: std::collections::HashSet<_> = vectors.iter().map(|v| &v.call_id).collect();
    assert!(call_ids.len() >= 3, "the vectors cover several call ids");
    assert!(vectors.iter().any(|v| v.epoch == 0));
    assert!(vectors.iter().any(|v| v.sender_index == u16::MAX));
    for v in vectors {
        let data_key =
            DataKey::from_parts(KeyId::random().unwrap(), KeyEpoch(v.epoch), key32(&v.dek));
        let suite = MediaSuite::from_id(v.suite).unwrap();
        let session = v.session_id.as_bytes();
        let call_id = call(&v.call_id);
        let mut dec = FrameDecryptor::new();
        let kid = add_session_sender(
            &mut dec,
            suite,
            &data_key,
            session,
            &call_id,
            v.sender_index,
        )
        .unwrap();
        assert_eq!(kid.as_u64(), v.kid);
        let opened = dec.decrypt(&h(&v.frame), &h(&v.metadata)).unwrap();
        assert_eq!(hex::encode(opened), v.plaintext, "{}", v.name);

        // A random-counter encryptor from the same data key reaches the same decryptor.
        let mut enc =
            session_frame_encryptor(suite, &data_key, session, &call_id, v.sender_index).unwrap();
        let frame = enc.encrypt(b"another frame", b"").unwrap();
        assert_eq!(dec.decrypt(&frame, b"").unwrap(), b"another frame");

        // Another session id, or another call of the same session, gives another key:
        // the frame does not open.
        let mut next_call = *call_id.as_bytes();
        next_call[0] ^= 0x80;
        for (other_session, other_call) in [
            (&b"ses_other"[..], call_id),
            (session, CallId::from_bytes(next_call)),
        ] {
            let mut other = FrameDecryptor::new();
            add_session_sender(
                &mut other,
                suite,
                &data_key,
                other_session,
                &other_call,
                v.sender_index,
            )
            .unwrap();
            assert!(other.decrypt(&h(&v.frame), &h(&v.metadata)).is_err());
        }
    }
}
