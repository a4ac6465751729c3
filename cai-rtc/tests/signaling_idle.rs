//! The idle timeout (`HubConfig::idle_timeout`, docs/SIGNALING.md §8): a joined
//! connection the hub hears nothing from for that long is closed, and the others get
//! `peer_left`; any message keeps it, and a Rust `Call` keeps itself alive with `ping`.
//! Time is tokio's paused clock: nothing here waits on the wall clock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "signaling_common/mod.rs"]
mod common;

use std::time::Duration;

use cai_core::domain::SessionMode;
use cai_rtc::signaling::{HubConfig, ServerMessage, limits};
use common::*;

const TICK: Duration = Duration::from_millis(1);

fn pong(id: u32) -> ServerMessage {
    ServerMessage::Pong {
        in_reply_to: Some(id),
    }
}

async fn admitted_index(c: &mut Client) -> u16 {
    match c.next().await {
        ServerMessage::Admitted(a) => a.sender_index,
        other => panic!("expected admitted, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_silent_member_is_closed_exactly_at_the_idle_timeout_and_the_others_get_peer_left() {
    let idle = HubConfig::default().idle_timeout;
    assert_eq!(idle, limits::IDLE_TIMEOUT);
    assert_eq!(idle, Duration::from_secs(60));
    let w = World::new().await;
    let s = w.ad_hoc(SessionMode::ServerManaged).await;
    let link = w.guest_link(s, Duration::from_secs(3600)).await;
    let (mut cora, _) = w.joined(&w.cora.token, s).await;
    let mut kim = w.connect();
    kim.send(&join_guest(w.tenant.id, "Kim", &link.expose()))
        .await;
    let kim_index = admitted_index(&mut kim).await;
    assert!(matches!(cora.next().await, ServerMessage::PeerJoined(_)));

    // One tick before the deadline both are still there.
    tokio::time::sleep(idle - TICK).await;
    assert_eq!(kim.ping(1).await, pong(1), "open one tick before");
    assert_eq!(cora.ping(1).await, pong(1));
    let last = tokio::time::Instant::now();

    // Kim stays silent from here; Cora pings one tick before her own deadline.
    tokio::time::sleep(idle - TICK).await;
    assert_eq!(cora.ping(2).await, pong(2));
    assert_eq!(w.hub.events().call_size(w.tenant.id, s), 2);
    assert_eq!(
        cora.next().await,
        ServerMessage::PeerLeft {
            sender_index: kim_index
        }
    );
    assert_eq!(last.elapsed(), idle, "closed exactly at the timeout");
    assert!(
        kim.drain_until_closed().await.is_empty(),
        "closed without an answer"
    );
    assert_eq!(w.hub.events().call_size(w.tenant.id, s), 1);
}

#[tokio::test(start_paused = true)]
async fn any_message_keeps_a_member_for_minutes() {
    let idle = HubConfig::default().idle_timeout;
    let w = World::new().await;
    let s = w.ad_hoc(SessionMode::ServerManaged).await;
    let (mut cora, _) = w.joined(&w.cora.token, s).await;
    for id in 0..10 {
        tokio::time::sleep(idle - TICK).await;
        assert_eq!(cora.ping(id).await, pong(id), "round {id}");
    }
    // A refused message counts too: the client is there.
    tokio::time::sleep(idle - TICK).await;
    cora.send("not json").await;
    assert!(matches!(cora.next().await, ServerMessage::Error { .. }));
    tokio::time::sleep(idle - TICK).await;
    assert_eq!(cora.ping(99).await, pong(99));
    assert_eq!(w.hub.events().call_size(w.tenant.id, s), 1);
}

#[tokio::test(start_paused = true)]
async fn a_configured_idle_timeout_is_used() {
    let w = World::new().await;
    let s = w.ad_hoc(SessionMode::ServerManaged).await;
    let backend = std::sync::Arc::new(cai_rtc::signaling::CaiBackend::new(w.auth.clone()));
    let idle = Duration::from_secs(5);
    let hub = cai_rtc::signaling::SignalingHub::with_config(
        backend.clone(),
        backend,
        w.hub.events().clone(),
        w.mono.clone(),
        HubConfig {
            idle_timeout: idle,
            ..HubConfig::default()
        },
    );
    let (server, client) = cai_rtc::signaling::MemoryChannel::pair(64);
    tokio::spawn(async move {
        hub.serve(server, cai_core::domain::RequestMeta::default())
            .await;
    });
    let mut cora = Client { ch: client };
    cora.send(&join_token(&w.cora.token, s)).await;
    admitted_index(&mut cora).await;
    let joined = tokio::time::Instant::now();
    assert!(cora.drain_until_closed().await.is_empty());
    assert_eq!(joined.elapsed(), idle);
}

/// A `Call` nobody touches for minutes stays in the call: it pings on its own.
#[cfg(feature = "peer")]
#[tokio::test(start_paused = true)]
async fn a_call_left_alone_stays_joined_because_it_pings() {
    use cai_crypto::{DataKey, KeyEpoch, KeyId, SecretBytes};
    use cai_rtc::call::{Call, CallEvent, CallKeySource, CallSetup};
    use cai_rtc::signaling::{JoinAuth, MemoryChannel, SecretText};

    let idle = HubConfig::default().idle_timeout;
    let w = World::new().await;
    let s = w.ad_hoc(SessionMode::ServerManaged).await;
    let link = w.guest_link(s, Duration::from_secs(3600)).await;
    let (server, client) = MemoryChannel::pair(64);
    let hub = w.hub.clone();
    tokio::spawn(async move {
        hub.serve(server, cai_core::domain::RequestMeta::default())
            .await;
    });
    let key = DataKey::from_parts(
        KeyId::random().unwrap(),
        KeyEpoch(0),
        SecretBytes::from_bytes([7; 32]),
    );
    let setup = CallSetup::new(
        w.tenant.id.to_string().into_bytes(),
        CallKeySource::Session(key),
    );
    assert_eq!(setup.keep_alive, limits::KEEP_ALIVE_INTERVAL);
    assert_eq!(setup.keep_alive, Duration::from_secs(20));
    let auth = JoinAuth::Token {
        token: SecretText::new(w.cora.token.clone()),
        session: s,
    };
    let call = Call::join(client, auth, setup).await.unwrap();

    // A silent raw client joined alongside is dropped: the timeout is running.
    let mut kim = w.connect();
    kim.send(&join_guest(w.tenant.id, "Kim", &link.expose()))
        .await;
    admitted_index(&mut kim).await;
    tokio::time::sleep(idle * 5).await;
    assert!(kim.drain_until_closed().await.is_empty());
    assert_eq!(w.hub.events().call_size(w.tenant.id, s), 1, "the Call only");

    // The call still works: it hears a newcomer.
    let (_second_tab, second) = w.joined(&w.cora.token, s).await;
    let joined = loop {
        match call.next_event().await.expect("call events") {
            CallEvent::PeerJoined(p) if p.sender_index == second => break p,
            CallEvent::PeerJoined(_) | CallEvent::PeerLeft { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(joined.sender_index, second);
    assert_eq!(w.hub.events().call_size(w.tenant.id, s), 2);
}
