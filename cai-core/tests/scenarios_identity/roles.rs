//! Roles, custom roles, second factors, groups and admin notices (R-I2..R-I5).

use super::*;

#[tokio::test]
async fn r_i3_administrators_do_not_read_content_even_with_the_permission() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (_, counsellor) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let s = server_session(&w, &org, &counsellor).await;
    let item = w
        .svc
        .post_content(
            &counsellor,
            org.id(),
            s.id,
            ContentKind::Note,
            plain("case notes"),
        )
        .await
        .unwrap();
    let r = w
        .svc
        .read_content(&org.admin_caller, org.id(), s.id, item.id, None)
        .await;
    // To an administrator the session does not even exist (answer alike).
    assert!(
        matches!(r, Err(Error::NotFound { what: "session" })),
        "{r:?}"
    );

    // Even a tenant that hands its admin role every permission gets no content without
    // participation.
    let all: PermissionSet = Action::ALL.iter().copied().collect();
    // An administrator cannot widen a role it holds (four eyes) ...
    let r = w
        .svc
        .set_role_permissions(
            &org.admin_caller,
            org.id(),
            BuiltinRole::TenantAdmin.id(),
            all,
        )
        .await;
    assert_eq!(denied(&r), Some(DenyReason::FourEyes), "{r:?}");
    // ... nor join a group the session is shared with on its own.
    let r = w
        .svc
        .create_group(
            &org.admin_caller,
            org.id(),
            Name::parse("Me").unwrap(),
            &[org.admin.id],
        )
        .await;
    assert_eq!(denied(&r), Some(DenyReason::FourEyes), "{r:?}");
    // Someone who does not hold the role may widen it; it still gives no content.
    let steward = w
        .svc
        .create_role(
            &org.admin_caller,
            org.id(),
            Name::parse("Role steward").unwrap(),
            PermissionSet::of(&[Action::ManageRoles]),
        )
        .await
        .unwrap();
    let (other, _) = w.member(&org, "Steward", BuiltinRole::Auditor).await;
    w.svc
        .grant_role(&org.admin_caller, org.id(), other.id, steward.id)
        .await
        .unwrap();
    let other = w.caller(org.id(), SubjectId::Account(other.id), true);
    w.svc
        .set_role_permissions(&other, org.id(), BuiltinRole::TenantAdmin.id(), all)
        .await
        .unwrap();
    let r = w
        .svc
        .read_content(&org.admin_caller, org.id(), s.id, item.id, None)
        .await;
    assert!(
        matches!(r, Err(Error::NotFound { what: "session" })),
        "{r:?}"
    );
    let r = w.svc.session_keys(&org.admin_caller, org.id(), s.id).await;
    assert!(
        matches!(r, Err(Error::NotFound { what: "session" })),
        "{r:?}"
    );
}

#[tokio::test]
async fn r_i2_custom_roles_several_roles_and_revocation_at_once() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (cora, counsellor) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let supervisor = w
        .svc
        .create_role(
            &org.admin_caller,
            org.id(),
            Name::parse("Supervisor").unwrap(),
            PermissionSet::of(&[Action::ViewAuditTrail, Action::ViewReports]),
        )
        .await
        .unwrap();
    let r = w
        .svc
        .audit_trail(&counsellor, org.id(), PageRequest::with_limit(10))
        .await;
    assert_eq!(denied(&r), Some(DenyReason::NoPermission), "{r:?}");

    let a = w
        .svc
        .grant_role(&org.admin_caller, org.id(), cora.id, supervisor.id)
        .await
        .unwrap();
    assert!(a.has_role(supervisor.id) && a.has_role(BuiltinRole::Counsellor.id()));
    assert!(
        !w.svc
            .audit_trail(&counsellor, org.id(), PageRequest::with_limit(10))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    // Still a counsellor too.
    server_session(&w, &org, &counsellor).await;

    w.svc
        .revoke_role(&org.admin_caller, org.id(), cora.id, supervisor.id)
        .await
        .unwrap();
    let r = w
        .svc
        .audit_trail(&counsellor, org.id(), PageRequest::with_limit(10))
        .await;
    assert_eq!(
        denied(&r),
        Some(DenyReason::NoPermission),
        "revocation is immediate: {r:?}"
    );

    // Changing a built-in's permissions in one tenant applies at once, too.
    let without_sessions = BuiltinRole::Counsellor
        .default_permissions()
        .without(Action::CreateSession);
    w.svc
        .set_role_permissions(
            &org.admin_caller,
            org.id(),
            BuiltinRole::Counsellor.id(),
            without_sessions,
        )
        .await
        .unwrap();
    let r = w
        .svc
        .create_session(&counsellor, org.id(), NewSession::classic())
        .await;
    assert_eq!(denied(&r), Some(DenyReason::NoPermission), "{r:?}");

    // Nobody but an admin grants roles, and a counsellor cannot make itself admin.
    let r = w
        .svc
        .grant_role(
            &counsellor,
            org.id(),
            cora.id,
            BuiltinRole::TenantAdmin.id(),
        )
        .await;
    assert_eq!(denied(&r), Some(DenyReason::NoPermission), "{r:?}");
}

