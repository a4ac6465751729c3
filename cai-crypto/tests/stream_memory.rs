#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]
//! Constant memory: 64 MiB stream through a sealer and an opener connected by a small
//! pipe, with no buffer anywhere proportional to the stream length.
//!
//! A counting global allocator would need `unsafe impl GlobalAlloc`, which the
//! workspace forbids, so the test watches the two things that could grow instead: the
//! chunk buffers of sealer and opener (`buffer_capacity`, sampled after every call)
//! and the bytes in flight between them. The full process-level check (peak RSS while
//! sealing and opening 1 GiB) is `examples/stream_1gib.rs`.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::rc::Rc;

use cai_crypto::stream::{DEFAULT_CHUNK_SIZE, StreamOpener, StreamSealer};
use cai_crypto::{ContentKind, DataKey, ItemContext, KeyEpoch};

const TOTAL: u64 = 64 * 1024 * 1024;
const CS: usize = DEFAULT_CHUNK_SIZE as usize;

/// xorshift64 plaintext generator.
struct Gen(u64);

impl Gen {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            chunk.copy_from_slice(&self.0.to_le_bytes()[..chunk.len()]);
        }
    }
}

/// FNV-1a over 8-byte words (bytes of a short tail one by one).
#[derive(Default)]
struct Checksum(u64, u64);

impl Checksum {
    fn update(&mut self, data: &[u8]) {
        for &b in data {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        self.1 += data.len() as u64;
    }
}

#[derive(Clone, Default)]
struct Queue(Rc<RefCell<VecDeque<u8>>>);

impl Write for Queue {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().extend(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Produces ciphertext on demand: plaintext from `Gen` through a sealer into a queue.
struct SealingPipe {
    sealer: Option<StreamSealer<Queue>>,
    queue: Queue,
    gen_: Gen,
    remaining: u64,
    block: Vec<u8>,
    plain: Checksum,
    max_sealer_buffer: usize,
    max_in_flight: usize,
}

impl Read for SealingPipe {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            {
                let mut q = self.queue.0.borrow_mut();
                self.max_in_flight = self.max_in_flight.max(q.len());
                if !q.is_empty() {
                    let n = out.len().min(q.len());
                    for (dst, src) in out.iter_mut().zip(q.drain(..n)) {
                        *dst = src;
                    }
                    return Ok(n);
                }
            }
            let Some(sealer) = self.sealer.as_mut() else {
                return Ok(0);
            };
            if self.remaining > 0 {
                // Odd block sizes so writes straddle chunk boundaries.
                let n =
                    (self.remaining as usize).min(self.block.len() - (self.remaining % 3) as usize);
                let block = &mut self.block[..n];
                self.gen_.fill(block);
                self.plain.update(block);
                sealer.write_all(block)?;
                self.remaining -= n as u64;
            } else {
                self.sealer.take().unwrap().finish()?;
                continue;
            }
            self.max_sealer_buffer = self.max_sealer_buffer.max(sealer.buffer_capacity());
        }
    }
}

#[test]
fn sixty_four_mib_in_constant_memory() {
    let key = DataKey::generate(KeyEpoch::INITIAL).unwrap();
    let ctx = ItemContext::new(
        b"tenant",
        b"session",
        b"recording",
        1,
        ContentKind::Recording,
    );
    let queue = Queue::default();
    let sealer = StreamSealer::new(&key, &ctx, queue.clone()).unwrap();
    let initial_sealer_buffer = sealer.buffer_capacity();
    let mut pipe = SealingPipe {
        sealer: Some(sealer),
        queue,
        gen_: Gen(0x9e37_79b9_7f4a_7c15),
        remaining: TOTAL,
        block: vec![0u8; 50_000],
        plain: Checksum::default(),
        max_sealer_buffer: 0,
        max_in_flight: 0,
    };

    let mut opener = StreamOpener::new(&key, &ctx, &mut pipe).unwrap();
    let initial_opener_buffer = opener.buffer_capacity();
    let mut opened = Checksum::default();
    let mut max_opener_buffer = 0;
    let mut buf = vec![0u8; 70_001];
    let mut reads = 0u64;
    loop {
        // Vary the read size to exercise every path through the plaintext buffer.
        let step = [70_001, 1, 4096, 65_536, 33_333][(reads % 5) as usize];
        reads += 1;
        let n = opener.read(&mut buf[..step]).unwrap();
        max_opener_buffer = max_opener_buffer.max(opener.buffer_capacity());
        if n == 0 {
            break;
        }
        opened.update(&buf[..n]);
    }
    assert!(opener.is_finished());
    drop(opener);

    assert_eq!(pipe.plain.1, TOTAL);
    assert_eq!(opened.1, TOTAL, "every byte came back");
    assert_eq!(opened.0, pipe.plain.0, "checksums differ");

    let bound = 2 * (CS + 16);
    assert!(initial_sealer_buffer > 0 && initial_opener_buffer > 0);
    assert!(
        pipe.max_sealer_buffer <= CS + 16,
        "sealer buffer {}",
        pipe.max_sealer_buffer
    );
    assert!(
        max_opener_buffer <= bound,
        "opener buffers {max_opener_buffer} > {bound}"
    );
    assert_eq!(
        pipe.max_sealer_buffer, initial_sealer_buffer,
        "sealer buffer grew"
    );
    assert_eq!(
        max_opener_buffer, initial_opener_buffer,
        "opener buffers grew"
    );
    // Between them never more than a couple of chunks are in flight.
    assert!(
        pipe.max_in_flight <= 2 * (CS + 16) + 94,
        "in flight {}",
        pipe.max_in_flight
    );
}
