//! WebAuthn passkeys (feature `passkeys`, over [`webauthn-rs`](https://docs.rs/webauthn-rs)):
//! registered by their owner, used as the **second factor** of a password login, or
//! alone for a **passwordless login** (discoverable credentials, conditional UI).
//!
//! Every ceremony exchanges the WebAuthn spec's JSON with the browser
//! (<https://www.w3.org/TR/webauthn-3/>): the server hands out
//! `PublicKeyCredentialCreationOptions` / `PublicKeyCredentialRequestOptions` wrapped as
//! `{"publicKey": …}` (webauthn-rs's `CreationChallengeResponse` /
//! `RequestChallengeResponse`, which `navigator.credentials.create/get` take after the
//! usual base64url → `ArrayBuffer` decoding), and takes back the `PublicKeyCredential`
//! the browser returns, encoded as JSON (`PublicKeyCredential.toJSON()`).
//!
//! **Why a passkey login is AAL2.** webauthn-rs's passkey ceremonies demand user
//! verification (`userVerification: "required"`, and the UV flag is checked in every
//! assertion): the authenticator proves possession of the private key *and* that it
//! verified the user (PIN or biometrics) — two factors in one device, a "multi-factor
//! cryptographic authenticator" in NIST SP 800-63B's terms (§ 5.1.9), which meets AAL2.
//! Ory Kratos treats a passkey login the same way (`aal2`). A login that used a passkey
//! (alone, or after the password) therefore yields a session with
//! `authentication.second_factor = true`.
//!
//! **User handle.** The WebAuthn `user.id` of an account is its account id (16 bytes,
//! a UUIDv7): stable for the account's life, no e-mail address or name inside, and the
//! key by which a passwordless login finds the account. Account ids are names, not
//! secrets (session tokens carry them in clear too).
//!
//! Storage: one [`PasskeysRecord`] per account (`CredentialKind::Passkeys`, JSON), with
//! at most [`PasskeyConfig::max_per_account`] passkeys (default
//! [`DEFAULT_MAX_PASSKEYS`]), each with its label and times, plus the pending
//! ceremonies' state (single-use, expiring after
//! [`PasskeyConfig::ceremony_validity`], default 5 minutes).

mod login;

use std::fmt;
use std::time::Duration;

use cai_core::authz::Decision;
use cai_core::domain::{Account, AuditActor, AuditKind, AuditObject, Change};
use cai_core::id::{AccountId, SubjectId, TenantId};
use cai_core::ports::{CredentialKind, DynStore, StoreError};
use cai_core::{Caller, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use webauthn_rs::prelude::{
    Passkey, PasskeyAuthentication, PasskeyRegistration, RegisterPublicKeyCredential, Url, Uuid,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};

use crate::audit::AuthTx;
use crate::authenticator::Authenticator;
use crate::email_code::SecondFactorMethod;
use crate::error::{AuthError, Result};
use crate::records::{self, Record, Versioned};

pub use login::PasskeyLoginChallenge;

/// Most passkeys per account unless the host says otherwise.
pub const DEFAULT_MAX_PASSKEYS: usize = 10;
/// The highest `max_per_account` a host may set (the record must stay well under
/// cai-core's 64 KiB credential limit).
pub const MAX_PASSKEYS_LIMIT: usize = 20;
/// How long a ceremony (registration, second factor, passwordless login) may take by
/// default.
pub const DEFAULT_CEREMONY_VALIDITY: Duration = Duration::from_secs(5 * 60);
/// Longest label of a passkey, in characters.
pub const MAX_LABEL_CHARS: usize = 64;
/// Largest JSON a browser may send back (a credential with its attestation is a few
/// KiB).
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// The relying party: which site the passkeys belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyConfig {
    /// The RP ID: the registrable domain the passkeys are bound to, e.g.
    /// `beratung.example`. Authenticators store it with each credential; changing it
    /// orphans every registered passkey.
    pub rp_id: String,
    /// The name authenticators show, e.g. `Beratung Nord`.
    pub rp_name: String,
    /// The exact origins (`https://app.beratung.example`, scheme, host and port) the
    /// frontends run on; each must be the RP ID or a subdomain of it. Only
    /// `http://localhost…` may be plain HTTP.
    pub origins: Vec<String>,
    /// Most passkeys per account (1..=[`MAX_PASSKEYS_LIMIT`]).
    pub max_per_account: usize,
    /// How long a ceremony's challenge stays valid (30 s ..= 10 min); also the
    /// `timeout` the browser is given.
    pub ceremony_validity: Duration,
}

