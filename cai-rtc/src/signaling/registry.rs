//! Who is in which call: the hub's registry of calls, shared by the connections' tasks
//! and by [`HubEvents`], the `SessionTransport` through which cai-core's session events
//! reach the calls (participant removed → their connections end; keys changed →
//! `key_epoch`; session closed → every connection ends).
//!
//! A call's sender indices count up from 0 and are never handed out twice while the hub
//! runs. A call instance has an id ([`CallId`]), drawn when its first member is admitted
//! and drawn anew whenever it starts again after it emptied; session media keys are
//! derived with it (`docs/SFRAME.md` §3a), so an index that repeats in another instance —
//! after a hub restart — still gets another SFrame key.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use cai_core::id::{SessionId, SubjectId, TenantId};
use cai_core::ports::{SessionEvent, SessionTransport, TransportError};
use cai_crypto::sframe::CallId;
use tokio::sync::{Notify, mpsc};

use super::message::{EndReason, PeerInfo, SenderIndex, ServerMessage};

/// What the hub queues towards one connection.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// A message to send.
    Message(ServerMessage),
    /// A waiting visitor may have been admitted: ask the admission again.
    Recheck,
    /// The session's keys moved because someone lost access: re-check this joined
    /// connection's admission now rather than at its next periodic re-check.
    Reauthorize,
}

/// Ends one connection's part in the call, whether or not its outbox has room.
#[derive(Debug, Default)]
pub(crate) struct Kill {
    reason: Mutex<Option<EndReason>>,
    pub(crate) notify: Notify,
}

impl Kill {
    pub(crate) fn fire(&self, reason: EndReason) {
        *self.reason.lock().unwrap_or_else(PoisonError::into_inner) = Some(reason);
        // A stored permit wakes the task even if it is not waiting right now.
        self.notify.notify_one();
    }

