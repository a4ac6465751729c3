//! [`MemoryBlobStore`]: the blob contract in process memory.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;

use crate::id::{BlobId, TenantId};
use crate::ports::{BLOB_CHUNK_LEN, BlobChunks, BlobError, BlobReader, BlobStore, Page};

/// The stored blobs, by owner and id.
type Blobs = BTreeMap<(TenantId, BlobId), Arc<Vec<u8>>>;

/// Blobs in process memory, for tests and examples. Keeps the whole
/// [blob contract](crate::ports::BlobStore) except bounded memory: a put collects its
/// blob in memory before it becomes visible (so an aborted put leaves nothing), and a
/// stored blob stays in memory until deleted.
#[derive(Debug, Default)]
pub struct MemoryBlobStore {
    blobs: Mutex<Blobs>,
}

impl MemoryBlobStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn blob(&self, tenant: TenantId, blob: BlobId) -> Option<Arc<Vec<u8>>> {
        let blobs = self.blobs.lock().unwrap_or_else(PoisonError::into_inner);
        blobs.get(&(tenant, blob)).cloned()
    }
}

/// Reads a stored blob (shared, so a later replace or delete does not change it).
struct MemoryReader {
    data: Arc<Vec<u8>>,
    position: usize,
}

#[async_trait]
impl BlobChunks for MemoryReader {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, BlobError> {
        let rest = self.data.get(self.position..).unwrap_or_default();
        if rest.is_empty() {
            return Ok(None);
        }
        let take = rest.len().min(BLOB_CHUNK_LEN);
        self.position += take;
        Ok(Some(rest.get(..take).unwrap_or_default().to_vec()))
    }
}

#[async_trait]
impl BlobStore for MemoryBlobStore {
    async fn put(
        &self,
        tenant: TenantId,
        blob: BlobId,
        max_len: u64,
        source: &mut dyn BlobChunks,
    ) -> Result<u64, BlobError> {
        let mut data = Vec::new();
        while let Some(chunk) = source.next_chunk().await? {
            if (data.len() as u64).saturating_add(chunk.len() as u64) > max_len {
                return Err(BlobError::TooLarge { limit: max_len });
            }
            data.extend_from_slice(&chunk);
        }
        let len = data.len() as u64;
        let mut blobs = self.blobs.lock().unwrap_or_else(PoisonError::into_inner);
        blobs.insert((tenant, blob), Arc::new(data));
        Ok(len)
    }

    async fn get(&self, tenant: TenantId, blob: BlobId) -> Result<Option<BlobReader>, BlobError> {
        Ok(self
            .blob(tenant, blob)
            .map(|data| Box::new(MemoryReader { data, position: 0 }) as BlobReader))
    }

    async fn size(&self, tenant: TenantId, blob: BlobId) -> Result<Option<u64>, BlobError> {
        Ok(self.blob(tenant, blob).map(|data| data.len() as u64))
    }

    async fn delete(&self, tenant: TenantId, blob: BlobId) -> Result<(), BlobError> {
        let mut blobs = self.blobs.lock().unwrap_or_else(PoisonError::into_inner);
        blobs.remove(&(tenant, blob));
        Ok(())
    }

    async fn list(
        &self,
        tenant: TenantId,
        after: Option<BlobId>,
        limit: u32,
    ) -> Result<Vec<BlobId>, BlobError> {
        let limit = limit.min(Page::<BlobId>::MAX_LIMIT) as usize;
        let blobs = self.blobs.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(blobs
            .keys()
            .filter(|(owner, id)| *owner == tenant && after.is_none_or(|after| *id > after))
            .map(|(_, id)| *id)
            .take(limit)
            .collect())
    }
}
