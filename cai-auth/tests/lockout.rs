//! Lockout (R-A3, R-I5, R-U3): the tenant's limit locks the account — until an admin
//! acts, or for a growing time — ends its sessions, tells the admins and raises an
//! incident; an unknown address behaves exactly alike; one source guessing across many
//! accounts is slowed and reported.
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
use cai_auth::{AuthConfig, AuthError, LockoutMode, LoginOutcome, TenantAuthConfig};
use cai_core::authz::DenyReason;
use cai_core::domain::{AccountStatus, AuditKind, AuditObject, IncidentKind, RequestMeta};
use cai_core::ports::Clock;
use common::*;

const WRONG: &str = "Wrong-password-123";
const SECOND: Duration = Duration::from_secs(1);

async fn status(f: &cai_auth::conformance::Fixture) -> AccountStatus {
    f.store
        .account(f.tenant.id, f.client.id)
        .await
        .unwrap()
        .unwrap()
        .status
}

/// `n` wrong passwords for `email`, a little time apart so the per-account throttle
/// (1 s after the limit in permanent mode) never turns one away.
async fn fail(f: &cai_auth::conformance::Fixture, email: &str, n: usize) -> Vec<&'static str> {
    let mut kinds = Vec::new();
    for _ in 0..n {
        kinds.push(kind(&login(f, email, WRONG, RequestMeta::default()).await));
        f.clock.advance(2 * SECOND);
    }
    kinds
}

#[tokio::test]
async fn the_tenth_failure_locks_until_an_admin_unlocks() {
    let f = fixture().await;
    f.with_password(&f.client).await;
    let session = client_session(&f).await;
    // Nine failures, then the right password: the counter starts over.
    fail(&f, CLIENT, 9).await;
    client_session(&f).await;
    fail(&f, CLIENT, 9).await;
    assert_eq!(status(&f).await, AccountStatus::Active);
    let notified_before = f.notifier.delivered().len();
    let locked_at = f.clock.now();
    fail(&f, CLIENT, 1).await;
    assert_eq!(
        status(&f).await,
        AccountStatus::Locked {
            at: locked_at,
            until: None
        }
    );
    // Its sessions ended; the right password no longer helps, not even days later.
    assert!(matches!(
        f.auth
            .authenticate(session.token.expose(), RequestMeta::default())
            .await,
        Err(AuthError::InvalidToken)
    ));
    f.clock.advance(Duration::from_secs(3 * 86_400));
    assert!(matches!(
        login(&f, CLIENT, PASSWORD, RequestMeta::default()).await,
        Err(AuthError::LoginFailed)
    ));
    // The admins were told, and an incident was raised.
    let told: Vec<_> = f.notifier.delivered()[notified_before..].to_vec();
    assert!(
        told.iter()
            .any(|n| n.object == AuditObject::Account(f.client.id)
                && n.kind == AuditKind::AccountLocked
                && n.recipients == [f.admin.id])
    );
    assert!(incidents(&f).await.iter().any(|i| matches!(
        &i.kind,
        IncidentKind::RepeatedWrongSecret { attempts: 10, object: AuditObject::Account(a), .. } if *a == f.client.id
    )));
    // The admin unlocks: the right password works again, audited and notified.
    let unlocked = f
        .auth
        .unlock_account(&f.admin_caller(), f.tenant.id, f.client.id)
        .await
        .unwrap();
    assert_eq!(unlocked.status, AccountStatus::Active);
    assert!(f.notifier.delivered().last().is_some_and(|n| n.actor
        == cai_core::domain::AuditActor::Subject(cai_core::id::SubjectId::Account(f.admin.id))));
    client_session(&f).await;
    // Unlocking clears the counter: the next lock needs ten failures again.
    fail(&f, CLIENT, 9).await;
    assert_eq!(status(&f).await, AccountStatus::Active);
}

#[tokio::test]
async fn the_limit_is_the_tenants() {
    let f = fixture().await;
    f.with_password(&f.client).await;
    let mut settings = f.tenant.settings.clone();
    settings.password_policy.max_failed_attempts = 3;
    f.auth
        .service()
        .update_tenant_settings(&f.admin_caller(), f.tenant.id, settings)
        .await
        .unwrap();
    fail(&f, CLIENT, 2).await;
    assert_eq!(status(&f).await, AccountStatus::Active);
    fail(&f, CLIENT, 1).await;
    assert!(matches!(
        status(&f).await,
        AccountStatus::Locked { until: None, .. }
    ));
}

