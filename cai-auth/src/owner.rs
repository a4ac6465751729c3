//! Setting a password — only ever by its owner (R-A1, ASVS 6.4.6). There is no
//! operation through which an administrator (or anyone but the account itself) sets
//! or reads a password: administrators can only force a change
//! ([`Authenticator::force_password_change`]), which the owner then makes.
//!
//! A new password is checked against the tenant's policy (every broken rule comes
//! back), hashed off the executor, and stored; every session and ticket of the
//! account ends in the same commit, and a fresh session is returned.

use cai_core::Caller;
use cai_core::authz::Authentication;
use cai_core::domain::{Account, AuditActor, AuditKind, AuditObject, Change, RequestMeta};
use cai_core::id::{AccountId, SubjectId, TenantId};
use cai_core::ports::DynStore;
use subtle::ConstantTimeEq;

use crate::audit::AuthTx;
use crate::authenticator::Authenticator;
use crate::error::{AuthError, Result};
use crate::password::{PasswordContext, evaluate_policy};
use crate::records::{self, PasswordRecord, TokenPurpose, TokenRecord};
use crate::sessions::{IssuedSession, caller_vouched_by_host};
use crate::token::Presented;

impl Authenticator {
    /// The caller sets its own password. If the account has one, `current` must be
    /// it (a wrong one counts towards the lockout like a failed login and is
    /// [`AuthError::WrongPassword`]); if it has none (a new account, admitted by the
    /// host's invitation flow), `current` must be `None`. Returns a fresh session:
    /// every other session of the account has ended.
    pub async fn set_password(
        &self,
        caller: &Caller,
        current: Option<&str>,
        new: &str,
    ) -> Result<IssuedSession> {
        let SubjectId::Account(account) = caller.subject else {
            return Err(AuthError::NotOwner);
        };
        let tenant = caller.tenant;
        let (store, a, policy) = self.usable_account(tenant, account).await?;
        let existing = records::load::<PasswordRecord>(&store, tenant, account).await?;
        match (&existing, current) {
            (Some(_), None) => return Err(AuthError::PasswordExists),
            (None, Some(_)) => return Err(AuthError::WrongPassword),
            _ => {}
        }
        let mut violations = evaluate_policy(&policy, new, &context(&a));
        if let Some(current) = current
            && bool::from(current.as_bytes().ct_eq(new.as_bytes()))
        {
            violations.push(crate::password::PolicyViolation::Reused);
        }
        if let (Some(record), Some(current)) = (&existing, current) {
            self.check_current(
                &store,
                tenant,
                &a,
                record,
                current,
                &caller.request,
                policy.max_failed_attempts,
            )
            .await?;
        }
        if !violations.is_empty() {
            return Err(AuthError::PolicyViolated(violations));
        }
        let revision = existing.map_or(0, |r| r.revision);
        let authentication = Authentication {
            second_factor: caller.authentication.second_factor,
            at: if current.is_some() {
                self.now()
            } else {
                caller.authentication.at
            },
        };
        let tokens = records::load::<TokenRecord>(&store, tenant, account).await?;
        self.store_password(
            &store,
            &a,
            new,
            revision,
            tokens.map(|t| t.revision),
            AuditActor::Subject(caller.subject),
            caller.request,
        )
        .await?;
        self.fresh_session(&store, tenant, account, authentication, caller.request)
            .await
    }

    /// Sets a new password with the ticket a login returned
    /// ([`LoginOutcome::MustChangePassword`](crate::LoginOutcome::MustChangePassword)).
    /// The ticket is used up only when the new password is stored; a new password
    /// that breaks the policy leaves it valid for another try. Two requests with the
    /// same ticket: exactly one succeeds.
    pub async fn change_password_with_ticket(
        &self,
        ticket: &str,
        new: &str,
        request: RequestMeta,
    ) -> Result<IssuedSession> {
        let presented = Presented::parse(ticket, TokenPurpose::PasswordChange)?;
        let (tenant, account) = (presented.tenant, presented.account);
        let (store, a, policy) = self
            .usable_account(tenant, account)
            .await
            .map_err(|_| AuthError::InvalidToken)?;
        let tokens = records::load::<TokenRecord>(&store, tenant, account)
            .await?
            .ok_or(AuthError::InvalidToken)?;
        let now = self.now();
        let second_factor = tokens
            .value
            .entries
            .iter()
            .find(|e| {
                e.purpose == TokenPurpose::PasswordChange
                    && presented.matches(&e.hash)
                    && self.is_live(e, now)
            })
            .ok_or(AuthError::InvalidToken)?
            .second_factor;
        let existing = records::load::<PasswordRecord>(&store, tenant, account).await?;
        let mut violations = evaluate_policy(&policy, new, &context(&a));
        if let Some(old) = &existing
            && self.verify(old.value.phc.as_str().into(), new).await?
        {
            violations.push(crate::password::PolicyViolation::Reused);
        }
        if !violations.is_empty() {
            return Err(AuthError::PolicyViolated(violations));
        }
        // The token record is written back empty under the revision read above: the
        // ticket is consumed in the same commit as the password, and a second use
        // racing this one conflicts.
        self.store_password(
            &store,
            &a,
            new,
            existing.map_or(0, |r| r.revision),
            Some(tokens.revision),
            AuditActor::Subject(SubjectId::Account(account)),
            request,
        )
        .await
        .map_err(|e| match e {
            AuthError::Core(cai_core::Error::Store(cai_core::ports::StoreError::Conflict {
                ..
            })) => AuthError::InvalidToken,
            e => e,
        })?;
        // A second factor verified in the login that gave the ticket still counts.
        let authentication = Authentication {
            second_factor,
            at: now,
        };
        self.fresh_session(&store, tenant, account, authentication, request)
            .await
    }

