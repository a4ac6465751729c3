#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Arbitrary bytes never make SFrame parsing or decryption panic, and round trips hold for
//! arbitrary frames and metadata.

use cai_crypto::sframe::{FrameDecryptor, FrameEncryptor, MediaKeyId, MediaSuite, parse_header};
use cai_crypto::{KeyEpoch, SecretBytes};
use proptest::prelude::*;

fn decryptor() -> FrameDecryptor {
    let mut dec = FrameDecryptor::new();
    let s = SecretBytes::from_bytes([1; 32]);
    for (epoch, sender) in [(0u32, 0u16), (0, 1), (0, 7), (1, 0), (300, 65535)] {
        dec.add_key(
            MediaSuite::default(),
            MediaKeyId::new(KeyEpoch(epoch), sender),
            &s,
        )
        .unwrap();
    }
    dec.add_key(
        MediaSuite::Aes128GcmSha256,
        MediaKeyId::new(KeyEpoch(0), 2),
        &s,
    )
    .unwrap();
    dec
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parse_and_decrypt_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200),
                                     meta in proptest::collection::vec(any::<u8>(), 0..8)) {
        if let Ok(info) = parse_header(&bytes) {
            prop_assert!(info.header_len >= 1 && info.header_len <= 17);
            prop_assert!(info.header_len <= bytes.len());
        }
        let mut dec = decryptor();
        let mut out = vec![1, 2, 3];
        if dec.decrypt_into(&bytes, &meta, &mut out).is_err() {
            prop_assert!(out.is_empty());
        }
    }

    #[test]
    fn small_config_bytes_with_known_kids_never_panic(config in 0u8..=0x7f,
                                                      rest in proptest::collection::vec(any::<u8>(), 0..40)) {
        // Config bytes with a short KID hit the keys above, so decryption is attempted.
        let mut bytes = vec![config];
        bytes.extend_from_slice(&rest);
        let mut dec = decryptor();
        prop_assert!(dec.decrypt(&bytes, b"").is_err());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn round_trip(frame in proptest::collection::vec(any::<u8>(), 0..2000),
                  meta in proptest::collection::vec(any::<u8>(), 0..32),
                  epoch in any::<u32>(), sender in any::<u16>(), aes128 in any::<bool>()) {
        let suite = if aes128 { MediaSuite::Aes128GcmSha256 } else { MediaSuite::Aes256GcmSha512 };
        let kid = MediaKeyId::new(KeyEpoch(epoch), sender);
        let s = SecretBytes::from_bytes([epoch as u8; 32]);
        let mut enc = FrameEncryptor::new(suite, kid, &s).unwrap();
        let mut dec = FrameDecryptor::new();
        dec.add_key(suite, kid, &s).unwrap();
        let ct = enc.encrypt(&frame, &meta).unwrap();
        prop_assert_eq!(parse_header(&ct).unwrap().media_key_id(), Some(kid));
        prop_assert_eq!(dec.decrypt(&ct, &meta).unwrap(), frame);
    }
}
