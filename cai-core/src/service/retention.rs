//! The retention engine (R-P2..R-P4): one run applies a tenant's [`RetentionPolicy`]
//! deadlines against the clock port — content of closed sessions, sessions without
//! activity, guests, client addresses in the audit trail, pseudonymisation — in small
//! commits, each audited.
//!
//! Deleting session content shreds the session's keys *first*
//! ([`KeyProvider::shred`](crate::ports::KeyProvider::shred)), then deletes the rows:
//! a run cut short leaves content that no longer opens rather than content that
//! opens, and the next run finishes the rows. With a key provider that keeps a key
//! per session (cai-store's `VaultKeyProvider`), the copies in old database backups
//! become unreadable too.
//!
//! [`RetentionPolicy`]: crate::domain::RetentionPolicy

use std::time::Duration;

use serde::Serialize;

use super::Counselling;
use super::sessions::wrap_context;
use crate::domain::{
    AuditActor, AuditKind, AuditObject, Change, ContentItem, Session, SessionKind, SessionStatus,
};
use crate::error::{Error, Result};
use crate::id::{SessionId, SubjectId, TenantId};
use crate::ports::{DynStore, Page, Write};

/// How much one commit of a retention run may do. Deleting rows holds the store's
/// write lock; smaller commits let other writers in between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionLimits {
    /// Rows deleted per commit: items of a session, or guests. Between
    /// [`Self::MIN_BATCH`] and [`Self::MAX_BATCH`].
    pub batch: u32,
}

impl RetentionLimits {
    /// The smallest batch.
    pub const MIN_BATCH: u32 = 1;
    /// The largest batch (a store's page limit).
    pub const MAX_BATCH: u32 = Page::<SessionId>::MAX_LIMIT;

    /// Checks the batch size: `invalid` outside `MIN_BATCH..=MAX_BATCH`.
    pub fn validate(&self) -> Result<()> {
        if !(Self::MIN_BATCH..=Self::MAX_BATCH).contains(&self.batch) {
            return Err(Error::Invalid {
                what: "retention limits",
                reason: "batch must be between 1 and 1000 rows",
            });
        }
        Ok(())
    }
}

impl Default for RetentionLimits {
    /// 500 rows per commit.
    fn default() -> Self {
        Self { batch: 500 }
    }
}

/// What one retention run did. JSON: the field names below, counts as numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RetentionReport {
    /// Closed sessions whose content and keys were deleted (the session stays).
    pub sessions_content_deleted: u64,
    /// Sessions without activity that were deleted whole.
    pub sessions_deleted: u64,
    /// Content items deleted, all versions each.
    pub items_deleted: u64,
    /// Blobs of uploaded files deleted with their items (a blob whose deletion failed
    /// is left to [`Counselling::sweep_orphan_blobs`]).
    pub blobs_deleted: u64,
    /// Sessions whose keys were shredded.
    pub keys_shredded: u64,
    /// Uploaded files deleted at the `files` deadline (their blobs are counted in
    /// `blobs_deleted`).
    pub files_deleted: u64,
    /// Guests deleted.
    pub guests_deleted: u64,
    /// Guests past their deadline kept because their devices are in an open
    /// end-to-end session's group (a member's commit must remove them first).
    pub guests_kept: u64,
    /// Audit entries whose origin (request id, client address) was erased.
    pub origins_erased: u64,
    /// Login records (audit entries `login_succeeded`, `login_failed`) whose personal
    /// parts were erased at the `login_records` deadline.
    pub login_records_erased: u64,
    /// Accounts deactivated at the `inactive_accounts` deadline.
    pub accounts_deactivated: u64,
    /// Inactive accounts kept because each is the tenant's last lasting administrator.
    pub accounts_kept: u64,
    /// Deactivated accounts pseudonymised.
    pub accounts_pseudonymised: u64,
    /// Accounts anonymised after their exit date.
    pub accounts_anonymised: u64,
    /// Commits written, by every step (one per batch, per deactivation, per
    /// pseudonymisation or anonymisation).
    pub commits: u64,
}

