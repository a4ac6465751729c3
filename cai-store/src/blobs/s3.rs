//! [`S3BlobStore`]: blobs as objects in S3-compatible object storage (feature `s3`).

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use cai_core::id::{BlobId, ID_LEN, TenantId};
use cai_core::ports::{BlobChunks, BlobError, BlobReader, BlobStore, Page};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};

/// The default part size of multipart uploads: 8 MiB.
pub const DEFAULT_PART_LEN: usize = 8 * 1024 * 1024;
/// The smallest part size S3 accepts (every part but the last): 5 MiB.
pub const MIN_PART_LEN: usize = 5 * 1024 * 1024;
/// Parts uploaded at once by one put.
const PARTS_IN_FLIGHT: usize = 2;

/// Blobs as objects of an [`ObjectStore`] — built for S3 and S3-compatible servers
/// (`object_store`'s `AmazonS3Builder`), usable with any of its backends. Keys are
/// `<prefix>/<tenant id, 32 hex digits>/<blob id, 32 hex digits>`: the prefix is the
/// operator's, the rest comes from ids only.
///
/// - **Atomic visibility**: a blob that fits in one part is one `PUT`; a larger one is
///   a multipart upload, visible only once completed. A put that fails (source error,
///   limit, backend) aborts its multipart upload, so nothing is visible and no parts
///   are kept. A put whose future is *dropped* mid-upload cannot abort (that needs a
///   request): its parts stay invisible but stored until the bucket's lifecycle rule
///   `AbortIncompleteMultipartUpload` removes them — configure one.
/// - **Bounded memory**: at most one part being filled plus two in flight, so about
///   three times the part size per put ([`DEFAULT_PART_LEN`], settable with
///   [`S3BlobStore::with_part_len`]).
/// - [`BlobStore::list`] lists the tenant's prefix from the key after `after`.
#[derive(Debug, Clone)]
pub struct S3BlobStore {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    part_len: usize,
}

impl S3BlobStore {
    /// Blobs in `store` under `prefix` (an operator-chosen path such as `cai/blobs`;
    /// empty for the bucket's root). Fails if `prefix` is not a valid object path.
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str) -> Result<Self, BlobError> {
        let prefix = Path::parse(prefix).map_err(BlobError::backend)?;
        Ok(Self {
            store,
            prefix,
            part_len: DEFAULT_PART_LEN,
        })
    }

    /// The part size of multipart uploads (raised to [`MIN_PART_LEN`]); blobs up to it
    /// are stored with a single `PUT`.
    #[must_use]
    pub fn with_part_len(mut self, part_len: usize) -> Self {
        self.part_len = part_len.max(MIN_PART_LEN);
        self
    }

    fn tenant_prefix(&self, tenant: TenantId) -> Path {
        self.prefix.clone().join(hex::encode(tenant.as_bytes()))
    }

    fn key(&self, tenant: TenantId, blob: BlobId) -> Path {
        self.tenant_prefix(tenant)
            .join(hex::encode(blob.as_bytes()))
    }

    /// Feeds the rest of `source` into a started multipart upload.
    async fn upload_rest(
        writer: &mut WriteMultipart,
        source: &mut dyn BlobChunks,
        mut written: u64,
        max_len: u64,
    ) -> Result<u64, BlobError> {
        while let Some(chunk) = source.next_chunk().await? {
            written = written.saturating_add(chunk.len() as u64);
            if written > max_len {
                return Err(BlobError::TooLarge { limit: max_len });
            }
            writer
                .wait_for_capacity(PARTS_IN_FLIGHT)
                .await
                .map_err(BlobError::backend)?;
            writer.put(Bytes::from(chunk));
        }
        Ok(written)
    }
}

fn is_not_found(error: &object_store::Error) -> bool {
    matches!(error, object_store::Error::NotFound { .. })
}

/// Reads an object's body as the chunks the connection delivers.
struct ObjectReader {
    body: BoxStream<'static, object_store::Result<Bytes>>,
}

