//! Login: sessions for the right password, one answer for everything else, the
//! record of every attempt (R-A9), validity windows (R-I6), expired passwords, and the
//! hash re-layered and upgraded on success (R-A1).
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
use cai_auth::password::HashParams;
use cai_auth::{
    AuthConfig, AuthError, Authenticator, ChangeReason, LoginOutcome, PolicyViolation,
    TenantAuthConfig,
};
use cai_core::domain::{Account, AuditActor, AuditKind, AuditObject, RequestMeta};
use cai_core::id::{SubjectId, TenantId};
use cai_core::ports::{Clock, CredentialKind};
use cai_core::service::AccountChanges;
use common::*;

#[tokio::test]
async fn the_right_password_gives_a_session_recorded_with_the_client_address() {
    let f = fixture().await;
    f.with_password(&f.client).await;
    let r = login(&f, CLIENT, PASSWORD, from("198.51.100.4")).await;
    let Ok(LoginOutcome::Session(s)) = r else {
        panic!("{r:?}")
    };
    assert_eq!(s.caller.subject, SubjectId::Account(f.client.id));
    assert!(!s.caller.authentication.second_factor);
    assert_eq!(s.caller.authentication.at, f.clock.now());
    assert_eq!(
        s.expires_at,
        f.clock.now().plus(f.auth.config().session_absolute)
    );
    let events = audit(&f).await;
    let success = events
        .iter()
        .rev()
        .find(|e| {
            e.object == AuditObject::Account(f.client.id) && e.kind == AuditKind::LoginSucceeded
        })
        .unwrap();
    assert_eq!(success.changes[0].property, "last_login");
    assert_eq!(
        success.request.client,
        Some("198.51.100.4".parse().unwrap())
    );
    assert_eq!(success.at, f.clock.now());
}

#[tokio::test]
async fn wrong_unknown_and_passwordless_all_fail_alike_at_the_same_cost() {
    let f = fixture().await;
    f.with_password(&f.client).await;
    let admin_email = f.admin.email.as_ref().unwrap().as_str().to_owned(); // no password
    let mut answers = Vec::new();
    for (email, password) in [
        (CLIENT, "Wrong-password-123"),
        ("nobody@nord.example", "Wrong-password-123"),
        (admin_email.as_str(), "Wrong-password-123"),
        ("not an address", "Wrong-password-123"),
        (CLIENT, &"x".repeat(5000)),
    ] {
        let before = f.auth.argon2_runs();
        let r = login(&f, email, password, from("198.51.100.5")).await;
        assert_eq!(
            f.auth.argon2_runs() - before,
            1,
            "one Argon2 run for {email}"
        );
        answers.push(r);
    }
    for r in &answers {
        assert!(matches!(r, Err(AuthError::LoginFailed)), "{r:?}");
        assert_eq!(r.as_ref().unwrap_err().to_string(), "login failed");
    }
    // Every failure is recorded with the client address; the unknown address
    // against the tenant, not a person.
    let failed: Vec<_> = audit(&f)
        .await
        .into_iter()
        .filter(|e| e.kind == AuditKind::LoginFailed)
        .collect();
    assert_eq!(failed.len(), 5);
    assert!(
        failed
            .iter()
            .all(|e| e.request.client == Some("198.51.100.5".parse().unwrap()))
    );
    assert!(failed.iter().all(|e| e.actor == AuditActor::System));
    assert_eq!(
        failed
            .iter()
            .filter(|e| e.object == AuditObject::Tenant(f.tenant.id))
            .count(),
        2
    );
}

#[tokio::test]
async fn an_unplaced_tenant_fails_like_a_wrong_password() {
    let f = fixture().await;
    let before = f.auth.argon2_runs();
    let r = f
        .auth
        .login(
            TenantId::random().unwrap(),
            CLIENT,
            PASSWORD,
            RequestMeta::default(),
        )
        .await;
    assert!(matches!(r, Err(AuthError::LoginFailed)));
    assert_eq!(f.auth.argon2_runs() - before, 1);
}

