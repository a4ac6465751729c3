//! # cai-core
//!
//! The counselling domain of the cai SDK: tenants, accounts, guests, roles, groups,
//! sessions, invitations, rooms, content with versions, encryption modes as session
//! settings, retention policies, audit events and incidents; the deny-by-default
//! authorization engine; the **ports** every backend implements; and the use-case
//! service [`Counselling`] that composes them. It does no I/O of its own: storage, key
//! custody, time, mail, admin notifications and live transport arrive through traits.
//!
//! ## Example: a platform in memory
//!
//! ```
//! use cai_core::prelude::*;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), cai_core::Error> {
//! // Every port in memory; `cai-store` brings SQLite and PostgreSQL.
//! let mem = Ports::in_memory();
//! let service = Counselling::new(mem.ports.clone());
//!
//! // The operator creates a tenant with its first administrator.
//! let (tenant, admin) = service
//!     .create_tenant(
//!         NewTenant {
//!             name: Name::parse("Beratungsstelle Nord")?,
//!             region: Region::parse("DE")?,
//!             settings: TenantSettings::default(),
//!         },
//!         NewAccount::new(Email::parse("admin@nord.example")?, Name::parse("Ada")?),
//!     )
//!     .await?;
//!
//! // `cai-auth` turns a login into a `Caller`; administrative actions need 2FA.
//! let now = mem.clock.now();
//! let as_admin = Caller::new(
//!     tenant.id,
//!     SubjectId::Account(admin.id),
//!     Authentication { second_factor: true, at: now },
//! );
//! let counsellor = service
//!     .create_account(
//!         &as_admin,
//!         tenant.id,
//!         NewAccount::new(Email::parse("cora@nord.example")?, Name::parse("Cora")?),
//!         &[BuiltinRole::Counsellor.id()],
//!     )
//!     .await?;
//! let as_counsellor = Caller::new(
//!     tenant.id,
//!     SubjectId::Account(counsellor.id),
//!     Authentication { second_factor: false, at: now },
//! );
//!
//! // A server-managed session: the service seals content before any store sees it.
//! let server_managed = NewSession { mode: Some(SessionMode::ServerManaged), ..NewSession::classic() };
//! let session = service
//!     .create_session(&as_counsellor, tenant.id, server_managed)
//!     .await?
//!     .session;
//! let item = service
//!     .post_content(&as_counsellor, tenant.id, session.id, ContentKind::Note, ContentBody::plain("first notes"))
//!     .await?;
//! let view = service.read_content(&as_counsellor, tenant.id, session.id, item.id, None).await?;
//! assert!(matches!(view.body, ContentBody::Plain(ref p) if p.as_slice() == b"first notes"));
//!
//! // The administrator administers; it does not read counselling content (R-I3).
//! assert!(service.read_content(&as_admin, tenant.id, session.id, item.id, None).await.is_err());
//! # Ok(())
//! # }
//! ```
//!
//! ## Map
//!
//! * [`domain`] — plain data with validated constructors ([`domain::Pseudonym::parse`],
//!   [`domain::Email::parse`], …) and the retention presets of R-P7.
//! * [`id`] — typed 128-bit ids with prefixed text forms (`acc_…`, `ses_…`).
//! * [`authz`] — [`authz::authorize`]: relationship-based, deny by default, explained.
//! * [`ports`] — the traits: storage split by concern with atomic batches
//!   ([`ports::Store`]), tenant placement, key custody, clock, mailer, admin notifier,
//!   live transport.
//! * [`memory`] — the in-memory reference implementation of every port.
//! * `conformance` (feature `conformance`) — the storage conformance suite every
//!   backend runs against itself with one macro call.
//! * [`service`] — [`Counselling`], the use cases.
//! * [`throttle`] — brute-force detection (R-U3): how many wrong secrets cost how long
//!   a block; the counters are the [`ports::FailureCounter`] port's.
//! * [`blocking`] — CPU-heavy work (Argon2id) off the async executor, bounded
//!   ([`blocking::BlockingPool`]; `TokioPool` with feature `tokio`).
//!
//! Every type a host sends to or receives from a frontend has a deliberate JSON form
//! (serde): ids as their text, RFC 3339 timestamps, durations in whole `_secs`,
//! snake_case enums, `"type"`-tagged enums with data, base64 bytes, and never a
//! verifier or secret hash. `docs/JSON.md` specifies it; snapshot tests pin it.
//!
//! ## Rules it keeps
//!
//! * Tenants are isolated: every read names its tenant, every batch is checked, and a
//!   caller of one tenant asking for another is denied and recorded as an incident in
//!   both — one per caller and burst (R-T1, R-U3).
//! * Every state change is committed atomically with its audit event (actor, time,
//!   object, property-level before/after, the authorization that allowed it, R-U1);
//!   security-relevant ones queue a notification for the tenant's admins in the same
//!   commit, so none is lost (R-I5).
//! * Stores only ever hold ciphertext for content: server-managed sessions are sealed
//!   with `cai-crypto` before the port is called; other modes accept client-sealed
//!   envelopes only (R-E1..R-E4). The encryption mode is fixed at creation and never
//!   below the tenant's minimum.
//! * Bad input and forbidden actions are typed [`Error`]s; nothing is half-written.
//!
//! ## Hosting
//!
//! `docs/HOSTING.md` tells a host how to serve the service over HTTP: the trust
//! boundary of [`Caller`], [`Error::category`] and [`Error::http_status`], paging with
//! [`service::PageRequest`], the blocking pool, tracing and metrics. In a host's debug
//! build, optimise Argon2 or password checks take seconds:
//!
//! ```toml
//! [profile.dev.package.argon2]
//! opt-level = 3
//! ```
//!
//! ## What it does not do
//!
//! Passwords, 2FA, lockout and tokens are `cai-auth`'s (its lockout reuses [`throttle`]); SQL backends, retention jobs
//! over stored data and backups are `cai-store`'s; WebRTC is `cai-rtc`'s.

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod audit_log;
pub mod authz;
pub mod blocking;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod domain;
mod error;
pub mod id;
mod json;
pub mod memory;
pub mod ports;
pub mod prelude;
pub mod service;
pub mod throttle;
mod time;

pub use error::{Error, ErrorBody, ErrorCategory, Result};
pub use service::{Caller, Counselling, Ports, ServiceConfig};
pub use time::{Timestamp, days, hours, minutes};
