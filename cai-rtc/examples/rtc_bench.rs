//! cai-rtc figures on loopback, printed (docs/BENCHMARKS.md, section "cai-rtc"):
//!
//! 1. data-channel throughput of 1 KiB sealed chat messages between two peers over UDP on
//!    127.0.0.1 (MB/s of plaintext), and of a 10 MiB file in 256 KiB chunks;
//! 2. round-trip latency of 1 KiB sealed messages (median, p99): send, the other peer
//!    opens and answers, the first opens the answer;
//! 3. SFrame protect + unprotect of a 1,200-byte frame against raw AES-256-GCM seal + open
//!    of 1,200 bytes with the same AEAD (RustCrypto, key prepared once), in the same run,
//!    alternating in rounds; the ratio is raw time / SFrame time (target ≥ 80 %). The peer's
//!    path is `protect_bytes` (what `LocalTrack` hands the packetiser) + `unprotect_bytes`
//!    (what the audio reader does with an RTP payload); the peer's path before those
//!    (`protect` → `Bytes::from`, `to_vec` → `unprotect_owned`), the owned-`Vec` path
//!    (`protect` + `unprotect_owned`, used for reassembled video frames) and the lowest
//!    level (`encrypt_into` + `decrypt_in_place`, one reused buffer) are shown beside it.
//!
//! Run: `cargo run --release -p cai-rtc --example rtc_bench`
//! (`CAI_BENCH_MESSAGES`, default 20000; `CAI_BENCH_PINGS`, default 2000;
//! `CAI_BENCH_SEND_BUFFER`, default `cai_rtc::peer::DEFAULT_SEND_BUFFER`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cai_crypto::aead::{NONCE_LEN, RUST_CRYPTO, TAG_LEN};
use cai_crypto::sframe::{FrameDecryptor, FrameEncryptor, MediaKeyId, MediaSuite};
use cai_crypto::{DataKey, KeyEpoch, KeyId, SecretBytes};
use cai_rtc::data::ChannelContext;
use cai_rtc::media::CallKeys;
use cai_rtc::peer::{Peer, PeerConfig, PeerEvent};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const SESSION: &str = "ses_bench";
const CALL: cai_crypto::sframe::CallId = cai_crypto::sframe::CallId::from_bytes([0xbe; 16]);

