//! [`FolderBlobStore`] against cai-core's blob conformance suite, plus what only a
//! folder shows: the file layout, temporary files after interrupted puts, cleanup on
//! open.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
#![allow(clippy::indexing_slicing)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use cai_core::conformance::blobs::{FailingSource, pattern};
use cai_core::id::{BlobId, TenantId};
use cai_core::ports::{BlobChunks, BlobError, BlobStore, BytesChunks, DynBlobStore};
use cai_store::blobs::FolderBlobStore;

cai_core::blob_conformance_tests!(async {
    // Each case gets its own folder; the TempDir is leaked so it outlives the case.
    let dir = Box::leak(Box::new(tempfile::tempdir().unwrap()));
    Arc::new(
        FolderBlobStore::open(dir.path().join("blobs"))
            .await
            .unwrap(),
    ) as DynBlobStore
});

/// Every file name under the root, relative, sorted.
fn tree(root: &Path) -> Vec<String> {
    let mut names = Vec::new();
    for tenant in std::fs::read_dir(root).unwrap() {
        let tenant = tenant.unwrap();
        for file in std::fs::read_dir(tenant.path()).unwrap() {
            let file = file.unwrap();
            names.push(format!(
                "{}/{}",
                tenant.file_name().to_str().unwrap(),
                file.file_name().to_str().unwrap()
            ));
        }
    }
    names.sort();
    names
}

#[tokio::test]
async fn files_are_named_by_ids_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = FolderBlobStore::open(dir.path()).await.unwrap();
    let (t, b) = (TenantId::random().unwrap(), BlobId::random().unwrap());
    store
        .put(t, b, 100, &mut BytesChunks::new(b"sealed".to_vec()))
        .await
        .unwrap();
    let expected = format!(
        "{}/{}",
        hex::encode(t.as_bytes()),
        hex::encode(b.as_bytes())
    );
    assert_eq!(tree(dir.path()), vec![expected.clone()]);
    assert_eq!(
        std::fs::read(dir.path().join(&expected)).unwrap(),
        b"sealed"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.path().join(&expected)), 0o600);
        assert_eq!(mode(&dir.path().join(hex::encode(t.as_bytes()))), 0o700);
    }
}

#[tokio::test]
async fn failed_puts_leave_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = FolderBlobStore::open(dir.path()).await.unwrap();
    let (t, b) = (TenantId::random().unwrap(), BlobId::random().unwrap());
    let mut source = FailingSource::new(pattern(1, 300_000));
    assert!(matches!(
        store.put(t, b, u64::MAX, &mut source).await,
        Err(BlobError::Source(_))
    ));
    let mut source = BytesChunks::new(pattern(2, 1001));
    assert_eq!(
        store.put(t, b, 1000, &mut source).await,
        Err(BlobError::TooLarge { limit: 1000 })
    );
    assert_eq!(tree(dir.path()), Vec::<String>::new());
}

/// Yields some bytes, then never again: an upload whose client went silent.
struct StallingSource {
    sent: bool,
}

#[async_trait]
impl BlobChunks for StallingSource {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, BlobError> {
        if !self.sent {
            self.sent = true;
            return Ok(Some(pattern(3, 100_000)));
        }
        std::future::pending().await
    }
}

#[tokio::test]
async fn dropped_put_removes_its_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = FolderBlobStore::open(dir.path()).await.unwrap();
    let (t, b) = (TenantId::random().unwrap(), BlobId::random().unwrap());
    let mut source = StallingSource { sent: false };
    let mut put = Box::pin(store.put(t, b, u64::MAX, &mut source));
    // Let the put write its first chunk into the temporary file.
    let stalled = tokio::time::timeout(Duration::from_millis(500), &mut put).await;
    assert!(stalled.is_err(), "the put cannot finish");
    let during = tree(dir.path());
    assert_eq!(during.len(), 1, "{during:?}");
    assert!(during[0].contains("/.tmp-"), "{during:?}");
    assert!(
        store.get(t, b).await.unwrap().is_none(),
        "a temporary file is not a blob"
    );
    assert!(store.list(t, None, 10).await.unwrap().is_empty());
    drop(put);
    assert_eq!(tree(dir.path()), Vec::<String>::new());
}

#[tokio::test]
async fn open_removes_leftover_temp_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = FolderBlobStore::open(dir.path()).await.unwrap();
    let (t, b) = (TenantId::random().unwrap(), BlobId::random().unwrap());
    store
        .put(t, b, 100, &mut BytesChunks::new(vec![7; 10]))
        .await
        .unwrap();
    let tenant_dir = dir.path().join(hex::encode(t.as_bytes()));
    // What a crash between write and rename leaves behind.
    std::fs::write(
        tenant_dir.join(format!(
            ".tmp-{}-0011223344556677",
            hex::encode(b.as_bytes())
        )),
        b"half",
    )
    .unwrap();
    std::fs::write(tenant_dir.join("notes.txt"), b"not ours").unwrap();
    drop(store);

    let store = FolderBlobStore::open(dir.path()).await.unwrap();
    let mut expected = vec![
        format!(
            "{}/{}",
            hex::encode(t.as_bytes()),
            hex::encode(b.as_bytes())
        ),
        format!("{}/notes.txt", hex::encode(t.as_bytes())),
    ];
    expected.sort();
    assert_eq!(tree(dir.path()), expected);
    // Foreign files are neither listed nor served.
    assert_eq!(store.list(t, None, 10).await.unwrap(), vec![b]);
    assert_eq!(store.size(t, b).await.unwrap(), Some(10));
}

#[tokio::test]
async fn only_lowercase_id_names_are_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let store = FolderBlobStore::open(dir.path()).await.unwrap();
    let (t, b) = (TenantId::random().unwrap(), BlobId::random().unwrap());
    store
        .put(t, b, 100, &mut BytesChunks::new(vec![1; 3]))
        .await
        .unwrap();
    let tenant_dir = dir.path().join(hex::encode(t.as_bytes()));
    let other = BlobId::random().unwrap();
    // Another id's hex in capitals, and one digit too many: not names this store writes.
    std::fs::write(tenant_dir.join(hex::encode_upper(other.as_bytes())), b"x").unwrap();
    std::fs::write(
        tenant_dir.join(format!("{}0", hex::encode(other.as_bytes()))),
        b"x",
    )
    .unwrap();
    assert_eq!(store.list(t, None, 10).await.unwrap(), vec![b]);
    assert_eq!(store.size(t, other).await.unwrap(), None);
}

#[tokio::test]
async fn delete_reports_what_it_cannot_remove() {
    let dir = tempfile::tempdir().unwrap();
    let store = FolderBlobStore::open(dir.path()).await.unwrap();
    let (t, b) = (TenantId::random().unwrap(), BlobId::random().unwrap());
    store
        .put(
            t,
            BlobId::random().unwrap(),
            100,
            &mut BytesChunks::new(vec![1]),
        )
        .await
        .unwrap();
    // A folder where the blob's file would be: the unlink fails, and delete says so.
    let path = dir
        .path()
        .join(hex::encode(t.as_bytes()))
        .join(hex::encode(b.as_bytes()));
    std::fs::create_dir(&path).unwrap();
    assert!(matches!(
        store.delete(t, b).await,
        Err(BlobError::Backend(_))
    ));
    assert!(path.is_dir());
}
