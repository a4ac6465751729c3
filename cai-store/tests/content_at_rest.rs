//! R-E1 through the service: a message posted in a server-managed session reaches the
//! SQLite file only as ciphertext. The raw database file and its WAL are scanned for a
//! unique canary; a positive control (the counsellor's display name, which the store
//! does keep in clear) shows the scan would find text that is there.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::Path;
use std::sync::Arc;

use cai_core::authz::Authentication;
use cai_core::domain::{
    BuiltinRole, ContentKind, Email, Name, Region, SessionMode, TenantSettings,
};
use cai_core::id::SubjectId;
use cai_core::ports::{Clock, SingleStore};
use cai_core::service::{ContentBody, NewAccount, NewSession, NewTenant};
use cai_core::{Caller, Counselling, Ports};
use cai_store::sqlite::SqliteStore;

/// Every occurrence of `needle` in the database file and its WAL (and journal).
fn occurrences(db: &Path, needle: &[u8]) -> usize {
    let mut found = 0;
    for suffix in ["", "-wal", "-journal"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        let Ok(bytes) = std::fs::read(&name) else {
            continue;
        };
        found += bytes.windows(needle.len()).filter(|w| *w == needle).count();
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_managed_content_is_ciphertext_in_the_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("centre.db");
    let store = SqliteStore::open(&db).await.unwrap();
    let mut world = Ports::in_memory();
    world.ports.router = Arc::new(SingleStore(Arc::new(store.clone())));
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
    // … yet neither the file nor the WAL holds it, while the positive control is there.
    assert!(
        occurrences(&db, b"Cora Controlname") > 0,
        "the scan sees clear text"
    );
    assert_eq!(
        occurrences(&db, canary.as_bytes()),
        0,
        "plaintext content at rest"
    );

    // After a checkpoint into the main file, still nothing.
    store.close().await;
    assert!(occurrences(&db, b"Cora Controlname") > 0);
    assert_eq!(occurrences(&db, canary.as_bytes()), 0);
}
