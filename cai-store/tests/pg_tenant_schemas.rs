//! R-T1/R-T2 on one PostgreSQL server: two tenants placed in two schemas share
//! nothing. Each schema holds the full fixture of its tenant — with the same record ids
//! in both — and no read through one store returns, lists or counts the other
//! tenant's records. A store connected again to its schema finds its records and is
//! not migrated twice.
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod pg;

use std::sync::Arc;

use cai_core::conformance::data::rid;
use cai_core::conformance::fixture::{Fixture, FixtureIds};
use cai_core::ports::{DynStore, Page, Store, StoreError};
use cai_store::OpenError;
use cai_store::postgres::{PgStore, SchemaName};

#[tokio::test]
async fn two_schemas_two_tenants_nothing_shared() {
    let a: DynStore = Arc::new(pg::fresh_store("placement_a").await);
    let b: DynStore = Arc::new(pg::fresh_store("placement_b").await);
    let ids_a = FixtureIds::random(rid());
    let ids_b = ids_a.in_tenant(rid());
    let (fa, fb) = (Fixture::new(ids_a), Fixture::new(ids_b));
    fa.insert(&a).await;
    fb.insert(&b).await;

    fa.assert_stored(&a).await;
    fb.assert_stored(&b).await;
    // Each schema knows nothing of the other tenant, though the record ids are the same.
    fb.assert_invisible_in(&a, ids_b.tenant).await;
    fa.assert_invisible_in(&b, ids_a.tenant).await;
    let all = Page::first(1000);
    assert_eq!(a.accounts(ids_a.tenant, all).await.unwrap().len(), 3);
    assert!(a.accounts(ids_b.tenant, all).await.unwrap().is_empty());
    assert!(b.accounts(ids_a.tenant, all).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_store_connected_again_keeps_its_records_and_a_closed_one_fails_cleanly() {
    let schema = pg::fresh_schema("reconnect");
    let fixture = Fixture::random(rid());
    {
        let store = PgStore::connect(&pg::url(), &schema).await.unwrap();
        fixture.insert(&(Arc::new(store.clone()) as DynStore)).await;
        store.close().await;
        assert!(matches!(store.health().await, Err(StoreError::Backend(_))));
    }
    let again = PgStore::connect(&pg::url(), &schema).await.unwrap();
    fixture
        .assert_stored(&(Arc::new(again.clone()) as DynStore))
        .await;

    // The migrations (every file of migrations/postgres) ran once each, in the
    // store's own schema.
    let url = pg::url();
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    let sql = format!(
        "SELECT COUNT(*) FROM \"{}\"._sqlx_migrations",
        schema.as_str()
    );
    let applied: i64 = sqlx::query_scalar(&sql).fetch_one(&mut conn).await.unwrap();
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
        .unwrap()
        .count();
    assert_eq!(applied, i64::try_from(files).unwrap());
    let public: Option<String> =
        sqlx::query_scalar("SELECT to_regclass('public._sqlx_migrations')::text")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(
        public, None,
        "nothing is created outside the store's schema"
    );
}

#[tokio::test]
async fn an_unreachable_server_is_an_error_not_a_hang() {
    // A port nothing listens on (the test server's port plus one is not guaranteed
    // free, port 1 is privileged and closed on loopback).
    let schema = SchemaName::parse("unreachable").unwrap();
    let r = PgStore::connect("postgres://cai@127.0.0.1:1/cai", &schema).await;
    assert!(matches!(r, Err(OpenError::Database(_))));
}
