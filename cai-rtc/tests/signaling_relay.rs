//! Relaying and robustness (issue 12): offers, answers and candidates reach the addressed
//! member of the sender's own call, with `from` set by the server, and nobody in another
//! session's call; malformed JSON, an oversize field, an unknown version each get their
//! typed error and the next valid message still works; the rate limit holds at exactly
//! its burst and refuses one past it; too many errors close the connection.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "signaling_common/mod.rs"]
mod common;

use std::time::Duration;

use cai_core::domain::SessionMode;
use cai_rtc::signaling::{ErrorCode, Frame, ServerMessage, limits};
use cai_rtc::webrtc_json::SdpType;
use common::*;

fn offer(to: u16, sdp: &str) -> String {
    serde_json::json!({"v":1,"type":"offer","to":to,"description":{"type":"offer","sdp":sdp}})
        .to_string()
}

fn code(m: ServerMessage) -> (ErrorCode, Option<String>, Option<u32>) {
    match m {
        ServerMessage::Error {
            code,
            field,
            in_reply_to,
            ..
        } => (code, field, in_reply_to),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[tokio::test]
async fn offer_answer_and_ice_reach_the_peer_and_no_other_session() {
    let w = World::new().await;
    let s = w.ad_hoc(SessionMode::ServerManaged).await;
    let other = w.ad_hoc(SessionMode::ServerManaged).await;
    let (mut a, ia) = w.joined(&w.cora.token, s).await;
    let link = w.guest_link(s, Duration::from_secs(600)).await;
    let mut b = w.connect();
    b.send(&join_guest(w.tenant.id, "Kim", &link.expose()))
        .await;
    let ServerMessage::Admitted(admitted) = b.next().await else {
        panic!("not admitted");
    };
    let ib = admitted.sender_index;
    assert_eq!(admitted.peers.len(), 1);
    assert_eq!(admitted.peers[0].sender_index, ia);
    assert!(matches!(a.next().await, ServerMessage::PeerJoined(p) if p.sender_index == ib));

    // A third connection in another session's call: its index space is its own, so
    // neither a's nor b's index reaches them.
    let (mut c, ic) = w.joined(&w.cora.token, other).await;
    for to in [ia, ib] {
        if to == ic {
            continue;
        }
        c.send(&offer(to, &sdp(0xCC))).await;
        assert_eq!(code(c.next().await).0, ErrorCode::UnknownPeer);
    }
    c.send(&offer(ic, &sdp(0xCC))).await;
    assert_eq!(
        code(c.next().await).0,
        ErrorCode::UnknownPeer,
        "not to oneself"
    );

    // a → b: offer; b → a: answer; a → b: a candidate. Had c's offer reached b, it
    // would come first (b's queue is in order).
    a.send(&offer(ib, &sdp(0xAA))).await;
    let ServerMessage::Offer(o) = b.next().await else {
        panic!("no offer");
    };
    assert_eq!(o.from, ia);
    assert_eq!(o.description.sdp_type, SdpType::Offer);
    assert_eq!(o.description.sdp, sdp(0xAA));

    b.send(
        &serde_json::json!({"v":1,"type":"answer","to":ia,"description":{"type":"answer","sdp":sdp(0xBB)}})
            .to_string(),
    )
    .await;
    let ServerMessage::Answer(ans) = a.next().await else {
        panic!("no answer");
    };
    assert_eq!(ans.from, ib);
    assert_eq!(ans.description.sdp, sdp(0xBB));

    a.send(&format!(
        r#"{{"v":1,"type":"ice","to":{ib},"candidate":{{"candidate":"candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host","sdpMid":"0","sdpMLineIndex":0}}}}"#
    ))
    .await;
    let ServerMessage::Ice(ice) = b.next().await else {
        panic!("no candidate");
    };
    assert_eq!(ice.from, ia);
    assert_eq!(ice.candidate.sdp_mid.as_deref(), Some("0"));

    // b leaves: a is told; an offer to b now is to nobody.
    b.send(r#"{"v":1,"type":"leave"}"#).await;
    assert_eq!(a.next().await, ServerMessage::PeerLeft { sender_index: ib });
    a.send(&offer(ib, &sdp(0xAA))).await;
    assert_eq!(code(a.next().await).0, ErrorCode::UnknownPeer);
}

#[tokio::test]
async fn relaying_needs_an_admitted_connection_and_a_fingerprint() {
    let w = World::new().await;
    let s = w.ad_hoc(SessionMode::ServerManaged).await;
    let mut fresh = w.connect();
    fresh.send(&offer(0, &sdp(0xAA))).await;
    assert_eq!(code(fresh.next().await).0, ErrorCode::NotJoined);

    let (mut a, _) = w.joined(&w.cora.token, s).await;
    let (_b, ib) = w.joined(&w.cora.token, s).await;
    let _ = a.next().await; // peer_joined
    let no_fingerprint =
        "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n";
    a.send(&offer(ib, no_fingerprint)).await;
    assert_eq!(
        code(a.next().await),
        (
            ErrorCode::InvalidField,
            Some("description.sdp".to_owned()),
            None
        )
    );
}

async fn end_to_end_session(w: &World) -> cai_core::id::SessionId {
    w.svc()
        .create_session(
            &w.cora.caller,
            w.tenant.id,
            cai_core::service::NewSession {
                mode: Some(SessionMode::EndToEnd),
                ..cai_core::service::NewSession::classic()
            },
        )
        .await
        .unwrap()
        .session
        .id
}

#[tokio::test]
async fn end_to_end_sessions_need_signed_descriptions() {
    let w = World::new().await;
    let s = end_to_end_session(&w).await;
    let (mut a, _) = w.joined(&w.cora.token, s).await;
    let (mut b, ib) = w.joined(&w.cora.token, s).await;
    let _ = a.next().await;
    a.send(&offer(ib, &sdp(0xAA))).await;
    assert_eq!(
        code(a.next().await),
        (ErrorCode::InvalidField, Some("signature".to_owned()), None)
    );
    let signature = base64_of(&[7u8; 64]);
    a.send(
        &serde_json::json!({"v":1,"type":"offer","to":ib,"description":{"type":"offer","sdp":sdp(0xAA)},"signature":signature})
            .to_string(),
    )
    .await;
    let ServerMessage::Offer(o) = b.next().await else {
        panic!("no offer");
    };
    assert_eq!(o.signature.unwrap().0, vec![7u8; 64], "relayed unchanged");
}

/// docs/SIGNALING.md §4 `offer`, `answer`: the signature rule holds for answers (and
/// provisional answers) as for offers. An unsigned one is `invalid_field` `signature`,
/// reaches nobody, and the connection stays: its signed answer goes through next.
#[tokio::test]
async fn end_to_end_answers_need_a_signature_too() {
    let w = World::new().await;
    let s = end_to_end_session(&w).await;
    let (mut a, ia) = w.joined(&w.cora.token, s).await;
    let (mut b, _) = w.joined(&w.cora.token, s).await;
    let _ = a.next().await; // peer_joined
    let answer = |id: u32, kind: &str, signature: Option<String>| {
        let mut m = serde_json::json!({"v":1,"id":id,"type":"answer","to":ia,
            "description":{"type":kind,"sdp":sdp(0xBB)}});
        if let Some(sig) = signature {
            m["signature"] = sig.into();
        }
        m.to_string()
    };
    for (id, kind) in [(3, "answer"), (4, "pranswer")] {
        b.send(&answer(id, kind, None)).await;
        assert_eq!(
            code(b.next().await),
            (
                ErrorCode::InvalidField,
                Some("signature".to_owned()),
                Some(id)
            ),
            "{kind}"
        );
    }
    b.send(&answer(5, "answer", Some(base64_of(&[9u8; 64]))))
        .await;
    // a's queue is in order: had an unsigned answer been relayed, it would come first.
    let ServerMessage::Answer(ans) = a.next().await else {
        panic!("no answer");
    };
    assert_eq!(ans.description.sdp_type, SdpType::Answer);
    assert_eq!(ans.signature.unwrap().0, vec![9u8; 64], "relayed unchanged");
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn malformed_oversize_and_unknown_version_get_typed_errors_and_the_connection_stays() {
    let w = World::new().await;
    let s = w.ad_hoc(SessionMode::ServerManaged).await;
    let (mut a, _) = w.joined(&w.cora.token, s).await;
    let (_b, ib) = w.joined(&w.cora.token, s).await;
    let _ = a.next().await;

    a.send(r#"{"v":1,"type":"ping""#).await;
    assert_eq!(code(a.next().await).0, ErrorCode::MalformedJson);
    assert!(matches!(
        a.ping(1).await,
        ServerMessage::Pong {
            in_reply_to: Some(1)
        }
    ));

    a.send(r#"{"v":2,"id":9,"type":"ping"}"#).await;
    assert_eq!(
        code(a.next().await),
        (ErrorCode::UnsupportedVersion, None, None),
        "the version is checked before the id is read"
    );
    assert!(matches!(
        a.ping(2).await,
        ServerMessage::Pong {
            in_reply_to: Some(2)
        }
    ));

    // An SDP one byte over its limit: too_large naming the field, with the id.
    let mut big = sdp(0xAA);
    big.push_str(&"a".repeat(limits::MAX_SDP_BYTES - big.len() + 1));
    a.send(
        &serde_json::json!({"v":1,"id":5,"type":"offer","to":ib,"description":{"type":"offer","sdp":big}})
            .to_string(),
    )
    .await;
    assert_eq!(
        code(a.next().await),
        (
            ErrorCode::TooLarge,
            Some("description.sdp".to_owned()),
            Some(5)
        )
    );
    assert!(matches!(
        a.ping(3).await,
        ServerMessage::Pong {
            in_reply_to: Some(3)
        }
    ));

    // A binary frame, and a frame the transport already found oversized.
    a.send_frame(Frame::Binary).await;
    assert_eq!(code(a.next().await).0, ErrorCode::InvalidFrame);
    a.send_frame(Frame::Oversized).await;
    assert_eq!(
        code(a.next().await),
        (ErrorCode::TooLarge, Some("message".to_owned()), None)
    );
    a.send(r#"{"v":1,"type":"dance"}"#).await;
    assert_eq!(code(a.next().await).0, ErrorCode::UnknownType);
    assert!(matches!(
        a.ping(4).await,
        ServerMessage::Pong {
            in_reply_to: Some(4)
        }
    ));
}

#[tokio::test]
async fn the_rate_limit_allows_exactly_its_burst() {
    let w = World::new().await;
    let mut a = w.connect();
    for i in 0..limits::RATE_BURST {
        assert!(
            matches!(a.ping(i).await, ServerMessage::Pong { .. }),
            "message {i} of the burst"
        );
    }
    let ServerMessage::Error {
        code,
        retry_after_ms,
        in_reply_to,
        ..
    } = a.ping(999).await
    else {
        panic!("one past the burst is refused");
    };
    assert_eq!(code, ErrorCode::RateLimited);
    // Refused before it is parsed: no id is known.
    assert_eq!(in_reply_to, None);
    let wait = retry_after_ms.unwrap();
    assert_eq!(wait, 1000 / u64::from(limits::RATE_PER_SECOND));
    // One interval later exactly one more message goes through.
    w.mono.advance(Duration::from_millis(wait));
    assert!(matches!(a.ping(1000).await, ServerMessage::Pong { .. }));
    assert!(matches!(
        a.ping(1001).await,
        ServerMessage::Error {
            code: ErrorCode::RateLimited,
            ..
        }
    ));
}

#[tokio::test]
async fn too_many_errors_close_the_connection_after_saying_so() {
    let w = World::new().await;
    let mut a = w.connect();
    for _ in 0..limits::ERROR_BURST {
        a.send("not json").await;
        assert_eq!(code(a.next().await).0, ErrorCode::MalformedJson);
    }
    a.send("not json").await;
    let rest = a.drain_until_closed().await;
    assert_eq!(rest.len(), 1);
    assert_eq!(code(rest[0].clone()).0, ErrorCode::TooManyErrors);
}

#[tokio::test]
async fn the_error_allowance_comes_back_with_time() {
    let w = World::new().await;
    let mut a = w.connect();
    for _ in 0..limits::ERROR_BURST {
        a.send("not json").await;
        assert_eq!(code(a.next().await).0, ErrorCode::MalformedJson);
    }
    w.mono.advance(limits::ERROR_REFILL);
    a.send("not json").await;
    assert_eq!(code(a.next().await).0, ErrorCode::MalformedJson);
    assert!(matches!(a.ping(1).await, ServerMessage::Pong { .. }));
}
