//! Who may change whose devices.

use super::*;

#[tokio::test]
async fn r_e4_a_guest_cannot_add_or_remove_others_devices() {
    let w = World::new();
    let org = w.org("Nord").await;
    let t = org.id();
    let (_, cora_caller) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let (ben, ben_caller) = w.member(&org, "Ben", BuiltinRole::Counsellor).await;
    let s = w
        .svc
        .create_session(
            &cora_caller,
            t,
            NewSession {
                mode: Some(SessionMode::EndToEnd),
                ..NewSession::ad_hoc()
            },
        )
        .await
        .unwrap()
        .session;
    let g = gid(t, s.id);
    let mut cora = Client::new(&cora_caller, "cora-laptop");
    start(&w, &mut cora, t, s.id).await;
    let invited = w
        .svc
        .invite(
            &cora_caller,
            t,
            s.id,
            InviteTo::GuestLink { max_uses: 1 },
            None,
        )
        .await
        .unwrap();
    let secret = invited.into_secret().unwrap();
    let (_, guest_caller) = w
        .svc
        .join_as_guest(t, &secret, Pseudonym::parse("Sky").unwrap())
        .await
        .unwrap();
    let mut guest = Client::new(&guest_caller, "guest-browser");
    let benc = Client::new(&ben_caller, "ben-laptop");
    publish(&w, &guest, t).await;
    publish(&w, &benc, t).await;
    w.svc
        .add_counsellor(&cora_caller, t, s.id, ben.id, None)
        .await
        .unwrap();

    // Cora adds the guest's device; the guest joins.
    let commit = add_commit(&w, &mut cora, guest_caller.subject, t, s.id).await;
    w.svc
        .post_e2e_commit(&cora_caller, t, s.id, commit)
        .await
        .unwrap();
    cora.device.confirm(&g).unwrap();
    join(&w, &mut guest, t, s.id).await;

    // The guest may not claim Ben's packages, nor add Ben's device with a commit made
    // from packages it got elsewhere: that needs invite_participants.
    let r = w
        .svc
        .claim_key_packages(&guest_caller, t, s.id, SubjectId::Account(ben.id))
        .await;
    assert!(r.is_err(), "{r:?}");
    let ben_kp = benc.device.key_package(false).unwrap();
    let commit: E2eCommit = guest.device.add(&g, &[ben_kp]).unwrap().into();
    let before = w.store.snapshot();
    let r = w.svc.post_e2e_commit(&guest_caller, t, s.id, commit).await;
    assert!(matches!(r, Err(Error::Denied { .. })), "{r:?}");
    guest.device.discard(&g).unwrap();
    assert_eq!(
        before,
        w.store.snapshot(),
        "a refused commit leaves no trace"
    );

    // Nor remove Cora's device.
    let commit: E2eCommit = guest
        .device
        .remove(&g, &cora.account(), None)
        .unwrap()
        .into();
    let r = w.svc.post_e2e_commit(&guest_caller, t, s.id, commit).await;
    assert!(r.is_err(), "{r:?}");
    guest.device.discard(&g).unwrap();
    // Its own key update is fine.
    let update: E2eCommit = guest.device.update(&g).unwrap().into();
    assert_eq!(
        w.svc
            .post_e2e_commit(&guest_caller, t, s.id, update)
            .await
            .unwrap(),
        2
    );
}
