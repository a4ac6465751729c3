//! A populated tenant: one record of every kind, linked the way the service links
//! them, and checks that every read returns exactly those records — or, under another
//! tenant, nothing at all.

use crate::domain::{
    Account, AuditEvent, BuiltinRole, ContentItem, ContentVersion, Group, Guest, Incident,
    Invitation, Participant, ParticipantRole, Role, Room, Session, Tenant,
};
use crate::id::{
    AccountId, EventId, GroupId, GuestId, IncidentId, InvitationId, ItemId, RoleId, RoomId,
    SessionId, SubjectId, TenantId,
};
use crate::ports::{
    Credential, CredentialKind, DynStore, HistoryGrant, Notification, Page, StoredCustody, Write,
};

use super::data::{self, at, read, rid};

/// The ids of a [`Fixture`]. Two fixtures built from the same ids with different
/// tenants hold the same ids in two tenants, which is what isolation tests need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixtureIds {
    /// The tenant.
    pub tenant: TenantId,
    /// A tenant administrator.
    pub admin: AccountId,
    /// A counsellor, owner of the session and the room.
    pub counsellor: AccountId,
    /// A client.
    pub client: AccountId,
    /// A custom role held by the counsellor and the client.
    pub role: RoleId,
    /// A group of the admin and the counsellor.
    pub group: GroupId,
    /// The session.
    pub session: SessionId,
    /// A guest of the session.
    pub guest: GuestId,
    /// An invitation to the session.
    pub invitation: InvitationId,
    /// The counsellor's room.
    pub room: RoomId,
    /// An item of the session with two versions.
    pub item: ItemId,
    /// An audit event.
    pub event: EventId,
    /// An incident.
    pub incident: IncidentId,
}

impl FixtureIds {
    /// Fresh random ids in `tenant`.
    pub fn random(tenant: TenantId) -> Self {
        Self {
            tenant,
            admin: rid(),
            counsellor: rid(),
            client: rid(),
            role: rid(),
            group: rid(),
            session: rid(),
            guest: rid(),
            invitation: rid(),
            room: rid(),
            item: rid(),
            event: rid(),
            incident: rid(),
        }
    }

    /// The same ids in another tenant.
    pub fn in_tenant(self, tenant: TenantId) -> Self {
        Self { tenant, ..self }
    }
}

/// One record of every kind in one tenant, as the store should return them after
/// [`Fixture::writes`] is committed (revisions 0, item at version 2, audit sequence 1).
#[derive(Debug, Clone)]
pub struct Fixture {
    /// The ids it was built from.
    pub ids: FixtureIds,
    /// The tenant.
    pub tenant: Tenant,
    /// Admin, counsellor, client, sorted by id.
    pub accounts: Vec<Account>,
    /// The built-in admin role and the custom role, sorted by id.
    pub roles: Vec<Role>,
    /// The admin's and the counsellor's group.
    pub group: Group,
    /// The session, owned by the counsellor, open to the group.
    pub session: Session,
    /// A guest of the session.
    pub guest: Guest,
    /// Counsellor (host), client, guest, sorted by subject.
    pub participants: Vec<Participant>,
    /// A contact invitation to the session.
    pub invitation: Invitation,
    /// The counsellor's room.
    pub room: Room,
    /// The client's item, at version 2.
    pub item: ContentItem,
    /// Versions 1 and 2.
    pub versions: Vec<ContentVersion>,
    /// Epochs 0 and 1.
    pub custody: Vec<StoredCustody>,
    /// For the admin, from the counsellor.
    pub grant: HistoryGrant,
    /// The counsellor's key backup.
    pub backup: Vec<u8>,
    /// The counsellor's password record.
    pub credential: Credential,
    /// An audit event (sequence number 1).
    pub event: AuditEvent,
    /// An incident.
    pub incident: Incident,
    /// The pending notification about the event.
    pub notification: Notification,
}

