//! OpenID Connect (feature `oidc`): ID tokens signed here with the test keys of
//! `tests/data/oidc/` (jsonwebtoken's encoder), verified by `cai-auth` against the
//! fixture's test clock, mapped to accounts, turned into sessions — and every way an
//! ID token must be refused.
#![cfg(feature = "oidc")]
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cai_auth::conformance::Fixture;
use cai_auth::oidc::{
    JwksError, MAX_JWKS_BYTES, MAX_JWKS_KEYS, OidcAlgorithm, OidcError, OidcKeys, OidcLinkRecord,
    OidcNonce, OidcProvider, SkipReason,
};
use cai_auth::{AuthError, LoginOutcome, SecondFactorMethod};
use cai_core::domain::{IncidentKind, RequestMeta};
use cai_core::id::SubjectId;
use cai_core::ports::{Clock, CredentialKind};
use common::*;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

const ISSUER: &str = "https://idp.nord.example/realms/nord";
const CLIENT_ID: &str = "cai-web";
const SUB: &str = "6c1f8a2e-robin";
const NONCE: &str = "n-0S6_WzA2Mj-a-fresh-nonce-of-this-login";

const RSA_A: &[u8] = include_bytes!("data/oidc/rsa_a.pem");
const RSA_A_PUBLIC: &[u8] = include_bytes!("data/oidc/rsa_a_public.pem");
const RSA_B: &[u8] = include_bytes!("data/oidc/rsa_b.pem");
const EC: &[u8] = include_bytes!("data/oidc/ec_p256.pem");

fn rsa_a() -> EncodingKey {
    EncodingKey::from_rsa_pem(RSA_A).unwrap()
}
fn rsa_b() -> EncodingKey {
    EncodingKey::from_rsa_pem(RSA_B).unwrap()
}
fn ec() -> EncodingKey {
    EncodingKey::from_ec_pem(EC).unwrap()
}

fn jwk(key: &EncodingKey, alg: Algorithm, kid: &str) -> Value {
    let mut jwk = Jwk::from_encoding_key(key, alg).unwrap();
    jwk.common.key_id = Some(kid.to_owned());
    serde_json::to_value(jwk).unwrap()
}

/// The provider's JWKS: `rsa-a` (RS256) and `ec-1` (ES256).
fn jwks_json() -> String {
    json!({ "keys": [jwk(&rsa_a(), Algorithm::RS256, "rsa-a"), jwk(&ec(), Algorithm::ES256, "ec-1")] })
        .to_string()
}

fn keys() -> OidcKeys {
    OidcKeys::from_jwks_json(jwks_json().as_bytes()).unwrap()
}

fn provider(f: &Fixture) -> OidcProvider {
    OidcProvider::new(f.tenant.id, ISSUER, CLIENT_ID)
}

fn now_s(f: &Fixture) -> i64 {
    f.clock.now().unix_millis() / 1000
}

/// Claims of a good ID token for `email`, issued now, valid 5 minutes.
fn claims(f: &Fixture, email: &str) -> Value {
    let now = now_s(f);
    json!({
        "iss": ISSUER, "aud": CLIENT_ID, "sub": SUB, "azp": CLIENT_ID,
        "email": email, "email_verified": true,
        "iat": now, "exp": now + 300, "auth_time": now - 30, "nonce": NONCE,
    })
}

fn sign_with(claims: &Value, key: &EncodingKey, alg: Algorithm, kid: Option<&str>) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    encode(&header, claims, key).unwrap()
}

