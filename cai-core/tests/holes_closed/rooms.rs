//! Holes 3 and 5: rooms are doors with a lobby, one session per meeting; joining and
//! entering check everything before they write.

use super::*;

// 3. A room is a door: each meeting is its own session.

#[tokio::test]
async fn hole_3_one_meetings_content_is_never_visible_in_another() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (_, cora) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let (_, a) = w.member(&org, "Anna", BuiltinRole::Client).await;
    let (_, b) = w.member(&org, "Bert", BuiltinRole::Client).await;
    let r = w
        .svc
        .create_room(&cora, org.id(), room("first password", RoomContent::Keep))
        .await
        .unwrap();

    let first = enter_admitted(&w, &org, &a, &cora, r.id, "first password")
        .await
        .session;
    let said = w
        .svc
        .post_content(
            &a,
            org.id(),
            first.id,
            ContentKind::Message,
            plain("A's worries"),
        )
        .await
        .unwrap();
    // The counsellor changes the password: a new meeting starts, the old one closes.
    let second = w
        .svc
        .change_room_password(&cora, org.id(), r.id, "second password")
        .await
        .unwrap();
    assert_ne!(second.id, first.id);
    assert!(
        !w.store
            .session(org.id(), first.id)
            .await
            .unwrap()
            .unwrap()
            .is_open()
    );
    let entered = enter_admitted(&w, &org, &b, &cora, r.id, "second password").await;
    assert_eq!(entered.session.id, second.id);
    assert!(!entered.participants.iter().any(|p| p.subject == a.subject));

    // B cannot read A's meeting; A cannot read B's.
    let r1 = w
        .svc
        .read_content(&b, org.id(), first.id, said.id, None)
        .await;
    assert!(matches!(r1, Err(Error::NotFound { .. })), "{r1:?}");
    let told = w
        .svc
        .post_content(
            &b,
            org.id(),
            second.id,
            ContentKind::Message,
            plain("B's worries"),
        )
        .await
        .unwrap();
    let r2 = w
        .svc
        .read_content(&a, org.id(), second.id, told.id, None)
        .await;
    assert!(matches!(r2, Err(Error::NotFound { .. })), "{r2:?}");
    let listed = w
        .svc
        .list_items(&b, org.id(), second.id, PageRequest::first())
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);

    // Starting a meeting without a new password works the same way — and whoever knows
    // the password only reaches the lobby: A, who learnt it before, waits outside the
    // next meeting and reads nothing of it.
    let third = w.svc.start_meeting(&cora, org.id(), r.id).await.unwrap();
    let entry = w
        .svc
        .enter_room(&a, org.id(), r.id, "second password")
        .await
        .unwrap();
    assert!(
        matches!(entry, RoomEntry::Waiting { session } if session == third.id),
        "{entry:?}"
    );
    let later = enter_admitted(&w, &org, &b, &cora, r.id, "second password").await;
    let secret_of_b = w
        .svc
        .post_content(
            &b,
            org.id(),
            later.session.id,
            ContentKind::Message,
            plain("later"),
        )
        .await
        .unwrap();
    let r5 = w
        .svc
        .read_content(&a, org.id(), third.id, secret_of_b.id, None)
        .await;
    assert!(matches!(r5, Err(Error::NotFound { .. })), "{r5:?}");
    let r6 = w.svc.session(&a, org.id(), third.id).await;
    assert!(matches!(r6, Err(Error::NotFound { .. })), "{r6:?}");
    // The host sees who waits, and can turn them away.
    let lobby = w.svc.session(&cora, org.id(), third.id).await.unwrap();
    assert!(lobby.participants.iter().any(|p| p.subject == a.subject
        && p.role == cai_core::domain::ParticipantRole::Waiting));
    w.svc
        .remove_participant(&cora, org.id(), third.id, a.subject, None)
        .await
        .unwrap();
    // Someone turned away from the lobby never held a key: the epoch stays.
    let after = w.svc.session(&cora, org.id(), third.id).await.unwrap();
    assert_eq!(after.session.key_epoch, lobby.session.key_epoch);
    let entered = enter_admitted(&w, &org, &a, &cora, r.id, "second password").await;
    assert_eq!(entered.session.id, third.id);
    let r3 = w
        .svc
        .read_content(&a, org.id(), second.id, told.id, None)
        .await;
    assert!(matches!(r3, Err(Error::NotFound { .. })), "{r3:?}");
    // Only the owner starts meetings.
    let r4 = w.svc.start_meeting(&a, org.id(), r.id).await;
    assert!(
        matches!(r4, Err(Error::NotFound { what: "room" })),
        "{r4:?}"
    );
}

