//! [`MemoryStore`]: the whole storage contract in process memory.

mod apply;
mod reports;
mod snapshot;
mod space;

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;

pub use self::snapshot::{MemorySnapshot, QueuedNotification, TenantRecords};
use self::space::{Space, Tx};
use crate::domain::{
    Account, AccountStatus, AuditEvent, ContentItem, ContentVersion, Email, Group, Guest, Incident,
    Invitation, Participant, Role, Room, Session, Tenant,
};
use crate::id::{
    AccountId, BlobId, GroupId, GuestId, InvitationId, ItemId, RoleId, RoomId, SessionId,
    SubjectId, TenantId,
};
use crate::ports::{
    AuditStore, Batch, ContentStore, Credential, CredentialKind, CredentialStore, DirectoryStore,
    E2eEpoch, HistoryGrant, InvitationFilter, KeyStore, Notification, Order, Page, SessionStore,
    Store, StoreError, StoreResult, StoredCustody, StoredKeyPackage,
};
use crate::time::Timestamp;

/// Every port of [`Store`] in memory: the reference backend the conformance suite was
/// written against, and the store for tests, examples and simulations.
///
/// Each tenant's records live in a space of their own, so a read cannot reach another
/// tenant's data. [`commit`](Store::commit) takes one write lock for the whole batch and
/// keeps an undo log, so a batch is applied completely or not at all and batches are
/// serializable. Nothing is persisted: dropping the store drops the data.
#[derive(Default)]
pub struct MemoryStore {
    spaces: RwLock<BTreeMap<TenantId, Space>>,
}

/// The lock was poisoned by a panic in another thread; the data may be half-written.
#[derive(Debug, thiserror::Error)]
#[error("memory store lock poisoned")]
struct Poisoned;

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> StoreResult<RwLockReadGuard<'_, BTreeMap<TenantId, Space>>> {
        self.spaces
            .read()
            .map_err(|_| StoreError::backend(Poisoned))
    }

    fn write(&self) -> StoreResult<RwLockWriteGuard<'_, BTreeMap<TenantId, Space>>> {
        self.spaces
            .write()
            .map_err(|_| StoreError::backend(Poisoned))
    }

    /// Runs `f` on the space of `tenant` (an empty one if the tenant has no data).
    fn with<T>(&self, tenant: TenantId, f: impl FnOnce(&Space) -> T) -> StoreResult<T> {
        let spaces = self.read()?;
        Ok(match spaces.get(&tenant) {
            Some(space) => f(space),
            None => f(&Space::default()),
        })
    }

    fn commit_now(&self, batch: Batch) -> StoreResult<()> {
        if !batch
            .writes
            .iter()
            .all(|w| apply::belongs_to(w, batch.tenant))
        {
            return Err(StoreError::TenantMismatch);
        }
        let mut spaces = self.write()?;
        let created = !spaces.contains_key(&batch.tenant);
        let space = spaces.entry(batch.tenant).or_default();
        let mut tx = Tx::new(space);
        for write in batch.writes {
            if let Err(e) = apply::apply(&mut tx, write) {
                tx.rollback();
                if created {
                    spaces.remove(&batch.tenant);
                }
                return Err(e);
            }
        }
        Ok(())
    }

    /// A deep copy of every record, to compare with a later one. Test support: see
    /// [`MemorySnapshot`]. A lock poisoned by a panic elsewhere is copied as it is
    /// (the point of a snapshot is to show what is there).
    pub fn snapshot(&self) -> MemorySnapshot {
        let spaces = self
            .spaces
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        MemorySnapshot {
            spaces: spaces.clone(),
        }
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tenants = self.spaces.read().map(|s| s.len()).ok();
        f.debug_struct("MemoryStore")
            .field("tenants", &tenants)
            .finish_non_exhaustive()
    }
}

/// `limit` capped at [`Page::MAX_LIMIT`].
fn capped(limit: u32) -> usize {
    Page::<()>::first(limit).capped_limit()
}

/// The entries of `map` past `page.after` in the page's order.
fn page_range<'a, K: Ord + Copy, V>(
    map: &'a BTreeMap<K, V>,
    page: &Page<K>,
) -> Box<dyn Iterator<Item = (&'a K, &'a V)> + 'a> {
    let past = page.after.map_or(Bound::Unbounded, Bound::Excluded);
    match page.order {
        Order::OldestFirst => Box::new(map.range((past, Bound::Unbounded))),
        Order::NewestFirst => Box::new(map.range((Bound::Unbounded, past)).rev()),
    }
}

