//! What the shared SQL (`src/sql/`) needs to know of SQLite: its connection, row and
//! query types. SQLite takes the shared `?` placeholders as they are.

use cai_core::ports::{StoreError, StoreResult};
use sqlx::sqlite::{SqliteArguments, SqlitePool};

use super::SqliteStore;

/// The store the shared SQL implements the ports for.
pub(crate) type Engine = SqliteStore;
/// The connection of a batch's transaction.
pub(crate) type Conn = sqlx::SqliteConnection;
/// A row of a result.
pub(crate) type Row = sqlx::sqlite::SqliteRow;
/// A query with its bound values.
pub(crate) type Query<'q> = sqlx::query::Query<'q, sqlx::Sqlite, SqliteArguments<'q>>;

/// A query of this SQL text.
pub(crate) fn query(sql: &str) -> Query<'_> {
    sqlx::query(sql)
}

crate::codec::row_ext!(Row);

/// SQL where SQLite's dialect differs from PostgreSQL's, for the reports
/// (`src/sql/reports.rs`): reading a stored record's JSON and its RFC 3339 times.
pub(crate) mod dialect {
    /// The text at `path` (object keys) of the JSON in `column`; NULL where missing.
    pub(crate) fn json_text(column: &str, path: &[&str]) -> String {
        format!("json_extract({column}, '$.{}')", path.join("."))
    }

    /// The RFC 3339 text `expr` as milliseconds since the Unix epoch. `julianday`
    /// keeps milliseconds exactly; the rounding undoes the floating point.
    pub(crate) fn millis(expr: &str) -> String {
        format!("CAST(ROUND((julianday({expr}) - 2440587.5) * 86400000.0) AS INTEGER)")
    }
}

/// A transaction on this backend.
pub(crate) type Tx = sqlx::Transaction<'static, sqlx::Sqlite>;

impl SqliteStore {
    /// The pool reads go through.
    pub(crate) fn read_pool(&self) -> &SqlitePool {
        &self.readers
    }

    /// A write transaction: `BEGIN IMMEDIATE` on the one writer connection, so it
    /// sees no other batch from its first read on.
    pub(crate) async fn begin_write(&self) -> StoreResult<Tx> {
        self.writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(StoreError::backend)
    }

    /// A read transaction: one snapshot of the database from its first read until it
    /// ends (WAL mode), so several reads agree with each other.
    pub(crate) async fn begin_read(&self) -> StoreResult<Tx> {
        self.readers.begin().await.map_err(StoreError::backend)
    }

    /// After personal data was erased: overwrite what the write-ahead log still holds
    /// of the old pages (`secure_delete` already zeroes freed space in the database
    /// file itself).
    pub(crate) async fn after_erasure(&self) -> StoreResult<()> {
        if self.path().is_none() {
            return Ok(());
        }
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.writer)
            .await
            .map(drop)
            .map_err(StoreError::backend)
    }
}