/// Signed RS256 by the provider's key `rsa-a`.
fn sign(claims: &Value) -> String {
    sign_with(claims, &rsa_a(), Algorithm::RS256, Some("rsa-a"))
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn without(mut claims: Value, key: &str) -> Value {
    claims.as_object_mut().unwrap().remove(key);
    claims
}

/// What `verify_id_token` says about `token` now.
fn verify(
    f: &Fixture,
    p: &OidcProvider,
    token: &str,
) -> Result<cai_auth::oidc::VerifiedIdToken, OidcError> {
    p.verify_id_token(&keys(), token, NONCE, f.clock.now())
}

fn refused(f: &Fixture, token: &str) -> OidcError {
    verify(f, &provider(f), token).expect_err("the token must be refused")
}

async fn oidc_login(f: &Fixture, p: &OidcProvider, token: &str) -> Result<LoginOutcome, AuthError> {
    f.auth
        .login_with_id_token(p, &keys(), token, NONCE, from("198.51.100.7"))
        .await
}

async fn session(f: &Fixture, token: &str) -> cai_auth::IssuedSession {
    match oidc_login(f, &provider(f), token).await {
        Ok(LoginOutcome::Session(s)) => s,
        other => panic!("expected a session, got {other:?}"),
    }
}

async fn link(f: &Fixture, account: cai_core::id::AccountId) -> Option<OidcLinkRecord> {
    f.store
        .credential(f.tenant.id, account, CredentialKind::OidcLink)
        .await
        .unwrap()
        .map(|c| serde_json::from_slice(&c.data).unwrap())
}

fn login_changes(events: &[cai_core::domain::AuditEvent]) -> Vec<String> {
    events
        .iter()
        .flat_map(|e| e.changes.iter())
        .filter(|c| c.property == "login" || c.property == "login_method")
        .filter_map(|c| c.after.clone())
        .collect()
}

#[tokio::test]
async fn a_valid_token_gives_a_session_for_the_accounts_caller_and_links_it() {
    let f = fixture().await;
    let token = sign(&claims(&f, CLIENT));
    let s = session(&f, &token).await;
    let caller = f
        .auth
        .authenticate(s.token.expose(), RequestMeta::default())
        .await
        .unwrap();
    assert_eq!(caller.subject, SubjectId::Account(f.client.id));
    assert_eq!(caller.tenant, f.tenant.id);
    assert!(!caller.authentication.second_factor, "AAL1 by default");
    // authenticated_at is the provider's auth_time.
    assert_eq!(
        caller.authentication.at.unix_millis(),
        (now_s(&f) - 30) * 1000
    );
    assert_eq!(s.caller.subject, caller.subject);

    let l = link(&f, f.client.id).await.expect("linked on first use");
    assert_eq!((l.issuer.as_str(), l.subject.as_str()), (ISSUER, SUB));
    assert_eq!(l.linked_at, f.clock.now().unix_millis());
    let stored = f
        .store
        .credential(f.tenant.id, f.client.id, CredentialKind::OidcLink)
        .await
        .unwrap()
        .unwrap();
    let shape: Value = serde_json::from_slice(&stored.data).unwrap();
    assert_eq!(
        shape,
        json!({"issuer": ISSUER, "subject": SUB, "linked_at": f.clock.now().unix_millis()})
    );

    // Recorded like a password login, with the client's address; the link once.
    let events = audit(&f).await;
    let ok: Vec<_> = events
        .iter()
        .filter(|e| e.changes.iter().any(|c| c.property == "login_method"))
        .collect();
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0].request.client, Some("198.51.100.7".parse().unwrap()));
    assert!(ok[0].changes.iter().any(|c| c.property == "last_login"));
    assert!(ok[0].changes.iter().any(|c| c.property == "oidc_link"));

    // The same identity comes back: another session, the link unchanged.
    f.clock.advance(Duration::from_secs(60));
    let again = sign(&claims(&f, CLIENT));
    session(&f, &again).await;
    assert_eq!(link(&f, f.client.id).await.unwrap().linked_at, l.linked_at);
    assert_eq!(
        audit(&f)
            .await
            .iter()
            .filter(|e| e.changes.iter().any(|c| c.property == "oidc_link"))
            .count(),
        1
    );
}

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

