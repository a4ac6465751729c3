//! Concurrent batches are serializable. The suite has no executor of its own, so the
//! case takes a [`Spawn`] function that starts a task on the caller's runtime;
//! [`store_conformance_tests!`](crate::store_conformance_tests) passes `tokio::spawn`.

use std::future::Future;
use std::pin::Pin;

use crate::id::{AccountId, TenantId};
use crate::ports::{DynStore, StoreError, StoreResult, Write};

use super::data::{self, commit, commit_ok, name, read, rid};

/// A commit running as a task.
pub type Task = Pin<Box<dyn Future<Output = StoreResult<()>> + Send + 'static>>;

/// Starts `task` at once on the runtime (so tasks run in parallel) and returns a
/// future of its result.
pub type Spawn = fn(Task) -> Task;

const TASKS: usize = 16;

/// Starts one commit per batch and collects the results in order.
async fn race(
    store: &DynStore,
    spawn: Spawn,
    batches: Vec<(TenantId, Vec<Write>)>,
) -> Vec<StoreResult<()>> {
    let handles: Vec<Task> = batches
        .into_iter()
        .map(|(tenant, writes)| {
            let store = store.clone();
            spawn(Box::pin(
                async move { commit(&store, tenant, writes).await },
            ))
        })
        .collect();
    let mut results = Vec::with_capacity(handles.len());
    for handle in handles {
        results.push(handle.await);
    }
    results
}

/// Counts successes; anything but success or `Conflict` fails the test.
fn successes(results: &[StoreResult<()>], what: &str) -> usize {
    results
        .iter()
        .filter(|r| match r {
            Ok(()) => true,
            Err(StoreError::Conflict { .. }) => false,
            Err(e) => panic!("{what}: unexpected {e}"),
        })
        .count()
}

/// Of many updates from the same revision exactly one wins; of many inserts of the
/// same e-mail address exactly one wins; concurrent audit appends get distinct,
/// gapless sequence numbers.
pub async fn concurrent_batches_serialize(store: DynStore, spawn: Spawn) {
    let t: TenantId = rid();
    let id: AccountId = rid();
    commit_ok(
        &store,
        t,
        vec![
            Write::InsertTenant(data::tenant(t)),
            Write::InsertAccount(data::account(t, id, "shared@example.org")),
        ],
    )
    .await;
    let base = read(store.account(t, id).await, "account").expect("inserted");

    let updates = (0..TASKS)
        .map(|n| {
            let mut update = base.clone();
            update.display_name = name(&format!("Writer {n}"));
            (t, vec![Write::UpdateAccount(update)])
        })
        .collect();
    let results = race(&store, spawn, updates).await;
    assert_eq!(
        successes(&results, "updates"),
        1,
        "exactly one update from revision 0 wins"
    );
    let winner = results.iter().position(Result::is_ok).expect("one winner");
    let stored = read(store.account(t, id).await, "account").expect("still there");
    assert_eq!(stored.revision, 1);
    assert_eq!(stored.display_name, name(&format!("Writer {winner}")));

    let inserts = (0..TASKS)
        .map(|_| {
            let account = data::account(t, rid(), "contested@example.org");
            (t, vec![Write::InsertAccount(account)])
        })
        .collect();
    let results = race(&store, spawn, inserts).await;
    assert_eq!(
        successes(&results, "inserts"),
        1,
        "exactly one account gets a contested e-mail address"
    );

    let events: Vec<_> = (0..TASKS).map(|_| data::audit_event(t)).collect();
    let appends = events
        .iter()
        .map(|e| (t, vec![Write::AppendAudit(e.clone())]))
        .collect();
    let results = race(&store, spawn, appends).await;
    assert_eq!(successes(&results, "appends"), TASKS);
    let stored = read(store.audit_events(t, 0, 100).await, "audit");
    let seqs: Vec<u64> = stored.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(
        seqs,
        (1..=TASKS as u64).collect::<Vec<_>>(),
        "gapless sequence"
    );
    let mut seen: Vec<_> = stored.iter().map(|(_, e)| e.id).collect();
    let mut sent: Vec<_> = events.iter().map(|e| e.id).collect();
    seen.sort_unstable();
    sent.sort_unstable();
    assert_eq!(seen, sent, "every event stored once");
}
