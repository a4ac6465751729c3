//! [`StoreRouter`]: tenant placement (R-T1, R-T2) over this crate's backends, with
//! placements that survive a restart.
//!
//! The host names, per data-residency region, a [`Policy`]: one SQLite file per tenant
//! in a directory, one PostgreSQL schema per tenant on a server (feature `postgres`),
//! or one store shared by the region's tenants (rows keyed by tenant). Placing a tenant
//! records its region and policy kind in the **placement catalog**, a small SQLite file
//! of its own; after a restart the router finds each tenant there and opens its store
//! on the first [`route`](TenantRouter::route).
//!
//! - **A placement never moves silently.** Placing a tenant again in its region returns
//!   its store; in another region it is [`StoreError::Conflict`]; an unknown region is
//!   [`StoreError::Missing`], never a fallback. A region whose policy *kind* changed
//!   since the tenant was placed answers `Conflict` rather than a fresh, empty store,
//!   and a routed tenant whose file or schema is gone answers `Missing` (only placing
//!   creates a tenant's database).
//! - **Names from the tenant id only.** A tenant's file is
//!   [`tenant_file_name`] (`ten_<32 hex>.db`) in the region's directory, its schema
//!   `tenant_schema` (`ten_<32 hex>`, checked by `SchemaName::parse`); nothing a user
//!   typed reaches a path or an identifier.
//! - **One pool per tenant store, bounded.** An opened store is kept and shared by every
//!   call for that tenant. At most [`max_open_stores`](StoreRouterBuilder::max_open_stores)
//!   tenants ([`DEFAULT_MAX_OPEN_STORES`] unless set) are routed from memory; routing
//!   one more closes the store of the least recently used tenant that no call holds.
//!   When every open store is in use the route fails with
//!   [`TooManyOpenStores`] inside [`StoreError::Backend`] — nothing is opened past the
//!   limit. Stores are opened one at a time.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//!
//! use cai_core::domain::Region;
//! use cai_core::{Counselling, Ports};
//! use cai_store::router::{Policy, StoreRouter};
//! use cai_store::sqlite::SqliteStore;
//!
//! let dir = tempfile::tempdir()?;
//! let shared = SqliteStore::open(dir.path().join("small-centres.db")).await?;
//! let router = StoreRouter::builder()
//!     // A file per tenant in Germany, one shared file for the Swiss centres.
//!     .region(Region::parse("DE")?, Policy::SqliteFilePerTenant { dir: dir.path().join("de") })
//!     .region(Region::parse("CH")?, Policy::Shared(Arc::new(shared)))
//!     .open(dir.path().join("placements.db"))
//!     .await?;
//!
//! let mut world = Ports::in_memory();
//! world.ports.router = Arc::new(router);
//! let service = Counselling::new(world.ports);
//! # let _ = service;
//! # Ok(())
//! # }
//! ```

mod cache;
mod catalog;

use std::collections::BTreeMap;
use std::fmt;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use cai_core::domain::Region;
use cai_core::id::TenantId;
use cai_core::ports::{DynStore, StoreError, StoreResult, TenantRouter, Unhealthy};

use crate::OpenError;
#[cfg(feature = "postgres")]
use crate::postgres::{PgStore, SchemaName};
use crate::sqlite::SqliteStore;
use cache::{Cache, Full};
use catalog::{Catalog, Entry, Kind};

/// Tenants routed from memory unless the host sets another bound. A SQLite tenant
/// store holds up to 1 + [`READERS`](crate::sqlite::READERS) connections (three file
/// descriptors each: database, WAL, shared memory), a PostgreSQL one up to
/// `postgres::MAX_CONNECTIONS` server connections: size the bound against the
/// process's file limit and the server's `max_connections`.
pub const DEFAULT_MAX_OPEN_STORES: usize = 64;

