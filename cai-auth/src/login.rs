//! Login with e-mail address and password (R-A1, R-A3, R-A9, R-I6, R-U3).
//!
//! One attempt, in order:
//! 1. **Count first.** One failure is reserved, atomically, under two counters of
//!    cai-core's `FailureCounter`: per client address across all accounts of the
//!    tenant (credential stuffing) and per account (lockout). A blocked counter
//!    answers [`AuthError::TooManyRequests`] before any Argon2 work. An address
//!    without an account is counted under a phantom account id derived from it, so it
//!    is blocked exactly like a real one.
//! 2. **Verify, always.** Argon2id runs once on the blocking pool — against the
//!    stored hash, or against a dummy hash of the same cost when there is no account
//!    or no password: unknown, locked, deactivated and expired accounts cost the same
//!    and all answer [`AuthError::LoginFailed`].
//! 3. **Right password, usable account:** the reservation is given back, the
//!    account's counter cleared, the hash re-layered with a fresh salt (and the
//!    tenant's current parameters and pepper), a run-out temporary lock lifted, the
//!    login recorded. An account with a second factor gets a
//!    [`SecondFactorChallenge`] first; an expired password or a forced change yields a
//!    single-use [`PasswordChangeTicket`] instead of a session.
//! 4. **Anything else:** the failure stays counted and is recorded with the client
//!    address. The account's `max_failed_attempts`-th failure locks it (until an
//!    administrator unlocks it, or temporarily, as the tenant chose), ends its
//!    sessions, notifies the admins and raises a `RepeatedWrongSecret` incident; the
//!    first block of a client address raises one too.

use cai_core::Timestamp;
use cai_core::authz::Authentication;
use cai_core::domain::{
    Account, AccountStatus, AuditActor, AuditKind, AuditObject, Change, Email, RequestMeta,
};
use cai_core::id::{AccountId, TenantId};
use cai_core::ports::{
    AttemptKey, AttemptScope, AttemptSource, DynStore, Reserved, StoreError, Write,
};
use cai_core::throttle::ThrottlePolicy;

use crate::audit::AuthTx;
use crate::authenticator::{ALL_ACCOUNTS, Authenticator};
use crate::config::LockoutMode;
use crate::email_code::SecondFactorMethod;
use crate::enrolment::EnrolmentTicket;
use crate::error::{AuthError, Result};
use crate::password::MAX_PASSWORD_BYTES;
use crate::records::{self, PasswordRecord, TokenPurpose};
use crate::second_factor::SecondFactorChallenge;
use crate::sessions::{IssuedSession, caller_vouched_by_host};
use crate::token::Token;

/// What a successful login gives.
#[derive(Debug)]
#[non_exhaustive]
pub enum LoginOutcome {
    /// A session.
    Session(IssuedSession),
    /// The password is right but must be changed first: no session, only a ticket for
    /// [`Authenticator::change_password_with_ticket`].
    MustChangePassword(PasswordChangeTicket),
    /// The password is right and the account has a second factor: no session yet,
    /// only a ticket for [`Authenticator::complete_second_factor`].
    SecondFactorRequired(SecondFactorChallenge),
    /// The password is right, but the tenant requires a second factor this account
    /// does not have yet: no session, only a ticket to enrol one
    /// ([`Authenticator::begin_enrolment_with_ticket`]).
    SecondFactorEnrolmentRequired(EnrolmentTicket),
}

/// Why a password must be changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeReason {
    /// Older than the tenant's `max_age_days`.
    Expired,
    /// An administrator asked for it.
    Forced,
}

/// A single-use, short-lived ticket to set a new password.
#[derive(Debug)]
pub struct PasswordChangeTicket {
    /// The ticket, for the client (once).
    pub ticket: Token,
    /// Why.
    pub reason: ChangeReason,
    /// When it stops working.
    pub expires_at: Timestamp,
}

