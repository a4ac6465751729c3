//! `items_latest` on rows damaged behind the SDK's back: the page that meets a damaged
//! item fails with `Corrupt` naming the record, and every other page — and every read
//! after it — goes on working. (`items_latest` decodes its columns by position and
//! takes the tenant, session and version number from the statement, so these are the
//! checks that must survive that.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;

use cai_core::conformance::data::{self, ordered, rid};
use cai_core::domain::{ContentItem, ContentVersion};
use cai_core::id::{AccountId, ItemId, SessionId, SubjectId, TenantId};
use cai_core::ports::{Batch, DynStore, Page, StoreError, StoreResult, Write};
use cai_store::sqlite::SqliteStore;
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

type Latest = StoreResult<Vec<(ContentItem, ContentVersion)>>;

/// The page of the one item after `ordered(n - 1)`: item `n` alone.
async fn only(store: &DynStore, t: TenantId, s: SessionId, n: u16) -> Latest {
    let page = Page::first(1).after(ordered::<ItemId>(n - 1));
    store.items_latest(t, s, page).await
}

fn corrupt(result: Latest, what: &str) {
    match result {
        Err(StoreError::Corrupt { what: got }) => assert_eq!(got, what),
        other => panic!("expected Corrupt {{ {what} }}, got {other:?}"),
    }
}

#[tokio::test]
async fn a_damaged_item_fails_its_page_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tenant.db");
    let sqlite = SqliteStore::open(&path).await.unwrap();
    let store: DynStore = Arc::new(sqlite.clone());
    let (t, owner, s, other): (TenantId, AccountId, SessionId, SessionId) =
        (rid(), rid(), rid(), rid());
    let mut writes = data::tenant_with_session(t, owner, s);
    writes.push(Write::InsertSession(data::session(t, other, owner)));
    let mut stored = Vec::new();
    for n in 1..=7 {
        let (item, first) = data::item(t, ordered(n), s, SubjectId::Account(owner));
        writes.push(Write::InsertItem(item.clone(), first.clone()));
        stored.push((item, first));
    }
    store.commit(Batch { tenant: t, writes }).await.unwrap();
    assert_eq!(
        store.items_latest(t, s, Page::first(10)).await.unwrap(),
        stored
    );

    // Another program writes to the file. Item 2: its envelope loses its tail. 3: its
    // version row is gone. 4: its version is filed under another session. 5: its
    // author is not a subject. 6: its kind is no kind. 1 and 7 stay as they were.
    let mut raw = SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(&path))
        .await
        .unwrap();
    let item = |n: u16| ordered::<ItemId>(n).as_bytes().to_vec();
    let elsewhere = other.as_bytes().to_vec();
    let damage = [
        (
            "UPDATE versions SET body = substr(body, 1, 6) WHERE item = ?",
            2,
        ),
        ("DELETE FROM versions WHERE item = ?", 3),
        ("UPDATE versions SET session = ?2 WHERE item = ?1", 4),
        (
            "UPDATE items SET author = substr(author, 1, 5) WHERE id = ?",
            5,
        ),
        ("UPDATE items SET kind = 250 WHERE id = ?", 6),
    ];
    for (sql, n) in damage {
        let mut q = sqlx::query(sql).bind(item(n));
        if sql.contains("?2") {
            q = q.bind(elsewhere.clone());
        }
        let changed = q.execute(&mut raw).await.unwrap();
        assert_eq!(changed.rows_affected(), 1, "{sql}");
    }
    raw.close().await.unwrap();

    corrupt(only(&store, t, s, 2).await, "item version");
    corrupt(only(&store, t, s, 3).await, "item version");
    corrupt(only(&store, t, s, 4).await, "item version");
    corrupt(only(&store, t, s, 5).await, "item");
    corrupt(only(&store, t, s, 6).await, "item");
    // A page that meets a damaged row says so instead of skipping it.
    corrupt(
        store.items_latest(t, s, Page::first(10)).await,
        "item version",
    );
    // The rest reads as before, the damaged reads notwithstanding.
    let expect = |n: u16| vec![stored[usize::from(n - 1)].clone()];
    assert_eq!(only(&store, t, s, 1).await.unwrap(), expect(1));
    assert_eq!(only(&store, t, s, 7).await.unwrap(), expect(7));
    assert_eq!(
        store
            .items_latest(t, s, Page::newest(1).after(ordered::<ItemId>(2)))
            .await
            .unwrap(),
        expect(1)
    );
    // The version moved to another session is no item of that session either.
    assert!(
        store
            .items_latest(t, other, Page::first(10))
            .await
            .unwrap()
            .is_empty()
    );
}
