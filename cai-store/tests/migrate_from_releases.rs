//! A database made by any earlier release opens with this build: for each released
//! schema (the migrations up to that release, applied from the pinned SQL files by a
//! sqlx `Migrator` over a directory holding only those files), the test stores data in
//! that release's layout, opens the database with `SqliteStore::open` /
//! `PgStore::connect` and checks that everything reads back through the ports exactly
//! as written and that the audit trail verifies (entries of releases before the chain
//! are chained on open).
//!
//! The old-layout rows are made by writing through today's store and copying every
//! column the old schema has (the tables a later migration did not change are stored
//! alike), then rewriting what the old release stored differently: see [`RELEASES`].
//! A new migration adds one line there.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

#[cfg(feature = "postgres")]
mod pg;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use cai_core::conformance::data::{self, commit_ok, rid};
use cai_core::id::{AccountId, ItemId, SessionId, SubjectId, TenantId};
use cai_core::ports::{DynStore, Order, Page, Store, Write};
use cai_store::audit_chain::{AuditKeys, AuditReport};
#[cfg(feature = "postgres")]
use cai_store::postgres::PgStore;
use cai_store::sqlite::SqliteStore;
use sqlx::Connection;

/// How a release stored things differently from the schema's columns alone.
#[derive(Clone, Copy, Debug)]
enum Legacy {
    /// Before `0002_audit_chain`: an audit event's whole JSON form in `body`.
    WholeAuditEvent,
    /// Nothing but the columns (the layout of the next release, unless it says
    /// otherwise).
    ColumnsOnly,
}

/// Every released schema before the current one: (last migration of the release, its
/// layout). The current release is what every other test runs on.
const RELEASES: &[(i64, Legacy)] = &[(1, Legacy::WholeAuditEvent), (2, Legacy::ColumnsOnly)];

/// The pinned migration files of `backend` up to `version`, alone in a directory.
fn migrations_up_to(backend: &str, version: i64) -> tempfile::TempDir {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let v: i64 = name[..4].parse().unwrap();
        if v <= version {
            std::fs::copy(&path, dir.path().join(&name)).unwrap();
        }
    }
    dir
}

#[async_trait]
trait Backend: Store + Sized + Clone + 'static {
    /// Today's store, empty.
    async fn current() -> Self;
    /// A database with the migrations up to `version` applied, and nothing else.
    async fn old(version: i64) -> Old;
    /// Copies every row of `self` into `old`, the columns `old`'s tables have.
    async fn copy_into(&self, old: &Old);
    /// Runs `sql` on `old` with `tenant` bound to its one `?`.
    async fn exec(old: &Old, sql: &str, tenant: TenantId);
    /// Opens `old` with today's build.
    async fn open(old: &Old) -> Self;
    async fn verify(&self, t: TenantId) -> AuditReport;
    async fn migrations(&self) -> i64;
}

