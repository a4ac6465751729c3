//! Appends and reads of 1 KiB sealed messages through cai-store's ports, against raw
//! sqlx on an equivalent pair of tables, on a SQLite file and — with the `postgres`
//! feature and `CAI_TEST_POSTGRES_URL` set — on PostgreSQL, in one run. Prints the
//! figures recorded in `docs/BENCHMARKS.md`:
//!
//! ```sh
//! export CAI_TEST_POSTGRES_URL=postgres://cai@127.0.0.1:55432/cai_test
//! taskset -c 1 cargo run --release -p cai-store --features postgres --example store_throughput
//! ```
//!
//! `taskset` keeps the bench on one CPU: sqlx runs each SQLite connection on a thread of
//! its own, and on a shared machine an unpinned run measures which side's threads the
//! kernel parks behind other jobs more than it measures the code.
//!
//! - **Messages.** Each is an item of kind `Message` with its first version, whose body
//!   is a real envelope (`cai_crypto::envelope::seal` of 1024 plaintext bytes under the
//!   item's context), so the store's checks on read (`SealedBody::new`) see valid
//!   bodies. MB/s count the stored body bytes (the envelope, 1 KiB plus its overhead).
//! - **Appends.** Ports: `Store::commit` of batches of [`BATCH`] `Write::InsertItem`s
//!   (one transaction each). Raw: the same rows inserted with plain sqlx `INSERT`s into
//!   `raw_items`/`raw_versions`, one transaction per [`BATCH`] messages.
//! - **Reads.** Ports: what cai-core's `read_items` does — `ContentStore::items_latest`
//!   in pages of [`PAGE`]: the items with their latest versions in one joined read.
//!   Raw, two baselines: `raw (one join)` reads each page of items with their bodies in
//!   one joined `SELECT` (the same shape); `raw (same queries)` is the older port path,
//!   a keyset page of items then one `SELECT` per version, kept for comparison.
//! - **Equivalent tables.** `raw_items`/`raw_versions` are created beside the store's
//!   `items`/`versions`, in the same SQLite file or PostgreSQL schema, with the same
//!   columns, types, primary keys, indexes (`(tenant, session, id)`, the unique
//!   `(tenant, blob)` of migration 0004) and foreign key (`ON DELETE CASCADE`), and on
//!   SQLite `STRICT`, `WITHOUT ROWID` for items, a rowid table for versions (as
//!   migration 0003 lays them out). Both sides use the same query plan (checked at the
//!   end of the SQLite half with `EXPLAIN QUERY PLAN`).
//! - **Equally durable.** On SQLite the raw side opens its own pools on the same file
//!   with the store's settings (WAL, `synchronous = FULL`, foreign keys,
//!   `secure_delete`, busy timeout; one writer connection, `BEGIN IMMEDIATE`, four
//!   readers for each raw read case). On PostgreSQL it opens a pool of the store's size
//!   on the same server and schema with the server's default durability
//!   (`synchronous_commit = on`) for both.
//! - **Equally cold.** Each read case reads rows of its own through connections of its
//!   own, as the store reads its rows through its pool. On SQLite raw (same queries)
//!   reads a second copy of the round's raw messages, written untimed under another
//!   session and deleted after the reads: reading the rows raw (one join) reads,
//!   usually just before it, it left their pages cached for the join (in the page
//!   cache of a shared connection, and measurably still with a pool each) — a head
//!   start the store's reads never get. (PostgreSQL's one buffer cache serves every
//!   connection, so there both raw cases read the same rows, as before.)
//! - **Interleaved.** Every round appends [`messages`] messages on each side and reads
//!   them back; the sides alternate batch by batch and page by page ([`PAGE`] items),
//!   in a random order each step, so a slow `fsync` or load from other jobs falls on
//!   all cases alike. One warm-up round is not counted. Each figure is the sum over the
//!   rounds; the per-round ratios show the spread.
//!
//! `CAI_BENCH_MESSAGES` (messages per side and round, default 2000) and
//! `CAI_BENCH_ROUNDS` (default 6) scale the run.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod raw;

