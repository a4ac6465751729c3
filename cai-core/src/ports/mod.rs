//! The ports: everything the service needs from outside, as object-safe async traits
//! (`Send + Sync`). Backends implement them; the service takes them as `Arc<dyn …>`.
//!
//! | Port | Concern | Reference implementation |
//! |---|---|---|
//! | [`Store`] (= [`DirectoryStore`] + [`SessionStore`] + [`ContentStore`] + [`KeyStore`] + [`CredentialStore`] + [`AuditStore`] + atomic [`Store::commit`]) | persistence | [`MemoryStore`](crate::memory::MemoryStore); `cai-store` for SQLite/PostgreSQL |
//! | [`TenantRouter`] | which store holds a tenant (R-T2) | [`SingleStore`], [`RegionRouter`](crate::memory::RegionRouter) |
//! | [`KeyProvider`] | tenant KEKs (wrap/unwrap) | [`LocalKeyProvider`](crate::memory::LocalKeyProvider) |
//! | [`Clock`] | time | [`SystemClock`], [`ManualClock`] |
//! | [`Mailer`] | outgoing mail | [`MemoryMailer`](crate::memory::MemoryMailer) |
//! | [`AdminNotifier`] | notices to admins (R-I5) | [`MemoryNotifier`](crate::memory::MemoryNotifier) |
//! | [`SessionTransport`] | live events to clients (`cai-rtc`) | [`MemoryTransport`](crate::memory::MemoryTransport) |

mod clock;
mod keys;
mod mail;
mod notify;
mod routing;
mod store;
mod transport;

pub use clock::{Clock, ManualClock, SystemClock};
pub use keys::{KeyProvider, KeyProviderError};
pub use mail::{Mail, MailError, Mailer};
pub use notify::{AdminNotifier, Notification, NotifyError};
pub use routing::{SingleStore, TenantRouter};
pub use store::{
    AuditStore, Batch, ContentStore, Credential, CredentialKind, CredentialStore,
    DirectoryStore, DynStore, HistoryGrant, KeyStore, Page, SessionStore, Store, StoreError,
    StoreResult, StoredCustody, Write,
};
pub use transport::{SessionEvent, SessionTransport, TransportError};