/// An old database: a SQLite file or a PostgreSQL schema.
struct Old {
    path: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

#[async_trait]
impl Backend for SqliteStore {
    async fn current() -> Self {
        SqliteStore::temporary().await.unwrap()
    }
    async fn old(version: i64) -> Old {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(
                sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(&path)
                    .create_if_missing(true),
            )
            .await
            .unwrap();
        let migrations = migrations_up_to("sqlite", version);
        let migrator = sqlx::migrate::Migrator::new(migrations.path())
            .await
            .unwrap();
        migrator.run(&pool).await.unwrap();
        pool.close().await;
        Old {
            path,
            _dir: Some(dir),
        }
    }
    async fn copy_into(&self, old: &Old) {
        let mut c = sqlite_conn(&old.path).await;
        sqlx::query("ATTACH DATABASE ? AS cur")
            .bind(self.path().unwrap().display().to_string())
            .execute(&mut c)
            .await
            .unwrap();
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM main.sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_sqlx%' ESCAPE '\\'",
        )
        .fetch_all(&mut c)
        .await
        .unwrap();
        for table in tables {
            let columns: Vec<String> =
                sqlx::query_scalar("SELECT name FROM pragma_table_info(?) ORDER BY cid")
                    .bind(&table)
                    .fetch_all(&mut c)
                    .await
                    .unwrap();
            let columns = quoted(&columns);
            sqlx::query(&format!(
                "INSERT INTO main.\"{table}\" ({columns}) SELECT {columns} FROM cur.\"{table}\""
            ))
            .execute(&mut c)
            .await
            .unwrap();
        }
        c.close().await.unwrap();
    }
    async fn exec(old: &Old, sql: &str, tenant: TenantId) {
        let mut c = sqlite_conn(&old.path).await;
        sqlx::query(sql)
            .bind(tenant.as_bytes().as_slice())
            .execute(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
    }
    async fn open(old: &Old) -> Self {
        SqliteStore::open(&old.path).await.unwrap()
    }
    async fn verify(&self, t: TenantId) -> AuditReport {
        self.verify_audit(t, &AuditKeys::new()).await.unwrap()
    }
    async fn migrations(&self) -> i64 {
        let mut c = sqlite_conn(self.path().unwrap()).await;
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
            .fetch_one(&mut c)
            .await
            .unwrap()
    }
}

async fn sqlite_conn(path: &Path) -> sqlx::SqliteConnection {
    sqlx::SqliteConnection::connect_with(
        &sqlx::sqlite::SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .foreign_keys(false),
    )
    .await
    .unwrap()
}

fn quoted(columns: &[String]) -> String {
    columns
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(feature = "postgres")]
async fn pg_conn(schema: &str) -> sqlx::PgConnection {
    let mut c = sqlx::PgConnection::connect(&pg::url()).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
        .execute(&mut c)
        .await
        .unwrap();
    sqlx::query(&format!("SET search_path TO \"{schema}\""))
        .execute(&mut c)
        .await
        .unwrap();
    c
}

/// The schema's name, kept in `Old::path` for PostgreSQL.
#[cfg(feature = "postgres")]
fn schema_of(old: &Old) -> String {
    old.path.display().to_string()
}

#[cfg(feature = "postgres")]
#[async_trait]
impl Backend for PgStore {
    async fn current() -> Self {
        pg::fresh_store("current").await
    }
    async fn old(version: i64) -> Old {
        let schema = pg::fresh_schema("old").as_str().to_owned();
        pg_conn(&schema).await.close().await.unwrap();
        let options: sqlx::postgres::PgConnectOptions = pg::url().parse().unwrap();
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect_with(options.options([("search_path", schema.as_str())]))
            .await
            .unwrap();
        let migrations = migrations_up_to("postgres", version);
        let migrator = sqlx::migrate::Migrator::new(migrations.path())
            .await
            .unwrap();
        migrator.run(&pool).await.unwrap();
        pool.close().await;
        Old {
            path: PathBuf::from(schema),
            _dir: None,
        }
    }
    async fn copy_into(&self, old: &Old) {
        let schema = schema_of(old);
        let mut c = pg_conn(&schema).await;
        let mut tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 AND table_name NOT LIKE '\\_sqlx%'",
        )
        .bind(&schema)
        .fetch_all(&mut c)
        .await
        .unwrap();
        // Parents before children: a table whose foreign key is not satisfied yet is
        // tried again in the next round.
        for _round in 0..10 {
            let mut later = Vec::new();
            for table in tables {
                let columns: Vec<String> = sqlx::query_scalar(
                    "SELECT column_name::text FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
                )
                .bind(&schema)
                .bind(&table)
                .fetch_all(&mut c)
                .await
                .unwrap();
                // A table the migrations fill themselves (the batch lock's one row).
                let seeded: bool = sqlx::query_scalar(&format!(
                    "SELECT EXISTS (SELECT 1 FROM \"{schema}\".\"{table}\")"
                ))
                .fetch_one(&mut c)
                .await
                .unwrap();
                if seeded {
                    continue;
                }
                let columns = quoted(&columns);
                let copy = format!(
                    "INSERT INTO \"{schema}\".\"{table}\" ({columns}) SELECT {columns} FROM \"{}\".\"{table}\"",
                    self.schema().as_str()
                );
                if sqlx::query(&copy).execute(&mut c).await.is_err() {
                    later.push(table);
                }
            }
            tables = later;
        }
        assert!(tables.is_empty(), "not copied: {tables:?}");
    }
    async fn exec(old: &Old, sql: &str, tenant: TenantId) {
        let mut c = pg_conn(&schema_of(old)).await;
        sqlx::query(&sql.replace('?', "$1"))
            .bind(tenant.as_bytes().as_slice())
            .execute(&mut c)
            .await
            .unwrap();
    }
    async fn open(old: &Old) -> Self {
        let schema = cai_store::postgres::SchemaName::parse(&schema_of(old)).unwrap();
        PgStore::connect(&pg::url(), &schema).await.unwrap()
    }
    async fn verify(&self, t: TenantId) -> AuditReport {
        self.verify_audit(t, &AuditKeys::new()).await.unwrap()
    }
    async fn migrations(&self) -> i64 {
        let mut c = pg_conn(self.schema().as_str()).await;
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
            .fetch_one(&mut c)
            .await
            .unwrap()
    }
}

