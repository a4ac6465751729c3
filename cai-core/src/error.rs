//! The one error type of `cai-core`, with a stable [`ErrorCategory`] a host maps to a
//! response (an HTTP status, a gRPC code) and a JSON body ([`ErrorBody`]) that tells a
//! client what it may know and nothing more.

use std::time::Duration;

use cai_crypto::modes::SessionMode;
use serde::{Deserialize, Serialize};

use crate::authz::{Action, DenyReason};
use crate::ports::StoreError;

/// Everything that can go wrong in `cai-core`. Variants carry ids and reasons, never
/// secrets, passwords or content.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A text id did not parse.
    #[error("invalid {kind} id: {reason}")]
    InvalidId {
        /// The id type's prefix (`acc`, `ses`, …).
        kind: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// An input value failed validation.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What was being validated.
        what: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// An input was larger than its explicit limit.
    #[error("{what} larger than {limit} bytes")]
    TooLarge {
        /// What.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// Authorization denied the action.
    #[error("{action} denied: {reason}")]
    Denied {
        /// What was asked.
        action: Action,
        /// Why not.
        reason: DenyReason,
    },
    /// The object does not exist in this tenant (or the caller may not know that it
    /// exists elsewhere: a foreign tenant's object is "not found" too).
    #[error("{what} not found")]
    NotFound {
        /// What kind of object.
        what: &'static str,
    },
    /// A session was asked for in a mode less protective than the tenant's minimum.
    #[error("encryption mode {requested:?} is below the tenant's minimum {minimum:?}")]
    EncryptionDowngrade {
        /// What was asked for.
        requested: SessionMode,
        /// The tenant's floor.
        minimum: SessionMode,
    },
    /// The operation does not fit the session's encryption mode (for example plaintext
    /// posted to a client-sealed session, or a passphrase for a session-key session).
    #[error("not possible in a {mode:?} session: {reason}")]
    WrongMode {
        /// The session's mode.
        mode: SessionMode,
        /// What was wrong.
        reason: &'static str,
    },
    /// The request carries no valid identity (no token, an expired or revoked one).
    /// `cai-auth` answers this; the service itself never does.
    #[error("not authenticated")]
    Unauthenticated,
    /// The request contradicts the current state (for example adding as counsellor
    /// someone who takes part as a client). Asking again unchanged will not help.
    #[error("{what}: {reason}")]
    Conflict {
        /// What conflicts.
        what: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// Too many attempts: a brute-force throttle (room passwords, logins, codes) or a
    /// full work queue. Try again after `retry_after`.
    #[error("too many requests; retry after {} s", retry_after_secs(*retry_after))]
    TooManyRequests {
        /// How long to wait before the next attempt is considered.
        retry_after: Duration,
    },
    /// An invitation secret or room password was wrong, or the invitation is expired or
    /// used up. Deliberately one variant: the caller learns nothing about which.
    #[error("invitation or password not accepted")]
    NotAccepted,
    /// The caller cannot act: its account is unknown, deactivated, pseudonymised,
    /// locked or outside its validity window (R-I6), or its guest access expired.
    #[error("account is not usable now")]
    AccountNotUsable,
    /// The session is closed.
    #[error("session is closed")]
    SessionClosed,
    /// Client-sealed content names another key than the session's current one: the
    /// key epoch moved (someone lost access) since the client fetched its key. The
    /// client fetches the current key (`session_keys`; an end-to-end client processes
    /// `e2e_epochs`) and seals again. HTTP 409.
    #[error("sealed under another key than the session's current one ({reason})")]
    StaleKey {
        /// What the client does about it.
        reason: &'static str,
    },
    /// The history of this session may not be shared (tenant policy, R-E4b).
    #[error("history sharing is not allowed by the tenant")]
    HistorySharingNotAllowed,
    /// A storage port failed.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// Key custody (the `KeyProvider`) failed.
    #[error("key provider: {0}")]
    KeyProvider(String),
    /// A cryptographic operation failed (wrong key, tampered ciphertext, …).
    #[error("crypto: {0}")]
    Crypto(#[from] cai_crypto::Error),
    /// The mailer could not send.
    #[error("mailer: {0}")]
    Mailer(String),
    /// The operating system's random number generator failed.
    #[error("random number generator failed")]
    Rng,
    /// The brute-force counters (the `FailureCounter` port) failed.
    #[error("failure counter: {0}")]
    FailureCounter(String),
    /// Work that runs off the async executor (password hashing) could not run: the
    /// pool is shut down or the job failed.
    #[error("background work failed: {0}")]
    Blocking(String),
    /// The blob store (file bodies, the `BlobStore` port) failed.
    #[error("blob store: {0}")]
    BlobStore(String),
}

/// What kind of failure an [`Error`] is, for hosts that map errors to responses. Stable:
/// new variants of [`Error`] fall into one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCategory {
    /// No valid identity: log in again. HTTP 401.
    Unauthenticated,
    /// Known caller, not allowed (including a wrong invitation secret or room password,
    /// and an account outside its window). HTTP 403.
    Forbidden,
    /// Does not exist, or the caller may not know that it exists. HTTP 404.
    NotFound,
    /// Contradicts the current state, or lost a race with another change. HTTP 409.
    Conflict,
    /// The request itself is malformed or out of range. HTTP 400 (413 for
    /// [`Error::TooLarge`], see [`Error::http_status`]).
    InvalidInput,
    /// Slow down: try again after the given time. HTTP 429 with `Retry-After`.
    TooManyRequests,
    /// A dependency (store, key provider, mailer, worker pool) is unavailable; retrying
    /// later may work. HTTP 503.
    Unavailable,
    /// A bug or corrupt data; nothing the caller can fix. HTTP 500.
    Internal,
}

impl ErrorCategory {
    /// The snake_case name, as in JSON (`"not_found"`), for logs and metrics labels.
    pub const fn name(self) -> &'static str {
        match self {
            ErrorCategory::Unauthenticated => "unauthenticated",
            ErrorCategory::Forbidden => "forbidden",
            ErrorCategory::NotFound => "not_found",
            ErrorCategory::Conflict => "conflict",
            ErrorCategory::InvalidInput => "invalid_input",
            ErrorCategory::TooManyRequests => "too_many_requests",
            ErrorCategory::Unavailable => "unavailable",
            ErrorCategory::Internal => "internal",
        }
    }

    /// The HTTP status code a host answers with.
    pub const fn http_status(self) -> u16 {
        match self {
            ErrorCategory::Unauthenticated => 401,
            ErrorCategory::Forbidden => 403,
            ErrorCategory::NotFound => 404,
            ErrorCategory::Conflict => 409,
            ErrorCategory::InvalidInput => 400,
            ErrorCategory::TooManyRequests => 429,
            ErrorCategory::Unavailable => 503,
            ErrorCategory::Internal => 500,
        }
    }
}

/// The JSON body of an error response: what a client may learn. Internal details
/// (backend messages) never appear in it; log [`Error`] itself on the server.
///
/// ```json
/// {"category":"forbidden","code":"denied","message":"read_content denied: …","retry_after_secs":null}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The category (`"forbidden"`, `"not_found"`, …).
    pub category: ErrorCategory,
    /// A stable snake_case code per error case (`"denied"`, `"not_accepted"`, …).
    pub code: String,
    /// A human-readable message (English), safe to show.
    pub message: String,
    /// For `too_many_requests`: whole seconds to wait.
    pub retry_after_secs: Option<u64>,
}

