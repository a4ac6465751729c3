//! Two participants in one process, brought together by a real `SignalingHub` over
//! in-memory signaling channels (admitted by cai-auth and cai-core), each a `Call` with
//! its peer over UDP on 127.0.0.1: sealed chat both ways, a 10 MiB file verified by hash,
//! the DTLS certificate checked against the description, and the receiver's limits at
//! their boundaries (message size, file size).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod peer_support;

use bytes::Bytes;
use cai_core::domain::SessionMode;
use cai_rtc::call::{Call, CallEvent};
use cai_rtc::data::{DataError, DataLimits, MAX_MESSAGE_SIZE_CAP, chunk_data_len};
use cai_rtc::media::CallProtection;
use cai_rtc::signaling::Fingerprint;
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

/// Cora (index 0) and the guest (index 1) in a server-managed session, sharing `key`;
/// the guest's data channel has `limits`.
async fn pair_with(key_byte: u8, limits: DataLimits) -> (Call, Call) {
    let (w, s, link) = hub_session(SessionMode::ServerManaged).await;
    let key = shared_key(key_byte, 0);
    let mut guest = session_setup(&w, &key);
    guest.limits = limits;
    let calls = connect_via_hub(&w, s, &link, session_setup(&w, &key), guest).await;
    // The world (hub, service) lives as long as the calls need it: the hub's tasks hold
    // clones of what they serve.
    drop(w);
    calls
}

