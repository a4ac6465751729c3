//! Verifying ID tokens: signature, pinned algorithms, keys by `kid`, issuer, audience,
//! times against the test clock, nonce, limits.

use super::*;

#[tokio::test]
async fn es256_tokens_verify_with_the_ec_key() {
    let f = fixture().await;
    let token = sign_with(&claims(&f, CLIENT), &ec(), Algorithm::ES256, Some("ec-1"));
    session(&f, &token).await;
    // An ES256 token naming the RSA key, or an RS256 token naming the EC key: refused.
    let mixed = sign_with(&claims(&f, CLIENT), &ec(), Algorithm::ES256, Some("rsa-a"));
    assert_eq!(refused(&f, &mixed), OidcError::AlgorithmNotAllowed);
    let mixed = sign_with(
        &claims(&f, CLIENT),
        &rsa_a(),
        Algorithm::RS256,
        Some("ec-1"),
    );
    assert_eq!(refused(&f, &mixed), OidcError::AlgorithmNotAllowed);
}

#[tokio::test]
async fn forged_signatures_are_refused() {
    let f = fixture().await;
    let token = sign(&claims(&f, CLIENT));
    // One character of the signature changed.
    let mut forged: Vec<char> = token.chars().collect();
    let i = token.rfind('.').unwrap() + 10;
    forged[i] = if forged[i] == 'A' { 'B' } else { 'A' };
    let forged: String = forged.into_iter().collect();
    assert_eq!(refused(&f, &forged), OidcError::BadSignature);
    // Claims changed under the original signature.
    let (head, rest) = token.split_once('.').unwrap();
    let sig = rest.rsplit_once('.').unwrap().1;
    let evil = URL_SAFE_NO_PAD
        .encode(with(claims(&f, CLIENT), "email", json!("admin@nord.example")).to_string());
    assert_eq!(
        refused(&f, &format!("{head}.{evil}.{sig}")),
        OidcError::BadSignature
    );
    // Signed by another key under the provider key's kid.
    let other = sign_with(
        &claims(&f, CLIENT),
        &rsa_b(),
        Algorithm::RS256,
        Some("rsa-a"),
    );
    assert_eq!(refused(&f, &other), OidcError::BadSignature);
    // Through the login: typed error, recorded with the client's address, no session.
    let err = oidc_login(&f, &provider(&f), &other).await.unwrap_err();
    assert!(
        matches!(err, AuthError::Oidc(OidcError::BadSignature)),
        "{err:?}"
    );
    let events = audit(&f).await;
    let failed = events
        .iter()
        .find(|e| login_changes(std::slice::from_ref(e)) == ["failed (oidc: bad_signature)"])
        .expect("the refusal is recorded");
    assert_eq!(failed.request.client, Some("198.51.100.7".parse().unwrap()));
    assert!(link(&f, f.client.id).await.is_none());
}

#[tokio::test]
async fn expiry_is_checked_against_the_test_clock_with_the_skew() {
    let f = fixture().await;
    let p = provider(&f);
    let token = sign(&claims(&f, CLIENT)); // exp = now + 300, skew 60
    f.clock.advance(Duration::from_secs(300 + 59));
    verify(&f, &p, &token).expect("one second before exp + skew");
    f.clock.advance(Duration::from_secs(1));
    assert_eq!(
        verify(&f, &p, &token).unwrap_err(),
        OidcError::Expired,
        "exactly at exp + skew"
    );
    f.clock.advance(Duration::from_secs(1));
    assert_eq!(
        verify(&f, &p, &token).unwrap_err(),
        OidcError::Expired,
        "one second past"
    );
    let err = oidc_login(&f, &p, &token).await.unwrap_err();
    assert!(matches!(err, AuthError::Oidc(OidcError::Expired)));
    // A smaller skew is honoured too.
    let tight = OidcProvider {
        clock_skew: Duration::ZERO,
        ..provider(&f)
    };
    let fresh = sign(&with(claims(&f, CLIENT), "exp", json!(now_s(&f) + 1)));
    verify(&f, &tight, &fresh).unwrap();
    f.clock.advance(Duration::from_secs(1));
    assert_eq!(verify(&f, &tight, &fresh).unwrap_err(), OidcError::Expired);
    // exp is required.
    let no_exp = sign(&without(claims(&f, CLIENT), "exp"));
    assert_eq!(refused(&f, &no_exp), OidcError::MissingClaim("exp"));
}

