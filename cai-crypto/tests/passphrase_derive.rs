#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use cai_crypto::passphrase::{
    self, Argon2Params, MAX_MEMORY_KIB, MAX_PASSPHRASE_LEN, MIN_MEMORY_KIB, PassphraseParams,
};
use cai_crypto::{ContentKind, Error, ItemContext, KeyEpoch, KeyId, envelope};
use proptest::prelude::*;

const FAST: Argon2Params = Argon2Params::MINIMUM;

fn flip(bytes: &mut [u8], i: usize) {
    if let Some(b) = bytes.get_mut(i) {
        *b ^= 0x01;
    }
}

/// Encoded params with explicit fields, for forging headers.
fn encode(
    m: u32,
    t: u32,
    p: u32,
    salt: &[u8],
    key_id: [u8; 16],
    epoch: u32,
    verifier: [u8; 32],
) -> Vec<u8> {
    let mut out = b"CAIP\x01\x01".to_vec();
    out.extend_from_slice(&m.to_be_bytes());
    out.extend_from_slice(&t.to_be_bytes());
    out.extend_from_slice(&p.to_be_bytes());
    out.push(u8::try_from(salt.len()).unwrap());
    out.extend_from_slice(salt);
    out.extend_from_slice(&key_id);
    out.extend_from_slice(&epoch.to_be_bytes());
    out.extend_from_slice(&verifier);
    out
}

#[test]
fn create_then_derive_through_storage() {
    let (key, params) = passphrase::create(b"a long and private passphrase", FAST).unwrap();
    assert_eq!(params.key_id(), key.id());
    assert_eq!(params.epoch(), KeyEpoch::INITIAL);
    assert_eq!(params.argon2_params(), FAST);
    assert_eq!(params.salt().len(), 32);

    let stored = params.to_bytes();
    assert_eq!(stored.get(..4), Some(&b"CAIP"[..]));
    let parsed = PassphraseParams::parse(&stored).unwrap();
    assert_eq!(parsed, params);
    let derived = passphrase::derive(b"a long and private passphrase", &parsed).unwrap();
    assert_eq!(derived, key);

    // The derived key opens content sealed under the original.
    let item = ItemContext::new(b"t", b"s", b"i", 1, ContentKind::Message);
    let sealed = envelope::seal(&key, &item, b"only with the passphrase").unwrap();
    assert_eq!(
        envelope::open(&derived, &item, &sealed).unwrap(),
        b"only with the passphrase"
    );
}

#[test]
fn wrong_passphrase_is_a_distinct_error() {
    let (_, params) = passphrase::create(b"right", FAST).unwrap();
    assert_eq!(
        passphrase::derive(b"Right", &params),
        Err(Error::WrongPassphrase)
    );
    assert_eq!(
        passphrase::derive(b"right ", &params),
        Err(Error::WrongPassphrase)
    );
    assert_eq!(
        Error::WrongPassphrase.to_string(),
        "wrong passphrase",
        "the message users see"
    );
}

#[test]
fn sessions_with_the_same_passphrase_get_different_keys() {
    let (a, pa) = passphrase::create(b"same", FAST).unwrap();
    let (b, pb) = passphrase::create(b"same", FAST).unwrap();
    assert_ne!(a, b);
    assert_ne!(pa.salt(), pb.salt());
    assert_ne!(a.id(), b.id());
}

#[test]
fn epochs_are_bound() {
    let (key, params) = passphrase::create_with_epoch(b"phrase", FAST, KeyEpoch(5)).unwrap();
    assert_eq!(key.epoch(), KeyEpoch(5));
    assert_eq!(passphrase::derive(b"phrase", &params).unwrap(), key);
}

