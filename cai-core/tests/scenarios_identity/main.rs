//! Scenario tests for tenants, identities, roles and groups, audit and incidents
//! (R-T1..R-T3, R-I1..R-I8, R-P3, R-U1, R-U3), through the service on the in-memory
//! backend with a manual clock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
#![allow(clippy::indexing_slicing)]

#[path = "../common/mod.rs"]
mod common;

mod accounts;
mod roles;
mod tenants;

use std::sync::Arc;

use cai_core::authz::{Action, Authentication, DenyReason, PermissionSet};
use cai_core::blocking::InlinePool;
use cai_core::domain::{
    AccountStatus, AuditKind, BuiltinRole, ContentKind, Email, IncidentKind, Name, Region,
    SessionMode, TenantSettings,
};
use cai_core::id::SubjectId;
use cai_core::memory::{
    LocalKeyProvider, MemoryFailureCounter, MemoryMailer, MemoryNotifier, MemoryStore,
    MemoryTransport, RegionRouter,
};
use cai_core::ports::{
    AuditStore, Batch, Credential, CredentialKind, CredentialStore, DirectoryStore, DynStore,
    ManualClock, SessionStore, Store, Write,
};
use cai_core::service::{
    AccountChanges, ContentBody, NewAccount, NewSession, NewTenant, PageRequest,
};
use cai_core::{Caller, Counselling, Error, Ports, days, hours, minutes};
use common::{START, World};

fn plain(text: &str) -> ContentBody {
    ContentBody::plain(text.as_bytes().to_vec())
}

fn denied(r: &Result<impl std::fmt::Debug, Error>) -> Option<DenyReason> {
    match r {
        Err(Error::Denied { reason, .. }) => Some(*reason),
        _ => None,
    }
}

async fn server_session(w: &World, org: &common::Org, who: &Caller) -> cai_core::domain::Session {
    w.svc
        .create_session(
            who,
            org.id(),
            NewSession {
                mode: Some(SessionMode::ServerManaged),
                ..NewSession::classic()
            },
        )
        .await
        .unwrap()
        .session
}
