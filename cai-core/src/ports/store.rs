//! The storage contract: reads split by concern, writes as one atomic [`Batch`].
//!
//! Reads are small traits a backend implements one by one ([`DirectoryStore`],
//! [`SessionStore`], [`ContentStore`], [`KeyStore`], [`CredentialStore`],
//! [`AuditStore`]). Writes go through [`Store::commit`]: the service collects every
//! change of one use case — the records, the audit event, the incident, the queued
//! notification — into a batch, and the backend applies all of it or none of it. So no
//! change exists without its audit event, and a failure leaves nothing half-written.
//!
//! The invariants every backend keeps are listed in the [`ports`](crate::ports) module
//! documentation.

use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::{
    Account, AuditEvent, ContentItem, ContentVersion, Email, Group, Guest, Incident, Invitation,
    Participant, Role, Room, Session, Tenant,
};
use crate::id::{
    AccountId, BlobId, EventId, GroupId, GuestId, InvitationId, ItemId, RoleId, RoomId, SessionId,
    SubjectId, TenantId,
};
use crate::time::Timestamp;

use super::notify::Notification;
pub use super::records::{
    Credential, CredentialKind, E2eEpoch, HistoryGrant, StoredCustody, StoredKeyPackage,
};

/// A storage failure. Never carries content or secrets.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// An insert met an existing id or unique key, or an update a newer revision.
    #[error("conflict: {what}")]
    Conflict {
        /// What conflicted.
        what: &'static str,
    },
    /// An update or delete named a record that does not exist.
    #[error("missing: {what}")]
    Missing {
        /// What was missing.
        what: &'static str,
    },
    /// A write in a batch belongs to another tenant than the batch.
    #[error("write for another tenant in a batch")]
    TenantMismatch,
    /// A value read back could not be decoded (corruption, or a newer format).
    #[error("corrupt record: {what}")]
    Corrupt {
        /// What could not be decoded.
        what: &'static str,
    },
    /// The backend failed (I/O, connection, …).
    #[error("backend: {0}")]
    Backend(Arc<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// Wraps a backend error.
    pub fn backend(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Backend(Arc::new(e))
    }
}

/// `Result` with [`StoreError`].
pub type StoreResult<T> = Result<T, StoreError>;

/// Keyset paging: records ordered by id — which is creation order, ids being UUIDv7
/// (see [`crate::id`]) — those past `after` in the page's [`Order`], at most `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page<I> {
    /// Return records past this id in `order` (greater when ascending, smaller when
    /// descending).
    pub after: Option<I>,
    /// At most this many (capped at [`Page::MAX_LIMIT`] by backends).
    pub limit: u32,
    /// Oldest or newest first.
    pub order: Order,
}

/// The direction of a [`Page`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Order {
    /// Ascending ids: oldest first.
    #[default]
    OldestFirst,
    /// Descending ids: newest first.
    NewestFirst,
}

impl<I> Page<I> {
    /// The largest page a backend returns.
    pub const MAX_LIMIT: u32 = 1000;

    /// The first `limit` records, oldest first.
    pub fn first(limit: u32) -> Self {
        Self {
            after: None,
            limit,
            order: Order::OldestFirst,
        }
    }

    /// The newest `limit` records, newest first.
    pub fn newest(limit: u32) -> Self {
        Self {
            after: None,
            limit,
            order: Order::NewestFirst,
        }
    }

    /// The same page shape, continuing past `id`.
    pub fn after(self, id: I) -> Self {
        Self {
            after: Some(id),
            ..self
        }
    }

    /// `limit` capped at [`Page::MAX_LIMIT`], as a `usize`.
    pub fn capped_limit(&self) -> usize {
        self.limit.min(Self::MAX_LIMIT) as usize
    }
}

/// Which invitations to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvitationFilter {
    /// The invitations to one session.
    Session(SessionId),
    /// The invitations one account sent.
    CreatedBy(AccountId),
}

