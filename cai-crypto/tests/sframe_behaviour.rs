#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Behaviour of [`cai_crypto::sframe`]: round trips, tampering, wrong and unknown keys,
//! replays, epoch removal and key separation.

use cai_crypto::sframe::{
    COUNTER_TOO_OLD, FrameDecryptor, FrameEncryptor, MAX_OVERHEAD, MediaKeyId, MediaProtection,
    MediaSuite, REPLAYED_FRAME, TAG_LEN, parse_header,
};
use cai_crypto::{Error, KeyEpoch, SecretBytes};

const SUITES: [MediaSuite; 2] = [MediaSuite::Aes128GcmSha256, MediaSuite::Aes256GcmSha512];

fn secret(b: u8) -> SecretBytes<32> {
    SecretBytes::from_bytes([b; 32])
}

fn pair(
    suite: MediaSuite,
    kid: MediaKeyId,
    s: &SecretBytes<32>,
) -> (FrameEncryptor, FrameDecryptor) {
    let enc = FrameEncryptor::new(suite, kid, s).unwrap();
    let mut dec = FrameDecryptor::new();
    dec.add_key(suite, kid, s).unwrap();
    (enc, dec)
}

#[test]
fn round_trip_all_suites_sizes_and_metadata() {
    let kid = MediaKeyId::new(KeyEpoch(4), 9);
    for suite in SUITES {
        let (mut enc, mut dec) = pair(suite, kid, &secret(1));
        for len in [0usize, 1, 15, 16, 17, 1000, 70_000] {
            let frame: Vec<u8> = (0..len).map(|i| i as u8).collect();
            // The last metadata is larger than the AAD scratch a decryptor keeps.
            let large = [0x33u8; 5000];
            for metadata in [&b""[..], b"vp8 payload descriptor", &large, b"x"] {
                let first = enc.next_counter();
                let ct = enc.encrypt(&frame, metadata).unwrap();
                assert!(ct.len() > frame.len() + TAG_LEN);
                assert!(ct.len() <= frame.len() + MAX_OVERHEAD);
                let info = parse_header(&ct).unwrap();
                assert_eq!(info.kid, kid.as_u64());
                assert_eq!(info.counter, first);
                assert_eq!(info.media_key_id(), Some(kid));
                let mut out = vec![0xaa; 3];
                let got = dec.decrypt_into(&ct, metadata, &mut out).unwrap();
                assert_eq!(got, info);
                assert_eq!(out, frame);
            }
        }
    }
}

#[test]
fn counters_advance_and_start_randomly() {
    let kid = MediaKeyId::new(KeyEpoch(1), 1);
    let mut enc = FrameEncryptor::new(MediaSuite::default(), kid, &secret(2)).unwrap();
    let start = enc.next_counter();
    assert!(start < 1 << 63);
    let a = parse_header(&enc.encrypt(b"a", b"").unwrap())
        .unwrap()
        .counter;
    let b = parse_header(&enc.encrypt(b"b", b"").unwrap())
        .unwrap()
        .counter;
    assert_eq!((a, b), (start, start + 1));
    // Two encryptors for the same secret and KID do not start at the same counter.
    let other = FrameEncryptor::new(MediaSuite::default(), kid, &secret(2)).unwrap();
    assert_ne!(other.next_counter(), start);
    // Same plaintext, different frames.
    assert_ne!(
        enc.encrypt(b"x", b"").unwrap(),
        enc.encrypt(b"x", b"").unwrap()
    );
}

