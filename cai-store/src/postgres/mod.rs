//! [`PgStore`]: every storage port of cai-core on PostgreSQL — the engine to scale
//! out, with one schema per tenant placement on a shared server.
//!
//! - **A schema per store.** [`PgStore::connect`] creates the schema it is given if
//!   missing, and every connection of the store's pool has only that schema on its
//!   `search_path`: its tables, its migrations table, nothing of another schema. A
//!   host that gives each tenant its own schema keeps tenants apart on one server
//!   (R-T1/R-T2); a database per tenant works the same way (a URL per tenant).
//! - **Batches one at a time per schema, reads never wait.** A batch is one
//!   transaction (`READ COMMITTED`) whose first statement locks the schema's one
//!   `batch_lock` row `FOR UPDATE`. Concurrent batches on the schema queue on that lock
//!   — the same discipline as SQLite's single writer — and, because each statement
//!   under `READ COMMITTED` sees everything committed before it started, the revision
//!   preconditions and unique checks of a batch see every batch that committed before
//!   it. No batch is retried and none fails for serialization; batches on different
//!   schemas (tenants) run in parallel. Reads take no locks.
//! - **Bounded.** One pool of at most [`MAX_CONNECTIONS`] connections serves reads and
//!   batches; a caller waits at most [`ACQUIRE_TIMEOUT`] for a connection and then
//!   gets a backend error instead of hanging.
//! - **Embedded schema.** The migrations in `migrations/postgres/` are compiled into
//!   the binary and applied on connect, inside the store's schema.
//! - **Parameterised.** The SQL is the text shared with the SQLite backend
//!   (`src/sql/`): constant, with every value a bound parameter. The schema name is
//!   the one identifier that cannot be a parameter; it is checked against
//!   [`SchemaName`]'s rules (lower-case letters, digits, `_`) and then quoted.

mod driver;
// The shared SQL, compiled here against this backend's `driver` (and once more in the
// other backend): one source on purpose, so clippy's guard against a file loaded twice
// by mistake does not apply.
#[allow(clippy::duplicate_mod)]
#[path = "../sql/mod.rs"]
mod sql;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use cai_core::ports::{Batch, Store, StoreError, StoreResult};
use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::OpenError;

/// Connections of one store's pool, for reads and batches together.
pub const MAX_CONNECTIONS: u32 = 10;
/// How long a caller waits for a free connection before the call fails.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The name of a PostgreSQL schema a store lives in: 1 to 63 characters, lower-case
/// ASCII letters, digits and `_`, not starting with a digit or `pg_` (reserved by
/// PostgreSQL). A name that can be written without quoting, so it means the same in
/// every tool.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SchemaName(String);

impl SchemaName {
    /// Checks `name` against the rules above.
    pub fn parse(name: &str) -> Result<Self, OpenError> {
        let valid = (1..=63).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && !name.starts_with("pg_");
        if valid {
            Ok(Self(name.to_owned()))
        } else {
            Err(OpenError::SchemaName)
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The storage ports of cai-core on one PostgreSQL schema. Cheap to clone (the pool
/// is shared).
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use cai_core::ports::Store;
/// use cai_store::postgres::{PgStore, SchemaName};
///
/// let schema = SchemaName::parse("tenant_berlin")?;
/// let store = PgStore::connect("postgres://cai@127.0.0.1:5432/cai", &schema).await?;
/// store.health().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    schema: SchemaName,
}

impl PgStore {
    /// Connects to the database at `url`, creates `schema` if it is missing, and
    /// applies the embedded migrations in it. Every connection of the store's pool
    /// works in `schema` alone.
    pub async fn connect(url: &str, schema: &SchemaName) -> Result<Self, OpenError> {
        Self::connect_with_acquire_timeout(url, schema, ACQUIRE_TIMEOUT).await
    }

    /// [`connect`](Self::connect) with another bound than [`ACQUIRE_TIMEOUT`] on how
    /// long a call waits for a connection. While the server is unreachable every call
    /// fails with a backend error after at most `acquire_timeout` (sqlx retries a
    /// refused connection until then); once the server is back, the next call
    /// reconnects — the store need not be re-created.
    pub async fn connect_with_acquire_timeout(
        url: &str,
        schema: &SchemaName,
        acquire_timeout: Duration,
    ) -> Result<Self, OpenError> {
        let options: PgConnectOptions = url.parse()?;
        // One connection without the schema on its path, to create it.
        let mut admin = options.connect().await?;
        let create = format!("CREATE SCHEMA IF NOT EXISTS \"{}\"", schema.as_str());
        sqlx::query(&create).execute(&mut admin).await?;
        sqlx::Connection::close(admin).await?;

        let options = options.options([("search_path", schema.as_str())]);
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(acquire_timeout)
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        let store = Self {
            pool,
            schema: schema.clone(),
        };
        store.chain_legacy().await.map_err(OpenError::Upgrade)?;
        Ok(store)
    }

    /// The schema the store works in.
    pub fn schema(&self) -> &SchemaName {
        &self.schema
    }

    /// Closes every connection of the pool. Later calls fail with a backend error.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Store for PgStore {
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
                // After a failed statement PostgreSQL refuses everything but a
                // rollback; should the rollback fail, sqlx discards the connection and
                // the server rolls back. The write's own error is what the caller needs.
                let _rolled_back = tx.rollback().await;
                return Err(e);
            }
        }
        tx.commit().await.map_err(StoreError::backend)
    }

    async fn health(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(StoreError::backend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_plain_identifiers() {
        for good in ["t", "tenant_berlin", "_x", "a1", &"a".repeat(63)] {
            assert_eq!(SchemaName::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "",
            "Tenant",
            "1a",
            "pg_catalog",
            "a-b",
            "a\"; DROP SCHEMA public; --",
            "ä",
            &"a".repeat(64),
        ] {
            assert!(matches!(SchemaName::parse(bad), Err(OpenError::SchemaName)));
        }
    }

    /// Released migrations never change (see the SQLite backend's pin). Pinned values:
    /// `sha384sum migrations/postgres/*.sql`.
    #[test]
    fn released_migrations_are_pinned() {
        let pinned = [
            (
                1,
                "e2cdab5442a9fa00d6648a6ca2f329c960cd6676cc57b987b1cd983e670881f4815d6a735770b479d01cb3ef9cbe47c7",
            ),
            (
                2,
                "7be79b6ff3df256946af2a1f50398d136a1eb4c903a11f924afd929ebb7d44fd6af432ba91dbd57d743324da8fe94320",
            ),
            (
                3,
                "910d64ca43530ab6681372dd5c813d0e5298313e9c7fa35ceafcef1158fce0efe507a7d936a15dff44b3ea6ea978adbd",
            ),
            (
                4,
                "579bab475277cd7e24b39213c4174541a45aa04373539c143c1d906ece4046ec6f4c5bfb9b3c93eaaac207b63f5e21eb",
            ),
            (
                5,
                "7aa7f2206dac237180cbca6406e866e97e0d967dae7e6edff25bc8606a56d882b52189301576ae34080849f1462be7d2",
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
}
