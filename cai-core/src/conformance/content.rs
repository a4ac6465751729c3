//! Content items and versions: version sequencing, the cascades of `DeleteItem` and
//! `DeleteSessionContent`, and paging a session's items.

use crate::domain::ContentItem;
use crate::id::{AccountId, ItemId, SessionId, SubjectId, TenantId};
use crate::ports::{DynStore, Order, Page, Write};

use super::data::{
    self, assert_conflict, assert_missing, at, commit, commit_ok, ordered, read, rid,
};
use super::fixture::Fixture;

/// `InsertItem` takes version 1 only; `AddVersion` takes exactly the next version
/// and moves `latest_version`; `versions` lists oldest first.
pub async fn item_versions(store: DynStore) {
    let t: TenantId = rid();
    let (owner, session): (AccountId, SessionId) = (rid(), rid());
    let author = SubjectId::Account(owner);
    commit_ok(&store, t, data::tenant_with_session(t, owner, session)).await;

    // First versions other than 1, or an item not at version 1, are refused.
    let (item, first) = data::item(t, rid(), session, author);
    let second = data::version(&item, 2);
    assert_conflict(
        commit(
            &store,
            t,
            vec![Write::InsertItem(item.clone(), second.clone())],
        )
        .await,
        "inserting an item with version 2",
    );
    let mut ahead = item.clone();
    ahead.latest_version = 2;
    assert_conflict(
        commit(&store, t, vec![Write::InsertItem(ahead, first.clone())]).await,
        "inserting an item claiming version 2",
    );
    assert!(read(store.item(t, item.id).await, "item").is_none());
    assert_missing(
        commit(&store, t, vec![Write::AddVersion(second.clone())]).await,
        "a version of a missing item",
    );

    commit_ok(
        &store,
        t,
        vec![Write::InsertItem(item.clone(), first.clone())],
    )
    .await;
    assert_eq!(
        read(store.item(t, item.id).await, "item"),
        Some(item.clone())
    );
    assert_eq!(
        read(store.versions(t, item.id).await, "versions"),
        vec![first.clone()]
    );

    for (bad, why) in [
        (1, "version 1 again"),
        (3, "skipping version 2"),
        (0, "version 0"),
    ] {
        assert_conflict(
            commit(
                &store,
                t,
                vec![Write::AddVersion(data::version(&item, bad))],
            )
            .await,
            why,
        );
    }
    commit_ok(&store, t, vec![Write::AddVersion(second.clone())]).await;
    assert_conflict(
        commit(&store, t, vec![Write::AddVersion(second.clone())]).await,
        "version 2 twice",
    );
    // Two versions in one batch follow each other.
    let third = data::version(&item, 3);
    let fourth = data::version(&item, 4);
    commit_ok(
        &store,
        t,
        vec![
            Write::AddVersion(third.clone()),
            Write::AddVersion(fourth.clone()),
        ],
    )
    .await;
    let latest = read(store.item(t, item.id).await, "item").expect("item");
    assert_eq!(latest.latest_version, 4);
    assert_eq!(
        read(store.versions(t, item.id).await, "versions"),
        vec![first.clone(), second.clone(), third.clone(), fourth.clone()]
    );
    assert_eq!(
        read(store.version(t, item.id, 3).await, "version"),
        Some(third)
    );
    assert!(read(store.version(t, item.id, 5).await, "version").is_none());
    // The bodies come back byte for byte.
    assert_eq!(
        read(store.version(t, item.id, 1).await, "version").map(|v| v.body),
        Some(first.body)
    );
}

