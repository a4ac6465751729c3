//! The chunk adapters between the blob port's async pull streams ([`BlobChunks`]) and
//! cai-crypto's sync stream sealer and opener: seal while uploading, check a client's
//! stream header, open while downloading — one chunk in memory at a time.

use std::io::{Read, Write as _};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use cai_crypto::stream::{HEADER_LEN, StreamHeader, StreamOpener, StreamSealer};
use cai_crypto::{ContentKind, DataKey};
use zeroize::Zeroizing;

use super::super::context::ItemIds;
use super::manifest::too_large;
use crate::error::{Error, Result};
use crate::ports::{BlobChunks, BlobError, BlobReader, StoreError};

/// Plaintext bytes per chunk a download yields (server-managed sessions).
const READ_LEN: usize = 64 * 1024;
/// The stream chunk size the service seals with (`docs/STREAM.md` §4).
pub(super) const CHUNK: u64 = cai_crypto::stream::DEFAULT_CHUNK_SIZE as u64;

/// The sealed stream's length for `plain` bytes of plaintext (`docs/STREAM.md` §1.2).
pub(super) fn sealed_len(plain: u64) -> u64 {
    let chunks = plain.div_ceil(CHUNK).max(1);
    (HEADER_LEN as u64)
        .saturating_add(plain)
        .saturating_add(chunks.saturating_mul(16))
}

/// A byte buffer shared between a stream sealer or opener (sync `Write`/`Read`) and
/// the async chunk adapters around them.
#[derive(Clone, Default)]
pub(super) struct Shared(Arc<Mutex<Pipe>>);

#[derive(Default)]
struct Pipe {
    data: Zeroizing<Vec<u8>>,
    pos: usize,
    ended: bool,
}

impl Shared {
    fn with<T>(&self, f: impl FnOnce(&mut Pipe) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Everything written so far, leaving the buffer empty.
    fn drain(&self) -> Vec<u8> {
        self.with(|p| std::mem::take(&mut *p.data))
    }
}

impl std::io::Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.with(|p| p.data.extend_from_slice(buf));
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Reads what was fed; `WouldBlock` when it needs more and the input has not ended,
/// which the stream opener survives (`docs/STREAM.md` §8).
impl Read for Shared {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.with(|p| {
            let rest = p.data.get(p.pos..).unwrap_or_default();
            if rest.is_empty() {
                return if p.ended {
                    Ok(0)
                } else {
                    Err(std::io::ErrorKind::WouldBlock.into())
                };
            }
            let n = rest.len().min(buf.len());
            if let (Some(to), Some(from)) = (buf.get_mut(..n), rest.get(..n)) {
                to.copy_from_slice(from);
            }
            p.pos += n;
            Ok(n)
        })
    }
}

impl Shared {
    /// Feeds the next chunk of input (the previous one is fully read), or ends it.
    fn feed(&self, chunk: Option<Vec<u8>>) {
        self.with(|p| match chunk {
            Some(chunk) => {
                let unread = p.data.get(p.pos..).unwrap_or_default().to_vec();
                *p.data = unread;
                p.data.extend_from_slice(&chunk);
                p.pos = 0;
            }
            None => p.ended = true,
        });
    }

    fn buffered(&self) -> usize {
        self.with(|p| p.data.len().saturating_sub(p.pos))
    }
}

/// A put's source in server-managed sessions: pulls plaintext from the caller, seals
/// it as a stream and yields the ciphertext. Holds one chunk at a time.
pub(super) struct Sealing<'a> {
    pub(super) source: &'a mut dyn BlobChunks,
    pub(super) sealer: Option<StreamSealer<Shared>>,
    pub(super) out: Shared,
    pub(super) plain: u64,
    pub(super) limit: u64,
    /// Why this adapter failed the put (beats the put's own error).
    pub(super) failure: Option<Error>,
}

