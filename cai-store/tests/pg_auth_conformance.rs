//! `cai-auth`'s storage conformance flows against [`PgStore`] on the PostgreSQL server
//! that `scripts/test-all.sh` starts: each case in a fresh schema of its own.
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod pg;

use std::sync::Arc;

use cai_core::ports::DynStore;

cai_auth::auth_conformance_tests!(async {
    Arc::new(crate::pg::fresh_store("auth").await) as DynStore
});
