//! The one error type of `cai-crypto`.
//!
//! Variants name the condition, carry only public values (lengths, versions, ids) and
//! never key bytes, plaintext or passphrases. Callers match on variants, not strings.

/// Everything that can go wrong in `cai-crypto`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input ended before a complete structure could be read.
    #[error("{what} is truncated: needs at least {needed} bytes, got {got}")]
    Truncated {
        /// Which structure was being read.
        what: &'static str,
        /// Minimum number of bytes required.
        needed: usize,
        /// Number of bytes available.
        got: usize,
    },
    /// The input does not start with the magic bytes of the expected format.
    #[error("not a {expected}: unknown magic bytes")]
    BadMagic {
        /// The format that was expected.
        expected: &'static str,
    },
    /// The format version is not one this library reads.
    #[error("unsupported {what} version {version}")]
    UnsupportedVersion {
        /// Which format.
        what: &'static str,
        /// The version byte found.
        version: u8,
    },
    /// The algorithm suite is not one this library implements.
    #[error("unsupported algorithm suite {suite:#04x} in {what}")]
    UnsupportedSuite {
        /// Which format.
        what: &'static str,
        /// The suite byte found.
        suite: u8,
    },
    /// The input has the right shape but a field holds an invalid value.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// Which structure.
        what: &'static str,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// A length exceeds an explicit limit of this library.
    #[error("{what} is too large: {len} bytes, limit {limit}")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its length.
        len: u64,
        /// The limit.
        limit: u64,
    },
    /// A context field (tenant, session or item id) is empty or longer than allowed.
    #[error("invalid context field {field}: length {len} not in 1..={max}")]
    InvalidContext {
        /// The field name.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The maximum length.
        max: usize,
    },
    /// The ciphertext names a different key (id or epoch) than the one supplied.
    #[error("wrong key: ciphertext was sealed under another key id or epoch")]
    WrongKey,
    /// The key commitment in the ciphertext does not match the supplied key: the
    /// ciphertext was not made with this key. Checked before any decryption.
    #[error("key commitment mismatch: ciphertext was not made with this key")]
    KeyCommitmentMismatch,
    /// The AEAD tag did not verify: ciphertext, header or context were altered, or the
    /// context given to open differs from the one given to seal.
    #[error("authentication failed: ciphertext, header or context was altered")]
    AuthenticationFailed,
    /// The passphrase does not open this session's key.
    #[error("wrong passphrase")]
    WrongPassphrase,
    /// Key-derivation parameters read from input lie outside the accepted bounds.
    #[error("key-derivation parameters out of bounds: {reason}")]
    KdfParamsOutOfBounds {
        /// Which bound was violated.
        reason: &'static str,
    },
    /// Stored Argon2id parameters demand more than the client's cap allows (memory,
    /// passes or lanes): refused before any Argon2 work. Either the server raised them
    /// (a denial of service, or a way to exhaust a phone's memory) or the backup was
    /// made by a client with a higher policy.
    #[error("key-derivation {param} {got} is above this client's cap {cap}")]
    KdfParamsAboveCap {
        /// `"memory_kib"`, `"iterations"` or `"parallelism"`.
        param: &'static str,
        /// The stored value.
        got: u32,
        /// The client's cap.
        cap: u32,
    },
    /// Stored Argon2id parameters are cheaper than the client's floor: refused before
    /// any Argon2 work, because a server must not be able to downgrade a password slot.
    #[error("key-derivation {param} {got} is below this client's floor {floor}")]
    KdfParamsBelowFloor {
        /// `"memory_kib"`, `"iterations"` or `"parallelism"`.
        param: &'static str,
        /// The stored value.
        got: u32,
        /// The client's floor.
        floor: u32,
    },
    /// A new encryption password has fewer characters than the policy requires.
    #[error("password too short: at least {min_chars} characters are required")]
    PasswordTooShort {
        /// The policy's minimum, in Unicode characters.
        min_chars: usize,
    },
    /// A new encryption password is too easy to guess: its estimated strength (which
    /// discounts repeats, sequences, keyboard runs, years, common words and the account
    /// name) is below the policy's minimum.
    #[error(
        "password too predictable: estimated strength below {min_bits} bits (repeats, \
         sequences, keyboard runs, years, common words or the account name)"
    )]
    PasswordTooPredictable {
        /// The policy's minimum, in bits.
        min_bits: u32,
    },
    /// A key backup names another account than the one the client expected.
    #[error("key backup belongs to another account")]
    AccountMismatch,
    /// A key backup is older than the newest one this client has already seen: the
    /// server (or whoever serves it) is trying to roll the user back.
    #[error("key backup rolled back: version {got} is older than version {last_seen} already seen")]
    BackupRolledBack {
        /// The newest backup version the client has seen.
        last_seen: u64,
        /// The version offered.
        got: u64,
    },
    /// A stream ended without its final chunk: it was truncated.
    #[error("stream truncated: the final chunk is missing")]
    StreamTruncated,
    /// Bytes follow the final chunk of a stream.
    #[error("stream has data after its final chunk")]
    TrailingData,
    /// A signature did not verify.
    #[error("invalid signature")]
    InvalidSignature,
    /// A public key is malformed or of low order.
    #[error("invalid public key")]
    InvalidPublicKey,
    /// An X25519 exchange produced the all-zero shared secret (low-order peer key).
    #[error("X25519 shared secret is all zero: peer key has low order")]
    NonContributory,
    /// A key epoch is not newer than the one already accepted.
    #[error("stale key epoch {got}: epoch {current} is already accepted")]
    StaleEpoch {
        /// The newest accepted epoch.
        current: u32,
        /// The epoch offered.
        got: u32,
    },
    /// A signed bundle or roster is not acceptable for a stated reason.
    #[error("rejected {what}: {reason}")]
    Rejected {
        /// What was rejected.
        what: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// Nothing in the bundle is addressed to this device.
    #[error("no key is wrapped for this device")]
    NotARecipient,
    /// HPKE setup, seal or open failed.
    #[error("HPKE {op} failed")]
    Hpke {
        /// Which operation.
        op: &'static str,
    },
    /// SFrame protection or unprotection failed.
    #[error("SFrame: {reason}")]
    Sframe {
        /// Why.
        reason: &'static str,
    },
    /// A usage limit was reached (for instance seals per subkey or chunks per stream).
    #[error("limit reached: {what}")]
    LimitExceeded {
        /// Which limit.
        what: &'static str,
    },
    /// The operating system's random number generator failed.
    #[error("random number generator failed")]
    Rng,
    /// Reading or writing the underlying stream failed.
    #[error("I/O error: {0:?}")]
    Io(std::io::ErrorKind),
    /// No media key is held for the SFrame key id of a frame. In cai's layout the key id
    /// is `epoch << 16 | sender_index` (see [`crate::sframe::MediaKeyId`]), so a client can
    /// say whose key of which epoch it lacks (R-E4c).
    #[error(
        "no media key for SFrame key id {kid:#x} (epoch {}, sender {})",
        .kid >> 16,
        .kid & 0xffff
    )]
    UnknownMediaKey {
        /// The key id named by the frame.
        kid: u64,
    },
    /// An MLS (RFC 9420) operation failed: `op` names it, `reason` is the MLS library's
    /// description (it never contains key material).
    #[error("MLS {op} failed: {reason}")]
    Mls {
        /// Which operation.
        op: &'static str,
        /// Why, as the MLS library reports it.
        reason: String,
    },
    /// This device holds no keys for the epoch that content, a media frame or a record
    /// names (R-E4c): it joined later, was removed, or the history was not shared.
    #[error("no keys for epoch {epoch}: {reason}")]
    EpochUnavailable {
        /// The epoch.
        epoch: u64,
        /// Why the keys are missing.
        reason: &'static str,
    },
    /// A history grant was refused for one of its epochs (R-E4b, R-E4c): the epoch is
    /// not in the signed record chain, or its keys or members differ from the record.
    #[error("history grant refused at epoch {epoch}: {reason}")]
    HistoryRefused {
        /// The first epoch that failed.
        epoch: u64,
        /// Why.
        reason: &'static str,
    },
    /// A member or device is not trusted: its credential is not cross-signed by its
    /// user's identity key, or that key is unknown or differs from the one trusted.
    #[error("untrusted member: {reason}")]
    Untrusted {
        /// Why.
        reason: &'static str,
    },
}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Io(kind) => std::io::Error::from(kind),
            Error::StreamTruncated => std::io::Error::new(std::io::ErrorKind::UnexpectedEof, e),
            other => std::io::Error::new(std::io::ErrorKind::InvalidData, other),
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;