use std::sync::Arc;
use std::time::{Duration, Instant};

use cai_core::conformance::data::{self, rid};
use cai_core::domain::{ContentItem, ContentVersion, SealedBody};
use cai_core::id::{AccountId, ItemId, SessionId, SubjectId, TenantId};
use cai_core::ports::{Batch, DynStore, Order, Page, Write};
use cai_crypto::{ContentKind, DataKey, ItemContext, KeyEpoch, envelope};
use cai_store::sqlite::SqliteStore;
use raw::{Bench, raw_sqlite, sqlite_plans};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

/// Messages per batch (one transaction), on both sides.
const BATCH: usize = 100;
/// Rows per page read.
const PAGE: u32 = 100;
/// Plaintext bytes per message.
const PLAINTEXT: usize = 1024;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(default)
}

/// Messages per side and round.
fn messages() -> usize {
    env_usize("CAI_BENCH_MESSAGES", 2000)
}

fn rounds() -> usize {
    env_usize("CAI_BENCH_ROUNDS", 6)
}

// Messages

/// One message as the ports take it.
struct Message {
    item: ContentItem,
    version: ContentVersion,
}

/// The same message as the raw side binds it: the columns of `items` and `versions`
/// in the store's encoding (ids as 16 bytes, the author as a tag byte and the id,
/// times as Unix milliseconds).
struct RawMessage {
    id: [u8; 16],
    kind: i64,
    author: [u8; 17],
    created_at: i64,
    body: Vec<u8>,
}

/// `n` messages of `author` in `session`, each with a freshly sealed 1 KiB body.
fn messages_for(t: TenantId, session: SessionId, author: AccountId, n: usize) -> Vec<Message> {
    let key = DataKey::generate(KeyEpoch::INITIAL).unwrap();
    let plaintext = vec![0x5a; PLAINTEXT];
    (0..n)
        .map(|_| {
            let id: ItemId = rid();
            let ctx = ItemContext::new(
                t.as_bytes(),
                session.as_bytes(),
                id.as_bytes(),
                1,
                ContentKind::Message,
            );
            let body = SealedBody::new(envelope::seal(&key, &ctx, &plaintext).unwrap()).unwrap();
            let item = ContentItem {
                id,
                tenant: t,
                session,
                kind: ContentKind::Message,
                author: SubjectId::Account(author),
                created_at: data::at(3_000),
                latest_version: 1,
                blob: None,
            };
            let version = ContentVersion {
                item: id,
                tenant: t,
                session,
                version: 1,
                author: item.author,
                created_at: item.created_at,
                key_epoch: 0,
                body,
            };
            Message { item, version }
        })
        .collect()
}

fn raw_of(m: &Message) -> RawMessage {
    let SubjectId::Account(a) = m.item.author else {
        panic!("the bench writes as an account")
    };
    let mut author = [0u8; 17];
    author[1..].copy_from_slice(a.as_bytes());
    RawMessage {
        id: *m.item.id.as_bytes(),
        kind: i64::from(m.item.kind.code()),
        author,
        created_at: m.item.created_at.unix_millis(),
        body: m.version.body.as_bytes().to_vec(),
    }
}

fn batches(t: TenantId, msgs: Vec<Message>) -> Vec<Batch> {
    let mut out = Vec::new();
    let mut batch = Batch::new(t);
    for m in msgs {
        batch.push(Write::InsertItem(m.item, m.version));
        if batch.writes.len() == BATCH {
            out.push(std::mem::replace(&mut batch, Batch::new(t)));
        }
    }
    if !batch.writes.is_empty() {
        out.push(batch);
    }
    out
}

// The port side

