//! The blob conformance suite: the [blob contract](crate::ports::BlobStore) checked
//! against a backend. Run it with [`blob_conformance_tests!`](crate::blob_conformance_tests);
//! each case is also a plain `pub async fn(DynBlobStore)`.

use std::future::Future;
use std::pin::Pin;

use async_trait::async_trait;

use crate::id::{BlobId, TenantId};
use crate::ports::{BlobChunks, BlobError, BytesChunks, DynBlobStore, read_all};

/// A put (or other blob work) started by a [`BlobSpawn`].
pub type BlobTask = Pin<Box<dyn Future<Output = Result<(), BlobError>> + Send + 'static>>;

/// Starts `task` at once on the runtime (so tasks run in parallel) and returns a
/// future of its result.
pub type BlobSpawn = fn(BlobTask) -> BlobTask;

const NO_LIMIT: u64 = u64::MAX;

/// Deterministic test bytes: `len` bytes from `seed`.
pub fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// A source that yields `good` bytes (in chunks of 1000) and then fails, as an upload
/// cut off half way does.
#[derive(Debug)]
pub struct FailingSource {
    inner: BytesChunks,
}

impl FailingSource {
    /// Yields `good`, then [`BlobError::Source`].
    pub fn new(good: Vec<u8>) -> Self {
        Self {
            inner: BytesChunks::with_chunk_len(good, 1000),
        }
    }
}

#[async_trait]
impl BlobChunks for FailingSource {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, BlobError> {
        match self.inner.next_chunk().await? {
            Some(chunk) => Ok(Some(chunk)),
            None => Err(BlobError::Source("connection reset".into())),
        }
    }
}

async fn put_bytes(store: &DynBlobStore, t: TenantId, b: BlobId, data: &[u8]) -> u64 {
    let mut source = BytesChunks::with_chunk_len(data.to_vec(), 7000);
    store.put(t, b, NO_LIMIT, &mut source).await.unwrap()
}

async fn get_bytes(store: &DynBlobStore, t: TenantId, b: BlobId) -> Option<Vec<u8>> {
    let mut reader = store.get(t, b).await.unwrap()?;
    Some(read_all(reader.as_mut(), NO_LIMIT).await.unwrap())
}

fn ids() -> (TenantId, BlobId) {
    (TenantId::random().unwrap(), BlobId::random().unwrap())
}

/// A blob goes in and comes out unchanged; an empty blob too; a put replaces.
pub async fn round_trip(store: DynBlobStore) {
    let (t, b) = ids();
    assert_eq!(get_bytes(&store, t, b).await, None);
    assert_eq!(store.size(t, b).await.unwrap(), None);
    assert!(!store.exists(t, b).await.unwrap());

    let data = pattern(1, 200_000);
    assert_eq!(put_bytes(&store, t, b, &data).await, 200_000);
    assert_eq!(get_bytes(&store, t, b).await.as_deref(), Some(&data[..]));
    assert_eq!(store.size(t, b).await.unwrap(), Some(200_000));
    assert!(store.exists(t, b).await.unwrap());
    assert_eq!(store.list(t, None, 10).await.unwrap(), vec![b]);

    // Chunks are bounded, not the whole blob at once.
    let mut reader = store.get(t, b).await.unwrap().unwrap();
    let first = reader.next_chunk().await.unwrap().unwrap();
    assert!(first.len() < data.len(), "a get yields the blob in chunks");

    let empty = BlobId::random().unwrap();
    assert_eq!(put_bytes(&store, t, empty, &[]).await, 0);
    assert_eq!(get_bytes(&store, t, empty).await, Some(Vec::new()));
    assert_eq!(store.size(t, empty).await.unwrap(), Some(0));

    let replacement = pattern(2, 5000);
    assert_eq!(put_bytes(&store, t, b, &replacement).await, 5000);
    assert_eq!(get_bytes(&store, t, b).await, Some(replacement));
    assert_eq!(store.size(t, b).await.unwrap(), Some(5000));
}

