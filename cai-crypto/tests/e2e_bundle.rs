#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
#![allow(clippy::indexing_slicing)]
//! Behaviour of end-to-end epoch bundles, session state, per-sender keys, history
//! grants and device key backups.

use cai_crypto::e2e::{
    DeviceId, DeviceKeyPair, DevicePublicKey, EpochBundle, HistoryBundle, IdentityKey, LocalDevice,
    Roster, RosterEntry, SIGNATURE_CONTEXT, SessionState, requires_new_epoch, sender_key_id, wrap,
};
use cai_crypto::{ContentKind, Error, ItemContext, KeyEpoch, SecretBytes, envelope};
use ed25519_dalek::{Signer, SigningKey};

const SESSION: &[u8] = b"session-42";

fn device(name: &str, seed: u8) -> LocalDevice {
    LocalDevice::from_parts(
        DeviceId::new(name.as_bytes()).unwrap(),
        IdentityKey::from_seed(&SecretBytes::from_bytes([seed; 32])),
        DeviceKeyPair::generate().unwrap(),
    )
}

fn roster(devs: &[&LocalDevice]) -> Roster {
    Roster::new(devs.iter().map(|d| d.roster_entry().unwrap()).collect()).unwrap()
}

/// Re-signs `body` (a bundle without its signature) with the identity seed `seed`.
fn resign(body: &[u8], seed: u8) -> Vec<u8> {
    let key = SigningKey::from_bytes(&[seed; 32]);
    let mut msg = SIGNATURE_CONTEXT.to_vec();
    msg.extend_from_slice(body);
    let mut out = body.to_vec();
    out.extend_from_slice(&key.sign(&msg).to_bytes());
    out
}

/// Offset of the wrapped secret of roster position `i`.
fn wrapped_offset(bytes: &[u8], n: usize, i: usize) -> usize {
    bytes.len() - 64 - n * 80 + i * 80
}

struct Fixture {
    a: LocalDevice,
    b: LocalDevice,
    c: LocalDevice,
    roster: Roster,
}

fn fixture() -> Fixture {
    let a = device("counsellor", 1);
    let b = device("client-phone", 2);
    let c = device("client-laptop", 3); // every device signs with its own identity key
    let roster = roster(&[&a, &b, &c]);
    Fixture { a, b, c, roster }
}

#[test]
fn round_trip_three_devices() {
    let f = fixture();
    let (bundle, secret) = EpochBundle::create(SESSION, KeyEpoch(1), &f.roster, &f.a).unwrap();
    let parsed = EpochBundle::parse(bundle.to_bytes()).unwrap();
    assert_eq!(parsed, bundle);
    assert_eq!(parsed.roster().len(), 3);
    for d in [&f.a, &f.b, &f.c] {
        assert_eq!(parsed.open(d).unwrap(), secret);
        let mut state = SessionState::new(SESSION, &[f.a.identity().public()]).unwrap();
        assert_eq!(state.accept(bundle.to_bytes(), d).unwrap(), secret);
        assert_eq!(state.newest_epoch(), Some(KeyEpoch(1)));
        assert_eq!(state.roster(), Some(&f.roster));
    }
    assert_eq!(secret.epoch(), KeyEpoch(1));
    assert_eq!(secret.session(), SESSION);
    assert_eq!(secret.roster_hash(), f.roster.hash());
}

#[test]
fn device_outside_roster_is_not_a_recipient() {
    let f = fixture();
    let outsider = device("outsider", 9);
    let (bundle, _) = EpochBundle::create(SESSION, KeyEpoch(1), &f.roster, &f.a).unwrap();
    assert_eq!(bundle.open(&outsider), Err(Error::NotARecipient));
    let mut state = SessionState::new(SESSION, &[]).unwrap();
    assert_eq!(
        state.accept(bundle.to_bytes(), &outsider),
        Err(Error::NotARecipient)
    );
    assert_eq!(
        state.newest_epoch(),
        None,
        "a failed accept changes nothing"
    );

    // Same device id, but a new X25519 key: says so.
    let rekeyed = LocalDevice::from_parts(
        f.b.id().clone(),
        f.b.identity().clone(),
        DeviceKeyPair::generate().unwrap(),
    );
    assert!(matches!(bundle.open(&rekeyed), Err(Error::Rejected { .. })));

    // A sender outside the roster cannot create one.
    assert!(matches!(
        EpochBundle::create(SESSION, KeyEpoch(1), &f.roster, &outsider),
        Err(Error::Rejected { .. })
    ));
}

