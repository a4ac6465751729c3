//! Fuzzes envelope v1 parsing and opening (`docs/ENVELOPE.md`).
//!
//! * Arbitrary bytes go to `EnvelopeHeader::parse` and `envelope::open` under a fixed
//!   key and context: neither may panic, and nothing the fuzzer invents may open.
//! * The same bytes, with the fixed key id and epoch spliced in, reach the commitment
//!   and tag checks.
//! * A structured branch seals fuzzer-chosen content in a fuzzer-chosen context and
//!   asserts that it opens to the same bytes, and that one flipped bit makes it fail.
//!
//! Run: `cargo +nightly fuzz run envelope_open` in `fuzz/`.

#![no_main]

use cai_crypto::envelope::{self, EnvelopeHeader, HEADER_LEN, OVERHEAD};
use cai_crypto::{ContentKind, DataKey, ItemContext, KeyEpoch, KeyId, SecretBytes};
use libfuzzer_sys::fuzz_target;

fn fixed_key() -> DataKey {
    DataKey::from_parts(
        KeyId::from_bytes([0xa5; 16]),
        KeyEpoch(7),
        SecretBytes::from_bytes([0x42; 32]),
    )
}

/// Splits `n` bytes (clamped to 1..=255, the valid id lengths) off the front of `data`.
fn take_id<'a>(data: &mut &'a [u8], n: u8) -> &'a [u8] {
    let n = usize::from(n.max(1)).min(data.len());
    let (head, tail) = data.split_at(n);
    *data = tail;
    head
}

fuzz_target!(|data: &[u8]| {
    let key = fixed_key();
    let ctx = ItemContext::new(b"tenant", b"session", b"item", 1, ContentKind::Message);

    // 1. Arbitrary bytes: parse and open must not panic; nothing forged opens.
    if let Ok((header, body)) = EnvelopeHeader::parse(data) {
        assert!(body.len() >= 16);
        assert_eq!(&header.to_bytes()[..], &data[..HEADER_LEN]);
    }
    assert!(envelope::open(&key, &ctx, data).is_err());

    // 2. The same bytes behind a header naming the fixed key reach the commitment check.
    if data.len() >= OVERHEAD {
        let mut forged = data.to_vec();
        forged[..6].copy_from_slice(b"CAIE\x01\x01");
        forged[6..22].copy_from_slice(key.id().as_bytes());
        forged[22..26].copy_from_slice(&key.epoch().0.to_be_bytes());
        assert!(envelope::open(&key, &ctx, &forged).is_err());
    }

    // 3. Structured: seal fuzzer content in a fuzzer context; it must round trip.
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let Some((&lens, mut rest)) = rest.split_first() else {
        return;
    };
    let tenant = take_id(&mut rest, lens & 0x0f);
    let session = take_id(&mut rest, lens >> 4);
    let item = take_id(&mut rest, first);
    if tenant.is_empty() || session.is_empty() || item.is_empty() {
        return;
    }
    let kind = ContentKind::ALL[usize::from(first) % ContentKind::ALL.len()];
    let version = u32::from(first).wrapping_mul(0x0101_0101);
    let ctx = ItemContext::new(tenant, session, item, version, kind);
    let plaintext = rest;
    let sealed = envelope::seal(&key, &ctx, plaintext).expect("valid context and size seal");
    assert_eq!(sealed.len(), OVERHEAD + plaintext.len());
    let opened = envelope::open(&key, &ctx, &sealed).expect("own envelope opens");
    assert_eq!(opened, plaintext);

    let mut bad = sealed;
    let pos = usize::from(lens) * 31 % bad.len();
    bad[pos] ^= 1 << (first % 8);
    assert!(
        envelope::open(&key, &ctx, &bad).is_err(),
        "bit flip at {pos} opened"
    );
});