fn key() -> DataKey {
    DataKey::from_parts(
        KeyId::from_bytes([1; 16]),
        KeyEpoch(1),
        SecretBytes::from_bytes([42; 32]),
    )
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn peer(index: u16) -> Result<Arc<Peer>, BoxError> {
    let mut config = PeerConfig::new(
        ChannelContext {
            tenant: b"ten_bench".to_vec(),
            session: SESSION.as_bytes().to_vec(),
            call: CALL,
            sender_index: index,
            mode: None,
        },
        key(),
    )
    .loopback_only();
    config.send_buffer = env_usize("CAI_BENCH_SEND_BUFFER", config.send_buffer);
    let keys = CallKeys::session(SESSION, &CALL, &key(), index, &[1, 2])?;
    Ok(Arc::new(Peer::new(config, keys).await?))
}

async fn connect(a: &Arc<Peer>, b: &Arc<Peer>) -> Result<(), BoxError> {
    let offer = a.create_offer().await?;
    let answer = b.accept_offer(&offer).await?;
    a.accept_answer(&answer).await?;
    for (from, to) in [(a.clone(), b.clone()), (b.clone(), a.clone())] {
        let mut rx = from.take_local_candidates().ok_or("candidates taken")?;
        tokio::spawn(async move {
            while let Some(c) = rx.recv().await {
                if to.add_remote_candidate(&c).await.is_err() {
                    break;
                }
            }
        });
    }
    a.wait_data_channel_open().await?;
    b.wait_data_channel_open().await?;
    Ok(())
}

/// Waits for the next chat message on `peer`.
async fn next_chat(peer: &Peer) -> Result<String, BoxError> {
    loop {
        match peer.next_event().await.ok_or("events ended")? {
            PeerEvent::Chat { text, .. } => return Ok(text),
            PeerEvent::DataRejected(e) => return Err(e.into()),
            _ => {}
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

async fn data_channel() -> Result<(), BoxError> {
    let (a, b) = (peer(1).await?, peer(2).await?);
    connect(&a, &b).await?;
    let text = "x".repeat(1024);
    // Warm-up (also fixes the send size from the negotiated max-message-size).
    a.send_chat(&text).await?;
    next_chat(&b).await?;

    let n = env_usize("CAI_BENCH_MESSAGES", 20_000);
    let receiver = {
        let b = b.clone();
        tokio::spawn(async move {
            for _ in 0..n {
                next_chat(&b).await?;
            }
            Ok::<_, BoxError>(Instant::now())
        })
    };
    let start = Instant::now();
    for _ in 0..n {
        a.send_chat(&text).await?;
    }
    let end = receiver.await??;
    let secs = (end - start).as_secs_f64();
    println!(
        "data channel, 1 KiB sealed messages: {n} in {:.3} s = {:.0} msg/s, {:.2} MB/s of plaintext ({} B on the wire each)",
        secs,
        n as f64 / secs,
        (n * 1024) as f64 / secs / 1e6,
        a.with_channel(|c| c.seal_chat(&text).map(|m| m.len()))?,
    );

    let file = Bytes::from(vec![7u8; 10 * 1024 * 1024]);
    let start = Instant::now();
    a.send_file("bench.bin", "", file.clone()).await?;
    loop {
        match b.next_event().await.ok_or("events ended")? {
            PeerEvent::File(f) if f.data.len() == file.len() => break,
            PeerEvent::DataRejected(e) => return Err(e.into()),
            _ => {}
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "data channel, 10 MiB file in {} B messages: {:.3} s = {:.2} MB/s",
        a.send_message_size(),
        secs,
        file.len() as f64 / secs / 1e6
    );

    // Round trips: b answers every message.
    let pings = env_usize("CAI_BENCH_PINGS", 2_000);
    let echo = {
        let b = b.clone();
        let text = text.clone();
        tokio::spawn(async move {
            for _ in 0..pings + 10 {
                next_chat(&b).await?;
                b.send_chat(&text).await?;
            }
            Ok::<_, BoxError>(())
        })
    };
    let mut rtts = Vec::with_capacity(pings);
    for i in 0..pings + 10 {
        let t = Instant::now();
        a.send_chat(&text).await?;
        next_chat(&a).await?;
        if i >= 10 {
            rtts.push(t.elapsed());
        }
    }
    echo.await??;
    rtts.sort();
    println!(
        "data channel, 1 KiB sealed round trip ({pings}): median {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        percentile(&rtts, 0.5).as_secs_f64() * 1e6,
        percentile(&rtts, 0.99).as_secs_f64() * 1e6,
        rtts.last().copied().unwrap_or_default().as_secs_f64() * 1e6,
    );
    a.close().await?;
    b.close().await?;
    Ok(())
}

const FRAME: usize = 1200;
const ROUND: usize = 500;
const ROUNDS: usize = 400;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Nanoseconds per frame of `f` over one round.
fn round(mut f: impl FnMut()) -> f64 {
    let t = Instant::now();
    for _ in 0..ROUND {
        f();
    }
    t.elapsed().as_nanos() as f64 / ROUND as f64
}

fn sframe_vs_raw() -> Result<(), BoxError> {
    let frame = vec![0x5au8; FRAME];
    let dek = key();

    // Raw AES-256-GCM seal + open, key prepared once, buffer reused, counter nonce.
    let raw_key = RUST_CRYPTO.prepare(&[9u8; 32])?;
    let mut raw_buf = frame.clone();
    let mut nonce_ctr = 0u64;
    let mut raw = || -> Result<(), BoxError> {
        nonce_ctr += 1;
        let mut nonce = [0u8; NONCE_LEN];
        nonce[4..].copy_from_slice(&nonce_ctr.to_be_bytes());
        let tag: [u8; TAG_LEN] = raw_key.seal_in_place(&nonce, b"", &mut raw_buf)?;
        raw_key.open_in_place(&nonce, b"", &mut raw_buf, &tag)?;
        Ok(())
    };

    // SFrame through the call's keys as the peer uses them: protect_bytes (cut from a
    // reused buffer, handed to the packetiser as `Bytes`) + unprotect_bytes (the RTP
    // payload copied into a reused buffer and decrypted there).
    let mut sender = CallKeys::session(SESSION, &CALL, &dek, 1, &[1, 2])?;
    let mut receiver = CallKeys::session(SESSION, &CALL, &dek, 2, &[1, 2])?;
    let mut call = || -> Result<(), BoxError> {
        let protected = sender.protect_bytes(&frame, b"")?;
        receiver
            .unprotect_bytes(&protected, b"")
            .map_err(|e| e.to_string())?;
        Ok(())
    };

    // The owned-`Vec` path: protect (a new buffer) + unprotect_owned (in that buffer).
    let mut vec_sender = CallKeys::session(SESSION, &CALL, &dek, 1, &[1, 2])?;
    let mut vec_receiver = CallKeys::session(SESSION, &CALL, &dek, 2, &[1, 2])?;
    let mut owned = || -> Result<(), BoxError> {
        let protected = vec_sender.protect(&frame, b"")?;
        vec_receiver
            .unprotect_owned(protected, b"")
            .map_err(|e| e.to_string())?;
        Ok(())
    };

    // The peer's path before `protect_bytes`/`unprotect_bytes`, as it ran per frame:
    // protect into a new Vec, `Bytes::from` it for the `Sample`, copy the RTP payload
    // out (`to_vec`) and unprotect_owned that copy.
    let mut old_sender = CallKeys::session(SESSION, &CALL, &dek, 1, &[1, 2])?;
    let mut old_receiver = CallKeys::session(SESSION, &CALL, &dek, 2, &[1, 2])?;
    let mut before = || -> Result<(), BoxError> {
        let sample = Bytes::from(old_sender.protect(&frame, b"")?);
        old_receiver
            .unprotect_owned(sample.to_vec(), b"")
            .map_err(|e| e.to_string())?;
        Ok(())
    };

    // SFrame with reused buffers: encrypt_into + decrypt_in_place.
    let secret = cai_crypto::sframe::session_media_secret(
        dek.secret(),
        SESSION.as_bytes(),
        &CALL,
        KeyEpoch(1),
        1,
    )?;
    let kid = MediaKeyId::new(KeyEpoch(1), 1);
    let mut enc = FrameEncryptor::new(MediaSuite::Aes256GcmSha512, kid, &secret)?;
    let mut dec = FrameDecryptor::new();
    dec.add_key(MediaSuite::Aes256GcmSha512, kid, &secret)?;
    let mut buf = Vec::with_capacity(FRAME + 64);
    let mut reused = || -> Result<(), BoxError> {
        enc.encrypt_into(&frame, b"", &mut buf)?;
        dec.decrypt_in_place(&mut buf, b"")?;
        Ok(())
    };

    let (mut t_raw, mut t_call, mut t_before, mut t_owned, mut t_reused) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut failed: Option<BoxError> = None;
    let mut check = |r: Result<(), BoxError>| {
        if let Err(e) = r {
            failed.get_or_insert(e);
        }
    };
    for _ in 0..ROUNDS {
        t_raw.push(round(|| check(raw())));
        t_call.push(round(|| check(call())));
        t_before.push(round(|| check(before())));
        t_owned.push(round(|| check(owned())));
        t_reused.push(round(|| check(reused())));
    }
    if let Some(e) = failed {
        return Err(e);
    }
    let (raw, call, before, owned, reused) = (
        median(t_raw),
        median(t_call),
        median(t_before),
        median(t_owned),
        median(t_reused),
    );
    println!(
        "1,200-byte frame, seal/protect + open/unprotect, median of {ROUNDS} rounds of {ROUND}:"
    );
    println!("  raw AES-256-GCM (RustCrypto, prepared key): {raw:.0} ns");
    println!(
        "  SFrame via CallKeys, peer path (Bytes):     {call:.0} ns = {:.1} % of raw",
        raw / call * 100.0
    );
    println!(
        "  the peer path before (Vec, Bytes::from, to_vec): {before:.0} ns = {:.1} % of raw",
        raw / before * 100.0
    );
    println!(
        "  SFrame via CallKeys, owned Vec:             {owned:.0} ns = {:.1} % of raw",
        raw / owned * 100.0
    );
    println!(
        "  SFrame encrypt_into + decrypt_in_place:     {reused:.0} ns = {:.1} % of raw",
        raw / reused * 100.0
    );
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), BoxError> {
    sframe_vs_raw()?;
    data_channel().await?;
    Ok(())
}