    pub(crate) fn reason(&self) -> Option<EndReason> {
        *self.reason.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A connection as the registry knows it.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub(crate) participant: SubjectId,
    pub(crate) conn: u64,
    pub(crate) outbox: mpsc::Sender<Outgoing>,
    pub(crate) kill: Arc<Kill>,
}

#[derive(Debug)]
pub(crate) struct Call {
    /// The id of the running instance; `None` before the first member is admitted. Only
    /// meaningful while `members` is not empty: the next admission into an empty call
    /// replaces it.
    id: Option<CallId>,
    next_index: u32,
    /// Sender indices taken per participant in this call.
    joins: HashMap<SubjectId, u32>,
    pub(crate) members: BTreeMap<SenderIndex, Member>,
    waiting: Vec<Member>,
    /// Held while an MLS message goes through the Delivery Service and its epoch is
    /// queued to every member, so epochs reach every connection in order.
    pub(crate) mls: Arc<tokio::sync::Mutex<()>>,
}

impl Call {
    fn new() -> Self {
        Self {
            id: None,
            next_index: 0,
            joins: HashMap::new(),
            members: BTreeMap::new(),
            waiting: Vec::new(),
            mls: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// Queues `message` to every member but `except`; best effort (a full outbox misses
    /// it, as cai-core's transport contract allows).
    pub(crate) fn broadcast(&self, message: &ServerMessage, except: Option<SenderIndex>) {
        for (index, m) in &self.members {
            if Some(*index) != except {
                let _ = m.outbox.try_send(Outgoing::Message(message.clone()));
            }
        }
    }
}

type CallKey = (TenantId, SessionId);

/// A place in a call, as [`HubEvents::join`] hands it out.
#[derive(Debug)]
pub(crate) struct Seat {
    /// The member's sender index.
    pub(crate) index: SenderIndex,
    /// The id of the call instance the member joined.
    pub(crate) call: CallId,
    /// The others already in the call.
    pub(crate) peers: Vec<PeerInfo>,
    /// The call's MLS lock.
    pub(crate) mls: Arc<tokio::sync::Mutex<()>>,
}

/// The hub's calls, and cai-core's `SessionTransport` into them: put a clone in
/// `cai_core::Ports::transport` of the service the hub admits through, and give the same
/// value to [`SignalingHub::new`](super::SignalingHub::new).
#[derive(Debug, Clone, Default)]
pub struct HubEvents {
    calls: Arc<Mutex<HashMap<CallKey, Call>>>,
}

impl HubEvents {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, HashMap<CallKey, Call>> {
        self.calls.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a member to the call; `None` when the call is full: `max_members`
    /// connections in it, this participant's `max_joins` used, or the call's indices
    /// used up. A member admitted into an empty call starts a new instance with the id
    /// `fresh` (drawn by the caller, outside the lock); otherwise `fresh` is unused.
    pub(crate) fn join(
        &self,
        key: CallKey,
        member: Member,
        fresh: CallId,
        max_members: usize,
        max_joins: u32,
    ) -> Option<Seat> {
        let mut calls = self.lock();
        let call = calls.entry(key).or_insert_with(Call::new);
        let joins = call.joins.get(&member.participant).copied().unwrap_or(0);
        if call.members.len() >= max_members || joins >= max_joins {
            return None;
        }
        let index = SenderIndex::try_from(call.next_index).ok()?;
        call.next_index += 1;
        let id = match call.id {
            Some(id) if !call.members.is_empty() => id,
            _ => *call.id.insert(fresh),
        };
        call.joins.insert(member.participant, joins + 1);
        let peers = call
            .members
            .iter()
            .map(|(i, m)| PeerInfo {
                participant: m.participant,
                sender_index: *i,
            })
            .collect();
        let me = PeerInfo {
            participant: member.participant,
            sender_index: index,
        };
        call.broadcast(&ServerMessage::PeerJoined(me), None);
        call.waiting.retain(|w| w.conn != member.conn);
        call.members.insert(index, member);
        Some(Seat {
            index,
            call: id,
            peers,
            mls: call.mls.clone(),
        })
    }

    /// Removes a member (leave, disconnect) and tells the others.
    pub(crate) fn leave(&self, key: CallKey, index: SenderIndex, conn: u64) {
        let mut calls = self.lock();
        if let Some(call) = calls.get_mut(&key)
            && call.members.get(&index).is_some_and(|m| m.conn == conn)
        {
            call.members.remove(&index);
            call.broadcast(
                &ServerMessage::PeerLeft {
                    sender_index: index,
                },
                None,
            );
        }
    }

    /// Registers a connection waiting in a room's lobby.
    pub(crate) fn wait(&self, key: CallKey, member: Member) {
        let mut calls = self.lock();
        let call = calls.entry(key).or_insert_with(Call::new);
        call.waiting.retain(|w| w.conn != member.conn);
        call.waiting.push(member);
    }

    /// Forgets a waiting connection.
    pub(crate) fn stop_waiting(&self, key: CallKey, conn: u64) {
        if let Some(call) = self.lock().get_mut(&key) {
            call.waiting.retain(|w| w.conn != conn);
        }
    }

    /// The member at `index` of a call.
    pub(crate) fn member(&self, key: CallKey, index: SenderIndex) -> Option<Member> {
        self.lock()
            .get(&key)
            .and_then(|c| c.members.get(&index).cloned())
    }

    /// How many connections take part in a session's call now.
    pub fn call_size(&self, tenant: TenantId, session: SessionId) -> usize {
        self.lock()
            .get(&(tenant, session))
            .map_or(0, |c| c.members.len())
    }

    /// Applies one of cai-core's session events to the call.
    pub fn apply(&self, tenant: TenantId, session: SessionId, event: &SessionEvent) {
        let key = (tenant, session);
        let mut calls = self.lock();
        let Some(call) = calls.get_mut(&key) else {
            return;
        };
        match event {
            SessionEvent::ParticipantRemoved(subject) => {
                let gone: Vec<SenderIndex> = call
                    .members
                    .iter()
                    .filter(|(_, m)| m.participant == *subject)
                    .map(|(i, _)| *i)
                    .collect();
                for index in gone {
                    if let Some(m) = call.members.remove(&index) {
                        m.kill.fire(EndReason::Removed);
                        call.broadcast(
                            &ServerMessage::PeerLeft {
                                sender_index: index,
                            },
                            None,
                        );
                    }
                }
                call.waiting.retain(|w| {
                    let removed = w.participant == *subject;
                    if removed {
                        w.kill.fire(EndReason::Removed);
                    }
                    !removed
                });
            }
            SessionEvent::KeysChanged { epoch } => {
                call.broadcast(&ServerMessage::KeyEpoch { epoch: *epoch }, None);
                // Someone lost access: a removed participant is ended above, but an
                // account that left a group the session is shared with, or was
                // deleted, is only found by asking again. A full outbox leaves it to
                // the periodic re-check.
                for m in call.members.values() {
                    let _ = m.outbox.try_send(Outgoing::Reauthorize);
                }
            }
            SessionEvent::Closed => {
                for m in call.members.values().chain(call.waiting.iter()) {
                    m.kill.fire(EndReason::SessionClosed);
                }
                calls.remove(&key);
            }
            SessionEvent::ParticipantJoined(subject) => {
                for w in call.waiting.iter().filter(|w| w.participant == *subject) {
                    let _ = w.outbox.try_send(Outgoing::Recheck);
                }
            }
            _ => {}
        }
    }
}

#[async_trait]
impl SessionTransport for HubEvents {
    async fn publish(
        &self,
        tenant: TenantId,
        session: SessionId,
        event: SessionEvent,
    ) -> Result<(), TransportError> {
        self.apply(tenant, session, &event);
        Ok(())
    }
}
