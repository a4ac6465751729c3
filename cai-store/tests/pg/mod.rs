//! The PostgreSQL server of the tests: `scripts/test-all.sh` starts one on 127.0.0.1
//! and exports its URL as `CAI_TEST_POSTGRES_URL`. Without it the tests fail, naming
//! the script — they never pass by skipping.
#![allow(dead_code)]

use cai_store::postgres::{PgStore, SchemaName};

/// The variable `scripts/test-all.sh` sets.
pub(crate) const URL_VAR: &str = "CAI_TEST_POSTGRES_URL";

/// The test server's URL.
pub(crate) fn url() -> String {
    std::env::var(URL_VAR).unwrap_or_else(|_| {
        panic!(
            "{URL_VAR} is not set: the PostgreSQL tests need the server that \
             scripts/test-all.sh starts (initdb + pg_ctl on 127.0.0.1); run them through \
             that script, or start a server and export {URL_VAR}=postgres://USER@127.0.0.1:PORT/DB"
        )
    })
}

/// A new schema name nobody has used: `prefix` and 16 random hex digits.
pub(crate) fn fresh_schema(prefix: &str) -> SchemaName {
    let id: cai_core::id::TenantId = cai_core::conformance::data::rid();
    let hex: String = id.as_bytes()[8..]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    SchemaName::parse(&format!("{prefix}_{hex}")).unwrap()
}

/// A store in a fresh schema of the test server.
pub(crate) async fn fresh_store(prefix: &str) -> PgStore {
    PgStore::connect(&url(), &fresh_schema(prefix))
        .await
        .unwrap()
}
