//! Accounts and their life cycle: creation (R-I2), reading and listing, the profile
//! and validity window (R-I6), deactivation and reactivation with scheduled
//! pseudonymisation (R-I7), immediate deletion (R-P3). Roles are in `roles`, groups in
//! `groups`, the rules that keep a tenant administrable in `admins`.

use std::collections::BTreeSet;

use super::admins::four_eyes;
use super::paging::{PageRequest, Paged};
use super::roles::role_list;
use super::session_keys::{Reach, collect_sessions, retrying_moves};
use super::{Caller, Counselling, Tx};
use crate::authz::{Action, Decision, Resource};
use crate::domain::{
    Account, AccountStatus, AuditKind, AuditObject, BuiltinRole, Change, Email, Name,
};
use crate::error::{Error, Result};
use crate::id::{AccountId, RoleId, SubjectId, TenantId};
use crate::ports::{DynStore, Order, Write};
use crate::time::Timestamp;

/// An account to create.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    /// Login e-mail address (unique in the tenant).
    pub email: Email,
    /// Display name.
    pub display_name: Name,
    /// Login allowed from (R-I6).
    pub valid_from: Option<Timestamp>,
    /// Login allowed until (R-I6).
    pub valid_until: Option<Timestamp>,
}

impl NewAccount {
    /// An account valid from now on, without end.
    pub fn new(email: Email, display_name: Name) -> Self {
        Self {
            email,
            display_name,
            valid_from: None,
            valid_until: None,
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        check_window(self.valid_from, self.valid_until)
    }
}

/// A validity window must end after it starts (R-I6).
fn check_window(from: Option<Timestamp>, until: Option<Timestamp>) -> Result<()> {
    if let (Some(from), Some(until)) = (from, until)
        && until <= from
    {
        return Err(Error::Invalid {
            what: "account validity",
            reason: "end is not after start",
        });
    }
    Ok(())
}

/// Changes an administrator makes to an account's profile and window.
///
/// JSON is a merge patch (RFC 7396): a field left out is unchanged, `null` removes a
/// validity bound, a value sets it; `display_name` cannot be removed.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountChanges {
    /// New display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<Name>,
    /// New validity start (`Some(None)` removes it).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::json::patch"
    )]
    pub valid_from: Option<Option<Timestamp>>,
    /// New validity end (`Some(None)` removes it).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::json::patch"
    )]
    pub valid_until: Option<Option<Timestamp>>,
}

fn opt_ts(t: Option<Timestamp>) -> Option<String> {
    t.map(|t| t.to_string())
}

impl Counselling {
    /// The account `id` of `tenant`, or `not_found`.
    pub(super) async fn load_account(
        &self,
        store: &DynStore,
        tenant: TenantId,
        id: AccountId,
    ) -> Result<Account> {
        store
            .account(tenant, id)
            .await?
            .ok_or(Error::NotFound { what: "account" })
    }

    /// Resolves the caller and authorizes `action` on `account`, with the transaction
    /// the operation fills.
    pub(super) async fn admin_on_account(
        &self,
        caller: &Caller,
        tenant: TenantId,
        action: Action,
        account: AccountId,
    ) -> Result<(DynStore, Decision, Tx)> {
        let (store, _, _, decision) = self
            .authorized(
                caller,
                tenant,
                action,
                Resource::Account { tenant, account },
            )
            .await?;
        let tx = self.tx_of(caller, tenant);
        Ok((store, decision, tx))
    }

