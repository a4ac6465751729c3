//! Who may open a key backup, and what a password slot must be (R-E4a): recovery key by
//! default, strength-checked passwords, client-pinned Argon2id parameters within
//! [floor, cap], account binding, and no rollback to older versions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use cai_crypto::Error;
use cai_crypto::backup::{
    Argon2Policy, BackupSecret, DEFAULT_ARGON2_CAP, Expected, HEADER_FIXED_LEN, KeyBackup,
    MIN_PASSWORD_BITS, MIN_PASSWORD_CHARS, PASSWORD_SLOT_LEN, PasswordPolicy,
    RECOVERY_KEY_SLOT_LEN, RecoveryKey,
};
use cai_crypto::passphrase::{Argon2Params, MAX_MEMORY_KIB, MAX_PASSPHRASE_LEN, MIN_MEMORY_KIB};

const ACCOUNT: &[u8] = b"account-7f3a";
const H: usize = HEADER_FIXED_LEN + ACCOUNT.len();
/// Byte offset of the backup version.
const VERSION_AT: usize = 23 + ACCOUNT.len();
const PAYLOAD: &[u8] = b"identity ed25519 + device x25519";
/// Strong enough for the default policy (72 and 64 bits estimated).
const PW: &[u8] = b"plum orbit kayak wisp 47";
const PW2: &[u8] = b"Q#Z!M%K&X*J@";

fn fast() -> Argon2Policy {
    Argon2Policy::new(Argon2Params::MINIMUM, Argon2Params::MINIMUM).unwrap()
}

fn expect(last_seen: u64) -> Expected<'static> {
    Expected::new(ACCOUNT, last_seen).with_argon2(fast())
}

fn params(memory_kib: u32, iterations: u32, parallelism: u32) -> Argon2Params {
    Argon2Params::new(memory_kib, iterations, parallelism).unwrap()
}

fn password_only(pw: &[u8], argon2: &Argon2Policy) -> KeyBackup {
    KeyBackup::seal_password_only_guessable_offline(
        ACCOUNT,
        PAYLOAD,
        pw,
        &PasswordPolicy::DEFAULT,
        argon2,
    )
    .unwrap()
}

/// Writes Argon2 parameters into the (first) password slot, as a server could.
fn forge_params(bytes: &[u8], p: [u32; 3]) -> KeyBackup {
    let mut t = bytes.to_vec();
    let at = H + 2;
    let raw = [p[0].to_be_bytes(), p[1].to_be_bytes(), p[2].to_be_bytes()].concat();
    t.get_mut(at..at + 12).unwrap().copy_from_slice(&raw);
    KeyBackup::parse(&t).unwrap()
}

// ---- recovery key by default, password slots only after a strength check ----

#[test]
fn the_default_backup_opens_with_the_recovery_key_only() {
    let rk = RecoveryKey::generate().unwrap();
    let backup = KeyBackup::seal(ACCOUNT, PAYLOAD, &rk).unwrap();
    assert!(backup.has_recovery_key_slot());
    assert!(!backup.has_password_slot());
    assert_eq!(backup.password_params(), None);
    assert_eq!(
        backup
            .open(BackupSecret::Password(PW), &expect(0))
            .map(|_| ()),
        Err(Error::Rejected {
            what: "key backup",
            reason: "has no password slot"
        })
    );
    let opened = backup
        .open(BackupSecret::RecoveryKey(&rk), &expect(0))
        .unwrap();
    assert_eq!(opened.payload(), PAYLOAD);
    assert_eq!(opened.backup_version(), 1);
    assert_eq!(opened.account(), ACCOUNT);
    assert_eq!(&*opened.into_payload(), PAYLOAD);
}

