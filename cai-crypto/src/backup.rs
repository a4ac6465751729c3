//! Key backup (R-E4, R-E4a): a user's identity and device keys, stored on the server only
//! in a form the server cannot open — and, by default, cannot open by guessing either.
//!
//! A [`KeyBackup`] encrypts a secret payload (a user's serialized private keys, at most
//! [`MAX_PAYLOAD_LEN`] bytes) under a random *backup key*, and wraps the backup key in
//! one or two *slots*:
//!
//! * a **recovery-key slot** (the default): a wrapping key derived with HKDF from a
//!   [`RecoveryKey`], 256 random bits the user writes down (56 base32 characters with a
//!   checksum). Nobody can guess it.
//! * a **password slot** (optional): a wrapping key derived on the device with Argon2id
//!   from the user's *encryption password* — a separate password, **not the login
//!   password**. Whoever stores the backup can try passwords against this slot offline,
//!   so a password slot is only ever written after the password passed a
//!   [`PasswordPolicy`] check, with Argon2id parameters the client pins
//!   ([`Argon2Policy`]); a stored slot whose parameters lie outside the client's
//!   `[floor, cap]` is refused before any Argon2 work.
//!
//! [`KeyBackup::seal`] makes a recovery-key-only backup; [`KeyBackup::seal_with_password`]
//! adds a password slot; a backup that *only* a password opens needs the loudly named
//! [`KeyBackup::seal_password_only_guessable_offline`], whose documentation says what it
//! exposes.
//!
//! Because neither secret is the login password, resetting the login password (a
//! server-side operation) loses nothing. Losing **every** secret that has a slot makes
//! the backup unrecoverable.
//!
//! **Account and version.** Every backup names its account (opaque bytes, 1 to
//! [`MAX_ACCOUNT_LEN`]) and carries a `u64` *backup version*, both authenticated.
//! [`KeyBackup::open`] takes what the client expects ([`Expected`]): its account (another
//! one is [`Error::AccountMismatch`]) and the newest version it has seen (an older backup
//! is [`Error::BackupRolledBack`]; the same version is accepted, since re-reading the
//! same backup is normal). It returns an [`OpenedBackup`] that tells the version to
//! remember, and through which the backup is changed (new password, new recovery key,
//! new payload): [`OpenedBackup::seal`] writes the next version. A device that has never
//! seen a backup of the account (last seen version 0) cannot tell an old one from the
//! newest: rollback protection starts with the first backup a device opens or writes.
//!
//! Derivations and the byte layout are in `docs/KEYS.md`. Every key has a 32-byte
//! commitment derived beside it, checked in constant time before decryption: a wrong
//! password is [`Error::WrongPassphrase`], a wrong recovery key
//! [`Error::KeyCommitmentMismatch`].
//!
//! ```
//! use cai_crypto::backup::{Argon2Policy, BackupSecret, Expected, KeyBackup, PasswordPolicy, RecoveryKey};
//! use cai_crypto::passphrase::Argon2Params;
//! use cai_crypto::Error;
//!
//! let account = b"account-7f3a";
//! let recovery = RecoveryKey::generate()?;
//! let shown = recovery.to_display_string(); // the user writes this down
//!
//! // The default: only the recovery key opens the backup. Version 1.
//! let stored = KeyBackup::seal(account, b"serialized private keys", &recovery)?.to_bytes();
//!
//! // Later, on a new device, after the login password was reset:
//! let typed = RecoveryKey::parse(&shown.to_lowercase())?;
//! // Cheapest accepted Argon2 cost, to keep the example fast; use the default in production.
//! let fast = Argon2Policy::new(Argon2Params::MINIMUM, Argon2Params::MINIMUM)?;
//! let expected = Expected::new(account, 0).with_argon2(fast);
//! let mut opened = KeyBackup::parse(&stored)?.open(BackupSecret::RecoveryKey(&typed), &expected)?;
//! assert_eq!(opened.payload(), b"serialized private keys");
//! assert_eq!(opened.backup_version(), 1);
//!
//! // Add an encryption password (strength-checked), and write version 2.
//! opened.set_password(b"plum orbit kayak wisp 47", &PasswordPolicy::DEFAULT)?;
//! let updated = opened.seal()?;
//! assert_eq!(updated.backup_version(), 2);
//! let last_seen = updated.backup_version(); // remembered once the upload succeeded
//!
//! // The server cannot serve version 1 again.
//! let old = KeyBackup::parse(&stored)?;
//! assert_eq!(
//!     old.open(BackupSecret::RecoveryKey(&typed), &Expected::new(account, last_seen)).map(|_| ()),
//!     Err(Error::BackupRolledBack { last_seen: 2, got: 1 })
//! );
//! let again = updated.open(BackupSecret::Password(b"plum orbit kayak wisp 47"), &expected)?;
//! assert_eq!(again.payload(), b"serialized private keys");
//! # Ok::<(), cai_crypto::Error>(())
//! ```

