//! The admin notifier (R-I5): every security-relevant change reaches the tenant's
//! administrators. Notifications are queued in the same commit as the change
//! ([`Write::QueueNotification`](super::Write::QueueNotification)) and delivered after
//! it, so none is lost when the notifier is down: undelivered ones stay queued until
//! `Counselling::deliver_notifications` succeeds.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::domain::{AuditActor, AuditKind, AuditObject};
use crate::id::{AccountId, EventId, TenantId};
use crate::time::Timestamp;

/// A notice for a tenant's administrators about one audit event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// The audit event it is about (also the notification's id).
    pub event: EventId,
    /// The tenant.
    pub tenant: TenantId,
    /// When it happened.
    pub at: Timestamp,
    /// Who did it.
    pub actor: AuditActor,
    /// What happened.
    pub kind: AuditKind,
    /// To what.
    pub object: AuditObject,
    /// The tenant administrators at the time.
    pub recipients: Vec<AccountId>,
}

/// Delivers notifications (e-mail, chat, pager, a SIEM). Implementations must not
/// log secrets; notifications carry ids and kinds only.
#[async_trait]
pub trait AdminNotifier: Send + Sync {
    /// Whether this port can serve now, for health checks ([`Counselling::health`]).
    /// The default answers yes; a backend that talks to a server overrides it with a
    /// cheap round trip (a `SELECT 1`, a KMS key lookup, an SMTP `NOOP`).
    ///
    /// [`Counselling::health`]: crate::Counselling::health
    async fn health(&self) -> Result<(), super::Unhealthy> {
        Ok(())
    }

    /// Delivers one notification. An error leaves it queued for the next attempt.
    async fn notify(&self, notification: &Notification) -> Result<(), NotifyError>;
}

/// A delivery failure.
#[derive(Debug, Clone, thiserror::Error)]
#[error("notification not delivered: {0}")]
pub struct NotifyError(pub String);
