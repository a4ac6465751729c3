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

#[cfg(feature = "passkeys")]
pub mod passkeys;

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

/// A counsellor of the fixture's tenant, two open server-managed ad-hoc sessions of
/// theirs, and a guest link (ten uses) to the first.
pub struct GuestWorld {
    pub counsellor: cai_core::Caller,
    pub session: cai_core::id::SessionId,
    pub other: cai_core::id::SessionId,
    pub link: cai_core::domain::InvitationSecret,
}

pub async fn guest_world(f: &Fixture) -> GuestWorld {
    use cai_core::domain::{BuiltinRole, Email, Name, SessionMode};
    use cai_core::service::{InviteTo, NewAccount, NewSession};
    let svc = f.auth.service();
    let cora = svc
        .create_account(
            &f.admin_caller(),
            f.tenant.id,
            NewAccount::new(
                Email::parse("cora@nord.example").unwrap(),
                Name::parse("Cora Counsellor").unwrap(),
            ),
            &[BuiltinRole::Counsellor.id()],
        )
        .await
        .unwrap();
    let counsellor = f.vouched(&cora, false);
    let ad_hoc = || NewSession {
        mode: Some(SessionMode::ServerManaged),
        ..NewSession::ad_hoc()
    };
    let session = svc
        .create_session(&counsellor, f.tenant.id, ad_hoc())
        .await
        .unwrap()
        .session
        .id;
    let other = svc
        .create_session(&counsellor, f.tenant.id, ad_hoc())
        .await
        .unwrap()
        .session
        .id;
    let link = svc
        .invite(
            &counsellor,
            f.tenant.id,
            session,
            InviteTo::GuestLink { max_uses: 10 },
            None,
        )
        .await
        .unwrap()
        .into_secret()
        .unwrap();
    GuestWorld {
        counsellor,
        session,
        other,
        link,
    }
}

/// Admits a guest with `link` from `request`; panics on failure.
pub async fn admit(
    f: &Fixture,
    link: &cai_core::domain::InvitationSecret,
    request: RequestMeta,
) -> cai_auth::AdmittedGuest {
    f.auth
        .admit_guest(
            f.tenant.id,
            link,
            cai_core::domain::Pseudonym::parse("Sonnenblume").unwrap(),
            request,
        )
        .await
        .unwrap()
}