use core::fmt;

use zeroize::Zeroizing;

use crate::aead::{NONCE_LEN, TAG_LEN, default_backend};
use crate::hierarchy::{ByteReader, split_okm};
use crate::kdf::hkdf_sha256;
use crate::passphrase::{Argon2Params, check_passphrase};
use crate::secret::{SecretBytes, ct_eq_slices, random_array};
use crate::{Error, MAX_ID_LEN, Result};

mod argon2_policy;
mod opened;
mod recovery_key;
mod slot;
mod strength;

pub use argon2_policy::{Argon2Policy, DEFAULT_ARGON2_CAP, DEFAULT_ARGON2_PINNED};
pub use opened::OpenedBackup;
pub use recovery_key::{LABEL_RECOVERY_KEY_CHECKSUM, RECOVERY_KEY_CHARS, RecoveryKey};
pub use strength::{MIN_PASSWORD_BITS, MIN_PASSWORD_CHARS, PasswordPolicy};

use slot::{Lineage, Slot, SlotKind, put_slot};

/// `info` prefix of the payload subkey and commitment.
pub const LABEL_BACKUP_PAYLOAD: &[u8] = b"cai key backup payload v1";
/// `info` prefix of slot wrapping keys and commitments.
pub const LABEL_BACKUP_SLOT: &[u8] = b"cai key backup slot v1";

/// The four magic bytes that open every key backup.
pub const MAGIC: [u8; 4] = *b"CAIB";
/// The format version this module writes and reads (0x01, without account and backup
/// version, is no longer read).
pub const VERSION: u8 = 0x02;
/// Suite 0x01: AES-256-GCM, HKDF-SHA256 subkeys and commitments, Argon2id v1.3.
pub const SUITE_AES256GCM_HKDF_SHA256: u8 = 0x01;
/// Largest payload, in bytes.
pub const MAX_PAYLOAD_LEN: usize = 64 * 1024;
/// Longest account id, in bytes (ids are 1 to 255 bytes, as everywhere in this crate).
pub const MAX_ACCOUNT_LEN: usize = MAX_ID_LEN;
/// The backup version of a new backup; every [`OpenedBackup::seal`] adds one.
pub const FIRST_BACKUP_VERSION: u64 = 1;
/// Length of the random backup id.
pub const BACKUP_ID_LEN: usize = 16;
/// Length of every salt in a backup.
pub const SALT_LEN: usize = 32;
/// Length of every commitment in a backup.
pub const COMMITMENT_LEN: usize = 32;
/// Length of the header without the account: the header of a backup for an account of
/// `A` bytes is `HEADER_FIXED_LEN + A` bytes long.
pub const HEADER_FIXED_LEN: usize =
    4 + 1 + 1 + BACKUP_ID_LEN + 1 + 8 + SALT_LEN + COMMITMENT_LEN + NONCE_LEN + 4;
