//! [`MemoryTransport`]: keeps published session events for tests to read.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;

use crate::id::{SessionId, TenantId};
use crate::ports::{SessionEvent, SessionTransport, TransportError};

/// A [`SessionTransport`] that records every event instead of reaching clients.
/// [`set_failing`](Self::set_failing) makes publishing fail, to check that the service
/// treats delivery as best effort.
#[derive(Debug, Default)]
pub struct MemoryTransport {
    events: Mutex<Vec<(TenantId, SessionId, SessionEvent)>>,
    failing: AtomicBool,
}

impl MemoryTransport {
    /// A transport that has published nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every event published so far, oldest first.
    pub fn events(&self) -> Vec<(TenantId, SessionId, SessionEvent)> {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The events published for one session, oldest first.
    pub fn events_of(&self, tenant: TenantId, session: SessionId) -> Vec<SessionEvent> {
        self.events()
            .into_iter()
            .filter(|(t, s, _)| *t == tenant && *s == session)
            .map(|(_, _, e)| e)
            .collect()
    }

    /// Makes every publish fail (`true`) or succeed again (`false`).
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }
}

#[async_trait]
impl SessionTransport for MemoryTransport {
    async fn publish(
        &self,
        tenant: TenantId,
        session: SessionId,
        event: SessionEvent,
    ) -> Result<(), TransportError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(TransportError("memory transport told to fail".to_owned()));
        }
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((tenant, session, event));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_per_session_and_fails_when_told() {
        let t = TenantId::random().unwrap();
        let (s1, s2) = (SessionId::random().unwrap(), SessionId::random().unwrap());
        let transport = MemoryTransport::new();
        transport
            .publish(t, s1, SessionEvent::Closed)
            .await
            .unwrap();
        transport
            .publish(t, s2, SessionEvent::KeysChanged { epoch: 2 })
            .await
            .unwrap();
        transport.set_failing(true);
        assert!(
            transport
                .publish(t, s1, SessionEvent::Closed)
                .await
                .is_err()
        );
        transport.set_failing(false);
        assert_eq!(transport.events().len(), 2);
        assert_eq!(transport.events_of(t, s1), vec![SessionEvent::Closed]);
        assert!(
            transport
                .events_of(TenantId::random().unwrap(), s1)
                .is_empty()
        );
    }
}
