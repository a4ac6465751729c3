//! Arbitrary bytes as an SFrame header and frame: parsing and decryption under fixed keys
//! must return errors, never panic. The KIDs 0..=7 (one-byte headers) and a 6-byte cai KID
//! have keys, so the fuzzer reaches the AEAD and the replay window, not only the parser.

#![no_main]

use cai_crypto::sframe::{FrameDecryptor, MediaKeyId, MediaSuite, parse_header};
use cai_crypto::{KeyEpoch, SecretBytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = parse_header(data) {
        assert!(info.header_len >= 1 && info.header_len <= 17 && info.header_len <= data.len());
    }

    let secret = SecretBytes::from_bytes([0x42; 32]);
    let mut decryptor = FrameDecryptor::new();
    for sender in 0..8u16 {
        let suite = if sender % 2 == 0 {
            MediaSuite::Aes256GcmSha512
        } else {
            MediaSuite::Aes128GcmSha256
        };
        let _ = decryptor.add_key(suite, MediaKeyId::new(KeyEpoch(0), sender), &secret);
    }
    let _ = decryptor.add_key(
        MediaSuite::default(),
        MediaKeyId::new(KeyEpoch(0x0102_0304), 0x0506),
        &secret,
    );

    // The whole input as a frame, then split into metadata and frame at the first byte.
    let mut out = Vec::new();
    if decryptor.decrypt_into(data, b"", &mut out).is_err() {
        assert!(out.is_empty());
    }
    if let Some((&split, rest)) = data.split_first() {
        let at = usize::from(split).min(rest.len());
        let (metadata, frame) = rest.split_at(at);
        let _ = decryptor.decrypt(frame, metadata);
    }
});
