//! MLS over signaling (issue 12): in an end-to-end session the group's start and its
//! commits go through cai-core's Delivery Service, and every member of the call gets the
//! accepted epochs in the service's order; a commit for an old epoch is `mls_conflict`;
//! outside end-to-end mode MLS messages are `wrong_mode`. Real `cai_crypto::e2e::Device`s
//! make the handshakes.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

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