/// Slot type of a password slot.
pub const SLOT_PASSWORD: u8 = 0x01;
/// Slot type of a recovery-key slot.
pub const SLOT_RECOVERY_KEY: u8 = 0x02;
/// Length of an encoded password slot.
pub const PASSWORD_SLOT_LEN: usize = 1 + 12 + SALT_LEN + COMMITMENT_LEN + NONCE_LEN + 32 + TAG_LEN;
/// Length of an encoded recovery-key slot.
pub const RECOVERY_KEY_SLOT_LEN: usize = 1 + SALT_LEN + COMMITMENT_LEN + NONCE_LEN + 32 + TAG_LEN;

const WHAT: &str = "key backup";

/// The secret that unlocks a backup. `Debug` names the kind only.
#[derive(Clone, Copy)]
pub enum BackupSecret<'a> {
    /// The user's encryption password (not the login password).
    Password(&'a [u8]),
    /// The user's recovery key.
    RecoveryKey(&'a RecoveryKey),
}

impl fmt::Debug for BackupSecret<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BackupSecret::Password(_) => "BackupSecret::Password(<redacted>)",
            BackupSecret::RecoveryKey(_) => "BackupSecret::RecoveryKey(<redacted>)",
        })
    }
}

/// What a client insists on when it opens a backup the server handed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected<'a> {
    /// The account the client is signed in as; a backup of another account is
    /// [`Error::AccountMismatch`].
    pub account: &'a [u8],
    /// The newest backup version this client has seen for the account (0 if none); an
    /// older backup is [`Error::BackupRolledBack`], the same version is accepted.
    pub last_seen_version: u64,
    /// Which Argon2id parameters a password slot may have (and which new password slots
    /// of the [`OpenedBackup`] get).
    pub argon2: Argon2Policy,
}

impl<'a> Expected<'a> {
    /// The account and last seen version, with [`Argon2Policy::DEFAULT`].
    pub fn new(account: &'a [u8], last_seen_version: u64) -> Self {
        Self {
            account,
            last_seen_version,
            argon2: Argon2Policy::DEFAULT,
        }
    }

    /// The same expectation with another Argon2id policy.
    pub fn with_argon2(self, argon2: Argon2Policy) -> Self {
        Self { argon2, ..self }
    }
}

/// A sealed key backup, as stored on the server. See the [module documentation](self).
#[derive(Clone, PartialEq, Eq)]
pub struct KeyBackup {
    lineage: Lineage,
    backup_version: u64,
    payload_salt: [u8; SALT_LEN],
    payload_commitment: [u8; COMMITMENT_LEN],
    payload_nonce: [u8; NONCE_LEN],
    /// One or two slots, strictly ordered by type code.
    slots: Vec<Slot>,
    ciphertext: Vec<u8>,
    tag: [u8; TAG_LEN],
}

impl KeyBackup {
    /// The default backup: seals `payload` (at most [`MAX_PAYLOAD_LEN`] bytes) for
    /// `account` (1 to [`MAX_ACCOUNT_LEN`] bytes) so that **only the recovery key**
    /// opens it. Nobody can open it by guessing. Version [`FIRST_BACKUP_VERSION`].
    ///
    /// A backup made from scratch always starts at version 1, so a device that has seen a
    /// higher version of an earlier backup of the account refuses it as rolled back
    /// until the application resets that device's last seen version (e.g. after the user
    /// confirmed that every secret of the earlier backup is lost).
    pub fn seal(account: &[u8], payload: &[u8], recovery: &RecoveryKey) -> Result<Self> {
        Self::create(
            account,
            payload,
            Some(recovery),
            None,
            &Argon2Policy::DEFAULT,
        )
    }