#[test]
fn password_only_needs_the_loud_constructor() {
    let backup = password_only(PW, &fast());
    assert!(backup.has_password_slot());
    assert!(!backup.has_recovery_key_slot());
    let rk = RecoveryKey::generate().unwrap();
    assert_eq!(
        backup
            .open(BackupSecret::RecoveryKey(&rk), &expect(0))
            .map(|_| ()),
        Err(Error::Rejected {
            what: "key backup",
            reason: "has no recovery-key slot"
        })
    );
    let opened = backup.open(BackupSecret::Password(PW), &expect(0)).unwrap();
    assert_eq!(opened.payload(), PAYLOAD);
    // Its only slot cannot be removed.
    let mut opened = opened;
    assert!(matches!(
        opened.remove_password(),
        Err(Error::Rejected { .. })
    ));
}

#[test]
fn weak_passwords_are_refused_wherever_a_password_slot_is_made() {
    let rk = RecoveryKey::generate().unwrap();
    let strength = PasswordPolicy::DEFAULT;
    for (weak, short) in [
        (&b"Password123!"[..], false),
        (b"aaaaaaaaaaaaaaaaaaaa", false),
        (b"qwertyuiop123456", false),
        (b"P4ssw0rd2024P4ssw0rd2024", false),
        (b"horse battery staple", false),
        (b"k7#Qm2!xR9p$", false), // 12 random characters: 55 bits, not enough
        (b"Tr0ub4dor&3", true),
    ] {
        let want = if short {
            Error::PasswordTooShort {
                min_chars: MIN_PASSWORD_CHARS,
            }
        } else {
            Error::PasswordTooPredictable {
                min_bits: MIN_PASSWORD_BITS,
            }
        };
        let with = KeyBackup::seal_with_password(ACCOUNT, PAYLOAD, &rk, weak, &strength, &fast());
        assert_eq!(with.map(|_| ()), Err(want.clone()));
        let only = KeyBackup::seal_password_only_guessable_offline(
            ACCOUNT,
            PAYLOAD,
            weak,
            &strength,
            &fast(),
        );
        assert_eq!(only.map(|_| ()), Err(want.clone()));
        let mut opened = KeyBackup::seal(ACCOUNT, PAYLOAD, &rk)
            .unwrap()
            .open(BackupSecret::RecoveryKey(&rk), &expect(0))
            .unwrap();
        assert_eq!(opened.set_password(weak, &strength), Err(want.clone()));
        assert!(!opened.has_password_slot());
        // The message says why and never repeats the password.
        let message = want.to_string();
        let text = core::str::from_utf8(weak).unwrap();
        assert!(!message.contains(text), "{message}");
    }
}

#[test]
fn the_account_name_is_no_password() {
    let rk = RecoveryKey::generate().unwrap();
    // Strong on its own (64 bits), worthless as the account's own name.
    let name = PW2;
    assert!(PasswordPolicy::DEFAULT.check(name, &[]).is_ok());
    assert_eq!(
        KeyBackup::seal_with_password(name, PAYLOAD, &rk, name, &PasswordPolicy::DEFAULT, &fast())
            .map(|_| ()),
        Err(Error::PasswordTooPredictable {
            min_bits: MIN_PASSWORD_BITS
        })
    );
    KeyBackup::seal_with_password(
        ACCOUNT,
        PAYLOAD,
        &rk,
        name,
        &PasswordPolicy::DEFAULT,
        &fast(),
    )
    .unwrap();
}

