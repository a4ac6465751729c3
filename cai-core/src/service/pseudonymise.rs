//! The account life cycle's jobs: deactivation of inactive accounts (R-P2), then
//! pseudonymisation and anonymisation (R-I7): a deactivated account whose date has
//! come, and any account whose exit date lies the tenant's `anonymise_after_exit` in
//! the past, keep only their id — as "Former account" — so content and audit entries
//! stay attributable to *an* account but to nobody.

use std::time::Duration;

use super::Counselling;
use crate::domain::{
    Account, AccountStatus, AuditActor, AuditKind, AuditObject, BuiltinRole, Change, Name,
};
use crate::error::{Error, Result};
use crate::id::{AccountId, SubjectId, TenantId};
use crate::ports::{CredentialKind, DynStore, Page, StoreError, Write};
use crate::time::Timestamp;

/// Accounts read per page while looking for exit dates.
const WALK_PAGE: u32 = 200;

impl Counselling {
    /// The pseudonymisation job (R-I7): every deactivated account of `tenant` whose date
    /// has come loses its e-mail address, name, roles and credentials, and the audit
    /// entries it made or that are about it lose their personal parts (changes, client
    /// addresses); the record stays so content and audit entries remain attributable to
    /// "a former account". Idempotent; returns how many accounts it pseudonymised. The
    /// host runs it periodically (the retention engine runs it too).
    pub async fn run_pseudonymisation(&self, tenant: TenantId) -> Result<usize> {
        self.observe("run_pseudonymisation", Some(tenant), None, async move {
            let store = self.store(tenant).await?;
            self.pseudonymise_due(&store, tenant).await
        })
        .await
    }

    /// The pseudonymisation job's work, for [`Self::run_pseudonymisation`] and the
    /// retention engine.
    pub(crate) async fn pseudonymise_due(
        &self,
        store: &DynStore,
        tenant: TenantId,
    ) -> Result<usize> {
        let now = self.now();
        let mut done = 0;
        loop {
            let due = store.pseudonymisation_due(tenant, now, 100).await?;
            let before = done;
            for id in due {
                let Some(a) = store.account(tenant, id).await? else {
                    continue;
                };
                if !matches!(a.status, AccountStatus::Deactivated { pseudonymise_at, .. } if pseudonymise_at <= now)
                {
                    continue;
                }
                self.pseudonymise(store, a, now, "deactivated").await?;
                done += 1;
            }
            // No progress means nothing (more) is due: a store listing accounts that
            // are not due must not make the job spin.
            if done == before {
                return Ok(done);
            }
        }
    }

    /// Anonymisation after the exit date (R-I7): every account whose `valid_until`
    /// lies at least `after_exit` before now and that is not pseudonymised yet is, as
    /// [`Self::run_pseudonymisation`] does (audited as `account_pseudonymised`,
    /// change `status: <old> → pseudonymised`). Returns how many.
    pub(crate) async fn anonymise_exited(
        &self,
        store: &DynStore,
        tenant: TenantId,
        after_exit: Duration,
    ) -> Result<usize> {
        let now = self.now();
        let exited_before = now.minus(after_exit);
        let mut done = 0;
        let mut after: Option<AccountId> = None;
        loop {
            let page = Page {
                after,
                ..Page::first(WALK_PAGE)
            };
            let accounts = store.accounts(tenant, page).await?;
            let Some(last) = accounts.last().map(|a| a.id) else {
                return Ok(done);
            };
            for a in accounts {
                let exited = a.valid_until.is_some_and(|end| end <= exited_before);
                if exited && !matches!(a.status, AccountStatus::Pseudonymised { .. }) {
                    let from = status_name(&a.status);
                    self.pseudonymise(store, a, now, from).await?;
                    done += 1;
                }
            }
            after = Some(last);
        }
    }

