#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use cai_crypto::hierarchy::{
    self, HEADER_LEN, Kek, KekId, KekRing, MAX_WRAP_CONTEXT_LEN, WRAPPED_KEY_LEN, WrappedKey,
    rewrap, session_wrap_context,
};
use cai_crypto::{
    ContentKind, DataKey, Error, ItemContext, KeyEpoch, KeyId, SecretBytes, envelope,
};
use proptest::prelude::*;

fn ctx() -> Vec<u8> {
    session_wrap_context(b"tenant-1", b"session-9").unwrap()
}

fn flip(bytes: &mut [u8], i: usize) {
    if let Some(b) = bytes.get_mut(i) {
        *b ^= 0x01;
    }
}

#[test]
fn wrap_unwrap_round_trip() {
    let kek = Kek::generate(7).unwrap();
    let dek = DataKey::generate(KeyEpoch(3)).unwrap();
    let w = kek.wrap(&dek, &ctx()).unwrap();
    assert_eq!(w.kek_id(), kek.id());
    assert_eq!(w.kek_version(), 7);
    assert_eq!(w.key_id(), dek.id());
    assert_eq!(w.epoch(), KeyEpoch(3));

    let bytes = w.to_bytes();
    assert_eq!(bytes.len(), WRAPPED_KEY_LEN);
    let parsed = WrappedKey::parse(&bytes).unwrap();
    assert_eq!(parsed, w);
    let back = kek.unwrap(&parsed, &ctx()).unwrap();
    assert_eq!(back, dek);
    assert_eq!(back.id(), dek.id());
    assert_eq!(back.epoch(), dek.epoch());
}

#[test]
fn wrapping_is_randomised_and_hides_the_key() {
    let kek = Kek::generate(1).unwrap();
    let dek = DataKey::generate(KeyEpoch::INITIAL).unwrap();
    let a = kek.wrap(&dek, &ctx()).unwrap().to_bytes();
    let b = kek.wrap(&dek, &ctx()).unwrap().to_bytes();
    assert_ne!(a, b);
    let secret = dek.secret().expose_secret();
    assert!(!a.windows(32).any(|w| w == secret));
}

#[test]
fn every_tampered_byte_is_rejected() {
    let kek = Kek::generate(1).unwrap();
    let dek = DataKey::generate(KeyEpoch::INITIAL).unwrap();
    let bytes = kek.wrap(&dek, &ctx()).unwrap().to_bytes();
    for i in 0..WRAPPED_KEY_LEN {
        let mut t = bytes;
        flip(&mut t, i);
        let result = WrappedKey::parse(&t).and_then(|w| kek.unwrap(&w, &ctx()));
        assert!(result.is_err(), "byte {i} tampered but unwrap succeeded");
        let expected = match i {
            0..=3 => "magic",
            4 | 5 => "version/suite",
            6..=25 => "kek",
            26..=109 => "commitment",
            _ => "tag",
        };
        match (expected, result) {
            ("magic", Err(Error::BadMagic { .. }))
            | (
                "version/suite",
                Err(Error::UnsupportedVersion { .. } | Error::UnsupportedSuite { .. }),
            )
            | ("kek", Err(Error::WrongKey))
            | ("commitment", Err(Error::KeyCommitmentMismatch))
            | ("tag", Err(Error::AuthenticationFailed)) => {}
            (e, r) => panic!("byte {i}: expected {e}, got {r:?}"),
        }
    }
}

#[test]
fn wrong_context_fails() {
    let kek = Kek::generate(1).unwrap();
    let dek = DataKey::generate(KeyEpoch::INITIAL).unwrap();
    let w = kek.wrap(&dek, &ctx()).unwrap();
    let other_session = session_wrap_context(b"tenant-1", b"session-8").unwrap();
    let other_tenant = session_wrap_context(b"tenant-2", b"session-9").unwrap();
    for c in [other_session, other_tenant, b"x".to_vec()] {
        assert_eq!(kek.unwrap(&w, &c), Err(Error::AuthenticationFailed));
    }
}

#[test]
fn context_length_is_limited() {
    let kek = Kek::generate(1).unwrap();
    let dek = DataKey::generate(KeyEpoch::INITIAL).unwrap();
    assert!(matches!(
        kek.wrap(&dek, b""),
        Err(Error::InvalidContext { .. })
    ));
    let long = vec![b'a'; MAX_WRAP_CONTEXT_LEN + 1];
    assert!(matches!(
        kek.wrap(&dek, &long),
        Err(Error::InvalidContext { .. })
    ));
    let max = vec![b'a'; MAX_WRAP_CONTEXT_LEN];
    let w = kek.wrap(&dek, &max).unwrap();
    assert!(matches!(
        kek.unwrap(&w, &long),
        Err(Error::InvalidContext { .. })
    ));
    assert_eq!(kek.unwrap(&w, &max).unwrap(), dek);

    assert_eq!(session_wrap_context(b"t1", b"s").unwrap(), b"\x02t1\x01s");
    assert!(session_wrap_context(b"", b"s").is_err());
    assert!(session_wrap_context(b"t", &[0u8; 256]).is_err());
}

