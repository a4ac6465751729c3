//! Tenants, accounts, guests, roles and groups: unique e-mail addresses, the cascades
//! of `DeleteAccount`, `DeleteGuest` and `DeleteRole`, and the directory listings.

use crate::domain::{Account, AccountStatus};
use crate::id::{AccountId, GroupId, RoleId, SubjectId, TenantId};
use crate::ports::{CredentialKind, DynStore, Order, Page, Write};

use super::data::{self, assert_conflict, at, commit, commit_ok, email, ordered, read, rid};
use super::fixture::Fixture;

/// An e-mail address is unique within a tenant (on insert and update), free again
/// once its holder changes it or is deleted, and may be used in another tenant.
pub async fn unique_email_per_tenant(store: DynStore) {
    let (a, b): (TenantId, TenantId) = (rid(), rid());
    let (first, second, third): (AccountId, AccountId, AccountId) = (rid(), rid(), rid());
    let one = data::account(a, first, "one@example.org");
    commit_ok(
        &store,
        a,
        vec![
            Write::InsertTenant(data::tenant(a)),
            Write::InsertAccount(one.clone()),
        ],
    )
    .await;

    assert_conflict(
        commit(
            &store,
            a,
            vec![Write::InsertAccount(data::account(
                a,
                second,
                "one@example.org",
            ))],
        )
        .await,
        "insert with a taken e-mail",
    );
    assert!(read(store.account(a, second).await, "account").is_none());

    // Another tenant may use the same address.
    commit_ok(
        &store,
        b,
        vec![
            Write::InsertTenant(data::tenant(b)),
            Write::InsertAccount(data::account(b, second, "one@example.org")),
        ],
    )
    .await;

    // Taking an address by update conflicts too.
    let two = data::account(a, second, "two@example.org");
    commit_ok(&store, a, vec![Write::InsertAccount(two.clone())]).await;
    let mut grab = two.clone();
    grab.email = Some(email("one@example.org"));
    assert_conflict(
        commit(&store, a, vec![Write::UpdateAccount(grab)]).await,
        "update to a taken e-mail",
    );
    assert_eq!(
        read(store.account(a, second).await, "account"),
        Some(two.clone())
    );

    // Keeping one's own address is no conflict.
    let mut renamed = one.clone();
    renamed.display_name = data::name("Renamed");
    commit_ok(&store, a, vec![Write::UpdateAccount(renamed.clone())]).await;

    // Changing the address frees the old one.
    let mut moved = renamed.clone();
    moved.revision = 1;
    moved.email = Some(email("moved@example.org"));
    commit_ok(&store, a, vec![Write::UpdateAccount(moved)]).await;
    let by_new = read(
        store.account_by_email(a, &email("moved@example.org")).await,
        "by e-mail",
    );
    assert_eq!(by_new.map(|x| x.id), Some(first));
    assert!(
        read(
            store.account_by_email(a, &email("one@example.org")).await,
            "by e-mail"
        )
        .is_none()
    );
    commit_ok(
        &store,
        a,
        vec![Write::InsertAccount(data::account(
            a,
            third,
            "one@example.org",
        ))],
    )
    .await;
    let by_old = read(
        store.account_by_email(a, &email("one@example.org")).await,
        "by e-mail",
    );
    assert_eq!(by_old.map(|x| x.id), Some(third));

    // Pseudonymised accounts have no address; several may coexist.
    let mut gone = data::account(a, rid(), "x@example.org");
    gone.email = None;
    let mut gone_too = data::account(a, rid(), "y@example.org");
    gone_too.email = None;
    commit_ok(
        &store,
        a,
        vec![Write::InsertAccount(gone), Write::InsertAccount(gone_too)],
    )
    .await;

    // Deleting the holder frees the address.
    commit_ok(&store, a, vec![Write::DeleteAccount(third)]).await;
    assert!(
        read(
            store.account_by_email(a, &email("one@example.org")).await,
            "by e-mail"
        )
        .is_none()
    );
    commit_ok(
        &store,
        a,
        vec![Write::InsertAccount(data::account(
            a,
            rid(),
            "one@example.org",
        ))],
    )
    .await;
    // The lookup is exact: another address does not match. (Addresses reach the store
    // lowercased by `Email::parse`; the store compares them as they are.)
    assert!(
        read(
            store.account_by_email(a, &email("one@example.com")).await,
            "by e-mail"
        )
        .is_none()
    );
    // B's account was never affected.
    let in_b = read(
        store.account_by_email(b, &email("one@example.org")).await,
        "by e-mail",
    );
    assert_eq!(in_b.map(|x| x.id), Some(second));
}

