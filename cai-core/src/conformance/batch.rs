//! The invariants of every batch: round trip, tenant isolation, atomicity, revision
//! preconditions, insert conflicts, missing records.

use std::future::Future;
use std::pin::Pin;

use crate::domain::{InvitationStatus, SessionStatus};
use crate::id::{AccountId, SubjectId, TenantId};
use crate::ports::{CredentialKind, DynStore, Page, Write};

use super::data::{
    self, assert_conflict, assert_missing, assert_tenant_mismatch, at, commit, commit_ok, name,
    read, rid,
};
use super::fixture::{Fixture, FixtureIds};

/// Every record kind is stored as written and read back by every read.
pub async fn round_trip(store: DynStore) {
    let fixture = Fixture::random(rid());
    fixture.insert(&store).await;
    fixture.assert_stored(&store).await;
}

/// Records of tenant A are invisible to every read under tenant B, also when B holds
/// records with the very same ids; changes in B leave A untouched.
pub async fn tenant_isolation(store: DynStore) {
    let (a, b): (TenantId, TenantId) = (rid(), rid());
    let ids = FixtureIds::random(a);
    let in_a = Fixture::new(ids);
    in_a.insert(&store).await;
    in_a.assert_invisible_in(&store, b).await;

    // Same ids (and e-mail addresses) in B: allowed, and each tenant sees its own.
    let in_b = Fixture::new(ids.in_tenant(b));
    in_b.insert(&store).await;
    in_a.assert_stored(&store).await;
    in_b.assert_stored(&store).await;

    // Deleting and updating in B touches nothing in A.
    let mut account = in_b.account(ids.client).clone();
    account.display_name = name("Changed in B");
    commit_ok(
        &store,
        b,
        vec![
            Write::UpdateAccount(account),
            Write::DeleteAccount(ids.counsellor),
            Write::DeleteRole(ids.role),
            Write::DeleteGuest(ids.guest),
            Write::DeleteItem(ids.item),
            Write::DeleteCustody(ids.session),
            Write::DeleteSession(ids.session),
            Write::MarkNotified(ids.event),
        ],
    )
    .await;
    in_a.assert_stored(&store).await;
}

/// A batch carrying a record of another tenant fails as a whole with
/// `TenantMismatch`, whichever write it is.
pub async fn tenant_mismatch_applies_nothing(store: DynStore) {
    let (a, b): (TenantId, TenantId) = (rid(), rid());
    let foreign = Fixture::random(b);
    let (owner, session): (AccountId, _) = (rid(), rid());
    let (item_a, first_a) = data::item(a, rid(), session, SubjectId::Account(owner));
    let (_, first_b) = data::item(b, item_a.id, item_a.session, item_a.author);
    // Every write that carries a record (id-only writes such as `PutKeyBackup`
    // belong to the batch's tenant by construction).
    let mut foreign_writes = foreign.writes();
    foreign_writes.retain(|w| !matches!(w, Write::PutKeyBackup { .. }));
    foreign_writes.extend([
        Write::UpdateTenant(foreign.tenant.clone()),
        Write::UpdateAccount(foreign.accounts[0].clone()),
        Write::UpdateRole(foreign.roles[0].clone()),
        Write::UpdateGroup(foreign.group.clone()),
        Write::UpdateSession(foreign.session.clone()),
        Write::UpdateInvitation(foreign.invitation.clone()),
        Write::UpdateRoom(foreign.room.clone()),
        // A tenant-A item whose first version claims tenant B.
        Write::InsertItem(item_a.clone(), first_b),
    ]);
    for (n, write) in foreign_writes.into_iter().enumerate() {
        let context = format!("foreign write #{n}: {write:?}");
        let own: AccountId = rid();
        let result = commit(
            &store,
            a,
            vec![
                Write::InsertTenant(data::tenant(a)),
                Write::InsertAccount(data::account(a, own, "own@example.org")),
                write,
            ],
        )
        .await;
        assert_tenant_mismatch(result, &context);
        assert!(read(store.tenant(a).await, "tenant").is_none(), "{context}");
        assert!(
            read(store.account(a, own).await, "account").is_none(),
            "{context}"
        );
    }
    // Nothing of B was written either.
    foreign.assert_invisible_in(&store, b).await;
    // And a well-formed batch for A still works afterwards.
    let mut writes = data::tenant_with_session(a, owner, session);
    writes.push(Write::InsertItem(item_a.clone(), first_a));
    commit_ok(&store, a, writes).await;
    assert_eq!(read(store.item(a, item_a.id).await, "item"), Some(item_a));
}