/// The values of `map` past `page.after`, at most `page.limit`.
fn page_of<K: Ord + Copy, V: Clone>(map: &BTreeMap<K, V>, page: Page<K>) -> Vec<V> {
    page_range(map, &page)
        .take(page.capped_limit())
        .map(|(_, v)| v.clone())
        .collect()
}

/// `ids` (ascending) paged.
fn page_ids<K: Ord + Copy>(ids: impl DoubleEndedIterator<Item = K>, page: Page<K>) -> Vec<K> {
    let limit = page.capped_limit();
    match (page.order, page.after) {
        (Order::OldestFirst, None) => ids.take(limit).collect(),
        (Order::OldestFirst, Some(a)) => ids.filter(|k| *k > a).take(limit).collect(),
        (Order::NewestFirst, None) => ids.rev().take(limit).collect(),
        (Order::NewestFirst, Some(a)) => ids.rev().filter(|k| *k < a).take(limit).collect(),
    }
}

#[async_trait]
impl DirectoryStore for MemoryStore {
    async fn tenant(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        self.with(id, |s| s.tenant.clone())
    }

    async fn account(&self, tenant: TenantId, id: AccountId) -> StoreResult<Option<Account>> {
        self.with(tenant, |s| s.accounts.get(&id).cloned())
    }

    async fn account_by_email(
        &self,
        tenant: TenantId,
        email: &Email,
    ) -> StoreResult<Option<Account>> {
        self.with(tenant, |s| {
            s.emails
                .get(email)
                .and_then(|id| s.accounts.get(id))
                .cloned()
        })
    }

    async fn accounts(&self, tenant: TenantId, page: Page<AccountId>) -> StoreResult<Vec<Account>> {
        self.with(tenant, |s| page_of(&s.accounts, page))
    }

    async fn accounts_with_role(
        &self,
        tenant: TenantId,
        role: RoleId,
    ) -> StoreResult<Vec<AccountId>> {
        self.with(tenant, |s| {
            s.accounts
                .values()
                .filter(|a| a.roles.contains(&role))
                .map(|a| a.id)
                .collect()
        })
    }

