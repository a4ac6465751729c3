//! Self-service password recovery by e-mailed single-use token (R-A5): the same
//! answer for every address, a token good once and briefly, stored only as a keyed
//! hash, the policy applied, sessions ended, no way around lockout, the second factor
//! or four eyes.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Duration;

use cai_auth::conformance::PASSWORD;
use cai_auth::records::RecoveryRecord;
use cai_auth::{
    AuthConfig, AuthError, LoginOutcome, PolicyViolation, RECOVERY_ATTEMPTS, RecoveryConfig,
    SecondFactorMethod,
};
use cai_core::domain::{AccountStatus, BuiltinRole, RequestMeta};
use cai_core::ports::{AttemptKey, AttemptScope, CredentialKind};
use common::recovery::*;
use common::*;

async fn with_password() -> cai_auth::conformance::Fixture {
    let f = fixture().await;
    f.with_password(&f.client).await;
    f
}

#[tokio::test]
async fn a_mailed_token_sets_a_new_password_and_ends_every_session() {
    let f = with_password().await;
    let session = client_session(&f).await;
    let notified = f.notifier.delivered().len();
    begin(&f, CLIENT).await.unwrap();
    let token = mailed_token(&f, CLIENT);
    // Only a keyed hash is stored.
    let stored = f
        .store
        .credential(f.tenant.id, f.client.id, CredentialKind::Recovery)
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8(stored.data.clone()).unwrap();
    assert!(!text.contains(&token) && !text.contains(&token[36..]));
    let record: RecoveryRecord = serde_json::from_slice(&stored.data).unwrap();
    let pending = record.token.unwrap();
    assert_eq!(
        pending.expires_at - pending.issued_at,
        30 * 60 * 1000,
        "30 minutes by default"
    );
    assert!(!pending.four_eyes && pending.used_at.is_none());

    complete(&f, &token, NEW_PASSWORD).await.unwrap();
    assert!(matches!(
        f.auth
            .authenticate(session.token.expose(), RequestMeta::default())
            .await,
        Err(AuthError::InvalidToken)
    ));
    assert!(matches!(
        login(&f, CLIENT, PASSWORD, RequestMeta::default()).await,
        Err(AuthError::LoginFailed)
    ));
    assert!(matches!(
        login(&f, CLIENT, NEW_PASSWORD, RequestMeta::default()).await,
        Ok(LoginOutcome::Session(_))
    ));
    assert_eq!(
        trail(&f, "password").await.last().map(String::as_str),
        Some("reset by e-mail recovery")
    );
    assert!(
        trail(&f, "recovery")
            .await
            .contains(&"token mailed".to_owned())
    );
    // The admins are told, the owner gets a confirmation.
    assert!(f.notifier.delivered().len() > notified);
    let last = mails_to(&f, CLIENT).pop().unwrap();
    assert_eq!(last.subject, "Your password was changed");
    assert!(token_in(&last).is_none());
}

#[tokio::test]
async fn a_token_works_once_and_a_replay_is_refused_as_such() {
    let f = with_password().await;
    begin(&f, CLIENT).await.unwrap();
    let token = mailed_token(&f, CLIENT);
    complete(&f, &token, NEW_PASSWORD).await.unwrap();
    let replay = complete(&f, &token, "Noch-ein-Deich-9").await;
    assert!(matches!(replay, Err(AuthError::InvalidToken)), "{replay:?}");
    assert!(
        trail(&f, "recovery")
            .await
            .contains(&"refused: token already used".to_owned())
    );
    // The replayed password was not set.
    assert!(matches!(
        login(&f, CLIENT, NEW_PASSWORD, RequestMeta::default()).await,
        Ok(LoginOutcome::Session(_))
    ));
}

#[tokio::test]
async fn a_token_expires_exactly_at_its_limit() {
    let f = with_password().await;
    begin(&f, CLIENT).await.unwrap();
    let token = mailed_token(&f, CLIENT);
    let validity = f.auth.config().recovery.token_validity;
    // One millisecond before the limit the token still counts (the weak password is
    // what is refused).
    f.clock.advance(validity - Duration::from_millis(1));
    assert!(matches!(
        complete(&f, &token, "kurz").await,
        Err(AuthError::PolicyViolated(_))
    ));
    // At the limit, and past it: expired.
    f.clock.advance(Duration::from_millis(1));
    let at = complete(&f, &token, NEW_PASSWORD).await;
    assert!(matches!(at, Err(AuthError::InvalidToken)), "{at:?}");
    f.clock.advance(Duration::from_millis(1));
    assert!(matches!(
        complete(&f, &token, NEW_PASSWORD).await,
        Err(AuthError::InvalidToken)
    ));
    assert!(
        trail(&f, "recovery")
            .await
            .contains(&"refused: token expired".to_owned())
    );
    assert!(matches!(
        login(&f, CLIENT, PASSWORD, RequestMeta::default()).await,
        Ok(LoginOutcome::Session(_))
    ));
}

