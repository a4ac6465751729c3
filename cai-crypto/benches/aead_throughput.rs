//! Envelope and stream throughput against raw `ring` AES-256-GCM on the same buffers.
//!
//! Run: `cargo bench -p cai-crypto --features ring --bench aead_throughput`, then
//! `python3 scripts/bench_ratios.py` prints each case as a ratio of the raw baseline
//! measured in the same run. Figures are recorded in `docs/BENCHMARKS.md`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::hint::black_box;
use std::io::{self, Write};
use std::time::{Duration, Instant};

use cai_crypto::aead::{RING, RUST_CRYPTO};
use cai_crypto::envelope::{self, Opener, Sealer};
use cai_crypto::stream::{self, StreamSealer};
use cai_crypto::{ContentKind, DataKey, ItemContext, KeyEpoch};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

const SIZES: [usize; 3] = [1024, 64 * 1024, 1024 * 1024];

fn ctx() -> ItemContext<'static> {
    ItemContext::new(
        b"tenant-0001",
        b"session-0001",
        b"item-0001",
        1,
        ContentKind::Message,
    )
}

/// The AAD a raw baseline authenticates: as long as the envelope's header + context.
fn baseline_aad() -> Vec<u8> {
    vec![0x5a; envelope::HEADER_LEN + ctx().encoded_len()]
}

fn seal(c: &mut Criterion) {
    let key = DataKey::generate(KeyEpoch::INITIAL).unwrap();
    let raw = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7u8; 32]).unwrap());
    let aad = baseline_aad();
    let mut group = c.benchmark_group("seal");
    for size in SIZES {
        let plaintext = vec![0xa5u8; size];
        group.throughput(Throughput::Bytes(size as u64));

        let mut buf = plaintext.clone();
        let mut counter = 0u64;
        group.bench_with_input(BenchmarkId::new("raw_ring", size), &size, |b, _| {
            b.iter(|| {
                counter += 1;
                let mut n = [0u8; 12];
                n[4..].copy_from_slice(&counter.to_be_bytes());
                let tag = raw
                    .seal_in_place_separate_tag(
                        Nonce::assume_unique_for_key(n),
                        Aad::from(&aad[..]),
                        &mut buf,
                    )
                    .unwrap();
                let _ = black_box(tag);
            })
        });

        // The baseline with the envelope's nonce rule (sequence number ‖ 8 bytes from
        // the OS per seal): shows what the per-item `getrandom` call costs on its own.
        let mut buf = plaintext.clone();
        let mut seq = 0u32;
        group.bench_with_input(
            BenchmarkId::new("raw_ring_os_random_nonce", size),
            &size,
            |b, _| {
                b.iter(|| {
                    seq = seq.wrapping_add(1);
                    let mut n = [0u8; 12];
                    n[..4].copy_from_slice(&seq.to_be_bytes());
                    getrandom::fill(&mut n[4..]).unwrap();
                    let tag = raw
                        .seal_in_place_separate_tag(
                            Nonce::assume_unique_for_key(n),
                            Aad::from(&aad[..]),
                            &mut buf,
                        )
                        .unwrap();
                    let _ = black_box(tag);
                })
            },
        );

        let mut sealer = Sealer::with_backend(&key, RING).unwrap();
        let mut out = Vec::with_capacity(size + envelope::OVERHEAD);
        group.bench_with_input(BenchmarkId::new("envelope_ring", size), &size, |b, _| {
            b.iter(|| {
                out.clear();
                sealer.seal_into(&ctx(), &plaintext, &mut out).unwrap();
                black_box(&out);
            })
        });

        let mut buf = plaintext.clone();
        group.bench_with_input(
            BenchmarkId::new("envelope_ring_in_place", size),
            &size,
            |b, _| {
                b.iter(|| {
                    let parts = sealer.seal_detached(&ctx(), &mut buf).unwrap();
                    black_box(parts);
                })
            },
        );

        group.bench_with_input(
            BenchmarkId::new("envelope_ring_fresh_subkey", size),
            &size,
            |b, _| {
                b.iter(|| {
                    let mut sealer = Sealer::with_backend(&key, RING).unwrap();
                    out.clear();
                    sealer.seal_into(&ctx(), &plaintext, &mut out).unwrap();
                    black_box(&out);
                })
            },
        );

        let mut sealer = Sealer::with_backend(&key, RUST_CRYPTO).unwrap();
        group.bench_with_input(
            BenchmarkId::new("envelope_rustcrypto", size),
            &size,
            |b, _| {
                b.iter(|| {
                    out.clear();
                    sealer.seal_into(&ctx(), &plaintext, &mut out).unwrap();
                    black_box(&out);
                })
            },
        );
    }
    group.finish();
}

