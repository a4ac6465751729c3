//! The one error type of `cai-core`.

use cai_crypto::modes::SessionMode;

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
    /// An invitation secret or room password was wrong, or the invitation is expired or
    /// used up. Deliberately one variant: the caller learns nothing about which.
    #[error("invitation or password not accepted")]
    NotAccepted,
    /// The account is deactivated, pseudonymised or outside its validity window (R-I6).
    #[error("account is not usable now")]
    AccountNotUsable,
    /// The session is closed.
    #[error("session is closed")]
    SessionClosed,
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
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
