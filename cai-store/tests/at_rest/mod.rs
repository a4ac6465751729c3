//! Shared by the content-at-rest tests of both backends: a message with a unique canary
//! is posted through the service in a server-managed session and read back.
#![allow(dead_code)]

use std::sync::Arc;

use cai_core::authz::Authentication;
use cai_core::domain::{
    BuiltinRole, ContentKind, Email, Name, Region, SessionMode, TenantSettings,
};
use cai_core::id::{SessionId, SubjectId};
use cai_core::ports::{Clock, DynStore, SingleStore};
use cai_core::service::{ContentBody, NewAccount, NewSession, NewTenant};
use cai_core::{Caller, Counselling, Ports};

/// The positive control: the counsellor's display name, which stores keep in clear.
pub(crate) const CONTROL: &[u8] = b"Cora Controlname";

/// Posts the canary into a new server-managed session of `store`, checks it reads back
/// opened, and returns the canary and the session's id.
pub(crate) async fn post_canary(store: DynStore) -> (String, SessionId) {
    let mut world = Ports::in_memory();
    world.ports.router = Arc::new(SingleStore(store));
    let clock = world.clock.clone();
    let svc = Counselling::new(world.ports);

    let (tenant, admin) = svc
        .create_tenant(
            NewTenant {
                name: Name::parse("Beratungsstelle Canary").unwrap(),
                region: Region::parse("DE").unwrap(),
                settings: TenantSettings::default(),
            },
            NewAccount::new(
                Email::parse("admin@canary.example").unwrap(),
                Name::parse("Admin").unwrap(),
            ),
        )
        .await
        .unwrap();
    let caller = |subject, strong| {
        Caller::new(
            tenant.id,
            subject,
            Authentication {
                second_factor: strong,
                at: clock.now(),
            },
        )
    };
    let admin_caller = caller(SubjectId::Account(admin.id), true);
    let counsellor = svc
        .create_account(
            &admin_caller,
            tenant.id,
            NewAccount::new(
                Email::parse("cora@canary.example").unwrap(),
                Name::parse("Cora Controlname").unwrap(),
            ),
            &[BuiltinRole::Counsellor.id()],
        )
        .await
        .unwrap();
    let cora = caller(SubjectId::Account(counsellor.id), false);
    let session = svc
        .create_session(
            &cora,
            tenant.id,
            NewSession {
                mode: Some(SessionMode::ServerManaged),
                ..NewSession::classic()
            },
        )
        .await
        .unwrap()
        .session;

    let canary = format!("CANARY-{}-do-not-store", session.id);
    let item = svc
        .post_content(
            &cora,
            tenant.id,
            session.id,
            ContentKind::Message,
            ContentBody::plain(canary.clone().into_bytes()),
        )
        .await
        .unwrap();

    // The message is stored (it comes back, opened by the service) …
    let view = svc
        .read_content(&cora, tenant.id, session.id, item.id, None)
        .await
        .unwrap();
    match view.body {
        ContentBody::Plain(p) => assert_eq!(p.as_slice(), canary.as_bytes()),
        ContentBody::Sealed(_) => panic!("server-managed content is opened by the service"),
    }
    (canary, session.id)
}
