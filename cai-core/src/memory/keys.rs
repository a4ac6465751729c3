//! [`LocalKeyProvider`]: tenant KEKs held in process memory.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{PoisonError, RwLock};

use async_trait::async_trait;
use cai_crypto::DataKey;
use cai_crypto::hierarchy::{Kek, KekRing, WrappedKey};
use sha2::{Digest, Sha256};

use crate::id::TenantId;
use crate::ports::{KeyProvider, KeyProviderError};

/// A [`KeyProvider`] keeping one [`KekRing`] per tenant in memory: the embedded
/// default's key custody and the one tests use.
///
/// [`provision`](KeyProvider::provision) creates KEK version 1; [`rotate`](Self::rotate)
/// makes a new version current while older ones keep unwrapping. The KEKs are zeroized
/// when the provider is dropped and never appear in `Debug`. They are not persisted:
/// a deployment that must survive restarts loads them from its own key file or KMS.
///
/// [`shred`](KeyProvider::shred) can only *refuse* a context here: every session's keys
/// are wrapped under the tenant KEK, so a copy of a wrapped key (a database backup)
/// taken before still opens under that KEK in another process. Hosts that need
/// shredding to reach backups use a provider with a key per context (cai-store's
/// `VaultKeyProvider`).
#[derive(Default)]
pub struct LocalKeyProvider {
    rings: RwLock<BTreeMap<TenantId, KekRing>>,
    /// SHA-256 of each shredded (tenant, context): refused from then on.
    shredded: RwLock<BTreeSet<[u8; 32]>>,
}

impl LocalKeyProvider {
    /// A provider holding no keys.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rotates the tenant's KEK: a new version wraps from now on, older versions still
    /// unwrap. Returns the new version.
    pub fn rotate(&self, tenant: TenantId) -> Result<u32, KeyProviderError> {
        let mut rings = self.rings.write().unwrap_or_else(PoisonError::into_inner);
        let ring = rings
            .get_mut(&tenant)
            .ok_or(KeyProviderError::UnknownTenant)?;
        ring.rotate().map_err(other)
    }

    /// The KEK versions the tenant holds, newest first (empty for an unknown tenant).
    pub fn versions(&self, tenant: TenantId) -> Vec<u32> {
        self.rings
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&tenant)
            .map(KekRing::versions)
            .unwrap_or_default()
    }

    fn scope(tenant: TenantId, context: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(tenant.as_bytes());
        h.update(context);
        h.finalize().into()
    }

    fn refuse_shredded(&self, tenant: TenantId, context: &[u8]) -> Result<(), KeyProviderError> {
        let shredded = self.shredded.read().unwrap_or_else(PoisonError::into_inner);
        if shredded.contains(&Self::scope(tenant, context)) {
            return Err(KeyProviderError::Shredded);
        }
        Ok(())
    }

    fn with_ring<T>(
        &self,
        tenant: TenantId,
        f: impl FnOnce(&KekRing) -> Result<T, KeyProviderError>,
    ) -> Result<T, KeyProviderError> {
        let rings = self.rings.read().unwrap_or_else(PoisonError::into_inner);
        f(rings.get(&tenant).ok_or(KeyProviderError::UnknownTenant)?)
    }
}

/// `cai-crypto` errors name conditions and lengths, never key bytes.
fn other(e: cai_crypto::Error) -> KeyProviderError {
    KeyProviderError::Other(e.to_string())
}

#[async_trait]
impl KeyProvider for LocalKeyProvider {
    async fn provision(&self, tenant: TenantId) -> Result<(), KeyProviderError> {
        let mut rings = self.rings.write().unwrap_or_else(PoisonError::into_inner);
        if let Entry::Vacant(slot) = rings.entry(tenant) {
            slot.insert(KekRing::new(Kek::generate(1).map_err(other)?));
        }
        Ok(())
    }

    async fn wrap(
        &self,
        tenant: TenantId,
        key: &DataKey,
        context: &[u8],
    ) -> Result<WrappedKey, KeyProviderError> {
        self.refuse_shredded(tenant, context)?;
        self.with_ring(tenant, |ring| ring.wrap(key, context).map_err(other))
    }

    async fn unwrap(
        &self,
        tenant: TenantId,
        wrapped: &WrappedKey,
        context: &[u8],
    ) -> Result<DataKey, KeyProviderError> {
        self.refuse_shredded(tenant, context)?;
        self.with_ring(tenant, |ring| {
            ring.unwrap(wrapped, context)
                .map_err(|_| KeyProviderError::Unwrap)
        })
    }

    async fn shred(&self, tenant: TenantId, context: &[u8]) -> Result<(), KeyProviderError> {
        self.shredded
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(Self::scope(tenant, context));
        Ok(())
    }
}