async fn next_rejection(call: &Call) -> DataError {
    next_call_matching(call, |e| match e {
        CallEvent::DataRejected { peer: 0, error } => Some(error),
        CallEvent::File { .. } => panic!("a refused file arrived"),
        CallEvent::Chat { text, .. } => panic!("accepted {text}"),
        _ => None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_both_ways_and_a_ten_mib_file_through_the_hub() {
    let (w, s, link) = hub_session(SessionMode::ServerManaged).await;
    let key = shared_key(7, 0);
    let a = join_session(&w, cora_auth(&w, s), &key).await.unwrap();
    assert!(!a.admitted().end_to_end);
    assert!(a.admitted().peers.is_empty());
    let b = join_session(&w, guest_auth(&w, &link), &key).await.unwrap();
    // Cora learns of the guest, then both see the connection up with the certificate
    // checked; outside end-to-end mode the call says so (R-E5).
    let joined = next_call_matching(&a, |e| match e {
        CallEvent::PeerJoined(p) => Some(p),
        _ => None,
    })
    .await;
    assert_eq!(joined.sender_index, 1);
    assert_eq!(Some(joined.participant), Some(b.admitted().participant));
    let mut seen = Vec::new();
    for (call, other) in [(&a, 1u16), (&b, 0u16)] {
        let (fingerprint, protection) = next_call_matching(call, |e| match e {
            CallEvent::PeerConnected {
                peer,
                fingerprint,
                protection,
            } if peer == other => Some((fingerprint, protection)),
            _ => None,
        })
        .await;
        assert_eq!(protection, CallProtection::TransportOnly);
        // What was checked is what the stack saw.
        let reported = call
            .peer(other)
            .unwrap()
            .remote_fingerprint()
            .await
            .unwrap();
        assert_eq!(Fingerprint::parse(&reported).unwrap(), fingerprint);
        seen.push(fingerprint);
    }
    assert_ne!(seen[0], seen[1], "each side has its own certificate");
    assert_eq!((a.peers(), b.peers()), (vec![1], vec![0]));

    a.send_chat("How are you today?").await.unwrap();
    assert_eq!(
        next_chat_from(&b, None).await,
        (0, "How are you today?".to_owned())
    );
    b.send_chat("Better, thank you — ünïcödé too.")
        .await
        .unwrap();
    assert_eq!(
        next_chat_from(&a, None).await,
        (1, "Better, thank you — ünïcödé too.".to_owned())
    );

    // Both advertise 256 KiB, so that is the send size.
    assert_eq!(a.peer(1).unwrap().send_message_size(), MAX_MESSAGE_SIZE_CAP);

    let file = content(10 * 1024 * 1024, 1);
    let digest: [u8; 32] = Sha256::digest(&file).into();
    let id = a
        .send_file(
            1,
            "session-notes.bin",
            "application/octet-stream",
            Bytes::from(file.clone()),
        )
        .await
        .unwrap();
    let offer = next_call_matching(&b, |e| match e {
        CallEvent::FileOffered { peer: 0, offer } => Some(offer),
        _ => None,
    })
    .await;
    assert_eq!(offer.file_id, id);
    assert_eq!(offer.size, file.len() as u64);
    assert_eq!(
        offer.chunk_size as usize,
        chunk_data_len(MAX_MESSAGE_SIZE_CAP)
    );
    let received = next_call_matching(&b, |e| match e {
        CallEvent::File { peer: 0, file } => Some(file),
        CallEvent::DataRejected { error, .. } => panic!("rejected: {error}"),
        _ => None,
    })
    .await;
    assert_eq!(received.sender, 0);
    assert_eq!(received.offer.name, "session-notes.bin");
    assert_eq!(<[u8; 32]>::from(Sha256::digest(&received.data)), digest);
    assert_eq!(received.offer.sha256, digest);

    // Chat still flows after the file, the other way too.
    b.send_chat("done").await.unwrap();
    assert_eq!(next_chat_from(&a, None).await, (1, "done".to_owned()));

    // The guest leaves: Cora sees it and closes that connection.
    b.leave();
    let ended = next_call_matching(&b, |e| match e {
        CallEvent::Ended(r) => Some(r),
        _ => None,
    })
    .await;
    assert_eq!(ended, None, "left, not ended by the server");
    next_call_matching(&a, |e| match e {
        CallEvent::PeerLeft { peer: 1 } => Some(()),
        _ => None,
    })
    .await;
    assert!(a.peers().is_empty());
    assert!(a.peer(1).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_size_boundary_exactly_at_and_one_past() {
    const LIMIT: usize = 16 * 1024;
    let (a, b) = pair_with(
        9,
        DataLimits {
            max_message_size: LIMIT,
            max_file_size: 1 << 20,
            ..DataLimits::default()
        },
    )
    .await;
    let to_b = a.peer(1).unwrap();
    let chunk = chunk_data_len(LIMIT);
    let data = content(chunk + 1, 2);

    // Offer a file of chunk + 1 bytes in chunks of `chunk` bytes: its first chunk message
    // is exactly LIMIT bytes long.
    let (offer, first) = to_b.with_channel(|c| {
        let (offer, _) = c
            .offer_file_with_chunk_size("f.bin", "", Bytes::from(data.clone()), chunk as u32)
            .unwrap();
        let first = c.seal_raw_chunk(0, 0, &data[..chunk]).unwrap();
        (offer, first)
    });
    assert_eq!(first.len(), LIMIT);
    to_b.send_raw(&offer).await.unwrap();
    to_b.send_raw(&first).await.unwrap();
    // The last chunk is one byte; then the whole file must arrive.
    let last = to_b.with_channel(|c| c.seal_raw_chunk(0, 1, &data[chunk..]).unwrap());
    to_b.send_raw(&last).await.unwrap();
    let file = next_call_matching(&b, |e| match e {
        CallEvent::File { file, .. } => Some(file),
        CallEvent::DataRejected { error, .. } => panic!("rejected: {error}"),
        _ => None,
    })
    .await;
    assert_eq!(file.data, data);

    // One byte more: a chunk message of LIMIT + 1 bytes is refused before decryption.
    let (offer, too_big) = to_b.with_channel(|c| {
        let (offer, _) = c
            .offer_file_with_chunk_size("g.bin", "", Bytes::from(data.clone()), chunk as u32)
            .unwrap();
        let too_big = c.seal_raw_chunk(1, 0, &data[..chunk + 1]).unwrap();
        (offer, too_big)
    });
    assert_eq!(too_big.len(), LIMIT + 1);
    to_b.send_raw(&offer).await.unwrap();
    to_b.send_raw(&too_big).await.unwrap();
    let err = next_rejection(&b).await;
    assert!(
        matches!(err, DataError::MessageTooLarge { len, limit } if len == LIMIT + 1 && limit == LIMIT),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_size_boundary_exactly_at_and_one_past() {
    const MAX: u64 = 300_000;
    let (a, b) = pair_with(
        10,
        DataLimits {
            max_message_size: MAX_MESSAGE_SIZE_CAP,
            max_file_size: MAX,
            ..DataLimits::default()
        },
    )
    .await;

    let exact = content(MAX as usize, 3);
    a.send_file(1, "exact.bin", "", Bytes::from(exact.clone()))
        .await
        .unwrap();
    let file = next_call_matching(&b, |e| match e {
        CallEvent::File { file, .. } => Some(file),
        CallEvent::DataRejected { error, .. } => panic!("rejected: {error}"),
        _ => None,
    })
    .await;
    assert_eq!(file.data, exact);

    let past = content(MAX as usize + 1, 4);
    a.send_file(1, "past.bin", "", Bytes::from(past))
        .await
        .unwrap();
    let err = next_rejection(&b).await;
    assert!(
        matches!(err, DataError::FileTooLarge { size, limit } if size == MAX + 1 && limit == MAX),
        "{err:?}"
    );
    // Its chunks name a file the receiver refused.
    let err = next_rejection(&b).await;
    assert!(
        matches!(err, DataError::UnknownFile { sender: 0, .. }),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_sees_ciphertext_and_wrong_keys_are_rejected() {
    let (a, b) = pair_with(11, DataLimits::default()).await;
    let to_b = a.peer(1).unwrap();
    let canary = "CANARY-chat-4b1d";
    let sealed = to_b.with_channel(|c| c.seal_chat(canary).unwrap());
    assert!(!sealed.windows(canary.len()).any(|w| w == canary.as_bytes()));
    to_b.send_raw(&sealed).await.unwrap();
    assert_eq!(next_chat_from(&b, None).await, (0, canary.to_owned()));
    // The same message again: a replay.
    to_b.send_raw(&sealed).await.unwrap();
    let err = next_rejection(&b).await;
    assert!(
        matches!(err, DataError::Replayed { sender: 0, .. }),
        "{err:?}"
    );

    // Sealed under another session key: refused, never shown.
    let call = b.admitted().call;
    assert_eq!(call, a.admitted().call, "one call instance");
    let other = shared_key(12, 0);
    let mut outsider = cai_rtc::data::SealedChannel::new(
        cai_rtc::data::ChannelContext {
            tenant: TENANT.to_vec(),
            session: SESSION.as_bytes().to_vec(),
            call,
            // Posing as A (the channel's remote), past A's last sequence number, so
            // only the key can give it away.
            sender_index: 0,
            mode: None,
        },
        &other,
        DataLimits::default(),
    )
    .unwrap();
    let _seq0 = outsider.seal_chat("intruder").unwrap();
    to_b.send_raw(&outsider.seal_chat("intruder").unwrap())
        .await
        .unwrap();
    let err = next_rejection(&b).await;
    assert!(matches!(err, DataError::Crypto(_)), "{err:?}");

    // Sealed under the right key as A, past A's last sequence number, but for another
    // call instance (a message recorded in an earlier call of the session): refused.
    let mut earlier_call = cai_rtc::data::SealedChannel::new(
        cai_rtc::data::ChannelContext {
            tenant: TENANT.to_vec(),
            session: SESSION.as_bytes().to_vec(),
            call: cai_rtc::signaling::CallId::random().unwrap(),
            sender_index: 0,
            mode: None,
        },
        &shared_key(11, 0),
        DataLimits::default(),
    )
    .unwrap();
    for _ in 0..3 {
        earlier_call.seal_chat("from the earlier call").unwrap();
    }
    to_b.send_raw(&earlier_call.seal_chat("from the earlier call").unwrap())
        .await
        .unwrap();
    let err = next_rejection(&b).await;
    assert!(matches!(err, DataError::Crypto(_)), "{err:?}");

    // Sealed under the right key but claiming a third participant's index (everyone in
    // a call holds the key): the channel to A accepts only A's index.
    let mut third = cai_rtc::data::SealedChannel::new(
        cai_rtc::data::ChannelContext {
            tenant: TENANT.to_vec(),
            session: SESSION.as_bytes().to_vec(),
            call,
            sender_index: 3,
            mode: None,
        },
        &shared_key(11, 0),
        DataLimits::default(),
    )
    .unwrap();
    to_b.send_raw(&third.seal_chat("as someone else").unwrap())
        .await
        .unwrap();
    let err = next_rejection(&b).await;
    assert!(
        matches!(
            err,
            DataError::ForeignSender {
                sender: 3,
                remote: 0
            }
        ),
        "{err:?}"
    );
}
