//! Online backup and restore (SQLite), tenant export/import (both backends, across
//! them) and the per-person export.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

#[cfg(feature = "postgres")]
mod pg;

use std::sync::Arc;

use cai_core::conformance::data::{at, rid};
use cai_core::conformance::fixture::Fixture;
use cai_core::domain::{AuditActor, AuditObject};
use cai_core::id::{SubjectId, TenantId};
use cai_core::ports::{Batch, DynStore, Store, Write};
use cai_store::audit_chain::{AuditKeys, AuditSigner};
use cai_store::sqlite::{BackupError, SqliteStore};
use cai_store::transfer::TransferError;

async fn export(store: &SqliteStore, t: TenantId) -> (u64, Vec<u8>) {
    let mut out = Vec::new();
    let rows = store.export_tenant(t, &mut out).await.unwrap();
    (rows, out)
}

fn keys(signer: &AuditSigner) -> AuditKeys {
    AuditKeys::new().trust(&signer.public_key()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_taken_while_batches_commit_hold_whole_batches_and_a_verifiable_trail() {
    let store = SqliteStore::temporary().await.unwrap();
    let shared: DynStore = Arc::new(store.clone());
    let first = Fixture::random(rid());
    first.insert(&shared).await;
    let signer = AuditSigner::generate().unwrap();
    let cp = store
        .checkpoint_audit(first.ids.tenant, &signer, at(5_000))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cp.seq, 1);

    // Batches of ~25 writes each, in tenants of their own, while backups are taken.
    let fixtures: Vec<Fixture> = (0..40).map(|_| Fixture::random(rid())).collect();
    let writer = {
        let (shared, fixtures) = (shared.clone(), fixtures.clone());
        tokio::spawn(async move {
            for f in &fixtures {
                f.insert(&shared).await;
            }
        })
    };
    let dir = tempfile::tempdir().unwrap();
    let mut backups = Vec::new();
    for i in 0..4 {
        let path = dir.path().join(format!("backup-{i}.db"));
        store.backup_to(&path).await.unwrap();
        backups.push(path);
        tokio::time::sleep(std::time::Duration::from_millis(15)).await;
    }
    writer.await.unwrap();
    let last = dir.path().join("backup-last.db");
    store.backup_to(&last).await.unwrap();
    backups.push(last);

    let mut present_counts = Vec::new();
    for (i, backup) in backups.iter().enumerate() {
        let restored = SqliteStore::restore_from(backup, dir.path().join(format!("r{i}.db")))
            .await
            .unwrap();
        let restored_dyn: DynStore = Arc::new(restored.clone());
        first.assert_stored(&restored_dyn).await;
        let report = restored
            .verify_audit(first.ids.tenant, &keys(&signer))
            .await
            .unwrap();
        assert!(report.is_intact(), "{report:?}");
        assert_eq!((report.checkpoints, report.anchored_to), (1, 1));
        let mut present = 0;
        for f in &fixtures {
            let (rows, bytes) = export(&restored, f.ids.tenant).await;
            if rows == 0 {
                continue;
            }
            // All of the batch or none of it: a present tenant is exactly the fixture.
            f.assert_stored(&restored_dyn).await;
            assert_eq!(bytes, export(&store, f.ids.tenant).await.1);
            present += 1;
        }
        present_counts.push(present);
        restored.close().await;
    }
    eprintln!("tenants present per backup: {present_counts:?}");
    // Later backups hold at least what earlier ones held; the last one all of it.
    assert!(
        present_counts.windows(2).all(|w| w[0] <= w[1]),
        "{present_counts:?}"
    );
    assert_eq!(present_counts.last(), Some(&fixtures.len()));
}

#[tokio::test]
async fn backup_and_restore_never_overwrite_and_refuse_a_damaged_file() {
    let store = SqliteStore::temporary().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("b.db");
    store.backup_to(&backup).await.unwrap();
    let before = std::fs::read(&backup).unwrap();
    assert!(matches!(
        store.backup_to(&backup).await,
        Err(BackupError::Exists(p)) if p == backup
    ));
    let taken = dir.path().join("taken.db");
    std::fs::write(&taken, b"keep me").unwrap();
    assert!(matches!(
        SqliteStore::restore_from(&backup, &taken).await,
        Err(BackupError::Exists(_))
    ));
    assert_eq!(std::fs::read(&taken).unwrap(), b"keep me");
    // Another failure to create the target is I/O, not "exists".
    assert!(matches!(
        SqliteStore::restore_from(&backup, dir.path().join("no-such-dir").join("r.db")).await,
        Err(BackupError::Io(_))
    ));
    // The restored copy is upgraded and written; the backup stays as it was.
    let restored = SqliteStore::restore_from(&backup, dir.path().join("r.db"))
        .await
        .unwrap();
    restored.health().await.unwrap();
    assert_eq!(std::fs::read(&backup).unwrap(), before);

    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, vec![0x5a; 8192]).unwrap();
    assert!(
        SqliteStore::restore_from(&garbage, dir.path().join("g.db"))
            .await
            .is_err()
    );
    assert!(matches!(
        SqliteStore::restore_from(dir.path().join("missing.db"), dir.path().join("m.db")).await,
        Err(BackupError::Io(_))
    ));
}

