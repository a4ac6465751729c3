//! The call id in `admitted` (docs/SIGNALING.md §5, docs/SFRAME.md §3a): every member of
//! one call instance gets the same `call`; a call that empties and starts again gets a
//! new one, so session media keys of the earlier instance (and frames recorded under
//! them) are worthless in the later one; another session's call has its own.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "signaling_common/mod.rs"]
mod common;

use cai_core::domain::SessionMode;
use cai_core::id::SessionId;
use cai_rtc::signaling::{Admitted, Frame, ServerMessage, SignalingChannel};
use common::*;

const LEAVE: &str = r#"{"v":1,"type":"leave"}"#;

/// Joins `session` as Cora on `c` and returns `admitted`, skipping roster notices that
/// were queued before it.
async fn join(w: &World, c: &mut Client, session: SessionId) -> Admitted {
    c.send(&join_token(&w.cora.token, session)).await;
    loop {
        match c.next().await {
            ServerMessage::Admitted(a) => return a,
            ServerMessage::PeerJoined(_) | ServerMessage::PeerLeft { .. } => {}
            other => panic!("expected admitted, got {other:?}"),
        }
    }
}

/// Leaves the call on `c`; the `pong` after it shows the hub has processed the leave.
async fn leave(c: &mut Client, ping_id: u32) {
    c.send(LEAVE).await;
    c.send(&format!(r#"{{"v":1,"id":{ping_id},"type":"ping"}}"#))
        .await;
    loop {
        match c.next().await {
            ServerMessage::Pong { in_reply_to } if in_reply_to == Some(ping_id) => return,
            ServerMessage::PeerJoined(_) | ServerMessage::PeerLeft { .. } => {}
            other => panic!("expected pong, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn members_of_one_call_share_its_id_and_a_call_started_again_gets_a_new_one() {
    let w = World::new().await;
    let s = w.ad_hoc(SessionMode::SessionKey).await;
    let (mut a, mut b) = (w.connect(), w.connect());
    let first_a = join(&w, &mut a, s).await;
    let first_b = join(&w, &mut b, s).await;
    assert_eq!(first_a.call, first_b.call, "one call instance, one id");
    assert_ne!(first_a.sender_index, first_b.sender_index);

    // a leaves while b stays: the instance goes on, and a's rejoin is in it.
    leave(&mut a, 1).await;
    let again_a = join(&w, &mut a, s).await;
    assert_eq!(again_a.call, first_a.call, "the call never emptied");
    assert_eq!(again_a.peers.len(), 1);

    // Both leave: the call is empty. Whoever joins next starts a new instance.
    leave(&mut a, 2).await;
    leave(&mut b, 3).await;
    let mut c = w.connect();
    let next = join(&w, &mut c, s).await;
    assert_ne!(next.call, first_a.call, "a call started again has a new id");
    assert!(next.peers.is_empty());
    // Indices still count on while the hub runs; the new id is what separates keys
    // across a hub restart, where they start again at 0.
    assert!(next.sender_index > again_a.sender_index);
    // Its second member gets the new id too.
    let second = join(&w, &mut a, s).await;
    assert_eq!(second.call, next.call);

    // Another session's call has an id of its own.
    let other = w.ad_hoc(SessionMode::SessionKey).await;
    let mut d = w.connect();
    let elsewhere = join(&w, &mut d, other).await;
    assert_ne!(elsewhere.call, next.call);
    assert_ne!(elsewhere.call, first_a.call);
}

#[tokio::test]
async fn the_call_id_is_32_lowercase_hex_characters_on_the_wire() {
    let w = World::new().await;
    let s = w.ad_hoc(SessionMode::ServerManaged).await;
    let mut c = w.connect();
    c.send(&join_token(&w.cora.token, s)).await;
    let Some(Ok(Frame::Text(bytes))) = c.ch.recv().await else {
        panic!("no admitted");
    };
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let call = json
        .get("call")
        .and_then(serde_json::Value::as_str)
        .unwrap();
    assert_eq!(call.len(), 32);
    assert!(
        call.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    let ServerMessage::Admitted(admitted) = ServerMessage::parse(&bytes).unwrap() else {
        panic!("not admitted");
    };
    assert_eq!(admitted.call.to_string(), call);
}