    /// Seals `payload` for `account` with a recovery-key slot **and** a password slot.
    /// The password must pass `strength` (checked first, with the account as context;
    /// errors in [`PasswordPolicy::check`]); its slot gets `argon2`'s pinned parameters.
    ///
    /// The password slot can be guessed offline by whoever stores the backup: it is only
    /// as strong as the password. `password` must be the user's *encryption* password,
    /// never the login password.
    pub fn seal_with_password(
        account: &[u8],
        payload: &[u8],
        recovery: &RecoveryKey,
        password: &[u8],
        strength: &PasswordPolicy,
        argon2: &Argon2Policy,
    ) -> Result<Self> {
        strength.check(password, &[account])?;
        Self::create(account, payload, Some(recovery), Some(password), argon2)
    }

    /// Seals `payload` for `account` so that **only the encryption password** opens it —
    /// no recovery key. Prefer [`seal`](Self::seal) or
    /// [`seal_with_password`](Self::seal_with_password).
    ///
    /// # What this exposes
    ///
    /// Whoever holds the backup — the server, its operators, anyone who copies its
    /// database or backups — can run an **offline guessing attack** against the password:
    /// each guess costs one Argon2id run with the pinned parameters and nothing else
    /// limits the number of guesses (no rate limit, no lockout, no one notices). If the
    /// password is guessed, **everything in the backup falls with it**: the identity and
    /// device keys, hence every end-to-end message and history key they open, past and
    /// future, until the keys are replaced. The strength check (`strength`, run first)
    /// and the Argon2id cost make guessing slower; they cannot make a guessable password
    /// safe. And if the password is forgotten, the backup is lost: there is no recovery
    /// key.
    pub fn seal_password_only_guessable_offline(
        account: &[u8],
        payload: &[u8],
        password: &[u8],
        strength: &PasswordPolicy,
        argon2: &Argon2Policy,
    ) -> Result<Self> {
        strength.check(password, &[account])?;
        Self::create(account, payload, None, Some(password), argon2)
    }

    fn create(
        account: &[u8],
        payload: &[u8],
        recovery: Option<&RecoveryKey>,
        password: Option<&[u8]>,
        argon2: &Argon2Policy,
    ) -> Result<Self> {
        check_payload(payload)?;
        let lineage = Lineage::new(account)?;
        let backup_key = SecretBytes::<32>::random()?;
        let mut slots = Vec::with_capacity(2);
        if let Some(pw) = password {
            let slot =
                lineage.make_slot(&backup_key, BackupSecret::Password(pw), argon2.pinned())?;
            put_slot(&mut slots, slot);
        }
        if let Some(rk) = recovery {
            let slot =
                lineage.make_slot(&backup_key, BackupSecret::RecoveryKey(rk), argon2.pinned())?;
            put_slot(&mut slots, slot);
        }
        if slots.is_empty() {
            return Err(Error::Rejected {
                what: WHAT,
                reason: "needs a recovery key or an encryption password",
            });
        }
        seal_payload(lineage, FIRST_BACKUP_VERSION, &backup_key, slots, payload)
    }

    /// Opens the backup with either secret, after checking what the client expects:
    ///
    /// 1. the account ([`Error::AccountMismatch`]);
    /// 2. the version: older than `expected.last_seen_version` is
    ///    [`Error::BackupRolledBack`], the same or newer is accepted;
    /// 3. for a password, the slot's Argon2id parameters against `expected.argon2`
    ///    ([`Error::KdfParamsAboveCap`], [`Error::KdfParamsBelowFloor`]) — before any
    ///    Argon2 work;
    /// 4. the secret ([`Error::Rejected`] if the backup has no slot of its kind,
    ///    [`Error::WrongPassphrase`] / [`Error::KeyCommitmentMismatch`] if it is wrong);
    /// 5. the whole backup — account, version, every slot, the payload — is authenticated
    ///    by the payload's tag ([`Error::AuthenticationFailed`] if anything was altered).
    ///
    /// Steps 1 and 2 read fields that step 5 authenticates: a forged account or version
    /// fails there.
    pub fn open(&self, secret: BackupSecret<'_>, expected: &Expected<'_>) -> Result<OpenedBackup> {
        if self.lineage.account != expected.account {
            return Err(Error::AccountMismatch);
        }
        if self.backup_version < expected.last_seen_version {
            return Err(Error::BackupRolledBack {
                last_seen: expected.last_seen_version,
                got: self.backup_version,
            });
        }
        let backup_key = self.backup_key(secret, &expected.argon2)?;
        let (subkey, _) = payload_keys(&backup_key, &self.payload_salt, &self.lineage.backup_id)?;
        let aead = default_backend().prepare(subkey.expose_secret())?;
        let mut payload = Zeroizing::new(self.ciphertext.clone());
        aead.open_in_place(
            &self.payload_nonce,
            &self.payload_aad(),
            &mut payload,
            &self.tag,
        )?;
        Ok(OpenedBackup {
            lineage: self.lineage.clone(),
            backup_version: self.backup_version,
            backup_key,
            slots: self.slots.clone(),
            payload,
            argon2: expected.argon2,
        })
    }

