//! Races between admission and the call: a participant removed after admission read
//! the participants but before the hub registered the connection must not end up in
//! the call (the hub asks again once the connection is registered), and a key epoch
//! that moved in that window is the one `admitted` reports.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "signaling_common/mod.rs"]
mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use cai_core::Caller;
use cai_core::domain::{RequestMeta, SessionMode};
use cai_core::id::{SessionId, SubjectId};
use cai_rtc::signaling::{
    Admission, AdmissionOutcome, CaiBackend, Denial, DenyReason, Entrant, HubConfig, JoinAuth,
    MemoryChannel, Reauthorization, SecretText, ServerMessage, SignalingHub,
};
use common::*;

/// Admits through cai, then has the host remove someone before answering: the
/// removal lands in the window between admission and registration. `removed` is the
/// participant removed (`None`: the entrant itself); the removal moves the session's
/// key epoch.
struct RemovedMeanwhile {
    inner: Arc<CaiBackend>,
    auth: cai_auth::Authenticator,
    host: Caller,
    removed: Option<SubjectId>,
    /// The key epoch the first read found.
    first_read: Mutex<Option<u32>>,
}

impl RemovedMeanwhile {
    fn new(w: &World, inner: Arc<CaiBackend>, removed: Option<SubjectId>) -> Self {
        Self {
            inner,
            auth: w.auth.clone(),
            host: w.cora.caller,
            removed,
            first_read: Mutex::new(None),
        }
    }
}

#[async_trait]
impl Admission for RemovedMeanwhile {
    async fn admit(
        &self,
        auth: &JoinAuth,
        request: RequestMeta,
    ) -> Result<AdmissionOutcome, Denial> {
        let outcome = self.inner.admit(auth, request).await?;
        if let AdmissionOutcome::Admitted(entrant) = &outcome {
            *self.first_read.lock().unwrap() = Some(entrant.key_epoch);
            self.auth
                .service()
                .remove_participant(
                    &self.host,
                    self.host.tenant,
                    entrant.session,
                    self.removed.unwrap_or(entrant.caller.subject),
                    None,
                )
                .await
                .unwrap();
        }
        Ok(outcome)
    }

    async fn recheck(
        &self,
        caller: &Caller,
        session: SessionId,
    ) -> Result<AdmissionOutcome, Denial> {
        self.inner.recheck(caller, session).await
    }

    async fn reauthorize(
        &self,
        entrant: &Entrant,
        credential: Option<&SecretText>,
        request: RequestMeta,
    ) -> Reauthorization {
        self.inner.reauthorize(entrant, credential, request).await
    }
}

#[tokio::test]
async fn a_participant_removed_between_admission_and_registration_is_not_in_the_call() {
    let w = World::new().await;
    let s = w.ad_hoc(SessionMode::ServerManaged).await;
    let link = w.guest_link(s, Duration::from_secs(600)).await;
    let (_cora, _) = w.joined(&w.cora.token, s).await;

    let backend = Arc::new(CaiBackend::new(w.auth.clone()));
    let racing = Arc::new(RemovedMeanwhile::new(&w, backend.clone(), None));
    let hub = SignalingHub::new(racing, backend, w.hub.events().clone(), w.mono.clone());
    let (server, client) = MemoryChannel::pair(64);
    tokio::spawn(async move { hub.serve(server, RequestMeta::default()).await });
    let mut guest = Client { ch: client };
    guest
        .send(&join_guest(w.tenant.id, "Kim", &link.expose()))
        .await;
    match guest.next().await {
        ServerMessage::Denied { reason, .. } => assert_ne!(reason, DenyReason::CallFull),
        other => panic!("expected denied, got {other:?}"),
    }
    assert_eq!(w.hub.events().call_size(w.tenant.id, s), 1, "only Cora");
}

#[tokio::test]
async fn admitted_names_the_key_epoch_after_a_removal_between_admission_and_registration() {
    let w = World::new().await;
    let s = w.ad_hoc(SessionMode::ServerManaged).await;
    let link = w.guest_link(s, Duration::from_secs(600)).await;
    let (mut cora, _) = w.joined(&w.cora.token, s).await;
    let mut lou = w.connect();
    lou.send(&join_guest(w.tenant.id, "Lou", &link.expose()))
        .await;
    let ServerMessage::Admitted(lou_admitted) = lou.next().await else {
        panic!("Lou is admitted");
    };
    assert_eq!(lou_admitted.key_epoch, 0);
    // Cora hears Lou arrive.
    assert!(matches!(cora.next().await, ServerMessage::PeerJoined(_)));

    let backend = Arc::new(CaiBackend::new(w.auth.clone()));
    let racing = Arc::new(RemovedMeanwhile::new(
        &w,
        backend.clone(),
        Some(lou_admitted.participant),
    ));
    let hub = SignalingHub::new(
        racing.clone(),
        backend,
        w.hub.events().clone(),
        w.mono.clone(),
    );
    let (server, client) = MemoryChannel::pair(64);
    tokio::spawn(async move { hub.serve(server, RequestMeta::default()).await });
    let mut kim = Client { ch: client };
    kim.send(&join_guest(w.tenant.id, "Kim", &link.expose()))
        .await;
    let ServerMessage::Admitted(admitted) = kim.next().await else {
        panic!("Kim is admitted");
    };
    assert_eq!(*racing.first_read.lock().unwrap(), Some(0));
    assert_eq!(admitted.key_epoch, 1, "the epoch after the removal");
    // Cora, in the call all along, heard the move itself.
    let mut heard = Vec::new();
    while !matches!(heard.last(), Some(ServerMessage::KeyEpoch { .. })) {
        heard.push(cora.next().await);
    }
    assert_eq!(heard.last(), Some(&ServerMessage::KeyEpoch { epoch: 1 }));
}

