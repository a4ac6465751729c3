//! Tunables of the [`Authenticator`](crate::Authenticator): hashing cost and lockout
//! mode per tenant, token lifetimes, the credential-stuffing throttle, recovery.

use std::collections::HashMap;
use std::time::Duration;

use cai_core::id::TenantId;
use cai_core::throttle::ThrottlePolicy;

use crate::error::{AuthError, Result};
use crate::password::HashParams;
use crate::recovery_config::RecoveryConfig;

/// What happens when an account reaches its tenant's failed-login limit
/// (`PasswordPolicy::max_failed_attempts`, default 10) (R-A3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockoutMode {
    /// Locked until an administrator unlocks it (the seed platforms' rule).
    UntilAdminUnlocks,
    /// Locked for `base`, doubling with every further failure up to `max`; the lock
    /// ends by itself (Keycloak's temporary lockout). An administrator can still
    /// unlock at once.
    Temporary {
        /// The first lock's length.
        base: Duration,
        /// The longest lock.
        max: Duration,
    },
}

/// Settings a tenant may have apart from the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantAuthConfig {
    /// Argon2id cost of new hashes; stored hashes are re-hashed with it at the next
    /// successful login, so raising it upgrades every active account.
    pub hash: HashParams,
    /// What the failed-login limit does.
    pub lockout: LockoutMode,
}

impl Default for TenantAuthConfig {
    fn default() -> Self {
        Self {
            hash: HashParams::DEFAULT,
            lockout: LockoutMode::UntilAdminUnlocks,
        }
    }
}

/// The [`Authenticator`](crate::Authenticator)'s configuration.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// For every tenant not in `tenants`.
    pub defaults: TenantAuthConfig,
    /// Per-tenant settings.
    pub tenants: HashMap<TenantId, TenantAuthConfig>,
    /// A session ends after this long without a request (default 30 min; the last
    /// use is recorded at most once per `touch_interval`, so the end can come up to
    /// that much later).
    pub session_idle: Duration,
    /// A session ends this long after login, whatever its use (default 12 h).
    pub session_absolute: Duration,
    /// How often a session's last use is written back (default 1 min).
    pub touch_interval: Duration,
    /// How long a password-change ticket stays valid (default 10 min).
    pub ticket_validity: Duration,
    /// Most live tokens per account; the least recently used goes first (default 16).
    pub max_tokens_per_account: usize,
    /// An account's failure count starts over after this long without a failure
    /// (default 24 h).
    pub failure_window: Duration,
    /// Failed logins per client address across all accounts of a tenant (credential
    /// stuffing, R-U3): default 20 free, then 1 s doubling to 15 min; the first
    /// block raises a `RepeatedWrongSecret` incident.
    pub per_source: ThrottlePolicy,
    /// A guest token ends this long after the guest was admitted (default 12 h), or
    /// earlier at the guest's own end (the tenant's `guest_deactivate_after`, 6 h in
    /// the standard preset). Guest tokens have no idle timeout (see
    /// [`Authenticator::admit_guest`](crate::Authenticator::admit_guest)).
    pub guest_session_absolute: Duration,
    /// Wrong guest-link secrets per client address across all invitations of a tenant:
    /// default 20 free, then 1 s doubling to 15 min; the first block raises a
    /// `RepeatedWrongSecret` incident.
    pub guest_link_per_source: ThrottlePolicy,
    /// The WebAuthn relying party (feature `passkeys`); `None` (default): passkey
    /// operations answer [`AuthError::Config`].
    #[cfg(feature = "passkeys")]
    pub passkeys: Option<crate::passkeys::PasskeyConfig>,
    /// Password recovery and the four-eyes reset: validities, the mailed link,
    /// their throttles.
    pub recovery: RecoveryConfig,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            defaults: TenantAuthConfig::default(),
            tenants: HashMap::new(),
            session_idle: Duration::from_secs(30 * 60),
            session_absolute: Duration::from_secs(12 * 3600),
            touch_interval: Duration::from_secs(60),
            ticket_validity: Duration::from_secs(10 * 60),
            max_tokens_per_account: 16,
            failure_window: Duration::from_secs(24 * 3600),
            per_source: ThrottlePolicy {
                free_attempts: 20,
                ..ThrottlePolicy::default()
            },
            guest_session_absolute: Duration::from_secs(12 * 3600),
            guest_link_per_source: ThrottlePolicy {
                free_attempts: 20,
                ..ThrottlePolicy::default()
            },
            #[cfg(feature = "passkeys")]
            passkeys: None,
            recovery: RecoveryConfig::default(),
        }
    }
}

impl AuthConfig {
    /// The settings of `tenant`.
    pub fn tenant(&self, tenant: TenantId) -> &TenantAuthConfig {
        self.tenants.get(&tenant).unwrap_or(&self.defaults)
    }

