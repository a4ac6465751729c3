//! Test data: valid records of every kind, and small helpers to commit batches and
//! check their outcome. Backends can use them in their own tests too.
//!
//! Builders take the ids they need and fill the rest with plausible, valid values; a
//! test changes the fields it cares about. Ids come from [`rid`] (random) or
//! [`ordered`] (deterministic, for tests about ordering).

use cai_crypto::hierarchy::session_wrap_context;
use cai_crypto::modes::SessionMode;
use cai_crypto::{ContentKind, DataKey, ItemContext, KeyEpoch, envelope};

use crate::Timestamp;
use crate::authz::{Action, PermissionSet};
use crate::domain::{
    Account, AccountStatus, AuditActor, AuditEvent, AuditKind, AuditObject, Change, ContentItem,
    ContentRetention, ContentVersion, Email, Group, Guest, Incident, IncidentKind, Invitation,
    InvitationKind, InvitationStatus, Name, Participant, ParticipantRole, Pseudonym, Region, Role,
    Room, SealedBody, Session, SessionKind, SessionStatus, Tenant, TenantSettings,
};
use crate::id::{
    AccountId, EventId, GroupId, GuestId, ID_LEN, IncidentId, InvitationId, ItemId, RoleId, RoomId,
    SessionId, SubjectId, TenantId,
};
use crate::ports::{
    Batch, Credential, CredentialKind, DynStore, HistoryGrant, Notification, StoreError,
    StoreResult, StoredCustody, Write,
};

/// Id types the suite can make.
pub trait TestId: Sized {
    /// A fresh random id.
    fn random_id() -> Self;
    /// The id whose bytes are all zero except the last two, `n` big-endian: ids made
    /// from increasing `n` sort in that order.
    fn ordered(n: u16) -> Self;
}

macro_rules! test_ids {
    ($($id:ty),*) => {$(
        impl TestId for $id {
            fn random_id() -> Self {
                <$id>::random().expect("the OS random number generator works")
            }
            fn ordered(n: u16) -> Self {
                let mut bytes = [0u8; ID_LEN];
                bytes[ID_LEN - 2..].copy_from_slice(&n.to_be_bytes());
                <$id>::from_bytes(bytes)
            }
        }
    )*};
}

test_ids!(
    TenantId,
    AccountId,
    GuestId,
    RoleId,
    GroupId,
    SessionId,
    InvitationId,
    ItemId,
    RoomId,
    EventId,
    IncidentId
);

/// A random id of any type.
pub fn rid<I: TestId>() -> I {
    I::random_id()
}

/// A deterministic id that sorts by `n` (see [`TestId::ordered`]).
pub fn ordered<I: TestId>(n: u16) -> I {
    I::ordered(n)
}

/// A point in time, `millis` after 2024-01-01 (so `at(0)` is a realistic date).
pub fn at(millis: i64) -> Timestamp {
    Timestamp::from_unix_millis(1_704_067_200_000 + millis)
}

/// A valid name.
pub fn name(text: &str) -> Name {
    Name::parse(text).expect("a valid test name")
}

/// A valid e-mail address.
pub fn email(text: &str) -> Email {
    Email::parse(text).expect("a valid test e-mail address")
}

/// A tenant with default settings in region `DE`.
pub fn tenant(id: TenantId) -> Tenant {
    Tenant {
        id,
        name: name("Beratungsstelle"),
        region: Region::parse("DE").expect("a valid region"),
        settings: TenantSettings::default(),
        created_at: at(0),
        revision: 0,
    }
}

/// An active account without roles.
pub fn account(tenant: TenantId, id: AccountId, address: &str) -> Account {
    Account {
        id,
        tenant,
        email: Some(email(address)),
        display_name: name("Alex Beispiel"),
        roles: Vec::new(),
        status: AccountStatus::Active,
        valid_from: None,
        valid_until: None,
        created_at: at(0),
        last_active: None,
        revision: 0,
    }
}

/// A guest of `session`.
pub fn guest(tenant: TenantId, id: GuestId, session: SessionId) -> Guest {
    Guest {
        id,
        tenant,
        session,
        pseudonym: Pseudonym::parse("Mo").expect("a valid pseudonym"),
        joined_at: at(1_000),
        expires_at: at(6 * 3_600_000),
    }
}

/// A custom role granting `ViewSession`.
pub fn role(tenant: TenantId, id: RoleId) -> Role {
    Role {
        id,
        tenant,
        name: name("Supervision"),
        permissions: PermissionSet::of(&[Action::ViewSession]),
        builtin: None,
        revision: 0,
    }
}

