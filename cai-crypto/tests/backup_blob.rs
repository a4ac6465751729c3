#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use cai_crypto::backup::{
    BackupSecret, HEADER_LEN, KeyBackup, MAX_PAYLOAD_LEN, RECOVERY_KEY_CHARS, RecoveryKey,
};
use cai_crypto::passphrase::{Argon2Params, MIN_MEMORY_KIB};
use cai_crypto::{Error, SecretBytes};
use proptest::prelude::*;

const FAST: Argon2Params = Argon2Params::MINIMUM;
const PAYLOAD: &[u8] = b"-----BEGIN PRIVATE KEYS----- device x25519 + identity ed25519";

fn flip(bytes: &mut [u8], i: usize) {
    if let Some(b) = bytes.get_mut(i) {
        *b ^= 0x01;
    }
}

#[test]
fn both_slots_open() {
    let rk = RecoveryKey::generate().unwrap();
    let backup = KeyBackup::seal(PAYLOAD, Some(b"encryption pw"), Some(&rk), FAST).unwrap();
    assert!(backup.has_password_slot());
    assert!(backup.has_recovery_key_slot());
    assert_eq!(backup.password_params(), Some(FAST));

    let parsed = KeyBackup::parse(&backup.to_bytes()).unwrap();
    assert_eq!(parsed, backup);
    assert_eq!(
        &*parsed.open_with_password(b"encryption pw").unwrap(),
        PAYLOAD
    );
    assert_eq!(&*parsed.open_with_recovery_key(&rk).unwrap(), PAYLOAD);
    assert_eq!(
        &*parsed.open(BackupSecret::RecoveryKey(&rk)).unwrap(),
        PAYLOAD
    );
}

#[test]
fn single_slot_backups() {
    let rk = RecoveryKey::generate().unwrap();
    let only_pw = KeyBackup::seal(PAYLOAD, Some(b"pw"), None, FAST).unwrap();
    assert!(!only_pw.has_recovery_key_slot());
    assert!(matches!(
        only_pw.open_with_recovery_key(&rk),
        Err(Error::Rejected { .. })
    ));
    assert_eq!(&*only_pw.open_with_password(b"pw").unwrap(), PAYLOAD);

    let only_rk = KeyBackup::seal(PAYLOAD, None, Some(&rk), FAST).unwrap();
    assert!(!only_rk.has_password_slot());
    assert_eq!(only_rk.password_params(), None);
    assert!(matches!(
        only_rk.open_with_password(b"pw"),
        Err(Error::Rejected { .. })
    ));
    assert_eq!(&*only_rk.open_with_recovery_key(&rk).unwrap(), PAYLOAD);
    let parsed = KeyBackup::parse(&only_rk.to_bytes()).unwrap();
    assert_eq!(&*parsed.open_with_recovery_key(&rk).unwrap(), PAYLOAD);

    assert!(matches!(
        KeyBackup::seal(PAYLOAD, None, None, FAST),
        Err(Error::Rejected { .. })
    ));
}

#[test]
fn wrong_secrets_fail_clearly() {
    let rk = RecoveryKey::generate().unwrap();
    let backup = KeyBackup::seal(PAYLOAD, Some(b"encryption pw"), Some(&rk), FAST).unwrap();
    assert_eq!(
        backup.open_with_password(b"login pw").map(|_| ()),
        Err(Error::WrongPassphrase)
    );
    let other = RecoveryKey::generate().unwrap();
    assert_eq!(
        backup.open_with_recovery_key(&other).map(|_| ()),
        Err(Error::KeyCommitmentMismatch)
    );
    assert!(matches!(
        backup.open_with_password(b""),
        Err(Error::Malformed { .. })
    ));
}

#[test]
fn payload_is_not_in_the_blob() {
    let rk = RecoveryKey::generate().unwrap();
    let bytes = KeyBackup::seal(PAYLOAD, Some(b"pw"), Some(&rk), FAST)
        .unwrap()
        .to_bytes();
    assert!(
        !bytes
            .windows(16)
            .any(|w| PAYLOAD.windows(16).any(|p| p == w))
    );
    let secret = rk.secret().expose_secret();
    assert!(!bytes.windows(32).any(|w| w == secret));
}

#[test]
fn every_tampered_byte_is_rejected() {
    // Recovery-key slot only, so that every attempt is cheap.
    let rk = RecoveryKey::generate().unwrap();
    let bytes = KeyBackup::seal(PAYLOAD, None, Some(&rk), FAST)
        .unwrap()
        .to_bytes();
    for i in 0..bytes.len() {
        let mut t = bytes.clone();
        flip(&mut t, i);
        let result = KeyBackup::parse(&t).and_then(|b| b.open_with_recovery_key(&rk).map(|_| ()));
        assert!(result.is_err(), "byte {i} tampered but the backup opened");
    }
}

