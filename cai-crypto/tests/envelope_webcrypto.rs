#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
#![allow(clippy::indexing_slicing)] // Test code indexes fixed layouts it has just built.
//! Envelope v1 interoperability between Rust and the WebCrypto reference module
//! (`cai-crypto/js/cai-envelope.mjs`, driven through `js/interop.mjs` under Node.js),
//! and the fixed vectors in `tests/vectors/cai/envelope_v1.json`.
//!
//! The Node-driven tests need `node` (>= 20) on `PATH`, or its path in `$NODE`. Without
//! it they FAIL: CI installs Node, and a silently skipped interop test proves nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use cai_crypto::envelope::{
    self, COMMITMENT_LEN, EnvelopeHeader, HEADER_LEN, OVERHEAD, Opener, SALT_LEN, Sealer,
};
use cai_crypto::{
    ContentKind, DataKey, Error, ItemContext, KeyEpoch, KeyId, ModeBinding, SecretBytes, aead, kdf,
};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn node_bin() -> String {
    std::env::var("NODE").unwrap_or_else(|_| "node".to_owned())
}

/// Runs `node js/interop.mjs <cmd> <tmp json>`; panics with a clear message if Node is
/// missing or too old.
fn interop(cmd: &str, input: &Value) -> Output {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let node = node_bin();
    let version = Command::new(&node)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "envelope interop tests need Node.js >= 20 (`{node}`: {e}). Install Node or set \
             $NODE to its path; these tests deliberately fail instead of skipping."
            )
        });
    let v = String::from_utf8_lossy(&version.stdout);
    let major: u32 = v
        .trim()
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    assert!(
        major >= 20,
        "envelope interop tests need Node.js >= 20, found {v:?}"
    );

    let path: PathBuf = std::env::temp_dir().join(format!(
        "cai-envelope-interop-{}-{}.json",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, serde_json::to_vec(input).unwrap()).unwrap();
    let out = Command::new(&node)
        .arg(manifest_dir().join("js").join("interop.mjs"))
        .arg(cmd)
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("running `{node}` failed: {e}"));
    let _ = std::fs::remove_file(&path);
    out
}

/// Runs a command that must succeed and returns its parsed JSON stdout.
fn interop_json(cmd: &str, input: &Value) -> Value {
    let out = interop(cmd, input);
    assert!(
        out.status.success(),
        "interop.mjs {cmd} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The name `interop.mjs` / `cai-envelope.mjs` uses for an error.
fn err_name(e: &Error) -> &'static str {
    match e {
        Error::Truncated { .. } => "Truncated",
        Error::BadMagic { .. } => "BadMagic",
        Error::UnsupportedVersion { .. } => "UnsupportedVersion",
        Error::UnsupportedSuite { .. } => "UnsupportedSuite",
        Error::Malformed { .. } => "Malformed",
        Error::TooLarge { .. } => "TooLarge",
        Error::InvalidContext { .. } => "InvalidContext",
        Error::WrongKey => "WrongKey",
        Error::KeyCommitmentMismatch => "KeyCommitmentMismatch",
        Error::AuthenticationFailed => "AuthenticationFailed",
        Error::LimitExceeded { .. } => "LimitExceeded",
        _ => "Other",
    }
}

/// An owned item context.
#[derive(Clone, Debug)]
struct Ctx {
    tenant: Vec<u8>,
    session: Vec<u8>,
    item: Vec<u8>,
    version: u32,
    kind: ContentKind,
    /// A session's mode binding (sessions with a signed mode descriptor).
    mode: Option<[u8; 32]>,
}

impl Ctx {
    fn new(tenant: &[u8], session: &[u8], item: &[u8], version: u32, kind: ContentKind) -> Self {
        Self {
            tenant: tenant.to_vec(),
            session: session.to_vec(),
            item: item.to_vec(),
            version,
            kind,
            mode: None,
        }
    }

    fn with_mode(self, mode: [u8; 32]) -> Self {
        Self {
            mode: Some(mode),
            ..self
        }
    }

    fn get(&self) -> ItemContext<'_> {
        ItemContext::new(
            &self.tenant,
            &self.session,
            &self.item,
            self.version,
            self.kind,
        )
        .with_mode(self.mode.map(ModeBinding))
    }

    fn json(&self) -> Value {
        let mut v = json!({
            "tenant": hex::encode(&self.tenant),
            "session": hex::encode(&self.session),
            "item": hex::encode(&self.item),
            "version": self.version,
            "kind": self.kind.code(),
        });
        if let Some(mode) = self.mode {
            v["mode"] = json!(hex::encode(mode));
        }
        v
    }

    fn from_json(v: &Value) -> Self {
        Self {
            tenant: hex_field(v, "tenant"),
            session: hex_field(v, "session"),
            item: hex_field(v, "item"),
            version: u32::try_from(v["version"].as_u64().unwrap()).unwrap(),
            kind: ContentKind::from_code(u8::try_from(v["kind"].as_u64().unwrap()).unwrap())
                .unwrap(),
            mode: v
                .get("mode")
                .map(|_| hex_field(v, "mode").try_into().unwrap()),
        }
    }
}