    /// Commits an updated account with its audit event; returns it as stored.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn commit_account(
        &self,
        store: &DynStore,
        mut tx: Tx,
        kind: AuditKind,
        changes: Vec<Change>,
        decision: &Decision,
        security: bool,
        mut a: Account,
    ) -> Result<Account> {
        tx.write(Write::UpdateAccount(a.clone()));
        tx.audit(
            store,
            kind,
            AuditObject::Account(a.id),
            changes,
            Some(decision),
            security,
        )
        .await?;
        self.commit(store, tx).await?;
        a.revision += 1;
        Ok(a)
    }

    /// Creates an account holding `roles` (R-I2). Needs `ManageAccounts`, and
    /// `AssignRoles` when `roles` is not empty. Every role granted is security relevant
    /// and announced to the tenant's admins (R-I5), so no administrator account is
    /// created unnoticed. An address already used in the tenant is `invalid_input`; an
    /// unknown role `not_found`; an administrative role for an account that would
    /// outlast a time-limited granter is `denied` (`four_eyes`).
    pub async fn create_account(
        &self,
        caller: &Caller,
        tenant: TenantId,
        new: NewAccount,
        roles: &[RoleId],
    ) -> Result<Account> {
        self.observe("create_account", Some(tenant), Some(caller), async move {
            new.validate()?;
            let id = AccountId::random()?;
            let resource = Resource::Account {
                tenant,
                account: id,
            };
            let (store, principal, _, decision) = self
                .authorized(caller, tenant, Action::ManageAccounts, resource)
                .await?;
            let mut tx = self.tx_of(caller, tenant);
            let mut roles = roles.to_vec();
            roles.sort_unstable();
            roles.dedup();
            if !roles.is_empty() {
                self.check(&principal, Action::AssignRoles, &resource)
                    .await?;
                for role in &roles {
                    let r = store
                        .role(tenant, *role)
                        .await?
                        .ok_or(Error::NotFound { what: "role" })?;
                    self.no_outlasting_admin(&store, caller, &r, new.valid_until)
                        .await?;
                }
            }
            if store.account_by_email(tenant, &new.email).await?.is_some() {
                return Err(Error::Invalid {
                    what: "e-mail address",
                    reason: "already used by an account of this tenant",
                });
            }
            let account = Account {
                id,
                tenant,
                email: Some(new.email),
                display_name: new.display_name,
                roles: roles.clone(),
                status: AccountStatus::Active,
                valid_from: new.valid_from,
                valid_until: new.valid_until,
                created_at: tx.now,
                last_active: None,
                revision: 0,
            };
            tx.write(Write::InsertAccount(account.clone()));
            let admin = roles.contains(&BuiltinRole::TenantAdmin.id());
            tx.audit(
                &store,
                AuditKind::AccountCreated,
                AuditObject::Account(id),
                vec![
                    Change::new(
                        "display_name",
                        None::<String>,
                        Some(account.display_name.as_str()),
                    ),
                    Change::new("roles", None::<String>, Some(role_list(&roles))),
                    Change::new("valid_from", None::<String>, opt_ts(account.valid_from)),
                    Change::new("valid_until", None::<String>, opt_ts(account.valid_until)),
                ],
                Some(&decision),
                admin,
            )
            .await?;
            for role in &roles {
                tx.audit(
                    &store,
                    AuditKind::RoleGranted,
                    AuditObject::Account(id),
                    vec![Change::new("roles", None::<String>, Some(role))],
                    Some(&decision),
                    true,
                )
                .await?;
            }
            self.commit(&store, tx).await?;
            Ok(account)
        })
        .await
    }

    /// Reads an account: one's own (`ViewOwnAccount`) or any as an administrator
    /// (`ManageAccounts`).
    pub async fn account(
        &self,
        caller: &Caller,
        tenant: TenantId,
        account: AccountId,
    ) -> Result<Account> {
        self.observe("account", Some(tenant), Some(caller), async move {
            let action = if caller.subject == SubjectId::Account(account) {
                Action::ViewOwnAccount
            } else {
                Action::ManageAccounts
            };
            let (store, _, _, _) = self
                .authorized(
                    caller,
                    tenant,
                    action,
                    Resource::Account { tenant, account },
                )
                .await?;
            self.load_account(&store, tenant, account).await
        })
        .await
    }

    /// A page of the tenant's accounts, oldest first unless asked otherwise (ids sort
    /// by creation). Needs `ManageAccounts`.
    pub async fn list_accounts(
        &self,
        caller: &Caller,
        tenant: TenantId,
        page: PageRequest,
    ) -> Result<Paged<Account>> {
        self.observe("list_accounts", Some(tenant), Some(caller), async move {
            let (store, ..) = self
                .authorized(
                    caller,
                    tenant,
                    Action::ManageAccounts,
                    Resource::Tenant(tenant),
                )
                .await?;
            let kind = format!("acc{tenant}");
            let page = page.id_page(&kind, Order::OldestFirst)?;
            let items = store.accounts(tenant, page).await?;
            Ok(Paged::by_id(items, &kind, &page, |a| a.id))
        })
        .await
    }

    /// Changes an account's display name or validity window. Needs `ManageAccounts`, or
    /// `UpdateOwnAccount` for one's own display name. Nobody changes their own window
    /// (four eyes: a time-limited administrator cannot lift its own end date), and a
    /// window that would leave the tenant without an administrator who can act for good
    /// is refused.
    pub async fn update_account(
        &self,
        caller: &Caller,
        tenant: TenantId,
        account: AccountId,
        changes: AccountChanges,
    ) -> Result<Account> {
        self.observe("update_account", Some(tenant), Some(caller), async move {
            let mine = caller.subject == SubjectId::Account(account);
            let window = changes.valid_from.is_some() || changes.valid_until.is_some();
            let own = mine && !window;
            if mine && window {
                // Checked after resolving the caller, so an unusable account learns nothing.
                self.principal(caller, tenant, Action::ManageAccounts)
                    .await?;
                return Err(four_eyes(Action::ManageAccounts));
            }
            let action = if own {
                Action::UpdateOwnAccount
            } else {
                Action::ManageAccounts
            };
            let (store, decision, tx) = self
                .admin_on_account(caller, tenant, action, account)
                .await?;
            let mut a = self.load_account(&store, tenant, account).await?;
            let mut diff = Vec::new();
            if let Some(name) = changes.display_name {
                diff.push(Change::new(
                    "display_name",
                    Some(a.display_name.as_str()),
                    Some(name.as_str()),
                ));
                a.display_name = name;
            }
            if let Some(from) = changes.valid_from {
                diff.push(Change::new(
                    "valid_from",
                    opt_ts(a.valid_from),
                    opt_ts(from),
                ));
                a.valid_from = from;
            }
            if let Some(until) = changes.valid_until {
                diff.push(Change::new(
                    "valid_until",
                    opt_ts(a.valid_until),
                    opt_ts(until),
                ));
                a.valid_until = until;
            }
            check_window(a.valid_from, a.valid_until)?;
            if diff.is_empty() {
                return Ok(a);
            }
            let admin = a.has_role(BuiltinRole::TenantAdmin.id());
            if admin && window {
                self.ensure_lasting_admin(&store, tenant, &a).await?;
            }
            if window {
                // Nor does a time-limited administrator make an account holding any
                // administrative role outlast it.
                for role in store.roles(tenant).await? {
                    if a.has_role(role.id) {
                        self.no_outlasting_admin(&store, caller, &role, a.valid_until)
                            .await?;
                    }
                }
            }
            self.commit_account(
                &store,
                tx,
                AuditKind::AccountUpdated,
                diff,
                &decision,
                admin && window,
                a,
            )
            .await
        })
        .await
    }

    /// Deactivates an account and schedules its pseudonymisation (R-I7) at
    /// `pseudonymise_at`, or after the tenant's default delay. Needs `ManageAccounts`.
    /// Security relevant. An account that is not active (deactivated, locked,
    /// pseudonymised) or a date in the past is `invalid_input`; the tenant's last
    /// lasting administrator (usable, no end date) is a `conflict`.
    pub async fn deactivate_account(
        &self,
        caller: &Caller,
        tenant: TenantId,
        account: AccountId,
        pseudonymise_at: Option<Timestamp>,
    ) -> Result<Account> {
        self.observe(
            "deactivate_account",
            Some(tenant),
            Some(caller),
            async move {
                let (store, decision, tx) = self
                    .admin_on_account(caller, tenant, Action::ManageAccounts, account)
                    .await?;
                let t = store
                    .tenant(tenant)
                    .await?
                    .ok_or(Error::NotFound { what: "tenant" })?;
                let mut a = self.load_account(&store, tenant, account).await?;
                if !matches!(a.status, AccountStatus::Active) {
                    return Err(Error::Invalid {
                        what: "account",
                        reason: "not active",
                    });
                }
                if a.has_role(BuiltinRole::TenantAdmin.id()) {
                    self.ensure_other_admin(&store, tenant, account).await?;
                }
                let at =
                    pseudonymise_at.unwrap_or(tx.now.plus(t.settings.retention.pseudonymise_after));
                if at < tx.now {
                    return Err(Error::Invalid {
                        what: "pseudonymisation date",
                        reason: "in the past",
                    });
                }
                a.status = AccountStatus::Deactivated {
                    at: tx.now,
                    pseudonymise_at: at,
                };
                self.commit_account(
                    &store,
                    tx,
                    AuditKind::AccountDeactivated,
                    vec![
                        Change::new("status", Some("active"), Some("deactivated")),
                        Change::new("pseudonymise_at", None::<String>, Some(at)),
                    ],
                    &decision,
                    true,
                    a,
                )
                .await
            },
        )
        .await
    }

    /// Reactivates a deactivated account; its scheduled pseudonymisation is cancelled
    /// (R-I7) and its `last_active` set to now (the `inactive_accounts` clock restarts).
    /// A pseudonymised account cannot come back. Needs `ManageAccounts`.
    pub async fn reactivate_account(
        &self,
        caller: &Caller,
        tenant: TenantId,
        account: AccountId,
    ) -> Result<Account> {
        self.observe(
            "reactivate_account",
            Some(tenant),
            Some(caller),
            async move {
                let (store, decision, tx) = self
                    .admin_on_account(caller, tenant, Action::ManageAccounts, account)
                    .await?;
                let mut a = self.load_account(&store, tenant, account).await?;
                let AccountStatus::Deactivated {
                    pseudonymise_at, ..
                } = a.status
                else {
                    return Err(Error::Invalid {
                        what: "account",
                        reason: "not deactivated",
                    });
                };
                a.status = AccountStatus::Active;
                // The inactivity clock restarts, or the next retention run would
                // deactivate an account reactivated after a long pause again.
                a.last_active = Some(tx.now);
                self.commit_account(
                    &store,
                    tx,
                    AuditKind::AccountReactivated,
                    vec![
                        Change::new("status", Some("deactivated"), Some("active")),
                        Change::new("pseudonymise_at", Some(pseudonymise_at), None::<String>),
                    ],
                    &decision,
                    true,
                    a,
                )
                .await
            },
        )
        .await
    }

    /// Deletes an account immediately (R-P3): the record, its credentials, key backup,
    /// key packages, memberships and participations go in one commit, and the personal
    /// parts (changes, client addresses) of the audit entries it made or that are about
    /// it are erased just before it. One's own account
    /// needs `DeleteOwnAccount`; another's `ManageAccounts`. The last administrator
    /// cannot be deleted. An account whose devices are in the group of an open
    /// end-to-end session is a `conflict` until a member commits their removal (a
    /// cascade cannot). Every open server-managed or session-key session the account
    /// took part in or reached through a group moves to its next key epoch in the same
    /// commit (docs/CORE.md, "Key epochs outside end-to-end mode"); a post in one of
    /// them meanwhile is retried as in
    /// [`set_group_members`](Self::set_group_members). Security relevant.
    pub async fn delete_account(
        &self,
        caller: &Caller,
        tenant: TenantId,
        account: AccountId,
    ) -> Result<()> {
        self.observe(
            "delete_account",
            Some(tenant),
            Some(caller),
            retrying_moves(async || self.delete_account_once(caller, tenant, account).await),
        )
        .await
    }

    /// One attempt of [`Self::delete_account`].
    async fn delete_account_once(
        &self,
        caller: &Caller,
        tenant: TenantId,
        account: AccountId,
    ) -> Result<()> {
        let action = if caller.subject == SubjectId::Account(account) {
            Action::DeleteOwnAccount
        } else {
            Action::ManageAccounts
        };
        let (store, decision, mut tx) = self
            .admin_on_account(caller, tenant, action, account)
            .await?;
        let a = self.load_account(&store, tenant, account).await?;
        if a.has_role(BuiltinRole::TenantAdmin.id()) {
            self.ensure_other_admin(&store, tenant, account).await?;
        }
        let subject = SubjectId::Account(account);
        if self.e2e_devices_anywhere(&store, tenant, subject).await? {
            return Err(Error::Conflict {
                what: "account",
                reason: "its devices are in an open end-to-end session's group: remove them with a commit first",
            });
        }
        // Groups are rewritten by the cascade; the service does not touch them here.
        tx.write(Write::DeleteAccount(account));
        // Every check passed: the personal values in its audit entries go (R-P3).
        store.erase_subject_parts(tenant, subject).await?;
        tx.audit(
            &store,
            AuditKind::AccountDeleted,
            AuditObject::Account(account),
            vec![Change::new("account", Some("present"), None::<String>)],
            Some(&decision),
            true,
        )
        .await?;
        // Whatever key the account fetched seals nothing from now on: the open
        // sessions it reached as a participant (a lobby it waits in included) or
        // through a group move on, after the deletion in the audit trail.
        let mut reached = BTreeSet::new();
        collect_sessions(&store, tenant, Reach::Participant(subject), &mut reached).await?;
        for group in store.groups_of(tenant, account).await? {
            collect_sessions(&store, tenant, Reach::Group(group), &mut reached).await?;
        }
        self.next_key_epochs(&store, &mut tx, tenant, &reached, &decision)
            .await?;
        self.commit(&store, tx).await
    }
}
