//! R-E1 through the service on PostgreSQL: a message posted in a server-managed
//! session reaches the database only as ciphertext. A `pg_dump` of the store's schema
//! is scanned for a unique canary, as text and in the hex form in which `pg_dump`
//! writes `BYTEA` values; positive controls (the counsellor's display name, kept in
//! clear text, and the session id, kept in a `BYTEA` column) show the scans would find
//! what is there.
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod at_rest;
mod pg;

use std::process::Command;
use std::sync::Arc;

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

/// Every occurrence of `needle` in `haystack`.
fn occurrences(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

/// `bytes` as lower-case hex, as `pg_dump` writes a `BYTEA` value.
fn hex(bytes: &[u8]) -> Vec<u8> {
    bytes
        .iter()
        .flat_map(|b| format!("{b:02x}").into_bytes())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_managed_content_is_ciphertext_in_a_dump_of_the_schema() {
    let schema = pg::fresh_schema("at_rest");
    let store = cai_store::postgres::PgStore::connect(&pg::url(), &schema)
        .await
        .unwrap();
    let (canary, session) = at_rest::post_canary(Arc::new(store.clone()) as DynStore).await;
    // … yet the dump holds it neither as text nor as bytes, while the controls are
    // there.
    let dumped = dump(&schema);
    assert!(
        occurrences(&dumped, at_rest::CONTROL) > 0,
        "the scan sees clear text"
    );
    assert!(
        occurrences(&dumped, &hex(session.as_bytes())) > 0,
        "the scan sees BYTEA values"
    );
    assert_eq!(
        occurrences(&dumped, canary.as_bytes()),
        0,
        "plaintext content at rest"
    );
    assert_eq!(
        occurrences(&dumped, &hex(canary.as_bytes())),
        0,
        "plaintext content at rest, as bytes"
    );
    store.close().await;
}