#[tokio::test]
async fn administrative_actions_need_a_second_factor_and_a_recent_login() {
    let w = World::new();
    let org = w.org("Nord").await;
    let new = |n: &str| {
        NewAccount::new(
            Email::parse(&format!("{n}@nord.example")).unwrap(),
            Name::parse(n).unwrap(),
        )
    };
    let weak = w.caller(org.id(), SubjectId::Account(org.admin.id), false);
    let r = w.svc.create_account(&weak, org.id(), new("a"), &[]).await;
    assert_eq!(denied(&r), Some(DenyReason::SecondFactorRequired), "{r:?}");

    let stale = Caller {
        authentication: Authentication {
            second_factor: true,
            at: w.now(),
        },
        ..weak
    };
    w.clock.advance(minutes(16));
    let r = w.svc.create_account(&stale, org.id(), new("b"), &[]).await;
    assert_eq!(
        denied(&r),
        Some(DenyReason::ReauthenticationRequired),
        "{r:?}"
    );

    let fresh = w.caller(org.id(), SubjectId::Account(org.admin.id), true);
    w.svc
        .create_account(&fresh, org.id(), new("c"), &[])
        .await
        .unwrap();
}

#[tokio::test]
async fn r_i4_groups_decide_who_works_on_a_case() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (_, cora) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let (ben, ben_caller) = w.member(&org, "Ben", BuiltinRole::Counsellor).await;
    let (_, eve) = w.member(&org, "Eve", BuiltinRole::Counsellor).await;
    let team = w
        .svc
        .create_group(
            &org.admin_caller,
            org.id(),
            Name::parse("Team Nord").unwrap(),
            &[ben.id],
        )
        .await
        .unwrap();
    let s = w
        .svc
        .create_session(
            &cora,
            org.id(),
            NewSession {
                mode: Some(SessionMode::ServerManaged),
                groups: vec![team.id],
                ..NewSession::classic()
            },
        )
        .await
        .unwrap()
        .session;
    let item = w
        .svc
        .post_content(
            &cora,
            org.id(),
            s.id,
            ContentKind::Note,
            plain("shared case"),
        )
        .await
        .unwrap();
    w.svc
        .read_content(&ben_caller, org.id(), s.id, item.id, None)
        .await
        .unwrap();
    let r = w
        .svc
        .read_content(&eve, org.id(), s.id, item.id, None)
        .await;
    assert!(
        matches!(r, Err(Error::NotFound { what: "session" })),
        "{r:?}"
    );
    // Team members work on the case but do not run the session, joined or not.
    w.svc
        .join_session(&ben_caller, org.id(), s.id)
        .await
        .unwrap();
    let r = w.svc.close_session(&ben_caller, org.id(), s.id).await;
    assert_eq!(denied(&r), Some(DenyReason::NoRelation), "{r:?}");

    w.svc
        .set_group_members(&org.admin_caller, org.id(), team.id, &[])
        .await
        .unwrap();
    let r = w
        .svc
        .read_content(&ben_caller, org.id(), s.id, item.id, None)
        .await;
    assert!(
        matches!(r, Err(Error::NotFound { what: "session" })),
        "{r:?}"
    );
}

#[tokio::test]
async fn r_i5_admins_hear_of_every_security_relevant_change_even_when_the_notifier_is_down() {
    let w = World::new();
    let org = w.org("Nord").await;
    // The first admin itself was announced.
    assert!(
        w.notifier
            .delivered()
            .iter()
            .any(|n| n.kind == AuditKind::AccountCreated && n.tenant == org.id())
    );

    w.notifier.set_failing(true);
    let second = w
        .svc
        .create_account(
            &org.admin_caller,
            org.id(),
            NewAccount::new(
                Email::parse("second.admin@nord.example").unwrap(),
                Name::parse("Second").unwrap(),
            ),
            &[BuiltinRole::TenantAdmin.id()],
        )
        .await
        .unwrap();
    // The change is committed, its notice queued with it.
    let pending = w.store.pending_notifications(org.id(), 100).await.unwrap();
    assert!(pending.iter().any(|n| n.kind == AuditKind::AccountCreated));
    assert!(pending.iter().any(|n| n.kind == AuditKind::RoleGranted));
    assert!(pending.iter().all(|n| n.recipients.contains(&org.admin.id)));

    w.notifier.set_failing(false);
    let delivered = w.svc.deliver_notifications(org.id()).await.unwrap();
    assert_eq!(delivered, pending.len());
    assert!(
        w.store
            .pending_notifications(org.id(), 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        w.notifier
            .delivered()
            .iter()
            .any(|n| n.kind == AuditKind::AccountCreated
                && n.object == cai_core::domain::AuditObject::Account(second.id))
    );
}
