//! The seam to live transport (`cai-rtc`): the service announces what changed in a
//! session, and the transport tells connected clients (signaling, data channel). The
//! events carry ids only, never content or keys.

use async_trait::async_trait;

use crate::id::{ItemId, SessionId, SubjectId, TenantId};

/// Something connected participants of a session should learn now.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionEvent {
    /// Someone joined.
    ParticipantJoined(SubjectId),
    /// Someone was removed; the transport must drop their connections.
    ParticipantRemoved(SubjectId),
    /// A new item or version is available.
    ContentPosted {
        /// The item.
        item: ItemId,
        /// Its version.
        version: u32,
    },
    /// The session's keys moved to a new epoch (end-to-end sessions).
    KeysChanged {
        /// The new epoch.
        epoch: u32,
    },
    /// The session was closed; the transport ends its calls.
    Closed,
}

/// Delivers session events to connected clients.
#[async_trait]
pub trait SessionTransport: Send + Sync {
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