#[tokio::test]
async fn every_success_relayers_the_hash_and_raised_costs_upgrade_it() {
    let f = fixture().await;
    f.with_password(&f.client).await;
    let phc = |f: &cai_auth::conformance::Fixture| {
        let store = f.store.clone();
        let (t, a) = (f.tenant.id, f.client.id);
        async move {
            let c = store
                .credential(t, a, CredentialKind::Password)
                .await
                .unwrap()
                .unwrap();
            serde_json::from_slice::<cai_auth::records::PasswordRecord>(&c.data)
                .unwrap()
                .phc
        }
    };
    let first = phc(&f).await;
    client_session(&f).await;
    let second = phc(&f).await;
    assert_ne!(first, second);
    assert_eq!(
        HashParams::of_phc(&second).unwrap(),
        HashParams::INSECURE_TEST
    );

    // The tenant raises its cost: the next successful login upgrades the hash.
    let raised = HashParams {
        memory_kib: 64,
        iterations: 2,
        parallelism: 1,
    };
    let mut config = AuthConfig::default();
    config.defaults.hash = HashParams::INSECURE_TEST;
    config.tenants.insert(
        f.tenant.id,
        TenantAuthConfig {
            hash: raised,
            ..TenantAuthConfig::default()
        },
    );
    let upgraded = Authenticator::new(f.auth.service().clone(), f.peppers.clone(), config).unwrap();
    let r = upgraded
        .login(f.tenant.id, CLIENT, PASSWORD, RequestMeta::default())
        .await;
    assert!(matches!(r, Ok(LoginOutcome::Session(_))), "{r:?}");
    assert_eq!(HashParams::of_phc(&phc(&f).await).unwrap(), raised);
    // A wrong password changes nothing.
    let now = phc(&f).await;
    assert!(
        upgraded
            .login(
                f.tenant.id,
                CLIENT,
                "Wrong-password-1",
                RequestMeta::default()
            )
            .await
            .is_err()
    );
    assert_eq!(phc(&f).await, now);
}

#[tokio::test]
async fn login_only_inside_the_accounts_validity_window() {
    let f = fixture().await;
    f.with_password(&f.client).await;
    let start = f.clock.now().plus(Duration::from_secs(3600));
    let end = start.plus(Duration::from_secs(24 * 3600));
    f.auth
        .service()
        .update_account(
            &f.admin_caller(),
            f.tenant.id,
            f.client.id,
            AccountChanges {
                valid_from: Some(Some(start)),
                valid_until: Some(Some(end)),
                ..AccountChanges::default()
            },
        )
        .await
        .unwrap();
    // Before the start, the right password gets the common answer (and is not counted
    // as a guess).
    assert!(matches!(
        login(&f, CLIENT, PASSWORD, RequestMeta::default()).await,
        Err(AuthError::LoginFailed)
    ));
    let refused = audit(&f)
        .await
        .into_iter()
        .rev()
        .find(|e| e.kind == AuditKind::LoginFailed)
        .unwrap();
    assert_eq!(refused.object, AuditObject::Account(f.client.id));
    assert_eq!(
        refused.changes[0].after.as_deref(),
        Some("refused: account not usable")
    );
    f.clock.set(start);
    client_session(&f).await;
    f.clock.set(end);
    assert!(matches!(
        login(&f, CLIENT, PASSWORD, RequestMeta::default()).await,
        Err(AuthError::LoginFailed)
    ));
}

