//! Retention purge benchmark (issue 11): a SQLite store holding `CAI_PURGE_MESSAGES`
//! (default 1,000,000) expired 1 KiB sealed messages in closed sessions of 1,000
//! messages each; the retention engine deletes them all (keys shredded in a
//! `VaultKeyProvider` first). While it runs, a second writer commits one small audit
//! entry every 5 ms: the longest time one of its commits takes is the longest the
//! engine held the write lock, as another writer feels it. Memory: resident set
//! sampled every 10 ms during the purge.
//!
//! ```text
//! cargo run --release -p cai-store --example retention_purge
//! CAI_PURGE_MESSAGES=100000 CAI_PURGE_BATCH=1000 cargo run --release -p cai-store --example retention_purge
//! ```
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cai_core::authz::Authentication;
use cai_core::domain::{
    AuditActor, AuditEvent, AuditKind, AuditObject, BuiltinRole, ContentItem, ContentKind,
    ContentVersion, Email, Name, Region, RequestMeta, SealedBody, SessionMode, TenantSettings,
};
use cai_core::id::{EventId, ItemId, SubjectId};
use cai_core::memory::LocalKeyProvider;
use cai_core::ports::{Batch, Clock, Store, Write};
use cai_core::service::{NewAccount, NewSession, NewTenant, RetentionLimits};
use cai_core::{Caller, Counselling, Ports, days};
use cai_crypto::{ContentKind as Kind, DataKey, ItemContext, KeyEpoch, envelope};
use cai_store::keyvault::VaultKeyProvider;
use cai_store::sqlite::SqliteStore;

