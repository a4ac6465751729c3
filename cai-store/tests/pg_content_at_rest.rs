//! R-E1 through the service on PostgreSQL: in every encryption mode (server-managed,
//! session key, passphrase, end-to-end) a message and its edit reach the database only
//! as envelopes. A `pg_dump` of the store's schema is scanned for each mode's canaries
//! (and the passphrase and client keys) as text, as the hex in which `pg_dump` writes
//! `BYTEA` values, and as base64. Positive controls — the counsellor's display name,
//! kept in clear text, the session ids and the envelopes the clients posted, kept in
//! `BYTEA` columns — show the scan finds what is there.
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod at_rest;
mod pg;

use std::process::Command;
use std::sync::Arc;

use at_rest::{CONTROL, assert_nothing_planted, hex, occurrences};
use cai_core::ports::DynStore;
use cai_store::postgres::SchemaName;

/// The plain-SQL dump of one schema, by the `pg_dump` on the `PATH`
/// (`scripts/test-all.sh` puts the server's own version first).
fn dump(schema: &SchemaName) -> Vec<u8> {
    let out = Command::new("pg_dump")
        .arg("--dbname")
        .arg(pg::url())
        .arg("--schema")
        .arg(schema.as_str())
        .output()
        .unwrap_or_else(|e| panic!("cannot run pg_dump (see scripts/test-all.sh): {e}"));
    assert!(
        out.status.success(),
        "pg_dump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_in_every_mode_is_only_envelopes_in_a_dump_of_the_schema() {
    let schema = pg::fresh_schema("at_rest");
    let store = cai_store::postgres::PgStore::connect(&pg::url(), &schema)
        .await
        .unwrap();
    let planted = at_rest::plant_in_every_mode(Arc::new(store.clone()) as DynStore).await;
    // Three client-sealed modes, a message and an edit each.
    assert_eq!(planted.envelopes.len(), 6);
    assert_eq!(planted.sessions.len(), 4);

    let dumped = dump(&schema);
    assert!(
        occurrences(&dumped, CONTROL) > 0,
        "the scan sees clear text"
    );
    for session in &planted.sessions {
        assert!(
            occurrences(&dumped, &hex(session.as_bytes())) > 0,
            "the scan sees BYTEA values"
        );
    }
    for envelope in &planted.envelopes {
        assert!(
            occurrences(&dumped, &hex(envelope)) > 0,
            "the scan sees stored bodies"
        );
    }
    assert_nothing_planted("a pg_dump of the schema", &[&dumped], &planted);
    store.close().await;
}