impl fmt::Debug for LocalKeyProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Tenant ids and versions only; `KekRing`'s own Debug is redacted too.
        let tenants = self.rings.read().map(|r| r.len()).ok();
        f.debug_struct("LocalKeyProvider")
            .field("tenants", &tenants)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use cai_crypto::KeyEpoch;
    use cai_crypto::hierarchy::session_wrap_context;

    use super::*;

    fn tenant() -> TenantId {
        TenantId::random().unwrap()
    }

    fn ctx(session: &[u8]) -> Vec<u8> {
        session_wrap_context(b"tenant", session).unwrap()
    }

    #[tokio::test]
    async fn wraps_and_unwraps_for_the_same_context_only() {
        let keys = LocalKeyProvider::new();
        let t = tenant();
        keys.provision(t).await.unwrap();
        keys.provision(t).await.unwrap(); // idempotent: still version 1 only
        assert_eq!(keys.versions(t), vec![1]);
        let dek = DataKey::generate(KeyEpoch::INITIAL).unwrap();
        let wrapped = keys.wrap(t, &dek, &ctx(b"s1")).await.unwrap();
        assert_eq!(keys.unwrap(t, &wrapped, &ctx(b"s1")).await.unwrap(), dek);
        assert!(matches!(
            keys.unwrap(t, &wrapped, &ctx(b"s2")).await,
            Err(KeyProviderError::Unwrap)
        ));
    }

    #[tokio::test]
    async fn provisioning_twice_keeps_the_key() {
        let keys = LocalKeyProvider::new();
        let t = tenant();
        keys.provision(t).await.unwrap();
        let dek = DataKey::generate(KeyEpoch::INITIAL).unwrap();
        let wrapped = keys.wrap(t, &dek, &ctx(b"s")).await.unwrap();
        keys.provision(t).await.unwrap();
        assert_eq!(keys.unwrap(t, &wrapped, &ctx(b"s")).await.unwrap(), dek);
    }

    #[tokio::test]
    async fn tenants_do_not_share_keys() {
        let keys = LocalKeyProvider::new();
        let (a, b) = (tenant(), tenant());
        keys.provision(a).await.unwrap();
        keys.provision(b).await.unwrap();
        let dek = DataKey::generate(KeyEpoch::INITIAL).unwrap();
        let wrapped = keys.wrap(a, &dek, &ctx(b"s")).await.unwrap();
        assert!(matches!(
            keys.unwrap(b, &wrapped, &ctx(b"s")).await,
            Err(KeyProviderError::Unwrap)
        ));
    }

    #[tokio::test]
    async fn rotation_keeps_old_keys_readable() {
        let keys = LocalKeyProvider::new();
        let t = tenant();
        keys.provision(t).await.unwrap();
        let dek = DataKey::generate(KeyEpoch::INITIAL).unwrap();
        let old = keys.wrap(t, &dek, &ctx(b"s")).await.unwrap();
        assert_eq!(keys.rotate(t).unwrap(), 2);
        assert_eq!(keys.versions(t), vec![2, 1]);
        let new = keys.wrap(t, &dek, &ctx(b"s")).await.unwrap();
        assert_eq!(old.kek_version(), 1);
        assert_eq!(new.kek_version(), 2);
        assert_eq!(keys.unwrap(t, &old, &ctx(b"s")).await.unwrap(), dek);
        assert_eq!(keys.unwrap(t, &new, &ctx(b"s")).await.unwrap(), dek);
    }

    #[tokio::test]
    async fn unknown_tenant_is_named() {
        let keys = LocalKeyProvider::new();
        let t = tenant();
        let dek = DataKey::generate(KeyEpoch::INITIAL).unwrap();
        assert!(matches!(
            keys.wrap(t, &dek, &ctx(b"s")).await,
            Err(KeyProviderError::UnknownTenant)
        ));
        assert!(matches!(
            keys.rotate(t),
            Err(KeyProviderError::UnknownTenant)
        ));
        keys.provision(t).await.unwrap();
        let wrapped = keys.wrap(t, &dek, &ctx(b"s")).await.unwrap();
        assert!(matches!(
            keys.unwrap(tenant(), &wrapped, &ctx(b"s")).await,
            Err(KeyProviderError::UnknownTenant)
        ));
    }

    #[tokio::test]
    async fn empty_context_is_an_error_not_a_panic() {
        let keys = LocalKeyProvider::new();
        let t = tenant();
        keys.provision(t).await.unwrap();
        let dek = DataKey::generate(KeyEpoch::INITIAL).unwrap();
        assert!(matches!(
            keys.wrap(t, &dek, b"").await,
            Err(KeyProviderError::Other(_))
        ));
    }

    #[tokio::test]
    async fn shredding_refuses_the_context_only() {
        let keys = LocalKeyProvider::new();
        let (t, other) = (tenant(), tenant());
        keys.provision(t).await.unwrap();
        keys.provision(other).await.unwrap();
        let dek = DataKey::generate(KeyEpoch::INITIAL).unwrap();
        let gone = keys.wrap(t, &dek, &ctx(b"s1")).await.unwrap();
        let kept = keys.wrap(t, &dek, &ctx(b"s2")).await.unwrap();
        let elsewhere = keys.wrap(other, &dek, &ctx(b"s1")).await.unwrap();
        keys.shred(t, &ctx(b"s1")).await.unwrap();
        keys.shred(t, &ctx(b"s1")).await.unwrap(); // idempotent
        assert!(matches!(
            keys.unwrap(t, &gone, &ctx(b"s1")).await,
            Err(KeyProviderError::Shredded)
        ));
        assert!(matches!(
            keys.wrap(t, &dek, &ctx(b"s1")).await,
            Err(KeyProviderError::Shredded)
        ));
        assert_eq!(keys.unwrap(t, &kept, &ctx(b"s2")).await.unwrap(), dek);
        assert_eq!(
            keys.unwrap(other, &elsewhere, &ctx(b"s1")).await.unwrap(),
            dek
        );
    }

    #[tokio::test]
    async fn debug_shows_no_key_material() {
        let keys = LocalKeyProvider::new();
        let t = tenant();
        keys.provision(t).await.unwrap();
        let secret = {
            let rings = keys.rings.read().unwrap();
            hex::encode(rings[&t].current().secret().expose_secret())
        };
        let shown = format!("{keys:?}");
        assert!(shown.contains("tenants: Some(1)"), "{shown}");
        assert!(!shown.contains(&secret));
    }
}