/// A group with `members` (sorted here).
pub fn group(tenant: TenantId, id: GroupId, members: &[AccountId]) -> Group {
    let mut members = members.to_vec();
    members.sort_unstable();
    Group {
        id,
        tenant,
        name: name("Team Nord"),
        members,
        revision: 0,
    }
}

/// An open classic session owned by `owner`.
pub fn session(tenant: TenantId, id: SessionId, owner: AccountId) -> Session {
    Session {
        mode_descriptor: None,
        id,
        tenant,
        kind: SessionKind::Classic,
        title: Some(name("Erstgespräch")),
        mode: SessionMode::SessionKey,
        owner,
        groups: Vec::new(),
        on_close: ContentRetention::Keep,
        key_epoch: 0,
        created_at: at(0),
        last_activity: at(0),
        status: SessionStatus::Open,
        revision: 0,
    }
}

/// A participant of `session`.
pub fn participant(
    tenant: TenantId,
    session: SessionId,
    subject: SubjectId,
    role: ParticipantRole,
) -> Participant {
    Participant {
        session,
        tenant,
        subject,
        role,
        joined_at: at(2_000),
    }
}

/// A pending contact invitation to `session`.
pub fn invitation(
    tenant: TenantId,
    id: InvitationId,
    session: SessionId,
    created_by: AccountId,
) -> Invitation {
    Invitation {
        id,
        tenant,
        session,
        kind: InvitationKind::Contact,
        secret_hash: [0x5a; 32],
        address_binding: Some([0xa5; 32]),
        created_by,
        created_at: at(0),
        expires_at: at(7 * 86_400_000),
        uses: 0,
        status: InvitationStatus::Pending,
        revision: 0,
    }
}

/// A room of `owner` opening `session`.
pub fn room(tenant: TenantId, id: RoomId, owner: AccountId, session: SessionId) -> Room {
    Room {
        id,
        tenant,
        owner,
        name: name("Raum von Alex"),
        session,
        mode: SessionMode::SessionKey,
        content: crate::domain::RoomContent::Keep,
        password: b"$argon2id$v=19$m=19456,t=2,p=1$test-verifier".to_vec(),
        revision: 0,
    }
}

/// The plaintext every test body seals; a backend can scan its files for it to prove
/// it stores ciphertext only.
pub const PLAINTEXT_MARKER: &[u8] = b"conformance plaintext marker";

/// A real envelope for one item version, sealed under a throwaway key.
pub fn sealed_body(tenant: TenantId, session: SessionId, item: ItemId, version: u32) -> SealedBody {
    let key = DataKey::generate(KeyEpoch::INITIAL).expect("a data key");
    let ctx = ItemContext::new(
        tenant.as_bytes(),
        session.as_bytes(),
        item.as_bytes(),
        version,
        ContentKind::Message,
    );
    let bytes = envelope::seal(&key, &ctx, PLAINTEXT_MARKER).expect("sealing works");
    SealedBody::new(bytes).expect("an envelope is a sealed body")
}

/// An item with its first version, as [`Write::InsertItem`] wants them.
pub fn item(
    tenant: TenantId,
    id: ItemId,
    session: SessionId,
    author: SubjectId,
) -> (ContentItem, ContentVersion) {
    let item = ContentItem {
        id,
        tenant,
        session,
        kind: ContentKind::Message,
        author,
        created_at: at(3_000),
        latest_version: 1,
        blob: None,
    };
    let first = version(&item, 1);
    (item, first)
}

/// Version `n` of `item`.
pub fn version(item: &ContentItem, n: u32) -> ContentVersion {
    ContentVersion {
        item: item.id,
        tenant: item.tenant,
        session: item.session,
        version: n,
        author: item.author,
        created_at: at(3_000 + i64::from(n)),
        key_epoch: 0,
        body: sealed_body(item.tenant, item.session, item.id, n),
    }
}

/// Custody of one epoch (opaque bytes naming tenant, session and epoch).
pub fn custody(tenant: TenantId, session: SessionId, epoch: u32) -> StoredCustody {
    let mut bytes = session_wrap_context(tenant.as_bytes(), session.as_bytes())
        .expect("ids fit a wrap context");
    bytes.extend_from_slice(&epoch.to_be_bytes());
    StoredCustody {
        tenant,
        session,
        epoch,
        custody: bytes,
    }
}

/// A history grant of `session` for `recipient`.
pub fn history_grant(
    tenant: TenantId,
    session: SessionId,
    recipient: AccountId,
    granted_by: AccountId,
) -> HistoryGrant {
    HistoryGrant {
        tenant,
        session,
        recipient,
        granted_by,
        at: at(4_000),
        grant: [tenant.as_bytes().as_slice(), recipient.as_bytes()].concat(),
    }
}

