//! The admission re-check (`HubConfig::recheck_every`, docs/SIGNALING.md §10): every
//! interval after admission the hub asks cai-auth and cai-core again whether a joined
//! connection's token still authenticates and its caller may still take part. A revoked
//! token, a deactivated or locked account, a guest past its token's end end the
//! connection with `ended` `revoked` at the next re-check and not before; a store that
//! is down ends nothing. Time is tokio's paused clock (the hub) and cai-core's manual
//! clock (tokens): nothing here waits on the wall clock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "signaling_common/mod.rs"]
mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_trait::async_trait;
use cai_core::Caller;
use cai_core::domain::{RequestMeta, SessionMode};
use cai_core::id::SessionId;
use cai_rtc::signaling::{
    Admission, AdmissionOutcome, CaiBackend, Denial, EndReason, Entrant, HubConfig, JoinAuth,
    MemoryChannel, Reauthorization, SecretText, ServerMessage, SignalingHub, limits,
};
use common::*;

const TICK: Duration = Duration::from_millis(1);

fn every() -> Duration {
    let every = HubConfig::default().recheck_every;
    assert_eq!(every, limits::RECHECK_EVERY);
    assert_eq!(every, Duration::from_secs(60));
    every
}

fn pong(id: u32) -> ServerMessage {
    ServerMessage::Pong {
        in_reply_to: Some(id),
    }
}

const REVOKED: ServerMessage = ServerMessage::Ended {
    reason: EndReason::Revoked,
};

/// Cora in the call by token, and Kim (a guest) beside her to watch the roster.
async fn cora_and_kim(w: &World) -> (Client, u16, Client) {
    let s = w.ad_hoc(SessionMode::ServerManaged).await;
    let link = w.guest_link(s, Duration::from_secs(3600)).await;
    let (mut cora, cora_index) = w.joined(&w.cora.token, s).await;
    let mut kim = w.connect();
    kim.send(&join_guest(w.tenant.id, "Kim", &link.expose()))
        .await;
    assert!(matches!(kim.next().await, ServerMessage::Admitted(_)));
    assert!(matches!(cora.next().await, ServerMessage::PeerJoined(_)));
    (cora, cora_index, kim)
}

/// Both ping one tick before the first re-check (so the idle timeout, as long, does not
/// interfere); then Cora gets `ended` `revoked` exactly at it and Kim `peer_left`.
async fn cora_ends_at_the_first_recheck(mut cora: Client, cora_index: u16, mut kim: Client) {
    let admitted = tokio::time::Instant::now();
    tokio::time::sleep(every() - TICK).await;
    assert_eq!(cora.ping(1).await, pong(1), "still in one tick before");
    assert_eq!(kim.ping(1).await, pong(1));
    assert_eq!(cora.next().await, REVOKED);
    assert_eq!(admitted.elapsed(), every(), "at the re-check");
    assert!(cora.drain_until_closed().await.is_empty(), "then closed");
    assert_eq!(
        kim.next().await,
        ServerMessage::PeerLeft {
            sender_index: cora_index
        }
    );
    assert_eq!(kim.ping(2).await, pong(2), "Kim stays");
}

#[tokio::test(start_paused = true)]
async fn a_revoked_token_ends_the_connection_at_the_next_recheck_and_not_before() {
    let w = World::new().await;
    let (cora, cora_index, kim) = cora_and_kim(&w).await;
    w.auth.revoke(&w.cora.token).await.unwrap();
    cora_ends_at_the_first_recheck(cora, cora_index, kim).await;
}

#[tokio::test(start_paused = true)]
async fn a_deactivated_account_ends_the_connection_at_the_next_recheck() {
    let w = World::new().await;
    let (cora, cora_index, kim) = cora_and_kim(&w).await;
    // Through cai-core, which leaves the token record alone: the account's state alone
    // must end the connection.
    w.svc()
        .deactivate_account(&w.admin, w.tenant.id, w.cora.account.id, None)
        .await
        .unwrap();
    cora_ends_at_the_first_recheck(cora, cora_index, kim).await;
}