#[test]
fn strength_limits_at_the_boundary() {
    let policy = PasswordPolicy::DEFAULT;
    // Exactly the minimum length (and strong enough), then one character less.
    assert_eq!(PW2.len(), MIN_PASSWORD_CHARS);
    assert!(policy.check(PW2, &[]).is_ok());
    assert_eq!(
        policy.check(&PW2[..MIN_PASSWORD_CHARS - 1], &[]),
        Err(Error::PasswordTooShort {
            min_chars: MIN_PASSWORD_CHARS
        })
    );
    // Length counts characters, not bytes: 11 two-byte characters are too short.
    assert!(matches!(
        policy.check("äöüßéèêàçñø".as_bytes(), &[]),
        Err(Error::PasswordTooShort { .. })
    ));
    // Exactly the estimated strength, then one bit more.
    let bits = PasswordPolicy::estimate_bits(PW, &[ACCOUNT]).unwrap();
    assert_eq!(bits, 72);
    assert!(
        PasswordPolicy::new(MIN_PASSWORD_CHARS, bits)
            .unwrap()
            .check(PW, &[ACCOUNT])
            .is_ok()
    );
    assert_eq!(
        PasswordPolicy::new(MIN_PASSWORD_CHARS, bits + 1)
            .unwrap()
            .check(PW, &[ACCOUNT]),
        Err(Error::PasswordTooPredictable { min_bits: bits + 1 })
    );
    // A stricter length: exactly at it, and one past.
    let long = PasswordPolicy::new(PW.len(), MIN_PASSWORD_BITS).unwrap();
    assert!(long.check(PW, &[]).is_ok());
    let longer = PasswordPolicy::new(PW.len() + 1, MIN_PASSWORD_BITS).unwrap();
    assert!(matches!(
        longer.check(PW, &[]),
        Err(Error::PasswordTooShort { .. })
    ));
    // Byte limits: 1024 bytes of varied text pass, 1025 are too large; empty and
    // non-UTF-8 are malformed.
    let varied: Vec<u8> = (0..MAX_PASSPHRASE_LEN)
        .map(|i| b"k7#Qm2!xR9p$Lw4zVb8^"[(i * 7 + i / 20) % 20])
        .collect();
    assert!(policy.check(&varied, &[]).is_ok());
    let mut too_long = varied.clone();
    too_long.push(b'x');
    assert!(matches!(
        policy.check(&too_long, &[]),
        Err(Error::TooLarge { .. })
    ));
    assert!(matches!(
        policy.check(b"", &[]),
        Err(Error::Malformed { .. })
    ));
    let mut not_utf8 = PW.to_vec();
    not_utf8.push(0xff);
    assert!(matches!(
        policy.check(&not_utf8, &[]),
        Err(Error::Malformed { .. })
    ));
}

// ---- Argon2id parameters: pinned by the client, bounded by [floor, cap] ----

#[test]
fn new_password_slots_get_the_pinned_parameters() {
    let pinned = params(MIN_MEMORY_KIB + 8, 2, 1);
    let policy = Argon2Policy::new(pinned, pinned).unwrap();
    let backup = password_only(PW, &policy);
    assert_eq!(backup.password_params(), Some(pinned));
    // set_password uses the policy the backup was opened with.
    let mut opened = backup
        .open(
            BackupSecret::Password(PW),
            &Expected::new(ACCOUNT, 0).with_argon2(policy),
        )
        .unwrap();
    opened.set_password(PW2, &PasswordPolicy::DEFAULT).unwrap();
    assert_eq!(opened.seal().unwrap().password_params(), Some(pinned));
}

#[test]
fn server_raised_parameters_beyond_the_cap_are_refused_before_argon2() {
    let bytes = password_only(PW, &fast()).to_bytes();
    // If Argon2 ran with these, the answer would be WrongPassphrase after seconds and
    // 256 MiB; the cap refuses them first.
    let raised = forge_params(&bytes, [MAX_MEMORY_KIB, 16, 4]);
    assert_eq!(
        raised
            .open(BackupSecret::Password(PW), &expect(0))
            .map(|_| ()),
        Err(Error::KdfParamsAboveCap {
            param: "memory_kib",
            got: MAX_MEMORY_KIB,
            cap: MIN_MEMORY_KIB,
        })
    );
    // The default cap (64 MiB, 6 passes, 4 lanes) too.
    let default = Expected::new(ACCOUNT, 0);
    assert_eq!(
        raised
            .open(BackupSecret::Password(PW), &default)
            .map(|_| ()),
        Err(Error::KdfParamsAboveCap {
            param: "memory_kib",
            got: MAX_MEMORY_KIB,
            cap: DEFAULT_ARGON2_CAP.memory_kib(),
        })
    );
    let more_passes = forge_params(&bytes, [64 * 1024, 7, 1]);
    assert_eq!(
        more_passes
            .open(BackupSecret::Password(PW), &default)
            .map(|_| ()),
        Err(Error::KdfParamsAboveCap {
            param: "iterations",
            got: 7,
            cap: 6,
        })
    );
}

