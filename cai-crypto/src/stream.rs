//! Streaming envelope v1: files and recordings of any size in constant memory.
//!
//! The format is specified byte by byte in `docs/STREAM.md`; this module uses the same
//! names. It is the STREAM construction of age v1, Tink's streaming AEAD and C2SP
//! chunked encryption, with the header and key commitment of [`crate::envelope`]:
//!
//! ```text
//! header (94 bytes): magic "CAIS" | version 0x01 | suite 0x01 | key_id[16] | epoch u32be
//!                    | salt[32] | commitment[32] | chunk_size u32be
//! chunk 0 .. chunk n: AES-256-GCM(subkey, nonce_i, aad, plaintext_i) = ciphertext_i ‖ tag_i[16]
//! ```
//!
//! * **Subkey and commitment.** `subkey ‖ commitment = HKDF-SHA256(ikm = data key,
//!   salt, info = "cai stream v1" ‖ suite ‖ key_id ‖ epoch_be, L = 64)` with a fresh
//!   random 256-bit salt per stream. The opener compares the commitment in constant time
//!   before decrypting anything ([`Error::KeyCommitmentMismatch`]).
//! * **Nonces.** Chunk `i` uses `nonce = i as 11-byte big-endian ‖ last`, where `last`
//!   is `0x01` for the final chunk and `0x00` otherwise. Reordering, duplicating or
//!   dropping chunks, or cutting the stream at a chunk boundary, therefore fails.
//! * **Volume cap.** All chunks of a stream are sealed under its one subkey, so a stream
//!   carries at most [`MAX_BYTES_PER_STREAM`] plaintext bytes (2^40, as an envelope
//!   subkey) in at most [`MAX_CHUNKS_PER_STREAM`] chunks. The sealer refuses to go past
//!   either ([`Error::TooLarge`]); the opener refuses a chunk beyond them before
//!   decrypting it ([`Error::TooLarge`], [`Error::LimitExceeded`]).
//! * **Associated data** of every chunk is the 94 header bytes followed by the encoded
//!   [`ItemContext`]: a stream cannot be moved to another item, and no header byte can
//!   change.
//! * **Chunk sizes.** Every chunk but the last carries exactly `chunk_size` plaintext
//!   bytes; the last carries `0..=chunk_size` bytes, and `0` only if it is also the
//!   first (the empty stream).
//!
//! # Plaintext is provisional until the stream completes
//!
//! [`StreamOpener`] releases a chunk's plaintext only after that chunk's tag verified,
//! but it cannot know that *more* chunks will follow, or verify, before it reaches
//! them. A consumer must treat everything it has read as **provisional** until the
//! opener has returned end-of-file (`Ok(0)`) without an error — only then has the final
//! chunk verified and the absence of trailing data been checked
//! ([`StreamOpener::is_finished`]). Write to a temporary location and commit (rename,
//! mark as complete) only afterwards; on any error discard what was written. This is
//! the same contract as age.
//!
//! # Example
//!
//! ```
//! use std::io::{Read, Write};
//! use cai_crypto::{ContentKind, DataKey, ItemContext, KeyEpoch, stream};
//!
//! let key = DataKey::generate(KeyEpoch::INITIAL)?;
//! let ctx = ItemContext::new(b"tenant-1", b"session-9", b"file-3", 1, ContentKind::File);
//!
//! // Seal: write plaintext in pieces of any size, then `finish`.
//! let mut sealer = stream::StreamSealer::new(&key, &ctx, Vec::new())?;
//! sealer.write_all(b"a recording, ")?;
//! sealer.write_all(b"in as many writes as you like")?;
//! let sealed: Vec<u8> = sealer.finish()?;
//!
//! // Open: read until end-of-file; only then is the plaintext final.
//! let mut opener = stream::StreamOpener::new(&key, &ctx, sealed.as_slice())?;
//! let mut plaintext = Vec::new();
//! opener.read_to_end(&mut plaintext)?;
//! assert!(opener.is_finished());
//! assert_eq!(plaintext, b"a recording, in as many writes as you like");
//!
//! // The convenience functions copy between any `Read` and `Write`.
//! let mut sealed = Vec::new();
//! stream::seal_stream(&key, &ctx, &b"notes"[..], &mut sealed)?;
//! let mut out = Vec::new();
//! assert_eq!(stream::open_stream(&key, &ctx, sealed.as_slice(), &mut out)?, 5);
//!
//! // A truncated stream does not open.
//! sealed.pop();
//! let err = stream::open_stream(&key, &ctx, sealed.as_slice(), &mut Vec::new());
//! assert!(err.is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io::{self, Read, Write};

use zeroize::{Zeroize, Zeroizing};

use crate::aead::{AeadBackend, AeadKey, NONCE_LEN, TAG_LEN, default_backend};
use crate::kdf::{LABEL_STREAM, hkdf_sha256};
use crate::keys::{DataKey, KEY_ID_LEN, KeyEpoch, KeyId};
use crate::secret::{SecretBytes, ct_eq_slices, random_array};
use crate::{Error, ItemContext, Result};