#[test]
fn tampering_is_detected_everywhere() {
    let kid = MediaKeyId::new(KeyEpoch(2), 3);
    let s = secret(3);
    let mut enc = FrameEncryptor::new(MediaSuite::default(), kid, &s).unwrap();
    let ct = enc.encrypt(b"a frame of audio", b"meta").unwrap();
    let header_len = parse_header(&ct).unwrap().header_len;
    for i in header_len..ct.len() {
        for bit in [0x01u8, 0x80] {
            let mut bad = ct.clone();
            *bad.get_mut(i).unwrap() ^= bit;
            let mut dec = FrameDecryptor::new();
            dec.add_key(MediaSuite::default(), kid, &s).unwrap();
            assert_eq!(
                dec.decrypt(&bad, b"meta"),
                Err(Error::AuthenticationFailed),
                "byte {i}"
            );
        }
    }
    // A flipped header bit names another KID or counter: unknown key or failed tag.
    for bit in 0..8 {
        let mut bad = ct.clone();
        *bad.first_mut().unwrap() ^= 1 << bit;
        let mut dec = FrameDecryptor::new();
        dec.add_key(MediaSuite::default(), kid, &s).unwrap();
        assert!(dec.decrypt(&bad, b"meta").is_err(), "config bit {bit}");
    }
    // Metadata is authenticated.
    let mut dec = FrameDecryptor::new();
    dec.add_key(MediaSuite::default(), kid, &s).unwrap();
    assert_eq!(dec.decrypt(&ct, b"mETA"), Err(Error::AuthenticationFailed));
    assert_eq!(dec.decrypt(&ct, b""), Err(Error::AuthenticationFailed));
    // A failed frame is not recorded: the genuine one still decrypts.
    assert_eq!(dec.decrypt(&ct, b"meta").unwrap(), b"a frame of audio");
    // Truncation.
    assert!(matches!(
        dec.decrypt(ct.get(..header_len + TAG_LEN - 1).unwrap(), b"meta"),
        Err(Error::Truncated { .. })
    ));
    assert!(matches!(
        dec.decrypt(&[], b""),
        Err(Error::Truncated { .. })
    ));
}

#[test]
fn decrypting_in_place_leaves_the_plaintext_in_the_frame() {
    let kid = MediaKeyId::new(KeyEpoch(5), 2);
    for suite in SUITES {
        let (mut enc, mut dec) = pair(suite, kid, &secret(4));
        for len in [0usize, 1, 17, 1200, 70_000] {
            let frame: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let mut ct = enc.encrypt(&frame, b"meta").unwrap();
            let info = parse_header(&ct).unwrap();
            let original = ct.clone();
            let (got, range) = dec.decrypt_in_place(&mut ct, b"meta").unwrap();
            assert_eq!(got, info);
            assert_eq!(range, info.header_len..info.header_len + len);
            assert_eq!(&ct[range.clone()], &frame[..]);
            // Header and tag are left as they were.
            assert_eq!(ct[..info.header_len], original[..info.header_len]);
            assert_eq!(ct[range.end..], original[range.end..]);
            // The same frame again is a replay.
            let mut again = original.clone();
            assert_eq!(
                dec.decrypt_in_place(&mut again, b"meta"),
                Err(Error::Sframe {
                    reason: REPLAYED_FRAME
                })
            );
            assert_eq!(again, original, "a refused frame is not touched");
        }
        // Tampered: refused, the payload wiped, and the genuine frame still decrypts.
        let ct = enc.encrypt(b"a frame of video", b"meta").unwrap();
        let header_len = parse_header(&ct).unwrap().header_len;
        let mut bad = ct.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert_eq!(
            dec.decrypt_in_place(&mut bad, b"meta"),
            Err(Error::AuthenticationFailed)
        );
        assert!(bad[header_len..].iter().all(|b| *b == 0));
        let mut good = ct.clone();
        let (_, range) = dec.decrypt_in_place(&mut good, b"meta").unwrap();
        assert_eq!(&good[range], b"a frame of video");
        // An unknown key leaves the frame as it was.
        let stranger = MediaKeyId::new(KeyEpoch(6), 2);
        let mut other_enc = FrameEncryptor::new(suite, stranger, &secret(4)).unwrap();
        let foreign = other_enc.encrypt(b"from a stranger", b"meta").unwrap();
        let mut copy = foreign.clone();
        assert!(matches!(
            dec.decrypt_in_place(&mut copy, b"meta"),
            Err(Error::UnknownMediaKey { .. })
        ));
        assert_eq!(copy, foreign);
        // A forged frame does not burn its counter: the genuine frame with that counter
        // still decrypts afterwards.
        let next = enc.encrypt(b"next frame", b"meta").unwrap();
        let mut forged = next.clone();
        let last = forged.len() - 1;
        forged[last] ^= 0x40;
        assert_eq!(
            dec.decrypt_in_place(&mut forged, b"meta"),
            Err(Error::AuthenticationFailed)
        );
        let mut genuine = next.clone();
        let (_, range) = dec.decrypt_in_place(&mut genuine, b"meta").unwrap();
        assert_eq!(&genuine[range], b"next frame");
        // Too short for a tag.
        let mut short = ct[..header_len + TAG_LEN - 1].to_vec();
        assert!(matches!(
            dec.decrypt_in_place(&mut short, b"meta"),
            Err(Error::Truncated { .. })
        ));
    }
}