#[test]
fn tampering_any_byte_is_detected() {
    let f = fixture();
    let (bundle, _) = EpochBundle::create(SESSION, KeyEpoch(1), &f.roster, &f.a).unwrap();
    let bytes = bundle.to_bytes();
    let mut bad_sig = 0;
    for i in 0..bytes.len() {
        for bit in [0x01u8, 0x80] {
            let mut t = bytes.to_vec();
            t[i] ^= bit;
            match EpochBundle::parse(&t) {
                Ok(_) => panic!("byte {i} bit {bit:#x} accepted"),
                Err(Error::InvalidSignature) => bad_sig += 1,
                Err(
                    Error::Malformed { .. }
                    | Error::Truncated { .. }
                    | Error::BadMagic { .. }
                    | Error::UnsupportedVersion { .. }
                    | Error::UnsupportedSuite { .. }
                    | Error::TooLarge { .. }
                    | Error::InvalidPublicKey
                    | Error::InvalidContext { .. },
                ) => {}
                Err(e) => panic!("byte {i}: unexpected {e:?}"),
            }
        }
    }
    assert!(
        bad_sig > bytes.len(),
        "most flips reach the signature check"
    );
    for len in 0..bytes.len() {
        assert!(EpochBundle::parse(&bytes[..len]).is_err(), "prefix {len}");
    }
    let mut longer = bytes.to_vec();
    longer.push(0);
    assert!(matches!(
        EpochBundle::parse(&longer),
        Err(Error::Malformed { .. })
    ));
}

#[test]
fn unsigned_or_zero_signature_is_rejected() {
    let f = fixture();
    let (bundle, _) = EpochBundle::create(SESSION, KeyEpoch(1), &f.roster, &f.a).unwrap();
    let bytes = bundle.to_bytes();
    let body = &bytes[..bytes.len() - 64];
    assert!(matches!(
        EpochBundle::parse(body),
        Err(Error::Truncated { .. })
    ));
    let mut zeroed = body.to_vec();
    zeroed.extend_from_slice(&[0u8; 64]);
    assert_eq!(EpochBundle::parse(&zeroed), Err(Error::InvalidSignature));
    // A signature without the context prefix does not verify either.
    let mut raw = body.to_vec();
    raw.extend_from_slice(&SigningKey::from_bytes(&[1; 32]).sign(body).to_bytes());
    assert_eq!(EpochBundle::parse(&raw), Err(Error::InvalidSignature));
    // Re-signing the same body correctly is accepted (the test helper is sound).
    assert!(EpochBundle::parse(&resign(body, 1)).is_ok());
}

#[test]
fn signer_not_in_roster_is_rejected() {
    let f = fixture();
    let (bundle, _) = EpochBundle::create(SESSION, KeyEpoch(1), &f.roster, &f.a).unwrap();
    let bytes = bundle.to_bytes();
    // Swap the sender identity for an outsider's key and sign with it.
    let at = 7 + 1 + SESSION.len() + 4 + 1 + f.a.id().as_bytes().len();
    let outsider = IdentityKey::from_seed(&SecretBytes::from_bytes([9; 32]));
    let mut body = bytes[..bytes.len() - 64].to_vec();
    body[at..at + 32].copy_from_slice(&outsider.public().to_bytes());
    assert_eq!(
        EpochBundle::parse(&resign(&body, 9)),
        Err(Error::Rejected {
            what: "epoch bundle",
            reason: "sender is not in the roster"
        })
    );

    // A member not trusted for the first epoch.
    let (by_b, _) = EpochBundle::create(SESSION, KeyEpoch(1), &f.roster, &f.b).unwrap();
    let mut state = SessionState::new(SESSION, &[f.a.identity().public()]).unwrap();
    assert!(matches!(
        state.accept(by_b.to_bytes(), &f.c),
        Err(Error::Rejected { .. })
    ));

    // After epoch 1, an outsider's self-made roster is refused.
    state.accept(bundle.to_bytes(), &f.c).unwrap();
    let intruder = device("intruder", 7);
    let own = roster(&[&intruder, &f.c]);
    let (forged, _) = EpochBundle::create(SESSION, KeyEpoch(2), &own, &intruder).unwrap();
    assert_eq!(
        state.accept(forged.to_bytes(), &f.c),
        Err(Error::Rejected {
            what: "epoch bundle",
            reason: "sender was not in the previous roster"
        })
    );
    // Another session's bundle is refused.
    let (other, _) = EpochBundle::create(b"other", KeyEpoch(5), &f.roster, &f.a).unwrap();
    assert!(matches!(
        state.accept(other.to_bytes(), &f.c),
        Err(Error::Rejected { .. })
    ));
}