#[test]
fn wrong_kek_is_detected() {
    let kek = Kek::generate(1).unwrap();
    let dek = DataKey::generate(KeyEpoch::INITIAL).unwrap();
    let w = kek.wrap(&dek, &ctx()).unwrap();

    // Another tenant's KEK, or another version of the same lineage.
    assert_eq!(
        Kek::generate(1).unwrap().unwrap(&w, &ctx()),
        Err(Error::WrongKey)
    );
    assert_eq!(
        kek.rotate().unwrap().unwrap(&w, &ctx()),
        Err(Error::WrongKey)
    );

    // A forged KEK claiming the same id and version: the commitment catches it before
    // any decryption.
    let forged = Kek::from_parts(kek.id(), 1, SecretBytes::random().unwrap());
    assert_eq!(forged.unwrap(&w, &ctx()), Err(Error::KeyCommitmentMismatch));
}

#[test]
fn parse_is_strict() {
    let kek = Kek::generate(1).unwrap();
    let dek = DataKey::generate(KeyEpoch::INITIAL).unwrap();
    let bytes = kek.wrap(&dek, &ctx()).unwrap().to_bytes();

    assert!(matches!(
        WrappedKey::parse(bytes.get(..WRAPPED_KEY_LEN - 1).unwrap()),
        Err(Error::Truncated { .. })
    ));
    assert!(matches!(
        WrappedKey::parse(&[]),
        Err(Error::Truncated { .. })
    ));
    assert!(matches!(
        WrappedKey::parse(b"CA"),
        Err(Error::Truncated { .. })
    ));
    assert!(matches!(
        WrappedKey::parse(b"XX"),
        Err(Error::BadMagic { .. })
    ));
    let mut long = bytes.to_vec();
    long.push(0);
    assert!(matches!(
        WrappedKey::parse(&long),
        Err(Error::Malformed { .. })
    ));
    let mut v2 = bytes;
    flip(&mut v2, 4);
    assert!(matches!(
        WrappedKey::parse(&v2),
        Err(Error::UnsupportedVersion { version: 0, .. })
    ));
    assert_eq!(HEADER_LEN, 122);
}

#[test]
fn rotation_keeps_content_readable() {
    let tenant_ctx = ctx();
    let item = ItemContext::new(b"tenant-1", b"session-9", b"note-1", 1, ContentKind::Note);

    let v1 = Kek::generate(1).unwrap();
    let dek = DataKey::generate(KeyEpoch::INITIAL).unwrap();
    let sealed = envelope::seal(&dek, &item, b"session notes").unwrap();
    let stored_v1 = v1.wrap(&dek, &tenant_ctx).unwrap().to_bytes();
    drop(dek);

    // Rotate v1 -> v2: only the wrapped key changes.
    let v2 = v1.rotate().unwrap();
    assert_eq!(v2.id(), v1.id());
    assert_eq!(v2.version(), 2);
    let stored_v2 = rewrap(
        &v1,
        &v2,
        &WrappedKey::parse(&stored_v1).unwrap(),
        &tenant_ctx,
    )
    .unwrap()
    .to_bytes();
    drop(v1); // retired

    let dek = v2
        .unwrap(&WrappedKey::parse(&stored_v2).unwrap(), &tenant_ctx)
        .unwrap();
    assert_eq!(
        envelope::open(&dek, &item, &sealed).unwrap(),
        b"session notes"
    );
    // The old wrapped copy no longer opens once v1 is gone.
    assert_eq!(
        v2.unwrap(&WrappedKey::parse(&stored_v1).unwrap(), &tenant_ctx),
        Err(Error::WrongKey)
    );
}