#[tokio::test]
async fn a_temporary_lock_grows_and_ends_by_itself() {
    let minute = Duration::from_secs(60);
    let f = fixture_with(AuthConfig {
        defaults: TenantAuthConfig {
            lockout: LockoutMode::Temporary {
                base: minute,
                max: 60 * minute,
            },
            ..TenantAuthConfig::default()
        },
        ..AuthConfig::default()
    })
    .await;
    f.with_password(&f.client).await;
    for _ in 0..9 {
        assert_eq!(
            kind(&login(&f, CLIENT, WRONG, RequestMeta::default()).await),
            "failed"
        );
    }
    let t0 = f.clock.now();
    assert_eq!(
        kind(&login(&f, CLIENT, WRONG, RequestMeta::default()).await),
        "failed"
    );
    assert_eq!(
        status(&f).await,
        AccountStatus::Locked {
            at: t0,
            until: Some(t0.plus(minute))
        }
    );
    // During the lock even the right password is turned away before any hashing.
    let runs = f.auth.argon2_runs();
    assert_eq!(
        kind(&login(&f, CLIENT, PASSWORD, RequestMeta::default()).await),
        "slow down"
    );
    assert_eq!(f.auth.argon2_runs(), runs);
    // One more failure after the lock doubles it.
    f.clock.advance(minute);
    let t1 = f.clock.now();
    assert_eq!(
        kind(&login(&f, CLIENT, WRONG, RequestMeta::default()).await),
        "failed"
    );
    assert_eq!(
        status(&f).await,
        AccountStatus::Locked {
            at: t1,
            until: Some(t1.plus(2 * minute))
        }
    );
    // When it has run out, the right password logs in and lifts it.
    f.clock.advance(2 * minute);
    client_session(&f).await;
    assert_eq!(status(&f).await, AccountStatus::Active);
}

#[tokio::test]
async fn an_unknown_address_is_blocked_exactly_like_an_account() {
    let f = fixture().await;
    f.with_password(&f.client).await;
    let mut real = Vec::new();
    let mut phantom = Vec::new();
    for _ in 0..12 {
        real.push(kind(
            &login(&f, CLIENT, WRONG, RequestMeta::default()).await,
        ));
        phantom.push(kind(
            &login(&f, "ghost@nord.example", WRONG, RequestMeta::default()).await,
        ));
    }
    assert_eq!(real, phantom);
    assert!(real.contains(&"slow down"), "{real:?}");
    // And the same a while later.
    f.clock.advance(Duration::from_secs(5));
    assert_eq!(
        kind(&login(&f, CLIENT, WRONG, RequestMeta::default()).await),
        kind(&login(&f, "ghost@nord.example", WRONG, RequestMeta::default()).await)
    );
}

#[tokio::test]
async fn guessing_across_accounts_from_one_address_is_slowed_and_reported() {
    let f = fixture().await;
    f.with_password(&f.client).await;
    let attacker = "203.0.113.9";
    for i in 0..20 {
        let r = login(&f, &format!("user{i}@nord.example"), WRONG, from(attacker)).await;
        assert!(matches!(r, Err(AuthError::LoginFailed)), "{i}: {r:?}");
    }
    assert!(incidents(&f).await.is_empty());
    let r = login(&f, "user20@nord.example", WRONG, from(attacker)).await;
    assert!(matches!(r, Err(AuthError::LoginFailed)));
    let found = incidents(&f).await;
    assert_eq!(found.len(), 1);
    assert!(matches!(
        &found[0].kind,
        IncidentKind::RepeatedWrongSecret { attempts: 21, object: AuditObject::Tenant(t), source: Some(s) }
            if *t == f.tenant.id && s == attacker
    ));
    // The source is slowed down — even for a real account and the right password —
    // while another address is not.
    let r = login(&f, CLIENT, PASSWORD, from(attacker)).await;
    assert!(
        matches!(r, Err(AuthError::TooManyRequests { retry_after }) if retry_after == SECOND),
        "{r:?}"
    );
    assert!(matches!(
        login(&f, CLIENT, PASSWORD, from("198.51.100.1")).await,
        Ok(LoginOutcome::Session(_))
    ));
    // One incident per burst.
    f.clock.advance(2 * SECOND);
    login(&f, "user21@nord.example", WRONG, from(attacker))
        .await
        .unwrap_err();
    assert_eq!(incidents(&f).await.len(), 1);
}

