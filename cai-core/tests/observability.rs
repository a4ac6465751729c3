#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The metrics contract of `docs/HOSTING.md` §8: every operation is counted with its
//! outcome and timed, denials are counted by action and reason, incidents by kind —
//! with ids and categories as labels, never secrets.

mod common;

use cai_core::domain::BuiltinRole;
use cai_core::service::{NewSession, PageRequest};
use common::World;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};

#[test]
fn operations_denials_and_incidents_are_counted() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || {
        rt.block_on(async {
            let w = World::new();
            let nord = w.org("Nord").await;
            let sued = w.org("Sued").await;
            let (_, cora) = w.member(&nord, "Cora", BuiltinRole::Counsellor).await;
            w.svc
                .create_session(&cora, nord.id(), NewSession::classic())
                .await
                .unwrap();
            // A denial inside the tenant, and a cross-tenant attempt (an incident).
            let _ = w
                .svc
                .list_accounts(&cora, nord.id(), PageRequest::first())
                .await;
            let _ = w
                .svc
                .list_accounts(&cora, sued.id(), PageRequest::first())
                .await;
            let h = w.svc.health().await;
            assert!(h.healthy);
        })
    });
    let mut counters = Vec::new();
    let mut histograms = 0;
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let k = key.key();
        let labels: Vec<(String, String)> = k
            .labels()
            .map(|l| (l.key().to_owned(), l.value().to_owned()))
            .collect();
        for (_, v) in &labels {
            assert!(!v.contains('@'), "no address in a label: {v}");
        }
        match value {
            DebugValue::Counter(n) => counters.push((k.name().to_owned(), labels, n)),
            DebugValue::Histogram(h) => {
                assert_eq!(k.name(), "cai_operation_duration_seconds");
                histograms += h.len();
            }
            DebugValue::Gauge(g) => assert_eq!(k.name(), "cai_healthy", "{g:?}"),
        }
    }
    let count = |name: &str, want: &[(&str, &str)]| -> u64 {
        counters
            .iter()
            .filter(|(n, labels, _)| {
                n == name
                    && want
                        .iter()
                        .all(|(k, v)| labels.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|(_, _, n)| *n)
            .sum()
    };
    assert_eq!(
        count(
            "cai_operations_total",
            &[("op", "create_session"), ("outcome", "ok")]
        ),
        1
    );
    assert_eq!(
        count(
            "cai_operations_total",
            &[("op", "list_accounts"), ("outcome", "forbidden")]
        ),
        2
    );
    assert_eq!(
        count(
            "cai_denials_total",
            &[("action", "manage_accounts"), ("reason", "no_permission")]
        ),
        1
    );
    assert_eq!(
        count("cai_incidents_total", &[("kind", "cross_tenant_access")]),
        1,
        "every attempt counts once, even when a burst records one incident"
    );
    assert!(histograms >= 6, "every operation is timed: {histograms}");
}
