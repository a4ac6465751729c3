//! Login throughput and peak memory under 64 concurrent attempts, at the default
//! Argon2id cost (m = 19 MiB, t = 2, p = 1), against raw `argon2` doing the same
//! hashing work in the same run. Prints the figures recorded in `docs/BENCHMARKS.md`:
//!
//! ```sh
//! cargo run --release -p cai-auth --example login_throughput
//! ```
//!
//! - A **successful** login runs Argon2id twice: it verifies the password, then
//!   re-layers the hash with a fresh salt (R-A1). Its baseline is one raw
//!   verify + one raw hash per login.
//! - A **failed** login runs it once (the verification); its baseline is one raw
//!   verify.
//! - Two baselines run the raw `argon2` calls on one OS thread per CPU pulling jobs
//!   from a shared counter — no async runtime, no pool, no store: through the
//!   crate's PHC API (which allocates the 19 MiB working memory per hash), and into
//!   one reused working memory per thread (`hash_password_into_with_memory`, the most
//!   the machine can hash). Logins run through `Authenticator::login` on a multi-threaded
//!   tokio runtime with `TokioPool` (one running job per CPU, 64 may wait), the
//!   in-memory store, the peppered PHC strings and every check a login makes.
//! - Phases alternate (raw, raw reused, login, raw, …) so that load from other jobs on
//!   a shared machine falls on all alike; each figure is the sum over its phases.
//! - Peak memory is the process's peak resident set (`VmHWM`, reset through
//!   `/proc/self/clear_refs`), measured first over one round of 64 concurrent logins
//!   before any raw hashing ran (the allocator keeps what the raw API freed, per
//!   thread, which would blur later figures); the bound is what the process held
//!   after setup plus one Argon2 working memory per running job.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use argon2::{Algorithm, Argon2, Params, Version};
use cai_auth::conformance::{Fixture, PASSWORD};
use cai_auth::{AuthConfig, HashParams, LoginOutcome};
use cai_core::blocking::TokioPool;
use cai_core::domain::{BuiltinRole, Email, Name, RequestMeta};
use cai_core::service::NewAccount;

const CONCURRENT: usize = 64;
const ROUNDS: usize = 4;

/// Peak resident set in KiB since the last reset.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Current resident set in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
}

fn argon2() -> Argon2<'static> {
    let p = HashParams::DEFAULT;
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(p.memory_kib, p.iterations, p.parallelism, None).unwrap(),
    )
}

/// `jobs` raw Argon2id jobs on one thread per CPU; each verifies `phc` and, when
/// `rehash`, hashes the password again with a fresh salt. With `reuse`, each thread
/// hashes into one working memory of its own (`hash_password_into_with_memory`), the
/// fastest the machine can hash; without, through the crate's PHC API, which
/// allocates the working memory for every hash.
fn raw(jobs: usize, phc: &str, rehash: bool, cpus: usize, reuse: bool) -> Duration {
    let next = AtomicUsize::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..cpus {
            s.spawn(|| {
                let a = argon2();
                let parsed = PasswordHash::new(phc).unwrap();
                if reuse {
                    let mut memory = vec![argon2::Block::new(); a.params().block_count()];
                    let mut out = [0u8; 32];
                    let runs = if rehash { 2 } else { 1 };
                    while next.fetch_add(1, Ordering::Relaxed) < jobs {
                        for _ in 0..runs {
                            a.hash_password_into_with_memory(
                                PASSWORD.as_bytes(),
                                &[7u8; 16],
                                &mut out,
                                &mut memory,
                            )
                            .unwrap();
                        }
                    }
                    return;
                }
                while next.fetch_add(1, Ordering::Relaxed) < jobs {
                    a.verify_password(PASSWORD.as_bytes(), &parsed).unwrap();
                    if rehash {
                        let mut salt = [0u8; 16];
                        getrandom::fill(&mut salt).unwrap();
                        std::hint::black_box(
                            a.hash_password_with_salt(PASSWORD.as_bytes(), &salt)
                                .unwrap(),
                        );
                    }
                }
            });
        }
    });
    start.elapsed()
}

struct Phase {
    time: Duration,
    peak_kib: u64,
    before_kib: u64,
}

async fn logins(f: &Fixture, emails: &[String], password: &str, success: bool) -> Phase {
    let before_kib = rss_kib();
    reset_peak();
    let start = Instant::now();
    let attempts = emails.iter().map(|email| {
        let auth = f.auth.clone();
        let (tenant, email, password) = (f.tenant.id, email.clone(), password.to_owned());
        tokio::spawn(async move {
            auth.login(tenant, &email, &password, RequestMeta::default())
                .await
        })
    });
    for attempt in futures_collect(attempts).await {
        match attempt {
            Ok(LoginOutcome::Session(_)) if success => {}
            Err(_) if !success => {}
            other => panic!("unexpected login outcome: {other:?}"),
        }
    }
    Phase {
        time: start.elapsed(),
        peak_kib: peak_rss_kib(),
        before_kib,
    }
}

