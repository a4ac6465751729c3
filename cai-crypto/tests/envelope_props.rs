#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
#![allow(clippy::indexing_slicing)] // Test code indexes fixed layouts it has just built.
//! Properties of envelope v1 (`docs/ENVELOPE.md`): round trips for any content and
//! context, rejection of every modification, no panics on arbitrary input, nonce and
//! salt uniqueness, the opener's subkey cache, and the documented error mapping.

use std::collections::HashSet;

use cai_crypto::aead::{self, AeadBackend};
use cai_crypto::envelope::{
    self, EnvelopeHeader, HEADER_LEN, MAGIC, MAX_PLAINTEXT_LEN, OVERHEAD, Opener, SALT_LEN,
    SUITE_AES256GCM_HKDF_SHA256, Sealer, VERSION,
};
use cai_crypto::{ContentKind, DataKey, Error, ItemContext, KeyEpoch, KeyId, SecretBytes};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------
// Strategies and helpers
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Ctx {
    tenant: Vec<u8>,
    session: Vec<u8>,
    item: Vec<u8>,
    version: u32,
    kind: ContentKind,
}

impl Ctx {
    fn get(&self) -> ItemContext<'_> {
        ItemContext::new(
            &self.tenant,
            &self.session,
            &self.item,
            self.version,
            self.kind,
        )
    }
}

fn id() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 1..=255)
}

fn kind() -> impl Strategy<Value = ContentKind> {
    prop::sample::select(ContentKind::ALL.to_vec())
}

fn ctx() -> impl Strategy<Value = Ctx> {
    (id(), id(), id(), any::<u32>(), kind()).prop_map(|(tenant, session, item, version, kind)| {
        Ctx {
            tenant,
            session,
            item,
            version,
            kind,
        }
    })
}

fn data_key() -> impl Strategy<Value = DataKey> {
    (any::<[u8; 32]>(), any::<[u8; 16]>(), any::<u32>()).prop_map(|(s, i, e)| key(s, i, e))
}

fn key(secret: [u8; 32], id: [u8; 16], epoch: u32) -> DataKey {
    DataKey::from_parts(
        KeyId::from_bytes(id),
        KeyEpoch(epoch),
        SecretBytes::from_bytes(secret),
    )
}

fn backends() -> Vec<&'static dyn AeadBackend> {
    aead::all_backends()
}

fn fixed_ctx() -> Ctx {
    Ctx {
        tenant: b"tenant-1".to_vec(),
        session: b"session-9".to_vec(),
        item: b"msg-1".to_vec(),
        version: 1,
        kind: ContentKind::Message,
    }
}

/// Opens on every backend; all must agree.
fn open_all(k: &DataKey, ctx: &Ctx, env: &[u8]) -> Result<Vec<u8>, Error> {
    let results: Vec<_> = backends()
        .into_iter()
        .map(|b| Opener::with_backend(k, b).open(&ctx.get(), env))
        .collect();
    assert!(
        results.windows(2).all(|w| w[0] == w[1]),
        "backends disagree: {results:?}"
    );
    results.into_iter().next().unwrap()
}