/// A fixture, with an audit entry by its client when `by_client` (then the fixture's
/// `assert_stored` no longer applies: it checks the trail is the fixture's one entry).
async fn populated(store: &DynStore, by_client: bool) -> Fixture {
    let f = Fixture::random(rid());
    f.insert(store).await;
    if !by_client {
        return f;
    }
    let mut by_client = f.event.clone();
    by_client.id = rid();
    by_client.actor = AuditActor::Subject(SubjectId::Account(f.ids.client));
    by_client.object = AuditObject::Account(f.ids.client);
    let mut batch = Batch::new(f.ids.tenant);
    batch.push(Write::AppendAudit(by_client));
    store.commit(batch).await.unwrap();
    f
}

#[tokio::test]
async fn a_tenant_round_trips_through_an_export_and_is_imported_once() {
    let source = SqliteStore::temporary().await.unwrap();
    let source_dyn: DynStore = Arc::new(source.clone());
    let signer = AuditSigner::generate().unwrap();
    let f = populated(&source_dyn, false).await;
    source
        .checkpoint_audit(f.ids.tenant, &signer, at(9_000))
        .await
        .unwrap()
        .unwrap();
    // Another tenant in the same store is not part of the export.
    let other = Fixture::random(rid());
    other.insert(&source_dyn).await;
    let (rows, bytes) = export(&source, f.ids.tenant).await;
    assert!(rows > 20);
    assert!(!String::from_utf8_lossy(&bytes).contains(&hex(other.ids.tenant.as_bytes())));

    let target = SqliteStore::temporary().await.unwrap();
    let target_dyn: DynStore = Arc::new(target.clone());
    assert_eq!(
        target.import_tenant(&mut bytes.as_slice()).await.unwrap(),
        f.ids.tenant
    );
    f.assert_stored(&target_dyn).await;
    other
        .assert_invisible_in(&target_dyn, other.ids.tenant)
        .await;
    let report = target
        .verify_audit(f.ids.tenant, &keys(&signer))
        .await
        .unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!((report.entries, report.anchored_to), (1, 1));
    assert_eq!(export(&target, f.ids.tenant).await.1, bytes);
    // The sequences came along: the next entry continues the chain.
    let mut batch = Batch::new(f.ids.tenant);
    let mut next = f.event.clone();
    next.id = rid();
    batch.push(Write::AppendAudit(next));
    target.commit(batch).await.unwrap();
    let report = target
        .verify_audit(f.ids.tenant, &keys(&signer))
        .await
        .unwrap();
    assert!(report.is_intact() && report.entries == 2, "{report:?}");

    assert!(matches!(
        target.import_tenant(&mut bytes.as_slice()).await,
        Err(TransferError::TenantExists)
    ));
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Imports `input` into a fresh store: the result, and whether the store holds any
/// row of `tenant` afterwards.
async fn try_import(input: &[u8], tenant: TenantId) -> (Result<TenantId, TransferError>, u64) {
    let store = SqliteStore::in_memory().await.unwrap();
    let result = store.import_tenant(&mut &input[..]).await;
    let rows = export(&store, tenant).await.0;
    (result, rows)
}

#[tokio::test]
async fn truncated_garbled_or_foreign_input_is_a_typed_error_and_leaves_nothing() {
    let source = SqliteStore::in_memory().await.unwrap();
    let source_dyn: DynStore = Arc::new(source.clone());
    let f = Fixture::random(rid());
    f.insert(&source_dyn).await;
    let t = f.ids.tenant;
    let (_, bytes) = export(&source, t).await;

    // Every cut at a line boundary and many inside lines: refused, nothing imported.
    let mut cuts: Vec<usize> = bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .flat_map(|(i, _)| [i, i + 1])
        .filter(|i| *i < bytes.len())
        .collect();
    cuts.extend((0..bytes.len()).step_by(97));
    for cut in cuts {
        let (result, rows) = try_import(&bytes[..cut], t).await;
        assert!(result.is_err(), "cut at {cut} was accepted");
        assert_eq!(rows, 0, "cut at {cut} left rows behind");
    }

    // Garbled bytes: an error (and nothing imported) or a valid export of other data.
    let mut state = 0x9e37_79b9_u64;
    for _ in 0..150 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut garbled = bytes.clone();
        let at_byte = (state % bytes.len() as u64) as usize;
        garbled[at_byte] = (state >> 32) as u8;
        let (result, rows) = try_import(&garbled, t).await;
        if result.is_err() {
            assert_eq!(
                rows, 0,
                "a failed import at byte {at_byte} left rows behind"
            );
        }
    }

    let text = String::from_utf8(bytes.clone()).unwrap();
    let newer = text.replacen("\"version\":1", "\"version\":2", 1);
    assert!(matches!(
        try_import(newer.as_bytes(), t).await.0,
        Err(TransferError::UnsupportedVersion {
            found: 2,
            supported: 1
        })
    ));
    // A schema one newer than this build's.
    let (current, next) = (
        cai_store::transfer::SCHEMA_VERSION,
        cai_store::transfer::SCHEMA_VERSION + 1,
    );
    let schema = text.replacen(
        &format!("\"schema\":{current}"),
        &format!("\"schema\":{next}"),
        1,
    );
    assert!(matches!(
        try_import(schema.as_bytes(), t).await.0,
        Err(TransferError::SchemaMismatch {
            found,
            expected
        }) if found == next && expected == current
    ));
    let trailing = format!("{text}[]\n");
    assert!(matches!(
        try_import(trailing.as_bytes(), t).await.0,
        Err(TransferError::Malformed { .. })
    ));
    let lines: Vec<&str> = text.lines().collect();
    // A row repeated: the store refuses the duplicate key; the whole import is undone.
    let account_row = lines
        .iter()
        .position(|l| l.contains("\"table\":\"accounts\""))
        .unwrap()
        + 1;
    let mut doubled = lines.clone();
    doubled.insert(account_row, lines[account_row]);
    let doubled = doubled.join("\n") + "\n";
    let (result, rows) = try_import(doubled.as_bytes(), t).await;
    assert!(
        matches!(result, Err(TransferError::Malformed { .. })),
        "{result:?}"
    );
    assert_eq!(rows, 0);
    // A record whose body names another tenant is refused.
    let own = serde_json::to_value(t).unwrap();
    let foreign = serde_json::to_value(rid::<TenantId>()).unwrap();
    let mut planted = lines.clone();
    let edited = lines[account_row].replace(own.as_str().unwrap(), foreign.as_str().unwrap());
    assert_ne!(edited, lines[account_row]);
    planted[account_row] = &edited;
    let planted = planted.join("\n") + "\n";
    let (result, rows) = try_import(planted.as_bytes(), t).await;
    assert!(
        matches!(result, Err(TransferError::Malformed { reason, .. }) if reason.contains("another tenant")),
        "{result:?}"
    );
    assert_eq!(rows, 0);
    assert!(matches!(
        try_import(b"", t).await.0,
        Err(TransferError::NotAnExport)
    ));
    assert!(matches!(
        try_import(b"{\"format\":\"zip\"}\n", t).await.0,
        Err(TransferError::NotAnExport)
    ));
}