/// How a region places its tenants; the host chooses one per region.
#[derive(Clone)]
#[non_exhaustive]
pub enum Policy {
    /// One SQLite file per tenant, [`tenant_file_name`] in `dir` (created when the
    /// first tenant is placed). Tenants are apart down to the file system.
    SqliteFilePerTenant {
        /// The directory of the region's tenant files.
        dir: PathBuf,
    },
    /// One schema per tenant (`tenant_schema`) in the PostgreSQL database at `url`,
    /// created and migrated when the tenant is placed.
    #[cfg(feature = "postgres")]
    PgSchemaPerTenant {
        /// The database's URL (kept out of `Debug`: it may hold a password).
        url: String,
    },
    /// One store for every tenant of the region, rows keyed by tenant (R-T1 holds by
    /// the storage contract: every read names its tenant). The host opened it and owns
    /// it: the router never closes it.
    Shared(DynStore),
}

impl Policy {
    fn kind(&self) -> Kind {
        match self {
            Policy::SqliteFilePerTenant { .. } => Kind::SqliteFile,
            #[cfg(feature = "postgres")]
            Policy::PgSchemaPerTenant { .. } => Kind::PgSchema,
            Policy::Shared(_) => Kind::Shared,
        }
    }
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Policy::SqliteFilePerTenant { dir } => f
                .debug_struct("SqliteFilePerTenant")
                .field("dir", dir)
                .finish(),
            #[cfg(feature = "postgres")]
            Policy::PgSchemaPerTenant { .. } => {
                f.debug_struct("PgSchemaPerTenant").finish_non_exhaustive()
            }
            Policy::Shared(_) => f.write_str("Shared"),
        }
    }
}

/// The name of a tenant's SQLite file under [`Policy::SqliteFilePerTenant`]: the
/// tenant id's text form and `.db`, e.g. `ten_0190…c3.db` — for backups and operators.
pub fn tenant_file_name(tenant: TenantId) -> String {
    format!("{tenant}.db")
}

/// The name of a tenant's schema under `Policy::PgSchemaPerTenant`: the tenant id's
/// text form (`ten_` and 32 lower-case hex digits), checked by [`SchemaName::parse`].
#[cfg(feature = "postgres")]
pub fn tenant_schema(tenant: TenantId) -> Result<SchemaName, OpenError> {
    SchemaName::parse(&tenant.to_string())
}

/// Every open tenant store is in use, so none could be closed to route another tenant.
/// Carried by [`StoreError::Backend`]; retry once calls finish, or raise the bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many open tenant stores (limit {limit}), all in use")]
pub struct TooManyOpenStores {
    /// The router's bound ([`StoreRouter::max_open_stores`]).
    pub limit: usize,
}

/// Builds a [`StoreRouter`]: regions with their policies, the bound, the catalog.
#[derive(Debug)]
pub struct StoreRouterBuilder {
    regions: BTreeMap<Region, Policy>,
    max_open: NonZeroUsize,
}

impl StoreRouterBuilder {
    /// Places the tenants of `region` by `policy` (a region named again takes the last
    /// policy given).
    pub fn region(mut self, region: Region, policy: Policy) -> Self {
        self.regions.insert(region, policy);
        self
    }

    /// Routes at most `limit` tenants from memory (see the [module docs](self)).
    pub fn max_open_stores(mut self, limit: NonZeroUsize) -> Self {
        self.max_open = limit;
        self
    }

    /// Opens (creating it if missing) the placement catalog at `catalog`. Fails with
    /// [`OpenError`] if the catalog cannot be opened or migrated, or if a PostgreSQL
    /// policy's URL does not parse. Opens no tenant store: those open on first use.
    pub async fn open(self, catalog: impl AsRef<Path>) -> Result<StoreRouter, OpenError> {
        #[cfg(feature = "postgres")]
        for policy in self.regions.values() {
            if let Policy::PgSchemaPerTenant { url } = policy {
                url.parse::<sqlx::postgres::PgConnectOptions>()?;
            }
        }
        let catalog = Catalog::open(catalog.as_ref()).await?;
        let limit = self.max_open.get();
        Ok(StoreRouter {
            catalog,
            regions: self.regions,
            max_open: limit,
            cache: Mutex::new(Cache::new(limit)),
            gate: futures_util::lock::Mutex::new(()),
        })
    }
}