#[tokio::test]
async fn an_expired_password_yields_a_change_ticket_not_a_session() {
    let f = fixture().await;
    f.with_password(&f.client).await;
    let mut settings = f.tenant.settings.clone();
    settings.password_policy.max_age_days = Some(30);
    f.auth
        .service()
        .update_tenant_settings(&f.admin_caller(), f.tenant.id, settings)
        .await
        .unwrap();
    f.clock.advance(Duration::from_secs(29 * 86_400));
    client_session(&f).await;
    f.clock.advance(Duration::from_secs(86_400));
    let r = login(&f, CLIENT, PASSWORD, RequestMeta::default()).await;
    let Ok(LoginOutcome::MustChangePassword(t)) = r else {
        panic!("{r:?}")
    };
    assert_eq!(t.reason, ChangeReason::Expired);
    // The ticket is no session.
    assert!(matches!(
        f.auth
            .authenticate(t.ticket.expose(), RequestMeta::default())
            .await,
        Err(AuthError::InvalidToken)
    ));
    // A new password that breaks rules: every broken rule, and the ticket survives.
    let broken = f
        .auth
        .change_password_with_ticket(t.ticket.expose(), "robinhood", RequestMeta::default())
        .await;
    let Err(AuthError::PolicyViolated(v)) = broken else {
        panic!("{broken:?}")
    };
    assert_eq!(
        v,
        [
            PolicyViolation::TooShort { min: 12 },
            PolicyViolation::TooFewDigits { min: 1 },
            PolicyViolation::Common,
            PolicyViolation::ContainsName,
            PolicyViolation::ContainsEmail,
        ]
    );
    let same = f
        .auth
        .change_password_with_ticket(t.ticket.expose(), PASSWORD, RequestMeta::default())
        .await;
    assert!(matches!(same, Err(AuthError::PolicyViolated(v)) if v == [PolicyViolation::Reused]));
    let s = f
        .auth
        .change_password_with_ticket(
            t.ticket.expose(),
            "Neuer-Deich-Turm-8",
            RequestMeta::default(),
        )
        .await
        .unwrap();
    f.auth
        .authenticate(s.token.expose(), RequestMeta::default())
        .await
        .unwrap();
    // Used up; the old password is gone, the new one gives a session.
    assert!(matches!(
        f.auth
            .change_password_with_ticket(
                t.ticket.expose(),
                "Dritter-Deich-Turm-9",
                RequestMeta::default()
            )
            .await,
        Err(AuthError::InvalidToken)
    ));
    assert!(
        login(&f, CLIENT, PASSWORD, RequestMeta::default())
            .await
            .is_err()
    );
    assert!(matches!(
        login(&f, CLIENT, "Neuer-Deich-Turm-8", RequestMeta::default()).await,
        Ok(LoginOutcome::Session(_))
    ));
}

