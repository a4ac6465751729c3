//! [`VaultKeyProvider`]: crypto-shredding that reaches backups (R-P4).
//!
//! cai-core wraps each session's data keys under a context naming the tenant and the
//! session. A provider with one tenant KEK can only *refuse* a shredded context: the
//! wrapped keys sit in the database, so a backup restored beside the same KEK opens
//! them again. This provider keeps **one random key per context** (a *scope key*) in a
//! small SQLite file of its own — the vault — and wraps data keys under it; the scope
//! key itself is stored wrapped under the tenant's KEK at an inner provider (a KMS,
//! an HSM, or `cai_core::memory::LocalKeyProvider` loaded from the host's key file).
//! Shredding deletes the scope key from the vault (with `secure_delete` on and the WAL
//! truncated, so its bytes leave the file) and records the context as shredded.
//! From then on every copy of the session's wrapped keys — in database backups,
//! exports, replicas — is ciphertext nobody can open, because the key that unwraps it
//! no longer exists anywhere the database's backups reach.
//!
//! What that asks of the host (`docs/STORE.md`, "Crypto-shredding"):
//! - keep the vault file apart from the database and out of its backups;
//! - back the vault up on its own, with copies kept no longer than the deletion
//!   promise (a vault backup restored later brings shredded keys back);
//! - losing the vault loses every key in it: server-managed and session-key content
//!   becomes unreadable, as after shredding.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//!
//! use cai_core::memory::LocalKeyProvider;
//! use cai_core::ports::KeyProvider;
//! use cai_store::keyvault::VaultKeyProvider;
//!
//! let dir = tempfile::tempdir()?;
//! let kek = Arc::new(LocalKeyProvider::new()); // the host's KMS in production
//! let keys = VaultKeyProvider::open(dir.path().join("vault.db"), kek).await?;
//! # let _ = keys.health().await;
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use cai_core::id::TenantId;
use cai_core::ports::{KeyProvider, KeyProviderError, Unhealthy};
use cai_crypto::hierarchy::{KEK_ID_LEN, Kek, KekId, WrappedKey};
use cai_crypto::{DataKey, KeyEpoch, KeyId};
use sha2::{Digest, Sha256};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::error::OpenError;

/// Domain label of a scope: `SHA-256(LABEL ‖ context)` names a context in the vault.
const SCOPE_LABEL: &[u8] = b"cai vault scope v1";
/// Context under which the inner provider wraps a scope key: `LABEL ‖ scope`.
const SCOPE_KEY_LABEL: &[u8] = b"cai vault scope key v1";
/// Scope keys are KEKs of version 1: each scope has exactly one key, never rotated.
const SCOPE_KEK_VERSION: u32 = 1;

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS scope_keys (
        tenant BLOB NOT NULL,
        scope BLOB NOT NULL,
        kek_id BLOB NOT NULL,
        wrapped BLOB NOT NULL,
        PRIMARY KEY (tenant, scope)
    ) STRICT, WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS shredded (
        tenant BLOB NOT NULL,
        scope BLOB NOT NULL,
        PRIMARY KEY (tenant, scope)
    ) STRICT, WITHOUT ROWID",
];

/// A [`KeyProvider`] with one key per wrap context in a vault file of its own, so
/// that [`shred`](KeyProvider::shred) makes every copy of a session's wrapped keys
/// unreadable, old database backups included. See the [module docs](self).
#[derive(Clone)]
pub struct VaultKeyProvider {
    pool: SqlitePool,
    inner: Arc<dyn KeyProvider>,
    path: PathBuf,
}

