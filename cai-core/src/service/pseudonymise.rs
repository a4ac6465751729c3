//! The account life cycle's jobs: deactivation of inactive accounts (R-P2), then
//! pseudonymisation and anonymisation (R-I7): a deactivated account whose date has
//! come, and any account whose exit date lies the tenant's `anonymise_after_exit` in
//! the past, keep only their id — as "Former account" — so content and audit entries
//! stay attributable to *an* account but to nobody. The retention engine runs all three
//! in one walk over the accounts ([`Counselling::run_retention`], steps 6 to 8).

use std::time::Duration;

use super::Counselling;
use super::retention::RetentionReport;
use crate::domain::{
    Account, AccountStatus, AuditActor, AuditKind, AuditObject, BuiltinRole, Change, Name,
    RetentionPolicy,
};
use crate::error::{Error, Result};
use crate::id::{AccountId, SubjectId, TenantId};
use crate::ports::{CredentialKind, DynStore, Page, StoreError, Write};
use crate::time::Timestamp;

/// Accounts read per page while walking a tenant's accounts.
const WALK_PAGE: u32 = 200;

/// The account deadlines of one retention run, at its time.
struct AccountDeadlines {
    /// The run's time.
    now: Timestamp,
    /// Active or locked accounts last seen at or before this are deactivated.
    seen_before: Option<Timestamp>,
    /// How long after such a deactivation the account is pseudonymised.
    pseudonymise_after: Duration,
    /// Accounts whose exit date is at or before this are anonymised.
    exited_before: Option<Timestamp>,
}

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

    /// The pseudonymisation job's work, for [`Self::run_pseudonymisation`] and a
    /// retention run that does not walk the accounts: the accounts the store lists as
    /// due, each checked again.
    async fn pseudonymise_due(&self, store: &DynStore, tenant: TenantId) -> Result<usize> {
        let now = self.now();
        let mut done = 0;
        loop {
            let due = store.pseudonymisation_due(tenant, now, 100).await?;
            let before = done;
            for id in due {
                let Some(a) = store.account(tenant, id).await? else {
                    continue;
                };
                if !due_at(&a, now) {
                    continue;
                }
                if self.pseudonymise(store, a, now, "deactivated").await? {
                    done += 1;
                }
            }
            // No progress means nothing (more) is due: a store listing accounts that
            // are not due must not make the job spin.
            if done == before {
                return Ok(done);
            }
        }
    }

    /// Steps 6 to 8 of [`Self::run_retention`] — deactivation of inactive accounts
    /// (R-P2), pseudonymisation of those whose date has come, anonymisation after the
    /// exit date (R-I7) — in one walk over the tenant's accounts, by id. Each account
    /// goes through the three in that order, each seeing what the one before did, before
    /// the next is looked at. Without an `inactive_accounts` or `anonymise_after_exit`
    /// deadline nothing needs the walk: only the accounts whose date has come are read.
    pub(crate) async fn retire_accounts(
        &self,
        store: &DynStore,
        tenant: TenantId,
        policy: &RetentionPolicy,
        report: &mut RetentionReport,
    ) -> Result<()> {
        let now = self.now();
        if policy.inactive_accounts.is_none() && policy.anonymise_after_exit.is_none() {
            let done = self.pseudonymise_due(store, tenant).await? as u64;
            report.accounts_pseudonymised += done;
            report.commits += done;
            return Ok(());
        }
        let deadlines = AccountDeadlines {
            now,
            seen_before: policy
                .inactive_accounts
                .map(|d| now.minus(d).minus(Account::LAST_ACTIVE_RESOLUTION)),
            pseudonymise_after: policy.pseudonymise_after,
            exited_before: policy.anonymise_after_exit.map(|d| now.minus(d)),
        };
        let mut after: Option<AccountId> = None;
        loop {
            let page = Page {
                after,
                ..Page::first(WALK_PAGE)
            };
            let accounts = store.accounts(tenant, page).await?;
            let Some(last) = accounts.last().map(|a| a.id) else {
                return Ok(());
            };
            for a in accounts {
                self.retire_account(store, a, &deadlines, report).await?;
            }
            after = Some(last);
        }
    }

    /// One account through steps 6 to 8 of the retention run.
    async fn retire_account(
        &self,
        store: &DynStore,
        mut a: Account,
        d: &AccountDeadlines,
        report: &mut RetentionReport,
    ) -> Result<()> {
        // 6. Inactive accounts (R-P2).
        if let Some(seen_before) = d.seen_before
            && matches!(
                a.status,
                AccountStatus::Active | AccountStatus::Locked { .. }
            )
            && a.active_at() <= seen_before
        {
            match self.deactivate_inactive(store, a, d, report).await? {
                Some(current) => a = current,
                None => return Ok(()),
            }
        }
        // Steps 7 and 8 act on the account as it is now, not as the page read it: the
        // accounts before it on the page took their time, and an administrator may have
        // reactivated this one or moved its exit date meanwhile.
        if due_at(&a, d.now) || exited(&a, d) {
            match store.account(a.tenant, a.id).await? {
                Some(now) => a = now,
                None => return Ok(()),
            }
        }
        // 7. Pseudonymisation of deactivated accounts whose date has come (R-I7).
        if due_at(&a, d.now) {
            if self.pseudonymise(store, a, d.now, "deactivated").await? {
                report.accounts_pseudonymised += 1;
                report.commits += 1;
            }
            return Ok(());
        }
        // 8. Anonymisation after the exit date (R-I7).
        if exited(&a, d) {
            let from = status_name(&a.status);
            if self.pseudonymise(store, a, d.now, from).await? {
                report.accounts_anonymised += 1;
                report.commits += 1;
            }
        }
        Ok(())
    }

    /// Deactivates an inactive account `a` (R-P2), its pseudonymisation scheduled
    /// `pseudonymise_after` later, in a commit of its own, audited as
    /// `account_deactivated` (actor `system`, changes `status`, `pseudonymise_at`,
    /// `reason: inactive`). The tenant's last lasting administrator is kept (counted in
    /// `accounts_kept`); an account changed meanwhile (a login) is left to the next run.
    /// Returns the account as it now stands, `None` if it is gone.
    async fn deactivate_inactive(
        &self,
        store: &DynStore,
        a: Account,
        d: &AccountDeadlines,
        report: &mut RetentionReport,
    ) -> Result<Option<Account>> {
        let (tenant, id) = (a.tenant, a.id);
        if a.has_role(BuiltinRole::TenantAdmin.id()) {
            match self.ensure_other_admin(store, tenant, id).await {
                Ok(()) => {}
                Err(Error::Conflict { .. }) => {
                    report.accounts_kept += 1;
                    return Ok(Some(a));
                }
                // A failing store fails the run; it does not keep the account.
                Err(e) => return Err(e),
            }
        }
        let from = status_name(&a.status);
        let at = d.now.plus(d.pseudonymise_after);
        let mut deactivated = a;
        deactivated.status = AccountStatus::Deactivated {
            at: d.now,
            pseudonymise_at: at,
        };
        let mut tx = self.tx(tenant, AuditActor::System);
        tx.write(Write::UpdateAccount(deactivated.clone()));
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
            Ok(()) => {
                report.accounts_deactivated += 1;
                report.commits += 1;
                deactivated.revision += 1;
                Ok(Some(deactivated))
            }
            // Changed meanwhile (a login, an administrator): the next run looks again;
            // the later steps see the account as it is now.
            Err(Error::Store(StoreError::Conflict { .. })) => Ok(store.account(tenant, id).await?),
            Err(e) => Err(e),
        }
    }

    /// Replaces an account's personal data and erases its audit parts, in one commit.
    /// `false` when the account changed since `a` was read (the commit conflicts): the
    /// next run looks at it again; or was deleted meanwhile. Its audit parts are erased
    /// just before the commit (as `delete_account` does), so an account changed in that
    /// moment has lost them already — the re-read right before keeps that moment short.
    async fn pseudonymise(
        &self,
        store: &DynStore,
        mut a: Account,
        now: Timestamp,
        from: &str,
    ) -> Result<bool> {
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
        match self.commit(store, tx).await {
            Ok(()) => Ok(true),
            // Changed or deleted meanwhile: nothing for this run to do with it.
            Err(Error::Store(StoreError::Conflict { .. } | StoreError::Missing { .. })) => {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }
}

/// Whether `a`, not yet pseudonymised, left the tenant before the anonymisation
/// deadline of `d`.
fn exited(a: &Account, d: &AccountDeadlines) -> bool {
    !matches!(a.status, AccountStatus::Pseudonymised { .. })
        && d.exited_before
            .is_some_and(|b| a.valid_until.is_some_and(|end| end <= b))
}

/// Whether `a` is deactivated and its pseudonymisation date has come at `now`.
fn due_at(a: &Account, now: Timestamp) -> bool {
    matches!(a.status, AccountStatus::Deactivated { pseudonymise_at, .. } if pseudonymise_at <= now)
}

/// The status as audit changes name it.
fn status_name(s: &AccountStatus) -> &'static str {
    match s {
        AccountStatus::Active => "active",
        AccountStatus::Locked { .. } => "locked",
        AccountStatus::Deactivated { .. } => "deactivated",
        AccountStatus::Pseudonymised { .. } => "pseudonymised",
    }
}