/// The four magic bytes that open every stream.
pub const MAGIC: [u8; 4] = *b"CAIS";
/// The format version this module writes and reads.
pub const VERSION: u8 = 0x01;
/// Suite 0x01: AES-256-GCM, HKDF-SHA256 subkey, HKDF-derived 256-bit commitment.
pub const SUITE_AES256GCM_HKDF_SHA256: u8 = 0x01;
/// Length of the per-stream salt.
pub const SALT_LEN: usize = 32;
/// Length of the key commitment.
pub const COMMITMENT_LEN: usize = 32;
/// Length of the header, which is also the start of every chunk's associated data.
pub const HEADER_LEN: usize = 4 + 1 + 1 + KEY_ID_LEN + 4 + SALT_LEN + COMMITMENT_LEN + 4;
/// Smallest chunk size (plaintext bytes per chunk) a header may name.
pub const MIN_CHUNK_SIZE: u32 = 4 * 1024;
/// Largest chunk size a header may name; bounds the opener's memory.
pub const MAX_CHUNK_SIZE: u32 = 1024 * 1024;
/// Chunk size of [`StreamSealer::new`].
pub const DEFAULT_CHUNK_SIZE: u32 = 64 * 1024;
/// Bytes every chunk adds to its plaintext (the GCM tag).
pub const CHUNK_OVERHEAD: usize = TAG_LEN;
/// Plaintext bytes one stream may carry. Every chunk is sealed under the stream's one
/// subkey, so this is a per-subkey volume cap, the same as the envelope's
/// [`MAX_BYTES_PER_SUBKEY`](crate::envelope::MAX_BYTES_PER_SUBKEY): 2^40 bytes are
/// 2^36 AES blocks, which with one more block per chunk keeps AES-GCM's confidentiality
/// bound under one key, about (blocks)² / 2^129, below 2^-56.
pub const MAX_BYTES_PER_STREAM: u64 = 1 << 40;
/// Chunks one stream may have: [`MAX_BYTES_PER_STREAM`] in chunks of
/// [`MIN_CHUNK_SIZE`], i.e. 2^28. Larger chunk sizes reach the byte cap first. Chunk
/// indexes therefore stay far below the 88-bit nonce counter and are exact in a
/// JavaScript `Number`.
pub const MAX_CHUNKS_PER_STREAM: u64 = MAX_BYTES_PER_STREAM / MIN_CHUNK_SIZE as u64;

const WHAT: &str = "stream";

/// The parsed header of a stream. Public values only: reading it tells a server which
/// key to fetch without touching any secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamHeader {
    /// Algorithm suite (only [`SUITE_AES256GCM_HKDF_SHA256`] exists).
    pub suite: u8,
    /// Id of the data key the stream was sealed under.
    pub key_id: KeyId,
    /// Epoch of that key.
    pub epoch: KeyEpoch,
    /// Salt that selected the stream's subkey.
    pub salt: [u8; SALT_LEN],
    /// Key commitment for `(data key, salt)`.
    pub commitment: [u8; COMMITMENT_LEN],
    /// Plaintext bytes per chunk, in `MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE`.
    pub chunk_size: u32,
}

impl StreamHeader {
    /// Parses the header at the start of `bytes`; bytes after the first
    /// [`HEADER_LEN`] are not examined. Checks magic, version, suite and the chunk-size
    /// bounds ([`Error::Malformed`] below [`MIN_CHUNK_SIZE`], [`Error::TooLarge`] above
    /// [`MAX_CHUNK_SIZE`]). Never panics.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let Some(header) = bytes.get(..HEADER_LEN) else {
            if !magic_prefix_ok(bytes) {
                return Err(Error::BadMagic { expected: WHAT });
            }
            return Err(Error::Truncated {
                what: "stream header",
                needed: HEADER_LEN,
                got: bytes.len(),
            });
        };
        let mut r = Fields(header);
        if r.take::<4>() != MAGIC {
            return Err(Error::BadMagic { expected: WHAT });
        }
        let [version] = r.take::<1>();
        if version != VERSION {
            return Err(Error::UnsupportedVersion {
                what: WHAT,
                version,
            });
        }
        let [suite] = r.take::<1>();
        if suite != SUITE_AES256GCM_HKDF_SHA256 {
            return Err(Error::UnsupportedSuite { what: WHAT, suite });
        }
        let parsed = StreamHeader {
            suite,
            key_id: KeyId::from_bytes(r.take()),
            epoch: KeyEpoch(u32::from_be_bytes(r.take())),
            salt: r.take(),
            commitment: r.take(),
            chunk_size: u32::from_be_bytes(r.take()),
        };
        check_chunk_size(parsed.chunk_size)?;
        Ok(parsed)
    }

    /// The 94 header bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        let parts: [&[u8]; 8] = [
            &MAGIC,
            &[VERSION],
            &[self.suite],
            self.key_id.as_bytes(),
            &self.epoch.0.to_be_bytes(),
            &self.salt,
            &self.commitment,
            &self.chunk_size.to_be_bytes(),
        ];
        let mut rest: &mut [u8] = &mut out;
        for part in parts {
            let (head, tail) = rest.split_at_mut(part.len().min(rest.len()));
            head.copy_from_slice(part.get(..head.len()).unwrap_or_default());
            rest = tail;
        }
        out
    }
}

/// Whether `bytes` (shorter than a header) could still be the start of a stream.
fn magic_prefix_ok(bytes: &[u8]) -> bool {
    bytes.iter().zip(MAGIC.iter()).all(|(a, b)| a == b)
}

/// `Ok` if `chunk_size` lies within the bounds of the format.
fn check_chunk_size(chunk_size: u32) -> Result<()> {
    if chunk_size < MIN_CHUNK_SIZE {
        return Err(Error::Malformed {
            what: "stream header",
            reason: "chunk size below the minimum of 4096 bytes",
        });
    }
    if chunk_size > MAX_CHUNK_SIZE {
        return Err(Error::TooLarge {
            what: "stream chunk size",
            len: u64::from(chunk_size),
            limit: u64::from(MAX_CHUNK_SIZE),
        });
    }
    Ok(())
}

/// Reads fixed-size fields from a slice whose length the caller has checked.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let (head, tail) = self.0.split_at(N.min(self.0.len()));
        if let Some(dst) = out.get_mut(..head.len()) {
            dst.copy_from_slice(head);
        }
        self.0 = tail;
        out
    }
}

/// The prepared AES-GCM subkey of one stream and its commitment.
fn derive_subkey(
    key: &DataKey,
    salt: &[u8; SALT_LEN],
    backend: &dyn AeadBackend,
) -> Result<(Box<dyn AeadKey>, [u8; COMMITMENT_LEN])> {
    let mut okm = Zeroizing::new([0u8; 64]);
    hkdf_sha256(
        key.secret().expose_secret(),
        salt,
        &[
            LABEL_STREAM,
            &[SUITE_AES256GCM_HKDF_SHA256],
            key.id().as_bytes(),
            &key.epoch().0.to_be_bytes(),
        ],
        &mut okm[..],
    )?;
    let (k, c) = okm.split_at(32);
    let subkey = SecretBytes::<32>::from_slice(k)?;
    let mut commitment = [0u8; COMMITMENT_LEN];
    commitment.copy_from_slice(c);
    Ok((backend.prepare(subkey.expose_secret())?, commitment))
}