/// The counters one login attempt is reserved under, in `reserve_all` order.
pub(crate) struct AttemptKeys {
    pub(crate) keys: Vec<(AttemptKey, ThrottlePolicy)>,
    pub(crate) source: Option<AttemptSource>,
    /// Whether the last key is a per-account one (not so for a passwordless passkey
    /// login, counted per client address only).
    pub(crate) per_account: bool,
}

impl AttemptKeys {
    /// The per-account key (always last), if there is one.
    pub(crate) fn account_key(&self) -> Option<&AttemptKey> {
        self.keys
            .last()
            .filter(|_| self.per_account)
            .map(|(k, _)| k)
    }
}

impl Authenticator {
    /// Logs in with an e-mail address and password. `request` carries the client
    /// address the host trusts (for counting and for the record, R-A9).
    pub async fn login(
        &self,
        tenant: TenantId,
        email: &str,
        password: &str,
        request: RequestMeta,
    ) -> Result<LoginOutcome> {
        let store = self.store(tenant).await?;
        let (account, limit, max_age) = match &store {
            Some(store) => {
                let policy = store
                    .tenant(tenant)
                    .await?
                    .map(|t| t.settings.password_policy)
                    .unwrap_or_default();
                let account = match Email::parse(email) {
                    Ok(e) => store.account_by_email(tenant, &e).await?,
                    Err(_) => None,
                };
                (account, policy.max_failed_attempts, policy.max_age_days)
            }
            None => (
                None,
                cai_core::domain::PasswordPolicy::default().max_failed_attempts,
                None,
            ),
        };
        let counted = account
            .as_ref()
            .map_or_else(|| self.phantom_account(tenant, email), |a| a.id);
        let keys = self.attempt_keys(tenant, counted, limit, &request)?;
        let failures = self.inner.svc.ports().failures.clone();
        let reserved = failures.reserve_all(&keys.keys, self.now()).await?;

        let record = match (&store, &account) {
            (Some(s), Some(a)) => records::load::<PasswordRecord>(s, tenant, a.id).await,
            _ => Ok(None),
        };
        let verified = match record {
            Ok(record) => {
                let phc = match &record {
                    Some(r) => r.value.phc.as_str().into(),
                    None => self.dummy(tenant)?,
                };
                // Over-long input is checked against the dummy, at the same cost.
                let (phc, input) = if password.len() > MAX_PASSWORD_BYTES {
                    (self.dummy(tenant)?, "")
                } else {
                    (phc, password)
                };
                self.verify(phc, input)
                    .await
                    .map(|ok| ok && record.is_some() && password.len() <= MAX_PASSWORD_BYTES)
                    .map(|ok| (ok, record))
            }
            Err(e) => Err(e),
        };
        let (matches, record) = match verified {
            Ok(v) => v,
            Err(e) => {
                failures.refund_all(&keys.keys, &reserved).await?;
                return Err(e);
            }
        };
        let (store, account, record) = match (store, account, record) {
            (Some(s), Some(a), Some(r)) if matches => (s, a, r),
            (store, _, _) => {
                self.login_failed(store.as_ref(), tenant, None, &keys, &reserved, &request)
                    .await;
                return Err(AuthError::LoginFailed);
            }
        };
        // The right password for an account that cannot log in now is no guess: not
        // counted. The answer is the same.
        failures.refund_all(&keys.keys, &reserved).await?;
        self.refuse_unusable(&store, &account, &request).await?;
        if let Some(key) = keys.account_key() {
            failures.record_success(key).await?;
        }
        self.login_succeeded(
            &store, tenant, &account, record, password, max_age, &request,
        )
        .await
    }

