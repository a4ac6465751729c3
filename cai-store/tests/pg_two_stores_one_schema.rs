//! Two `PgStore`s on one schema — two processes of a host, say, each with its own pool
//! — still serialize their batches: each batch locks the schema's `batch_lock` row
//! before its first check, and a writer that finds it taken waits instead of failing.
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;

use cai_core::conformance::data::{self, commit, commit_ok, name, rid};
use cai_core::id::{AccountId, TenantId};
use cai_core::ports::{DynStore, StoreError, Write};
use cai_store::postgres::PgStore;

mod pg;

const WRITERS: usize = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn batches_through_two_stores_on_one_schema_serialize() {
    let schema = pg::fresh_schema("two_stores");
    let a: DynStore = Arc::new(PgStore::connect(&pg::url(), &schema).await.unwrap());
    let b: DynStore = Arc::new(PgStore::connect(&pg::url(), &schema).await.unwrap());
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
