//! The owner's veto: a commit the Delivery Service accepted but the owner's device
//! refuses is withdrawn and replaced by the owner's own commit, so one member cannot
//! stall the group for good.

use super::*;

/// Cora (owner) with laptop and phone, Ben (counsellor) with one device: the group at
/// epoch 2.
struct Team {
    w: World,
    t: TenantId,
    s: SessionId,
    g: Vec<u8>,
    laptop: Client,
    phone: Client,
    ben: Client,
}

async fn team() -> Team {
    let w = World::new();
    let org = w.org("Nord").await;
    let t = org.id();
    let (_, cora_caller) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let (ben_account, ben_caller) = w.member(&org, "Ben", BuiltinRole::Counsellor).await;
    let s = w
        .svc
        .create_session(&cora_caller, t, e2e())
        .await
        .unwrap()
        .session
        .id;
    let g = gid(t, s);
    let mut laptop = Client::new(&cora_caller, "cora-laptop");
    let mut phone = Client {
        key: IdentityKey::generate().unwrap(),
        caller: cora_caller,
        device: Device::new(
            &laptop.key,
            laptop.account(),
            DeviceId::new(b"cora-phone").unwrap(),
            TrustStore::trust_on_first_use(),
        )
        .unwrap(),
    };
    let mut ben = Client::new(&ben_caller, "ben-laptop");
    start(&w, &mut laptop, t, s).await;

    // Cora's phone: her own device, no rights needed.
    publish(&w, &phone, t).await;
    let kps: Vec<Vec<u8>> = w
        .svc
        .claim_key_packages(&cora_caller, t, s, cora_caller.subject)
        .await
        .unwrap()
        .into_iter()
        .filter(|k| {
            cai_crypto::e2e::KeyPackageInfo::parse(k)
                .unwrap()
                .credential()
                .device()
                .as_bytes()
                == b"cora-phone"
        })
        .collect();
    let add: E2eCommit = laptop.device.add(&g, &kps).unwrap().into();
    w.svc
        .post_e2e_commit(&cora_caller, t, s, add)
        .await
        .unwrap();
    laptop.device.confirm(&g).unwrap();
    join(&w, &mut phone, t, s).await;

    // Ben, as counsellor.
    publish(&w, &ben, t).await;
    let commit = add_commit(&w, &mut laptop, SubjectId::Account(ben_account.id), t, s).await;
    w.svc
        .add_counsellor(&cora_caller, t, s, ben_account.id, Some(commit))
        .await
        .unwrap();
    laptop.device.confirm(&g).unwrap();
    catch_up(&w, &mut phone, t, s, 1).await;
    join(&w, &mut ben, t, s).await;
    assert_eq!(laptop.device.epoch(&g).unwrap(), 2);
    Team {
        w,
        t,
        s,
        g,
        laptop,
        phone,
        ben,
    }
}

/// Processes the accepted epochs after `after`.
async fn catch_up(w: &World, c: &mut Client, t: TenantId, s: SessionId, after: u32) {
    let g = gid(t, s);
    for e in w
        .svc
        .e2e_epochs(&c.caller, t, s, Some(after), 100)
        .await
        .unwrap()
    {
        c.device.process(&g, &e.commit, &e.record).unwrap();
    }
}

