#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]
//! Property tests of the streaming envelope: round trips for arbitrary data, write
//! boundaries and read sizes; arbitrary and mutated input never panics and never opens
//! to anything but the sealed plaintext.

use std::io::{Read, Write};

use cai_crypto::aead::all_backends;
use cai_crypto::stream::{self, HEADER_LEN, MIN_CHUNK_SIZE, StreamOpener, StreamSealer};
use cai_crypto::{ContentKind, DataKey, ItemContext, KeyEpoch, KeyId, SecretBytes};
use proptest::prelude::*;

const CS: usize = MIN_CHUNK_SIZE as usize;

fn key() -> DataKey {
    DataKey::from_parts(
        KeyId::from_bytes([0x33; 16]),
        KeyEpoch(0),
        SecretBytes::from_bytes([0x99; 32]),
    )
}

fn ctx() -> ItemContext<'static> {
    ItemContext::new(b"t", b"s", b"i", 0, ContentKind::File)
}

fn seal(pt: &[u8], splits: &[usize]) -> Vec<u8> {
    let mut sealer = StreamSealer::with_options(
        &key(),
        &ctx(),
        Vec::new(),
        MIN_CHUNK_SIZE,
        all_backends()[0],
    )
    .unwrap();
    let mut rest = pt;
    for &s in splits {
        let (a, b) = rest.split_at(s.min(rest.len()));
        sealer.write_all(a).unwrap();
        rest = b;
    }
    sealer.write_all(rest).unwrap();
    sealer.finish().unwrap()
}

/// Reads the opener to its end with reads of `step` bytes; `Err` on any error.
fn drain(sealed: &[u8], step: usize) -> Result<Vec<u8>, std::io::Error> {
    let mut opener = StreamOpener::new(&key(), &ctx(), sealed)?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; step.max(1)];
    loop {
        let n = opener.read(&mut buf)?;
        if n == 0 {
            assert!(opener.is_finished());
            return Ok(out);
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// Data around interesting lengths: small, and near one to three chunk multiples.
fn plaintext() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64),
        (1usize..=3, -20i64..=20, any::<u8>()).prop_map(|(k, d, b)| {
            let len = (k * CS) as i64 + d;
            (0..len.max(0) as usize)
                .map(|i| (i as u8).wrapping_mul(b) ^ b)
                .collect()
        }),
        proptest::collection::vec(any::<u8>(), 0..3 * CS + 50),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn round_trip(
        pt in plaintext(),
        splits in proptest::collection::vec(0usize..6000, 0..6),
        step in 1usize..9000,
    ) {
        let sealed = seal(&pt, &splits);
        let chunks = if pt.is_empty() { 1 } else { pt.len().div_ceil(CS) };
        prop_assert_eq!(sealed.len(), HEADER_LEN + pt.len() + 16 * chunks);
        prop_assert_eq!(drain(&sealed, step).unwrap(), pt);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = drain(&bytes, 64);
        let _ = stream::StreamHeader::parse(&bytes);
    }

    #[test]
    fn arbitrary_body_after_valid_header_never_opens(
        body in proptest::collection::vec(any::<u8>(), 0..2 * CS + 100),
    ) {
        let sealed = seal(b"", &[]);
        let mut forged = sealed[..HEADER_LEN].to_vec();
        forged.extend_from_slice(&body);
        prop_assert!(drain(&forged, 1000).is_err());
    }

    #[test]
    fn mutated_streams_never_open_to_something_else(
        pt in proptest::collection::vec(any::<u8>(), 0..2 * CS + 10),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..4),
    ) {
        let sealed = seal(&pt, &[]);
        let mut bad = sealed.clone();
        for (at, byte, op) in edits {
            if bad.is_empty() { break; }
            let i = at.index(bad.len());
            match op {
                0 => bad[i] ^= byte | 1,
                1 => { bad.remove(i); }
                _ => bad.insert(i, byte),
            }
        }
        if bad != sealed {
            prop_assert!(drain(&bad, 777).is_err());
        }
    }
}