impl PasskeyConfig {
    /// A relying party with the default limits.
    pub fn new(rp_id: &str, rp_name: &str, origins: &[&str]) -> Self {
        Self {
            rp_id: rp_id.to_owned(),
            rp_name: rp_name.to_owned(),
            origins: origins.iter().map(|o| (*o).to_owned()).collect(),
            max_per_account: DEFAULT_MAX_PASSKEYS,
            ceremony_validity: DEFAULT_CEREMONY_VALIDITY,
        }
    }

    /// Checks the values and builds webauthn-rs's relying party.
    pub(crate) fn relying_party(&self) -> Result<Webauthn> {
        if !(1..=MAX_PASSKEYS_LIMIT).contains(&self.max_per_account) {
            return Err(AuthError::Config(
                "passkeys: max_per_account must be 1..=20",
            ));
        }
        if self.ceremony_validity < Duration::from_secs(30)
            || self.ceremony_validity > Duration::from_secs(600)
        {
            return Err(AuthError::Config(
                "passkeys: ceremony_validity must be 30 s ..= 10 min",
            ));
        }
        if self.rp_name.trim().is_empty() {
            return Err(AuthError::Config("passkeys: rp_name is empty"));
        }
        let mut origins = Vec::with_capacity(self.origins.len());
        for o in &self.origins {
            let url =
                Url::parse(o).map_err(|_| AuthError::Config("passkeys: an origin is not a URL"))?;
            let local = url.host_str() == Some("localhost");
            if url.scheme() != "https" && !(local && url.scheme() == "http") {
                return Err(AuthError::Config(
                    "passkeys: origins must be https (or http://localhost)",
                ));
            }
            origins.push(url);
        }
        let Some((first, rest)) = origins.split_first() else {
            return Err(AuthError::Config("passkeys: no origin"));
        };
        let mut builder = WebauthnBuilder::new(&self.rp_id, first)
            .map_err(|_| AuthError::Config("passkeys: origin outside the rp_id"))?
            .rp_name(&self.rp_name)
            .timeout(self.ceremony_validity);
        for o in rest {
            // WebauthnBuilder checks the first origin only; the rest the same way here.
            if WebauthnBuilder::new(&self.rp_id, o).is_err() {
                return Err(AuthError::Config("passkeys: origin outside the rp_id"));
            }
            builder = builder.append_allowed_origin(o);
        }
        builder
            .build()
            .map_err(|_| AuthError::Config("passkeys: relying party rejected"))
    }
}

/// The account's passkeys and its pending ceremonies (`CredentialKind::Passkeys`).
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct PasskeysRecord {
    /// The registered passkeys, oldest first.
    #[serde(default)]
    pub passkeys: Vec<StoredPasskey>,
    /// A registration begun and not finished yet (one at a time).
    #[serde(default)]
    pub registration: Option<PendingRegistration>,
    /// Second-factor assertions begun, one per login ticket (at most
    /// [`MAX_PENDING`]).
    #[serde(default)]
    pub authentications: Vec<PendingAuthentication>,
    /// Passwordless login tickets already used by this account, until they expire.
    #[serde(default)]
    pub used_logins: Vec<UsedLogin>,
}

/// Most second-factor ceremonies pending at once per account; the oldest goes.
pub const MAX_PENDING: usize = 2;

/// One registered passkey.
#[derive(Clone, Serialize, Deserialize)]
pub struct StoredPasskey {
    /// Its id for listing and removal: hex of the first 16 bytes of SHA-256 of the
    /// WebAuthn credential id.
    pub id: String,
    /// The owner's name for it.
    pub label: String,
    /// When it was registered (Unix ms).
    pub created_at: i64,
    /// When it last logged in (Unix ms).
    pub last_used_at: Option<i64>,
    /// webauthn-rs's credential: credential id, public key, sign counter, backup
    /// state.
    pub passkey: Passkey,
}

/// A registration between `begin` and `finish`.
#[derive(Clone, Serialize, Deserialize)]
pub struct PendingRegistration {
    /// The label the new passkey gets.
    pub label: String,
    /// When it stops working (Unix ms).
    pub expires_at: i64,
    /// webauthn-rs's state (challenge, policy, excluded credentials).
    pub state: PasskeyRegistration,
}