async fn every_release_opens_with_its_data<B: Backend>(current_version: i64) {
    for &(version, legacy) in RELEASES {
        // Today's store, with data of every kind the fixture covers.
        let now = B::current().await;
        let store: DynStore = Arc::new(now.clone());
        let (t, owner, session): (TenantId, AccountId, SessionId) = (rid(), rid(), rid());
        commit_ok(&store, t, data::tenant_with_session(t, owner, session)).await;
        for n in 0..5 {
            let id: ItemId = rid();
            let (item, first) = data::item(t, id, session, SubjectId::Account(owner));
            let mut event = data::audit_event(t);
            if n == 0 {
                // A login record, which `0005_audit_kind` must find by its kind.
                event.kind = cai_core::domain::AuditKind::LoginFailed;
            }
            commit_ok(
                &store,
                t,
                vec![Write::InsertItem(item, first), Write::AppendAudit(event)],
            )
            .await;
        }
        let page = Page {
            after: None,
            limit: 100,
            order: Order::OldestFirst,
        };
        let items = store.items(t, session, page).await.unwrap();
        let mut versions = Vec::new();
        for item in &items {
            versions.push(store.versions(t, item.id).await.unwrap());
        }
        let events = store.audit_events(t, 0, 100).await.unwrap();
        assert_eq!((items.len(), events.len()), (5, 5));

        // The same data in the release's layout.
        let old = B::old(version).await;
        now.copy_into(&old).await;
        match legacy {
            Legacy::WholeAuditEvent => {
                for (seq, event) in &events {
                    let body = serde_json::to_string(event).unwrap().replace('\'', "''");
                    B::exec(
                        &old,
                        &format!(
                            "UPDATE audit_events SET body = '{body}' WHERE tenant = ? AND seq = {seq}"
                        ),
                        t,
                    )
                    .await;
                }
            }
            Legacy::ColumnsOnly => {}
        }

        // Opened by this build: migrated, and everything reads back.
        let opened = B::open(&old).await;
        assert_eq!(opened.migrations().await, current_version);
        let read: DynStore = Arc::new(opened.clone());
        assert_eq!(
            read.tenant(t).await.unwrap(),
            store.tenant(t).await.unwrap()
        );
        assert_eq!(
            read.account(t, owner).await.unwrap(),
            store.account(t, owner).await.unwrap()
        );
        assert_eq!(
            read.session(t, session).await.unwrap(),
            store.session(t, session).await.unwrap()
        );
        assert_eq!(read.items(t, session, page).await.unwrap(), items);
        for (item, v) in items.iter().zip(&versions) {
            assert_eq!(&read.versions(t, item.id).await.unwrap(), v);
        }
        assert_eq!(read.audit_events(t, 0, 100).await.unwrap(), events);
        let report = opened.verify(t).await;
        assert!(report.is_intact(), "release {version}: {report:?}");
        assert_eq!(report.entries, 5);
        // Login records written before the kind column are found by their kind.
        let end = cai_core::Timestamp::from_unix_millis(i64::MAX);
        assert_eq!(read.erase_login_records_before(t, end).await.unwrap(), 1);
        // And the trail goes on.
        commit_ok(&read, t, vec![Write::AppendAudit(data::audit_event(t))]).await;
        assert!(opened.verify(t).await.is_intact());
    }
}

/// The newest migration of this build.
fn current_version(backend: &str) -> i64 {
    std::fs::read_dir(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(backend),
    )
    .unwrap()
    .map(|e| {
        e.unwrap().file_name().to_str().unwrap()[..4]
            .parse::<i64>()
            .unwrap()
    })
    .max()
    .unwrap()
}

/// The migrations this build adds over the last release in [`RELEASES`] (a release may
/// bring several). When a build is released, its last migration joins `RELEASES` and
/// this list starts again empty.
const NEW_IN_THIS_BUILD: &[i64] = &[3, 4, 5];

#[test]
fn every_release_but_the_current_one_is_listed() {
    let listed: Vec<i64> = RELEASES.iter().map(|(v, _)| *v).collect();
    assert!(listed.windows(2).all(|w| w[0] < w[1]), "{listed:?}");
    let last_release = *listed.last().unwrap();
    let current = current_version("sqlite");
    assert_eq!(
        NEW_IN_THIS_BUILD,
        ((last_release + 1)..=current)
            .collect::<Vec<_>>()
            .as_slice()
    );
    assert_eq!(current, current_version("postgres"));
}

#[tokio::test]
async fn sqlite_from_every_release() {
    every_release_opens_with_its_data::<SqliteStore>(current_version("sqlite")).await;
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_from_every_release() {
    every_release_opens_with_its_data::<PgStore>(current_version("postgres")).await;
}
