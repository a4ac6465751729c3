//! The second factor (R-A4): TOTP enrolment with URI and QR code, the second login
//! step, AAL2 on the `Caller`, replay refused, a ±1 step window, wrong codes counted.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Duration;

use cai_auth::conformance::{Fixture, PASSWORD};
use cai_auth::totp::{STEP_SECS, TotpSecret, step_at};
use cai_auth::{AuthError, LoginOutcome};
use cai_core::domain::{AccountStatus, RequestMeta};
use cai_core::ports::{Clock, CredentialKind};
use common::*;

fn code_now(f: &Fixture, secret: &TotpSecret, offset_steps: i64) -> String {
    let secs = u64::try_from(f.clock.now().unix_millis() / 1000).unwrap();
    let step = step_at(secs, STEP_SECS)
        .checked_add_signed(offset_steps)
        .unwrap();
    secret.code_at_step(step).unwrap()
}

/// Enrols the client's TOTP and returns its secret.
async fn enrolled(f: &Fixture) -> TotpSecret {
    f.with_password(&f.client).await;
    let me = f.vouched(&f.client, false);
    let e = f
        .auth
        .begin_totp_enrolment(&me, "Beratung Nord")
        .await
        .unwrap();
    assert!(
        e.uri
            .starts_with("otpauth://totp/Beratung%20Nord:robin%40nord.example?secret=")
    );
    assert!(
        e.uri
            .contains(&format!("secret={}", e.secret_base32.as_str()))
    );
    assert!(e.qr_svg.contains("<svg"));
    let secret = TotpSecret::from_base32(&e.secret_base32).unwrap();
    // Not yet confirmed: logins still need the password only.
    assert!(matches!(
        client_login(f).await,
        Ok(LoginOutcome::Session(_))
    ));
    assert!(matches!(
        f.auth.confirm_totp(&me, "000000x").await,
        Err(AuthError::WrongCode)
    ));
    f.auth
        .confirm_totp(&me, &code_now(f, &secret, 0))
        .await
        .unwrap();
    f.clock.advance(Duration::from_secs(STEP_SECS));
    secret
}

async fn client_login(f: &Fixture) -> Result<LoginOutcome, AuthError> {
    login(f, CLIENT, PASSWORD, RequestMeta::default()).await
}

async fn challenge(f: &Fixture) -> String {
    match client_login(f).await {
        Ok(LoginOutcome::SecondFactorRequired(c)) => c.ticket.expose().to_owned(),
        other => panic!("expected a second-factor challenge, got {other:?}"),
    }
}

#[tokio::test]
async fn with_totp_the_password_alone_gives_no_session_and_the_code_gives_aal2() {
    let f = fixture().await;
    let secret = enrolled(&f).await;
    let ticket = challenge(&f).await;
    // The ticket is no session.
    assert!(
        f.auth
            .authenticate(&ticket, RequestMeta::default())
            .await
            .is_err()
    );
    let done = f
        .auth
        .complete_second_factor(&ticket, &code_now(&f, &secret, 0), RequestMeta::default())
        .await;
    let Ok(LoginOutcome::Session(s)) = done else {
        panic!("{done:?}")
    };
    assert!(s.caller.authentication.second_factor);
    let caller = f
        .auth
        .authenticate(s.token.expose(), RequestMeta::default())
        .await
        .unwrap();
    assert!(caller.authentication.second_factor);
    assert_eq!(caller.authentication.at, f.clock.now());
    // The ticket is used up.
    f.clock.advance(Duration::from_secs(STEP_SECS));
    assert!(matches!(
        f.auth
            .complete_second_factor(&ticket, &code_now(&f, &secret, 0), RequestMeta::default())
            .await,
        Err(AuthError::InvalidToken)
    ));
}