/// How far a session is due.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Due {
    /// Its content (the session stays, closed), with its first batch of items as the
    /// deadline's check read them (empty when only keys or a group were left).
    Content(Vec<ContentItem>),
    /// All of it.
    Whole,
}

/// Sessions read per page while walking a tenant.
const WALK_PAGE: u32 = 200;

impl Counselling {
    /// Runs the retention engine for `tenant` once, at the clock port's time, and
    /// reports what it did. Idempotent: a second run at the same time does nothing.
    /// The host runs it periodically (for instance hourly) per tenant; runs of one
    /// tenant should not overlap (a second run only repeats work the first does).
    ///
    /// In order:
    /// 1. **Sessions** (every session, by id): one whose last activity is at least
    ///    `inactive_sessions` ago is deleted whole (`session_expired`); otherwise a
    ///    closed one closed at least `session_content` ago that still has content,
    ///    keys or an end-to-end group has them deleted (`session_content_expired`).
    ///    The current meeting of a room is never deleted whole while open (the room
    ///    would point nowhere). Either way the keys are shredded first, then the items
    ///    go in commits of at most `limits.batch`, then the session (or its keys' rows)
    ///    in a last commit with the audit entry.
    /// 2. **Files** uploaded at least `files` ago are deleted, item and blob
    ///    (`content_deleted`, change `retention: files`), at most `limits.batch` per
    ///    commit; the session and its other content stay.
    /// 3. **Guests** at least `guest_delete_after` past joining are deleted
    ///    (`guest_deleted`, up to `limits.batch` per commit), except those whose
    ///    devices sit in an open end-to-end session's group (counted as kept).
    /// 4. **IP logs**: audit entries at least `ip_logs` old lose their origin (request
    ///    id and client address; `AuditStore::erase_origins_before`), the rest of each
    ///    entry stays.
    /// 5. **Login records**: login entries (`login_succeeded`, `login_failed`) at least
    ///    `login_records` old lose their changes and origin
    ///    (`AuditStore::erase_login_records_before`).
    /// 6. **Inactive accounts**: active or locked accounts not seen for
    ///    `inactive_accounts` (plus the day `last_active` may lag) are deactivated,
    ///    pseudonymisation scheduled `pseudonymise_after` later (`account_deactivated`,
    ///    `reason: inactive`); the tenant's last lasting administrator is kept.
    /// 7. **Pseudonymisation** of deactivated accounts whose date has come
    ///    ([`Self::run_pseudonymisation`]).
    /// 8. **Anonymisation** of accounts whose exit date (`valid_until`) lies at least
    ///    `anonymise_after_exit` in the past, pseudonymised the same way (R-I7).
    ///
    /// Steps 6 to 8 share one walk over the accounts, by id: each account goes through
    /// them in that order before the next, so one deactivated at step 6 with a
    /// `pseudonymise_after` of zero is pseudonymised at step 7 of the same run, and one
    /// deactivated and past its exit date is anonymised from `deactivated`.
    ///
    /// Errors: `invalid` limits (before anything); an unknown tenant `not_found`; a
    /// key provider that cannot shred fails the run at that session
    /// (`key_provider`), before its rows are touched; store failures as usual. Work
    /// committed before an error stays done.
    pub async fn run_retention(
        &self,
        tenant: TenantId,
        limits: RetentionLimits,
    ) -> Result<RetentionReport> {
        self.observe("run_retention", Some(tenant), None, async move {
            limits.validate()?;
            let store = self.store(tenant).await?;
            let t = store
                .tenant(tenant)
                .await?
                .ok_or(Error::NotFound { what: "tenant" })?;
            let policy = t.settings.retention;
            let now = self.now();
            let before = |d: Option<Duration>| d.map(|d| now.minus(d));
            let (inactive_before, content_before) = (
                before(policy.inactive_sessions),
                before(policy.session_content),
            );
            let mut report = RetentionReport::default();

            let mut after = None;
            loop {
                let page = Page {
                    after,
                    ..Page::first(WALK_PAGE)
                };
                let ids = store.session_ids(tenant, page).await?;
                let Some(last) = ids.last().copied() else {
                    break;
                };
                for id in ids {
                    let Some(s) = store.session(tenant, id).await? else {
                        continue;
                    };
                    let whole = inactive_before.is_some_and(|b| s.last_activity <= b)
                        && !(matches!(s.kind, SessionKind::Room(_)) && s.is_open());
                    let due = if whole {
                        Some(Due::Whole)
                    } else if matches!(
                        (s.status, content_before),
                        (SessionStatus::Closed { at }, Some(b)) if at <= b
                    ) {
                        self.content_left(&store, &s, limits)
                            .await?
                            .map(Due::Content)
                    } else {
                        None
                    };
                    if let Some(due) = due {
                        self.expire_session(&store, &s, due, limits, &mut report)
                            .await?;
                    }
                }
                after = Some(last);
            }

            if let Some(files) = policy.files {
                self.expire_files(&store, tenant, now.minus(files), limits, &mut report)
                    .await?;
            }
            self.expire_guests(
                &store,
                tenant,
                now.minus(policy.guest_delete_after),
                limits,
                &mut report,
            )
            .await?;
            // An entry exactly a deadline old is due: erase strictly before one
            // millisecond later.
            let erase_before = |kept: Duration| now.minus(kept).plus(Duration::from_millis(1));
            report.origins_erased = store
                .erase_origins_before(tenant, erase_before(policy.ip_logs))
                .await?;
            report.login_records_erased = store
                .erase_login_records_before(tenant, erase_before(policy.login_records))
                .await?;
            self.retire_accounts(&store, tenant, &policy, &mut report)
                .await?;
            Ok(report)
        })
        .await
    }

