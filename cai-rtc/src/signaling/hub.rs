//! The signaling server: [`SignalingHub::serve`] runs one client connection over any
//! [`SignalingChannel`] until it closes. Per message, in this order: the connection's
//! rate limit ([`limits::RATE_BURST`], [`limits::RATE_PER_SECOND`]), then [`parse`],
//! then the message's rules (joined or not, the peer addressed, the session's mode).
//! Every refused message is answered with a typed `error` (a refused join with `denied`)
//! and the connection stays usable; a connection that causes more than
//! [`limits::ERROR_BURST`] refusals at once (one more allowed every
//! [`limits::ERROR_REFILL`]) gets `error{code:"too_many_errors"}` and is closed.
//! A connection must join within [`HubConfig::join_timeout`]; once in a call, one the
//! hub hears nothing from for [`HubConfig::idle_timeout`] is closed as if it had left,
//! and every [`HubConfig::recheck_every`] its admission is checked again
//! ([`Admission::reauthorize`]): one that fails ends with `ended` `revoked`.
//!
//! Offers, answers and candidates go only to an admitted member of the sender's own
//! call (same tenant and session), addressed by sender index, relayed unchanged with
//! `from` set by the hub. MLS handshakes go through the [`DeliveryService`] under the
//! call's lock, and every accepted epoch is queued to every member of the call before
//! the next is accepted, so all see epochs in the Delivery Service's order.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cai_core::domain::RequestMeta;
use cai_crypto::sframe::CallId;
use tokio::sync::mpsc;

use super::admission::{
    Admission, AdmissionOutcome, DeliveryService, Denial, Entrant, Reauthorization,
};
use super::channel::{Frame, SignalingChannel};
use super::error::{ErrorCode, SignalingError};
use super::fingerprint::sdp_fingerprints;
use super::limits;
use super::message::{
    Admitted, ClientBody, DescriptionFrom, DescriptionTo, EncryptionMode, IceFrom, IceTo, JoinAuth,
    SecretText, SenderIndex, ServerMessage,
};
use super::parse::parse_with_id;
use super::rate::{MonotonicClock, TokenBucket};
use super::registry::{HubEvents, Kill, Member, Outgoing, Seat};

mod mls;

/// The hub's limits; [`Default`] takes those of [`limits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubConfig {
    /// Messages a connection may send at once.
    pub rate_burst: u32,
    /// Messages a second on average.
    pub rate_per_second: u32,
    /// Refused messages a connection may cause at once before it is closed.
    pub error_burst: u32,
    /// One more refused message allowed per this interval.
    pub error_refill: Duration,
    /// Messages queued towards a connection.
    pub outbox_depth: usize,
    /// Connections in one call at once (`call_full` beyond).
    pub max_call_members: usize,
    /// Joins one participant may make in one call while the hub runs (`call_full`
    /// beyond).
    pub max_joins_per_participant: u32,
    /// How long a connection may stay without joining (from its start or its last
    /// `leave`) before the hub closes it: unauthenticated connections do not linger.
    pub join_timeout: Duration,
    /// How long a joined connection may stay silent (no message of any kind received,
    /// `ping` included) before the hub ends its part as a `leave` would — the others
    /// get `peer_left` — and closes it without an answer. Clients send `ping` after at
    /// most [`limits::KEEP_ALIVE_INTERVAL`] of silence. Taken as at least one second.
    pub idle_timeout: Duration,
    /// How often the hub re-checks each joined connection's admission
    /// ([`Admission::reauthorize`](super::Admission::reauthorize)): every this long
    /// after it was admitted. A connection that fails gets `ended` `revoked` and is
    /// closed (the others get `peer_left`); one whose check could not be made (a store
    /// or auth backend down, or no answer within [`limits::RECHECK_TIMEOUT`]) stays and
    /// is asked about again next round. Taken as at least one second.
    pub recheck_every: Duration,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            rate_burst: limits::RATE_BURST,
            rate_per_second: limits::RATE_PER_SECOND,
            error_burst: limits::ERROR_BURST,
            error_refill: limits::ERROR_REFILL,
            outbox_depth: limits::OUTBOX_DEPTH,
            max_call_members: limits::MAX_CALL_MEMBERS,
            max_joins_per_participant: limits::MAX_JOINS_PER_PARTICIPANT,
            join_timeout: limits::JOIN_TIMEOUT,
            idle_timeout: limits::IDLE_TIMEOUT,
            recheck_every: limits::RECHECK_EVERY,
        }
    }
}