/// One change in a [`Batch`]. See the [`ports` documentation](crate::ports) for insert/update
/// semantics; cascades are listed per variant.
///
/// `Debug` prints the kind of write and the ids it touches, nothing else: a backend that
/// logs a failed batch logs no names, addresses, verifiers or key material.
#[derive(Clone)]
#[non_exhaustive]
pub enum Write {
    /// Insert a tenant.
    InsertTenant(Tenant),
    /// Update a tenant.
    UpdateTenant(Tenant),
    /// Insert an account (e-mail unique within the tenant).
    InsertAccount(Account),
    /// Update an account (e-mail unique within the tenant).
    UpdateAccount(Account),
    /// Delete an account. Cascades: its credentials, key backup, key packages, history
    /// grants to it, its group memberships, its participations. Content it wrote stays (attributed to
    /// a deleted account); audit events stay.
    DeleteAccount(AccountId),
    /// Insert a guest.
    InsertGuest(Guest),
    /// Delete a guest. Cascades: its participations, its key packages.
    DeleteGuest(GuestId),
    /// Insert a role.
    InsertRole(Role),
    /// Update a role.
    UpdateRole(Role),
    /// Delete a role. Cascades: the role is removed from every account holding it.
    DeleteRole(RoleId),
    /// Insert a group.
    InsertGroup(Group),
    /// Update a group (its members).
    UpdateGroup(Group),
    /// Insert a session.
    InsertSession(Session),
    /// Update a session.
    UpdateSession(Session),
    /// Delete a session. Cascades: participants, invitations, items with all versions,
    /// key custody, history grants, end-to-end group epochs, guests of the session.
    DeleteSession(SessionId),
    /// Add a participant, or change the part of an existing one.
    PutParticipant(Participant),
    /// Remove a participant (missing: [`StoreError::Missing`]).
    RemoveParticipant {
        /// The session.
        session: SessionId,
        /// Who.
        subject: SubjectId,
    },
    /// Insert an invitation.
    InsertInvitation(Invitation),
    /// Update an invitation.
    UpdateInvitation(Invitation),
    /// Insert a room.
    InsertRoom(Room),
    /// Update a room.
    UpdateRoom(Room),
    /// Insert an item with its first version (`version.version == 1`,
    /// `item.latest_version == 1`). An item whose `blob` another item of the tenant
    /// already refers to is `Conflict`.
    InsertItem(ContentItem, ContentVersion),
    /// Add the next version of an item: `version.version` must be the item's
    /// `latest_version + 1` (else `Conflict`); the item's `latest_version` follows.
    AddVersion(ContentVersion),
    /// Delete an item. Cascades: all its versions.
    DeleteItem(ItemId),
    /// Delete every item of a session with all versions (closing with
    /// delete-on-close, retention). The session stays.
    DeleteSessionContent(SessionId),
    /// Store the key custody of a session epoch (insert only: an epoch's key never
    /// changes).
    InsertCustody(StoredCustody),
    /// Delete all key custody, history grants and end-to-end group epochs of a
    /// session: crypto-shredding (R-P4).
    DeleteCustody(SessionId),
    /// Store a history grant (one per session and recipient; a new one replaces it).
    PutHistoryGrant(HistoryGrant),
    /// Store the next epoch of an end-to-end session's group (insert only: a second
    /// epoch with the same number is a [`StoreError::Conflict`] — this is what makes
    /// the first commit of an epoch win when two race).
    InsertE2eEpoch(E2eEpoch),
    /// Withdraw the **latest** epoch of an end-to-end session's group, vetoed by the
    /// session's owner: removes the row of `epoch` only if it is the session's newest
    /// and still holds `commit`, else [`StoreError::Conflict`] (so two vetoes, or a
    /// veto racing the next commit, cannot both take effect). The replacement is an
    /// [`InsertE2eEpoch`](Write::InsertE2eEpoch) of the same number later in the
    /// same batch.
    VetoE2eEpoch {
        /// The tenant.
        tenant: TenantId,
        /// The session.
        session: SessionId,
        /// The epoch withdrawn.
        epoch: u32,
        /// The commit it must hold.
        commit: Vec<u8>,
    },
    /// Publish a key package (its reference unique, else `Conflict`). A last-resort
    /// package replaces the device's previous last-resort package.
    PutKeyPackage(StoredKeyPackage),
    /// Consume a one-time key package (missing: [`StoreError::Missing`], so two
    /// claims of one package cannot both succeed).
    TakeKeyPackage {
        /// Whose.
        owner: SubjectId,
        /// Its reference.
        reference: Vec<u8>,
    },
    /// Store an account's key backup (its private keys sealed under its master key,
    /// R-E4), replacing the previous one.
    PutKeyBackup {
        /// Whose.
        account: AccountId,
        /// The `cai-crypto` key backup bytes.
        backup: Vec<u8>,
    },
    /// Insert a credential (when `revision` is 0; it is stored with revision 1, so
    /// the next update carries 1) or update one (revision precondition).
    PutCredential(Credential),
    /// Delete a credential (missing is not an error: deleting is idempotent).
    DeleteCredential {
        /// Whose.
        account: AccountId,
        /// Which.
        kind: CredentialKind,
    },
    /// Append an audit event (gets the next sequence number).
    AppendAudit(AuditEvent),
    /// Record an incident.
    RecordIncident(Incident),
    /// Queue a notification for the tenant's admins (delivered after commit).
    QueueNotification(Notification),
    /// Mark a queued notification delivered.
    MarkNotified(EventId),
}

