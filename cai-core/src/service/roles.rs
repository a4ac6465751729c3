//! Roles (R-I2): custom roles, what a role grants, granting and revoking roles to
//! accounts. Every change is security relevant and announced to the tenant's
//! administrators (R-I5).

use super::admins::four_eyes;
use super::{Caller, Counselling, Tx};
use crate::authz::{Action, Decision, PermissionSet, Resource};
use crate::domain::{Account, AuditKind, AuditObject, BuiltinRole, Change, Name, Role};
use crate::error::{Error, Result};
use crate::id::{AccountId, RoleId, TenantId};
use crate::ports::{DynStore, Write};

impl Counselling {
    /// Grants a role. Needs `AssignRoles`. Security relevant (R-I5).
    pub async fn grant_role(
        &self,
        caller: &Caller,
        tenant: TenantId,
        account: AccountId,
        role: RoleId,
    ) -> Result<Account> {
        self.observe("grant_role", Some(tenant), Some(caller), async move {
            let (store, decision, tx) = self
                .admin_on_account(caller, tenant, Action::AssignRoles, account)
                .await?;
            let r = store
                .role(tenant, role)
                .await?
                .ok_or(Error::NotFound { what: "role" })?;
            let a = self.load_account(&store, tenant, account).await?;
            if a.has_role(role) {
                return Ok(a);
            }
            self.no_outlasting_admin(&store, caller, &r, a.valid_until)
                .await?;
            self.commit_roles(&store, tx, AuditKind::RoleGranted, &decision, a, |roles| {
                roles.push(role);
                roles.sort_unstable();
            })
            .await
        })
        .await
    }

    /// Revokes a role; takes effect on the account's next request. Needs `AssignRoles`.
    /// The tenant's last administrator keeps the admin role (a tenant nobody can
    /// administer could never be repaired). Security relevant (R-I5).
    pub async fn revoke_role(
        &self,
        caller: &Caller,
        tenant: TenantId,
        account: AccountId,
        role: RoleId,
    ) -> Result<Account> {
        self.observe("revoke_role", Some(tenant), Some(caller), async move {
            let (store, decision, tx) = self
                .admin_on_account(caller, tenant, Action::AssignRoles, account)
                .await?;
            let a = self.load_account(&store, tenant, account).await?;
            if !a.has_role(role) {
                return Ok(a);
            }
            if role == BuiltinRole::TenantAdmin.id() {
                self.ensure_other_admin(&store, tenant, account).await?;
            }
            self.commit_roles(&store, tx, AuditKind::RoleRevoked, &decision, a, |roles| {
                roles.retain(|r| *r != role);
            })
            .await
        })
        .await
    }

    /// Applies `change` to the account's roles and commits it, audited as `kind` with
    /// the roles before and after. Security relevant (R-I5).
    async fn commit_roles(
        &self,
        store: &DynStore,
        tx: Tx,
        kind: AuditKind,
        decision: &Decision,
        mut a: Account,
        change: impl FnOnce(&mut Vec<RoleId>),
    ) -> Result<Account> {
        let before = role_list(&a.roles);
        change(&mut a.roles);
        let after = role_list(&a.roles);
        let changes = vec![Change::new("roles", Some(before), Some(after))];
        self.commit_account(store, tx, kind, changes, decision, true, a)
            .await
    }

    /// Creates a custom role (R-I2). Needs `ManageRoles`. Security relevant.
    pub async fn create_role(
        &self,
        caller: &Caller,
        tenant: TenantId,
        name: Name,
        permissions: PermissionSet,
    ) -> Result<Role> {
        self.observe("create_role", Some(tenant), Some(caller), async move {
            let (store, _, _, decision) = self
                .authorized(
                    caller,
                    tenant,
                    Action::ManageRoles,
                    Resource::Tenant(tenant),
                )
                .await?;
            let role = Role {
                id: RoleId::random()?,
                tenant,
                name,
                permissions,
                builtin: None,
                revision: 0,
            };
            let mut tx = self.tx_of(caller, tenant);
            tx.write(Write::InsertRole(role.clone()));
            tx.audit(
                &store,
                AuditKind::RoleCreated,
                AuditObject::Role(role.id),
                vec![
                    Change::new("name", None::<String>, Some(role.name.as_str())),
                    Change::new(
                        "permissions",
                        None::<String>,
                        Some(format!("{permissions:?}")),
                    ),
                ],
                Some(&decision),
                true,
            )
            .await?;
            self.commit(&store, tx).await?;
            Ok(role)
        })
        .await
    }

    /// Changes what a role grants in this tenant, built-ins included (R-I2). Needs
    /// `ManageRoles`. Security relevant. Nobody widens a role they hold (four eyes).
    /// Removing the tenant administrator role's `ManageRoles` is refused: nobody could
    /// give it back.
    pub async fn set_role_permissions(
        &self,
        caller: &Caller,
        tenant: TenantId,
        role: RoleId,
        permissions: PermissionSet,
    ) -> Result<Role> {
        self.observe(
            "set_role_permissions",
            Some(tenant),
            Some(caller),
            async move {
                let (store, principal, _, decision) = self
                    .authorized(
                        caller,
                        tenant,
                        Action::ManageRoles,
                        Resource::Tenant(tenant),
                    )
                    .await?;
                let mut r = store
                    .role(tenant, role)
                    .await?
                    .ok_or(Error::NotFound { what: "role" })?;
                if r.builtin == Some(BuiltinRole::TenantAdmin)
                    && !permissions.contains(Action::ManageRoles)
                {
                    return Err(Error::Invalid {
                        what: "role permissions",
                        reason: "the administrator role must keep manage_roles",
                    });
                }
                // Four eyes: nobody widens a role they hold themselves — an administrator could
                // otherwise give its own role content permissions (R-I3).
                let widens = permissions.iter().any(|a| !r.permissions.contains(a));
                if widens && principal.roles().any(|held| held == role) {
                    return Err(four_eyes(Action::ManageRoles));
                }
                // Widening a role with administrative actions hands them to every
                // holder: a time-limited administrator may not so make a holder
                // outlast it.
                let adds_admin = permissions
                    .iter()
                    .any(|a| a.is_administrative() && !r.permissions.contains(a));
                if adds_admin {
                    let widened = Role {
                        permissions,
                        ..r.clone()
                    };
                    for holder in store.accounts_with_role(tenant, role).await? {
                        if let Some(h) = store.account(tenant, holder).await? {
                            self.no_outlasting_admin(&store, caller, &widened, h.valid_until)
                                .await?;
                        }
                    }
                }
                let before = r.permissions;
                r.permissions = permissions;
                let mut tx = self.tx_of(caller, tenant);
                tx.write(Write::UpdateRole(r.clone()));
                tx.audit(
                    &store,
                    AuditKind::RolePermissionsChanged,
                    AuditObject::Role(role),
                    vec![Change::new(
                        "permissions",
                        Some(format!("{before:?}")),
                        Some(format!("{permissions:?}")),
                    )],
                    Some(&decision),
                    true,
                )
                .await?;
                self.commit(&store, tx).await?;
                r.revision += 1;
                Ok(r)
            },
        )
        .await
    }
}

/// Roles as the audit trail names them: built-ins by name, custom roles by id.
pub(super) fn role_list(roles: &[RoleId]) -> String {
    roles
        .iter()
        .map(|r| match BuiltinRole::from_id(*r) {
            Some(b) => b.default_name().to_owned(),
            None => r.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}