#[test]
fn server_lowered_parameters_below_the_floor_are_refused() {
    let pinned = params(MIN_MEMORY_KIB + 8, 3, 1);
    let policy = Argon2Policy::new(pinned, DEFAULT_ARGON2_CAP).unwrap();
    let bytes = password_only(PW, &policy).to_bytes();
    let with_policy = Expected::new(ACCOUNT, 0).with_argon2(policy);
    let downgraded = forge_params(&bytes, [MIN_MEMORY_KIB, 3, 1]);
    assert_eq!(
        downgraded
            .open(BackupSecret::Password(PW), &with_policy)
            .map(|_| ()),
        Err(Error::KdfParamsBelowFloor {
            param: "memory_kib",
            got: MIN_MEMORY_KIB,
            floor: MIN_MEMORY_KIB + 8,
        })
    );
    let fewer_passes = forge_params(&bytes, [MIN_MEMORY_KIB + 8, 2, 1]);
    assert_eq!(
        fewer_passes
            .open(BackupSecret::Password(PW), &with_policy)
            .map(|_| ()),
        Err(Error::KdfParamsBelowFloor {
            param: "iterations",
            got: 2,
            floor: 3,
        })
    );
    // The honest backup opens.
    KeyBackup::parse(&bytes)
        .unwrap()
        .open(BackupSecret::Password(PW), &with_policy)
        .unwrap();
}

#[test]
fn stored_parameters_exactly_at_floor_and_cap_open_and_one_past_does_not() {
    let stored = params(MIN_MEMORY_KIB + 8, 2, 2);
    let backup = password_only(PW, &Argon2Policy::new(stored, stored).unwrap());
    let open = |policy: Argon2Policy| {
        backup
            .open(
                BackupSecret::Password(PW),
                &Expected::new(ACCOUNT, 0).with_argon2(policy),
            )
            .map(|o| o.payload().to_vec())
    };
    // stored == cap (floor below).
    let at_cap = Argon2Policy::new(Argon2Params::MINIMUM, stored).unwrap();
    assert_eq!(open(at_cap).unwrap(), PAYLOAD);
    // stored == floor (cap above).
    let at_floor = Argon2Policy::new(stored, DEFAULT_ARGON2_CAP).unwrap();
    assert_eq!(open(at_floor).unwrap(), PAYLOAD);
    // One past the cap, parameter by parameter.
    for (cap, param) in [
        (params(MIN_MEMORY_KIB + 7, 2, 2), "memory_kib"),
        (params(MIN_MEMORY_KIB + 8, 2, 1), "parallelism"),
    ] {
        let policy = Argon2Policy::new(Argon2Params::MINIMUM, cap).unwrap();
        assert!(
            matches!(open(policy), Err(Error::KdfParamsAboveCap { param: p, .. }) if p == param),
            "{param}"
        );
    }
    // One past the floor, parameter by parameter.
    for (floor, param) in [
        (params(MIN_MEMORY_KIB + 9, 2, 2), "memory_kib"),
        (params(MIN_MEMORY_KIB + 8, 3, 2), "iterations"),
        (params(MIN_MEMORY_KIB + 8, 2, 3), "parallelism"),
    ] {
        let policy = Argon2Policy::new(floor, DEFAULT_ARGON2_CAP).unwrap();
        assert!(
            matches!(open(policy), Err(Error::KdfParamsBelowFloor { param: p, .. }) if p == param),
            "{param}"
        );
    }
}

#[test]
fn a_lower_floor_opens_older_backups_and_a_new_password_upgrades_them() {
    let old = password_only(PW, &fast());
    let newer = params(MIN_MEMORY_KIB + 8, 3, 1);
    let strict = Argon2Policy::new(newer, DEFAULT_ARGON2_CAP).unwrap();
    assert!(matches!(
        old.open(
            BackupSecret::Password(PW),
            &Expected::new(ACCOUNT, 0).with_argon2(strict)
        ),
        Err(Error::KdfParamsBelowFloor { .. })
    ));
    let migrating = strict.with_floor(Argon2Params::MINIMUM).unwrap();
    let mut opened = old
        .open(
            BackupSecret::Password(PW),
            &Expected::new(ACCOUNT, 0).with_argon2(migrating),
        )
        .unwrap();
    opened.set_password(PW, &PasswordPolicy::DEFAULT).unwrap();
    let upgraded = opened.seal().unwrap();
    assert_eq!(upgraded.password_params(), Some(newer));
    upgraded
        .open(
            BackupSecret::Password(PW),
            &Expected::new(ACCOUNT, 2).with_argon2(strict),
        )
        .unwrap();
}

