//! Parsing JWKS documents: limits, typed errors, keys left out one by one.

use super::*;

#[test]
fn jwks_documents_are_parsed_with_limits_and_typed_errors() {
    let good = keys();
    assert_eq!(good.len(), 2);
    assert_eq!(good.key_ids(), ["ec-1", "rsa-a"]);
    assert!(good.skipped().is_empty());
    let parse = |v: Value| OidcKeys::from_jwks_json(v.to_string().as_bytes());
    assert_eq!(
        OidcKeys::from_jwks_json(b"not json").unwrap_err(),
        JwksError::Malformed
    );
    assert_eq!(
        OidcKeys::from_jwks_json(b"{}").unwrap_err(),
        JwksError::Malformed
    );
    assert_eq!(
        parse(json!({"keys": {}})).unwrap_err(),
        JwksError::Malformed
    );
    assert_eq!(
        parse(json!({"keys": []})).unwrap_err(),
        JwksError::NoUsableKey
    );
    let big = vec![b' '; MAX_JWKS_BYTES + 1];
    assert_eq!(
        OidcKeys::from_jwks_json(&big).unwrap_err(),
        JwksError::TooLarge {
            limit: MAX_JWKS_BYTES
        }
    );
    let rsa = jwk(&rsa_a(), Algorithm::RS256, "rsa-a");
    let many: Vec<Value> = (0..=MAX_JWKS_KEYS)
        .map(|i| with(rsa.clone(), "kid", json!(format!("k{i}"))))
        .collect();
    assert_eq!(
        parse(json!({ "keys": many })).unwrap_err(),
        JwksError::TooManyKeys {
            limit: MAX_JWKS_KEYS
        }
    );
    let twice = with(jwk(&ec(), Algorithm::ES256, "x"), "kid", json!("rsa-a"));
    assert_eq!(
        parse(json!({ "keys": [rsa.clone(), twice] })).unwrap_err(),
        JwksError::DuplicateKeyId
    );

    // Keys that are not for us are left out, the rest is used.
    let enc = with(rsa.clone(), "use", json!("enc"));
    let enc = with(enc, "kid", json!("enc-1"));
    let oct = json!({"kty": "oct", "kid": "hmac", "k": URL_SAFE_NO_PAD.encode(RSA_A_PUBLIC), "alg": "HS256"});
    let no_kid = without(rsa.clone(), "kid");
    let okp_other =
        json!({"kty": "OKP", "crv": "X25519", "kid": "x", "x": URL_SAFE_NO_PAD.encode([1u8; 32])});
    let weird = json!({"kty": "RSA", "kid": "bad-n", "n": "***", "e": "AQAB"});
    let small = json!({"kty": "RSA", "kid": "small", "n": URL_SAFE_NO_PAD.encode([0xffu8; 128]), "e": "AQAB"});
    let ops = with(
        with(rsa.clone(), "key_ops", json!(["encrypt"])),
        "kid",
        json!("ops"),
    );
    let oaep = with(
        with(rsa.clone(), "alg", json!("RSA-OAEP")),
        "kid",
        json!("oaep"),
    );
    let set = parse(json!({ "keys": [enc, oct, no_kid, okp_other, weird, small, ops, oaep, rsa] }))
        .unwrap();
    assert_eq!(set.key_ids(), ["rsa-a"]);
    let reasons: Vec<(Option<&str>, SkipReason)> = set
        .skipped()
        .iter()
        .map(|s| (s.kid.as_deref(), s.reason))
        .collect();
    assert_eq!(
        reasons,
        [
            (Some("enc-1"), SkipReason::NotForSignatures),
            (Some("hmac"), SkipReason::Symmetric),
            (None, SkipReason::NoKeyId),
            (Some("x"), SkipReason::Unsupported),
            (Some("bad-n"), SkipReason::Malformed),
            (Some("small"), SkipReason::KeySize),
            (Some("ops"), SkipReason::NotForSignatures),
            (Some("oaep"), SkipReason::Unsupported),
        ]
    );
    // Exactly at the limits: accepted.
    let mut at_limit = json!({ "keys": [rsa.clone()] }).to_string();
    at_limit.push_str(&" ".repeat(MAX_JWKS_BYTES - at_limit.len()));
    assert_eq!(at_limit.len(), MAX_JWKS_BYTES);
    assert!(
        !OidcKeys::from_jwks_json(at_limit.as_bytes())
            .unwrap()
            .is_empty()
    );
    let most: Vec<Value> = (0..MAX_JWKS_KEYS)
        .map(|i| with(rsa.clone(), "kid", json!(format!("k{i}"))))
        .collect();
    assert_eq!(parse(json!({ "keys": most })).unwrap().len(), MAX_JWKS_KEYS);
    // Only symmetric keys: nothing usable.
    let oct = json!({"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"});
    assert_eq!(
        parse(json!({ "keys": [oct] })).unwrap_err(),
        JwksError::NoUsableKey
    );
    let shown = format!("{set:?}");
    assert!(
        shown.contains("rsa-a") && !shown.contains(&rsa_n()),
        "{shown}"
    );
}