/// One page of `session`'s messages as `read_items` reads it: `items_latest`, the
/// items with their latest versions in one read. (messages, body bytes, where the
/// next page starts).
async fn port_page(
    store: &DynStore,
    t: TenantId,
    session: SessionId,
    after: Option<ItemId>,
) -> (usize, usize, Option<ItemId>) {
    let page = Page {
        after,
        limit: PAGE,
        order: Order::OldestFirst,
    };
    let items = store.items_latest(t, session, page).await.unwrap();
    let bytes = items.iter().map(|(_, v)| v.body.as_bytes().len()).sum();
    (items.len(), bytes, items.last().map(|(i, _)| i.id))
}

// Rounds and figures

/// The cases, in the order of [`CASES`] and of every `[Tally; 5]`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Case {
    PortAppend,
    RawAppend,
    PortRead,
    RawRead,
    RawJoined,
}

const CASES: [Case; 5] = [
    Case::PortAppend,
    Case::RawAppend,
    Case::PortRead,
    Case::RawRead,
    Case::RawJoined,
];

const LABELS: [&str; 5] = [
    "append, ports (Store::commit)",
    "append, raw sqlx",
    "read, ports (items_latest)",
    "read, raw (same queries)",
    "read, raw (one join)",
];

/// What one case measured: within one round, or summed over the counted rounds.
#[derive(Default, Clone)]
struct Tally {
    time: Duration,
    /// CPU time of the bench's own threads, in nanoseconds.
    cpu_ns: u64,
    messages: usize,
    bytes: usize,
    /// Seconds per round.
    rounds: Vec<f64>,
    /// Seconds per step (one batch or one page), in the order they ran.
    steps: Vec<f64>,
}

impl Tally {
    /// One step that began at `started`.
    fn record(&mut self, started: Started, messages: usize, bytes: usize) {
        let took = started.1.elapsed();
        self.cpu_ns += cpu_ns().saturating_sub(started.0);
        self.time += took;
        self.messages += messages;
        self.bytes += bytes;
        self.steps.push(took.as_secs_f64());
    }

    /// A round's tally into the sums.
    fn add(&mut self, round: &Tally) {
        self.time += round.time;
        self.cpu_ns += round.cpu_ns;
        self.messages += round.messages;
        self.bytes += round.bytes;
        self.rounds.push(round.time.as_secs_f64());
        self.steps.extend(&round.steps);
    }

    /// CPU microseconds per message.
    fn cpu_per_msg(&self) -> f64 {
        self.cpu_ns as f64 / 1e3 / self.messages as f64
    }

    fn per_sec(&self) -> f64 {
        self.messages as f64 / self.time.as_secs_f64()
    }

    fn mb_per_sec(&self) -> f64 {
        self.bytes as f64 / self.time.as_secs_f64() / 1e6
    }
}

/// CPU time the process's threads have run so far, in nanoseconds (the first field of
/// each `/proc/self/task/*/schedstat`): the client's work, and on SQLite the
/// database's too, which runs in the process. It does not move while a thread waits
/// for a CPU, a lock or an `fsync`, so it is a measure that other jobs on the machine
/// hardly disturb. 0 where the kernel does not provide it.
fn cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// When a step started, by [`cpu_ns`] and by the clock.
struct Started(u64, Instant);

fn step_start() -> Started {
    Started(cpu_ns(), Instant::now())
}

/// A xorshift generator for the order of the cases in each step: random rather than
/// strictly alternating, because a periodic cost (SQLite checkpoints its WAL every few
/// batches) would otherwise lock onto one side for a whole round.
struct Coin(u64);

impl Coin {
    fn next(&mut self) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 33) as usize
    }
}

