//! [`InMemory`]: every port in memory at once, with the handles tests reach for.

use std::sync::Arc;

use crate::blocking::InlinePool;
use crate::ports::{Clock, ManualClock, SingleStore, SystemClock};
use crate::service::Ports;

use super::{
    LocalKeyProvider, MemoryBlobStore, MemoryFailureCounter, MemoryMailer, MemoryNotifier,
    MemoryStore, MemoryTransport,
};

/// Every port in memory ([`Ports::in_memory`]), and a handle on each: read what was
/// mailed, advance the clock, make the notifier fail, look into the store.
#[derive(Clone)]
#[non_exhaustive]
pub struct InMemory {
    /// The ports, to build a [`Counselling`](crate::Counselling) from.
    pub ports: Ports,
    /// The one store every tenant lives in.
    pub store: Arc<MemoryStore>,
    /// The clock: the time this was made, standing still until advanced.
    pub clock: ManualClock,
    /// Tenant KEKs.
    pub keys: Arc<LocalKeyProvider>,
    /// Everything mailed (invitations).
    pub mailer: Arc<MemoryMailer>,
    /// Every admin notification.
    pub notifier: Arc<MemoryNotifier>,
    /// Every published session event.
    pub transport: Arc<MemoryTransport>,
    /// The brute-force counters.
    pub failures: Arc<MemoryFailureCounter>,
    /// File bodies.
    pub blobs: Arc<MemoryBlobStore>,
}

impl InMemory {
    /// Fresh, empty ports.
    pub fn new() -> Self {
        let store = Arc::new(MemoryStore::new());
        let clock = ManualClock::new(SystemClock.now());
        let keys = Arc::new(LocalKeyProvider::new());
        let mailer = Arc::new(MemoryMailer::new());
        let notifier = Arc::new(MemoryNotifier::new());
        let transport = Arc::new(MemoryTransport::new());
        let failures = Arc::new(MemoryFailureCounter::new());
        let blobs = Arc::new(MemoryBlobStore::new());
        let ports = Ports {
            router: Arc::new(SingleStore(store.clone())),
            keys: keys.clone(),
            clock: Arc::new(clock.clone()),
            mailer: mailer.clone(),
            notifier: notifier.clone(),
            transport: transport.clone(),
            failures: failures.clone(),
            blobs: blobs.clone(),
            blocking: Arc::new(InlinePool),
        };
        Self {
            ports,
            store,
            clock,
            keys,
            mailer,
            notifier,
            transport,
            failures,
            blobs,
        }
    }
}

impl Default for InMemory {
    fn default() -> Self {
        Self::new()
    }
}