async fn futures_collect<T: Send + 'static>(
    handles: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    let mut out = Vec::new();
    for h in handles.collect::<Vec<_>>() {
        out.push(h.await.unwrap());
    }
    out
}

fn main() {
    let cpus = std::thread::available_parallelism().unwrap().get();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let pool = Arc::new(TokioPool::current().unwrap());
        let f = Fixture::with_pool(
            Arc::new(cai_core::memory::MemoryStore::new()),
            AuthConfig::default(),
            true,
            pool,
        )
        .await;
        let admin = f.admin_caller();
        let mut emails = Vec::new();
        for i in 0..CONCURRENT {
            let email = format!("client{i}@nord.example");
            let account = f
                .auth
                .service()
                .create_account(
                    &admin,
                    f.tenant.id,
                    NewAccount::new(
                        Email::parse(&email).unwrap(),
                        Name::parse(&format!("Client {i}")).unwrap(),
                    ),
                    &[BuiltinRole::Client.id()],
                )
                .await
                .unwrap();
            f.with_password(&account).await;
            emails.push(email);
        }
        println!(
            "process RSS after creating {CONCURRENT} accounts with passwords: {:.1} MiB",
            rss_kib() as f64 / 1024.0
        );
        // A raw PHC string of the same cost (no pepper: the pepper is an HMAC of
        // microseconds, inside the login's figure).
        let phc = argon2()
            .hash_password_with_salt(PASSWORD.as_bytes(), &[7u8; 16])
            .unwrap()
            .to_string();

        // Memory first, before the raw baseline's allocations (the allocator keeps
        // what it freed, per thread) sit in the process: one round of 64 concurrent
        // successful logins.
        let setup_kib = rss_kib();
        let first = logins(&f, &emails, PASSWORD, true).await;
        let block_kib = u64::from(HashParams::DEFAULT.memory_kib);
        println!(
            "peak RSS during 64 concurrent logins: {:.1} MiB, {:.1} MiB above the {:.1} MiB after setup (bound: {cpus} running jobs x {:.0} MiB = {:.0} MiB)",
            first.peak_kib as f64 / 1024.0,
            first.peak_kib.saturating_sub(setup_kib) as f64 / 1024.0,
            setup_kib as f64 / 1024.0,
            block_kib as f64 / 1024.0,
            (cpus as u64 * block_kib) as f64 / 1024.0,
        );

        for (label, success) in [("successful", true), ("failed", false)] {
            let password = if success { PASSWORD } else { "Wrong-password-1" };
            let (mut raw_time, mut reuse_time, mut login_time) =
                (Duration::ZERO, Duration::ZERO, Duration::ZERO);
            let (mut raw_peak, mut login_peak, mut login_before) = (0u64, 0u64, 0u64);
            // Failed logins stop at 4 rounds per account, well below the lockout
            // limit of 10.
            for _ in 0..ROUNDS {
                let before = rss_kib();
                reset_peak();
                raw_time += raw(CONCURRENT, &phc, success, cpus, false);
                raw_peak = raw_peak.max(peak_rss_kib().saturating_sub(before));
                reuse_time += raw(CONCURRENT, &phc, success, cpus, true);
                let phase = logins(&f, &emails, password, success).await;
                login_time += phase.time;
                login_peak = login_peak.max(phase.peak_kib);
                login_before = login_before.max(phase.before_kib);
            }
            let n = (CONCURRENT * ROUNDS) as f64;
            let raw_rate = n / raw_time.as_secs_f64();
            let reuse_rate = n / reuse_time.as_secs_f64();
            let login_rate = n / login_time.as_secs_f64();
            println!(
                "{label} logins, {CONCURRENT} concurrent, {cpus} CPUs: {login_rate:.1}/s vs raw PHC API {raw_rate:.1}/s = {:.1} %, vs raw into reused memory {reuse_rate:.1}/s = {:.1} %",
                100.0 * login_rate / raw_rate,
                100.0 * login_rate / reuse_rate
            );
            println!(
                "  peak RSS during logins: {:.1} MiB above the {:.1} MiB held before (bound: {cpus} running jobs x {:.0} MiB = {:.0} MiB); raw hashing: {:.1} MiB above",
                (login_peak.saturating_sub(login_before)) as f64 / 1024.0,
                login_before as f64 / 1024.0,
                block_kib as f64 / 1024.0,
                (cpus as u64 * block_kib) as f64 / 1024.0,
                raw_peak as f64 / 1024.0,
            );
        }
        println!("argon2 runs through the authenticator: {}", f.auth.argon2_runs());
    });
}
