//! The four-eyes reset (R-A6) of counsellors and administrators: a second
//! administrator approves — never the account itself, never the requester, never a
//! non-admin or someone of another tenant — and confirms the person out of band with
//! a one-time QR challenge; only then the mailed token sets a password.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use cai_auth::conformance::{Fixture, PASSWORD};
use cai_auth::{AuthError, LoginOutcome, ResetChallenge, caller_vouched_by_host};
use cai_core::authz::DenyReason;
use cai_core::domain::{Account, BuiltinRole, Email, Name, Region, RequestMeta, TenantSettings};
use cai_core::ports::Clock;
use cai_core::service::{NewAccount, NewTenant};
use common::recovery::*;
use common::*;

const KIM: &str = "kim@nord.example";

/// The fixture with a second administrator and a counsellor, both with passwords.
async fn setup() -> (Fixture, Account, Account) {
    let f = fixture().await;
    let admin2 = account_with(
        &f,
        "sam@nord.example",
        "Sam Second",
        &[BuiltinRole::TenantAdmin.id()],
    )
    .await;
    let counsellor = account_with(&f, KIM, "Kim Berg", &[BuiltinRole::Counsellor.id()]).await;
    (f, admin2, counsellor)
}

fn denied(r: &Result<impl std::fmt::Debug, AuthError>) -> Option<DenyReason> {
    match r {
        Err(AuthError::Core(cai_core::Error::Denied { reason, .. })) => Some(*reason),
        _ => None,
    }
}

/// Shows the challenge with `token`; on success `token` becomes the challenge's
/// token, the only one that can set the password from then on.
async fn show(f: &Fixture, token: &mut String) -> Result<ResetChallenge, AuthError> {
    let shown = f
        .auth
        .show_reset_challenge(f.tenant.id, token, RequestMeta::default())
        .await;
    if let Ok(c) = &shown {
        *token = c.token.to_string();
    }
    shown
}

/// Starts a self-service reset of the counsellor and has the fixture's admin approve
/// it; returns the mailed token.
async fn approved(f: &Fixture, counsellor: &Account) -> String {
    begin(f, KIM).await.unwrap();
    f.auth
        .approve_password_reset(&f.admin_caller(), f.tenant.id, counsellor.id)
        .await
        .unwrap();
    mailed_token(f, KIM)
}