#[tokio::test]
async fn wrong_malformed_and_foreign_tokens_get_one_answer_and_distinct_audit_reasons() {
    let f = with_password().await;
    begin(&f, CLIENT).await.unwrap();
    let token = mailed_token(&f, CLIENT);
    let last = token.chars().last().unwrap();
    let wrong = format!(
        "{}{}",
        &token[..token.len() - 1],
        if last == '0' { '1' } else { '0' }
    );
    // A well-formed token of an account that does not exist.
    let foreign = format!("cr1_{}{}", "0".repeat(31) + "7", &token[36..]);
    let upper = token.to_uppercase();
    let mut answers = Vec::new();
    for bad in [
        wrong.as_str(),
        foreign.as_str(),
        upper.as_str(),
        "",
        &token[..99],
        "cr1_",
    ] {
        let r = complete(&f, bad, NEW_PASSWORD).await;
        assert!(matches!(r, Err(AuthError::InvalidToken)), "{bad}: {r:?}");
        answers.push(r.unwrap_err().to_string());
    }
    answers.dedup();
    assert_eq!(answers, ["invalid or expired token"]);
    let reasons = trail(&f, "recovery").await;
    for reason in [
        "refused: wrong or replaced token",
        "refused: token of no account",
        "refused: malformed token",
    ] {
        assert!(reasons.contains(&reason.to_owned()), "{reasons:?}");
    }
    // Surrounding white space (a copied line) is fine; the right token still works.
    complete(&f, &format!("  {token}\n"), NEW_PASSWORD)
        .await
        .unwrap();
}

