#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]
//! Streaming envelope: truncation, reordering, duplication, trailing data, bit flips,
//! wrong context and wrong keys are all detected, with the documented error.

use std::io::{self, Read, Write};

use cai_crypto::aead::all_backends;
use cai_crypto::stream::{self, HEADER_LEN, MIN_CHUNK_SIZE, StreamOpener, StreamSealer};
use cai_crypto::{ContentKind, DataKey, Error, ItemContext, KeyEpoch, KeyId, SecretBytes};

const CS: usize = MIN_CHUNK_SIZE as usize;
const CT: usize = CS + 16;

fn key() -> DataKey {
    DataKey::from_parts(
        KeyId::from_bytes([0x22; 16]),
        KeyEpoch(1),
        SecretBytes::from_bytes([0x17; 32]),
    )
}

fn ctx() -> ItemContext<'static> {
    ItemContext::new(b"tenant", b"session", b"file-7", 1, ContentKind::File)
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 3) as u8).collect()
}

fn seal(pt: &[u8]) -> Vec<u8> {
    let mut sealer = StreamSealer::with_options(
        &key(),
        &ctx(),
        Vec::new(),
        MIN_CHUNK_SIZE,
        all_backends()[0],
    )
    .unwrap();
    sealer.write_all(pt).unwrap();
    sealer.finish().unwrap()
}

/// Opens with the given key and context; returns the plaintext or the crate error.
fn open_as(k: &DataKey, c: &ItemContext<'_>, sealed: &[u8]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    stream::open_stream(k, c, sealed, &mut out).map(|n| {
        assert_eq!(n as usize, out.len());
        out
    })
}

fn open(sealed: &[u8]) -> Result<Vec<u8>, Error> {
    open_as(&key(), &ctx(), sealed)
}

/// Byte ranges of the chunks of a sealed stream.
fn chunks(sealed: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut at = HEADER_LEN;
    while at < sealed.len() {
        let end = (at + CT).min(sealed.len());
        out.push(at..end);
        at = end;
    }
    out
}

fn join(sealed: &[u8], order: &[std::ops::Range<usize>]) -> Vec<u8> {
    let mut v = sealed[..HEADER_LEN].to_vec();
    for r in order {
        v.extend_from_slice(&sealed[r.clone()]);
    }
    v
}

#[test]
fn intact_streams_open() {
    for len in [0, 1, CS, 3 * CS, 3 * CS + 7] {
        assert_eq!(open(&seal(&data(len))).unwrap(), data(len));
    }
}

#[test]
fn truncation_at_every_chunk_boundary_is_detected() {
    for len in [0, 1, CS, 3 * CS, 3 * CS + 7] {
        let sealed = seal(&data(len));
        // Cutting after the header or after any complete chunk except the last.
        let mut cuts = vec![HEADER_LEN];
        cuts.extend(chunks(&sealed).iter().map(|r| r.end));
        cuts.pop();
        for cut in cuts {
            assert_eq!(
                open(&sealed[..cut]),
                Err(Error::StreamTruncated),
                "len {len} cut {cut}"
            );
        }
    }
}

#[test]
fn dropping_the_final_chunk_is_detected() {
    for len in [CS + 1, 3 * CS, 3 * CS + 7] {
        let sealed = seal(&data(len));
        let cs = chunks(&sealed);
        let without_last = join(&sealed, &cs[..cs.len() - 1]);
        assert_eq!(
            open(&without_last),
            Err(Error::StreamTruncated),
            "len {len}"
        );
    }
}

#[test]
fn truncation_inside_the_header_is_detected() {
    let sealed = seal(b"abc");
    for cut in [0, 1, 4, 50, HEADER_LEN - 1] {
        assert_eq!(
            StreamOpener::new(&key(), &ctx(), &sealed[..cut]).err(),
            Some(Error::StreamTruncated),
            "cut {cut}"
        );
    }
    assert_eq!(
        StreamOpener::new(&key(), &ctx(), &b"XYZ"[..]).err(),
        Some(Error::BadMagic { expected: "stream" })
    );
}

