//! An unknown account costs what a known one costs (ASVS 6.3.8), measured at the
//! default Argon2id cost: a dummy hash of other parameters, or a skipped
//! verification, would show here as a ratio far from 1.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use cai_auth::AuthConfig;
use cai_auth::conformance::Fixture;
use cai_core::domain::RequestMeta;
use common::CLIENT;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::test]
async fn unknown_and_known_accounts_take_the_same_time() {
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
    assert!((0.67..1.5).contains(&ratio), "known {k:?} vs unknown {u:?}");
}