    /// The account this backup names (not authenticated until [`open`](Self::open)).
    pub fn account(&self) -> &[u8] {
        &self.lineage.account
    }

    /// The backup version (not authenticated until [`open`](Self::open)).
    pub fn backup_version(&self) -> u64 {
        self.backup_version
    }

    /// The random public id of this backup, the same in all its versions.
    pub fn backup_id(&self) -> [u8; BACKUP_ID_LEN] {
        self.lineage.backup_id
    }

    /// Whether an encryption password opens this backup.
    pub fn has_password_slot(&self) -> bool {
        self.slots.iter().any(|s| s.params().is_some())
    }

    /// Whether a recovery key opens this backup.
    pub fn has_recovery_key_slot(&self) -> bool {
        self.slots.iter().any(|s| s.kind == SlotKind::RecoveryKey)
    }

    /// The Argon2id parameters of the password slot, if any.
    pub fn password_params(&self) -> Option<Argon2Params> {
        self.slots.iter().find_map(Slot::params)
    }

    /// The encoding [`parse`](Self::parse) reads.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.payload_aad();
        out.extend_from_slice(&self.ciphertext);
        out.extend_from_slice(&self.tag);
        out
    }

    /// Parses a backup strictly: magic, version, suite, account length 1 to 255, backup
    /// version at least 1, payload length limit, one or two slots of known types in
    /// ascending type order, global Argon2 bounds, exact length. (The client's own
    /// Argon2 policy is applied by [`open`](Self::open).)
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let mut r = ByteReader::new(WHAT, bytes);
        r.magic(MAGIC)?;
        r.version(VERSION)?;
        r.suite(SUITE_AES256GCM_HKDF_SHA256)?;
        let backup_id = r.take()?;
        let account_len = usize::from(r.u8()?);
        if account_len == 0 {
            return Err(Error::Malformed {
                what: WHAT,
                reason: "empty account",
            });
        }
        let account = r.slice(account_len)?.to_vec();
        let backup_version = u64::from_be_bytes(r.take()?);
        if backup_version < FIRST_BACKUP_VERSION {
            return Err(Error::Malformed {
                what: WHAT,
                reason: "backup version 0",
            });
        }
        let payload_salt = r.take()?;
        let payload_commitment = r.take()?;
        let payload_nonce = r.take()?;
        let payload_len = r.u32()?;
        if payload_len as usize > MAX_PAYLOAD_LEN {
            return Err(Error::TooLarge {
                what: "key backup payload",
                len: u64::from(payload_len),
                limit: MAX_PAYLOAD_LEN as u64,
            });
        }
        let slot_count = r.u8()?;
        if !(1..=2).contains(&slot_count) {
            return Err(Error::Malformed {
                what: WHAT,
                reason: "slot count not 1 or 2",
            });
        }
        let mut slots: Vec<Slot> = Vec::with_capacity(2);
        for _ in 0..slot_count {
            let code = r.u8()?;
            let kind = match code {
                SLOT_PASSWORD => SlotKind::Password(Argon2Params::decode(&mut r)?),
                SLOT_RECOVERY_KEY => SlotKind::RecoveryKey,
                _ => {
                    return Err(Error::Malformed {
                        what: WHAT,
                        reason: "unknown slot type",
                    });
                }
            };
            if slots.last().is_some_and(|prev| prev.kind.code() >= code) {
                return Err(Error::Malformed {
                    what: WHAT,
                    reason: "slots duplicated or out of order",
                });
            }
            slots.push(Slot {
                kind,
                salt: r.take()?,
                commitment: r.take()?,
                nonce: r.take()?,
                wrapped: r.take()?,
                tag: r.take()?,
            });
        }
        let ciphertext = r.slice(payload_len as usize)?.to_vec();
        let tag = r.take()?;
        r.finish()?;
        Ok(Self {
            lineage: Lineage { backup_id, account },
            backup_version,
            payload_salt,
            payload_commitment,
            payload_nonce,
            slots,
            ciphertext,
            tag,
        })
    }

    /// Everything before the payload ciphertext — header ‖ slot_count ‖ slots — which is
    /// the payload's associated data.
    fn payload_aad(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            HEADER_FIXED_LEN
                + self.lineage.account.len()
                + 1
                + self.slots.len() * PASSWORD_SLOT_LEN
                + self.ciphertext.len()
                + TAG_LEN,
        );
        self.lineage.identity(&mut out);
        out.extend_from_slice(&self.backup_version.to_be_bytes());
        out.extend_from_slice(&self.payload_salt);
        out.extend_from_slice(&self.payload_commitment);
        out.extend_from_slice(&self.payload_nonce);
        let len = u32::try_from(self.ciphertext.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.push(u8::try_from(self.slots.len()).unwrap_or(u8::MAX));
        for s in &self.slots {
            s.encode(&mut out);
        }
        out
    }

    /// Unwraps the backup key from the slot matching `secret` and checks it against the
    /// payload commitment. For a password, the slot's parameters are checked against
    /// `argon2` before Argon2 runs.
    fn backup_key(
        &self,
        secret: BackupSecret<'_>,
        argon2: &Argon2Policy,
    ) -> Result<SecretBytes<32>> {
        let want = match secret {
            BackupSecret::Password(pw) => {
                check_passphrase(pw, "encryption password")?;
                SLOT_PASSWORD
            }
            BackupSecret::RecoveryKey(_) => SLOT_RECOVERY_KEY,
        };
        let slot = self
            .slots
            .iter()
            .find(|s| s.kind.code() == want)
            .ok_or(Error::Rejected {
                what: WHAT,
                reason: if want == SLOT_PASSWORD {
                    "has no password slot"
                } else {
                    "has no recovery-key slot"
                },
            })?;
        if let Some(params) = slot.params() {
            argon2.check(&params)?;
        }
        let backup_key = self.lineage.open_slot(slot, secret)?;
        let (_, payload_commitment) =
            payload_keys(&backup_key, &self.payload_salt, &self.lineage.backup_id)?;
        if !ct_eq_slices(&payload_commitment, &self.payload_commitment) {
            return Err(Error::KeyCommitmentMismatch);
        }
        Ok(backup_key)
    }
}