impl std::fmt::Debug for Write {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::fmt::Display as D;
        let (name, id): (&str, &dyn D) = match self {
            Write::InsertTenant(t) => ("InsertTenant", &t.id),
            Write::UpdateTenant(t) => ("UpdateTenant", &t.id),
            Write::InsertAccount(a) => ("InsertAccount", &a.id),
            Write::UpdateAccount(a) => ("UpdateAccount", &a.id),
            Write::DeleteAccount(id) => ("DeleteAccount", id),
            Write::InsertGuest(g) => ("InsertGuest", &g.id),
            Write::DeleteGuest(id) => ("DeleteGuest", id),
            Write::InsertRole(r) => ("InsertRole", &r.id),
            Write::UpdateRole(r) => ("UpdateRole", &r.id),
            Write::DeleteRole(id) => ("DeleteRole", id),
            Write::InsertGroup(g) => ("InsertGroup", &g.id),
            Write::UpdateGroup(g) => ("UpdateGroup", &g.id),
            Write::InsertSession(s) => ("InsertSession", &s.id),
            Write::UpdateSession(s) => ("UpdateSession", &s.id),
            Write::DeleteSession(id) => ("DeleteSession", id),
            Write::PutParticipant(p) => ("PutParticipant", &p.session),
            Write::RemoveParticipant { session, .. } => ("RemoveParticipant", session),
            Write::InsertInvitation(i) => ("InsertInvitation", &i.id),
            Write::UpdateInvitation(i) => ("UpdateInvitation", &i.id),
            Write::InsertRoom(r) => ("InsertRoom", &r.id),
            Write::UpdateRoom(r) => ("UpdateRoom", &r.id),
            Write::InsertItem(i, _) => ("InsertItem", &i.id),
            Write::AddVersion(v) => ("AddVersion", &v.item),
            Write::DeleteItem(id) => ("DeleteItem", id),
            Write::DeleteSessionContent(id) => ("DeleteSessionContent", id),
            Write::InsertCustody(c) => ("InsertCustody", &c.session),
            Write::DeleteCustody(id) => ("DeleteCustody", id),
            Write::PutHistoryGrant(g) => ("PutHistoryGrant", &g.session),
            Write::InsertE2eEpoch(e) => ("InsertE2eEpoch", &e.session),
            Write::VetoE2eEpoch { session, .. } => ("VetoE2eEpoch", session),
            Write::PutKeyPackage(k) => ("PutKeyPackage", &k.owner),
            Write::TakeKeyPackage { owner, .. } => ("TakeKeyPackage", owner),
            Write::PutKeyBackup { account, .. } => ("PutKeyBackup", account),
            Write::PutCredential(c) => ("PutCredential", &c.account),
            Write::DeleteCredential { account, .. } => ("DeleteCredential", account),
            Write::AppendAudit(e) => ("AppendAudit", &e.id),
            Write::RecordIncident(i) => ("RecordIncident", &i.id),
            Write::QueueNotification(n) => ("QueueNotification", &n.event),
            Write::MarkNotified(id) => ("MarkNotified", id),
        };
        write!(f, "{name}({id})")
    }
}