#[test]
fn truncation_inside_a_chunk_is_detected() {
    let len = 3 * CS + 7;
    let sealed = seal(&data(len));
    for (i, r) in chunks(&sealed).iter().enumerate() {
        for within in [1, 15, 16, 17, CS / 2, CT - 1] {
            let cut = r.start + within;
            if cut >= r.end {
                continue;
            }
            let got = open(&sealed[..cut]);
            // Fewer bytes than a tag, or any cut after a verified chunk: truncated. A cut
            // inside the first chunk leaving a tag's worth of bytes cannot be told apart
            // from an altered single-chunk stream (see `StreamOpener` docs).
            let expected = if within < 16 || i > 0 {
                Error::StreamTruncated
            } else {
                Error::AuthenticationFailed
            };
            assert_eq!(got, Err(expected), "chunk {i} cut {within}");
        }
    }
}

#[test]
fn reordered_chunks_fail() {
    let sealed = seal(&data(3 * CS + 7));
    let c = chunks(&sealed);
    for order in [
        vec![c[1].clone(), c[0].clone(), c[2].clone(), c[3].clone()],
        vec![c[0].clone(), c[2].clone(), c[1].clone(), c[3].clone()],
        vec![c[0].clone(), c[1].clone(), c[3].clone(), c[2].clone()],
    ] {
        assert_eq!(
            open(&join(&sealed, &order)),
            Err(Error::AuthenticationFailed)
        );
    }
    // Full-size final chunk swapped with a full non-final one.
    let sealed = seal(&data(2 * CS));
    let c = chunks(&sealed);
    assert_eq!(
        open(&join(&sealed, &[c[1].clone(), c[0].clone()])),
        Err(Error::AuthenticationFailed)
    );
}

#[test]
fn duplicated_chunks_fail() {
    let sealed = seal(&data(3 * CS + 7));
    let c = chunks(&sealed);
    for dup in 0..c.len() - 1 {
        let mut order = c.clone();
        order.insert(dup, c[dup].clone());
        assert_eq!(
            open(&join(&sealed, &order)),
            Err(Error::AuthenticationFailed),
            "dup {dup}"
        );
    }
    // Repeating the short final chunk leaves a short, unverifiable chunk at the end
    // after verified chunks: reported as truncation (see `StreamOpener` docs).
    let mut order = c.clone();
    order.push(c[3].clone());
    assert_eq!(open(&join(&sealed, &order)), Err(Error::StreamTruncated));
    // Repeating a full-size final chunk: it verifies as final, then trailing data.
    let sealed = seal(&data(2 * CS));
    let c = chunks(&sealed);
    let order = [c[0].clone(), c[1].clone(), c[1].clone()];
    assert_eq!(open(&join(&sealed, &order)), Err(Error::TrailingData));
}

#[test]
fn data_after_the_final_chunk_is_rejected() {
    // Full-size final chunk: it verifies as final, so what follows is trailing data.
    for len in [CS, 3 * CS] {
        let mut sealed = seal(&data(len));
        sealed.push(0);
        assert_eq!(open(&sealed), Err(Error::TrailingData), "len {len}");
        let mut sealed = seal(&data(len));
        let first = sealed[HEADER_LEN..HEADER_LEN + CT].to_vec();
        sealed.extend_from_slice(&first);
        assert_eq!(open(&sealed), Err(Error::TrailingData), "len {len}");
    }
    // Short final chunk of a single-chunk stream: its bytes no longer verify.
    for len in [0, 1, CS - 1] {
        let mut sealed = seal(&data(len));
        sealed.push(0);
        assert_eq!(open(&sealed), Err(Error::AuthenticationFailed), "len {len}");
    }
    // Short final chunk after verified chunks: indistinguishable from a cut-off chunk.
    let mut sealed = seal(&data(3 * CS + 7));
    sealed.push(0);
    assert_eq!(open(&sealed), Err(Error::StreamTruncated));
    // A whole chunk appended after a short final chunk.
    let mut sealed = seal(&data(CS + 7));
    let first = sealed[HEADER_LEN..HEADER_LEN + CT].to_vec();
    sealed.extend_from_slice(&first);
    assert_eq!(open(&sealed), Err(Error::AuthenticationFailed));
}

