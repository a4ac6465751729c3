//! Who gets into a call (issue 12): an account with its session token; a guest with a
//! guest link (denied when the link expired — at its expiry instant already — or is
//! wrong); a visitor of a room with its password (denied when wrong, lobby until the host
//! admits when right). A denied connection stays usable.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "signaling_common/mod.rs"]
mod common;

use std::time::Duration;

use cai_core::domain::{Name, SessionMode};
use cai_core::id::SubjectId;
use cai_core::service::NewRoom;
use cai_rtc::signaling::{DenyReason, EncryptionMode, ServerMessage};
use common::*;
use zeroize::Zeroizing;

fn denied(m: ServerMessage) -> DenyReason {
    match m {
        ServerMessage::Denied { reason, .. } => reason,
        other => panic!("expected denied, got {other:?}"),
    }
}

#[tokio::test]
async fn an_account_with_its_token_is_admitted_with_mode_and_index() {
    let w = World::new().await;
    let s = w.ad_hoc(SessionMode::SessionKey).await;
    let mut c = w.connect();
    c.send(&format!(
        r#"{{"v":1,"id":4,"type":"join","auth":{{"kind":"token","token":"{}","session":"{s}"}}}}"#,
        w.cora.token
    ))
    .await;
    let ServerMessage::Admitted(a) = c.next().await else {
        panic!("not admitted");
    };
    assert_eq!(a.session, s);
    assert_eq!(a.participant, SubjectId::Account(w.cora.account.id));
    assert_eq!(a.sender_index, 0);
    assert!(a.peers.is_empty());
    assert_eq!(a.mode, EncryptionMode::SessionKey);
    assert!(!a.end_to_end);
    assert_eq!(a.guest_token, None);
    assert_eq!(w.hub.events().call_size(w.tenant.id, s), 1);

    // A second join on the same connection is refused, the connection stays.
    c.send(&join_token(&w.cora.token, s)).await;
    assert!(matches!(
        c.next().await,
        ServerMessage::Error {
            code: cai_rtc::signaling::ErrorCode::AlreadyJoined,
            ..
        }
    ));
    assert!(matches!(c.ping(1).await, ServerMessage::Pong { .. }));
}

#[tokio::test]
async fn a_bad_token_or_a_stranger_is_denied_and_may_try_again() {
    let w = World::new().await;
    let s = w.ad_hoc(SessionMode::ServerManaged).await;
    let mut c = w.connect();
    c.send(&join_token("not-a-token", s)).await;
    assert_eq!(denied(c.next().await), DenyReason::Unauthenticated);
    // Robin is an account of the tenant but no participant of Cora's session.
    c.send(&join_token(&w.robin.token, s)).await;
    assert_eq!(denied(c.next().await), DenyReason::Forbidden);
    c.send(&join_token(&w.cora.token, s)).await;
    assert!(matches!(c.next().await, ServerMessage::Admitted(_)));
}

#[tokio::test]
async fn a_guest_link_admits_until_its_expiry_and_not_at_it() {
    let w = World::new().await;
    let s = w.ad_hoc(SessionMode::ServerManaged).await;
    let valid_for = Duration::from_secs(3600);

    // One millisecond before the expiry: admitted, with a guest token.
    let link = w.guest_link(s, valid_for).await;
    w.clock.advance(valid_for - Duration::from_millis(1));
    let mut c = w.connect();
    c.send(&join_guest(w.tenant.id, "Kim", &link.expose()))
        .await;
    let ServerMessage::Admitted(a) = c.next().await else {
        panic!("not admitted");
    };
    assert!(matches!(a.participant, SubjectId::Guest(_)));
    assert_eq!(a.session, s);
    let token = a.guest_token.expect("a guest token");
    assert!(token.expose().starts_with("cg1_"));

    // Exactly at the expiry (cai-core: usable while now < expires_at): denied.
    let link = w.guest_link(s, valid_for).await;
    w.clock.advance(valid_for);
    let mut c = w.connect();
    c.send(&join_guest(w.tenant.id, "Kim", &link.expose()))
        .await;
    assert_eq!(denied(c.next().await), DenyReason::NotAccepted);

    // Past the expiry: the same answer.
    w.clock.advance(Duration::from_secs(1));
    c.send(&join_guest(w.tenant.id, "Kim", &link.expose()))
        .await;
    assert_eq!(denied(c.next().await), DenyReason::NotAccepted);

    // A wrong secret of the right shape answers the same: no oracle.
    let fresh = w.guest_link(s, valid_for).await;
    let text = fresh.expose();
    let (id, hex) = text.split_once('.').unwrap();
    let wrong = format!("{id}.{}", "0".repeat(hex.len()));
    c.send(&join_guest(w.tenant.id, "Kim", &wrong)).await;
    assert_eq!(denied(c.next().await), DenyReason::NotAccepted);

    // The connection is still usable: the fresh link admits.
    c.send(&join_guest(w.tenant.id, "Kim", &fresh.expose()))
        .await;
    assert!(matches!(c.next().await, ServerMessage::Admitted(_)));
}