#[test]
fn kek_ring_rotates_and_retires() {
    let c = ctx();
    let mut ring = KekRing::new(Kek::generate(1).unwrap());
    let dek = DataKey::generate(KeyEpoch::INITIAL).unwrap();
    let w1 = ring.wrap(&dek, &c).unwrap();
    assert_eq!(ring.rotate().unwrap(), 2);
    assert_eq!(ring.versions(), vec![2, 1]);
    // Old versions still unwrap until retired.
    assert_eq!(ring.unwrap(&w1, &c).unwrap(), dek);
    let w2 = ring.rewrap_to_current(&w1, &c).unwrap();
    assert_eq!(w2.kek_version(), 2);
    assert_eq!(ring.rewrap_to_current(&w2, &c).unwrap(), w2);

    assert!(matches!(ring.retire(2), Err(Error::Rejected { .. })));
    ring.retire(1).unwrap();
    assert_eq!(ring.retire(1), Err(Error::WrongKey));
    assert_eq!(ring.unwrap(&w1, &c), Err(Error::WrongKey));
    assert_eq!(ring.unwrap(&w2, &c).unwrap(), dek);

    // Loading old versions from storage.
    let current = ring.current().clone();
    let old = Kek::from_parts(current.id(), 1, SecretBytes::random().unwrap());
    let mut loaded = KekRing::new(current.clone());
    loaded.add_previous(old.clone()).unwrap();
    assert!(loaded.add_previous(old).is_err());
    assert!(loaded.add_previous(current.rotate().unwrap()).is_err());
    assert!(loaded.add_previous(Kek::generate(1).unwrap()).is_err());
    assert_eq!(loaded.get(1).map(Kek::version), Some(1));
    assert!(loaded.get(9).is_none());
    // Another lineage's wrapped key is a wrong key.
    let foreign = Kek::generate(2).unwrap().wrap(&dek, &c).unwrap();
    assert_eq!(loaded.unwrap(&foreign, &c), Err(Error::WrongKey));
}

/// R-P4: once every wrapped copy of a data key is deleted and no clear copy remains,
/// its content is unreadable — even to the holder of the tenant KEK. The data key is
/// random and independent of the KEK, so nothing derived from the KEK can produce it.
/// This test tries every key the remaining system (KEK + key store) can still produce;
/// it shows the absence of an API path, it cannot prove a negative about AES.
#[test]
fn deleting_the_wrapped_key_shreds_content() {
    let kek = Kek::generate(1).unwrap();
    let item = ItemContext::new(b"tenant-1", b"session-9", b"msg-1", 1, ContentKind::Message);

    // The server's key store: (wrap context, stored bytes) per session.
    let mut store: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let shredded_ctx = ctx();
    let dek = DataKey::generate(KeyEpoch::INITIAL).unwrap();
    let key_id = dek.id();
    let sealed = envelope::seal(&dek, &item, b"to be forgotten").unwrap();
    store.push((
        shredded_ctx.clone(),
        kek.wrap(&dek, &shredded_ctx).unwrap().to_bytes().to_vec(),
    ));
    for session in [&b"session-10"[..], b"session-11"] {
        let c = session_wrap_context(b"tenant-1", session).unwrap();
        let other = DataKey::generate(KeyEpoch::INITIAL).unwrap();
        store.push((c.clone(), kek.wrap(&other, &c).unwrap().to_bytes().to_vec()));
    }

    // Before deletion the content is readable through the hierarchy.
    let (c, bytes) = store.first().unwrap();
    let recovered = kek.unwrap(&WrappedKey::parse(bytes).unwrap(), c).unwrap();
    assert_eq!(
        envelope::open(&recovered, &item, &sealed).unwrap(),
        b"to be forgotten"
    );

    // Delete the wrapped copy and every clear copy.
    store.retain(|(_, bytes)| WrappedKey::parse(bytes).unwrap().key_id() != key_id);
    drop(recovered);
    drop(dek);
    assert_eq!(store.len(), 2);

    // Every key the KEK can still produce: the KEK bytes themselves, and every stored
    // key unwrapped under its own context — also relabelled with the shredded key's id.
    let mut candidates = vec![DataKey::from_parts(
        key_id,
        KeyEpoch::INITIAL,
        kek.secret().clone(),
    )];
    for (c, bytes) in &store {
        let wrapped = WrappedKey::parse(bytes).unwrap();
        // No stored key unwraps for the shredded session's context.
        assert!(kek.unwrap(&wrapped, &shredded_ctx).is_err());
        let k = kek.unwrap(&wrapped, c).unwrap();
        candidates.push(DataKey::from_parts(key_id, k.epoch(), k.secret().clone()));
        candidates.push(k);
    }
    // Wrapping a fresh key for the shredded session gives a new, unrelated key.
    let fresh = DataKey::from_parts(key_id, KeyEpoch::INITIAL, SecretBytes::random().unwrap());
    let rewrapped = kek.wrap(&fresh, &shredded_ctx).unwrap();
    candidates.push(kek.unwrap(&rewrapped, &shredded_ctx).unwrap());

    for candidate in &candidates {
        assert!(
            envelope::open(candidate, &item, &sealed).is_err(),
            "content opened after shredding with {candidate:?}"
        );
    }
}

