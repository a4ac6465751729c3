//! Recording what `cai-auth` does, through cai-core's own mechanisms: audit events and
//! incidents are writes in the same atomic batch as the change they describe;
//! security-relevant events queue a notification for the tenant's administrators
//! (R-I5), delivered after the commit by `Counselling::deliver_notifications`
//! (a failed delivery stays queued, as for every other notification).
//!
//! cai-core has no audit kinds of its own for logins yet, so `cai-auth` records:
//!
//! | What | `AuditKind` | Change |
//! |---|---|---|
//! | successful login | `AccountUpdated` | `last_login`: `succeeded` |
//! | failed login (R-A9) | `AccessDenied` | `login`: `failed` (object: the account, or the tenant for an unknown address) |
//! | lockout | `AccountUpdated` (security) | `status`: `active` → `locked` |
//! | unlock, counter reset, forced change, sessions ended | `AccountUpdated` (security) | `status`, `failed_logins`, `password`, `sessions` |
//! | password set or changed by its owner | `AccountUpdated` | `password`: `changed` (never a value) |
//! | too many failures from one source or at one account | `IncidentRecorded` (security) + a `RepeatedWrongSecret` incident | |

use cai_core::authz::Decision;
use cai_core::domain::{
    AuditActor, AuditEvent, AuditKind, AuditObject, BuiltinRole, Change, Incident, IncidentKind,
    RequestMeta,
};
use cai_core::id::{AccountId, EventId, IncidentId, TenantId};
use cai_core::ports::{Batch, DynStore, Notification, Write};
use cai_core::{Counselling, Timestamp};

use crate::error::{AuthError, Result};

/// The writes of one `cai-auth` operation, with its audit events.
pub(crate) struct AuthTx {
    pub(crate) tenant: TenantId,
    pub(crate) now: Timestamp,
    actor: AuditActor,
    request: RequestMeta,
    pub(crate) batch: Batch,
    notifies: bool,
    admins: Option<Vec<AccountId>>,
}

impl AuthTx {
    pub(crate) fn new(
        tenant: TenantId,
        now: Timestamp,
        actor: AuditActor,
        request: RequestMeta,
    ) -> Self {
        Self {
            tenant,
            now,
            actor,
            request,
            batch: Batch::new(tenant),
            notifies: false,
            admins: None,
        }
    }

    pub(crate) fn write(&mut self, write: Write) {
        self.batch.push(write);
    }

    /// Appends an audit event; `security` also queues a notification for the
    /// tenant's administrators who can act now.
    pub(crate) async fn audit(
        &mut self,
        store: &DynStore,
        kind: AuditKind,
        object: AuditObject,
        changes: Vec<Change>,
        decision: Option<&Decision>,
        security: bool,
    ) -> Result<EventId> {
        let id = EventId::random()?;
        let authorized = decision.and_then(|d| match d {
            Decision::Allow { action, .. } => Some((*action, d.to_string())),
            Decision::Deny { .. } => None,
        });
        self.batch.push(Write::AppendAudit(AuditEvent {
            id,
            tenant: self.tenant,
            at: self.now,
            actor: self.actor,
            kind,
            object,
            changes,
            authorized,
            security_relevant: security,
            request: self.request,
        }));
        if security {
            let recipients = match &self.admins {
                Some(a) => a.clone(),
                None => {
                    let mut admins = Vec::new();
                    for id in store
                        .accounts_with_role(self.tenant, BuiltinRole::TenantAdmin.id())
                        .await?
                    {
                        if let Some(a) = store.account(self.tenant, id).await?
                            && a.is_usable_at(self.now)
                        {
                            admins.push(id);
                        }
                    }
                    self.admins = Some(admins.clone());
                    admins
                }
            };
            self.batch.push(Write::QueueNotification(Notification {
                event: id,
                tenant: self.tenant,
                at: self.now,
                actor: self.actor,
                kind,
                object,
                recipients,
            }));
            self.notifies = true;
        }
        Ok(id)
    }

    /// Records a `RepeatedWrongSecret` incident against `object` with its audit event
    /// (security relevant: the admins are told).
    pub(crate) async fn repeated_wrong_secret(
        &mut self,
        store: &DynStore,
        object: AuditObject,
        attempts: u32,
        source: Option<String>,
    ) -> Result<()> {
        let id = IncidentId::random()?;
        let actor = match self.actor {
            AuditActor::Subject(s) => Some(s),
            _ => None,
        };
        self.batch.push(Write::RecordIncident(Incident {
            id,
            tenant: self.tenant,
            at: self.now,
            actor,
            kind: IncidentKind::RepeatedWrongSecret {
                attempts,
                object,
                source,
            },
        }));
        self.audit(
            store,
            AuditKind::IncidentRecorded,
            AuditObject::Incident(id),
            vec![Change::new(
                "repeated_wrong_secret",
                None::<String>,
                Some(format!("login: {attempts} failures")),
            )],
            None,
            true,
        )
        .await?;
        Ok(())
    }

    /// Commits the batch, then delivers the queued notifications. Only the commit can
    /// fail the operation.
    pub(crate) async fn commit(self, svc: &Counselling, store: &DynStore) -> Result<()> {
        let (tenant, notifies) = (self.tenant, self.notifies);
        store.commit(self.batch).await.map_err(AuthError::from)?;
        if notifies && let Err(e) = svc.deliver_notifications(tenant).await {
            tracing::warn!(%tenant, error = %e, "admin notification stays queued");
        }
        Ok(())
    }
}