#[tokio::test]
async fn hole_3_a_room_can_keep_no_content_at_all() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (_, cora) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let (_, a) = w.member(&org, "Anna", BuiltinRole::Client).await;
    let r = w
        .svc
        .create_room(&cora, org.id(), room("live only pw", RoomContent::Nothing))
        .await
        .unwrap();
    let meeting = enter_admitted(&w, &org, &a, &cora, r.id, "live only pw")
        .await
        .session;
    for who in [&a, &cora] {
        let r = w
            .svc
            .post_content(
                who,
                org.id(),
                meeting.id,
                ContentKind::Message,
                plain("hello"),
            )
            .await;
        assert!(
            matches!(
                r,
                Err(Error::Invalid {
                    what: "content",
                    ..
                })
            ),
            "{r:?}"
        );
    }
    assert!(
        w.store
            .items(org.id(), meeting.id, cai_core::ports::Page::first(10))
            .await
            .unwrap()
            .is_empty()
    );
}

// ---------------------------------------------------------------------------------------
// 5. A call that fails leaves nothing behind.

#[tokio::test]
async fn hole_5_join_and_enter_check_view_session_before_writing() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (_, cora) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    // A custom role that may join and enter but not view.
    let role = w
        .svc
        .create_role(
            &org.admin_caller,
            org.id(),
            Name::parse("Blind").unwrap(),
            PermissionSet::of(&[Action::JoinSession, Action::EnterRoom, Action::ReadContent]),
        )
        .await
        .unwrap();
    let (blind, _) = w.member(&org, "Blind", BuiltinRole::Client).await;
    let second = w.member(&org, "Second", BuiltinRole::TenantAdmin).await.1;
    w.svc
        .revoke_role(&second, org.id(), blind.id, BuiltinRole::Client.id())
        .await
        .unwrap();
    w.svc
        .grant_role(&second, org.id(), blind.id, role.id)
        .await
        .unwrap();
    let blind = w.account_caller(&org, blind.id);

    let r = w
        .svc
        .create_room(&cora, org.id(), room("room password", RoomContent::Keep))
        .await
        .unwrap();
    // Knocking needs no `view_session`; being let in after admission does.
    let entry = w
        .svc
        .enter_room(&blind, org.id(), r.id, "room password")
        .await
        .unwrap();
    assert!(matches!(entry, RoomEntry::Waiting { .. }), "{entry:?}");
    w.svc
        .admit(&cora, org.id(), r.session, blind.subject, None)
        .await
        .unwrap();
    let audit_before = w.store.audit_events(org.id(), 0, 1000).await.unwrap().len();
    let parts_before = w.store.participants(org.id(), r.session).await.unwrap();
    let e = w
        .svc
        .enter_room(&blind, org.id(), r.id, "room password")
        .await;
    assert!(e.is_err(), "{e:?}");
    assert_eq!(
        w.store.participants(org.id(), r.session).await.unwrap(),
        parts_before
    );
    assert_eq!(
        w.store.audit_events(org.id(), 0, 1000).await.unwrap().len(),
        audit_before
    );

    // A session the blind account takes part in: joining it writes nothing either.
    let s = w
        .svc
        .create_session(&cora, org.id(), server_managed())
        .await
        .unwrap()
        .session;
    let mut batch = cai_core::ports::Batch::new(org.id());
    batch.push(Write::PutParticipant(cai_core::domain::Participant {
        session: s.id,
        tenant: org.id(),
        subject: blind.subject,
        role: cai_core::domain::ParticipantRole::Client,
        joined_at: w.now(),
    }));
    cai_core::ports::Store::commit(w.store.as_ref(), batch)
        .await
        .unwrap();
    let session_before = w.store.session(org.id(), s.id).await.unwrap();
    let audit_before = w.store.audit_events(org.id(), 0, 1000).await.unwrap().len();
    let j = w.svc.join_session(&blind, org.id(), s.id).await;
    assert!(j.is_err(), "{j:?}");
    assert_eq!(
        w.store.session(org.id(), s.id).await.unwrap(),
        session_before
    );
    assert_eq!(
        w.store.audit_events(org.id(), 0, 1000).await.unwrap().len(),
        audit_before
    );
}

// ---------------------------------------------------------------------------------------