#[test]
fn tampered_password_slot_is_rejected() {
    let bytes = KeyBackup::seal(PAYLOAD, Some(b"pw"), None, FAST)
        .unwrap()
        .to_bytes();
    // Header, slot type, each slot field, payload ciphertext and tag.
    let slot = HEADER_LEN + 1;
    for i in [
        10,              // backup id
        HEADER_LEN - 1,  // payload length
        slot + 1,        // memory
        slot + 5,        // iterations
        slot + 13,       // salt
        slot + 45,       // commitment
        slot + 77,       // nonce
        slot + 89,       // wrapped backup key
        slot + 121,      // slot tag
        slot + 137,      // payload ciphertext
        bytes.len() - 1, // payload tag
    ] {
        let mut t = bytes.clone();
        flip(&mut t, i);
        let result = KeyBackup::parse(&t).and_then(|b| b.open_with_password(b"pw").map(|_| ()));
        assert!(result.is_err(), "byte {i} tampered but the backup opened");
    }
}

#[test]
fn slots_cannot_be_moved_between_backups() {
    let rk = RecoveryKey::generate().unwrap();
    let a = KeyBackup::seal(b"keys of A", None, Some(&rk), FAST)
        .unwrap()
        .to_bytes();
    let b = KeyBackup::seal(b"keys of B", None, Some(&rk), FAST)
        .unwrap()
        .to_bytes();
    // A's header and payload with B's slot.
    let slot_range = HEADER_LEN..HEADER_LEN + 1 + 125;
    let mut spliced = a.clone();
    spliced
        .get_mut(slot_range.clone())
        .unwrap()
        .copy_from_slice(b.get(slot_range).unwrap());
    let parsed = KeyBackup::parse(&spliced).unwrap();
    assert!(parsed.open_with_recovery_key(&rk).is_err());
}

/// R-E4a: resetting the login password is a server-side operation that touches none of
/// this; the user who has also forgotten the encryption password gets the keys back
/// with the recovery key and sets a new encryption password.
#[test]
fn login_password_reset_story() {
    let rk = RecoveryKey::generate().unwrap();
    let written_down = rk.to_display_string();
    let stored = KeyBackup::seal(PAYLOAD, Some(b"old encryption pw"), Some(&rk), FAST)
        .unwrap()
        .to_bytes();
    drop(rk);

    // Months later, on a new device: login password reset by the server, encryption
    // password forgotten. The user types the recovery key (sloppily).
    let typed = written_down.to_lowercase().replace('-', " ");
    let rk = RecoveryKey::parse(&typed).unwrap();
    let mut backup = KeyBackup::parse(&stored).unwrap();
    assert_eq!(
        backup.open_with_password(b"new login pw").map(|_| ()),
        Err(Error::WrongPassphrase)
    );
    assert_eq!(&*backup.open_with_recovery_key(&rk).unwrap(), PAYLOAD);

    // A new encryption password, unlocked by the recovery key; the payload is untouched.
    let before = backup.to_bytes();
    backup
        .change_password(BackupSecret::RecoveryKey(&rk), b"new encryption pw", FAST)
        .unwrap();
    let after = backup.to_bytes();
    assert_eq!(before.get(..HEADER_LEN), after.get(..HEADER_LEN));
    assert_eq!(
        before.get(before.len() - PAYLOAD.len() - 16..),
        after.get(after.len() - PAYLOAD.len() - 16..)
    );

    let backup = KeyBackup::parse(&after).unwrap();
    assert_eq!(
        &*backup.open_with_password(b"new encryption pw").unwrap(),
        PAYLOAD
    );
    assert_eq!(
        backup.open_with_password(b"old encryption pw").map(|_| ()),
        Err(Error::WrongPassphrase)
    );
    assert_eq!(&*backup.open_with_recovery_key(&rk).unwrap(), PAYLOAD);
}

#[test]
fn change_password_with_old_password_and_new_params() {
    let mut backup = KeyBackup::seal(PAYLOAD, Some(b"one"), None, FAST).unwrap();
    assert_eq!(
        backup.change_password(BackupSecret::Password(b"wrong"), b"two", FAST),
        Err(Error::WrongPassphrase)
    );
    let stronger = Argon2Params::new(MIN_MEMORY_KIB, 3, 2).unwrap();
    backup
        .change_password(BackupSecret::Password(b"one"), b"two", stronger)
        .unwrap();
    assert_eq!(backup.password_params(), Some(stronger));
    assert_eq!(&*backup.open_with_password(b"two").unwrap(), PAYLOAD);
    assert_eq!(
        backup.open_with_password(b"one").map(|_| ()),
        Err(Error::WrongPassphrase)
    );

    // Add a recovery key later, then replace it.
    let rk1 = RecoveryKey::generate().unwrap();
    backup
        .set_recovery_key(BackupSecret::Password(b"two"), &rk1)
        .unwrap();
    let rk2 = RecoveryKey::generate().unwrap();
    backup
        .set_recovery_key(BackupSecret::RecoveryKey(&rk1), &rk2)
        .unwrap();
    let parsed = KeyBackup::parse(&backup.to_bytes()).unwrap();
    assert_eq!(&*parsed.open_with_recovery_key(&rk2).unwrap(), PAYLOAD);
    assert!(parsed.open_with_recovery_key(&rk1).is_err());
}

