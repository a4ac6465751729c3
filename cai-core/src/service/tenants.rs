//! Tenants: creation by the platform operator, settings, audit trail and incidents.

use super::accounts::NewAccount;
use super::{Caller, Counselling};
use crate::audit_log::AuditLog;
use crate::authz::{Action, Resource};
use crate::domain::{
    Account, AccountStatus, AuditActor, AuditEvent, AuditKind, AuditObject, BuiltinRole, Change,
    Incident, Name, Region, Role, Tenant, TenantSettings,
};
use crate::error::{Error, Result};
use crate::id::{AccountId, TenantId};
use crate::ports::{Order, Write};

use super::paging::{PageRequest, Paged};

/// A tenant to create.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    /// Display name.
    pub name: Name,
    /// Data-residency region; decides the store (R-T2).
    pub region: Region,
    /// Defaults and policies (R-T3).
    pub settings: TenantSettings,
}

impl Counselling {
    /// Creates a tenant with its five built-in roles and its first administrator, and
    /// provisions its KEK. An operator action: the host exposes it to the platform
    /// operator only. The new admin account is announced to the notifier like every
    /// admin account (R-I5).
    pub async fn create_tenant(
        &self,
        spec: NewTenant,
        first_admin: NewAccount,
    ) -> Result<(Tenant, Account)> {
        self.observe("create_tenant", None, None, async move {
            spec.settings.validate()?;
            first_admin.validate()?;
            let id = TenantId::random()?;
            let store = self.ports.router.place(id, &spec.region).await?;
            self.ports
                .keys
                .provision(id)
                .await
                .map_err(|e| Error::KeyProvider(e.to_string()))?;

            let mut tx = self.tx(id, AuditActor::Operator);
            let tenant = Tenant {
                id,
                name: spec.name,
                region: spec.region,
                settings: spec.settings,
                created_at: tx.now,
                revision: 0,
            };
            tx.write(Write::InsertTenant(tenant.clone()));
            for role in BuiltinRole::ALL {
                tx.write(Write::InsertRole(Role::builtin(id, role)?));
            }
            let admin = Account {
                id: AccountId::random()?,
                tenant: id,
                email: Some(first_admin.email),
                display_name: first_admin.display_name,
                roles: vec![BuiltinRole::TenantAdmin.id()],
                status: AccountStatus::Active,
                valid_from: first_admin.valid_from,
                valid_until: first_admin.valid_until,
                created_at: tx.now,
                last_active: None,
                revision: 0,
            };
            tx.write(Write::InsertAccount(admin.clone()));
            tx.audit(
                &store,
                AuditKind::TenantCreated,
                AuditObject::Tenant(id),
                vec![
                    Change::new("name", None::<String>, Some(tenant.name.as_str())),
                    Change::new("region", None::<String>, Some(tenant.region.as_str())),
                ],
                None,
                false,
            )
            .await?;
            // The store has no admins yet: the first notice goes to the new admin itself
            // (and to whatever the host's notifier forwards to the operator).
            tx.log = AuditLog::notifying(vec![admin.id]);
            tx.audit(
                &store,
                AuditKind::AccountCreated,
                AuditObject::Account(admin.id),
                vec![Change::new(
                    "roles",
                    None::<String>,
                    Some(BuiltinRole::TenantAdmin.default_name()),
                )],
                None,
                true,
            )
            .await?;
            self.commit(&store, tx).await?;
            Ok((tenant, admin))
        })
        .await
    }

    /// Reads the tenant (any principal of the tenant may; settings are not secret).
    pub async fn tenant(&self, caller: &Caller, tenant: TenantId) -> Result<Tenant> {
        self.observe("tenant", Some(tenant), Some(caller), async move {
            let (_, _, t) = self
                .principal(caller, tenant, Action::ViewOwnAccount)
                .await?;
            Ok(t)
        })
        .await
    }

