//! What `cai-auth` keeps in cai-core's credential records (`ports::Credential`): the
//! bytes are JSON of the types here. A backend stores them opaquely; only
//! `cai-auth` reads them.
//!
//! | [`CredentialKind`] | Record | Holds |
//! |---|---|---|
//! | `Password` | [`PasswordRecord`] | the peppered Argon2id PHC string, when it was set, whether a change is forced |
//! | `Tokens` | [`TokenRecord`] | SHA-256 hashes of the account's session tokens and single-use tickets, with their times |
//! | `Totp` | [`TotpRecord`](crate::TotpRecord) | the TOTP secret's data key wrapped by the tenant KEK, whether confirmed, the last accepted step |
//! | `Passkeys` | `PasskeysRecord` (feature `passkeys`) | the registered WebAuthn passkeys (public keys, counters) with labels and times, pending ceremonies, used passwordless tickets |
//! | `OidcLink` | `oidc::OidcLinkRecord` (feature `oidc`) | the OpenID Connect issuer and subject the account is linked to, and since when |
//! | `Recovery` | [`RecoveryRecord`] | the keyed hash of the last mailed recovery token (expiry, use), a four-eyes reset in progress (requester, approver, QR challenge, verification) |
//!
//! Every write carries the revision it read (cai-core's optimistic concurrency), so
//! two requests that both read a ticket cannot both consume it: the second write
//! conflicts, re-reads, and finds the ticket gone.

use std::fmt;

use cai_core::Timestamp;
use cai_core::id::{AccountId, TenantId};
use cai_core::ports::{Credential, CredentialKind, DynStore};
use serde::{Deserialize, Serialize};

use crate::error::{AuthError, Result};

/// The stored password of an account.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordRecord {
    /// The PHC string.
    pub phc: String,
    /// When the owner set it (Unix milliseconds).
    pub changed_at: i64,
    /// An administrator asked for a change: the next login yields
    /// [`LoginOutcome::MustChangePassword`](crate::LoginOutcome::MustChangePassword).
    #[serde(default)]
    pub must_change: bool,
}

impl fmt::Debug for PasswordRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordRecord")
            .field("phc", &"<redacted>")
            .field("changed_at", &self.changed_at)
            .field("must_change", &self.must_change)
            .finish()
    }
}

/// What a stored token is good for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenPurpose {
    /// A login session: yields a `Caller`.
    Session,
    /// A single-use ticket to set a new password after a login found the old one
    /// expired or a change forced; yields nothing else.
    PasswordChange,
    /// A single-use ticket for the second login step (a TOTP code).
    SecondFactor,
    /// A single-use ticket to enrol a second factor the tenant requires, before any
    /// session.
    Enrolment,
}

/// One token, by its hash.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenEntry {
    /// SHA-256 of the token text, hex.
    pub hash: String,
    /// What it is for.
    pub purpose: TokenPurpose,
    /// When it was issued (Unix ms).
    pub created_at: i64,
    /// When it was last seen (Unix ms), for the idle timeout; updated at most once a
    /// minute.
    pub last_used_at: i64,
    /// When the holder last proved who they are (Unix ms).
    pub authenticated_at: i64,
    /// Whether a second factor was verified at that time.
    pub second_factor: bool,
    /// The absolute end (Unix ms).
    pub expires_at: i64,
    /// Whether the holder's first factor was an external identity provider (OpenID
    /// Connect) rather than the password: the second step of such a login leaves the
    /// password's change rules out. Absent (`false`) in entries written before.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub external: bool,
}

impl fmt::Debug for TokenEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenEntry")
            .field("hash", &"<redacted>")
            .field("purpose", &self.purpose)
            .field("created_at", &self.created_at)
            .field("last_used_at", &self.last_used_at)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Every live token of an account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// Oldest first.
    pub entries: Vec<TokenEntry>,
}

/// What an account's `Recovery` credential record holds: the last mailed recovery
/// token and a four-eyes reset in progress (`docs/AUTH.md`, sections 4b and 4c). JSON:
/// `{"token":{…}|null,"reset":{…}|null}`. Times are Unix milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryRecord {
    /// The token last mailed (a newer request replaces it; a used one stays, marked,
    /// so a replay is recognised as such in the audit trail).
    #[serde(default)]
    pub token: Option<RecoveryTokenRecord>,
    /// The four-eyes reset in progress, if any.
    #[serde(default)]
    pub reset: Option<ResetRecord>,
}