fn open(c: &mut Criterion) {
    let key = DataKey::generate(KeyEpoch::INITIAL).unwrap();
    let raw = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7u8; 32]).unwrap());
    let aad = baseline_aad();
    let mut group = c.benchmark_group("open");
    for size in SIZES {
        group.throughput(Throughput::Bytes(size as u64));

        let mut sealed_raw = vec![0xa5u8; size];
        let n = [1u8; 12];
        let tag = raw
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(n),
                Aad::from(&aad[..]),
                &mut sealed_raw,
            )
            .unwrap();
        sealed_raw.extend_from_slice(tag.as_ref());
        group.bench_with_input(BenchmarkId::new("raw_ring", size), &size, |b, _| {
            // The copy that restores the ciphertext is set-up, not measured: the
            // baseline is ring opening in place.
            b.iter_batched_ref(
                || sealed_raw.clone(),
                |buf| {
                    let pt = raw
                        .open_in_place(Nonce::assume_unique_for_key(n), Aad::from(&aad[..]), buf)
                        .unwrap();
                    black_box(pt.len());
                },
                BatchSize::LargeInput,
            )
        });

        let sealed = Sealer::with_backend(&key, RING)
            .unwrap()
            .seal(&ctx(), &vec![0xa5u8; size])
            .unwrap();
        let mut opener = Opener::with_backend(&key, RING);
        group.bench_with_input(BenchmarkId::new("envelope_ring", size), &size, |b, _| {
            b.iter(|| black_box(opener.open(&ctx(), &sealed).unwrap()))
        });
        group.bench_with_input(
            BenchmarkId::new("envelope_ring_in_place", size),
            &size,
            |b, _| {
                b.iter_batched_ref(
                    || sealed.clone(),
                    |env| black_box(opener.open_in_place(&ctx(), env).unwrap().len()),
                    BatchSize::LargeInput,
                )
            },
        );
        group.bench_with_input(
            BenchmarkId::new("envelope_ring_fresh_subkey", size),
            &size,
            |b, _| {
                b.iter(|| {
                    let mut opener = Opener::with_backend(&key, RING);
                    black_box(opener.open(&ctx(), &sealed).unwrap())
                })
            },
        );
        let mut opener = Opener::with_backend(&key, RUST_CRYPTO);
        group.bench_with_input(
            BenchmarkId::new("envelope_rustcrypto", size),
            &size,
            |b, _| b.iter(|| black_box(opener.open(&ctx(), &sealed).unwrap())),
        );
    }
    group.finish();
}

/// The four ways of sealing 1 KiB that `seal_lockstep` compares.
struct Seal1k {
    raw: LessSafeKey,
    aad: Vec<u8>,
    plaintext: Vec<u8>,
    buf: Vec<u8>,
    counter: u64,
    sealer: Sealer,
    out: Vec<u8>,
    /// Envelopes of the last `seal_batch` not yet handed out (one per call of case 4).
    batch: Vec<Vec<u8>>,
}

impl Seal1k {
    const CASES: [&'static str; 5] = [
        "raw_ring",
        "raw_ring_os_random_nonce",
        "envelope_ring",
        "envelope_ring_in_place",
        "envelope_ring_batch16",
    ];
    /// Items per `seal_batch` call in case 4: each call of the case costs a 16th.
    const BATCH: usize = 16;

    fn run(&mut self, case: usize) {
        self.counter += 1;
        match case {
            0 | 1 => {
                let mut n = [0u8; 12];
                if case == 0 {
                    n[4..].copy_from_slice(&self.counter.to_be_bytes());
                } else {
                    n[..4].copy_from_slice(&(self.counter as u32).to_be_bytes());
                    getrandom::fill(&mut n[4..]).unwrap();
                }
                let tag = self
                    .raw
                    .seal_in_place_separate_tag(
                        Nonce::assume_unique_for_key(n),
                        Aad::from(&self.aad[..]),
                        &mut self.buf,
                    )
                    .unwrap();
                let _ = black_box(tag);
            }
            2 => {
                self.out.clear();
                self.sealer
                    .seal_into(&ctx(), &self.plaintext, &mut self.out)
                    .unwrap();
                black_box(&self.out);
            }
            3 => {
                let parts = self.sealer.seal_detached(&ctx(), &mut self.buf).unwrap();
                black_box(parts);
            }
            _ => {
                if self.batch.is_empty() {
                    let items: Vec<_> = (0..Self::BATCH)
                        .map(|_| (ctx(), self.plaintext.as_slice()))
                        .collect();
                    self.batch = self.sealer.seal_batch(&items).unwrap();
                }
                black_box(self.batch.pop());
            }
        }
    }
}