#[tokio::test]
async fn an_unknown_address_gets_the_same_answer_and_no_mail() {
    let f = with_password().await;
    let events = audit(&f).await.len();
    let known = begin(&f, CLIENT).await;
    let after_known = audit(&f).await.len();
    let unknown = begin(&f, "nobody@nord.example").await;
    let garbage = begin(&f, "not an address").await;
    assert!(known.is_ok() && unknown.is_ok() && garbage.is_ok());
    // Same work: one audited commit each.
    assert_eq!(after_known - events, 1);
    assert_eq!(audit(&f).await.len() - after_known, 2);
    let sent = f.mailer.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to.as_str(), CLIENT);
    // An unplaced tenant: the same answer too.
    assert!(
        f.auth
            .begin_recovery(
                cai_core::id::TenantId::random().unwrap(),
                CLIENT,
                RequestMeta::default()
            )
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn every_address_and_client_is_throttled_alike() {
    let f = with_password().await;
    let free = f.auth.config().recovery.per_address.free_attempts;
    for address in [CLIENT, "nobody@nord.example"] {
        for _ in 0..free {
            begin(&f, address).await.unwrap();
        }
        // Counted in advance: the request past the free ones goes through and blocks
        // the next.
        begin(&f, address).await.unwrap();
        assert!(matches!(
            begin(&f, address).await,
            Err(AuthError::TooManyRequests { .. })
        ));
    }
    // The login counters are untouched.
    assert!(
        f.failures
            .state(&AttemptKey::per_scope(
                f.tenant.id,
                AttemptScope::Account(f.client.id)
            ))
            .is_none()
    );
    // A request from a client address under its threshold raises no incident.
    f.auth
        .begin_recovery(f.tenant.id, "third@nord.example", from("198.51.100.7"))
        .await
        .unwrap();
    assert!(incidents(&f).await.is_empty());
    // Wrong tokens from one client address: throttled, with an incident.
    let ip = from("198.51.100.7");
    let limit = f.auth.config().recovery.per_source.free_attempts;
    let mut blocked = false;
    for _ in 0..=limit + 1 {
        match f
            .auth
            .complete_recovery(f.tenant.id, "cr1_nonsense", NEW_PASSWORD, ip)
            .await
        {
            Err(AuthError::InvalidToken) => {}
            Err(AuthError::TooManyRequests { .. }) => blocked = true,
            other => panic!("{other:?}"),
        }
    }
    assert!(blocked);
    assert!(
        f.failures
            .state(&AttemptKey::per_source(
                f.tenant.id,
                AttemptScope::Account(RECOVERY_ATTEMPTS),
                cai_core::ports::AttemptSource::parse("198.51.100.7").unwrap()
            ))
            .is_some()
    );
    assert!(!incidents(&f).await.is_empty());
}

#[tokio::test]
async fn a_new_request_replaces_the_pending_token() {
    let f = with_password().await;
    begin(&f, CLIENT).await.unwrap();
    let first = mailed_token(&f, CLIENT);
    begin(&f, CLIENT).await.unwrap();
    let second = mailed_token(&f, CLIENT);
    assert_ne!(first, second);
    assert!(matches!(
        complete(&f, &first, NEW_PASSWORD).await,
        Err(AuthError::InvalidToken)
    ));
    complete(&f, &second, NEW_PASSWORD).await.unwrap();
}

#[tokio::test]
async fn every_broken_rule_is_listed_and_the_token_stays_valid() {
    let f = with_password().await;
    begin(&f, CLIENT).await.unwrap();
    let token = mailed_token(&f, CLIENT);
    let Err(AuthError::PolicyViolated(broken)) = complete(&f, &token, "robin").await else {
        panic!("a policy violation was expected")
    };
    assert!(broken.len() >= 3, "{broken:?}");
    assert!(broken.contains(&PolicyViolation::TooShort { min: 12 }));
    assert!(broken.contains(&PolicyViolation::TooFewDigits { min: 1 }));
    assert!(broken.contains(&PolicyViolation::ContainsName));
    // The old password again is refused too.
    let Err(AuthError::PolicyViolated(broken)) = complete(&f, &token, PASSWORD).await else {
        panic!("reuse was expected to be refused")
    };
    assert_eq!(broken, [PolicyViolation::Reused]);
    complete(&f, &token, NEW_PASSWORD).await.unwrap();
}

#[tokio::test]
async fn a_locked_account_stays_locked_and_the_failure_count_stays() {
    let f = with_password().await;
    // Three wrong passwords, then recovery: the count is not reset.
    for _ in 0..3 {
        let _ = login(&f, CLIENT, "Falsch-Falsch-1", RequestMeta::default()).await;
    }
    begin(&f, CLIENT).await.unwrap();
    let token = mailed_token(&f, CLIENT);
    let key = AttemptKey::per_scope(f.tenant.id, AttemptScope::Account(f.client.id));
    complete(&f, &token, NEW_PASSWORD).await.unwrap();
    assert_eq!(f.failures.state(&key).unwrap().failures, 3);

    // A token mailed before the lock does not unlock it; a locked account gets no mail.
    begin(&f, CLIENT).await.unwrap();
    let before_lock = mailed_token(&f, CLIENT);
    for _ in 0..10 {
        let _ = login(&f, CLIENT, "Falsch-Falsch-1", RequestMeta::default()).await;
    }
    let locked = f
        .store
        .account(f.tenant.id, f.client.id)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(
        locked.status,
        AccountStatus::Locked { until: None, .. }
    ));
    assert!(matches!(
        complete(&f, &before_lock, "Wieder-Neu-am-Deich-5").await,
        Err(AuthError::InvalidToken)
    ));
    let mails = f.mailer.sent().len();
    begin(&f, CLIENT).await.unwrap();
    assert_eq!(f.mailer.sent().len(), mails, "no mail for a locked account");
    assert!(
        trail(&f, "recovery")
            .await
            .contains(&"refused: account not usable".to_owned())
    );
}

#[tokio::test]
async fn the_next_login_still_asks_for_the_second_factor() {
    let f = with_password().await;
    f.auth
        .enable_email_codes(&f.vouched(&f.client, false))
        .await
        .unwrap();
    begin(&f, CLIENT).await.unwrap();
    let token = mailed_token(&f, CLIENT);
    complete(&f, &token, NEW_PASSWORD).await.unwrap();
    match login(&f, CLIENT, NEW_PASSWORD, RequestMeta::default()).await {
        Ok(LoginOutcome::SecondFactorRequired(c)) => {
            assert_eq!(c.method, SecondFactorMethod::Email)
        }
        other => panic!("expected a second-factor challenge, got {other:?}"),
    }
}

