//! Roles (R-I2): the five built-ins every tenant starts with, and custom ones. What a
//! role grants is a [`PermissionSet`] stored per tenant, so a tenant can change any
//! role's permissions, including a built-in's.

use serde::{Deserialize, Serialize};

use super::text::Name;
use crate::authz::{Action, PermissionSet};
use crate::id::{RoleId, TenantId};

/// The built-in roles. Their ids are the same in every tenant ([`BuiltinRole::id`]);
/// their permissions start as [`BuiltinRole::default_permissions`] and are the
/// tenant's to change. JSON: `"tenant_admin"`, `"counsellor"`, `"client"`, `"guest"`,
/// `"auditor"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BuiltinRole {
    /// Administers the tenant: accounts, roles, groups, settings. Does not read
    /// counselling content (R-I3).
    TenantAdmin,
    /// Counsels: creates sessions and rooms, invites, reads and writes content of the
    /// sessions they take part in.
    Counsellor,
    /// Seeks advice: joins the sessions they were invited to.
    Client,
    /// The role of ad-hoc guests; only ever effective inside their one session.
    Guest,
    /// Reads the audit trail, incidents and reports; nothing else.
    Auditor,
}

const SELF_SERVICE: [Action; 4] = [
    Action::ViewOwnAccount,
    Action::UpdateOwnAccount,
    Action::DeleteOwnAccount,
    Action::ExportOwnData,
];

impl BuiltinRole {
    /// All built-ins.
    pub const ALL: [BuiltinRole; 5] = [
        BuiltinRole::TenantAdmin,
        BuiltinRole::Counsellor,
        BuiltinRole::Client,
        BuiltinRole::Guest,
        BuiltinRole::Auditor,
    ];

    /// The role's fixed id.
    pub const fn id(self) -> RoleId {
        RoleId::builtin(self.code())
    }

    const fn code(self) -> u8 {
        match self {
            BuiltinRole::TenantAdmin => 1,
            BuiltinRole::Counsellor => 2,
            BuiltinRole::Client => 3,
            BuiltinRole::Guest => 4,
            BuiltinRole::Auditor => 5,
        }
    }

    /// The built-in role with this id, if it is one.
    pub fn from_id(id: RoleId) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.id() == id)
    }

    /// The name a new tenant gives the role.
    pub const fn default_name(self) -> &'static str {
        match self {
            BuiltinRole::TenantAdmin => "Tenant administrator",
            BuiltinRole::Counsellor => "Counsellor",
            BuiltinRole::Client => "Client",
            BuiltinRole::Guest => "Guest",
            BuiltinRole::Auditor => "Auditor",
        }
    }

    /// The permissions a new tenant gives the role: least privilege (R-I2), and no
    /// content action for administrators or auditors (R-I3).
    pub fn default_permissions(self) -> PermissionSet {
        let self_service = PermissionSet::of(&SELF_SERVICE);
        match self {
            BuiltinRole::TenantAdmin => PermissionSet::of(&[
                Action::ManageTenant,
                Action::ManageAccounts,
                Action::ManageRoles,
                Action::AssignRoles,
                Action::ManageGroups,
                Action::UnlockAccounts,
                Action::ApprovePasswordReset,
                Action::ViewAuditTrail,
                Action::ViewReports,
                Action::ViewIncidents,
            ])
            .union(self_service),
            BuiltinRole::Counsellor => PermissionSet::of(&[
                Action::CreateSession,
                Action::ViewSession,
                Action::JoinSession,
                Action::InviteParticipants,
                Action::ManageParticipants,
                Action::CloseSession,
                Action::ReadContent,
                Action::PostContent,
                Action::EditContent,
                Action::DeleteContent,
                Action::ShareHistory,
                Action::CreateRoom,
                Action::ManageRoom,
                Action::EnterRoom,
            ])
            .union(self_service),
            BuiltinRole::Client => PermissionSet::of(&[
                Action::ViewSession,
                Action::JoinSession,
                Action::ReadContent,
                Action::PostContent,
                Action::EditContent,
                Action::EnterRoom,
            ])
            .union(self_service),
            BuiltinRole::Guest => PermissionSet::of(&[
                Action::ViewSession,
                Action::JoinSession,
                Action::ReadContent,
                Action::PostContent,
            ]),
            BuiltinRole::Auditor => PermissionSet::of(&[
                Action::ViewAuditTrail,
                Action::ViewReports,
                Action::ViewIncidents,
            ])
            .union(self_service),
        }
    }
}

/// A role of one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    /// The role's id ([`BuiltinRole::id`] for built-ins).
    pub id: RoleId,
    /// The tenant it belongs to.
    pub tenant: TenantId,
    /// Display name.
    pub name: Name,
    /// What it grants in this tenant.
    pub permissions: PermissionSet,
    /// Which built-in it is, if any. Built-ins cannot be deleted.
    pub builtin: Option<BuiltinRole>,
    /// Incremented by the store on every update.
    pub revision: u64,
}

impl Role {
    /// A built-in role with its default name and permissions.
    pub fn builtin(tenant: TenantId, role: BuiltinRole) -> crate::Result<Self> {
        Ok(Self {
            id: role.id(),
            tenant,
            name: Name::parse(role.default_name())?,
            permissions: role.default_permissions(),
            builtin: Some(role),
            revision: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_ids_are_distinct_and_found() {
        for r in BuiltinRole::ALL {
            assert_eq!(BuiltinRole::from_id(r.id()), Some(r));
        }
    }

    #[test]
    fn admins_and_auditors_have_no_content_permission() {
        for r in [BuiltinRole::TenantAdmin, BuiltinRole::Auditor] {
            let p = r.default_permissions();
            for a in [
                Action::ReadContent,
                Action::PostContent,
                Action::EditContent,
                Action::JoinSession,
                Action::ShareHistory,
            ] {
                assert!(!p.contains(a), "{r:?} has {a}");
            }
        }
    }
}
