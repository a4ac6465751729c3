//! Feeds arbitrary bytes to `StreamOpener` as a whole stream and reads to the end.
//! Any outcome but a panic (or an unbounded allocation) is fine.
//!
//! To reach past the header, inputs whose first byte is odd get a valid header for the
//! fuzzing key prepended, so chunk parsing is exercised, not only header rejection.

#![no_main]

use std::io::Read;

use cai_crypto::stream::{MIN_CHUNK_SIZE, StreamOpener, StreamSealer};
use cai_crypto::{ContentKind, DataKey, ItemContext, KeyEpoch, KeyId, SecretBytes};
use libfuzzer_sys::fuzz_target;

fn key() -> DataKey {
    DataKey::from_parts(
        KeyId::from_bytes([0x46; 16]),
        KeyEpoch(0),
        SecretBytes::from_bytes([0x5a; 32]),
    )
}

const CTX: ItemContext<'static> = ItemContext {
    tenant: b"fuzz-tenant",
    session: b"fuzz-session",
    item: b"fuzz-item",
    version: 1,
    kind: ContentKind::File,
    mode: None,
};

fuzz_target!(|data: &[u8]| {
    let key = key();
    let input: Vec<u8> = match data.split_first() {
        Some((first, rest)) if first % 2 == 1 => {
            // A valid header (and nothing else) for this key, then the fuzzer's bytes.
            let Ok(sealer) = StreamSealer::with_options(
                &key,
                &CTX,
                Vec::new(),
                MIN_CHUNK_SIZE,
                cai_crypto::aead::RUST_CRYPTO,
            ) else {
                return;
            };
            let mut header = sealer.get_ref().clone();
            drop(sealer);
            header.extend_from_slice(rest);
            header
        }
        _ => data.to_vec(),
    };
    if let Ok(mut opener) = StreamOpener::new(&key, &CTX, input.as_slice()) {
        let mut buf = [0u8; 4096];
        while let Ok(n) = opener.read(&mut buf) {
            if n == 0 {
                break;
            }
        }
    }
});
