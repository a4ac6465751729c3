//! The records the key and credential stores keep as opaque bytes for `cai-crypto` and
//! `cai-auth` — credentials, key custody, history grants, end-to-end epochs and key
//! packages — each with a `Debug` that leaves the bytes out.

use crate::id::{AccountId, SessionId, SubjectId, TenantId};
use crate::time::Timestamp;

/// Kinds of credential records kept for `cai-auth`. The bytes are `cai-auth`'s own
/// format (hashed or sealed); the store only keeps them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum CredentialKind {
    /// The password hash (Argon2id PHC string, peppered).
    Password,
    /// The TOTP secret (sealed).
    Totp,
    /// Failed-attempt counter and lock state.
    Lockout,
    /// A pending password recovery or reset (token hash, approvals).
    Recovery,
    /// A pending e-mail one-time code (hash).
    EmailCode,
    /// Session tokens (hashes) of the account.
    Tokens,
    /// Registered WebAuthn passkeys (public keys) and pending ceremonies.
    Passkeys,
    /// The OpenID Connect identity (issuer and subject) linked to the account.
    OidcLink,
}

impl CredentialKind {
    /// Every kind.
    pub const ALL: [CredentialKind; 8] = [
        CredentialKind::Password,
        CredentialKind::Totp,
        CredentialKind::Lockout,
        CredentialKind::Recovery,
        CredentialKind::EmailCode,
        CredentialKind::Tokens,
        CredentialKind::Passkeys,
        CredentialKind::OidcLink,
    ];

    /// Stable code for storage.
    pub const fn code(self) -> u8 {
        match self {
            CredentialKind::Password => 1,
            CredentialKind::Totp => 2,
            CredentialKind::Lockout => 3,
            CredentialKind::Recovery => 4,
            CredentialKind::EmailCode => 5,
            CredentialKind::Tokens => 6,
            CredentialKind::Passkeys => 7,
            CredentialKind::OidcLink => 8,
        }
    }

    /// The kind with this code.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// One credential record of an account.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// Its tenant.
    pub tenant: TenantId,
    /// Whose.
    pub account: AccountId,
    /// Which.
    pub kind: CredentialKind,
    /// `cai-auth`'s bytes (at most [`Credential::MAX_LEN`]).
    pub data: Vec<u8>,
    /// When it was last written.
    pub updated_at: Timestamp,
    /// Optimistic concurrency, as for every record.
    pub revision: u64,
}

impl Credential {
    /// Largest credential record.
    pub const MAX_LEN: usize = 64 * 1024;
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("tenant", &self.tenant)
            .field("account", &self.account)
            .field("kind", &self.kind)
            .field(
                "data",
                &format_args!("<{} bytes redacted>", self.data.len()),
            )
            .field("revision", &self.revision)
            .finish()
    }
}

/// Key material stored for a session epoch: a `cai-crypto` `KeyCustody` encoding.
/// `Debug` leaves out the bytes (passphrase custody holds an offline-guessable
/// verifier).
#[derive(Clone, PartialEq, Eq)]
pub struct StoredCustody {
    /// Its tenant.
    pub tenant: TenantId,
    /// The session.
    pub session: SessionId,
    /// The key epoch (passphrase sessions have epoch 0 only; server-managed and
    /// session-key sessions one custody per epoch, docs/CORE.md "Key epochs").
    pub epoch: u32,
    /// `KeyCustody::to_bytes`.
    pub custody: Vec<u8>,
}

/// A history grant (R-E4b): earlier epochs' secrets sealed to a counsellor's devices.
/// `Debug` leaves out the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct HistoryGrant {
    /// Its tenant.
    pub tenant: TenantId,
    /// The session.
    pub session: SessionId,
    /// The counsellor it was sealed for.
    pub recipient: AccountId,
    /// Who granted it.
    pub granted_by: AccountId,
    /// When.
    pub at: Timestamp,
    /// The sealed grant (`cai-crypto` e2e history bytes).
    pub grant: Vec<u8>,
}

/// One epoch of an end-to-end session's MLS group as the Delivery Service accepted it
/// (R-E4). Everything in it is public to the group's members and opens nothing: the
/// commit, the signed epoch record, the welcome (encrypted to the devices it adds) and
/// the server's public group state.
#[derive(Clone, PartialEq, Eq)]
pub struct E2eEpoch {
    /// Its tenant.
    pub tenant: TenantId,
    /// The session.
    pub session: SessionId,
    /// The epoch (0 when the group was created).
    pub epoch: u32,
    /// The commit (an MLS `PublicMessage`) that led into the epoch; empty for epoch 0.
    pub commit: Vec<u8>,
    /// The epoch's signed record (`cai_crypto::e2e::EpochRecord`).
    pub record: Vec<u8>,
    /// The welcome for the devices the commit added, if any.
    pub welcome: Option<Vec<u8>>,
    /// The Delivery Service's public group state in this epoch (`DsGroup::to_bytes`).
    pub group: Vec<u8>,
    /// Who committed (or created the group).
    pub committed_by: SubjectId,
    /// When.
    pub at: Timestamp,
}

impl std::fmt::Debug for E2eEpoch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("E2eEpoch")
            .field("session", &self.session)
            .field("epoch", &self.epoch)
            .field("commit", &format_args!("<{} bytes>", self.commit.len()))
            .field("welcome", &self.welcome.as_ref().map(Vec::len))
            .field("committed_by", &self.committed_by)
            .finish_non_exhaustive()
    }
}

/// A published MLS key package of one device (R-E4): one-time, or the device's
/// last-resort package, which is handed out but never consumed.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredKeyPackage {
    /// Its tenant.
    pub tenant: TenantId,
    /// The account or guest whose device it is.
    pub owner: SubjectId,
    /// The device id from its credential.
    pub device: Vec<u8>,
    /// Its `KeyPackageRef` (unique).
    pub reference: Vec<u8>,
    /// Whether it is the device's last-resort package.
    pub last_resort: bool,
    /// The `KeyPackage` MLS message.
    pub package: Vec<u8>,
    /// When it was published.
    pub published_at: Timestamp,
}

impl std::fmt::Debug for StoredKeyPackage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKeyPackage")
            .field("owner", &self.owner)
            .field("last_resort", &self.last_resort)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for StoredCustody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredCustody")
            .field("tenant", &self.tenant)
            .field("session", &self.session)
            .field("epoch", &self.epoch)
            .field(
                "custody",
                &format_args!("<{} bytes redacted>", self.custody.len()),
            )
            .finish()
    }
}

impl std::fmt::Debug for HistoryGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistoryGrant")
            .field("tenant", &self.tenant)
            .field("session", &self.session)
            .field("recipient", &self.recipient)
            .field("granted_by", &self.granted_by)
            .field("at", &self.at)
            .field(
                "grant",
                &format_args!("<{} bytes redacted>", self.grant.len()),
            )
            .finish()
    }
}