#[tokio::test]
async fn a_person_export_holds_their_data_and_no_credential_secrets() {
    let store = SqliteStore::in_memory().await.unwrap();
    let shared: DynStore = Arc::new(store.clone());
    let f = populated(&shared, true).await;
    let client = store
        .export_person(f.ids.tenant, f.ids.client)
        .await
        .unwrap();
    assert_eq!(client["format"], "cai-store-person");
    assert_eq!(client["version"], 1);
    assert_eq!(client["account"], hex(f.ids.client.as_bytes()));
    let s = &client["sections"];
    assert_eq!(s["account"].as_array().unwrap().len(), 1);
    assert_eq!(
        s["account"][0]["email"].as_str(),
        f.account(f.ids.client).email.as_ref().map(|e| e.as_str())
    );
    assert_eq!(s["audit_entries"].as_array().unwrap().len(), 1);
    // The personal parts as JSON (salt removed): the changes and the request.
    assert_eq!(
        s["audit_entries"][0]["detail"][0]["property"],
        "settings.allow_history_sharing"
    );
    assert!(s["audit_entries"][0]["origin"].is_object());
    assert_eq!(s["participations"].as_array().unwrap().len(), 1);
    assert_eq!(s["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(s["roles"].as_array().unwrap().len(), 1);
    assert_eq!(
        s["versions_authored"].as_array().unwrap().len(),
        f.versions.len()
    );
    assert!(s["versions_authored"][0]["body"].is_string());
    assert!(s["credentials"].as_array().unwrap().is_empty());

    let counsellor = store
        .export_person(f.ids.tenant, f.ids.counsellor)
        .await
        .unwrap();
    let creds = counsellor["sections"]["credentials"].as_array().unwrap();
    assert_eq!(creds.len(), 1);
    let keys: Vec<&String> = creds[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["kind", "updated_at"]);
    assert!(!counsellor.to_string().contains("argon2"));
    assert!(
        counsellor["sections"]["audit_entries"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        counsellor["sections"]["groups"].as_array().unwrap().len(),
        1
    );
    assert_eq!(
        counsellor["sections"]["invitations_created"]
            .as_array()
            .unwrap()
            .len(),
        usize::from(f.invitation.created_by == f.ids.counsellor)
    );
    // Another tenant's account of the same id is not there.
    let nobody = store.export_person(rid(), f.ids.client).await.unwrap();
    assert!(nobody["sections"]["account"].as_array().unwrap().is_empty());
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn tenants_move_between_sqlite_and_postgresql_with_their_audit_chain() {
    let signer = AuditSigner::generate().unwrap();
    let sqlite = SqliteStore::temporary().await.unwrap();
    let sqlite_dyn: DynStore = Arc::new(sqlite.clone());
    let f = populated(&sqlite_dyn, false).await;
    sqlite
        .checkpoint_audit(f.ids.tenant, &signer, at(9_000))
        .await
        .unwrap()
        .unwrap();
    let (_, bytes) = export(&sqlite, f.ids.tenant).await;

    // SQLite → PostgreSQL.
    let pg = pg::fresh_store("export").await;
    let pg_dyn: DynStore = Arc::new(pg.clone());
    assert_eq!(
        pg.import_tenant(&mut bytes.as_slice()).await.unwrap(),
        f.ids.tenant
    );
    f.assert_stored(&pg_dyn).await;
    let report = pg.verify_audit(f.ids.tenant, &keys(&signer)).await.unwrap();
    assert!(report.is_intact() && report.anchored_to == 1, "{report:?}");
    let mut from_pg = Vec::new();
    pg.export_tenant(f.ids.tenant, &mut from_pg).await.unwrap();
    assert_eq!(from_pg, bytes);
    assert!(matches!(
        pg.import_tenant(&mut bytes.as_slice()).await,
        Err(TransferError::TenantExists)
    ));
    assert_eq!(
        pg.export_person(f.ids.tenant, f.ids.client).await.unwrap(),
        sqlite
            .export_person(f.ids.tenant, f.ids.client)
            .await
            .unwrap()
    );

    // PostgreSQL → SQLite: a tenant written on PostgreSQL.
    let g = populated(&pg_dyn, false).await;
    pg.checkpoint_audit(g.ids.tenant, &signer, at(9_000))
        .await
        .unwrap()
        .unwrap();
    let mut from_pg = Vec::new();
    pg.export_tenant(g.ids.tenant, &mut from_pg).await.unwrap();
    let back = SqliteStore::temporary().await.unwrap();
    let back_dyn: DynStore = Arc::new(back.clone());
    back.import_tenant(&mut from_pg.as_slice()).await.unwrap();
    g.assert_stored(&back_dyn).await;
    let report = back
        .verify_audit(g.ids.tenant, &keys(&signer))
        .await
        .unwrap();
    assert!(report.is_intact() && report.anchored_to == 1, "{report:?}");
    assert_eq!(export(&back, g.ids.tenant).await.1, from_pg);

    // A broken import on PostgreSQL leaves nothing either.
    let pg2 = pg::fresh_store("export").await;
    let cut = &from_pg[..from_pg.len() / 2];
    assert!(pg2.import_tenant(&mut &cut[..]).await.is_err());
    let mut empty = Vec::new();
    assert_eq!(
        pg2.export_tenant(g.ids.tenant, &mut empty).await.unwrap(),
        0
    );
}