#[tokio::test]
async fn issued_at_must_be_recent_and_not_in_the_future() {
    let f = fixture().await;
    let now = now_s(&f);
    // max age 600 s + skew 60 s
    let at = |iat: i64| {
        sign(&with(
            with(claims(&f, CLIENT), "iat", json!(iat)),
            "auth_time",
            json!(iat),
        ))
    };
    verify(&f, &provider(&f), &at(now - 659)).unwrap();
    assert_eq!(refused(&f, &at(now - 660)), OidcError::TooOld);
    assert_eq!(refused(&f, &at(now - 3600)), OidcError::TooOld);
    verify(&f, &provider(&f), &with_future(&f, now + 60)).unwrap();
    assert_eq!(
        refused(&f, &with_future(&f, now + 61)),
        OidcError::IssuedInFuture
    );
    assert_eq!(
        refused(&f, &sign(&without(claims(&f, CLIENT), "iat"))),
        OidcError::MissingClaim("iat")
    );
    assert_eq!(
        refused(
            &f,
            &sign(&with(claims(&f, CLIENT), "iat", json!("yesterday")))
        ),
        OidcError::Malformed,
        "a claim of the wrong type does not parse"
    );
    assert_eq!(
        refused(&f, &sign(&with(claims(&f, CLIENT), "iat", json!(-5)))),
        OidcError::InvalidClaim("iat")
    );
    // auth_time later than now + skew is impossible.
    let late = sign(&with(claims(&f, CLIENT), "auth_time", json!(now + 61)));
    assert_eq!(refused(&f, &late), OidcError::InvalidClaim("auth_time"));
    let edge = sign(&with(claims(&f, CLIENT), "auth_time", json!(now + 60)));
    verify(&f, &provider(&f), &edge).unwrap();
    // Fractions of seconds are cut down; numbers beyond year 9999 are refused.
    let frac = with(claims(&f, CLIENT), "iat", json!(now as f64 + 0.75));
    let frac = with(frac, "exp", json!(now as f64 + 300.5));
    let t = verify(&f, &provider(&f), &sign(&frac)).unwrap();
    assert_eq!(t.issued_at.unix_millis(), now * 1000);
    assert_eq!(t.expires_at.unix_millis(), (now + 300) * 1000);
    for huge in [
        json!(1e300),
        json!(-0.5),
        json!(253_402_300_800_i64),
        json!(u64::MAX),
    ] {
        let c = with(claims(&f, CLIENT), "exp", huge.clone());
        assert_eq!(
            refused(&f, &sign(&c)),
            OidcError::InvalidClaim("exp"),
            "{huge}"
        );
    }
}

#[tokio::test]
async fn the_subject_must_be_present_and_short() {
    let f = fixture().await;
    let sub = |s: &str| sign(&with(claims(&f, CLIENT), "sub", json!(s)));
    assert_eq!(refused(&f, &sub("")), OidcError::InvalidClaim("sub"));
    assert_eq!(
        refused(&f, &sub(&"s".repeat(256))),
        OidcError::InvalidClaim("sub")
    );
    assert_eq!(
        verify(&f, &provider(&f), &sub(&"s".repeat(255)))
            .unwrap()
            .subject
            .len(),
        255
    );
    assert_eq!(
        refused(&f, &sign(&without(claims(&f, CLIENT), "sub"))),
        OidcError::MissingClaim("sub")
    );
}

#[tokio::test]
async fn not_before_is_honoured() {
    let f = fixture().await;
    let now = now_s(&f);
    let nbf = |t: i64| sign(&with(claims(&f, CLIENT), "nbf", json!(t)));
    verify(&f, &provider(&f), &nbf(now + 60)).unwrap();
    assert_eq!(refused(&f, &nbf(now + 61)), OidcError::NotYetValid);
    f.clock.advance(Duration::from_secs(1));
    verify(&f, &provider(&f), &nbf(now + 61)).unwrap();
}

