//! Key custody (the tenant KEK) as a port. The service never sees a KEK: it asks the
//! provider to wrap and unwrap session data keys, which is what a KMS or HSM offers.
//! [`LocalKeyProvider`](crate::memory::LocalKeyProvider) keeps KEKs in memory for the
//! embedded default and tests.

use async_trait::async_trait;
use cai_crypto::DataKey;
use cai_crypto::hierarchy::WrappedKey;

use crate::id::TenantId;

/// Wraps and unwraps data keys under a tenant's key-encryption key.
#[async_trait]
pub trait KeyProvider: Send + Sync {
    /// Whether this port can serve now, for health checks ([`Counselling::health`]).
    /// The default answers yes; a backend that talks to a server overrides it with a
    /// cheap round trip (a `SELECT 1`, a KMS key lookup, an SMTP `NOOP`).
    ///
    /// [`Counselling::health`]: crate::Counselling::health
    async fn health(&self) -> Result<(), super::Unhealthy> {
        Ok(())
    }

    /// Creates the tenant's first KEK. Idempotent.
    async fn provision(&self, tenant: TenantId) -> Result<(), KeyProviderError>;
    /// Wraps `key` under the tenant's current KEK, bound to `context`.
    async fn wrap(
        &self,
        tenant: TenantId,
        key: &DataKey,
        context: &[u8],
    ) -> Result<WrappedKey, KeyProviderError>;
    /// Unwraps a key wrapped by [`wrap`](Self::wrap) (under any KEK version the tenant
    /// still holds).
    async fn unwrap(
        &self,
        tenant: TenantId,
        wrapped: &WrappedKey,
        context: &[u8],
    ) -> Result<DataKey, KeyProviderError>;
    /// Crypto-shredding (R-P4): from now on nothing wrapped under `context` (one
    /// session's keys: the service wraps each session's keys under its own context)
    /// unwraps here, and wrapping under it is refused — both
    /// [`KeyProviderError::Shredded`]. Idempotent; shredding a context never used
    /// succeeds too.
    ///
    /// What it reaches depends on the provider, and a host should know which it has:
    /// a provider that keeps a key per context and destroys it (cai-store's
    /// `VaultKeyProvider`) makes every copy of the wrapped keys — in database
    /// backups, exports, replicas — unreadable for good; one that wraps everything
    /// under a tenant KEK can only refuse the context
    /// ([`LocalKeyProvider`](crate::memory::LocalKeyProvider)), so a backup restored
    /// beside the same KEK still opens.
    async fn shred(&self, tenant: TenantId, context: &[u8]) -> Result<(), KeyProviderError>;
}

/// A key custody failure. Never carries key bytes.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum KeyProviderError {
    /// The tenant has no KEK here.
    #[error("no key for tenant")]
    UnknownTenant,
    /// Unwrapping failed: wrong context, unknown KEK version, or a tampered key.
    #[error("unwrap failed")]
    Unwrap,
    /// The context was shredded ([`KeyProvider::shred`]): its keys are gone for good.
    #[error("the key was shredded")]
    Shredded,
    /// The provider failed otherwise (KMS unreachable, …).
    #[error("key provider: {0}")]
    Other(String),
}
