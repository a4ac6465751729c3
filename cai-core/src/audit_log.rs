//! Recording what an operation did: one audit event per change, written in the same
//! atomic batch as the change, and for a security-relevant event a notification to the
//! tenant's administrators who can act now (R-I5). cai-core's own operations and the
//! crates built on it (`cai-auth`) record through [`AuditLog`], so every audit trail
//! and every notification has one shape.

use crate::Timestamp;
use crate::authz::Decision;
use crate::domain::{
    AuditActor, AuditEvent, AuditKind, AuditObject, BuiltinRole, Change, RequestMeta,
};
use crate::error::Result;
use crate::id::{AccountId, EventId, TenantId};
use crate::ports::{Batch, DynStore, Notification, Write};

/// Who did it, where and when: the same for every event of one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditContext {
    /// The tenant.
    pub tenant: TenantId,
    /// The time of the operation.
    pub now: Timestamp,
    /// Who acted.
    pub actor: AuditActor,
    /// The request's id and client address.
    pub request: RequestMeta,
}

/// One event to record.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry<'a> {
    /// What happened.
    pub kind: AuditKind,
    /// To what.
    pub object: AuditObject,
    /// Which fields changed (never secret values).
    pub changes: Vec<Change>,
    /// The authorization decision that allowed it, if one did.
    pub decision: Option<&'a Decision>,
    /// Whether the tenant's administrators are told (R-I5).
    pub security: bool,
}

/// Records the audit events of one operation; remembers the administrators to notify,
/// so an operation with several security-relevant events looks them up once.
#[derive(Debug, Default)]
pub struct AuditLog {
    admins: Option<Vec<AccountId>>,
}

impl AuditLog {
    /// A log for one operation.
    pub fn new() -> Self {
        Self::default()
    }

    /// A log that notifies exactly `admins` (when the store cannot know them yet, as
    /// while a tenant and its first administrator are created).
    pub fn notifying(admins: Vec<AccountId>) -> Self {
        Self {
            admins: Some(admins),
        }
    }

    /// Appends the event to `batch` and, when it is security relevant, a notification
    /// to the tenant's administrators who can act now (a deactivated, locked or expired
    /// admin account is nobody's inbox). Returns the event's id and the notification
    /// queued, which the caller delivers after the commit.
    pub async fn record(
        &mut self,
        store: &DynStore,
        batch: &mut Batch,
        ctx: &AuditContext,
        entry: AuditEntry<'_>,
    ) -> Result<(EventId, Option<Notification>)> {
        let id = EventId::random()?;
        let authorized = entry.decision.and_then(|d| match d {
            Decision::Allow { action, .. } => Some((*action, d.to_string())),
            Decision::Deny { .. } => None,
        });
        batch.push(Write::AppendAudit(AuditEvent {
            id,
            tenant: ctx.tenant,
            at: ctx.now,
            actor: ctx.actor,
            kind: entry.kind,
            object: entry.object,
            changes: entry.changes,
            authorized,
            security_relevant: entry.security,
            request: ctx.request,
        }));
        if !entry.security {
            return Ok((id, None));
        }
        let recipients = match &self.admins {
            Some(admins) => admins.clone(),
            None => {
                let mut admins = Vec::new();
                for account in store
                    .accounts_with_role(ctx.tenant, BuiltinRole::TenantAdmin.id())
                    .await?
                {
                    if let Some(a) = store.account(ctx.tenant, account).await?
                        && a.is_usable_at(ctx.now)
                    {
                        admins.push(account);
                    }
                }
                self.admins = Some(admins.clone());
                admins
            }
        };
        let notification = Notification {
            event: id,
            tenant: ctx.tenant,
            at: ctx.now,
            actor: ctx.actor,
            kind: entry.kind,
            object: entry.object,
            recipients,
        };
        batch.push(Write::QueueNotification(notification.clone()));
        Ok((id, Some(notification)))
    }
}
