//! Wiring for the peer tests: two peers on 127.0.0.1 connected through tokio channels
//! standing in for signaling, and event helpers. Timeouts only guard against hangs.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use cai_crypto::sframe::CallId;
use cai_crypto::{DataKey, KeyEpoch, KeyId, SecretBytes};
use cai_rtc::data::ChannelContext;
use cai_rtc::media::CallKeys;
use cai_rtc::peer::{Peer, PeerConfig, PeerEvent};
use cai_rtc::webrtc_json::SessionDescriptionInit;

pub(crate) const TENANT: &[u8] = b"ten_test";
pub(crate) const SESSION: &str = "ses_01HZX3Q7V9K2M4N6P8R0S2T4V6";
/// The call instance both peers are in (`admitted.call`).
pub(crate) const CALL: CallId = CallId::from_bytes([0x5c; 16]);
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

/// A peer's configuration as participant `index` of a two-party call with 1 and 2.
pub(crate) fn config(index: u16, key: &DataKey) -> PeerConfig {
    let mut config = PeerConfig::new(
        ChannelContext {
            tenant: TENANT.to_vec(),
            session: SESSION.as_bytes().to_vec(),
            call: CALL,
            sender_index: index,
            mode: None,
        },
        key.clone(),
    )
    .loopback_only();
    config.remote_index = Some(3 - index);
    config
}

pub(crate) fn session_keys(index: u16, key: &DataKey) -> CallKeys {
    CallKeys::session(SESSION, &CALL, key, index, &[1, 2]).unwrap()
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

// ---------------------------------------------------------------------------------------
// Through the hub: two `Call`s brought together by a real `SignalingHub` over
// `MemoryChannel`s, admitted by cai-auth and cai-core on memory ports.

#[path = "../signaling_common/mod.rs"]
pub(crate) mod world;

pub(crate) mod e2e;

use cai_core::domain::SessionMode;
use cai_core::id::{SessionId, SubjectId};
use cai_rtc::call::{Call, CallEvent, CallSetup, RemoteDeviceKeys};
use cai_rtc::signaling::{JoinAuth, MemoryChannel, SecretText};
use ed25519_dalek::VerifyingKey;

/// Description keys of the test's two participants: the counsellor's account and any
/// guest (the test has one).
pub(crate) struct TwoKeys {
    pub(crate) counsellor: SubjectId,
    pub(crate) counsellor_key: VerifyingKey,
    pub(crate) guest_key: VerifyingKey,
}

impl RemoteDeviceKeys for TwoKeys {
    fn device_keys(&self, participant: &SubjectId) -> Vec<VerifyingKey> {
        match participant {
            p if *p == self.counsellor => vec![self.counsellor_key],
            SubjectId::Guest(_) => vec![self.guest_key],
            _ => Vec::new(),
        }
    }
}

/// A session of Cora's in `mode`, and a guest link to it.
pub(crate) async fn hub_session(
    mode: SessionMode,
) -> (world::World, SessionId, cai_core::domain::InvitationSecret) {
    let w = world::World::new().await;
    let s = w.ad_hoc(mode).await;
    let link = w.guest_link(s, Duration::from_secs(600)).await;
    (w, s, link)
}

/// A signaling connection to the hub's `serve`, as a host would run it.
pub(crate) fn hub_channel(w: &world::World) -> MemoryChannel {
    let (server, client) = MemoryChannel::pair(512);
    let hub = w.hub.clone();
    let meta = cai_core::domain::RequestMeta {
        id: None,
        client: Some("198.51.100.7".parse().unwrap()),
    };
    tokio::spawn(async move { hub.serve(server, meta).await });
    client
}

pub(crate) fn cora_auth(w: &world::World, s: SessionId) -> JoinAuth {
    JoinAuth::Token {
        token: SecretText::new(w.cora.token.clone()),
        session: s,
    }
}

pub(crate) fn guest_auth(w: &world::World, link: &cai_core::domain::InvitationSecret) -> JoinAuth {
    JoinAuth::GuestLink {
        tenant: w.tenant.id,
        pseudonym: "Kim".to_owned(),
        secret: SecretText::new(link.expose().as_str().to_owned()),
    }
}

/// Cora joins first (index 0), then the guest (index 1), who offers; returns both calls
/// once each reported its peer connected (the certificate checked).
pub(crate) async fn connect_via_hub(
    w: &world::World,
    s: SessionId,
    link: &cai_core::domain::InvitationSecret,
    cora: CallSetup,
    guest: CallSetup,
) -> (Call, Call) {
    let a = Call::join(hub_channel(w), cora_auth(w, s), cora.loopback_only())
        .await
        .unwrap();
    assert_eq!(a.admitted().sender_index, 0);
    let b = Call::join(hub_channel(w), guest_auth(w, link), guest.loopback_only())
        .await
        .unwrap();
    assert_eq!(b.admitted().sender_index, 1);
    assert_eq!(b.admitted().peers.len(), 1);
    for (call, other) in [(&a, 1u16), (&b, 0u16)] {
        next_call_matching(call, |e| match e {
            CallEvent::PeerConnected { peer, .. } if peer == other => Some(()),
            _ => None,
        })
        .await;
    }
    (a, b)
}

/// A session-key setup for the hub tests (the tenant as the channel binds it).
pub(crate) fn session_setup(w: &world::World, key: &DataKey) -> CallSetup {
    CallSetup::new(
        w.tenant.id.to_string().into_bytes(),
        cai_rtc::call::CallKeySource::Session(key.clone()),
    )
}

/// The next call event `pick` maps to `Some`, skipping others; an error event fails
/// the test unless `pick` takes it.
pub(crate) async fn next_call_matching<T>(
    call: &Call,
    mut pick: impl FnMut(CallEvent) -> Option<T>,
) -> T {
    tokio::time::timeout(HANG_GUARD, async {
        loop {
            let event = call.next_event().await.expect("call events ended");
            if let Some(t) = pick(event) {
                return t;
            }
        }
    })
    .await
    .expect("expected event")
}

/// Joins a call in a session outside end-to-end mode through the hub, on loopback,
/// with the session's key `key`.
pub(crate) async fn join_session(
    w: &world::World,
    auth: JoinAuth,
    key: &DataKey,
) -> Result<Call, cai_rtc::call::CallError> {
    Call::join(hub_channel(w), auth, session_setup(w, key).loopback_only()).await
}

/// The next chat message (from peer `from`, if given) with its sender; a rejected
/// message fails the test.
pub(crate) async fn next_chat_from(call: &Call, from: Option<u16>) -> (u16, String) {
    next_call_matching(call, |e| match e {
        CallEvent::Chat { peer, text } if from.is_none_or(|f| f == peer) => Some((peer, text)),
        CallEvent::DataRejected { error, .. } => panic!("rejected: {error}"),
        _ => None,
    })
    .await
}