#[test]
fn replayed_or_lower_epochs_are_stale() {
    let f = fixture();
    let (e2, _) = EpochBundle::create(SESSION, KeyEpoch(2), &f.roster, &f.a).unwrap();
    let (e1, _) = EpochBundle::create(SESSION, KeyEpoch(1), &f.roster, &f.a).unwrap();
    let (e3, s3) = EpochBundle::create(SESSION, KeyEpoch(3), &f.roster, &f.b).unwrap();
    let mut state = SessionState::new(SESSION, &[f.a.identity().public()]).unwrap();
    state.accept(e2.to_bytes(), &f.c).unwrap();
    assert_eq!(
        state.accept(e2.to_bytes(), &f.c),
        Err(Error::StaleEpoch { current: 2, got: 2 })
    );
    assert_eq!(
        state.accept(e1.to_bytes(), &f.c),
        Err(Error::StaleEpoch { current: 2, got: 1 })
    );
    assert_eq!(state.accept(e3.to_bytes(), &f.c).unwrap(), s3);
    assert_eq!(state.newest_epoch(), Some(KeyEpoch(3)));
}

#[test]
fn wrapped_secret_is_bound_to_device_epoch_session_and_roster() {
    let f = fixture();
    let n = f.roster.len();
    let pos = |d: &LocalDevice| {
        f.roster
            .entries()
            .iter()
            .position(|e| e.device() == d.id())
            .unwrap()
    };
    let (pb, pc) = (pos(&f.b), pos(&f.c));
    let (e1, _) = EpochBundle::create(SESSION, KeyEpoch(1), &f.roster, &f.a).unwrap();
    let base = e1.to_bytes();
    let slot = |bytes: &[u8], i: usize| {
        let o = wrapped_offset(bytes, n, i);
        bytes[o..o + 80].to_vec()
    };
    let transplant = |target: &[u8], i: usize, wrapped: &[u8]| {
        let o = wrapped_offset(target, n, i);
        let mut body = target[..target.len() - 64].to_vec();
        body[o..o + 80].copy_from_slice(wrapped);
        EpochBundle::parse(&resign(&body, 1)).unwrap()
    };

    // b's secret moved to c's slot.
    let moved = transplant(base, pc, &slot(base, pb));
    assert_eq!(moved.open(&f.c), Err(Error::Hpke { op: "open" }));

    // Moved to another epoch.
    let (e2, _) = EpochBundle::create(SESSION, KeyEpoch(2), &f.roster, &f.a).unwrap();
    let moved = transplant(e2.to_bytes(), pb, &slot(base, pb));
    assert_eq!(moved.open(&f.b), Err(Error::Hpke { op: "open" }));

    // Moved to another session (same length, so offsets line up).
    let (other, _) = EpochBundle::create(b"session-43", KeyEpoch(1), &f.roster, &f.a).unwrap();
    let moved = transplant(other.to_bytes(), pb, &slot(base, pb));
    assert_eq!(moved.open(&f.b), Err(Error::Hpke { op: "open" }));

    // Moved to a bundle of the same epoch for another roster (c's key replaced).
    let c2 = LocalDevice::from_parts(
        f.c.id().clone(),
        f.c.identity().clone(),
        DeviceKeyPair::generate().unwrap(),
    );
    let r2 = roster(&[&f.a, &f.b, &c2]);
    assert!(requires_new_epoch(&f.roster, &r2));
    let (same_epoch, _) = EpochBundle::create(SESSION, KeyEpoch(1), &r2, &f.a).unwrap();
    let moved = transplant(same_epoch.to_bytes(), pb, &slot(base, pb));
    assert_eq!(moved.open(&f.b), Err(Error::Hpke { op: "open" }));

    // Control: transplanting a slot onto itself still opens.
    let same = transplant(base, pb, &slot(base, pb));
    assert!(same.open(&f.b).is_ok());
}