fn with_future(f: &Fixture, iat: i64) -> String {
    sign(&with(claims(f, CLIENT), "iat", json!(iat)))
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
    let pem = EncodingKey::from_secret(RSA_A_PUBLIC).unwrap();
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
    let raw_n = EncodingKey::from_secret(&URL_SAFE_NO_PAD.decode(n).unwrap()).unwrap();
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

fn rsa_n() -> String {
    jwk(&rsa_a(), Algorithm::RS256, "rsa-a")["n"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn only_a_verified_email_maps_to_an_account() {
    let f = fixture().await;
    let c = || claims(&f, CLIENT);
    let err = oidc_login(
        &f,
        &provider(&f),
        &sign(&with(c(), "email_verified", json!(false))),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, AuthError::Oidc(OidcError::EmailNotVerified)),
        "{err:?}"
    );
    let missing = sign(&without(c(), "email_verified"));
    let err = oidc_login(&f, &provider(&f), &missing).await.unwrap_err();
    assert!(matches!(err, AuthError::Oidc(OidcError::EmailNotVerified)));
    let err = oidc_login(&f, &provider(&f), &sign(&without(c(), "email")))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        AuthError::Oidc(OidcError::MissingClaim("email"))
    ));
    let err = oidc_login(
        &f,
        &provider(&f),
        &sign(&with(c(), "email", json!("no-at-sign"))),
    )
    .await
    .unwrap_err();
    assert!(matches!(
        err,
        AuthError::Oidc(OidcError::InvalidClaim("email"))
    ));
    assert!(link(&f, f.client.id).await.is_none());
    // A provider that only issues verified addresses may leave the claim out; false
    // is still refused.
    let lenient = OidcProvider {
        require_email_verified: false,
        ..provider(&f)
    };
    let err = oidc_login(
        &f,
        &lenient,
        &sign(&with(c(), "email_verified", json!(false))),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, AuthError::Oidc(OidcError::EmailNotVerified)));
    assert!(matches!(
        oidc_login(&f, &lenient, &missing).await,
        Ok(LoginOutcome::Session(_))
    ));
    let err = oidc_login(
        &f,
        &provider(&f),
        &sign(&with(c(), "email_verified", json!("false"))),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, AuthError::Oidc(OidcError::EmailNotVerified)),
        "{err:?}"
    );
    let err = oidc_login(
        &f,
        &provider(&f),
        &sign(&with(c(), "email_verified", json!("yes"))),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            AuthError::Oidc(OidcError::InvalidClaim("email_verified"))
        ),
        "{err:?}"
    );
    // The string form some providers send counts; the address is matched case-blind.
    let text = with(
        with(c(), "email_verified", json!("true")),
        "email",
        json!("Robin@Nord.Example"),
    );
    assert!(matches!(
        oidc_login(&f, &provider(&f), &sign(&text)).await,
        Ok(LoginOutcome::Session(_))
    ));
}

#[tokio::test]
async fn unknown_addresses_deactivated_accounts_and_other_identities_get_one_answer() {
    let f = fixture().await;
    let unknown = oidc_login(&f, &provider(&f), &sign(&claims(&f, "nobody@nord.example")))
        .await
        .unwrap_err();
    assert!(matches!(unknown, AuthError::LoginFailed));

    // Linked to SUB; then the provider hands the address to someone else.
    session(&f, &sign(&claims(&f, CLIENT))).await;
    let other = sign(&with(claims(&f, CLIENT), "sub", json!("someone-else")));
    let mismatch = oidc_login(&f, &provider(&f), &other).await.unwrap_err();
    assert!(matches!(mismatch, AuthError::LoginFailed));
    // Another issuer (a second provider of the tenant) with the same subject: refused.
    let second = OidcProvider::new(f.tenant.id, "https://other-idp.example", CLIENT_ID);
    let from_second = sign(&with(
        claims(&f, CLIENT),
        "iss",
        json!("https://other-idp.example"),
    ));
    let err = f
        .auth
        .login_with_id_token(
            &second,
            &keys(),
            &from_second,
            NONCE,
            RequestMeta::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::LoginFailed));

    f.auth
        .deactivate_account(&f.admin_caller(), f.tenant.id, f.client.id, None)
        .await
        .unwrap();
    let deactivated = oidc_login(&f, &provider(&f), &sign(&claims(&f, CLIENT)))
        .await
        .unwrap_err();
    assert!(matches!(deactivated, AuthError::LoginFailed));

    for e in [&mismatch, &deactivated] {
        assert_eq!(e.to_string(), unknown.to_string());
        assert_eq!(format!("{e:?}"), format!("{unknown:?}"));
    }
    let trail = login_changes(&audit(&f).await);
    for expected in [
        "failed (oidc): no account",
        "refused (oidc): linked identity differs",
        "refused: account not usable",
    ] {
        assert!(
            trail.iter().any(|t| t == expected),
            "{expected} in {trail:?}"
        );
    }
}

