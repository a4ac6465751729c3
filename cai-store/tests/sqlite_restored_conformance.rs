//! The storage conformance suite against stores restored from a backup: each case
//! backs up a fresh (empty, migrated) store with `VACUUM INTO`, restores the backup to
//! a new file and runs on the restored store — a restore yields a complete store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;

use cai_core::ports::DynStore;
use cai_store::sqlite::SqliteStore;

cai_core::store_conformance_tests!(async {
    let original = SqliteStore::temporary().await.unwrap();
    // Kept on disk for the case (tests may run long); the OS's temporary directory.
    let dir = tempfile::tempdir().unwrap().keep();
    let backup = dir.join("backup.db");
    original.backup_to(&backup).await.unwrap();
    original.close().await;
    let restored = SqliteStore::restore_from(&backup, dir.join("restored.db"))
        .await
        .unwrap();
    Arc::new(restored) as DynStore
});