/// A mailed recovery token, by its keyed hash.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryTokenRecord {
    /// HMAC-SHA-256 of the token's text under the pepper `pepper` (hex).
    pub hash: String,
    /// The pepper's id.
    pub pepper: String,
    /// When it was mailed.
    pub issued_at: i64,
    /// When it stops working (it is refused from this instant on).
    pub expires_at: i64,
    /// When it was used to set a password; `None` while unused.
    #[serde(default)]
    pub used_at: Option<i64>,
    /// Mailed on a four-eyes approval: the password can be set only after the QR step.
    #[serde(default)]
    pub four_eyes: bool,
}

impl fmt::Debug for RecoveryTokenRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecoveryTokenRecord")
            .field("hash", &"<redacted>")
            .field("pepper", &self.pepper)
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .field("used_at", &self.used_at)
            .field("four_eyes", &self.four_eyes)
            .finish()
    }
}

/// A four-eyes password reset (R-A6), step by step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetRecord {
    /// When it was requested.
    pub requested_at: i64,
    /// Who requested it: the account itself (self-service) or an administrator.
    pub requested_by: AccountId,
    /// When it lapses: the request's end while it awaits approval, the mailed
    /// token's end once approved.
    pub expires_at: i64,
    /// The administrator who approved it.
    #[serde(default)]
    pub approved_by: Option<AccountId>,
    /// When.
    #[serde(default)]
    pub approved_at: Option<i64>,
    /// The QR challenge shown on the user's screen, not confirmed yet.
    #[serde(default)]
    pub challenge: Option<ChallengeRecord>,
    /// When the approver confirmed the challenge.
    #[serde(default)]
    pub verified_at: Option<i64>,
    /// Until when the confirmation lets the password be set.
    #[serde(default)]
    pub verified_until: Option<i64>,
}

/// A QR challenge, by its keyed hash.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeRecord {
    /// HMAC-SHA-256 of the challenge under the pepper `pepper` (hex).
    pub hash: String,
    /// The pepper's id.
    pub pepper: String,
    /// When it stops working.
    pub expires_at: i64,
    /// Wrong confirmations so far.
    #[serde(default)]
    pub wrong: u8,
}

impl fmt::Debug for ChallengeRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChallengeRecord")
            .field("hash", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .field("wrong", &self.wrong)
            .finish()
    }
}

/// A record as read, with the revision to write it back under.
#[derive(Debug, Clone)]
pub(crate) struct Versioned<T> {
    pub(crate) value: T,
    /// 0: there was none.
    pub(crate) revision: u64,
}

pub(crate) trait Record: Serialize + for<'de> Deserialize<'de> {
    const KIND: CredentialKind;
    const WHAT: &'static str;
}

impl Record for PasswordRecord {
    const KIND: CredentialKind = CredentialKind::Password;
    const WHAT: &'static str = "password record";
}

impl Record for TokenRecord {
    const KIND: CredentialKind = CredentialKind::Tokens;
    const WHAT: &'static str = "token record";
}

impl Record for RecoveryRecord {
    const KIND: CredentialKind = CredentialKind::Recovery;
    const WHAT: &'static str = "recovery record";
}

pub(crate) async fn load<T: Record>(
    store: &DynStore,
    tenant: TenantId,
    account: AccountId,
) -> Result<Option<Versioned<T>>> {
    let Some(c) = store.credential(tenant, account, T::KIND).await? else {
        return Ok(None);
    };
    let value =
        serde_json::from_slice(&c.data).map_err(|_| AuthError::Corrupt { what: T::WHAT })?;
    Ok(Some(Versioned {
        value,
        revision: c.revision,
    }))
}

/// The write that stores `value` over the record read at `revision` (0: none).
pub(crate) fn put<T: Record>(
    tenant: TenantId,
    account: AccountId,
    value: &T,
    revision: u64,
    now: Timestamp,
) -> Result<cai_core::ports::Write> {
    let data = serde_json::to_vec(value).map_err(|_| AuthError::Corrupt { what: T::WHAT })?;
    if data.len() > Credential::MAX_LEN {
        return Err(AuthError::Corrupt { what: T::WHAT });
    }
    Ok(cai_core::ports::Write::PutCredential(Credential {
        tenant,
        account,
        kind: T::KIND,
        data,
        updated_at: now,
        revision,
    }))
}
