//! The raw side of the bench: sqlx on tables equivalent to the store's, in each
//! database's dialect, with the same connection settings; and the PostgreSQL half of
//! the run.

use super::*;

/// The raw side's SQL in one dialect.
struct Sql {
    create: &'static [&'static str],
    insert_item: &'static str,
    insert_version: &'static str,
    page: &'static str,
    version: &'static str,
    joined: &'static str,
    /// A session's items, their versions with them (`ON DELETE CASCADE`).
    delete: &'static str,
}

/// The DDL of `items` (`migrations/sqlite/0001_initial.sql` with the `blob` column and
/// its unique index of `0004_item_blobs.sql`) and `versions` (`0003_versions_rowid.sql`),
/// renamed. The `blob` column (NULL in every row here) is not idle: without it SQLite
/// estimates the items rows narrower and plans the join as a scan of the tenant's whole
/// primary key filtered by session instead of the `(tenant, session, id)` index the
/// store's query uses — cheaper with the few sessions of this bench, ever worse with
/// more.
const SQLITE: Sql = Sql {
    create: &[
        "CREATE TABLE raw_items (tenant BLOB NOT NULL, id BLOB NOT NULL, \
         session BLOB NOT NULL, kind INTEGER NOT NULL, author BLOB NOT NULL, \
         created_at INTEGER NOT NULL, latest_version INTEGER NOT NULL, blob BLOB, \
         PRIMARY KEY (tenant, id)) STRICT, WITHOUT ROWID",
        "CREATE INDEX raw_items_session ON raw_items (tenant, session, id)",
        "CREATE UNIQUE INDEX raw_items_blob ON raw_items (tenant, blob)",
        "CREATE TABLE raw_versions (tenant BLOB NOT NULL, item BLOB NOT NULL, \
         version INTEGER NOT NULL, session BLOB NOT NULL, author BLOB NOT NULL, \
         created_at INTEGER NOT NULL, key_epoch INTEGER NOT NULL, body BLOB NOT NULL, \
         PRIMARY KEY (tenant, item, version), \
         FOREIGN KEY (tenant, item) REFERENCES raw_items (tenant, id) ON DELETE CASCADE) \
         STRICT",
    ],
    insert_item: "INSERT INTO raw_items (tenant, id, session, kind, author, created_at, \
                  latest_version) VALUES (?, ?, ?, ?, ?, ?, ?)",
    insert_version: "INSERT INTO raw_versions (tenant, item, version, session, author, \
                     created_at, key_epoch, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    page: "SELECT id, tenant, session, kind, author, created_at, latest_version \
           FROM raw_items WHERE tenant = ? AND session = ? AND id > ? ORDER BY id LIMIT ?",
    version: "SELECT item, tenant, session, version, author, created_at, key_epoch, body \
              FROM raw_versions WHERE tenant = ? AND item = ? AND version = ?",
    joined: "SELECT v.item, v.tenant, v.session, v.version, v.author, v.created_at, \
             v.key_epoch, v.body FROM raw_items i JOIN raw_versions v \
             ON v.tenant = i.tenant AND v.item = i.id AND v.version = i.latest_version \
             WHERE i.tenant = ? AND i.session = ? AND i.id > ? ORDER BY i.id LIMIT ?",
    delete: "DELETE FROM raw_items WHERE tenant = ? AND session = ?",
};

/// The same in PostgreSQL's dialect, as `migrations/postgres/0001_initial.sql` writes
/// the tables (`BYTEA`, `BIGINT`) and with numbered placeholders.
#[cfg(feature = "postgres")]
fn postgres_sql() -> &'static Sql {
    fn pg(sql: &str) -> &'static str {
        let mut out = String::new();
        for (n, part) in sql.split('?').enumerate() {
            if n > 0 {
                out.push_str(&format!("${n}"));
            }
            out.push_str(part);
        }
        let out = out
            .replace(" BLOB", " BYTEA")
            .replace(" INTEGER", " BIGINT")
            .replace(" STRICT, WITHOUT ROWID", "")
            .replace(" STRICT", "");
        Box::leak(out.into_boxed_str())
    }
    let create: Vec<&'static str> = SQLITE.create.iter().map(|s| pg(s)).collect();
    Box::leak(Box::new(Sql {
        create: Box::leak(create.into_boxed_slice()),
        insert_item: pg(SQLITE.insert_item),
        insert_version: pg(SQLITE.insert_version),
        page: pg(SQLITE.page),
        version: pg(SQLITE.version),
        joined: pg(SQLITE.joined),
        delete: pg(SQLITE.delete),
    }))
}

