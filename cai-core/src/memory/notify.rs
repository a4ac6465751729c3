//! [`MemoryNotifier`]: keeps delivered admin notifications for tests to read.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;

use crate::ports::{AdminNotifier, Notification, NotifyError};

/// An [`AdminNotifier`] that remembers what it delivered. While
/// [`set_failing`](Self::set_failing) is on, every delivery fails, so a test can check
/// that undelivered notifications stay in the outbox and go out on a later attempt.
#[derive(Debug, Default)]
pub struct MemoryNotifier {
    delivered: Mutex<Vec<Notification>>,
    failing: AtomicBool,
    attempts: AtomicU64,
}

impl MemoryNotifier {
    /// A notifier that has delivered nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every notification delivered so far, oldest first.
    pub fn delivered(&self) -> Vec<Notification> {
        self.delivered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Makes every delivery fail (`true`) or succeed again (`false`).
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// How many deliveries were attempted, failed ones included.
    pub fn attempts(&self) -> u64 {
        self.attempts.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl AdminNotifier for MemoryNotifier {
    async fn notify(&self, notification: &Notification) -> Result<(), NotifyError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        if self.failing.load(Ordering::SeqCst) {
            return Err(NotifyError("memory notifier told to fail".to_owned()));
        }
        self.delivered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(notification.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timestamp;
    use crate::domain::{AuditActor, AuditKind, AuditObject};
    use crate::id::{EventId, TenantId};

    #[tokio::test]
    async fn fails_while_switched_on() {
        let tenant = TenantId::random().unwrap();
        let n = Notification {
            event: EventId::random().unwrap(),
            tenant,
            at: Timestamp::EPOCH,
            actor: AuditActor::System,
            kind: AuditKind::TenantCreated,
            object: AuditObject::Tenant(tenant),
            recipients: Vec::new(),
        };
        let notifier = MemoryNotifier::new();
        notifier.set_failing(true);
        assert!(notifier.notify(&n).await.is_err());
        assert!(notifier.notify(&n).await.is_err());
        assert!(notifier.delivered().is_empty());
        notifier.set_failing(false);
        notifier.notify(&n).await.unwrap();
        assert_eq!(notifier.delivered(), vec![n]);
        assert_eq!(notifier.attempts(), 3);
    }
}