    /// Changes the tenant's settings (R-T3). Needs `ManageTenant`. Changing the default
    /// or minimum mode affects new sessions only; existing sessions keep theirs.
    pub async fn update_tenant_settings(
        &self,
        caller: &Caller,
        tenant: TenantId,
        settings: TenantSettings,
    ) -> Result<Tenant> {
        self.observe(
            "update_tenant_settings",
            Some(tenant),
            Some(caller),
            async move {
                let (store, _, mut t, decision) = self
                    .authorized(
                        caller,
                        tenant,
                        Action::ManageTenant,
                        Resource::Tenant(tenant),
                    )
                    .await?;
                settings.validate()?;
                let mut changes = Vec::new();
                let before = &t.settings;
                if before.default_mode != settings.default_mode {
                    changes.push(Change::new(
                        "settings.default_mode",
                        Some(crate::json::mode_name(before.default_mode)),
                        Some(crate::json::mode_name(settings.default_mode)),
                    ));
                }
                if before.minimum_mode != settings.minimum_mode {
                    changes.push(Change::new(
                        "settings.minimum_mode",
                        Some(crate::json::mode_name(before.minimum_mode)),
                        Some(crate::json::mode_name(settings.minimum_mode)),
                    ));
                }
                if before.retention != settings.retention {
                    changes.push(Change::new(
                        "settings.retention",
                        Some(format!("{:?}", before.retention)),
                        Some(format!("{:?}", settings.retention)),
                    ));
                }
                if before.password_policy != settings.password_policy {
                    changes.push(Change::new(
                        "settings.password_policy",
                        Some(format!("{:?}", before.password_policy)),
                        Some(format!("{:?}", settings.password_policy)),
                    ));
                }
                if before.two_factor != settings.two_factor {
                    changes.push(Change::new(
                        "settings.two_factor",
                        Some(format!("{:?}", before.two_factor)),
                        Some(format!("{:?}", settings.two_factor)),
                    ));
                }
                if before.allow_history_sharing != settings.allow_history_sharing {
                    changes.push(Change::new(
                        "settings.allow_history_sharing",
                        Some(before.allow_history_sharing),
                        Some(settings.allow_history_sharing),
                    ));
                }
                if before.admin_reauth_window != settings.admin_reauth_window {
                    changes.push(Change::new(
                        "settings.admin_reauth_window",
                        Some(format!("{:?}", before.admin_reauth_window)),
                        Some(format!("{:?}", settings.admin_reauth_window)),
                    ));
                }
                if before.allow_message_editing != settings.allow_message_editing {
                    changes.push(Change::new(
                        "settings.allow_message_editing",
                        Some(before.allow_message_editing),
                        Some(settings.allow_message_editing),
                    ));
                }
                if before.require_mode_descriptor != settings.require_mode_descriptor {
                    changes.push(Change::new(
                        "settings.require_mode_descriptor",
                        Some(before.require_mode_descriptor),
                        Some(settings.require_mode_descriptor),
                    ));
                }
                if before.report_min_count != settings.report_min_count {
                    changes.push(Change::new(
                        "settings.report_min_count",
                        Some(before.report_min_count),
                        Some(settings.report_min_count),
                    ));
                }
                if changes.is_empty() {
                    if *before != settings {
                        // A setting without its own line above still changes, and is audited.
                        changes.push(Change::new(
                            "settings",
                            Some(format!("{before:?}")),
                            Some(format!("{settings:?}")),
                        ));
                    } else {
                        return Ok(t);
                    }
                }
                t.settings = settings;
                let mut tx = self.tx_of(caller, tenant);
                tx.write(Write::UpdateTenant(t.clone()));
                tx.audit(
                    &store,
                    AuditKind::TenantSettingsChanged,
                    AuditObject::Tenant(tenant),
                    changes,
                    Some(&decision),
                    true,
                )
                .await?;
                self.commit(&store, tx).await?;
                t.revision += 1;
                Ok(t)
            },
        )
        .await
    }

    /// A page of the audit trail, oldest first (the order it was written in), each
    /// event with its sequence number. Needs `ViewAuditTrail`.
    pub async fn audit_trail(
        &self,
        caller: &Caller,
        tenant: TenantId,
        page: PageRequest,
    ) -> Result<Paged<AuditRecord>> {
        self.observe("audit_trail", Some(tenant), Some(caller), async move {
            let (store, _, _, _) = self
                .authorized(
                    caller,
                    tenant,
                    Action::ViewAuditTrail,
                    Resource::Tenant(tenant),
                )
                .await?;
            let kind = format!("evt{tenant}");
            let after = page.seq(&kind, Order::OldestFirst)?.unwrap_or(0);
            let limit = page.limit();
            let events = store.audit_events(tenant, after, limit).await?;
            Ok(
                Paged::by_seq(events, &kind, Order::OldestFirst, limit, |(seq, _)| *seq)
                    .map(|(seq, event)| AuditRecord { seq, event }),
            )
        })
        .await
    }

    /// A page of the tenant's incidents, newest first, so a flood of old ones never
    /// hides a new one. Needs `ViewIncidents`.
    pub async fn incidents(
        &self,
        caller: &Caller,
        tenant: TenantId,
        page: PageRequest,
    ) -> Result<Paged<Incident>> {
        self.observe("incidents", Some(tenant), Some(caller), async move {
            let (store, _, _, _) = self
                .authorized(
                    caller,
                    tenant,
                    Action::ViewIncidents,
                    Resource::Tenant(tenant),
                )
                .await?;
            let kind = format!("inc{tenant}");
            let before = page.seq(&kind, Order::NewestFirst)?;
            let limit = page.limit();
            let rows = store.incidents(tenant, before, limit).await?;
            Ok(
                Paged::by_seq(rows, &kind, Order::NewestFirst, limit, |(seq, _)| *seq)
                    .map(|(_, incident)| incident),
            )
        })
        .await
    }
}

/// An audit event with its place in the tenant's trail.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditRecord {
    /// Its sequence number: 1, 2, 3, … in commit order.
    pub seq: u64,
    /// The event.
    pub event: AuditEvent,
}