fn hex_field(v: &Value, field: &str) -> Vec<u8> {
    hex::decode(
        v[field]
            .as_str()
            .unwrap_or_else(|| panic!("missing hex field {field}")),
    )
    .unwrap()
}

fn key(secret: [u8; 32], id: [u8; 16], epoch: u32) -> DataKey {
    DataKey::from_parts(
        KeyId::from_bytes(id),
        KeyEpoch(epoch),
        SecretBytes::from_bytes(secret),
    )
}

fn key_from_json(v: &Value) -> DataKey {
    key(
        hex_field(v, "key").try_into().unwrap(),
        hex_field(v, "key_id").try_into().unwrap(),
        u32::try_from(v["epoch"].as_u64().unwrap()).unwrap(),
    )
}

fn key_json(k: &DataKey) -> Value {
    json!({
        "key": hex::encode(k.secret().expose_secret()),
        "key_id": hex::encode(k.id().as_bytes()),
        "epoch": k.epoch().0,
    })
}

fn open_case(k: &DataKey, ctx: &Ctx, envelope: &[u8]) -> Value {
    let mut c = key_json(k);
    c["context"] = ctx.json();
    c["envelope"] = json!(hex::encode(envelope));
    c
}

/// Deterministic, non-repeating filler.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ ((i >> 8) as u8))
        .collect()
}

fn contexts() -> Vec<Ctx> {
    let long = vec![0xeeu8; 255];
    vec![
        Ctx::new(b"tenant-1", b"session-9", b"msg-1", 1, ContentKind::Message),
        Ctx::new(b"t", b"s", b"i", 0, ContentKind::Note),
        Ctx::new(&long, &long, &long, u32::MAX, ContentKind::File),
        Ctx::new(
            "m\u{fc}nchen".as_bytes(),
            &[0, 0, 0],
            &[0xff],
            7,
            ContentKind::Document,
        ),
        Ctx::new(b"tenant-2", b"s-1", b"wb", 3, ContentKind::Whiteboard),
        Ctx::new(b"tenant-2", b"s-1", b"rec", 1, ContentKind::Recording),
        Ctx::new(b"tenant-2", b"s-1", b"keys", 2, ContentKind::KeyMaterial),
        // A session with a signed mode descriptor: its binding follows the kind.
        Ctx::new(b"tenant-3", b"s-2", b"msg-2", 4, ContentKind::Message).with_mode([0x5a; 32]),
    ]
}

const SIZES: [usize; 9] = [0, 1, 15, 16, 17, 255, 4096, 64 * 1024 + 1, 200_003];

// ---------------------------------------------------------------------------------------
// (a) Rust seals, WebCrypto opens
// ---------------------------------------------------------------------------------------

#[test]
fn rust_sealed_envelopes_open_in_webcrypto() {
    let k = DataKey::generate(KeyEpoch(5)).unwrap();
    let ctxs = contexts();
    let mut expected = Vec::new();
    let mut cases = Vec::new();
    for (b, backend) in aead::all_backends().into_iter().enumerate() {
        // One sealer per backend (one salt, sequence numbers 0, 1, 2, ...) ...
        let mut sealer = Sealer::with_backend(&k, backend).unwrap();
        for (i, size) in SIZES.iter().enumerate() {
            let ctx = &ctxs[(i + b) % ctxs.len()];
            let pt = pattern(*size, i as u8);
            let env = sealer.seal(&ctx.get(), &pt).unwrap();
            assert_eq!(env.len(), OVERHEAD + size);
            cases.push(open_case(&k, ctx, &env));
            expected.push(pt);
        }
    }
    // ... and one-shot seals (fresh salt, sequence number 0), every kind.
    for (i, ctx) in ctxs.iter().enumerate() {
        let pt = pattern(i * 37, 0x5a);
        let env = envelope::seal(&k, &ctx.get(), &pt).unwrap();
        cases.push(open_case(&k, ctx, &env));
        expected.push(pt);
    }
    let results = interop_json("open-batch", &json!({ "cases": cases }));
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), expected.len());
    for (i, (r, pt)) in results.iter().zip(&expected).enumerate() {
        assert_eq!(
            r["plaintext"].as_str(),
            Some(hex::encode(pt).as_str()),
            "case {i}: WebCrypto did not open a Rust envelope: {r}"
        );
    }
}

