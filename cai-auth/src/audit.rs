//! Recording what `cai-auth` does, through cai-core's own mechanisms: audit events and
//! incidents are writes in the same atomic batch as the change they describe;
//! security-relevant events queue a notification for the tenant's administrators
//! (R-I5), delivered after the commit by `Counselling::deliver_notifications`
//! (a failed delivery stays queued, as for every other notification).
//!
//! What `cai-auth` records:
//!
//! | What | `AuditKind` | Change |
//! |---|---|---|
//! | successful login | `LoginSucceeded` | `last_login`: `succeeded` |
//! | failed or refused login (R-A9) | `LoginFailed` | `login`: `failed`, `refused: …` (object: the account, or the tenant for an unknown address) |
//! | lockout | `AccountLocked` (security) | `status`: `active` → `locked` |
//! | unlock, counter reset, forced change, sessions ended | `AccountUpdated` (security) | `status`, `failed_logins`, `password`, `sessions` |
//! | a credential set, changed or removed (password, TOTP, recovery codes, e-mail codes, passkey, OIDC link) | `CredentialChanged` | `password`, `second_factor`, `recovery_codes`, `passkey`, `oidc_link` (never a value) |
//! | too many failures from one source or at one account | `IncidentRecorded` (security) + a `RepeatedWrongSecret` incident | |
//! | recovery requested, token refused (R-A5) | `AccountUpdated` / `AccessDenied` | `recovery`: `token mailed`, `refused: <reason>` |
//! | password reset by recovery | `AccountUpdated` (security) | `password`: `reset by e-mail recovery` / `reset under four eyes` |
//! | four-eyes steps and their refusals (R-A6) | `AccountUpdated` / `AccessDenied` (security) | `password_reset`: `requested…`, `approved…`, `QR challenge…`, `… refused: …` |

use cai_core::audit_log::{AuditContext, AuditEntry, AuditLog};
use cai_core::authz::Decision;
use cai_core::domain::{
    AuditActor, AuditKind, AuditObject, Change, Incident, IncidentKind, RequestMeta,
};
use cai_core::id::{EventId, IncidentId, TenantId};
use cai_core::ports::{Batch, DynStore, Write};
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
    log: AuditLog,
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
            log: AuditLog::new(),
        }
    }

    pub(crate) fn write(&mut self, write: Write) {
        self.batch.push(write);
    }

    /// Appends an audit event; `security` also queues a notification for the
    /// tenant's administrators who can act now (cai-core's [`AuditLog`]).
    pub(crate) async fn audit(
        &mut self,
        store: &DynStore,
        kind: AuditKind,
        object: AuditObject,
        changes: Vec<Change>,
        decision: Option<&Decision>,
        security: bool,
    ) -> Result<EventId> {
        let ctx = AuditContext {
            tenant: self.tenant,
            now: self.now,
            actor: self.actor,
            request: self.request,
        };
        let entry = AuditEntry {
            kind,
            object,
            changes,
            decision,
            security,
        };
        let (id, notification) = self.log.record(store, &mut self.batch, &ctx, entry).await?;
        self.notifies |= notification.is_some();
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
        self.repeated_wrong(store, object, attempts, source, "login")
            .await
    }

    /// [`repeated_wrong_secret`](Self::repeated_wrong_secret) for a secret other than
    /// a password (`what`: "guest link", …).
    pub(crate) async fn repeated_wrong(
        &mut self,
        store: &DynStore,
        object: AuditObject,
        attempts: u32,
        source: Option<String>,
        what: &str,
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
                Some(format!("{what}: {attempts} failures")),
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
