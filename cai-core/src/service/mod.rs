//! The use-case service: [`Counselling`], one entry point built from the ports, with the
//! operations a counselling platform needs.
//!
//! Every operation follows the same steps: resolve the caller into a fresh
//! [`Principal`] (so a revoked role or a deactivated account takes effect at once),
//! load the resource, [`authorize`], validate, seal content if the session is
//! server-managed, collect every change with its audit event (and, when security
//! relevant, a queued admin notification) into one [`Batch`], commit it atomically, then
//! deliver notifications and publish transport events. A failure before the commit
//! leaves nothing behind; a failed notification stays queued
//! ([`Counselling::deliver_notifications`]).

mod accounts;
mod admins;
mod content;
mod context;
mod e2e;
mod explain;
mod files;
mod groups;
mod invitations;
pub mod mail;
mod modes;
pub mod observe;
pub mod paging;
mod participants;
mod pseudonymise;
mod reports;
mod retention;
mod roles;
mod rooms;
mod session_keys;
mod sessions;
mod tenants;

use std::sync::Arc;
use std::time::Duration;

use cai_crypto::passphrase::Argon2Params;

use crate::authz::{Action, Authentication, Decision, DenyReason, Principal, Resource, authorize};
use crate::blocking::{BlockingError, BlockingPool};
use crate::domain::{
    AuditActor, AuditKind, AuditObject, BuiltinRole, Change, Incident, IncidentKind, RequestMeta,
    Tenant,
};
use crate::error::{Error, Result};
use crate::id::{EventId, IncidentId, SessionId, SubjectId, TenantId};
use crate::ports::{
    AdminNotifier, AttemptKey, AttemptScope, AttemptSource, Batch, BlobStore, Clock, DynStore,
    FailureCounter, KeyProvider, Mailer, Notification, SessionEvent, SessionTransport,
    TenantRouter, Write,
};
use crate::throttle::ThrottlePolicy;
use crate::time::Timestamp;

use crate::audit_log::{AuditContext, AuditEntry, AuditLog};
pub use accounts::{AccountChanges, NewAccount};
pub use content::{ContentBody, ContentView, MAX_PLAINTEXT_LEN};
pub use context::{ItemIds, session_key_context};
pub use e2e::{
    E2eCommit, E2eEpochView, MAX_EPOCHS_PER_READ, MAX_HANDSHAKE_LEN, MAX_KEY_PACKAGE_LEN,
    MAX_KEY_PACKAGES_PER_CALL, MAX_KEY_PACKAGES_PER_OWNER,
};
pub use explain::Target;
pub use files::{
    BlobSweep, FileDownload, FileInfo, FileUpload, MAX_FILE_NAME_LEN, MAX_MEDIA_TYPE_LEN,
};
pub use invitations::{InviteTo, Invited};
pub use mail::{InvitationTemplate, InvitationTemplates};
pub use modes::MAX_MODE_DESCRIPTOR_LEN;
pub use observe::{Health, PortHealth};
pub use paging::{Cursor, PageRequest, Paged};
pub use retention::{RetentionLimits, RetentionReport};
pub use rooms::{NewRoom, ROOM_PASSWORD_MAX, ROOM_PASSWORD_MIN, RoomEntry};
pub use session_keys::{ROTATION_ATTEMPTS, SessionKeyMaterial};
pub use sessions::{CreatedSession, NewSession, SessionDetails};
pub use tenants::{AuditRecord, NewTenant};

/// Everything [`Counselling`] needs from outside.
#[derive(Clone)]
pub struct Ports {
    /// Which store holds which tenant.
    pub router: Arc<dyn TenantRouter>,
    /// Tenant KEKs.
    pub keys: Arc<dyn KeyProvider>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Outgoing mail (invitations).
    pub mailer: Arc<dyn Mailer>,
    /// Notices to tenant admins (R-I5).
    pub notifier: Arc<dyn AdminNotifier>,
    /// Live events to connected clients (`cai-rtc`).
    pub transport: Arc<dyn SessionTransport>,
    /// Brute-force counters (R-U3): in memory for one process, shared for several.
    pub failures: Arc<dyn FailureCounter>,
    /// File bodies (sealed streams) of uploaded files and recordings (R-S4):
    /// [`MemoryBlobStore`](crate::memory::MemoryBlobStore) in tests, cai-store's folder
    /// or S3 store on a server.
    pub blobs: Arc<dyn BlobStore>,
    /// Where CPU-heavy work (Argon2id) runs: [`TokioPool`](crate::blocking) on a
    /// server (feature `tokio`), [`InlinePool`](crate::blocking::InlinePool) in tests and single-threaded hosts.
    pub blocking: Arc<dyn BlockingPool>,
}