/// A credential with `data`, revision 0 (an insert).
pub fn credential(
    tenant: TenantId,
    account: AccountId,
    kind: CredentialKind,
    data: &[u8],
) -> Credential {
    Credential {
        tenant,
        account,
        kind,
        data: data.to_vec(),
        updated_at: at(5_000),
        revision: 0,
    }
}

/// A security-relevant audit event about the tenant, with a random id.
pub fn audit_event(tenant: TenantId) -> AuditEvent {
    AuditEvent {
        id: rid(),
        tenant,
        at: at(6_000),
        actor: AuditActor::Operator,
        kind: AuditKind::TenantSettingsChanged,
        object: AuditObject::Tenant(tenant),
        changes: vec![Change::new(
            "settings.allow_history_sharing",
            Some(false),
            Some(true),
        )],
        authorized: None,
        security_relevant: true,
        request: crate::domain::RequestMeta::default(),
    }
}

/// A repeated-wrong-secret incident at `when`, with a random id.
pub fn incident(tenant: TenantId, when: Timestamp) -> Incident {
    Incident {
        id: rid(),
        tenant,
        at: when,
        actor: None,
        kind: IncidentKind::RepeatedWrongSecret {
            attempts: 5,
            object: crate::domain::AuditObject::Tenant(tenant),
            source: Some("203.0.113.7".to_owned()),
        },
    }
}

/// The notification about `event`.
pub fn notification(event: &AuditEvent, recipients: &[AccountId]) -> Notification {
    Notification {
        event: event.id,
        tenant: event.tenant,
        at: event.at,
        actor: event.actor,
        kind: event.kind,
        object: event.object,
        recipients: recipients.to_vec(),
    }
}

/// The writes creating `tenant`, an account `owner` and a session of it: the
/// parents most records need. The suite writes parents before children everywhere,
/// so a backend may enforce references (foreign keys) without failing it.
pub fn tenant_with_session(tenant: TenantId, owner: AccountId, session: SessionId) -> Vec<Write> {
    vec![
        Write::InsertTenant(self::tenant(tenant)),
        Write::InsertAccount(account(tenant, owner, "owner@example.org")),
        Write::InsertSession(self::session(tenant, session, owner)),
    ]
}

/// The insert creating `subject`: an account with an address made from its id, or a
/// guest of `session`.
pub fn insert_subject(tenant: TenantId, session: SessionId, subject: SubjectId) -> Write {
    match subject {
        SubjectId::Account(id) => {
            Write::InsertAccount(account(tenant, id, &format!("{id}@example.org")))
        }
        SubjectId::Guest(id) => Write::InsertGuest(guest(tenant, id, session)),
    }
}

/// Commits `writes` as one batch for `tenant`.
pub async fn commit(store: &DynStore, tenant: TenantId, writes: Vec<Write>) -> StoreResult<()> {
    store.commit(Batch { tenant, writes }).await
}

/// Inserts each tenant in a batch of its own.
pub async fn insert_tenants(store: &DynStore, tenants: &[TenantId]) {
    for t in tenants {
        commit_ok(store, *t, vec![Write::InsertTenant(tenant(*t))]).await;
    }
}

/// Commits and insists it worked.
pub async fn commit_ok(store: &DynStore, tenant: TenantId, writes: Vec<Write>) {
    if let Err(e) = commit(store, tenant, writes).await {
        panic!("commit failed: {e}");
    }
}

/// Insists a commit failed with [`StoreError::Conflict`].
pub fn assert_conflict(result: StoreResult<()>, context: &str) {
    assert!(
        matches!(result, Err(StoreError::Conflict { .. })),
        "{context}: expected Conflict, got {result:?}"
    );
}

/// Insists a commit failed with [`StoreError::Missing`].
pub fn assert_missing(result: StoreResult<()>, context: &str) {
    assert!(
        matches!(result, Err(StoreError::Missing { .. })),
        "{context}: expected Missing, got {result:?}"
    );
}

/// Insists a commit failed with [`StoreError::TenantMismatch`].
pub fn assert_tenant_mismatch(result: StoreResult<()>, context: &str) {
    assert!(
        matches!(result, Err(StoreError::TenantMismatch)),
        "{context}: expected TenantMismatch, got {result:?}"
    );
}

/// Unwraps a read, naming it if it failed.
pub fn read<T>(result: StoreResult<T>, what: &str) -> T {
    match result {
        Ok(v) => v,
        Err(e) => panic!("reading {what} failed: {e}"),
    }
}
