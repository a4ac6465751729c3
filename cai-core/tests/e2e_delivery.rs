//! End-to-end sessions through the service (R-E4, R-E4b): the server as the MLS
//! Delivery Service — key packages, the group's epochs in order, membership that
//! follows the participants, history grants by tenant policy — with real
//! `cai_crypto::e2e::Device`s as the clients.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
#![allow(clippy::indexing_slicing)]

mod common;

use cai_core::domain::{
    BuiltinRole, ContentKind, Pseudonym, SealedBody, SessionMode, TenantSettings,
};
use cai_core::id::{SessionId, SubjectId, TenantId};
use cai_core::service::{
    ContentBody, E2eCommit, E2eEpochView, InviteTo, NewSession, SessionKeyMaterial,
};
use cai_core::{Caller, Error};
use cai_crypto::e2e::{
    AccountRef, Device, DeviceId, IdentityKey, ModeDescriptor, TrustStore, group_id,
};
use cai_crypto::{ItemContext, envelope};
use common::World;

/// A user's identity key and one device, named by the caller's subject.
struct Client {
    key: IdentityKey,
    caller: Caller,
    device: Device,
}

impl Client {
    fn new(caller: &Caller, device: &str) -> Self {
        let key = IdentityKey::generate().unwrap();
        let device = Device::new(
            &key,
            AccountRef::new(caller.subject.to_string().as_bytes()).unwrap(),
            DeviceId::new(device.as_bytes()).unwrap(),
            TrustStore::trust_on_first_use(),
        )
        .unwrap();
        Self {
            key,
            caller: *caller,
            device,
        }
    }

    fn account(&self) -> AccountRef {
        AccountRef::new(self.caller.subject.to_string().as_bytes()).unwrap()
    }
}

fn e2e() -> NewSession {
    NewSession {
        mode: Some(SessionMode::EndToEnd),
        ..NewSession::classic()
    }
}

fn gid(t: TenantId, s: SessionId) -> Vec<u8> {
    group_id(t.to_string().as_bytes(), s.to_string().as_bytes()).unwrap()
}

async fn epochs(w: &World, c: &Caller, t: TenantId, s: SessionId) -> Vec<E2eEpochView> {
    w.svc.e2e_epochs(c, t, s, None, 100).await.unwrap()
}

/// The owner's device creates the group and the service starts tracking it.
async fn start(w: &World, owner: &mut Client, t: TenantId, s: SessionId) {
    let d = ModeDescriptor::sign(
        &owner.key,
        &owner.account(),
        t.to_string().as_bytes(),
        s.to_string().as_bytes(),
        cai_crypto::modes::SessionMode::EndToEnd,
    )
    .unwrap();
    let (info, record) = owner.device.create_group(&d).unwrap();
    assert_eq!(
        w.svc
            .start_e2e_group(&owner.caller, t, s, info, record)
            .await
            .unwrap(),
        0
    );
}

/// `adder` claims `who`'s key packages and makes the commit adding them.
async fn add_commit(
    w: &World,
    adder: &mut Client,
    who: SubjectId,
    t: TenantId,
    s: SessionId,
) -> E2eCommit {
    let kps = w
        .svc
        .claim_key_packages(&adder.caller, t, s, who)
        .await
        .unwrap();
    assert!(!kps.is_empty());
    adder.device.add(&gid(t, s), &kps).unwrap().into()
}

async fn publish(w: &World, c: &Client, t: TenantId) {
    let kps = vec![
        c.device.key_package(false).unwrap(),
        c.device.key_package(true).unwrap(),
    ];
    w.svc.publish_key_packages(&c.caller, t, kps).await.unwrap();
}

/// A device joins from the newest welcome.
async fn join(w: &World, c: &mut Client, t: TenantId, s: SessionId) {
    let all = epochs(w, &c.caller, t, s).await;
    let last = all.iter().rev().find(|e| e.welcome.is_some()).unwrap();
    c.device
        .join(
            t.to_string().as_bytes(),
            s.to_string().as_bytes(),
            last.welcome.as_ref().unwrap(),
            &last.record,
        )
        .unwrap();
}

fn sealed(body: Vec<u8>) -> ContentBody {
    ContentBody::Sealed(SealedBody::new(body).unwrap())
}

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
            .post_content(&cora_caller, t, s.id, ContentKind::Message, sealed(body))
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

// ---- Limits and rules at their boundaries (found missing by cargo mutants) ----------

