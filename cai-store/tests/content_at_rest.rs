//! R-E1 through the service on SQLite: in every encryption mode (server-managed,
//! session key, passphrase, end-to-end) a message and its edit reach the database only
//! as envelopes. The raw database file, its WAL and journal are scanned for each mode's
//! canaries (and the passphrase and client keys), as bytes, hex and base64, while the
//! service still runs and again after a checkpoint into the main file. Positive
//! controls — the counsellor's display name, kept in clear, and the envelopes the
//! clients posted, kept as BLOBs — show the scan finds what is there.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod at_rest;

use std::path::Path;
use std::sync::Arc;

use at_rest::{CONTROL, Planted, assert_nothing_planted, occurrences};
use cai_core::ports::DynStore;
use cai_store::sqlite::SqliteStore;

/// The database file, its WAL and its journal, those that exist.
fn files(db: &Path) -> Vec<Vec<u8>> {
    ["", "-wal", "-journal"]
        .into_iter()
        .filter_map(|suffix| {
            let mut name = db.as_os_str().to_owned();
            name.push(suffix);
            std::fs::read(&name).ok()
        })
        .collect()
}

/// Scans the files of `db`: the controls are there, nothing planted is.
fn scan(db: &Path, planted: &Planted, when: &str) {
    let files = files(db);
    let files: Vec<&[u8]> = files.iter().map(Vec::as_slice).collect();
    let found = |needle: &[u8]| files.iter().map(|f| occurrences(f, needle)).sum::<usize>();
    assert!(found(CONTROL) > 0, "the scan sees clear text ({when})");
    for envelope in &planted.envelopes {
        assert!(found(envelope) > 0, "the scan sees stored BLOBs ({when})");
    }
    assert_nothing_planted(&format!("the SQLite files ({when})"), &files, planted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_in_every_mode_is_only_envelopes_in_the_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("centre.db");
    let store = SqliteStore::open(&db).await.unwrap();
    let planted = at_rest::plant_in_every_mode(Arc::new(store.clone()) as DynStore).await;
    // Three client-sealed modes, a message and an edit each.
    assert_eq!(planted.envelopes.len(), 6);
    // The WAL is scanned while it holds the writes.
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    assert!(std::fs::metadata(&wal).unwrap().len() > 0);
    scan(&db, &planted, "with the WAL");

    // After a checkpoint into the main file, still nothing.
    store.close().await;
    scan(&db, &planted, "after the checkpoint");
}