#[test]
fn tampered_params_do_not_derive() {
    let (_, params) = passphrase::create(b"phrase", FAST).unwrap();
    let bytes = params.to_bytes();
    // salt (19..51), key id (51..67), epoch (67..71), verifier (71..103)
    for i in [19, 50, 51, 66, 67, 70, 71, 102] {
        let mut t = bytes.clone();
        flip(&mut t, i);
        let forged = PassphraseParams::parse(&t).unwrap();
        assert_eq!(
            passphrase::derive(b"phrase", &forged),
            Err(Error::WrongPassphrase),
            "byte {i}"
        );
    }
    // Magic, version, kdf id.
    for (i, check) in [(0usize, "magic"), (4, "version"), (5, "suite")] {
        let mut t = bytes.clone();
        flip(&mut t, i);
        let r = PassphraseParams::parse(&t);
        match (check, r) {
            ("magic", Err(Error::BadMagic { .. }))
            | ("version", Err(Error::UnsupportedVersion { .. }))
            | ("suite", Err(Error::UnsupportedSuite { .. })) => {}
            (c, r) => panic!("{c}: {r:?}"),
        }
    }
}

#[test]
fn forged_cost_parameters_are_rejected() {
    let salt = [7u8; 16];
    let ok = encode(MIN_MEMORY_KIB, 2, 1, &salt, [1; 16], 0, [0; 32]);
    assert!(PassphraseParams::parse(&ok).is_ok());
    for (m, t, p) in [
        (4 * 1024 * 1024, 3, 1), // 4 GiB: a denial of service
        (MAX_MEMORY_KIB + 1, 3, 1),
        (u32::MAX, u32::MAX, u32::MAX),
        (8, 1, 1), // trivial cost: a downgrade
        (MIN_MEMORY_KIB - 1, 3, 1),
        (65536, 1, 1),
        (65536, 17, 1),
        (65536, 3, 0),
        (65536, 3, 5),
    ] {
        let forged = encode(m, t, p, &salt, [1; 16], 0, [0; 32]);
        assert!(
            matches!(
                PassphraseParams::parse(&forged),
                Err(Error::KdfParamsOutOfBounds { .. })
            ),
            "({m}, {t}, {p}) accepted"
        );
    }
}

#[test]
fn salt_length_and_total_length_are_strict() {
    for len in [0usize, 8, 15, 33, 255] {
        let forged = encode(MIN_MEMORY_KIB, 2, 1, &vec![1; len], [1; 16], 0, [0; 32]);
        assert!(
            matches!(
                PassphraseParams::parse(&forged),
                Err(Error::Malformed { .. })
            ),
            "salt length {len}"
        );
    }
    for len in [16usize, 24, 32] {
        let ok = encode(MIN_MEMORY_KIB, 2, 1, &vec![1; len], [1; 16], 0, [0; 32]);
        assert_eq!(PassphraseParams::parse(&ok).unwrap().to_bytes(), ok);
    }
    let ok = encode(MIN_MEMORY_KIB, 2, 1, &[1; 16], [1; 16], 0, [0; 32]);
    let mut long = ok.clone();
    long.push(0);
    assert!(matches!(
        PassphraseParams::parse(&long),
        Err(Error::Malformed { .. })
    ));
    for cut in 0..ok.len() {
        assert!(
            matches!(
                PassphraseParams::parse(ok.get(..cut).unwrap()),
                Err(Error::Truncated { .. })
            ),
            "cut at {cut}"
        );
    }
}

#[test]
fn passphrase_length_limits() {
    assert!(matches!(
        passphrase::create(b"", FAST),
        Err(Error::Malformed {
            what: "passphrase",
            ..
        })
    ));
    let too_long = vec![b'x'; MAX_PASSPHRASE_LEN + 1];
    assert!(matches!(
        passphrase::create(&too_long, FAST),
        Err(Error::TooLarge { .. })
    ));
    let longest = vec![b'x'; MAX_PASSPHRASE_LEN];
    let (key, params) = passphrase::create(&longest, FAST).unwrap();
    assert_eq!(passphrase::derive(&longest, &params).unwrap(), key);
    assert!(matches!(
        passphrase::derive(&too_long, &params),
        Err(Error::TooLarge { .. })
    ));
    assert!(matches!(
        passphrase::derive(b"", &params),
        Err(Error::Malformed { .. })
    ));
    // Free content: any bytes, including NUL and non-ASCII UTF-8.
    let odd = "pässwörd \u{0} 🔑".as_bytes();
    let (key, params) = passphrase::create(odd, FAST).unwrap();
    assert_eq!(passphrase::derive(odd, &params).unwrap(), key);
}