#[test]
fn low_order_keys_are_non_contributory() {
    let f = fixture();
    let n = f.roster.len();
    let (bundle, _) = EpochBundle::create(SESSION, KeyEpoch(1), &f.roster, &f.a).unwrap();
    let bytes = bundle.to_bytes();
    let pb = f
        .roster
        .entries()
        .iter()
        .position(|e| e.device() == f.b.id())
        .unwrap();
    let low_order: [[u8; 32]; 2] = [[0; 32], {
        let mut one = [0; 32];
        one[0] = 1;
        one
    }];
    for enc in low_order {
        let o = wrapped_offset(bytes, n, pb);
        let mut body = bytes[..bytes.len() - 64].to_vec();
        body[o..o + 32].copy_from_slice(&enc);
        let forged = EpochBundle::parse(&resign(&body, 1)).unwrap();
        assert_eq!(forged.open(&f.b), Err(Error::NonContributory));
        assert_eq!(
            wrap::open(f.b.exchange(), &enc, b"i", b"", &[0; 48]),
            Err(Error::NonContributory)
        );
        let pk = DevicePublicKey::from_bytes(enc);
        assert_eq!(f.b.exchange().agree(&pk), Err(Error::NonContributory));
        assert_eq!(
            RosterEntry::new(DeviceId::new(b"x").unwrap(), pk, f.b.identity().public()),
            Err(Error::InvalidPublicKey)
        );
    }
}

#[test]
fn joins_and_leaves_need_a_new_epoch() {
    let f = fixture();
    let d = device("supervisor", 4);
    let ab = roster(&[&f.a, &f.b]);
    assert!(requires_new_epoch(&ab, &f.roster), "join");
    assert!(requires_new_epoch(&f.roster, &ab), "leave");
    assert!(
        requires_new_epoch(&f.roster, &roster(&[&f.a, &f.b, &d])),
        "swap"
    );
    assert!(
        !requires_new_epoch(&f.roster, &roster(&[&f.c, &f.a, &f.b])),
        "order"
    );
    assert_eq!(
        Roster::parse(f.roster.to_bytes()).unwrap().hash(),
        f.roster.hash()
    );
    // Duplicates and empty rosters are refused.
    assert!(Roster::new(vec![]).is_err());
    assert!(
        Roster::new(vec![
            f.a.roster_entry().unwrap(),
            f.a.roster_entry().unwrap()
        ])
        .is_err()
    );
    let same_key = RosterEntry::new(
        DeviceId::new(b"zz").unwrap(),
        f.a.exchange().public(),
        f.a.identity().public(),
    )
    .unwrap();
    assert!(Roster::new(vec![f.a.roster_entry().unwrap(), same_key]).is_err());
    // A non-canonical roster encoding is refused.
    let ab_bytes = ab.to_bytes();
    let first_len = 1 + ab.entries()[0].device().as_bytes().len() + 64;
    let mut swapped = ab_bytes[..2].to_vec();
    swapped.extend_from_slice(&ab_bytes[2 + first_len..]);
    swapped.extend_from_slice(&ab_bytes[2..2 + first_len]);
    assert!(matches!(
        Roster::parse(&swapped),
        Err(Error::Malformed { .. })
    ));
}