/// `DeleteItem` removes the item and all its versions; other items stay.
pub async fn delete_item_cascades(store: DynStore) {
    let fixture = Fixture::random(rid());
    let ids = fixture.ids;
    let t = ids.tenant;
    fixture.insert(&store).await;
    let (other, other_first) = data::item(t, rid(), ids.session, SubjectId::Account(ids.client));
    commit_ok(
        &store,
        t,
        vec![Write::InsertItem(other.clone(), other_first.clone())],
    )
    .await;

    commit_ok(&store, t, vec![Write::DeleteItem(ids.item)]).await;
    assert!(read(store.item(t, ids.item).await, "item").is_none());
    assert!(read(store.versions(t, ids.item).await, "versions").is_empty());
    assert!(read(store.version(t, ids.item, 1).await, "version").is_none());
    assert_eq!(
        read(store.items(t, ids.session, Page::first(10)).await, "items"),
        vec![other.clone()]
    );
    assert_eq!(
        read(store.versions(t, other.id).await, "versions"),
        vec![other_first]
    );
    // A deleted item takes no version and cannot be deleted twice.
    assert_missing(
        commit(
            &store,
            t,
            vec![Write::AddVersion(data::version(&fixture.item, 3))],
        )
        .await,
        "a version of a deleted item",
    );
    assert_missing(
        commit(&store, t, vec![Write::DeleteItem(ids.item)]).await,
        "deleting twice",
    );
    // Everything else of the session stays.
    assert!(read(store.session(t, ids.session).await, "session").is_some());
    assert_eq!(
        read(store.custodies(t, ids.session).await, "custody"),
        fixture.custody
    );
}

/// `DeleteSessionContent` removes every item of the session with all versions; the
/// session, its participants and key custody, and other sessions' items stay.
pub async fn delete_session_content(store: DynStore) {
    let fixture = Fixture::random(rid());
    let ids = fixture.ids;
    let t = ids.tenant;
    fixture.insert(&store).await;
    let author = SubjectId::Account(ids.client);
    let (more, more_first) = data::item(t, rid(), ids.session, author);
    let elsewhere: SessionId = rid();
    let (kept, kept_first) = data::item(t, rid(), elsewhere, author);
    commit_ok(
        &store,
        t,
        vec![
            Write::InsertItem(more.clone(), more_first),
            Write::AddVersion(data::version(&more, 2)),
            Write::InsertSession(data::session(t, elsewhere, ids.counsellor)),
            Write::InsertItem(kept.clone(), kept_first.clone()),
        ],
    )
    .await;

    commit_ok(&store, t, vec![Write::DeleteSessionContent(ids.session)]).await;
    assert!(read(store.items(t, ids.session, Page::first(10)).await, "items").is_empty());
    for id in [ids.item, more.id] {
        assert!(read(store.item(t, id).await, "item").is_none());
        assert!(read(store.versions(t, id).await, "versions").is_empty());
    }
    assert_eq!(
        read(store.session(t, ids.session).await, "session"),
        Some(fixture.session.clone())
    );
    assert_eq!(
        read(store.participants(t, ids.session).await, "participants"),
        fixture.participants
    );
    assert_eq!(
        read(store.custodies(t, ids.session).await, "custody"),
        fixture.custody
    );
    assert_eq!(
        read(store.items(t, elsewhere, Page::first(10)).await, "items"),
        vec![kept.clone()]
    );
    assert_eq!(
        read(store.versions(t, kept.id).await, "versions"),
        vec![kept_first]
    );
    // Emptying an empty session is fine.
    commit_ok(&store, t, vec![Write::DeleteSessionContent(ids.session)]).await;
}

