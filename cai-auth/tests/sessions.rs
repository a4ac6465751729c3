//! Session tokens (R-A7, R-A8): idle and absolute timeouts, revocation of one, of
//! all, and after a password change; tampered tokens; the assurance facts on the
//! `Caller`; stored only as hashes.
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
use cai_auth::{AuthConfig, AuthError, caller_vouched_by_host};
use cai_core::authz::Action;
use cai_core::domain::RequestMeta;
use cai_core::id::GuestId;
use cai_core::ports::{Clock, CredentialKind};
use common::*;

const MINUTE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_session_ends_after_the_idle_timeout_counted_from_its_last_use() {
    let f = fixture().await;
    f.with_password(&f.client).await;
    let s = client_session(&f).await;
    let token = s.token.expose();
    let use_it = || f.auth.authenticate(token, RequestMeta::default());
    f.clock.advance(29 * MINUTE);
    use_it().await.unwrap();
    f.clock.advance(29 * MINUTE);
    use_it().await.unwrap();
    f.clock.advance(30 * MINUTE);
    assert!(matches!(use_it().await, Err(AuthError::InvalidToken)));
    // Gone for good: setting the clock back does not revive it.
    f.clock.set(f.clock.now().minus(31 * MINUTE));
    assert!(use_it().await.is_err());
}

#[tokio::test]
async fn a_session_ends_at_its_absolute_end_however_busy() {
    let f = fixture().await;
    f.with_password(&f.client).await;
    let s = client_session(&f).await;
    let end = s.expires_at;
    while f.clock.now().plus(20 * MINUTE) < end {
        f.clock.advance(20 * MINUTE);
        f.auth
            .authenticate(s.token.expose(), RequestMeta::default())
            .await
            .unwrap();
    }
    f.clock.set(end);
    assert!(matches!(
        f.auth
            .authenticate(s.token.expose(), RequestMeta::default())
            .await,
        Err(AuthError::InvalidToken)
    ));
}

#[tokio::test]
async fn revoking_one_leaves_the_others_and_everywhere_ends_all() {
    let f = fixture().await;
    f.with_password(&f.client).await;
    let a = client_session(&f).await;
    let b = client_session(&f).await;
    f.auth.revoke(a.token.expose()).await.unwrap();
    f.auth.revoke(a.token.expose()).await.unwrap(); // idempotent
    assert!(
        f.auth
            .authenticate(a.token.expose(), RequestMeta::default())
            .await
            .is_err()
    );
    let me = f
        .auth
        .authenticate(b.token.expose(), RequestMeta::default())
        .await
        .unwrap();
    let c = client_session(&f).await;
    f.auth.end_my_sessions(&me).await.unwrap();
    for t in [&b, &c] {
        assert!(
            f.auth
                .authenticate(t.token.expose(), RequestMeta::default())
                .await
                .is_err()
        );
    }
}