#[test]
fn per_sender_keys() {
    let f = fixture();
    let (b1, s1) = EpochBundle::create(SESSION, KeyEpoch(1), &f.roster, &f.a).unwrap();
    let (b2, s2) = EpochBundle::create(SESSION, KeyEpoch(2), &f.roster, &f.a).unwrap();
    let on_b = b1.open(&f.b).unwrap();
    let on_c = b1.open(&f.c).unwrap();
    for d in [&f.a, &f.b, &f.c] {
        let k = s1.data_key(d.id()).unwrap();
        assert_eq!(on_b.data_key(d.id()).unwrap(), k);
        assert_eq!(on_c.data_key(d.id()).unwrap(), k);
        assert_eq!(k.id(), sender_key_id(SESSION, KeyEpoch(1), d.id()).unwrap());
        assert_eq!(k.epoch(), KeyEpoch(1));
        assert_eq!(
            on_c.media_secret(d.id()).unwrap(),
            s1.media_secret(d.id()).unwrap()
        );
        assert_ne!(s2.data_key(d.id()).unwrap(), k, "epoch");
        assert_ne!(
            s2.media_secret(d.id()).unwrap(),
            s1.media_secret(d.id()).unwrap()
        );
        assert_ne!(
            k.secret(),
            &s1.media_secret(d.id()).unwrap(),
            "content vs media"
        );
    }
    assert_ne!(
        s1.data_key(f.a.id()).unwrap(),
        s1.data_key(f.b.id()).unwrap()
    );
    assert_ne!(
        s1.data_key(f.a.id()).unwrap().id(),
        s1.data_key(f.b.id()).unwrap().id()
    );
    assert_ne!(
        s1.media_secret(f.a.id()).unwrap(),
        s1.media_secret(f.b.id()).unwrap()
    );
    assert_eq!(b2.open(&f.c).unwrap(), s2);

    // Sealed by a, opened by c through its session state.
    let mut state = SessionState::new(SESSION, &[f.a.identity().public()]).unwrap();
    state.accept(b1.to_bytes(), &f.c).unwrap();
    let ctx = ItemContext::new(b"tenant", SESSION, b"msg-1", 1, ContentKind::Message);
    let sealed = envelope::seal(&s1.data_key(f.a.id()).unwrap(), &ctx, b"hello").unwrap();
    let key = state.data_key(KeyEpoch(1), f.a.id()).unwrap();
    assert_eq!(envelope::open(&key, &ctx, &sealed).unwrap(), b"hello");
    // b's key does not open a's envelope.
    let wrong = state.data_key(KeyEpoch(1), f.b.id()).unwrap();
    assert_eq!(envelope::open(&wrong, &ctx, &sealed), Err(Error::WrongKey));
    assert!(matches!(
        state.data_key(KeyEpoch(2), f.a.id()),
        Err(Error::Rejected { .. })
    ));
}

