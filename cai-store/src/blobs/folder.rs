//! [`FolderBlobStore`]: blobs as files in a per-tenant upload folder.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use cai_core::id::{BlobId, ID_LEN, TenantId};
use cai_core::ports::{BLOB_CHUNK_LEN, BlobChunks, BlobError, BlobReader, BlobStore, Page};
use tokio::fs;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The prefix of a put's temporary file, in the tenant's folder next to the blobs.
const TEMP_PREFIX: &str = ".tmp-";

/// Blobs as files under a root folder: `<root>/<tenant id, 32 hex digits>/<blob id,
/// 32 hex digits>`. The default blob store: a folder path is all a host gives.
///
/// - **Names from ids only**: folder and file names are the hex of the tenant's and the
///   blob's 16 id bytes; nothing from user input ever reaches a path.
/// - **Atomic visibility**: a put writes `.tmp-<blob>-<random>` in the tenant's folder,
///   flushes it to disk (`fsync`), renames it over the blob's name and syncs the folder.
///   A put that fails or is dropped removes its temporary file; one cut short by a
///   crash leaves it behind, and [`FolderBlobStore::open`] removes those. So a root is
///   for one process (or one `FolderBlobStore`) at a time: opening a second one on the
///   same root while the first writes would remove the first's temporary files.
/// - **Bounded memory**: a put writes each chunk as it arrives; a get reads in
///   [`BLOB_CHUNK_LEN`] chunks.
/// - On Unix, folders are created `0700` and files `0600`.
/// - [`BlobStore::list`] reads the tenant's whole folder (names only) per call: it is
///   for housekeeping.
#[derive(Debug, Clone)]
pub struct FolderBlobStore {
    root: PathBuf,
}

impl FolderBlobStore {
    /// Opens (creating if needed) the store at `root` and removes temporary files that
    /// interrupted puts left behind.
    pub async fn open(root: impl Into<PathBuf>) -> Result<Self, BlobError> {
        let root = root.into();
        create_dir(&root).await?;
        let store = Self { root };
        store.remove_temp_files().await?;
        Ok(store)
    }

    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn tenant_dir(&self, tenant: TenantId) -> PathBuf {
        self.root.join(hex::encode(tenant.as_bytes()))
    }

    fn blob_path(&self, tenant: TenantId, blob: BlobId) -> PathBuf {
        self.tenant_dir(tenant).join(hex::encode(blob.as_bytes()))
    }

    async fn remove_temp_files(&self) -> Result<(), BlobError> {
        let mut tenants = fs::read_dir(&self.root).await.map_err(BlobError::backend)?;
        while let Some(tenant) = tenants.next_entry().await.map_err(BlobError::backend)? {
            if parse_id(&tenant.file_name()).is_none() || !tenant.path().is_dir() {
                continue;
            }
            let mut files = fs::read_dir(tenant.path())
                .await
                .map_err(BlobError::backend)?;
            while let Some(file) = files.next_entry().await.map_err(BlobError::backend)? {
                if file
                    .file_name()
                    .to_str()
                    .is_some_and(|name| name.starts_with(TEMP_PREFIX))
                {
                    remove_if_present(&file.path()).await?;
                }
            }
        }
        Ok(())
    }
}

/// The id bytes a file or folder name is the hex of, if it is exactly that.
fn parse_id(name: &std::ffi::OsStr) -> Option<[u8; ID_LEN]> {
    let name = name.to_str()?;
    if name.len() != 2 * ID_LEN || name.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let mut bytes = [0u8; ID_LEN];
    hex::decode_to_slice(name, &mut bytes).ok()?;
    Some(bytes)
}

async fn create_dir(path: &Path) -> Result<(), BlobError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(0o700);
    builder.create(path).await.map_err(BlobError::backend)
}

async fn remove_if_present(path: &Path) -> Result<(), BlobError> {
    match fs::remove_file(path).await {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(BlobError::backend(e)),
        _ => Ok(()),
    }
}

