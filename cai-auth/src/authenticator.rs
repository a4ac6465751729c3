//! [`Authenticator`]: the entry point, built over a `cai_core::Counselling` service (for
//! its ports — store router, clock, failure counters, blocking pool, notifier — and
//! for resolving administrators), the host's peppers and an [`AuthConfig`].

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use cai_core::id::{AccountId, ID_LEN, TenantId};
use cai_core::ports::DynStore;
use cai_core::{Counselling, Timestamp};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::config::AuthConfig;
use crate::error::{AuthError, Result};
use crate::password::{HashParams, hash_password, verify_password};
use crate::pepper::Peppers;

/// The failure counter of logins from one source across every account of a tenant
/// (credential stuffing) is keyed by this account id, which no real account has (it
/// is not a UUIDv7).
pub const ALL_ACCOUNTS: AccountId = AccountId::from_bytes([0; ID_LEN]);

/// Passwords, logins, lockout and session tokens of one deployment. Cheap to clone.
///
/// ```
/// use cai_auth::{AuthConfig, Authenticator, HashParams, Pepper, Peppers, TenantAuthConfig};
/// use cai_core::{Counselling, Ports};
///
/// # fn main() -> Result<(), cai_auth::AuthError> {
/// let svc = Counselling::new(Ports::in_memory().ports);
/// // The pepper comes from the host's secret store, never from the database.
/// let peppers = Peppers::new(Pepper::new("2026a", &[0x5a; 32])?);
/// let auth = Authenticator::new(svc, peppers, AuthConfig::default())?;
/// assert_eq!(auth.config().defaults.hash, HashParams::DEFAULT);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Authenticator {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) svc: Counselling,
    pub(crate) peppers: Peppers,
    pub(crate) config: AuthConfig,
    /// A hash of a random password per parameter set in use, verified in place of a
    /// missing one so an unknown account costs what a known one costs.
    dummies: HashMap<HashParams, Arc<str>>,
    argon2_runs: AtomicU64,
    /// The WebAuthn relying party built from `config.passkeys`.
    #[cfg(feature = "passkeys")]
    pub(crate) webauthn: Option<webauthn_rs::Webauthn>,
}

impl Authenticator {
    /// An authenticator over `svc`'s ports. Validates `config` and computes one dummy
    /// hash per parameter set (a few tens of milliseconds each, once).
    pub fn new(svc: Counselling, peppers: Peppers, config: AuthConfig) -> Result<Self> {
        config.validate()?;
        let mut dummies = HashMap::new();
        for t in std::iter::once(&config.defaults).chain(config.tenants.values()) {
            if let std::collections::hash_map::Entry::Vacant(slot) = dummies.entry(t.hash) {
                let mut random = Zeroizing::new([0u8; 32]);
                getrandom::fill(random.as_mut_slice()).map_err(|_| AuthError::Rng)?;
                let phc = hash_password(&peppers, &t.hash, random.as_slice())?;
                slot.insert(Arc::from(phc));
            }
        }
        #[cfg(feature = "passkeys")]
        let webauthn = config
            .passkeys
            .as_ref()
            .map(crate::passkeys::PasskeyConfig::relying_party)
            .transpose()?;
        Ok(Self {
            inner: Arc::new(Inner {
                svc,
                peppers,
                config,
                dummies,
                argon2_runs: AtomicU64::new(0),
                #[cfg(feature = "passkeys")]
                webauthn,
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &AuthConfig {
        &self.inner.config
    }

    /// The service it works over.
    pub fn service(&self) -> &Counselling {
        &self.inner.svc
    }

    /// How many Argon2id computations this authenticator has run (hashes and
    /// verifications), for metrics and for tests that check an unknown account costs
    /// what a known one costs.
    pub fn argon2_runs(&self) -> u64 {
        self.inner.argon2_runs.load(Ordering::Relaxed)
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.inner.svc.ports().clock.now()
    }

    /// The tenant's store, `None` for an unplaced tenant.
    pub(crate) async fn store(&self, tenant: TenantId) -> Result<Option<DynStore>> {
        Ok(self.inner.svc.ports().router.route(tenant).await?)
    }

    /// The params new hashes of `tenant` use.
    pub(crate) fn params(&self, tenant: TenantId) -> HashParams {
        self.inner.config.tenant(tenant).hash
    }

    /// A stand-in PHC string for `tenant`: same parameters as a fresh hash, matching
    /// no password anyone knows.
    pub(crate) fn dummy(&self, tenant: TenantId) -> Result<Arc<str>> {
        self.inner
            .dummies
            .get(&self.params(tenant))
            .cloned()
            .ok_or(AuthError::Config(
                "no dummy hash for the tenant's parameters",
            ))
    }

    /// An account id standing for an e-mail address without an account, stable per
    /// tenant and address, so its failures are counted (and blocked) exactly as a real
    /// account's are. Keyed with the pepper, so nobody can compute it from outside.
    pub(crate) fn phantom_account(&self, tenant: TenantId, email: &str) -> AccountId {
        let mut h = Sha256::new();
        h.update(b"cai-auth phantom account\0");
        h.update(self.inner.peppers.current().secret());
        h.update(tenant.as_bytes());
        h.update(email.to_lowercase().as_bytes());
        let digest = h.finalize();
        let mut id = [0u8; ID_LEN];
        for (out, b) in id.iter_mut().zip(digest.iter()) {
            *out = *b;
        }
        AccountId::from_bytes(id)
    }

    /// Verifies `password` against `phc` on the blocking pool.
    pub(crate) async fn verify(&self, phc: Arc<str>, password: &str) -> Result<bool> {
        let password = Zeroizing::new(password.as_bytes().to_vec());
        let this = self.clone();
        self.inner.argon2_runs.fetch_add(1, Ordering::Relaxed);
        cai_core::blocking::run(self.inner.svc.ports().blocking.as_ref(), move || {
            verify_password(&this.inner.peppers, &phc, &password)
        })
        .await?
    }

    /// Hashes `password` with `tenant`'s parameters on the blocking pool.
    pub(crate) async fn hash(&self, tenant: TenantId, password: &str) -> Result<String> {
        let password = Zeroizing::new(password.as_bytes().to_vec());
        let params = self.params(tenant);
        let this = self.clone();
        self.inner.argon2_runs.fetch_add(1, Ordering::Relaxed);
        cai_core::blocking::run(self.inner.svc.ports().blocking.as_ref(), move || {
            hash_password(&this.inner.peppers, &params, &password)
        })
        .await?
    }
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("peppers", &self.inner.peppers)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}