#[test]
fn single_open_command_prints_plaintext_or_error_name() {
    let k = DataKey::generate(KeyEpoch(0)).unwrap();
    let ctx = &contexts()[0];
    let env = envelope::seal(&k, &ctx.get(), b"hello from rust").unwrap();

    let out = interop("open", &open_case(&k, ctx, &env));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        hex::encode(b"hello from rust")
    );

    let other = Ctx::new(b"tenant-1", b"session-9", b"msg-2", 1, ContentKind::Message);
    let out = interop("open", &open_case(&k, &other, &env));
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8(out.stderr).unwrap().trim(),
        "AuthenticationFailed"
    );
}

// ---------------------------------------------------------------------------------------
// (b) WebCrypto seals, Rust opens
// ---------------------------------------------------------------------------------------

#[test]
fn webcrypto_sealed_envelopes_open_in_rust() {
    let k = DataKey::generate(KeyEpoch(u32::MAX)).unwrap();
    let ctxs = contexts();
    let mut items = Vec::new();
    let mut expected = Vec::new();
    for (i, size) in SIZES.iter().enumerate() {
        let ctx = &ctxs[i % ctxs.len()];
        let pt = pattern(*size, 0x80 | i as u8);
        items.push(json!({ "context": ctx.json(), "plaintext": hex::encode(&pt) }));
        expected.push((ctx.clone(), pt));
    }
    let mut batch = key_json(&k);
    batch["items"] = json!(items);
    let sealed = interop_json("seal-batch", &batch);
    let sealed = sealed.as_array().unwrap();
    assert_eq!(sealed.len(), expected.len());

    let mut salts = Vec::new();
    let mut random_parts = std::collections::HashSet::new();
    for backend in aead::all_backends() {
        let mut opener = Opener::with_backend(&k, backend);
        for (i, (env_hex, (ctx, pt))) in sealed.iter().zip(&expected).enumerate() {
            let env = hex::decode(env_hex.as_str().unwrap()).unwrap();
            let (h, _) = EnvelopeHeader::parse(&env).unwrap();
            // One JS Sealer: one salt, sequence numbers from 0, fresh random bytes.
            assert_eq!(
                h.nonce[..4],
                (i as u32).to_be_bytes(),
                "JS sequence number {i}"
            );
            random_parts.insert(h.nonce[4..].to_vec());
            salts.push(h.salt);
            assert_eq!(&opener.open(&ctx.get(), &env).unwrap(), pt, "case {i}");
            assert_eq!(&envelope::open(&k, &ctx.get(), &env).unwrap(), pt);
        }
    }
    assert!(salts.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(
        random_parts.len(),
        sealed.len(),
        "random nonce bytes repeat"
    );

    // The single-item command with a fixed salt and nonce (sealed by the test support's
    // step-by-step implementation: the shipped module takes neither).
    let ctx = &ctxs[3];
    let nonce = [0, 0, 0, 42, 1, 2, 3, 4, 5, 6, 7, 8];
    let mut c = key_json(&k);
    c["context"] = ctx.json();
    c["plaintext"] = json!(hex::encode(b"from the browser"));
    c["salt"] = json!(hex::encode([0x11u8; SALT_LEN]));
    c["nonce"] = json!(hex::encode(nonce));
    let out = interop("seal", &c);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let env = hex::decode(String::from_utf8(out.stdout).unwrap().trim()).unwrap();
    let (h, _) = EnvelopeHeader::parse(&env).unwrap();
    assert_eq!(h.salt, [0x11; SALT_LEN]);
    assert_eq!(h.nonce, nonce);
    assert_eq!(h.key_id, k.id());
    assert_eq!(h.epoch, k.epoch());
    assert_eq!(
        envelope::open(&k, &ctx.get(), &env).unwrap(),
        b"from the browser"
    );
}

// ---------------------------------------------------------------------------------------
// (c) Tampering: both sides reject, with the same error
// ---------------------------------------------------------------------------------------

/// Offsets covering every header field, the ciphertext and the tag.
fn tamper_offsets(len: usize) -> Vec<usize> {
    let mut v = vec![
        0,
        3,
        4,
        5,
        6,
        21,
        22,
        25,
        26,
        57,
        58,
        89,
        90,
        101, // header fields
        HEADER_LEN,
        len - 17, // last ciphertext byte (or first header byte after the header for empty)
        len - 16,
        len - 1, // tag
    ];
    v.sort_unstable();
    v.dedup();
    v
}

fn tampered(env: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for off in tamper_offsets(env.len()) {
        let mut bad = env.to_vec();
        bad[off] ^= 0x01;
        out.push((format!("flip byte {off}"), bad));
    }
    out.push(("truncate by 1".into(), env[..env.len() - 1].to_vec()));
    out.push(("truncate to 117".into(), env[..OVERHEAD - 1].to_vec()));
    out.push(("truncate to 3".into(), env[..3].to_vec()));
    let mut ext = env.to_vec();
    ext.push(0);
    out.push(("extend by 1".into(), ext));
    out
}

fn assert_both_reject(k: &DataKey, ctx: &Ctx, env: &[u8]) {
    let mut cases = Vec::new();
    let mut rust_errors = Vec::new();
    for (what, bad) in tampered(env) {
        let e = envelope::open(k, &ctx.get(), &bad).expect_err(&what);
        rust_errors.push((what, err_name(&e)));
        cases.push(open_case(k, ctx, &bad));
    }
    // Context changes, one field at a time.
    let mut moved = Vec::new();
    let mut c = ctx.clone();
    if c.item.len() < 255 {
        c.item.push(b'x');
    } else {
        c.item.pop();
    }
    moved.push(c);
    let mut c = ctx.clone();
    *c.session.last_mut().unwrap() ^= 0x80;
    moved.push(c);
    let mut c = ctx.clone();
    c.version ^= 1;
    moved.push(c);
    let mut c = ctx.clone();
    c.kind = if ctx.kind == ContentKind::Note {
        ContentKind::Message
    } else {
        ContentKind::Note
    };
    moved.push(c);
    let mut c = ctx.clone();
    c.tenant[0] ^= 0x20;
    moved.push(c);
    for c in &moved {
        let e = envelope::open(k, &c.get(), env).expect_err("moved context");
        assert_eq!(e, Error::AuthenticationFailed);
        rust_errors.push((format!("context {c:?}"), err_name(&e)));
        cases.push(open_case(k, c, env));
    }
    // The right envelope under a key with the same id and epoch but another secret.
    let mut secret = *k.secret().expose_secret();
    secret[0] ^= 1;
    let impostor = DataKey::from_parts(k.id(), k.epoch(), SecretBytes::from_bytes(secret));
    let e = envelope::open(&impostor, &ctx.get(), env).unwrap_err();
    assert_eq!(e, Error::KeyCommitmentMismatch);
    rust_errors.push(("same id, other secret".into(), err_name(&e)));
    cases.push(open_case(&impostor, ctx, env));

    let results = interop_json("open-batch", &json!({ "cases": cases }));
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), rust_errors.len());
    for (r, (what, rust)) in results.iter().zip(&rust_errors) {
        assert_eq!(
            r["error"].as_str(),
            Some(*rust),
            "{what}: Rust says {rust}, WebCrypto says {r}"
        );
    }
}

