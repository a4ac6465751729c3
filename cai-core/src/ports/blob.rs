//! The blob port: file bodies, stored as opaque sealed streams (R-S4); see [`BlobStore`].

use std::sync::Arc;

use async_trait::async_trait;

use crate::id::{BlobId, TenantId};

/// The chunk size of the reference backends' reads and of [`BytesChunks`]: 64 KiB,
/// the default chunk of cai-crypto's streaming envelope.
pub const BLOB_CHUNK_LEN: usize = 64 * 1024;

/// Why a blob operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BlobError {
    /// The put's source yielded more than the put's `max_len`; nothing was stored.
    #[error("the blob is larger than its limit of {limit} bytes")]
    TooLarge {
        /// The put's `max_len`.
        limit: u64,
    },
    /// The put's source (or, on a read, the reader's consumer) failed; nothing was
    /// stored.
    #[error("the blob's source failed: {0}")]
    Source(String),
    /// The backend failed (I/O, network, object store). For operators' logs.
    #[error("blob backend: {0}")]
    Backend(String),
}

impl BlobError {
    /// A backend error from anything printable.
    pub fn backend(error: impl std::fmt::Display) -> Self {
        Self::Backend(error.to_string())
    }
}

/// A stream of byte chunks, pulled one at a time: a put's source or a get's reader.
#[async_trait]
pub trait BlobChunks: Send {
    /// The next chunk; `Ok(None)` at the end (and on every call after it). Empty
    /// chunks are allowed and carry nothing.
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, BlobError>;
}

/// A blob being read: its chunks in order, each of bounded size (the backend's choice;
/// 64 KiB for the memory and folder stores).
pub type BlobReader = Box<dyn BlobChunks>;

/// The blob store as the service holds it.
pub type DynBlobStore = Arc<dyn BlobStore>;

