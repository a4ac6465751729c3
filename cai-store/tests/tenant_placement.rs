//! R-T1/R-T2 at the level of one backend: two tenants placed in two database files
//! share nothing. Each file holds the full fixture of its tenant — with the same record
//! ids in both — and no read of one file returns, lists or counts the other tenant's
//! records.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;

use cai_core::conformance::data::rid;
use cai_core::conformance::fixture::{Fixture, FixtureIds};
use cai_core::ports::{DynStore, Page};
use cai_store::sqlite::SqliteStore;

#[tokio::test]
async fn two_files_two_tenants_nothing_shared() {
    let dir = tempfile::tempdir().unwrap();
    let a: DynStore = Arc::new(SqliteStore::open(dir.path().join("a.db")).await.unwrap());
    let b: DynStore = Arc::new(SqliteStore::open(dir.path().join("b.db")).await.unwrap());
    let ids_a = FixtureIds::random(rid());
    let ids_b = ids_a.in_tenant(rid());
    let (fa, fb) = (Fixture::new(ids_a), Fixture::new(ids_b));
    fa.insert(&a).await;
    fb.insert(&b).await;

    fa.assert_stored(&a).await;
    fb.assert_stored(&b).await;
    // Each file knows nothing of the other tenant, though the record ids are the same.
    fb.assert_invisible_in(&a, ids_b.tenant).await;
    fa.assert_invisible_in(&b, ids_a.tenant).await;
    let all = Page::first(1000);
    assert_eq!(a.accounts(ids_a.tenant, all).await.unwrap().len(), 3);
    assert!(a.accounts(ids_b.tenant, all).await.unwrap().is_empty());
    assert!(b.accounts(ids_a.tenant, all).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_store_reopened_from_its_file_keeps_its_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tenant.db");
    let fixture = Fixture::random(rid());
    {
        let store = SqliteStore::open(&path).await.unwrap();
        fixture.insert(&(Arc::new(store.clone()) as DynStore)).await;
        store.close().await;
    }
    let reopened: DynStore = Arc::new(SqliteStore::open(&path).await.unwrap());
    fixture.assert_stored(&reopened).await;
}
