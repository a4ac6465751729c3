//! # cai-store
//!
//! Storage backends for the cai SDK: [`SqliteStore`](sqlite::SqliteStore) implements
//! every storage port of `cai-core` ([`Store`](cai_core::ports::Store) and its read
//! traits) on SQLite, the embedded default — a file path is all a host gives. With
//! the `postgres` feature, `postgres::PgStore` implements the same ports with the same
//! semantics on PostgreSQL, one schema per store, to scale out.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//!
//! use cai_core::ports::SingleStore;
//! use cai_core::{Counselling, Ports};
//! use cai_store::sqlite::SqliteStore;
//!
//! let dir = tempfile::tempdir()?;
//! let store = SqliteStore::open(dir.path().join("centre.db")).await?;
//!
//! // Every other port as the in-memory defaults give them; the store is SQLite.
//! let mut world = Ports::in_memory();
//! world.ports.router = Arc::new(SingleStore(Arc::new(store)));
//! let service = Counselling::new(world.ports);
//! # let _ = service;
//! # Ok(())
//! # }
//! ```
//!
//! ## What it does
//! - One SQLite file per store, in WAL mode with foreign keys on; the schema's
//!   migrations are embedded in the binary and applied on open.
//! - A [`Batch`](cai_core::ports::Batch) is one `BEGIN IMMEDIATE` transaction: all of
//!   it or none of it, with the revision preconditions, unique keys and cascades of
//!   the storage contract, checked by cai-core's conformance suite
//!   (`tests/sqlite_conformance.rs`).
//! - Every query is parameterised; no SQL is built from input (R-O1).
//! - Content bodies, key custody, grants, backups and credentials are BLOBs holding
//!   exactly the bytes cai-core hands over: ciphertext for content (R-E1). The store
//!   never sees plaintext content, and a test scans the raw file to prove it.
//! - One store per file is one tenant placement (R-T2): a host that opens one file per
//!   tenant keeps tenants apart down to the file system (R-T1).
//! - PostgreSQL (feature `postgres`): a store per schema, created and migrated on
//!   connect, so tenants get schemas of their own on one server; a batch is one
//!   transaction that first locks its schema's `batch_lock` row, so batches on a
//!   schema run one at a time as on SQLite, while reads never wait; one bounded pool
//!   with an acquire timeout. It passes the same conformance suite against a real
//!   server (`tests/pg_conformance.rs`, started by `scripts/test-all.sh`).
//! - Both backends run one source of SQL (`src/sql/`, compiled per backend next to a
//!   small driver module), so their behaviour cannot drift apart.
//!
//! - The audit trail is tamper-evident ([`audit_chain`]): a per-tenant hash chain with
//!   Ed25519-signed checkpoints, a verification that says where an entry was modified,
//!   deleted, inserted or reordered, and erasure of the personal parts (changes,
//!   client addresses) that keeps the chain verifiable.
//!
//! - Files (R-S4): [`blobs::FolderBlobStore`] (a per-tenant upload folder, the
//!   default) and, with the `s3` feature, `blobs::S3BlobStore` (S3-compatible object
//!   storage) implement cai-core's [`BlobStore`](cai_core::ports::BlobStore): sealed
//!   streams in and out in chunks, visible only when complete, limits explicit.
//!
//! - Backup, restore, export (R-O2, R-P5): an online SQLite backup
//!   (`SqliteStore::backup_to`, `VACUUM INTO`) and restore
//!   (`SqliteStore::restore_from`); on both backends a tenant export/import in a
//!   versioned JSON-lines format ([`transfer`]) that moves a tenant between stores and
//!   backends with its audit chain intact, and a per-person export (GDPR art. 15/20,
//!   `export_person`). `pg_dump`/PITR for PostgreSQL are documented in `docs/STORE.md`.
//!
//! - Tenant placement (R-T1, R-T2): [`router::StoreRouter`] is cai-core's
//!   [`TenantRouter`](cai_core::ports::TenantRouter) over these backends. The host
//!   chooses per region one SQLite file per tenant, one PostgreSQL schema per tenant
//!   (feature `postgres`) or a store shared by tenant keys; placements are recorded in
//!   a catalog file and survive a restart, never move silently, and the open tenant
//!   stores are bounded.
//!
//! - Crypto-shredding that reaches backups (R-P4): [`keyvault::VaultKeyProvider`]
//!   keeps one key per session in a vault file of its own, so when cai-core's
//!   retention engine (`Counselling::run_retention`) shreds a session, copies of its
//!   wrapped keys in old database backups no longer open.
//!
//! ## What it does not do (yet)
//! Reports, a PostgreSQL key vault, and the parts of the retention policy listed in
//! `docs/STORE.md` ("Not here yet").

pub mod audit_chain;
pub mod blobs;
pub mod keyvault;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod router;
pub mod sqlite;
pub mod transfer;

mod codec;
mod error;

pub use error::OpenError;
