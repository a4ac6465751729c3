//! Only the owner sets a password (R-A1): the first one without, later ones with the
//! current password; the tenant's policy with every broken rule; nobody else's
//! record is ever touched.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use cai_auth::conformance::PASSWORD;
use cai_auth::{AuthError, LoginOutcome, PolicyViolation};
use cai_core::domain::RequestMeta;
use cai_core::ports::CredentialKind;
use common::*;

#[tokio::test]
async fn the_first_password_needs_no_current_one_later_ones_do() {
    let f = fixture().await;
    let me = f.vouched(&f.client, false);
    assert!(matches!(
        f.auth
            .set_password(&me, Some(PASSWORD), "Neuer-Deich-Turm-8")
            .await,
        Err(AuthError::WrongPassword)
    ));
    f.auth.set_password(&me, None, PASSWORD).await.unwrap();
    assert!(matches!(
        f.auth.set_password(&me, None, "Neuer-Deich-Turm-8").await,
        Err(AuthError::PasswordExists)
    ));
    assert!(matches!(
        f.auth
            .set_password(&me, Some("Not-the-password-1"), "Neuer-Deich-Turm-8")
            .await,
        Err(AuthError::WrongPassword)
    ));
    let r = f.auth.set_password(&me, Some(PASSWORD), PASSWORD).await;
    assert!(matches!(r, Err(AuthError::PolicyViolated(v)) if v == [PolicyViolation::Reused]));
    f.auth
        .set_password(&me, Some(PASSWORD), "Neuer-Deich-Turm-8")
        .await
        .unwrap();
    assert!(matches!(
        login(&f, CLIENT, "Neuer-Deich-Turm-8", RequestMeta::default()).await,
        Ok(LoginOutcome::Session(_))
    ));
}

#[tokio::test]
async fn a_new_password_is_checked_against_every_rule() {
    let f = fixture().await;
    let mut settings = f.tenant.settings.clone();
    settings.password_policy.min_special = 2;
    settings.password_policy.allowed_special = "!?".to_owned();
    f.auth
        .service()
        .update_tenant_settings(&f.admin_caller(), f.tenant.id, settings)
        .await
        .unwrap();
    let me = f.vouched(&f.client, false);
    let r = f.auth.set_password(&me, None, "Robin-Client-Deich").await;
    let Err(AuthError::PolicyViolated(v)) = r else {
        panic!("{r:?}")
    };
    assert_eq!(
        v,
        [
            PolicyViolation::TooFewDigits { min: 1 },
            PolicyViolation::TooFewSpecial { min: 2 },
            PolicyViolation::DisallowedCharacter,
            PolicyViolation::ContainsName,
            PolicyViolation::ContainsEmail,
        ]
    );
    // Nothing was stored.
    assert!(
        f.store
            .credential(f.tenant.id, f.client.id, CredentialKind::Password)
            .await
            .unwrap()
            .is_none()
    );
    // A 64-character passphrase is fine.
    let long = "ein langer satz ueber den leuchtturm am deich!? 2026 und mehr text";
    assert!(long.chars().count() >= 64);
    f.auth.set_password(&me, None, long).await.unwrap();
}

#[tokio::test]
async fn a_password_is_only_ever_the_callers_own() {
    let f = fixture().await;
    f.with_password(&f.client).await;
    let before = f
        .store
        .credential(f.tenant.id, f.client.id, CredentialKind::Password)
        .await
        .unwrap();
    // The admin "setting a password" can only ever set the admin's own.
    f.auth
        .set_password(&f.admin_caller(), None, "Eigenes-Deich-Wort-4")
        .await
        .unwrap();
    let after = f
        .store
        .credential(f.tenant.id, f.client.id, CredentialKind::Password)
        .await
        .unwrap();
    assert_eq!(before, after);
    assert!(
        f.store
            .credential(f.tenant.id, f.admin.id, CredentialKind::Password)
            .await
            .unwrap()
            .is_some()
    );
    assert!(matches!(
        login(&f, CLIENT, PASSWORD, RequestMeta::default()).await,
        Ok(LoginOutcome::Session(_))
    ));
}

#[tokio::test]
async fn an_unusable_account_sets_nothing() {
    let f = fixture().await;
    let me = f.vouched(&f.client, false);
    f.auth
        .deactivate_account(&f.admin_caller(), f.tenant.id, f.client.id, None)
        .await
        .unwrap();
    assert!(matches!(
        f.auth.set_password(&me, None, PASSWORD).await,
        Err(AuthError::Core(cai_core::Error::AccountNotUsable))
    ));
}
