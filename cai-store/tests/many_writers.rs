//! 16 concurrent writers × 10 000 messages on each backend (a SQLite file and a
//! PostgreSQL schema): no error, no message lost or duplicated, and the audit trail —
//! one event per batch, appended by all writers at once — gapless and intact.
//!
//! Each writer commits its messages in batches of [`BATCH`] (plus one audit event per
//! batch), as a busy host would. `CAI_TEST_WRITER_MESSAGES` lowers the count per
//! writer for a quick local run; the default is the figure of issue 11.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

#[cfg(feature = "postgres")]
mod pg;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use cai_core::conformance::data::{self, commit, commit_ok, rid};
use cai_core::id::{AccountId, ItemId, SessionId, SubjectId, TenantId};
use cai_core::ports::{DynStore, Order, Page, Write};
use cai_store::audit_chain::{AuditKeys, AuditReport, AuditSigner};
use cai_store::sqlite::SqliteStore;

const WRITERS: usize = 16;
/// Messages per batch (one transaction).
const BATCH: usize = 100;

fn messages_per_writer() -> usize {
    std::env::var("CAI_TEST_WRITER_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

/// What the writers were told to write.
struct Run {
    tenant: TenantId,
    written: Vec<ItemId>,
    batches: u64,
}

/// Runs the writers against `store` and checks the messages through the ports.
async fn write_and_count(store: DynStore, backend: &str) -> Run {
    let (t, owner, session): (TenantId, AccountId, SessionId) = (rid(), rid(), rid());
    commit_ok(&store, t, data::tenant_with_session(t, owner, session)).await;
    let per_writer = messages_per_writer();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..WRITERS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::with_capacity(per_writer);
            let mut batches = 0u64;
            while mine.len() < per_writer {
                let n = BATCH.min(per_writer - mine.len());
                let mut writes = Vec::with_capacity(n + 1);
                let mut ids = Vec::with_capacity(n);
                for _ in 0..n {
                    let id: ItemId = rid();
                    let (item, first) = data::item(t, id, session, SubjectId::Account(owner));
                    writes.push(Write::InsertItem(item, first));
                    ids.push(id);
                }
                writes.push(Write::AppendAudit(data::audit_event(t)));
                if let Err(e) = commit(&store, t, writes).await {
                    panic!("a writer failed: {e}");
                }
                mine.extend(ids);
                batches += 1;
            }
            (mine, batches)
        }));
    }
    let mut written = Vec::new();
    let mut batches = 0;
    for task in tasks {
        let (ids, b) = task.await.unwrap();
        written.extend(ids);
        batches += b;
    }
    let took = started.elapsed();
    eprintln!(
        "{backend}: {WRITERS} writers × {per_writer} messages ({batches} batches) in {:.1} s",
        took.as_secs_f64()
    );

    // Every message exactly once, read back page by page through the port.
    let mut stored = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .items(
                t,
                session,
                Page {
                    after,
                    limit: Page::<ItemId>::MAX_LIMIT,
                    order: Order::OldestFirst,
                },
            )
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        stored.extend(page.iter().map(|i| i.id));
    }
    assert_eq!(
        stored.len(),
        WRITERS * per_writer,
        "{backend}: message count"
    );
    let unique: HashSet<ItemId> = stored.iter().copied().collect();
    assert_eq!(unique.len(), stored.len(), "{backend}: a message twice");
    let expected: HashSet<ItemId> = written.iter().copied().collect();
    assert_eq!(unique, expected, "{backend}: other messages than written");

    // One audit event per batch, numbered 1..=batches without a gap.
    let mut seqs = Vec::new();
    let mut after_seq = 0;
    loop {
        let events = store
            .audit_events(t, after_seq, Page::<ItemId>::MAX_LIMIT)
            .await
            .unwrap();
        let Some((last, _)) = events.last() else {
            break;
        };
        after_seq = *last;
        seqs.extend(events.iter().map(|(s, _)| *s));
    }
    assert_eq!(seqs, (1..=batches).collect::<Vec<_>>(), "{backend}: audit");
    Run {
        tenant: t,
        written,
        batches,
    }
}

fn assert_intact(report: &AuditReport, run: &Run) {
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.entries, run.batches);
    assert_eq!(run.written.len(), WRITERS * messages_per_writer());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_writers_on_a_sqlite_file() {
    let store = SqliteStore::temporary().await.unwrap();
    let run = write_and_count(Arc::new(store.clone()), "SQLite").await;
    let keys = AuditKeys::new()
        .trust(&AuditSigner::generate().unwrap().public_key())
        .unwrap();
    assert_intact(&store.verify_audit(run.tenant, &keys).await.unwrap(), &run);
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_writers_on_a_postgres_schema() {
    let store = pg::fresh_store("writers").await;
    let run = write_and_count(Arc::new(store.clone()), "PostgreSQL").await;
    let keys = AuditKeys::new()
        .trust(&AuditSigner::generate().unwrap().public_key())
        .unwrap();
    assert_intact(&store.verify_audit(run.tenant, &keys).await.unwrap(), &run);
}