#[test]
fn payload_limits() {
    let rk = RecoveryKey::generate().unwrap();
    let big = vec![7u8; MAX_PAYLOAD_LEN];
    let b = KeyBackup::seal(&big, None, Some(&rk), FAST).unwrap();
    assert_eq!(
        *KeyBackup::parse(&b.to_bytes())
            .unwrap()
            .open_with_recovery_key(&rk)
            .unwrap(),
        big
    );
    let too_big = vec![7u8; MAX_PAYLOAD_LEN + 1];
    assert!(matches!(
        KeyBackup::seal(&too_big, None, Some(&rk), FAST),
        Err(Error::TooLarge { .. })
    ));
    let empty = KeyBackup::seal(b"", None, Some(&rk), FAST).unwrap();
    assert!(empty.open_with_recovery_key(&rk).unwrap().is_empty());
    assert!(matches!(
        KeyBackup::seal(PAYLOAD, Some(b""), None, FAST),
        Err(Error::Malformed { .. })
    ));
    assert!(matches!(
        KeyBackup::seal(PAYLOAD, Some(&[b'p'; 1025]), None, FAST),
        Err(Error::TooLarge { .. })
    ));
}

#[test]
fn parse_is_strict() {
    let rk = RecoveryKey::generate().unwrap();
    let bytes = KeyBackup::seal(PAYLOAD, Some(b"pw"), Some(&rk), FAST)
        .unwrap()
        .to_bytes();
    let mut long = bytes.clone();
    long.push(0);
    assert!(matches!(
        KeyBackup::parse(&long),
        Err(Error::Malformed { .. })
    ));
    for cut in 0..bytes.len() {
        assert!(
            KeyBackup::parse(bytes.get(..cut).unwrap()).is_err(),
            "cut {cut}"
        );
    }
    // Slot count 0 and 3.
    for count in [0u8, 3] {
        let mut t = bytes.clone();
        *t.get_mut(HEADER_LEN).unwrap() = count;
        assert!(matches!(KeyBackup::parse(&t), Err(Error::Malformed { .. })));
    }
    // Unknown slot type.
    let mut t = bytes.clone();
    *t.get_mut(HEADER_LEN + 1).unwrap() = 9;
    assert!(matches!(KeyBackup::parse(&t), Err(Error::Malformed { .. })));
    // Forged Argon2 memory of 4 GiB in the password slot.
    let mut t = bytes.clone();
    t.get_mut(HEADER_LEN + 2..HEADER_LEN + 6)
        .unwrap()
        .copy_from_slice(&(4u32 << 20).to_be_bytes());
    assert!(matches!(
        KeyBackup::parse(&t),
        Err(Error::KdfParamsOutOfBounds { .. })
    ));
    // Payload length above the limit.
    let mut t = bytes.clone();
    t.get_mut(HEADER_LEN - 4..HEADER_LEN)
        .unwrap()
        .copy_from_slice(&(MAX_PAYLOAD_LEN as u32 + 1).to_be_bytes());
    assert!(matches!(KeyBackup::parse(&t), Err(Error::TooLarge { .. })));
    // Two recovery slots (duplicated) are rejected.
    let only_rk = KeyBackup::seal(PAYLOAD, None, Some(&rk), FAST)
        .unwrap()
        .to_bytes();
    let slot = only_rk
        .get(HEADER_LEN + 1..HEADER_LEN + 1 + 125)
        .unwrap()
        .to_vec();
    let mut dup = only_rk.get(..HEADER_LEN).unwrap().to_vec();
    dup.push(2);
    dup.extend_from_slice(&slot);
    dup.extend_from_slice(&slot);
    dup.extend_from_slice(only_rk.get(HEADER_LEN + 1 + 125..).unwrap());
    assert!(matches!(
        KeyBackup::parse(&dup),
        Err(Error::Malformed { .. })
    ));
    assert!(matches!(
        KeyBackup::parse(b"CAIE"),
        Err(Error::BadMagic { .. })
    ));
}

