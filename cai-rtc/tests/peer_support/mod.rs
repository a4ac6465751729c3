//! Wiring for the peer tests: two peers on 127.0.0.1 connected through tokio channels
//! standing in for signaling, and event helpers. Timeouts only guard against hangs.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use cai_crypto::{DataKey, KeyEpoch, KeyId, SecretBytes};
use cai_rtc::data::ChannelContext;
use cai_rtc::media::CallKeys;
use cai_rtc::peer::{Peer, PeerConfig, PeerEvent};
use cai_rtc::webrtc_json::SessionDescriptionInit;

pub(crate) const TENANT: &[u8] = b"ten_test";
pub(crate) const SESSION: &str = "ses_01HZX3Q7V9K2M4N6P8R0S2T4V6";
/// Generous: a hang guard, not a speed assertion.
pub(crate) const HANG_GUARD: Duration = Duration::from_secs(60);

pub(crate) fn data_key(byte: u8, epoch: u32) -> DataKey {
    DataKey::from_parts(
        KeyId::random().unwrap(),
        KeyEpoch(epoch),
        SecretBytes::from_bytes([byte; 32]),
    )
}

/// The same key material under a fixed id, as two participants of a session hold it.
pub(crate) fn shared_key(byte: u8, epoch: u32) -> DataKey {
    let mut id = [0u8; 16];
    id[0] = byte;
    id[1..5].copy_from_slice(&epoch.to_be_bytes());
    DataKey::from_parts(
        KeyId::from_bytes(id),
        KeyEpoch(epoch),
        SecretBytes::from_bytes([byte; 32]),
    )
}

pub(crate) fn config(index: u16, key: &DataKey) -> PeerConfig {
    PeerConfig::new(
        ChannelContext {
            tenant: TENANT.to_vec(),
            session: SESSION.as_bytes().to_vec(),
            sender_index: index,
            mode: None,
        },
        key.clone(),
    )
    .loopback_only()
}

pub(crate) fn session_keys(index: u16, key: &DataKey) -> CallKeys {
    CallKeys::session(SESSION, key, index, &[1, 2]).unwrap()
}

/// Offer/answer between `a` (offerer) and `b`, then trickle ICE both ways through
/// channels; returns the offer and the answer once both data channels are open.
pub(crate) async fn connect(
    a: &Arc<Peer>,
    b: &Arc<Peer>,
) -> (SessionDescriptionInit, SessionDescriptionInit) {
    let offer = a.create_offer().await.unwrap();
    assert!(offer.sdp.contains("a=max-message-size:262144"));
    let answer = b.accept_offer(&offer).await.unwrap();
    a.accept_answer(&answer).await.unwrap();
    forward(a, b);
    forward(b, a);
    tokio::time::timeout(HANG_GUARD, async {
        a.wait_data_channel_open().await.unwrap();
        b.wait_data_channel_open().await.unwrap();
    })
    .await
    .expect("data channels open");
    (offer, answer)
}

fn forward(from: &Arc<Peer>, to: &Arc<Peer>) {
    let mut rx = from.take_local_candidates().unwrap();
    let to = to.clone();
    tokio::spawn(async move {
        while let Some(c) = rx.recv().await {
            if !c.candidate.is_empty() {
                // Loopback only: every gathered candidate is a 127.0.0.1 host candidate.
                assert!(c.candidate.contains("127.0.0.1"), "{}", c.candidate);
                assert!(c.candidate.contains(" typ host"), "{}", c.candidate);
            }
            to.add_remote_candidate(&c).await.unwrap();
        }
    });
}

/// Two session-key peers (indices 1 and 2) sharing `key`, connected.
pub(crate) async fn session_pair(key: &DataKey) -> (Arc<Peer>, Arc<Peer>) {
    let a = Arc::new(
        Peer::new(config(1, key), session_keys(1, key))
            .await
            .unwrap(),
    );
    let b = Arc::new(
        Peer::new(config(2, key), session_keys(2, key))
            .await
            .unwrap(),
    );
    connect(&a, &b).await;
    (a, b)
}

/// The next event `pick` maps to `Some`, skipping others (state changes, …).
pub(crate) async fn next_matching<T>(
    peer: &Peer,
    mut pick: impl FnMut(PeerEvent) -> Option<T>,
) -> T {
    tokio::time::timeout(HANG_GUARD, async {
        loop {
            let event = peer.next_event().await.expect("peer events ended");
            if let Some(t) = pick(event) {
                return t;
            }
        }
    })
    .await
    .expect("expected event")
}
