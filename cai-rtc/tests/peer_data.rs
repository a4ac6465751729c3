//! Two peers over UDP on 127.0.0.1: sealed chat both ways, a 10 MiB file verified by
//! hash, and the receiver's limits at their boundaries (message size, file size).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod peer_support;

use std::sync::Arc;

use bytes::Bytes;
use cai_rtc::data::{DataError, DataLimits, MAX_MESSAGE_SIZE_CAP, chunk_data_len};
use cai_rtc::peer::{Peer, PeerEvent};
use peer_support::*;
use sha2::{Digest, Sha256};

/// Deterministic, incompressible-looking bytes.
fn content(len: usize, seed: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    let mut block: [u8; 32] = Sha256::digest([seed]).into();
    while out.len() < len {
        out.extend_from_slice(&block);
        block = Sha256::digest(block).into();
    }
    out.truncate(len);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_both_ways_and_a_ten_mib_file() {
    let key = shared_key(7, 1);
    let (a, b) = session_pair(&key).await;

    a.send_chat("How are you today?").await.unwrap();
    let (sender, text) = next_matching(&b, |e| match e {
        PeerEvent::Chat { sender, text } => Some((sender, text)),
        _ => None,
    })
    .await;
    assert_eq!((sender, text.as_str()), (1, "How are you today?"));

    b.send_chat("Better, thank you — ünïcödé too.")
        .await
        .unwrap();
    let (sender, text) = next_matching(&a, |e| match e {
        PeerEvent::Chat { sender, text } => Some((sender, text)),
        _ => None,
    })
    .await;
    assert_eq!(
        (sender, text.as_str()),
        (2, "Better, thank you — ünïcödé too.")
    );

    // Both advertise 256 KiB, so that is the send size.
    assert_eq!(a.send_message_size(), MAX_MESSAGE_SIZE_CAP);

    let file = content(10 * 1024 * 1024, 1);
    let digest: [u8; 32] = Sha256::digest(&file).into();
    let id = a
        .send_file(
            "session-notes.bin",
            "application/octet-stream",
            Bytes::from(file.clone()),
        )
        .await
        .unwrap();
    let offer = next_matching(&b, |e| match e {
        PeerEvent::FileOffered { offer, .. } => Some(offer),
        _ => None,
    })
    .await;
    assert_eq!(offer.file_id, id);
    assert_eq!(offer.size, file.len() as u64);
    assert_eq!(
        offer.chunk_size as usize,
        chunk_data_len(MAX_MESSAGE_SIZE_CAP)
    );
    let received = next_matching(&b, |e| match e {
        PeerEvent::File(f) => Some(f),
        PeerEvent::DataRejected(e) => panic!("rejected: {e}"),
        _ => None,
    })
    .await;
    assert_eq!(received.sender, 1);
    assert_eq!(received.offer.name, "session-notes.bin");
    assert_eq!(<[u8; 32]>::from(Sha256::digest(&received.data)), digest);
    assert_eq!(received.offer.sha256, digest);

    // Chat still flows after the file, and the remote certificate was seen.
    a.send_chat("done").await.unwrap();
    next_matching(&b, |e| match e {
        PeerEvent::Chat { text, .. } if text == "done" => Some(()),
        _ => None,
    })
    .await;
    let fp = a.remote_fingerprint().await.expect("remote fingerprint");
    assert!(fp.starts_with("sha-256 "), "{fp}");
    a.close().await.unwrap();
    b.close().await.unwrap();
}

/// `b` accepts messages of at most `max_message_size` bytes and files of at most
/// `max_file_size` bytes.
async fn limited_pair(max_message_size: usize, max_file_size: u64) -> (Arc<Peer>, Arc<Peer>) {
    let key = shared_key(9, 3);
    let a = Arc::new(
        Peer::new(config(1, &key), session_keys(1, &key))
            .await
            .unwrap(),
    );
    let mut b_config = config(2, &key);
    b_config.limits = DataLimits {
        max_message_size,
        max_file_size,
        ..DataLimits::default()
    };
    let b = Arc::new(Peer::new(b_config, session_keys(2, &key)).await.unwrap());
    connect(&a, &b).await;
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_size_boundary_exactly_at_and_one_past() {
    const LIMIT: usize = 16 * 1024;
    let (a, b) = limited_pair(LIMIT, 1 << 20).await;
    let chunk = chunk_data_len(LIMIT);
    let data = content(chunk + 1, 2);

    // Offer a file of chunk + 1 bytes in chunks of `chunk` bytes: its first chunk message
    // is exactly LIMIT bytes long.
    let (offer, first) = a.with_channel(|c| {
        let (offer, _) = c
            .offer_file_with_chunk_size("f.bin", "", Bytes::from(data.clone()), chunk as u32)
            .unwrap();
        let first = c.seal_raw_chunk(0, 0, &data[..chunk]).unwrap();
        (offer, first)
    });
    assert_eq!(first.len(), LIMIT);
    a.send_raw(&offer).await.unwrap();
    a.send_raw(&first).await.unwrap();
    // The last chunk is one byte; then the whole file must arrive.
    let last = a.with_channel(|c| c.seal_raw_chunk(0, 1, &data[chunk..]).unwrap());
    a.send_raw(&last).await.unwrap();
    let file = next_matching(&b, |e| match e {
        PeerEvent::File(f) => Some(f),
        PeerEvent::DataRejected(e) => panic!("rejected: {e}"),
        _ => None,
    })
    .await;
    assert_eq!(file.data, data);

    // One byte more: a chunk message of LIMIT + 1 bytes is refused before decryption.
    let (offer, too_big) = a.with_channel(|c| {
        let (offer, _) = c
            .offer_file_with_chunk_size("g.bin", "", Bytes::from(data.clone()), chunk as u32)
            .unwrap();
        let too_big = c.seal_raw_chunk(1, 0, &data[..chunk + 1]).unwrap();
        (offer, too_big)
    });
    assert_eq!(too_big.len(), LIMIT + 1);
    a.send_raw(&offer).await.unwrap();
    a.send_raw(&too_big).await.unwrap();
    let err = next_matching(&b, |e| match e {
        PeerEvent::DataRejected(e) => Some(e),
        _ => None,
    })
    .await;
    assert!(
        matches!(err, DataError::MessageTooLarge { len, limit } if len == LIMIT + 1 && limit == LIMIT),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_size_boundary_exactly_at_and_one_past() {
    const MAX: u64 = 300_000;
    let (a, b) = limited_pair(MAX_MESSAGE_SIZE_CAP, MAX).await;

    let exact = content(MAX as usize, 3);
    a.send_file("exact.bin", "", Bytes::from(exact.clone()))
        .await
        .unwrap();
    let file = next_matching(&b, |e| match e {
        PeerEvent::File(f) => Some(f),
        PeerEvent::DataRejected(e) => panic!("rejected: {e}"),
        _ => None,
    })
    .await;
    assert_eq!(file.data, exact);

    let past = content(MAX as usize + 1, 4);
    a.send_file("past.bin", "", Bytes::from(past))
        .await
        .unwrap();
    let err = next_matching(&b, |e| match e {
        PeerEvent::DataRejected(e) => Some(e),
        PeerEvent::File(_) => panic!("a file over the limit arrived"),
        _ => None,
    })
    .await;
    assert!(
        matches!(err, DataError::FileTooLarge { size, limit } if size == MAX + 1 && limit == MAX),
        "{err:?}"
    );
    // Its chunks name a file the receiver refused.
    let err = next_matching(&b, |e| match e {
        PeerEvent::DataRejected(e) => Some(e),
        _ => None,
    })
    .await;
    assert!(
        matches!(err, DataError::UnknownFile { sender: 1, .. }),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_sees_ciphertext_and_wrong_keys_are_rejected() {
    let key = shared_key(11, 1);
    let (a, b) = session_pair(&key).await;
    let canary = "CANARY-chat-4b1d";
    let sealed = a.with_channel(|c| c.seal_chat(canary).unwrap());
    assert!(!sealed.windows(canary.len()).any(|w| w == canary.as_bytes()));
    a.send_raw(&sealed).await.unwrap();
    next_matching(&b, |e| match e {
        PeerEvent::Chat { text, .. } if text == canary => Some(()),
        _ => None,
    })
    .await;
    // The same message again: a replay.
    a.send_raw(&sealed).await.unwrap();
    let err = next_matching(&b, |e| match e {
        PeerEvent::DataRejected(e) => Some(e),
        _ => None,
    })
    .await;
    assert!(
        matches!(err, DataError::Replayed { sender: 1, .. }),
        "{err:?}"
    );

    // Sealed under another session key: refused, never shown.
    let other = shared_key(12, 1);
    let mut outsider = cai_rtc::data::SealedChannel::new(
        cai_rtc::data::ChannelContext {
            tenant: TENANT.to_vec(),
            session: SESSION.as_bytes().to_vec(),
            sender_index: 3,
            mode: None,
        },
        &other,
        DataLimits::default(),
    )
    .unwrap();
    a.send_raw(&outsider.seal_chat("intruder").unwrap())
        .await
        .unwrap();
    let err = next_matching(&b, |e| match e {
        PeerEvent::DataRejected(e) => Some(e),
        PeerEvent::Chat { text, .. } => panic!("accepted {text}"),
        _ => None,
    })
    .await;
    assert!(matches!(err, DataError::Crypto(_)), "{err:?}");
}
