//! A call's life through the hub: `key_epoch` from cai-core's `KeysChanged` reaches both
//! participants; outside end-to-end mode the host moves the call to the new data key and
//! chat and media continue under it; in end-to-end mode the call follows at once when
//! the device has processed the epoch, and only after `rekey_end_to_end` when it has not;
//! closing the session in cai-core ends the call for everyone.

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

use cai_core::domain::SessionMode;
use cai_core::ports::{SessionEvent, SessionTransport};
use cai_rtc::call::{Call, CallError, CallEvent};
use cai_rtc::media::CallProtection;
use cai_rtc::peer::MediaKind;
use cai_rtc::signaling::EndReason;
use peer_support::e2e::*;
use peer_support::*;

async fn key_epoch(call: &Call) -> u32 {
    next_call_matching(call, |e| match e {
        CallEvent::KeyEpoch { epoch } => Some(epoch),
        _ => None,
    })
    .await
}

async fn protection(call: &Call) -> CallProtection {
    next_call_matching(call, |e| match e {
        CallEvent::Protection(p) => Some(p),
        _ => None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_key_epoch_moves_chat_and_media_and_closing_ends_the_call() {
    let (w, s, link) = hub_session(SessionMode::ServerManaged).await;
    let key = shared_key(21, 0);
    let mut guest = session_setup(&w, &key);
    guest.tracks = vec![MediaKind::Audio];
    let (a, b) = connect_via_hub(&w, s, &link, session_setup(&w, &key), guest).await;

    let stop = Arc::new(AtomicBool::new(false));
    {
        let audio = b.tracks(0).pop().unwrap();
        let stop = stop.clone();
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if audio.write_frame(b"opus").await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
    }
    next_call_matching(&a, |e| match e {
        CallEvent::Frame { peer: 1, frame, .. } if frame.epoch == 0 => Some(()),
        _ => None,
    })
    .await;

    // cai-core moves the session's keys: both hear of it.
    w.hub
        .events()
        .publish(w.tenant.id, s, SessionEvent::KeysChanged { epoch: 1 })
        .await
        .unwrap();
    assert_eq!(key_epoch(&a).await, 1);
    assert_eq!(key_epoch(&b).await, 1);
    // The host fetches the new data key and moves each call.
    let next = shared_key(21, 1);
    a.rekey_session(&next).await.unwrap();
    b.rekey_session(&next).await.unwrap();
    assert_eq!(protection(&a).await, CallProtection::TransportOnly);
    assert_eq!(protection(&b).await, CallProtection::TransportOnly);
    next_call_matching(&a, |e| match e {
        CallEvent::Frame { peer: 1, frame, .. } if frame.epoch == 1 => Some(()),
        _ => None,
    })
    .await;
    a.send_chat("under epoch 1").await.unwrap();
    assert_eq!(next_chat_from(&b, None).await.1, "under epoch 1");
    b.send_chat("likewise").await.unwrap();
    assert_eq!(next_chat_from(&a, None).await.1, "likewise");
    stop.store(true, Ordering::Relaxed);

    // Closing the session ends the call for both.
    w.svc()
        .close_session(&w.cora.caller, w.tenant.id, s)
        .await
        .unwrap();
    for call in [&a, &b] {
        let reason = next_call_matching(call, |e| match e {
            CallEvent::Ended(r) => Some(r),
            _ => None,
        })
        .await;
        assert_eq!(reason, Some(EndReason::SessionClosed));
        assert!(call.next_event().await.is_none(), "nothing after ended");
        assert!(call.peers().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_to_end_calls_follow_key_epoch_once_the_device_has_the_epoch() {
    let e = e2e_world().await;
    let a = Call::join(
        hub_channel(&e.w),
        cora_auth(&e.w, e.s),
        e2e_setup(&e, &e.cora, 0x11),
    )
    .await
    .unwrap();
    let b = Call::join(
        hub_channel(&e.w),
        guest_auth(&e.w, &e.link),
        e2e_setup(&e, &e.guest, 0x22),
    )
    .await
    .unwrap();
    let mut first = Vec::new();
    for (call, other) in [(&a, 1u16), (&b, 0u16)] {
        first.push(
            next_call_matching(call, |ev| match ev {
                CallEvent::PeerConnected {
                    peer, protection, ..
                } if peer == other => Some(protection),
                _ => None,
            })
            .await,
        );
    }
    let commit = |e: &E2eWorld| {
        let h = e.cora.lock().unwrap().update(&e.gid).unwrap();
        let mut ds = e.ds.lock().unwrap();
        let check = ds.check(&h.commit, &h.record).unwrap();
        ds.apply(check).unwrap();
        e.cora.lock().unwrap().confirm(&e.gid).unwrap();
        h
    };

    // Both devices already processed the epoch when `key_epoch` comes: the calls move.
    let h = commit(&e);
    e.guest
        .lock()
        .unwrap()
        .process(&e.gid, &h.commit, &h.record)
        .unwrap();
    let epoch = u32::try_from(e.cora.lock().unwrap().epoch(&e.gid).unwrap()).unwrap();
    e.w.hub
        .events()
        .publish(e.w.tenant.id, e.s, SessionEvent::KeysChanged { epoch })
        .await
        .unwrap();
    let mut moved = Vec::new();
    for call in [&a, &b] {
        assert_eq!(key_epoch(call).await, epoch);
        moved.push(protection(call).await);
    }
    assert_eq!(moved[0], moved[1]);
    assert!(moved[0].is_end_to_end());
    assert_ne!(moved[0], first[0]);

    // `key_epoch` before the guest's device has the epoch: Cora's call moves (her device
    // committed it), the guest's stays — its next event is Cora's chat under the new
    // epoch's key, refused — and follows when asked after processing.
    let h = commit(&e);
    let epoch = epoch + 1;
    e.w.hub
        .events()
        .publish(e.w.tenant.id, e.s, SessionEvent::KeysChanged { epoch })
        .await
        .unwrap();
    assert_eq!(key_epoch(&a).await, epoch);
    let ahead = protection(&a).await;
    assert_ne!(ahead, moved[0]);
    assert_eq!(key_epoch(&b).await, epoch);
    a.send_chat("under the new epoch").await.unwrap();
    let next = tokio::time::timeout(HANG_GUARD, b.next_event())
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(next, CallEvent::DataRejected { peer: 0, .. }),
        "{next:?}"
    );
    e.guest
        .lock()
        .unwrap()
        .process(&e.gid, &h.commit, &h.record)
        .unwrap();
    b.rekey_end_to_end().await.unwrap();
    assert_eq!(protection(&b).await, ahead);
    a.send_chat("now we agree").await.unwrap();
    assert_eq!(next_chat_from(&b, None).await.1, "now we agree");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_with_nobody_to_receive_it_is_an_error_not_a_silent_loss() {
    let (w, s, _) = hub_session(SessionMode::ServerManaged).await;
    let key = shared_key(23, 0);
    let alone = join_session(&w, cora_auth(&w, s), &key).await.unwrap();
    assert!(matches!(
        alone.send_chat("anyone?").await,
        Err(CallError::NoPeer)
    ));
    alone.leave();

    // With a checked peer it reaches it, and says so.
    let (w, s, link) = hub_session(SessionMode::ServerManaged).await;

    let (a, b) = connect_via_hub(
        &w,
        s,
        &link,
        session_setup(&w, &key),
        session_setup(&w, &key),
    )
    .await;
    assert_eq!(a.send_chat("one reader").await.unwrap(), 1);
    assert_eq!(next_chat_from(&b, None).await.1, "one reader");
}
