//! The placement catalog: a small SQLite file recording, for every placed tenant, its
//! region and the kind of placement that region had when the tenant was placed. A row
//! is inserted once and never updated, so a placement cannot move silently.

use std::path::Path;

use cai_core::domain::Region;
use cai_core::id::TenantId;
use cai_core::ports::{StoreError, StoreResult};
use sqlx::sqlite::SqliteSynchronous;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use crate::OpenError;
use crate::sqlite::{ACQUIRE_TIMEOUT, BUSY_TIMEOUT};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/catalog");

/// Connections of the catalog: it is read only when a tenant's store is not open yet.
const CONNECTIONS: u32 = 2;

/// The kind of a placement, as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// One SQLite file per tenant.
    SqliteFile,
    /// One PostgreSQL schema per tenant.
    PgSchema,
    /// A store shared by tenants, rows keyed by tenant.
    Shared,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::SqliteFile => "sqlite_file",
            Kind::PgSchema => "pg_schema",
            Kind::Shared => "shared",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "sqlite_file" => Some(Kind::SqliteFile),
            "pg_schema" => Some(Kind::PgSchema),
            "shared" => Some(Kind::Shared),
            _ => None,
        }
    }
}

/// A tenant's recorded placement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Entry {
    /// The region it was placed in.
    pub(super) region: Region,
    /// The kind of placement the region had then.
    pub(super) kind: Kind,
}

/// The catalog file.
pub(super) struct Catalog {
    pool: SqlitePool,
}

impl Catalog {
    /// Opens (creating it if missing) the catalog at `path` and applies its migrations.
    pub(super) async fn open(path: &Path) -> Result<Self, OpenError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // A placement that was reported must survive a power cut: FULL.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    /// The recorded placement of `tenant`.
    pub(super) async fn get(&self, tenant: TenantId) -> StoreResult<Option<Entry>> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT region, kind FROM placements WHERE tenant = ?")
                .bind(tenant.as_bytes().as_slice())
                .fetch_optional(&self.pool)
                .await
                .map_err(StoreError::backend)?;
        let Some((region, kind)) = row else {
            return Ok(None);
        };
        let corrupt = StoreError::Corrupt {
            what: "placement catalog entry",
        };
        let region = Region::parse(&region).map_err(|_| corrupt.clone())?;
        let kind = Kind::parse(&kind).ok_or(corrupt)?;
        Ok(Some(Entry { region, kind }))
    }

    /// Records `entry` for `tenant` unless the tenant is recorded already, and returns
    /// what is recorded now: `entry`, or the earlier placement.
    pub(super) async fn record(&self, tenant: TenantId, entry: &Entry) -> StoreResult<Entry> {
        sqlx::query(
            "INSERT INTO placements (tenant, region, kind) VALUES (?, ?, ?) \
             ON CONFLICT (tenant) DO NOTHING",
        )
        .bind(tenant.as_bytes().as_slice())
        .bind(entry.region.as_str())
        .bind(entry.kind.as_str())
        .execute(&self.pool)
        .await
        .map_err(StoreError::backend)?;
        self.get(tenant).await?.ok_or(StoreError::Missing {
            what: "placement catalog entry",
        })
    }

    /// Whether the catalog answers.
    pub(super) async fn health(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(StoreError::backend)
    }

    /// Closes the catalog's connections.
    pub(super) async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Released migrations never change (see the SQLite backend's pin). Pinned value:
    /// `sha384sum migrations/catalog/*.sql`.
    #[test]
    fn released_migrations_are_pinned() {
        let actual: Vec<(i64, String)> = MIGRATOR
            .iter()
            .map(|m| (m.version, hex::encode(&*m.checksum)))
            .collect();
        assert_eq!(actual, vec![(1, PINNED.to_owned())]);
    }

    const PINNED: &str = "518c41439a6fc1864008245cd12ff412c7bcf94048356b383c5eca7d78396136fe6509bdb88e8ad5e78bc461f9f1c632";

    #[tokio::test]
    async fn a_placement_is_recorded_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(&dir.path().join("placements.db"))
            .await
            .unwrap();
        let tenant = TenantId::random().unwrap();
        assert_eq!(catalog.get(tenant).await.unwrap(), None);
        let de = Entry {
            region: Region::parse("DE").unwrap(),
            kind: Kind::SqliteFile,
        };
        let ch = Entry {
            region: Region::parse("CH").unwrap(),
            kind: Kind::Shared,
        };
        assert_eq!(catalog.record(tenant, &de).await.unwrap(), de);
        // The first placement stays; a second one is answered with it.
        assert_eq!(catalog.record(tenant, &ch).await.unwrap(), de);
        assert_eq!(catalog.get(tenant).await.unwrap(), Some(de));
    }

    #[tokio::test]
    async fn a_tampered_entry_is_corrupt_not_a_placement() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(&dir.path().join("placements.db"))
            .await
            .unwrap();
        let tenant = TenantId::random().unwrap();
        sqlx::query("INSERT INTO placements (tenant, region, kind) VALUES (?, ?, 'shared')")
            .bind(tenant.as_bytes().as_slice())
            .bind("../etc")
            .execute(&catalog.pool)
            .await
            .unwrap();
        assert!(matches!(
            catalog.get(tenant).await,
            Err(StoreError::Corrupt { .. })
        ));
        // The kind is checked by the table itself.
        let other = TenantId::random().unwrap();
        let r = sqlx::query("INSERT INTO placements (tenant, region, kind) VALUES (?, 'DE', 'x')")
            .bind(other.as_bytes().as_slice())
            .execute(&catalog.pool)
            .await;
        assert!(r.is_err());
    }
}
