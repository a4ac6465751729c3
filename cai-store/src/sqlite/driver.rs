//! What the shared SQL (`src/sql/`) needs to know of SQLite: its connection, row and
//! query types. SQLite takes the shared `?` placeholders as they are.

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

impl SqliteStore {
    /// The pool reads go through.
    pub(crate) fn read_pool(&self) -> &SqlitePool {
        &self.readers
    }
}