impl Error {
    /// The category of this error.
    pub fn category(&self) -> ErrorCategory {
        use crate::ports::StoreError as S;
        match self {
            Error::Unauthenticated => ErrorCategory::Unauthenticated,
            Error::Denied { .. }
            | Error::NotAccepted
            | Error::AccountNotUsable
            | Error::HistorySharingNotAllowed => ErrorCategory::Forbidden,
            Error::NotFound { .. } => ErrorCategory::NotFound,
            Error::Conflict { .. } | Error::SessionClosed | Error::StaleKey { .. } => {
                ErrorCategory::Conflict
            }
            Error::InvalidId { .. }
            | Error::Invalid { .. }
            | Error::TooLarge { .. }
            | Error::EncryptionDowngrade { .. }
            | Error::WrongMode { .. } => ErrorCategory::InvalidInput,
            Error::TooManyRequests { .. } => ErrorCategory::TooManyRequests,
            Error::Store(S::Conflict { .. } | S::Missing { .. }) => ErrorCategory::Conflict,
            Error::Store(S::Backend(_))
            | Error::KeyProvider(_)
            | Error::Mailer(_)
            | Error::FailureCounter(_)
            | Error::Blocking(_)
            | Error::BlobStore(_) => ErrorCategory::Unavailable,
            // A client-sealed envelope that does not parse is the client's mistake.
            Error::Crypto(_) => ErrorCategory::InvalidInput,
            Error::Store(_) | Error::Rng => ErrorCategory::Internal,
        }
    }