/// Tenant B can neither read, size, list nor delete tenant A's blob, even by its id;
/// the same id under two tenants is two blobs.
pub async fn tenant_isolation(store: DynBlobStore) {
    let (a, blob) = ids();
    let b = TenantId::random().unwrap();
    let data = pattern(3, 10_000);
    put_bytes(&store, a, blob, &data).await;

    assert!(store.get(b, blob).await.unwrap().is_none());
    assert_eq!(store.size(b, blob).await.unwrap(), None);
    assert!(!store.exists(b, blob).await.unwrap());
    assert!(store.list(b, None, 100).await.unwrap().is_empty());
    store.delete(b, blob).await.unwrap();
    assert_eq!(get_bytes(&store, a, blob).await.as_deref(), Some(&data[..]));

    let other = pattern(4, 300);
    put_bytes(&store, b, blob, &other).await;
    assert_eq!(get_bytes(&store, a, blob).await.as_deref(), Some(&data[..]));
    assert_eq!(get_bytes(&store, b, blob).await, Some(other));
    store.delete(a, blob).await.unwrap();
    assert_eq!(get_bytes(&store, a, blob).await, None);
    assert_eq!(store.size(b, blob).await.unwrap(), Some(300));
}

/// A put whose source fails half way leaves nothing, and an earlier blob of the same
/// id stays as it was.
pub async fn abort_leaves_nothing(store: DynBlobStore) {
    let (t, b) = ids();
    let mut source = FailingSource::new(pattern(5, 150_000));
    let error = store.put(t, b, NO_LIMIT, &mut source).await.unwrap_err();
    assert!(matches!(error, BlobError::Source(_)), "{error:?}");
    assert!(store.get(t, b).await.unwrap().is_none());
    assert_eq!(store.size(t, b).await.unwrap(), None);
    assert!(store.list(t, None, 100).await.unwrap().is_empty());

    let data = pattern(6, 40_000);
    put_bytes(&store, t, b, &data).await;
    let mut source = FailingSource::new(pattern(7, 90_000));
    assert!(store.put(t, b, NO_LIMIT, &mut source).await.is_err());
    assert_eq!(get_bytes(&store, t, b).await.as_deref(), Some(&data[..]));
    assert_eq!(store.list(t, None, 100).await.unwrap(), vec![b]);
}

/// Delete removes the blob and is idempotent.
pub async fn delete(store: DynBlobStore) {
    let (t, b) = ids();
    let keep = BlobId::random().unwrap();
    put_bytes(&store, t, b, &pattern(8, 1000)).await;
    put_bytes(&store, t, keep, &pattern(9, 1000)).await;
    store.delete(t, b).await.unwrap();
    assert!(store.get(t, b).await.unwrap().is_none());
    assert_eq!(store.size(t, b).await.unwrap(), None);
    assert_eq!(store.list(t, None, 100).await.unwrap(), vec![keep]);
    store.delete(t, b).await.unwrap();
    store.delete(t, BlobId::random().unwrap()).await.unwrap();
    store.delete(TenantId::random().unwrap(), b).await.unwrap();
    assert_eq!(store.size(t, keep).await.unwrap(), Some(1000));
}

/// A blob of exactly the limit is stored; one byte more is [`BlobError::TooLarge`]
/// and leaves nothing (whether the extra byte comes in its own chunk or not).
pub async fn size_limit(store: DynBlobStore) {
    let (t, b) = ids();
    let limit = 100_000u64;
    let exact = pattern(10, 100_000);
    let mut source = BytesChunks::with_chunk_len(exact.clone(), 10_000);
    assert_eq!(store.put(t, b, limit, &mut source).await.unwrap(), limit);
    assert_eq!(get_bytes(&store, t, b).await, Some(exact.clone()));

    for chunk_len in [10_000, 7, 100_001] {
        let over = BlobId::random().unwrap();
        let mut source = BytesChunks::with_chunk_len(pattern(11, 100_001), chunk_len);
        let error = store.put(t, over, limit, &mut source).await.unwrap_err();
        assert_eq!(error, BlobError::TooLarge { limit });
        assert!(store.get(t, over).await.unwrap().is_none());
        assert_eq!(store.size(t, over).await.unwrap(), None);
    }
    // Over the limit on a replace keeps the old blob.
    let mut source = BytesChunks::new(pattern(12, 100_001));
    assert_eq!(
        store.put(t, b, limit, &mut source).await.unwrap_err(),
        BlobError::TooLarge { limit }
    );
    assert_eq!(get_bytes(&store, t, b).await, Some(exact));
    assert_eq!(store.list(t, None, 100).await.unwrap(), vec![b]);

    let zero = BlobId::random().unwrap();
    let mut source = BytesChunks::new(vec![1]);
    assert_eq!(
        store.put(t, zero, 0, &mut source).await.unwrap_err(),
        BlobError::TooLarge { limit: 0 }
    );
    let mut source = BytesChunks::new(Vec::new());
    assert_eq!(store.put(t, zero, 0, &mut source).await.unwrap(), 0);
}

