//! [`SqliteStore`]: every storage port of cai-core on one SQLite database — the
//! embedded default, where a file path is all a host gives.
//!
//! - **One writer, several readers.** A batch runs on the single writer connection in
//!   one `BEGIN IMMEDIATE` transaction: it takes SQLite's write lock before its first
//!   read, so the precondition checks and the changes of one batch see no other
//!   batch, and a batch is applied completely or not at all. Reads go through a small
//!   pool of their own; in WAL mode they never wait for the writer.
//! - **Bounded.** Both pools are bounded and time out (`OpenError` never hangs; a busy
//!   database is retried for [`BUSY_TIMEOUT`], another process holding the write lock
//!   included).
//! - **Embedded schema.** The migrations in `migrations/sqlite/` are compiled into the
//!   binary and applied on open.
//! - **Parameterised.** Every value reaches SQLite as a bound parameter; the SQL text is
//!   constant (listings pick one of a few constant fragments by page order).

mod backup;
mod driver;
// The shared SQL, compiled here against this backend's `driver` (and once more in the
// other backend): one source on purpose, so clippy's guard against a file loaded twice
// by mistake does not apply.
#[allow(clippy::duplicate_mod)]
#[path = "../sql/mod.rs"]
mod sql;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use cai_core::ports::{Batch, Store, StoreError, StoreResult};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::OpenError;
pub use backup::BackupError;

/// How long a connection waits for a lock another connection (or process) holds.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a caller waits for a free connection before the call fails.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections that serve reads of a file database.
pub const READERS: u32 = 4;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The storage ports of cai-core on SQLite. Cheap to clone (the pools are shared).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use cai_core::ports::Store;
/// use cai_store::sqlite::SqliteStore;
///
/// let dir = tempfile::tempdir()?;
/// let store = SqliteStore::open(dir.path().join("tenant.db")).await?;
/// store.health().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct SqliteStore {
    /// One connection: every batch.
    writer: SqlitePool,
    /// Reads (the writer's pool again for an in-memory database, which lives in one
    /// connection).
    readers: SqlitePool,
    /// The database file, `None` in memory.
    path: Option<PathBuf>,
    /// The directory of a [`temporary`](SqliteStore::temporary) store, removed with
    /// the last clone.
    _temporary: Option<Arc<tempfile::TempDir>>,
}

impl SqliteStore {
    /// Opens (creating it if missing) the database at `path` in WAL mode with foreign
    /// keys on, and applies the embedded migrations.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, OpenError> {
        Self::open_file(path.as_ref().to_path_buf(), None).await
    }

    /// A fresh database file in a new temporary directory, removed when the last
    /// clone of the store is dropped: for tests that want a real file (WAL, several
    /// connections) without keeping it.
    pub async fn temporary() -> Result<Self, OpenError> {
        let dir = tempfile::tempdir().map_err(|e| OpenError::Database(sqlx::Error::Io(e)))?;
        let path = dir.path().join("cai.db");
        Self::open_file(path, Some(Arc::new(dir))).await
    }

    async fn open_file(
        path: PathBuf,
        temporary: Option<Arc<tempfile::TempDir>>,
    ) -> Result<Self, OpenError> {
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a commit that returned survives a power cut, not only a crash.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            // Freed space is overwritten with zeros: erased personal data (audit
            // details, deleted accounts) does not linger in free pages.
            .pragma("secure_delete", "ON")
            .busy_timeout(BUSY_TIMEOUT);
        let writer = pool(1).connect_with(options.clone()).await?;
        MIGRATOR.run(&writer).await?;
        let readers = pool(READERS).connect_with(options).await?;
        let store = Self {
            writer,
            readers,
            path: Some(path),
            _temporary: temporary,
        };
        store.chain_legacy().await.map_err(OpenError::Upgrade)?;
        Ok(store)
    }

    /// A fresh database in memory, gone when the store is dropped: for tests and
    /// examples. One connection serves reads and writes.
    pub async fn in_memory() -> Result<Self, OpenError> {
        let options = SqliteConnectOptions::new()
            .in_memory(true)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        // The database lives as long as its one connection: never let it go idle.
        let writer = pool(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        MIGRATOR.run(&writer).await?;
        let store = Self {
            readers: writer.clone(),
            writer,
            path: None,
            _temporary: None,
        };
        store.chain_legacy().await.map_err(OpenError::Upgrade)?;
        Ok(store)
    }

    /// The database file, `None` for an in-memory store.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Closes every connection (checkpointing the WAL into the database file). Later
    /// calls fail with a backend error.
    pub async fn close(&self) {
        self.readers.close().await;
        self.writer.close().await;
    }
}