/// Raw sqlx on one database: a writer pool, a reader pool for each read case (all the
/// same pool on PostgreSQL, whose client keeps no page cache) and the dialect.
pub(crate) struct Raw<DB: sqlx::Database> {
    writer: sqlx::Pool<DB>,
    /// The readers of raw (one join).
    readers: sqlx::Pool<DB>,
    /// The readers of raw (same queries): on SQLite not `readers`, so that neither
    /// case's page caches hold pages the other has just read.
    same_readers: sqlx::Pool<DB>,
    sql: &'static Sql,
    /// What opens a write transaction (`BEGIN IMMEDIATE` on SQLite, as the store).
    begin: &'static str,
    /// Whether raw (same queries) reads a copy of the raw messages rather than the
    /// rows raw (one join) reads: on SQLite, whose connections cache pages in the
    /// process; not on PostgreSQL, whose one buffer cache serves every connection.
    same_copy: bool,
}

impl<DB: sqlx::Database> Raw<DB> {
    /// Closes every pool (on PostgreSQL they are one).
    pub(crate) async fn close(&self) {
        self.writer.close().await;
        self.readers.close().await;
        self.same_readers.close().await;
    }
}

/// The raw side of one database, as the run drives it.
pub(crate) trait Bench {
    /// One transaction of inserts.
    async fn raw_append(&self, t: &[u8; 16], session: &[u8; 16], msgs: &[RawMessage]);
    /// One page past `after` with the ports' queries: a page of items, then each
    /// version.
    async fn raw_page(&self, t: &[u8; 16], s: &[u8; 16], after: &[u8]) -> RawPage;
    /// One page past `after`: the items with their bodies in one joined query.
    async fn raw_joined(&self, t: &[u8; 16], s: &[u8; 16], after: &[u8]) -> RawPage;
    /// Deletes a session's messages (untimed).
    async fn raw_delete(&self, t: &[u8; 16], s: &[u8; 16]);
    /// Whether raw (same queries) reads a copy of the messages ([`Raw::same_copy`]).
    fn same_copy(&self) -> bool;
}

/// Messages and body bytes read, and the id the next page starts after.
type RawPage = (usize, usize, Option<Vec<u8>>);

/// The raw operations, written once for both databases (sqlx's types differ per
/// database, the code does not).
macro_rules! raw_ops {
    ($db:ty) => {
        impl Raw<$db> {
            async fn create_tables(&self) {
                for ddl in self.sql.create {
                    sqlx::query(ddl).execute(&self.writer).await.unwrap();
                }
            }
        }

        impl Bench for Raw<$db> {
            async fn raw_append(&self, t: &[u8; 16], session: &[u8; 16], msgs: &[RawMessage]) {
                let mut tx = self.writer.begin_with(self.begin).await.unwrap();
                for m in msgs {
                    sqlx::query(self.sql.insert_item)
                        .bind(&t[..])
                        .bind(&m.id[..])
                        .bind(&session[..])
                        .bind(m.kind)
                        .bind(&m.author[..])
                        .bind(m.created_at)
                        .bind(1_i64)
                        .execute(&mut *tx)
                        .await
                        .unwrap();
                    sqlx::query(self.sql.insert_version)
                        .bind(&t[..])
                        .bind(&m.id[..])
                        .bind(1_i64)
                        .bind(&session[..])
                        .bind(&m.author[..])
                        .bind(m.created_at)
                        .bind(0_i64)
                        .bind(&m.body[..])
                        .execute(&mut *tx)
                        .await
                        .unwrap();
                }
                tx.commit().await.unwrap();
            }

            async fn raw_page(&self, t: &[u8; 16], session: &[u8; 16], after: &[u8]) -> RawPage {
                let items: Vec<ItemColumns> = sqlx::query_as(self.sql.page)
                    .bind(&t[..])
                    .bind(&session[..])
                    .bind(after)
                    .bind(i64::from(PAGE))
                    .fetch_all(&self.same_readers)
                    .await
                    .unwrap();
                let mut bytes = 0;
                for item in &items {
                    let v: VersionColumns = sqlx::query_as(self.sql.version)
                        .bind(&t[..])
                        .bind(&item.0[..])
                        .bind(item.6)
                        .fetch_optional(&self.same_readers)
                        .await
                        .unwrap()
                        .expect("every item has its version");
                    bytes += v.7.len();
                }
                (items.len(), bytes, items.last().map(|i| i.0.clone()))
            }

            async fn raw_joined(&self, t: &[u8; 16], session: &[u8; 16], after: &[u8]) -> RawPage {
                let rows: Vec<VersionColumns> = sqlx::query_as(self.sql.joined)
                    .bind(&t[..])
                    .bind(&session[..])
                    .bind(after)
                    .bind(i64::from(PAGE))
                    .fetch_all(&self.readers)
                    .await
                    .unwrap();
                let mut bytes = 0;
                let mut last = None;
                let n = rows.len();
                for v in rows {
                    bytes += v.7.len();
                    last = Some(v.0);
                }
                (n, bytes, last)
            }

            fn same_copy(&self) -> bool {
                self.same_copy
            }

            async fn raw_delete(&self, t: &[u8; 16], session: &[u8; 16]) {
                sqlx::query(self.sql.delete)
                    .bind(&t[..])
                    .bind(&session[..])
                    .execute(&self.writer)
                    .await
                    .unwrap();
            }
        }
    };
}

