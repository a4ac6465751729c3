//! The one error type of `cai-auth`. Variants name the condition and carry ids, limits
//! and rule names — never a password, token, code or hash.

use std::time::Duration;

use crate::password::PolicyViolation;

/// Everything that can go wrong in `cai-auth`.
///
/// Login answers are deliberately coarse: an unknown e-mail address, a wrong password,
/// a locked, deactivated or expired account all give [`AuthError::LoginFailed`], after
/// the same Argon2id work, so neither the message nor the timing tells a guesser
/// whether an account exists (ASVS 6.3.8).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The login was not accepted. Says nothing about why.
    #[error("login failed")]
    LoginFailed,
    /// A password given to confirm a change (the current one) was wrong.
    #[error("password not accepted")]
    WrongPassword,
    /// Too many attempts from this client or at this account: retry after the wait.
    /// Answer with HTTP 429 and `Retry-After`.
    #[error("too many attempts; retry in {} s", retry_after.as_secs().max(1))]
    TooManyRequests {
        /// How long to wait.
        retry_after: Duration,
    },
    /// A new password breaks the tenant's policy: every rule it breaks, in a stable
    /// order.
    #[error("password policy not met: {}", list(.0))]
    PolicyViolated(Vec<PolicyViolation>),
    /// The token is unknown, malformed, expired, used or revoked (one answer for all).
    #[error("invalid or expired token")]
    InvalidToken,
    /// A second-factor code was wrong, not fresh (already used), or lost a race with
    /// another use of a code.
    #[error("code not accepted")]
    WrongCode,
    /// The account already has a confirmed second factor (remove it first).
    #[error("a second factor is already set up")]
    SecondFactorExists,
    /// This needs a session that used a second factor.
    #[error("a second factor is required")]
    SecondFactorRequired,
    /// A password reset that needs four eyes (the account is a counsellor's or an
    /// administrator's, or the token was mailed on an approval) lacks a step: a second
    /// administrator's approval, or the approver's confirmation of the QR challenge.
    /// The token stays valid.
    #[error("the reset needs a second administrator's approval and confirmation first")]
    ResetIncomplete,
    /// The account already has a password, so a new one needs the current one.
    #[error("the account already has a password")]
    PasswordExists,
    /// The caller is not the account whose password this is: only the owner sets a
    /// password (R-A1).
    #[error("only the account's owner may set its password")]
    NotOwner,
    /// A configuration value is out of range.
    #[error("invalid configuration: {0}")]
    Config(&'static str),
    /// A stored credential record does not parse: corruption, not the caller's
    /// mistake.
    #[error("corrupt credential record: {what}")]
    Corrupt {
        /// Which record.
        what: &'static str,
    },
    /// Hashing could not run now (the blocking pool is full or gone).
    #[error("password hashing unavailable: {0}")]
    Unavailable(&'static str),
    /// The operating system's random number generator failed.
    #[error("random number generator failed")]
    Rng,
    /// The account already has the most passkeys it may have (feature `passkeys`,
    /// `PasskeyConfig::max_per_account`, default 10): remove one first.
    #[error("at most {max} passkeys per account")]
    TooManyPasskeys {
        /// The limit.
        max: usize,
    },
    /// A passkey registration was not accepted: malformed response, wrong challenge,
    /// origin or relying party, no user verification, or a credential the account
    /// already has (feature `passkeys`).
    #[error("passkey not accepted")]
    PasskeyRejected,
    /// An OpenID Connect ID token was not accepted (feature `oidc`): which check
    /// failed, never what the token says. Answer with HTTP 401; on
    /// [`OidcError::UnknownKey`](crate::oidc::OidcError::UnknownKey) fetch the JWKS
    /// again and retry once.
    #[cfg(feature = "oidc")]
    #[error("ID token not accepted: {0}")]
    Oidc(#[from] crate::oidc::OidcError),
    /// An error of the service or a port below (authorization, store, counters).
    #[error(transparent)]
    Core(#[from] cai_core::Error),
}

fn list(violations: &[PolicyViolation]) -> String {
    violations
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl From<cai_core::ports::StoreError> for AuthError {
    fn from(e: cai_core::ports::StoreError) -> Self {
        Self::Core(cai_core::Error::Store(e))
    }
}

impl From<cai_core::ports::CheckError> for AuthError {
    fn from(e: cai_core::ports::CheckError) -> Self {
        match e {
            cai_core::ports::CheckError::Blocked(b) => Self::TooManyRequests {
                retry_after: b.retry_after,
            },
            other => Self::Core(cai_core::Error::FailureCounter(other.to_string())),
        }
    }
}

impl From<cai_core::ports::CounterError> for AuthError {
    fn from(e: cai_core::ports::CounterError) -> Self {
        Self::Core(cai_core::Error::FailureCounter(e.to_string()))
    }
}

impl From<cai_core::blocking::BlockingError> for AuthError {
    fn from(e: cai_core::blocking::BlockingError) -> Self {
        match e {
            cai_core::blocking::BlockingError::Busy => Self::TooManyRequests {
                retry_after: Duration::from_secs(1),
            },
            cai_core::blocking::BlockingError::Failed => Self::Unavailable("hashing job failed"),
            _ => Self::Unavailable("no executor for hashing"),
        }
    }
}

/// `Result` with [`AuthError`].
pub type Result<T, E = AuthError> = std::result::Result<T, E>;