#[test]
fn history_is_granted_to_the_new_participant_only() {
    let f = fixture();
    let ab = roster(&[&f.a, &f.b]);
    let (b1, s1) = EpochBundle::create(SESSION, KeyEpoch(1), &ab, &f.a).unwrap();
    let (_, s2) = EpochBundle::create(SESSION, KeyEpoch(2), &ab, &f.a).unwrap();
    let ctx = ItemContext::new(b"tenant", SESSION, b"note-1", 1, ContentKind::Note);
    let old = envelope::seal(&s1.data_key(f.a.id()).unwrap(), &ctx, b"history").unwrap();

    // A second counsellor with two devices takes over: epoch 3, and a history grant.
    let n1 = device("new-counsellor-1", 5);
    let n2 = device("new-counsellor-2", 6);
    let r3 = roster(&[&f.a, &f.b, &n1, &n2]);
    assert!(requires_new_epoch(&ab, &r3));
    let (b3, _) = EpochBundle::create(SESSION, KeyEpoch(3), &r3, &f.a).unwrap();
    let grants = HistoryBundle::create_for_all(
        SESSION,
        &[&s2, &s1],
        &f.a,
        &[n1.roster_entry().unwrap(), n2.roster_entry().unwrap()],
    )
    .unwrap();
    assert_eq!(grants.len(), 2);

    let mut st1 = SessionState::new(SESSION, &[f.a.identity().public()]).unwrap();
    st1.accept(b3.to_bytes(), &n1).unwrap();
    assert_eq!(
        st1.data_key(KeyEpoch(1), f.a.id()),
        Err(Error::NotARecipient)
    );
    let g1 = HistoryBundle::parse(grants[0].to_bytes()).unwrap();
    assert_eq!(g1, grants[0]);
    assert_eq!(g1.epochs().len(), 2);
    assert_eq!(st1.import_history(&g1, &n1).unwrap(), 2);
    let key = st1.data_key(KeyEpoch(1), f.a.id()).unwrap();
    assert_eq!(envelope::open(&key, &ctx, &old).unwrap(), b"history");
    let opened = g1.open(&n1).unwrap();
    assert_eq!(opened, vec![s1.clone(), s2.clone()]);

    // n2's grant does not open on n1; nothing is granted to outsiders or to b.
    assert_eq!(grants[1].open(&n1), Err(Error::NotARecipient));
    assert_eq!(g1.open(&n2), Err(Error::NotARecipient));
    assert_eq!(g1.open(&f.b), Err(Error::NotARecipient));
    assert_eq!(g1.open(&device("outsider", 9)), Err(Error::NotARecipient));
    assert_eq!(grants[1].open(&n2).unwrap(), vec![s1.clone(), s2.clone()]);

    // A grant by someone outside the current roster is refused by the state.
    let outsider = device("outsider", 9);
    let fake =
        HistoryBundle::create(SESSION, &[&s1], &outsider, &n2.roster_entry().unwrap()).unwrap();
    let mut st2 = SessionState::new(SESSION, &[f.a.identity().public()]).unwrap();
    assert!(matches!(
        st2.import_history(&fake, &n2),
        Err(Error::Rejected { .. })
    ));
    st2.accept(b3.to_bytes(), &n2).unwrap();
    assert!(matches!(
        st2.import_history(&fake, &n2),
        Err(Error::Rejected { .. })
    ));
    // A grant of a future epoch is refused.
    let (_, s9) = EpochBundle::create(SESSION, KeyEpoch(9), &ab, &f.a).unwrap();
    let future = HistoryBundle::create(SESSION, &[&s9], &f.a, &n2.roster_entry().unwrap()).unwrap();
    assert!(matches!(
        st2.import_history(&future, &n2),
        Err(Error::Rejected { .. })
    ));
    // b never joined the grant: its old state knows epoch 1 only.
    let mut stb = SessionState::new(SESSION, &[f.a.identity().public()]).unwrap();
    stb.accept(b1.to_bytes(), &f.b).unwrap();
    assert!(stb.data_key(KeyEpoch(1), f.a.id()).is_ok());

    // Tampering a history bundle is detected.
    let bytes = g1.to_bytes();
    for i in 0..bytes.len() {
        let mut t = bytes.to_vec();
        t[i] ^= 0x01;
        assert!(HistoryBundle::parse(&t).is_err(), "byte {i}");
    }
    for len in 0..bytes.len() {
        assert!(HistoryBundle::parse(&bytes[..len]).is_err());
    }
    // Bad inputs to create.
    assert!(HistoryBundle::create(SESSION, &[], &f.a, &n1.roster_entry().unwrap()).is_err());
    assert!(
        HistoryBundle::create(SESSION, &[&s1, &s1], &f.a, &n1.roster_entry().unwrap()).is_err()
    );
    assert!(HistoryBundle::create(b"other", &[&s1], &f.a, &n1.roster_entry().unwrap()).is_err());
    // An epoch bundle is not a history bundle and vice versa.
    assert!(matches!(
        HistoryBundle::parse(b1.to_bytes()),
        Err(Error::Malformed { .. })
    ));
    assert!(matches!(
        EpochBundle::parse(bytes),
        Err(Error::Malformed { .. })
    ));
}

