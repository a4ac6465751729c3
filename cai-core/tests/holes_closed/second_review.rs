//! Found by the second review of this change.

use super::*;

// Found by the second review of this change.

fn from(last: u8) -> RequestMeta {
    RequestMeta {
        id: None,
        client: Some(IpAddr::V4(Ipv4Addr::new(198, 51, 100, last))),
    }
}

#[tokio::test]
async fn a_right_room_password_never_locks_the_room_for_others() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (_, cora) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let (_, lea) = w.member(&org, "Lea", BuiltinRole::Client).await;
    let r = w
        .svc
        .create_room(&cora, org.id(), room("the password", RoomContent::Keep))
        .await
        .unwrap();
    // 26 wrong guesses spread over 13 addresses: the room's counter is past its 20
    // free failures, no single address is.
    for n in 0..26u8 {
        let guesser = lea.with_request(from(n / 2));
        let _ = w
            .svc
            .enter_room(&guesser, org.id(), r.id, "wrong guess")
            .await;
    }
    w.clock.advance(minutes(10));
    // Lea enters with the right password; right after her, the owner from another
    // address does too.
    w.svc
        .enter_room(&lea.with_request(from(200)), org.id(), r.id, "the password")
        .await
        .unwrap();
    w.svc
        .enter_room(
            &cora.with_request(from(201)),
            org.id(),
            r.id,
            "the password",
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_time_limited_admin_cannot_widen_a_role_into_an_outlasting_admin() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (temp, temp_caller) = w.member(&org, "Temp", BuiltinRole::TenantAdmin).await;
    w.svc
        .update_account(
            &org.admin_caller,
            org.id(),
            temp.id,
            AccountChanges {
                valid_until: Some(Some(w.now().plus(cai_core::days(1)))),
                ..AccountChanges::default()
            },
        )
        .await
        .unwrap();
    let temp_caller = w.caller(org.id(), temp_caller.subject, true);
    let (other, _) = w.member(&org, "Other", BuiltinRole::Counsellor).await;
    let empty = w
        .svc
        .create_role(
            &temp_caller,
            org.id(),
            Name::parse("Empty").unwrap(),
            PermissionSet::EMPTY,
        )
        .await
        .unwrap();
    w.svc
        .grant_role(&temp_caller, org.id(), other.id, empty.id)
        .await
        .unwrap();
    let r = w
        .svc
        .set_role_permissions(
            &temp_caller,
            org.id(),
            empty.id,
            PermissionSet::of(&[Action::ManageAccounts, Action::AssignRoles]),
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
    // Nor may it lift the end of an account holding a custom administrative role.
    let admin_ish = w
        .svc
        .create_role(
            &org.admin_caller,
            org.id(),
            Name::parse("Account steward").unwrap(),
            PermissionSet::of(&[Action::ManageAccounts]),
        )
        .await
        .unwrap();
    let (steward, _) = w.member(&org, "Steward", BuiltinRole::Counsellor).await;
    w.svc
        .grant_role(&org.admin_caller, org.id(), steward.id, admin_ish.id)
        .await
        .unwrap();
    w.svc
        .update_account(
            &org.admin_caller,
            org.id(),
            steward.id,
            AccountChanges {
                valid_until: Some(Some(w.now().plus(cai_core::hours(1)))),
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
            steward.id,
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
}

#[tokio::test]
async fn the_lobby_costs_nothing_to_wait_in_or_to_turn_away() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (_, cora) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let (_, kim) = w.member(&org, "Kim", BuiltinRole::Client).await;
    let r = w
        .svc
        .create_room(
            &cora,
            org.id(),
            NewRoom {
                mode: Some(SessionMode::EndToEnd),
                ..room("e2e room pw", RoomContent::Keep)
            },
        )
        .await
        .unwrap();
    w.svc
        .enter_room(&kim, org.id(), r.id, "e2e room pw")
        .await
        .unwrap();
    // Knocking again while waiting writes nothing.
    let before = w.store.snapshot();
    for _ in 0..5 {
        let e = w
            .svc
            .enter_room(&kim, org.id(), r.id, "e2e room pw")
            .await
            .unwrap();
        assert!(matches!(e, RoomEntry::Waiting { .. }));
    }
    assert_eq!(w.store.snapshot(), before);
    // Turning a waiter away needs no new key epoch, even end to end.
    w.svc
        .remove_participant(&cora, org.id(), r.session, kim.subject, None)
        .await
        .unwrap();
}

#[tokio::test]
async fn cross_tenant_requests_naming_random_tenants_are_one_burst() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (_, cora) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    for _ in 0..30 {
        let elsewhere = cai_core::id::TenantId::random().unwrap();
        let _ = w.svc.tenant(&cora, elsewhere).await;
    }
    let incidents = w.store.incidents(org.id(), None, 100).await.unwrap();
    assert_eq!(incidents.len(), 1, "{incidents:?}");
}