#[test]
fn every_sampled_bit_flip_fails() {
    for len in [0, CS + 100, 3 * CS] {
        let sealed = seal(&data(len));
        let mut positions: Vec<usize> = (0..HEADER_LEN).collect();
        positions.extend((HEADER_LEN..sealed.len()).step_by(397));
        positions.push(sealed.len() - 1);
        for r in chunks(&sealed) {
            positions.extend([r.start, r.end - 17, r.end - 16, r.end - 1]);
        }
        for pos in positions {
            for bit in [0u8, 7] {
                let mut bad = sealed.clone();
                bad[pos] ^= 1 << bit;
                let got = open(&bad);
                assert!(got.is_err(), "len {len} pos {pos} bit {bit} opened");
            }
        }
    }
}

#[test]
fn flips_in_the_body_are_authentication_failures() {
    let sealed = seal(&data(2 * CS));
    for pos in [
        HEADER_LEN,
        HEADER_LEN + CT - 1,
        HEADER_LEN + CT,
        sealed.len() - 1,
    ] {
        let mut bad = sealed.clone();
        bad[pos] ^= 0x80;
        assert_eq!(open(&bad), Err(Error::AuthenticationFailed), "pos {pos}");
    }
    // A header flip outside the parsed/checked fields: salt → commitment mismatch.
    let mut bad = sealed.clone();
    bad[30] ^= 1;
    assert_eq!(open(&bad), Err(Error::KeyCommitmentMismatch));
}

#[test]
fn wrong_context_fails() {
    let sealed = seal(&data(CS + 1));
    let short = seal(b"short");
    for other in [
        ItemContext::new(b"tenant", b"session", b"file-8", 1, ContentKind::File),
        ItemContext::new(b"tenant", b"session", b"file-7", 2, ContentKind::File),
        ItemContext::new(b"tenant", b"session", b"file-7", 1, ContentKind::Recording),
        ItemContext::new(b"tenanT", b"session", b"file-7", 1, ContentKind::File),
    ] {
        assert_eq!(
            open_as(&key(), &other, &sealed),
            Err(Error::AuthenticationFailed)
        );
        assert_eq!(
            open_as(&key(), &other, &short),
            Err(Error::AuthenticationFailed)
        );
    }
}

#[test]
fn wrong_keys_are_named() {
    let sealed = seal(&data(10));
    let other_id = DataKey::from_parts(
        KeyId::from_bytes([0x23; 16]),
        KeyEpoch(1),
        SecretBytes::from_bytes([0x17; 32]),
    );
    let other_epoch = DataKey::from_parts(
        KeyId::from_bytes([0x22; 16]),
        KeyEpoch(2),
        SecretBytes::from_bytes([0x17; 32]),
    );
    let same_name_other_secret = DataKey::from_parts(
        KeyId::from_bytes([0x22; 16]),
        KeyEpoch(1),
        SecretBytes::from_bytes([0x18; 32]),
    );
    assert_eq!(open_as(&other_id, &ctx(), &sealed), Err(Error::WrongKey));
    assert_eq!(open_as(&other_epoch, &ctx(), &sealed), Err(Error::WrongKey));
    assert_eq!(
        open_as(&same_name_other_secret, &ctx(), &sealed),
        Err(Error::KeyCommitmentMismatch)
    );
}

#[test]
fn chunk_size_out_of_bounds_in_header_is_rejected() {
    let sealed = seal(&data(10));
    for (size, small) in [
        (0u32, true),
        (4095, true),
        (1024 * 1024 + 1, false),
        (u32::MAX, false),
    ] {
        let mut bad = sealed.clone();
        bad[90..94].copy_from_slice(&size.to_be_bytes());
        let err = StreamOpener::new(&key(), &ctx(), bad.as_slice()).err();
        if small {
            assert!(
                matches!(err, Some(Error::Malformed { .. })),
                "{size}: {err:?}"
            );
        } else {
            assert!(
                matches!(err, Some(Error::TooLarge { len, .. }) if len == u64::from(size)),
                "{size}: {err:?}"
            );
        }
    }
    // In bounds but not the sealed size: the header is authenticated.
    let mut bad = sealed.clone();
    bad[90..94].copy_from_slice(&8192u32.to_be_bytes());
    assert_eq!(open(&bad), Err(Error::AuthenticationFailed));
}