#[tokio::test]
async fn a_ticket_expires() {
    let f = fixture().await;
    f.with_password(&f.client).await;
    f.auth
        .force_password_change(&f.admin_caller(), f.tenant.id, f.client.id)
        .await
        .unwrap();
    let Ok(LoginOutcome::MustChangePassword(t)) =
        login(&f, CLIENT, PASSWORD, RequestMeta::default()).await
    else {
        panic!("ticket expected")
    };
    assert_eq!(t.reason, ChangeReason::Forced);
    f.clock.advance(f.auth.config().ticket_validity);
    assert!(matches!(
        f.auth
            .change_password_with_ticket(
                t.ticket.expose(),
                "Neuer-Deich-Turm-8",
                RequestMeta::default()
            )
            .await,
        Err(AuthError::InvalidToken)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashing_runs_on_the_bounded_pool_and_a_full_pool_says_slow_down() {
    use std::num::NonZeroUsize;
    use std::sync::Arc;
    let pool = cai_core::blocking::TokioPool::with_limits(
        tokio::runtime::Handle::current(),
        NonZeroUsize::new(1).unwrap(),
        0,
    );
    let f = cai_auth::conformance::Fixture::with_pool(
        Arc::new(cai_core::memory::MemoryStore::new()),
        AuthConfig::default(),
        true, // the real cost, so attempts overlap
        Arc::new(pool.clone()),
    )
    .await;
    f.with_password(&f.client).await;
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let auth = f.auth.clone();
            let tenant = f.tenant.id;
            tokio::spawn(async move {
                auth.login(
                    tenant,
                    CLIENT,
                    "Wrong-password-1",
                    from(&format!("192.0.2.{i}")),
                )
                .await
            })
        })
        .collect();
    let mut busy = 0;
    for t in tasks {
        match t.await.unwrap() {
            Err(AuthError::TooManyRequests { .. }) => busy += 1,
            Err(AuthError::LoginFailed) => {}
            other => panic!("{other:?}"),
        }
    }
    assert!(
        busy >= 1,
        "one running, none waiting: some attempts are turned away"
    );
    assert_eq!(pool.load().running, 0);
}

#[tokio::test]
async fn a_password_of_exactly_the_byte_limit_logs_in() {
    let f = fixture().await;
    let mut settings = f.tenant.settings.clone();
    settings.password_policy.max_len = 1024;
    settings.password_policy.min_digits = 0;
    f.auth
        .service()
        .update_tenant_settings(&f.admin_caller(), f.tenant.id, settings)
        .await
        .unwrap();
    // 1 024 four-byte letters: exactly `MAX_PASSWORD_BYTES`.
    let longest = "\u{10400}".repeat(1024);
    assert_eq!(longest.len(), cai_auth::password::MAX_PASSWORD_BYTES);
    f.auth
        .set_password(&f.vouched(&f.client, false), None, &longest)
        .await
        .unwrap();
    assert!(matches!(
        login(&f, CLIENT, &longest, RequestMeta::default()).await,
        Ok(LoginOutcome::Session(_))
    ));
    let over = format!("{longest}a");
    assert!(matches!(
        login(&f, CLIENT, &over, RequestMeta::default()).await,
        Err(AuthError::LoginFailed)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_logins_at_once_both_get_sessions() {
    use std::num::NonZeroUsize;
    use std::sync::Arc;
    // The real cost on two threads: both logins read the same password record, both
    // re-layer it, one commit conflicts — and that login keeps the other's hash.
    let pool = cai_core::blocking::TokioPool::with_limits(
        tokio::runtime::Handle::current(),
        NonZeroUsize::new(2).unwrap(),
        4,
    );
    let f = cai_auth::conformance::Fixture::with_pool(
        Arc::new(cai_core::memory::MemoryStore::new()),
        AuthConfig::default(),
        true,
        Arc::new(pool),
    )
    .await;
    f.with_password(&f.client).await;
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let auth = f.auth.clone();
            let tenant = f.tenant.id;
            tokio::spawn(async move {
                auth.login(tenant, CLIENT, PASSWORD, RequestMeta::default())
                    .await
            })
        })
        .collect();
    for t in tasks {
        let r = t.await.unwrap();
        assert!(matches!(r, Ok(LoginOutcome::Session(_))), "{r:?}");
    }
    client_session(&f).await;
}

#[tokio::test]
async fn logins_refresh_last_active_once_a_day() {
    let f = fixture().await;
    f.with_password(&f.client).await;
    let account = |f: &cai_auth::conformance::Fixture| {
        let (store, tenant, id) = (f.store.clone(), f.tenant.id, f.client.id);
        async move { store.account(tenant, id).await.unwrap().unwrap() }
    };
    assert_eq!(account(&f).await.last_active, None);
    let first = f.clock.now();
    client_session(&f).await;
    let after_first = account(&f).await;
    assert_eq!(after_first.last_active, Some(first));

    // Within the day: the account is not rewritten.
    f.clock.set(
        first
            .plus(Account::LAST_ACTIVE_RESOLUTION)
            .minus(Duration::from_millis(1)),
    );
    client_session(&f).await;
    assert_eq!(account(&f).await, after_first);

    // A day on: refreshed.
    let later = first.plus(Account::LAST_ACTIVE_RESOLUTION);
    f.clock.set(later);
    client_session(&f).await;
    assert_eq!(account(&f).await.last_active, Some(later));

    // A clock that ran backwards refreshes too, rather than keep a future time.
    let earlier = first.minus(Duration::from_secs(3600));
    f.clock.set(earlier);
    client_session(&f).await;
    assert_eq!(account(&f).await.last_active, Some(earlier));
}
