//! The key backup as bytes: layout (as in docs/KEYS.md), strict parsing, tampering,
//! recovery keys, redacted Debug. Who may open what (account, version, Argon2 policy,
//! password strength) is in `backup_policy.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use cai_crypto::backup::{
    Argon2Policy, BackupSecret, Expected, FIRST_BACKUP_VERSION, HEADER_FIXED_LEN, KeyBackup,
    MAX_ACCOUNT_LEN, MAX_PAYLOAD_LEN, PASSWORD_SLOT_LEN, PasswordPolicy, RECOVERY_KEY_CHARS,
    RECOVERY_KEY_SLOT_LEN, RecoveryKey,
};
use cai_crypto::passphrase::Argon2Params;
use cai_crypto::{Error, SecretBytes};
use proptest::prelude::*;

const ACCOUNT: &[u8] = b"account-7f3a";
/// Header length for [`ACCOUNT`]; the slot count follows it.
const H: usize = HEADER_FIXED_LEN + ACCOUNT.len();
const PAYLOAD: &[u8] = b"-----BEGIN PRIVATE KEYS----- device x25519 + identity ed25519";
/// Passes the default strength check (72 bits estimated).
const PW: &[u8] = b"plum orbit kayak wisp 47";

fn fast() -> Argon2Policy {
    Argon2Policy::new(Argon2Params::MINIMUM, Argon2Params::MINIMUM).unwrap()
}

fn expected() -> Expected<'static> {
    Expected::new(ACCOUNT, 0).with_argon2(fast())
}

fn with_password(rk: &RecoveryKey) -> KeyBackup {
    KeyBackup::seal_with_password(ACCOUNT, PAYLOAD, rk, PW, &PasswordPolicy::DEFAULT, &fast())
        .unwrap()
}

fn flip(bytes: &mut [u8], i: usize) {
    if let Some(b) = bytes.get_mut(i) {
        *b ^= 0x01;
    }
}

fn open_rk(bytes: &[u8], rk: &RecoveryKey) -> Result<Vec<u8>, Error> {
    KeyBackup::parse(bytes)?
        .open(BackupSecret::RecoveryKey(rk), &expected())
        .map(|o| o.payload().to_vec())
}

fn open_pw(bytes: &[u8], pw: &[u8]) -> Result<Vec<u8>, Error> {
    KeyBackup::parse(bytes)?
        .open(BackupSecret::Password(pw), &expected())
        .map(|o| o.payload().to_vec())
}

/// The worked example of docs/KEYS.md section 4: account "alice", version 1.
#[test]
fn layout_matches_the_docs() {
    let rk = RecoveryKey::generate().unwrap();
    let backup = KeyBackup::seal(b"alice", b"keys", &rk).unwrap();
    let bytes = backup.to_bytes();
    assert_eq!(bytes.get(..6), Some(&b"CAIB\x02\x01"[..]));
    assert_eq!(bytes.get(6..22), Some(&backup.backup_id()[..]));
    assert_eq!(
        hex::encode(bytes.get(22..36).unwrap()),
        "05616c6963650000000000000001"
    );
    let h = HEADER_FIXED_LEN + 5;
    assert_eq!(h, 116);
    // payload_len (4) just before the slot count.
    assert_eq!(bytes.get(h - 4..h), Some(&4u32.to_be_bytes()[..]));
    assert_eq!(bytes.get(h), Some(&1));
    assert_eq!(bytes.get(h + 1), Some(&0x02));
    assert_eq!(bytes.len(), h + 1 + RECOVERY_KEY_SLOT_LEN + 4 + 16);

    let both = with_password(&rk).to_bytes();
    assert_eq!(
        both.len(),
        H + 1 + PASSWORD_SLOT_LEN + RECOVERY_KEY_SLOT_LEN + PAYLOAD.len() + 16
    );
    assert_eq!(both.get(H), Some(&2));
    assert_eq!(both.get(H + 1), Some(&0x01));
    assert_eq!(
        both.get(H + 2..H + 14).unwrap(),
        [
            19456u32.to_be_bytes(),
            2u32.to_be_bytes(),
            1u32.to_be_bytes()
        ]
        .concat()
    );
    assert_eq!(both.get(H + 1 + PASSWORD_SLOT_LEN), Some(&0x02));
}

#[test]
fn parse_round_trips() {
    let rk = RecoveryKey::generate().unwrap();
    let backup = with_password(&rk);
    let parsed = KeyBackup::parse(&backup.to_bytes()).unwrap();
    assert_eq!(parsed, backup);
    assert_eq!(parsed.account(), ACCOUNT);
    assert_eq!(parsed.backup_version(), FIRST_BACKUP_VERSION);
    assert_eq!(parsed.password_params(), Some(Argon2Params::MINIMUM));
    assert_eq!(open_pw(&backup.to_bytes(), PW).unwrap(), PAYLOAD);
    assert_eq!(open_rk(&backup.to_bytes(), &rk).unwrap(), PAYLOAD);
}

