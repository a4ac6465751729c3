#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use cai_crypto::hierarchy::{Kek, session_wrap_context};
use cai_crypto::modes::{self, KeyCustody, SessionMode};
use cai_crypto::passphrase::Argon2Params;
use cai_crypto::{ContentKind, Error, ItemContext, KeyEpoch, envelope};

const FAST: Argon2Params = Argon2Params::MINIMUM;

fn ctx() -> Vec<u8> {
    session_wrap_context(b"tenant-1", b"session-9").unwrap()
}

#[test]
fn server_managed_and_session_key_create_and_recover() {
    let kek = Kek::generate(1).unwrap();
    let item = ItemContext::new(b"tenant-1", b"session-9", b"m1", 1, ContentKind::Message);
    for mode in [SessionMode::ServerManaged, SessionMode::SessionKey] {
        let (key, custody) = modes::create_wrapped(mode, &kek, &ctx()).unwrap();
        assert!(custody.fits(mode));
        assert!(!custody.fits(SessionMode::Passphrase));
        assert_eq!(custody.key_id(), key.id());
        assert_eq!(custody.epoch(), KeyEpoch::INITIAL);
        let sealed = envelope::seal(&key, &item, b"hello").unwrap();

        let stored = custody.to_bytes();
        assert_eq!(stored.get(..4), Some(&b"CAIW"[..]));
        let secret = key.secret().expose_secret();
        assert!(!stored.windows(32).any(|w| w == secret));
        let custody = KeyCustody::parse(&stored).unwrap();
        let recovered = modes::recover_wrapped(&kek, &custody, &ctx()).unwrap();
        assert_eq!(recovered, key);
        assert_eq!(
            envelope::open(&recovered, &item, &sealed).unwrap(),
            b"hello"
        );

        let other = session_wrap_context(b"tenant-1", b"session-10").unwrap();
        assert_eq!(
            modes::recover_wrapped(&kek, &custody, &other),
            Err(Error::AuthenticationFailed)
        );
        assert!(matches!(
            modes::recover_passphrase(b"x", &custody),
            Err(Error::Rejected { .. })
        ));
    }
}

#[test]
fn passphrase_mode_create_and_recover() {
    let (key, custody) = modes::create_passphrase(b"our shared phrase", FAST).unwrap();
    assert!(custody.fits(SessionMode::Passphrase));
    assert!(!custody.fits(SessionMode::ServerManaged));
    let stored = custody.to_bytes();
    assert_eq!(stored.get(..4), Some(&b"CAIP"[..]));

    let custody = KeyCustody::parse(&stored).unwrap();
    assert_eq!(custody.key_id(), key.id());
    assert_eq!(
        modes::recover_passphrase(b"our shared phrase", &custody).unwrap(),
        key
    );
    assert_eq!(
        modes::recover_passphrase(b"our shared phrase!", &custody),
        Err(Error::WrongPassphrase)
    );
    let kek = Kek::generate(1).unwrap();
    assert!(matches!(
        modes::recover_wrapped(&kek, &custody, &ctx()),
        Err(Error::Rejected { .. })
    ));
}

#[test]
fn passphrase_custody_stores_nothing_that_reveals_the_key() {
    let passphrase = b"the passphrase itself";
    let (key, custody) = modes::create_passphrase(passphrase, FAST).unwrap();
    let stored = custody.to_bytes();
    let secret = key.secret().expose_secret();
    // Neither the key, nor any 8-byte window of it, nor the passphrase is stored.
    assert!(!secret.windows(8).any(|k| stored.windows(8).any(|s| s == k)));
    assert!(!stored.windows(passphrase.len()).any(|w| w == passphrase));
    // Only public fields and a verifier; it is small and fixed by the format.
    assert_eq!(stored.len(), 4 + 1 + 1 + 12 + 1 + 32 + 16 + 4 + 32);
    // The server cannot recover the key from what it stores with its KEK.
    let kek = Kek::generate(1).unwrap();
    assert!(modes::recover_wrapped(&kek, &custody, &ctx()).is_err());
}

#[test]
fn wrong_modes_are_rejected() {
    let kek = Kek::generate(1).unwrap();
    for mode in [SessionMode::Passphrase, SessionMode::EndToEnd] {
        assert!(matches!(
            modes::create_wrapped(mode, &kek, &ctx()),
            Err(Error::Rejected { .. })
        ));
    }
}

#[test]
fn custody_parse_dispatches_and_rejects() {
    assert!(matches!(
        KeyCustody::parse(b""),
        Err(Error::Truncated { .. })
    ));
    assert!(matches!(
        KeyCustody::parse(b"CAI"),
        Err(Error::Truncated { .. })
    ));
    assert!(matches!(
        KeyCustody::parse(b"CAIE\x01"),
        Err(Error::BadMagic { .. })
    ));
    assert!(matches!(
        KeyCustody::parse(b"CAIW\x01\x01"),
        Err(Error::Truncated { .. })
    ));
    assert!(matches!(
        KeyCustody::parse(b"CAIP\x01\x01"),
        Err(Error::Truncated { .. })
    ));
}

#[test]
fn mode_properties() {
    use SessionMode::*;
    assert!(ServerManaged.server_can_read() && !ServerManaged.client_seals());
    assert!(SessionKey.server_can_read() && SessionKey.client_seals());
    assert!(!Passphrase.server_can_read() && Passphrase.client_seals());
    assert!(!EndToEnd.server_can_read() && EndToEnd.client_seals());
}

#[test]
fn modes_never_silently_weaken() {
    for (i, from) in SessionMode::ALL.into_iter().enumerate() {
        for (j, to) in SessionMode::ALL.into_iter().enumerate() {
            assert_eq!(from.can_change_to(to), j >= i, "{from:?} -> {to:?}");
            // A change the server could read after, that it could not read before, is
            // never allowed.
            if from.can_change_to(to) {
                assert!(!to.server_can_read() || from.server_can_read());
                assert!(to.client_seals() || !from.client_seals());
            }
        }
    }
    assert!(!SessionMode::EndToEnd.can_change_to(SessionMode::Passphrase));
    assert!(!SessionMode::Passphrase.can_change_to(SessionMode::SessionKey));
    assert!(!SessionMode::SessionKey.can_change_to(SessionMode::ServerManaged));
    assert!(SessionMode::ServerManaged.can_change_to(SessionMode::EndToEnd));
    for m in SessionMode::ALL {
        assert_eq!(SessionMode::from_code(m.code()).unwrap(), m);
    }
}

#[test]
fn end_to_end_sessions_have_no_custody() {
    // End-to-end keys live in the session's MLS group, never with the server: there
    // is nothing to wrap or derive, and cai's e2e bytes are no custody.
    let kek = Kek::generate(1).unwrap();
    for mode in SessionMode::ALL {
        if let Ok((_, custody)) = modes::create_wrapped(mode, &kek, &ctx()) {
            assert!(!custody.fits(SessionMode::EndToEnd));
        }
    }
    assert!(matches!(
        KeyCustody::parse(b"CAIK\x02\x03\x01"),
        Err(Error::BadMagic { .. })
    ));
}
