//! No secret — password, token, ticket, pepper, hash — appears in the `Debug` or
//! `Display` of any `cai-auth` type or error, nor in the audit trail, incidents or
//! admin notifications.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use cai_auth::conformance::PASSWORD;
use cai_auth::records::{PasswordRecord, TokenRecord};
use cai_auth::{AuthError, LoginOutcome, Pepper, Peppers, PolicyViolation};
use cai_core::domain::RequestMeta;
use cai_core::ports::CredentialKind;
use common::*;

const WRONG: &str = "Wrong-password-Secret-42";
/// Breaks the policy (no digit).
const BAD_NEW: &str = "Sesam-oeffne-Dich";

fn assert_clean(shown: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(!s.is_empty());
        assert!(!shown.contains(s), "secret {s:?} leaked into {shown:?}");
    }
}

#[tokio::test]
async fn nothing_secret_is_ever_shown() {
    let f = fixture().await;
    f.with_password(&f.client).await;
    let session = client_session(&f).await;
    let token = session.token.expose().to_owned();
    let token_secret = token[token.len() - 64..].to_owned();
    let phc_record = f
        .store
        .credential(f.tenant.id, f.client.id, CredentialKind::Password)
        .await
        .unwrap()
        .unwrap();
    let record: PasswordRecord = serde_json::from_slice(&phc_record.data).unwrap();
    let phc = record.phc.clone();
    let hash_part = phc.rsplit('$').next().unwrap().to_owned();
    let tokens: TokenRecord = serde_json::from_slice(
        &f.store
            .credential(f.tenant.id, f.client.id, CredentialKind::Tokens)
            .await
            .unwrap()
            .unwrap()
            .data,
    )
    .unwrap();
    let token_hash = tokens.entries[0].hash.clone();

    f.auth
        .force_password_change(&f.admin_caller(), f.tenant.id, f.client.id)
        .await
        .unwrap();
    let ticket = match login(&f, CLIENT, PASSWORD, RequestMeta::default())
        .await
        .unwrap()
    {
        LoginOutcome::MustChangePassword(t) => t,
        other => panic!("{other:?}"),
    };
    let ticket_text = ticket.ticket.expose().to_owned();
    let pepper = Pepper::new("k9", &[0x42; 32]).unwrap();

    let mut errors: Vec<AuthError> = vec![
        login(&f, CLIENT, WRONG, RequestMeta::default())
            .await
            .unwrap_err(),
        f.auth
            .authenticate(&format!("{token}x"), RequestMeta::default())
            .await
            .unwrap_err(),
        f.auth
            .change_password_with_ticket(&ticket_text, BAD_NEW, RequestMeta::default())
            .await
            .unwrap_err(),
        AuthError::PolicyViolated(vec![
            PolicyViolation::Common,
            PolicyViolation::TooShort { min: 12 },
        ]),
    ];
    errors.push(
        f.auth
            .set_password(
                &f.vouched(&f.client, false),
                Some(WRONG),
                "Neuer-Deich-Turm-8",
            )
            .await
            .unwrap_err(),
    );
    let mut shown = String::new();
    for e in &errors {
        shown.push_str(&format!("{e} {e:?}\n"));
    }
    shown.push_str(&format!(
        "{session:?} {ticket:?} {record:?} {tokens:?} {:?} {:?} {:?}",
        pepper,
        Peppers::new(pepper.clone()),
        f.auth
    ));
    let secrets = [
        PASSWORD,
        WRONG,
        BAD_NEW,
        token.as_str(),
        token_secret.as_str(),
        ticket_text.as_str(),
        phc.as_str(),
        hash_part.as_str(),
        token_hash.as_str(),
        "66, 66, 66", // the pepper's bytes, as Debug of a slice would show them
        "424242",
    ];
    assert_clean(&shown, &secrets);

    // Nor in what is stored for people to read.
    let mut trail = String::new();
    for e in audit(&f).await {
        trail.push_str(&serde_json::to_string(&e).unwrap());
    }
    for i in incidents(&f).await {
        trail.push_str(&format!("{i:?}"));
    }
    for n in f.notifier.delivered() {
        trail.push_str(&format!("{n:?}"));
    }
    assert!(!trail.is_empty());
    assert_clean(&trail, &secrets);
}

/// OpenID Connect: the nonce of a login is never shown; the errors about an ID token
/// name the failed check only (`tests/oidc/` checks real tokens end to end).
#[cfg(feature = "oidc")]
#[test]
fn oidc_nonces_and_errors_show_nothing_secret() {
    use cai_auth::oidc::{OidcError, OidcKeys, OidcNonce};

    let nonce = OidcNonce::generate().unwrap();
    let secret = nonce.expose().to_owned();
    let token = format!("eyJhbGciOiJIUzI1NiJ9.{secret}.c2lnbmF0dXJl");
    let keys = OidcKeys::from_jwks_json(token.as_bytes()).unwrap_err();
    let mut shown = format!("{nonce:?} {keys} {keys:?}");
    for e in [
        OidcError::BadSignature,
        OidcError::NonceMismatch,
        OidcError::MissingClaim("nonce"),
        OidcError::TooLarge { limit: 16384 },
    ] {
        let auth = AuthError::from(e);
        shown.push_str(&format!("{e} {e:?} {auth} {auth:?}\n"));
    }
    assert_clean(&shown, &[secret.as_str(), token.as_str(), "c2lnbmF0dXJl"]);
}