#[test]
fn wrong_key_or_suite_fails() {
    let kid = MediaKeyId::new(KeyEpoch(1), 5);
    let mut enc = FrameEncryptor::new(MediaSuite::Aes256GcmSha512, kid, &secret(4)).unwrap();
    let ct = enc.encrypt(b"video", b"").unwrap();

    let mut wrong_secret = FrameDecryptor::new();
    wrong_secret
        .add_key(MediaSuite::Aes256GcmSha512, kid, &secret(5))
        .unwrap();
    assert_eq!(
        wrong_secret.decrypt(&ct, b""),
        Err(Error::AuthenticationFailed)
    );

    let mut wrong_suite = FrameDecryptor::new();
    wrong_suite
        .add_key(MediaSuite::Aes128GcmSha256, kid, &secret(4))
        .unwrap();
    assert_eq!(
        wrong_suite.decrypt(&ct, b""),
        Err(Error::AuthenticationFailed)
    );

    // The right secret registered under another KID: the frame's KID is unknown.
    let mut other_kid = FrameDecryptor::new();
    other_kid
        .add_key(
            MediaSuite::Aes256GcmSha512,
            MediaKeyId::new(KeyEpoch(1), 6),
            &secret(4),
        )
        .unwrap();
    assert_eq!(
        other_kid.decrypt(&ct, b""),
        Err(Error::UnknownMediaKey { kid: kid.as_u64() })
    );
}

#[test]
fn unknown_kid_error_names_epoch_and_sender() {
    let kid = MediaKeyId::new(KeyEpoch(12), 34);
    let mut enc = FrameEncryptor::new(MediaSuite::default(), kid, &secret(6)).unwrap();
    let ct = enc.encrypt(b"frame", b"").unwrap();
    let err = FrameDecryptor::new().decrypt(&ct, b"").unwrap_err();
    assert_eq!(err, Error::UnknownMediaKey { kid: kid.as_u64() });
    let shown = err.to_string();
    assert!(
        shown.contains("epoch 12") && shown.contains("sender 34"),
        "{shown}"
    );
    let Error::UnknownMediaKey { kid: raw } = err else {
        unreachable!()
    };
    let back = MediaKeyId::from_u64(raw).unwrap();
    assert_eq!((back.epoch(), back.sender_index()), (KeyEpoch(12), 34));
}

#[test]
fn replays_are_rejected() {
    let kid = MediaKeyId::new(KeyEpoch(0), 1);
    let (mut enc, mut dec) = pair(MediaSuite::default(), kid, &secret(7));
    let frames: Vec<Vec<u8>> = (0..5u8)
        .map(|i| enc.encrypt(&[i; 10], b"").unwrap())
        .collect();
    for f in &frames {
        dec.decrypt(f, b"").unwrap();
    }
    for f in &frames {
        assert_eq!(
            dec.decrypt(f, b""),
            Err(Error::Sframe {
                reason: REPLAYED_FRAME
            })
        );
    }
    // The reason is a constant callers can match on.
    assert!(matches!(
        dec.decrypt(frames.first().unwrap(), b""),
        Err(Error::Sframe {
            reason: REPLAYED_FRAME
        })
    ));
}