    /// The account's store, record and tenant policy, if the account is usable now.
    pub(crate) async fn usable_account(
        &self,
        tenant: TenantId,
        account: AccountId,
    ) -> Result<(DynStore, Account, cai_core::domain::PasswordPolicy)> {
        let store = self.store(tenant).await?.ok_or(AuthError::NotOwner)?;
        let t = store.tenant(tenant).await?.ok_or(AuthError::NotOwner)?;
        let a = store
            .account(tenant, account)
            .await?
            .filter(|a| a.is_usable_at(self.now()))
            .ok_or(AuthError::Core(cai_core::Error::AccountNotUsable))?;
        Ok((store, a, t.settings.password_policy))
    }

    /// Verifies the current password, counted like a login attempt.
    #[allow(clippy::too_many_arguments)]
    async fn check_current(
        &self,
        store: &DynStore,
        tenant: TenantId,
        a: &Account,
        record: &records::Versioned<PasswordRecord>,
        current: &str,
        request: &RequestMeta,
        limit: u16,
    ) -> Result<()> {
        let keys = self.attempt_keys(tenant, a.id, limit, request)?;
        let failures = self.inner.svc.ports().failures.clone();
        let reserved = failures.reserve_all(&keys.keys, self.now()).await?;
        match self.verify(record.value.phc.as_str().into(), current).await {
            Ok(true) => {
                failures.refund_all(&keys.keys, &reserved).await?;
                Ok(())
            }
            Ok(false) => {
                self.login_failed(
                    Some(store),
                    tenant,
                    Some("wrong current password"),
                    &keys,
                    &reserved,
                    request,
                )
                .await;
                Err(AuthError::WrongPassword)
            }
            Err(e) => {
                failures.refund_all(&keys.keys, &reserved).await?;
                Err(e)
            }
        }
    }

    /// Hashes and stores `new` for `a`, ending every token (the token record written
    /// back empty under `tokens_revision`), with its audit event.
    #[allow(clippy::too_many_arguments)]
    async fn store_password(
        &self,
        store: &DynStore,
        a: &Account,
        new: &str,
        password_revision: u64,
        tokens_revision: Option<u64>,
        actor: AuditActor,
        request: RequestMeta,
    ) -> Result<()> {
        let tenant = a.tenant;
        let phc = self.hash(tenant, new).await?;
        let now = self.now();
        let mut tx = AuthTx::new(tenant, now, actor, request);
        let record = PasswordRecord {
            phc,
            changed_at: now.unix_millis(),
            must_change: false,
        };
        tx.write(records::put(tenant, a.id, &record, password_revision, now)?);
        if let Some(revision) = tokens_revision {
            tx.write(records::put(
                tenant,
                a.id,
                &TokenRecord::default(),
                revision,
                now,
            )?);
        }
        tx.audit(
            store,
            AuditKind::CredentialChanged,
            AuditObject::Account(a.id),
            vec![
                Change::new("password", None::<String>, Some("changed")),
                Change::new("sessions", None::<String>, Some("all ended")),
            ],
            None,
            false,
        )
        .await?;
        tx.commit(&self.inner.svc, store).await
    }

    async fn fresh_session(
        &self,
        store: &DynStore,
        tenant: TenantId,
        account: AccountId,
        authentication: Authentication,
        request: RequestMeta,
    ) -> Result<IssuedSession> {
        let (token, expires_at) = self
            .issue(
                store,
                tenant,
                account,
                TokenPurpose::Session,
                authentication,
            )
            .await?;
        Ok(IssuedSession {
            token,
            caller: caller_vouched_by_host(
                tenant,
                account,
                authentication.second_factor,
                authentication.at,
                request,
            ),
            expires_at,
        })
    }
}

pub(crate) fn context(a: &Account) -> PasswordContext<'_> {
    PasswordContext {
        name: Some(a.display_name.as_str()),
        email: a.email.as_ref().map(|e| e.as_str()),
    }
}