/// `items` pages a session's items by id and never includes another session's.
pub async fn items_paging(store: DynStore) {
    let t: TenantId = rid();
    let (owner, session, other): (AccountId, SessionId, SessionId) = (rid(), rid(), rid());
    let author = SubjectId::Account(owner);
    let mut writes = data::tenant_with_session(t, owner, session);
    writes.push(Write::InsertSession(data::session(t, other, owner)));
    // Interleaved ids: odd numbers in `session`, even ones in `other`.
    for n in (1..=24u16).rev() {
        let owner = if n % 2 == 1 { session } else { other };
        let (item, first) = data::item(t, ordered(n), owner, author);
        writes.push(Write::InsertItem(item, first));
    }
    commit_ok(&store, t, writes).await;

    let mut seen: Vec<ItemId> = Vec::new();
    let mut sizes = Vec::new();
    let mut page = Page::first(5);
    loop {
        assert!(sizes.len() <= 10, "paging does not end: {sizes:?}");
        let items: Vec<ContentItem> = read(store.items(t, session, page).await, "items");
        if items.is_empty() {
            break;
        }
        assert!(items.iter().all(|i| i.session == session));
        sizes.push(items.len());
        page.after = items.last().map(|i| i.id);
        seen.extend(items.into_iter().map(|i| i.id));
    }
    assert_eq!(sizes, vec![5, 5, 2]);
    let odd: Vec<ItemId> = (1..=24u16).filter(|n| n % 2 == 1).map(ordered).collect();
    assert_eq!(seen, odd);
    // `after` may be an id of the other session.
    let from_even = Page {
        after: Some(ordered(10)),
        limit: 2,
        order: Order::OldestFirst,
    };
    let ids: Vec<ItemId> = read(store.items(t, session, from_even).await, "items")
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(ids, vec![ordered(11), ordered(13)]);
    // Newest first, and on from an id of the other session.
    let newest: Vec<ItemId> = read(store.items(t, session, Page::newest(3)).await, "items")
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(newest, vec![ordered(23), ordered(21), ordered(19)]);
    let older: Vec<ItemId> = read(
        store
            .items(t, session, Page::newest(2).after(ordered(10)))
            .await,
        "items",
    )
    .into_iter()
    .map(|i| i.id)
    .collect();
    assert_eq!(older, vec![ordered(9), ordered(7)]);
    assert!(read(store.items(t, session, Page::first(0)).await, "items").is_empty());
    assert!(read(store.items(rid(), session, Page::first(10)).await, "items").is_empty());

    // `items_latest` pages alike and pairs each item with its newest version.
    let edited: ItemId = ordered(3);
    let mut item = read(store.item(t, edited).await, "item").expect("item 3 exists");
    let second = data::version(&item, 2);
    commit_ok(&store, t, vec![Write::AddVersion(second.clone())]).await;
    item.latest_version = 2;
    let latest = read(
        store.items_latest(t, session, Page::first(3)).await,
        "items latest",
    );
    let mut expected = Vec::new();
    for n in [1u16, 3, 5] {
        let i = read(store.item(t, ordered(n)).await, "item").expect("item exists");
        let v = read(store.version(t, i.id, i.latest_version).await, "version")
            .expect("version exists");
        expected.push((i, v));
    }
    assert_eq!(latest, expected);
    assert_eq!(latest.get(1), Some(&(item, second)));
    let newest: Vec<ItemId> = read(
        store
            .items_latest(t, session, Page::newest(2).after(ordered(10)))
            .await,
        "items latest",
    )
    .into_iter()
    .map(|(i, v)| {
        assert_eq!((v.item, v.version), (i.id, i.latest_version));
        i.id
    })
    .collect();
    assert_eq!(newest, vec![ordered(9), ordered(7)]);
    assert!(
        read(
            store.items_latest(t, other, Page::first(100)).await,
            "items latest"
        )
        .iter()
        .all(|(i, _)| i.session == other)
    );
    assert!(
        read(
            store.items_latest(rid(), session, Page::first(10)).await,
            "items latest"
        )
        .is_empty()
    );
}