#[tokio::test]
async fn issuer_and_audience_must_be_exactly_ours() {
    let f = fixture().await;
    let c = || claims(&f, CLIENT);
    for iss in [
        "https://evil.example/realms/nord",
        "https://idp.nord.example/realms/nord/",
        "HTTPS://idp.nord.example/realms/nord",
    ] {
        assert_eq!(
            refused(&f, &sign(&with(c(), "iss", json!(iss)))),
            OidcError::WrongIssuer,
            "{iss}"
        );
    }
    assert_eq!(
        refused(&f, &sign(&without(c(), "iss"))),
        OidcError::MissingClaim("iss")
    );
    assert_eq!(
        refused(
            &f,
            &sign(&with(without(c(), "azp"), "aud", json!("another-app")))
        ),
        OidcError::WrongAudience
    );
    assert_eq!(
        refused(&f, &sign(&with(c(), "aud", json!([])))),
        OidcError::WrongAudience
    );
    assert_eq!(
        refused(&f, &sign(&without(c(), "aud"))),
        OidcError::MissingClaim("aud")
    );
    // Several audiences: azp must be present and be us.
    let many = with(c(), "aud", json!([CLIENT_ID, "account"]));
    assert_eq!(
        refused(&f, &sign(&without(many.clone(), "azp"))),
        OidcError::WrongAuthorizedParty
    );
    assert_eq!(
        refused(&f, &sign(&with(many.clone(), "azp", json!("account")))),
        OidcError::WrongAuthorizedParty
    );
    verify(&f, &provider(&f), &sign(&many)).unwrap();
    // One audience: azp may be absent, but if present it must be us.
    verify(&f, &provider(&f), &sign(&without(c(), "azp"))).unwrap();
    assert_eq!(
        refused(&f, &sign(&with(c(), "azp", json!("other")))),
        OidcError::WrongAuthorizedParty
    );
    // Ours among several, but without azp: refused through the login as well.
    let err = oidc_login(&f, &provider(&f), &sign(&without(many, "azp")))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        AuthError::Oidc(OidcError::WrongAuthorizedParty)
    ));
}

#[tokio::test]
async fn the_nonce_must_be_this_logins() {
    let f = fixture().await;
    let p = provider(&f);
    assert_eq!(
        refused(&f, &sign(&without(claims(&f, CLIENT), "nonce"))),
        OidcError::MissingClaim("nonce")
    );
    assert_eq!(
        refused(
            &f,
            &sign(&with(
                claims(&f, CLIENT),
                "nonce",
                json!("n-0S6_WzA2Mj-another-login-s-nonce")
            ))
        ),
        OidcError::NonceMismatch
    );
    let token = sign(&claims(&f, CLIENT));
    let fresh = OidcNonce::generate().unwrap();
    assert_eq!(
        p.verify_id_token(&keys(), &token, fresh.expose(), f.clock.now())
            .unwrap_err(),
        OidcError::NonceMismatch
    );
    // The host must pass a real nonce: an empty or short one is its mistake.
    assert_eq!(
        p.verify_id_token(&keys(), &token, &"n".repeat(22), f.clock.now())
            .unwrap_err(),
        OidcError::NonceMismatch,
        "22 characters are enough"
    );
    for weak in ["", "short-nonce", &"n".repeat(21)] {
        assert_eq!(
            p.verify_id_token(&keys(), &token, weak, f.clock.now())
                .unwrap_err(),
            OidcError::WeakNonce
        );
    }
    // A token carrying the generated nonce is accepted with it.
    let bound = sign(&with(claims(&f, CLIENT), "nonce", json!(fresh.expose())));
    p.verify_id_token(&keys(), &bound, fresh.expose(), f.clock.now())
        .unwrap();
}