raw_ops!(sqlx::Sqlite);
#[cfg(feature = "postgres")]
raw_ops!(sqlx::Postgres);

/// The columns of an item row, decoded by position as a raw caller would.
type ItemColumns = (Vec<u8>, Vec<u8>, Vec<u8>, i64, Vec<u8>, i64, i64);
/// The columns of a version row.
type VersionColumns = (Vec<u8>, Vec<u8>, Vec<u8>, i64, Vec<u8>, i64, i64, Vec<u8>);

/// Raw pools on the store's SQLite file, with the store's connection settings
/// (`SqliteStore::open`).
pub(crate) async fn raw_sqlite(store: &SqliteStore) -> Raw<sqlx::Sqlite> {
    let options = SqliteConnectOptions::new()
        .filename(store.path().expect("a file store"))
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .pragma("secure_delete", "ON")
        .busy_timeout(cai_store::sqlite::BUSY_TIMEOUT);
    let pool = |max| {
        SqlitePoolOptions::new()
            .max_connections(max)
            .acquire_timeout(cai_store::sqlite::ACQUIRE_TIMEOUT)
    };
    let writer: SqlitePool = pool(1).connect_with(options.clone()).await.unwrap();
    let readers = pool(cai_store::sqlite::READERS)
        .connect_with(options.clone())
        .await
        .unwrap();
    let same_readers = pool(cai_store::sqlite::READERS)
        .connect_with(options)
        .await
        .unwrap();
    let raw = Raw {
        writer,
        readers,
        same_readers,
        sql: &SQLITE,
        begin: "BEGIN IMMEDIATE",
        same_copy: true,
    };
    raw.create_tables().await;
    raw
}

/// The query plan of the raw join, and of the same join on the store's `items` and
/// `versions` (the plan `items_latest` gets): they must be the same, index for index,
/// or the two sides would not be doing the same work.
pub(crate) async fn sqlite_plans(raw: &Raw<sqlx::Sqlite>) {
    async fn plan(pool: &SqlitePool, sql: &str) -> String {
        let rows: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(&format!("EXPLAIN QUERY PLAN {sql}"))
                .bind(&[0u8; 16][..])
                .bind(&[0u8; 16][..])
                .bind(&[0u8; 16][..])
                .bind(i64::from(PAGE))
                .fetch_all(pool)
                .await
                .unwrap();
        let steps: Vec<String> = rows.into_iter().map(|r| r.3).collect();
        steps.join("; ")
    }
    let raw_plan = plan(&raw.readers, raw.sql.joined).await;
    let store_plan = plan(&raw.readers, &raw.sql.joined.replace("raw_", "")).await;
    println!("query plan of the join: {raw_plan}");
    assert_eq!(
        raw_plan.replace("raw_", ""),
        store_plan,
        "the sides' plans differ"
    );
}

#[cfg(feature = "postgres")]
pub(crate) mod postgres {
    use std::sync::Arc;

    use cai_core::ports::DynStore;
    use cai_store::postgres::{PgStore, SchemaName};
    use sqlx::ConnectOptions;
    use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

    use super::{Raw, postgres_sql};
    use crate::{print, run};

    const URL_VAR: &str = "CAI_TEST_POSTGRES_URL";

    /// The PostgreSQL half, in a fresh schema that is dropped afterwards.
    pub(crate) async fn run_if_configured() {
        let Ok(url) = std::env::var(URL_VAR) else {
            println!("\nPostgreSQL: skipped ({URL_VAR} not set)");
            return;
        };
        let suffix: cai_core::id::TenantId = cai_core::conformance::data::rid();
        let hex: String = suffix.as_bytes()[8..]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let schema = SchemaName::parse(&format!("bench_{hex}")).unwrap();
        let pg = PgStore::connect(&url, &schema).await.unwrap();
        let options: PgConnectOptions = url.parse().unwrap();
        // The store's pool: its size and timeout, its schema alone on the path.
        let pool = PgPoolOptions::new()
            .max_connections(cai_store::postgres::MAX_CONNECTIONS)
            .acquire_timeout(cai_store::postgres::ACQUIRE_TIMEOUT)
            .connect_with(options.clone().options([("search_path", schema.as_str())]))
            .await
            .unwrap();
        let raw = Raw {
            writer: pool.clone(),
            readers: pool.clone(),
            same_readers: pool,
            sql: postgres_sql(),
            begin: "BEGIN",
            same_copy: false,
        };
        raw.create_tables().await;
        let store: DynStore = Arc::new(pg.clone());
        let tallies = run(
            "PostgreSQL (127.0.0.1, synchronous_commit = on)",
            store,
            &raw,
        )
        .await;
        print(&tallies);
        raw.close().await;
        pg.close().await;
        let mut admin = options.connect().await.unwrap();
        let drop = format!("DROP SCHEMA \"{}\" CASCADE", schema.as_str());
        sqlx::query(&drop).execute(&mut admin).await.unwrap();
    }
}