/// The nonce of chunk `index`: an 11-byte big-endian counter, then the last-chunk flag.
fn chunk_nonce(index: u64, last: bool) -> [u8; NONCE_LEN] {
    let mut nonce = [0u8; NONCE_LEN];
    let [a, b, c, d, e, f, g, h] = index.to_be_bytes();
    // Bytes 0..3 are the high bytes of the 88-bit counter: always zero here, because
    // indexes stop below MAX_CHUNKS_PER_STREAM.
    nonce[3..11].copy_from_slice(&[a, b, c, d, e, f, g, h]);
    nonce[11] = u8::from(last);
    nonce
}

/// `Ok` if chunk `index` of a stream with `chunk_size`, carrying `len` plaintext bytes,
/// stays within [`MAX_CHUNKS_PER_STREAM`] and [`MAX_BYTES_PER_STREAM`]. Every chunk
/// before it is full, so the stream's plaintext then ends at
/// `index * chunk_size + len`.
fn check_volume(index: u64, chunk_size: usize, len: usize) -> Result<()> {
    if index >= MAX_CHUNKS_PER_STREAM {
        return Err(Error::LimitExceeded {
            what: "chunks per stream",
        });
    }
    let end = u128::from(index) * chunk_size as u128 + len as u128;
    if end > u128::from(MAX_BYTES_PER_STREAM) {
        return Err(Error::TooLarge {
            what: "stream plaintext",
            len: u64::try_from(end).unwrap_or(u64::MAX),
            limit: MAX_BYTES_PER_STREAM,
        });
    }
    Ok(())
}

/// The crate error behind an `io::Error`: the wrapped [`Error`] if there is one, else
/// [`Error::Io`] with its kind.
fn error_from_io(e: &io::Error) -> Error {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<Error>())
        .cloned()
        .unwrap_or(Error::Io(e.kind()))
}

/// Encrypts a stream chunk by chunk into `W`.
///
/// Write plaintext with [`Write`], then call [`finish`](Self::finish), which seals and
/// writes the final chunk. **A sealer dropped without `finish` leaves a stream that
/// every opener rejects as truncated** ([`Error::StreamTruncated`]): nothing is written
/// on drop. [`Write::flush`] flushes `W` but cannot emit a partial chunk.
///
/// Memory: one buffer of `chunk_size + 16` bytes, zeroized on drop. The sealer holds
/// back one full chunk until it knows whether more data follows.
///
/// A stream holds at most [`MAX_BYTES_PER_STREAM`] plaintext bytes: a write that would
/// go past it fails with [`Error::TooLarge`].
///
/// After any error (from `W` or from sealing) the sealer is broken: every later call
/// returns that error, and the partial output must be discarded. Not `Clone`: two
/// copies would reuse nonces.
pub struct StreamSealer<W: Write> {
    out: W,
    backend: &'static dyn AeadBackend,
    aead: Box<dyn AeadKey>,
    aad: Vec<u8>,
    /// Pending plaintext (at most `chunk_size` bytes), sealed in place.
    buf: Zeroizing<Vec<u8>>,
    chunk_size: usize,
    /// Index of the next chunk to seal.
    index: u64,
    failed: Option<Error>,
}

impl<W: Write> core::fmt::Debug for StreamSealer<W> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StreamSealer")
            .field("chunk_size", &self.chunk_size)
            .field("chunks_written", &self.index)
            .field("backend", &self.backend.name())
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl<W: Write> StreamSealer<W> {
    /// A sealer with [`DEFAULT_CHUNK_SIZE`] on the [default backend](default_backend).
    /// Writes the header to `out` immediately.
    pub fn new(key: &DataKey, ctx: &ItemContext<'_>, out: W) -> Result<Self> {
        Self::with_options(key, ctx, out, DEFAULT_CHUNK_SIZE, default_backend())
    }

    /// A sealer with a chosen chunk size (in `MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE`) and
    /// backend. The output is the same for every backend. Writes the header to `out`
    /// immediately; `ctx` is validated and encoded before anything is written.
    pub fn with_options(
        key: &DataKey,
        ctx: &ItemContext<'_>,
        mut out: W,
        chunk_size: u32,
        backend: &'static dyn AeadBackend,
    ) -> Result<Self> {
        check_chunk_size(chunk_size)?;
        let salt = random_array::<SALT_LEN>()?;
        let (aead, commitment) = derive_subkey(key, &salt, backend)?;
        let header = StreamHeader {
            suite: SUITE_AES256GCM_HKDF_SHA256,
            key_id: key.id(),
            epoch: key.epoch(),
            salt,
            commitment,
            chunk_size,
        }
        .to_bytes();
        let mut aad = Vec::with_capacity(HEADER_LEN + ctx.encoded_len());
        aad.extend_from_slice(&header);
        ctx.encode_into(&mut aad)?;
        let chunk_size = chunk_size as usize;
        let buf = Zeroizing::new(Vec::with_capacity(chunk_size + TAG_LEN));
        out.write_all(&header).map_err(|e| error_from_io(&e))?;
        Ok(Self {
            out,
            backend,
            aead,
            aad,
            buf,
            chunk_size,
            index: 0,
            failed: None,
        })
    }

    /// Seals the buffered plaintext as the final chunk, writes it, flushes and returns
    /// the writer. The stream is complete only after this returns `Ok`.
    pub fn finish(mut self) -> Result<W> {
        self.seal_chunk(true)?;
        self.out.flush().map_err(|e| self.fail(error_from_io(&e)))?;
        Ok(self.out)
    }

    /// Bytes held by the sealer's chunk buffer (its capacity), for diagnostics and
    /// memory tests. Stays at `chunk_size + 16` for the sealer's whole life.
    pub fn buffer_capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// The writer. Writing to it directly corrupts the stream.
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// Records `e` as the reason the sealer is broken and returns it.
    fn fail(&mut self, e: Error) -> Error {
        self.buf.zeroize();
        self.failed = Some(e.clone());
        e
    }

    /// Seals the buffer as chunk `self.index` and writes it.
    fn seal_chunk(&mut self, last: bool) -> Result<()> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = self.seal_chunk_inner(last);
        result.map_err(|e| self.fail(e))
    }

    fn seal_chunk_inner(&mut self, last: bool) -> Result<()> {
        // `write` already refuses data past the byte cap; checking here as well means no
        // path at all seals a chunk beyond the limits.
        check_volume(self.index, self.chunk_size, self.buf.len())?;
        let next = if last { self.index } else { self.index + 1 };
        let nonce = chunk_nonce(self.index, last);
        let tag = self.aead.seal_in_place(&nonce, &self.aad, &mut self.buf)?;
        self.buf.extend_from_slice(&tag);
        self.out
            .write_all(&self.buf)
            .map_err(|e| error_from_io(&e))?;
        // The buffer now holds ciphertext only; clearing keeps its capacity.
        self.buf.clear();
        self.index = next;
        Ok(())
    }
}

