//! What the shared SQL (`src/sql/`) needs to know of PostgreSQL: its connection, row and
//! query types, and the one dialect difference there is — PostgreSQL numbers its
//! placeholders (`$1`, `$2`, …) where the shared SQL writes `?`.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, PoisonError};

use cai_core::ports::{StoreError, StoreResult};
use sqlx::postgres::{PgArguments, PgPool};

use super::PgStore;

/// The store the shared SQL implements the ports for.
pub(crate) type Engine = PgStore;
/// The connection of a batch's transaction.
pub(crate) type Conn = sqlx::PgConnection;
/// A row of a result.
pub(crate) type Row = sqlx::postgres::PgRow;
/// A query with its bound values.
pub(crate) type Query<'q> = sqlx::query::Query<'q, sqlx::Postgres, PgArguments>;

/// A query of this SQL text, its `?` placeholders numbered.
pub(crate) fn query<'q>(sql: &str) -> Query<'q> {
    sqlx::query(numbered(sql))
}

crate::codec::row_ext!(Row);

/// SQL where PostgreSQL's dialect differs from SQLite's, for the reports
/// (`src/sql/reports.rs`): reading a stored record's JSON and its RFC 3339 times.
pub(crate) mod dialect {
    /// The text at `path` (object keys) of the JSON in `column`; NULL where missing.
    /// `JSON`, not `JSONB`: one field read from text is cheaper than converting it all.
    pub(crate) fn json_text(column: &str, path: &[&str]) -> String {
        format!("(CAST({column} AS JSON) #>> '{{{}}}')", path.join(","))
    }

    /// The RFC 3339 text `expr` as milliseconds since the Unix epoch.
    pub(crate) fn millis(expr: &str) -> String {
        format!("CAST(ROUND(EXTRACT(EPOCH FROM CAST({expr} AS TIMESTAMPTZ)) * 1000) AS BIGINT)")
    }
}

/// A transaction on this backend.
pub(crate) type Tx = sqlx::Transaction<'static, sqlx::Postgres>;

impl PgStore {
    /// The pool reads go through.
    pub(crate) fn read_pool(&self) -> &PgPool {
        &self.pool
    }

    /// A write transaction that first takes the schema's `batch_lock` row, so it runs
    /// alone among the schema's batches, as on SQLite.
    pub(crate) async fn begin_write(&self) -> StoreResult<Tx> {
        let mut tx = self.pool.begin().await.map_err(StoreError::backend)?;
        // Waits for every batch on this schema that holds the lock to finish.
        sqlx::query("SELECT id FROM batch_lock FOR UPDATE")
            .execute(&mut *tx)
            .await
            .map_err(StoreError::backend)?;
        Ok(tx)
    }

    /// A read transaction on one snapshot (`REPEATABLE READ`), so several reads
    /// agree with each other.
    pub(crate) async fn begin_read(&self) -> StoreResult<Tx> {
        self.pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .map_err(StoreError::backend)
    }

    /// After personal data was erased: nothing to do here; PostgreSQL keeps dead row
    /// versions until `VACUUM` (autovacuum) reclaims them — see `docs/STORE.md`.
    pub(crate) async fn after_erasure(&self) -> StoreResult<()> {
        Ok(())
    }
}

/// `sql` with its n-th `?` written `$n`, kept for the life of the process. The SQL
/// texts are the constants of `src/sql/` (listings combine a few constant fragments),
/// never input, so the table stays as small as that set; each text is numbered once.
/// The shared SQL has no `?` inside string literals, so every `?` is a placeholder.
fn numbered(sql: &str) -> &'static str {
    static TEXTS: LazyLock<Mutex<HashMap<String, &'static str>>> =
        LazyLock::new(|| Mutex::new(HashMap::new()));
    let mut texts = TEXTS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(text) = texts.get(sql) {
        return text;
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0_u32;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    let text: &'static str = Box::leak(out.into_boxed_str());
    texts.insert(sql.to_owned(), text);
    text
}

#[cfg(test)]
mod tests {
    use super::numbered;

    #[test]
    fn placeholders_are_numbered_in_order_and_texts_kept_once() {
        let sql = "SELECT a FROM t WHERE x = ? AND y = ? LIMIT ?";
        let first = numbered(sql);
        assert_eq!(first, "SELECT a FROM t WHERE x = $1 AND y = $2 LIMIT $3");
        assert!(std::ptr::eq(first, numbered(sql)));
        assert_eq!(numbered("SELECT 1"), "SELECT 1");
    }
}
