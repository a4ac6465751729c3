//! The seam to live transport (`cai-rtc`): the service announces what changed in a
//! session, and the transport tells connected clients (signaling, data channel). The
//! events carry ids only, never content or keys.

use async_trait::async_trait;

use crate::id::{ItemId, SessionId, SubjectId, TenantId};

/// Something connected participants of a session should learn now. JSON: internally
/// tagged, `{"type":"participant_joined","subject":"gst_…"}`,
/// `{"type":"content_posted","item":"itm_…","version":1}`, `{"type":"closed"}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(from = "SessionEventJson", into = "SessionEventJson")]
#[non_exhaustive]
pub enum SessionEvent {
    /// Someone joined.
    ParticipantJoined(SubjectId),
    /// Someone entered a room and waits to be admitted to its meeting (for the host).
    ParticipantWaiting(SubjectId),
    /// Someone was removed; the transport must drop their connections.
    ParticipantRemoved(SubjectId),
    /// A new item or version is available.
    ContentPosted {
        /// The item.
        item: ItemId,
        /// Its version.
        version: u32,
    },
    /// The session's keys moved to a new epoch: an MLS commit in an end-to-end
    /// session, a fresh data key in a server-managed or session-key one.
    KeysChanged {
        /// The new epoch.
        epoch: u32,
    },
    /// The session was closed; the transport ends its calls.
    Closed,
}

/// The JSON shape of [`SessionEvent`]: internally tagged, the subject as a field.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum SessionEventJson {
    ParticipantJoined { subject: SubjectId },
    ParticipantWaiting { subject: SubjectId },
    ParticipantRemoved { subject: SubjectId },
    ContentPosted { item: ItemId, version: u32 },
    KeysChanged { epoch: u32 },
    Closed,
}

impl From<SessionEvent> for SessionEventJson {
    fn from(e: SessionEvent) -> Self {
        match e {
            SessionEvent::ParticipantJoined(subject) => Self::ParticipantJoined { subject },
            SessionEvent::ParticipantWaiting(subject) => Self::ParticipantWaiting { subject },
            SessionEvent::ParticipantRemoved(subject) => Self::ParticipantRemoved { subject },
            SessionEvent::ContentPosted { item, version } => Self::ContentPosted { item, version },
            SessionEvent::KeysChanged { epoch } => Self::KeysChanged { epoch },
            SessionEvent::Closed => Self::Closed,
        }
    }
}

impl From<SessionEventJson> for SessionEvent {
    fn from(e: SessionEventJson) -> Self {
        match e {
            SessionEventJson::ParticipantJoined { subject } => Self::ParticipantJoined(subject),
            SessionEventJson::ParticipantWaiting { subject } => Self::ParticipantWaiting(subject),
            SessionEventJson::ParticipantRemoved { subject } => Self::ParticipantRemoved(subject),
            SessionEventJson::ContentPosted { item, version } => {
                Self::ContentPosted { item, version }
            }
            SessionEventJson::KeysChanged { epoch } => Self::KeysChanged { epoch },
            SessionEventJson::Closed => Self::Closed,
        }
    }
}

/// Delivers session events to connected clients.
#[async_trait]
pub trait SessionTransport: Send + Sync {
    /// Whether this port can serve now, for health checks ([`Counselling::health`]).
    /// The default answers yes; a backend that talks to a server overrides it with a
    /// cheap round trip (a `SELECT 1`, a KMS key lookup, an SMTP `NOOP`).
    ///
    /// [`Counselling::health`]: crate::Counselling::health
    async fn health(&self) -> Result<(), super::Unhealthy> {
        Ok(())
    }

    /// Publishes an event. Delivery is best effort: clients that miss it catch up by
    /// reading the session; an error is logged by the service, not returned to users.
    async fn publish(
        &self,
        tenant: TenantId,
        session: SessionId,
        event: SessionEvent,
    ) -> Result<(), TransportError>;
}

/// A publishing failure.
#[derive(Debug, Clone, thiserror::Error)]
#[error("transport: {0}")]
pub struct TransportError(pub String);