/// Runs the warm-up and the counted rounds on one database; the tallies by case.
///
/// Within a round the sides take turns batch by batch (appends) and page by page
/// (reads), in a random order each step, so a slow `fsync` or a burst of load from
/// other jobs falls on all cases alike.
async fn run(name: &str, store: DynStore, raw: &impl Bench) -> [Tally; 5] {
    let (t, owner, first): (TenantId, AccountId, SessionId) = (rid(), rid(), rid());
    store
        .commit(Batch {
            tenant: t,
            writes: data::tenant_with_session(t, owner, first),
        })
        .await
        .unwrap();
    let raw_tenant: TenantId = rid();
    let n = messages();
    let rounds = rounds();
    let mut tallies: [Tally; 5] = Default::default();
    let mut coin = Coin(0x9e37_79b9_7f4a_7c15);
    let started = Instant::now();
    for round in 0..=rounds {
        // Round 0 warms connections and statement caches up and is not counted.
        let count = if round == 0 { n.min(500) } else { n };
        let session: SessionId = rid();
        store
            .commit(Batch {
                tenant: t,
                writes: vec![Write::InsertSession(data::session(t, session, owner))],
            })
            .await
            .unwrap();
        let port_batches = batches(t, messages_for(t, session, owner, count));
        let raw_session: SessionId = rid();
        let raw_msgs: Vec<RawMessage> = messages_for(raw_tenant, raw_session, owner, count)
            .iter()
            .map(raw_of)
            .collect();
        let (rt, rs) = (raw_tenant.as_bytes(), raw_session.as_bytes());
        let mut this: [Tally; 5] = Default::default();

        for (batch, chunk) in port_batches.into_iter().zip(raw_msgs.chunks(BATCH)) {
            let port_bytes = batch
                .writes
                .iter()
                .map(|w| match w {
                    Write::InsertItem(_, v) => v.body.as_bytes().len(),
                    _ => 0,
                })
                .sum();
            let port_msgs = batch.writes.len();
            let raw_bytes = chunk.iter().map(|m| m.body.len()).sum();
            let mut batch = Some(batch);
            let mut order = [Case::PortAppend, Case::RawAppend];
            order.rotate_left(coin.next() % 2);
            for case in order {
                let start = step_start();
                if case == Case::PortAppend {
                    store.commit(batch.take().unwrap()).await.unwrap();
                    this[case as usize].record(start, port_msgs, port_bytes);
                } else {
                    raw.raw_append(rt, rs, chunk).await;
                    this[case as usize].record(start, chunk.len(), raw_bytes);
                }
            }
        }

        // The rows raw (same queries) reads on SQLite: the same messages again, written
        // untimed after the appends (so both sides append into tables of one size) and
        // deleted after the reads.
        let same_session: SessionId = rid();
        let same = if raw.same_copy() {
            let copy: Vec<RawMessage> = messages_for(raw_tenant, same_session, owner, count)
                .iter()
                .map(raw_of)
                .collect();
            for chunk in copy.chunks(BATCH) {
                raw.raw_append(rt, same_session.as_bytes(), chunk).await;
            }
            same_session.as_bytes()
        } else {
            rs
        };

        let (mut port_after, mut raw_after, mut join_after) = (None, vec![0u8; 16], vec![0u8; 16]);
        let mut done = [false; 3];
        while done != [true; 3] {
            let mut order = [Case::PortRead, Case::RawRead, Case::RawJoined];
            order.rotate_left(coin.next() % 3);
            for case in order {
                let start = step_start();
                let (slot, got, bytes) = match case {
                    Case::PortRead if !done[0] => {
                        let (got, bytes, last) = port_page(&store, t, session, port_after).await;
                        port_after = last;
                        (0, got, bytes)
                    }
                    Case::RawRead if !done[1] => {
                        let (got, bytes, last) = raw.raw_page(rt, same, &raw_after).await;
                        raw_after = last.unwrap_or_default();
                        (1, got, bytes)
                    }
                    Case::RawJoined if !done[2] => {
                        let (got, bytes, last) = raw.raw_joined(rt, rs, &join_after).await;
                        join_after = last.unwrap_or_default();
                        (2, got, bytes)
                    }
                    _ => continue,
                };
                this[case as usize].record(start, got, bytes);
                done[slot] = got == 0;
            }
        }
        // Every case saw every message of its side, with every body byte (raw (same
        // queries) those of its copy, sealed alike and so of the same sizes).
        let (port_bytes, raw_bytes) = (this[0].bytes, this[1].bytes);
        for (case, m) in CASES.iter().zip(&this) {
            let side = match case {
                Case::PortAppend | Case::PortRead => port_bytes,
                _ => raw_bytes,
            };
            assert_eq!((m.messages, m.bytes), (count, side), "{name}: {case:?}");
        }
        if raw.same_copy() {
            raw.raw_delete(rt, same).await;
        }
        if round > 0 {
            for (tally, round) in tallies.iter_mut().zip(&this) {
                tally.add(round);
            }
        }
    }
    println!(
        "\n{name}: {rounds} rounds × {n} messages per side ({BATCH} per batch, \
         {PAGE} per page read), {:.1} s in all",
        started.elapsed().as_secs_f64()
    );
    tallies
}