    /// Deactivation of inactive accounts (R-P2): every active or locked account whose
    /// [`Account::active_at`] lies at least `inactive_for` plus
    /// [`Account::LAST_ACTIVE_RESOLUTION`] before now (the day `last_active` may lag
    /// the last login; a deadline is never met early) is deactivated, its
    /// pseudonymisation scheduled `pseudonymise_after` later, one commit each, audited
    /// as `account_deactivated` (actor `system`, changes `status`, `pseudonymise_at`,
    /// `reason: inactive`). The tenant's last lasting administrator is kept; an
    /// account changed meanwhile (a login) is left to the next run. Returns
    /// (deactivated, kept).
    pub(crate) async fn deactivate_inactive(
        &self,
        store: &DynStore,
        tenant: TenantId,
        inactive_for: Duration,
        pseudonymise_after: Duration,
    ) -> Result<(u64, u64)> {
        let now = self.now();
        let seen_before = now
            .minus(inactive_for)
            .minus(Account::LAST_ACTIVE_RESOLUTION);
        let (mut deactivated, mut kept) = (0, 0);
        let mut after: Option<AccountId> = None;
        loop {
            let page = Page {
                after,
                ..Page::first(WALK_PAGE)
            };
            let accounts = store.accounts(tenant, page).await?;
            let Some(last) = accounts.last().map(|a| a.id) else {
                return Ok((deactivated, kept));
            };
            for mut a in accounts {
                let from = match a.status {
                    AccountStatus::Active | AccountStatus::Locked { .. } => status_name(&a.status),
                    AccountStatus::Deactivated { .. } | AccountStatus::Pseudonymised { .. } => {
                        continue;
                    }
                };
                if a.active_at() > seen_before {
                    continue;
                }
                if a.has_role(BuiltinRole::TenantAdmin.id())
                    && self.ensure_other_admin(store, tenant, a.id).await.is_err()
                {
                    kept += 1;
                    continue;
                }
                let at = now.plus(pseudonymise_after);
                let id = a.id;
                a.status = AccountStatus::Deactivated {
                    at: now,
                    pseudonymise_at: at,
                };
                let mut tx = self.tx(tenant, AuditActor::System);
                tx.write(Write::UpdateAccount(a));
                tx.audit(
                    store,
                    AuditKind::AccountDeactivated,
                    AuditObject::Account(id),
                    vec![
                        Change::new("status", Some(from), Some("deactivated")),
                        Change::new("pseudonymise_at", None::<String>, Some(at)),
                        Change::new("reason", None::<String>, Some("inactive")),
                    ],
                    None,
                    false,
                )
                .await?;
                match self.commit(store, tx).await {
                    Ok(()) => deactivated += 1,
                    // Changed meanwhile (a login, an administrator): the next run
                    // looks again.
                    Err(Error::Store(StoreError::Conflict { .. })) => {}
                    Err(e) => return Err(e),
                }
            }
            after = Some(last);
        }
    }

    /// Replaces an account's personal data and erases its audit parts, in one commit.
    async fn pseudonymise(
        &self,
        store: &DynStore,
        mut a: Account,
        now: Timestamp,
        from: &str,
    ) -> Result<()> {
        let (tenant, id) = (a.tenant, a.id);
        a.email = None;
        a.display_name = Name::parse("Former account")?;
        a.roles.clear();
        a.status = AccountStatus::Pseudonymised { at: now };
        let mut tx = self.tx(tenant, AuditActor::System);
        tx.write(Write::UpdateAccount(a));
        for kind in CredentialKind::ALL {
            tx.write(Write::DeleteCredential { account: id, kind });
        }
        // Personal values in earlier audit entries (old addresses, names, client
        // addresses) go too; the entries stay attributable by id.
        store
            .erase_subject_parts(tenant, SubjectId::Account(id))
            .await?;
        tx.audit(
            store,
            AuditKind::AccountPseudonymised,
            AuditObject::Account(id),
            vec![Change::new("status", Some(from), Some("pseudonymised"))],
            None,
            false,
        )
        .await?;
        self.commit(store, tx).await
    }
}

fn status_name(s: &AccountStatus) -> &'static str {
    match s {
        AccountStatus::Active => "active",
        AccountStatus::Locked { .. } => "locked",
        AccountStatus::Deactivated { .. } => "deactivated",
        AccountStatus::Pseudonymised { .. } => "pseudonymised",
    }
}