/// A [`TenantRouter`] over SQLite files, PostgreSQL schemas and shared stores, with
/// placements recorded in a catalog file (see the [module docs](self)).
pub struct StoreRouter {
    catalog: Catalog,
    regions: BTreeMap<Region, Policy>,
    max_open: usize,
    cache: Mutex<Cache>,
    /// Opening a store and routing a new tenant happen one at a time, so two calls
    /// for one tenant never open two pools and the bound is never overshot.
    gate: futures_util::lock::Mutex<()>,
}

/// A tenant store the router opened, and closes when it makes room.
#[derive(Clone)]
enum Owned {
    Sqlite(SqliteStore),
    #[cfg(feature = "postgres")]
    Pg(PgStore),
}

impl Owned {
    fn store(&self) -> DynStore {
        match self {
            Owned::Sqlite(s) => Arc::new(s.clone()),
            #[cfg(feature = "postgres")]
            Owned::Pg(s) => Arc::new(s.clone()),
        }
    }

    async fn close(self) {
        match self {
            Owned::Sqlite(s) => s.close().await,
            #[cfg(feature = "postgres")]
            Owned::Pg(s) => s.close().await,
        }
    }
}

impl StoreRouter {
    /// A builder without regions, bounded by [`DEFAULT_MAX_OPEN_STORES`].
    pub fn builder() -> StoreRouterBuilder {
        StoreRouterBuilder {
            regions: BTreeMap::new(),
            max_open: NonZeroUsize::new(DEFAULT_MAX_OPEN_STORES).unwrap_or(NonZeroUsize::MIN),
        }
    }

    /// The region `tenant` is placed in, from the catalog.
    pub async fn region_of(&self, tenant: TenantId) -> StoreResult<Option<Region>> {
        Ok(self.catalog.get(tenant).await?.map(|e| e.region))
    }

    /// Tenant stores (SQLite files, PostgreSQL pools) open now; shared stores are not
    /// counted.
    pub fn open_stores(&self) -> usize {
        self.cache().open_stores()
    }

    /// The bound on tenants routed from memory.
    pub fn max_open_stores(&self) -> usize {
        self.max_open
    }

    /// Closes every tenant store the router opened and the catalog; shared stores
    /// stay open (they are the host's). Later calls fail with a backend error.
    pub async fn close(&self) {
        let _gate = self.gate.lock().await;
        let owned = self.cache().drain();
        for store in owned {
            store.close().await;
        }
        self.catalog.close().await;
    }

    fn cache(&self) -> MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The policy of a recorded placement: its region must still be served, by a
    /// policy of the same kind.
    fn policy_of(&self, entry: &Entry) -> StoreResult<&Policy> {
        let policy = self
            .regions
            .get(&entry.region)
            .ok_or(StoreError::Missing { what: "region" })?;
        if policy.kind() != entry.kind {
            return Err(StoreError::Conflict {
                what: "region's placement policy changed",
            });
        }
        Ok(policy)
    }

    /// The store of a placed tenant: the open one, or opened now (created if `create`).
    async fn open(
        &self,
        tenant: TenantId,
        region: &Region,
        policy: &Policy,
        create: bool,
    ) -> StoreResult<DynStore> {
        if let Some(store) = self.cache().get(tenant) {
            return Ok(store);
        }
        let _gate = self.gate.lock().await;
        if let Some(store) = self.cache().get(tenant) {
            return Ok(store);
        }
        let room = self.cache().make_room();
        let owned = match policy {
            Policy::Shared(store) => {
                // Routing to a shared store costs nothing: remembered when there is
                // room, else simply returned.
                if let Ok(evicted) = room {
                    self.cache()
                        .insert(tenant, region.clone(), store.clone(), None);
                    if let Some(evicted) = evicted {
                        evicted.close().await;
                    }
                }
                return Ok(store.clone());
            }
            _ => {
                let evicted = room.map_err(|Full| {
                    StoreError::backend(TooManyOpenStores {
                        limit: self.max_open,
                    })
                })?;
                if let Some(evicted) = evicted {
                    evicted.close().await;
                }
                open_owned(tenant, policy, create).await?
            }
        };
        let store = owned.store();
        self.cache()
            .insert(tenant, region.clone(), store.clone(), Some(owned));
        Ok(store)
    }
}