fn capped_hub(w: &World, members: usize, joins: u32) -> SignalingHub {
    let backend = Arc::new(CaiBackend::new(w.auth.clone()));
    let config = HubConfig {
        max_call_members: members,
        max_joins_per_participant: joins,
        ..HubConfig::default()
    };
    SignalingHub::with_config(
        backend.clone(),
        backend,
        w.hub.events().clone(),
        w.mono.clone(),
        config,
    )
}

fn connect_to(hub: &SignalingHub) -> Client {
    let (server, client) = MemoryChannel::pair(64);
    let hub = hub.clone();
    tokio::spawn(async move { hub.serve(server, RequestMeta::default()).await });
    Client { ch: client }
}

fn reason(m: ServerMessage) -> Option<DenyReason> {
    match m {
        ServerMessage::Admitted(_) => None,
        ServerMessage::Denied { reason, .. } => Some(reason),
        other => panic!("expected admitted or denied, got {other:?}"),
    }
}

#[tokio::test]
async fn a_call_holds_at_most_its_member_limit() {
    let w = World::new().await;
    let s = w.ad_hoc(SessionMode::ServerManaged).await;
    let link = w.guest_link(s, Duration::from_secs(600)).await;
    let hub = capped_hub(&w, 2, 10);
    let mut cora = connect_to(&hub);
    cora.send(&join_token(&w.cora.token, s)).await;
    assert_eq!(reason(cora.next().await), None);
    let mut kim = connect_to(&hub);
    kim.send(&join_guest(w.tenant.id, "Kim", &link.expose()))
        .await;
    assert_eq!(reason(kim.next().await), None, "exactly at the limit");
    let mut lou = connect_to(&hub);
    lou.send(&join_guest(w.tenant.id, "Lou", &link.expose()))
        .await;
    assert_eq!(
        reason(lou.next().await),
        Some(DenyReason::CallFull),
        "one past it"
    );
    kim.send(r#"{"v":1,"type":"leave"}"#).await;
    assert_eq!(
        kim.ping(9).await,
        ServerMessage::Pong {
            in_reply_to: Some(9)
        }
    );
    lou.send(&join_guest(w.tenant.id, "Lou", &link.expose()))
        .await;
    assert_eq!(reason(lou.next().await), None, "a place came free");
}

#[tokio::test]
async fn one_participant_cannot_use_up_the_calls_indices() {
    let w = World::new().await;
    let s = w.ad_hoc(SessionMode::ServerManaged).await;
    let hub = capped_hub(&w, 32, 3);
    let mut cora = connect_to(&hub);
    for n in 0..3 {
        cora.send(&join_token(&w.cora.token, s)).await;
        assert_eq!(reason(cora.next().await), None, "join {n}");
        cora.send(r#"{"v":1,"type":"leave"}"#).await;
    }
    cora.send(&join_token(&w.cora.token, s)).await;
    assert_eq!(reason(cora.next().await), Some(DenyReason::CallFull));
    // Someone else still gets in.
    let link = w.guest_link(s, Duration::from_secs(600)).await;
    let mut kim = connect_to(&hub);
    kim.send(&join_guest(w.tenant.id, "Kim", &link.expose()))
        .await;
    assert_eq!(reason(kim.next().await), None);
}

#[tokio::test(start_paused = true)]
async fn a_connection_that_does_not_join_is_closed_after_the_join_timeout() {
    let w = World::new().await;
    let s = w.ad_hoc(SessionMode::ServerManaged).await;
    let timeout = HubConfig::default().join_timeout;
    let start = tokio::time::Instant::now();
    let mut idle = w.connect();
    tokio::time::sleep(timeout - Duration::from_millis(1)).await;
    assert_eq!(
        idle.ping(1).await,
        ServerMessage::Pong {
            in_reply_to: Some(1)
        },
        "open just before the deadline"
    );
    assert!(idle.drain_until_closed().await.is_empty());
    assert_eq!(start.elapsed(), timeout, "closed exactly at the deadline");

    // A joined connection has no join deadline (it has the idle timeout, longer than
    // this: signaling_idle.rs); after `leave` the clock starts again.
    let (mut cora, _) = w.joined(&w.cora.token, s).await;
    let past_deadline = timeout + Duration::from_secs(1);
    assert!(past_deadline < HubConfig::default().idle_timeout);
    tokio::time::sleep(past_deadline).await;
    assert_eq!(
        cora.ping(2).await,
        ServerMessage::Pong {
            in_reply_to: Some(2)
        }
    );
    cora.send(r#"{"v":1,"type":"leave"}"#).await;
    let left = tokio::time::Instant::now();
    assert!(cora.drain_until_closed().await.is_empty());
    assert_eq!(left.elapsed(), timeout);
}