#[test]
fn out_of_order_within_window_is_accepted_and_old_frames_are_not() {
    let kid = MediaKeyId::new(KeyEpoch(0), 2);
    let s = secret(8);
    let mut enc = FrameEncryptor::new(MediaSuite::default(), kid, &s).unwrap();
    let mut dec = FrameDecryptor::with_replay_window(4).unwrap();
    dec.add_key(MediaSuite::default(), kid, &s).unwrap();
    let frames: Vec<Vec<u8>> = (0..10u8).map(|i| enc.encrypt(&[i], b"").unwrap()).collect();
    let [f0, f1, f2, f3, .., f9] = frames.as_slice() else {
        unreachable!()
    };
    dec.decrypt(f1, b"").unwrap();
    dec.decrypt(f0, b"").unwrap(); // late but inside the window
    dec.decrypt(f9, b"").unwrap();
    assert_eq!(
        dec.decrypt(f2, b""),
        Err(Error::Sframe {
            reason: COUNTER_TOO_OLD
        })
    );
    assert!(dec.decrypt(f3, b"").is_err());
    assert!(FrameDecryptor::with_replay_window(0).is_err());
    assert!(FrameDecryptor::with_replay_window(1 << 17).is_err());
}

#[test]
fn removing_old_epochs_makes_their_keys_unknown() {
    let s = secret(9);
    let old = MediaKeyId::new(KeyEpoch(3), 1);
    let new = MediaKeyId::new(KeyEpoch(4), 1);
    let mut enc_old = FrameEncryptor::new(MediaSuite::default(), old, &s).unwrap();
    let mut enc_new = FrameEncryptor::new(MediaSuite::default(), new, &s).unwrap();
    let mut dec = FrameDecryptor::new();
    dec.add_key(MediaSuite::default(), old, &s).unwrap();
    dec.add_key(MediaSuite::default(), new, &s).unwrap();
    dec.add_key(MediaSuite::default(), MediaKeyId::new(KeyEpoch(2), 7), &s)
        .unwrap();
    assert_eq!(dec.kids().len(), 3);

    dec.decrypt(&enc_old.encrypt(b"old", b"").unwrap(), b"")
        .unwrap();
    assert_eq!(dec.remove_epochs_before(KeyEpoch(4)), 2);
    assert_eq!(dec.kids(), vec![new.as_u64()]);
    assert!(!dec.has_key(old.as_u64()));
    assert_eq!(
        dec.decrypt(&enc_old.encrypt(b"old", b"").unwrap(), b""),
        Err(Error::UnknownMediaKey { kid: old.as_u64() })
    );
    assert_eq!(
        dec.decrypt(&enc_new.encrypt(b"new", b"").unwrap(), b"")
            .unwrap(),
        b"new"
    );
    assert!(dec.remove_key(new.as_u64()));
    assert!(!dec.remove_key(new.as_u64()));
    assert!(dec.kids().is_empty());
}

#[test]
fn re_adding_keys() {
    let kid = MediaKeyId::new(KeyEpoch(5), 5);
    let (mut enc, mut dec) = pair(MediaSuite::default(), kid, &secret(10));
    let f = enc.encrypt(b"frame", b"").unwrap();
    dec.decrypt(&f, b"").unwrap();
    // Re-delivery of the same key keeps the replay window.
    dec.add_key(MediaSuite::default(), kid, &secret(10))
        .unwrap();
    assert!(dec.decrypt(&f, b"").is_err());
    // A different key for the KID replaces the old one.
    dec.add_key(MediaSuite::default(), kid, &secret(11))
        .unwrap();
    assert_eq!(dec.decrypt(&f, b""), Err(Error::AuthenticationFailed));
    let mut enc2 = FrameEncryptor::new(MediaSuite::default(), kid, &secret(11)).unwrap();
    assert_eq!(
        dec.decrypt(&enc2.encrypt(b"x", b"").unwrap(), b"").unwrap(),
        b"x"
    );
}

/// `base_key = HKDF-SHA256(media secret, "", "cai sframe v1" ‖ suite u16be ‖ KID u64be, 32)`,
/// as `docs/SFRAME.md` specifies it for other implementations.
fn documented_base_key(suite: MediaSuite, kid: MediaKeyId, s: &SecretBytes<32>) -> [u8; 32] {
    let hk = hkdf::Hkdf::<sha2::Sha256>::new(None, s.expose_secret());
    let info = [
        &b"cai sframe v1"[..],
        &suite.id().to_be_bytes(),
        &kid.as_u64().to_be_bytes(),
    ]
    .concat();
    let mut okm = [0u8; 32];
    hk.expand(&info, &mut okm).unwrap();
    okm
}