impl Fixture {
    /// The records for `ids`.
    pub fn new(ids: FixtureIds) -> Self {
        let t = ids.tenant;
        let admin_role = Role::builtin(t, BuiltinRole::TenantAdmin).expect("a built-in role");
        let mut admin = data::account(t, ids.admin, "admin@example.org");
        admin.roles = vec![admin_role.id];
        let mut counsellor = data::account(t, ids.counsellor, "counsellor@example.org");
        counsellor.roles = vec![ids.role];
        let mut client = data::account(t, ids.client, "client@example.org");
        client.roles = vec![ids.role];
        let mut accounts = vec![admin, counsellor, client];
        accounts.sort_by_key(|a| a.id);
        let mut roles = vec![admin_role, data::role(t, ids.role)];
        roles.sort_by_key(|r| r.id);

        let group = data::group(t, ids.group, &[ids.admin, ids.counsellor]);
        let mut session = data::session(t, ids.session, ids.counsellor);
        session.groups = vec![ids.group];
        let guest = data::guest(t, ids.guest, ids.session);
        let mut participants = vec![
            data::participant(
                t,
                ids.session,
                SubjectId::Account(ids.counsellor),
                ParticipantRole::Host,
            ),
            data::participant(
                t,
                ids.session,
                SubjectId::Account(ids.client),
                ParticipantRole::Client,
            ),
            data::participant(
                t,
                ids.session,
                SubjectId::Guest(ids.guest),
                ParticipantRole::Guest,
            ),
        ];
        participants.sort_by_key(|p| p.subject);

        let (mut item, first) =
            data::item(t, ids.item, ids.session, SubjectId::Account(ids.client));
        let second = data::version(&item, 2);
        item.latest_version = 2;

        let mut event = data::audit_event(t);
        event.id = ids.event;
        let mut incident = data::incident(t, at(7_000));
        incident.id = ids.incident;
        let notification = data::notification(&event, &[ids.admin]);

        Self {
            ids,
            tenant: data::tenant(t),
            accounts,
            roles,
            group,
            session,
            guest,
            participants,
            invitation: data::invitation(t, ids.invitation, ids.session, ids.counsellor),
            room: data::room(t, ids.room, ids.counsellor, ids.session),
            item,
            versions: vec![first, second],
            custody: vec![
                data::custody(t, ids.session, 0),
                data::custody(t, ids.session, 1),
            ],
            grant: data::history_grant(t, ids.session, ids.admin, ids.counsellor),
            backup: [b"backup of ".as_slice(), t.as_bytes()].concat(),
            credential: {
                let mut c =
                    data::credential(t, ids.counsellor, CredentialKind::Password, b"$argon2id$");
                c.data.extend_from_slice(t.as_bytes());
                c
            },
            event,
            incident,
            notification,
        }
    }

    /// Fresh random ids in `tenant`.
    pub fn random(tenant: TenantId) -> Self {
        Self::new(FixtureIds::random(tenant))
    }

    /// The inserts that create every record, in an order that respects references.
    pub fn writes(&self) -> Vec<Write> {
        let mut w = vec![Write::InsertTenant(self.tenant.clone())];
        w.extend(self.roles.iter().cloned().map(Write::InsertRole));
        w.extend(self.accounts.iter().cloned().map(Write::InsertAccount));
        w.push(Write::InsertGroup(self.group.clone()));
        w.push(Write::InsertSession(self.session.clone()));
        w.push(Write::InsertGuest(self.guest.clone()));
        w.extend(self.participants.iter().cloned().map(Write::PutParticipant));
        w.push(Write::InsertInvitation(self.invitation.clone()));
        w.push(Write::InsertRoom(self.room.clone()));
        let mut first_item = self.item.clone();
        first_item.latest_version = 1;
        let mut versions = self.versions.iter().cloned();
        if let Some(first) = versions.next() {
            w.push(Write::InsertItem(first_item, first));
        }
        w.extend(versions.map(Write::AddVersion));
        w.extend(self.custody.iter().cloned().map(Write::InsertCustody));
        w.push(Write::PutHistoryGrant(self.grant.clone()));
        w.push(Write::PutKeyBackup {
            account: self.ids.counsellor,
            backup: self.backup.clone(),
        });
        w.push(Write::PutCredential(self.credential.clone()));
        w.push(Write::AppendAudit(self.event.clone()));
        w.push(Write::RecordIncident(self.incident.clone()));
        w.push(Write::QueueNotification(self.notification.clone()));
        w
    }

