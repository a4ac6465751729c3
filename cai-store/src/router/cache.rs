//! The stores a router has open, bounded: at most `limit` tenants are routed from
//! memory, and a new one takes the place of the least recently used tenant whose
//! store nobody holds.

use std::collections::HashMap;
use std::sync::Arc;

use cai_core::domain::Region;
use cai_core::id::TenantId;
use cai_core::ports::DynStore;

use super::Owned;

/// A routed tenant.
struct Cached {
    region: Region,
    store: DynStore,
    /// The tenant's own store (closed when evicted); `None` for a shared store, which
    /// belongs to the host.
    owned: Option<Owned>,
    last_used: u64,
}

impl Cached {
    /// Nobody but the cache holds the store, so closing it interrupts nothing. A shared
    /// store is never closed, so forgetting it is always safe.
    fn idle(&self) -> bool {
        self.owned.is_none() || Arc::strong_count(&self.store) == 1
    }
}

/// Every routed tenant's store is in use: none can be closed to make room.
#[derive(Debug)]
pub(super) struct Full;

/// The routed tenants.
pub(super) struct Cache {
    entries: HashMap<TenantId, Cached>,
    tick: u64,
    limit: usize,
}

impl Cache {
    pub(super) fn new(limit: usize) -> Self {
        Self {
            entries: HashMap::new(),
            tick: 0,
            limit,
        }
    }

    /// The tenant's store, marked as just used.
    pub(super) fn get(&mut self, tenant: TenantId) -> Option<DynStore> {
        self.tick += 1;
        let tick = self.tick;
        self.entries.get_mut(&tenant).map(|c| {
            c.last_used = tick;
            c.store.clone()
        })
    }

    /// Makes room for one more tenant: nothing when below the limit, else removes the
    /// least recently used idle tenant and returns its store to close (if it owned
    /// one). [`Full`] when every routed tenant's store is in use.
    pub(super) fn make_room(&mut self) -> Result<Option<Owned>, Full> {
        if self.entries.len() < self.limit {
            return Ok(None);
        }
        let victim = self
            .entries
            .iter()
            .filter(|(_, c)| c.idle())
            .min_by_key(|(_, c)| c.last_used)
            .map(|(t, _)| *t)
            .ok_or(Full)?;
        Ok(self.entries.remove(&victim).and_then(|c| c.owned))
    }

    /// Routes `tenant` to `store` from now on; the caller made room first.
    pub(super) fn insert(
        &mut self,
        tenant: TenantId,
        region: Region,
        store: DynStore,
        owned: Option<Owned>,
    ) {
        self.tick += 1;
        self.entries.insert(
            tenant,
            Cached {
                region,
                store,
                owned,
                last_used: self.tick,
            },
        );
    }

    /// Tenant stores open now (shared stores not counted).
    pub(super) fn open_stores(&self) -> usize {
        self.entries.values().filter(|c| c.owned.is_some()).count()
    }

    /// Every open tenant store, with its tenant and region.
    pub(super) fn owned(&self) -> Vec<(TenantId, Region, DynStore)> {
        self.entries
            .iter()
            .filter(|(_, c)| c.owned.is_some())
            .map(|(t, c)| (*t, c.region.clone(), c.store.clone()))
            .collect()
    }

    /// Forgets every tenant, returning the stores to close.
    pub(super) fn drain(&mut self) -> Vec<Owned> {
        self.entries.drain().filter_map(|(_, c)| c.owned).collect()
    }
}
