//! A row damaged behind the SDK's back — a truncated envelope, a body that is not the
//! record — yields `Corrupt` for that record, and every other read goes on working.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;

use cai_core::conformance::data::rid;
use cai_core::conformance::fixture::Fixture;
use cai_core::ports::{DynStore, Page, StoreError};
use cai_store::sqlite::SqliteStore;
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

#[tokio::test]
async fn a_damaged_row_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tenant.db");
    let sqlite = SqliteStore::open(&path).await.unwrap();
    let store: DynStore = Arc::new(sqlite.clone());
    let f = Fixture::random(rid());
    f.insert(&store).await;

    // Another program writes to the file: version 2's envelope loses its tail, the
    // client's account body is no longer the record.
    let mut raw = SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(&path))
        .await
        .unwrap();
    let changed = sqlx::query("UPDATE versions SET body = substr(body, 1, 6) WHERE version = 2")
        .execute(&mut raw)
        .await
        .unwrap();
    assert_eq!(changed.rows_affected(), 1);
    let changed = sqlx::query("UPDATE accounts SET body = '{\"truncated\":' WHERE id = ?")
        .bind(f.ids.client.as_bytes().as_slice())
        .execute(&mut raw)
        .await
        .unwrap();
    assert_eq!(changed.rows_affected(), 1);
    raw.close().await.unwrap();

    let t = f.ids.tenant;
    assert!(matches!(
        store.version(t, f.ids.item, 2).await,
        Err(StoreError::Corrupt {
            what: "item version"
        })
    ));
    assert!(matches!(
        store.account(t, f.ids.client).await,
        Err(StoreError::Corrupt { what: "account" })
    ));
    // The rest reads as before.
    assert_eq!(
        store.version(t, f.ids.item, 1).await.unwrap().as_ref(),
        f.versions.first()
    );
    assert_eq!(
        store.account(t, f.ids.admin).await.unwrap().as_ref(),
        Some(f.account(f.ids.admin))
    );
    assert_eq!(
        store.item(t, f.ids.item).await.unwrap(),
        Some(f.item.clone())
    );
    // A listing that meets the damaged row says so instead of skipping it silently.
    assert!(matches!(
        store.accounts(t, Page::first(10)).await,
        Err(StoreError::Corrupt { what: "account" })
    ));
}