impl Ports {
    /// Every port in memory — for tests, examples and prototypes — with the handles a
    /// test needs: the store, a [`ManualClock`](crate::ports::ManualClock) set to the
    /// current time (it stands still until advanced), the mailer that keeps what was
    /// sent, the notifier, the transport. CPU-heavy work runs inline.
    pub fn in_memory() -> crate::memory::InMemory {
        crate::memory::InMemory::new()
    }
}

/// Tunables of the service.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Argon2id cost of room passwords.
    pub room_password_params: Argon2Params,
    /// How long invitations stay valid unless the inviter says otherwise.
    pub invitation_validity: Duration,
    /// Longest invitation validity an inviter may ask for.
    pub max_invitation_validity: Duration,
    /// The invitation mail, per language.
    pub invitation_mail: InvitationTemplates,
    /// Brute-force throttle of room passwords per client address
    /// ([`Caller::request`]) (R-U3): 5 free failures, then 1 s doubling to 15 min.
    pub room_throttle: ThrottlePolicy,
    /// One cross-tenant incident per caller and burst (and again at 64, 128, 256, …
    /// attempts): a new burst starts after an hour without such requests.
    pub cross_tenant_throttle: ThrottlePolicy,
    /// The same per room, over all addresses: lenient (20 free failures, then 1 s
    /// doubling to 5 min), so one client cannot lock everyone out, yet guessing spread
    /// over many addresses is slowed and reported.
    pub room_throttle_per_room: ThrottlePolicy,
    /// Largest file an upload takes ([`Counselling::upload_file`]), in bytes the
    /// caller's source yields: plaintext in server-managed sessions, the sealed stream
    /// in every other mode. Default 2 GiB.
    pub max_file_len: u64,
    /// How old an unreferenced blob must be before [`Counselling::sweep_orphan_blobs`]
    /// deletes it; an upload that takes longer fails. Default 24 hours.
    pub orphan_blob_grace: Duration,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            room_password_params: Argon2Params::RECOMMENDED,
            invitation_validity: crate::time::days(7),
            max_invitation_validity: crate::time::days(90),
            invitation_mail: InvitationTemplates::default(),
            room_throttle: ThrottlePolicy::default(),
            cross_tenant_throttle: ThrottlePolicy {
                free_attempts: 0,
                base_delay: Duration::from_secs(1),
                max_delay: crate::time::minutes(1),
                forget_after: crate::time::hours(1),
            },
            room_throttle_per_room: ThrottlePolicy {
                free_attempts: 20,
                max_delay: crate::time::minutes(5),
                ..ThrottlePolicy::default()
            },
            max_file_len: 2 * 1024 * 1024 * 1024,
            orphan_blob_grace: crate::time::hours(24),
        }
    }
}

/// Who is calling: what `cai-auth` established when the caller logged in (or what
/// [`Counselling::join_as_guest`] returned). The service turns it into a fresh
/// [`Principal`] for every operation.
///
/// **Trust boundary**: every field is the host's word. `subject`, `tenant` and
/// `authentication` (second factor, time) must come from a verified session token —
/// never from request bodies, headers or anything else a client controls; a host that
/// builds a `Caller` from client data has no authorization at all. `request` is what the
/// host's transport observed.
/// `Serialize` only: a host never takes a caller (and so an authentication) from a
/// client's JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Caller {
    /// The caller's tenant.
    pub tenant: TenantId,
    /// The account or guest.
    pub subject: SubjectId,
    /// How and when it authenticated.
    pub authentication: Authentication,
    /// The request's id and client address, for audit events and brute-force
    /// counting.
    pub request: RequestMeta,
}

