//! [`RegionRouter`]: tenants placed in regions, each region one store.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{PoisonError, RwLock};

use async_trait::async_trait;

use crate::domain::Region;
use crate::id::TenantId;
use crate::ports::{DynStore, StoreError, StoreResult, TenantRouter};

/// A [`TenantRouter`] mapping regions to stores (R-T2). Placements are kept in memory:
/// a deployment rebuilds them at start (for instance from each store's tenants) or uses
/// a router that persists them.
///
/// A tenant placed in one region stays there: placing it again in the same region
/// returns the same store, in another region is a [`StoreError::Conflict`], and an
/// unknown region is [`StoreError::Missing`], never a fallback.
#[derive(Default)]
pub struct RegionRouter {
    regions: RwLock<BTreeMap<Region, DynStore>>,
    placements: RwLock<BTreeMap<TenantId, Region>>,
}

impl RegionRouter {
    /// A router without regions.
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves `region` from `store` (replacing an earlier store for that region).
    pub fn add_region(&self, region: Region, store: DynStore) -> &Self {
        self.regions
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(region, store);
        self
    }

    /// The region a tenant is placed in.
    pub fn region_of(&self, tenant: TenantId) -> Option<Region> {
        self.placements
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&tenant)
            .cloned()
    }

    fn store_of(&self, region: &Region) -> Option<DynStore> {
        self.regions
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(region)
            .cloned()
    }
}

#[async_trait]
impl TenantRouter for RegionRouter {
    async fn place(&self, tenant: TenantId, region: &Region) -> StoreResult<DynStore> {
        let store = self
            .store_of(region)
            .ok_or(StoreError::Missing { what: "region" })?;
        let mut placements = self
            .placements
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        match placements.get(&tenant) {
            Some(placed) if placed != region => Err(StoreError::Conflict {
                what: "tenant placed in another region",
            }),
            Some(_) => Ok(store),
            None => {
                placements.insert(tenant, region.clone());
                Ok(store)
            }
        }
    }

    async fn route(&self, tenant: TenantId) -> StoreResult<Option<DynStore>> {
        Ok(self.region_of(tenant).and_then(|r| self.store_of(&r)))
    }

    async fn health(&self) -> Result<(), crate::ports::Unhealthy> {
        let stores: Vec<(Region, DynStore)> = self
            .regions
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(r, s)| (r.clone(), s.clone()))
            .collect();
        for (region, store) in stores {
            store
                .health()
                .await
                .map_err(|e| crate::ports::Unhealthy(format!("region {region}: {e}")))?;
        }
        Ok(())
    }
}

impl fmt::Debug for RegionRouter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let regions: Vec<Region> = self
            .regions
            .read()
            .map(|r| r.keys().cloned().collect())
            .unwrap_or_default();
        let tenants = self.placements.read().map(|p| p.len()).ok();
        f.debug_struct("RegionRouter")
            .field("regions", &regions)
            .field("tenants", &tenants)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::memory::MemoryStore;

    fn region(name: &str) -> Region {
        Region::parse(name).unwrap()
    }

    #[tokio::test]
    async fn tenants_go_to_their_region_and_stay_there() {
        let de: DynStore = Arc::new(MemoryStore::new());
        let ch: DynStore = Arc::new(MemoryStore::new());
        let router = RegionRouter::new();
        router
            .add_region(region("DE"), de.clone())
            .add_region(region("CH"), ch.clone());
        let (a, b) = (TenantId::random().unwrap(), TenantId::random().unwrap());

        assert!(router.route(a).await.unwrap().is_none());
        let placed = router.place(a, &region("DE")).await.unwrap();
        assert!(Arc::ptr_eq(&placed, &de));
        let placed = router.place(b, &region("CH")).await.unwrap();
        assert!(Arc::ptr_eq(&placed, &ch));
        assert!(Arc::ptr_eq(&router.route(a).await.unwrap().unwrap(), &de));
        assert!(Arc::ptr_eq(&router.route(b).await.unwrap().unwrap(), &ch));
        assert_eq!(router.region_of(a), Some(region("DE")));

        // Placing again in the same region is idempotent; moving is refused.
        assert!(Arc::ptr_eq(
            &router.place(a, &region("DE")).await.unwrap(),
            &de
        ));
        assert!(matches!(
            router.place(a, &region("CH")).await,
            Err(StoreError::Conflict { .. })
        ));
        assert!(Arc::ptr_eq(&router.route(a).await.unwrap().unwrap(), &de));
    }

    #[tokio::test]
    async fn unknown_region_is_an_error_not_a_fallback() {
        let router = RegionRouter::new();
        router.add_region(region("DE"), Arc::new(MemoryStore::new()));
        let t = TenantId::random().unwrap();
        assert!(matches!(
            router.place(t, &region("US")).await,
            Err(StoreError::Missing { what: "region" })
        ));
        assert!(router.route(t).await.unwrap().is_none());
        assert!(format!("{router:?}").contains("\"DE\""));
    }
}
