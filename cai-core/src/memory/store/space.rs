//! One tenant's records, and the undo log that makes a batch atomic.
//!
//! Every tenant's data lives in its own [`Space`], so a read can only ever see the
//! space of the tenant it names: isolation is the shape of the data, not a filter
//! someone could forget. A batch touches exactly one space; its writes go through a
//! [`Tx`], which records how to reverse each change, and a failed batch is rolled
//! back change by change. The cost of a batch is its own size, not the store's.

use std::collections::BTreeMap;

use crate::domain::{
    Account, AuditEvent, ContentItem, ContentVersion, Email, Group, Guest, Incident, Invitation,
    Participant, Role, Room, Session, Tenant,
};
use crate::id::{
    AccountId, EventId, GroupId, GuestId, ID_LEN, IncidentId, InvitationId, ItemId, RoleId, RoomId,
    SessionId, SubjectId,
};
use crate::ports::{
    Credential, CredentialKind, E2eEpoch, HistoryGrant, Notification, StoredCustody,
    StoredKeyPackage,
};

/// A queued notification's place in the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Queued {
    /// Its position in the tenant's outbox.
    pub(super) seq: u64,
    /// Whether it was marked delivered.
    pub(super) delivered: bool,
}

/// Every record of one tenant, keyed by id (and by the parent id where a record
/// belongs to one, so "all of a session's X" is a range). `Clone` and `PartialEq`
/// serve [`MemorySnapshot`](super::MemorySnapshot).
#[derive(Default, Clone, PartialEq)]
pub(super) struct Space {
    pub(super) tenant: Option<Tenant>,
    pub(super) accounts: BTreeMap<AccountId, Account>,
    /// The unique-e-mail index: address → the account holding it.
    pub(super) emails: BTreeMap<Email, AccountId>,
    pub(super) guests: BTreeMap<GuestId, Guest>,
    pub(super) roles: BTreeMap<RoleId, Role>,
    pub(super) groups: BTreeMap<GroupId, Group>,
    pub(super) sessions: BTreeMap<SessionId, Session>,
    pub(super) participants: BTreeMap<(SessionId, SubjectId), Participant>,
    pub(super) invitations: BTreeMap<InvitationId, Invitation>,
    pub(super) rooms: BTreeMap<RoomId, Room>,
    pub(super) items: BTreeMap<ItemId, ContentItem>,
    pub(super) versions: BTreeMap<(ItemId, u32), ContentVersion>,
    pub(super) custody: BTreeMap<(SessionId, u32), StoredCustody>,
    pub(super) grants: BTreeMap<(SessionId, AccountId), HistoryGrant>,
    pub(super) e2e: BTreeMap<(SessionId, u32), E2eEpoch>,
    /// Key packages by owner and reference.
    pub(super) key_packages: BTreeMap<(SubjectId, Vec<u8>), StoredKeyPackage>,
    pub(super) backups: BTreeMap<AccountId, Vec<u8>>,
    pub(super) credentials: BTreeMap<(AccountId, CredentialKind), Credential>,
    /// The audit trail by sequence number.
    pub(super) audit: BTreeMap<u64, AuditEvent>,
    /// Event id → sequence number (event ids are unique per tenant).
    pub(super) audit_ids: BTreeMap<EventId, u64>,
    /// The last sequence number handed out (never reused, even if events go).
    pub(super) audit_seq: u64,
    /// Incidents in the order they were recorded.
    pub(super) incidents: BTreeMap<u64, Incident>,
    pub(super) incident_ids: BTreeMap<IncidentId, u64>,
    pub(super) incident_seq: u64,
    /// Undelivered notifications in the order they were queued.
    pub(super) outbox: BTreeMap<u64, Notification>,
    /// Every notification ever queued, delivered or not.
    pub(super) queued: BTreeMap<EventId, Queued>,
    pub(super) outbox_seq: u64,
}