/// `t`'s throughput as a share of `base`'s: over the sums, the median over the
/// steps that ran side by side, and per round.
fn share(t: &Tally, base: &Tally) -> (f64, f64, Vec<f64>) {
    let mut steps: Vec<f64> = t
        .steps
        .iter()
        .zip(&base.steps)
        .map(|(mine, theirs)| theirs / mine)
        .collect();
    steps.sort_by(f64::total_cmp);
    let median = steps.get(steps.len() / 2).copied().unwrap_or(f64::NAN);
    let rounds = t
        .rounds
        .iter()
        .zip(&base.rounds)
        .map(|(mine, theirs)| theirs / mine)
        .collect();
    (t.per_sec() / base.per_sec(), median, rounds)
}

fn print(tallies: &[Tally; 5]) {
    println!(
        "{:<30} {:>7} {:>6} {:>8} {:>8} {:>7} {:>8}   per round",
        "case", "msgs/s", "MB/s", "vs raw", "(median)", "CPU µs", "CPU"
    );
    let rows = [
        (Case::PortAppend, Some(Case::RawAppend)),
        (Case::RawAppend, None),
        (Case::PortRead, Some(Case::RawRead)),
        (Case::RawRead, None),
        (Case::RawJoined, Some(Case::RawRead)),
        (Case::PortRead, Some(Case::RawJoined)),
    ];
    for (i, (case, baseline)) in rows.into_iter().enumerate() {
        let t = &tallies[case as usize];
        let label = match i {
            5 => "read, ports vs raw (one join)",
            _ => LABELS[case as usize],
        };
        let (sum, median, cpu, per_round) = match baseline {
            Some(b) => {
                let base = &tallies[b as usize];
                let (sum, median, rounds) = share(t, base);
                let rounds: Vec<String> =
                    rounds.iter().map(|r| format!("{:.0}", r * 100.0)).collect();
                (
                    format!("{:.1} %", sum * 100.0),
                    format!("{:.1} %", median * 100.0),
                    format!("{:.1} %", base.cpu_per_msg() / t.cpu_per_msg() * 100.0),
                    rounds.join(" "),
                )
            }
            None => ("—".into(), "—".into(), "—".into(), String::new()),
        };
        println!(
            "{label:<30} {:>7.0} {:>6.1} {sum:>8} {median:>8} {:>7.1} {cpu:>8}   {per_round}",
            t.per_sec(),
            t.mb_per_sec(),
            t.cpu_per_msg(),
        );
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(dir.path().join("bench.db"))
        .await
        .unwrap();
    let raw = raw_sqlite(&sqlite).await;
    let store: DynStore = Arc::new(sqlite.clone());
    let tallies = run("SQLite (file, WAL, synchronous = FULL)", store, &raw).await;
    print(&tallies);
    sqlite_plans(&raw).await;
    raw.close().await;
    sqlite.close().await;

    #[cfg(feature = "postgres")]
    raw::postgres::run_if_configured().await;
    #[cfg(not(feature = "postgres"))]
    println!("\nPostgreSQL: skipped (build with --features postgres)");
}