/// A second-factor assertion between `begin` and `complete`.
#[derive(Clone, Serialize, Deserialize)]
pub struct PendingAuthentication {
    /// SHA-256 (hex) of the second-factor ticket it belongs to.
    pub ticket: String,
    /// When it stops working (Unix ms).
    pub expires_at: i64,
    /// webauthn-rs's state (challenge, allowed credentials).
    pub state: PasskeyAuthentication,
}

/// A passwordless login ticket this account has used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsedLogin {
    /// The ticket's nonce (hex).
    pub nonce: String,
    /// The ticket's expiry (Unix ms); forgotten after it.
    pub expires_at: i64,
}

impl fmt::Debug for PasskeysRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasskeysRecord")
            .field("passkeys", &self.passkeys)
            .field(
                "registration",
                &self.registration.as_ref().map(|_| "<pending>"),
            )
            .field("authentications", &self.authentications.len())
            .field("used_logins", &self.used_logins.len())
            .finish()
    }
}

impl fmt::Debug for StoredPasskey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredPasskey")
            .field("id", &self.id)
            .field("label", &self.label)
            .field("created_at", &self.created_at)
            .field("last_used_at", &self.last_used_at)
            .field("passkey", &"<redacted>")
            .finish()
    }
}

impl fmt::Debug for PendingRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PendingRegistration(<redacted>)")
    }
}

impl fmt::Debug for PendingAuthentication {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PendingAuthentication(<redacted>)")
    }
}

impl Record for PasskeysRecord {
    const KIND: CredentialKind = CredentialKind::Passkeys;
    const WHAT: &'static str = "passkeys record";
}

/// Options for the browser, as JSON: pass [`json`](Self::json) to
/// `navigator.credentials.create` (registration) or `.get` (login) after decoding its
/// base64url fields. `Debug` is redacted (it holds the challenge).
pub struct PasskeyOptions {
    json: String,
}

impl PasskeyOptions {
    /// The JSON: `{"publicKey": PublicKeyCredentialCreationOptions}` or
    /// `{"publicKey": PublicKeyCredentialRequestOptions, "mediation": …}`.
    pub fn json(&self) -> &str {
        &self.json
    }

    fn of<T: Serialize>(value: &T) -> Result<Self> {
        serde_json::to_string(value)
            .map(|json| Self { json })
            .map_err(|_| AuthError::Corrupt {
                what: "passkey options",
            })
    }
}

impl fmt::Debug for PasskeyOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasskeyOptions(<redacted>)")
    }
}

/// What a listing shows of a passkey: never key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyInfo {
    /// Its id, for [`Authenticator::remove_passkey`].
    pub id: String,
    /// The owner's label.
    pub label: String,
    /// When it was registered.
    pub created_at: Timestamp,
    /// When it was last used to log in.
    pub last_used_at: Option<Timestamp>,
}

impl From<&StoredPasskey> for PasskeyInfo {
    fn from(p: &StoredPasskey) -> Self {
        Self {
            id: p.id.clone(),
            label: p.label.clone(),
            created_at: Timestamp::from_unix_millis(p.created_at),
            last_used_at: p.last_used_at.map(Timestamp::from_unix_millis),
        }
    }
}

/// The WebAuthn user handle of an account: its id as a UUID.
pub(crate) fn user_handle(account: AccountId) -> Uuid {
    Uuid::from_bytes(*account.as_bytes())
}

fn passkey_id(passkey: &Passkey) -> String {
    let digest = Sha256::digest(passkey.cred_id().as_slice());
    hex::encode(digest.get(..16).unwrap_or_default())
}

fn check_label(label: &str) -> Result<String> {
    let label = label.trim();
    let invalid = |reason| {
        AuthError::Core(cai_core::Error::Invalid {
            what: "passkey label",
            reason,
        })
    };
    if label.is_empty() {
        return Err(invalid("empty"));
    }
    if label.chars().count() > MAX_LABEL_CHARS {
        return Err(invalid("longer than 64 characters"));
    }
    if label.chars().any(char::is_control) {
        return Err(invalid("contains control characters"));
    }
    Ok(label.to_owned())
}