#[tokio::test]
async fn a_different_subject_for_a_linked_address_is_an_incident_for_the_admins() {
    let f = fixture().await;
    session(&f, &sign(&claims(&f, CLIENT))).await;
    let before = f.notifier.delivered().len();
    let other = sign(&with(claims(&f, CLIENT), "sub", json!("someone-else")));
    oidc_login(&f, &provider(&f), &other).await.unwrap_err();
    let incidents = incidents(&f).await;
    assert_eq!(incidents.len(), 1);
    assert!(matches!(
        &incidents[0].kind,
        IncidentKind::ExternalIdentityMismatch { account, issuer } if *account == f.client.id && issuer == ISSUER
    ));
    assert!(f.notifier.delivered().len() > before, "the admins are told");
    // The link still names the first identity, which still logs in.
    assert_eq!(link(&f, f.client.id).await.unwrap().subject, SUB);
    session(&f, &sign(&claims(&f, CLIENT))).await;

    // An administrator removes the link (audited); the next login links anew.
    let plain = f.vouched(&f.client, false);
    assert!(
        f.auth
            .remove_oidc_link(&plain, f.tenant.id, f.client.id)
            .await
            .is_err()
    );
    f.auth
        .remove_oidc_link(&f.admin_caller(), f.tenant.id, f.client.id)
        .await
        .unwrap();
    assert!(link(&f, f.client.id).await.is_none());
    assert!(
        f.auth
            .remove_oidc_link(&f.admin_caller(), f.tenant.id, f.client.id)
            .await
            .is_err()
    );
    session(&f, &other).await;
    assert_eq!(link(&f, f.client.id).await.unwrap().subject, "someone-else");
}

#[tokio::test]
async fn the_token_grants_no_roles_and_the_tenants_second_factor_rule_applies() {
    let f = fixture().await;
    // The admin: the tenant requires a second factor of admins (the default).
    let admin = f.admin.email.as_ref().unwrap().as_str().to_owned();
    let c = with(
        with(claims(&f, &admin), "sub", json!("admin-sub")),
        "roles",
        json!(["tenant_admin", "owner"]),
    );
    match oidc_login(&f, &provider(&f), &sign(&c)).await.unwrap() {
        LoginOutcome::SecondFactorEnrolmentRequired(_) => {}
        other => panic!("expected enrolment, got {other:?}"),
    }
    // The provider's MFA counts only where the tenant's configuration trusts it.
    let mfa = with(c.clone(), "amr", json!(["pwd", "otp"]));
    assert!(matches!(
        oidc_login(&f, &provider(&f), &sign(&mfa)).await.unwrap(),
        LoginOutcome::SecondFactorEnrolmentRequired(_)
    ));
    let trusting = OidcProvider {
        trust_idp_mfa: true,
        ..provider(&f)
    };
    let LoginOutcome::Session(s) = oidc_login(&f, &trusting, &sign(&mfa)).await.unwrap() else {
        panic!("a session with the provider's MFA");
    };
    assert!(s.caller.authentication.second_factor);
    let caller = f
        .auth
        .authenticate(s.token.expose(), RequestMeta::default())
        .await
        .unwrap();
    assert!(caller.authentication.second_factor);
    // Password only at the provider: not enough even when trusted.
    let pwd = with(c.clone(), "amr", json!(["pwd"]));
    assert!(matches!(
        oidc_login(&f, &trusting, &sign(&pwd)).await.unwrap(),
        LoginOutcome::SecondFactorEnrolmentRequired(_)
    ));
    // acr counts only if listed.
    let acr = with(c, "acr", json!("gold"));
    assert!(matches!(
        oidc_login(&f, &trusting, &sign(&acr)).await.unwrap(),
        LoginOutcome::SecondFactorEnrolmentRequired(_)
    ));
    let by_acr = OidcProvider {
        mfa_acr: vec!["gold".into()],
        ..trusting.clone()
    };
    assert!(matches!(
        oidc_login(&f, &by_acr, &sign(&acr)).await.unwrap(),
        LoginOutcome::Session(_)
    ));
    // The client's roles are what the tenant gave, whatever the token said.
    let client = sign(&with(claims(&f, CLIENT), "roles", json!(["tenant_admin"])));
    session(&f, &client).await;
    let stored = f
        .store
        .account(f.tenant.id, f.client.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.roles, f.client.roles);
}