#[test]
fn tampered_rust_envelopes_are_rejected_by_both_with_the_same_error() {
    let k = DataKey::generate(KeyEpoch(2)).unwrap();
    for (i, ctx) in contexts().iter().take(3).enumerate() {
        let pt = pattern([0, 1, 300][i], 9);
        let env = envelope::seal(&k, &ctx.get(), &pt).unwrap();
        assert_both_reject(&k, ctx, &env);
    }
}

#[test]
fn tampered_webcrypto_envelopes_are_rejected_by_both_with_the_same_error() {
    let k = DataKey::generate(KeyEpoch(0)).unwrap();
    let ctx = &contexts()[1];
    let mut c = key_json(&k);
    c["context"] = ctx.json();
    c["plaintext"] = json!(hex::encode(b"browser-sealed note"));
    let out = interop("seal", &c);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let env = hex::decode(String::from_utf8(out.stdout).unwrap().trim()).unwrap();
    assert_eq!(
        envelope::open(&k, &ctx.get(), &env).unwrap(),
        b"browser-sealed note"
    );
    assert_both_reject(&k, ctx, &env);
}

// ---------------------------------------------------------------------------------------
// (d) The fixed vectors (no Node needed)
// ---------------------------------------------------------------------------------------

fn vectors() -> Value {
    let path = manifest_dir().join("tests/vectors/cai/envelope_v1.json");
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

#[test]
fn fixed_vectors_open_and_every_intermediate_matches() {
    let v = vectors();
    let valid = v["valid"].as_array().unwrap();
    assert!(valid.len() >= 2);
    assert!(valid.iter().any(|c| c["plaintext"] == ""));
    assert!(valid.iter().any(|c| c["context"].get("mode").is_some()));
    for c in valid {
        let name = c["name"].as_str().unwrap();
        let k = key_from_json(c);
        let ctx = Ctx::from_json(&c["context"]);
        let pt = hex_field(c, "plaintext");
        let env = hex_field(c, "envelope");
        let salt: [u8; SALT_LEN] = hex_field(c, "salt").try_into().unwrap();

        // Key derivation, independently of envelope.rs.
        let info = hex_field(c, "hkdf_info");
        let mut expected_info = b"cai envelope v1\x01".to_vec();
        expected_info.extend_from_slice(k.id().as_bytes());
        expected_info.extend_from_slice(&k.epoch().0.to_be_bytes());
        assert_eq!(info, expected_info, "{name}: info");
        assert_eq!(&info[..15], kdf::LABEL_ENVELOPE);
        let mut okm = [0u8; 64];
        kdf::hkdf_sha256(k.secret().expose_secret(), &salt, &[&info], &mut okm).unwrap();
        assert_eq!(hex::encode(&okm[..32]), c["subkey"], "{name}: subkey");
        assert_eq!(
            hex::encode(&okm[32..]),
            c["commitment"],
            "{name}: commitment"
        );

        // Header, nonce (sequence number ‖ random part), context encoding, AAD.
        let seq = u32::try_from(c["nonce_seq"].as_u64().unwrap()).unwrap();
        let mut nonce = [0u8; 12];
        nonce[..4].copy_from_slice(&seq.to_be_bytes());
        nonce[4..].copy_from_slice(&hex_field(c, "nonce_random"));
        assert_eq!(hex::encode(nonce), c["nonce"], "{name}: nonce");
        let (h, body) = EnvelopeHeader::parse(&env).unwrap();
        assert_eq!(hex::encode(h.to_bytes()), c["header"], "{name}: header");
        assert_eq!(
            (h.key_id, h.epoch, h.salt, h.nonce),
            (k.id(), k.epoch(), salt, nonce)
        );
        assert_eq!(h.commitment[..], okm[32..]);
        assert_eq!(h.commitment.len(), COMMITMENT_LEN);
        let mut enc = Vec::new();
        ctx.get().encode_into(&mut enc).unwrap();
        assert_eq!(hex::encode(&enc), c["context_encoding"], "{name}: context");
        let mut aad = h.to_bytes().to_vec();
        aad.extend_from_slice(&enc);
        assert_eq!(hex::encode(&aad), c["aad"], "{name}: aad");

        // AES-256-GCM on every backend reproduces ciphertext and tag.
        let sub: [u8; 32] = okm[..32].try_into().unwrap();
        for backend in aead::all_backends() {
            let mut buf = pt.clone();
            let tag = backend
                .prepare(&sub)
                .unwrap()
                .seal_in_place(&nonce, &aad, &mut buf)
                .unwrap();
            buf.extend_from_slice(&tag);
            assert_eq!(buf, body, "{name}: ciphertext on {}", backend.name());
            assert_eq!(
                Opener::with_backend(&k, backend)
                    .open(&ctx.get(), &env)
                    .unwrap(),
                pt,
                "{name}: open on {}",
                backend.name()
            );
        }
        assert_eq!(envelope::open(&k, &ctx.get(), &env).unwrap(), pt);
        assert_eq!(env.len(), OVERHEAD + pt.len());
    }
}

#[test]
fn fixed_negative_vectors_fail_with_the_listed_error() {
    let v = vectors();
    let invalid = v["invalid"].as_array().unwrap();
    assert!(
        invalid
            .iter()
            .any(|c| c["name"].as_str().unwrap().starts_with("wrong-context"))
    );
    for c in invalid {
        let name = c["name"].as_str().unwrap();
        let k = key_from_json(c);
        let ctx = Ctx::from_json(&c["context"]);
        let env = hex_field(c, "envelope");
        let e = envelope::open(&k, &ctx.get(), &env).expect_err(name);
        assert_eq!(err_name(&e), c["error"].as_str().unwrap(), "{name}: {e}");
    }
}