#[tokio::test]
async fn a_password_change_ends_every_other_session() {
    let f = fixture().await;
    f.with_password(&f.client).await;
    let old = client_session(&f).await;
    let me = f
        .auth
        .authenticate(old.token.expose(), RequestMeta::default())
        .await
        .unwrap();
    let new = f
        .auth
        .set_password(&me, Some(PASSWORD), "Neuer-Deich-Turm-8")
        .await
        .unwrap();
    assert!(
        f.auth
            .authenticate(old.token.expose(), RequestMeta::default())
            .await
            .is_err()
    );
    f.auth
        .authenticate(new.token.expose(), RequestMeta::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn the_least_recently_used_session_goes_past_the_maximum() {
    let f = fixture_with(AuthConfig {
        max_tokens_per_account: 2,
        ..AuthConfig::default()
    })
    .await;
    f.with_password(&f.client).await;
    let first = client_session(&f).await;
    f.clock.advance(MINUTE);
    let second = client_session(&f).await;
    f.clock.advance(MINUTE);
    f.auth
        .authenticate(first.token.expose(), RequestMeta::default())
        .await
        .unwrap(); // first is now fresher
    f.clock.advance(MINUTE);
    let third = client_session(&f).await;
    assert!(
        f.auth
            .authenticate(second.token.expose(), RequestMeta::default())
            .await
            .is_err()
    );
    f.auth
        .authenticate(first.token.expose(), RequestMeta::default())
        .await
        .unwrap();
    f.auth
        .authenticate(third.token.expose(), RequestMeta::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn tampered_and_foreign_tokens_are_invalid() {
    let f = fixture().await;
    f.with_password(&f.client).await;
    let s = client_session(&f).await;
    let text = s.token.expose();
    let last = text.chars().last().unwrap();
    let flipped = format!(
        "{}{}",
        &text[..text.len() - 1],
        if last == '0' { '1' } else { '0' }
    );
    // The admin's id in place of the client's: routes to the admin, whose record does
    // not hold this hash.
    let other_account = text.replacen(
        &hex::encode(f.client.id.as_bytes()),
        &hex::encode(f.admin.id.as_bytes()),
        1,
    );
    for bad in [
        flipped.as_str(),
        other_account.as_str(),
        "",
        "Bearer x",
        &text.to_uppercase(),
    ] {
        assert!(
            matches!(
                f.auth.authenticate(bad, RequestMeta::default()).await,
                Err(AuthError::InvalidToken)
            ),
            "{bad}"
        );
    }
    f.auth
        .authenticate(text, RequestMeta::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn only_hashes_are_stored() {
    let f = fixture().await;
    f.with_password(&f.client).await;
    let s = client_session(&f).await;
    let stored = f
        .store
        .credential(f.tenant.id, f.client.id, CredentialKind::Tokens)
        .await
        .unwrap()
        .unwrap();
    let bytes = String::from_utf8(stored.data).unwrap();
    let secret = &s.token.expose()[s.token.expose().len() - 64..];
    assert!(!bytes.contains(secret));
    assert!(bytes.contains(&hex::encode(sha2_of(s.token.expose()))));
}

fn sha2_of(text: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes()).into()
}

#[tokio::test]
async fn the_caller_carries_when_and_how_the_user_authenticated() {
    let f = fixture().await;
    f.with_password(&f.client).await;
    let login_time = f.clock.now();
    let s = client_session(&f).await;
    f.clock.advance(10 * MINUTE);
    let req = from("192.0.2.77");
    let caller = f.auth.authenticate(s.token.expose(), req).await.unwrap();
    assert_eq!(caller.authentication.at, login_time);
    assert!(!caller.authentication.second_factor);
    assert_eq!(caller.request, req);
    // A password-only (AAL1) caller is no administrator, whatever its roles (here the
    // tenant does not demand enrolment at login, so the admin gets an AAL1 session).
    let mut settings = f.tenant.settings.clone();
    settings.two_factor.required_for_admins = false;
    f.auth
        .service()
        .update_tenant_settings(&f.admin_caller(), f.tenant.id, settings)
        .await
        .unwrap();
    f.auth
        .set_password(&f.vouched(&f.admin, false), None, PASSWORD)
        .await
        .unwrap();
    let admin_session = match login(
        &f,
        f.admin.email.as_ref().unwrap().as_str(),
        PASSWORD,
        RequestMeta::default(),
    )
    .await
    {
        Ok(cai_auth::LoginOutcome::Session(s)) => s,
        other => panic!("{other:?}"),
    };
    let admin = f
        .auth
        .authenticate(admin_session.token.expose(), RequestMeta::default())
        .await
        .unwrap();
    let denied = f
        .auth
        .service()
        .principal(&admin, f.tenant.id, Action::ManageAccounts)
        .await;
    assert!(denied.is_ok(), "resolving works");
    let e = f
        .auth
        .end_sessions(&admin, f.tenant.id, f.client.id)
        .await
        .unwrap_err();
    assert!(matches!(e, AuthError::Core(cai_core::Error::Denied { .. })));
    // The host-vouched constructor states the second factor explicitly.
    let vouched = caller_vouched_by_host(
        f.tenant.id,
        f.admin.id,
        true,
        f.clock.now(),
        RequestMeta::default(),
    );
    f.auth
        .end_sessions(&vouched, f.tenant.id, f.client.id)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_locked_accounts_token_stops_working_at_once() {
    let f = fixture().await;
    f.with_password(&f.client).await;
    let s = client_session(&f).await;
    let mut a = f
        .store
        .account(f.tenant.id, f.client.id)
        .await
        .unwrap()
        .unwrap();
    a.status = cai_core::domain::AccountStatus::Locked {
        at: f.clock.now(),
        until: None,
    };
    let mut batch = cai_core::ports::Batch::new(f.tenant.id);
    batch.push(cai_core::ports::Write::UpdateAccount(a));
    f.store.commit(batch).await.unwrap();
    assert!(
        f.auth
            .authenticate(s.token.expose(), RequestMeta::default())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn guests_have_no_password_to_set() {
    let f = fixture().await;
    let guest = cai_core::Caller::new(
        f.tenant.id,
        cai_core::id::SubjectId::Guest(GuestId::random().unwrap()),
        cai_core::authz::Authentication {
            second_factor: false,
            at: f.clock.now(),
        },
    );
    assert!(matches!(
        f.auth
            .set_password(&guest, None, "Neuer-Deich-Turm-8")
            .await,
        Err(AuthError::NotOwner)
    ));
    assert!(matches!(
        f.auth.end_my_sessions(&guest).await,
        Err(AuthError::NotOwner)
    ));
}

#[tokio::test]
async fn a_session_is_written_back_at_most_once_per_touch_interval() {
    let f = fixture().await;
    f.with_password(&f.client).await;
    let s = client_session(&f).await;
    let revision = || async {
        f.store
            .credential(f.tenant.id, f.client.id, CredentialKind::Tokens)
            .await
            .unwrap()
            .unwrap()
            .revision
    };
    let issued = revision().await;
    for _ in 0..3 {
        f.clock.advance(Duration::from_secs(10));
        f.auth
            .authenticate(s.token.expose(), RequestMeta::default())
            .await
            .unwrap();
    }
    assert_eq!(
        revision().await,
        issued,
        "no write within the touch interval"
    );
    f.clock.advance(MINUTE);
    f.auth
        .authenticate(s.token.expose(), RequestMeta::default())
        .await
        .unwrap();
    assert_eq!(revision().await, issued + 1, "one write after it");
}
