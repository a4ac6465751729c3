//! An unknown account costs what a known one costs (ASVS 6.3.8), measured at the
//! default Argon2id cost: a dummy hash of other parameters, or a skipped
//! verification, would show here as a ratio far from 1. Prints the figures (a timed
//! assertion has no place in a test on a shared machine; `tests/login.rs` checks the
//! same property deterministically by counting Argon2 runs):
//!
//! ```sh
//! cargo run --release -p cai-auth --example login_timing
//! ```
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use cai_auth::AuthConfig;
use cai_auth::conformance::Fixture;
use cai_core::domain::RequestMeta;

const CLIENT: &str = "robin@nord.example";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let f = Fixture::new(
        Arc::new(cai_core::memory::MemoryStore::new()),
        AuthConfig::default(),
        true,
    )
    .await;
    f.with_password(&f.client).await;
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for round in 0..7 {
        for (email, times) in [(CLIENT, &mut known), ("ghost@nord.example", &mut unknown)] {
            let t = Instant::now();
            let r = f
                .auth
                .login(
                    f.tenant.id,
                    email,
                    "Wrong-password-1",
                    RequestMeta::default(),
                )
                .await;
            let took = t.elapsed();
            assert!(r.is_err());
            if round > 0 {
                times.push(took);
            }
        }
        // Stay below the lockout limit and its 1 s throttle.
        f.clock.advance(Duration::from_secs(2));
    }
    let (k, u) = (median(known), median(unknown));
    println!("wrong password of a known account: {k:?}; unknown address: {u:?}");
    let ratio = k.as_secs_f64() / u.as_secs_f64();
    println!("known / unknown: {ratio:.3} (1.0 = indistinguishable)");
}