const PER_SESSION: usize = 1_000;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Resident set size in KiB (Linux).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let messages = env_usize("CAI_PURGE_MESSAGES", 1_000_000);
    let batch = u32::try_from(env_usize("CAI_PURGE_BATCH", 500)).unwrap();
    let sessions = messages.div_ceil(PER_SESSION);
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("centre.db"))
        .await
        .unwrap();
    let vault = VaultKeyProvider::open(
        dir.path().join("vault.db"),
        Arc::new(LocalKeyProvider::new()),
    )
    .await
    .unwrap();
    let mut world = Ports::in_memory();
    world.ports.router = Arc::new(cai_core::ports::SingleStore(Arc::new(store.clone())));
    world.ports.keys = Arc::new(vault);
    let clock = world.clock.clone();
    let svc = Counselling::new(world.ports);

    let mut settings = TenantSettings::default();
    settings.retention.session_content = Some(days(30));
    settings.retention.inactive_sessions = None;
    let (tenant, admin) = svc
        .create_tenant(
            NewTenant {
                name: Name::parse("Purge").unwrap(),
                region: Region::parse("DE").unwrap(),
                settings,
            },
            NewAccount::new(
                Email::parse("admin@purge.example").unwrap(),
                Name::parse("Admin").unwrap(),
            ),
        )
        .await
        .unwrap();
    let at = |subject, strong| {
        Caller::new(
            tenant.id,
            subject,
            Authentication {
                second_factor: strong,
                at: clock.now(),
            },
        )
    };
    let cora = svc
        .create_account(
            &at(SubjectId::Account(admin.id), true),
            tenant.id,
            NewAccount::new(
                Email::parse("cora@purge.example").unwrap(),
                Name::parse("Cora").unwrap(),
            ),
            &[BuiltinRole::Counsellor.id()],
        )
        .await
        .unwrap();
    let cora = at(SubjectId::Account(cora.id), false);

    // One 1 KiB sealed body, stored for every message (the purge never opens it).
    let body = {
        let key = DataKey::generate(KeyEpoch::INITIAL).unwrap();
        let ctx = ItemContext::new(b"t", b"s", b"i", 1, Kind::Message);
        SealedBody::new(envelope::seal(&key, &ctx, &[0x42; 1024]).unwrap()).unwrap()
    };
    let fill = Instant::now();
    for _ in 0..sessions {
        let new = NewSession {
            mode: Some(SessionMode::ServerManaged),
            ..NewSession::classic()
        };
        let s = svc
            .create_session(&cora, tenant.id, new)
            .await
            .unwrap()
            .session;
        for _ in 0..PER_SESSION / 500 {
            let mut b = Batch::new(tenant.id);
            for _ in 0..500 {
                let id = ItemId::random().unwrap();
                let now = clock.now();
                b.push(Write::InsertItem(
                    ContentItem {
                        id,
                        tenant: tenant.id,
                        session: s.id,
                        kind: ContentKind::Message,
                        author: cora.subject,
                        created_at: now,
                        latest_version: 1,
                        blob: None,
                    },
                    ContentVersion {
                        item: id,
                        tenant: tenant.id,
                        session: s.id,
                        version: 1,
                        author: cora.subject,
                        created_at: now,
                        key_epoch: 0,
                        body: body.clone(),
                    },
                ));
            }
            store.commit(b).await.unwrap();
        }
        svc.close_session(&cora, tenant.id, s.id).await.unwrap();
    }
    let filled = fill.elapsed();
    let db_mib = std::fs::metadata(dir.path().join("centre.db"))
        .map(|m| m.len())
        .unwrap_or(0) as f64
        / (1024.0 * 1024.0);
    println!(
        "filled {messages} messages in {sessions} sessions in {:.1} s (database {db_mib:.0} MiB)",
        filled.as_secs_f64()
    );

    clock.set(clock.now().plus(days(31)));

    // The other writer: one audit entry every 5 ms; its slowest commit.
    let stop = Arc::new(AtomicBool::new(false));
    let probe = {
        let (store, stop, tenant) = (store.clone(), stop.clone(), tenant.id);
        let now = clock.now();
        tokio::spawn(async move {
            let mut waits = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let mut b = Batch::new(tenant);
                b.push(Write::AppendAudit(AuditEvent {
                    id: EventId::random().unwrap(),
                    tenant,
                    at: now,
                    actor: AuditActor::System,
                    kind: AuditKind::TenantSettingsChanged,
                    object: AuditObject::Tenant(tenant),
                    changes: vec![],
                    authorized: None,
                    security_relevant: false,
                    request: RequestMeta::default(),
                }));
                let t = Instant::now();
                store.commit(b).await.unwrap();
                waits.push(t.elapsed());
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            waits
        })
    };
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (stop, peak) = (stop.clone(), peak.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let rss_before = rss_kib();
    let t = Instant::now();
    let report = svc
        .run_retention(tenant.id, RetentionLimits { batch })
        .await
        .unwrap();
    let purge = t.elapsed();
    stop.store(true, Ordering::Relaxed);
    let mut waits = probe.await.unwrap();
    sampler.join().unwrap();
    waits.sort();
    let pct = |p: f64| waits[((waits.len() - 1) as f64 * p) as usize];
    assert_eq!(report.items_deleted, (sessions * PER_SESSION) as u64);
    println!(
        "purged {} messages of {} sessions, batch {batch}: {:.1} s ({:.0} messages/s), {} commits",
        report.items_deleted,
        report.sessions_content_deleted,
        purge.as_secs_f64(),
        report.items_deleted as f64 / purge.as_secs_f64(),
        report.commits
    );
    println!(
        "other writer's commit during the purge ({} commits): median {:.1} ms, p99 {:.1} ms, longest {:.1} ms",
        waits.len(),
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        waits.last().unwrap().as_secs_f64() * 1e3
    );
    let peak = peak.load(Ordering::Relaxed);
    println!(
        "resident memory: {:.1} MiB before the purge, peak {:.1} MiB during it (+{:.1} MiB)",
        rss_before as f64 / 1024.0,
        peak as f64 / 1024.0,
        peak.saturating_sub(rss_before) as f64 / 1024.0
    );
}