/// The writes of one use case, all for one tenant, applied atomically.
#[derive(Debug, Clone)]
pub struct Batch {
    /// The tenant every write belongs to.
    pub tenant: TenantId,
    /// The writes, applied in order.
    pub writes: Vec<Write>,
}

impl Batch {
    /// An empty batch for `tenant`.
    pub fn new(tenant: TenantId) -> Self {
        Self {
            tenant,
            writes: Vec::new(),
        }
    }

    /// Adds a write.
    pub fn push(&mut self, write: Write) -> &mut Self {
        self.writes.push(write);
        self
    }
}

/// Tenants, accounts, guests, roles and groups.
#[async_trait]
pub trait DirectoryStore: Send + Sync {
    /// A tenant.
    async fn tenant(&self, id: TenantId) -> StoreResult<Option<Tenant>>;
    /// An account of a tenant.
    async fn account(&self, tenant: TenantId, id: AccountId) -> StoreResult<Option<Account>>;
    /// The account with this e-mail address in a tenant (exact match).
    async fn account_by_email(
        &self,
        tenant: TenantId,
        email: &Email,
    ) -> StoreResult<Option<Account>>;
    /// A page of a tenant's accounts, by id.
    async fn accounts(&self, tenant: TenantId, page: Page<AccountId>) -> StoreResult<Vec<Account>>;
    /// Ids of a tenant's accounts holding `role`, by id.
    async fn accounts_with_role(
        &self,
        tenant: TenantId,
        role: RoleId,
    ) -> StoreResult<Vec<AccountId>>;
    /// Deactivated accounts whose pseudonymisation date is at or before `now`, by id,
    /// at most `limit`.
    async fn pseudonymisation_due(
        &self,
        tenant: TenantId,
        now: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<AccountId>>;
    /// A guest.
    async fn guest(&self, tenant: TenantId, id: GuestId) -> StoreResult<Option<Guest>>;
    /// A page of every guest of the tenant, by id (the retention engine walks them).
    async fn guest_ids(&self, tenant: TenantId, page: Page<GuestId>) -> StoreResult<Vec<GuestId>>;
    /// A role.
    async fn role(&self, tenant: TenantId, id: RoleId) -> StoreResult<Option<Role>>;
    /// All roles of a tenant, by id.
    async fn roles(&self, tenant: TenantId) -> StoreResult<Vec<Role>>;
    /// A group.
    async fn group(&self, tenant: TenantId, id: GroupId) -> StoreResult<Option<Group>>;
    /// The groups an account is a member of, by id.
    async fn groups_of(&self, tenant: TenantId, account: AccountId) -> StoreResult<Vec<GroupId>>;
    /// A page of a tenant's groups.
    async fn groups(&self, tenant: TenantId, page: Page<GroupId>) -> StoreResult<Vec<Group>>;
}

/// Sessions, participants, invitations and rooms.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// A session.
    async fn session(&self, tenant: TenantId, id: SessionId) -> StoreResult<Option<Session>>;
    /// A session's participants, ordered by subject.
    async fn participants(
        &self,
        tenant: TenantId,
        session: SessionId,
    ) -> StoreResult<Vec<Participant>>;
    /// A page of the sessions a subject takes part in.
    async fn sessions_of(
        &self,
        tenant: TenantId,
        subject: SubjectId,
        page: Page<SessionId>,
    ) -> StoreResult<Vec<SessionId>>;
    /// A page of every session of the tenant, by id (the retention engine walks them).
    async fn session_ids(
        &self,
        tenant: TenantId,
        page: Page<SessionId>,
    ) -> StoreResult<Vec<SessionId>>;
    /// A page of the sessions shared with a group.
    async fn sessions_of_group(
        &self,
        tenant: TenantId,
        group: GroupId,
        page: Page<SessionId>,
    ) -> StoreResult<Vec<SessionId>>;
    /// An invitation.
    async fn invitation(
        &self,
        tenant: TenantId,
        id: InvitationId,
    ) -> StoreResult<Option<Invitation>>;
    /// A page of invitations.
    async fn invitations(
        &self,
        tenant: TenantId,
        filter: InvitationFilter,
        page: Page<InvitationId>,
    ) -> StoreResult<Vec<Invitation>>;
    /// A room.
    async fn room(&self, tenant: TenantId, id: RoomId) -> StoreResult<Option<Room>>;
}

