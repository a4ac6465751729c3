//! A second factor the tenant requires is enrolled before any session (R-A4, R-T3):
//! administrators by default, everyone if the tenant says so.
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
use cai_core::authz::{Action, PermissionSet};
use cai_core::domain::{Name, RequestMeta};
use cai_core::ports::Clock;
use common::*;

fn code_now(f: &Fixture, secret: &TotpSecret) -> String {
    let secs = u64::try_from(f.clock.now().unix_millis() / 1000).unwrap();
    secret.code_at_step(step_at(secs, STEP_SECS)).unwrap()
}

async fn admin_login(f: &Fixture) -> Result<LoginOutcome, AuthError> {
    let email = f.admin.email.as_ref().unwrap().as_str().to_owned();
    login(f, &email, PASSWORD, RequestMeta::default()).await
}

#[tokio::test]
async fn an_administrator_enrols_before_getting_any_session() {
    let f = fixture().await;
    f.auth
        .set_password(&f.vouched(&f.admin, false), None, PASSWORD)
        .await
        .unwrap();
    let r = admin_login(&f).await;
    let Ok(LoginOutcome::SecondFactorEnrolmentRequired(t)) = r else {
        panic!("{r:?}")
    };
    let ticket = t.ticket.expose().to_owned();
    assert!(
        f.auth
            .authenticate(&ticket, RequestMeta::default())
            .await
            .is_err()
    );
    let e = f
        .auth
        .begin_enrolment_with_ticket(&ticket, "Beratung Nord", RequestMeta::default())
        .await
        .unwrap();
    assert!(e.uri.contains("admin%40nord.example"));
    let secret = TotpSecret::from_base32(&e.secret_base32).unwrap();
    assert!(matches!(
        f.auth
            .finish_enrolment_with_ticket(&ticket, "000000x", RequestMeta::default())
            .await,
        Err(AuthError::WrongCode)
    ));
    let done = f
        .auth
        .finish_enrolment_with_ticket(&ticket, &code_now(&f, &secret), RequestMeta::default())
        .await
        .unwrap();
    assert_eq!(
        done.recovery_codes.codes.len(),
        cai_auth::RECOVERY_CODE_COUNT
    );
    let LoginOutcome::Session(s) = done.outcome else {
        panic!("session expected")
    };
    let admin = f
        .auth
        .authenticate(s.token.expose(), RequestMeta::default())
        .await
        .unwrap();
    assert!(admin.authentication.second_factor);
    f.auth
        .end_sessions(&admin, f.tenant.id, f.client.id)
        .await
        .unwrap();
    // The ticket is used up; the next login asks for a code.
    assert!(matches!(
        f.auth
            .begin_enrolment_with_ticket(&ticket, "Nord", RequestMeta::default())
            .await,
        Err(AuthError::InvalidToken)
    ));
    f.clock.advance(Duration::from_secs(STEP_SECS));
    assert!(matches!(
        admin_login(&f).await,
        Ok(LoginOutcome::SecondFactorRequired(_))
    ));
}

#[tokio::test]
async fn who_must_enrol_is_the_tenants_choice() {
    let f = fixture().await;
    f.with_password(&f.client).await;
    f.auth
        .set_password(&f.vouched(&f.admin, false), None, PASSWORD)
        .await
        .unwrap();
    // Default: clients need not, admins must.
    assert!(matches!(
        client_login(&f).await,
        Ok(LoginOutcome::Session(_))
    ));
    assert!(matches!(
        admin_login(&f).await,
        Ok(LoginOutcome::SecondFactorEnrolmentRequired(_))
    ));
    let mut settings = f.tenant.settings.clone();
    settings.two_factor.required_for_admins = false;
    let t = f
        .auth
        .service()
        .update_tenant_settings(&f.admin_caller(), f.tenant.id, settings.clone())
        .await
        .unwrap();
    assert!(matches!(
        admin_login(&f).await,
        Ok(LoginOutcome::Session(_))
    ));
    settings.two_factor.required_for_everyone = true;
    let mut s = t.settings;
    s.two_factor = settings.two_factor;
    f.auth
        .service()
        .update_tenant_settings(&f.admin_caller(), f.tenant.id, s)
        .await
        .unwrap();
    assert!(matches!(
        client_login(&f).await,
        Ok(LoginOutcome::SecondFactorEnrolmentRequired(_))
    ));
}

#[tokio::test]
async fn a_custom_role_with_an_administrative_permission_counts_as_administrative() {
    let f = fixture().await;
    f.with_password(&f.client).await;
    let admin = f.admin_caller();
    let role = f
        .auth
        .service()
        .create_role(
            &admin,
            f.tenant.id,
            Name::parse("Account desk").unwrap(),
            PermissionSet::of(&[Action::ManageAccounts]),
        )
        .await
        .unwrap();
    assert!(matches!(
        client_login(&f).await,
        Ok(LoginOutcome::Session(_))
    ));
    f.auth
        .service()
        .grant_role(&admin, f.tenant.id, f.client.id, role.id)
        .await
        .unwrap();
    assert!(matches!(
        client_login(&f).await,
        Ok(LoginOutcome::SecondFactorEnrolmentRequired(_))
    ));
}

async fn client_login(f: &Fixture) -> Result<LoginOutcome, AuthError> {
    login(f, CLIENT, PASSWORD, RequestMeta::default()).await
}