#[async_trait]
impl BlobChunks for ObjectReader {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, BlobError> {
        match self.body.next().await {
            None => Ok(None),
            Some(Ok(bytes)) => Ok(Some(bytes.to_vec())),
            Some(Err(e)) => Err(BlobError::backend(e)),
        }
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put(
        &self,
        tenant: TenantId,
        blob: BlobId,
        max_len: u64,
        source: &mut dyn BlobChunks,
    ) -> Result<u64, BlobError> {
        let key = self.key(tenant, blob);
        // The first part's worth decides: a small blob is one PUT.
        let mut first = Vec::new();
        let mut written = 0u64;
        while first.len() < self.part_len {
            let Some(chunk) = source.next_chunk().await? else {
                self.store
                    .put(&key, first.into())
                    .await
                    .map_err(BlobError::backend)?;
                return Ok(written);
            };
            written = written.saturating_add(chunk.len() as u64);
            if written > max_len {
                return Err(BlobError::TooLarge { limit: max_len });
            }
            first.extend_from_slice(&chunk);
        }
        let upload = self
            .store
            .put_multipart(&key)
            .await
            .map_err(BlobError::backend)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, self.part_len);
        writer.put(Bytes::from(first));
        match Self::upload_rest(&mut writer, source, written, max_len).await {
            Ok(written) => {
                // `finish` aborts the upload itself when completing fails.
                writer.finish().await.map_err(BlobError::backend)?;
                Ok(written)
            }
            Err(error) => {
                if let Err(abort) = writer.abort().await {
                    tracing::warn!(%abort, "aborting a multipart upload failed");
                }
                Err(error)
            }
        }
    }

    async fn get(&self, tenant: TenantId, blob: BlobId) -> Result<Option<BlobReader>, BlobError> {
        match self.store.get(&self.key(tenant, blob)).await {
            Ok(result) => Ok(Some(Box::new(ObjectReader {
                body: result.into_stream(),
            }))),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(BlobError::backend(e)),
        }
    }

    async fn size(&self, tenant: TenantId, blob: BlobId) -> Result<Option<u64>, BlobError> {
        match self.store.head(&self.key(tenant, blob)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(BlobError::backend(e)),
        }
    }

    async fn delete(&self, tenant: TenantId, blob: BlobId) -> Result<(), BlobError> {
        match self.store.delete(&self.key(tenant, blob)).await {
            Err(e) if !is_not_found(&e) => Err(BlobError::backend(e)),
            _ => Ok(()),
        }
    }

    async fn list(
        &self,
        tenant: TenantId,
        after: Option<BlobId>,
        limit: u32,
    ) -> Result<Vec<BlobId>, BlobError> {
        let limit = limit.min(Page::<BlobId>::MAX_LIMIT) as usize;
        let prefix = self.tenant_prefix(tenant);
        let mut listing = match after {
            Some(after) => self
                .store
                .list_with_offset(Some(&prefix), &self.key(tenant, after)),
            None => self.store.list(Some(&prefix)),
        };
        let mut ids = Vec::new();
        while ids.len() < limit {
            let Some(meta) = listing.next().await else {
                break;
            };
            let meta = meta.map_err(BlobError::backend)?;
            // Only direct children named by a blob id count.
            if meta.location.prefix_match(&prefix).map(|rest| rest.count()) != Some(1) {
                continue;
            }
            let Some(name) = meta.location.filename() else {
                continue;
            };
            let mut bytes = [0u8; ID_LEN];
            if name.len() == 2 * ID_LEN
                && !name.bytes().any(|b| b.is_ascii_uppercase())
                && hex::decode_to_slice(name, &mut bytes).is_ok()
            {
                let id = BlobId::from_bytes(bytes);
                if after.is_none_or(|after| id > after) {
                    ids.push(id);
                }
            }
        }
        // S3 lists in key order, which is id order (lowercase hex); other object stores
        // need not.
        ids.sort_unstable();
        Ok(ids)
    }
}