/// `DeleteAccount` removes its credentials, key backup, history grants to it, group
/// memberships and participations — and nothing else: content it wrote, grants it
/// gave, sessions it owns, audit events and other accounts' records stay. A group that
/// lost the member gets a new revision, like any changed record.
pub async fn delete_account_cascades(store: DynStore) {
    let fixture = Fixture::random(rid());
    let ids = fixture.ids;
    let t = ids.tenant;
    fixture.insert(&store).await;
    // More for the client: credentials, a backup, a grant, a group.
    let solo: GroupId = rid();
    commit_ok(
        &store,
        t,
        vec![
            Write::PutCredential(data::credential(
                t,
                ids.client,
                CredentialKind::Password,
                b"p",
            )),
            Write::PutCredential(data::credential(t, ids.client, CredentialKind::Totp, b"t")),
            Write::PutKeyBackup {
                account: ids.client,
                backup: b"client backup".to_vec(),
            },
            Write::PutHistoryGrant(data::history_grant(
                t,
                ids.session,
                ids.client,
                ids.counsellor,
            )),
            Write::InsertGroup(data::group(t, solo, &[ids.client])),
        ],
    )
    .await;
    // The author of the fixture's item is the client.
    commit_ok(&store, t, vec![Write::DeleteAccount(ids.client)]).await;

    assert!(read(store.account(t, ids.client).await, "account").is_none());
    assert!(
        read(
            store
                .account_by_email(t, &email("client@example.org"))
                .await,
            "by e-mail"
        )
        .is_none()
    );
    for kind in CredentialKind::ALL {
        assert!(
            read(store.credential(t, ids.client, kind).await, "credential").is_none(),
            "{kind:?}"
        );
    }
    assert!(read(store.key_backup(t, ids.client).await, "backup").is_none());
    assert!(
        read(
            store.history_grant(t, ids.session, ids.client).await,
            "grant"
        )
        .is_none()
    );
    assert!(read(store.groups_of(t, ids.client).await, "groups").is_empty());
    let solo_group = read(store.group(t, solo).await, "group").expect("the group stays");
    assert!(solo_group.members.is_empty());
    let client = SubjectId::Account(ids.client);
    assert!(
        read(
            store.sessions_of(t, client, Page::first(100)).await,
            "sessions of"
        )
        .is_empty()
    );
    let left: Vec<SubjectId> = read(store.participants(t, ids.session).await, "participants")
        .into_iter()
        .map(|p| p.subject)
        .collect();
    let mut expected = vec![
        SubjectId::Account(ids.counsellor),
        SubjectId::Guest(ids.guest),
    ];
    expected.sort_unstable();
    assert_eq!(left, expected);
    assert!(!read(store.accounts_with_role(t, ids.role).await, "holders").contains(&ids.client));

    // What stays: content the client wrote, the others' records, the audit trail.
    assert_eq!(
        read(store.item(t, ids.item).await, "item"),
        Some(fixture.item.clone())
    );
    assert_eq!(
        read(store.versions(t, ids.item).await, "versions"),
        fixture.versions
    );
    assert_eq!(
        read(store.account(t, ids.counsellor).await, "counsellor"),
        Some(fixture.account(ids.counsellor).clone())
    );
    assert_eq!(
        read(store.group(t, ids.group).await, "group"),
        Some(fixture.group.clone())
    );
    assert_eq!(
        read(
            store.history_grant(t, ids.session, ids.admin).await,
            "grant"
        ),
        Some(fixture.grant.clone())
    );
    assert_eq!(
        read(store.key_backup(t, ids.counsellor).await, "backup"),
        Some(fixture.backup.clone())
    );
    assert!(
        read(
            store
                .credential(t, ids.counsellor, CredentialKind::Password)
                .await,
            "credential"
        )
        .is_some()
    );
    assert_eq!(read(store.audit_events(t, 0, 10).await, "audit").len(), 1);

    // The counsellor gave the admin's grant and owns the session and room: they stay
    // when the counsellor goes; the counsellor's own group membership does not.
    commit_ok(&store, t, vec![Write::DeleteAccount(ids.counsellor)]).await;
    assert_eq!(
        read(
            store.history_grant(t, ids.session, ids.admin).await,
            "grant"
        ),
        Some(fixture.grant.clone())
    );
    assert_eq!(
        read(store.session(t, ids.session).await, "session"),
        Some(fixture.session.clone())
    );
    assert_eq!(
        read(store.room(t, ids.room).await, "room"),
        Some(fixture.room.clone())
    );
    assert_eq!(
        read(store.invitation(t, ids.invitation).await, "invitation"),
        Some(fixture.invitation.clone())
    );
    let group = read(store.group(t, ids.group).await, "group").expect("the group stays");
    assert_eq!(group.members, vec![ids.admin]);
    // The cascade changed the group, so an update prepared before it is stale and
    // cannot put the deleted member back.
    assert_eq!(group.revision, fixture.group.revision + 1);
    assert_conflict(
        commit(&store, t, vec![Write::UpdateGroup(fixture.group.clone())]).await,
        "updating a group from before the cascade",
    );
    assert_eq!(
        read(store.groups_of(t, ids.admin).await, "groups"),
        vec![ids.group]
    );
}

