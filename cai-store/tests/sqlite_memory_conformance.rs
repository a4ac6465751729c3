//! The storage conformance suite against [`SqliteStore::in_memory`]: one connection
//! serving reads and writes, as tests and examples use it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;

use cai_core::ports::DynStore;
use cai_store::sqlite::SqliteStore;

cai_core::store_conformance_tests!(async {
    Arc::new(SqliteStore::in_memory().await.unwrap()) as DynStore
});
