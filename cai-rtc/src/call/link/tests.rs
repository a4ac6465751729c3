//! The V17 check on a real handshake, below what an integration test can reach: the
//! `webrtc` stack already refuses a certificate that differs from the SDP it was given,
//! so only a description whose signed fingerprints differ from what the stack checks
//! (here: an expectation set directly) shows that the call's own check closes the
//! connection and reports it, and that content is not passed on before it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use cai_crypto::sframe::CallId;
use cai_crypto::{DataKey, KeyEpoch, KeyId, SecretBytes};
use tokio::sync::mpsc;

use super::*;
use crate::call::driver::KeyState;
use crate::data::{ChannelContext, DataLimits};
use crate::media::CallKeys;
use crate::peer::PeerConfig;
use crate::signaling::{FingerprintAlgorithm, sdp_fingerprints};

const SESSION: &str = "ses_0196f3c4a1b27c3d8e9f0a1b2c3d4e5f";
const CALL: CallId = CallId::from_bytes([5; 16]);
const HANG_GUARD: Duration = Duration::from_secs(60);

fn key() -> DataKey {
    DataKey::from_parts(
        KeyId::from_bytes([4; 16]),
        KeyEpoch(1),
        SecretBytes::from_bytes([4; 32]),
    )
}

async fn peer(index: u16) -> Arc<Peer> {
    let config = PeerConfig::new(
        ChannelContext {
            tenant: b"ten_unit".to_vec(),
            session: SESSION.as_bytes().to_vec(),
            call: CALL,
            sender_index: index,
            mode: None,
        },
        key(),
    )
    .loopback_only();
    let keys = CallKeys::session(SESSION, &CALL, &key(), index, &[0, 1]).unwrap();
    Arc::new(Peer::new(config, keys).await.unwrap())
}

/// The state of a call whose own index is 0, with its events.
fn inner() -> (Arc<Inner>, mpsc::Receiver<CallEvent>) {
    let (events, rx) = mpsc::channel(64);
    let (out, _) = mpsc::unbounded_channel();
    let inner = Inner {
        session: SESSION.parse().unwrap(),
        call: CALL,
        own: 0,
        tenant: b"ten_unit".to_vec(),
        mode: None,
        limits: DataLimits::default(),
        udp_addrs: Vec::new(),
        ice_servers: Vec::new(),
        tracks: Vec::new(),
        tap: false,
        signing: None,
        keys: Mutex::new(KeyState::Session(key())),
        links: Mutex::new(HashMap::new()),
        roster: Mutex::new(HashMap::new()),
        events,
        out,
    };
    (Arc::new(inner), rx)
}

/// `a` (forwarded by a call as its link to peer 1, expecting `expected`) offers to `b`;
/// `b` sends a chat message as soon as its data channel is open. Returns the call's first
/// event that is not a state-only one.
async fn run(
    expected: impl FnOnce(&str) -> Vec<Fingerprint>,
) -> (CallEvent, Arc<Inner>, Arc<Link>) {
    let (a, b) = (peer(0).await, peer(1).await);
    let (inner, mut events) = inner();
    let link = Arc::new(Link::new(a.clone(), Vec::new()));
    inner.links.lock().unwrap().insert(1, link.clone());
    tokio::spawn(forward_events(inner.clone(), 1, link.clone()));
    let offer = a.create_offer().await.unwrap();
    let answer = b.accept_offer(&offer).await.unwrap();
    link.expect(expected(&answer.sdp));
    a.accept_answer(&answer).await.unwrap();
    for (from, to) in [(a.clone(), b.clone()), (b.clone(), a.clone())] {
        let mut rx = from.take_local_candidates().unwrap();
        tokio::spawn(async move {
            while let Some(c) = rx.recv().await {
                if to.add_remote_candidate(&c).await.is_err() {
                    break;
                }
            }
        });
    }
    {
        let b = b.clone();
        tokio::spawn(async move {
            if b.wait_data_channel_open().await.is_ok() {
                let _ = b.send_chat("from b").await;
            }
        });
    }
    let event = tokio::time::timeout(HANG_GUARD, events.recv())
        .await
        .expect("an event")
        .expect("events open");
    (event, inner, link)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_unlike_the_signed_fingerprint_closes_the_connection() {
    let wrong = Fingerprint::new(FingerprintAlgorithm::Sha256, &[0xAB; 32]).unwrap();
    let (event, inner, link) = run(|_| vec![wrong]).await;
    // The first thing the call reports is the refusal: no chat, no "connected".
    assert!(
        matches!(
            event,
            CallEvent::Error {
                peer: Some(1),
                error: CallError::Fingerprint(FingerprintError::Mismatch)
            }
        ),
        "{event:?}"
    );
    assert!(inner.links.lock().unwrap().is_empty());
    assert!(*link.stopped().borrow());
    assert!(!link.is_verified());
    assert!(matches!(
        link.peer.send_chat("after").await,
        Err(crate::peer::PeerError::NotOpen | crate::peer::PeerError::WebRtc(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fingerprint_of_the_description_passes() {
    let (event, inner, link) = run(|sdp| sdp_fingerprints(sdp).unwrap()).await;
    let CallEvent::PeerConnected {
        peer, fingerprint, ..
    } = event
    else {
        panic!("{event:?}");
    };
    assert_eq!(peer, 1);
    let seen = link.peer.remote_fingerprint().await.unwrap();
    assert_eq!(Fingerprint::parse(&seen).unwrap(), fingerprint);
    assert!(link.is_verified());
    assert_eq!(inner.links.lock().unwrap().len(), 1);
    link.shut().await;
}