/// A batch that fails at its last write leaves no trace of the writes before it:
/// inserts, updates, deletes with cascades, audit sequence numbers, the outbox.
pub async fn failed_batch_leaves_no_trace(store: DynStore) {
    let fixture = Fixture::random(rid());
    let t = fixture.ids.tenant;
    let ids = fixture.ids;
    fixture.insert(&store).await;

    let mut renamed = fixture.account(ids.admin).clone();
    renamed.display_name = name("Renamed");
    let mut tenant = fixture.tenant.clone();
    tenant.name = name("Renamed tenant");
    let newcomer: AccountId = rid();
    let (new_item, new_first) = data::item(t, rid(), ids.session, SubjectId::Account(ids.client));
    let prefix = || {
        vec![
            Write::UpdateTenant(tenant.clone()),
            Write::UpdateAccount(renamed.clone()),
            Write::InsertAccount(data::account(t, newcomer, "new@example.org")),
            Write::InsertItem(new_item.clone(), new_first.clone()),
            Write::AddVersion(data::version(&fixture.item, 3)),
            Write::AppendAudit(data::audit_event(t)),
            Write::MarkNotified(ids.event),
            Write::RecordIncident(data::incident(t, at(9_000))),
            Write::PutCredential(data::credential(t, ids.client, CredentialKind::Totp, b"x")),
            Write::DeleteCredential {
                account: ids.counsellor,
                kind: CredentialKind::Password,
            },
            Write::PutKeyBackup {
                account: ids.counsellor,
                backup: b"replaced".to_vec(),
            },
            Write::DeleteRole(ids.role),
            Write::DeleteAccount(ids.counsellor),
            Write::DeleteGuest(ids.guest),
            Write::DeleteCustody(ids.session),
            Write::DeleteSessionContent(ids.session),
            Write::DeleteSession(ids.session),
        ]
    };
    let mut stale = fixture.account(ids.client).clone();
    stale.revision = 41;
    let failing_tails: Vec<(Write, bool)> = vec![
        (Write::InsertTenant(fixture.tenant.clone()), true),
        (Write::UpdateAccount(stale), true),
        (Write::DeleteGuest(rid()), false),
        (
            Write::InsertAccount(data::account(t, rid(), "new@example.org")),
            true,
        ),
        (Write::MarkNotified(rid()), false),
    ];
    for (n, (tail, is_conflict)) in failing_tails.into_iter().enumerate() {
        let context = format!("failing tail #{n}");
        let mut writes = prefix();
        writes.push(tail);
        let result = commit(&store, t, writes).await;
        if is_conflict {
            assert_conflict(result, &context);
        } else {
            assert_missing(result, &context);
        }
        fixture.assert_stored(&store).await;
        assert!(
            read(store.account(t, newcomer).await, "newcomer").is_none(),
            "{context}"
        );
        assert!(
            read(store.item(t, new_item.id).await, "new item").is_none(),
            "{context}"
        );
        assert!(
            read(
                store.credential(t, ids.client, CredentialKind::Totp).await,
                "totp"
            )
            .is_none(),
            "{context}"
        );
    }

    // The failed batches consumed no audit sequence numbers.
    let next = data::audit_event(t);
    commit_ok(&store, t, vec![Write::AppendAudit(next.clone())]).await;
    let events = read(store.audit_events(t, 0, 100).await, "audit");
    assert_eq!(events, vec![(1, fixture.event.clone()), (2, next)]);
}

/// A future returned by a read used in [`revisions_of`].
type ReadFuture<T> = Pin<Box<dyn Future<Output = Option<T>> + Send>>;

/// How to write one record kind and where its revision is.
struct Lifecycle<T> {
    insert: fn(T) -> Write,
    update: fn(T) -> Write,
    revision: fn(&mut T) -> &mut u64,
    /// Changes some field, differently each call.
    change: fn(&mut T),
}