    /// Whether a session still holds anything the content deadline deletes: its first
    /// batch of items (kept for [`Self::expire_session`], which would read it again),
    /// else `None` when it has no items, key custody or end-to-end group left.
    async fn content_left(
        &self,
        store: &DynStore,
        s: &Session,
        limits: RetentionLimits,
    ) -> Result<Option<Vec<ContentItem>>> {
        let first = store
            .items(s.tenant, s.id, Page::first(limits.batch))
            .await?;
        let left = !first.is_empty()
            || !store.custodies(s.tenant, s.id).await?.is_empty()
            || store.e2e_latest(s.tenant, s.id).await?.is_some();
        Ok(left.then_some(first))
    }

    /// Shreds the session's keys, deletes its items in batches (starting with those
    /// `due` carries), then the session or its key rows with the audit entry.
    async fn expire_session(
        &self,
        store: &DynStore,
        s: &Session,
        mut due: Due,
        limits: RetentionLimits,
        report: &mut RetentionReport,
    ) -> Result<()> {
        self.shred_session_keys(s.tenant, s.id).await?;
        report.keys_shredded += 1;
        let mut items = 0u64;
        let mut read = match &mut due {
            Due::Content(first) => std::mem::take(first),
            Due::Whole => Vec::new(),
        };
        loop {
            let batch = if read.is_empty() {
                store
                    .items(s.tenant, s.id, Page::first(limits.batch))
                    .await?
            } else {
                std::mem::take(&mut read)
            };
            if batch.is_empty() {
                break;
            }
            let mut tx = self.tx(s.tenant, AuditActor::System);
            for item in &batch {
                tx.write(Write::DeleteItem(item.id));
            }
            self.commit(store, tx).await?;
            report.commits += 1;
            // Uploaded files' blobs after their rows' commit.
            report.blobs_deleted += self
                .delete_blobs(s.tenant, batch.iter().filter_map(|i| i.blob))
                .await;
            items += batch.len() as u64;
        }
        report.items_deleted += items;

        let mut tx = self.tx(s.tenant, AuditActor::System);
        let kind = match due {
            Due::Whole => {
                tx.write(Write::DeleteSession(s.id));
                report.sessions_deleted += 1;
                AuditKind::SessionExpired
            }
            Due::Content(_) => {
                tx.write(Write::DeleteCustody(s.id));
                report.sessions_content_deleted += 1;
                AuditKind::SessionContentExpired
            }
        };
        tx.audit(
            store,
            kind,
            AuditObject::Session(s.id),
            vec![
                Change::new("content", Some("kept"), Some("deleted")),
                Change::new("items_deleted", None::<u64>, Some(items)),
            ],
            None,
            false,
        )
        .await?;
        self.commit(store, tx).await?;
        report.commits += 1;
        Ok(())
    }

