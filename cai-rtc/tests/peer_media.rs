//! Media between two peers over UDP on 127.0.0.1 in a session-key call: synthetic frames
//! are SFrame-protected before packetisation and decrypt after depacketisation; what a
//! holder of the DTLS/SRTP keys sees (the depacketised frames) is unreadable without the
//! session key; after an epoch change, frames under the old key are dropped and counted.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod peer_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cai_crypto::DataKey;
use cai_crypto::sframe::{CallId, FrameDecryptor, MediaSuite, add_session_sender};
use cai_rtc::media::{CallProtection, DropReason};
use cai_rtc::peer::{LocalTrack, MediaKind, Peer, PeerEvent};
use peer_support::*;
use sha2::{Digest, Sha256};

/// Frame `i` of `kind`: a readable canary, then pseudo-random filler. Video frames are
/// larger than one RTP packet, so they are split and reassembled.
fn frame(kind: MediaKind, i: u32) -> Vec<u8> {
    let (tag, len) = match kind {
        MediaKind::Audio => ("AUDIO", 160),
        MediaKind::Video => ("VIDEO", 3000),
    };
    let mut out = format!("CANARY-{tag}-{i:08}").into_bytes();
    let mut block: [u8; 32] = Sha256::digest(&out).into();
    while out.len() < len {
        out.extend_from_slice(&block);
        block = Sha256::digest(block).into();
    }
    out.truncate(len);
    out
}

/// Which frame `data` is, checking it byte for byte.
fn identify(kind: MediaKind, data: &[u8]) -> u32 {
    let prefix_len = "CANARY-AUDIO-".len();
    let digits = std::str::from_utf8(&data[prefix_len..prefix_len + 8]).unwrap();
    let i: u32 = digits.parse().unwrap();
    assert_eq!(data, frame(kind, i), "frame {i} altered");
    i
}

/// Sends audio and video frames every few milliseconds until `stop`.
fn stream(audio: Arc<LocalTrack>, video: Arc<LocalTrack>, stop: Arc<AtomicBool>) {
    tokio::spawn(async move {
        let mut i = 0;
        while !stop.load(Ordering::Relaxed) {
            audio
                .write_frame(&frame(MediaKind::Audio, i))
                .await
                .unwrap();
            video
                .write_frame(&frame(MediaKind::Video, i))
                .await
                .unwrap();
            i += 1;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_key_media_flows_and_a_transport_holder_cannot_read_it() {
    let key = shared_key(21, 1);
    let a = Arc::new(
        Peer::new(config(1, &key), session_keys(1, &key))
            .await
            .unwrap(),
    );
    let mut b_config = config(2, &key);
    b_config.tap_transport_frames = true;
    let b = Arc::new(Peer::new(b_config, session_keys(2, &key)).await.unwrap());
    let audio = Arc::new(a.add_track(MediaKind::Audio).await.unwrap());
    let video = Arc::new(a.add_track(MediaKind::Video).await.unwrap());
    connect(&a, &b).await;
    assert_eq!(a.protection(), CallProtection::TransportOnly);
    assert_eq!(b.protection().as_str(), "transport_only");

    let stop = Arc::new(AtomicBool::new(false));
    stream(audio, video, stop.clone());

    // Collect decrypted frames and what the transport carried.
    let mut transport = Vec::new();
    let (mut audio_ok, mut video_ok) = (0, 0);
    while audio_ok < 20 || video_ok < 10 {
        match next_matching(&b, Some).await {
            PeerEvent::TransportFrame { kind, payload } => transport.push((kind, payload)),
            PeerEvent::Frame { kind, frame } => {
                identify(kind, &frame.data);
                assert_eq!((frame.sender, frame.epoch), (1, 1));
                match kind {
                    MediaKind::Audio => audio_ok += 1,
                    MediaKind::Video => video_ok += 1,
                }
            }
            PeerEvent::FrameDropped { dropped, .. } => panic!("dropped: {dropped}"),
            _ => {}
        }
    }

    // The transport view: no canary, no plaintext, and a wrong session key opens nothing,
    // nor does the right key in another call instance (a replay into a later call).
    assert!(transport.len() >= 30);
    let decryptor = |key: &DataKey, call: &CallId| {
        let mut d = FrameDecryptor::new();
        add_session_sender(
            &mut d,
            MediaSuite::Aes256GcmSha512,
            key,
            SESSION.as_bytes(),
            call,
            1,
        )
        .unwrap();
        d
    };
    let mut wrong = decryptor(&shared_key(99, 1), &CALL);
    let mut other_call = decryptor(&key, &CallId::from_bytes([0x5d; 16]));
    let mut right = decryptor(&key, &CALL);
    for (kind, payload) in &transport {
        assert!(!payload.windows(6).any(|w| w == b"CANARY"));
        assert!(wrong.decrypt(payload, b"").is_err());
        assert!(other_call.decrypt(payload, b"").is_err());
        identify(*kind, &right.decrypt(payload, b"").unwrap());
    }

    // b moves to epoch 2 first (a participant left): a's epoch-1 frames are stale.
    let next = shared_key(21, 2);
    b.rekey_session(&next, &[1, 2]).unwrap();
    let mut stale = 0;
    while stale < 5 {
        if let PeerEvent::FrameDropped { dropped, .. } = next_matching(&b, Some).await {
            assert_eq!(dropped.reason, DropReason::StaleEpoch);
            assert_eq!(dropped.kid, Some(1 << 16 | 1));
            stale += 1;
        }
    }
    assert!(b.media_stats().dropped_stale >= 5);
    assert_eq!(b.media_stats().dropped_invalid, 0);
    // Not backwards.
    assert!(a.rekey_session(&key, &[1, 2]).is_err());

    // Then a follows, and frames decrypt again under epoch 2.
    a.rekey_session(&next, &[1, 2]).unwrap();
    next_matching(&b, |e| match e {
        PeerEvent::Frame { frame, .. } if frame.epoch == 2 => Some(()),
        _ => None,
    })
    .await;
    let stats = b.media_stats();
    assert!(stats.frames_decrypted >= 31);
    assert_eq!(
        stats.frames_received,
        stats.frames_decrypted + stats.dropped_stale + stats.dropped_invalid
    );
    assert!(a.media_stats().frames_sent >= 30);
    stop.store(true, Ordering::Relaxed);
    a.close().await.unwrap();
    b.close().await.unwrap();
}