impl<W: Write> Write for StreamSealer<W> {
    /// Buffers plaintext, sealing and writing each full chunk once more data follows.
    ///
    /// Data that would take the stream past [`MAX_BYTES_PER_STREAM`] is refused whole
    /// with [`Error::TooLarge`], and the sealer is broken from then on: a caller that
    /// ignored the error cannot `finish` a silently shortened stream.
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if let Some(e) = &self.failed {
            return Err(e.clone().into());
        }
        // Every chunk sealed so far is full, so this is the plaintext taken so far.
        let taken = self
            .index
            .saturating_mul(self.chunk_size as u64)
            .saturating_add(self.buf.len() as u64);
        let end = taken.saturating_add(data.len() as u64);
        if end > MAX_BYTES_PER_STREAM {
            let e = self.fail(Error::TooLarge {
                what: "stream plaintext",
                len: end,
                limit: MAX_BYTES_PER_STREAM,
            });
            return Err(e.into());
        }
        let mut rest = data;
        while !rest.is_empty() {
            if self.buf.len() >= self.chunk_size {
                // More data follows, so the held-back full chunk is not the last.
                if let Err(e) = self.seal_chunk(false) {
                    let consumed = data.len() - rest.len();
                    // Report what was taken; the stored error surfaces on the next call.
                    return if consumed > 0 {
                        Ok(consumed)
                    } else {
                        Err(e.into())
                    };
                }
            }
            let room = self.chunk_size.saturating_sub(self.buf.len());
            let (now, later) = rest.split_at(room.min(rest.len()));
            self.buf.extend_from_slice(now);
            rest = later;
        }
        Ok(data.len())
    }

    /// Flushes the underlying writer. Buffered plaintext stays buffered: only
    /// [`finish`](StreamSealer::finish) writes the final chunk.
    fn flush(&mut self) -> io::Result<()> {
        if let Some(e) = &self.failed {
            return Err(e.clone().into());
        }
        self.out.flush()
    }
}

/// Where a [`StreamOpener`] is in its input.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Reading chunks.
    Chunks,
    /// A full-size chunk verified as final; checking that nothing follows it.
    CheckTrailing,
    /// The final chunk verified and the input ended: the stream is complete.
    Done,
    /// A fatal error; returned again on every call.
    Failed(Error),
}

/// Decrypts and verifies a stream from `R`, one chunk at a time.
///
/// [`new`](Self::new) reads and checks the header (format, key id and epoch, then the
/// key commitment) before any decryption. [`Read`] then yields plaintext, each chunk
/// only after its tag verified. **The plaintext is provisional until `read` returns
/// `Ok(0)`** (see the [module documentation](self)): only then has the final chunk
/// verified and the absence of trailing data been checked.
///
/// Errors come as `std::io::Error`s wrapping an [`Error`] (recover it with
/// `err.get_ref()` and `downcast_ref::<Error>()`, or use [`open_stream`]):
///
/// * [`Error::StreamTruncated`] (kind `UnexpectedEof`) — the input ended before the
///   final chunk: inside the header, inside a chunk's tag, right after a chunk that
///   verified as non-final, or inside a later chunk (see below);
/// * [`Error::TrailingData`] — bytes follow a final chunk;
/// * [`Error::AuthenticationFailed`] — a chunk does not verify at its position:
///   altered, reordered, duplicated, or opened with the wrong context;
/// * [`Error::Malformed`] — an empty final chunk after data (never written by a sealer
///   but authentic: the key holder broke the format);
/// * [`Error::LimitExceeded`] / [`Error::TooLarge`] — a chunk with index
///   [`MAX_CHUNKS_PER_STREAM`] or more, or one that would take the plaintext past
///   [`MAX_BYTES_PER_STREAM`]; refused before it is decrypted.
///
/// A chunk that ends at end-of-input but is shorter than a full chunk and fails to
/// verify as final cannot be told apart from a chunk cut off mid-way: after at least
/// one chunk verified (key and context are then proven) it is reported as
/// `StreamTruncated`, otherwise as `AuthenticationFailed`. Every case is fatal either
/// way and no byte of such a chunk is released.
///
/// Errors of the underlying reader are passed through unchanged and are not fatal:
/// calling `read` again resumes (useful for non-blocking readers). Crypto errors are
/// fatal: every later call returns the same error.
///
/// Memory: a ciphertext buffer of `chunk_size + 16` bytes and a plaintext buffer of
/// `chunk_size` bytes (zeroized on drop), whatever the stream length.
pub struct StreamOpener<R: Read> {
    input: R,
    header: StreamHeader,
    backend: &'static dyn AeadBackend,
    aead: Box<dyn AeadKey>,
    aad: Vec<u8>,
    chunk_size: usize,
    /// Ciphertext of the chunk being read; `ct_len` bytes are filled.
    ct: Vec<u8>,
    ct_len: usize,
    /// Verified plaintext; bytes `pt_pos..pt_len` are not yet returned.
    pt: Zeroizing<Vec<u8>>,
    pt_pos: usize,
    pt_len: usize,
    /// Index of the next chunk to verify.
    index: u64,
    state: State,
}

