//! Streams a sealed file of any size through a blob store and back, checking hashes
//! and peak memory (shared by the folder and S3 tests).
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use cai_core::id::{BlobId, TenantId};
use cai_core::ports::{BlobChunks, BlobError, BlobReader, DynBlobStore};
use cai_crypto::stream::{StreamSealer, open_stream};
use cai_crypto::{ContentKind, DataKey, ItemContext, KeyEpoch};
use sha2::{Digest, Sha256};

const BLOCK: usize = 64 * 1024;

/// The process's peak resident memory so far, in bytes (Linux `VmHWM`).
pub(crate) fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// Plaintext block `n`: a fixed pattern with the block number in front, so every
/// block differs and nothing repeats at the envelope's chunk size.
fn block(base: &[u8], n: u64) -> Vec<u8> {
    let mut out = base.to_vec();
    out[..8].copy_from_slice(&n.to_le_bytes());
    out
}

/// The sealer's output, drained by the source after every block.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Generates `len` bytes of plaintext, seals them on the fly and yields the ciphertext.
struct SealingSource {
    sealer: Option<StreamSealer<Shared>>,
    out: Shared,
    base: Vec<u8>,
    next_block: u64,
    remaining: u64,
    hash: Sha256,
}

#[async_trait]
impl BlobChunks for SealingSource {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, BlobError> {
        let Some(sealer) = self.sealer.as_mut() else {
            return Ok(None);
        };
        if self.remaining > 0 {
            let take = self.remaining.min(BLOCK as u64) as usize;
            let plain = block(&self.base, self.next_block);
            self.next_block += 1;
            self.remaining -= take as u64;
            self.hash.update(&plain[..take]);
            sealer.write_all(&plain[..take]).unwrap();
        } else {
            self.sealer.take().unwrap().finish().unwrap();
        }
        Ok(Some(std::mem::take(&mut *self.out.0.lock().unwrap())))
    }
}

/// A blob reader as `std::io::Read`, for `open_stream`, on a blocking thread.
struct ChunkRead {
    reader: BlobReader,
    handle: tokio::runtime::Handle,
    chunk: Vec<u8>,
    position: usize,
}

impl Read for ChunkRead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.position == self.chunk.len() {
            match self.handle.block_on(self.reader.next_chunk()) {
                Ok(Some(chunk)) => (self.chunk, self.position) = (chunk, 0),
                Ok(None) => return Ok(0),
                Err(e) => return Err(io::Error::other(e)),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.position);
        buf[..n].copy_from_slice(&self.chunk[self.position..self.position + n]);
        self.position += n;
        Ok(n)
    }
}

/// Hashes what `open_stream` writes.
struct HashWriter(Sha256);

impl Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Seals `len` bytes into `store` and opens them back, asserting equal hashes, the
/// stored size (header, chunks and tags) and that peak memory grew by less than
/// `max_growth` bytes.
pub(crate) async fn round_trip(store: DynBlobStore, len: u64, max_growth: u64) {
    let start = peak_rss();
    let (tenant, blob) = (TenantId::random().unwrap(), BlobId::random().unwrap());
    let key = DataKey::generate(KeyEpoch::INITIAL).unwrap();
    let (t, i) = (tenant.as_bytes().to_vec(), blob.as_bytes().to_vec());
    let ctx = ItemContext::new(&t, b"session", &i, 0, ContentKind::File);
    let out = Shared::default();
    let base: Vec<u8> = (0..BLOCK).map(|i| (i * 7 + 3) as u8).collect();
    let mut source = SealingSource {
        sealer: Some(StreamSealer::new(&key, &ctx, out.clone()).unwrap()),
        out,
        base,
        next_block: 0,
        remaining: len,
        hash: Sha256::new(),
    };
    let stored = store
        .put(tenant, blob, len + len / 100 + 4096, &mut source)
        .await
        .unwrap();
    assert!(
        stored > len,
        "the sealed stream is longer than the plaintext"
    );
    assert_eq!(store.size(tenant, blob).await.unwrap(), Some(stored));
    let sealed_hash = source.hash.finalize();

    let reader = store.get(tenant, blob).await.unwrap().unwrap();
    let handle = tokio::runtime::Handle::current();
    let (opened, hash) = tokio::task::spawn_blocking(move || {
        let ctx = ItemContext::new(&t, b"session", &i, 0, ContentKind::File);
        let input = ChunkRead {
            reader,
            handle,
            chunk: Vec::new(),
            position: 0,
        };
        let mut output = HashWriter(Sha256::new());
        let opened = open_stream(&key, &ctx, input, &mut output).unwrap();
        (opened, output.0.finalize())
    })
    .await
    .unwrap();
    assert_eq!(opened, len);
    assert_eq!(hash, sealed_hash, "what came out is what went in");

    let growth = peak_rss().saturating_sub(start);
    eprintln!("{len}-byte sealed file: peak memory grew by {growth} bytes");
    assert!(
        growth < max_growth,
        "peak memory grew by {growth} bytes for a {len}-byte file"
    );
    store.delete(tenant, blob).await.unwrap();
    assert!(!store.exists(tenant, blob).await.unwrap());
}