// ---- account binding ----

#[test]
fn another_account_is_refused() {
    let rk = RecoveryKey::generate().unwrap();
    let backup = KeyBackup::seal(ACCOUNT, PAYLOAD, &rk).unwrap();
    for other in [&b"account-7f3b"[..], b"account-7f3", b"account-7f3ab", b"x"] {
        assert_eq!(
            backup
                .open(BackupSecret::RecoveryKey(&rk), &Expected::new(other, 0))
                .map(|_| ()),
            Err(Error::AccountMismatch),
            "{other:?}"
        );
    }
    // Checked before any secret is tried: even a password against a recovery-only backup.
    assert_eq!(
        backup
            .open(BackupSecret::Password(PW), &Expected::new(b"other", 0))
            .map(|_| ()),
        Err(Error::AccountMismatch)
    );
}

#[test]
fn a_forged_account_is_refused() {
    let rk = RecoveryKey::generate().unwrap();
    let bytes = KeyBackup::seal(ACCOUNT, PAYLOAD, &rk).unwrap().to_bytes();
    // The server rewrites the account to the victim's ("account-7f3b").
    let mut forged = bytes.clone();
    *forged.get_mut(22 + ACCOUNT.len()).unwrap() = b'b';
    let forged = KeyBackup::parse(&forged).unwrap();
    assert_eq!(forged.account(), b"account-7f3b");
    assert_eq!(
        forged
            .open(BackupSecret::RecoveryKey(&rk), &expect(0))
            .map(|_| ()),
        Err(Error::AccountMismatch)
    );
    assert_eq!(
        forged
            .open(
                BackupSecret::RecoveryKey(&rk),
                &Expected::new(b"account-7f3b", 0)
            )
            .map(|_| ()),
        Err(Error::AuthenticationFailed)
    );
    // A password slot is bound to the account too.
    let pw_bytes = password_only(PW, &fast()).to_bytes();
    let mut forged = pw_bytes.clone();
    *forged.get_mut(22 + ACCOUNT.len()).unwrap() = b'b';
    assert_eq!(
        KeyBackup::parse(&forged)
            .unwrap()
            .open(
                BackupSecret::Password(PW),
                &Expected::new(b"account-7f3b", 0).with_argon2(fast())
            )
            .map(|_| ()),
        Err(Error::AuthenticationFailed)
    );
}

// ---- versions and rollback ----

#[test]
fn every_update_writes_the_next_version() {
    let rk = RecoveryKey::generate().unwrap();
    let v1 = KeyBackup::seal(ACCOUNT, PAYLOAD, &rk).unwrap();
    assert_eq!(v1.backup_version(), 1);

    let mut o = v1.open(BackupSecret::RecoveryKey(&rk), &expect(1)).unwrap();
    o.set_password(PW, &PasswordPolicy::DEFAULT).unwrap();
    let v2 = o.seal().unwrap();
    assert_eq!(v2.backup_version(), 2);
    assert_eq!(v2.backup_id(), v1.backup_id());

    let rk2 = RecoveryKey::generate().unwrap();
    let mut o = v2.open(BackupSecret::Password(PW), &expect(2)).unwrap();
    o.set_recovery_key(&rk2).unwrap();
    let v3 = o.seal().unwrap();
    assert_eq!(v3.backup_version(), 3);
    assert_eq!(
        v3.open(BackupSecret::RecoveryKey(&rk), &expect(3))
            .map(|_| ()),
        Err(Error::KeyCommitmentMismatch)
    );

    let mut o = v3
        .open(BackupSecret::RecoveryKey(&rk2), &expect(3))
        .unwrap();
    o.set_payload(b"new device keys").unwrap();
    let v4 = o.seal().unwrap();
    assert_eq!(v4.backup_version(), 4);

    let mut o = v4.open(BackupSecret::Password(PW), &expect(4)).unwrap();
    assert_eq!(o.payload(), b"new device keys");
    o.remove_password().unwrap();
    assert!(!o.has_password_slot());
    let v5 = o.seal().unwrap();
    assert_eq!(v5.backup_version(), 5);
    assert!(!v5.has_password_slot());

    // Sealing without a change still moves on: a version is never written twice.
    let v6 = v5
        .open(BackupSecret::RecoveryKey(&rk2), &expect(5))
        .unwrap()
        .seal()
        .unwrap();
    assert_eq!(v6.backup_version(), 6);
    let reopened = KeyBackup::parse(&v6.to_bytes())
        .unwrap()
        .open(BackupSecret::RecoveryKey(&rk2), &expect(6))
        .unwrap();
    assert_eq!(reopened.payload(), b"new device keys");
    assert_eq!(reopened.backup_version(), 6);
}