impl Caller {
    /// A caller without request metadata.
    pub fn new(tenant: TenantId, subject: SubjectId, authentication: Authentication) -> Self {
        Self {
            tenant,
            subject,
            authentication,
            request: RequestMeta::default(),
        }
    }

    /// The same caller, for a request with this metadata.
    pub fn with_request(self, request: RequestMeta) -> Self {
        Self { request, ..self }
    }
}

/// The use-case service. Cheap to clone (it holds `Arc`s).
#[derive(Clone)]
pub struct Counselling {
    ports: Ports,
    config: ServiceConfig,
    /// Counts cross-tenant requests per caller, apart from the brute-force counters of
    /// `ports.failures`, so a flood of such requests can never evict those.
    cross_tenant_counter: Arc<crate::memory::MemoryFailureCounter>,
}

/// Everything one operation will write, with the side effects to run after commit.
pub(crate) struct Tx {
    tenant: TenantId,
    now: Timestamp,
    actor: AuditActor,
    request: RequestMeta,
    batch: Batch,
    notifications: Vec<Notification>,
    events: Vec<(SessionId, SessionEvent)>,
    log: AuditLog,
}

impl Tx {
    pub(crate) fn write(&mut self, write: Write) {
        self.batch.push(write);
    }

    /// Records an audit event; `security` also queues a notification for the tenant's
    /// administrators (R-I5). See [`AuditLog`].
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
        self.notifications.extend(notification);
        Ok(id)
    }

    /// Publishes `event` to the session's connected clients after the commit.
    pub(crate) fn publish(&mut self, session: SessionId, event: SessionEvent) {
        self.events.push((session, event));
    }
}

impl Counselling {
    /// A service over these ports with the default configuration.
    pub fn new(ports: Ports) -> Self {
        Self::with_config(ports, ServiceConfig::default())
    }

    /// A service over these ports.
    pub fn with_config(ports: Ports, config: ServiceConfig) -> Self {
        let capacity = std::num::NonZeroUsize::new(10_000).unwrap_or(std::num::NonZeroUsize::MIN);
        Self {
            ports,
            config,
            cross_tenant_counter: Arc::new(crate::memory::MemoryFailureCounter::with_capacity(
                capacity,
            )),
        }
    }

    /// The ports (for hosts that need the clock or a store directly).
    pub fn ports(&self) -> &Ports {
        &self.ports
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.ports.clock.now()
    }

