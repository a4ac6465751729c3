//! The second factor (R-A4): TOTP enrolment with an `otpauth://` URI and a QR code,
//! and the second login step that makes a session AAL2.
//!
//! The TOTP secret is a fresh data key, wrapped by the tenant's key-encryption key
//! through cai-core's `KeyProvider` (bound to the tenant and account) and stored in the
//! account's `Totp` credential record; only its first 160 bits are the HMAC key. The
//! last accepted time step is stored with it and moves forward in the same write that
//! accepts a code, under the record's revision: a code is good once, even when two
//! requests race with it.
//!
//! Confirming the TOTP hands out ten recovery codes ([`RecoveryCodes`]), each accepted
//! once in place of a TOTP code.
//!
//! With a confirmed TOTP, the right password no longer gives a session:
//! [`LoginOutcome::SecondFactorRequired`] carries a single-use ticket (5 minutes) for
//! [`Authenticator::complete_second_factor`]. Wrong codes count towards the account's
//! lockout like wrong passwords.

use std::fmt;

use cai_core::authz::Authentication;
use cai_core::domain::{AuditActor, AuditKind, AuditObject, Change, RequestMeta};
use cai_core::id::{AccountId, SubjectId, TenantId};
use cai_core::ports::{CredentialKind, DynStore, StoreError};
use cai_core::{Caller, Timestamp};
use cai_crypto::hierarchy::WrappedKey;
use cai_crypto::{DataKey, KeyEpoch};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::audit::AuthTx;
use crate::authenticator::Authenticator;
use crate::email_code::SecondFactorMethod;
use crate::error::{AuthError, Result};
use crate::login::LoginOutcome;
use crate::records::{self, PasswordRecord, Record, TokenPurpose};
use crate::recovery_codes::{self, RecoveryCodes, StoredCodes};
use crate::token::Presented;
use crate::totp::{SECRET_LEN, TotpSecret, qr_svg};

/// What a second-factor code turned out to be.
enum Accepted {
    /// The TOTP code of this step.
    Step(u64),
    /// The recovery code stored at this index.
    Recovery(usize),
}

/// The stored TOTP of an account.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpRecord {
    /// The data key holding the secret, wrapped under the tenant KEK (hex).
    pub wrapped: String,
    /// Whether the owner proved their app has it (enrolment confirmed).
    pub confirmed: bool,
    /// The last time step accepted; codes of this or earlier steps are refused.
    pub last_step: Option<u64>,
    /// When it was created (Unix ms).
    pub created_at: i64,
    /// Keyed hashes (hex) of the unused recovery codes.
    #[serde(default)]
    pub recovery: Vec<String>,
    /// The id of the pepper the recovery codes are keyed with.
    #[serde(default)]
    pub recovery_pepper: Option<String>,
}

impl fmt::Debug for TotpRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TotpRecord")
            .field("wrapped", &"<redacted>")
            .field("confirmed", &self.confirmed)
            .field("last_step", &self.last_step)
            .field("recovery_codes_left", &self.recovery.len())
            .finish()
    }
}

impl Record for TotpRecord {
    const KIND: CredentialKind = CredentialKind::Totp;
    const WHAT: &'static str = "totp record";
}

/// What enrolment shows the user once: scan the QR code (or type the secret) into an
/// authenticator app, then confirm with a code. Zeroized on drop; `Debug` redacted.
pub struct TotpEnrolment {
    /// The `otpauth://totp/…` URI.
    pub uri: Zeroizing<String>,
    /// The URI as an SVG QR code.
    pub qr_svg: Zeroizing<String>,
    /// The secret in base32, for typing in by hand.
    pub secret_base32: Zeroizing<String>,
}

impl fmt::Debug for TotpEnrolment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpEnrolment(<redacted>)")
    }
}

/// The ticket of the second login step.
#[derive(Debug)]
pub struct SecondFactorChallenge {
    /// The ticket, for the client (once).
    pub ticket: crate::Token,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// Which code to ask for.
    pub method: SecondFactorMethod,
    /// Whether the account also (or instead, with `method` `Passkey`) has a passkey
    /// to offer (feature `passkeys`; always `false` without it).
    pub passkey: bool,
}

fn context(tenant: TenantId, account: AccountId) -> Vec<u8> {
    let mut c = b"cai-auth totp v1\0".to_vec();
    c.extend_from_slice(tenant.as_bytes());
    c.extend_from_slice(account.as_bytes());
    c
}

fn unix_secs(t: Timestamp) -> u64 {
    u64::try_from(t.unix_millis() / 1000).unwrap_or(0)
}

