//! Limits and rules at their boundaries (found missing by cargo mutants).

use super::*;

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