// ---------------------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn round_trip_any_content_any_context(
        k in data_key(),
        c in ctx(),
        pt in prop::collection::vec(any::<u8>(), 0..4096),
    ) {
        for seal_backend in backends() {
            let env = Sealer::with_backend(&k, seal_backend).unwrap().seal(&c.get(), &pt).unwrap();
            prop_assert_eq!(env.len(), OVERHEAD + pt.len());
            let (h, body) = EnvelopeHeader::parse(&env).unwrap();
            prop_assert_eq!(h.key_id, k.id());
            prop_assert_eq!(h.epoch, k.epoch());
            prop_assert_eq!(h.suite, SUITE_AES256GCM_HKDF_SHA256);
            prop_assert_eq!(&h.nonce[..4], &[0u8; 4][..], "a new sealer starts at sequence number 0");
            prop_assert_eq!(&h.to_bytes()[..], &env[..HEADER_LEN]);
            prop_assert_eq!(body.len(), pt.len() + 16);
            // Cross-backend: sealed on one, opened on all.
            prop_assert_eq!(open_all(&k, &c, &env).unwrap(), pt.clone());
        }
        prop_assert_eq!(envelope::open(&k, &c.get(), &envelope::seal(&k, &c.get(), &pt).unwrap()).unwrap(), pt);
    }

    #[test]
    fn seal_into_appends_and_matches_seal(
        prefix in prop::collection::vec(any::<u8>(), 0..64),
        pt in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        let k = key([3; 32], [4; 16], 5);
        let c = fixed_ctx();
        let mut sealer = Sealer::new(&k).unwrap();
        let mut out = prefix.clone();
        sealer.seal_into(&c.get(), &pt, &mut out).unwrap();
        prop_assert_eq!(&out[..prefix.len()], &prefix[..]);
        prop_assert_eq!(envelope::open(&k, &c.get(), &out[prefix.len()..]).unwrap(), pt);
    }
}

#[test]
fn round_trip_large_sizes_and_limits() {
    let k = key([9; 32], [8; 16], 7);
    let c = fixed_ctx();
    for size in [
        64 * 1024 - 1,
        64 * 1024,
        64 * 1024 + 1,
        1 << 20,
        3 * (1 << 20) + 5,
    ] {
        let pt: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        for b in backends() {
            let env = Sealer::with_backend(&k, b)
                .unwrap()
                .seal(&c.get(), &pt)
                .unwrap();
            assert_eq!(open_all(&k, &c, &env).unwrap(), pt, "size {size}");
        }
    }

    // Exactly MAX_PLAINTEXT_LEN seals and opens; one more byte is refused on both sides.
    let big = vec![0x5au8; MAX_PLAINTEXT_LEN];
    let env = envelope::seal(&k, &c.get(), &big).unwrap();
    assert_eq!(
        envelope::open(&k, &c.get(), &env).unwrap().len(),
        MAX_PLAINTEXT_LEN
    );
    drop(big);
    let mut too_big = env;
    too_big.push(0);
    assert!(matches!(
        envelope::open(&k, &c.get(), &too_big),
        Err(Error::TooLarge { .. })
    ));
    too_big.pop();
    too_big.shrink_to_fit();
    let over = vec![0u8; MAX_PLAINTEXT_LEN + 1];
    let mut sealer = Sealer::new(&k).unwrap();
    let mut out = b"keep".to_vec();
    assert!(matches!(
        sealer.seal_into(&c.get(), &over, &mut out),
        Err(Error::TooLarge { .. })
    ));
    assert_eq!(out, b"keep", "out unchanged on error");
    // The refused seal consumed no sequence number.
    let env = sealer.seal(&c.get(), b"next").unwrap();
    assert_eq!(EnvelopeHeader::parse(&env).unwrap().0.nonce[..4], [0u8; 4]);
}