    /// The HTTP status code for this error: the category's, except 413 for
    /// [`Error::TooLarge`].
    pub fn http_status(&self) -> u16 {
        match self {
            Error::TooLarge { .. } => 413,
            e => e.category().http_status(),
        }
    }

    /// A stable snake_case code for this error case.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidId { .. } => "invalid_id",
            Error::Invalid { .. } => "invalid",
            Error::TooLarge { .. } => "too_large",
            Error::Denied { .. } => "denied",
            Error::NotFound { .. } => "not_found",
            Error::EncryptionDowngrade { .. } => "encryption_downgrade",
            Error::WrongMode { .. } => "wrong_mode",
            Error::Unauthenticated => "unauthenticated",
            Error::Conflict { .. } => "conflict",
            Error::TooManyRequests { .. } => "too_many_requests",
            Error::NotAccepted => "not_accepted",
            Error::AccountNotUsable => "account_not_usable",
            Error::SessionClosed => "session_closed",
            Error::StaleKey { .. } => "stale_key",
            Error::HistorySharingNotAllowed => "history_sharing_not_allowed",
            Error::Store(_) => "store",
            Error::KeyProvider(_) => "key_provider",
            Error::Crypto(_) => "crypto",
            Error::Mailer(_) => "mailer",
            Error::Rng => "rng",
            Error::FailureCounter(_) => "failure_counter",
            Error::Blocking(_) => "blocking",
            Error::BlobStore(_) => "blob_store",
        }
    }

    /// The body to send to the client. Errors of dependencies (store, key provider,
    /// mailer, worker pool) and internal ones get a generic message: their details
    /// stay in the server's log.
    pub fn to_body(&self) -> ErrorBody {
        let category = self.category();
        let message = match (category, self) {
            (ErrorCategory::Unavailable, _) => {
                "a service the platform depends on is unavailable".into()
            }
            (ErrorCategory::Internal, _) => "internal error".into(),
            // Another tenant's id stays out of the answer.
            (
                _,
                Error::Denied {
                    action,
                    reason: DenyReason::TenantMismatch { .. },
                },
            ) => format!("{action} denied: not in this tenant"),
            _ => self.to_string(),
        };
        ErrorBody {
            category,
            code: self.code().to_owned(),
            message,
            retry_after_secs: match self {
                Error::TooManyRequests { retry_after } => Some(retry_after_secs(*retry_after)),
                _ => None,
            },
        }
    }
}

/// Whole seconds to wait, rounded up so a client never retries too early.
fn retry_after_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<crate::ports::CounterError> for Error {
    fn from(e: crate::ports::CounterError) -> Self {
        Error::FailureCounter(e.0)
    }
}

impl From<crate::ports::CheckError> for Error {
    fn from(e: crate::ports::CheckError) -> Self {
        match e {
            crate::ports::CheckError::Blocked(b) => Error::TooManyRequests {
                retry_after: b.retry_after,
            },
            crate::ports::CheckError::Counter(c) => c.into(),
            // A future kind of refusal is still a refusal to try now.
            #[allow(unreachable_patterns)]
            _ => Error::TooManyRequests {
                retry_after: Duration::from_secs(1),
            },
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn category_names_are_their_json() {
        use ErrorCategory::*;
        for c in [
            Unauthenticated,
            Forbidden,
            NotFound,
            Conflict,
            InvalidInput,
            TooManyRequests,
            Unavailable,
            Internal,
        ] {
            assert_eq!(
                serde_json::to_string(&c).unwrap(),
                format!("\"{}\"", c.name())
            );
        }
    }
}