/// 1 KiB seals in lockstep: every case runs all four operations in alternating blocks
/// of 32 and reports only its own time, so load from other jobs on a shared machine
/// falls on all cases alike and their ratios stay comparable. (The `seal` group runs
/// its cases one after another, seconds apart.)
fn seal_lockstep(c: &mut Criterion) {
    const BLOCK: u64 = 32;
    let key = DataKey::generate(KeyEpoch::INITIAL).unwrap();
    let mut ops = Seal1k {
        raw: LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7u8; 32]).unwrap()),
        aad: baseline_aad(),
        plaintext: vec![0xa5; 1024],
        buf: vec![0xa5; 1024],
        counter: 0,
        sealer: Sealer::with_backend(&key, RING).unwrap(),
        out: Vec::with_capacity(1024 + envelope::OVERHEAD),
        batch: Vec::new(),
    };
    // Which source the envelope's nonce randomness came from in this run.
    eprintln!(
        "seal_lockstep: nonce randomness from {}",
        if envelope::nonces_from_vdso() {
            "the vDSO"
        } else {
            "the getrandom system call"
        }
    );
    let mut group = c.benchmark_group("seal_lockstep");
    group.throughput(Throughput::Bytes(1024));
    for (case, name) in Seal1k::CASES.iter().enumerate() {
        group.bench_function(BenchmarkId::new(*name, 1024), |b| {
            b.iter_custom(|iters| {
                let mut own = Duration::ZERO;
                let mut done = 0;
                while done < iters {
                    let n = BLOCK.min(iters - done);
                    for other in 0..Seal1k::CASES.len() {
                        let start = Instant::now();
                        for _ in 0..n {
                            ops.run(other);
                        }
                        if other == case {
                            own += start.elapsed();
                        }
                    }
                    done += n;
                }
                own
            })
        });
    }
    group.finish();
}

const STREAM_LEN: usize = 256 * 1024 * 1024;
const CHUNK: usize = stream::DEFAULT_CHUNK_SIZE as usize;

fn streaming(c: &mut Criterion) {
    let key = DataKey::generate(KeyEpoch::INITIAL).unwrap();
    let raw = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7u8; 32]).unwrap());
    let aad = vec![0x5a; stream::HEADER_LEN + ctx().encoded_len()];
    let plaintext = vec![0xa5u8; STREAM_LEN];
    let mut group = c.benchmark_group("stream");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(STREAM_LEN as u64));

    // Baseline: ring seals the same 256 MiB in place, chunk by chunk, with counter
    // nonces and the same AAD length: the work a chunked AEAD cannot avoid.
    let mut buf = plaintext.clone();
    group.bench_function(BenchmarkId::new("raw_ring", STREAM_LEN), |b| {
        b.iter(|| {
            for (i, chunk) in buf.chunks_mut(CHUNK).enumerate() {
                let mut n = [0u8; 12];
                n[3..11].copy_from_slice(&(i as u64).to_be_bytes());
                let tag = raw
                    .seal_in_place_separate_tag(
                        Nonce::assume_unique_for_key(n),
                        Aad::from(&aad[..]),
                        chunk,
                    )
                    .unwrap();
                let _ = black_box(tag);
            }
        })
    });
    group.bench_function(BenchmarkId::new("stream_seal_ring", STREAM_LEN), |b| {
        b.iter(|| {
            let mut sealer = StreamSealer::with_options(
                &key,
                &ctx(),
                io::sink(),
                stream::DEFAULT_CHUNK_SIZE,
                RING,
            )
            .unwrap();
            sealer.write_all(&plaintext).unwrap();
            black_box(sealer.finish().unwrap());
        })
    });

    let mut sealed = Vec::with_capacity(STREAM_LEN + STREAM_LEN / CHUNK * 16 + 1024);
    stream::seal_stream(&key, &ctx(), &plaintext[..], &mut sealed).unwrap();
    group.bench_function(BenchmarkId::new("stream_open_ring", STREAM_LEN), |b| {
        b.iter(|| {
            let n = stream::open_stream(&key, &ctx(), &sealed[..], io::sink()).unwrap();
            black_box(n);
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = seal, seal_lockstep, open, streaming
}
criterion_main!(benches);
