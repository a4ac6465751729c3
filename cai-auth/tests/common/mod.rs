//! Shared helpers of the behaviour tests: the conformance fixture over the in-memory
//! store, request metadata, and readers of the audit trail.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

pub mod recovery;

use std::sync::Arc;

use cai_auth::conformance::{Fixture, PASSWORD};
use cai_auth::{AuthConfig, AuthError, LoginOutcome};
use cai_core::domain::{AuditEvent, Incident, RequestMeta};
use cai_core::memory::MemoryStore;

pub async fn fixture() -> Fixture {
    fixture_with(AuthConfig::default()).await
}

pub async fn fixture_with(config: AuthConfig) -> Fixture {
    Fixture::new(Arc::new(MemoryStore::new()), config, false).await
}

/// A request from `ip`.
pub fn from(ip: &str) -> RequestMeta {
    RequestMeta {
        id: None,
        client: Some(ip.parse().unwrap()),
    }
}

pub async fn login(
    f: &Fixture,
    email: &str,
    password: &str,
    request: RequestMeta,
) -> Result<LoginOutcome, AuthError> {
    f.auth.login(f.tenant.id, email, password, request).await
}

pub const CLIENT: &str = "robin@nord.example";

/// Logs the client in with the right password; panics unless a session comes back.
pub async fn client_session(f: &Fixture) -> cai_auth::IssuedSession {
    match login(f, CLIENT, PASSWORD, RequestMeta::default()).await {
        Ok(LoginOutcome::Session(s)) => s,
        other => panic!("expected a session, got {other:?}"),
    }
}

pub async fn audit(f: &Fixture) -> Vec<AuditEvent> {
    f.store
        .audit_events(f.tenant.id, 0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, e)| e)
        .collect()
}

pub async fn incidents(f: &Fixture) -> Vec<Incident> {
    f.store
        .incidents(f.tenant.id, None, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, i)| i)
        .collect()
}

/// The kind of an answer, for comparing sequences of answers.
pub fn kind(r: &Result<LoginOutcome, AuthError>) -> &'static str {
    match r {
        Ok(LoginOutcome::Session(_)) => "session",
        Ok(LoginOutcome::MustChangePassword(_)) => "change",
        Ok(_) => "other",
        Err(AuthError::LoginFailed) => "failed",
        Err(AuthError::TooManyRequests { .. }) => "slow down",
        Err(_) => "error",
    }
}
