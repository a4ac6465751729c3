//! # cai-store
//!
//! Storage backends for the cai SDK — **not yet implemented; this crate exposes nothing
//! yet.**
//!
//! It will hold the sqlx backends of `cai-core`'s storage ports: SQLite as the embedded
//! default and PostgreSQL for scale-out, each passing the shared conformance suite; the
//! retention jobs, the tamper-evident audit log, backup/restore and data export.
//! Backends only ever receive ciphertext for counselling content.