#[async_trait]
impl BlobChunks for Sealing<'_> {
    async fn next_chunk(&mut self) -> std::result::Result<Option<Vec<u8>>, BlobError> {
        loop {
            let Some(sealer) = self.sealer.as_mut() else {
                return Ok(None);
            };
            match self.source.next_chunk().await? {
                Some(chunk) => {
                    let chunk = Zeroizing::new(chunk);
                    self.plain = self.plain.saturating_add(chunk.len() as u64);
                    if self.plain > self.limit {
                        self.failure = Some(too_large("file", self.limit));
                        return Err(BlobError::TooLarge { limit: self.limit });
                    }
                    if let Err(e) = sealer.write_all(&chunk) {
                        self.failure = Some(Error::BlobStore(format!("sealing: {e}")));
                        return Err(BlobError::Source("sealing failed".into()));
                    }
                }
                None => {
                    if let Some(sealer) = self.sealer.take()
                        && let Err(e) = sealer.finish()
                    {
                        self.failure = Some(Error::Crypto(e));
                        return Err(BlobError::Source("sealing failed".into()));
                    }
                }
            }
            let sealed = self.out.drain();
            if !sealed.is_empty() {
                return Ok(Some(sealed));
            }
        }
    }
}

/// A put's source in client-sealed modes: passes the client's stream through after
/// checking that it starts with a stream header (`StreamHeader::parse`).
pub(super) struct Checked<'a> {
    pub(super) source: &'a mut dyn BlobChunks,
    pub(super) head: Option<Vec<u8>>,
    pub(super) failure: Option<Error>,
}

#[async_trait]
impl BlobChunks for Checked<'_> {
    async fn next_chunk(&mut self) -> std::result::Result<Option<Vec<u8>>, BlobError> {
        let Some(head) = self.head.as_mut() else {
            return self.source.next_chunk().await;
        };
        while head.len() < HEADER_LEN {
            match self.source.next_chunk().await? {
                Some(chunk) => head.extend_from_slice(&chunk),
                None => break,
            }
        }
        if let Err(e) = StreamHeader::parse(head.get(..HEADER_LEN).unwrap_or(head)) {
            self.failure = Some(Error::Crypto(e));
            return Err(BlobError::Source("not a sealed stream".into()));
        }
        Ok(self.head.take())
    }
}

/// A download's reader in server-managed sessions: pulls the sealed stream from the
/// blob and yields verified plaintext, one chunk of the stream at a time.
pub(super) struct Opening {
    blob: BlobReader,
    input: Shared,
    opener: StreamOpener<Shared>,
    done: bool,
}

impl Opening {
    pub(super) async fn new(
        mut blob: BlobReader,
        key: &DataKey,
        ids: &ItemIds,
        kind: ContentKind,
    ) -> Result<Self> {
        let input = Shared::default();
        // The opener reads the whole header at once: feed it first.
        while input.buffered() < HEADER_LEN {
            let chunk = blob.next_chunk().await.map_err(blob_error)?;
            let end = chunk.is_none();
            input.feed(chunk);
            if end {
                break;
            }
        }
        let opener =
            StreamOpener::new(key, &ids.context(1, kind), input.clone()).map_err(|_| {
                Error::Store(StoreError::Corrupt {
                    what: "file stream",
                })
            })?;
        Ok(Self {
            blob,
            input,
            opener,
            done: false,
        })
    }
}

#[async_trait]
impl BlobChunks for Opening {
    async fn next_chunk(&mut self) -> std::result::Result<Option<Vec<u8>>, BlobError> {
        loop {
            if self.done {
                return Ok(None);
            }
            let mut out = vec![0u8; READ_LEN];
            match self.opener.read(&mut out) {
                Ok(0) if self.opener.is_finished() => self.done = true,
                Ok(0) => return Err(BlobError::Backend("the file's stream ended early".into())),
                Ok(n) => {
                    out.truncate(n);
                    return Ok(Some(out));
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    let chunk = self.blob.next_chunk().await?;
                    self.input.feed(chunk);
                }
                Err(e) => {
                    return Err(BlobError::Backend(format!(
                        "the file's stream does not open: {e}"
                    )));
                }
            }
        }
    }
}

pub(super) fn blob_error(e: BlobError) -> Error {
    Error::BlobStore(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sealed_bound_matches_the_stream_format() {
        assert_eq!(sealed_len(0), HEADER_LEN as u64 + 16);
        assert_eq!(sealed_len(CHUNK), HEADER_LEN as u64 + CHUNK + 16);
        assert_eq!(sealed_len(CHUNK + 1), HEADER_LEN as u64 + CHUNK + 1 + 32);
    }
}