#[tokio::test]
async fn a_guest_rejoins_with_its_guest_token() {
    let w = World::new().await;
    let s = w.ad_hoc(SessionMode::ServerManaged).await;
    let link = w.guest_link(s, Duration::from_secs(600)).await;
    let mut c = w.connect();
    c.send(&join_guest(w.tenant.id, "Kim", &link.expose()))
        .await;
    let ServerMessage::Admitted(a) = c.next().await else {
        panic!("not admitted");
    };
    let token = a.guest_token.unwrap();
    let (_again, index) = w.joined(token.expose(), s).await;
    assert_eq!(index, a.sender_index + 1, "indices are never reused");
}

#[tokio::test]
async fn a_wrong_room_password_is_denied_and_the_right_one_waits_for_the_host() {
    let w = World::new().await;
    let room = w
        .svc()
        .create_room(
            &w.cora.caller,
            w.tenant.id,
            NewRoom {
                name: Name::parse("Cora's room").unwrap(),
                password: Zeroizing::new("Zimmer-mit-Aussicht".to_owned()),
                mode: None,
                content: Default::default(),
            },
        )
        .await
        .unwrap();
    let join_room = |password: &str| {
        format!(
            r#"{{"v":1,"type":"join","auth":{{"kind":"room","token":"{}","room":"{}","password":"{password}"}}}}"#,
            w.robin.token, room.id
        )
    };
    let mut c = w.connect();
    c.send(&join_room("Zimmer-ohne-Aussicht")).await;
    assert_eq!(denied(c.next().await), DenyReason::NotAccepted);

    // An unknown room answers like a wrong password.
    let other_room = cai_core::id::RoomId::random().unwrap();
    c.send(&format!(
        r#"{{"v":1,"type":"join","auth":{{"kind":"room","token":"{}","room":"{other_room}","password":"Zimmer-mit-Aussicht"}}}}"#,
        w.robin.token
    ))
    .await;
    assert_eq!(denied(c.next().await), DenyReason::NotAccepted);

    // The right password: the lobby, then admitted when the host lets Robin in.
    c.send(&join_room("Zimmer-mit-Aussicht")).await;
    let ServerMessage::Waiting { session } = c.next().await else {
        panic!("not waiting");
    };
    assert_eq!(session, room.session);
    w.svc()
        .admit(
            &w.cora.caller,
            w.tenant.id,
            session,
            SubjectId::Account(w.robin.account.id),
            None,
        )
        .await
        .unwrap();
    let ServerMessage::Admitted(a) = c.next().await else {
        panic!("not admitted after the host's admission");
    };
    assert_eq!(a.session, session);
    assert_eq!(a.participant, SubjectId::Account(w.robin.account.id));

    // Once admitted by the host, the password lets Robin straight back in.
    c.send(r#"{"v":1,"type":"leave"}"#).await;
    c.send(&join_room("Zimmer-mit-Aussicht")).await;
    assert!(matches!(c.next().await, ServerMessage::Admitted(_)));
}

#[tokio::test]
async fn a_removed_participant_is_dropped_and_the_others_told() {
    let w = World::new().await;
    let s = w.ad_hoc(SessionMode::ServerManaged).await;
    let link = w.guest_link(s, Duration::from_secs(600)).await;
    let (mut cora, _) = w.joined(&w.cora.token, s).await;
    let mut guest = w.connect();
    guest
        .send(&join_guest(w.tenant.id, "Kim", &link.expose()))
        .await;
    let ServerMessage::Admitted(a) = guest.next().await else {
        panic!("not admitted");
    };
    assert!(
        matches!(cora.next().await, ServerMessage::PeerJoined(p) if p.sender_index == a.sender_index)
    );
    w.svc()
        .remove_participant(&w.cora.caller, w.tenant.id, s, a.participant, None)
        .await
        .unwrap();
    let rest = guest.drain_until_closed().await;
    assert_eq!(
        rest.last(),
        Some(&ServerMessage::Ended {
            reason: cai_rtc::signaling::EndReason::Removed
        })
    );
    assert_eq!(
        cora.next().await,
        ServerMessage::PeerLeft {
            sender_index: a.sender_index
        }
    );
}

#[tokio::test]
async fn closing_the_session_ends_every_connection() {
    let w = World::new().await;
    let s = w.ad_hoc(SessionMode::ServerManaged).await;
    let (mut cora, _) = w.joined(&w.cora.token, s).await;
    w.svc()
        .close_session(&w.cora.caller, w.tenant.id, s)
        .await
        .unwrap();
    let rest = cora.drain_until_closed().await;
    assert_eq!(
        rest.last(),
        Some(&ServerMessage::Ended {
            reason: cai_rtc::signaling::EndReason::SessionClosed
        })
    );
}