impl<R: Read> core::fmt::Debug for StreamOpener<R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StreamOpener")
            .field("key_id", &self.header.key_id)
            .field("epoch", &self.header.epoch.0)
            .field("chunk_size", &self.chunk_size)
            .field("chunks_verified", &self.index)
            .field("backend", &self.backend.name())
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl<R: Read> StreamOpener<R> {
    /// An opener on the [default backend](default_backend). Reads and checks the
    /// header.
    pub fn new(key: &DataKey, ctx: &ItemContext<'_>, input: R) -> Result<Self> {
        Self::with_backend(key, ctx, input, default_backend())
    }

    /// An opener on a chosen backend. Reads the header and checks, in this order: the
    /// format ([`Error::StreamTruncated`] if the input ends inside the header,
    /// [`Error::BadMagic`], [`Error::UnsupportedVersion`], [`Error::UnsupportedSuite`],
    /// chunk-size bounds), key id and epoch ([`Error::WrongKey`]), then the key
    /// commitment ([`Error::KeyCommitmentMismatch`]), then `ctx`.
    pub fn with_backend(
        key: &DataKey,
        ctx: &ItemContext<'_>,
        mut input: R,
        backend: &'static dyn AeadBackend,
    ) -> Result<Self> {
        let mut raw = [0u8; HEADER_LEN];
        let mut got = 0;
        fill(&mut input, &mut raw, &mut got).map_err(|e| error_from_io(&e))?;
        if got < HEADER_LEN {
            let prefix = raw.get(..got).unwrap_or_default();
            if !magic_prefix_ok(prefix) {
                return Err(Error::BadMagic { expected: WHAT });
            }
            return Err(Error::StreamTruncated);
        }
        let header = StreamHeader::parse(&raw)?;
        if header.key_id != key.id() || header.epoch != key.epoch() {
            return Err(Error::WrongKey);
        }
        let (aead, commitment) = derive_subkey(key, &header.salt, backend)?;
        if !ct_eq_slices(&commitment, &header.commitment) {
            return Err(Error::KeyCommitmentMismatch);
        }
        let mut aad = Vec::with_capacity(HEADER_LEN + ctx.encoded_len());
        aad.extend_from_slice(&raw);
        ctx.encode_into(&mut aad)?;
        let chunk_size = header.chunk_size as usize;
        Ok(Self {
            input,
            header,
            backend,
            aead,
            aad,
            chunk_size,
            ct: vec![0u8; chunk_size + TAG_LEN],
            ct_len: 0,
            pt: Zeroizing::new(vec![0u8; chunk_size]),
            pt_pos: 0,
            pt_len: 0,
            index: 0,
            state: State::Chunks,
        })
    }

    /// The stream's header.
    pub fn header(&self) -> &StreamHeader {
        &self.header
    }

    /// Whether the final chunk has verified and the input ended right after it. The
    /// plaintext read so far is final only when this is true (the last chunk's
    /// plaintext may still be unread).
    pub fn is_finished(&self) -> bool {
        self.state == State::Done
    }

    /// Bytes held by the opener's two chunk buffers (their capacity), for diagnostics
    /// and memory tests. Stays at `2 * chunk_size + 16` for the opener's whole life.
    pub fn buffer_capacity(&self) -> usize {
        self.ct.capacity() + self.pt.capacity()
    }

    /// The reader, positioned wherever reading stopped.
    pub fn into_inner(self) -> R {
        self.input
    }

    /// Reads and verifies the next chunk into `pt`, or moves to `Done`. `Err(Ok(e))`
    /// is a fatal crypto error, `Err(Err(e))` a resumable I/O error of the input.
    fn advance(&mut self) -> core::result::Result<(), core::result::Result<Error, io::Error>> {
        match self.state {
            State::Chunks => {}
            State::CheckTrailing => return self.check_trailing(),
            State::Done | State::Failed(_) => return Ok(()),
        }
        let cap = self.chunk_size + TAG_LEN;
        let unfilled = self.ct.get_mut(..cap).unwrap_or_default();
        // On an I/O error the bytes read so far stay counted in `ct_len`: the next call
        // resumes where this one stopped.
        fill(&mut self.input, unfilled, &mut self.ct_len).map_err(Err)?;
        let n = self.ct_len;
        if n == cap {
            self.ct_len = 0;
            // Refused before any decryption: a chunk past the stream's volume cap.
            check_volume(self.index, self.chunk_size, self.chunk_size).map_err(Ok)?;
            // A full chunk: normally non-final, or the full-size final chunk.
            if self.try_open(n, false).map_err(Ok)? {
                self.index += 1;
                return Ok(());
            }
            if self.try_open(n, true).map_err(Ok)? {
                self.state = State::CheckTrailing;
                return self.check_trailing();
            }
            return Err(Ok(Error::AuthenticationFailed));
        }
        // The input ended inside this chunk.
        self.ct_len = 0;
        if n < TAG_LEN {
            return Err(Ok(Error::StreamTruncated));
        }
        check_volume(self.index, self.chunk_size, n - TAG_LEN).map_err(Ok)?;
        if self.try_open(n, true).map_err(Ok)? {
            if n == TAG_LEN && self.index > 0 {
                self.clear_plaintext();
                return Err(Ok(Error::Malformed {
                    what: WHAT,
                    reason: "empty final chunk after data",
                }));
            }
            self.state = State::Done;
            return Ok(());
        }
        Err(Ok(if self.index > 0 {
            Error::StreamTruncated
        } else {
            Error::AuthenticationFailed
        }))
    }

    /// After a full-size final chunk: the input must end here.
    fn check_trailing(
        &mut self,
    ) -> core::result::Result<(), core::result::Result<Error, io::Error>> {
        let mut probe = [0u8; 1];
        let mut got = 0;
        match fill(&mut self.input, &mut probe, &mut got).map(|()| got) {
            Ok(0) => {
                self.state = State::Done;
                Ok(())
            }
            Ok(_) => {
                self.clear_plaintext();
                Err(Ok(Error::TrailingData))
            }
            Err(e) => Err(Err(e)),
        }
    }

    /// Verifies and decrypts `ct[..n]` as chunk `self.index` into `pt`. `Ok(false)` if
    /// the tag does not verify (then `pt` holds nothing).
    fn try_open(&mut self, n: usize, last: bool) -> Result<bool> {
        let len = n.saturating_sub(TAG_LEN);
        let (Some(ciphertext), Some(tag), Some(dst)) = (
            self.ct.get(..len),
            self.ct.get(len..n),
            self.pt.get_mut(..len),
        ) else {
            return Err(Error::Malformed {
                what: WHAT,
                reason: "chunk length",
            });
        };
        let mut tag_arr = [0u8; TAG_LEN];
        tag_arr.copy_from_slice(tag);
        dst.copy_from_slice(ciphertext);
        let nonce = chunk_nonce(self.index, last);
        match self.aead.open_in_place(&nonce, &self.aad, dst, &tag_arr) {
            Ok(()) => {
                self.pt_pos = 0;
                self.pt_len = len;
                Ok(true)
            }
            Err(Error::AuthenticationFailed) => {
                dst.zeroize();
                self.pt_pos = 0;
                self.pt_len = 0;
                Ok(false)
            }
            Err(e) => {
                dst.zeroize();
                Err(e)
            }
        }
    }

    fn clear_plaintext(&mut self) {
        self.pt.zeroize();
        self.pt.resize(self.chunk_size, 0);
        self.pt_pos = 0;
        self.pt_len = 0;
    }
}

