//! `cai-auth`'s storage conformance flows (passwords, once-only tickets, revocation
//! racing use, concurrent logins, deletion cascades) against [`SqliteStore`], each on a
//! fresh database file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;

use cai_core::ports::DynStore;
use cai_store::sqlite::SqliteStore;

cai_auth::auth_conformance_tests!(async {
    Arc::new(SqliteStore::temporary().await.unwrap()) as DynStore
});