/// `DeleteGuest` removes the guest and its participations; the session and the
/// other participants stay.
pub async fn delete_guest_cascades(store: DynStore) {
    let fixture = Fixture::random(rid());
    let ids = fixture.ids;
    let t = ids.tenant;
    fixture.insert(&store).await;
    commit_ok(&store, t, vec![Write::DeleteGuest(ids.guest)]).await;
    assert!(read(store.guest(t, ids.guest).await, "guest").is_none());
    assert!(
        read(
            store
                .sessions_of(t, SubjectId::Guest(ids.guest), Page::first(100))
                .await,
            "sessions of"
        )
        .is_empty()
    );
    let expected: Vec<_> = fixture
        .participants
        .iter()
        .filter(|p| p.subject != SubjectId::Guest(ids.guest))
        .cloned()
        .collect();
    assert_eq!(
        read(store.participants(t, ids.session).await, "participants"),
        expected
    );
    assert_eq!(
        read(store.session(t, ids.session).await, "session"),
        Some(fixture.session.clone())
    );
    assert_eq!(
        read(store.item(t, ids.item).await, "item"),
        Some(fixture.item.clone())
    );
}

/// `DeleteRole` removes the role from every account holding it (those accounts get
/// a new revision); the accounts and their other roles stay.
pub async fn delete_role_cascades(store: DynStore) {
    let t: TenantId = rid();
    let (doomed, kept): (RoleId, RoleId) = (rid(), rid());
    let mut both = data::account(t, rid(), "both@example.org");
    both.roles = vec![doomed, kept];
    both.roles.sort_unstable();
    let mut only = data::account(t, rid(), "only@example.org");
    only.roles = vec![doomed];
    let none = data::account(t, rid(), "none@example.org");
    commit_ok(
        &store,
        t,
        vec![
            Write::InsertTenant(data::tenant(t)),
            Write::InsertRole(data::role(t, doomed)),
            Write::InsertRole(data::role(t, kept)),
            Write::InsertAccount(both.clone()),
            Write::InsertAccount(only.clone()),
            Write::InsertAccount(none.clone()),
        ],
    )
    .await;
    let mut holders = vec![both.id, only.id];
    holders.sort_unstable();
    assert_eq!(
        read(store.accounts_with_role(t, doomed).await, "holders"),
        holders
    );

    commit_ok(&store, t, vec![Write::DeleteRole(doomed)]).await;
    assert!(read(store.role(t, doomed).await, "role").is_none());
    assert_eq!(
        read(store.roles(t).await, "roles"),
        vec![data::role(t, kept)]
    );
    assert!(read(store.accounts_with_role(t, doomed).await, "holders").is_empty());
    assert_eq!(
        read(store.accounts_with_role(t, kept).await, "holders"),
        vec![both.id]
    );
    let after = |a: Option<Account>| a.expect("the account stays").roles;
    assert_eq!(
        after(read(store.account(t, both.id).await, "account")),
        vec![kept]
    );
    assert!(after(read(store.account(t, only.id).await, "account")).is_empty());
    assert_eq!(read(store.account(t, none.id).await, "account"), Some(none));
    // The cascade changed the holders, so updates prepared before it are stale and
    // cannot give the deleted role back.
    let revision = |a: Option<Account>| a.expect("the account stays").revision;
    assert_eq!(
        revision(read(store.account(t, only.id).await, "account")),
        1
    );
    assert_conflict(
        commit(&store, t, vec![Write::UpdateAccount(only)]).await,
        "updating an account from before the cascade",
    );
}