    /// The failure counters of an attempt at `account` from `request`'s client.
    pub(crate) fn attempt_keys(
        &self,
        tenant: TenantId,
        account: AccountId,
        limit: u16,
        request: &RequestMeta,
    ) -> Result<AttemptKeys> {
        let source = request
            .client
            .map(|ip| AttemptSource::parse(&ip.to_string()))
            .transpose()?;
        let mut keys = Vec::with_capacity(2);
        if let Some(s) = &source {
            keys.push((
                AttemptKey::per_source(tenant, AttemptScope::Account(ALL_ACCOUNTS), s.clone()),
                self.inner.config.per_source,
            ));
        }
        keys.push((
            AttemptKey::per_scope(tenant, AttemptScope::Account(account)),
            self.inner.config.account_throttle(tenant, limit),
        ));
        Ok(AttemptKeys {
            keys,
            source,
            per_account: true,
        })
    }

    /// The one failure counter of an attempt that names no account yet (a passwordless
    /// passkey login): `request`'s client address across the tenant; none without an
    /// address.
    #[cfg(feature = "passkeys")]
    pub(crate) fn per_source_keys(
        &self,
        tenant: TenantId,
        request: &RequestMeta,
    ) -> Result<AttemptKeys> {
        let mut keys = self.attempt_keys(tenant, ALL_ACCOUNTS, 1, request)?;
        keys.keys.truncate(usize::from(keys.source.is_some()));
        keys.per_account = false;
        Ok(keys)
    }

    #[allow(clippy::too_many_arguments)]
    async fn login_succeeded(
        &self,
        store: &DynStore,
        tenant: TenantId,
        account: &Account,
        record: records::Versioned<PasswordRecord>,
        password: &str,
        max_age_days: Option<u16>,
        request: &RequestMeta,
    ) -> Result<LoginOutcome> {
        // Re-layered with a fresh salt, the tenant's current cost and pepper (R-A1).
        let phc = self.hash(tenant, password).await?;
        let rehashed = PasswordRecord {
            phc,
            ..record.value.clone()
        };
        self.record_login_success(
            store,
            account,
            request,
            Some((rehashed, record.revision)),
            "succeeded",
        )
        .await?;
        let now = self.now();
        let authentication = Authentication {
            second_factor: false,
            at: now,
        };
        self.after_first_factor(
            store,
            account,
            authentication,
            Some((&record.value, max_age_days)),
            request,
        )
        .await
    }

    /// Records a successful login (`last_login` = `what`), refreshes the account's
    /// `last_active` when it is a day old (the clock of the `inactive_accounts`
    /// deadline) and lifts a temporary lock that has run out, with the re-layered
    /// password hash if there is one (kept from a concurrent login that re-layered it
    /// first). A concurrent change of the account (an administrator's edit, another
    /// login) makes it re-read the account and try again.
    pub(crate) async fn record_login_success(
        &self,
        store: &DynStore,
        account: &Account,
        request: &RequestMeta,
        mut rehash: Option<(PasswordRecord, u64)>,
        what: &str,
    ) -> Result<()> {
        let (tenant, now) = (account.tenant, self.now());
        let mut account = account.clone();
        for _ in 0..crate::sessions::RETRIES {
            let mut tx = AuthTx::new(
                tenant,
                now,
                AuditActor::Subject(cai_core::id::SubjectId::Account(account.id)),
                *request,
            );
            if let Some((r, revision)) = &rehash {
                tx.write(records::put(tenant, account.id, r, *revision, now)?);
            }
            let mut changes = vec![Change::new("last_login", None::<String>, Some(what))];
            let mut updated = account.clone();
            if let AccountStatus::Locked { until: Some(_), .. } = account.status {
                // A temporary lock that has run out is lifted by the right password.
                updated.status = AccountStatus::Active;
                changes.push(Change::new("status", Some("locked"), Some("active")));
            }
            if account.last_active_stale_at(now) {
                updated.last_active = Some(now);
            }
            if updated != account {
                tx.write(Write::UpdateAccount(updated));
            }
            tx.audit(
                store,
                AuditKind::LoginSucceeded,
                AuditObject::Account(account.id),
                changes,
                None,
                false,
            )
            .await?;
            match tx.commit(&self.inner.svc, store).await {
                Ok(()) => return Ok(()),
                // A concurrent login re-layered the hash first (keep its hash), or the
                // account changed under us: re-read it and try again.
                Err(AuthError::Core(cai_core::Error::Store(StoreError::Conflict { .. }))) => {
                    rehash = None;
                    // An account made unusable meanwhile is not logged in after all.
                    account = store
                        .account(tenant, account.id)
                        .await
                        .map_err(cai_core::Error::from)?
                        .filter(|a| a.is_usable_at(now))
                        .ok_or(AuthError::LoginFailed)?;
                }
                Err(e) => return Err(e),
            }
        }
        Err(AuthError::Core(cai_core::Error::Store(
            StoreError::Conflict { what: "account" },
        )))
    }