#[tokio::test(start_paused = true)]
async fn a_locked_account_ends_the_connection_at_the_next_recheck() {
    let w = World::new().await;
    let (cora, cora_index, kim) = cora_and_kim(&w).await;
    // Wrong passwords until the account locks (the policy's limit).
    for _ in 0..10 {
        let _ = w
            .auth
            .login(
                w.tenant.id,
                "cora@nord.example",
                "wrong password",
                RequestMeta::default(),
            )
            .await;
    }
    let account = w
        .svc()
        .account(&w.admin, w.tenant.id, w.cora.account.id)
        .await
        .unwrap();
    assert!(
        matches!(
            account.status,
            cai_core::domain::AccountStatus::Locked { .. }
        ),
        "locked: {:?}",
        account.status
    );
    cora_ends_at_the_first_recheck(cora, cora_index, kim).await;
}

#[tokio::test(start_paused = true)]
async fn a_guest_rechecks_with_its_guest_token_not_the_link() {
    let w = World::new().await;
    let s = w.ad_hoc(SessionMode::ServerManaged).await;
    let link = w.guest_link(s, Duration::from_secs(600)).await;
    let mut kim = w.connect();
    kim.send(&join_guest(w.tenant.id, "Kim", &link.expose()))
        .await;
    assert!(matches!(kim.next().await, ServerMessage::Admitted(_)));
    let admitted = tokio::time::Instant::now();
    // The link has expired; the guest token (12 h) has not: the re-check keeps Kim.
    w.clock.advance(Duration::from_secs(601));
    // (Pings keep Kim within the idle timeout, as long as the interval.)
    tokio::time::sleep(every() - TICK).await;
    assert_eq!(kim.ping(1).await, pong(1));
    tokio::time::sleep(TICK * 2).await;
    assert_eq!(kim.ping(2).await, pong(2), "kept at the first re-check");
    // Past the guest token's end: the next re-check ends Kim, not earlier.
    w.clock.advance(Duration::from_secs(12 * 3600));
    tokio::time::sleep(every() - TICK * 2).await;
    assert_eq!(kim.ping(3).await, pong(3));
    assert_eq!(kim.next().await, REVOKED);
    assert_eq!(admitted.elapsed(), every() * 2);
    assert!(kim.drain_until_closed().await.is_empty());
}

#[tokio::test(start_paused = true)]
async fn an_unavailable_store_ends_nothing_and_the_next_round_decides() {
    let w = World::new().await;
    let s = w.ad_hoc(SessionMode::ServerManaged).await;
    let (mut cora, _) = w.joined(&w.cora.token, s).await;
    let admitted = tokio::time::Instant::now();
    w.auth.revoke(&w.cora.token).await.unwrap();
    w.store_down.store(true, Ordering::SeqCst);
    // Three rounds (at 1, 2 and 3 intervals) cannot decide: Cora stays. She pings just
    // before and just after each (the idle timeout is as long as the interval).
    tokio::time::sleep(every() - TICK).await;
    for round in 1..=3 {
        assert_eq!(cora.ping(round).await, pong(round), "before round {round}");
        tokio::time::sleep(TICK * 2).await;
        assert_eq!(cora.ping(round).await, pong(round), "after round {round}");
        tokio::time::sleep(every() - TICK * 2).await;
    }
    assert_eq!(w.hub.events().call_size(w.tenant.id, s), 1);
    // The store is back: the next round finds the token revoked.
    w.store_down.store(false, Ordering::SeqCst);
    assert_eq!(cora.ping(5).await, pong(5), "one tick before round 4");
    assert_eq!(cora.next().await, REVOKED);
    assert_eq!(admitted.elapsed(), every() * 4);
    assert!(cora.drain_until_closed().await.is_empty());
    assert_eq!(w.hub.events().call_size(w.tenant.id, s), 0);
}

/// Admits through cai, but never answers a re-check: a backend that hangs.
struct Hanging(Arc<CaiBackend>);