/// Sealed content items and versions.
#[async_trait]
pub trait ContentStore: Send + Sync {
    /// An item.
    async fn item(&self, tenant: TenantId, id: ItemId) -> StoreResult<Option<ContentItem>>;
    /// A page of a session's items, by id.
    async fn items(
        &self,
        tenant: TenantId,
        session: SessionId,
        page: Page<ItemId>,
    ) -> StoreResult<Vec<ContentItem>>;
    /// A page of a session's items, by id, each with its latest version: what a
    /// reader shows, in one read (one query on SQL backends). An item whose latest
    /// version is not stored, or is stored under another session than the item, is
    /// [`StoreError::Corrupt`] (the whole page fails; other pages still read).
    async fn items_latest(
        &self,
        tenant: TenantId,
        session: SessionId,
        page: Page<ItemId>,
    ) -> StoreResult<Vec<(ContentItem, ContentVersion)>>;
    /// One version of an item.
    async fn version(
        &self,
        tenant: TenantId,
        item: ItemId,
        version: u32,
    ) -> StoreResult<Option<ContentVersion>>;
    /// All versions of an item, oldest first.
    async fn versions(&self, tenant: TenantId, item: ItemId) -> StoreResult<Vec<ContentVersion>>;
    /// The item whose [`ContentItem::blob`] is `blob`, if any: how the orphan sweep
    /// ([`Counselling::sweep_orphan_blobs`](crate::Counselling::sweep_orphan_blobs))
    /// tells a file's blob from one no item refers to. Backed by an index.
    async fn item_by_blob(&self, tenant: TenantId, blob: BlobId) -> StoreResult<Option<ItemId>>;
    /// Uploaded files (items with a [`ContentItem::blob`]) created at or before
    /// `before`, by id, at most `limit` (capped at [`Page::MAX_LIMIT`]): what the
    /// retention engine deletes at the `files` deadline.
    async fn files_created_before(
        &self,
        tenant: TenantId,
        before: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<ContentItem>>;
}

/// Keys: session key custody, history grants, end-to-end group epochs and key
/// packages, account key backups.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// The custody of one epoch of a session.
    async fn custody(
        &self,
        tenant: TenantId,
        session: SessionId,
        epoch: u32,
    ) -> StoreResult<Option<StoredCustody>>;
    /// Every epoch's custody of a session, oldest first.
    async fn custodies(
        &self,
        tenant: TenantId,
        session: SessionId,
    ) -> StoreResult<Vec<StoredCustody>>;
    /// The history grant of a session for a recipient.
    async fn history_grant(
        &self,
        tenant: TenantId,
        session: SessionId,
        recipient: AccountId,
    ) -> StoreResult<Option<HistoryGrant>>;
    /// Epochs of an end-to-end session's group numbered above `after` (all when
    /// `None`), oldest first, at most `limit` (capped at [`Page::MAX_LIMIT`]).
    async fn e2e_epochs(
        &self,
        tenant: TenantId,
        session: SessionId,
        after: Option<u32>,
        limit: u32,
    ) -> StoreResult<Vec<E2eEpoch>>;
    /// The newest epoch of an end-to-end session's group.
    async fn e2e_latest(
        &self,
        tenant: TenantId,
        session: SessionId,
    ) -> StoreResult<Option<E2eEpoch>>;
    /// The key packages of an account's or guest's devices, oldest first.
    async fn key_packages(
        &self,
        tenant: TenantId,
        owner: SubjectId,
    ) -> StoreResult<Vec<StoredKeyPackage>>;
    /// An account's key backup.
    async fn key_backup(
        &self,
        tenant: TenantId,
        account: AccountId,
    ) -> StoreResult<Option<Vec<u8>>>;
}