    /// Refuses, and records, a login whose first factor was right for an account that
    /// cannot log in now: deactivated, pseudonymised, locked (a temporary lock not yet
    /// over) or outside its validity window. Every way in (password, OpenID Connect)
    /// goes through this check, with the same answer, [`AuthError::LoginFailed`].
    pub(crate) async fn refuse_unusable(
        &self,
        store: &DynStore,
        account: &Account,
        request: &RequestMeta,
    ) -> Result<()> {
        if account.is_usable_at(self.now()) {
            return Ok(());
        }
        self.record_login(
            store,
            account.tenant,
            Some(account.id),
            request,
            "refused: account not usable",
        )
        .await;
        Err(AuthError::LoginFailed)
    }

    /// What follows a verified first factor. Unless `authentication` already has a
    /// second factor: an account with a TOTP or e-mail codes gets a
    /// [`SecondFactorChallenge`], an account the tenant requires a second factor of
    /// and that has none an enrolment ticket. Then
    /// [`after_authentication`](Self::after_authentication). `password` is the stored
    /// password and the tenant's maximum age when the password was the first factor,
    /// `None` when it was an external identity provider.
    pub(crate) async fn after_first_factor(
        &self,
        store: &DynStore,
        account: &Account,
        authentication: Authentication,
        password: Option<(&PasswordRecord, Option<u16>)>,
        request: &RequestMeta,
    ) -> Result<LoginOutcome> {
        let tenant = account.tenant;
        let external = password.is_none();
        if authentication.second_factor {
            return self
                .after_authentication(store, account, password, authentication, request)
                .await;
        }
        let method = if self.has_totp(store, tenant, account.id).await? {
            Some(SecondFactorMethod::Totp)
        } else if self.email_codes_enabled(store, tenant, account.id).await? {
            Some(SecondFactorMethod::Email)
        } else {
            self.passkey_method(store, account).await?
        };
        if let Some(method) = method {
            if method == SecondFactorMethod::Email {
                self.send_email_code(store, account).await?;
            }
            let (ticket, expires_at) = self
                .issue_marked(
                    store,
                    tenant,
                    account.id,
                    TokenPurpose::SecondFactor,
                    authentication,
                    external,
                )
                .await?;
            let passkey = self.passkey_offered(store, account).await?;
            return Ok(LoginOutcome::SecondFactorRequired(SecondFactorChallenge {
                ticket,
                expires_at,
                method,
                passkey,
            }));
        }
        if self.second_factor_required(store, account).await? {
            let (ticket, expires_at) = self
                .issue_marked(
                    store,
                    tenant,
                    account.id,
                    TokenPurpose::Enrolment,
                    authentication,
                    external,
                )
                .await?;
            return Ok(LoginOutcome::SecondFactorEnrolmentRequired(
                EnrolmentTicket { ticket, expires_at },
            ));
        }
        self.after_authentication(store, account, password, authentication, request)
            .await
    }

