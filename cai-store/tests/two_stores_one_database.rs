//! Two stores on one database — two processes of a host, say, each with its own pool
//! — still serialize their batches, on both backends: on SQLite each batch takes the
//! write lock before its first check (`BEGIN IMMEDIATE`; with a deferred `BEGIN` this
//! test fails), on PostgreSQL it locks the schema's `batch_lock` row first; a writer
//! that finds the lock taken waits instead of failing. 16 updates from one revision
//! race (exactly one wins) and 16 audit appends race (one gapless sequence).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[cfg(feature = "postgres")]
mod pg;

use std::sync::Arc;

use cai_core::conformance::data::{self, commit, commit_ok, name, rid};
use cai_core::id::{AccountId, TenantId};
use cai_core::ports::{DynStore, StoreError, Write};
#[cfg(feature = "postgres")]
use cai_store::postgres::PgStore;
use cai_store::sqlite::SqliteStore;

const WRITERS: usize = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_on_one_sqlite_file_serialize() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let a = SqliteStore::open(&path).await.unwrap();
    let b = SqliteStore::open(&path).await.unwrap();
    batches_through_two_stores_serialize(Arc::new(a), Arc::new(b)).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_on_one_postgres_schema_serialize() {
    let schema = pg::fresh_schema("two_stores");
    let a = PgStore::connect(&pg::url(), &schema).await.unwrap();
    let b = PgStore::connect(&pg::url(), &schema).await.unwrap();
    batches_through_two_stores_serialize(Arc::new(a), Arc::new(b)).await;
}

async fn batches_through_two_stores_serialize(a: DynStore, b: DynStore) {
    let (t, id): (TenantId, AccountId) = (rid(), rid());
    commit_ok(
        &a,
        t,
        vec![
            Write::InsertTenant(data::tenant(t)),
            Write::InsertAccount(data::account(t, id, "shared@example.org")),
        ],
    )
    .await;
    let base = b
        .account(t, id)
        .await
        .unwrap()
        .expect("visible through the other store");

    // Updates from the same revision, half through each store: exactly one wins.
    let mut tasks = Vec::new();
    for n in 0..WRITERS {
        let store = if n % 2 == 0 { a.clone() } else { b.clone() };
        let mut update = base.clone();
        update.display_name = name(&format!("Writer {n}"));
        tasks.push(tokio::spawn(async move {
            commit(&store, t, vec![Write::UpdateAccount(update)]).await
        }));
    }
    let mut wins = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => wins += 1,
            Err(StoreError::Conflict { what: "account" }) => {}
            Err(e) => panic!("a writer failed instead of waiting: {e}"),
        }
    }
    assert_eq!(wins, 1);
    assert_eq!(a.account(t, id).await.unwrap().unwrap().revision, 1);

    // Audit appends through both stores: one gapless sequence.
    let mut tasks = Vec::new();
    for n in 0..WRITERS {
        let store = if n % 2 == 0 { a.clone() } else { b.clone() };
        let event = data::audit_event(t);
        tasks.push(tokio::spawn(async move {
            commit(&store, t, vec![Write::AppendAudit(event)]).await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let seqs: Vec<u64> = b
        .audit_events(t, 0, 100)
        .await
        .unwrap()
        .iter()
        .map(|(seq, _)| *seq)
        .collect();
    assert_eq!(seqs, (1..=WRITERS as u64).collect::<Vec<_>>());
}