/// The signaling server. Cheap to clone; every clone serves the same calls.
#[derive(Clone)]
pub struct SignalingHub {
    inner: Arc<Inner>,
}

struct Inner {
    admission: Arc<dyn Admission>,
    delivery: Arc<dyn DeliveryService>,
    events: HubEvents,
    clock: Arc<dyn MonotonicClock>,
    config: HubConfig,
    next_conn: AtomicU64,
}

/// Where a connection stands.
enum State {
    Fresh,
    Waiting(
        cai_core::Caller,
        cai_core::id::SessionId,
        Option<SecretText>,
    ),
    Joined(Joined),
}

struct Joined {
    entrant: Entrant,
    index: SenderIndex,
    mls: Arc<tokio::sync::Mutex<()>>,
    /// The token re-checks authenticate with; zeroized when the connection leaves the
    /// call (it lives in this state only).
    credential: Option<SecretText>,
    /// When the next re-check is due.
    recheck_at: tokio::time::Instant,
}

impl Joined {
    fn key(&self) -> (cai_core::id::TenantId, cai_core::id::SessionId) {
        (self.entrant.caller.tenant, self.entrant.session)
    }
}

struct Conn {
    id: u64,
    request: RequestMeta,
    rate: TokenBucket,
    errors: TokenBucket,
    state: State,
    outbox: mpsc::Sender<Outgoing>,
    kill: Arc<Kill>,
    /// Since when the connection is in no call and not waiting (its start, or its last
    /// `leave`): it must join within [`HubConfig::join_timeout`] of it.
    fresh_since: tokio::time::Instant,
    /// When the last frame came from the client: a joined connection silent for
    /// [`HubConfig::idle_timeout`] is closed.
    heard_at: tokio::time::Instant,
}

/// What handling one message asks of the loop.
enum Flow {
    Continue,
    Close,
}

/// A refusal as the connection answers it.
struct Refusal {
    code: ErrorCode,
    field: Option<&'static str>,
    retry_after: Option<Duration>,
}

impl From<ErrorCode> for Refusal {
    fn from(code: ErrorCode) -> Self {
        Self {
            code,
            field: None,
            retry_after: None,
        }
    }
}

impl From<SignalingError> for Refusal {
    fn from(e: SignalingError) -> Self {
        Self {
            code: e.code(),
            field: e.field(),
            retry_after: match e {
                SignalingError::RateLimited { retry_after } => Some(retry_after),
                _ => None,
            },
        }
    }
}