/// Opens (or, if `create`, creates) the tenant's own store under `policy`.
async fn open_owned(tenant: TenantId, policy: &Policy, create: bool) -> StoreResult<Owned> {
    match policy {
        Policy::SqliteFilePerTenant { dir } => {
            let path = dir.join(tenant_file_name(tenant));
            if create {
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(StoreError::backend)?;
            } else if !tokio::fs::try_exists(&path)
                .await
                .map_err(StoreError::backend)?
            {
                return Err(StoreError::Missing {
                    what: "tenant database file",
                });
            }
            let store = SqliteStore::open(&path)
                .await
                .map_err(StoreError::backend)?;
            Ok(Owned::Sqlite(store))
        }
        #[cfg(feature = "postgres")]
        Policy::PgSchemaPerTenant { url } => {
            let schema = tenant_schema(tenant).map_err(StoreError::backend)?;
            if !create && !schema_exists(url, &schema).await? {
                return Err(StoreError::Missing {
                    what: "tenant schema",
                });
            }
            let store = PgStore::connect(url, &schema)
                .await
                .map_err(StoreError::backend)?;
            Ok(Owned::Pg(store))
        }
        // Shared stores are not the router's to open.
        Policy::Shared(_) => Err(StoreError::Conflict {
            what: "shared store opened as a tenant store",
        }),
    }
}

/// Whether `schema` exists in the database at `url` (routing never creates one).
#[cfg(feature = "postgres")]
async fn schema_exists(url: &str, schema: &SchemaName) -> StoreResult<bool> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .map_err(StoreError::backend)?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
            .bind(schema.as_str())
            .fetch_one(&mut conn)
            .await
            .map_err(StoreError::backend)?;
    // The answer is in hand; a failed goodbye changes nothing.
    let _closed = conn.close().await;
    Ok(exists)
}

#[async_trait]
impl TenantRouter for StoreRouter {
    /// The catalog, every region's shared store and every open tenant store; the first
    /// that fails is named (its region, and its tenant for a tenant store).
    async fn health(&self) -> Result<(), Unhealthy> {
        self.catalog
            .health()
            .await
            .map_err(|e| Unhealthy(format!("placement catalog: {e}")))?;
        for (region, policy) in &self.regions {
            if let Policy::Shared(store) = policy {
                store
                    .health()
                    .await
                    .map_err(|e| Unhealthy(format!("region {region}: {e}")))?;
            }
        }
        let open = self.cache().owned();
        for (tenant, region, store) in open {
            store
                .health()
                .await
                .map_err(|e| Unhealthy(format!("region {region}, tenant {tenant}: {e}")))?;
        }
        Ok(())
    }

    /// Records the placement (once; see the [module docs](self)) and returns the
    /// tenant's store, creating its file or schema if missing.
    async fn place(&self, tenant: TenantId, region: &Region) -> StoreResult<DynStore> {
        let policy = self
            .regions
            .get(region)
            .ok_or(StoreError::Missing { what: "region" })?;
        let wanted = Entry {
            region: region.clone(),
            kind: policy.kind(),
        };
        let recorded = self.catalog.record(tenant, &wanted).await?;
        if recorded.region != wanted.region {
            return Err(StoreError::Conflict {
                what: "tenant placed in another region",
            });
        }
        let policy = self.policy_of(&recorded)?;
        self.open(tenant, region, policy, true).await
    }

    /// The open store of `tenant`, or its recorded placement opened now; `None` for a
    /// tenant the catalog does not know.
    async fn route(&self, tenant: TenantId) -> StoreResult<Option<DynStore>> {
        if let Some(store) = self.cache().get(tenant) {
            return Ok(Some(store));
        }
        let Some(entry) = self.catalog.get(tenant).await? else {
            return Ok(None);
        };
        let policy = self.policy_of(&entry)?;
        self.open(tenant, &entry.region, policy, false)
            .await
            .map(Some)
    }
}

impl fmt::Debug for StoreRouter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreRouter")
            .field("regions", &self.regions)
            .field("open_stores", &self.open_stores())
            .field("max_open_stores", &self.max_open)
            .finish_non_exhaustive()
    }
}