/// Listing is ascending by id, pages with `after`, honours `limit`.
pub async fn listing(store: DynBlobStore) {
    let t = TenantId::random().unwrap();
    let mut blobs: Vec<BlobId> = (0..5).map(|_| BlobId::random().unwrap()).collect();
    for (i, b) in blobs.iter().enumerate() {
        put_bytes(&store, t, *b, &pattern(i as u8, 10)).await;
    }
    blobs.sort();
    assert_eq!(store.list(t, None, 100).await.unwrap(), blobs);
    assert_eq!(store.list(t, None, 2).await.unwrap(), blobs[..2]);
    assert_eq!(store.list(t, Some(blobs[1]), 2).await.unwrap(), blobs[2..4]);
    assert_eq!(
        store.list(t, Some(blobs[4]), 2).await.unwrap(),
        Vec::<BlobId>::new()
    );
    assert_eq!(store.list(t, None, 0).await.unwrap(), Vec::<BlobId>::new());
}

/// Puts of different blobs running at once all land, each with its own bytes.
pub async fn concurrent_puts(store: DynBlobStore, spawn: BlobSpawn) {
    let t = TenantId::random().unwrap();
    let blobs: Vec<(BlobId, Vec<u8>)> = (0..8u8)
        .map(|i| {
            (
                BlobId::random().unwrap(),
                pattern(i, 50_000 + usize::from(i)),
            )
        })
        .collect();
    let tasks: Vec<BlobTask> = blobs
        .iter()
        .map(|(b, data)| {
            let store = store.clone();
            let (b, data) = (*b, data.clone());
            spawn(Box::pin(async move {
                let mut source = BytesChunks::with_chunk_len(data, 4096);
                store.put(t, b, NO_LIMIT, &mut source).await.map(|_| ())
            }))
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    for (b, data) in &blobs {
        assert_eq!(get_bytes(&store, t, *b).await.as_deref(), Some(&data[..]));
    }
    assert_eq!(store.list(t, None, 100).await.unwrap().len(), blobs.len());
}

/// Runs the [blob conformance suite](crate::conformance::blobs) against a backend: one
/// `#[tokio::test]` per case in a module `blob_conformance`.
///
/// The argument is an expression evaluating to a future of a fresh
/// [`DynBlobStore`](crate::ports::DynBlobStore) (cases use fresh tenant ids, so a
/// shared backing store works too); it is evaluated once per case, inside the
/// generated module (which imports `super::*`). The invoking crate needs `tokio` with
/// the `macros` and `rt-multi-thread` features.
///
/// ```
/// cai_core::blob_conformance_tests!(async {
///     std::sync::Arc::new(cai_core::memory::MemoryBlobStore::new())
///         as cai_core::ports::DynBlobStore
/// });
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! blob_conformance_tests {
    ($new_store:expr $(,)?) => {
        #[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
        mod blob_conformance {
            #[allow(unused_imports)]
            use super::*;

            async fn new_store() -> $crate::ports::DynBlobStore {
                ($new_store).await
            }

            fn spawn(
                task: $crate::conformance::blobs::BlobTask,
            ) -> $crate::conformance::blobs::BlobTask {
                let handle = ::tokio::spawn(task);
                ::std::boxed::Box::pin(async move {
                    handle.await.map_err($crate::ports::BlobError::backend)?
                })
            }

            #[::tokio::test]
            async fn round_trip() {
                $crate::conformance::blobs::round_trip(new_store().await).await;
            }
            #[::tokio::test]
            async fn tenant_isolation() {
                $crate::conformance::blobs::tenant_isolation(new_store().await).await;
            }
            #[::tokio::test]
            async fn abort_leaves_nothing() {
                $crate::conformance::blobs::abort_leaves_nothing(new_store().await).await;
            }
            #[::tokio::test]
            async fn delete() {
                $crate::conformance::blobs::delete(new_store().await).await;
            }
            #[::tokio::test]
            async fn size_limit() {
                $crate::conformance::blobs::size_limit(new_store().await).await;
            }
            #[::tokio::test]
            async fn listing() {
                $crate::conformance::blobs::listing(new_store().await).await;
            }
            #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn concurrent_puts() {
                $crate::conformance::blobs::concurrent_puts(new_store().await, spawn).await;
            }
        }
    };
}