/// The shortest idle timeout (and re-check interval) the hub runs with.
const MIN_INTERVAL: Duration = Duration::from_secs(1);

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl SignalingHub {
    /// A hub admitting through `admission`, carrying MLS through `delivery`, with its
    /// calls in `events` (the same value the service publishes session events to), rate
    /// limits on `clock`.
    pub fn new(
        admission: Arc<dyn Admission>,
        delivery: Arc<dyn DeliveryService>,
        events: HubEvents,
        clock: Arc<dyn MonotonicClock>,
    ) -> Self {
        Self::with_config(admission, delivery, events, clock, HubConfig::default())
    }

    /// [`new`](Self::new) with other limits.
    pub fn with_config(
        admission: Arc<dyn Admission>,
        delivery: Arc<dyn DeliveryService>,
        events: HubEvents,
        clock: Arc<dyn MonotonicClock>,
        config: HubConfig,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                admission,
                delivery,
                events,
                clock,
                config,
                next_conn: AtomicU64::new(1),
            }),
        }
    }

    /// The calls (for metrics and tests).
    pub fn events(&self) -> &HubEvents {
        &self.inner.events
    }

    /// Serves one client until it closes, its transport fails, it is removed from the
    /// session, the session closes, or it causes too many errors. `request` is what the
    /// host's transport observed (the client address counts wrong secrets).
    pub async fn serve<C: SignalingChannel>(&self, mut channel: C, request: RequestMeta) {
        let now = self.inner.clock.now();
        let config = self.inner.config;
        let (outbox, mut inbox) = mpsc::channel(config.outbox_depth.max(1));
        let mut conn = Conn {
            id: self.inner.next_conn.fetch_add(1, Ordering::Relaxed),
            request,
            rate: TokenBucket::per_second(config.rate_burst, config.rate_per_second, now),
            errors: TokenBucket::new(config.error_burst, config.error_refill, now),
            state: State::Fresh,
            outbox,
            kill: Arc::new(Kill::default()),
            fresh_since: tokio::time::Instant::now(),
            heard_at: tokio::time::Instant::now(),
        };
        // Zero would close every joined connection at once.
        let idle_timeout = config.idle_timeout.max(MIN_INTERVAL);
        let recheck_every = config.recheck_every.max(MIN_INTERVAL);
        loop {
            // The select only picks what happened; it is handled below, with no future
            // left borrowing the channel.
            // Biased, the end of a connection first: once a participant is removed, not
            // one more of its messages is relayed.
            let join_by = conn.fresh_since + config.join_timeout;
            let fresh = matches!(conn.state, State::Fresh);
            let idle_by = conn.heard_at + idle_timeout;
            let (joined, recheck_at) = match &conn.state {
                State::Joined(j) => (true, j.recheck_at),
                _ => (false, idle_by),
            };
            let step = tokio::select! {
                biased;
                () = conn.kill.notify.notified() => Step::Killed,
                () = tokio::time::sleep_until(join_by), if fresh => Step::JoinTimedOut,
                // Before the channel: a message arriving exactly at the deadline is late.
                () = tokio::time::sleep_until(idle_by), if joined => Step::IdleTimedOut,
                () = tokio::time::sleep_until(recheck_at), if joined => Step::Reauthorize,
                frame = channel.recv() => Step::In(frame),
                out = inbox.recv() => Step::Out(out),
            };
            let flow = match step {
                Step::In(Some(Ok(frame))) => {
                    // Any frame shows the client is there, refused ones too.
                    conn.heard_at = tokio::time::Instant::now();
                    self.on_frame(&mut conn, &mut channel, frame).await
                }
                Step::In(_) => Flow::Close,
                Step::Out(Some(Outgoing::Message(m))) => send(&mut channel, &m).await,
                Step::Out(Some(Outgoing::Recheck)) => self.recheck(&mut conn, &mut channel).await,
                Step::Out(None) => Flow::Close,
                // `leave` below tells the others (`peer_left`).
                Step::JoinTimedOut | Step::IdleTimedOut => Flow::Close,
                Step::Reauthorize | Step::Out(Some(Outgoing::Reauthorize)) => {
                    self.reauthorize(&mut conn, &mut channel, recheck_every)
                        .await
                }
                Step::Killed => match conn.kill.reason() {
                    Some(reason) => {
                        let _ = send(&mut channel, &ServerMessage::Ended { reason }).await;
                        Flow::Close
                    }
                    None => Flow::Continue,
                },
            };
            if let Flow::Close = flow {
                break;
            }
        }
        self.leave(&mut conn);
        channel.close().await;
    }

    async fn on_frame<C: SignalingChannel>(
        &self,
        conn: &mut Conn,
        channel: &mut C,
        frame: Frame,
    ) -> Flow {
        let now = self.inner.clock.now();
        if let Err(retry_after) = conn.rate.take(now) {
            let refusal = Refusal::from(SignalingError::RateLimited { retry_after });
            return self.refuse(conn, channel, refusal, None).await;
        }
        let bytes = match frame {
            Frame::Text(bytes) => bytes,
            Frame::Binary => {
                return self
                    .refuse(conn, channel, ErrorCode::InvalidFrame.into(), None)
                    .await;
            }
            Frame::Oversized => {
                let e = SignalingError::TooLarge {
                    field: "message",
                    limit: limits::MAX_MESSAGE_BYTES,
                };
                return self.refuse(conn, channel, e.into(), None).await;
            }
        };
        let (id, parsed) = parse_with_id(&bytes);
        let message = match parsed {
            Ok(m) => m,
            Err(e) => return self.refuse(conn, channel, e.into(), id).await,
        };
        match self.handle(conn, channel, id, message.body).await {
            Ok(flow) => flow,
            Err(refusal) => self.refuse(conn, channel, refusal, id).await,
        }
    }

    /// Answers a refused message and charges the error allowance.
    async fn refuse<C: SignalingChannel>(
        &self,
        conn: &mut Conn,
        channel: &mut C,
        refusal: Refusal,
        in_reply_to: Option<u32>,
    ) -> Flow {
        let over = conn.errors.take(self.inner.clock.now()).is_err();
        let code = if over {
            ErrorCode::TooManyErrors
        } else {
            refusal.code
        };
        let message = ServerMessage::Error {
            code,
            field: refusal.field.filter(|_| !over).map(str::to_owned),
            retry_after_ms: refusal.retry_after.filter(|_| !over).map(millis),
            in_reply_to,
        };
        match (send(channel, &message).await, over) {
            (Flow::Continue, false) => Flow::Continue,
            _ => Flow::Close,
        }
    }

    async fn deny<C: SignalingChannel>(
        &self,
        conn: &mut Conn,
        channel: &mut C,
        denial: Denial,
        in_reply_to: Option<u32>,
    ) -> Flow {
        let message = ServerMessage::Denied {
            reason: denial.reason,
            retry_after_ms: denial.retry_after.map(millis),
            in_reply_to,
        };
        if let Flow::Close = send(channel, &message).await {
            return Flow::Close;
        }
        // A denied join counts as a refused message.
        if conn.errors.take(self.inner.clock.now()).is_err() {
            let over = ServerMessage::Error {
                code: ErrorCode::TooManyErrors,
                field: None,
                retry_after_ms: None,
                in_reply_to,
            };
            let _ = send(channel, &over).await;
            return Flow::Close;
        }
        Flow::Continue
    }

    async fn handle<C: SignalingChannel>(
        &self,
        conn: &mut Conn,
        channel: &mut C,
        id: Option<u32>,
        body: ClientBody,
    ) -> Result<Flow, Refusal> {
        match body {
            ClientBody::Ping => Ok(send(channel, &ServerMessage::Pong { in_reply_to: id }).await),
            ClientBody::Join(join) => {
                if !matches!(conn.state, State::Fresh) {
                    return Err(ErrorCode::AlreadyJoined.into());
                }
                let outcome = self.inner.admission.admit(&join.auth, conn.request).await;
                match outcome {
                    Ok(outcome) => {
                        let credential = credential(&join.auth);
                        Ok(self.enter(conn, channel, outcome, credential, id).await)
                    }
                    Err(denial) => Ok(self.deny(conn, channel, denial, id).await),
                }
            }
            ClientBody::Leave => {
                self.leave(conn);
                Ok(Flow::Continue)
            }
            ClientBody::Offer(d) => self.relay_description(conn, d, true),
            ClientBody::Answer(d) => self.relay_description(conn, d, false),
            ClientBody::Ice(ice) => self.relay_ice(conn, ice),
            ClientBody::MlsKeyPackages(m) => self.mls_key_packages(conn, channel, id, m).await,
            ClientBody::MlsClaim(m) => self.mls_claim(conn, channel, id, m).await,
            ClientBody::MlsGroup(m) => self.mls_group(conn, m).await,
            ClientBody::MlsCommit(m) => self.mls_commit(conn, m).await,
            ClientBody::MlsSync(m) => self.mls_sync(conn, channel, m).await,
        }
    }

    /// Puts an admitted or waiting connection in place and tells the client.
    async fn enter<C: SignalingChannel>(
        &self,
        conn: &mut Conn,
        channel: &mut C,
        outcome: AdmissionOutcome,
        credential: Option<SecretText>,
        in_reply_to: Option<u32>,
    ) -> Flow {
        let entrant = match outcome {
            AdmissionOutcome::Waiting { caller, session } => {
                let member = self.member(conn, caller.subject);
                self.inner.events.wait((caller.tenant, session), member);
                conn.state = State::Waiting(caller, session, credential);
                // The host may have admitted the visitor before the registration above;
                // one recheck after it closes that window.
                let _ = conn.outbox.try_send(Outgoing::Recheck);
                return send(channel, &ServerMessage::Waiting { session }).await;
            }
            AdmissionOutcome::Admitted(entrant) => entrant,
        };
        let key = (entrant.caller.tenant, entrant.session);
        // Used only if this member starts the call instance; drawn for every join so the
        // registry's lock is never held over the RNG.
        let Ok(fresh) = CallId::random() else {
            let denial = Denial::new(super::DenyReason::Unavailable);
            return self.deny(conn, channel, denial, in_reply_to).await;
        };
        let member = self.member(conn, entrant.caller.subject);
        let config = self.inner.config;
        let Some(Seat {
            index,
            call,
            peers,
            mls,
        }) = self.inner.events.join(
            key,
            member,
            fresh,
            config.max_call_members,
            config.max_joins_per_participant,
        )
        else {
            let denial = Denial::new(super::DenyReason::CallFull);
            return self.deny(conn, channel, denial, in_reply_to).await;
        };
        // Admission read the participants before this connection was registered in the
        // call: a removal or a close in between found nothing to end. Asked once more
        // now that it is registered, anything later finds it. The session as this second
        // read found it is what the client is told: a removal in between moved the key
        // epoch, and its `key_epoch` went out before this connection could hear it.
        let entrant = match self
            .inner
            .admission
            .recheck(&entrant.caller, entrant.session)
            .await
        {
            Ok(AdmissionOutcome::Admitted(now)) => Entrant {
                mode: now.mode,
                key_epoch: now.key_epoch,
                ..entrant
            },
            again => {
                self.inner.events.leave(key, index, conn.id);
                let denial = again
                    .err()
                    .unwrap_or_else(|| Denial::new(super::DenyReason::Forbidden));
                return self.deny(conn, channel, denial, in_reply_to).await;
            }
        };
        let admitted = Admitted {
            session: entrant.session,
            call,
            participant: entrant.caller.subject,
            sender_index: index,
            peers,
            mode: entrant.mode,
            end_to_end: entrant.mode == EncryptionMode::EndToEnd,
            key_epoch: entrant.key_epoch,
            guest_token: entrant.guest_token.clone(),
        };
        // A guest admitted by a guest link re-checks with the token it was given.
        let credential = entrant.guest_token.clone().or(credential);
        let recheck_at = tokio::time::Instant::now() + config.recheck_every.max(MIN_INTERVAL);
        conn.state = State::Joined(Joined {
            entrant,
            index,
            mls,
            credential,
            recheck_at,
        });
        // The idle clock starts at admission at the latest: a visitor that waited in a
        // lobby without pinging gets its full allowance.
        conn.heard_at = tokio::time::Instant::now();
        send(channel, &ServerMessage::Admitted(admitted)).await
    }

    async fn recheck<C: SignalingChannel>(&self, conn: &mut Conn, channel: &mut C) -> Flow {
        let State::Waiting(caller, session, credential) = &conn.state else {
            return Flow::Continue;
        };
        let (caller, session, credential) = (*caller, *session, credential.clone());
        match self.inner.admission.recheck(&caller, session).await {
            Ok(AdmissionOutcome::Admitted(entrant)) => {
                self.inner
                    .events
                    .stop_waiting((caller.tenant, session), conn.id);
                conn.state = State::Fresh;
                let outcome = AdmissionOutcome::Admitted(entrant);
                self.enter(conn, channel, outcome, credential, None).await
            }
            // Still waiting, or the check failed: keep waiting; the next event asks again.
            _ => Flow::Continue,
        }
    }

    /// The re-check of a joined connection, periodic and on a key move: kept, ended
    /// (`ended`, then closed; the others get `peer_left`), or undecided and asked again
    /// next round.
    async fn reauthorize<C: SignalingChannel>(
        &self,
        conn: &mut Conn,
        channel: &mut C,
        every: Duration,
    ) -> Flow {
        let State::Joined(j) = &mut conn.state else {
            return Flow::Continue;
        };
        // The connection is not served while this runs: a hanging backend must not
        // stall it, nor let its queued pings go unread past the idle timeout.
        let verdict = tokio::time::timeout(
            limits::RECHECK_TIMEOUT,
            self.inner
                .admission
                .reauthorize(&j.entrant, j.credential.as_ref(), conn.request),
        )
        .await
        .unwrap_or(Reauthorization::Unavailable);
        let reason = match verdict {
            Reauthorization::Kept => None,
            Reauthorization::Unavailable => {
                tracing::warn!(
                    conn = conn.id,
                    session = %j.entrant.session,
                    "admission re-check could not be made; the connection stays, asked again next round"
                );
                None
            }
            Reauthorization::Ended(reason) => Some(reason),
        };
        let Some(reason) = reason else {
            j.recheck_at = tokio::time::Instant::now() + every;
            return Flow::Continue;
        };
        // Out of the call first: nothing more of it is relayed.
        self.leave(conn);
        // A removal that came in meanwhile names itself.
        let reason = conn.kill.reason().unwrap_or(reason);
        let _ = send(channel, &ServerMessage::Ended { reason }).await;
        Flow::Close
    }

    fn member(&self, conn: &Conn, participant: cai_core::id::SubjectId) -> Member {
        Member {
            participant,
            conn: conn.id,
            outbox: conn.outbox.clone(),
            kill: conn.kill.clone(),
        }
    }

    fn leave(&self, conn: &mut Conn) {
        if !matches!(conn.state, State::Fresh) {
            conn.fresh_since = tokio::time::Instant::now();
        }
        match std::mem::replace(&mut conn.state, State::Fresh) {
            State::Joined(j) => self.inner.events.leave(j.key(), j.index, conn.id),
            State::Waiting(caller, session, _) => self
                .inner
                .events
                .stop_waiting((caller.tenant, session), conn.id),
            State::Fresh => {}
        }
    }

    fn joined(conn: &Conn) -> Result<&Joined, Refusal> {
        match &conn.state {
            State::Joined(j) => Ok(j),
            _ => Err(ErrorCode::NotJoined.into()),
        }
    }

    /// Queues `message` to the member at `to` of the sender's call, if the sender is
    /// still a member of it (a removal ends the membership before the connection).
    fn relay(
        &self,
        conn: u64,
        j: &Joined,
        to: SenderIndex,
        message: ServerMessage,
    ) -> Result<Flow, Refusal> {
        if to == j.index {
            return Err(ErrorCode::UnknownPeer.into());
        }
        if self
            .inner
            .events
            .member(j.key(), j.index)
            .is_none_or(|me| me.conn != conn)
        {
            return Err(ErrorCode::NotJoined.into());
        }
        let member = self
            .inner
            .events
            .member(j.key(), to)
            .ok_or(Refusal::from(ErrorCode::UnknownPeer))?;
        member
            .outbox
            .try_send(Outgoing::Message(message))
            // The peer's queue is full (its connection stalls): not delivered.
            .map_err(|_| Refusal::from(ErrorCode::Unavailable))?;
        Ok(Flow::Continue)
    }

    fn relay_description(
        &self,
        conn: &Conn,
        d: DescriptionTo,
        offer: bool,
    ) -> Result<Flow, Refusal> {
        let j = Self::joined(conn)?;
        // Peers check the certificate against these after DTLS: a description without a
        // usable, consistent set is refused here already.
        sdp_fingerprints(&d.description.sdp).map_err(|_| {
            Refusal::from(SignalingError::InvalidField {
                field: "description.sdp",
            })
        })?;
        if j.entrant.mode == EncryptionMode::EndToEnd && d.signature.is_none() {
            return Err(SignalingError::InvalidField { field: "signature" }.into());
        }
        let relayed = DescriptionFrom {
            from: j.index,
            description: d.description,
            signature: d.signature,
        };
        let message = if offer {
            ServerMessage::Offer(relayed)
        } else {
            ServerMessage::Answer(relayed)
        };
        self.relay(conn.id, j, d.to, message)
    }

    fn relay_ice(&self, conn: &Conn, ice: IceTo) -> Result<Flow, Refusal> {
        let j = Self::joined(conn)?;
        let message = ServerMessage::Ice(IceFrom {
            from: j.index,
            candidate: ice.candidate,
        });
        self.relay(conn.id, j, ice.to, message)
    }
}

enum Step {
    In(Option<Result<Frame, super::ChannelError>>),
    Out(Option<Outgoing>),
    Killed,
    JoinTimedOut,
    IdleTimedOut,
    Reauthorize,
}

/// The token a join authenticated with, for re-checks (a guest link's is the guest token
/// admission hands out instead).
fn credential(auth: &JoinAuth) -> Option<SecretText> {
    match auth {
        JoinAuth::Token { token, .. } | JoinAuth::Room { token, .. } => Some(token.clone()),
        JoinAuth::GuestLink { .. } => None,
    }
}

async fn send<C: SignalingChannel>(channel: &mut C, message: &ServerMessage) -> Flow {
    match channel.send(message.to_json()).await {
        Ok(()) => Flow::Continue,
        Err(_) => Flow::Close,
    }
}
