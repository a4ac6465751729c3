//! An end-to-end call between two peers over UDP on 127.0.0.1 with real MLS devices:
//! both see "end-to-end" and the same verification code, chat is sealed under the
//! epoch's content key, media frames are protected with MLS exporter keys and decrypt;
//! the transport carries no plaintext; when a third participant is removed, frames under
//! the old epoch are dropped and counted until the sender follows, and the removed
//! participant cannot open the new epoch's frames.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod peer_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cai_crypto::e2e::{
    AccountRef, Device, DeviceId, DsGroup, Handshake, IdentityKey, ModeDescriptor, TrustStore,
};
use cai_crypto::modes::SessionMode;
use cai_crypto::sframe::MediaSuite;
use cai_rtc::media::{CallKeys, DropReason};
use cai_rtc::peer::{MediaKind, Peer, PeerEvent};
use peer_support::*;

struct User {
    key: IdentityKey,
    account: AccountRef,
}

fn user(name: &str) -> User {
    User {
        key: IdentityKey::generate().unwrap(),
        account: AccountRef::new(name.as_bytes()).unwrap(),
    }
}

fn device(u: &User, name: &str) -> Device {
    Device::new(
        &u.key,
        u.account.clone(),
        DeviceId::new(name.as_bytes()).unwrap(),
        TrustStore::trust_on_first_use(),
    )
    .unwrap()
}