/// The insert/update/revision life cycle of one record kind.
async fn revisions_of<T>(
    store: &DynStore,
    tenant: TenantId,
    mut record: T,
    kind: Lifecycle<T>,
    get: impl Fn(DynStore) -> ReadFuture<T>,
) where
    T: Clone + PartialEq + std::fmt::Debug,
{
    let Lifecycle {
        insert,
        update,
        revision,
        change,
    } = kind;
    let kind = format!("{:?}", insert(record.clone()))
        .split('(')
        .next()
        .unwrap_or_default()
        .to_owned();
    *revision(&mut record) = 5;
    commit_ok(store, tenant, vec![insert(record.clone())]).await;
    let mut stored = get(store.clone())
        .await
        .expect("inserted record is readable");
    assert_eq!(
        *revision(&mut stored),
        0,
        "{kind}: inserts are stored with revision 0"
    );
    *revision(&mut record) = 0;
    assert_eq!(stored, record, "{kind}: stored as written");

    let mut first = stored.clone();
    change(&mut first);
    commit_ok(store, tenant, vec![update(first.clone())]).await;
    let mut after = get(store.clone())
        .await
        .expect("updated record is readable");
    assert_eq!(
        *revision(&mut after),
        1,
        "{kind}: an update increments the revision"
    );
    *revision(&mut first) = 1;
    assert_eq!(after, first, "{kind}: the update is stored");

    // The same update again, from the now stale revision 0.
    let mut stale = stored.clone();
    change(&mut stale);
    change(&mut stale);
    assert_conflict(
        commit(store, tenant, vec![update(stale.clone())]).await,
        &format!("{kind}: stale update"),
    );
    *revision(&mut stale) = 9;
    assert_conflict(
        commit(store, tenant, vec![update(stale)]).await,
        &format!("{kind}: update from a future revision"),
    );
    assert_eq!(
        get(store.clone()).await,
        Some(first.clone()),
        "{kind}: unchanged"
    );

    let mut second = first;
    change(&mut second);
    commit_ok(store, tenant, vec![update(second.clone())]).await;
    *revision(&mut second) = 2;
    assert_eq!(
        get(store.clone()).await,
        Some(second),
        "{kind}: second update"
    );
}

/// Inserts store revision 0 whatever they carry; updates need the stored revision
/// and store it plus one; stale updates conflict and change nothing.
pub async fn revision_preconditions(store: DynStore) {
    let t: TenantId = rid();
    let s = &store;
    revisions_of(
        s,
        t,
        data::tenant(t),
        Lifecycle {
            insert: Write::InsertTenant,
            update: Write::UpdateTenant,
            revision: |r| &mut r.revision,
            change: |r| r.name = name(&format!("{}!", r.name)),
        },
        move |s| Box::pin(async move { s.tenant(t).await.expect("read") }),
    )
    .await;
    let owner: AccountId = rid();
    revisions_of(
        s,
        t,
        data::account(t, owner, "owner@example.org"),
        Lifecycle {
            insert: Write::InsertAccount,
            update: Write::UpdateAccount,
            revision: |r| &mut r.revision,
            change: |r| r.display_name = name(&format!("{}!", r.display_name)),
        },
        move |s| Box::pin(async move { s.account(t, owner).await.expect("read") }),
    )
    .await;
    let role = rid();
    revisions_of(
        s,
        t,
        data::role(t, role),
        Lifecycle {
            insert: Write::InsertRole,
            update: Write::UpdateRole,
            revision: |r| &mut r.revision,
            change: |r| r.name = name(&format!("{}!", r.name)),
        },
        move |s| Box::pin(async move { s.role(t, role).await.expect("read") }),
    )
    .await;
    let group = rid();
    revisions_of(
        s,
        t,
        data::group(t, group, &[owner]),
        Lifecycle {
            insert: Write::InsertGroup,
            update: Write::UpdateGroup,
            revision: |r| &mut r.revision,
            change: |r| r.name = name(&format!("{}!", r.name)),
        },
        move |s| Box::pin(async move { s.group(t, group).await.expect("read") }),
    )
    .await;
    let session = rid();
    revisions_of(
        s,
        t,
        data::session(t, session, owner),
        Lifecycle {
            insert: Write::InsertSession,
            update: Write::UpdateSession,
            revision: |r| &mut r.revision,
            change: |r| {
                r.key_epoch += 1;
                r.status = SessionStatus::Closed { at: at(1) };
                // Backends store the attached descriptor's bytes as they are.
                r.mode_descriptor = Some(vec![0, 1, 0xff, 0x80]);
            },
        },
        move |s| Box::pin(async move { s.session(t, session).await.expect("read") }),
    )
    .await;
    let invitation = rid();
    revisions_of(
        s,
        t,
        data::invitation(t, invitation, session, owner),
        Lifecycle {
            insert: Write::InsertInvitation,
            update: Write::UpdateInvitation,
            revision: |r| &mut r.revision,
            change: |r| {
                r.uses += 1;
                r.status = InvitationStatus::Closed;
            },
        },
        move |s| Box::pin(async move { s.invitation(t, invitation).await.expect("read") }),
    )
    .await;
    let room = rid();
    revisions_of(
        s,
        t,
        data::room(t, room, owner, session),
        Lifecycle {
            insert: Write::InsertRoom,
            update: Write::UpdateRoom,
            revision: |r| &mut r.revision,
            change: |r| r.password.push(b'!'),
        },
        move |s| Box::pin(async move { s.room(t, room).await.expect("read") }),
    )
    .await;
}

