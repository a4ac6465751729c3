//! The storage conformance suite against [`SqliteStore`], each case on a fresh
//! database file (WAL, a writer and a pool of readers) in a temporary directory of its
//! own, removed when the case's store is dropped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;

use cai_core::ports::DynStore;
use cai_store::sqlite::SqliteStore;

cai_core::store_conformance_tests!(async {
    Arc::new(SqliteStore::temporary().await.unwrap()) as DynStore
});