/// `accounts` pages by id; `accounts_with_role`, `roles` and `groups_of` list by id.
pub async fn directory_listings(store: DynStore) {
    let t: TenantId = rid();
    let role: RoleId = ordered(7);
    let mut writes = vec![
        Write::InsertTenant(data::tenant(t)),
        Write::InsertRole(data::role(t, role)),
    ];
    // Inserted out of order; ids sort by their number.
    let numbers: Vec<u16> = (1..=25).map(|n| (n * 7) % 26).collect();
    for n in &numbers {
        let mut a = data::account(t, ordered(*n), &format!("user{n}@example.org"));
        if n % 3 == 0 {
            a.roles = vec![role];
        }
        writes.push(Write::InsertAccount(a));
    }
    for n in [9u16, 3, 5] {
        writes.push(Write::InsertRole(data::role(t, ordered(n))));
        writes.push(Write::InsertGroup(data::group(
            t,
            ordered(n),
            &[ordered(1), ordered(n)],
        )));
    }
    commit_ok(&store, t, writes).await;

    let mut sorted = numbers.clone();
    sorted.sort_unstable();
    let want = |ns: &[u16]| -> Vec<AccountId> { ns.iter().map(|n| ordered(*n)).collect() };
    let mut seen = Vec::new();
    let mut page = Page::first(10);
    let mut sizes = Vec::new();
    loop {
        assert!(sizes.len() <= 10, "paging does not end: {sizes:?}");
        let batch = read(store.accounts(t, page).await, "accounts");
        if batch.is_empty() {
            break;
        }
        sizes.push(batch.len());
        page.after = batch.last().map(|a| a.id);
        seen.extend(batch.into_iter().map(|a| a.id));
    }
    assert_eq!(sizes, vec![10, 10, 5]);
    assert_eq!(seen, want(&sorted));
    assert!(read(store.accounts(t, Page::first(0)).await, "accounts").is_empty());
    assert_eq!(
        read(store.accounts(t, Page::first(u32::MAX)).await, "accounts").len(),
        25
    );
    let after_last = Page {
        after: Some(ordered(25)),
        limit: 10,
        order: Order::OldestFirst,
    };
    assert!(read(store.accounts(t, after_last).await, "accounts").is_empty());
    // `after` need not be an existing id.
    let between = Page {
        after: Some(ordered::<AccountId>(0)),
        limit: 2,
        order: Order::OldestFirst,
    };
    let ids: Vec<_> = read(store.accounts(t, between).await, "accounts")
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(ids, want(&[1, 2]));

    let holders: Vec<u16> = sorted.iter().copied().filter(|n| n % 3 == 0).collect();
    assert_eq!(
        read(store.accounts_with_role(t, role).await, "holders"),
        want(&holders)
    );
    let roles: Vec<RoleId> = read(store.roles(t).await, "roles")
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(roles, vec![ordered(3), ordered(5), ordered(7), ordered(9)]);
    let groups: Vec<GroupId> = vec![ordered(3), ordered(5), ordered(9)];
    assert_eq!(read(store.groups_of(t, ordered(1)).await, "groups"), groups);
    assert_eq!(
        read(store.groups_of(t, ordered(5)).await, "groups"),
        vec![ordered::<GroupId>(5)]
    );
    assert!(read(store.groups_of(t, ordered(2)).await, "groups").is_empty());
}