    async fn pseudonymisation_due(
        &self,
        tenant: TenantId,
        now: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<AccountId>> {
        self.with(tenant, |s| {
            s.accounts
                .values()
                .filter(|a| {
                    matches!(a.status, AccountStatus::Deactivated { pseudonymise_at, .. }
                        if pseudonymise_at <= now)
                })
                .map(|a| a.id)
                .take(capped(limit))
                .collect()
        })
    }

    async fn guest(&self, tenant: TenantId, id: GuestId) -> StoreResult<Option<Guest>> {
        self.with(tenant, |s| s.guests.get(&id).cloned())
    }

    async fn guest_ids(&self, tenant: TenantId, page: Page<GuestId>) -> StoreResult<Vec<GuestId>> {
        self.with(tenant, |s| page_ids(s.guests.keys().copied(), page))
    }

    async fn role(&self, tenant: TenantId, id: RoleId) -> StoreResult<Option<Role>> {
        self.with(tenant, |s| s.roles.get(&id).cloned())
    }

    async fn roles(&self, tenant: TenantId) -> StoreResult<Vec<Role>> {
        self.with(tenant, |s| s.roles.values().cloned().collect())
    }

    async fn group(&self, tenant: TenantId, id: GroupId) -> StoreResult<Option<Group>> {
        self.with(tenant, |s| s.groups.get(&id).cloned())
    }

    async fn groups_of(&self, tenant: TenantId, account: AccountId) -> StoreResult<Vec<GroupId>> {
        self.with(tenant, |s| {
            s.groups
                .values()
                .filter(|g| g.members.contains(&account))
                .map(|g| g.id)
                .collect()
        })
    }

    async fn groups(&self, tenant: TenantId, page: Page<GroupId>) -> StoreResult<Vec<Group>> {
        self.with(tenant, |s| page_of(&s.groups, page))
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn session(&self, tenant: TenantId, id: SessionId) -> StoreResult<Option<Session>> {
        self.with(tenant, |s| s.sessions.get(&id).cloned())
    }

    async fn participants(
        &self,
        tenant: TenantId,
        session: SessionId,
    ) -> StoreResult<Vec<Participant>> {
        self.with(tenant, |s| s.participants_of(session).cloned().collect())
    }

    async fn sessions_of(
        &self,
        tenant: TenantId,
        subject: SubjectId,
        page: Page<SessionId>,
    ) -> StoreResult<Vec<SessionId>> {
        self.with(tenant, |s| {
            // Keys are (session, subject), so sessions come out in id order.
            let ids = s
                .participants
                .keys()
                .filter(|(_, who)| *who == subject)
                .map(|(session, _)| *session);
            page_ids(ids, page)
        })
    }

    async fn session_ids(
        &self,
        tenant: TenantId,
        page: Page<SessionId>,
    ) -> StoreResult<Vec<SessionId>> {
        self.with(tenant, |s| page_ids(s.sessions.keys().copied(), page))
    }

    async fn sessions_of_group(
        &self,
        tenant: TenantId,
        group: GroupId,
        page: Page<SessionId>,
    ) -> StoreResult<Vec<SessionId>> {
        self.with(tenant, |s| {
            let ids = s
                .sessions
                .values()
                .filter(|session| session.groups.contains(&group))
                .map(|session| session.id);
            page_ids(ids, page)
        })
    }

    async fn invitations(
        &self,
        tenant: TenantId,
        filter: InvitationFilter,
        page: Page<InvitationId>,
    ) -> StoreResult<Vec<Invitation>> {
        self.with(tenant, |s| {
            page_range(&s.invitations, &page)
                .map(|(_, i)| i)
                .filter(|i| match filter {
                    InvitationFilter::Session(session) => i.session == session,
                    InvitationFilter::CreatedBy(account) => i.created_by == account,
                })
                .take(page.capped_limit())
                .cloned()
                .collect()
        })
    }

    async fn invitation(
        &self,
        tenant: TenantId,
        id: InvitationId,
    ) -> StoreResult<Option<Invitation>> {
        self.with(tenant, |s| s.invitations.get(&id).cloned())
    }

    async fn room(&self, tenant: TenantId, id: RoomId) -> StoreResult<Option<Room>> {
        self.with(tenant, |s| s.rooms.get(&id).cloned())
    }
}

#[async_trait]
impl ContentStore for MemoryStore {
    async fn item(&self, tenant: TenantId, id: ItemId) -> StoreResult<Option<ContentItem>> {
        self.with(tenant, |s| s.items.get(&id).cloned())
    }

    async fn items(
        &self,
        tenant: TenantId,
        session: SessionId,
        page: Page<ItemId>,
    ) -> StoreResult<Vec<ContentItem>> {
        self.with(tenant, |s| {
            page_range(&s.items, &page)
                .map(|(_, item)| item)
                .filter(|item| item.session == session)
                .take(page.capped_limit())
                .cloned()
                .collect()
        })
    }

    async fn items_latest(
        &self,
        tenant: TenantId,
        session: SessionId,
        page: Page<ItemId>,
    ) -> StoreResult<Vec<(ContentItem, ContentVersion)>> {
        self.with(tenant, |s| {
            page_range(&s.items, &page)
                .map(|(_, item)| item)
                .filter(|item| item.session == session)
                .take(page.capped_limit())
                .map(|item| {
                    let v = s.versions.get(&(item.id, item.latest_version)).ok_or(
                        StoreError::Corrupt {
                            what: "item version",
                        },
                    )?;
                    Ok((item.clone(), v.clone()))
                })
                .collect()
        })?
    }

    async fn version(
        &self,
        tenant: TenantId,
        item: ItemId,
        version: u32,
    ) -> StoreResult<Option<ContentVersion>> {
        self.with(tenant, |s| s.versions.get(&(item, version)).cloned())
    }

    async fn versions(&self, tenant: TenantId, item: ItemId) -> StoreResult<Vec<ContentVersion>> {
        self.with(tenant, |s| s.versions_of(item).cloned().collect())
    }

    async fn files_created_before(
        &self,
        tenant: TenantId,
        before: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<ContentItem>> {
        self.with(tenant, |s| {
            s.items
                .values()
                .filter(|item| item.blob.is_some() && item.created_at <= before)
                .take(capped(limit))
                .cloned()
                .collect()
        })
    }

    async fn item_by_blob(&self, tenant: TenantId, blob: BlobId) -> StoreResult<Option<ItemId>> {
        // A scan: the memory store serves tests and examples, not large tenants.
        self.with(tenant, |s| {
            s.items
                .values()
                .find(|item| item.blob == Some(blob))
                .map(|item| item.id)
        })
    }
}

#[async_trait]
impl KeyStore for MemoryStore {
    async fn custody(
        &self,
        tenant: TenantId,
        session: SessionId,
        epoch: u32,
    ) -> StoreResult<Option<StoredCustody>> {
        self.with(tenant, |s| s.custody.get(&(session, epoch)).cloned())
    }

    async fn custodies(
        &self,
        tenant: TenantId,
        session: SessionId,
    ) -> StoreResult<Vec<StoredCustody>> {
        self.with(tenant, |s| s.custody_of(session).cloned().collect())
    }

    async fn history_grant(
        &self,
        tenant: TenantId,
        session: SessionId,
        recipient: AccountId,
    ) -> StoreResult<Option<HistoryGrant>> {
        self.with(tenant, |s| s.grants.get(&(session, recipient)).cloned())
    }

    async fn e2e_epochs(
        &self,
        tenant: TenantId,
        session: SessionId,
        after: Option<u32>,
        limit: u32,
    ) -> StoreResult<Vec<E2eEpoch>> {
        let limit = limit.min(Page::<ItemId>::MAX_LIMIT) as usize;
        self.with(tenant, |s| {
            s.e2e_of(session)
                .filter(|e| after.is_none_or(|a| e.epoch > a))
                .take(limit)
                .cloned()
                .collect()
        })
    }

    async fn e2e_latest(
        &self,
        tenant: TenantId,
        session: SessionId,
    ) -> StoreResult<Option<E2eEpoch>> {
        self.with(tenant, |s| s.e2e_of(session).last().cloned())
    }

    async fn key_packages(
        &self,
        tenant: TenantId,
        owner: SubjectId,
    ) -> StoreResult<Vec<StoredKeyPackage>> {
        self.with(tenant, |s| {
            let mut v: Vec<StoredKeyPackage> = s.key_packages_of(owner).cloned().collect();
            v.sort_by_key(|k| k.published_at);
            v
        })
    }

    async fn key_backup(
        &self,
        tenant: TenantId,
        account: AccountId,
    ) -> StoreResult<Option<Vec<u8>>> {
        self.with(tenant, |s| s.backups.get(&account).cloned())
    }
}

#[async_trait]
impl CredentialStore for MemoryStore {
    async fn credential(
        &self,
        tenant: TenantId,
        account: AccountId,
        kind: CredentialKind,
    ) -> StoreResult<Option<Credential>> {
        self.with(tenant, |s| s.credentials.get(&(account, kind)).cloned())
    }
}

/// Which personal parts of an audit entry an erasure clears.
#[derive(Clone, Copy)]
enum Parts {
    /// The origin (request id, client address).
    Origin,
    /// `changes` and the origin.
    DetailAndOrigin,
}

impl MemoryStore {
    /// Clears `parts` of every audit entry of `tenant` that `which` picks and that still
    /// has them; returns how many entries changed (as cai-store's chain does).
    fn erase_audit_parts(
        &self,
        tenant: TenantId,
        parts: Parts,
        which: impl Fn(&AuditEvent) -> bool,
    ) -> StoreResult<u64> {
        let mut spaces = self.write()?;
        let Some(space) = spaces.get_mut(&tenant) else {
            return Ok(0);
        };
        let mut changed = 0;
        for e in space.audit.values_mut() {
            let origin = e.request != crate::domain::RequestMeta::default();
            let personal = match parts {
                Parts::Origin => origin,
                Parts::DetailAndOrigin => origin || !e.changes.is_empty(),
            };
            if personal && which(e) {
                if let Parts::DetailAndOrigin = parts {
                    e.changes.clear();
                }
                e.request = crate::domain::RequestMeta::default();
                changed += 1;
            }
        }
        Ok(changed)
    }
}

#[async_trait]
impl AuditStore for MemoryStore {
    async fn erase_subject_parts(&self, tenant: TenantId, subject: SubjectId) -> StoreResult<u64> {
        let about = match subject {
            SubjectId::Account(a) => crate::domain::AuditObject::Account(a),
            SubjectId::Guest(g) => crate::domain::AuditObject::Guest(g),
        };
        self.erase_audit_parts(tenant, Parts::DetailAndOrigin, |e| {
            e.actor == crate::domain::AuditActor::Subject(subject) || e.object == about
        })
    }

    async fn erase_login_records_before(
        &self,
        tenant: TenantId,
        before: Timestamp,
    ) -> StoreResult<u64> {
        use crate::domain::AuditKind;
        self.erase_audit_parts(tenant, Parts::DetailAndOrigin, |e| {
            matches!(e.kind, AuditKind::LoginSucceeded | AuditKind::LoginFailed) && e.at < before
        })
    }

    async fn erase_origins_before(&self, tenant: TenantId, before: Timestamp) -> StoreResult<u64> {
        self.erase_audit_parts(tenant, Parts::Origin, |e| e.at < before)
    }

    async fn audit_events(
        &self,
        tenant: TenantId,
        after_seq: u64,
        limit: u32,
    ) -> StoreResult<Vec<(u64, AuditEvent)>> {
        self.with(tenant, |s| {
            s.audit
                .range((Bound::Excluded(after_seq), Bound::Unbounded))
                .take(capped(limit))
                .map(|(seq, e)| (*seq, e.clone()))
                .collect()
        })
    }

    async fn incidents(
        &self,
        tenant: TenantId,
        before: Option<u64>,
        limit: u32,
    ) -> StoreResult<Vec<(u64, Incident)>> {
        self.with(tenant, |s| {
            let end = before.map_or(Bound::Unbounded, Bound::Excluded);
            s.incidents
                .range((Bound::Unbounded, end))
                .rev()
                .take(capped(limit))
                .map(|(seq, i)| (*seq, i.clone()))
                .collect()
        })
    }

    async fn pending_notifications(
        &self,
        tenant: TenantId,
        limit: u32,
    ) -> StoreResult<Vec<Notification>> {
        self.with(tenant, |s| {
            s.outbox.values().take(capped(limit)).cloned().collect()
        })
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn commit(&self, batch: Batch) -> StoreResult<()> {
        self.commit_now(batch)
    }

    /// Healthy unless a panic during a commit poisoned the lock.
    async fn health(&self) -> StoreResult<()> {
        self.read().map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    //! The full contract is checked by the conformance suite
    //! (`cargo test -p cai-core --features conformance`); these cover the undo log
    //! without the feature.
    use super::*;
    use crate::domain::{Name, Region, TenantSettings};
    use crate::ports::Write;

    fn tenant(id: TenantId) -> Tenant {
        Tenant {
            id,
            name: Name::parse("T").unwrap(),
            region: Region::parse("DE").unwrap(),
            settings: TenantSettings::default(),
            created_at: Timestamp::EPOCH,
            revision: 0,
        }
    }

    #[tokio::test]
    async fn a_failed_batch_is_rolled_back_completely() {
        let store = MemoryStore::new();
        let t = TenantId::random().unwrap();
        let batch = Batch {
            tenant: t,
            writes: vec![
                Write::InsertTenant(tenant(t)),
                Write::DeleteCustody(SessionId::random().unwrap()),
                Write::InsertTenant(tenant(t)),
            ],
        };
        assert!(matches!(
            store.commit(batch).await,
            Err(StoreError::Conflict { what: "tenant" })
        ));
        assert!(store.tenant(t).await.unwrap().is_none());
        assert_eq!(format!("{store:?}"), "MemoryStore { tenants: Some(0), .. }");
    }

    #[tokio::test]
    async fn a_foreign_record_fails_the_batch_before_anything_is_applied() {
        let store = MemoryStore::new();
        let (a, b) = (TenantId::random().unwrap(), TenantId::random().unwrap());
        let batch = Batch {
            tenant: a,
            writes: vec![
                Write::InsertTenant(tenant(a)),
                Write::UpdateTenant(tenant(b)),
            ],
        };
        assert!(matches!(
            store.commit(batch).await,
            Err(StoreError::TenantMismatch)
        ));
        assert!(store.tenant(a).await.unwrap().is_none());
    }
}
