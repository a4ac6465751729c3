//! MLS over signaling (issue 12): in an end-to-end session the group's start and its
//! commits go through cai-core's Delivery Service, and every member of the call gets the
//! accepted epochs in the service's order; a commit for an old epoch is `mls_conflict`,
//! and of two commits racing for one epoch exactly one is carried to everyone;
//! outside end-to-end mode MLS messages are `wrong_mode`. Real `cai_crypto::e2e::Device`s
//! make the handshakes.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "signaling_common/mod.rs"]
mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cai_core::domain::SessionMode;
use cai_core::id::SubjectId;
use cai_core::service::NewSession;
use cai_crypto::e2e::{AccountRef, Device, DeviceId, IdentityKey, ModeDescriptor, TrustStore};
use cai_rtc::signaling::{ErrorCode, MlsEpoch, ServerMessage};
use common::*;

fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

fn epoch_of(m: ServerMessage) -> MlsEpoch {
    match m {
        ServerMessage::MlsEpoch(e) => e,
        other => panic!("expected mls_epoch, got {other:?}"),
    }
}

#[tokio::test]
async fn commits_reach_every_member_in_the_delivery_services_order() {
    let w = World::new().await;
    let t = w.tenant.id;
    let s = w
        .svc()
        .create_session(
            &w.cora.caller,
            t,
            NewSession {
                mode: Some(SessionMode::EndToEnd),
                ..NewSession::classic()
            },
        )
        .await
        .unwrap()
        .session
        .id;
    let key = IdentityKey::generate().unwrap();
    let account = AccountRef::new(w.cora.caller.subject.to_string().as_bytes()).unwrap();
    let mut device = Device::new(
        &key,
        account.clone(),
        DeviceId::new(b"cora-laptop").unwrap(),
        TrustStore::trust_on_first_use(),
    )
    .unwrap();
    let gid =
        cai_crypto::e2e::group_id(t.to_string().as_bytes(), s.to_string().as_bytes()).unwrap();

    let (mut laptop, _) = w.joined(&w.cora.token, s).await;
    let (mut phone, _) = w.joined(&w.cora.token, s).await;
    let _ = laptop.next().await; // peer_joined

    // Key packages: stored and counted.
    laptop
        .send(
            &serde_json::json!({"v":1,"id":1,"type":"mls_key_packages","packages":[
                b64(&device.key_package(false).unwrap()), b64(&device.key_package(true).unwrap())
            ]})
            .to_string(),
        )
        .await;
    assert_eq!(
        laptop.next().await,
        ServerMessage::MlsStored {
            count: 2,
            in_reply_to: Some(1)
        }
    );

    // The group starts: epoch 0 to both connections.
    let descriptor = ModeDescriptor::sign(
        &key,
        &account,
        t.to_string().as_bytes(),
        s.to_string().as_bytes(),
        cai_crypto::modes::SessionMode::EndToEnd,
    )
    .unwrap();
    let (info, record) = device.create_group(&descriptor).unwrap();
    laptop
        .send(
            &serde_json::json!({"v":1,"type":"mls_group","group_info":b64(&info),"record":b64(&record)})
                .to_string(),
        )
        .await;
    // cai-core's `KeysChanged` event comes first (`key_epoch`), then the epoch itself.
    for c in [&mut laptop, &mut phone] {
        assert_eq!(c.next().await, ServerMessage::KeyEpoch { epoch: 0 });
        let e = epoch_of(c.next().await);
        assert_eq!(e.epoch, 0);
        assert!(e.commit.0.is_empty());
        assert_eq!(e.committed_by, SubjectId::Account(w.cora.account.id));
    }

    // Two key updates, one after the other: epochs 1 and 2, in order, everywhere.
    let mut sent = Vec::new();
    for _ in 0..2 {
        let h = device.update(&gid).unwrap();
        let commit = serde_json::json!({"v":1,"type":"mls_commit","commit":b64(&h.commit),"record":b64(&h.record)}).to_string();
        laptop.send(&commit).await;
        sent.push((h.commit.clone(), commit));
        // Wait for the service's answer before the device moves on.
        let e = next_epoch(&mut laptop).await;
        assert_eq!(e.commit.0, h.commit);
        device.confirm(&gid).unwrap();
    }
    let on_phone: Vec<u32> = {
        let mut v = Vec::new();
        while v.len() < 2 {
            if let ServerMessage::MlsEpoch(e) = phone.next().await {
                v.push(e.epoch);
            }
        }
        v
    };
    assert_eq!(on_phone, vec![1, 2]);

    // The epoch-1 commit again: another commit already won that epoch.
    laptop.send(&sent[0].1).await;
    let refused = loop {
        match laptop.next().await {
            ServerMessage::Error { code, .. } => break code,
            ServerMessage::KeyEpoch { .. } => continue,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(refused, ErrorCode::MlsConflict);

    // A device catching up reads the epochs in order.
    phone.send(r#"{"v":1,"type":"mls_sync","after":0}"#).await;
    let mut synced = Vec::new();
    while synced.len() < 2 {
        if let ServerMessage::MlsEpoch(e) = phone.next().await {
            synced.push(e.epoch);
        }
    }
    assert_eq!(synced, vec![1, 2]);
}

/// The next `mls_epoch`, skipping `key_epoch` notices (which cai-core publishes for the
/// same change).
async fn next_epoch(c: &mut Client) -> MlsEpoch {
    loop {
        match c.next().await {
            ServerMessage::MlsEpoch(e) => return e,
            ServerMessage::KeyEpoch { .. } => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn mls_outside_end_to_end_mode_is_wrong_mode() {
    let w = World::new().await;
    let s = w.ad_hoc(SessionMode::SessionKey).await;
    let (mut c, _) = w.joined(&w.cora.token, s).await;
    c.send(r#"{"v":1,"type":"mls_sync"}"#).await;
    assert!(matches!(
        c.next().await,
        ServerMessage::Error {
            code: ErrorCode::WrongMode,
            ..
        }
    ));
}

/// An `mls_commit` as JSON, with `id` and the welcome if the handshake has one.
fn commit_message(id: u32, h: &cai_crypto::e2e::Handshake) -> String {
    let mut m = serde_json::json!({"v":1,"id":id,"type":"mls_commit",
        "commit":b64(&h.commit),"record":b64(&h.record)});
    if let Some(w) = &h.welcome {
        m["welcome"] = b64(w).into();
    }
    m.to_string()
}

/// What a committer heard of a round: the epoch announced and every error before it (or,
/// for a refused committer, up to its refusal).
struct Heard {
    epoch: MlsEpoch,
    errors: Vec<(ErrorCode, Option<u32>)>,
}

/// Reads `c` until it has an `mls_epoch` and, unless that epoch carries `own` commit, an
/// error: the refusal and the winner's epoch may come in either order.
async fn hear_round(c: &mut Client, own: &[u8]) -> Heard {
    let (mut epoch, mut errors) = (None::<MlsEpoch>, Vec::new());
    loop {
        match c.next().await {
            ServerMessage::MlsEpoch(e) => {
                assert!(epoch.is_none(), "a second epoch {e:?}");
                epoch = Some(e);
            }
            ServerMessage::Error {
                code, in_reply_to, ..
            } => errors.push((code, in_reply_to)),
            ServerMessage::KeyEpoch { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
        if let Some(e) = &epoch
            && (e.commit.0 == own || !errors.is_empty())
        {
            return Heard {
                epoch: epoch.unwrap(),
                errors,
            };
        }
    }
}

/// docs/SIGNALING.md §9: two devices commit for the same epoch at once, both sent
/// before either reads. The Delivery Service takes the one that reaches it first: every
/// connection gets that epoch, with the same commit, once; the other committer gets
/// `mls_conflict` (naming its message). It processes the winning epoch, both devices are
/// then in the same epoch, and its commit on top goes through to everyone.
#[tokio::test]
async fn of_two_commits_racing_for_an_epoch_one_wins_and_the_other_is_a_conflict() {
    let w = World::new().await;
    let (t, s) = (
        w.tenant.id.to_string(),
        w.ad_hoc(SessionMode::EndToEnd).await,
    );
    let (tb, sb) = (t.as_bytes(), s.to_string());
    let key = IdentityKey::generate().unwrap();
    let account = AccountRef::new(w.cora.caller.subject.to_string().as_bytes()).unwrap();
    let device = |name: &[u8]| {
        Device::new(
            &key,
            account.clone(),
            DeviceId::new(name).unwrap(),
            TrustStore::trust_on_first_use(),
        )
        .unwrap()
    };
    let mut devices = [device(b"cora-laptop"), device(b"cora-phone")];
    let gid = cai_crypto::e2e::group_id(tb, sb.as_bytes()).unwrap();

    // Cora's laptop and phone in the call, and a third connection that only watches.
    let (laptop, _) = w.joined(&w.cora.token, s).await;
    let (phone, _) = w.joined(&w.cora.token, s).await;
    let (mut watcher, _) = w.joined(&w.cora.token, s).await;
    let mut clients = [laptop, phone];
    for (c, joined_after) in clients.iter_mut().zip([2, 1]) {
        for _ in 0..joined_after {
            assert!(matches!(c.next().await, ServerMessage::PeerJoined(_)));
        }
    }

    // The laptop starts the group and adds the phone: epochs 0 and 1.
    let descriptor = ModeDescriptor::sign(
        &key,
        &account,
        tb,
        sb.as_bytes(),
        cai_crypto::modes::SessionMode::EndToEnd,
    )
    .unwrap();
    let (info, record) = devices[0].create_group(&descriptor).unwrap();
    clients[0]
        .send(
            &serde_json::json!({"v":1,"type":"mls_group","group_info":b64(&info),"record":b64(&record)})
                .to_string(),
        )
        .await;
    let phone_package = devices[1].key_package(false).unwrap();
    let add = devices[0].add(&gid, &[phone_package]).unwrap();
    clients[0].send(&commit_message(1, &add)).await;
    for c in clients.iter_mut().chain([&mut watcher]) {
        assert_eq!(next_epoch(c).await.epoch, 0);
        assert_eq!(next_epoch(c).await.epoch, 1);
    }
    devices[0].confirm(&gid).unwrap();
    devices[1]
        .join(
            tb,
            sb.as_bytes(),
            add.welcome.as_ref().unwrap(),
            &add.record,
        )
        .unwrap();

    // Both rotate their keys for epoch 1 and send before either reads.
    let race = [
        devices[0].update(&gid).unwrap(),
        devices[1].update(&gid).unwrap(),
    ];
    let ids = [10, 11];
    let sent = [
        commit_message(ids[0], &race[0]),
        commit_message(ids[1], &race[1]),
    ];
    let [laptop, phone] = &mut clients;
    tokio::join!(laptop.send(&sent[0]), phone.send(&sent[1]));
    let heard = [
        hear_round(laptop, &race[0].commit).await,
        hear_round(phone, &race[1].commit).await,
    ];
    let won = heard[0].epoch.commit.0.clone();
    let winner = race
        .iter()
        .position(|h| h.commit == won)
        .expect("a sent commit won");
    let loser = 1 - winner;
    let seen_by_watcher = next_epoch(&mut watcher).await;
    for e in [&heard[loser].epoch, &seen_by_watcher] {
        assert_eq!(e, &heard[winner].epoch, "one epoch 2, the same everywhere");
    }
    assert_eq!(heard[winner].epoch.epoch, 2);
    assert_eq!(heard[winner].epoch.record.0, race[winner].record);
    assert!(
        heard[winner].errors.is_empty(),
        "{:?}",
        heard[winner].errors
    );
    assert_eq!(
        heard[loser].errors,
        vec![(ErrorCode::MlsConflict, Some(ids[loser]))]
    );

    // The Delivery Service holds that one epoch after 1.
    watcher.send(r#"{"v":1,"type":"mls_sync","after":1}"#).await;
    assert_eq!(next_epoch(&mut watcher).await, heard[winner].epoch);

    // The refused device drops its commit and processes the winner's: the same epoch.
    devices[loser].discard(&gid).unwrap();
    devices[loser]
        .process(&gid, &race[winner].commit, &race[winner].record)
        .unwrap();
    devices[winner].confirm(&gid).unwrap();
    let authenticators = |d: &[Device; 2]| {
        (
            d[0].epoch_authenticator(&gid).unwrap(),
            d[1].epoch_authenticator(&gid).unwrap(),
        )
    };
    let (a, b) = authenticators(&devices);
    assert_eq!(a, b);
    assert_eq!(devices[loser].epoch(&gid).unwrap(), 2);

    // Its next try, on top of epoch 2, reaches everyone as epoch 3 (and is the next
    // epoch the watcher hears: the sync above held nothing more).
    let retry = devices[loser].update(&gid).unwrap();
    clients[loser].send(&commit_message(12, &retry)).await;
    for c in clients.iter_mut().chain([&mut watcher]) {
        let e = next_epoch(c).await;
        assert_eq!((e.epoch, e.commit.0), (3, retry.commit.clone()));
    }
    devices[loser].confirm(&gid).unwrap();
    devices[winner]
        .process(&gid, &retry.commit, &retry.record)
        .unwrap();
    let (a, b) = authenticators(&devices);
    assert_eq!(a, b);
    assert_eq!(devices[winner].epoch(&gid).unwrap(), 3);
}