impl Authenticator {
    /// Starts TOTP enrolment for the caller's own account: a fresh secret, shown once
    /// as URI, QR code and base32 text, labelled `issuer` (the platform's name) and the
    /// account's e-mail address. Replaces an unconfirmed enrolment; an account with a
    /// confirmed TOTP must remove it first ([`remove_totp`](Self::remove_totp)).
    pub async fn begin_totp_enrolment(
        &self,
        caller: &Caller,
        issuer: &str,
    ) -> Result<TotpEnrolment> {
        let SubjectId::Account(account) = caller.subject else {
            return Err(AuthError::NotOwner);
        };
        self.enrol(caller.tenant, account, issuer, caller.request)
            .await
    }

    /// Stores a fresh, unconfirmed TOTP for `account` and returns what to show.
    pub(crate) async fn enrol(
        &self,
        tenant: TenantId,
        account: AccountId,
        issuer: &str,
        request: RequestMeta,
    ) -> Result<TotpEnrolment> {
        let (store, a, _) = self.usable_account(tenant, account).await?;
        let existing = records::load::<TotpRecord>(&store, tenant, account).await?;
        if existing.as_ref().is_some_and(|r| r.value.confirmed) {
            return Err(AuthError::SecondFactorExists);
        }
        let key = DataKey::generate(KeyEpoch::INITIAL).map_err(|_| AuthError::Rng)?;
        let wrapped = self
            .inner
            .svc
            .ports()
            .keys
            .wrap(tenant, &key, &context(tenant, account))
            .await
            .map_err(|e| AuthError::Core(cai_core::Error::KeyProvider(e.to_string())))?;
        let secret = secret_of(&key);
        let label = a
            .email
            .as_ref()
            .map_or(a.display_name.as_str(), |e| e.as_str());
        let uri = secret.otpauth_uri(issuer, label);
        let qr = qr_svg(&uri)?;
        let now = self.now();
        let record = TotpRecord {
            wrapped: hex::encode(wrapped.to_bytes()),
            confirmed: false,
            last_step: None,
            created_at: now.unix_millis(),
            recovery: Vec::new(),
            recovery_pepper: None,
        };
        let mut tx = AuthTx::new(
            tenant,
            now,
            AuditActor::Subject(SubjectId::Account(account)),
            request,
        );
        tx.write(records::put(
            tenant,
            account,
            &record,
            existing.map_or(0, |r| r.revision),
            now,
        )?);
        tx.commit(&self.inner.svc, &store).await?;
        Ok(TotpEnrolment {
            uri,
            qr_svg: qr,
            secret_base32: secret.to_base32(),
        })
    }

    /// Confirms enrolment with a code from the app, and returns the account's recovery
    /// codes (show them once). From now on, logins of this account need a code.
    pub async fn confirm_totp(&self, caller: &Caller, code: &str) -> Result<RecoveryCodes> {
        let SubjectId::Account(account) = caller.subject else {
            return Err(AuthError::NotOwner);
        };
        self.confirm(caller.tenant, account, code, &caller.request)
            .await
    }

    /// Confirms `account`'s pending TOTP with `code` and hands out recovery codes.
    pub(crate) async fn confirm(
        &self,
        tenant: TenantId,
        account: AccountId,
        code: &str,
        request: &RequestMeta,
    ) -> Result<RecoveryCodes> {
        let (store, _, policy) = self.usable_account(tenant, account).await?;
        let record = records::load::<TotpRecord>(&store, tenant, account)
            .await?
            .filter(|r| !r.value.confirmed)
            .ok_or(AuthError::InvalidToken)?;
        let (codes, stored) = recovery_codes::generate(&self.inner.peppers, tenant, account)?;
        self.accept_code(
            &store,
            tenant,
            account,
            record,
            code,
            request,
            policy.max_failed_attempts,
            Some(stored),
        )
        .await?;
        Ok(codes)
    }

    /// Removes the caller's TOTP. Needs a session that used it (a second factor).
    pub async fn remove_totp(&self, caller: &Caller) -> Result<()> {
        let SubjectId::Account(account) = caller.subject else {
            return Err(AuthError::NotOwner);
        };
        if !caller.authentication.second_factor {
            return Err(AuthError::SecondFactorRequired);
        }
        let tenant = caller.tenant;
        let (store, _, _) = self.usable_account(tenant, account).await?;
        let mut tx = AuthTx::new(
            tenant,
            self.now(),
            AuditActor::Subject(caller.subject),
            caller.request,
        );
        tx.write(cai_core::ports::Write::DeleteCredential {
            account,
            kind: CredentialKind::Totp,
        });
        tx.audit(
            &store,
            AuditKind::CredentialChanged,
            AuditObject::Account(account),
            vec![Change::new("second_factor", Some("totp"), None::<String>)],
            None,
            true,
        )
        .await?;
        tx.commit(&self.inner.svc, &store).await
    }

