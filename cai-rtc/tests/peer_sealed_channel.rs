//! The sealed channel without a network: the public header is bound into the envelope,
//! a peer's own index and replays are refused, rekeying keeps exactly one previous key,
//! and chat and chunk limits hold at their boundaries.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod peer_support;

use bytes::Bytes;
use cai_rtc::data::{
    ChannelContext, DataError, DataLimits, Incoming, MAX_MESSAGE_SIZE_CAP, SealedChannel,
    chunk_data_len, send_message_size,
};
use peer_support::{SESSION, TENANT, shared_key};

fn channel(index: u16, epoch: u32, limits: DataLimits) -> SealedChannel {
    SealedChannel::new(
        ChannelContext {
            tenant: TENANT.to_vec(),
            session: SESSION.as_bytes().to_vec(),
            sender_index: index,
            mode: None,
        },
        &shared_key(5, epoch),
        limits,
    )
    .unwrap()
}

#[test]
fn header_is_bound_and_own_index_refused() {
    let mut a = channel(1, 1, DataLimits::default());
    let mut b = channel(2, 1, DataLimits::default());
    let m = a.seal_chat("hi").unwrap();
    // Changing the sender (byte 3) or the sequence number makes the envelope fail.
    for pos in [3, 11] {
        let mut t = m.clone();
        t[pos] ^= 1;
        if t[3] == 2 {
            assert!(matches!(b.open(&t), Err(DataError::OwnSender(2))));
        } else {
            assert!(
                matches!(b.open(&t), Err(DataError::Crypto(_))),
                "byte {pos}"
            );
        }
    }
    // Presenting chat as a file offer (type byte) fails too.
    let mut t = m.clone();
    t[1] = 0x02;
    assert!(matches!(b.open(&t), Err(DataError::Crypto(_))));
    assert_eq!(
        b.open(&m).unwrap(),
        Some(Incoming::Chat {
            sender: 1,
            text: "hi".into()
        })
    );
    // A reflected message of b's own.
    let own = b.seal_chat("echo").unwrap();
    assert!(matches!(b.open(&own), Err(DataError::OwnSender(2))));
}

#[test]
fn rekey_keeps_one_previous_key() {
    let mut a = channel(1, 1, DataLimits::default());
    let mut b = channel(2, 1, DataLimits::default());
    let e1 = a.seal_chat("epoch 1").unwrap();
    a.rekey(&shared_key(5, 2)).unwrap();
    let e2 = a.seal_chat("epoch 2").unwrap();
    a.rekey(&shared_key(5, 3)).unwrap();
    let e3 = a.seal_chat("epoch 3").unwrap();
    b.rekey(&shared_key(5, 2)).unwrap();
    b.rekey(&shared_key(5, 3)).unwrap();
    // Epoch 1 is two back: gone.
    assert!(matches!(
        b.open(&e1),
        Err(DataError::Crypto(cai_crypto::Error::WrongKey))
    ));
    assert!(b.open(&e2).unwrap().is_some());
    assert!(b.open(&e3).unwrap().is_some());
}

#[test]
fn chat_length_boundary() {
    let limits = DataLimits {
        max_chat_len: 100,
        ..DataLimits::default()
    };
    let mut a = channel(1, 1, limits);
    let mut b = channel(2, 1, limits);
    let exact = a.seal_chat(&"x".repeat(100)).unwrap();
    assert!(b.open(&exact).unwrap().is_some());
    assert!(matches!(
        a.seal_chat(&"x".repeat(101)),
        Err(DataError::ChatTooLong {
            len: 101,
            limit: 100
        })
    ));
    // A sender with a larger limit: the receiver refuses after opening.
    let mut loose = channel(3, 1, DataLimits::default());
    let long = loose.seal_chat(&"y".repeat(101)).unwrap();
    assert!(matches!(
        b.open(&long),
        Err(DataError::ChatTooLong { len: 101, .. })
    ));
}

#[test]
fn send_size_and_chunk_size_boundaries() {
    assert_eq!(send_message_size(1 << 30).unwrap(), MAX_MESSAGE_SIZE_CAP);
    assert_eq!(send_message_size(65_536).unwrap(), 65_536);
    assert_eq!(send_message_size(1024).unwrap(), 1024);
    assert!(matches!(
        send_message_size(1023),
        Err(DataError::Limit { .. })
    ));

    let mut a = channel(1, 1, DataLimits::default());
    a.set_send_limit(4096).unwrap();
    let chunk = chunk_data_len(4096);
    let data = Bytes::from(vec![1u8; 3 * chunk]);
    // Exactly the largest chunk that fits, and one byte more.
    assert!(
        a.offer_file_with_chunk_size("f", "", data.clone(), chunk as u32)
            .is_ok()
    );
    assert!(matches!(
        a.offer_file_with_chunk_size("f", "", data.clone(), chunk as u32 + 1),
        Err(DataError::Limit { .. })
    ));
    let (_, mut send) = a.offer_file("f", "", data).unwrap();
    let mut sizes = Vec::new();
    while let Some(m) = a.seal_next_chunk(&mut send) {
        sizes.push(m.unwrap().len());
    }
    assert_eq!(sizes, vec![4096; 3]);
}