/// A world with one end-to-end session whose group Cora started, and Ben taking part.
async fn limits_world() -> (World, common::Org, Client, Client, SessionId) {
    let w = World::new();
    let settings = TenantSettings {
        allow_history_sharing: true,
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
    start(&w, &mut cora, t, s.id).await;
    w.svc
        .add_counsellor(&cora_caller, t, s.id, ben.id, None)
        .await
        .unwrap();
    let benc = Client::new(&ben_caller, "ben-laptop");
    (w, org, cora, benc, s.id)
}

#[tokio::test]
async fn key_packages_are_published_within_their_limits() {
    use cai_core::service::{
        MAX_KEY_PACKAGE_LEN, MAX_KEY_PACKAGES_PER_CALL, MAX_KEY_PACKAGES_PER_OWNER,
    };
    let (w, org, _, ben, _) = limits_world().await;
    let t = org.id();
    let publish_n = |n: usize, last_resort: bool| -> Vec<Vec<u8>> {
        (0..n)
            .map(|_| ben.device.key_package(last_resort).unwrap())
            .collect()
    };
    // 0 and 101 per call are refused; 100 are fine.
    for n in [0, MAX_KEY_PACKAGES_PER_CALL + 1] {
        let r = w
            .svc
            .publish_key_packages(&ben.caller, t, publish_n(n, false))
            .await;
        assert!(matches!(r, Err(Error::Invalid { .. })), "{n}: {r:?}");
    }
    // Exactly the size limit is read (and is no key package); one byte more is 413.
    let r = w
        .svc
        .publish_key_packages(&ben.caller, t, vec![vec![0; MAX_KEY_PACKAGE_LEN]])
        .await;
    assert!(matches!(r, Err(Error::Crypto(_))), "{r:?}");
    let r = w
        .svc
        .publish_key_packages(&ben.caller, t, vec![vec![0; MAX_KEY_PACKAGE_LEN + 1]])
        .await;
    assert!(matches!(r, Err(Error::TooLarge { .. })), "{r:?}");
    // Up to 500 unused one-time packages; the 501st is a conflict, a last-resort one
    // is still fine (it replaces the device's earlier one).
    let mut stored = 0;
    while stored < MAX_KEY_PACKAGES_PER_OWNER {
        let n = MAX_KEY_PACKAGES_PER_CALL.min(MAX_KEY_PACKAGES_PER_OWNER - stored);
        stored = w
            .svc
            .publish_key_packages(&ben.caller, t, publish_n(n, false))
            .await
            .unwrap();
    }
    assert_eq!(stored, MAX_KEY_PACKAGES_PER_OWNER);
    let r = w
        .svc
        .publish_key_packages(&ben.caller, t, publish_n(1, false))
        .await;
    assert!(matches!(r, Err(Error::Conflict { .. })), "{r:?}");
    for _ in 0..2 {
        assert_eq!(
            w.svc
                .publish_key_packages(&ben.caller, t, publish_n(1, true))
                .await
                .unwrap(),
            MAX_KEY_PACKAGES_PER_OWNER + 1
        );
    }
}

#[tokio::test]
async fn claims_prefer_the_oldest_one_time_package_and_keep_the_last_resort_one() {
    let (w, org, cora, ben, s) = limits_world().await;
    let t = org.id();
    // Published one after another: the last-resort package first, then two one-time ones.
    let last = ben.device.key_package(true).unwrap();
    let older = ben.device.key_package(false).unwrap();
    let newer = ben.device.key_package(false).unwrap();
    for kp in [&last, &older, &newer] {
        w.clock.advance(std::time::Duration::from_secs(1));
        w.svc
            .publish_key_packages(&ben.caller, t, vec![kp.clone()])
            .await
            .unwrap();
    }
    let claim = || {
        w.svc
            .claim_key_packages(&cora.caller, t, s, ben.caller.subject)
    };
    assert_eq!(claim().await.unwrap(), vec![older]);
    assert_eq!(claim().await.unwrap(), vec![newer]);
    // The one-time packages are gone; the last-resort one is handed out again and again.
    assert_eq!(claim().await.unwrap(), vec![last.clone()]);
    assert_eq!(claim().await.unwrap(), vec![last]);
}

#[tokio::test]
async fn handshake_sizes_are_limited() {
    use cai_core::service::MAX_HANDSHAKE_LEN;
    let (w, org, cora, _, s) = limits_world().await;
    let t = org.id();
    let big = vec![0u8; MAX_HANDSHAKE_LEN + 1];
    let at = vec![0u8; MAX_HANDSHAKE_LEN];
    let post = |commit: Vec<u8>, record: Vec<u8>, welcome: Option<Vec<u8>>| {
        w.svc.post_e2e_commit(
            &cora.caller,
            t,
            s,
            E2eCommit {
                commit,
                record,
                welcome,
            },
        )
    };
    for (c, r, wl) in [
        (big.clone(), vec![], None),
        (vec![], big.clone(), None),
        (vec![], vec![], Some(big.clone())),
    ] {
        let got = post(c, r, wl).await;
        assert!(matches!(got, Err(Error::TooLarge { .. })), "{got:?}");
    }
    // At the limit the bytes are read: garbage, not too large.
    for (c, r, wl) in [
        (at.clone(), vec![], None),
        (vec![], at.clone(), None),
        (vec![], vec![], Some(at.clone())),
    ] {
        let got = post(c, r, wl).await;
        assert!(matches!(got, Err(Error::Crypto(_))), "{got:?}");
    }
    let other = w
        .svc
        .create_session(&cora.caller, t, e2e())
        .await
        .unwrap()
        .session;
    let r = w
        .svc
        .start_e2e_group(&cora.caller, t, other.id, big, vec![])
        .await;
    assert!(matches!(r, Err(Error::TooLarge { .. })), "{r:?}");
    let r = w
        .svc
        .start_e2e_group(&cora.caller, t, other.id, at, vec![])
        .await;
    assert!(matches!(r, Err(Error::Crypto(_))), "{r:?}");
}

#[tokio::test]
async fn only_stale_commits_are_conflicts_and_own_devices_need_no_rights() {
    let (w, org, mut cora, mut ben, s) = limits_world().await;
    let t = org.id();
    let g = gid(t, s);
    publish(&w, &ben, t).await;
    let commit = add_commit(&w, &mut cora, ben.caller.subject, t, s).await;
    // A commit whose record is not its own is refused as invalid, not as a conflict.
    let wrong_record = E2eCommit {
        record: epochs(&w, &cora.caller, t, s).await[0].record.clone(),
        ..commit.clone()
    };
    let r = w
        .svc
        .post_e2e_commit(&cora.caller, t, s, wrong_record)
        .await;
    assert!(matches!(r, Err(Error::Crypto(_))), "{r:?}");
    w.svc
        .post_e2e_commit(&cora.caller, t, s, commit)
        .await
        .unwrap();
    cora.device.confirm(&g).unwrap();
    join(&w, &mut ben, t, s).await;
    // Ben adds and then removes a second device of his own: no rights needed beyond
    // taking part.
    let phone = Client {
        key: IdentityKey::generate().unwrap(),
        caller: ben.caller,
        device: Device::new(
            &ben.key,
            ben.account(),
            DeviceId::new(b"ben-phone").unwrap(),
            TrustStore::trust_on_first_use(),
        )
        .unwrap(),
    };
    publish(&w, &phone, t).await;
    let kps = w
        .svc
        .claim_key_packages(&ben.caller, t, s, ben.caller.subject)
        .await
        .unwrap();
    let mine: Vec<Vec<u8>> = kps
        .into_iter()
        .filter(|k| {
            cai_crypto::e2e::KeyPackageInfo::parse(k)
                .unwrap()
                .credential()
                .device()
                .as_bytes()
                == b"ben-phone"
        })
        .collect();
    let add: E2eCommit = ben.device.add(&g, &mine).unwrap().into();
    w.svc.post_e2e_commit(&ben.caller, t, s, add).await.unwrap();
    ben.device.confirm(&g).unwrap();
    let remove: E2eCommit = ben
        .device
        .remove(
            &g,
            &ben.account(),
            Some(&DeviceId::new(b"ben-phone").unwrap()),
        )
        .unwrap()
        .into();
    w.svc
        .post_e2e_commit(&ben.caller, t, s, remove)
        .await
        .unwrap();
    ben.device.confirm(&g).unwrap();
}

#[tokio::test]
async fn removing_someone_without_devices_needs_no_commit_and_grants_name_their_session() {
    let (w, org, cora, ben, s) = limits_world().await;
    let t = org.id();
    // Ben's devices never joined: he leaves without a commit.
    w.svc
        .remove_participant(&cora.caller, t, s, ben.caller.subject, None)
        .await
        .unwrap();
    // A grant made for another session's group is refused.
    let mut other_owner = Client::new(&cora.caller, "cora-desk");
    let other = w
        .svc
        .create_session(&cora.caller, t, e2e())
        .await
        .unwrap()
        .session;
    start(&w, &mut other_owner, t, other.id).await;
    let g = gid(t, other.id);
    let grant = other_owner
        .device
        .grant_history(&g, &[other_owner.device.credential().clone()], 0..=0)
        .unwrap();
    let SubjectId::Account(cora_id) = cora.caller.subject else {
        panic!("an account")
    };
    let r = w
        .svc
        .share_history(&cora.caller, t, s, cora_id, grant)
        .await;
    assert!(
        matches!(
            r,
            Err(Error::Invalid {
                what: "history grant",
                ..
            })
        ),
        "{r:?}"
    );
}
