//! A PostgreSQL server that goes away mid-run and comes back. The test starts a
//! throwaway cluster of its own (initdb + pg_ctl in a temporary directory, 127.0.0.1,
//! a free port — never the shared server of `CAI_TEST_POSTGRES_URL`), writes through a
//! store, stops the server with `pg_ctl stop -m immediate` (a crash: no shutdown
//! checkpoint) while a writer keeps going, and checks that calls fail with a typed
//! backend error within the pool's acquire timeout instead of hanging; then restarts
//! it and checks that the same store works again and no acknowledged write was lost.
#![cfg(feature = "postgres")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cai_core::conformance::data::{self, commit, commit_ok, rid};
use cai_core::id::{AccountId, ItemId, SessionId, SubjectId, TenantId};
use cai_core::ports::{DynStore, StoreError, Write};
use cai_store::audit_chain::AuditKeys;
use cai_store::postgres::{PgStore, SchemaName};

const ACQUIRE: Duration = Duration::from_secs(2);

/// A cluster in a temporary directory, stopped when dropped.
struct Cluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    as_root: bool,
}

impl Cluster {
    fn pg(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        if self.as_root {
            // initdb and postgres refuse to run as root.
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let out = self.pg(tool).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{tool} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn new() -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect(
                "PostgreSQL's binaries in /usr/lib/postgresql (scripts/test-all.sh installs them)",
            )
            .map(|e| e.unwrap().path().join("bin"))
            .filter(|p| p.join("pg_ctl").exists())
            .max()
            .expect("pg_ctl in /usr/lib/postgresql/*/bin");
        let dir = tempfile::tempdir().unwrap();
        let as_root = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| o.stdout.starts_with(b"0\n"))
            .unwrap();
        if as_root {
            assert!(
                Command::new("chown")
                    .arg("postgres")
                    .arg(dir.path())
                    .status()
                    .unwrap()
                    .success()
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = Self {
            bin,
            dir,
            port,
            as_root,
        };
        let data = cluster.data();
        cluster.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "cai",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        cluster.start();
        cluster
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn start(&self) {
        let log = self.dir.path().join("server.log").display().to_string();
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {}",
            self.port,
            self.dir.path().display()
        );
        self.run(
            "pg_ctl",
            &["-D", &self.data(), "-l", &log, "-w", "-o", &opts, "start"],
        );
    }

    fn stop_immediately(&self) {
        self.run(
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
    }

    fn url(&self) -> String {
        format!("postgres://cai@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self
            .pg("pg_ctl")
            .args(["-D", &self.data(), "-m", "immediate", "-w", "stop"])
            .output();
    }
}

/// Batches a writer was told succeeded (message ids), and those that failed.
#[derive(Default)]
struct Log {
    acked: Vec<Vec<ItemId>>,
    failed: Vec<Vec<ItemId>>,
}

fn batch(t: TenantId, owner: AccountId, session: SessionId) -> (Vec<Write>, Vec<ItemId>) {
    let ids: Vec<ItemId> = (0..3).map(|_| rid()).collect();
    let mut writes: Vec<Write> = ids
        .iter()
        .map(|id| {
            let (item, first) = data::item(t, *id, session, SubjectId::Account(owner));
            Write::InsertItem(item, first)
        })
        .collect();
    writes.push(Write::AppendAudit(data::audit_event(t)));
    (writes, ids)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_loses_no_acknowledged_write() {
    let cluster = Cluster::new();
    let schema = SchemaName::parse("restart").unwrap();
    let pg = PgStore::connect_with_acquire_timeout(&cluster.url(), &schema, ACQUIRE)
        .await
        .unwrap();
    let store: DynStore = Arc::new(pg.clone());
    let (t, owner, session): (TenantId, AccountId, SessionId) = (rid(), rid(), rid());
    commit_ok(&store, t, data::tenant_with_session(t, owner, session)).await;

    // A writer that keeps going through the outage, logging what it was told.
    let log = Arc::new(Mutex::new(Log::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (store, log, stop) = (store.clone(), log.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let (writes, ids) = batch(t, owner, session);
                let started = Instant::now();
                match commit(&store, t, writes).await {
                    Ok(()) => log.lock().unwrap().acked.push(ids),
                    Err(StoreError::Backend(_)) => {
                        assert!(started.elapsed() < ACQUIRE + Duration::from_secs(3));
                        log.lock().unwrap().failed.push(ids);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    Err(e) => panic!("not a backend error: {e:?}"),
                }
            }
        })
    };
    let acked = || log.lock().unwrap().acked.len();
    while acked() < 20 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    cluster.stop_immediately();
    // Calls fail, typed, within the acquire timeout (plus slack for a loaded machine).
    for _ in 0..2 {
        let started = Instant::now();
        let read = cai_core::ports::ContentStore::item(&pg, t, rid()).await;
        assert!(matches!(read, Err(StoreError::Backend(_))), "{read:?}");
        let (writes, _) = batch(t, owner, session);
        let write = commit(&store, t, writes).await;
        assert!(matches!(write, Err(StoreError::Backend(_))), "{write:?}");
        eprintln!(
            "server down: a read and a batch failed in {:?} (acquire timeout {ACQUIRE:?} each)",
            started.elapsed()
        );
        assert!(
            started.elapsed() < 2 * ACQUIRE + Duration::from_secs(4),
            "took {:?}",
            started.elapsed()
        );
    }
    let during = acked();

    cluster.start();
    // The same store, not re-created, works again.
    cai_core::ports::Store::health(&pg).await.unwrap();
    while acked() < during + 20 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();

    let log = std::mem::take(&mut *log.lock().unwrap());
    assert!(!log.failed.is_empty(), "the writer never met the outage");
    for ids in &log.acked {
        for id in ids {
            let item = cai_core::ports::ContentStore::item(&pg, t, *id)
                .await
                .unwrap();
            assert!(item.is_some(), "an acknowledged message is lost");
        }
    }
    // A failed batch is all there (its commit reached the server, the answer did not)
    // or not at all.
    for ids in &log.failed {
        let mut here = 0;
        for id in ids {
            here += usize::from(
                cai_core::ports::ContentStore::item(&pg, t, *id)
                    .await
                    .unwrap()
                    .is_some(),
            );
        }
        assert!(
            here == 0 || here == ids.len(),
            "a failed batch is partly there"
        );
    }
    let report = pg.verify_audit(t, &AuditKeys::new()).await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert!(report.entries >= log.acked.len() as u64);
    drop(cluster);
}
