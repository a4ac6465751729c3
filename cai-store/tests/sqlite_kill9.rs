//! A writer killed with SIGKILL in the middle of its writes loses nothing it was told
//! was written and leaves nothing half-written: the test re-runs its own binary as a
//! child process (the ignored test `child_writer`) that commits batches — a few
//! messages and one audit event each — against a SQLite file in a loop, announcing
//! each batch before the commit (`BEGIN`) and acknowledging it after `commit`
//! returned (`ACK`). The parent kills it at a random moment, several rounds on the
//! same file, and after each round reopens the file and checks: every acknowledged
//! batch is there, every announced batch is there completely or not at all, nothing
//! else is there, and the audit trail (chain and sequence counter) verifies.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write as _};
use std::process::{Command, Stdio};
use std::time::Duration;

use cai_core::conformance::data::{self, commit, commit_ok, rid};
use cai_core::id::{AccountId, ItemId, SessionId, SubjectId, TenantId};
use cai_core::ports::{DynStore, Order, Page, Write};
use cai_store::audit_chain::AuditKeys;
use cai_store::sqlite::SqliteStore;

const ROUNDS: usize = 6;
const DB: &str = "CAI_KILL9_DB";
const IDS: &str = "CAI_KILL9_IDS";

/// The child: runs only when the parent starts it (with the variables set).
#[tokio::test]
#[ignore = "the child process of killed_writer_loses_no_acknowledged_write"]
async fn child_writer() {
    let (Ok(path), Ok(ids)) = (std::env::var(DB), std::env::var(IDS)) else {
        panic!("run by killed_writer_loses_no_acknowledged_write only");
    };
    let mut ids = ids.split(' ');
    let t: TenantId = ids.next().unwrap().parse().unwrap();
    let owner: AccountId = ids.next().unwrap().parse().unwrap();
    let session: SessionId = ids.next().unwrap().parse().unwrap();
    let store: DynStore = std::sync::Arc::new(SqliteStore::open(&path).await.unwrap());
    let mut out = std::io::stdout().lock();
    for n in 0_usize.. {
        let mut writes = Vec::new();
        let mut line = String::from("BEGIN");
        for _ in 0..=(n % 4) {
            let id: ItemId = rid();
            let (item, first) = data::item(t, id, session, SubjectId::Account(owner));
            writes.push(Write::InsertItem(item, first));
            line.push_str(&format!(" {id}"));
        }
        let event = data::audit_event(t);
        line.push_str(&format!(" audit:{}", event.id));
        writes.push(Write::AppendAudit(event));
        writeln!(out, "{line}").unwrap();
        out.flush().unwrap();
        commit(&store, t, writes).await.unwrap();
        writeln!(out, "ACK").unwrap();
        out.flush().unwrap();
    }
}

/// A pseudo-random delay of 150–650 ms (the child needs ~100 ms to start).
fn random_delay() -> Duration {
    let mut b = [0_u8; 2];
    getrandom_fill(&mut b);
    Duration::from_millis(150 + u64::from(u16::from_le_bytes(b)) % 500)
}

fn getrandom_fill(b: &mut [u8]) {
    let id: ItemId = rid();
    b.copy_from_slice(&id.as_bytes()[14..14 + b.len()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_writer_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("killed.db");
    let (t, owner, session): (TenantId, AccountId, SessionId) = (rid(), rid(), rid());
    {
        let store = SqliteStore::open(&path).await.unwrap();
        let dyn_store: DynStore = std::sync::Arc::new(store.clone());
        commit_ok(&dyn_store, t, data::tenant_with_session(t, owner, session)).await;
        store.close().await;
    }
    // Every batch ever announced: its message ids, its audit event id, acknowledged?
    let mut batches: Vec<(Vec<String>, String, bool)> = Vec::new();
    for round in 0..ROUNDS {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--ignored", "--exact", "child_writer", "--nocapture"])
            .env(DB, &path)
            .env(IDS, format!("{t} {owner} {session}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Read while the child writes, so it never waits for a full pipe.
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map(Result::unwrap)
                .collect::<Vec<_>>()
        });
        std::thread::sleep(random_delay());
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let before = batches.len();
        for line in reader.join().unwrap() {
            if let Some(rest) = line.strip_prefix("BEGIN ") {
                let mut items: Vec<String> = rest.split(' ').map(str::to_owned).collect();
                let audit = items.pop().unwrap().replace("audit:", "");
                batches.push((items, audit, false));
            } else if line == "ACK" {
                batches.last_mut().unwrap().2 = true;
            }
        }
        let acked = batches[before..].iter().filter(|b| b.2).count();
        eprintln!(
            "round {round}: {} batches announced, {acked} acknowledged",
            batches.len() - before
        );
        check(&path, t, session, &batches).await;
    }
    assert!(
        batches.iter().filter(|b| b.2).count() >= ROUNDS,
        "the child wrote almost nothing: the test did not test"
    );
}

/// Reopens the file and checks it against what the children announced.
async fn check(
    path: &std::path::Path,
    t: TenantId,
    session: SessionId,
    batches: &[(Vec<String>, String, bool)],
) {
    let store = SqliteStore::open(path).await.unwrap();
    let mut items = HashSet::new();
    let mut after = None;
    loop {
        let page = cai_core::ports::ContentStore::items(
            &store,
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
        items.extend(page.iter().map(|i| i.id.to_string()));
    }
    let mut events: HashMap<String, u64> = HashMap::new();
    let mut after_seq = 0;
    loop {
        let page = cai_core::ports::AuditStore::audit_events(
            &store,
            t,
            after_seq,
            Page::<ItemId>::MAX_LIMIT,
        )
        .await
        .unwrap();
        let Some((last, _)) = page.last() else { break };
        after_seq = *last;
        events.extend(page.into_iter().map(|(seq, e)| (e.id.to_string(), seq)));
    }
    let mut present_items = 0;
    let mut present_batches = 0;
    for (n, (ids, audit, acked)) in batches.iter().enumerate() {
        let here = ids.iter().filter(|id| items.contains(*id)).count();
        let audited = events.contains_key(audit);
        let whole = here == ids.len() && audited;
        let none = here == 0 && !audited;
        assert!(
            whole || none,
            "batch {n} is partly there: {here}/{} messages, audit {audited}",
            ids.len()
        );
        assert!(!acked || whole, "acknowledged batch {n} is lost");
        if whole {
            present_items += here;
            present_batches += 1;
        }
    }
    assert_eq!(items.len(), present_items, "messages nobody announced");
    assert_eq!(
        events.len(),
        present_batches,
        "audit events nobody announced"
    );
    // Gapless numbering, and the counter is not ahead of the last entry: a killed
    // transaction rolls the counter back with everything else.
    let mut seqs: Vec<u64> = events.values().copied().collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=present_batches as u64).collect::<Vec<_>>());
    let report = store.verify_audit(t, &AuditKeys::new()).await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.entries, present_batches as u64);
    store.close().await;
}