    /// The end of a login once every factor is verified: a change ticket if the
    /// password (`password`: the record and the tenant's maximum age, when the password
    /// was the first factor) has expired or a change was forced, else a session.
    pub(crate) async fn after_authentication(
        &self,
        store: &DynStore,
        account: &Account,
        password: Option<(&PasswordRecord, Option<u16>)>,
        authentication: Authentication,
        request: &RequestMeta,
    ) -> Result<LoginOutcome> {
        let (tenant, now) = (account.tenant, self.now());
        let reason = password.and_then(|(record, max_age_days)| {
            if record.must_change {
                Some(ChangeReason::Forced)
            } else {
                max_age_days
                    .map(|days| {
                        Timestamp::from_unix_millis(record.changed_at)
                            .plus(cai_core::days(u64::from(days)))
                    })
                    .filter(|due| now >= *due)
                    .map(|_| ChangeReason::Expired)
            }
        });
        if let Some(reason) = reason {
            let (ticket, expires_at) = self
                .issue(
                    store,
                    tenant,
                    account.id,
                    TokenPurpose::PasswordChange,
                    authentication,
                )
                .await?;
            return Ok(LoginOutcome::MustChangePassword(PasswordChangeTicket {
                ticket,
                reason,
                expires_at,
            }));
        }
        let (token, expires_at) = self
            .issue(
                store,
                tenant,
                account.id,
                TokenPurpose::Session,
                authentication,
            )
            .await?;
        Ok(LoginOutcome::Session(IssuedSession {
            token,
            caller: caller_vouched_by_host(
                tenant,
                account.id,
                authentication.second_factor,
                authentication.at,
                *request,
            ),
            expires_at,
        }))
    }

    /// Records a failed attempt and acts on what counting it did: locks the account at
    /// its limit, raises incidents. Never fails the caller's answer (which is
    /// [`AuthError::LoginFailed`] whatever happens here): problems are logged.
    pub(crate) async fn login_failed(
        &self,
        store: Option<&DynStore>,
        tenant: TenantId,
        what: Option<&str>,
        keys: &AttemptKeys,
        reserved: &Reserved,
        request: &RequestMeta,
    ) {
        let Some(AttemptScope::Account(counted)) = keys.account_key().map(|k| k.scope) else {
            return;
        };
        self.attempt_failed(store, tenant, Some(counted), what, keys, reserved, request)
            .await;
    }

