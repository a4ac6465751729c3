//! The sealed channel without a network: the public header and the call instance are
//! bound into the envelope, a peer's own index and replays are refused, rekeying keeps exactly one previous key,
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
use cai_crypto::envelope::open;
use cai_crypto::{ContentKind, ItemContext};
use cai_rtc::data::wire::{FileOffer, Header, MessageType, encode_chunk};
use cai_rtc::data::{
    ChannelContext, DataError, DataLimits, Incoming, MAX_MESSAGE_SIZE_CAP, SealedChannel,
    chunk_data_len, send_message_size,
};
use cai_rtc::signaling::CallId;
use peer_support::{CALL, SESSION, TENANT, shared_key};
use sha2::{Digest, Sha256};

fn channel(index: u16, epoch: u32, limits: DataLimits) -> SealedChannel {
    channel_in(CALL, index, epoch, limits)
}

fn channel_in(call: CallId, index: u16, epoch: u32, limits: DataLimits) -> SealedChannel {
    SealedChannel::new(
        ChannelContext {
            tenant: TENANT.to_vec(),
            session: SESSION.as_bytes().to_vec(),
            call,
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
    // Changing the sender (byte 3: 1 becomes 0) or the sequence number (byte 11) makes
    // the envelope fail.
    for pos in [3, 11] {
        let mut t = m.clone();
        t[pos] ^= 1;
        assert!(
            matches!(b.open(&t), Err(DataError::Crypto(_))),
            "byte {pos}"
        );
    }
    // The sender rewritten to the receiver's own index: refused before the envelope.
    let mut t = m.clone();
    t[3] = 2;
    assert!(matches!(b.open(&t), Err(DataError::OwnSender(2))));
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
    // The same message again: a replay.
    assert!(matches!(
        b.open(&m),
        Err(DataError::Replayed {
            sender: 1,
            seq: 0,
            last: 0
        })
    ));
    // A reflected message of b's own.
    let own = b.seal_chat("echo").unwrap();
    assert!(matches!(b.open(&own), Err(DataError::OwnSender(2))));
}

#[test]
fn a_message_of_another_call_instance_is_refused() {
    // Same session, key, indices and sequence numbers; only the call id differs, as in
    // a call that started again after it emptied (or after a hub restart).
    let mut earlier = channel_in(CallId::from_bytes([0xee; 16]), 1, 1, DataLimits::default());
    let mut a = channel(1, 1, DataLimits::default());
    let mut b = channel(2, 1, DataLimits::default());
    b.expect_remote(1);
    let recorded = earlier.seal_chat("from the earlier call").unwrap();
    assert!(matches!(b.open(&recorded), Err(DataError::Crypto(_))));
    // Nothing was recorded for it: this call's message with the same header opens.
    let own = a.seal_chat("this call").unwrap();
    assert_eq!(own[..12], recorded[..12], "the same public header");
    assert_eq!(
        b.open(&own).unwrap(),
        Some(Incoming::Chat {
            sender: 1,
            text: "this call".into()
        })
    );
}

/// docs/DATACHANNEL.md §7, recomputed: the header, item id and context bytes of the chat
/// message, the offer and chunk bodies of the file; and a chat sealed by a channel in the
/// example's context opens under the documented context.
#[test]
fn the_worked_example_of_the_document() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/DATACHANNEL.md"
    ))
    .unwrap();
    let start = doc.find("## 7. Worked example").unwrap();
    let end = doc.find("## 8.").unwrap();
    let section: String = doc[start..end].split_whitespace().collect();
    let hex = |b: &[u8]| b.iter().map(|b| format!("{b:02x}")).collect::<String>();

    let call = CallId::parse_hex("5d3b8c1e0f2a4b6c8d9e0f1a2b3c4d5e").unwrap();
    assert!(section.contains(&format!("callid`{call}`")));
    let header = Header {
        kind: MessageType::Chat,
        sender: 1,
        seq: 0,
    };
    let item = header.item_id(&call);
    let context = ItemContext::new(TENANT, SESSION.as_bytes(), &item, 1, ContentKind::Message);
    let mut encoded = Vec::new();
    context.encode_into(&mut encoded).unwrap();
    for (what, bytes) in [
        ("header", hex(&header.to_bytes())),
        ("itemid", hex(&item)),
        ("context", hex(&encoded)),
    ] {
        assert!(
            section.contains(&format!("{what}{bytes}")),
            "{what} {bytes}"
        );
    }

    let content = b"Hello, this is the file.";
    let offer = FileOffer {
        file_id: 0,
        size: content.len() as u64,
        chunk_size: u32::try_from(chunk_data_len(MAX_MESSAGE_SIZE_CAP)).unwrap(),
        sha256: Sha256::digest(content).into(),
        name: "notes.txt".into(),
        mime: "text/plain".into(),
    };
    let file_header = |kind, seq| {
        hex(&Header {
            kind,
            sender: 1,
            seq,
        }
        .to_bytes())
    };
    for (what, bytes) in [
        ("header", file_header(MessageType::FileOffer, 1)),
        ("offerbody", hex(&offer.encode().unwrap())),
        ("header", file_header(MessageType::FileChunk, 2)),
        ("chunkbody", hex(&encode_chunk(0, 0, content))),
    ] {
        assert!(
            section.contains(&format!("{what}{bytes}")),
            "{what} {bytes}"
        );
    }

    // What a channel in that context seals opens under the documented context only.
    let key = shared_key(5, 1);
    let mut sender = channel_in(call, 1, 1, DataLimits::default());
    let message = sender.seal_chat("Guten Tag").unwrap();
    assert_eq!(hex(&message[..12]), hex(&header.to_bytes()));
    assert_eq!(open(&key, &context, &message[12..]).unwrap(), b"Guten Tag");
    let old_item = [&b"cai-dc1"[..], &header.to_bytes()].concat();
    let old = ItemContext::new(
        TENANT,
        SESSION.as_bytes(),
        &old_item,
        1,
        ContentKind::Message,
    );
    assert!(open(&key, &old, &message[12..]).is_err());
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