#[tokio::test]
async fn the_owner_withdraws_a_refused_commit_and_the_group_goes_on_without_its_author() {
    let mut tm = team().await;
    let (w, t, s, g) = (&tm.w, tm.t, tm.s, tm.g.clone());

    // Ben's device posts a commit the service accepts (epoch 3). Cora's devices refuse
    // it (here: they decide to; `tests/e2e_mls` shows the refusals a device makes by
    // itself), so without a veto every commit they make would now conflict.
    let rogue: E2eCommit = tm.ben.device.update(&g).unwrap().into();
    let rogue_bytes = rogue.commit.clone();
    assert_eq!(
        w.svc
            .post_e2e_commit(&tm.ben.caller, t, s, rogue)
            .await
            .unwrap(),
        3
    );
    tm.ben.device.confirm(&g).unwrap();
    let removal: E2eCommit = tm
        .laptop
        .device
        .remove(&g, &tm.ben.account(), None)
        .unwrap()
        .into();
    let r = w
        .svc
        .post_e2e_commit(&tm.laptop.caller, t, s, removal.clone())
        .await;
    assert!(matches!(r, Err(Error::Conflict { .. })), "stalled: {r:?}");

    // Only the owner vetoes, only the newest epoch, never the first.
    let r = w
        .svc
        .veto_e2e_commit(&tm.ben.caller, t, s, 3, removal.clone())
        .await;
    assert!(matches!(r, Err(Error::Invalid { .. })), "{r:?}");
    let r = w
        .svc
        .veto_e2e_commit(&tm.laptop.caller, t, s, 2, removal.clone())
        .await;
    assert!(matches!(r, Err(Error::Conflict { .. })), "{r:?}");
    let r = w
        .svc
        .veto_e2e_commit(&tm.laptop.caller, t, s, 4, removal.clone())
        .await;
    assert!(matches!(r, Err(Error::Conflict { .. })), "{r:?}");
    // A replacement that is no commit on epoch 2 is refused — here one made on top of
    // the vetoed epoch —, as is the vetoed commit itself; the vetoed epoch stays.
    let on_top: E2eCommit = tm.ben.device.update(&g).unwrap().into();
    tm.ben.device.discard(&g).unwrap();
    let r = w
        .svc
        .veto_e2e_commit(&tm.laptop.caller, t, s, 3, on_top)
        .await;
    assert!(matches!(r, Err(Error::Conflict { .. })), "{r:?}");
    let itself = epochs(w, &tm.laptop.caller, t, s).await.remove(3);
    let r = w
        .svc
        .veto_e2e_commit(
            &tm.laptop.caller,
            t,
            s,
            3,
            E2eCommit {
                commit: itself.commit,
                record: itself.record,
                welcome: None,
            },
        )
        .await;
    assert!(matches!(r, Err(Error::Invalid { .. })), "{r:?}");
    assert_eq!(
        epochs(w, &tm.laptop.caller, t, s).await[3].commit,
        rogue_bytes
    );

    // The veto: epoch 3 is now Cora's removal of Ben's device.
    assert_eq!(
        w.svc
            .veto_e2e_commit(&tm.laptop.caller, t, s, 3, removal.clone())
            .await
            .unwrap(),
        3
    );
    tm.laptop.device.confirm(&g).unwrap();
    let all = epochs(w, &tm.laptop.caller, t, s).await;
    assert_eq!(all.len(), 4);
    assert_eq!(all[3].commit, removal.commit);
    // Vetoing the replacement with itself is refused.
    let r = w
        .svc
        .veto_e2e_commit(&tm.laptop.caller, t, s, 3, removal.clone())
        .await;
    assert!(matches!(r, Err(Error::Invalid { .. })), "{r:?}");

    // Cora's phone, which never took the rogue commit, follows; both devices agree.
    catch_up(w, &mut tm.phone, t, s, 2).await;
    assert_eq!(
        tm.laptop.device.verification_code(&g).unwrap(),
        tm.phone.device.verification_code(&g).unwrap()
    );
    // Ben's device, on its own branch, cannot take the replacement and cannot read
    // what is sealed from now on.
    assert!(
        tm.ben
            .device
            .process(&g, &all[3].commit, &all[3].record)
            .is_err()
    );
    let (tt, ss) = (t.to_string(), s.to_string());
    let ctx = ItemContext::new(tt.as_bytes(), ss.as_bytes(), b"m", 1, ContentKind::Message);
    let body = tm.laptop.device.seal(&g, &ctx, b"after the veto").unwrap();
    assert_eq!(
        tm.phone.device.open(&g, &ctx, &body).unwrap().plaintext,
        b"after the veto"
    );
    assert!(tm.ben.device.open(&g, &ctx, &body).is_err());

    // The group goes on: the phone's next commit is accepted as epoch 4.
    let update: E2eCommit = tm.phone.device.update(&g).unwrap().into();
    assert_eq!(
        w.svc
            .post_e2e_commit(&tm.phone.caller, t, s, update)
            .await
            .unwrap(),
        4
    );
}

#[tokio::test]
async fn the_first_epoch_cannot_be_vetoed() {
    let mut tm = team().await;
    let (w, t) = (&tm.w, tm.t);
    // A fresh session whose group only has epoch 0.
    let s = w
        .svc
        .create_session(&tm.laptop.caller, t, e2e())
        .await
        .unwrap()
        .session
        .id;
    start(w, &mut tm.laptop, t, s).await;
    let update: E2eCommit = tm.laptop.device.update(&gid(t, s)).unwrap().into();
    let r = w
        .svc
        .veto_e2e_commit(&tm.laptop.caller, t, s, 0, update)
        .await;
    assert!(matches!(r, Err(Error::Invalid { .. })), "{r:?}");
}

#[tokio::test]
async fn vetoes_outside_a_visible_open_end_to_end_session_are_refused_and_a_veto_is_audited() {
    use cai_core::ports::AuditStore;
    let mut tm = team().await;
    let (w, t, s, g) = (&tm.w, tm.t, tm.s, tm.g.clone());
    let removal: E2eCommit = tm
        .laptop
        .device
        .remove(&g, &tm.ben.account(), None)
        .unwrap()
        .into();
    // A session of another mode.
    let plain = w
        .svc
        .create_session(
            &tm.laptop.caller,
            t,
            NewSession {
                mode: Some(SessionMode::ServerManaged),
                ..NewSession::classic()
            },
        )
        .await
        .unwrap()
        .session
        .id;
    let r = w
        .svc
        .veto_e2e_commit(&tm.laptop.caller, t, plain, 1, removal.clone())
        .await;
    assert!(matches!(r, Err(Error::WrongMode { .. })), "{r:?}");
    // A session the caller cannot see answers like one that does not exist.
    let r = w
        .svc
        .veto_e2e_commit(
            &tm.laptop.caller,
            t,
            cai_core::id::SessionId::random().unwrap(),
            1,
            removal.clone(),
        )
        .await;
    assert!(matches!(r, Err(Error::NotFound { .. })), "{r:?}");

    // A real veto leaves a security-relevant audit event naming the vetoed epoch.
    let rogue: E2eCommit = tm.ben.device.update(&g).unwrap().into();
    w.svc
        .post_e2e_commit(&tm.ben.caller, t, s, rogue)
        .await
        .unwrap();
    w.svc
        .veto_e2e_commit(&tm.laptop.caller, t, s, 3, removal)
        .await
        .unwrap();
    let trail = w.store.audit_events(t, 0, 1000).await.unwrap();
    let (_, veto) = trail
        .iter()
        .rev()
        .find(|(_, e)| e.changes.iter().any(|c| c.property == "vetoed_epoch"))
        .expect("the veto is audited");
    assert!(veto.security_relevant);

    // Closed: refused.
    w.svc.close_session(&tm.laptop.caller, t, s).await.unwrap();
    let update: E2eCommit = tm.phone.device.update(&g).unwrap().into();
    let r = w
        .svc
        .veto_e2e_commit(&tm.laptop.caller, t, s, 3, update)
        .await;
    assert!(r.is_err(), "{r:?}");
}