// ---------------------------------------------------------------------------------------
// Every modification fails
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_single_bit_flip_fails(
        c in ctx(),
        pt in prop::collection::vec(any::<u8>(), 0..300),
        pos in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let k = key([1; 32], [2; 16], 3);
        let env = envelope::seal(&k, &c.get(), &pt).unwrap();
        let mut bad = env.clone();
        let i = pos.index(bad.len());
        bad[i] ^= 1 << bit;
        prop_assert!(open_all(&k, &c, &bad).is_err(), "flip at {} opened", i);
    }

    #[test]
    fn truncation_fails(
        c in ctx(),
        pt in prop::collection::vec(any::<u8>(), 0..300),
        cut in any::<prop::sample::Index>(),
    ) {
        let k = key([1; 32], [2; 16], 3);
        let env = envelope::seal(&k, &c.get(), &pt).unwrap();
        let len = cut.index(env.len());
        prop_assert!(open_all(&k, &c, &env[..len]).is_err(), "truncated to {} opened", len);
    }

    #[test]
    fn extension_fails(
        c in ctx(),
        pt in prop::collection::vec(any::<u8>(), 0..300),
        extra in prop::collection::vec(any::<u8>(), 1..64),
    ) {
        let k = key([1; 32], [2; 16], 3);
        let mut env = envelope::seal(&k, &c.get(), &pt).unwrap();
        env.extend_from_slice(&extra);
        prop_assert_eq!(open_all(&k, &c, &env), Err(Error::AuthenticationFailed));
    }

    #[test]
    fn any_context_change_fails(
        c in ctx(),
        field in 0usize..5,
        new_id in id(),
        new_version in any::<u32>(),
        new_kind in kind(),
    ) {
        let k = key([1; 32], [2; 16], 3);
        let env = envelope::seal(&k, &c.get(), b"content").unwrap();
        let mut moved = c.clone();
        match field {
            0 => moved.tenant = new_id,
            1 => moved.session = new_id,
            2 => moved.item = new_id,
            3 => moved.version = new_version,
            _ => moved.kind = new_kind,
        }
        let unchanged = moved.get() == c.get();
        prop_assume!(!unchanged);
        prop_assert_eq!(open_all(&k, &moved, &env), Err(Error::AuthenticationFailed));
    }

    #[test]
    fn moving_bytes_between_adjacent_ids_fails(
        split in 1usize..8,
    ) {
        // "ab" + "cdefgh" vs "abc" + "defgh": the length prefixes keep these apart.
        let k = key([1; 32], [2; 16], 3);
        let joined = b"abcdefghi";
        let c = Ctx { tenant: joined[..split].to_vec(), session: joined[split..].to_vec(),
                      item: b"i".to_vec(), version: 0, kind: ContentKind::Note };
        let d = Ctx { tenant: joined[..=split].to_vec(), session: joined[split + 1..].to_vec(), ..c.clone() };
        let env = envelope::seal(&k, &c.get(), b"x").unwrap();
        prop_assert_eq!(envelope::open(&k, &d.get(), &env), Err(Error::AuthenticationFailed));
    }
}

