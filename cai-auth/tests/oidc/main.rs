//! OpenID Connect (feature `oidc`): ID tokens signed here with the test keys of
//! `tests/data/oidc/` (jsonwebtoken's encoder), verified by `cai-auth` against the
//! fixture's test clock, mapped to accounts, turned into sessions — and every way an
//! ID token must be refused. `tokens`: verification; `jwks`: key sets; `login`: from a
//! token to an account and a session. This file: the test provider's keys and helpers.
#![cfg(feature = "oidc")]
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../common/mod.rs"]
mod common;
mod jwks;
mod login;
mod tokens;

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

const RSA_A: &[u8] = include_bytes!("../data/oidc/rsa_a.pem");
const RSA_A_PUBLIC: &[u8] = include_bytes!("../data/oidc/rsa_a_public.pem");
const RSA_B: &[u8] = include_bytes!("../data/oidc/rsa_b.pem");
const EC: &[u8] = include_bytes!("../data/oidc/ec_p256.pem");

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

fn with_future(f: &Fixture, iat: i64) -> String {
    sign(&with(claims(f, CLIENT), "iat", json!(iat)))
}

fn rsa_n() -> String {
    jwk(&rsa_a(), Algorithm::RS256, "rsa-a")["n"]
        .as_str()
        .unwrap()
        .to_owned()
}