#[test]
fn an_older_version_is_refused_and_the_same_one_accepted() {
    let rk = RecoveryKey::generate().unwrap();
    let v1 = KeyBackup::seal(ACCOUNT, b"old keys", &rk).unwrap();
    let mut o = v1.open(BackupSecret::RecoveryKey(&rk), &expect(0)).unwrap();
    o.set_payload(b"new keys").unwrap();
    let v2 = o.seal().unwrap();

    // Last seen 2: version 1 is a rollback.
    assert_eq!(
        v1.open(BackupSecret::RecoveryKey(&rk), &expect(2))
            .map(|_| ()),
        Err(Error::BackupRolledBack {
            last_seen: 2,
            got: 1
        })
    );
    // The same version is the same backup read again: accepted.
    assert_eq!(
        v2.open(BackupSecret::RecoveryKey(&rk), &expect(2))
            .unwrap()
            .payload(),
        b"new keys"
    );
    // Newer is accepted; one past what the backup has is refused.
    assert!(v2.open(BackupSecret::RecoveryKey(&rk), &expect(1)).is_ok());
    assert_eq!(
        v2.open(BackupSecret::RecoveryKey(&rk), &expect(3))
            .map(|_| ()),
        Err(Error::BackupRolledBack {
            last_seen: 3,
            got: 2
        })
    );
    assert_eq!(
        v2.open(BackupSecret::RecoveryKey(&rk), &expect(u64::MAX))
            .map(|_| ()),
        Err(Error::BackupRolledBack {
            last_seen: u64::MAX,
            got: 2
        })
    );
    // Checked before any secret is tried.
    assert!(matches!(
        v1.open(BackupSecret::Password(PW), &expect(2)),
        Err(Error::BackupRolledBack { .. })
    ));
}

#[test]
fn a_forged_version_is_refused() {
    let rk = RecoveryKey::generate().unwrap();
    let bytes = KeyBackup::seal(ACCOUNT, PAYLOAD, &rk).unwrap().to_bytes();
    for forged_version in [2u64, 1 << 32, u64::MAX] {
        let mut t = bytes.clone();
        t.get_mut(VERSION_AT..VERSION_AT + 8)
            .unwrap()
            .copy_from_slice(&forged_version.to_be_bytes());
        let forged = KeyBackup::parse(&t).unwrap();
        assert_eq!(forged.backup_version(), forged_version);
        assert_eq!(
            forged
                .open(BackupSecret::RecoveryKey(&rk), &expect(forged_version))
                .map(|_| ()),
            Err(Error::AuthenticationFailed)
        );
    }
}

