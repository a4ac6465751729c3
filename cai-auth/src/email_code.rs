//! E-mail one-time codes as a second factor (R-A4): for accounts that enable them and
//! have no TOTP, a login with the right password mails a 6-digit code through
//! cai-core's `Mailer` port and answers [`LoginOutcome::SecondFactorRequired`]
//! (method [`SecondFactorMethod::Email`]); [`Authenticator::complete_second_factor`]
//! takes the code.
//!
//! A code is valid for 5 minutes and once: only an HMAC-SHA-256 of it under the host's
//! pepper is stored, with its expiry, in the account's `EmailCode` credential record,
//! and it is struck off in the same revision-checked write that accepts it. A new
//! login replaces the pending code. Wrong codes count towards the account's lockout.
//!
//! [`LoginOutcome::SecondFactorRequired`]: crate::LoginOutcome::SecondFactorRequired

use std::fmt;
use std::time::Duration;

use cai_core::Caller;
use cai_core::domain::{Account, AuditActor, AuditKind, AuditObject, Change, RequestMeta};
use cai_core::id::{AccountId, SubjectId, TenantId};
use cai_core::ports::{CredentialKind, DynStore, Mail, StoreError};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::audit::AuthTx;
use crate::authenticator::Authenticator;
use crate::error::{AuthError, Result};
use crate::records::{self, Record};
use crate::recovery_codes::keyed_hash;

/// How long a mailed code is valid.
pub const EMAIL_CODE_VALIDITY: Duration = Duration::from_secs(5 * 60);

/// Which second factor a login asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecondFactorMethod {
    /// A code from the authenticator app (or a recovery code).
    Totp,
    /// The code just mailed to the account's address.
    Email,
    /// A passkey (feature `passkeys`): [`Authenticator::begin_passkey_second_factor`],
    /// then [`Authenticator::complete_second_factor_with_passkey`].
    #[cfg(feature = "passkeys")]
    Passkey,
}

/// The account's e-mail second factor.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailCodeRecord {
    /// Whether logins use e-mailed codes (when there is no TOTP).
    pub enabled: bool,
    /// The code last mailed, if not used yet.
    pub pending: Option<PendingEmailCode>,
}

/// A mailed, unused code: its keyed hash and expiry.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingEmailCode {
    /// HMAC-SHA-256 of the code under the pepper `pepper` (hex).
    pub hash: String,
    /// The pepper's id.
    pub pepper: String,
    /// When it stops working (Unix ms).
    pub expires_at: i64,
}

impl fmt::Debug for EmailCodeRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmailCodeRecord")
            .field("enabled", &self.enabled)
            .field("pending", &self.pending.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl fmt::Debug for PendingEmailCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PendingEmailCode(<redacted>)")
    }
}

impl Record for EmailCodeRecord {
    const KIND: CredentialKind = CredentialKind::EmailCode;
    const WHAT: &'static str = "e-mail code record";
}

const LABEL: &[u8] = b"cai-auth e-mail code v1\0";

impl Authenticator {
    /// Turns e-mailed login codes on for the caller's own account (used when it has no
    /// TOTP). The account must have an address.
    pub async fn enable_email_codes(&self, caller: &Caller) -> Result<()> {
        self.set_email_codes(caller, true).await
    }

    /// Turns them off. Needs a session that used a second factor.
    pub async fn disable_email_codes(&self, caller: &Caller) -> Result<()> {
        if !caller.authentication.second_factor {
            return Err(AuthError::SecondFactorRequired);
        }
        self.set_email_codes(caller, false).await
    }