#[test]
fn sealer_dropped_without_finish_is_truncated() {
    for len in [0, 5, CS, 2 * CS + 3] {
        let mut out = Vec::new();
        {
            let mut sealer = StreamSealer::with_options(
                &key(),
                &ctx(),
                &mut out,
                MIN_CHUNK_SIZE,
                all_backends()[0],
            )
            .unwrap();
            sealer.write_all(&data(len)).unwrap();
            sealer.flush().unwrap();
        }
        assert_eq!(open(&out), Err(Error::StreamTruncated), "len {len}");
    }
}

#[test]
fn plaintext_is_released_only_after_its_chunk_verified() {
    let sealed = seal(&data(3 * CS));
    let mut bad = sealed.clone();
    let second = HEADER_LEN + CT + 5;
    bad[second] ^= 1;
    let mut opener = StreamOpener::new(&key(), &ctx(), bad.as_slice()).unwrap();
    let mut got = Vec::new();
    let err = opener.read_to_end(&mut got).unwrap_err();
    assert_eq!(got, data(CS), "only the first chunk is released");
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    let inner = err.get_ref().unwrap().downcast_ref::<Error>().unwrap();
    assert_eq!(inner, &Error::AuthenticationFailed);
    // The failure is sticky.
    assert!(opener.read(&mut [0u8; 10]).is_err());
    assert!(!opener.is_finished());
}

#[test]
fn truncation_surfaces_as_unexpected_eof() {
    let sealed = seal(&data(CS + 1));
    let mut opener = StreamOpener::new(&key(), &ctx(), &sealed[..HEADER_LEN + CT]).unwrap();
    let err = opener.read_to_end(&mut Vec::new()).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    assert_eq!(
        err.get_ref().unwrap().downcast_ref::<Error>(),
        Some(&Error::StreamTruncated)
    );
}

/// A reader that fails with `WouldBlock` every other call and yields few bytes.
struct Flaky<'a> {
    data: &'a [u8],
    calls: usize,
}

impl Read for Flaky<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.calls += 1;
        if self.calls.is_multiple_of(2) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(self.data.len()).min(1000);
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

#[test]
fn reader_errors_are_not_fatal_and_lose_nothing() {
    let pt = data(2 * CS + 9);
    let sealed = seal(&pt);
    // The header is read once: give it in one piece.
    let mut input = Flaky {
        data: &sealed[HEADER_LEN..],
        calls: 0,
    };
    let header = &sealed[..HEADER_LEN];
    let mut opener = StreamOpener::new(&key(), &ctx(), header.chain(&mut input)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 512];
    let mut would_block = 0;
    loop {
        match opener.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => would_block += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(would_block > 5);
    assert_eq!(out, pt);
    assert!(opener.is_finished());
}

/// A writer that accepts `budget` bytes and then fails.
struct Full {
    budget: usize,
}

impl Write for Full {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.budget == 0 {
            return Err(io::ErrorKind::StorageFull.into());
        }
        let n = buf.len().min(self.budget);
        self.budget -= n;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn sealer_breaks_on_writer_errors() {
    let err = StreamSealer::new(&key(), &ctx(), Full { budget: 10 }).err();
    assert_eq!(err, Some(Error::Io(io::ErrorKind::StorageFull)));

    let mut sealer = StreamSealer::with_options(
        &key(),
        &ctx(),
        Full {
            budget: HEADER_LEN + 100,
        },
        MIN_CHUNK_SIZE,
        all_backends()[0],
    )
    .unwrap();
    let e = sealer.write_all(&data(3 * CS)).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::StorageFull);
    assert!(sealer.write_all(b"more").is_err());
    assert_eq!(
        sealer.finish().err(),
        Some(Error::Io(io::ErrorKind::StorageFull))
    );

    assert_eq!(
        stream::seal_stream(&key(), &ctx(), &data(CS * 2)[..], Full { budget: 200 }),
        Err(Error::Io(io::ErrorKind::StorageFull))
    );
}