impl fmt::Debug for KeyBackup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyBackup")
            .field("backup_version", &self.backup_version)
            .field("password_slot", &self.password_params())
            .field("recovery_key_slot", &self.has_recovery_key_slot())
            .field("payload_len", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

fn check_payload(payload: &[u8]) -> Result<()> {
    if payload.len() > MAX_PAYLOAD_LEN {
        return Err(Error::TooLarge {
            what: "key backup payload",
            len: payload.len() as u64,
            limit: MAX_PAYLOAD_LEN as u64,
        });
    }
    Ok(())
}

/// Encrypts `payload` under a fresh payload salt (hence a fresh subkey) and nonce, with
/// everything before the ciphertext as associated data.
fn seal_payload(
    lineage: Lineage,
    backup_version: u64,
    backup_key: &SecretBytes<32>,
    slots: Vec<Slot>,
    payload: &[u8],
) -> Result<KeyBackup> {
    let payload_salt: [u8; SALT_LEN] = random_array()?;
    let (subkey, payload_commitment) = payload_keys(backup_key, &payload_salt, &lineage.backup_id)?;
    let mut backup = KeyBackup {
        lineage,
        backup_version,
        payload_salt,
        payload_commitment,
        payload_nonce: random_array()?,
        slots,
        ciphertext: payload.to_vec(),
        tag: [0u8; TAG_LEN],
    };
    let aead = default_backend().prepare(subkey.expose_secret())?;
    let aad = backup.payload_aad();
    match aead.seal_in_place(&backup.payload_nonce, &aad, &mut backup.ciphertext) {
        Ok(tag) => {
            backup.tag = tag;
            Ok(backup)
        }
        Err(e) => {
            zeroize::Zeroize::zeroize(&mut backup.ciphertext);
            Err(e)
        }
    }
}

/// `subkey ‖ commitment = HKDF(backup key, payload salt, LABEL_BACKUP_PAYLOAD ‖ suite ‖
/// backup_id)`.
fn payload_keys(
    backup_key: &SecretBytes<32>,
    salt: &[u8; SALT_LEN],
    backup_id: &[u8; BACKUP_ID_LEN],
) -> Result<(SecretBytes<32>, [u8; COMMITMENT_LEN])> {
    okm64(
        backup_key,
        salt,
        &[
            LABEL_BACKUP_PAYLOAD,
            &[SUITE_AES256GCM_HKDF_SHA256],
            backup_id,
        ],
    )
}

fn okm64(
    ikm: &SecretBytes<32>,
    salt: &[u8],
    info: &[&[u8]],
) -> Result<(SecretBytes<32>, [u8; COMMITMENT_LEN])> {
    let mut okm = [0u8; 64];
    let result = hkdf_sha256(ikm.expose_secret(), salt, info, &mut okm);
    let out = split_okm(&okm);
    zeroize::Zeroize::zeroize(&mut okm);
    result?;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_lengths() {
        assert_eq!(HEADER_FIXED_LEN, 111);
        assert_eq!(PASSWORD_SLOT_LEN, 137);
        assert_eq!(RECOVERY_KEY_SLOT_LEN, 125);
    }

    #[test]
    fn version_does_not_wrap() {
        let rk = RecoveryKey::generate().unwrap();
        let mut backup = KeyBackup::seal(b"acct", b"keys", &rk).unwrap();
        backup.backup_version = u64::MAX - 1;
        // Re-seal so that the payload tag covers the forged version.
        let bk = backup
            .backup_key(BackupSecret::RecoveryKey(&rk), &Argon2Policy::DEFAULT)
            .unwrap();
        let backup = seal_payload(
            backup.lineage.clone(),
            u64::MAX - 1,
            &bk,
            backup.slots.clone(),
            b"keys",
        )
        .unwrap();
        let expected = Expected::new(b"acct", u64::MAX - 1);
        let at_max = backup
            .open(BackupSecret::RecoveryKey(&rk), &expected)
            .unwrap()
            .seal()
            .unwrap();
        assert_eq!(at_max.backup_version(), u64::MAX);
        let reparsed = KeyBackup::parse(&at_max.to_bytes()).unwrap();
        let opened = reparsed
            .open(
                BackupSecret::RecoveryKey(&rk),
                &Expected::new(b"acct", u64::MAX),
            )
            .unwrap();
        assert_eq!(opened.backup_version(), u64::MAX);
        assert_eq!(
            opened.seal().map(|_| ()),
            Err(Error::LimitExceeded {
                what: "key backup version"
            })
        );
    }
}
