//! The storage ports in SQL, one source for both backends. Each backend module
//! (`sqlite`, `postgres`) includes this module with `#[path]` next to its `driver`,
//! which names the database's connection, row and query types and how a query text
//! reaches it; the SQL here is the dialect both databases speak (`?` placeholders are
//! numbered for PostgreSQL by its driver). What differs — schemas, transactions,
//! locking, pools — stays in the backend's own `mod.rs` and migrations.

pub(super) mod apply;
mod audit;
mod chain;
mod content;
mod directory;
mod keys;
mod reports;
mod sessions;
mod transfer;

use super::driver::Engine;

/// The codec shared by every backend and this backend's driver types.
mod codec {
    pub(crate) use super::super::driver::{Conn, Query, Row, query};
    pub(crate) use crate::codec::*;
}