/// Inserting an id that exists conflicts, in a later batch and within one batch.
pub async fn insert_conflicts(store: DynStore) {
    let fixture = Fixture::random(rid());
    let t = fixture.ids.tenant;
    fixture.insert(&store).await;
    let mut again = fixture.writes();
    // Writes that are not inserts do not conflict when repeated.
    again.retain(|w| {
        !matches!(
            w,
            Write::PutParticipant(_)
                | Write::PutHistoryGrant(_)
                | Write::PutKeyBackup { .. }
                | Write::AddVersion(_)
        )
    });
    for write in again {
        let context = format!("repeated {write:?}");
        // An account with a new e-mail but an existing id conflicts by id.
        let write = match write {
            Write::InsertAccount(mut a) => {
                a.email = Some(data::email("other@example.org"));
                Write::InsertAccount(a)
            }
            w => w,
        };
        assert_conflict(commit(&store, t, vec![write]).await, &context);
    }
    fixture.assert_stored(&store).await;

    // Twice in one batch: the batch fails and the first insert is undone.
    let session = data::session(t, rid(), fixture.ids.counsellor);
    assert_conflict(
        commit(
            &store,
            t,
            vec![
                Write::InsertSession(session.clone()),
                Write::InsertSession(session.clone()),
            ],
        )
        .await,
        "same session twice in one batch",
    );
    assert!(read(store.session(t, session.id).await, "session").is_none());
}

/// Updates and deletes of records that do not exist fail with `Missing` — including
/// records that exist with the same id in another tenant, which stay untouched.
pub async fn missing_records(store: DynStore) {
    let (a, b): (TenantId, TenantId) = (rid(), rid());
    let other = Fixture::new(FixtureIds::random(b));
    other.insert(&store).await;
    commit_ok(&store, a, vec![Write::InsertTenant(data::tenant(a))]).await;
    let ids = other.ids;
    // The same records, addressed to tenant A, which holds none of them.
    let mine = Fixture::new(ids.in_tenant(a));
    let mut credential = mine.credential.clone();
    credential.revision = 3;
    let writes = vec![
        Write::UpdateTenant(data::tenant(rid())),
        Write::UpdateAccount(mine.account(ids.client).clone()),
        Write::DeleteAccount(ids.client),
        Write::DeleteGuest(ids.guest),
        Write::UpdateRole(mine.roles[0].clone()),
        Write::DeleteRole(ids.role),
        Write::UpdateGroup(mine.group.clone()),
        Write::UpdateSession(mine.session.clone()),
        Write::DeleteSession(ids.session),
        Write::RemoveParticipant {
            session: ids.session,
            subject: SubjectId::Account(ids.client),
        },
        Write::UpdateInvitation(mine.invitation.clone()),
        Write::UpdateRoom(mine.room.clone()),
        Write::AddVersion(data::version(&mine.item, 2)),
        Write::DeleteItem(ids.item),
        Write::PutCredential(credential),
        Write::MarkNotified(ids.event),
    ];
    for write in writes {
        let context = format!("{write:?}");
        let tenant = match &write {
            Write::UpdateTenant(t) => t.id,
            _ => a,
        };
        assert_missing(commit(&store, tenant, vec![write]).await, &context);
    }
    other.assert_stored(&store).await;
    assert!(read(store.accounts(a, Page::first(10)).await, "accounts").is_empty());
}
