//! Whole scenarios: a group, its history shared by tenant policy, and the Delivery
//! Service ordering commits and following the participants.

use super::*;

#[tokio::test]
async fn r_e4_group_and_history_sharing_by_tenant_policy() {
    for allow in [false, true] {
        let w = World::new();
        let settings = TenantSettings {
            allow_history_sharing: allow,
            ..TenantSettings::default()
        };
        let org = w.org_with("Nord", settings).await;
        let t = org.id();
        let (_, cora_caller) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
        let (ben, ben_caller) = w.member(&org, "Ben", BuiltinRole::Counsellor).await;
        let s = w
            .svc
            .create_session(&cora_caller, t, e2e())
            .await
            .unwrap()
            .session;
        let mut cora = Client::new(&cora_caller, "cora-laptop");
        let mut benc = Client::new(&ben_caller, "ben-laptop");
        let g = gid(t, s.id);

        // Before the group starts nothing can be posted.
        let early = envelope::seal(
            &cai_crypto::DataKey::generate(cai_crypto::KeyEpoch(0)).unwrap(),
            &ItemContext::new(b"t", b"s", b"i", 1, ContentKind::Message),
            b"x",
        )
        .unwrap();
        let r = w
            .svc
            .post_content(&cora_caller, t, s.id, ContentKind::Message, sealed(early))
            .await;
        assert!(matches!(r, Err(Error::WrongMode { .. })), "{r:?}");
        assert!(matches!(
            w.svc.session_keys(&cora_caller, t, s.id).await.unwrap(),
            SessionKeyMaterial::EndToEnd { epoch: None, .. }
        ));

        // A group made for another session is refused; the right one starts.
        let other = w
            .svc
            .create_session(&cora_caller, t, e2e())
            .await
            .unwrap()
            .session;
        let d = ModeDescriptor::sign(
            &cora.key,
            &cora.account(),
            t.to_string().as_bytes(),
            other.id.to_string().as_bytes(),
            cai_crypto::modes::SessionMode::EndToEnd,
        )
        .unwrap();
        let (info, record) = cora.device.create_group(&d).unwrap();
        let r = w
            .svc
            .start_e2e_group(&cora_caller, t, s.id, info, record)
            .await;
        assert!(matches!(r, Err(Error::Crypto(_))), "{r:?}");
        start(&w, &mut cora, t, s.id).await;

        let (tt, ss) = (t.to_string(), s.id.to_string());
        let ctx = ItemContext::new(
            tt.as_bytes(),
            ss.as_bytes(),
            b"msg-1",
            1,
            ContentKind::Message,
        );
        let body = cora.device.seal(&g, &ctx, b"early history").unwrap();
        let item = w
            .svc
            .post_content(
                &cora_caller,
                t,
                s.id,
                ContentKind::Message,
                sealed(body.clone()),
            )
            .await
            .unwrap();

        // Ben is added as counsellor, with the commit adding his device.
        publish(&w, &benc, t).await;
        // Claiming a non-participant's packages is allowed to whoever invites…
        let commit = add_commit(&w, &mut cora, SubjectId::Account(ben.id), t, s.id).await;
        w.svc
            .add_counsellor(&cora_caller, t, s.id, ben.id, Some(commit))
            .await
            .unwrap();
        cora.device.confirm(&g).unwrap();
        join(&w, &mut benc, t, s.id).await;
        // The group is at epoch 1 now: content sealed under epoch 0's key is refused,
        // Ben could not read it.
        let r = w
            .svc
            .post_content(&cora_caller, t, s.id, ContentKind::Message, sealed(body))
            .await;
        assert!(
            matches!(
                r,
                Err(Error::StaleKey {
                    reason: "process e2e_epochs and seal under the group's current epoch"
                })
            ),
            "{r:?}"
        );
        assert_eq!(
            cora.device.verification_code(&g).unwrap(),
            benc.device.verification_code(&g).unwrap()
        );
        // …but Ben's device cannot read epoch 0 yet.
        let view = w
            .svc
            .read_content(&ben_caller, t, s.id, item.id, None)
            .await
            .unwrap();
        let ContentBody::Sealed(stored) = view.body else {
            panic!("sealed")
        };
        assert!(matches!(
            benc.device.open(&g, &ctx, stored.as_bytes()),
            Err(cai_crypto::Error::EpochUnavailable { epoch: 0, .. })
        ));

        let grant = cora
            .device
            .grant_history(&g, &[benc.device.credential().clone()], 0..=0)
            .unwrap();
        let r = w
            .svc
            .share_history(&cora_caller, t, s.id, ben.id, grant)
            .await;
        if !allow {
            assert!(matches!(r, Err(Error::HistorySharingNotAllowed)), "{r:?}");
            continue;
        }
        r.unwrap();
        assert!(
            w.notifier
                .delivered()
                .iter()
                .any(|n| n.kind == cai_core::domain::AuditKind::HistoryShared)
        );
        let SessionKeyMaterial::EndToEnd {
            epoch,
            history_grant,
        } = w.svc.session_keys(&ben_caller, t, s.id).await.unwrap()
        else {
            panic!("end-to-end material");
        };
        assert_eq!(epoch, Some(1));
        let records: Vec<Vec<u8>> = epochs(&w, &ben_caller, t, s.id)
            .await
            .into_iter()
            .map(|e| e.record)
            .collect();
        assert_eq!(
            benc.device
                .accept_history(&g, &history_grant.unwrap(), &records)
                .unwrap(),
            1
        );
        let opened = benc.device.open(&g, &ctx, stored.as_bytes()).unwrap();
        assert_eq!(opened.plaintext, b"early history");
        assert_eq!(opened.sender.account(), &cora.account());
    }
}