#[test]
fn wrong_secrets_fail_clearly() {
    let rk = RecoveryKey::generate().unwrap();
    let bytes = with_password(&rk).to_bytes();
    assert_eq!(
        open_pw(&bytes, b"the login password"),
        Err(Error::WrongPassphrase)
    );
    let other = RecoveryKey::generate().unwrap();
    assert_eq!(open_rk(&bytes, &other), Err(Error::KeyCommitmentMismatch));
    assert!(matches!(open_pw(&bytes, b""), Err(Error::Malformed { .. })));
    assert!(matches!(
        open_pw(&bytes, &[b'p'; 1025]),
        Err(Error::TooLarge { .. })
    ));
}

#[test]
fn payload_and_secrets_are_not_in_the_blob() {
    let rk = RecoveryKey::generate().unwrap();
    let bytes = with_password(&rk).to_bytes();
    assert!(
        !bytes
            .windows(16)
            .any(|w| PAYLOAD.windows(16).any(|p| p == w))
    );
    let secret = rk.secret().expose_secret();
    assert!(!bytes.windows(32).any(|w| w == secret));
    assert!(!bytes.windows(PW.len()).any(|w| w == PW));
}

#[test]
fn every_tampered_byte_is_rejected() {
    // Recovery-key slot only, so that every attempt is cheap.
    let rk = RecoveryKey::generate().unwrap();
    let bytes = KeyBackup::seal(ACCOUNT, PAYLOAD, &rk).unwrap().to_bytes();
    for i in 0..bytes.len() {
        let mut t = bytes.clone();
        flip(&mut t, i);
        assert!(
            open_rk(&t, &rk).is_err(),
            "byte {i} tampered but the backup opened"
        );
    }
}

#[test]
fn tampered_password_slot_is_rejected() {
    let bytes = KeyBackup::seal_password_only_guessable_offline(
        ACCOUNT,
        PAYLOAD,
        PW,
        &PasswordPolicy::DEFAULT,
        &fast(),
    )
    .unwrap()
    .to_bytes();
    let slot = H + 1;
    for (i, what) in [
        (10, "backup id"),
        (23, "account"),
        (23 + ACCOUNT.len() + 7, "backup version"),
        (23 + ACCOUNT.len() + 8 + 5, "payload salt"),
        (H - 30, "payload commitment"),
        (H - 10, "payload nonce"),
        (H - 1, "payload length"),
        (slot + 3, "memory"),
        (slot + 8, "iterations"),
        (slot + 13, "salt"),
        (slot + 45, "commitment"),
        (slot + 77, "nonce"),
        (slot + 89, "wrapped backup key"),
        (slot + 121, "slot tag"),
        (slot + PASSWORD_SLOT_LEN, "payload ciphertext"),
        (bytes.len() - 1, "payload tag"),
    ] {
        let mut t = bytes.clone();
        flip(&mut t, i);
        assert!(open_pw(&t, PW).is_err(), "{what} (byte {i}) tampered");
    }
}

#[test]
fn slots_cannot_be_moved_between_backups() {
    let rk = RecoveryKey::generate().unwrap();
    let a = KeyBackup::seal(ACCOUNT, b"keys of A", &rk)
        .unwrap()
        .to_bytes();
    let b = KeyBackup::seal(ACCOUNT, b"keys of B", &rk)
        .unwrap()
        .to_bytes();
    // A's header and payload with B's slot (same recovery key).
    let slot_range = H + 1..H + 1 + RECOVERY_KEY_SLOT_LEN;
    let mut spliced = a.clone();
    spliced
        .get_mut(slot_range.clone())
        .unwrap()
        .copy_from_slice(b.get(slot_range).unwrap());
    assert!(open_rk(&spliced, &rk).is_err());
}

#[test]
fn payload_limits() {
    let rk = RecoveryKey::generate().unwrap();
    let big = vec![7u8; MAX_PAYLOAD_LEN];
    let b = KeyBackup::seal(ACCOUNT, &big, &rk).unwrap();
    assert_eq!(open_rk(&b.to_bytes(), &rk).unwrap(), big);
    let too_big = vec![7u8; MAX_PAYLOAD_LEN + 1];
    assert!(matches!(
        KeyBackup::seal(ACCOUNT, &too_big, &rk),
        Err(Error::TooLarge { .. })
    ));
    let empty = KeyBackup::seal(ACCOUNT, b"", &rk).unwrap();
    assert!(open_rk(&empty.to_bytes(), &rk).unwrap().is_empty());

    // set_payload has the same limit.
    let mut opened = b.open(BackupSecret::RecoveryKey(&rk), &expected()).unwrap();
    assert!(matches!(
        opened.set_payload(&too_big),
        Err(Error::TooLarge { .. })
    ));
    opened.set_payload(&big).unwrap();
}