    async fn set_email_codes(&self, caller: &Caller, enabled: bool) -> Result<()> {
        let SubjectId::Account(account) = caller.subject else {
            return Err(AuthError::NotOwner);
        };
        let tenant = caller.tenant;
        let (store, a, _) = self.usable_account(tenant, account).await?;
        if a.email.is_none() {
            return Err(AuthError::Config("the account has no e-mail address"));
        }
        let existing = records::load::<EmailCodeRecord>(&store, tenant, account).await?;
        let revision = existing.as_ref().map_or(0, |r| r.revision);
        let record = EmailCodeRecord {
            enabled,
            pending: None,
        };
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
                "second_factor",
                None::<String>,
                Some(if enabled {
                    "e-mail codes on"
                } else {
                    "e-mail codes off"
                }),
            )],
            None,
            !enabled,
        )
        .await?;
        tx.commit(&self.inner.svc, &store).await
    }

    /// Whether `account` uses e-mailed codes.
    pub(crate) async fn email_codes_enabled(
        &self,
        store: &DynStore,
        tenant: TenantId,
        account: AccountId,
    ) -> Result<bool> {
        Ok(records::load::<EmailCodeRecord>(store, tenant, account)
            .await?
            .is_some_and(|r| r.value.enabled))
    }

    /// Mails a fresh code to `a`, replacing any pending one.
    pub(crate) async fn send_email_code(&self, store: &DynStore, a: &Account) -> Result<()> {
        let to = a.email.clone().ok_or(AuthError::InvalidToken)?;
        let (tenant, account) = (a.tenant, a.id);
        let mut random = Zeroizing::new([0u8; 4]);
        getrandom::fill(random.as_mut_slice()).map_err(|_| AuthError::Rng)?;
        let code = Zeroizing::new(format!("{:06}", u32::from_be_bytes(*random) % 1_000_000));
        let pepper = self.inner.peppers.current().id().to_owned();
        let hash = keyed_hash(&self.inner.peppers, &pepper, LABEL, tenant, account, &code)?;
        let now = self.now();
        let existing = records::load::<EmailCodeRecord>(store, tenant, account)
            .await?
            .ok_or(AuthError::InvalidToken)?;
        let record = EmailCodeRecord {
            enabled: existing.value.enabled,
            pending: Some(PendingEmailCode {
                hash: hex::encode(hash),
                pepper,
                expires_at: now.plus(EMAIL_CODE_VALIDITY).unix_millis(),
            }),
        };
        let mut tx = AuthTx::new(
            tenant,
            now,
            AuditActor::Subject(SubjectId::Account(account)),
            RequestMeta::default(),
        );
        tx.write(records::put(
            tenant,
            account,
            &record,
            existing.revision,
            now,
        )?);
        tx.commit(&self.inner.svc, store).await?;
        let body = Zeroizing::new(format!(
            "Your sign-in code is {}.\n\nIt is valid for 5 minutes and once. If you did not \
             try to sign in, someone knows your password: change it.\n",
            code.as_str()
        ));
        self.inner
            .svc
            .ports()
            .mailer
            .send(Mail {
                to,
                subject: "Your sign-in code".to_owned(),
                body,
            })
            .await
            .map_err(|e| AuthError::Core(cai_core::Error::Mailer(e.to_string())))
    }

    /// Checks a mailed code and strikes it off (once, under the record's revision).
    pub(crate) async fn accept_email_code(
        &self,
        store: &DynStore,
        a: &Account,
        code: &str,
        request: &RequestMeta,
        limit: u16,
    ) -> Result<()> {
        let (tenant, account) = (a.tenant, a.id);
        let keys = self.attempt_keys(tenant, account, limit, request)?;
        let failures = self.inner.svc.ports().failures.clone();
        let reserved = failures.reserve_all(&keys.keys, self.now()).await?;
        let now = self.now();
        let record = match records::load::<EmailCodeRecord>(store, tenant, account).await {
            Ok(r) => r,
            Err(e) => {
                failures.refund_all(&keys.keys, &reserved).await?;
                return Err(e);
            }
        };
        let matches = match record.as_ref().and_then(|r| r.value.pending.as_ref()) {
            Some(p) if now.unix_millis() < p.expires_at && code.len() == 6 => {
                match keyed_hash(&self.inner.peppers, &p.pepper, LABEL, tenant, account, code) {
                    Ok(expected) => {
                        let mut stored = [0u8; 32];
                        hex::decode_to_slice(&p.hash, &mut stored).is_ok()
                            && bool::from(stored.ct_eq(&expected))
                    }
                    Err(e) => {
                        failures.refund_all(&keys.keys, &reserved).await?;
                        return Err(e);
                    }
                }
            }
            _ => false,
        };
        let Some(record) = record.filter(|_| matches) else {
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
        };
        failures.refund_all(&keys.keys, &reserved).await?;
        let used = EmailCodeRecord {
            enabled: record.value.enabled,
            pending: None,
        };
        let mut tx = AuthTx::new(
            tenant,
            now,
            AuditActor::Subject(SubjectId::Account(account)),
            *request,
        );
        tx.write(records::put(tenant, account, &used, record.revision, now)?);
        tx.commit(&self.inner.svc, store)
            .await
            .map_err(|e| match e {
                AuthError::Core(cai_core::Error::Store(StoreError::Conflict { .. })) => {
                    AuthError::WrongCode
                }
                e => e,
            })
    }
}