#[test]
fn device_backup_round_trip_and_strict_parse() {
    let d = device("counsellor", 3);
    let blob = d.to_backup_bytes().unwrap();
    let back = LocalDevice::from_backup_bytes(&blob).unwrap();
    assert_eq!(back.id(), d.id());
    assert_eq!(back.identity().public(), d.identity().public());
    assert_eq!(back.exchange().public(), d.exchange().public());
    let peer = DeviceKeyPair::generate().unwrap();
    assert_eq!(
        back.exchange().agree(&peer.public()).unwrap(),
        d.exchange().agree(&peer.public()).unwrap()
    );
    // A bundle made for the original opens on the restored device.
    let r = roster(&[&d]);
    let (bundle, secret) = EpochBundle::create(SESSION, KeyEpoch(1), &r, &d).unwrap();
    assert_eq!(bundle.open(&back).unwrap(), secret);

    for len in 0..blob.len() {
        assert!(LocalDevice::from_backup_bytes(&blob[..len]).is_err());
    }
    let mut longer = blob.to_vec();
    longer.push(0);
    assert!(LocalDevice::from_backup_bytes(&longer).is_err());
    // Every byte but the device id's is checked (magic, version, kind, suite, id length,
    // public keys against private keys, clamping); the id itself has no redundancy —
    // the backup's encryption authenticates the blob as a whole.
    let id_range = 8..8 + d.id().as_bytes().len();
    for i in (0..blob.len()).filter(|i| !id_range.contains(i)) {
        for bit in [0x01u8, 0x40, 0x80] {
            let mut t = blob.to_vec();
            t[i] ^= bit;
            assert!(
                LocalDevice::from_backup_bytes(&t).is_err(),
                "byte {i} bit {bit}"
            );
        }
    }
    assert!(matches!(
        LocalDevice::from_backup_bytes(bundle.to_bytes()),
        Err(Error::Malformed { .. })
    ));
}

#[test]
fn debug_output_is_redacted() {
    let d = device("counsellor", 0xab);
    let r = roster(&[&d]);
    let (bundle, secret) = EpochBundle::create(SESSION, KeyEpoch(1), &r, &d).unwrap();
    let mut state = SessionState::new(SESSION, &[]).unwrap();
    state.accept(bundle.to_bytes(), &d).unwrap();
    let secrets: Vec<Vec<u8>> = vec![
        d.identity().to_seed().expose_secret().to_vec(),
        d.exchange().to_secret().expose_secret().to_vec(),
        secret.secret().expose_secret().to_vec(),
        secret
            .data_key(d.id())
            .unwrap()
            .secret()
            .expose_secret()
            .to_vec(),
        secret
            .media_secret(d.id())
            .unwrap()
            .expose_secret()
            .to_vec(),
    ];
    let shown = [
        format!("{:?}", d.identity()),
        format!("{:?}", d.exchange()),
        format!("{d:?}"),
        format!("{secret:?}"),
        format!("{:?}", secret.data_key(d.id()).unwrap()),
        format!("{:?}", secret.media_secret(d.id()).unwrap()),
        format!("{state:?}"),
        format!("{bundle:?}"),
        format!("{:?}", d.to_backup_bytes().unwrap().len()),
    ];
    for s in &shown {
        for secret in &secrets {
            assert!(!s.contains(&hex::encode(secret)), "{s}");
            assert!(!s.contains(&hex::encode(&secret[..6])), "{s}");
            let decimal = format!("{}, {}, {}", secret[0], secret[1], secret[2]);
            assert!(!s.contains(&decimal), "{s}");
        }
    }
}

#[test]
fn epochs_advance_one_at_a_time() {
    let f = fixture();
    let (e1, _) = EpochBundle::create(SESSION, KeyEpoch(1), &f.roster, &f.a).unwrap();
    let (e3, _) = EpochBundle::create(SESSION, KeyEpoch(3), &f.roster, &f.b).unwrap();
    let (max, _) = EpochBundle::create(SESSION, KeyEpoch(u32::MAX), &f.roster, &f.b).unwrap();
    let (e2, s2) = EpochBundle::create(SESSION, KeyEpoch(2), &f.roster, &f.a).unwrap();
    let mut state = SessionState::new(SESSION, &[f.a.identity().public()]).unwrap();
    state.accept(e1.to_bytes(), &f.c).unwrap();
    // A member cannot skip past withheld epochs, nor end the session with u32::MAX.
    for skipping in [&e3, &max] {
        assert!(matches!(
            state.accept(skipping.to_bytes(), &f.c),
            Err(Error::Rejected { .. })
        ));
    }
    assert_eq!(state.accept(e2.to_bytes(), &f.c).unwrap(), s2);
    assert_eq!(state.accept(e3.to_bytes(), &f.c).map(|_| ()), Ok(()));
}

#[test]
fn a_roster_lists_each_identity_key_once() {
    let a = device("phone", 1);
    let same_user_laptop = device("laptop", 1);
    assert!(matches!(
        Roster::new(vec![
            a.roster_entry().unwrap(),
            same_user_laptop.roster_entry().unwrap()
        ]),
        Err(Error::Malformed { .. })
    ));
}
