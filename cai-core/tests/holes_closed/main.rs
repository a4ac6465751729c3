#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
#![allow(clippy::indexing_slicing)]
//! Regression tests for what a randomized probe written from `docs/CORE.md` found inside
//! one tenant, each named after the hole it closes. Every one of them failed on the code
//! before the fix.

#[path = "../common/mod.rs"]
mod common;

mod accounts;
mod hosts;
mod invitations;
mod rooms;
mod second_review;
mod throttling;

use std::net::{IpAddr, Ipv4Addr};

use cai_core::authz::{Action, DenyReason, PermissionSet};
use cai_core::domain::{
    AccountStatus, AuditKind, BuiltinRole, ContentKind, Email, IncidentKind, Name, Pseudonym,
    RequestId, RequestMeta, RoomContent, SessionMode,
};
use cai_core::id::SubjectId;
use cai_core::ports::{
    AuditStore, ContentStore, DirectoryStore, InvitationFilter, SessionStore, Write,
};
use cai_core::service::{
    AccountChanges, ContentBody, InviteTo, Invited, NewAccount, NewRoom, NewSession, PageRequest,
    RoomEntry,
};
use cai_core::{Caller, Error, ErrorCategory, minutes};
use common::{Org, World};

fn plain(text: &str) -> ContentBody {
    ContentBody::plain(text.as_bytes().to_vec())
}

fn server_managed() -> NewSession {
    NewSession {
        mode: Some(SessionMode::ServerManaged),
        ..NewSession::classic()
    }
}

fn ad_hoc() -> NewSession {
    NewSession {
        mode: Some(SessionMode::ServerManaged),
        ..NewSession::ad_hoc()
    }
}

fn room(password: &str, content: RoomContent) -> NewRoom {
    NewRoom {
        name: Name::parse("Coras Raum").unwrap(),
        password: password.to_owned().into(),
        mode: Some(SessionMode::ServerManaged),
        content,
    }
}

async fn guest_link(
    w: &World,
    org: &Org,
    by: &Caller,
    session: cai_core::id::SessionId,
) -> Invited {
    w.svc
        .invite(
            by,
            org.id(),
            session,
            InviteTo::GuestLink { max_uses: 5 },
            None,
        )
        .await
        .unwrap()
}

/// Enters the room, is admitted by the host from the lobby, and is let in.
async fn enter_admitted(
    w: &World,
    org: &Org,
    who: &Caller,
    host: &Caller,
    room: cai_core::id::RoomId,
    password: &str,
) -> cai_core::service::SessionDetails {
    let entry = w
        .svc
        .enter_room(who, org.id(), room, password)
        .await
        .unwrap();
    let RoomEntry::Waiting { session } = entry else {
        panic!("a newcomer waits in the lobby: {entry:?}");
    };
    w.svc
        .admit(host, org.id(), session, who.subject, None)
        .await
        .unwrap();
    match w
        .svc
        .enter_room(who, org.id(), room, password)
        .await
        .unwrap()
    {
        RoomEntry::Admitted(details) => details,
        other => panic!("admitted: {other:?}"),
    }
}

fn secret(invited: Invited) -> cai_core::domain::InvitationSecret {
    invited.into_secret().expect("a guest link")
}

async fn join(
    w: &World,
    org: &Org,
    link: &cai_core::domain::InvitationSecret,
) -> Result<Caller, Error> {
    w.svc
        .join_as_guest(org.id(), link, Pseudonym::parse("Gast").unwrap())
        .await
        .map(|(_, c)| c)
}