#[tokio::test]
async fn an_accounts_own_second_factor_is_asked_after_the_provider() {
    let f = fixture().await;
    f.auth
        .enable_email_codes(&f.vouched(&f.client, false))
        .await
        .unwrap();
    let LoginOutcome::SecondFactorRequired(challenge) =
        oidc_login(&f, &provider(&f), &sign(&claims(&f, CLIENT)))
            .await
            .unwrap()
    else {
        panic!("the account's e-mail code is asked for");
    };
    assert_eq!(challenge.method, SecondFactorMethod::Email);
    let mail = f.mailer.sent().pop().expect("a code was mailed");
    let code = mail
        .body
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap()
        .to_owned();
    // The account has no password: the second step still ends in an AAL2 session.
    let outcome = f
        .auth
        .complete_second_factor(challenge.ticket.expose(), &code, RequestMeta::default())
        .await
        .unwrap();
    let LoginOutcome::Session(s) = outcome else {
        panic!("a session after the code, got {outcome:?}");
    };
    assert!(s.caller.authentication.second_factor);
}

#[tokio::test]
async fn an_administrator_without_trusted_mfa_enrols_cais_own_second_factor() {
    use cai_auth::totp::{STEP_SECS, TotpSecret, step_at};
    let f = fixture().await;
    let admin = f.admin.email.as_ref().unwrap().as_str().to_owned();
    let token = sign(&with(claims(&f, &admin), "sub", json!("admin-sub")));
    let LoginOutcome::SecondFactorEnrolmentRequired(t) =
        oidc_login(&f, &provider(&f), &token).await.unwrap()
    else {
        panic!("an enrolment ticket");
    };
    let ticket = t.ticket.expose().to_owned();
    let e = f
        .auth
        .begin_enrolment_with_ticket(&ticket, "Beratung Nord", RequestMeta::default())
        .await
        .unwrap();
    let secret = TotpSecret::from_base32(&e.secret_base32).unwrap();
    let secs = u64::try_from(f.clock.now().unix_millis() / 1000).unwrap();
    let code = secret.code_at_step(step_at(secs, STEP_SECS)).unwrap();
    // The admin has no password: the enrolment still ends in an AAL2 session.
    let done = f
        .auth
        .finish_enrolment_with_ticket(&ticket, &code, RequestMeta::default())
        .await
        .unwrap();
    let LoginOutcome::Session(s) = done.outcome else {
        panic!("a session after enrolment");
    };
    assert!(s.caller.authentication.second_factor);
    assert_eq!(s.caller.subject, SubjectId::Account(f.admin.id));
    // From now on the provider's login asks for the TOTP.
    f.clock.advance(Duration::from_secs(STEP_SECS));
    let again = sign(&with(claims(&f, &admin), "sub", json!("admin-sub")));
    assert!(matches!(
        oidc_login(&f, &provider(&f), &again).await.unwrap(),
        LoginOutcome::SecondFactorRequired(_)
    ));
}

#[tokio::test]
async fn the_password_plays_no_part_in_an_oidc_login() {
    let f = fixture().await;
    f.with_password(&f.client).await;
    f.auth
        .force_password_change(&f.admin_caller(), f.tenant.id, f.client.id)
        .await
        .unwrap();
    // A forced change concerns the password, not the provider's login.
    session(&f, &sign(&claims(&f, CLIENT))).await;
    assert!(matches!(
        login(
            &f,
            CLIENT,
            cai_auth::conformance::PASSWORD,
            RequestMeta::default()
        )
        .await,
        Ok(LoginOutcome::MustChangePassword(_))
    ));
}

