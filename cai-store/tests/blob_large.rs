//! A 1 GiB file, sealed with cai-crypto's streaming envelope, goes into a
//! [`FolderBlobStore`] and back out through `open_stream` with bounded memory: the
//! plaintext is generated on the fly and hashed on both sides, and the process's peak
//! resident memory (`VmHWM`) may grow by at most 64 MiB. One test in its own binary, so
//! no other test's memory counts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
#![allow(clippy::indexing_slicing)]

mod sealed;

use cai_store::blobs::FolderBlobStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_gib_sealed_file_with_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let store = FolderBlobStore::open(dir.path()).await.unwrap();
    sealed::round_trip(std::sync::Arc::new(store), 1 << 30, 64 << 20).await;
}