#[async_trait]
impl Admission for Hanging {
    async fn admit(
        &self,
        auth: &JoinAuth,
        request: RequestMeta,
    ) -> Result<AdmissionOutcome, Denial> {
        self.0.admit(auth, request).await
    }

    async fn recheck(
        &self,
        caller: &Caller,
        session: SessionId,
    ) -> Result<AdmissionOutcome, Denial> {
        self.0.recheck(caller, session).await
    }

    async fn reauthorize(
        &self,
        _entrant: &Entrant,
        _credential: Option<&SecretText>,
        _request: RequestMeta,
    ) -> Reauthorization {
        std::future::pending().await
    }
}

#[tokio::test(start_paused = true)]
async fn a_recheck_that_hangs_counts_as_undecided_after_its_timeout() {
    assert_eq!(limits::RECHECK_TIMEOUT, Duration::from_secs(10));
    let w = World::new().await;
    let s = w.ad_hoc(SessionMode::ServerManaged).await;
    let backend = Arc::new(CaiBackend::new(w.auth.clone()));
    let hub = SignalingHub::new(
        Arc::new(Hanging(backend.clone())),
        backend,
        w.hub.events().clone(),
        w.mono.clone(),
    );
    let (server, client) = MemoryChannel::pair(64);
    tokio::spawn(async move { hub.serve(server, RequestMeta::default()).await });
    let mut cora = Client { ch: client };
    cora.send(&join_token(&w.cora.token, s)).await;
    assert!(matches!(cora.next().await, ServerMessage::Admitted(_)));
    let mut next = tokio::time::Instant::now() + every();
    for round in 1..=3 {
        tokio::time::sleep_until(next - TICK).await;
        assert_eq!(cora.ping(round).await, pong(round), "before round {round}");
        // Sent as the re-check starts: answered once it timed out, not before.
        tokio::time::sleep(TICK).await;
        let asked = tokio::time::Instant::now();
        assert_eq!(cora.ping(round).await, pong(round), "after round {round}");
        assert_eq!(asked.elapsed(), limits::RECHECK_TIMEOUT);
        // The next round is an interval after this one ended.
        next += limits::RECHECK_TIMEOUT + every();
    }
    assert_eq!(w.hub.events().call_size(w.tenant.id, s), 1);
}

#[tokio::test(start_paused = true)]
async fn a_participant_whose_account_is_deleted_is_ended_when_the_keys_move() {
    let w = World::new().await;
    let s = w.ad_hoc(SessionMode::SessionKey).await;
    let ben = w
        .person(
            "ben@nord.example",
            "Ben Counsellor",
            cai_core::domain::BuiltinRole::Counsellor,
        )
        .await;
    w.svc()
        .add_counsellor(&w.cora.caller, w.tenant.id, s, ben.account.id, None)
        .await
        .unwrap();
    let (mut cora, _) = w.joined(&w.cora.token, s).await;
    let (mut ben_conn, ben_index) = w.joined(&ben.token, s).await;
    assert!(matches!(cora.next().await, ServerMessage::PeerJoined(_)));

    // Deleting the account leaves no participant to remove (no `ParticipantRemoved`),
    // but it moves the session's keys; the hub asks everyone in the call again at once.
    let start = tokio::time::Instant::now();
    w.svc()
        .delete_account(&w.admin, w.tenant.id, ben.account.id)
        .await
        .unwrap();
    assert_eq!(ben_conn.next().await, ServerMessage::KeyEpoch { epoch: 1 });
    assert_eq!(ben_conn.next().await, REVOKED);
    assert!(
        start.elapsed() < every(),
        "ended by the key move, not by the periodic re-check"
    );
    assert_eq!(cora.next().await, ServerMessage::KeyEpoch { epoch: 1 });
    assert_eq!(
        cora.next().await,
        ServerMessage::PeerLeft {
            sender_index: ben_index
        }
    );
    assert_eq!(cora.ping(1).await, pong(1), "Cora stays");
}