#[test]
fn base_key_derivation_matches_the_documentation_and_separates_senders_epochs_suites() {
    let s = secret(12);
    let kids = [
        MediaKeyId::new(KeyEpoch(1), 1),
        MediaKeyId::new(KeyEpoch(1), 2),
        MediaKeyId::new(KeyEpoch(2), 1),
    ];
    let mut seen = std::collections::HashSet::new();
    let mut run = 0;
    for suite in SUITES {
        for kid in kids {
            let base = documented_base_key(suite, kid, &s);
            assert!(seen.insert(base), "base keys must differ per suite and KID");
            // A frame made from the documented base key opens under `add_key(secret)`.
            let mut enc =
                FrameEncryptor::from_rfc9605_base_key(suite, kid.as_u64(), &base, 1000).unwrap();
            let ct = enc.encrypt(b"interop", b"hdr").unwrap();
            let mut dec = FrameDecryptor::new();
            dec.add_key(suite, kid, &s).unwrap();
            assert_eq!(dec.decrypt(&ct, b"hdr").unwrap(), b"interop");
            // And a frame from `FrameEncryptor::new` opens under the documented base key.
            let mut enc = FrameEncryptor::new(suite, kid, &s).unwrap();
            let ct = enc.encrypt(b"interop", b"").unwrap();
            let mut dec = FrameDecryptor::new();
            dec.add_rfc9605_base_key(suite, kid.as_u64(), &base)
                .unwrap();
            assert_eq!(dec.decrypt(&ct, b"").unwrap(), b"interop");
            run += 1;
        }
    }
    assert_eq!(run, 6);
}

#[test]
fn one_secret_under_two_kids_gives_unrelated_ciphertexts() {
    // Even if two senders were (wrongly) given the same secret, the KID binding makes their
    // keys differ: at the same counter, the same plaintext encrypts differently.
    let s = secret(13);
    let a = MediaKeyId::new(KeyEpoch(1), 1);
    let b = MediaKeyId::new(KeyEpoch(1), 2);
    let suite = MediaSuite::default();
    let mut ea =
        FrameEncryptor::from_rfc9605_base_key(suite, 7, &documented_base_key(suite, a, &s), 5)
            .unwrap();
    let mut eb =
        FrameEncryptor::from_rfc9605_base_key(suite, 7, &documented_base_key(suite, b, &s), 5)
            .unwrap();
    let (ca, cb) = (
        ea.encrypt(&[0u8; 32], b"").unwrap(),
        eb.encrypt(&[0u8; 32], b"").unwrap(),
    );
    assert_eq!(parse_header(&ca).unwrap(), parse_header(&cb).unwrap());
    assert_ne!(ca, cb);
}

#[test]
fn debug_output_hides_secrets() {
    let kid = MediaKeyId::new(KeyEpoch(1), 1);
    let (enc, dec) = pair(MediaSuite::default(), kid, &secret(0xab));
    let shown = format!("{enc:?} {dec:?}");
    assert!(
        // The random frame counter may contain any digits; look for the byte patterns
        // a leaked key would print as ([171, 171, ...] or hex).
        !shown.contains("171, 171") && !shown.to_lowercase().contains("abababab"),
        "{shown}"
    );
    assert!(shown.contains("FrameEncryptor") && shown.contains("FrameDecryptor"));
    assert_eq!(format!("{kid}"), "epoch 1 sender 1 (kid 0x10001)");
}

#[test]
fn media_protection_indicator() {
    let e2e = MediaProtection::for_call(Some(MediaSuite::default()));
    assert!(e2e.is_end_to_end());
    assert_eq!(
        e2e.to_string(),
        "end-to-end encrypted (SFrame AES_256_GCM_SHA512_128)"
    );
    let transport = MediaProtection::for_call(None);
    assert!(!transport.is_end_to_end());
    assert!(transport.to_string().contains("transport-encrypted only"));
}

#[test]
fn types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<FrameEncryptor>();
    check::<FrameDecryptor>();
}