#[tokio::test]
async fn a_code_is_good_once_and_one_step_either_side() {
    let f = fixture().await;
    let secret = enrolled(&f).await;
    let code = code_now(&f, &secret, 0);
    let first = challenge(&f).await;
    f.auth
        .complete_second_factor(&first, &code, RequestMeta::default())
        .await
        .unwrap();
    // Replay of the same code on a fresh challenge: refused.
    let second = challenge(&f).await;
    assert!(matches!(
        f.auth
            .complete_second_factor(&second, &code, RequestMeta::default())
            .await,
        Err(AuthError::WrongCode)
    ));
    // The next step's code (a fast phone clock) is accepted; after it, the current
    // step's is a replay too (steps only move forward).
    f.auth
        .complete_second_factor(&second, &code_now(&f, &secret, 1), RequestMeta::default())
        .await
        .unwrap();
    let third = challenge(&f).await;
    assert!(
        f.auth
            .complete_second_factor(&third, &code_now(&f, &secret, 0), RequestMeta::default())
            .await
            .is_err()
    );
    // Two steps ahead is out of the window; a minute later it is the previous step.
    assert!(
        f.auth
            .complete_second_factor(&third, &code_now(&f, &secret, 2), RequestMeta::default())
            .await
            .is_err()
    );
    f.clock.advance(Duration::from_secs(3 * STEP_SECS));
    f.auth
        .complete_second_factor(&third, &code_now(&f, &secret, -1), RequestMeta::default())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_requests_racing_with_one_code_one_wins() {
    let f = fixture().await;
    let secret = enrolled(&f).await;
    let tickets = [
        challenge(&f).await,
        challenge(&f).await,
        challenge(&f).await,
        challenge(&f).await,
    ];
    let code = code_now(&f, &secret, 0);
    let tasks: Vec<_> = tickets
        .iter()
        .map(|t| {
            let (auth, t, code) = (f.auth.clone(), t.clone(), code.clone());
            tokio::spawn(async move {
                auth.complete_second_factor(&t, &code, RequestMeta::default())
                    .await
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap().is_ok() {
            ok += 1;
        }
    }
    assert_eq!(ok, 1);
}

#[tokio::test]
async fn wrong_codes_count_towards_the_lockout() {
    let f = fixture().await;
    let secret = enrolled(&f).await;
    let ticket = challenge(&f).await;
    let wrong = {
        let right = code_now(&f, &secret, 0);
        if right == "000000" {
            "000001".to_owned()
        } else {
            "000000".to_owned()
        }
    };
    for _ in 0..10 {
        let r = f
            .auth
            .complete_second_factor(&ticket, &wrong, RequestMeta::default())
            .await;
        assert!(matches!(r, Err(AuthError::WrongCode)), "{r:?}");
        f.clock.advance(Duration::from_secs(2));
    }
    let status = f
        .store
        .account(f.tenant.id, f.client.id)
        .await
        .unwrap()
        .unwrap()
        .status;
    assert!(matches!(status, AccountStatus::Locked { until: None, .. }));
    assert!(matches!(
        f.auth
            .complete_second_factor(&ticket, &code_now(&f, &secret, 0), RequestMeta::default())
            .await,
        Err(AuthError::InvalidToken)
    ));
}

#[tokio::test]
async fn an_aal2_session_may_administer_and_remove_its_totp() {
    let f = fixture().await;
    f.auth
        .set_password(&f.vouched(&f.admin, false), None, PASSWORD)
        .await
        .unwrap();
    let me = f.vouched(&f.admin, false);
    let e = f.auth.begin_totp_enrolment(&me, "Nord").await.unwrap();
    let secret = TotpSecret::from_base32(&e.secret_base32).unwrap();
    f.auth
        .confirm_totp(&me, &code_now(&f, &secret, 0))
        .await
        .unwrap();
    f.clock.advance(Duration::from_secs(STEP_SECS));
    let admin_email = f.admin.email.as_ref().unwrap().as_str();
    let Ok(LoginOutcome::SecondFactorRequired(c)) =
        login(&f, admin_email, PASSWORD, RequestMeta::default()).await
    else {
        panic!("challenge expected")
    };
    let Ok(LoginOutcome::Session(s)) = f
        .auth
        .complete_second_factor(
            c.ticket.expose(),
            &code_now(&f, &secret, 0),
            RequestMeta::default(),
        )
        .await
    else {
        panic!("session expected")
    };
    let admin = f
        .auth
        .authenticate(s.token.expose(), RequestMeta::default())
        .await
        .unwrap();
    f.auth
        .end_sessions(&admin, f.tenant.id, f.client.id)
        .await
        .unwrap();
    // Enrolling again needs removal first, and removal needs a second factor.
    assert!(matches!(
        f.auth.begin_totp_enrolment(&admin, "Nord").await,
        Err(AuthError::SecondFactorExists)
    ));
    assert!(matches!(
        f.auth.remove_totp(&me).await,
        Err(AuthError::SecondFactorRequired)
    ));
    f.auth.remove_totp(&admin).await.unwrap();
    assert!(
        f.store
            .credential(f.tenant.id, f.admin.id, CredentialKind::Totp)
            .await
            .unwrap()
            .is_none()
    );
    // Without it, the tenant's default rule (admins need a second factor) asks for a
    // new enrolment before any session.
    assert!(matches!(
        login(&f, admin_email, PASSWORD, RequestMeta::default()).await,
        Ok(LoginOutcome::SecondFactorEnrolmentRequired(_))
    ));
}

#[tokio::test]
async fn the_secret_is_stored_wrapped_and_never_shown() {
    let f = fixture().await;
    f.with_password(&f.client).await;
    let me = f.vouched(&f.client, false);
    let e = f.auth.begin_totp_enrolment(&me, "Nord").await.unwrap();
    let raw = base32_decode(&e.secret_base32);
    assert_eq!(raw.len(), 20);
    let stored = f
        .store
        .credential(f.tenant.id, f.client.id, CredentialKind::Totp)
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8(stored.data).unwrap();
    assert!(!text.contains(&hex::encode(&raw)));
    assert!(!text.contains(e.secret_base32.as_str()));
    let record: cai_auth::TotpRecord = serde_json::from_str(&text).unwrap();
    let shown = format!(
        "{e:?} {record:?} {:?}",
        TotpSecret::from_base32(&e.secret_base32).unwrap()
    );
    for secret in [
        e.secret_base32.as_str(),
        &hex::encode(&raw),
        &record.wrapped,
        e.uri.as_str(),
    ] {
        assert!(!shown.contains(secret), "{shown}");
    }
    assert!(shown.contains("redacted"));
}

fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut buffer, mut bits, mut out) = (0u32, 0u32, Vec::new());
    for c in text.bytes() {
        let v = ALPHABET.iter().position(|b| *b == c).unwrap() as u32;
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    out
}

#[tokio::test]
async fn a_forced_change_after_the_second_factor_keeps_it() {
    let f = fixture().await;
    let secret = enrolled(&f).await;
    f.auth
        .force_password_change(&f.admin_caller(), f.tenant.id, f.client.id)
        .await
        .unwrap();
    let ticket = challenge(&f).await;
    let r = f
        .auth
        .complete_second_factor(&ticket, &code_now(&f, &secret, 0), RequestMeta::default())
        .await;
    let Ok(LoginOutcome::MustChangePassword(t)) = r else {
        panic!("{r:?}")
    };
    let s = f
        .auth
        .change_password_with_ticket(
            t.ticket.expose(),
            "Neuer-Deich-Turm-8",
            RequestMeta::default(),
        )
        .await
        .unwrap();
    assert!(s.caller.authentication.second_factor);
}

#[tokio::test]
async fn a_recovery_code_stands_in_once_for_a_lost_phone() {
    let f = fixture().await;
    f.with_password(&f.client).await;
    let me = f.vouched(&f.client, false);
    let e = f.auth.begin_totp_enrolment(&me, "Nord").await.unwrap();
    let secret = TotpSecret::from_base32(&e.secret_base32).unwrap();
    // Enrolment is confirmed by a TOTP code only.
    let codes = f
        .auth
        .confirm_totp(&me, &code_now(&f, &secret, 0))
        .await
        .unwrap();
    assert_eq!(codes.codes.len(), cai_auth::RECOVERY_CODE_COUNT);
    let stored = f
        .store
        .credential(f.tenant.id, f.client.id, CredentialKind::Totp)
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8(stored.data).unwrap();
    for c in &codes.codes {
        assert!(!text.contains(&c.replace('-', "")) && !text.contains(c.as_str()));
    }

    let ticket = challenge(&f).await;
    let done = f
        .auth
        .complete_second_factor(&ticket, &codes.codes[3], RequestMeta::default())
        .await;
    let Ok(LoginOutcome::Session(s)) = done else {
        panic!("{done:?}")
    };
    assert!(s.caller.authentication.second_factor);
    // Used up.
    let again = challenge(&f).await;
    assert!(matches!(
        f.auth
            .complete_second_factor(&again, &codes.codes[3], RequestMeta::default())
            .await,
        Err(AuthError::WrongCode)
    ));
    // Any spelling of another one works.
    let sloppy = codes.codes[4].to_uppercase().replace('-', " ");
    f.auth
        .complete_second_factor(&again, &sloppy, RequestMeta::default())
        .await
        .unwrap();
    assert!(audit(&f).await.iter().any(|e| {
        e.changes
            .iter()
            .any(|c| c.after.as_deref() == Some("used, 8 left"))
    }));

    // A new set replaces the old one, and only from an AAL2 session.
    assert!(matches!(
        f.auth.regenerate_recovery_codes(&me).await,
        Err(AuthError::SecondFactorRequired)
    ));
    let aal2 = f
        .auth
        .authenticate(s.token.expose(), RequestMeta::default())
        .await
        .unwrap();
    let fresh = f.auth.regenerate_recovery_codes(&aal2).await.unwrap();
    let third = challenge(&f).await;
    assert!(matches!(
        f.auth
            .complete_second_factor(&third, &codes.codes[5], RequestMeta::default())
            .await,
        Err(AuthError::WrongCode)
    ));
    f.auth
        .complete_second_factor(&third, &fresh.codes[0], RequestMeta::default())
        .await
        .unwrap();
    assert_eq!(
        format!("{fresh:?}"),
        format!(
            "RecoveryCodes(<{} redacted>)",
            cai_auth::RECOVERY_CODE_COUNT
        )
    );
}

#[tokio::test]
async fn a_recovery_code_does_not_confirm_an_enrolment() {
    let f = fixture().await;
    let secret = enrolled(&f).await;
    // Remove and enrol again; the old set's codes do not confirm the new TOTP.
    let ticket = challenge(&f).await;
    let Ok(LoginOutcome::Session(s)) = f
        .auth
        .complete_second_factor(&ticket, &code_now(&f, &secret, 0), RequestMeta::default())
        .await
    else {
        panic!("session expected")
    };
    let aal2 = f
        .auth
        .authenticate(s.token.expose(), RequestMeta::default())
        .await
        .unwrap();
    let codes = f.auth.regenerate_recovery_codes(&aal2).await.unwrap();
    f.auth.remove_totp(&aal2).await.unwrap();
    let me = f.vouched(&f.client, false);
    f.auth.begin_totp_enrolment(&me, "Nord").await.unwrap();
    assert!(matches!(
        f.auth.confirm_totp(&me, &codes.codes[0]).await,
        Err(AuthError::WrongCode)
    ));
}
