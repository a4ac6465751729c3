//! Files through the service on the real backends (R-S4, R-T2): a `FolderBlobStore`
//! for the sealed streams and a `SqliteStore` for the items. An upload leaves one
//! sealed file on disk (no temporary left), the item row names it (`item_by_blob`),
//! the download streams the plaintext back, a failed upload leaves neither a row nor a
//! file, deleting the item removes the file, and the sweep takes an orphan once it is
//! past the grace period.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use cai_core::authz::Authentication;
use cai_core::domain::{
    BuiltinRole, ContentKind, Email, Name, Region, SessionMode, TenantSettings,
};
use cai_core::id::{BlobId, SubjectId};
use cai_core::ports::{BlobChunks, BlobError, BytesChunks, Clock, ContentStore, SingleStore};
use cai_core::service::{FileUpload, NewAccount, NewSession, NewTenant};
use cai_core::{Caller, Counselling, Error, Ports, hours};
use cai_store::blobs::FolderBlobStore;
use cai_store::sqlite::SqliteStore;

/// 3 MiB + 5 bytes of a pattern, made chunk by chunk.
struct Pattern {
    at: u64,
    len: u64,
    fail_at: Option<u64>,
}

fn byte(i: u64) -> u8 {
    (i.wrapping_mul(40_503) >> 7) as u8
}

#[async_trait]
impl BlobChunks for Pattern {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, BlobError> {
        if self.fail_at.is_some_and(|f| self.at >= f) {
            return Err(BlobError::Source("client went away".into()));
        }
        let n = (self.len - self.at).min(50_000);
        if n == 0 {
            return Ok(None);
        }
        let chunk = (self.at..self.at + n).map(byte).collect();
        self.at += n;
        Ok(Some(chunk))
    }
}

/// The regular files under `dir`, recursively.
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test]
async fn files_stream_into_a_folder_and_their_items_into_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("cai.db")).await.unwrap());
    let blob_root = dir.path().join("blobs");
    let blobs = Arc::new(FolderBlobStore::open(&blob_root).await.unwrap());
    let mut world = Ports::in_memory();
    world.ports.router = Arc::new(SingleStore(store.clone()));
    world.ports.blobs = blobs.clone();
    let clock = world.clock.clone();
    let svc = Counselling::new(world.ports);

    let (tenant, admin) = svc
        .create_tenant(
            NewTenant {
                name: Name::parse("Beratungsstelle Nord").unwrap(),
                region: Region::parse("DE").unwrap(),
                settings: TenantSettings::default(),
            },
            NewAccount::new(
                Email::parse("admin@nord.example").unwrap(),
                Name::parse("Admin").unwrap(),
            ),
        )
        .await
        .unwrap();
    let t = tenant.id;
    let caller = |subject, strong| {
        Caller::new(
            t,
            subject,
            Authentication {
                second_factor: strong,
                at: clock.now(),
            },
        )
    };
    let cora = svc
        .create_account(
            &caller(SubjectId::Account(admin.id), true),
            t,
            NewAccount::new(
                Email::parse("cora@nord.example").unwrap(),
                Name::parse("Cora").unwrap(),
            ),
            &[BuiltinRole::Counsellor.id()],
        )
        .await
        .unwrap();
    let cora = caller(SubjectId::Account(cora.id), false);
    let new = NewSession {
        mode: Some(SessionMode::ServerManaged),
        ..NewSession::classic()
    };
    let s = svc.create_session(&cora, t, new).await.unwrap().session.id;
    let upload = |fail_at| FileUpload::Plain {
        name: if fail_at == Some(0) {
            "x".into()
        } else {
            "Protokoll.txt".into()
        },
        media_type: "text/plain".into(),
    };
    let len = 3 * 1024 * 1024 + 5;

    let item = svc
        .upload_file(
            &cora,
            t,
            s,
            ContentKind::File,
            upload(None),
            &mut Pattern {
                at: 0,
                len,
                fail_at: None,
            },
        )
        .await
        .unwrap();
    let blob = item.blob.unwrap();
    assert_eq!(store.item_by_blob(t, blob).await.unwrap(), Some(item.id));
    assert_eq!(
        store.item(t, item.id).await.unwrap().unwrap().blob,
        Some(blob)
    );
    let on_disk = files(&blob_root);
    assert_eq!(on_disk.len(), 1, "one blob file, no temporary: {on_disk:?}");
    let bytes = std::fs::read(&on_disk[0]).unwrap();
    assert_eq!(&bytes[..4], b"CAIS");
    assert!(
        !bytes
            .windows(32)
            .any(|w| w == (1000..1032).map(byte).collect::<Vec<_>>())
    );

    let mut d = svc.download_file(&cora, t, s, item.id).await.unwrap();
    assert_eq!(d.info.as_ref().unwrap().size, len);
    let mut at = 0u64;
    while let Some(chunk) = d.body.next_chunk().await.unwrap() {
        assert!(
            chunk
                .iter()
                .enumerate()
                .all(|(i, b)| *b == byte(at + i as u64))
        );
        at += chunk.len() as u64;
    }
    assert_eq!(at, len);

    // A failed upload leaves no row and no file.
    let e = svc
        .upload_file(
            &cora,
            t,
            s,
            ContentKind::File,
            upload(None),
            &mut Pattern {
                at: 0,
                len,
                fail_at: Some(1_000_000),
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Invalid { what: "file", .. }), "{e:?}");
    assert_eq!(files(&blob_root).len(), 1);

    // An orphan (as a crash between blob and row leaves one) goes after the grace.
    let orphan = BlobId::random().unwrap();
    cai_core::ports::BlobStore::put(
        blobs.as_ref(),
        t,
        orphan,
        100,
        &mut BytesChunks::new(vec![9; 100]),
    )
    .await
    .unwrap();
    clock.advance(hours(48));
    let sweep = svc.sweep_orphan_blobs(t).await.unwrap();
    assert_eq!((sweep.examined, sweep.referenced, sweep.deleted), (2, 1, 1));
    assert_eq!(files(&blob_root).len(), 1);

    svc.delete_content(&cora, t, s, item.id).await.unwrap();
    assert!(files(&blob_root).is_empty());
    assert_eq!(store.item_by_blob(t, blob).await.unwrap(), None);
}