/// `pseudonymisation_due` lists deactivated accounts whose date is at or before
/// `now`, by id, at most `limit`; active and pseudonymised accounts never.
pub async fn pseudonymisation_due(store: DynStore) {
    let t: TenantId = rid();
    let now = at(1_000_000);
    let deactivated = |when| AccountStatus::Deactivated {
        at: at(0),
        pseudonymise_at: when,
    };
    let cases = [
        (1u16, deactivated(at(999_999)), true),
        (2, AccountStatus::Active, false),
        (3, deactivated(now), true),
        (4, deactivated(at(1_000_001)), false),
        (5, AccountStatus::Pseudonymised { at: at(10) }, false),
        (6, deactivated(at(5)), true),
    ];
    let mut writes = vec![Write::InsertTenant(data::tenant(t))];
    for (n, status, _) in cases {
        let mut a = data::account(t, ordered(n), &format!("p{n}@example.org"));
        a.status = status;
        writes.push(Write::InsertAccount(a));
    }
    commit_ok(&store, t, writes).await;
    let due: Vec<AccountId> = cases.iter().filter(|c| c.2).map(|c| ordered(c.0)).collect();
    assert_eq!(
        read(store.pseudonymisation_due(t, now, 100).await, "due"),
        due
    );
    assert_eq!(
        read(store.pseudonymisation_due(t, now, 2).await, "due"),
        due[..2].to_vec()
    );
    assert!(read(store.pseudonymisation_due(t, at(4), 100).await, "due").is_empty());
    assert!(read(store.pseudonymisation_due(rid(), now, 100).await, "due").is_empty());
}

/// Paged reads return at most [`Page::MAX_LIMIT`] records however large the asked
/// limit: accounts, a session's items, the audit trail.
pub async fn listing_limits_are_capped(store: DynStore) {
    let t: TenantId = rid();
    let max = Page::<()>::MAX_LIMIT as usize;
    let (owner, session): (AccountId, _) = (rid(), rid());
    let author = SubjectId::Account(owner);
    // The owner is one account, so `max` more make one over the cap.
    let mut writes = data::tenant_with_session(t, owner, session);
    for n in 0..max {
        let address = format!("u{n}@example.org");
        writes.push(Write::InsertAccount(data::account(t, rid(), &address)));
    }
    for _ in 0..=max {
        let (item, first) = data::item(t, rid(), session, author);
        writes.push(Write::InsertItem(item, first));
        writes.push(Write::AppendAudit(data::audit_event(t)));
    }
    commit_ok(&store, t, writes).await;
    let accounts = read(store.accounts(t, Page::first(u32::MAX)).await, "accounts");
    assert_eq!(accounts.len(), max);
    let items = read(
        store.items(t, session, Page::first(u32::MAX)).await,
        "items",
    );
    assert_eq!(items.len(), max);
    let events = read(store.audit_events(t, 0, u32::MAX).await, "audit");
    assert_eq!(events.len(), max);
    assert_eq!(events.last().map(|(seq, _)| *seq), Some(max as u64));
    // The rest is on the next page.
    let rest = Page {
        after: accounts.last().map(|a| a.id),
        limit: u32::MAX,
        order: Order::OldestFirst,
    };
    assert_eq!(read(store.accounts(t, rest).await, "accounts").len(), 1);
    let rest = Page {
        after: items.last().map(|i| i.id),
        limit: u32::MAX,
        order: Order::OldestFirst,
    };
    assert_eq!(read(store.items(t, session, rest).await, "items").len(), 1);
    let rest = read(store.audit_events(t, max as u64, u32::MAX).await, "audit");
    assert_eq!(rest.len(), 1);
}
