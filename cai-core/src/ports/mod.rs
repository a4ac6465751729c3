//! The ports: everything the service needs from outside, as object-safe async traits
//! (`Send + Sync`). Backends implement them; the service takes them as `Arc<dyn …>`.
//!
//! | Port | Concern | Reference implementation |
//! |---|---|---|
//! | [`Store`] (= [`DirectoryStore`] + [`SessionStore`] + [`ContentStore`] + [`KeyStore`] + [`CredentialStore`] + [`AuditStore`] + [`ReportStore`] + atomic [`Store::commit`]) | persistence | [`MemoryStore`](crate::memory::MemoryStore); `cai-store` for SQLite/PostgreSQL |
//! | [`TenantRouter`] | which store holds a tenant (R-T2) | [`SingleStore`], [`RegionRouter`](crate::memory::RegionRouter) |
//! | [`KeyProvider`] | tenant KEKs (wrap/unwrap) | [`LocalKeyProvider`](crate::memory::LocalKeyProvider) |
//! | [`Clock`] | time | [`SystemClock`], [`ManualClock`] |
//! | [`Mailer`] | outgoing mail | [`MemoryMailer`](crate::memory::MemoryMailer) |
//! | [`AdminNotifier`] | notices to admins (R-I5) | [`MemoryNotifier`](crate::memory::MemoryNotifier) |
//! | [`SessionTransport`] | live events to clients (`cai-rtc`) | [`MemoryTransport`](crate::memory::MemoryTransport) |
//! | [`BlobStore`] | file bodies as sealed streams, streamed in and out (R-S4) | [`MemoryBlobStore`](crate::memory::MemoryBlobStore); `cai-store` for a folder or S3 |
//! | [`FailureCounter`] | brute-force counters (R-U3, [`throttle`](crate::throttle)) | [`MemoryFailureCounter`](crate::memory::MemoryFailureCounter) |
//!
//! ## The storage contract: invariants every backend keeps
//!
//! The conformance suite (feature `conformance`) checks each of them.
//! - **Tenant isolation** (R-T1): every read takes a tenant id and returns only that
//!   tenant's records; every write in a batch must belong to the batch's tenant, else
//!   the whole batch fails with [`StoreError::TenantMismatch`].
//! - **Atomicity**: a batch is applied completely or not at all; concurrent batches are
//!   serializable.
//! - **Preconditions**: `Insert*` fails with [`StoreError::Conflict`] if the id (or a
//!   unique key, such as an account's e-mail within its tenant) exists; `Update*` fails
//!   with `Conflict` unless the stored `revision` equals the record's `revision`, and
//!   stores it with `revision + 1`; inserts are stored with revision 0. Updates and
//!   deletes of a missing record fail with [`StoreError::Missing`]. Credentials are
//!   the one exception: see [`Write::PutCredential`].
//! - **Appends are unique**: an audit event, incident or notification whose id exists
//!   is a `Conflict`.
//! - **Cascades** are the ones documented on each [`Write`] variant, nothing more. A
//!   cascade that changes a record (removing a deleted account from a group's members,
//!   a deleted role from an account's roles) bumps that record's revision, so a stale
//!   update cannot bring the removed value back. References *to* a deleted account
//!   (session owner, inviter, granter) stay as they are: backends must not enforce
//!   them with `ON DELETE RESTRICT`.
//! - **Ciphertext only**: content bodies, key custody, history grants, key backups and
//!   credentials are opaque bytes; a backend stores them as they are.
//! - **Audit order**: audit events get a per-tenant sequence number 1, 2, 3, … in commit
//!   order; [`AuditStore::audit_events`] returns them in that order. Incidents are
//!   numbered the same way (their own sequence) and listed newest first. "Oldest
//!   first" for notifications means commit order.
//! - **Pages follow ids**: a [`Page`] lists records by id in its [`Order`]; ids are
//!   UUIDv7, so that is creation order (within a process; across machines up to clock
//!   skew).
//! - **Listings are bounded**: every list read returns at most [`Page::MAX_LIMIT`]
//!   records.

/// A port that cannot serve now, with what it said. For operators' eyes (a health
/// endpoint behind the monitoring network), never for clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unhealthy(pub String);

mod blob;
mod clock;
mod keys;
mod mail;
mod notify;
mod records;
mod reports;
mod routing;
mod store;
mod throttle;
mod transport;

pub use blob::{
    BLOB_CHUNK_LEN, BlobChunks, BlobError, BlobReader, BlobStore, BytesChunks, DynBlobStore,
    read_all,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use keys::{KeyProvider, KeyProviderError};
pub use mail::{Mail, MailError, Mailer};
pub use notify::{AdminNotifier, Notification, NotifyError};
pub use reports::{MAX_RAW_CELLS, RawCell, ReportStore};
pub use routing::{SingleStore, TenantRouter};
pub use store::{
    AuditStore, Batch, ContentStore, Credential, CredentialKind, CredentialStore, DirectoryStore,
    DynStore, E2eEpoch, HistoryGrant, InvitationFilter, KeyStore, Order, Page, SessionStore, Store,
    StoreError, StoreResult, StoredCustody, StoredKeyPackage, Write,
};
pub use throttle::{
    AttemptKey, AttemptScope, AttemptSource, CheckError, CounterError, FailureCounter, Reservation,
    Reserved,
};
pub use transport::{SessionEvent, SessionTransport, TransportError};
