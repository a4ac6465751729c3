//! What operators see: one `tracing` span per service operation, metrics through the
//! [`metrics`] facade, and a health check that asks every port (R-O3).
//!
//! The host picks the exporter — `metrics-exporter-prometheus`, OpenTelemetry, a
//! StatsD bridge — by installing a recorder; without one, recording costs next to
//! nothing. Names and labels are part of the contract:
//!
//! | metric | kind | labels | what |
//! |---|---|---|---|
//! | [`OPERATIONS`] `cai_operations_total` | counter | `op`, `outcome` | operations, by outcome: `ok` or the error's category (`forbidden`, `not_found`, …) |
//! | [`DURATION`] `cai_operation_duration_seconds` | histogram | `op` | how long each operation took |
//! | [`DENIALS`] `cai_denials_total` | counter | `action`, `reason` | authorization denials, by action and reason |
//! | [`INCIDENTS`] `cai_incidents_total` | counter | `kind` | `cross_tenant_access`: every request naming another tenant (incidents are recorded one per burst); `repeated_wrong_secret`: each incident raised |
//! | `cai_healthy` | gauge | — | 1 or 0, set by each [`Counselling::health`] |
//!
//! The span is named `cai.op` with fields `op`, `tenant`, `actor` (an account or guest
//! id), `request_id`, `decision` (the authorization's explanation, or why it denied)
//! and `outcome`. Never a secret, a password, content or an e-mail address: ids only.

use std::future::Future;
use std::time::Instant;

use serde::Serialize;
use tracing::Instrument;
use tracing::field::Empty;

use super::{Caller, Counselling};
use crate::authz::Decision;
use crate::error::Result;
use crate::id::TenantId;

/// Counter of operations, labelled `op` and `outcome`.
pub const OPERATIONS: &str = "cai_operations_total";
/// Histogram of operation durations in seconds, labelled `op`.
pub const DURATION: &str = "cai_operation_duration_seconds";
/// Counter of authorization denials, labelled `action` and `reason`.
pub const DENIALS: &str = "cai_denials_total";
/// Counter of incidents, labelled `kind`.
pub const INCIDENTS: &str = "cai_incidents_total";

/// The answer of [`Counselling::health`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    /// Whether every port can serve.
    pub healthy: bool,
    /// Each port's answer.
    pub ports: Vec<PortHealth>,
}

/// One port's answer to a health check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortHealth {
    /// The port: `store`, `keys`, `mailer`, `notifier`, `transport`, `failures`.
    pub port: &'static str,
    /// Whether it can serve.
    pub healthy: bool,
    /// What it said when it cannot (backend text: for operators only).
    pub detail: Option<String>,
}

impl Counselling {
    /// Runs one operation inside its span, and counts and times it.
    pub(crate) async fn observe<T>(
        &self,
        op: &'static str,
        tenant: Option<TenantId>,
        caller: Option<&Caller>,
        operation: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let span = tracing::info_span!(
            "cai.op",
            op,
            tenant = Empty,
            actor = Empty,
            request_id = Empty,
            decision = Empty,
            outcome = Empty,
        );
        if let Some(t) = tenant {
            span.record("tenant", tracing::field::display(t));
        }
        if let Some(c) = caller {
            span.record("actor", tracing::field::display(c.subject));
            if let Some(id) = c.request.id {
                span.record("request_id", id.as_str());
            }
        }
        let start = Instant::now();
        let result = operation.instrument(span.clone()).await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) => e.category().name(),
        };
        span.record("outcome", outcome);
        metrics::counter!(OPERATIONS, "op" => op, "outcome" => outcome).increment(1);
        metrics::histogram!(DURATION, "op" => op).record(start.elapsed().as_secs_f64());
        result
    }

    /// Records an authorization decision on the current operation's span, and counts
    /// denials.
    pub(crate) fn record_decision(decision: &Decision) {
        let span = tracing::Span::current();
        span.record("decision", tracing::field::display(decision));
        if let Decision::Deny { action, reason } = decision {
            metrics::counter!(DENIALS, "action" => action.name(), "reason" => reason.code())
                .increment(1);
        }
    }

    /// Asks every port whether it can serve: the stores (through the router), the key
    /// provider, the mailer, the admin notifier, the transport and the failure
    /// counters. For a monitoring endpoint that only operators reach: `detail` holds
    /// backend text. Each port answers in turn; wrap the call in the host's own timeout.
    pub async fn health(&self) -> Health {
        let p = &self.ports;
        let mut ports = Vec::with_capacity(6);
        let mut add = |port: &'static str, r: std::result::Result<(), crate::ports::Unhealthy>| {
            ports.push(PortHealth {
                port,
                healthy: r.is_ok(),
                detail: r.err().map(|e| e.0),
            });
        };
        add("store", p.router.health().await);
        add("keys", p.keys.health().await);
        add("mailer", p.mailer.health().await);
        add("notifier", p.notifier.health().await);
        add("transport", p.transport.health().await);
        add("failures", p.failures.health().await);
        let healthy = ports.iter().all(|p| p.healthy);
        metrics::gauge!("cai_healthy").set(if healthy { 1.0 } else { 0.0 });
        Health { healthy, ports }
    }
}