#[tokio::test]
async fn none_hmac_and_unpinned_algorithms_are_refused() {
    let f = fixture().await;
    let c = claims(&f, CLIENT);
    // alg: none, no signature.
    let head = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"rsa-a","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(c.to_string());
    assert_eq!(
        refused(&f, &format!("{head}.{body}.")),
        OidcError::AlgorithmNotAllowed
    );
    let head = URL_SAFE_NO_PAD.encode(r#"{"alg":"None","kid":"rsa-a"}"#);
    assert_eq!(
        refused(&f, &format!("{head}.{body}.")),
        OidcError::AlgorithmNotAllowed
    );
    // HS256 keyed with the provider's public key (algorithm confusion), in several forms.
    let pem = EncodingKey::from_secret(RSA_A_PUBLIC);
    for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
        let forged = sign_with(&c, &pem, alg, Some("rsa-a"));
        assert_eq!(
            refused(&f, &forged),
            OidcError::AlgorithmNotAllowed,
            "{alg:?}"
        );
    }
    let n = Jwk::from_encoding_key(&rsa_a(), Algorithm::RS256).unwrap();
    let n = serde_json::to_value(n).unwrap()["n"]
        .as_str()
        .unwrap()
        .to_owned();
    let raw_n = EncodingKey::from_secret(&URL_SAFE_NO_PAD.decode(n).unwrap());
    let forged = sign_with(&c, &raw_n, Algorithm::HS256, Some("rsa-a"));
    assert_eq!(refused(&f, &forged), OidcError::AlgorithmNotAllowed);
    let err = oidc_login(&f, &provider(&f), &forged).await.unwrap_err();
    assert!(matches!(
        err,
        AuthError::Oidc(OidcError::AlgorithmNotAllowed)
    ));
    // A real RSA algorithm that is not pinned.
    let rs384 = sign_with(&c, &rsa_a(), Algorithm::RS384, Some("rsa-a"));
    assert_eq!(refused(&f, &rs384), OidcError::AlgorithmNotAllowed);
    let widened = OidcProvider {
        algorithms: vec![OidcAlgorithm::Rs384],
        ..provider(&f)
    };
    // The JWKS entry says alg RS256: the key verifies RS256 only.
    assert_eq!(
        verify(&f, &widened, &rs384).unwrap_err(),
        OidcError::AlgorithmNotAllowed
    );
    // Pinned to ES256 only: RS256 is refused.
    let es_only = OidcProvider {
        algorithms: vec![OidcAlgorithm::Es256],
        ..provider(&f)
    };
    assert_eq!(
        verify(&f, &es_only, &sign(&c)).unwrap_err(),
        OidcError::AlgorithmNotAllowed
    );
}

#[tokio::test]
async fn keys_are_found_by_kid_only_and_an_unknown_kid_asks_for_a_refresh() {
    let f = fixture().await;
    let c = claims(&f, CLIENT);
    let rotated = sign_with(&c, &rsa_b(), Algorithm::RS256, Some("rsa-b"));
    assert_eq!(refused(&f, &rotated), OidcError::UnknownKey);
    let err = oidc_login(&f, &provider(&f), &rotated).await.unwrap_err();
    assert!(matches!(err, AuthError::Oidc(OidcError::UnknownKey)));
    assert_eq!(
        refused(&f, &sign_with(&c, &rsa_a(), Algorithm::RS256, None)),
        OidcError::MissingKeyId
    );
    // The host fetched the JWKS again: the new key is there, the login goes through.
    let refreshed = json!({ "keys": [jwk(&rsa_a(), Algorithm::RS256, "rsa-a"), jwk(&rsa_b(), Algorithm::RS256, "rsa-b")] });
    let refreshed = OidcKeys::from_jwks_json(refreshed.to_string().as_bytes()).unwrap();
    assert_eq!(refreshed.key_ids(), ["rsa-a", "rsa-b"]);
    let outcome = f
        .auth
        .login_with_id_token(
            &provider(&f),
            &refreshed,
            &rotated,
            NONCE,
            RequestMeta::default(),
        )
        .await
        .unwrap();
    assert!(matches!(outcome, LoginOutcome::Session(_)));
}

#[tokio::test]
async fn oversize_and_malformed_tokens_are_refused_before_decoding() {
    let f = fixture().await;
    let p = provider(&f);
    let huge = "a".repeat(p.max_token_bytes + 1);
    assert_eq!(refused(&f, &huge), OidcError::TooLarge { limit: 16 * 1024 });
    let edge = "a".repeat(p.max_token_bytes);
    assert_eq!(
        refused(&f, &edge),
        OidcError::Malformed,
        "at the limit: decoded"
    );
    let padded = sign(&with(
        claims(&f, CLIENT),
        "pad",
        json!("x".repeat(16 * 1024)),
    ));
    assert_eq!(
        refused(&f, &padded),
        OidcError::TooLarge { limit: 16 * 1024 }
    );
    let larger = OidcProvider {
        max_token_bytes: 32 * 1024,
        ..provider(&f)
    };
    verify(&f, &larger, &padded).unwrap();
    for bad in ["", "a.b", "a.b.c.d", "!!!.e30.sig", "e30.e30.", ".."] {
        assert_eq!(refused(&f, bad), OidcError::Malformed, "{bad:?}");
    }
    let err = oidc_login(&f, &p, &huge).await.unwrap_err();
    assert!(matches!(err, AuthError::Oidc(OidcError::TooLarge { .. })));
}