    /// Commits [`writes`](Self::writes) as one batch.
    pub async fn insert(&self, store: &DynStore) {
        data::commit_ok(store, self.ids.tenant, self.writes()).await;
    }

    /// The account with this id.
    pub fn account(&self, id: AccountId) -> &Account {
        self.accounts
            .iter()
            .find(|a| a.id == id)
            .expect("an account of the fixture")
    }

    /// Checks that every read of the tenant returns exactly the fixture's records.
    /// The credential is compared without its revision (backends number inserted
    /// credentials as they must, see `keys::credentials`).
    pub async fn assert_stored(&self, store: &DynStore) {
        let t = self.ids.tenant;
        let s = store;
        let ids = self.ids;
        assert_eq!(read(s.tenant(t).await, "tenant"), Some(self.tenant.clone()));
        for a in &self.accounts {
            assert_eq!(read(s.account(t, a.id).await, "account"), Some(a.clone()));
            let email = a.email.as_ref().expect("fixture accounts have e-mail");
            assert_eq!(
                read(s.account_by_email(t, email).await, "account by e-mail"),
                Some(a.clone())
            );
        }
        assert_eq!(
            read(s.accounts(t, Page::first(100)).await, "accounts"),
            self.accounts
        );
        let mut holders = vec![ids.counsellor, ids.client];
        holders.sort_unstable();
        assert_eq!(
            read(
                s.accounts_with_role(t, ids.role).await,
                "accounts with role"
            ),
            holders
        );
        assert_eq!(
            read(
                s.pseudonymisation_due(t, at(i64::MAX / 2), 100).await,
                "due"
            ),
            Vec::<AccountId>::new()
        );
        assert_eq!(
            read(s.guest(t, ids.guest).await, "guest"),
            Some(self.guest.clone())
        );
        for r in &self.roles {
            assert_eq!(read(s.role(t, r.id).await, "role"), Some(r.clone()));
        }
        assert_eq!(read(s.roles(t).await, "roles"), self.roles);
        assert_eq!(
            read(s.group(t, ids.group).await, "group"),
            Some(self.group.clone())
        );
        for member in [ids.admin, ids.counsellor] {
            assert_eq!(
                read(s.groups_of(t, member).await, "groups of"),
                vec![ids.group]
            );
        }
        assert_eq!(
            read(s.groups_of(t, ids.client).await, "groups of"),
            Vec::<crate::id::GroupId>::new()
        );

        assert_eq!(
            read(s.session(t, ids.session).await, "session"),
            Some(self.session.clone())
        );
        assert_eq!(
            read(s.participants(t, ids.session).await, "participants"),
            self.participants
        );
        for p in &self.participants {
            assert_eq!(
                read(
                    s.sessions_of(t, p.subject, Page::first(100)).await,
                    "sessions of"
                ),
                vec![ids.session]
            );
        }
        assert_eq!(
            read(s.invitation(t, ids.invitation).await, "invitation"),
            Some(self.invitation.clone())
        );
        assert_eq!(
            read(s.room(t, ids.room).await, "room"),
            Some(self.room.clone())
        );

        assert_eq!(
            read(s.item(t, ids.item).await, "item"),
            Some(self.item.clone())
        );
        assert_eq!(
            read(s.items(t, ids.session, Page::first(100)).await, "items"),
            vec![self.item.clone()]
        );
        for v in &self.versions {
            assert_eq!(
                read(s.version(t, ids.item, v.version).await, "version"),
                Some(v.clone())
            );
        }
        assert_eq!(
            read(s.versions(t, ids.item).await, "versions"),
            self.versions
        );

        for c in &self.custody {
            assert_eq!(
                read(s.custody(t, ids.session, c.epoch).await, "custody"),
                Some(c.clone())
            );
        }
        assert_eq!(
            read(s.custodies(t, ids.session).await, "custodies"),
            self.custody
        );
        assert_eq!(
            read(
                s.history_grant(t, ids.session, ids.admin).await,
                "history grant"
            ),
            Some(self.grant.clone())
        );
        assert_eq!(
            read(s.key_backup(t, ids.counsellor).await, "key backup"),
            Some(self.backup.clone())
        );
        let stored = read(
            s.credential(t, ids.counsellor, CredentialKind::Password)
                .await,
            "credential",
        )
        .expect("the credential is stored");
        assert_eq!(
            Credential {
                revision: 0,
                ..stored
            },
            self.credential
        );

        assert_eq!(
            read(s.audit_events(t, 0, 100).await, "audit events"),
            vec![(1, self.event.clone())]
        );
        assert_eq!(
            read(s.incidents(t, None, 100).await, "incidents"),
            vec![(1, self.incident.clone())]
        );
        assert_eq!(
            read(s.pending_notifications(t, 100).await, "notifications"),
            vec![self.notification.clone()]
        );
    }

