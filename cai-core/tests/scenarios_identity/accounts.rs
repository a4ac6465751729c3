//! Account windows, deactivation, pseudonymisation and deletion (R-I6, R-I7, R-P3).

use super::*;

#[tokio::test]
async fn r_i6_accounts_log_in_only_inside_their_window() {
    let w = World::new();
    let org = w.org("Nord").await;
    let account = w
        .svc
        .create_account(
            &org.admin_caller,
            org.id(),
            NewAccount {
                valid_from: Some(START.plus(days(1))),
                valid_until: Some(START.plus(days(10))),
                ..NewAccount::new(
                    Email::parse("temp@nord.example").unwrap(),
                    Name::parse("Temp").unwrap(),
                )
            },
            &[BuiltinRole::Counsellor.id()],
        )
        .await
        .unwrap();
    let me = |w: &World| w.account_caller(&org, account.id);
    let r = w
        .svc
        .create_session(&me(&w), org.id(), NewSession::classic())
        .await;
    assert!(matches!(r, Err(Error::AccountNotUsable)), "{r:?}");
    w.clock.advance(days(2));
    w.svc
        .create_session(&me(&w), org.id(), NewSession::classic())
        .await
        .unwrap();
    w.clock.advance(days(9));
    let r = w
        .svc
        .create_session(&me(&w), org.id(), NewSession::classic())
        .await;
    assert!(matches!(r, Err(Error::AccountNotUsable)), "{r:?}");

    // A window that ends before it starts is refused.
    let r = w
        .svc
        .update_account(
            &w.caller(org.id(), SubjectId::Account(org.admin.id), true),
            org.id(),
            account.id,
            AccountChanges {
                valid_until: Some(Some(START)),
                ..AccountChanges::default()
            },
        )
        .await;
    assert!(matches!(r, Err(Error::Invalid { .. })), "{r:?}");
}

#[tokio::test]
async fn r_i7_deactivation_schedules_pseudonymisation_and_reactivation_cancels_it() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (kim, kim_caller) = w.member(&org, "Kim", BuiltinRole::Client).await;
    let admin = |w: &World| w.caller(org.id(), SubjectId::Account(org.admin.id), true);
    let mut batch = Batch::new(org.id());
    batch.push(Write::PutCredential(Credential {
        tenant: org.id(),
        account: kim.id,
        kind: CredentialKind::Password,
        data: b"$argon2id$...".to_vec(),
        updated_at: START,
        revision: 0,
    }));
    w.store.commit(batch).await.unwrap();

    let a = w
        .svc
        .deactivate_account(&admin(&w), org.id(), kim.id, None)
        .await
        .unwrap();
    let AccountStatus::Deactivated {
        pseudonymise_at, ..
    } = a.status
    else {
        panic!("deactivated");
    };
    assert_eq!(pseudonymise_at, w.now().plus(days(30)), "tenant default");
    let r = w.svc.account(&kim_caller, org.id(), kim.id).await;
    assert!(matches!(r, Err(Error::AccountNotUsable)), "{r:?}");

    // Reactivation before the date cancels the pseudonymisation.
    w.clock.advance(days(10));
    w.svc
        .reactivate_account(&admin(&w), org.id(), kim.id)
        .await
        .unwrap();
    w.clock.advance(days(30));
    assert_eq!(w.svc.run_pseudonymisation(org.id()).await.unwrap(), 0);
    let a = w.store.account(org.id(), kim.id).await.unwrap().unwrap();
    assert_eq!(a.status, AccountStatus::Active);
    assert!(a.email.is_some());

    // Deactivated again with an explicit date: pseudonymised when it comes, not before.
    let date = w.now().plus(days(3));
    w.svc
        .deactivate_account(&admin(&w), org.id(), kim.id, Some(date))
        .await
        .unwrap();
    w.clock.advance(days(2));
    assert_eq!(w.svc.run_pseudonymisation(org.id()).await.unwrap(), 0);
    w.clock.advance(days(1));
    assert_eq!(w.svc.run_pseudonymisation(org.id()).await.unwrap(), 1);
    assert_eq!(
        w.svc.run_pseudonymisation(org.id()).await.unwrap(),
        0,
        "idempotent"
    );
    let a = w.store.account(org.id(), kim.id).await.unwrap().unwrap();
    assert!(matches!(a.status, AccountStatus::Pseudonymised { .. }));
    assert!(a.email.is_none() && a.roles.is_empty());
    assert_ne!(a.display_name.as_str(), "Kim");
    assert!(
        w.store
            .credential(org.id(), kim.id, CredentialKind::Password)
            .await
            .unwrap()
            .is_none()
    );
    let r = w.svc.reactivate_account(&admin(&w), org.id(), kim.id).await;
    assert!(matches!(r, Err(Error::Invalid { .. })), "{r:?}");
}

#[tokio::test]
async fn r_p3_account_deletion_is_immediate_and_the_last_admin_stays() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (_, cora) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let (kim, kim_caller) = w.member(&org, "Kim", BuiltinRole::Client).await;
    let s = server_session(&w, &org, &cora).await;
    // Kim joins through an accepted invitation in real use; here the host adds a
    // participant row directly to keep the test on deletion.
    let mut batch = Batch::new(org.id());
    batch.push(Write::PutParticipant(cai_core::domain::Participant {
        session: s.id,
        tenant: org.id(),
        subject: SubjectId::Account(kim.id),
        role: cai_core::domain::ParticipantRole::Client,
        joined_at: START,
    }));
    w.store.commit(batch).await.unwrap();

    w.svc
        .delete_account(&kim_caller, org.id(), kim.id)
        .await
        .unwrap();
    assert!(w.store.account(org.id(), kim.id).await.unwrap().is_none());
    assert!(
        !w.store
            .participants(org.id(), s.id)
            .await
            .unwrap()
            .iter()
            .any(|p| p.subject == SubjectId::Account(kim.id))
    );
    let r = w.svc.account(&kim_caller, org.id(), kim.id).await;
    assert!(matches!(r, Err(Error::AccountNotUsable)), "{r:?}");
    assert!(
        w.store
            .audit_events(org.id(), 0, 1000)
            .await
            .unwrap()
            .iter()
            .any(|(_, e)| e.kind == AuditKind::AccountDeleted)
    );

    let r = w
        .svc
        .delete_account(&org.admin_caller, org.id(), org.admin.id)
        .await;
    assert!(matches!(r, Err(Error::Conflict { .. })), "{r:?}");
    let r = w
        .svc
        .revoke_role(
            &org.admin_caller,
            org.id(),
            org.admin.id,
            BuiltinRole::TenantAdmin.id(),
        )
        .await;
    // Nobody changes their own roles (four eyes).
    assert_eq!(denied(&r), Some(DenyReason::FourEyes), "{r:?}");
    // A second admin may demote the first; then the second is the last one left.
    let (second, second_caller) = w.member(&org, "Second", BuiltinRole::TenantAdmin).await;
    w.svc
        .revoke_role(
            &second_caller,
            org.id(),
            org.admin.id,
            BuiltinRole::TenantAdmin.id(),
        )
        .await
        .unwrap();
    let r = w
        .svc
        .delete_account(&second_caller, org.id(), second.id)
        .await;
    assert!(
        matches!(r, Err(Error::Conflict { .. })),
        "last admin: {r:?}"
    );
    let r = w
        .svc
        .deactivate_account(&second_caller, org.id(), second.id, None)
        .await;
    assert!(
        matches!(r, Err(Error::Conflict { .. })),
        "last admin: {r:?}"
    );
}