impl Space {
    /// The participants of `session`, ordered by subject.
    pub(super) fn participants_of(
        &self,
        session: SessionId,
    ) -> impl Iterator<Item = &Participant> + '_ {
        self.participants
            .range((session, SUBJECT_MIN)..=(session, SUBJECT_MAX))
            .map(|(_, p)| p)
    }

    /// The versions of `item`, oldest first.
    pub(super) fn versions_of(&self, item: ItemId) -> impl Iterator<Item = &ContentVersion> + '_ {
        self.versions
            .range((item, 0)..=(item, u32::MAX))
            .map(|(_, v)| v)
    }

    /// The key custody of `session`, oldest epoch first.
    pub(super) fn custody_of(
        &self,
        session: SessionId,
    ) -> impl Iterator<Item = &StoredCustody> + '_ {
        self.custody
            .range((session, 0)..=(session, u32::MAX))
            .map(|(_, c)| c)
    }

    /// The end-to-end group epochs of `session`, oldest first.
    pub(super) fn e2e_of(&self, session: SessionId) -> impl Iterator<Item = &E2eEpoch> + '_ {
        self.e2e
            .range((session, 0)..=(session, u32::MAX))
            .map(|(_, e)| e)
    }

    /// The key packages of `owner`, in reference order.
    pub(super) fn key_packages_of(
        &self,
        owner: SubjectId,
    ) -> impl Iterator<Item = &StoredKeyPackage> + '_ {
        self.key_packages
            .range((owner, Vec::new())..)
            .take_while(move |((o, _), _)| *o == owner)
            .map(|(_, k)| k)
    }

    /// The history grants of `session`, by recipient.
    pub(super) fn grants_of(&self, session: SessionId) -> impl Iterator<Item = &HistoryGrant> + '_ {
        self.grants
            .range((session, ACCOUNT_MIN)..=(session, ACCOUNT_MAX))
            .map(|(_, g)| g)
    }
}

const ACCOUNT_MIN: AccountId = AccountId::from_bytes([0; ID_LEN]);
const ACCOUNT_MAX: AccountId = AccountId::from_bytes([0xff; ID_LEN]);
// `SubjectId` orders accounts before guests, then by id.
const SUBJECT_MIN: SubjectId = SubjectId::Account(ACCOUNT_MIN);
const SUBJECT_MAX: SubjectId = SubjectId::Guest(GuestId::from_bytes([0xff; ID_LEN]));

/// A field of a [`Space`].
pub(super) type Field<T> = for<'s> fn(&'s mut Space) -> &'s mut T;

type Undo = Box<dyn FnOnce(&mut Space)>;

/// Changes to one space with an undo log. Every change goes through `put`, `remove`
/// or `set`, each of which records its reversal; [`Tx::rollback`] applies them in
/// reverse order.
pub(super) struct Tx<'a> {
    space: &'a mut Space,
    undo: Vec<Undo>,
}

impl<'a> Tx<'a> {
    /// Starts changing `space`.
    pub(super) fn new(space: &'a mut Space) -> Self {
        Self {
            space,
            undo: Vec::new(),
        }
    }

    /// The space as changed so far.
    pub(super) fn space(&self) -> &Space {
        self.space
    }

    /// Inserts or replaces `key` in a map.
    pub(super) fn put<K, V>(&mut self, map: Field<BTreeMap<K, V>>, key: K, value: V)
    where
        K: Ord + Clone + 'static,
        V: 'static,
    {
        let old = map(self.space).insert(key.clone(), value);
        self.undo.push(Box::new(move |s| match old {
            Some(v) => {
                map(s).insert(key, v);
            }
            None => {
                map(s).remove(&key);
            }
        }));
    }

    /// Removes `key` from a map; whether it was there.
    pub(super) fn remove<K, V>(&mut self, map: Field<BTreeMap<K, V>>, key: K) -> bool
    where
        K: Ord + 'static,
        V: 'static,
    {
        match map(self.space).remove(&key) {
            Some(v) => {
                self.undo.push(Box::new(move |s| {
                    map(s).insert(key, v);
                }));
                true
            }
            None => false,
        }
    }

    /// Replaces a plain field.
    pub(super) fn set<T: 'static>(&mut self, field: Field<T>, value: T) {
        let old = std::mem::replace(field(self.space), value);
        self.undo.push(Box::new(move |s| *field(s) = old));
    }

    /// Reverses every change, newest first.
    pub(super) fn rollback(self) {
        let Tx { space, undo } = self;
        for reverse in undo.into_iter().rev() {
            reverse(space);
        }
    }
}