/// Storage for file bodies (sealed streams), by tenant and [`BlobId`] (R-S4).
///
/// A session file is sealed with cai-crypto's streaming envelope
/// (`cai_crypto::stream`) and its ciphertext goes to a [`BlobStore`], addressed by
/// (tenant, [`BlobId`]). Neither side ever holds the whole file: a put pulls chunks
/// from a [`BlobChunks`] source, a get hands back a [`BlobReader`] that yields chunks.
///
/// ## The seam: chunks pulled through an async trait
///
/// [`BlobChunks`] is the one streaming type, in both directions: `next_chunk` yields
/// the next bytes, `Ok(None)` at the end, or an error. It is an object-safe
/// `async_trait` with no runtime of its own (like [`blocking`](crate::blocking)), so
/// cai-core needs neither tokio's `AsyncRead` nor the `futures` crate; an adapter
/// from either is a few lines in the host. [`BytesChunks`] serves a byte vector in
/// chunks (tests, small blobs); [`read_all`] collects a reader, with a limit.
///
/// ## The contract every backend keeps
///
/// The blob conformance suite (feature `conformance`, `blob_conformance_tests!`)
/// checks each of them.
/// - **Complete or invisible**: a blob becomes readable only once [`BlobStore::put`]
///   returns `Ok`. A put whose source fails, that passes its limit, that the backend
///   cannot finish, or whose future is dropped leaves nothing readable, listable or
///   counted — and a blob that existed under the same id stays as it was. A completed
///   put replaces an existing blob of the same id as a whole.
/// - **Explicit limits**: every put names its `max_len`; the byte past it fails the put
///   with [`BlobError::TooLarge`]. A blob of exactly `max_len` bytes is stored. Nothing
///   is ever truncated silently.
/// - **Tenant isolation** (R-T1): every call takes the tenant; one tenant's get, size,
///   list and delete never see or touch another tenant's blobs, even with the same id.
/// - **Idempotent delete**: deleting a missing blob is `Ok`.
/// - **Bounded memory**: backends hold a fixed-size buffer per transfer, never the
///   blob (the in-memory store is the exception, by design).
/// - **Opaque bytes**: a backend stores the bytes as they are; they are ciphertext.
///
/// Blob ids are fresh [`BlobId::random`] values chosen by the service, never names
/// from user input; backends build their paths and keys from the ids alone.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Stores everything `source` yields as the blob `(tenant, blob)` and returns its
    /// length. The blob is visible only when this returns `Ok`; on any error nothing
    /// is (an earlier blob of the same id stays). Fails with [`BlobError::TooLarge`]
    /// as soon as the source passes `max_len` bytes, with the source's own error if
    /// it fails.
    async fn put(
        &self,
        tenant: TenantId,
        blob: BlobId,
        max_len: u64,
        source: &mut dyn BlobChunks,
    ) -> Result<u64, BlobError>;

    /// A reader of the blob, or `None` if the tenant has no such blob. A blob deleted
    /// or replaced while it is read may be read to its end as it was or fail with
    /// [`BlobError::Backend`], depending on the backend; it never yields a mixture.
    async fn get(&self, tenant: TenantId, blob: BlobId) -> Result<Option<BlobReader>, BlobError>;

    /// The blob's length in bytes, or `None` if the tenant has no such blob.
    async fn size(&self, tenant: TenantId, blob: BlobId) -> Result<Option<u64>, BlobError>;

    /// Whether the tenant has the blob.
    async fn exists(&self, tenant: TenantId, blob: BlobId) -> Result<bool, BlobError> {
        Ok(self.size(tenant, blob).await?.is_some())
    }

    /// Deletes the blob; `Ok` also if there was none (idempotent).
    async fn delete(&self, tenant: TenantId, blob: BlobId) -> Result<(), BlobError>;

    /// The tenant's blob ids in ascending order, those after `after` (exclusive), at
    /// most `limit` of them and never more than
    /// [`Page::MAX_LIMIT`](crate::ports::Page::MAX_LIMIT). For housekeeping (finding
    /// blobs no item refers to), not for clients.
    async fn list(
        &self,
        tenant: TenantId,
        after: Option<BlobId>,
        limit: u32,
    ) -> Result<Vec<BlobId>, BlobError>;
}

/// A byte vector served as [`BLOB_CHUNK_LEN`] chunks (or of a chosen size).
#[derive(Debug, Clone)]
pub struct BytesChunks {
    data: Vec<u8>,
    position: usize,
    chunk_len: usize,
}

impl BytesChunks {
    /// `data` in [`BLOB_CHUNK_LEN`] chunks.
    pub fn new(data: Vec<u8>) -> Self {
        Self::with_chunk_len(data, BLOB_CHUNK_LEN)
    }

    /// `data` in chunks of `chunk_len` bytes (at least one).
    pub fn with_chunk_len(data: Vec<u8>, chunk_len: usize) -> Self {
        Self {
            data,
            position: 0,
            chunk_len: chunk_len.max(1),
        }
    }
}

#[async_trait]
impl BlobChunks for BytesChunks {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, BlobError> {
        let rest = self.data.get(self.position..).unwrap_or_default();
        if rest.is_empty() {
            return Ok(None);
        }
        let take = rest.len().min(self.chunk_len);
        let chunk = rest.get(..take).unwrap_or_default().to_vec();
        self.position += take;
        Ok(Some(chunk))
    }
}

/// Reads `reader` to its end into memory, failing with [`BlobError::TooLarge`] past
/// `max_len` bytes. For small blobs and tests; large ones are streamed.
pub async fn read_all(reader: &mut dyn BlobChunks, max_len: u64) -> Result<Vec<u8>, BlobError> {
    let mut out = Vec::new();
    while let Some(chunk) = reader.next_chunk().await? {
        let total = (out.len() as u64).saturating_add(chunk.len() as u64);
        if total > max_len {
            return Err(BlobError::TooLarge { limit: max_len });
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}
