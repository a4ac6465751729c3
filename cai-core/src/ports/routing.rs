//! Tenant placement (R-T2): which store holds a tenant's data. A single-store
//! deployment uses [`SingleStore`]; a multi-region one maps regions to stores with
//! [`RegionRouter`](crate::memory::RegionRouter) or its own router (for instance one
//! SQLite file or PostgreSQL database per tenant, in `cai-store`).

use async_trait::async_trait;

use super::store::{DynStore, StoreResult};
use crate::domain::Region;
use crate::id::TenantId;

/// Finds the store of a tenant.
#[async_trait]
pub trait TenantRouter: Send + Sync {
    /// Whether every store this router places tenants in can serve now, for health
    /// checks. The default answers yes; routers over several stores ask each.
    async fn health(&self) -> Result<(), super::Unhealthy> {
        Ok(())
    }

    /// The store for a new tenant in `region`; records the placement. An unknown
    /// region is an error, never a fallback to another region.
    async fn place(&self, tenant: TenantId, region: &Region) -> StoreResult<DynStore>;
    /// The store holding `tenant`, or `None` if the tenant is placed nowhere.
    async fn route(&self, tenant: TenantId) -> StoreResult<Option<DynStore>>;
}

/// Every tenant in one store.
#[derive(Clone)]
pub struct SingleStore(pub DynStore);

#[async_trait]
impl TenantRouter for SingleStore {
    async fn place(&self, _tenant: TenantId, _region: &Region) -> StoreResult<DynStore> {
        Ok(self.0.clone())
    }

    async fn route(&self, tenant: TenantId) -> StoreResult<Option<DynStore>> {
        Ok(self.0.tenant(tenant).await?.map(|_| self.0.clone()))
    }

    async fn health(&self) -> Result<(), super::Unhealthy> {
        self.0
            .health()
            .await
            .map_err(|e| super::Unhealthy(e.to_string()))
    }
}
