//! What an administrator can do about an account's credentials (R-A3): unlock it,
//! reset its failure counter, force a password change, end its sessions, deactivate
//! it with its sessions. Each needs `ManageAccounts` (an administrative permission:
//! cai-core's `authorize` demands a second factor and a recent authentication), is
//! audited and notified to the tenant's admins (R-I5). None of them sets or reveals a
//! password.

use cai_core::authz::{Action, Decision, Resource, authorize};
use cai_core::domain::{Account, AccountStatus, AuditActor, AuditKind, AuditObject, Change};
use cai_core::id::{AccountId, TenantId};
use cai_core::ports::{AttemptKey, AttemptScope, DynStore, Write};
use cai_core::{Caller, Timestamp};

use crate::audit::AuthTx;
use crate::authenticator::Authenticator;
use crate::error::{AuthError, Result};
use crate::records::{self, PasswordRecord};

impl Authenticator {
    /// Unlocks a locked account (permanently or temporarily locked) and clears its
    /// failure counter.
    pub async fn unlock_account(
        &self,
        admin: &Caller,
        tenant: TenantId,
        account: AccountId,
    ) -> Result<Account> {
        let (store, decision) = self.authorize_admin(admin, tenant, account).await?;
        let mut a = load(&store, tenant, account).await?;
        let AccountStatus::Locked { .. } = a.status else {
            return Err(cai_core::Error::Invalid {
                what: "account",
                reason: "not locked",
            }
            .into());
        };
        a.status = AccountStatus::Active;
        self.clear_failures(tenant, account).await?;
        let mut tx = self.admin_tx(admin, tenant);
        tx.write(Write::UpdateAccount(a));
        tx.audit(
            &store,
            AuditKind::AccountUpdated,
            AuditObject::Account(account),
            vec![
                Change::new("status", Some("locked"), Some("active")),
                Change::new("failed_logins", None::<String>, Some(0)),
            ],
            Some(&decision),
            true,
        )
        .await?;
        tx.commit(&self.inner.svc, &store).await?;
        load(&store, tenant, account).await
    }

    /// Resets the account's failed-login counter without changing its status.
    pub async fn reset_failed_logins(
        &self,
        admin: &Caller,
        tenant: TenantId,
        account: AccountId,
    ) -> Result<()> {
        let (store, decision) = self.authorize_admin(admin, tenant, account).await?;
        load(&store, tenant, account).await?;
        self.clear_failures(tenant, account).await?;
        let mut tx = self.admin_tx(admin, tenant);
        tx.audit(
            &store,
            AuditKind::AccountUpdated,
            AuditObject::Account(account),
            vec![Change::new("failed_logins", None::<String>, Some(0))],
            Some(&decision),
            true,
        )
        .await?;
        tx.commit(&self.inner.svc, &store).await
    }

    /// Forces a password change: the next login yields a change ticket instead of a
    /// session, and every current session ends now. The new password is still chosen
    /// by the owner alone. An account without a password is an invalid input.
    pub async fn force_password_change(
        &self,
        admin: &Caller,
        tenant: TenantId,
        account: AccountId,
    ) -> Result<()> {
        let (store, decision) = self.authorize_admin(admin, tenant, account).await?;
        load(&store, tenant, account).await?;
        let Some(mut record) = records::load::<PasswordRecord>(&store, tenant, account).await?
        else {
            return Err(cai_core::Error::Invalid {
                what: "account",
                reason: "has no password",
            }
            .into());
        };
        record.value.must_change = true;
        let mut tx = self.admin_tx(admin, tenant);
        tx.write(records::put(
            tenant,
            account,
            &record.value,
            record.revision,
            tx.now,
        )?);
        self.end_sessions_in(&store, &mut tx, account).await?;
        tx.audit(
            &store,
            AuditKind::AccountUpdated,
            AuditObject::Account(account),
            vec![
                Change::new("password", None::<String>, Some("change forced")),
                Change::new("sessions", None::<String>, Some("all ended")),
            ],
            Some(&decision),
            true,
        )
        .await?;
        tx.commit(&self.inner.svc, &store).await
    }

    /// Ends every session of an account (a lost device, a suspicion).
    pub async fn end_sessions(
        &self,
        admin: &Caller,
        tenant: TenantId,
        account: AccountId,
    ) -> Result<()> {
        let (store, decision) = self.authorize_admin(admin, tenant, account).await?;
        load(&store, tenant, account).await?;
        let mut tx = self.admin_tx(admin, tenant);
        self.end_sessions_in(&store, &mut tx, account).await?;
        tx.audit(
            &store,
            AuditKind::AccountUpdated,
            AuditObject::Account(account),
            vec![Change::new("sessions", None::<String>, Some("all ended"))],
            Some(&decision),
            true,
        )
        .await?;
        tx.commit(&self.inner.svc, &store).await
    }

    /// Deactivates an account through cai-core (`Counselling::deactivate_account`,
    /// with its rules and audit) and ends its sessions (ASVS 7.4.2). Hosts should
    /// deactivate through this rather than the service directly: tokens of a
    /// deactivated account stop working either way, but only this deletes them, so a
    /// later reactivation does not bring them back.
    pub async fn deactivate_account(
        &self,
        admin: &Caller,
        tenant: TenantId,
        account: AccountId,
        pseudonymise_at: Option<Timestamp>,
    ) -> Result<Account> {
        let a = self
            .inner
            .svc
            .deactivate_account(admin, tenant, account, pseudonymise_at)
            .await?;
        let store = self.store(tenant).await?.ok_or(AuthError::NotOwner)?;
        let mut tx = self.admin_tx(admin, tenant);
        self.end_sessions_in(&store, &mut tx, account).await?;
        tx.commit(&self.inner.svc, &store).await?;
        Ok(a)
    }

    /// Resolves `admin` fresh from the store and authorizes `ManageAccounts` on the
    /// account.
    pub(crate) async fn authorize_admin(
        &self,
        admin: &Caller,
        tenant: TenantId,
        account: AccountId,
    ) -> Result<(DynStore, Decision)> {
        let (store, principal, _) = self
            .inner
            .svc
            .principal(admin, tenant, Action::ManageAccounts)
            .await?;
        let decision = authorize(
            &principal,
            Action::ManageAccounts,
            &Resource::Account { tenant, account },
        )
        .into_result()?;
        Ok((store, decision))
    }

    pub(crate) fn admin_tx(&self, admin: &Caller, tenant: TenantId) -> AuthTx {
        AuthTx::new(
            tenant,
            self.now(),
            AuditActor::Subject(admin.subject),
            admin.request,
        )
    }

    async fn clear_failures(&self, tenant: TenantId, account: AccountId) -> Result<()> {
        let key = AttemptKey::per_scope(tenant, AttemptScope::Account(account));
        self.inner
            .svc
            .ports()
            .failures
            .record_success(&key)
            .await
            .map_err(AuthError::from)
    }
}

async fn load(store: &DynStore, tenant: TenantId, account: AccountId) -> Result<Account> {
    store
        .account(tenant, account)
        .await?
        .ok_or(AuthError::Core(cai_core::Error::NotFound {
            what: "account",
        }))
}
