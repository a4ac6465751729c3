//! E-mailed one-time codes as the second factor (R-A4): mailed through the mailer port,
//! valid briefly and once, stored only as a keyed hash.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use cai_auth::conformance::{Fixture, PASSWORD};
use cai_auth::{AuthError, EMAIL_CODE_VALIDITY, LoginOutcome, SecondFactorMethod};
use cai_core::domain::RequestMeta;
use cai_core::ports::CredentialKind;
use common::*;

/// The six-digit code in the last mail to the client.
fn mailed_code(f: &Fixture) -> String {
    let mail = f.mailer.sent().pop().expect("a mail was sent");
    assert_eq!(mail.to.as_str(), CLIENT);
    mail.body
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .expect("a six-digit code")
        .to_owned()
}

async fn challenge(f: &Fixture) -> String {
    match login(f, CLIENT, PASSWORD, RequestMeta::default()).await {
        Ok(LoginOutcome::SecondFactorRequired(c)) => {
            assert_eq!(c.method, SecondFactorMethod::Email);
            c.ticket.expose().to_owned()
        }
        other => panic!("expected a challenge, got {other:?}"),
    }
}

async fn enabled() -> Fixture {
    let f = fixture().await;
    f.with_password(&f.client).await;
    f.auth
        .enable_email_codes(&f.vouched(&f.client, false))
        .await
        .unwrap();
    f
}

#[tokio::test]
async fn a_mailed_code_completes_the_login_once() {
    let f = enabled().await;
    let ticket = challenge(&f).await;
    let code = mailed_code(&f);
    let stored = f
        .store
        .credential(f.tenant.id, f.client.id, CredentialKind::EmailCode)
        .await
        .unwrap()
        .unwrap();
    assert!(!String::from_utf8(stored.data).unwrap().contains(&code));
    let done = f
        .auth
        .complete_second_factor(&ticket, &code, RequestMeta::default())
        .await;
    let Ok(LoginOutcome::Session(s)) = done else {
        panic!("{done:?}")
    };
    assert!(s.caller.authentication.second_factor);
    // The same code with a new login: that login mailed a new one.
    let again = challenge(&f).await;
    let fresh = mailed_code(&f);
    if fresh != code {
        assert!(matches!(
            f.auth
                .complete_second_factor(&again, &code, RequestMeta::default())
                .await,
            Err(AuthError::WrongCode)
        ));
    }
    f.auth
        .complete_second_factor(&again, &fresh, RequestMeta::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_mailed_code_expires() {
    let f = enabled().await;
    let ticket = challenge(&f).await;
    let code = mailed_code(&f);
    f.clock.advance(EMAIL_CODE_VALIDITY);
    assert!(matches!(
        f.auth
            .complete_second_factor(&ticket, &code, RequestMeta::default())
            .await,
        Err(AuthError::WrongCode)
    ));
}

#[tokio::test]
async fn wrong_codes_count_and_disabling_needs_a_second_factor() {
    let f = enabled().await;
    let ticket = challenge(&f).await;
    let code = mailed_code(&f);
    let wrong = if code == "000000" { "000001" } else { "000000" };
    assert!(matches!(
        f.auth
            .complete_second_factor(&ticket, wrong, RequestMeta::default())
            .await,
        Err(AuthError::WrongCode)
    ));
    let counted = f
        .failures
        .state(&cai_core::ports::AttemptKey::per_scope(
            f.tenant.id,
            cai_core::ports::AttemptScope::Account(f.client.id),
        ))
        .unwrap();
    assert_eq!(counted.failures, 1);
    assert!(matches!(
        f.auth
            .disable_email_codes(&f.vouched(&f.client, false))
            .await,
        Err(AuthError::SecondFactorRequired)
    ));
    f.auth
        .disable_email_codes(&f.vouched(&f.client, true))
        .await
        .unwrap();
    assert!(matches!(
        login(&f, CLIENT, PASSWORD, RequestMeta::default()).await,
        Ok(LoginOutcome::Session(_))
    ));
}

#[tokio::test]
async fn a_mail_that_cannot_be_sent_gives_no_session() {
    let f = enabled().await;
    f.mailer.fail_next(true);
    let r = login(&f, CLIENT, PASSWORD, RequestMeta::default()).await;
    assert!(
        matches!(r, Err(AuthError::Core(cai_core::Error::Mailer(_)))),
        "{r:?}"
    );
}