    /// Crypto-shreds a session's keys at the key provider (every epoch: they share
    /// the session's wrap context).
    pub(crate) async fn shred_session_keys(
        &self,
        tenant: TenantId,
        session: SessionId,
    ) -> Result<()> {
        self.ports
            .keys
            .shred(tenant, &wrap_context(tenant, session)?)
            .await
            .map_err(|e| Error::KeyProvider(e.to_string()))
    }

    /// Deletes uploaded files created at or before `created_before` — item rows in
    /// commits of at most `limits.batch`, each audited as `content_deleted`, then
    /// their blobs.
    async fn expire_files(
        &self,
        store: &DynStore,
        tenant: TenantId,
        created_before: crate::Timestamp,
        limits: RetentionLimits,
        report: &mut RetentionReport,
    ) -> Result<()> {
        loop {
            let due = store
                .files_created_before(tenant, created_before, limits.batch)
                .await?;
            if due.is_empty() {
                return Ok(());
            }
            let mut tx = self.tx(tenant, AuditActor::System);
            for item in &due {
                tx.write(Write::DeleteItem(item.id));
                tx.audit(
                    store,
                    AuditKind::ContentDeleted,
                    AuditObject::Item(item.id),
                    vec![Change::new("retention", None::<String>, Some("files"))],
                    None,
                    false,
                )
                .await?;
            }
            self.commit(store, tx).await?;
            report.commits += 1;
            report.files_deleted += due.len() as u64;
            report.blobs_deleted += self
                .delete_blobs(tenant, due.iter().filter_map(|i| i.blob))
                .await;
        }
    }

    /// Deletes guests who joined at or before `joined_before`, unless their devices are
    /// in an open end-to-end group.
    async fn expire_guests(
        &self,
        store: &DynStore,
        tenant: TenantId,
        joined_before: crate::Timestamp,
        limits: RetentionLimits,
        report: &mut RetentionReport,
    ) -> Result<()> {
        let mut after = None;
        loop {
            let page = Page {
                after,
                ..Page::first(limits.batch)
            };
            let ids = store.guest_ids(tenant, page).await?;
            let Some(last) = ids.last().copied() else {
                return Ok(());
            };
            let mut tx = self.tx(tenant, AuditActor::System);
            let mut deleted = 0;
            for id in ids {
                let Some(g) = store.guest(tenant, id).await? else {
                    continue;
                };
                if g.joined_at > joined_before {
                    continue;
                }
                if self
                    .e2e_devices_anywhere(store, tenant, SubjectId::Guest(id))
                    .await?
                {
                    report.guests_kept += 1;
                    continue;
                }
                store
                    .erase_subject_parts(tenant, SubjectId::Guest(id))
                    .await?;
                tx.write(Write::DeleteGuest(id));
                tx.audit(
                    store,
                    AuditKind::GuestDeleted,
                    AuditObject::Guest(id),
                    vec![Change::new("guest", Some("present"), None::<String>)],
                    None,
                    false,
                )
                .await?;
                deleted += 1;
            }
            if deleted > 0 {
                self.commit(store, tx).await?;
                report.commits += 1;
                report.guests_deleted += deleted;
            }
            after = Some(last);
        }
    }
}
