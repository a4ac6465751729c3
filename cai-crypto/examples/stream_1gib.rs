//! Seals 1 GiB (or `N` MiB given as the first argument) of pseudo-random data into a
//! temporary file with the streaming envelope, opens it again, and checks that the
//! plaintext comes back, that both directions run at a useful speed, and that peak
//! resident memory stays below 64 MiB whatever the size.
//!
//! ```text
//! cargo run --release -p cai-crypto --features ring --example stream_1gib [MiB]
//! ```
//!
//! Exits non-zero if the checksum differs or peak RSS (`VmHWM`) reaches 64 MiB.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::process::ExitCode;
use std::time::Instant;

use cai_crypto::stream::{StreamOpener, StreamSealer};
use cai_crypto::{ContentKind, DataKey, ItemContext, KeyEpoch};

const BLOCK: usize = 64 * 1024;
const RSS_LIMIT_KIB: u64 = 64 * 1024;

/// xorshift64: cheap pseudo-random plaintext, one 64 KiB block at a time.
struct Generator(u64);

impl Generator {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            let bytes = self.0.to_le_bytes();
            chunk.copy_from_slice(bytes.get(..chunk.len()).unwrap_or_default());
        }
    }
}

/// A running checksum of a byte sequence (FNV-1a over 8-byte words, length mixed in).
#[derive(Default, PartialEq, Eq, Debug)]
struct Checksum {
    hash: u64,
    len: u64,
}

impl Checksum {
    fn update(&mut self, data: &[u8]) {
        let mut words = data.chunks_exact(8);
        for w in &mut words {
            let mut a = [0u8; 8];
            a.copy_from_slice(w);
            self.hash = (self.hash ^ u64::from_le_bytes(a)).wrapping_mul(0x100_0000_01b3);
        }
        for &b in words.remainder() {
            self.hash = (self.hash ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        self.len += data.len() as u64;
    }
}

/// Peak resident set size of this process in KiB, from `/proc/self/status`.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn mib_per_s(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / secs.max(1e-9)
}

fn run(mib: u64) -> Result<bool, Box<dyn std::error::Error>> {
    let total = mib * 1024 * 1024;
    let key = DataKey::generate(KeyEpoch::INITIAL)?;
    let ctx = ItemContext::new(
        b"tenant",
        b"session",
        b"recording",
        1,
        ContentKind::Recording,
    );
    let path = std::env::temp_dir().join(format!("cai-stream-1gib-{}.cais", std::process::id()));
    let mut block = vec![0u8; BLOCK];

    // Seal.
    let start = Instant::now();
    let mut sealed_sum = Checksum::default();
    let file = BufWriter::new(File::create(&path)?);
    let mut sealer = StreamSealer::new(&key, &ctx, file)?;
    let mut gen_ = Generator(0x2545_f491_4f6c_dd1d);
    let mut left = total;
    while left > 0 {
        let n = usize::try_from(left.min(BLOCK as u64))?;
        let part = block.get_mut(..n).ok_or("block")?;
        gen_.fill(part);
        sealed_sum.update(part);
        sealer.write_all(part)?;
        left -= n as u64;
    }
    let file = sealer.finish()?;
    file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    let seal_secs = start.elapsed().as_secs_f64();
    let file_len = std::fs::metadata(&path)?.len();

    // Open.
    let start = Instant::now();
    let mut opened_sum = Checksum::default();
    let mut opener = StreamOpener::new(&key, &ctx, BufReader::new(File::open(&path)?))?;
    let result: io::Result<()> = (|| {
        loop {
            let n = opener.read(&mut block)?;
            if n == 0 {
                return Ok(());
            }
            opened_sum.update(block.get(..n).unwrap_or_default());
        }
    })();
    let open_secs = start.elapsed().as_secs_f64();
    let finished = opener.is_finished();
    drop(opener);
    std::fs::remove_file(&path)?;
    result?;

    let rss = peak_rss_kib();
    println!("plaintext     {mib} MiB ({total} bytes), sealed file {file_len} bytes");
    println!(
        "seal          {:.2} s, {:.0} MiB/s",
        seal_secs,
        mib_per_s(total, seal_secs)
    );
    println!(
        "open          {:.2} s, {:.0} MiB/s",
        open_secs,
        mib_per_s(total, open_secs)
    );
    match rss {
        Some(kib) => println!("peak RSS      {:.1} MiB (VmHWM)", kib as f64 / 1024.0),
        None => println!("peak RSS      unavailable (no /proc/self/status)"),
    }
    let sums_ok = finished && sealed_sum == opened_sum && opened_sum.len == total;
    println!(
        "checksum      {} ({:016x} over {} bytes)",
        if sums_ok { "ok" } else { "MISMATCH" },
        opened_sum.hash,
        opened_sum.len
    );
    let rss_ok = rss.is_none_or(|kib| kib < RSS_LIMIT_KIB);
    if !rss_ok {
        println!("peak RSS reached the 64 MiB limit");
    }
    Ok(sums_ok && rss_ok)
}

fn main() -> ExitCode {
    let mib = match std::env::args().nth(1).map(|a| a.parse::<u64>()) {
        None => 1024,
        Some(Ok(m)) if m > 0 => m,
        Some(_) => {
            eprintln!("usage: stream_1gib [size in MiB, default 1024]");
            return ExitCode::from(2);
        }
    };
    match run(mib) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
