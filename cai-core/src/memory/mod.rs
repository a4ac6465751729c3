//! In-memory reference implementations of every port.
//!
//! | Type | Port | What it is for |
//! |---|---|---|
//! | [`MemoryStore`] | [`Store`](crate::ports::Store) | the storage contract in process memory: tests, examples, simulations; the backend the conformance suite is written against |
//! | [`LocalKeyProvider`] | [`KeyProvider`](crate::ports::KeyProvider) | one KEK ring per tenant, with rotation |
//! | [`RegionRouter`] | [`TenantRouter`](crate::ports::TenantRouter) | tenants placed in regions, one store per region (R-T2) |
//! | [`MemoryMailer`] | [`Mailer`](crate::ports::Mailer) | records mail instead of sending it |
//! | [`MemoryNotifier`] | [`AdminNotifier`](crate::ports::AdminNotifier) | records admin notifications; can be told to fail |
//! | [`MemoryTransport`] | [`SessionTransport`](crate::ports::SessionTransport) | records live session events |
//! | [`MemoryBlobStore`] | [`BlobStore`](crate::ports::BlobStore) | file bodies in memory (not bounded: tests and examples) |
//! | [`MemoryFailureCounter`] | [`FailureCounter`](crate::ports::FailureCounter) | brute-force counters, bounded in number |
//!
//! None of them persists anything. [`MemoryStore`] keeps every invariant of the
//! [storage contract](crate::ports::Store) — tenant isolation, atomic batches,
//! revision preconditions, unique e-mail per tenant, the documented cascades, audit
//! sequence numbers — checked by the conformance suite every backend runs
//! (`store_conformance_tests!`, feature `conformance`; here with
//! `cargo test -p cai-core --features conformance`).
//!
//! They hold no lock across an `.await`, so they work on any executor.
//!
//! ```
//! use std::sync::Arc;
//!
//! use cai_core::Timestamp;
//! use cai_core::domain::{Name, Region, Tenant, TenantSettings};
//! use cai_core::id::TenantId;
//! use cai_core::memory::MemoryStore;
//! use cai_core::ports::{Batch, DirectoryStore, DynStore, Store, StoreError, Write};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store: DynStore = Arc::new(MemoryStore::new());
//! let id = TenantId::random()?;
//! let tenant = Tenant {
//!     id,
//!     name: Name::parse("Beratungsstelle Nord")?,
//!     region: Region::parse("DE")?,
//!     settings: TenantSettings::default(),
//!     created_at: Timestamp::from_unix_millis(1_700_000_000_000),
//!     revision: 0,
//! };
//!
//! // Every change of a use case goes in one batch, applied completely or not at all.
//! let mut batch = Batch::new(id);
//! batch.push(Write::InsertTenant(tenant.clone()));
//! store.commit(batch).await?;
//! assert_eq!(store.tenant(id).await?, Some(tenant.clone()));
//!
//! // An update names the revision it read; the store bumps it.
//! let mut renamed = tenant.clone();
//! renamed.name = Name::parse("Beratungsstelle Nord-Ost")?;
//! store.commit(Batch { tenant: id, writes: vec![Write::UpdateTenant(renamed.clone())] }).await?;
//! assert_eq!(store.tenant(id).await?.map(|t| t.revision), Some(1));
//!
//! // A second update from the same stale read conflicts and changes nothing.
//! let stale = Batch { tenant: id, writes: vec![Write::UpdateTenant(renamed)] };
//! assert!(matches!(store.commit(stale).await, Err(StoreError::Conflict { .. })));
//! assert_eq!(store.tenant(id).await?.map(|t| t.revision), Some(1));
//! # Ok(())
//! # }
//! ```

mod blobs;
mod keys;
mod mail;
mod notify;
mod router;
mod store;
mod throttle;
mod transport;
mod world;

pub use blobs::MemoryBlobStore;
pub use keys::LocalKeyProvider;
pub use mail::MemoryMailer;
pub use notify::MemoryNotifier;
pub use router::RegionRouter;
pub use store::{MemorySnapshot, MemoryStore, QueuedNotification, TenantRecords};
pub use throttle::MemoryFailureCounter;
pub use transport::MemoryTransport;
pub use world::InMemory;