#[tokio::test]
async fn recovery_keeps_the_totp_and_the_next_login_asks_for_it() {
    use cai_auth::totp::{STEP_SECS, TotpSecret, step_at};
    use cai_core::ports::Clock;
    let f = with_password().await;
    let me = f.vouched(&f.client, false);
    let e = f.auth.begin_totp_enrolment(&me, "Nord").await.unwrap();
    let secret = TotpSecret::from_base32(&e.secret_base32).unwrap();
    let code = |f: &cai_auth::conformance::Fixture| {
        let secs = u64::try_from(f.clock.now().unix_millis() / 1000).unwrap();
        secret.code_at_step(step_at(secs, STEP_SECS)).unwrap()
    };
    f.auth.confirm_totp(&me, &code(&f)).await.unwrap();
    begin(&f, CLIENT).await.unwrap();
    complete(&f, &mailed_token(&f, CLIENT), NEW_PASSWORD)
        .await
        .unwrap();
    let ticket = match login(&f, CLIENT, NEW_PASSWORD, RequestMeta::default()).await {
        Ok(LoginOutcome::SecondFactorRequired(c)) => {
            assert_eq!(c.method, SecondFactorMethod::Totp);
            c.ticket
        }
        other => panic!("expected a TOTP challenge, got {other:?}"),
    };
    f.clock.advance(Duration::from_secs(STEP_SECS));
    match f
        .auth
        .complete_second_factor(ticket.expose(), &code(&f), RequestMeta::default())
        .await
    {
        Ok(LoginOutcome::Session(s)) => assert!(s.caller.authentication.second_factor),
        other => panic!("expected an AAL2 session, got {other:?}"),
    }
}

#[tokio::test]
async fn the_link_carries_the_token_in_its_fragment_never_a_query() {
    let config = AuthConfig {
        recovery: RecoveryConfig {
            link: Some("https://beratung.example/recover".to_owned()),
            ..RecoveryConfig::default()
        },
        ..AuthConfig::default()
    };
    let f = fixture_with(config).await;
    f.with_password(&f.client).await;
    begin(&f, CLIENT).await.unwrap();
    let mail = mails_to(&f, CLIENT).pop().unwrap();
    let token = token_in(&mail).unwrap();
    assert!(
        mail.body
            .contains(&format!("https://beratung.example/recover#{token}"))
    );
    assert!(!mail.body.contains('?'));
    for bad in [
        "http://beratung.example/recover",
        "https://beratung.example/recover#x",
        "https://beratung.example/re cover",
    ] {
        let c = AuthConfig {
            recovery: RecoveryConfig {
                link: Some(bad.to_owned()),
                ..RecoveryConfig::default()
            },
            ..AuthConfig::default()
        };
        assert!(c.validate().is_err(), "{bad}");
    }
}

#[tokio::test]
async fn counsellors_and_admins_get_no_token_from_self_service() {
    let f = with_password().await;
    let counsellor = account_with(
        &f,
        "kim@nord.example",
        "Kim Berg",
        &[BuiltinRole::Counsellor.id()],
    )
    .await;
    begin(&f, "kim@nord.example").await.unwrap();
    let notice = mails_to(&f, "kim@nord.example").pop().unwrap();
    assert_eq!(notice.subject, "Password reset requested");
    assert!(token_in(&notice).is_none());
    let status = f
        .auth
        .password_reset_status(&f.admin_caller(), f.tenant.id, counsellor.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.requested_by, counsellor.id);
    assert!(status.approved_by.is_none());

    // A client who got a token and is made a counsellor before using it: refused.
    begin(&f, CLIENT).await.unwrap();
    let token = mailed_token(&f, CLIENT);
    f.auth
        .service()
        .grant_role(
            &f.admin_caller(),
            f.tenant.id,
            f.client.id,
            BuiltinRole::Counsellor.id(),
        )
        .await
        .unwrap();
    assert!(matches!(
        complete(&f, &token, NEW_PASSWORD).await,
        Err(AuthError::ResetIncomplete)
    ));
    assert!(matches!(
        f.auth
            .show_reset_challenge(f.tenant.id, &token, RequestMeta::default())
            .await,
        Err(AuthError::ResetIncomplete)
    ));
    assert!(matches!(
        login(&f, CLIENT, PASSWORD, RequestMeta::default()).await,
        Ok(LoginOutcome::Session(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_completions_set_one_password() {
    cai_auth::conformance::recovery_token_is_taken_once(std::sync::Arc::new(
        cai_core::memory::MemoryStore::new(),
    ))
    .await;
}

#[tokio::test]
async fn a_mail_that_cannot_be_sent_changes_nothing_in_the_answer() {
    let f = with_password().await;
    f.mailer.fail_next(true);
    assert!(begin(&f, CLIENT).await.is_ok());
    assert!(f.mailer.sent().is_empty());
}
