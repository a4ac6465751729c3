//! Holes 4 and 6: group changes are announced; four eyes on one's own window and the
//! lasting-administrator guard.

use super::*;

// 4. Group changes are security relevant, and the admins hear of them.

#[tokio::test]
async fn hole_4_changing_group_members_notifies_the_admins() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (ben, _) = w.member(&org, "Ben", BuiltinRole::Counsellor).await;
    let g = w
        .svc
        .create_group(
            &org.admin_caller,
            org.id(),
            Name::parse("Team").unwrap(),
            &[],
        )
        .await
        .unwrap();
    let before = w.notifier.delivered().len();
    w.svc
        .set_group_members(&org.admin_caller, org.id(), g.id, &[ben.id])
        .await
        .unwrap();
    let delivered = w.notifier.delivered();
    assert_eq!(delivered.len(), before + 1);
    assert_eq!(
        delivered.last().unwrap().kind,
        AuditKind::GroupMembersChanged
    );
}

// ---------------------------------------------------------------------------------------
// 6. Four eyes on one's own window; the last admin who can act for good stays.

#[tokio::test]
async fn hole_6_a_time_limited_admin_cannot_lift_its_own_end_date() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (temp, temp_caller) = w.member(&org, "Temp", BuiltinRole::TenantAdmin).await;
    w.svc
        .update_account(
            &org.admin_caller,
            org.id(),
            temp.id,
            AccountChanges {
                valid_until: Some(Some(w.now().plus(cai_core::days(30)))),
                ..AccountChanges::default()
            },
        )
        .await
        .unwrap();
    let r = w
        .svc
        .update_account(
            &temp_caller,
            org.id(),
            temp.id,
            AccountChanges {
                valid_until: Some(None),
                ..AccountChanges::default()
            },
        )
        .await;
    assert!(
        matches!(
            r,
            Err(Error::Denied {
                reason: DenyReason::FourEyes,
                ..
            })
        ),
        "{r:?}"
    );
    // Its own display name it may change.
    w.svc
        .update_account(
            &temp_caller,
            org.id(),
            temp.id,
            AccountChanges {
                display_name: Some(Name::parse("Temporary").unwrap()),
                ..AccountChanges::default()
            },
        )
        .await
        .unwrap();

    // The time-limited admin does not count as the tenant's lasting administrator: it
    // cannot remove the one that does, nor give it an end date.
    let r = w
        .svc
        .revoke_role(
            &temp_caller,
            org.id(),
            org.admin.id,
            BuiltinRole::TenantAdmin.id(),
        )
        .await;
    assert!(matches!(r, Err(Error::Conflict { .. })), "{r:?}");
    let r = w
        .svc
        .update_account(
            &temp_caller,
            org.id(),
            org.admin.id,
            AccountChanges {
                valid_until: Some(Some(w.now().plus(cai_core::days(1)))),
                ..AccountChanges::default()
            },
        )
        .await;
    assert!(matches!(r, Err(Error::Conflict { .. })), "{r:?}");
    let r = w
        .svc
        .deactivate_account(&temp_caller, org.id(), org.admin.id, None)
        .await;
    assert!(matches!(r, Err(Error::Conflict { .. })), "{r:?}");
}

#[tokio::test]
async fn hole_6_a_locked_admin_is_no_lasting_admin() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (locked, _) = w.member(&org, "Locked", BuiltinRole::TenantAdmin).await;
    let mut a = w.store.account(org.id(), locked.id).await.unwrap().unwrap();
    a.status = AccountStatus::Locked {
        at: w.now(),
        until: None,
    };
    let mut batch = cai_core::ports::Batch::new(org.id());
    batch.push(Write::UpdateAccount(a));
    cai_core::ports::Store::commit(w.store.as_ref(), batch)
        .await
        .unwrap();
    let locked_caller = w.caller(org.id(), SubjectId::Account(locked.id), true);
    let r = w.svc.account(&locked_caller, org.id(), locked.id).await;
    assert!(matches!(r, Err(Error::AccountNotUsable)), "{r:?}");
    // With the other admin locked, the first is the last one who can act.
    let (_, third) = w.member(&org, "Third", BuiltinRole::Counsellor).await;
    let _ = third;
    let r = w
        .svc
        .delete_account(&org.admin_caller, org.id(), org.admin.id)
        .await;
    assert!(matches!(r, Err(Error::Conflict { .. })), "{r:?}");
}

// ---------------------------------------------------------------------------------------