fn pool(max: u32) -> SqlitePoolOptions {
    SqlitePoolOptions::new()
        .max_connections(max)
        .acquire_timeout(ACQUIRE_TIMEOUT)
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn commit(&self, batch: Batch) -> StoreResult<()> {
        if !batch
            .writes
            .iter()
            .all(|w| sql::apply::belongs_to(w, batch.tenant))
        {
            return Err(StoreError::TenantMismatch);
        }
        let mut tx = self.begin_write().await?;
        let tenant = batch.tenant;
        for write in batch.writes {
            if let Err(e) = sql::apply::apply(&mut tx, tenant, write).await {
                // Rolled back explicitly, so the next batch on this connection does
                // not wait for it. Should the rollback itself fail, the connection is
                // broken: sqlx discards it, SQLite rolls the transaction back, and the
                // write's own error is what the caller needs to see.
                let _rolled_back = tx.rollback().await;
                return Err(e);
            }
        }
        tx.commit().await.map_err(StoreError::backend)
    }

    async fn health(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.readers)
            .await
            .map(|_| ())
            .map_err(StoreError::backend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Released migrations never change: a database migrated by an earlier build must
    /// meet exactly the SQL it was migrated with (sqlx refuses a changed checksum on
    /// open). A schema change is a new, numbered file; this pin fails when a released
    /// one is edited. Pinned values: `sha384sum migrations/sqlite/*.sql`.
    #[test]
    fn released_migrations_are_pinned() {
        let pinned = [
            (
                1,
                "fc037fbe64d15268135ba027526449a33ed11c2997fea89e15e83f8fbe12889b4b8e5dbfdfb8ded431105f8cfa0a1921",
            ),
            (
                2,
                "972710ee37c09d9a177cc0fea4f3d6f53e6ae392d2c0c3b4b4cf70447d5bbaa9eb1dd3152c15d9407226da0033ea305b",
            ),
            (
                3,
                "fed8893b9d98b660317f172a2d5dd2630e2ae24e6e8db8a0c482d50fbdf711ec0fcf3ba1e2b43ee0712c7d4a4ec6aabe",
            ),
            (
                4,
                "41d4a2c210f8fff989e0882a0d94360a4266f3745ad1bbbed277713c629e41609c403abbdf8ef334d324c57f8a8f9457",
            ),
            (
                5,
                "87cb182545cbdfaa87474af4e4d2bc174eb68a4c4095b932e781c71391989218220e514176e439e3317014dbc22ad54b",
            ),
        ];
        let actual: Vec<(i64, String)> = MIGRATOR
            .iter()
            .map(|m| {
                let hex: String = m.checksum.iter().map(|b| format!("{b:02x}")).collect();
                (m.version, hex)
            })
            .collect();
        let pinned: Vec<(i64, String)> =
            pinned.iter().map(|(v, c)| (*v, (*c).to_owned())).collect();
        assert_eq!(actual, pinned);
    }

    #[tokio::test]
    async fn a_reopened_file_is_not_migrated_twice_and_a_closed_store_fails_cleanly() {
        let store = SqliteStore::temporary().await.unwrap();
        let path = store.path().unwrap().to_path_buf();
        let again = SqliteStore::open(&path).await.unwrap();
        again.health().await.unwrap();
        let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(&again.readers)
            .await
            .unwrap();
        assert_eq!(applied, i64::try_from(MIGRATOR.iter().count()).unwrap());
        store.close().await;
        assert!(matches!(store.health().await, Err(StoreError::Backend(_))));
        again.health().await.unwrap();
    }
}