#[test]
fn argon2_params_bounds() {
    assert_eq!(Argon2Params::default().memory_kib(), 65536);
    assert_eq!(Argon2Params::default().iterations(), 3);
    assert_eq!(Argon2Params::default().parallelism(), 1);
    assert!(Argon2Params::new(MAX_MEMORY_KIB, 16, 4).is_ok());
    assert!(matches!(
        Argon2Params::new(MAX_MEMORY_KIB * 2, 3, 1),
        Err(Error::KdfParamsOutOfBounds { .. })
    ));
    assert!(matches!(
        Argon2Params::new(MIN_MEMORY_KIB, 1, 1),
        Err(Error::KdfParamsOutOfBounds { .. })
    ));
}

#[test]
fn parallel_lanes_work() {
    let params = Argon2Params::new(MIN_MEMORY_KIB, 2, 4).unwrap();
    let (key, stored) = passphrase::create(b"lanes", params).unwrap();
    assert_eq!(passphrase::derive(b"lanes", &stored).unwrap(), key);
}

#[test]
fn debug_output_hides_secrets() {
    let (key, params) = passphrase::create(b"hunter2-but-longer", FAST).unwrap();
    let bytes = params.to_bytes();
    let verifier_hex: String = bytes
        .get(bytes.len() - 32..bytes.len() - 28)
        .unwrap()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let shown = format!("{params:?}");
    assert!(!shown.contains(&verifier_hex), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains(&key.id().to_string()), "{shown}");
    let key_hex: String = key
        .secret()
        .expose_secret()
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(!format!("{key:?}").contains(&key_hex));
}

/// The documented derivation (docs/KEYS.md), reimplemented with `argon2` and `hkdf`
/// directly: parameters built from the spec derive the same key in this library.
#[test]
fn matches_the_documented_derivation() {
    use hkdf::Hkdf;
    use sha2::Sha256;

    let pass = b"correct horse battery staple";
    let salt = [0x5au8; 16];
    let key_id = [0x0fu8; 16];
    let epoch = 2u32;
    let params = argon2::Params::new(MIN_MEMORY_KIB, 2, 1, Some(32)).unwrap();
    let mut master = [0u8; 32];
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_into(pass, &salt, &mut master)
        .unwrap();
    let hk = Hkdf::<Sha256>::new(None, &master);
    let expand = |label: &[u8]| {
        let mut info = label.to_vec();
        info.extend_from_slice(&key_id);
        info.extend_from_slice(&epoch.to_be_bytes());
        let mut out = [0u8; 32];
        hk.expand(&info, &mut out).unwrap();
        out
    };
    let key = expand(b"cai passphrase key v1");
    let verifier = expand(b"cai passphrase verifier v1");

    let stored = encode(MIN_MEMORY_KIB, 2, 1, &salt, key_id, epoch, verifier);
    let parsed = PassphraseParams::parse(&stored).unwrap();
    let derived = passphrase::derive(pass, &parsed).unwrap();
    assert_eq!(derived.secret().expose_secret(), &key);
    assert_eq!(derived.id(), KeyId::from_bytes(key_id));
    assert_eq!(derived.epoch(), KeyEpoch(epoch));
}

proptest! {
    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(p) = PassphraseParams::parse(&bytes) {
            prop_assert_eq!(p.to_bytes(), bytes);
        }
    }

    #[test]
    fn parse_of_valid_prefixed_input_never_panics(
        tail in proptest::collection::vec(any::<u8>(), 0..120),
        m in any::<u32>(), t in any::<u32>(), p in any::<u32>(), salt_len in any::<u8>(),
    ) {
        let mut bytes = b"CAIP\x01\x01".to_vec();
        bytes.extend_from_slice(&m.to_be_bytes());
        bytes.extend_from_slice(&t.to_be_bytes());
        bytes.extend_from_slice(&p.to_be_bytes());
        bytes.push(salt_len);
        bytes.extend_from_slice(&tail);
        if let Ok(parsed) = PassphraseParams::parse(&bytes) {
            prop_assert_eq!(parsed.to_bytes(), bytes);
        }
    }
}