/// Credentials of accounts, for `cai-auth`.
#[async_trait]
pub trait CredentialStore: Send + Sync {
    /// One credential of an account.
    async fn credential(
        &self,
        tenant: TenantId,
        account: AccountId,
        kind: CredentialKind,
    ) -> StoreResult<Option<Credential>>;
}

/// The audit trail, incidents and the notification outbox.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Erases the origin — request id and client address — of every audit entry of
    /// `tenant` recorded strictly before `before`: the retention of IP logs (R-P2).
    /// The entries, their order and everything else in them stay (cai-store's chain
    /// keeps verifying). Idempotent; returns how many entries changed.
    async fn erase_origins_before(&self, tenant: TenantId, before: Timestamp) -> StoreResult<u64>;
    /// Erases the personal parts — `changes` and origin — of every audit entry of
    /// `tenant` that `subject` made or that is about it (object = that account or
    /// guest): for deletion, pseudonymisation and anonymisation of a person (R-P3,
    /// R-I7). Ids, kinds, times and the entries' order stay. Idempotent; returns how
    /// many entries changed.
    async fn erase_subject_parts(&self, tenant: TenantId, subject: SubjectId) -> StoreResult<u64>;
    /// Erases the personal parts — `changes` and origin — of every login record of
    /// `tenant` (audit entries of kind `login_succeeded` or `login_failed`) recorded
    /// strictly before `before`: the retention of login records (R-A9, R-P2). Ids,
    /// kinds, times and the entries' order stay. Idempotent; returns how many entries
    /// changed.
    async fn erase_login_records_before(
        &self,
        tenant: TenantId,
        before: Timestamp,
    ) -> StoreResult<u64>;
    /// Audit events with sequence numbers greater than `after_seq`, in order, at most
    /// `limit` (capped at [`Page::MAX_LIMIT`]).
    async fn audit_events(
        &self,
        tenant: TenantId,
        after_seq: u64,
        limit: u32,
    ) -> StoreResult<Vec<(u64, AuditEvent)>>;
    /// The tenant's incidents with their sequence numbers (1, 2, 3, … in commit
    /// order), **newest first**: those numbered below `before` (all when `None`), at
    /// most `limit` (capped at [`Page::MAX_LIMIT`]).
    async fn incidents(
        &self,
        tenant: TenantId,
        before: Option<u64>,
        limit: u32,
    ) -> StoreResult<Vec<(u64, Incident)>>;
    /// Queued notifications not yet marked delivered, oldest first, at most `limit`.
    async fn pending_notifications(
        &self,
        tenant: TenantId,
        limit: u32,
    ) -> StoreResult<Vec<Notification>>;
}

/// A complete storage backend: every read concern plus atomic commits.
#[async_trait]
pub trait Store:
    DirectoryStore
    + SessionStore
    + ContentStore
    + KeyStore
    + CredentialStore
    + AuditStore
    + super::reports::ReportStore
{
    /// Applies a batch atomically; see the [`ports` documentation](crate::ports).
    async fn commit(&self, batch: Batch) -> StoreResult<()>;

    /// Whether the store can serve now (a cheap round trip to its database), for
    /// health checks.
    async fn health(&self) -> StoreResult<()>;
}

/// A shared, type-erased store.
pub type DynStore = Arc<dyn Store>;