/// Removes a put's temporary file unless the put renamed it: on every error return
/// and when the put's future is dropped half way.
struct TempFile {
    path: PathBuf,
    armed: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            // One unlink; nothing useful to do if it fails (open() removes leftovers).
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn temp_name(blob: BlobId) -> Result<String, BlobError> {
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).map_err(|_| BlobError::Backend("no randomness".into()))?;
    Ok(format!(
        "{TEMP_PREFIX}{}-{}",
        hex::encode(blob.as_bytes()),
        hex::encode(nonce)
    ))
}

/// Reads a blob file in [`BLOB_CHUNK_LEN`] chunks.
struct FileReader {
    file: fs::File,
    buffer: Vec<u8>,
}

#[async_trait]
impl BlobChunks for FileReader {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, BlobError> {
        let read = self
            .file
            .read(&mut self.buffer)
            .await
            .map_err(BlobError::backend)?;
        if read == 0 {
            return Ok(None);
        }
        Ok(self.buffer.get(..read).map(<[u8]>::to_vec))
    }
}

#[async_trait]
impl BlobStore for FolderBlobStore {
    async fn put(
        &self,
        tenant: TenantId,
        blob: BlobId,
        max_len: u64,
        source: &mut dyn BlobChunks,
    ) -> Result<u64, BlobError> {
        let dir = self.tenant_dir(tenant);
        create_dir(&dir).await?;
        let mut temp = TempFile {
            path: dir.join(temp_name(blob)?),
            armed: true,
        };
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        options.mode(0o600);
        let mut file = options.open(&temp.path).await.map_err(BlobError::backend)?;

        let mut written = 0u64;
        while let Some(chunk) = source.next_chunk().await? {
            written = written.saturating_add(chunk.len() as u64);
            if written > max_len {
                return Err(BlobError::TooLarge { limit: max_len });
            }
            file.write_all(&chunk).await.map_err(BlobError::backend)?;
        }
        file.flush().await.map_err(BlobError::backend)?;
        file.sync_all().await.map_err(BlobError::backend)?;
        drop(file);
        fs::rename(&temp.path, self.blob_path(tenant, blob))
            .await
            .map_err(BlobError::backend)?;
        temp.armed = false;
        // The rename is durable once the folder is synced (Unix; elsewhere a no-op).
        #[cfg(unix)]
        fs::File::open(&dir)
            .await
            .map_err(BlobError::backend)?
            .sync_all()
            .await
            .map_err(BlobError::backend)?;
        Ok(written)
    }

    async fn get(&self, tenant: TenantId, blob: BlobId) -> Result<Option<BlobReader>, BlobError> {
        match fs::File::open(self.blob_path(tenant, blob)).await {
            Ok(file) => Ok(Some(Box::new(FileReader {
                file,
                buffer: vec![0; BLOB_CHUNK_LEN],
            }))),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(BlobError::backend(e)),
        }
    }

    async fn size(&self, tenant: TenantId, blob: BlobId) -> Result<Option<u64>, BlobError> {
        match fs::metadata(self.blob_path(tenant, blob)).await {
            Ok(meta) => Ok(Some(meta.len())),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(BlobError::backend(e)),
        }
    }

    async fn delete(&self, tenant: TenantId, blob: BlobId) -> Result<(), BlobError> {
        remove_if_present(&self.blob_path(tenant, blob)).await
    }

    async fn list(
        &self,
        tenant: TenantId,
        after: Option<BlobId>,
        limit: u32,
    ) -> Result<Vec<BlobId>, BlobError> {
        let limit = limit.min(Page::<BlobId>::MAX_LIMIT) as usize;
        let mut entries = match fs::read_dir(self.tenant_dir(tenant)).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(BlobError::backend(e)),
        };
        let mut ids = Vec::new();
        while let Some(entry) = entries.next_entry().await.map_err(BlobError::backend)? {
            if let Some(id) = parse_id(&entry.file_name()).map(BlobId::from_bytes)
                && after.is_none_or(|after| id > after)
            {
                ids.push(id);
            }
        }
        ids.sort_unstable();
        ids.truncate(limit);
        Ok(ids)
    }
}
