//! R-E1 through the service on PostgreSQL: a message posted in a server-managed
//! session reaches the database only as ciphertext. A `pg_dump` of the store's schema
//! is scanned for a unique canary, as text and in the hex form in which `pg_dump`
//! writes `BYTEA` values; positive controls (the counsellor's display name, kept in
//! clear text, and the session id, kept in a `BYTEA` column) show the scans would find
//! what is there.
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod pg;

use std::process::Command;
use std::sync::Arc;

use cai_core::authz::Authentication;
use cai_core::domain::{
    BuiltinRole, ContentKind, Email, Name, Region, SessionMode, TenantSettings,
};
use cai_core::id::SubjectId;
use cai_core::ports::{Clock, SingleStore};
use cai_core::service::{ContentBody, NewAccount, NewSession, NewTenant};
use cai_core::{Caller, Counselling, Ports};
use cai_store::postgres::SchemaName;

/// The plain-SQL dump of one schema, by the `pg_dump` on the `PATH`
/// (`scripts/test-all.sh` puts the server's own version first).
fn dump(schema: &SchemaName) -> Vec<u8> {
    let out = Command::new("pg_dump")
        .arg("--dbname")
        .arg(pg::url())
        .arg("--schema")
        .arg(schema.as_str())
        .output()
        .unwrap_or_else(|e| panic!("cannot run pg_dump (see scripts/test-all.sh): {e}"));
    assert!(
        out.status.success(),
        "pg_dump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Every occurrence of `needle` in `haystack`.
fn occurrences(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

/// `bytes` as lower-case hex, as `pg_dump` writes a `BYTEA` value.
fn hex(bytes: &[u8]) -> Vec<u8> {
    bytes
        .iter()
        .flat_map(|b| format!("{b:02x}").into_bytes())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_managed_content_is_ciphertext_in_a_dump_of_the_schema() {
    let schema = pg::fresh_schema("at_rest");
    let store = cai_store::postgres::PgStore::connect(&pg::url(), &schema)
        .await
        .unwrap();
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
    // … yet the dump holds it neither as text nor as bytes, while the controls are
    // there.
    let dumped = dump(&schema);
    assert!(
        occurrences(&dumped, b"Cora Controlname") > 0,
        "the scan sees clear text"
    );
    assert!(
        occurrences(&dumped, &hex(session.id.as_bytes())) > 0,
        "the scan sees BYTEA values"
    );
    assert_eq!(
        occurrences(&dumped, canary.as_bytes()),
        0,
        "plaintext content at rest"
    );
    assert_eq!(
        occurrences(&dumped, &hex(canary.as_bytes())),
        0,
        "plaintext content at rest, as bytes"
    );
    store.close().await;
}