/// Parses the browser's JSON, bounded.
pub(crate) fn parse_response<T: for<'de> Deserialize<'de>>(json: &str) -> Option<T> {
    if json.len() > MAX_RESPONSE_BYTES {
        return None;
    }
    serde_json::from_str(json).ok()
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Authenticator {
    /// The relying party and its configuration, or [`AuthError::Config`] when the host
    /// configured none.
    pub(crate) fn webauthn(&self) -> Result<(&Webauthn, &PasskeyConfig)> {
        match (&self.inner.webauthn, &self.inner.config.passkeys) {
            (Some(w), Some(c)) => Ok((w, c)),
            _ => Err(AuthError::Config(
                "passkeys are not configured (AuthConfig::passkeys)",
            )),
        }
    }

    /// When a ceremony begun now ends.
    pub(crate) fn ceremony_end(&self) -> Result<i64> {
        let (_, config) = self.webauthn()?;
        Ok(self
            .now()
            .unix_millis()
            .saturating_add(ms(config.ceremony_validity)))
    }

    /// Whether `account` has at least one passkey (only if passkeys are configured).
    pub(crate) async fn has_passkeys(
        &self,
        store: &DynStore,
        tenant: TenantId,
        account: AccountId,
    ) -> Result<bool> {
        if self.inner.webauthn.is_none() {
            return Ok(false);
        }
        Ok(records::load::<PasskeysRecord>(store, tenant, account)
            .await?
            .is_some_and(|r| !r.value.passkeys.is_empty()))
    }

    /// The second-factor method of an account with passkeys and no other factor.
    pub(crate) async fn passkey_method(
        &self,
        store: &DynStore,
        account: &Account,
    ) -> Result<Option<SecondFactorMethod>> {
        Ok(self
            .has_passkeys(store, account.tenant, account.id)
            .await?
            .then_some(SecondFactorMethod::Passkey))
    }

    /// Whether a second-factor challenge offers a passkey.
    pub(crate) async fn passkey_offered(
        &self,
        store: &DynStore,
        account: &Account,
    ) -> Result<bool> {
        self.has_passkeys(store, account.tenant, account.id).await
    }

    /// Starts registering a passkey for the caller's own account: returns the
    /// `CreationChallengeResponse` JSON for `navigator.credentials.create` and keeps
    /// the ceremony's state (replacing an unfinished one).
    ///
    /// Needs an AAL2 session, or any session while the account has no second factor
    /// yet (no confirmed TOTP, no e-mail codes, no passkey) — as a first TOTP is
    /// enrolled. Errors, in this order: [`AuthError::NotOwner`] (not an account),
    /// `Invalid` (label empty, over 64 characters, control characters),
    /// [`AuthError::SecondFactorRequired`], [`AuthError::TooManyPasskeys`].
    pub async fn begin_passkey_registration(
        &self,
        caller: &Caller,
        label: &str,
    ) -> Result<PasskeyOptions> {
        let (webauthn, config) = self.webauthn()?;
        let SubjectId::Account(account) = caller.subject else {
            return Err(AuthError::NotOwner);
        };
        let label = check_label(label)?;
        let tenant = caller.tenant;
        let (store, a, _) = self.usable_account(tenant, account).await?;
        self.check_registration_allowed(&store, caller, &a).await?;
        for _ in 0..crate::sessions::RETRIES {
            let (mut record, revision) = load_or_default(&store, tenant, account).await?;
            if record.passkeys.len() >= config.max_per_account {
                return Err(AuthError::TooManyPasskeys {
                    max: config.max_per_account,
                });
            }
            let exclude = record
                .passkeys
                .iter()
                .map(|p| p.passkey.cred_id().clone())
                .collect::<Vec<_>>();
            let name = a
                .email
                .as_ref()
                .map_or(a.display_name.as_str(), |e| e.as_str());
            let (options, state) = webauthn
                .start_passkey_registration(
                    user_handle(account),
                    name,
                    a.display_name.as_str(),
                    Some(exclude),
                )
                .map_err(|_| AuthError::Config("passkeys: registration could not start"))?;
            record.registration = Some(PendingRegistration {
                label: label.clone(),
                expires_at: self.ceremony_end()?,
                state,
            });
            match self
                .put_record(&store, tenant, account, &record, revision)
                .await
            {
                Ok(()) => return PasskeyOptions::of(&options),
                Err(e) if is_conflict(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Err(AuthError::Unavailable("passkeys record kept changing"))
    }

    /// Finishes the registration with the browser's `PublicKeyCredential` (JSON) and
    /// stores the passkey. The pending state is used up whatever the outcome.
    ///
    /// Errors, in this order: [`AuthError::NotOwner`],
    /// [`AuthError::SecondFactorRequired`] (as for `begin`), [`AuthError::InvalidToken`]
    /// (nothing pending, or begun more than the ceremony's validity ago),
    /// [`AuthError::PasskeyRejected`] (malformed JSON; wrong challenge, origin or RP ID;
    /// no user verification; an unsupported algorithm; a credential this account
    /// already has), [`AuthError::TooManyPasskeys`]. Audited (`passkey`: `added`) and
    /// notified to the tenant's admins.
    pub async fn finish_passkey_registration(
        &self,
        caller: &Caller,
        response_json: &str,
    ) -> Result<PasskeyInfo> {
        let (webauthn, config) = self.webauthn()?;
        let SubjectId::Account(account) = caller.subject else {
            return Err(AuthError::NotOwner);
        };
        let tenant = caller.tenant;
        let (store, a, _) = self.usable_account(tenant, account).await?;
        self.check_registration_allowed(&store, caller, &a).await?;
        let Some(Versioned {
            value: mut record,
            revision,
        }) = records::load::<PasskeysRecord>(&store, tenant, account).await?
        else {
            return Err(AuthError::InvalidToken);
        };
        let Some(pending) = record.registration.take() else {
            return Err(AuthError::InvalidToken);
        };
        let now = self.now();
        let outcome = if now.unix_millis() >= pending.expires_at {
            Err(AuthError::InvalidToken)
        } else {
            parse_response::<RegisterPublicKeyCredential>(response_json)
                .ok_or(AuthError::PasskeyRejected)
                .and_then(|response| {
                    webauthn
                        .finish_passkey_registration(&response, &pending.state)
                        .map_err(|_| AuthError::PasskeyRejected)
                })
                .and_then(|passkey| {
                    let id = passkey_id(&passkey);
                    if record
                        .passkeys
                        .iter()
                        .any(|p| p.id == id || p.passkey.cred_id() == passkey.cred_id())
                    {
                        Err(AuthError::PasskeyRejected)
                    } else if record.passkeys.len() >= config.max_per_account {
                        Err(AuthError::TooManyPasskeys {
                            max: config.max_per_account,
                        })
                    } else {
                        Ok(StoredPasskey {
                            id,
                            label: pending.label.clone(),
                            created_at: now.unix_millis(),
                            last_used_at: None,
                            passkey,
                        })
                    }
                })
        };
        let stored = match outcome {
            Ok(stored) => stored,
            Err(e) => {
                // The state is single-use: a failed finish needs a new begin.
                let _ = self
                    .put_record(&store, tenant, account, &record, revision)
                    .await;
                return Err(e);
            }
        };
        let info = PasskeyInfo::from(&stored);
        record.passkeys.push(stored);
        let mut tx = AuthTx::new(
            tenant,
            now,
            AuditActor::Subject(caller.subject),
            caller.request,
        );
        tx.write(records::put(tenant, account, &record, revision, now)?);
        tx.audit(
            &store,
            AuditKind::CredentialChanged,
            AuditObject::Account(account),
            vec![Change::new(
                "passkey",
                None::<String>,
                Some(format!("added {}", info.id)),
            )],
            None,
            true,
        )
        .await?;
        tx.commit(&self.inner.svc, &store).await.map_err(|e| {
            if is_conflict(&e) {
                // Another finish (or removal) got in first: this state is gone.
                AuthError::InvalidToken
            } else {
                e
            }
        })?;
        Ok(info)
    }

    /// The passkeys of `account` (labels and times, never key material): the owner's
    /// own, or any account's for an administrator (`ManageAccounts`).
    pub async fn list_passkeys(
        &self,
        caller: &Caller,
        tenant: TenantId,
        account: AccountId,
    ) -> Result<Vec<PasskeyInfo>> {
        self.webauthn()?;
        let (store, _) = self
            .authorize_passkey_management(caller, tenant, account, false)
            .await?;
        Ok(records::load::<PasskeysRecord>(&store, tenant, account)
            .await?
            .map(|r| r.value.passkeys.iter().map(PasskeyInfo::from).collect())
            .unwrap_or_default())
    }

    /// Removes the passkey `id` of `account`: by its owner from an AAL2 session, or by
    /// an administrator (`ManageAccounts`, which cai-core grants only to an AAL2,
    /// recently authenticated session). Audited (`passkey`: `removed`) and notified to
    /// the admins. Removing the last passkey leaves the account without it as a second
    /// factor, as removing a TOTP does: where the tenant requires one, the next
    /// password login asks for an enrolment. An unknown id is `NotFound`.
    pub async fn remove_passkey(
        &self,
        caller: &Caller,
        tenant: TenantId,
        account: AccountId,
        id: &str,
    ) -> Result<()> {
        self.webauthn()?;
        let (store, decision) = self
            .authorize_passkey_management(caller, tenant, account, true)
            .await?;
        let not_found = || AuthError::Core(cai_core::Error::NotFound { what: "passkey" });
        for _ in 0..crate::sessions::RETRIES {
            let Some(Versioned {
                value: mut record,
                revision,
            }) = records::load::<PasskeysRecord>(&store, tenant, account).await?
            else {
                return Err(not_found());
            };
            let before = record.passkeys.len();
            record.passkeys.retain(|p| p.id != id);
            if record.passkeys.len() == before {
                return Err(not_found());
            }
            if record.passkeys.is_empty() {
                // Nothing left to assert with.
                record.authentications.clear();
            }
            let now = self.now();
            let mut tx = AuthTx::new(
                tenant,
                now,
                AuditActor::Subject(caller.subject),
                caller.request,
            );
            tx.write(records::put(tenant, account, &record, revision, now)?);
            tx.audit(
                &store,
                AuditKind::CredentialChanged,
                AuditObject::Account(account),
                vec![Change::new(
                    "passkey",
                    Some(id.to_owned()),
                    Some(format!("removed, {} left", record.passkeys.len())),
                )],
                decision.as_ref(),
                true,
            )
            .await?;
            match tx.commit(&self.inner.svc, &store).await {
                Ok(()) => return Ok(()),
                Err(e) if is_conflict(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Err(AuthError::Unavailable("passkeys record kept changing"))
    }

    /// The owner (at AAL2 if `change`), or an administrator of the account.
    async fn authorize_passkey_management(
        &self,
        caller: &Caller,
        tenant: TenantId,
        account: AccountId,
        change: bool,
    ) -> Result<(DynStore, Option<Decision>)> {
        if caller.tenant == tenant && caller.subject == SubjectId::Account(account) {
            if change && !caller.authentication.second_factor {
                return Err(AuthError::SecondFactorRequired);
            }
            let (store, _, _) = self.usable_account(tenant, account).await?;
            return Ok((store, None));
        }
        let (store, decision) = self.authorize_admin(caller, tenant, account).await?;
        if store.account(tenant, account).await?.is_none() {
            return Err(AuthError::Core(cai_core::Error::NotFound {
                what: "account",
            }));
        }
        Ok((store, Some(decision)))
    }

    /// AAL2, or no second factor yet.
    async fn check_registration_allowed(
        &self,
        store: &DynStore,
        caller: &Caller,
        a: &Account,
    ) -> Result<()> {
        if caller.authentication.second_factor {
            return Ok(());
        }
        let has_factor = self.has_totp(store, a.tenant, a.id).await?
            || self.email_codes_enabled(store, a.tenant, a.id).await?
            || self.has_passkeys(store, a.tenant, a.id).await?;
        if has_factor {
            return Err(AuthError::SecondFactorRequired);
        }
        Ok(())
    }

    pub(crate) async fn put_record(
        &self,
        store: &DynStore,
        tenant: TenantId,
        account: AccountId,
        record: &PasskeysRecord,
        revision: u64,
    ) -> Result<()> {
        let mut batch = cai_core::ports::Batch::new(tenant);
        batch.push(records::put(tenant, account, record, revision, self.now())?);
        store.commit(batch).await.map_err(AuthError::from)
    }
}

pub(crate) async fn load_or_default(
    store: &DynStore,
    tenant: TenantId,
    account: AccountId,
) -> Result<(PasskeysRecord, u64)> {
    Ok(records::load::<PasskeysRecord>(store, tenant, account)
        .await?
        .map_or_else(|| (PasskeysRecord::default(), 0), |r| (r.value, r.revision)))
}

pub(crate) fn is_conflict(e: &AuthError) -> bool {
    matches!(
        e,
        AuthError::Core(cai_core::Error::Store(StoreError::Conflict { .. }))
    )
}