#[test]
fn every_bit_flip_and_every_truncation_of_one_envelope_fails() {
    let k = key([7; 32], [6; 16], 5);
    let c = fixed_ctx();
    let env = envelope::seal(&k, &c.get(), b"twenty bytes of text").unwrap();
    let mut opener = Opener::new(&k);
    assert_eq!(
        opener.open(&c.get(), &env).unwrap(),
        b"twenty bytes of text"
    );
    for i in 0..env.len() {
        for bit in 0..8 {
            let mut bad = env.clone();
            bad[i] ^= 1 << bit;
            let e = opener.open(&c.get(), &bad).unwrap_err();
            // The field a flip lands in decides the error (docs/ENVELOPE.md, "Opening").
            let expected = match i {
                0..=3 => "BadMagic",
                4 => "UnsupportedVersion",
                5 => "UnsupportedSuite",
                6..=25 => "WrongKey",
                26..=89 => "KeyCommitmentMismatch",
                _ => "AuthenticationFailed",
            };
            assert_eq!(
                format!("{e:?}").split([' ', '{']).next(),
                Some(expected),
                "byte {i} bit {bit}"
            );
        }
    }
    for len in 0..env.len() {
        let e = opener.open(&c.get(), &env[..len]).unwrap_err();
        if len < OVERHEAD {
            assert!(matches!(e, Error::Truncated { .. }), "len {len}: {e:?}");
        } else {
            assert_eq!(e, Error::AuthenticationFailed, "len {len}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// No panics on arbitrary input
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = EnvelopeHeader::parse(&bytes);
        let k = key([1; 32], [2; 16], 3);
        prop_assert!(envelope::open(&k, &fixed_ctx().get(), &bytes).is_err());
    }

    #[test]
    fn arbitrary_bytes_behind_a_valid_prefix_never_panic(
        rest in prop::collection::vec(any::<u8>(), 0..400),
        with_key_id in any::<bool>(),
    ) {
        // Get past magic/version/suite (and optionally the key id and epoch) to reach the
        // commitment and tag checks.
        let k = key([1; 32], [2; 16], 3);
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&[VERSION, SUITE_AES256GCM_HKDF_SHA256]);
        if with_key_id {
            bytes.extend_from_slice(k.id().as_bytes());
            bytes.extend_from_slice(&k.epoch().0.to_be_bytes());
        }
        bytes.extend_from_slice(&rest);
        if let Ok((h, body)) = EnvelopeHeader::parse(&bytes) {
            prop_assert!(body.len() >= 16);
            prop_assert_eq!(&h.to_bytes()[..], &bytes[..HEADER_LEN]);
        }
        let r = envelope::open(&k, &fixed_ctx().get(), &bytes);
        prop_assert!(r.is_err());
        if with_key_id && bytes.len() >= OVERHEAD {
            prop_assert_eq!(r, Err(Error::KeyCommitmentMismatch));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Nonces, salts and the opener cache
// ---------------------------------------------------------------------------------------

#[test]
fn sealer_nonces_count_up_and_never_repeat() {
    let k = key([5; 32], [5; 16], 0);
    let c = fixed_ctx();
    for b in backends() {
        let mut sealer = Sealer::with_backend(&k, b).unwrap();
        let mut seen = HashSet::new();
        let mut random_parts = HashSet::new();
        let mut salt = None;
        for i in 0u32..3000 {
            let env = sealer.seal(&c.get(), b"").unwrap();
            let (h, _) = EnvelopeHeader::parse(&env).unwrap();
            assert_eq!(h.nonce[..4], i.to_be_bytes(), "sequence number");
            assert_eq!(*salt.get_or_insert(h.salt), h.salt, "one salt per sealer");
            assert!(seen.insert((h.salt, h.nonce)), "nonce repeated at {i}");
            random_parts.insert(h.nonce[4..].to_vec());
        }
        // 8 fresh random bytes per item: 3000 draws of 64 bits do not collide.
        assert_eq!(random_parts.len(), 3000);
    }
}

#[test]
fn salts_differ_between_sealers_and_one_shot_seals() {
    let k = key([5; 32], [5; 16], 0);
    let c = fixed_ctx();
    let mut salts = HashSet::new();
    for _ in 0..200 {
        let env = Sealer::new(&k).unwrap().seal(&c.get(), b"x").unwrap();
        assert!(salts.insert(EnvelopeHeader::parse(&env).unwrap().0.salt));
        let env = envelope::seal(&k, &c.get(), b"x").unwrap();
        let (h, _) = EnvelopeHeader::parse(&env).unwrap();
        assert_eq!(h.nonce[..4], [0u8; 4]);
        assert!(salts.insert(h.salt));
    }
    assert!(salts.iter().all(|s| s.len() == SALT_LEN));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// More sealers than the opener caches (16), interleaved in any order: every envelope
    /// opens, so eviction never serves a stale subkey.
    #[test]
    fn opener_cache_handles_many_interleaved_sealers(
        sealers in 17usize..40,
        order in any::<u64>(),
    ) {
        let k = key([6; 32], [6; 16], 9);
        let c = fixed_ctx();
        let mut all = Vec::new();
        for s in 0..sealers {
            let mut sealer = Sealer::new(&k).unwrap();
            for m in 0..3u8 {
                let pt = vec![s as u8, m];
                all.push((sealer.seal(&c.get(), &pt).unwrap(), pt));
            }
        }
        // Pseudo-random interleaving from the drawn seed (plus a replay of the start).
        let mut x = order | 1;
        for i in (1..all.len()).rev() {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            all.swap(i, (x % (i as u64 + 1)) as usize);
        }
        for b in backends() {
            let mut opener = Opener::with_backend(&k, b);
            for round in 0..2 {
                for (env, pt) in &all {
                    prop_assert_eq!(&opener.open(&c.get(), env).unwrap(), pt, "round {}", round);
                }
            }
        }
    }
}

#[test]
fn opener_cache_round_robin_and_revisits() {
    let k = key([6; 32], [6; 16], 9);
    let c = fixed_ctx();
    let envs: Vec<Vec<u8>> = (0..40u8)
        .map(|i| envelope::seal(&k, &c.get(), &[i]).unwrap())
        .collect();
    let mut opener = Opener::new(&k);
    // Sequential, reverse, and strided access patterns across evictions.
    let patterns: Vec<Vec<usize>> = vec![
        (0..40).collect(),
        (0..40).rev().collect(),
        (0..40).map(|i| (i * 17) % 40).collect(),
        (0..40).flat_map(|i| [i, 0, i / 2]).collect(),
    ];
    for p in patterns {
        for i in p {
            assert_eq!(opener.open(&c.get(), &envs[i]).unwrap(), [i as u8]);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Error mapping (docs/ENVELOPE.md, "Opening")
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn errors_map_as_documented(
        k in data_key(),
        other_secret in any::<[u8; 32]>(),
        other_id in any::<[u8; 16]>(),
        other_epoch in any::<u32>(),
        c in ctx(),
    ) {
        let env = envelope::seal(&k, &c.get(), b"mapped").unwrap();
        let secret = *k.secret().expose_secret();
        let id = *k.id().as_bytes();
        let epoch = k.epoch().0;
        if other_id != id {
            // Another key id: WrongKey, whatever the secret.
            prop_assert_eq!(open_all(&key(secret, other_id, epoch), &c, &env), Err(Error::WrongKey));
            prop_assert_eq!(open_all(&key(other_secret, other_id, epoch), &c, &env), Err(Error::WrongKey));
        }
        if other_epoch != epoch {
            prop_assert_eq!(open_all(&key(secret, id, other_epoch), &c, &env), Err(Error::WrongKey));
        }
        if other_secret != secret {
            // Same id and epoch, other secret: caught by the commitment, before AES-GCM.
            prop_assert_eq!(
                open_all(&key(other_secret, id, epoch), &c, &env),
                Err(Error::KeyCommitmentMismatch)
            );
        }
        // WrongKey is checked before the context: even an invalid context reports it.
        if other_id != id {
            let bad_ctx = Ctx { tenant: Vec::new(), ..c.clone() };
            prop_assert_eq!(
                envelope::open(&key(secret, other_id, epoch), &bad_ctx.get(), &env),
                Err(Error::WrongKey)
            );
        }
    }
}

#[test]
fn invalid_context_is_refused_on_seal_and_open() {
    let k = key([1; 32], [2; 16], 3);
    let good = fixed_ctx();
    let env = envelope::seal(&k, &good.get(), b"x").unwrap();
    let long = vec![b'a'; 256];
    for bad in [
        Ctx {
            tenant: Vec::new(),
            ..good.clone()
        },
        Ctx {
            session: long.clone(),
            ..good.clone()
        },
        Ctx {
            item: Vec::new(),
            ..good.clone()
        },
    ] {
        assert!(matches!(
            envelope::seal(&k, &bad.get(), b"x"),
            Err(Error::InvalidContext { .. })
        ));
        assert!(matches!(
            envelope::open(&k, &bad.get(), &env),
            Err(Error::InvalidContext { .. })
        ));
    }
}

#[test]
fn header_parse_errors() {
    let k = key([1; 32], [2; 16], 3);
    let env = envelope::seal(&k, &fixed_ctx().get(), b"").unwrap();
    assert_eq!(env.len(), OVERHEAD);
    assert!(EnvelopeHeader::parse(&env).is_ok());
    for len in 0..4 {
        assert!(matches!(
            EnvelopeHeader::parse(&env[..len]),
            Err(Error::Truncated { .. })
        ));
    }
    assert!(matches!(
        EnvelopeHeader::parse(b"CAIX"),
        Err(Error::BadMagic { .. })
    ));
    let mut v = env.clone();
    v[4] = 2;
    assert!(matches!(
        EnvelopeHeader::parse(&v),
        Err(Error::UnsupportedVersion { version: 2, .. })
    ));
    let mut v = env.clone();
    v[5] = 0;
    assert!(matches!(
        EnvelopeHeader::parse(&v),
        Err(Error::UnsupportedSuite { suite: 0, .. })
    ));
}