    /// Checks that no read under `tenant` returns anything for the fixture's ids. The
    /// listings (accounts, roles, audit trail, …) must be empty, so `tenant` must hold
    /// no records of its own.
    pub async fn assert_invisible_in(&self, store: &DynStore, tenant: TenantId) {
        let t = tenant;
        let s = store;
        let ids = self.ids;
        let none = "a record of another tenant is visible";
        if t != ids.tenant {
            assert!(read(s.tenant(t).await, "tenant").is_none(), "{none}");
        }
        for a in &self.accounts {
            assert!(
                read(s.account(t, a.id).await, "account").is_none(),
                "{none}"
            );
            let email = a.email.as_ref().expect("fixture accounts have e-mail");
            assert!(
                read(s.account_by_email(t, email).await, "by e-mail").is_none(),
                "{none}"
            );
        }
        assert!(
            read(s.accounts(t, Page::first(100)).await, "accounts").is_empty(),
            "{none}"
        );
        assert!(
            read(s.accounts_with_role(t, ids.role).await, "with role").is_empty(),
            "{none}"
        );
        assert!(
            read(s.guest(t, ids.guest).await, "guest").is_none(),
            "{none}"
        );
        for r in &self.roles {
            assert!(read(s.role(t, r.id).await, "role").is_none(), "{none}");
        }
        assert!(read(s.roles(t).await, "roles").is_empty(), "{none}");
        assert!(
            read(s.group(t, ids.group).await, "group").is_none(),
            "{none}"
        );
        assert!(
            read(s.groups_of(t, ids.admin).await, "groups of").is_empty(),
            "{none}"
        );
        assert!(
            read(s.session(t, ids.session).await, "session").is_none(),
            "{none}"
        );
        assert!(
            read(s.participants(t, ids.session).await, "participants").is_empty(),
            "{none}"
        );
        for p in &self.participants {
            assert!(
                read(
                    s.sessions_of(t, p.subject, Page::first(100)).await,
                    "sessions of"
                )
                .is_empty(),
                "{none}"
            );
        }
        assert!(
            read(s.invitation(t, ids.invitation).await, "invitation").is_none(),
            "{none}"
        );
        assert!(read(s.room(t, ids.room).await, "room").is_none(), "{none}");
        assert!(read(s.item(t, ids.item).await, "item").is_none(), "{none}");
        assert!(
            read(s.items(t, ids.session, Page::first(100)).await, "items").is_empty(),
            "{none}"
        );
        assert!(
            read(s.version(t, ids.item, 1).await, "version").is_none(),
            "{none}"
        );
        assert!(
            read(s.versions(t, ids.item).await, "versions").is_empty(),
            "{none}"
        );
        assert!(
            read(s.custody(t, ids.session, 0).await, "custody").is_none(),
            "{none}"
        );
        assert!(
            read(s.custodies(t, ids.session).await, "custodies").is_empty(),
            "{none}"
        );
        assert!(
            read(s.history_grant(t, ids.session, ids.admin).await, "grant").is_none(),
            "{none}"
        );
        assert!(
            read(s.key_backup(t, ids.counsellor).await, "backup").is_none(),
            "{none}"
        );
        assert!(
            read(
                s.credential(t, ids.counsellor, CredentialKind::Password)
                    .await,
                "credential"
            )
            .is_none(),
            "{none}"
        );
        assert!(
            read(s.audit_events(t, 0, 100).await, "audit").is_empty(),
            "{none}"
        );
        assert!(
            read(s.incidents(t, None, 100).await, "incidents").is_empty(),
            "{none}"
        );
        assert!(
            read(s.pending_notifications(t, 100).await, "notifications").is_empty(),
            "{none}"
        );
    }
}