#[test]
fn recovery_key_display_and_parse() {
    let rk = RecoveryKey::generate().unwrap();
    let shown = rk.to_display_string();
    assert_eq!(shown.len(), RECOVERY_KEY_CHARS + 13);
    assert_eq!(shown.split('-').count(), 14);
    assert!(shown.split('-').all(|g| g.len() == 4));
    assert!(
        shown
            .chars()
            .all(|c| c == '-' || c.is_ascii_uppercase() || ('2'..='7').contains(&c))
    );

    assert_eq!(RecoveryKey::parse(&shown).unwrap(), rk);
    assert_eq!(RecoveryKey::parse(&shown.to_lowercase()).unwrap(), rk);
    let spaced: String = shown.replace('-', "  ");
    assert_eq!(RecoveryKey::parse(&format!(" {spaced}\n")).unwrap(), rk);
    let bare: String = shown.chars().filter(|c| *c != '-').collect();
    assert_eq!(RecoveryKey::parse(&bare).unwrap(), rk);

    // The vectors of docs/KEYS.md (computed independently with Python's base64/hashlib).
    let mut counting = [0u8; 32];
    for (i, b) in counting.iter_mut().enumerate() {
        *b = u8::try_from(i).unwrap();
    }
    for (bytes, expected) in [
        (
            [0u8; 32],
            "AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAD-CNEJ",
        ),
        (
            counting,
            "AAAQ-EAYE-AUDA-OCAJ-BIFQ-YDIO-B4IB-CEQT-CQKR-MFYY-DENB-WHA5-DYP3-R5FE",
        ),
    ] {
        let fixed = RecoveryKey::from_secret(SecretBytes::from_bytes(bytes));
        assert_eq!(&*fixed.to_display_string(), expected);
        assert_eq!(RecoveryKey::parse(expected).unwrap(), fixed);
    }
}

#[test]
fn recovery_key_typos_are_caught() {
    let rk = RecoveryKey::generate().unwrap();
    let bare: Vec<char> = rk
        .to_display_string()
        .chars()
        .filter(|c| *c != '-')
        .collect();
    // Every single-character substitution fails the checksum or the length.
    for i in 0..bare.len() {
        let mut typo = bare.clone();
        let c = typo.get_mut(i).unwrap();
        *c = if *c == 'A' { 'B' } else { 'A' };
        let s: String = typo.into_iter().collect();
        assert!(
            matches!(RecoveryKey::parse(&s), Err(Error::Malformed { .. })),
            "typo at {i} accepted"
        );
    }
    let s: String = bare.iter().collect();
    for bad in [
        s.get(..55).unwrap().to_string(),
        format!("{s}A"),
        format!("{}0", s.get(..55).unwrap()),
        format!("{}1", s.get(..55).unwrap()),
        String::new(),
        "é".repeat(56),
    ] {
        assert!(
            matches!(RecoveryKey::parse(&bad), Err(Error::Malformed { .. })),
            "{bad}"
        );
    }
}

#[test]
fn debug_output_hides_secrets() {
    let rk = RecoveryKey::from_secret(SecretBytes::from_bytes([0xab; 32]));
    let shown = format!("{rk:?}");
    assert!(shown.contains("redacted"));
    assert!(!shown.contains("abababab") && !shown.contains("171, 171"));
    let display = rk.to_display_string();
    assert!(!shown.contains(display.get(..9).unwrap()));

    let backup = KeyBackup::seal(b"SECRET-PAYLOAD", Some(b"hunter2"), Some(&rk), FAST).unwrap();
    let shown = format!("{backup:?}");
    assert!(
        !shown.contains("SECRET") && !shown.contains("hunter2"),
        "{shown}"
    );
    assert!(!shown.contains(display.get(..9).unwrap()), "{shown}");
    assert!(!format!("{:?}", BackupSecret::RecoveryKey(&rk)).contains("abababab"));
    let shown = format!("{:?}", BackupSecret::Password(b"hunter2"));
    assert!(
        !shown.contains("104") && !shown.contains("hunter2"),
        "{shown}"
    );
}

proptest! {
    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(b) = KeyBackup::parse(&bytes) {
            prop_assert_eq!(b.to_bytes(), bytes);
        }
    }

    #[test]
    fn parse_of_mutated_backup_never_panics(i in 0usize..400, v in any::<u8>(), cut in 0usize..420) {
        let rk = RecoveryKey::from_secret(SecretBytes::from_bytes([1; 32]));
        let mut bytes = KeyBackup::seal(b"payload", None, Some(&rk), FAST).unwrap().to_bytes();
        if let Some(b) = bytes.get_mut(i) {
            *b = v;
        }
        bytes.truncate(cut);
        if let Ok(b) = KeyBackup::parse(&bytes) {
            prop_assert_eq!(b.to_bytes(), bytes);
        }
    }

    #[test]
    fn recovery_parse_never_panics(s in "\\PC{0,80}") {
        let _ = RecoveryKey::parse(&s);
    }
}