    /// Runs CPU-heavy work (Argon2id) on the blocking pool, off the async executor. A
    /// full pool answers [`Error::TooManyRequests`] at once rather than queueing
    /// without bound.
    pub(crate) async fn blocking<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        crate::blocking::run(self.ports.blocking.as_ref(), job)
            .await
            .map_err(|e| match e {
                BlockingError::Busy => Error::TooManyRequests {
                    retry_after: Duration::from_secs(1),
                },
                e => Error::Blocking(e.to_string()),
            })
    }

    /// The store of `tenant`; an unplaced tenant is "not found".
    pub(crate) async fn store(&self, tenant: TenantId) -> Result<DynStore> {
        self.ports
            .router
            .route(tenant)
            .await?
            .ok_or(Error::NotFound { what: "tenant" })
    }

    /// The transaction of `caller` acting in `tenant`.
    pub(crate) fn tx_of(&self, caller: &Caller, tenant: TenantId) -> Tx {
        let mut tx = self.tx(tenant, AuditActor::Subject(caller.subject));
        tx.request = caller.request;
        tx
    }

    pub(crate) fn tx(&self, tenant: TenantId, actor: AuditActor) -> Tx {
        Tx {
            tenant,
            now: self.now(),
            actor,
            request: RequestMeta::default(),
            batch: Batch::new(tenant),
            notifications: Vec::new(),
            events: Vec::new(),
            log: AuditLog::new(),
        }
    }

    /// Commits `tx`, then delivers its notifications and publishes its events. Only the
    /// commit can fail the operation: a notification that cannot be delivered stays
    /// queued, a transport event that cannot be published is caught up by clients
    /// reading the session.
    pub(crate) async fn commit(&self, store: &DynStore, tx: Tx) -> Result<()> {
        let Tx {
            tenant,
            batch,
            notifications,
            events,
            ..
        } = tx;
        store.commit(batch).await?;
        for notification in notifications {
            self.deliver(store, notification).await;
        }
        for (session, event) in events {
            if let Err(e) = self.ports.transport.publish(tenant, session, event).await {
                tracing::warn!(%tenant, %session, error = %e, "session event not published");
            }
        }
        Ok(())
    }

    async fn deliver(&self, store: &DynStore, notification: Notification) -> bool {
        match self.ports.notifier.notify(&notification).await {
            Ok(()) => {
                let mut batch = Batch::new(notification.tenant);
                batch.push(Write::MarkNotified(notification.event));
                if let Err(e) = store.commit(batch).await {
                    // Delivered but not marked: it will be delivered again, which is
                    // better than never.
                    tracing::warn!(event = %notification.event, error = %e, "notification not marked");
                }
                true
            }
            Err(e) => {
                tracing::warn!(event = %notification.event, error = %e, "notification stays queued");
                false
            }
        }
    }

    /// Delivers the tenant's queued notifications (those whose first delivery failed).
    /// Returns how many were delivered; the host runs this periodically.
    pub async fn deliver_notifications(&self, tenant: TenantId) -> Result<usize> {
        self.observe("deliver_notifications", Some(tenant), None, async move {
            let store = self.store(tenant).await?;
            let mut delivered = 0;
            for notification in store.pending_notifications(tenant, 1000).await? {
                if self.deliver(&store, notification).await {
                    delivered += 1;
                }
            }
            Ok(delivered)
        })
        .await
    }

    /// Resolves `caller` into a principal of `tenant`, fresh from the store: the account
    /// must exist, be active and inside its validity window (R-I6); roles and groups are
    /// read now, so revocations apply at once. A caller of another tenant is denied and
    /// recorded as an incident in both tenants (R-T1, R-U3).
    pub async fn principal(
        &self,
        caller: &Caller,
        tenant: TenantId,
        action: Action,
    ) -> Result<(DynStore, Principal, Tenant)> {
        if caller.tenant != tenant {
            self.cross_tenant(caller, tenant, action).await;
            return Err(Error::Denied {
                action,
                reason: DenyReason::TenantMismatch {
                    principal: caller.tenant,
                    resource: tenant,
                },
            });
        }
        let store = self.store(tenant).await?;
        let t = store
            .tenant(tenant)
            .await?
            .ok_or(Error::NotFound { what: "tenant" })?;
        let principal = self.resolve(&store, &t, caller, self.now()).await?;
        Ok((store, principal, t))
    }

    /// The principal of `caller` in `t` at `now`, from stored records:
    /// [`Error::AccountNotUsable`] for an unknown, inactive, locked or expired subject.
    pub(crate) async fn resolve(
        &self,
        store: &DynStore,
        t: &Tenant,
        caller: &Caller,
        now: Timestamp,
    ) -> Result<Principal> {
        let tenant = t.id;
        let roles = store.roles(tenant).await?;
        Ok(match caller.subject {
            SubjectId::Account(id) => {
                let account = store
                    .account(tenant, id)
                    .await?
                    .ok_or(Error::AccountNotUsable)?;
                if !account.is_usable_at(now) {
                    return Err(Error::AccountNotUsable);
                }
                let held = roles
                    .iter()
                    .filter(|r| account.has_role(r.id))
                    .map(|r| (r.id, r.permissions))
                    .collect();
                let groups = store.groups_of(tenant, id).await?;
                Principal::account(
                    tenant,
                    id,
                    held,
                    groups,
                    caller.authentication,
                    now,
                    t.settings.admin_reauth_window,
                )
            }
            SubjectId::Guest(id) => {
                let guest = store
                    .guest(tenant, id)
                    .await?
                    .ok_or(Error::AccountNotUsable)?;
                if now >= guest.expires_at {
                    return Err(Error::AccountNotUsable);
                }
                let guest_role = roles
                    .iter()
                    .find(|r| r.id == BuiltinRole::Guest.id())
                    .map(|r| (r.id, r.permissions))
                    .unwrap_or((BuiltinRole::Guest.id(), crate::authz::PermissionSet::EMPTY));
                Principal::guest(tenant, id, guest.session, guest_role, now)
            }
        })
    }

    /// Resolves the caller and authorizes `action` on `resource` in one step, for the
    /// operations whose resource needs nothing loaded first.
    pub(crate) async fn authorized(
        &self,
        caller: &Caller,
        tenant: TenantId,
        action: Action,
        resource: Resource<'_>,
    ) -> Result<(DynStore, Principal, Tenant, Decision)> {
        let (store, principal, t) = self.principal(caller, tenant, action).await?;
        let decision = self.check(&principal, action, &resource).await?;
        Ok((store, principal, t, decision))
    }

    /// Authorizes, turning a denial into [`Error::Denied`]; a tenant mismatch found here
    /// (a backend returned a foreign record) is an incident too.
    pub(crate) async fn check(
        &self,
        principal: &Principal,
        action: Action,
        resource: &Resource<'_>,
    ) -> Result<Decision> {
        let decision = authorize(principal, action, resource);
        Self::record_decision(&decision);
        if let Decision::Deny {
            reason: DenyReason::TenantMismatch { resource, .. },
            ..
        } = decision
        {
            let caller = Caller::new(
                principal.tenant(),
                principal.subject(),
                principal.authentication(),
            );
            self.cross_tenant(&caller, resource, action).await;
        }
        decision.into_result()
    }

    /// Records a cross-tenant attempt as an incident (with an audit event and an admin
    /// notification) in the target tenant and in the caller's tenant. Best effort: the
    /// caller is denied whatever happens here.
    async fn cross_tenant(&self, caller: &Caller, target: TenantId, action: Action) {
        metrics::counter!(observe::INCIDENTS, "kind" => "cross_tenant_access").increment(1);
        // One incident per burst and caller — counted per caller only, whatever tenant
        // it names — and again at 64, 128, 256, … attempts: a flood of requests naming
        // other tenants must not flood both tenants' incidents, trails and admins'
        // inboxes, and a long one is still reported. Every attempt is denied and counted
        // in the metrics.
        let key = AttemptKey {
            tenant: caller.tenant,
            scope: AttemptScope::CrossTenant(caller.tenant),
            source: AttemptSource::parse(&caller.subject.to_string()).ok(),
        };
        let attempts = match self
            .cross_tenant_counter
            .record_failure(&key, self.now(), &self.config.cross_tenant_throttle)
            .await
        {
            Ok(o) if o.crossed_threshold || (o.failures >= 64 && o.failures.is_power_of_two()) => {
                o.failures
            }
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cross-tenant counter unavailable; recording the incident");
                1
            }
        };
        for tenant in [target, caller.tenant] {
            let Ok(store) = self.store(tenant).await else {
                continue;
            };
            let result = async {
                let id = IncidentId::random()?;
                let mut tx = self.tx_of(caller, tenant);
                tx.write(Write::RecordIncident(Incident {
                    id,
                    tenant,
                    at: tx.now,
                    actor: Some(caller.subject),
                    kind: IncidentKind::CrossTenantAccess {
                        actor_tenant: caller.tenant,
                        action,
                    },
                }));
                tx.audit(
                    &store,
                    crate::domain::AuditKind::IncidentRecorded,
                    AuditObject::Incident(id),
                    vec![Change::new(
                        "cross_tenant_access",
                        None::<String>,
                        Some(format!(
                            "{} -> {target}: {action} ({attempts} attempts in this burst)",
                            caller.tenant
                        )),
                    )],
                    None,
                    true,
                )
                .await?;
                self.commit(&store, tx).await
            }
            .await;
            if let Err(e) = result {
                tracing::error!(%tenant, error = %e, "cross-tenant incident not recorded");
            }
        }
    }
}