impl VaultKeyProvider {
    /// Opens (creating it if missing) the vault at `path`; scope keys are wrapped
    /// under the tenant KEKs of `inner`. The vault must not be the database file.
    pub async fn open(
        path: impl AsRef<Path>,
        inner: Arc<dyn KeyProvider>,
    ) -> Result<Self, OpenError> {
        let path = path.as_ref().to_path_buf();
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // A lost scope key is lost content: every write survives a power cut.
            .synchronous(SqliteSynchronous::Full)
            // Deleted keys are overwritten with zeros in the file.
            .pragma("secure_delete", "ON")
            .busy_timeout(Duration::from_secs(5));
        // One connection: writes are rare and small, and a single connection makes
        // "read the scope key, or create it" free of races.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        for sql in SCHEMA {
            sqlx::query(sql).execute(&pool).await?;
        }
        Ok(Self { pool, inner, path })
    }

    /// The vault file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many scope keys the vault holds (live, not shredded) for `tenant`.
    pub async fn live_keys(&self, tenant: TenantId) -> Result<u64, KeyProviderError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM scope_keys WHERE tenant = ?")
            .bind(tenant.as_bytes().as_slice())
            .fetch_one(&self.pool)
            .await
            .map_err(vault_error)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Closes the vault's connection (checkpointing its WAL).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    fn scope(context: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(SCOPE_LABEL);
        h.update(context);
        h.finalize().into()
    }

    fn scope_key_context(scope: &[u8; 32]) -> Vec<u8> {
        [SCOPE_KEY_LABEL, scope.as_slice()].concat()
    }

    async fn is_shredded(
        &self,
        tenant: TenantId,
        scope: &[u8; 32],
    ) -> Result<bool, KeyProviderError> {
        let row: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM shredded WHERE tenant = ? AND scope = ?")
                .bind(tenant.as_bytes().as_slice())
                .bind(scope.as_slice())
                .fetch_optional(&self.pool)
                .await
                .map_err(vault_error)?;
        Ok(row.is_some())
    }

    /// The scope's key, if the vault holds one.
    async fn scope_kek(
        &self,
        tenant: TenantId,
        scope: &[u8; 32],
    ) -> Result<Option<Kek>, KeyProviderError> {
        let row: Option<(Vec<u8>, Vec<u8>)> =
            sqlx::query_as("SELECT kek_id, wrapped FROM scope_keys WHERE tenant = ? AND scope = ?")
                .bind(tenant.as_bytes().as_slice())
                .bind(scope.as_slice())
                .fetch_optional(&self.pool)
                .await
                .map_err(vault_error)?;
        let Some((id, wrapped)) = row else {
            return Ok(None);
        };
        let corrupt = || KeyProviderError::Other("vault: corrupt scope key row".to_owned());
        let id: [u8; KEK_ID_LEN] = id.try_into().map_err(|_| corrupt())?;
        let wrapped = WrappedKey::parse(&wrapped).map_err(|_| corrupt())?;
        let key = self
            .inner
            .unwrap(tenant, &wrapped, &Self::scope_key_context(scope))
            .await?;
        Ok(Some(Kek::from_parts(
            KekId::from_bytes(id),
            SCOPE_KEK_VERSION,
            key.secret().clone(),
        )))
    }

    /// The scope's key, created (at random, stored wrapped at the inner provider)
    /// when the vault holds none.
    async fn scope_kek_or_new(
        &self,
        tenant: TenantId,
        scope: &[u8; 32],
    ) -> Result<Kek, KeyProviderError> {
        if let Some(kek) = self.scope_kek(tenant, scope).await? {
            return Ok(kek);
        }
        let kek = Kek::generate(SCOPE_KEK_VERSION).map_err(crypto_error)?;
        let as_key = DataKey::from_parts(
            KeyId::random().map_err(crypto_error)?,
            KeyEpoch::INITIAL,
            kek.secret().clone(),
        );
        let wrapped = self
            .inner
            .wrap(tenant, &as_key, &Self::scope_key_context(scope))
            .await?;
        // The shredded check and the insert are one statement: a context shredded in
        // between never gets a new key.
        let inserted = sqlx::query(
            "INSERT INTO scope_keys (tenant, scope, kek_id, wrapped) \
             SELECT ?, ?, ?, ? WHERE NOT EXISTS \
               (SELECT 1 FROM shredded WHERE tenant = ? AND scope = ?) \
             ON CONFLICT (tenant, scope) DO NOTHING",
        )
        .bind(tenant.as_bytes().as_slice())
        .bind(scope.as_slice())
        .bind(kek.id().as_bytes().as_slice())
        .bind(wrapped.to_bytes().as_slice())
        .bind(tenant.as_bytes().as_slice())
        .bind(scope.as_slice())
        .execute(&self.pool)
        .await
        .map_err(vault_error)?
        .rows_affected();
        if inserted == 1 {
            return Ok(kek);
        }
        // Another wrap created it first, or the context was shredded meanwhile.
        match self.scope_kek(tenant, scope).await? {
            Some(kek) => Ok(kek),
            None => Err(KeyProviderError::Shredded),
        }
    }
}