impl<R: Read> Read for StreamOpener<R> {
    /// Returns verified plaintext; `Ok(0)` only after the stream completed.
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            // A full-size final chunk is released only once no trailing data follows it.
            let pending = if self.state == State::CheckTrailing {
                &[][..]
            } else {
                self.pt.get(self.pt_pos..self.pt_len).unwrap_or_default()
            };
            if !pending.is_empty() {
                let n = pending.len().min(out.len());
                let (dst, _) = out.split_at_mut(n);
                dst.copy_from_slice(pending.get(..n).unwrap_or_default());
                self.pt_pos += n;
                return Ok(n);
            }
            match &self.state {
                State::Done => return Ok(0),
                State::Failed(e) => return Err(e.clone().into()),
                State::Chunks | State::CheckTrailing => {}
            }
            match self.advance() {
                Ok(()) => {}
                Err(Err(io_err)) => return Err(io_err),
                Err(Ok(e)) => {
                    self.clear_plaintext();
                    self.state = State::Failed(e.clone());
                    return Err(e.into());
                }
            }
        }
    }
}

/// Reads into `buf[*filled..]` until `buf` is full or the input ends, counting every
/// byte in `*filled` as it arrives (so an error loses nothing). Retries on
/// `Interrupted`. The input ended if `*filled < buf.len()` afterwards.
fn fill<R: Read>(input: &mut R, buf: &mut [u8], filled: &mut usize) -> io::Result<()> {
    while let Some(rest) = buf.get_mut(*filled..) {
        if rest.is_empty() {
            break;
        }
        match input.read(rest) {
            Ok(0) => break,
            Ok(n) => *filled += n.min(rest.len()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Seals everything `input` yields into a complete stream on `output` (default chunk
/// size and backend). Returns the number of plaintext bytes sealed.
pub fn seal_stream(
    key: &DataKey,
    ctx: &ItemContext<'_>,
    mut input: impl Read,
    output: impl Write,
) -> Result<u64> {
    let mut sealer = StreamSealer::new(key, ctx, output)?;
    let copied = io::copy(&mut input, &mut sealer).map_err(|e| error_from_io(&e))?;
    sealer.finish()?;
    Ok(copied)
}

/// Opens the stream `input` into `output` and returns the number of plaintext bytes.
///
/// `output` receives verified chunks as they come, so on error it holds a
/// **provisional prefix** that the caller must discard; the plaintext is final only
/// when this returns `Ok`.
pub fn open_stream(
    key: &DataKey,
    ctx: &ItemContext<'_>,
    input: impl Read,
    mut output: impl Write,
) -> Result<u64> {
    let mut opener = StreamOpener::new(key, ctx, input)?;
    let copied = io::copy(&mut opener, &mut output).map_err(|e| error_from_io(&e))?;
    output.flush().map_err(|e| error_from_io(&e))?;
    Ok(copied)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::ContentKind;

    fn key() -> DataKey {
        DataKey::from_parts(
            KeyId::from_bytes([3; KEY_ID_LEN]),
            KeyEpoch(2),
            SecretBytes::from_bytes([0x5a; 32]),
        )
    }

    fn ctx() -> ItemContext<'static> {
        ItemContext::new(b"t", b"s", b"i", 1, ContentKind::Recording)
    }

    #[test]
    fn nonce_layout() {
        assert_eq!(chunk_nonce(0, false), [0; 12]);
        assert_eq!(chunk_nonce(0, true), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(
            chunk_nonce(0x0102_0304_0506_0708, false),
            [0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0]
        );
        assert_eq!(
            chunk_nonce(u64::MAX, true)[3..],
            [0xff; 8].iter().copied().chain([1]).collect::<Vec<_>>()[..]
        );
    }

    #[test]
    fn header_round_trips_and_has_documented_layout() {
        let h = StreamHeader {
            suite: SUITE_AES256GCM_HKDF_SHA256,
            key_id: KeyId::from_bytes([7; 16]),
            epoch: KeyEpoch(0x0a0b_0c0d),
            salt: [8; 32],
            commitment: [9; 32],
            chunk_size: 0x0001_0000,
        };
        let b = h.to_bytes();
        assert_eq!(HEADER_LEN, 94);
        assert_eq!(&b[..6], b"CAIS\x01\x01");
        assert_eq!(&b[6..22], &[7; 16]);
        assert_eq!(&b[22..26], &[0x0a, 0x0b, 0x0c, 0x0d]);
        assert_eq!(&b[26..58], &[8; 32]);
        assert_eq!(&b[58..90], &[9; 32]);
        assert_eq!(&b[90..94], &[0, 1, 0, 0]);
        assert_eq!(StreamHeader::parse(&b).unwrap(), h);
    }

    fn sealer(chunk_size: u32) -> StreamSealer<Vec<u8>> {
        StreamSealer::with_options(&key(), &ctx(), Vec::new(), chunk_size, default_backend())
            .unwrap()
    }

    /// A stream as a sealer that ignored the volume cap would write it: each chunk is
    /// `(index, last, plaintext)`, sealed with the real subkey, nonce and AAD.
    fn raw_stream(chunk_size: u32, chunks: &[(u64, bool, Vec<u8>)]) -> Vec<u8> {
        let s = sealer(chunk_size);
        let mut out = s.out.clone();
        for (index, last, pt) in chunks {
            let mut buf = pt.clone();
            let tag = s
                .aead
                .seal_in_place(&chunk_nonce(*index, *last), &s.aad, &mut buf)
                .unwrap();
            out.extend_from_slice(&buf);
            out.extend_from_slice(&tag);
        }
        out
    }

    /// Opens `sealed` as if its first chunk were chunk `first_index`.
    fn open_from(first_index: u64, sealed: &[u8]) -> (Vec<u8>, Result<()>) {
        let mut opener = StreamOpener::new(&key(), &ctx(), sealed).unwrap();
        opener.index = first_index;
        let mut out = Vec::new();
        let result = opener.read_to_end(&mut out).map(|_| ());
        let finished = opener.is_finished();
        let result = result.map_err(|e| error_from_io(&e));
        assert_eq!(finished, result.is_ok());
        (out, result)
    }

    fn too_large(len: u64) -> Error {
        Error::TooLarge {
            what: "stream plaintext",
            len,
            limit: MAX_BYTES_PER_STREAM,
        }
    }

    const CHUNK_LIMIT: Error = Error::LimitExceeded {
        what: "chunks per stream",
    };

    #[test]
    fn limits_are_the_envelope_subkey_cap_in_minimum_size_chunks() {
        assert_eq!(MAX_BYTES_PER_STREAM, crate::envelope::MAX_BYTES_PER_SUBKEY);
        assert_eq!(MAX_CHUNKS_PER_STREAM, 1 << 28);
        assert_eq!(
            MAX_CHUNKS_PER_STREAM * u64::from(MIN_CHUNK_SIZE),
            MAX_BYTES_PER_STREAM
        );
    }

    #[test]
    fn sealer_seals_exactly_the_byte_cap_and_refuses_one_more_byte() {
        let cs = MIN_CHUNK_SIZE as usize;
        let last = MAX_CHUNKS_PER_STREAM - 1;
        // At the limit: the last allowed chunk, full, ends the stream at exactly 2^40.
        let mut s = sealer(MIN_CHUNK_SIZE);
        s.index = last;
        s.write_all(&vec![1u8; cs]).unwrap();
        let sealed = s.finish().unwrap();
        assert_eq!(sealed.len(), HEADER_LEN + cs + TAG_LEN);
        let (pt, result) = open_from(last, &sealed);
        assert_eq!((pt.len(), result), (cs, Ok(())));

        // One byte more, in the same write or a later one: refused, sealer broken.
        let mut s = sealer(MIN_CHUNK_SIZE);
        s.index = last;
        let err = s.write_all(&vec![1u8; cs + 1]).unwrap_err();
        assert_eq!(error_from_io(&err), too_large(MAX_BYTES_PER_STREAM + 1));
        assert_eq!(s.finish().unwrap_err(), too_large(MAX_BYTES_PER_STREAM + 1));

        let mut s = sealer(MIN_CHUNK_SIZE);
        s.index = last;
        s.write_all(&vec![1u8; cs]).unwrap();
        let err = s.write(&[2]).unwrap_err();
        assert_eq!(error_from_io(&err), too_large(MAX_BYTES_PER_STREAM + 1));
        assert!(s.write(&[]).is_err(), "the sealer stays broken");
        assert!(matches!(s.finish(), Err(Error::TooLarge { .. })));
    }

    #[test]
    fn the_byte_cap_holds_for_chunk_sizes_that_do_not_divide_it() {
        let cs = 5000u32;
        let last = MAX_BYTES_PER_STREAM / u64::from(cs);
        let room = (MAX_BYTES_PER_STREAM - last * u64::from(cs)) as usize;
        assert_eq!(room, 2776);

        let mut s = sealer(cs);
        s.index = last;
        s.write_all(&vec![3u8; room]).unwrap();
        let sealed = s.finish().unwrap();
        let (pt, result) = open_from(last, &sealed);
        assert_eq!((pt.len(), result), (room, Ok(())));

        let mut s = sealer(cs);
        s.index = last;
        let err = s.write_all(&vec![3u8; room + 1]).unwrap_err();
        assert_eq!(error_from_io(&err), too_large(MAX_BYTES_PER_STREAM + 1));

        // An opener refuses that chunk from a sealer that ignored the cap, unopened.
        let sealed = raw_stream(cs, &[(last, true, vec![3u8; room + 1])]);
        let (pt, result) = open_from(last, &sealed);
        assert_eq!(
            (pt.len(), result),
            (0, Err(too_large(MAX_BYTES_PER_STREAM + 1)))
        );
    }

    #[test]
    fn opener_refuses_a_chunk_past_the_chunk_cap() {
        let cs = MIN_CHUNK_SIZE as usize;
        let last = MAX_CHUNKS_PER_STREAM - 1;
        // The last allowed chunk as non-final, then one chunk more: the first opens
        // (provisionally), the second is refused before decryption.
        let sealed = raw_stream(
            MIN_CHUNK_SIZE,
            &[(last, false, vec![4u8; cs]), (last + 1, true, vec![5u8])],
        );
        let (pt, result) = open_from(last, &sealed);
        assert_eq!(pt, vec![4u8; cs]);
        assert_eq!(result, Err(CHUNK_LIMIT));
        // Even an empty final chunk there is one chunk too many.
        let sealed = raw_stream(MIN_CHUNK_SIZE, &[(last + 1, true, Vec::new())]);
        assert_eq!(open_from(last + 1, &sealed).1, Err(CHUNK_LIMIT));
        // Cut right after the last allowed non-final chunk: truncated, as anywhere else.
        let sealed = raw_stream(MIN_CHUNK_SIZE, &[(last, false, vec![4u8; cs])]);
        assert_eq!(open_from(last, &sealed).1, Err(Error::StreamTruncated));
    }

    #[test]
    fn opener_refuses_a_chunk_past_the_byte_cap_with_larger_chunks() {
        let cs = DEFAULT_CHUNK_SIZE as usize;
        let last = MAX_BYTES_PER_STREAM / DEFAULT_CHUNK_SIZE as u64 - 1;
        assert!(last + 1 < MAX_CHUNKS_PER_STREAM, "the byte cap binds first");
        let full_final = raw_stream(DEFAULT_CHUNK_SIZE, &[(last, true, vec![6u8; cs])]);
        assert_eq!(open_from(last, &full_final).1, Ok(()));
        let one_more = raw_stream(
            DEFAULT_CHUNK_SIZE,
            &[(last, false, vec![6u8; cs]), (last + 1, true, vec![7u8])],
        );
        let (pt, result) = open_from(last, &one_more);
        assert_eq!(pt.len(), cs);
        assert_eq!(result, Err(too_large(MAX_BYTES_PER_STREAM + 1)));
    }

    #[test]
    fn sealer_never_seals_a_chunk_past_the_chunk_cap() {
        // Unreachable through `write` (the byte cap comes first); the guard in
        // `seal_chunk` holds on its own.
        let mut s = sealer(MIN_CHUNK_SIZE);
        s.index = MAX_CHUNKS_PER_STREAM;
        assert_eq!(s.finish().unwrap_err(), CHUNK_LIMIT);
    }

    #[test]
    fn empty_final_chunk_after_data_is_malformed() {
        let cs = MIN_CHUNK_SIZE as usize;
        let mut sealer = StreamSealer::with_options(
            &key(),
            &ctx(),
            Vec::new(),
            MIN_CHUNK_SIZE,
            default_backend(),
        )
        .unwrap();
        sealer.write_all(&vec![7u8; cs]).unwrap();
        // What a non-conforming sealer would do: flush the full chunk as non-final at
        // `finish`, then seal an empty final chunk.
        sealer.seal_chunk(false).unwrap();
        let sealed = sealer.finish().unwrap();
        assert_eq!(sealed.len(), HEADER_LEN + cs + 2 * TAG_LEN);
        let mut opener = StreamOpener::new(&key(), &ctx(), sealed.as_slice()).unwrap();
        let mut out = Vec::new();
        let err = opener.read_to_end(&mut out).unwrap_err();
        assert_eq!(
            error_from_io(&err),
            Error::Malformed {
                what: WHAT,
                reason: "empty final chunk after data"
            }
        );
    }

    /// Input that reports `WouldBlock` once at `at`, then continues.
    struct BlockOnce<'a> {
        data: &'a [u8],
        at: usize,
        pos: usize,
        blocked: bool,
    }

    impl Read for BlockOnce<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.pos == self.at && !self.blocked {
                self.blocked = true;
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let end = if self.pos < self.at {
                self.at
            } else {
                self.data.len()
            };
            let n = buf.len().min(end - self.pos);
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    #[test]
    fn full_final_chunk_is_held_until_the_trailing_check_completes() {
        let cs = MIN_CHUNK_SIZE as usize;
        let mut sealer = StreamSealer::with_options(
            &key(),
            &ctx(),
            Vec::new(),
            MIN_CHUNK_SIZE,
            default_backend(),
        )
        .unwrap();
        sealer.write_all(&vec![7u8; cs]).unwrap();
        let mut sealed = sealer.finish().unwrap();
        let at = sealed.len();
        sealed.push(0); // trailing byte, visible only after the `WouldBlock`
        let input = BlockOnce {
            data: &sealed,
            at,
            pos: 0,
            blocked: false,
        };
        let mut opener = StreamOpener::new(&key(), &ctx(), input).unwrap();
        let mut buf = vec![0u8; 2 * cs];
        let err = opener.read(&mut buf).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        let err = opener.read(&mut buf).unwrap_err();
        assert_eq!(error_from_io(&err), Error::TrailingData);
    }

    #[test]
    fn debug_shows_no_secrets() {
        let sealer = StreamSealer::new(&key(), &ctx(), Vec::new()).unwrap();
        let s = format!("{sealer:?}");
        assert!(
            s.contains("StreamSealer") && !s.contains("5a5a") && !s.contains("90, 90"),
            "{s}"
        );
        let sealed = sealer.finish().unwrap();
        let opener = StreamOpener::new(&key(), &ctx(), sealed.as_slice()).unwrap();
        let s = format!("{opener:?}");
        assert!(
            s.contains("StreamOpener") && !s.contains("5a5a") && !s.contains("90, 90"),
            "{s}"
        );
    }

    #[test]
    fn io_errors_map_back_to_crate_errors() {
        let e: io::Error = Error::TrailingData.into();
        assert_eq!(error_from_io(&e), Error::TrailingData);
        let e = io::Error::from(io::ErrorKind::BrokenPipe);
        assert_eq!(error_from_io(&e), Error::Io(io::ErrorKind::BrokenPipe));
    }
}