#[test]
fn account_limits() {
    let rk = RecoveryKey::generate().unwrap();
    let longest = vec![b'a'; MAX_ACCOUNT_LEN];
    let b = KeyBackup::seal(&longest, b"keys", &rk).unwrap();
    let parsed = KeyBackup::parse(&b.to_bytes()).unwrap();
    assert_eq!(parsed.account(), &longest[..]);
    parsed
        .open(BackupSecret::RecoveryKey(&rk), &Expected::new(&longest, 0))
        .unwrap();
    for bad in [vec![], vec![b'a'; MAX_ACCOUNT_LEN + 1]] {
        assert!(matches!(
            KeyBackup::seal(&bad, b"keys", &rk),
            Err(Error::InvalidContext {
                field: "account",
                ..
            })
        ));
    }
    let one = KeyBackup::seal(b"a", b"keys", &rk).unwrap();
    assert_eq!(KeyBackup::parse(&one.to_bytes()).unwrap().account(), b"a");
}

#[test]
fn parse_is_strict() {
    let rk = RecoveryKey::generate().unwrap();
    let bytes = with_password(&rk).to_bytes();
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
    let forged = |at: usize, value: &[u8]| {
        let mut t = bytes.clone();
        t.get_mut(at..at + value.len())
            .unwrap()
            .copy_from_slice(value);
        KeyBackup::parse(&t)
    };
    // Format version 1 (before accounts and backup versions) is no longer read.
    assert!(matches!(
        forged(4, &[0x01]),
        Err(Error::UnsupportedVersion { version: 1, .. })
    ));
    assert!(matches!(
        forged(5, &[0x02]),
        Err(Error::UnsupportedSuite { .. })
    ));
    // Empty account.
    assert!(matches!(forged(22, &[0]), Err(Error::Malformed { .. })));
    // Backup version 0 is never written.
    assert!(matches!(
        forged(23 + ACCOUNT.len(), &0u64.to_be_bytes()),
        Err(Error::Malformed { .. })
    ));
    // Slot count 0 and 3.
    for count in [0u8, 3] {
        assert!(matches!(forged(H, &[count]), Err(Error::Malformed { .. })));
    }
    // Unknown slot type.
    assert!(matches!(forged(H + 1, &[9]), Err(Error::Malformed { .. })));
    // Forged Argon2 memory of 4 GiB: outside the global bounds, refused by the parser.
    assert!(matches!(
        forged(H + 2, &(4u32 << 20).to_be_bytes()),
        Err(Error::KdfParamsOutOfBounds { .. })
    ));
    // Payload length above the limit.
    assert!(matches!(
        forged(H - 4, &(MAX_PAYLOAD_LEN as u32 + 1).to_be_bytes()),
        Err(Error::TooLarge { .. })
    ));
    // Two recovery slots (duplicated) are rejected.
    let only_rk = KeyBackup::seal(ACCOUNT, PAYLOAD, &rk).unwrap().to_bytes();
    let slot = only_rk
        .get(H + 1..H + 1 + RECOVERY_KEY_SLOT_LEN)
        .unwrap()
        .to_vec();
    let mut dup = only_rk.get(..H).unwrap().to_vec();
    dup.push(2);
    dup.extend_from_slice(&slot);
    dup.extend_from_slice(&slot);
    dup.extend_from_slice(only_rk.get(H + 1 + RECOVERY_KEY_SLOT_LEN..).unwrap());
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

    let backup = KeyBackup::seal_with_password(
        ACCOUNT,
        b"SECRET-PAYLOAD",
        &rk,
        PW,
        &PasswordPolicy::DEFAULT,
        &fast(),
    )
    .unwrap();
    let shown = format!("{backup:?}");
    assert!(
        !shown.contains("SECRET") && !shown.contains("plum"),
        "{shown}"
    );
    assert!(!shown.contains(display.get(..9).unwrap()), "{shown}");
    let opened = backup
        .open(BackupSecret::RecoveryKey(&rk), &expected())
        .unwrap();
    let shown = format!("{opened:?}");
    assert!(
        !shown.contains("SECRET") && !shown.contains("83, 69"),
        "{shown}"
    );
    assert!(shown.contains("backup_version: 1"), "{shown}");
    assert!(!format!("{:?}", BackupSecret::RecoveryKey(&rk)).contains("abababab"));
    let shown = format!("{:?}", BackupSecret::Password(PW));
    assert!(!shown.contains("112") && !shown.contains("plum"), "{shown}");
}

proptest! {
    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..700)) {
        if let Ok(b) = KeyBackup::parse(&bytes) {
            prop_assert_eq!(b.to_bytes(), bytes);
        }
    }

    #[test]
    fn parse_of_mutated_backup_never_panics(i in 0usize..400, v in any::<u8>(), cut in 0usize..420) {
        let rk = RecoveryKey::from_secret(SecretBytes::from_bytes([1; 32]));
        let mut bytes = KeyBackup::seal(ACCOUNT, b"payload", &rk).unwrap().to_bytes();
        if let Some(b) = bytes.get_mut(i) {
            *b = v;
        }
        bytes.truncate(cut);
        if let Ok(b) = KeyBackup::parse(&bytes) {
            prop_assert_eq!(b.to_bytes(), bytes.clone());
            // Opening a mutated backup fails cleanly (or it was not mutated at all).
            let _ = b.open(BackupSecret::RecoveryKey(&rk), &expected());
        }
    }

    #[test]
    fn recovery_parse_never_panics(s in "\\PC{0,80}") {
        let _ = RecoveryKey::parse(&s);
    }
}