#[tokio::test]
async fn r_e4_delivery_service_orders_commits_and_follows_participants() {
    let w = World::new();
    let org = w.org("Nord").await;
    let t = org.id();
    let (_, cora_caller) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let (ben, ben_caller) = w.member(&org, "Ben", BuiltinRole::Counsellor).await;
    let (eve, eve_caller) = w.member(&org, "Eve", BuiltinRole::Counsellor).await;
    let s = w
        .svc
        .create_session(&cora_caller, t, e2e())
        .await
        .unwrap()
        .session;
    let g = gid(t, s.id);
    let mut cora = Client::new(&cora_caller, "cora-laptop");
    let mut benc = Client::new(&ben_caller, "ben-laptop");
    let evec = Client::new(&eve_caller, "eve-laptop");

    // Only the owner starts the group, once.
    let mut impostor = Client::new(&ben_caller, "ben-phone");
    let d = ModeDescriptor::sign(
        &impostor.key,
        &impostor.account(),
        t.to_string().as_bytes(),
        s.id.to_string().as_bytes(),
        cai_crypto::modes::SessionMode::EndToEnd,
    )
    .unwrap();
    let (info, record) = impostor.device.create_group(&d).unwrap();
    let r = w
        .svc
        .start_e2e_group(&ben_caller, t, s.id, info, record)
        .await;
    assert!(r.is_err(), "{r:?}");
    start(&w, &mut cora, t, s.id).await;

    // Key packages name their publisher: Eve cannot publish Ben's.
    let r = w
        .svc
        .publish_key_packages(
            &eve_caller,
            t,
            vec![benc.device.key_package(false).unwrap()],
        )
        .await;
    assert!(matches!(r, Err(Error::Invalid { .. })), "{r:?}");
    publish(&w, &benc, t).await;
    publish(&w, &evec, t).await;

    // Key packages are claimed only for participants and counsellors who could be
    // added: not for a client of the tenant who takes no part.
    let (kim, kim_caller) = w.member(&org, "Kim", BuiltinRole::Client).await;
    publish(&w, &Client::new(&kim_caller, "kim-phone"), t).await;
    let r = w
        .svc
        .claim_key_packages(&cora_caller, t, s.id, SubjectId::Account(kim.id))
        .await;
    assert!(matches!(r, Err(Error::Invalid { .. })), "{r:?}");

    // A device of someone who does not take part is never added.
    let commit = add_commit(&w, &mut cora, SubjectId::Account(eve.id), t, s.id).await;
    let r = w.svc.post_e2e_commit(&cora_caller, t, s.id, commit).await;
    assert!(matches!(r, Err(Error::Invalid { .. })), "{r:?}");
    cora.device.discard(&g).unwrap();

    // Ben joins the session first, then his device is added by a post.
    w.svc
        .add_counsellor(&cora_caller, t, s.id, ben.id, None)
        .await
        .unwrap();
    let commit = add_commit(&w, &mut cora, SubjectId::Account(ben.id), t, s.id).await;
    // A commit adding devices brings their welcome, and only such a commit has one.
    let no_welcome = E2eCommit {
        welcome: None,
        ..commit.clone()
    };
    let r = w
        .svc
        .post_e2e_commit(&cora_caller, t, s.id, no_welcome)
        .await;
    assert!(matches!(r, Err(Error::Invalid { .. })), "{r:?}");
    // Nobody posts another device's commit.
    let r = w
        .svc
        .post_e2e_commit(&ben_caller, t, s.id, commit.clone())
        .await;
    assert!(matches!(r, Err(Error::Invalid { .. })), "{r:?}");
    assert_eq!(
        w.svc
            .post_e2e_commit(&cora_caller, t, s.id, commit.clone())
            .await
            .unwrap(),
        1
    );
    cora.device.confirm(&g).unwrap();
    // The same commit again is for an older epoch.
    let r = w.svc.post_e2e_commit(&cora_caller, t, s.id, commit).await;
    assert!(matches!(r, Err(Error::Conflict { .. })), "{r:?}");
    join(&w, &mut benc, t, s.id).await;

    // Two members commit on epoch 1 at once: the first one wins, the other is a
    // conflict, and its device processes the winner instead.
    let mut junk: E2eCommit = benc.device.update(&g).unwrap().into();
    junk.welcome = Some(b"junk".to_vec());
    let r = w.svc.post_e2e_commit(&ben_caller, t, s.id, junk).await;
    assert!(matches!(r, Err(Error::Invalid { .. })), "{r:?}");
    benc.device.discard(&g).unwrap();
    let ben_update: E2eCommit = benc.device.update(&g).unwrap().into();
    let cora_update: E2eCommit = cora.device.update(&g).unwrap().into();
    assert_eq!(
        w.svc
            .post_e2e_commit(&ben_caller, t, s.id, ben_update)
            .await
            .unwrap(),
        2
    );
    let r = w
        .svc
        .post_e2e_commit(&cora_caller, t, s.id, cora_update)
        .await;
    assert!(matches!(r, Err(Error::Conflict { .. })), "{r:?}");
    benc.device.confirm(&g).unwrap();
    cora.device.discard(&g).unwrap();
    let winner = epochs(&w, &cora_caller, t, s.id).await.pop().unwrap();
    cora.device
        .process(&g, &winner.commit, &winner.record)
        .unwrap();
    assert_eq!(
        cora.device.epoch_authenticator(&g).unwrap(),
        benc.device.epoch_authenticator(&g).unwrap()
    );

    // Ben's account cannot be deleted while his device is in the group: a cascade
    // cannot commit its removal.
    let r = w.svc.delete_account(&org.admin_caller, t, ben.id).await;
    assert!(matches!(r, Err(Error::Conflict { .. })), "{r:?}");

    // Removing Ben needs the commit that removes his device.
    let r = w
        .svc
        .remove_participant(&cora_caller, t, s.id, SubjectId::Account(ben.id), None)
        .await;
    assert!(matches!(r, Err(Error::WrongMode { .. })), "{r:?}");
    let removal: E2eCommit = cora
        .device
        .remove(&g, &benc.account(), None)
        .unwrap()
        .into();
    w.svc
        .remove_participant(
            &cora_caller,
            t,
            s.id,
            SubjectId::Account(ben.id),
            Some(removal),
        )
        .await
        .unwrap();
    cora.device.confirm(&g).unwrap();
    let last = epochs(&w, &cora_caller, t, s.id).await.pop().unwrap();
    assert_eq!(last.epoch, 3);
    // Ben no longer takes part: he cannot read the group's epochs any more.
    assert!(
        w.svc
            .e2e_epochs(&ben_caller, t, s.id, None, 10)
            .await
            .is_err()
    );
    // His device, given the removal anyway, learns it is out.
    let p = benc.device.process(&g, &last.commit, &last.record).unwrap();
    assert!(p.removed_self);
    // Now the account can go.
    w.svc
        .delete_account(&org.admin_caller, t, ben.id)
        .await
        .unwrap();
}