#[test]
fn jwks_keys_are_checked_one_by_one() {
    let parse = |keys: Vec<Value>| {
        OidcKeys::from_jwks_json(json!({ "keys": keys }).to_string().as_bytes()).unwrap()
    };
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    let rsa = jwk(&rsa_a(), Algorithm::RS256, "rsa-a");
    // Key ids: 1..=256 bytes.
    let kid = |k: String| with(rsa.clone(), "kid", json!(k));
    let set = parse(vec![
        kid(String::new()),
        kid("k".repeat(257)),
        kid("k".repeat(256)),
    ]);
    assert_eq!(set.key_ids(), ["k".repeat(256)]);
    let skipped: Vec<_> = set
        .skipped()
        .iter()
        .map(|s| (s.kid.clone(), s.reason))
        .collect();
    assert_eq!(
        skipped,
        [
            (Some(String::new()), SkipReason::Malformed),
            (None, SkipReason::Malformed)
        ]
    );
    // RSA moduli: 2 048..=4 096 significant bits, leading zero bytes not counted.
    let modulus = |top: u8, len: usize, leading_zero: bool| {
        let mut n = vec![0xffu8; len];
        n[0] = top;
        if leading_zero {
            n.insert(0, 0);
        }
        json!({"kty": "RSA", "kid": format!("n{top}-{len}-{leading_zero}"), "n": b64(&n), "e": "AQAB"})
    };
    let set = parse(vec![
        modulus(0x80, 256, false),
        modulus(0x80, 256, true),
        modulus(0x7f, 256, false),
        modulus(0x01, 257, false),
        modulus(0xff, 512, false),
        modulus(0xff, 512, true),
        modulus(0x01, 513, false),
    ]);
    assert_eq!(
        set.key_ids(),
        [
            "n1-257-false",
            "n128-256-false",
            "n128-256-true",
            "n255-512-false",
            "n255-512-true"
        ]
    );
    assert!(
        set.skipped()
            .iter()
            .all(|s| s.reason == SkipReason::KeySize)
    );
    assert_eq!(set.skipped().len(), 2);
    // EC P-256/P-384 with coordinates of their size, Ed25519 with 32 bytes.
    let ec = |crv: &str, x: usize, y: usize, kid: &str| json!({"kty": "EC", "crv": crv, "kid": kid, "x": b64(&vec![7u8; x]), "y": b64(&vec![9u8; y])});
    let okp = |crv: &str, x: usize, kid: &str| json!({"kty": "OKP", "crv": crv, "kid": kid, "x": b64(&vec![3u8; x])});
    let set = parse(vec![
        ec("P-256", 32, 32, "p256"),
        ec("P-384", 48, 48, "p384"),
        ec("P-384", 32, 32, "p384-short"),
        ec("P-256", 32, 31, "p256-short-y"),
        ec("P-256", 31, 32, "p256-short-x"),
        ec("P-521", 66, 66, "p521"),
        okp("Ed25519", 32, "ed"),
        okp("Ed25519", 31, "ed-short"),
    ]);
    assert_eq!(set.key_ids(), ["ed", "p256", "p384"]);
    let reasons: Vec<_> = set.skipped().iter().map(|s| s.reason).collect();
    assert_eq!(
        reasons,
        [
            SkipReason::KeySize,
            SkipReason::KeySize,
            SkipReason::KeySize,
            SkipReason::Unsupported,
            SkipReason::KeySize
        ]
    );
    // An `alg` on the key names the one algorithm it verifies, if it fits the key.
    let named = |v: Value, alg: &str| with(with(v, "alg", json!(alg)), "kid", json!(alg));
    let set = parse(vec![
        named(rsa.clone(), "RS384"),
        named(rsa.clone(), "RS512"),
        named(rsa.clone(), "PS256"),
        named(rsa.clone(), "PS384"),
        named(rsa.clone(), "PS512"),
        named(ec("P-384", 48, 48, ""), "ES384"),
        named(okp("Ed25519", 32, ""), "EdDSA"),
        named(rsa.clone(), "ES256"),
        named(rsa.clone(), "HS256"),
    ]);
    assert_eq!(
        set.key_ids(),
        [
            "ES384", "EdDSA", "PS256", "PS384", "PS512", "RS384", "RS512"
        ]
    );
    assert_eq!(set.skipped().len(), 2);
}