    /// Whether `account` has a confirmed TOTP.
    pub(crate) async fn has_totp(
        &self,
        store: &DynStore,
        tenant: TenantId,
        account: AccountId,
    ) -> Result<bool> {
        Ok(records::load::<TotpRecord>(store, tenant, account)
            .await?
            .is_some_and(|r| r.value.confirmed))
    }

    /// The second login step: the ticket of [`LoginOutcome::SecondFactorRequired`] and a
    /// code. A wrong code is [`AuthError::WrongCode`] (counted towards the lockout; the
    /// ticket stays valid until it expires); the right one uses up the ticket and gives
    /// an AAL2 session — or, if the password must be changed first, a change ticket
    /// that remembers the second factor.
    pub async fn complete_second_factor(
        &self,
        ticket: &str,
        code: &str,
        request: RequestMeta,
    ) -> Result<LoginOutcome> {
        let presented = Presented::parse(ticket, TokenPurpose::SecondFactor)?;
        let (tenant, account) = (presented.tenant, presented.account);
        let (store, a, policy) = self
            .usable_account(tenant, account)
            .await
            .map_err(|_| AuthError::InvalidToken)?;
        let tokens = records::load::<records::TokenRecord>(&store, tenant, account)
            .await?
            .ok_or(AuthError::InvalidToken)?;
        let now = self.now();
        if !tokens.value.entries.iter().any(|e| {
            e.purpose == TokenPurpose::SecondFactor
                && presented.matches(&e.hash)
                && self.is_live(e, now)
        }) {
            return Err(AuthError::InvalidToken);
        }
        match records::load::<TotpRecord>(&store, tenant, account)
            .await?
            .filter(|r| r.value.confirmed)
        {
            Some(record) => {
                self.accept_code(
                    &store,
                    tenant,
                    account,
                    record,
                    code,
                    &request,
                    policy.max_failed_attempts,
                    None,
                )
                .await?
            }
            None => {
                self.accept_email_code(&store, &a, code, &request, policy.max_failed_attempts)
                    .await?
            }
        }
        let password = self
            .take_second_factor_ticket(&store, &presented, tenant, account)
            .await?;
        let authentication = Authentication {
            second_factor: true,
            at: self.now(),
        };
        self.after_authentication(
            &store,
            &a,
            password.as_ref().map(|p| (&p.value, policy.max_age_days)),
            authentication,
            &request,
        )
        .await
    }

    /// Uses up a second-factor ticket (of two racing completions one finds it gone:
    /// [`AuthError::InvalidToken`]) and loads the password record the end of the login
    /// checks — `None` when the first step was an OpenID Connect login, where the
    /// password played no part.
    pub(crate) async fn take_second_factor_ticket(
        &self,
        store: &DynStore,
        presented: &crate::token::Presented,
        tenant: TenantId,
        account: AccountId,
    ) -> Result<Option<records::Versioned<PasswordRecord>>> {
        let Some(entry) = self
            .remove_token(store, presented, TokenPurpose::SecondFactor)
            .await?
        else {
            return Err(AuthError::InvalidToken);
        };
        if entry.external {
            return Ok(None);
        }
        records::load::<PasswordRecord>(store, tenant, account)
            .await?
            .ok_or(AuthError::InvalidToken)
            .map(Some)
    }