/// The Delivery Service accepts `h`, the committer confirms, the others process it.
fn commit(
    ds: &mut DsGroup,
    committer: &mut Device,
    others: &mut [&mut Device],
    gid: &[u8],
    h: &Handshake,
) {
    let check = ds.check(&h.commit, &h.record).unwrap();
    ds.apply(check).unwrap();
    committer.confirm(gid).unwrap();
    for d in others {
        d.process(gid, &h.commit, &h.record).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_to_end_call_with_mls_keys() {
    let session = SESSION.as_bytes();
    let (cu, clu, su) = (user("counsellor"), user("client"), user("supervisor"));
    let (mut c, mut cl, mut sv) = (
        device(&cu, "laptop"),
        device(&clu, "phone"),
        device(&su, "desk"),
    );
    let d =
        ModeDescriptor::sign(&cu.key, &cu.account, TENANT, session, SessionMode::EndToEnd).unwrap();
    let (info, record) = c.create_group(&d).unwrap();
    let mut ds = DsGroup::create(TENANT, session, &info, &record).unwrap();
    let gid = ds.group_id().to_vec();
    let h = c.add(&gid, &[cl.key_package(false).unwrap()]).unwrap();
    commit(&mut ds, &mut c, &mut [], &gid, &h);
    cl.join(TENANT, session, h.welcome.as_ref().unwrap(), &h.record)
        .unwrap();
    let h = c.add(&gid, &[sv.key_package(false).unwrap()]).unwrap();
    commit(&mut ds, &mut c, &mut [&mut cl], &gid, &h);
    sv.join(TENANT, session, h.welcome.as_ref().unwrap(), &h.record)
        .unwrap();
    let epoch = c.epoch(&gid).unwrap();
    assert_eq!(cl.epoch(&gid).unwrap(), epoch);

    let content_key = |dev: &Device| {
        let e = dev.epoch(&gid).unwrap();
        dev.epoch_keys(&gid, e)
            .unwrap()
            .unwrap()
            .content_key()
            .clone()
    };
    let a = Arc::new(
        Peer::new(
            config(0, &content_key(&c)),
            CallKeys::end_to_end(&c, &gid).unwrap(),
        )
        .await
        .unwrap(),
    );
    let mut b_config = config(1, &content_key(&cl));
    b_config.tap_transport_frames = true;
    let b = Arc::new(
        Peer::new(b_config, CallKeys::end_to_end(&cl, &gid).unwrap())
            .await
            .unwrap(),
    );
    let audio = Arc::new(a.add_track(MediaKind::Audio).await.unwrap());
    connect(&a, &b).await;

    // R-E5: both see end-to-end and the same short code.
    let (pa, pb) = (a.protection(), b.protection());
    assert!(pa.is_end_to_end() && pb.is_end_to_end());
    assert_eq!(pa.verification_code(), pb.verification_code());
    assert_eq!(pa.verification_code().unwrap().len(), 35);
    assert_eq!(
        pa.verification_code().unwrap(),
        c.verification_code(&gid).unwrap().digits()
    );

    b.send_chat("only the two of us can read this")
        .await
        .unwrap();
    next_matching(&a, |e| match e {
        PeerEvent::Chat { sender: 1, text } if text == "only the two of us can read this" => {
            Some(())
        }
        _ => None,
    })
    .await;

    let stop = Arc::new(AtomicBool::new(false));
    {
        let (audio, stop) = (audio.clone(), stop.clone());
        tokio::spawn(async move {
            let mut i = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let f = format!("opus-frame-{i:06}");
                audio.write_frame(f.as_bytes()).await.unwrap();
                i += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
    }
    // The counsellor created the group: MLS leaf 0.
    const COUNSELLOR_LEAF: u32 = 0;
    // The supervisor, still a member, holds this epoch's media keys.
    let mut supervisor = sv
        .media_receiver(&gid, MediaSuite::Aes256GcmSha512)
        .unwrap();
    let mut decrypted = 0;
    while decrypted < 10 {
        match next_matching(&b, Some).await {
            PeerEvent::TransportFrame { payload, .. } => {
                // What the transport carries: no plaintext, but members can open it.
                assert!(!payload.windows(11).any(|w| w == b"opus-frame-"));
                assert!(supervisor.unprotect(&payload, b"").is_ok());
            }
            PeerEvent::Frame { frame: f, .. } => {
                assert!(f.data.starts_with(b"opus-frame-"));
                assert_eq!((f.sender, f.epoch), (COUNSELLOR_LEAF, epoch));
                decrypted += 1;
            }
            PeerEvent::FrameDropped { dropped, .. } => panic!("dropped: {dropped}"),
            _ => {}
        }
    }

    // The supervisor leaves: the counsellor commits the removal, the client processes it
    // and moves its call first; the counsellor's frames of the old epoch are now stale.
    let h = c.remove(&gid, &su.account, None).unwrap();
    let check = ds.check(&h.commit, &h.record).unwrap();
    ds.apply(check).unwrap();
    cl.process(&gid, &h.commit, &h.record).unwrap();
    b.rekey_end_to_end(&cl, &gid).unwrap();
    let mut stale = 0;
    while stale < 3 {
        if let PeerEvent::FrameDropped { dropped, .. } = next_matching(&b, Some).await {
            assert_eq!(dropped.reason, DropReason::StaleEpoch);
            stale += 1;
        }
    }
    assert!(b.media_stats().dropped_stale >= 3);
    c.confirm(&gid).unwrap();
    a.rekey_end_to_end(&c, &gid).unwrap();
    assert_eq!(a.protection(), b.protection());
    assert_ne!(a.protection(), pa);
    // Frames of the new epoch decrypt for the client; the removed supervisor, with the
    // keys it had, cannot open them.
    let mut last_transport = Vec::new();
    loop {
        match next_matching(&b, Some).await {
            PeerEvent::TransportFrame { payload, .. } => last_transport = payload,
            PeerEvent::Frame { frame, .. } if frame.epoch == epoch + 1 => break,
            _ => {}
        }
    }
    assert!(matches!(
        supervisor.unprotect(&last_transport, b""),
        Err(cai_crypto::Error::UnknownMediaKey { .. })
    ));
    // Chat under the new epoch's content key.
    a.send_chat("after the change").await.unwrap();
    next_matching(&b, |e| match e {
        PeerEvent::Chat { text, .. } if text == "after the change" => Some(()),
        _ => None,
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    a.close().await.unwrap();
    b.close().await.unwrap();
}