    /// [`login_failed`](Self::login_failed) for an attempt at `counted` (an account, a
    /// phantom one, or none known), whichever keys it was counted under.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn attempt_failed(
        &self,
        store: Option<&DynStore>,
        tenant: TenantId,
        counted: Option<AccountId>,
        what: Option<&str>,
        keys: &AttemptKeys,
        reserved: &Reserved,
        request: &RequestMeta,
    ) {
        let Some(store) = store else { return };
        // As many rounds as concurrent failures can race (one winner per round), so a
        // burst of wrong passwords cannot slip past the audit trail.
        for _ in 0..crate::sessions::RETRIES {
            match self
                .try_record_failure(store, tenant, counted, what, keys, reserved, request)
                .await
            {
                Ok(()) => return,
                Err(AuthError::Core(cai_core::Error::Store(StoreError::Conflict { .. }))) => {}
                Err(e) => {
                    tracing::error!(%tenant, error = %e, "failed login not recorded");
                    return;
                }
            }
        }
        tracing::error!(%tenant, "failed login not recorded: the account kept changing");
    }

    #[allow(clippy::too_many_arguments)]
    async fn try_record_failure(
        &self,
        store: &DynStore,
        tenant: TenantId,
        counted: Option<AccountId>,
        what: Option<&str>,
        keys: &AttemptKeys,
        reserved: &Reserved,
        request: &RequestMeta,
    ) -> Result<()> {
        let now = self.now();
        let account = match counted {
            Some(id) => store.account(tenant, id).await?,
            None => None,
        };
        let object = account
            .as_ref()
            .map_or(AuditObject::Tenant(tenant), |a| AuditObject::Account(a.id));
        let mut tx = AuthTx::new(tenant, now, AuditActor::System, *request);
        tx.audit(
            store,
            AuditKind::LoginFailed,
            object,
            vec![Change::new(
                "login",
                None::<String>,
                Some(what.unwrap_or("failed")),
            )],
            None,
            false,
        )
        .await?;
        let per_source = keys
            .source
            .as_ref()
            .and_then(|_| reserved.reservations.first());
        if let Some(r) = per_source
            && r.outcome.crossed_threshold
        {
            tx.repeated_wrong_secret(
                store,
                AuditObject::Tenant(tenant),
                r.outcome.failures,
                keys.source.as_ref().map(|s| s.as_str().to_owned()),
            )
            .await?;
        }
        let per_account = reserved
            .reservations
            .last()
            .filter(|_| keys.per_account)
            .map(|r| r.outcome);
        if let (Some(mut a), Some(outcome)) = (account, per_account) {
            let lockout = self.inner.config.tenant(tenant).lockout;
            let until = match lockout {
                LockoutMode::UntilAdminUnlocks => None,
                LockoutMode::Temporary { .. } => outcome.blocked_for.map(|d| now.plus(d)),
            };
            // At or past the limit the counter blocks: the account is locked — until an
            // admin acts, or for the counter's growing wait. An account whose temporary
            // lock has run out is locked again by the next failure.
            let lockable = matches!(
                a.status,
                AccountStatus::Active | AccountStatus::Locked { until: Some(_), .. }
            ) && outcome.blocked_for.is_some();
            if lockable {
                let was_active = matches!(a.status, AccountStatus::Active);
                a.status = AccountStatus::Locked { at: now, until };
                let id = a.id;
                tx.write(Write::UpdateAccount(a));
                self.end_sessions_in(store, &mut tx, id).await?;
                let after = match until {
                    None => "locked until an administrator unlocks it".to_owned(),
                    Some(t) => format!("locked until {t}"),
                };
                tx.audit(
                    store,
                    AuditKind::AccountLocked,
                    AuditObject::Account(id),
                    vec![
                        Change::new(
                            "status",
                            Some(if was_active { "active" } else { "locked" }),
                            Some(after),
                        ),
                        Change::new("failed_logins", None::<String>, Some(outcome.failures)),
                    ],
                    None,
                    was_active,
                )
                .await?;
                if outcome.crossed_threshold {
                    tx.repeated_wrong_secret(
                        store,
                        AuditObject::Account(id),
                        outcome.failures,
                        keys.source.as_ref().map(|s| s.as_str().to_owned()),
                    )
                    .await?;
                }
            }
        }
        tx.commit(&self.inner.svc, store).await
    }

    /// Records a login attempt that was refused for another reason than the password.
    pub(crate) async fn record_login(
        &self,
        store: &DynStore,
        tenant: TenantId,
        account: Option<AccountId>,
        request: &RequestMeta,
        what: &str,
    ) {
        let object = account.map_or(AuditObject::Tenant(tenant), AuditObject::Account);
        let mut tx = AuthTx::new(tenant, self.now(), AuditActor::System, *request);
        let result = async {
            tx.audit(
                store,
                AuditKind::LoginFailed,
                object,
                vec![Change::new("login", None::<String>, Some(what))],
                None,
                false,
            )
            .await?;
            tx.commit(&self.inner.svc, store).await
        }
        .await;
        if let Err(e) = result {
            tracing::error!(%tenant, error = %e, "login attempt not recorded");
        }
    }
}

#[cfg(not(feature = "passkeys"))]
impl Authenticator {
    /// Without passkeys there is no passkey method.
    async fn passkey_method(
        &self,
        _store: &DynStore,
        _account: &Account,
    ) -> Result<Option<SecondFactorMethod>> {
        Ok(None)
    }

    /// Without passkeys none is offered.
    async fn passkey_offered(&self, _store: &DynStore, _account: &Account) -> Result<bool> {
        Ok(false)
    }
}