    /// Checks `code` — a TOTP code, or (at login) an unused recovery code — against the
    /// record and, if it is right and fresh, records its use in one revision-checked
    /// write: the TOTP step moves forward, a recovery code is struck off. With
    /// `new_codes` (enrolment) only a TOTP code counts, and the record is confirmed
    /// with those recovery codes.
    #[allow(clippy::too_many_arguments)]
    async fn accept_code(
        &self,
        store: &DynStore,
        tenant: TenantId,
        account: AccountId,
        record: records::Versioned<TotpRecord>,
        code: &str,
        request: &RequestMeta,
        limit: u16,
        new_codes: Option<StoredCodes>,
    ) -> Result<()> {
        let keys = self.attempt_keys(tenant, account, limit, request)?;
        let failures = self.inner.svc.ports().failures.clone();
        let reserved = failures.reserve_all(&keys.keys, self.now()).await?;
        let enrolling = new_codes.is_some();
        let checked = async {
            let secret = self.unwrap_secret(tenant, account, &record.value).await?;
            let step = secret.matching_step(code, unix_secs(self.now()), record.value.last_step)?;
            if let Some(step) = step {
                return Ok(Some(Accepted::Step(step)));
            }
            match (&record.value.recovery_pepper, enrolling) {
                (Some(pepper), false) => {
                    let stored = StoredCodes {
                        pepper: pepper.clone(),
                        hashes: record.value.recovery.clone(),
                    };
                    Ok(
                        recovery_codes::find(&self.inner.peppers, &stored, tenant, account, code)?
                            .map(Accepted::Recovery),
                    )
                }
                _ => Ok(None),
            }
        }
        .await;
        let accepted = match checked {
            Ok(Some(accepted)) => accepted,
            Ok(None) => {
                self.login_failed(
                    Some(store),
                    tenant,
                    Some("wrong second-factor code"),
                    &keys,
                    &reserved,
                    request,
                )
                .await;
                return Err(AuthError::WrongCode);
            }
            Err(e) => {
                failures.refund_all(&keys.keys, &reserved).await?;
                return Err(e);
            }
        };
        failures.refund_all(&keys.keys, &reserved).await?;
        let now = self.now();
        let mut updated = record.value.clone();
        let mut changes = Vec::new();
        match accepted {
            Accepted::Step(step) => updated.last_step = Some(step),
            Accepted::Recovery(i) => {
                updated.recovery.remove(i);
                changes.push(Change::new(
                    "recovery_code",
                    None::<String>,
                    Some(format!("used, {} left", updated.recovery.len())),
                ));
            }
        }
        if let Some(codes) = new_codes {
            updated.confirmed = true;
            updated.recovery = codes.hashes;
            updated.recovery_pepper = Some(codes.pepper);
            changes.push(Change::new("second_factor", None::<String>, Some("totp")));
        }
        let mut tx = AuthTx::new(
            tenant,
            now,
            AuditActor::Subject(SubjectId::Account(account)),
            *request,
        );
        tx.write(records::put(
            tenant,
            account,
            &updated,
            record.revision,
            now,
        )?);
        if !changes.is_empty() {
            tx.audit(
                store,
                AuditKind::CredentialChanged,
                AuditObject::Account(account),
                changes,
                None,
                false,
            )
            .await?;
        }
        tx.commit(&self.inner.svc, store)
            .await
            .map_err(|e| match e {
                // Another request used a code of this account meanwhile: this one is a
                // replay or lost the race.
                AuthError::Core(cai_core::Error::Store(StoreError::Conflict { .. })) => {
                    AuthError::WrongCode
                }
                e => e,
            })
    }

    /// A new set of recovery codes for the caller's own account, replacing the old set
    /// (which stops working). Needs a session that used a second factor.
    pub async fn regenerate_recovery_codes(&self, caller: &Caller) -> Result<RecoveryCodes> {
        let SubjectId::Account(account) = caller.subject else {
            return Err(AuthError::NotOwner);
        };
        if !caller.authentication.second_factor {
            return Err(AuthError::SecondFactorRequired);
        }
        let tenant = caller.tenant;
        let (store, _, _) = self.usable_account(tenant, account).await?;
        let record = records::load::<TotpRecord>(&store, tenant, account)
            .await?
            .filter(|r| r.value.confirmed)
            .ok_or(AuthError::SecondFactorRequired)?;
        let (codes, stored) = recovery_codes::generate(&self.inner.peppers, tenant, account)?;
        let mut updated = record.value.clone();
        updated.recovery = stored.hashes;
        updated.recovery_pepper = Some(stored.pepper);
        let now = self.now();
        let mut tx = AuthTx::new(
            tenant,
            now,
            AuditActor::Subject(caller.subject),
            caller.request,
        );
        tx.write(records::put(
            tenant,
            account,
            &updated,
            record.revision,
            now,
        )?);
        tx.audit(
            &store,
            AuditKind::CredentialChanged,
            AuditObject::Account(account),
            vec![Change::new(
                "recovery_codes",
                None::<String>,
                Some("regenerated"),
            )],
            None,
            false,
        )
        .await?;
        tx.commit(&self.inner.svc, &store).await?;
        Ok(codes)
    }

    async fn unwrap_secret(
        &self,
        tenant: TenantId,
        account: AccountId,
        record: &TotpRecord,
    ) -> Result<TotpSecret> {
        let corrupt = || AuthError::Corrupt {
            what: "totp record",
        };
        let bytes = Zeroizing::new(hex::decode(&record.wrapped).map_err(|_| corrupt())?);
        let wrapped = WrappedKey::parse(&bytes).map_err(|_| corrupt())?;
        let key = self
            .inner
            .svc
            .ports()
            .keys
            .unwrap(tenant, &wrapped, &context(tenant, account))
            .await
            .map_err(|_| corrupt())?;
        Ok(secret_of(&key))
    }
}

fn secret_of(key: &DataKey) -> TotpSecret {
    let mut bytes = [0u8; SECRET_LEN];
    for (out, b) in bytes.iter_mut().zip(key.secret().expose_secret().iter()) {
        *out = *b;
    }
    let secret = TotpSecret::from_bytes(bytes);
    zeroize::Zeroize::zeroize(&mut bytes);
    secret
}