#[tokio::test]
async fn a_self_requested_reset_is_approved_verified_and_completed() {
    let (f, _, counsellor) = setup().await;
    let session = f.session(&counsellor).await;
    let notified = f.notifier.delivered().len();

    begin(&f, KIM).await.unwrap();
    let notice = mails_to(&f, KIM).pop().unwrap();
    assert!(token_in(&notice).is_none());
    let status = f
        .auth
        .approve_password_reset(&f.admin_caller(), f.tenant.id, counsellor.id)
        .await
        .unwrap();
    assert_eq!(status.requested_by, counsellor.id);
    assert_eq!(status.approved_by, Some(f.admin.id));
    let mail = mails_to(&f, KIM).pop().unwrap();
    assert!(mail.body.contains("Alex Admin approved"));
    let mut token = token_in(&mail).unwrap();
    let mailed = token.clone();

    // Approved is not enough: the QR step first.
    assert!(matches!(
        complete(&f, &token, NEW_PASSWORD).await,
        Err(AuthError::ResetIncomplete)
    ));
    let challenge = show(&f, &mut token).await.unwrap();
    assert_eq!(challenge.approver, f.admin.id);
    assert!(challenge.qr_svg.contains("<svg"));
    let code = challenge.code.as_str();
    assert_eq!(code.len(), 19);
    assert_eq!(code.matches('-').count(), 3);
    assert!(matches!(
        complete(&f, &token, NEW_PASSWORD).await,
        Err(AuthError::ResetIncomplete)
    ));
    // Read back over a video call, in any spelling.
    let read_back = code.to_lowercase().replace('-', " ");
    let status = f
        .auth
        .confirm_reset_challenge(&f.admin_caller(), f.tenant.id, counsellor.id, &read_back)
        .await
        .unwrap();
    assert!(status.verified_at.is_some() && !status.challenge_pending);

    // Someone who also reads the mailbox holds the mailed token: after the challenge
    // was shown it sets nothing, not even once the approver confirmed.
    assert_ne!(mailed, token);
    assert!(matches!(
        complete(&f, &mailed, "Eindringling-am-Deich-1").await,
        Err(AuthError::InvalidToken)
    ));
    assert!(matches!(
        show(&f, &mut mailed.clone()).await,
        Err(AuthError::InvalidToken)
    ));
    complete(&f, &token, NEW_PASSWORD).await.unwrap();
    assert!(matches!(
        f.auth
            .authenticate(session.token.expose(), RequestMeta::default())
            .await,
        Err(AuthError::InvalidToken)
    ));
    assert!(matches!(
        f.auth
            .login(f.tenant.id, KIM, NEW_PASSWORD, RequestMeta::default())
            .await,
        Ok(LoginOutcome::Session(_))
    ));
    assert!(matches!(
        complete(&f, &token, "Noch-ein-Deich-9").await,
        Err(AuthError::InvalidToken)
    ));
    let steps = trail(&f, "password_reset").await;
    for step in [
        "requested by the account; awaits a second administrator's approval",
        "approved; recovery code mailed",
        "QR challenge shown; awaits the approver's confirmation",
        "QR challenge confirmed; the new password can be set",
    ] {
        assert!(steps.contains(&step.to_owned()), "{step} not in {steps:?}");
    }
    assert!(
        trail(&f, "password")
            .await
            .contains(&"reset under four eyes".to_owned())
    );
    // Request, approval, challenge, confirmation, completion: each notified.
    assert!(f.notifier.delivered().len() >= notified + 5);
    // Nothing is left pending.
    assert!(
        f.auth
            .password_reset_status(&f.admin_caller(), f.tenant.id, counsellor.id)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn an_admin_requests_on_the_owners_behalf_and_another_approves_and_confirms() {
    let (f, admin2, counsellor) = setup().await;
    let admin = f.admin_caller();
    let status = f
        .auth
        .request_password_reset(&admin, f.tenant.id, counsellor.id)
        .await
        .unwrap();
    assert_eq!(status.requested_by, f.admin.id);
    assert!(token_in(&mails_to(&f, KIM).pop().unwrap()).is_none());
    // Not one's own account.
    let own = f
        .auth
        .request_password_reset(&admin, f.tenant.id, f.admin.id)
        .await;
    assert_eq!(denied(&own), Some(DenyReason::FourEyes));
    // The requester cannot approve.
    let by_requester = f
        .auth
        .approve_password_reset(&admin, f.tenant.id, counsellor.id)
        .await;
    assert_eq!(denied(&by_requester), Some(DenyReason::FourEyes));
    assert!(mails_to(&f, KIM).iter().all(|m| token_in(m).is_none()));
    f.auth
        .approve_password_reset(&strong(&f, &admin2), f.tenant.id, counsellor.id)
        .await
        .unwrap();
    let mut token = mailed_token(&f, KIM);
    let challenge = show(&f, &mut token).await.unwrap();
    assert_eq!(challenge.approver, admin2.id);
    // Nor can the requester confirm.
    let confirmed_by_requester = f
        .auth
        .confirm_reset_challenge(&admin, f.tenant.id, counsellor.id, &challenge.code)
        .await;
    assert_eq!(denied(&confirmed_by_requester), Some(DenyReason::FourEyes));
    f.auth
        .confirm_reset_challenge(
            &strong(&f, &admin2),
            f.tenant.id,
            counsellor.id,
            &challenge.code,
        )
        .await
        .unwrap();
    complete(&f, &token, NEW_PASSWORD).await.unwrap();
    assert!(
        trail(&f, "password_reset")
            .await
            .contains(&"approval refused: the requester cannot approve".to_owned())
    );
}

#[tokio::test]
async fn nobody_approves_their_own_reset() {
    let (f, admin2, _) = setup().await;
    begin(&f, "sam@nord.example").await.unwrap();
    let own = f
        .auth
        .approve_password_reset(&strong(&f, &admin2), f.tenant.id, admin2.id)
        .await;
    assert_eq!(denied(&own), Some(DenyReason::FourEyes));
    assert!(
        trail(&f, "password_reset")
            .await
            .contains(&"approval refused: four_eyes".to_owned())
    );
    f.auth
        .approve_password_reset(&f.admin_caller(), f.tenant.id, admin2.id)
        .await
        .unwrap();
    assert!(token_in(&mails_to(&f, "sam@nord.example").pop().unwrap()).is_some());
}

#[tokio::test]
async fn non_admins_and_admins_without_a_second_factor_cannot_approve() {
    let (f, _, counsellor) = setup().await;
    let other = account_with(
        &f,
        "lou@nord.example",
        "Lou Other",
        &[BuiltinRole::Counsellor.id()],
    )
    .await;
    begin(&f, KIM).await.unwrap();
    for (caller, reason) in [
        (strong(&f, &other), DenyReason::NoPermission),
        (strong(&f, &f.client), DenyReason::NoPermission),
        (f.vouched(&f.admin, false), DenyReason::SecondFactorRequired),
    ] {
        let r = f
            .auth
            .approve_password_reset(&caller, f.tenant.id, counsellor.id)
            .await;
        assert_eq!(denied(&r), Some(reason), "{r:?}");
    }
    assert!(mails_to(&f, KIM).iter().all(|m| token_in(m).is_none()));
    assert!(
        trail(&f, "password_reset")
            .await
            .contains(&"approval refused: no_permission".to_owned())
    );
}

#[tokio::test]
async fn admins_of_another_tenant_cannot_approve() {
    let (f, _, counsellor) = setup().await;
    let (t2, admin_t2) = f
        .auth
        .service()
        .create_tenant(
            NewTenant {
                name: Name::parse("Beratung Sued").unwrap(),
                region: Region::parse("DE").unwrap(),
                settings: TenantSettings::default(),
            },
            NewAccount::new(
                Email::parse("admin@sued.example").unwrap(),
                Name::parse("Ada Sued").unwrap(),
            ),
        )
        .await
        .unwrap();
    let foreign = caller_vouched_by_host(
        t2.id,
        admin_t2.id,
        true,
        f.clock.now(),
        RequestMeta::default(),
    );
    begin(&f, KIM).await.unwrap();
    let r = f
        .auth
        .approve_password_reset(&foreign, f.tenant.id, counsellor.id)
        .await;
    assert!(
        matches!(denied(&r), Some(DenyReason::TenantMismatch { .. })),
        "{r:?}"
    );
    // Naming its own tenant, the account is not there.
    let r = f
        .auth
        .approve_password_reset(&foreign, t2.id, counsellor.id)
        .await;
    assert!(
        matches!(r, Err(AuthError::Core(cai_core::Error::NotFound { .. }))),
        "{r:?}"
    );
    assert!(
        !incidents(&f).await.is_empty(),
        "cross-tenant attempt recorded"
    );
    assert!(mails_to(&f, KIM).iter().all(|m| token_in(m).is_none()));
}

#[tokio::test]
async fn the_qr_step_cannot_be_skipped_or_replayed() {
    let (f, admin2, counsellor) = setup().await;
    let mut token = approved(&f, &counsellor).await;
    let admin = f.admin_caller();
    let confirm = |caller: cai_core::Caller, code: String| {
        let auth = f.auth.clone();
        let (tenant, account) = (f.tenant.id, counsellor.id);
        async move {
            auth.confirm_reset_challenge(&caller, tenant, account, &code)
                .await
        }
    };
    // No challenge shown yet.
    assert!(matches!(
        confirm(admin, "ABCD-EFGH-IJKL-MNOP".to_owned()).await,
        Err(AuthError::WrongCode)
    ));
    let first = show(&f, &mut token).await.unwrap();
    // Another admin than the approver cannot confirm.
    let r = confirm(strong(&f, &admin2), first.code.to_string()).await;
    assert_eq!(denied(&r), Some(DenyReason::NoRelation));
    confirm(admin, first.code.to_string()).await.unwrap();
    // Confirmed once: the same code again is nothing.
    assert!(matches!(
        confirm(admin, first.code.to_string()).await,
        Err(AuthError::WrongCode)
    ));
    // A new challenge withdraws the confirmation; the old code does not fit it.
    let second = show(&f, &mut token).await.unwrap();
    assert_ne!(first.code, second.code);
    assert!(matches!(
        complete(&f, &token, NEW_PASSWORD).await,
        Err(AuthError::ResetIncomplete)
    ));
    assert!(matches!(
        confirm(admin, first.code.to_string()).await,
        Err(AuthError::WrongCode)
    ));
    confirm(admin, second.code.to_string()).await.unwrap();
    complete(&f, &token, NEW_PASSWORD).await.unwrap();
    // Done: neither the challenge nor the token works again.
    assert!(matches!(
        show(&f, &mut token).await,
        Err(AuthError::InvalidToken)
    ));
    assert!(confirm(admin, second.code.to_string()).await.is_err());
}

#[tokio::test]
async fn wrong_codes_void_a_challenge_and_every_step_expires() {
    let (f, _, counsellor) = setup().await;
    let mut token = approved(&f, &counsellor).await;
    // A fresh caller each time: the clock moves past the re-authentication window.
    let confirm = |code: String| {
        let (auth, caller) = (f.auth.clone(), f.admin_caller());
        let (tenant, account) = (f.tenant.id, counsellor.id);
        async move {
            auth.confirm_reset_challenge(&caller, tenant, account, &code)
                .await
        }
    };
    let recovery = f.auth.config().recovery.clone();

    let c = show(&f, &mut token).await.unwrap();
    let wrong = if c.code.starts_with('A') {
        "BBBB-BBBB-BBBB-BBBB"
    } else {
        "AAAA-AAAA-AAAA-AAAA"
    };
    for _ in 0..recovery.challenge_attempts {
        assert!(matches!(
            confirm(wrong.to_owned()).await,
            Err(AuthError::WrongCode)
        ));
    }
    assert!(matches!(
        confirm(c.code.to_string()).await,
        Err(AuthError::WrongCode)
    ));
    assert!(
        trail(&f, "password_reset")
            .await
            .iter()
            .any(|s| s.ends_with("challenge void"))
    );

    // A challenge expires.
    let c = show(&f, &mut token).await.unwrap();
    f.clock.advance(recovery.challenge_validity);
    assert!(matches!(
        confirm(c.code.to_string()).await,
        Err(AuthError::WrongCode)
    ));

    // So does a confirmation.
    let c = show(&f, &mut token).await.unwrap();
    confirm(c.code.to_string()).await.unwrap();
    f.clock.advance(recovery.challenge_validity);
    assert!(matches!(
        complete(&f, &token, NEW_PASSWORD).await,
        Err(AuthError::ResetIncomplete)
    ));

    // Within the token's validity a fresh round still works.
    let c = show(&f, &mut token).await.unwrap();
    confirm(c.code.to_string()).await.unwrap();
    complete(&f, &token, NEW_PASSWORD).await.unwrap();
}

#[tokio::test]
async fn a_request_lapses_and_an_approved_reset_lapses_with_its_token() {
    let (f, _, counsellor) = setup().await;
    let recovery = f.auth.config().recovery.clone();
    begin(&f, KIM).await.unwrap();
    f.clock.advance(recovery.request_validity);
    let late = f
        .auth
        .approve_password_reset(&f.admin_caller(), f.tenant.id, counsellor.id)
        .await;
    assert!(
        matches!(late, Err(AuthError::Core(cai_core::Error::Invalid { .. }))),
        "{late:?}"
    );

    let mut token = approved(&f, &counsellor).await;
    f.clock.advance(recovery.token_validity);
    assert!(matches!(
        show(&f, &mut token).await,
        Err(AuthError::InvalidToken)
    ));
    assert!(
        f.auth
            .password_reset_status(&f.admin_caller(), f.tenant.id, counsellor.id)
            .await
            .unwrap()
            .is_none()
    );
    // The old password still works.
    assert!(
        f.auth
            .login(f.tenant.id, KIM, PASSWORD, RequestMeta::default())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn asking_again_keeps_a_pending_approval_and_a_cancellation_ends_it() {
    let (f, admin2, counsellor) = setup().await;
    let mut token = approved(&f, &counsellor).await;
    let mails = f.mailer.sent().len();
    // Someone who knows the address asks again: nothing changes, nobody is mailed.
    begin(&f, KIM).await.unwrap();
    assert_eq!(f.mailer.sent().len(), mails);
    show(&f, &mut token).await.unwrap();

    f.auth
        .cancel_password_reset(&strong(&f, &admin2), f.tenant.id, counsellor.id)
        .await
        .unwrap();
    assert!(matches!(
        show(&f, &mut token).await,
        Err(AuthError::InvalidToken)
    ));
    assert!(matches!(
        complete(&f, &token, NEW_PASSWORD).await,
        Err(AuthError::InvalidToken)
    ));
    assert!(
        f.auth
            .password_reset_status(&f.admin_caller(), f.tenant.id, counsellor.id)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn custom_roles_that_administer_or_counsel_need_four_eyes_too() {
    use cai_core::authz::{Action, PermissionSet};
    let (f, _, _) = setup().await;
    let svc = f.auth.service();
    let admin = f.admin_caller();
    let role = |name: &'static str, actions: &'static [Action]| {
        let (svc, tenant) = (svc.clone(), f.tenant.id);
        async move {
            svc.create_role(
                &admin,
                tenant,
                Name::parse(name).unwrap(),
                PermissionSet::of(actions),
            )
            .await
            .unwrap()
            .id
        }
    };
    let runs_sessions = role("Senior", &[Action::CreateSession]).await;
    let manages_groups = role("Group keeper", &[Action::ManageGroups]).await;
    let reads_audit = role("Reader", &[Action::ViewAuditTrail]).await;
    for (email, role, four_eyes) in [
        ("senior@nord.example", runs_sessions, true),
        ("keeper@nord.example", manages_groups, true),
        ("reader@nord.example", reads_audit, false),
    ] {
        account_with(&f, email, "Pat Person", &[role]).await;
        begin(&f, email).await.unwrap();
        let mail = mails_to(&f, email).pop().unwrap();
        assert_eq!(token_in(&mail).is_none(), four_eyes, "{email}");
    }
    // A tenant that takes `create_session` from its counsellor role: the built-in
    // role still counts.
    svc.set_role_permissions(
        &admin,
        f.tenant.id,
        BuiltinRole::Counsellor.id(),
        PermissionSet::of(&[Action::ViewSession]),
    )
    .await
    .unwrap();
    begin(&f, KIM).await.unwrap();
    assert!(token_in(&mails_to(&f, KIM).pop().unwrap()).is_none());
}

#[tokio::test]
async fn only_the_approver_approves_again_and_that_withdraws_the_old_token() {
    let (f, admin2, counsellor) = setup().await;
    let mut first = approved(&f, &counsellor).await;
    // A second administrator cannot take the approval over.
    let taken = f
        .auth
        .approve_password_reset(&strong(&f, &admin2), f.tenant.id, counsellor.id)
        .await;
    assert!(
        matches!(taken, Err(AuthError::Core(cai_core::Error::Invalid { .. }))),
        "{taken:?}"
    );
    // The approver may, to have a fresh token mailed; the first one stops working.
    f.auth
        .approve_password_reset(&f.admin_caller(), f.tenant.id, counsellor.id)
        .await
        .unwrap();
    let mut second = mailed_token(&f, KIM);
    assert_ne!(first, second);
    assert!(matches!(
        show(&f, &mut first).await,
        Err(AuthError::InvalidToken)
    ));
    let c = show(&f, &mut second).await.unwrap();
    assert_eq!(c.approver, f.admin.id);
}

#[tokio::test]
async fn a_cancellation_needs_something_pending_and_withdraws_a_plain_token_too() {
    let (f, admin2, _) = setup().await;
    let admin = strong(&f, &admin2);
    let nothing = f
        .auth
        .cancel_password_reset(&admin, f.tenant.id, f.client.id)
        .await;
    assert!(
        matches!(
            nothing,
            Err(AuthError::Core(cai_core::Error::Invalid { .. }))
        ),
        "{nothing:?}"
    );
    f.with_password(&f.client).await;
    begin(&f, CLIENT).await.unwrap();
    let token = mailed_token(&f, CLIENT);
    f.auth
        .cancel_password_reset(&admin, f.tenant.id, f.client.id)
        .await
        .unwrap();
    assert!(matches!(
        complete(&f, &token, NEW_PASSWORD).await,
        Err(AuthError::InvalidToken)
    ));
    // Used or expired tokens are nothing to cancel.
    begin(&f, CLIENT).await.unwrap();
    let token = mailed_token(&f, CLIENT);
    complete(&f, &token, NEW_PASSWORD).await.unwrap();
    assert!(
        f.auth
            .cancel_password_reset(&admin, f.tenant.id, f.client.id)
            .await
            .is_err()
    );
    begin(&f, CLIENT).await.unwrap();
    f.clock.advance(f.auth.config().recovery.token_validity);
    assert!(
        f.auth
            .cancel_password_reset(&strong(&f, &admin2), f.tenant.id, f.client.id)
            .await
            .is_err()
    );
}