#[test]
fn debug_output_hides_secrets() {
    let secret = [0xabu8; 32];
    let kek = Kek::from_parts(
        KekId::from_bytes([0x11; 16]),
        4,
        SecretBytes::from_bytes(secret),
    );
    let dek = DataKey::from_parts(
        KeyId::from_bytes([0x22; 16]),
        KeyEpoch(1),
        SecretBytes::from_bytes([0xcd; 32]),
    );
    let w = kek.wrap(&dek, &ctx()).unwrap();
    let ring = KekRing::new(kek.clone());
    for shown in [format!("{kek:?}"), format!("{w:?}"), format!("{ring:?}")] {
        assert!(
            !shown.contains("abababab") && !shown.contains("171, 171"),
            "{shown}"
        );
        assert!(!shown.contains("cdcd") && !shown.contains("205"), "{shown}");
        assert!(shown.contains("11111111"), "{shown}");
    }
    let shown = format!("{w:?}");
    let ct_hex: String = w
        .to_bytes()
        .get(HEADER_LEN..HEADER_LEN + 4)
        .unwrap()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(!shown.contains(&ct_hex), "{shown}");
}

/// The documented derivation (docs/KEYS.md), reimplemented with `hkdf` and `ring`
/// directly: a wrapped key built from the spec unwraps with this library.
#[test]
fn matches_the_documented_format() {
    use hkdf::Hkdf;
    use sha2::Sha256;

    let kek_secret = [0x42u8; 32];
    let kek_id = [0x01u8; 16];
    let kek = Kek::from_parts(
        KekId::from_bytes(kek_id),
        3,
        SecretBytes::from_bytes(kek_secret),
    );
    let key_id = [0x02u8; 16];
    let dek_secret = [0x33u8; 32];
    let salt = [0x04u8; 32];
    let nonce = [0x05u8; 12];
    let wrap_ctx = ctx();

    let mut info = b"cai wrapped key v1".to_vec();
    info.push(0x01);
    info.extend_from_slice(&kek_id);
    info.extend_from_slice(&3u32.to_be_bytes());
    info.extend_from_slice(&key_id);
    info.extend_from_slice(&9u32.to_be_bytes());
    let mut okm = [0u8; 64];
    Hkdf::<Sha256>::new(Some(&salt), &kek_secret)
        .expand(&info, &mut okm)
        .unwrap();
    let (subkey, commitment) = okm.split_at(32);

    let mut header = b"CAIW\x01\x01".to_vec();
    header.extend_from_slice(&kek_id);
    header.extend_from_slice(&3u32.to_be_bytes());
    header.extend_from_slice(&key_id);
    header.extend_from_slice(&9u32.to_be_bytes());
    header.extend_from_slice(&salt);
    header.extend_from_slice(commitment);
    header.extend_from_slice(&nonce);
    assert_eq!(header.len(), HEADER_LEN);
    let mut aad = header.clone();
    aad.extend_from_slice(&wrap_ctx);

    let key = ring::aead::LessSafeKey::new(
        ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, subkey).unwrap(),
    );
    let mut buf = dek_secret.to_vec();
    let tag = key
        .seal_in_place_separate_tag(
            ring::aead::Nonce::assume_unique_for_key(nonce),
            ring::aead::Aad::from(&aad),
            &mut buf,
        )
        .unwrap();
    let mut blob = header;
    blob.extend_from_slice(&buf);
    blob.extend_from_slice(tag.as_ref());

    let w = WrappedKey::parse(&blob).unwrap();
    assert_eq!(w.to_bytes().to_vec(), blob);
    let dek = kek.unwrap(&w, &wrap_ctx).unwrap();
    assert_eq!(dek.secret().expose_secret(), &dek_secret);
    assert_eq!(dek.id(), KeyId::from_bytes(key_id));
    assert_eq!(dek.epoch(), KeyEpoch(9));
}

#[test]
fn label_is_distinct() {
    assert_eq!(hierarchy::LABEL_WRAPPED_KEY, b"cai wrapped key v1");
    assert_ne!(
        hierarchy::LABEL_WRAPPED_KEY,
        cai_crypto::kdf::LABEL_ENVELOPE
    );
}

proptest! {
    #[test]
    fn parse_never_panics_and_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(w) = WrappedKey::parse(&bytes) {
            prop_assert_eq!(w.to_bytes().to_vec(), bytes);
        }
    }

    #[test]
    fn parse_of_mutated_valid_prefix_never_panics(len in 0usize..=WRAPPED_KEY_LEN + 2, tail in any::<u8>()) {
        let kek = Kek::generate(1).unwrap();
        let dek = DataKey::generate(KeyEpoch::INITIAL).unwrap();
        let mut bytes = kek.wrap(&dek, b"c").unwrap().to_bytes().to_vec();
        bytes.push(tail);
        bytes.push(tail);
        bytes.truncate(len);
        let parsed = WrappedKey::parse(&bytes);
        prop_assert_eq!(parsed.is_ok(), len == WRAPPED_KEY_LEN);
    }
}