    /// Checks every value.
    pub fn validate(&self) -> Result<()> {
        for t in std::iter::once(&self.defaults).chain(self.tenants.values()) {
            t.hash.validate()?;
            if let LockoutMode::Temporary { base, max } = t.lockout
                && (base < Duration::from_secs(1) || max < base || max > self.failure_window)
            {
                return Err(AuthError::Config(
                    "temporary lockout needs 1 s <= base <= max <= failure_window",
                ));
            }
        }
        if self.session_idle.is_zero()
            || self.session_absolute < self.session_idle
            || self.touch_interval >= self.session_idle
        {
            return Err(AuthError::Config(
                "sessions need 0 < touch_interval < idle <= absolute",
            ));
        }
        if self.ticket_validity.is_zero() || !(1..=256).contains(&self.max_tokens_per_account) {
            return Err(AuthError::Config(
                "ticket validity or token count out of range",
            ));
        }
        if self.guest_session_absolute.is_zero() {
            return Err(AuthError::Config("guest sessions need a positive lifetime"));
        }
        self.guest_link_per_source
            .validate()
            .map_err(|_| AuthError::Config("guest-link throttle invalid"))?;
        #[cfg(feature = "passkeys")]
        if let Some(p) = &self.passkeys {
            p.relying_party()?;
        }
        self.per_source
            .validate()
            .map_err(|_| AuthError::Config("per-source throttle invalid"))?;
        self.recovery.validate()
    }

    /// The per-account throttle for a tenant whose limit is `limit` failures: the
    /// `limit`-th failure crosses the threshold (and locks); in temporary mode each
    /// further failure doubles the lock.
    pub(crate) fn account_throttle(&self, tenant: TenantId, limit: u16) -> ThrottlePolicy {
        let (base, max) = match self.tenant(tenant).lockout {
            LockoutMode::Temporary { base, max } => (base, max),
            // The lock itself holds the account; the counter only has to mark the
            // crossing.
            LockoutMode::UntilAdminUnlocks => (Duration::from_secs(1), Duration::from_secs(1)),
        };
        ThrottlePolicy {
            free_attempts: u32::from(limit.max(1)) - 1,
            base_delay: base,
            max_delay: max,
            forget_after: self.failure_window.max(max),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_as_documented() {
        let c = AuthConfig::default();
        c.validate().unwrap();
        assert_eq!(c.defaults.hash, HashParams::DEFAULT);
        assert_eq!(c.defaults.lockout, LockoutMode::UntilAdminUnlocks);
        assert_eq!(c.session_idle, Duration::from_secs(1800));
        assert_eq!(c.per_source.free_attempts, 20);
    }

    #[test]
    fn inconsistent_values_are_refused() {
        let ok = AuthConfig::default();
        let temp = |base, max| AuthConfig {
            defaults: TenantAuthConfig {
                lockout: LockoutMode::Temporary { base, max },
                ..TenantAuthConfig::default()
            },
            ..AuthConfig::default()
        };
        let s = Duration::from_secs;
        temp(s(1), s(3600)).validate().unwrap();
        for bad in [
            temp(Duration::from_millis(999), s(60)),
            temp(s(60), s(59)),
            temp(s(60), s(25 * 3600)),
            AuthConfig {
                session_idle: Duration::ZERO,
                ..ok.clone()
            },
            AuthConfig {
                session_absolute: s(60),
                ..ok.clone()
            },
            AuthConfig {
                touch_interval: s(1800),
                ..ok.clone()
            },
            AuthConfig {
                max_tokens_per_account: 0,
                ..ok.clone()
            },
            AuthConfig {
                ticket_validity: Duration::ZERO,
                ..ok.clone()
            },
            AuthConfig {
                guest_session_absolute: Duration::ZERO,
                ..ok.clone()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_limit_th_failure_crosses_the_account_threshold() {
        let c = AuthConfig::default();
        let t = TenantId::random().unwrap();
        let p = c.account_throttle(t, 10);
        assert_eq!(p.delay_after(9), None);
        assert!(p.delay_after(10).is_some());
        let one = c.account_throttle(t, 1);
        assert!(one.delay_after(1).is_some());
        p.validate().unwrap();
    }

    #[test]
    fn tenants_can_differ_from_the_defaults() {
        let t = TenantId::random().unwrap();
        let mut c = AuthConfig::default();
        let special = TenantAuthConfig {
            hash: HashParams {
                memory_kib: 64 * 1024,
                ..HashParams::DEFAULT
            },
            lockout: LockoutMode::Temporary {
                base: Duration::from_secs(60),
                max: Duration::from_secs(3600),
            },
        };
        c.tenants.insert(t, special);
        assert_eq!(*c.tenant(t), special);
        assert_eq!(*c.tenant(TenantId::random().unwrap()), c.defaults);
        assert_eq!(c.account_throttle(t, 5).base_delay, Duration::from_secs(60));
    }
}
