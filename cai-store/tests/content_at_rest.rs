//! R-E1 through the service: a message posted in a server-managed session reaches the
//! SQLite file only as ciphertext. The raw database file and its WAL are scanned for a
//! unique canary; a positive control (the counsellor's display name, which the store
//! does keep in clear) shows the scan would find text that is there.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod at_rest;

use std::path::Path;
use std::sync::Arc;

use cai_core::ports::DynStore;
use cai_store::sqlite::SqliteStore;

/// Every occurrence of `needle` in the database file and its WAL (and journal).
fn occurrences(db: &Path, needle: &[u8]) -> usize {
    let mut found = 0;
    for suffix in ["", "-wal", "-journal"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        let Ok(bytes) = std::fs::read(&name) else {
            continue;
        };
        found += bytes.windows(needle.len()).filter(|w| *w == needle).count();
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_managed_content_is_ciphertext_in_the_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("centre.db");
    let store = SqliteStore::open(&db).await.unwrap();
    let (canary, _) = at_rest::post_canary(Arc::new(store.clone()) as DynStore).await;
    // … yet neither the file nor the WAL holds it, while the positive control is there.
    assert!(
        occurrences(&db, at_rest::CONTROL) > 0,
        "the scan sees clear text"
    );
    assert_eq!(
        occurrences(&db, canary.as_bytes()),
        0,
        "plaintext content at rest"
    );

    // After a checkpoint into the main file, still nothing.
    store.close().await;
    assert!(occurrences(&db, at_rest::CONTROL) > 0);
    assert_eq!(occurrences(&db, canary.as_bytes()), 0);
}