/// Store failures name the vault, never key bytes.
fn vault_error(e: sqlx::Error) -> KeyProviderError {
    KeyProviderError::Other(format!("vault: {e}"))
}

fn crypto_error(e: cai_crypto::Error) -> KeyProviderError {
    KeyProviderError::Other(e.to_string())
}

#[async_trait]
impl KeyProvider for VaultKeyProvider {
    async fn health(&self) -> Result<(), Unhealthy> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(|e| Unhealthy(format!("vault: {e}")))?;
        self.inner.health().await
    }

    async fn provision(&self, tenant: TenantId) -> Result<(), KeyProviderError> {
        self.inner.provision(tenant).await
    }

    async fn wrap(
        &self,
        tenant: TenantId,
        key: &DataKey,
        context: &[u8],
    ) -> Result<WrappedKey, KeyProviderError> {
        let scope = Self::scope(context);
        if self.is_shredded(tenant, &scope).await? {
            return Err(KeyProviderError::Shredded);
        }
        let kek = self.scope_kek_or_new(tenant, &scope).await?;
        kek.wrap(key, context).map_err(crypto_error)
    }

    async fn unwrap(
        &self,
        tenant: TenantId,
        wrapped: &WrappedKey,
        context: &[u8],
    ) -> Result<DataKey, KeyProviderError> {
        let scope = Self::scope(context);
        if self.is_shredded(tenant, &scope).await? {
            return Err(KeyProviderError::Shredded);
        }
        let kek = self
            .scope_kek(tenant, &scope)
            .await?
            .ok_or(KeyProviderError::Unwrap)?;
        if wrapped.kek_id() != kek.id() {
            return Err(KeyProviderError::Unwrap);
        }
        kek.unwrap(wrapped, context)
            .map_err(|_| KeyProviderError::Unwrap)
    }

    async fn shred(&self, tenant: TenantId, context: &[u8]) -> Result<(), KeyProviderError> {
        let scope = Self::scope(context);
        let mut tx = self.pool.begin().await.map_err(vault_error)?;
        sqlx::query("INSERT INTO shredded (tenant, scope) VALUES (?, ?) ON CONFLICT DO NOTHING")
            .bind(tenant.as_bytes().as_slice())
            .bind(scope.as_slice())
            .execute(&mut *tx)
            .await
            .map_err(vault_error)?;
        let deleted = sqlx::query("DELETE FROM scope_keys WHERE tenant = ? AND scope = ?")
            .bind(tenant.as_bytes().as_slice())
            .bind(scope.as_slice())
            .execute(&mut *tx)
            .await
            .map_err(vault_error)?
            .rows_affected();
        tx.commit().await.map_err(vault_error)?;
        if deleted > 0 {
            // The deleted key's page may still sit in the WAL: copy it back (zeroed,
            // secure_delete) and empty the WAL file.
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&self.pool)
                .await
                .map_err(vault_error)?;
        }
        Ok(())
    }
}

impl fmt::Debug for VaultKeyProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultKeyProvider")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}
