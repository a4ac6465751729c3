//! Who may speak on a sealed data channel: every participant of a call holds the
//! sealing key, so a channel checks the sender index against its remote — a third
//! participant can neither seal under another's index nor forward what another sent it.
//! And what the channel's values show in `Debug`: sizes, never chat text or file names.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use bytes::Bytes;
use cai_crypto::{DataKey, KeyEpoch, KeyId, SecretBytes};
use cai_rtc::data::{ChannelContext, DataError, DataLimits, Incoming, SealedChannel};
use cai_rtc::signaling::CallId;

const SESSION: &str = "ses_01HZX3Q7V9K2M4N6P8R0S2T4V6";

fn key() -> DataKey {
    DataKey::from_parts(
        KeyId::from_bytes([7; 16]),
        KeyEpoch(1),
        SecretBytes::from_bytes([7; 32]),
    )
}

fn channel(own: u16, remote: Option<u16>) -> SealedChannel {
    let mut c = SealedChannel::new(
        ChannelContext {
            tenant: b"ten_test".to_vec(),
            session: SESSION.as_bytes().to_vec(),
            call: CallId::from_bytes([0x0c; 16]),
            sender_index: own,
            mode: None,
        },
        &key(),
        DataLimits::default(),
    )
    .unwrap();
    if let Some(remote) = remote {
        c.expect_remote(remote);
    }
    c
}

#[test]
fn a_third_participant_cannot_speak_as_another_or_forward_its_messages() {
    // Alice (1), Bob (2), Carol (3) share the session key.
    let mut alice_to_carol = channel(1, Some(3));
    let mut carol_as_alice = channel(1, None); // Carol sealing under Alice's index
    let mut bob_from_carol = channel(2, Some(3));

    let forged = carol_as_alice.seal_chat("I am Alice").unwrap();
    assert!(matches!(
        bob_from_carol.open(&forged),
        Err(DataError::ForeignSender {
            sender: 1,
            remote: 3
        })
    ));
    // What Alice really sent to Carol, forwarded to Bob by Carol.
    let real = alice_to_carol.seal_chat("for Carol only").unwrap();
    assert!(matches!(
        bob_from_carol.open(&real),
        Err(DataError::ForeignSender {
            sender: 1,
            remote: 3
        })
    ));
    // Carol speaking as herself is accepted.
    let mut carol_to_bob = channel(3, Some(2));
    let own = carol_to_bob.seal_chat("hello Bob").unwrap();
    assert_eq!(
        bob_from_carol.open(&own).unwrap(),
        Some(Incoming::Chat {
            sender: 3,
            text: "hello Bob".into()
        })
    );
    // Without a remote set, the index is not checked (the control for the above).
    let mut unchecked = channel(2, None);
    assert!(unchecked.open(&forged).unwrap().is_some());
}

#[test]
fn debug_shows_sizes_not_content() {
    let mut a = channel(1, Some(2));
    let mut b = channel(2, Some(1));
    let chat = b.open(&a.seal_chat("very private words").unwrap()).unwrap();
    let shown = format!("{chat:?}");
    assert!(!shown.contains("private"), "{shown}");
    assert!(shown.contains("text_len"), "{shown}");

    let (offer, _) = a
        .offer_file(
            "diagnosis.pdf",
            "application/pdf",
            Bytes::from_static(b"%PDF"),
        )
        .unwrap();
    let offered = b.open(&offer).unwrap();
    let shown = format!("{offered:?}");
    assert!(!shown.contains("diagnosis"), "{shown}");
    assert!(!shown.contains("application/pdf"), "{shown}");
    assert!(shown.contains("size"), "{shown}");
}