#[tokio::test]
async fn bad_tokens_from_one_address_are_throttled_with_an_incident() {
    let f = fixture().await;
    let bad = sign_with(
        &claims(&f, CLIENT),
        &rsa_b(),
        Algorithm::RS256,
        Some("rsa-a"),
    );
    let mut answers = Vec::new();
    for _ in 0..22 {
        answers.push(oidc_login(&f, &provider(&f), &bad).await.unwrap_err());
    }
    assert!(
        answers[..20]
            .iter()
            .all(|e| matches!(e, AuthError::Oidc(OidcError::BadSignature)))
    );
    assert!(
        matches!(answers[21], AuthError::TooManyRequests { .. }),
        "{:?}",
        answers[21]
    );
    assert!(incidents(&f).await.iter().any(|i| matches!(
        &i.kind,
        IncidentKind::RepeatedWrongSecret { source: Some(s), .. } if s == "198.51.100.7"
    )));
    // Unknown keys (a rotation the host has not fetched yet) are not counted.
    let g = fixture().await;
    let rotated = sign_with(
        &claims(&g, CLIENT),
        &rsa_b(),
        Algorithm::RS256,
        Some("rsa-b"),
    );
    for _ in 0..25 {
        let e = oidc_login(&g, &provider(&g), &rotated).await.unwrap_err();
        assert!(matches!(e, AuthError::Oidc(OidcError::UnknownKey)), "{e:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_first_logins_link_one_identity() {
    let f = fixture().await;
    let keys = std::sync::Arc::new(keys());
    // The same identity eight times at once: every login succeeds, one link.
    let token = sign(&claims(&f, CLIENT));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (auth, p, keys, token) = (f.auth.clone(), provider(&f), keys.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            auth.login_with_id_token(&p, &keys, &token, NONCE, RequestMeta::default())
                .await
        }));
    }
    for t in tasks {
        assert!(matches!(t.await.unwrap(), Ok(LoginOutcome::Session(_))));
    }
    let links = audit(&f)
        .await
        .iter()
        .filter(|e| e.changes.iter().any(|c| c.property == "oidc_link"))
        .count();
    assert_eq!(links, 1);

    // Eight identities for one unlinked address at once: exactly one is linked, every
    // other is refused as a mismatch.
    let g = fixture().await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let token = sign(&with(
            claims(&g, CLIENT),
            "sub",
            json!(format!("person-{i}")),
        ));
        let (auth, p, keys) = (g.auth.clone(), provider(&g), keys.clone());
        tasks.push(tokio::spawn(async move {
            let r = auth
                .login_with_id_token(&p, &keys, &token, NONCE, RequestMeta::default())
                .await;
            (i, r)
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            (i, Ok(LoginOutcome::Session(_))) => winners.push(format!("person-{i}")),
            (_, Err(AuthError::LoginFailed)) => {}
            (_, other) => panic!("{other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert_eq!(link(&g, g.client.id).await.unwrap().subject, winners[0]);
    let mismatches = incidents(&g)
        .await
        .iter()
        .filter(|i| matches!(i.kind, IncidentKind::ExternalIdentityMismatch { .. }))
        .count();
    assert_eq!(mismatches, 7);
}

#[tokio::test]
async fn an_invalid_provider_configuration_is_refused() {
    let f = fixture().await;
    let bad = OidcProvider {
        client_id: String::new(),
        ..provider(&f)
    };
    let err = oidc_login(&f, &bad, &sign(&claims(&f, CLIENT)))
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::Config(_)));
}

#[tokio::test]
async fn no_token_text_in_errors_debug_or_the_audit_trail() {
    let f = fixture().await;
    let good = sign(&claims(&f, CLIENT));
    let forged = sign_with(
        &claims(&f, CLIENT),
        &rsa_b(),
        Algorithm::RS256,
        Some("rsa-a"),
    );
    let expired = sign(&with(claims(&f, CLIENT), "exp", json!(now_s(&f) - 3600)));
    let wrong_iss = sign(&with(
        claims(&f, CLIENT),
        "iss",
        json!("https://evil.example"),
    ));
    let mut shown = String::new();
    for t in [&forged, &expired, &wrong_iss] {
        let e = oidc_login(&f, &provider(&f), t).await.unwrap_err();
        shown.push_str(&format!("{e} {e:?}\n"));
    }
    let s = session(&f, &good).await;
    let verified = verify(&f, &provider(&f), &good).unwrap();
    let nonce = OidcNonce::generate().unwrap();
    shown.push_str(&format!(
        "{s:?} {verified:?} {:?} {:?} {nonce:?}",
        keys(),
        provider(&f)
    ));
    let mut secrets: Vec<String> = vec![
        nonce.expose().to_owned(),
        NONCE.to_owned(),
        "evil.example".to_owned(),
    ];
    for t in [&good, &forged, &expired, &wrong_iss] {
        secrets.push(t.clone());
        secrets.extend(t.split('.').filter(|p| p.len() > 8).map(str::to_owned));
    }
    for secret in &secrets {
        assert!(
            !shown.contains(secret.as_str()),
            "{secret} leaked into {shown}"
        );
    }
    let mut trail = String::new();
    for e in audit(&f).await {
        trail.push_str(&serde_json::to_string(&e).unwrap());
    }
    for i in incidents(&f).await {
        trail.push_str(&format!("{i:?}"));
    }
    assert!(trail.contains("oidc"));
    for secret in &secrets {
        assert!(
            !trail.contains(secret.as_str()),
            "{secret} in the audit trail"
        );
    }
}