#[tokio::test]
async fn admin_actions_need_an_administrator_with_a_second_factor() {
    let f = fixture().await;
    f.with_password(&f.client).await;
    let client = f.vouched(&f.client, true);
    let weak_admin = f.vouched(&f.admin, false);
    for caller in [&client, &weak_admin] {
        let e = f
            .auth
            .reset_failed_logins(caller, f.tenant.id, f.client.id)
            .await
            .unwrap_err();
        assert!(
            matches!(e, AuthError::Core(cai_core::Error::Denied { .. })),
            "{e:?}"
        );
    }
    let e = f
        .auth
        .end_sessions(&weak_admin, f.tenant.id, f.client.id)
        .await
        .unwrap_err();
    assert!(matches!(
        e,
        AuthError::Core(cai_core::Error::Denied {
            reason: DenyReason::SecondFactorRequired,
            ..
        })
    ));
    // Unlocking an account that is not locked is refused.
    assert!(
        f.auth
            .unlock_account(&f.admin_caller(), f.tenant.id, f.client.id)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn an_admin_resets_the_counter_ends_sessions_and_forces_a_change_audited_and_notified() {
    let f = fixture().await;
    f.with_password(&f.client).await;
    let admin = f.admin_caller();
    fail(&f, CLIENT, 9).await;
    f.auth
        .reset_failed_logins(&admin, f.tenant.id, f.client.id)
        .await
        .unwrap();
    fail(&f, CLIENT, 9).await;
    assert_eq!(
        status(&f).await,
        AccountStatus::Active,
        "the counter started over"
    );

    let s = client_session(&f).await;
    f.auth
        .end_sessions(&admin, f.tenant.id, f.client.id)
        .await
        .unwrap();
    assert!(
        f.auth
            .authenticate(s.token.expose(), RequestMeta::default())
            .await
            .is_err()
    );

    let s = client_session(&f).await;
    f.auth
        .force_password_change(&admin, f.tenant.id, f.client.id)
        .await
        .unwrap();
    assert!(
        f.auth
            .authenticate(s.token.expose(), RequestMeta::default())
            .await
            .is_err()
    );
    assert!(matches!(
        login(&f, CLIENT, PASSWORD, RequestMeta::default()).await,
        Ok(LoginOutcome::MustChangePassword(_))
    ));
    let changes: Vec<String> = audit(&f)
        .await
        .iter()
        .filter(|e| {
            e.security_relevant
                && e.kind == AuditKind::AccountUpdated
                && e.object == AuditObject::Account(f.client.id)
        })
        .flat_map(|e| {
            e.changes
                .iter()
                .map(|c| format!("{}={}", c.property, c.after.clone().unwrap_or_default()))
        })
        .collect();
    assert_eq!(
        changes,
        [
            "failed_logins=0",
            "sessions=all ended",
            "password=change forced",
            "sessions=all ended"
        ]
    );
    assert!(f.notifier.delivered().len() >= 3);
}

#[tokio::test]
async fn deactivating_through_cai_auth_ends_sessions_for_good() {
    let f = fixture().await;
    f.with_password(&f.client).await;
    let s = client_session(&f).await;
    let admin = f.admin_caller();
    f.auth
        .deactivate_account(&admin, f.tenant.id, f.client.id, None)
        .await
        .unwrap();
    assert!(
        f.auth
            .authenticate(s.token.expose(), RequestMeta::default())
            .await
            .is_err()
    );
    assert!(
        login(&f, CLIENT, PASSWORD, RequestMeta::default())
            .await
            .is_err()
    );
    f.auth
        .service()
        .reactivate_account(&admin, f.tenant.id, f.client.id)
        .await
        .unwrap();
    assert!(matches!(
        f.auth
            .authenticate(s.token.expose(), RequestMeta::default())
            .await,
        Err(AuthError::InvalidToken)
    ));
    client_session(&f).await;
}

#[tokio::test]
async fn a_wrong_current_password_counts_towards_the_lockout() {
    let f = fixture().await;
    f.with_password(&f.client).await;
    let me = f.vouched(&f.client, false);
    for _ in 0..10 {
        let r = f
            .auth
            .set_password(&me, Some(WRONG), "Neuer-Deich-Turm-8")
            .await;
        assert!(matches!(r, Err(AuthError::WrongPassword)), "{r:?}");
        f.clock.advance(2 * SECOND);
    }
    assert!(matches!(
        status(&f).await,
        AccountStatus::Locked { until: None, .. }
    ));
}

#[tokio::test]
async fn a_run_out_temporary_lock_becomes_permanent_after_the_tenant_switches_mode() {
    // Locked for a while under a temporary rule, now run out; the tenant has since
    // chosen "until an admin unlocks": the next lock is permanent.
    let f = fixture().await;
    f.with_password(&f.client).await;
    let mut a = f
        .store
        .account(f.tenant.id, f.client.id)
        .await
        .unwrap()
        .unwrap();
    let past = f.clock.now();
    a.status = AccountStatus::Locked {
        at: past,
        until: Some(past),
    };
    let mut batch = cai_core::ports::Batch::new(f.tenant.id);
    batch.push(cai_core::ports::Write::UpdateAccount(a));
    f.store.commit(batch).await.unwrap();
    f.clock.advance(SECOND);
    fail(&f, CLIENT, 9).await;
    assert_eq!(
        status(&f).await,
        AccountStatus::Locked {
            at: past,
            until: Some(past)
        }
    );
    let at = f.clock.now();
    fail(&f, CLIENT, 1).await;
    assert_eq!(status(&f).await, AccountStatus::Locked { at, until: None });
}
