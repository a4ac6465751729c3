//! An end-to-end call between two participants brought together by a real
//! `SignalingHub` (cai-auth and cai-core admission, in-memory channels), each a `Call`
//! with its peer over UDP on 127.0.0.1 and a real MLS device: offers and answers are
//! signed with device keys and verified, both see "end-to-end" and the same verification
//! code, chat is sealed under the epoch's content key, media frames are protected with
//! MLS exporter keys and decrypt; the transport carries no plaintext; when a third member
//! is removed, frames under the old epoch are dropped and counted until the sender
//! follows, and the removed member cannot open the new epoch's frames.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod peer_support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cai_core::domain::SessionMode as CoreMode;
use cai_core::id::SubjectId;
use cai_crypto::e2e::{
    AccountRef, Device, DeviceId, DsGroup, Handshake, IdentityKey, ModeDescriptor, TrustStore,
};
use cai_crypto::modes::SessionMode;
use cai_crypto::sframe::MediaSuite;
use cai_rtc::call::{CallEvent, CallKeySource, CallSetup, DescriptionKeys};
use cai_rtc::media::{CallProtection, DropReason};
use cai_rtc::peer::MediaKind;
use ed25519_dalek::SigningKey;
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

fn protection(e: CallEvent) -> Option<CallProtection> {
    match e {
        CallEvent::Protection(p) => Some(p),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_to_end_call_through_the_hub_with_signed_descriptions() {
    let (w, s, link) = hub_session(CoreMode::EndToEnd).await;
    let (tenant, session) = (w.tenant.id.to_string(), s.to_string());
    let (cu, clu, su) = (user("counsellor"), user("client"), user("supervisor"));
    let (mut c, mut cl, mut sv) = (
        device(&cu, "laptop"),
        device(&clu, "phone"),
        device(&su, "desk"),
    );
    let d = ModeDescriptor::sign(
        &cu.key,
        &cu.account,
        tenant.as_bytes(),
        session.as_bytes(),
        SessionMode::EndToEnd,
    )
    .unwrap();
    let (info, record) = c.create_group(&d).unwrap();
    let mut ds = DsGroup::create(tenant.as_bytes(), session.as_bytes(), &info, &record).unwrap();
    let gid = ds.group_id().to_vec();
    // The client is MLS leaf 1, the supervisor leaf 2.
    let h = c.add(&gid, &[cl.key_package(false).unwrap()]).unwrap();
    commit(&mut ds, &mut c, &mut [], &gid, &h);
    cl.join(
        tenant.as_bytes(),
        session.as_bytes(),
        h.welcome.as_ref().unwrap(),
        &h.record,
    )
    .unwrap();
    let h = c.add(&gid, &[sv.key_package(false).unwrap()]).unwrap();
    commit(&mut ds, &mut c, &mut [&mut cl], &gid, &h);
    sv.join(
        tenant.as_bytes(),
        session.as_bytes(),
        h.welcome.as_ref().unwrap(),
        &h.record,
    )
    .unwrap();
    let epoch = c.epoch(&gid).unwrap();
    const CLIENT_LEAF: u32 = 1;

    // Description-signing device keys; each side knows the other's.
    let (cora_sk, guest_sk) = (
        SigningKey::from_bytes(&[0x11; 32]),
        SigningKey::from_bytes(&[0x22; 32]),
    );
    let keys = Arc::new(TwoKeys {
        counsellor: SubjectId::Account(w.cora.account.id),
        counsellor_key: cora_sk.verifying_key(),
        guest_key: guest_sk.verifying_key(),
    });
    let (c, cl) = (Arc::new(Mutex::new(c)), Arc::new(Mutex::new(cl)));
    let setup = |device: &Arc<Mutex<Device>>, signing: SigningKey| {
        CallSetup::new(
            tenant.clone().into_bytes(),
            CallKeySource::EndToEnd {
                device: device.clone(),
                group_id: gid.clone(),
            },
        )
        .with_signing(DescriptionKeys {
            signing,
            remote: keys.clone(),
        })
    };
    let mut cora_setup = setup(&c, cora_sk);
    cora_setup.tap_transport_frames = true;
    let mut guest_setup = setup(&cl, guest_sk);
    // The guest joins second and offers, with its audio track in the offer.
    guest_setup.tracks = vec![MediaKind::Audio];

    let a = cai_rtc::call::Call::join(
        hub_channel(&w),
        cora_auth(&w, s),
        cora_setup.loopback_only(),
    )
    .await
    .unwrap();
    assert!(a.admitted().end_to_end);
    let b = cai_rtc::call::Call::join(
        hub_channel(&w),
        guest_auth(&w, &link),
        guest_setup.loopback_only(),
    )
    .await
    .unwrap();
    // R-E5: both see end-to-end and the same short code, the group's.
    let mut codes = Vec::new();
    for (call, other) in [(&a, 1u16), (&b, 0u16)] {
        let p = next_call_matching(call, |e| match e {
            CallEvent::PeerConnected {
                peer, protection, ..
            } if peer == other => Some(protection),
            _ => None,
        })
        .await;
        assert!(p.is_end_to_end());
        codes.push(p.verification_code().unwrap().to_owned());
    }
    assert_eq!(codes[0], codes[1]);
    assert_eq!(codes[0].len(), 35);
    assert_eq!(
        codes[0],
        c.lock().unwrap().verification_code(&gid).unwrap().digits()
    );

    b.send_chat("only the two of us can read this")
        .await
        .unwrap();
    next_call_matching(&a, |e| match e {
        CallEvent::Chat { peer: 1, text } if text == "only the two of us can read this" => Some(()),
        _ => None,
    })
    .await;

    let stop = Arc::new(AtomicBool::new(false));
    {
        let audio = b.tracks(0).pop().expect("the guest's audio track");
        assert_eq!(audio.kind(), MediaKind::Audio);
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut i = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let f = format!("opus-frame-{i:06}");
                // Fails only once the call is over.
                if audio.write_frame(f.as_bytes()).await.is_err() {
                    break;
                }
                i += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
    }
    // The supervisor, still a member, holds this epoch's media keys.
    let mut supervisor = sv
        .media_receiver(&gid, MediaSuite::Aes256GcmSha512)
        .unwrap();
    let mut decrypted = 0;
    while decrypted < 10 {
        match next_call_matching(&a, Some).await {
            CallEvent::TransportFrame { payload, .. } => {
                // What the transport carries: no plaintext, but members can open it.
                assert!(!payload.windows(11).any(|w| w == b"opus-frame-"));
                assert!(supervisor.unprotect(&payload, b"").is_ok());
            }
            CallEvent::Frame { peer, frame: f, .. } => {
                assert_eq!(peer, 1);
                assert!(f.data.starts_with(b"opus-frame-"));
                assert_eq!((f.sender, f.epoch), (CLIENT_LEAF, epoch));
                decrypted += 1;
            }
            CallEvent::FrameDropped { dropped, .. } => panic!("dropped: {dropped}"),
            _ => {}
        }
    }

    // The supervisor leaves: the counsellor commits the removal and moves her call
    // first; the guest's frames of the old epoch are now stale for her.
    let h = c.lock().unwrap().remove(&gid, &su.account, None).unwrap();
    let check = ds.check(&h.commit, &h.record).unwrap();
    ds.apply(check).unwrap();
    c.lock().unwrap().confirm(&gid).unwrap();
    a.rekey_end_to_end().await.unwrap();
    let moved = next_call_matching(&a, protection).await;
    assert_ne!(moved.verification_code(), Some(codes[0].as_str()));
    let mut stale = 0;
    while stale < 3 {
        if let CallEvent::FrameDropped { dropped, .. } = next_call_matching(&a, Some).await {
            assert_eq!(dropped.reason, DropReason::StaleEpoch);
            stale += 1;
        }
    }
    assert!(a.peer(1).unwrap().media_stats().dropped_stale >= 3);
    // Rekeying again in the same epoch is a no-op: no second sender, no nonce reuse.
    a.rekey_end_to_end().await.unwrap();
    cl.lock()
        .unwrap()
        .process(&gid, &h.commit, &h.record)
        .unwrap();
    b.rekey_end_to_end().await.unwrap();
    assert_eq!(next_call_matching(&b, protection).await, moved);
    // Frames of the new epoch decrypt for the counsellor; the removed supervisor, with
    // the keys it had, cannot open them.
    let mut last_transport = Vec::new();
    loop {
        match next_call_matching(&a, Some).await {
            CallEvent::TransportFrame { payload, .. } => last_transport = payload,
            CallEvent::Frame { frame, .. } if frame.epoch == epoch + 1 => break,
            _ => {}
        }
    }
    assert!(matches!(
        supervisor.unprotect(&last_transport, b""),
        Err(cai_crypto::Error::UnknownMediaKey { .. })
    ));
    // Chat under the new epoch's content key.
    a.send_chat("after the change").await.unwrap();
    next_call_matching(&b, |e| match e {
        CallEvent::Chat { text, .. } if text == "after the change" => Some(()),
        _ => None,
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    a.leave();
    b.leave();
}