/// `files_created_before` lists the items with a blob created at or before the time,
/// by id, at most the limit, in that tenant only.
pub async fn files_created_before(store: DynStore) {
    let (t, other): (TenantId, TenantId) = (rid(), rid());
    let (owner, session): (AccountId, SessionId) = (rid(), rid());
    let author = SubjectId::Account(owner);
    commit_ok(&store, t, data::tenant_with_session(t, owner, session)).await;
    commit_ok(
        &store,
        other,
        data::tenant_with_session(other, owner, session),
    )
    .await;
    // Items 1..=4 at 1 000, 2 000, 3 000, 4 000 ms; odd ones are files.
    let mut writes = Vec::new();
    for n in 1..=4u16 {
        let (mut item, first) = data::item(t, ordered(n), session, author);
        item.created_at = at(i64::from(n) * 1_000);
        if n % 2 == 1 {
            item.blob = Some(crate::id::BlobId::from_bytes([n as u8; 16]));
        }
        writes.push(Write::InsertItem(item, first));
    }
    commit_ok(&store, t, writes).await;
    let (mut elsewhere, first) = data::item(other, ordered(1), session, author);
    elsewhere.blob = Some(crate::id::BlobId::from_bytes([9; 16]));
    commit_ok(&store, other, vec![Write::InsertItem(elsewhere, first)]).await;

    let ids =
        |items: Vec<ContentItem>| -> Vec<ItemId> { items.into_iter().map(|i| i.id).collect() };
    let before = |millis, limit| store.files_created_before(t, at(millis), limit);
    assert!(ids(read(before(999, 10).await, "files")).is_empty());
    assert_eq!(
        ids(read(before(1_000, 10).await, "files")),
        vec![ordered(1)]
    );
    assert_eq!(
        ids(read(before(2_999, 10).await, "files")),
        vec![ordered(1)]
    );
    assert_eq!(
        ids(read(before(3_000, 10).await, "files")),
        vec![ordered(1), ordered(3)]
    );
    assert_eq!(ids(read(before(9_000, 1).await, "files")), vec![ordered(1)]);
    assert!(ids(read(before(9_000, 0).await, "files")).is_empty());
}

/// An item's `blob` reads back; `item_by_blob` finds the item by it, in its tenant
/// only, and nothing once the item is gone (`DeleteItem`, `DeleteSessionContent`,
/// `DeleteSession`); a second item of the tenant naming the same blob is `Conflict`,
/// another tenant's may.
pub async fn item_by_blob(store: DynStore) {
    let (t, other): (TenantId, TenantId) = (rid(), rid());
    let (owner, session): (AccountId, SessionId) = (rid(), rid());
    let author = SubjectId::Account(owner);
    commit_ok(&store, t, data::tenant_with_session(t, owner, session)).await;
    commit_ok(
        &store,
        other,
        data::tenant_with_session(other, owner, session),
    )
    .await;
    let with_blob = |tenant: TenantId| {
        let (mut item, first) = data::item(tenant, rid(), session, author);
        item.blob = Some(crate::id::BlobId::from_bytes([0xb1; 16]));
        (item, first)
    };
    let blob = crate::id::BlobId::from_bytes([0xb1; 16]);
    assert!(read(store.item_by_blob(t, blob).await, "item by blob").is_none());

    let (item, first) = with_blob(t);
    commit_ok(&store, t, vec![Write::InsertItem(item.clone(), first)]).await;
    assert_eq!(
        read(store.item(t, item.id).await, "item"),
        Some(item.clone())
    );
    assert_eq!(
        read(store.item_by_blob(t, blob).await, "item by blob"),
        Some(item.id)
    );
    assert!(read(store.item_by_blob(other, blob).await, "item by blob").is_none());
    let unknown = crate::id::BlobId::from_bytes([0xb2; 16]);
    assert!(read(store.item_by_blob(t, unknown).await, "item by blob").is_none());

    let (twin, twin_first) = with_blob(t);
    assert_conflict(
        commit(&store, t, vec![Write::InsertItem(twin, twin_first)]).await,
        "a second item naming the same blob",
    );
    let (theirs, theirs_first) = with_blob(other);
    commit_ok(
        &store,
        other,
        vec![Write::InsertItem(theirs.clone(), theirs_first)],
    )
    .await;
    assert_eq!(
        read(store.item_by_blob(other, blob).await, "item by blob"),
        Some(theirs.id)
    );

    // Every way an item goes takes its blob reference with it.
    commit_ok(&store, t, vec![Write::DeleteItem(item.id)]).await;
    assert!(read(store.item_by_blob(t, blob).await, "item by blob").is_none());
    let (again, again_first) = with_blob(t);
    commit_ok(&store, t, vec![Write::InsertItem(again, again_first)]).await;
    commit_ok(&store, t, vec![Write::DeleteSessionContent(session)]).await;
    assert!(read(store.item_by_blob(t, blob).await, "item by blob").is_none());
    commit_ok(&store, other, vec![Write::DeleteSession(session)]).await;
    assert!(read(store.item_by_blob(other, blob).await, "item by blob").is_none());
}
