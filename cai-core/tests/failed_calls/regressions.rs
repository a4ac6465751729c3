//! Each bug the property found, as a deterministic test, and a test of the check.

use super::*;

// ---------------------------------------------------------------------------------
// Regressions: each bug the property found, as a deterministic test.

/// A tenant with Cora (counsellor) and Jo, whose custom role joins sessions and enters
/// rooms but lacks `view_session`.
async fn world_with_joiner() -> (World, Org, Caller, Caller, AccountId) {
    let w = World::new();
    let org = w.org("Nord").await;
    let (_, cora) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let role = w
        .svc
        .create_role(
            &org.admin_caller,
            org.id(),
            name("Joiner"),
            joiner_permissions(),
        )
        .await
        .unwrap();
    let jo = w
        .svc
        .create_account(
            &org.admin_caller,
            org.id(),
            NewAccount::new(email("jo@nord.example"), name("Jo")),
            &[role.id],
        )
        .await
        .unwrap();
    let as_jo = w.caller(org.id(), SubjectId::Account(jo.id), false);
    (w, org, cora, as_jo, jo.id)
}

fn assert_unchanged(before: &MemorySnapshot, after: &MemorySnapshot) {
    if let Err(left) = only_denial_records(before, after) {
        panic!("the failed call left behind:\n{left}");
    }
}

#[tokio::test]
async fn regression_enter_room_fails_after_committing_the_entry_without_view_session() {
    let (w, org, cora, as_jo, _) = world_with_joiner().await;
    let room = w
        .svc
        .create_room(&cora, org.id(), new_room("Room", ROOM_PASSWORD, None))
        .await
        .unwrap();
    // Jo knocks and is admitted: the lobby needs no `view_session` …
    let entry = w
        .svc
        .enter_room(&as_jo, org.id(), room.id, ROOM_PASSWORD)
        .await
        .unwrap();
    let cai_core::service::RoomEntry::Waiting { session } = entry else {
        panic!("{entry:?}");
    };
    w.svc
        .admit(&cora, org.id(), session, as_jo.subject, None)
        .await
        .unwrap();
    // … but being let in shows the meeting, which Jo may not see.
    let before = w.store.snapshot();
    let r = w
        .svc
        .enter_room(&as_jo, org.id(), room.id, ROOM_PASSWORD)
        .await;
    assert!(r.is_err(), "Jo cannot see the session: {r:?}");
    // Fixed: Jo's participant row and a RoomEntered event used to stay behind.
    assert_unchanged(&before, &w.store.snapshot());
}

#[tokio::test]
async fn regression_join_session_fails_after_committing_the_join_without_view_session() {
    let (w, org, cora, as_jo, jo) = world_with_joiner().await;
    let team = w
        .svc
        .create_group(&org.admin_caller, org.id(), name("Team"), &[jo])
        .await
        .unwrap();
    let s = w
        .svc
        .create_session(
            &cora,
            org.id(),
            NewSession {
                groups: vec![team.id],
                ..NewSession::classic()
            },
        )
        .await
        .unwrap()
        .session;
    let before = w.store.snapshot();
    let r = w.svc.join_session(&as_jo, org.id(), s.id).await;
    assert!(r.is_err(), "Jo cannot see the session: {r:?}");
    // Fixed: the session's last_activity/revision update and a ParticipantJoined
    // event used to stay behind.
    assert_unchanged(&before, &w.store.snapshot());
}

/// Fixed: `invite` mails before it commits, so a failed mail stores nothing (it used
/// to leave a closed invitation and two `InvitationSent` events behind).
#[tokio::test]
async fn regression_invite_leaves_nothing_when_the_mail_fails() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (_, cora) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let s = w
        .svc
        .create_session(&cora, org.id(), NewSession::classic())
        .await
        .unwrap()
        .session;
    let before = w.store.snapshot();
    w.mailer.fail_next(true);
    let r = w
        .svc
        .invite(
            &cora,
            org.id(),
            s.id,
            InviteTo::contact(email("x@mail.example")),
            None,
        )
        .await;
    assert!(matches!(r, Err(Error::Mailer(_))), "{r:?}");
    assert!(w.mailer.sent().is_empty());
    assert_eq!(
        before,
        w.store.snapshot(),
        "the failed invite stored something"
    );
    let listed = w
        .svc
        .list_invitations(
            &cora,
            org.id(),
            InvitationFilter::Session(s.id),
            PageRequest::first(),
        )
        .await
        .unwrap();
    assert!(listed.items.is_empty(), "{listed:?}");
}

/// Wrong room passwords from one address, past the throttle: each failed attempt
/// leaves only denial records (an `AccessDenied` event each, then the
/// `RepeatedWrongSecret` incident), and then attempts are turned away.
#[tokio::test]
async fn wrong_room_passwords_leave_only_denial_records_up_to_the_throttle() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (_, cora) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let (_, cli) = w.member(&org, "Cli", BuiltinRole::Client).await;
    let cli = cli.with_request(RequestMeta {
        id: None,
        client: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7))),
    });
    let room = w
        .svc
        .create_room(&cora, org.id(), new_room("Room", ROOM_PASSWORD, None))
        .await
        .unwrap();
    let mut last = None;
    for _ in 0..7 {
        let before = w.store.snapshot();
        let r = w
            .svc
            .enter_room(&cli, org.id(), room.id, "a wrong password")
            .await;
        assert!(r.is_err());
        assert_unchanged(&before, &w.store.snapshot());
        last = Some(r);
    }
    assert!(
        matches!(last, Some(Err(Error::TooManyRequests { .. }))),
        "{last:?}"
    );
    let incidents = w
        .svc
        .incidents(&org.admin_caller, org.id(), PageRequest::first())
        .await
        .unwrap();
    assert!(
        incidents.items.iter().any(|i| matches!(
            i.kind,
            cai_core::domain::IncidentKind::RepeatedWrongSecret { .. }
        )),
        "{incidents:?}"
    );
    // Even the right password is turned away now, and leaves nothing.
    let before = w.store.snapshot();
    let r = w
        .svc
        .enter_room(&cli, org.id(), room.id, ROOM_PASSWORD)
        .await;
    assert!(matches!(r, Err(Error::TooManyRequests { .. })), "{r:?}");
    assert_unchanged(&before, &w.store.snapshot());
}

/// The check itself: a new record of another kind, or a changed record, is caught;
/// denial records are not.
#[tokio::test]
async fn the_check_tells_denial_records_from_other_writes() {
    let w = World::new();
    let org = w.org("Nord").await;
    let b = w.org("Sued").await;
    let (_, cora) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let before = w.store.snapshot();
    // A cross-tenant call: incidents, IncidentRecorded events and notifications in
    // both tenants, nothing else.
    let r = w.svc.tenant(&b.admin_caller, org.id()).await;
    assert!(r.is_err());
    let after = w.store.snapshot();
    assert_ne!(before, after);
    only_denial_records(&before, &after).unwrap();
    // A successful write is more than denial records.
    w.svc
        .create_session(&cora, org.id(), NewSession::classic())
        .await
        .unwrap();
    let later = w.store.snapshot();
    let left = only_denial_records(&after, &later).unwrap_err();
    assert!(
        left.contains("sessions") && left.contains("SessionCreated"),
        "{left}"
    );
    // Going back is caught too (a record removed).
    assert!(only_denial_records(&later, &after).is_err());
}