#[test]
fn an_old_password_slot_cannot_be_spliced_into_a_newer_version() {
    let rk = RecoveryKey::generate().unwrap();
    let v1 =
        KeyBackup::seal_with_password(ACCOUNT, PAYLOAD, &rk, PW, &PasswordPolicy::DEFAULT, &fast())
            .unwrap();
    let mut o = v1.open(BackupSecret::RecoveryKey(&rk), &expect(1)).unwrap();
    o.set_password(PW2, &PasswordPolicy::DEFAULT).unwrap();
    let v2 = o.seal().unwrap().to_bytes();
    let old = v1.to_bytes();
    // v2 with v1's password slot: the old password unwraps the (same) backup key, but
    // the payload's tag covers every slot of v2.
    let slot = H + 1..H + 1 + PASSWORD_SLOT_LEN;
    let mut spliced = v2.clone();
    spliced
        .get_mut(slot.clone())
        .unwrap()
        .copy_from_slice(old.get(slot).unwrap());
    let spliced = KeyBackup::parse(&spliced).unwrap();
    assert_eq!(spliced.backup_version(), 2);
    assert_eq!(
        spliced
            .open(BackupSecret::Password(PW), &expect(2))
            .map(|_| ()),
        Err(Error::AuthenticationFailed)
    );
    // The recovery-key slot is untouched in v2 and still opens it.
    let v2 = KeyBackup::parse(&v2).unwrap();
    assert_eq!(
        v2.open(BackupSecret::RecoveryKey(&rk), &expect(2))
            .unwrap()
            .payload(),
        PAYLOAD
    );
    assert_eq!(
        v2.open(BackupSecret::Password(PW), &expect(2)).map(|_| ()),
        Err(Error::WrongPassphrase)
    );
    let both = RECOVERY_KEY_SLOT_LEN + PASSWORD_SLOT_LEN;
    assert_eq!(v2.to_bytes().len(), H + 1 + both + PAYLOAD.len() + 16);
}

/// R-E4a: resetting the login password is a server-side operation that touches none of
/// this; the user who has also forgotten the encryption password gets the keys back
/// with the recovery key and sets a new encryption password.
#[test]
fn login_password_reset_story() {
    let rk = RecoveryKey::generate().unwrap();
    let written_down = rk.to_display_string();
    let stored =
        KeyBackup::seal_with_password(ACCOUNT, PAYLOAD, &rk, PW, &PasswordPolicy::DEFAULT, &fast())
            .unwrap()
            .to_bytes();
    drop(rk);
    let mut last_seen = 1;

    // Months later, on a new device: login password reset by the server, encryption
    // password forgotten. The user types the recovery key (sloppily).
    let typed = written_down.to_lowercase().replace('-', " ");
    let rk = RecoveryKey::parse(&typed).unwrap();
    let backup = KeyBackup::parse(&stored).unwrap();
    assert_eq!(
        backup
            .open(
                BackupSecret::Password(b"the new login password"),
                &expect(last_seen)
            )
            .map(|_| ()),
        Err(Error::WrongPassphrase)
    );
    let mut opened = backup
        .open(BackupSecret::RecoveryKey(&rk), &expect(last_seen))
        .unwrap();
    assert_eq!(opened.payload(), PAYLOAD);

    // A new encryption password; the next version goes to the server.
    opened.set_password(PW2, &PasswordPolicy::DEFAULT).unwrap();
    let updated = opened.seal().unwrap().to_bytes();
    last_seen = KeyBackup::parse(&updated).unwrap().backup_version();
    assert_eq!(last_seen, 2);

    let backup = KeyBackup::parse(&updated).unwrap();
    assert_eq!(
        backup
            .open(BackupSecret::Password(PW2), &expect(last_seen))
            .unwrap()
            .payload(),
        PAYLOAD
    );
    assert_eq!(
        backup
            .open(BackupSecret::Password(PW), &expect(last_seen))
            .map(|_| ()),
        Err(Error::WrongPassphrase)
    );
    assert_eq!(
        backup
            .open(BackupSecret::RecoveryKey(&rk), &expect(last_seen))
            .unwrap()
            .payload(),
        PAYLOAD
    );
    // And the server cannot hand the old one (with the old password) back.
    assert!(matches!(
        KeyBackup::parse(&stored)
            .unwrap()
            .open(BackupSecret::RecoveryKey(&rk), &expect(last_seen)),
        Err(Error::BackupRolledBack { .. })
    ));
}
