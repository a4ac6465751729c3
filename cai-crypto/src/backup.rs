//! Key backup (R-E4, R-E4a): a user's private keys, stored on the server only in a form
//! the server cannot open.
//!
//! A [`KeyBackup`] encrypts an arbitrary secret payload (a user's serialized private
//! keys, at most [`MAX_PAYLOAD_LEN`] bytes) under a random *backup key*, and wraps the
//! backup key in one or two *slots*:
//!
//! * a **password slot**: a wrapping key derived on the device with Argon2id from the
//!   user's *encryption password* — a separate password, **not the login password** —
//!   with a stored salt and bounded cost parameters;
//! * a **recovery-key slot**: a wrapping key derived with HKDF from a [`RecoveryKey`],
//!   256 random bits the user writes down (shown as 56 base32 characters with a
//!   checksum).
//!
//! Because neither secret is the login password, resetting the login password (a
//! server-side operation) loses nothing: the backup still opens with the encryption
//! password or the recovery key. Losing **both** makes the backup unrecoverable.
//! [`KeyBackup::change_password`] re-wraps the backup key for a new encryption password
//! (unlocked by the old one or by the recovery key) without touching the payload.
//!
//! Derivations and byte layout are in `docs/KEYS.md`. In short, every key has a
//! 32-byte commitment derived beside it (checked in constant time before decryption, as
//! in [`envelope`](crate::envelope)): a wrong password is reported as
//! [`Error::WrongPassphrase`], a wrong recovery key as [`Error::KeyCommitmentMismatch`].
//!
//! ```
//! use cai_crypto::backup::{BackupSecret, KeyBackup, RecoveryKey};
//! use cai_crypto::passphrase::Argon2Params;
//!
//! let recovery = RecoveryKey::generate()?;
//! let shown = recovery.to_display_string(); // the user writes this down
//!
//! let backup = KeyBackup::seal(
//!     b"serialized private keys",
//!     Some(b"my encryption password".as_slice()),
//!     Some(&recovery),
//!     Argon2Params::MINIMUM, // cheapest accepted cost, to keep the example fast
//! )?;
//! let stored = backup.to_bytes(); // goes to the server
//!
//! // Later, on a new device, after the encryption password was forgotten:
//! let backup = KeyBackup::parse(&stored)?;
//! let typed = RecoveryKey::parse(&shown.to_lowercase())?;
//! assert_eq!(&*backup.open_with_recovery_key(&typed)?, b"serialized private keys");
//! # Ok::<(), cai_crypto::Error>(())
//! ```

use core::fmt;

use zeroize::Zeroizing;

use crate::aead::{NONCE_LEN, TAG_LEN, default_backend};
use crate::hierarchy::{ByteReader, split_okm};
use crate::kdf::hkdf_sha256;
use crate::passphrase::{Argon2Params, argon2id, check_passphrase};
use crate::secret::{SecretBytes, ct_eq_slices, random_array};
use crate::{Error, Result};

/// `info` prefix of the payload subkey and commitment.
pub const LABEL_BACKUP_PAYLOAD: &[u8] = b"cai key backup payload v1";
/// `info` prefix of slot wrapping keys and commitments.
pub const LABEL_BACKUP_SLOT: &[u8] = b"cai key backup slot v1";
/// Prefix hashed with a recovery key to form its checksum.
pub const LABEL_RECOVERY_KEY_CHECKSUM: &[u8] = b"cai recovery key v1";

/// The four magic bytes that open every key backup.
pub const MAGIC: [u8; 4] = *b"CAIB";
/// The format version this module writes and reads.
pub const VERSION: u8 = 0x01;
/// Suite 0x01: AES-256-GCM, HKDF-SHA256 subkeys and commitments, Argon2id v1.3.
pub const SUITE_AES256GCM_HKDF_SHA256: u8 = 0x01;
/// Largest payload, in bytes.
pub const MAX_PAYLOAD_LEN: usize = 64 * 1024;
/// Length of the random backup id.
pub const BACKUP_ID_LEN: usize = 16;
/// Length of every salt in a backup.
pub const SALT_LEN: usize = 32;
/// Length of every commitment in a backup.
pub const COMMITMENT_LEN: usize = 32;
/// Length of the fixed header (the payload's associated data).
pub const HEADER_LEN: usize = 4 + 1 + 1 + BACKUP_ID_LEN + SALT_LEN + COMMITMENT_LEN + NONCE_LEN + 4;
/// Slot type of a password slot.
pub const SLOT_PASSWORD: u8 = 0x01;
/// Slot type of a recovery-key slot.
pub const SLOT_RECOVERY_KEY: u8 = 0x02;
/// Number of characters in a recovery key's display form, without separators.
pub const RECOVERY_KEY_CHARS: usize = 56;

const RECOVERY_CHECKSUM_LEN: usize = 3;
const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A recovery key: 256 random bits the user keeps offline (printed, written down, in a
/// password manager). Zeroized on drop, redacted in `Debug`.
///
/// Its display form is the 32 key bytes followed by a 3-byte checksum
/// (`SHA-256("cai recovery key v1" ‖ key)[..3]`), in RFC 4648 base32 (`A–Z 2–7`, no
/// padding): 56 characters, shown in 14 groups of 4 separated by `-`.
/// [`parse`](Self::parse) ignores case, spaces and dashes.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryKey(SecretBytes<32>);

impl RecoveryKey {
    /// A fresh random recovery key.
    pub fn generate() -> Result<Self> {
        Ok(Self(SecretBytes::random()?))
    }

    /// A recovery key from its 32 bytes.
    pub fn from_secret(secret: SecretBytes<32>) -> Self {
        Self(secret)
    }

    /// The key bytes; keep the borrow short.
    pub fn secret(&self) -> &SecretBytes<32> {
        &self.0
    }

    /// The display form, e.g. `ABCD-EFGH-…` (14 groups of 4). **This is the secret**:
    /// show it to the user once, never log it.
    pub fn to_display_string(&self) -> Zeroizing<String> {
        let mut raw = Zeroizing::new([0u8; 32 + RECOVERY_CHECKSUM_LEN]);
        let (key, sum) = raw.split_at_mut(32);
        key.copy_from_slice(self.0.expose_secret());
        sum.copy_from_slice(&recovery_checksum(self.0.expose_secret()));
        let chars = base32_encode(&raw[..]);
        let mut out = Zeroizing::new(String::with_capacity(RECOVERY_KEY_CHARS + 13));
        for (i, c) in chars.iter().enumerate() {
            if i > 0 && i % 4 == 0 {
                out.push('-');
            }
            out.push(char::from(*c));
        }
        out
    }

    /// Parses a display form typed back by the user: case-insensitive, spaces and
    /// dashes ignored. Wrong length or character, or a checksum mismatch (a typo), are
    /// [`Error::Malformed`].
    pub fn parse(text: &str) -> Result<Self> {
        const WHAT: &str = "recovery key";
        let mut values = Zeroizing::new(Vec::with_capacity(RECOVERY_KEY_CHARS));
        for c in text.chars() {
            if c == '-' || c.is_whitespace() {
                continue;
            }
            let v = base32_value(c).ok_or(Error::Malformed {
                what: WHAT,
                reason: "invalid character (expected A-Z and 2-7)",
            })?;
            if values.len() == RECOVERY_KEY_CHARS {
                return Err(Error::Malformed {
                    what: WHAT,
                    reason: "too long (expected 56 characters)",
                });
            }
            values.push(v);
        }
        if values.len() != RECOVERY_KEY_CHARS {
            return Err(Error::Malformed {
                what: WHAT,
                reason: "too short (expected 56 characters)",
            });
        }
        let raw = base32_decode_35(&values);
        let (key, sum) = raw.split_at(32);
        let secret = SecretBytes::<32>::from_slice(key)?;
        if !ct_eq_slices(&recovery_checksum(secret.expose_secret()), sum) {
            return Err(Error::Malformed {
                what: WHAT,
                reason: "checksum mismatch (a character is mistyped)",
            });
        }
        Ok(Self(secret))
    }
}

impl fmt::Debug for RecoveryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryKey(<redacted>)")
    }
}

fn recovery_checksum(key: &[u8; 32]) -> [u8; RECOVERY_CHECKSUM_LEN] {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(LABEL_RECOVERY_KEY_CHECKSUM);
    h.update(key);
    let digest = h.finalize();
    let mut out = [0u8; RECOVERY_CHECKSUM_LEN];
    for (o, d) in out.iter_mut().zip(digest.iter()) {
        *o = *d;
    }
    out
}

/// RFC 4648 base32 without padding, for inputs whose bit length is a multiple of 5 bytes.
fn base32_encode(bytes: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(bytes.len() * 8 / 5 + 1));
    let mut acc: u64 = 0;
    let mut bits = 0u32;
    for b in bytes {
        acc = (acc << 8) | u64::from(*b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            let idx = ((acc >> bits) & 0x1f) as usize;
            out.push(BASE32_ALPHABET.get(idx).copied().unwrap_or(b'A'));
        }
        acc &= (1u64 << bits) - 1;
    }
    if bits > 0 {
        let idx = ((acc << (5 - bits)) & 0x1f) as usize;
        out.push(BASE32_ALPHABET.get(idx).copied().unwrap_or(b'A'));
    }
    zeroize::Zeroize::zeroize(&mut acc);
    out
}

/// Decodes 56 base32 values (0..32) into 35 bytes.
fn base32_decode_35(values: &[u8]) -> Zeroizing<[u8; 35]> {
    let mut out = Zeroizing::new([0u8; 35]);
    let mut acc: u64 = 0;
    let mut bits = 0u32;
    let mut pos = 0usize;
    for v in values {
        acc = (acc << 5) | u64::from(*v & 0x1f);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            if let Some(slot) = out.get_mut(pos) {
                *slot = (acc >> bits) as u8;
            }
            pos += 1;
            acc &= (1u64 << bits) - 1;
        }
    }
    zeroize::Zeroize::zeroize(&mut acc);
    out
}

fn base32_value(c: char) -> Option<u8> {
    match c.to_ascii_uppercase() {
        u @ 'A'..='Z' => Some(u as u8 - b'A'),
        d @ '2'..='7' => Some(d as u8 - b'2' + 26),
        _ => None,
    }
}

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

/// What a slot needs besides its wrapped key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotKind {
    Password(Argon2Params),
    RecoveryKey,
}

impl SlotKind {
    fn code(self) -> u8 {
        match self {
            SlotKind::Password(_) => SLOT_PASSWORD,
            SlotKind::RecoveryKey => SLOT_RECOVERY_KEY,
        }
    }
}

/// One wrapping of the backup key.
#[derive(Clone, PartialEq, Eq)]
struct Slot {
    kind: SlotKind,
    salt: [u8; SALT_LEN],
    commitment: [u8; COMMITMENT_LEN],
    nonce: [u8; NONCE_LEN],
    wrapped: [u8; 32],
    tag: [u8; TAG_LEN],
}

impl Slot {
    /// `type [params] salt commitment nonce`: the slot's part of its associated data.
    fn prefix(&self, out: &mut Vec<u8>) {
        out.push(self.kind.code());
        if let SlotKind::Password(p) = self.kind {
            out.extend_from_slice(&p.memory_kib().to_be_bytes());
            out.extend_from_slice(&p.iterations().to_be_bytes());
            out.extend_from_slice(&p.parallelism().to_be_bytes());
        }
        out.extend_from_slice(&self.salt);
        out.extend_from_slice(&self.commitment);
        out.extend_from_slice(&self.nonce);
    }

    fn encode(&self, out: &mut Vec<u8>) {
        self.prefix(out);
        out.extend_from_slice(&self.wrapped);
        out.extend_from_slice(&self.tag);
    }
}

/// A sealed key backup. See the [module documentation](self).
#[derive(Clone, PartialEq, Eq)]
pub struct KeyBackup {
    backup_id: [u8; BACKUP_ID_LEN],
    payload_salt: [u8; SALT_LEN],
    payload_commitment: [u8; COMMITMENT_LEN],
    payload_nonce: [u8; NONCE_LEN],
    /// One or two slots, strictly ordered by type code.
    slots: Vec<Slot>,
    ciphertext: Vec<u8>,
    tag: [u8; TAG_LEN],
}

impl KeyBackup {
    /// Seals `payload` (at most [`MAX_PAYLOAD_LEN`] bytes) with a password slot (if
    /// `password` is given; Argon2id with `params`) and/or a recovery-key slot. At least
    /// one is required ([`Error::Rejected`]).
    ///
    /// `password` must be the user's *encryption* password, never the login password.
    pub fn seal(
        payload: &[u8],
        password: Option<&[u8]>,
        recovery: Option<&RecoveryKey>,
        params: Argon2Params,
    ) -> Result<Self> {
        if payload.len() > MAX_PAYLOAD_LEN {
            return Err(Error::TooLarge {
                what: "key backup payload",
                len: payload.len() as u64,
                limit: MAX_PAYLOAD_LEN as u64,
            });
        }
        if password.is_none() && recovery.is_none() {
            return Err(Error::Rejected {
                what: "key backup",
                reason: "needs an encryption password or a recovery key",
            });
        }
        if let Some(pw) = password {
            check_passphrase(pw, "encryption password")?;
        }
        let backup_key = SecretBytes::<32>::random()?;
        let backup_id: [u8; BACKUP_ID_LEN] = random_array()?;
        let payload_salt: [u8; SALT_LEN] = random_array()?;
        let (subkey, payload_commitment) = payload_keys(&backup_key, &payload_salt, &backup_id)?;
        let mut backup = Self {
            backup_id,
            payload_salt,
            payload_commitment,
            payload_nonce: random_array()?,
            slots: Vec::with_capacity(2),
            ciphertext: payload.to_vec(),
            tag: [0u8; TAG_LEN],
        };
        let aead = default_backend().prepare(subkey.expose_secret())?;
        let header = backup.header();
        backup.tag = aead
            .seal_in_place(&backup.payload_nonce, &header, &mut backup.ciphertext)
            .inspect_err(|_| zeroize::Zeroize::zeroize(&mut backup.ciphertext))?;
        if let Some(pw) = password {
            backup.put_slot(&backup_key, BackupSecret::Password(pw), params)?;
        }
        if let Some(rk) = recovery {
            backup.put_slot(&backup_key, BackupSecret::RecoveryKey(rk), params)?;
        }
        Ok(backup)
    }

    /// Opens the backup with the encryption password ([`Error::WrongPassphrase`] if it
    /// is wrong).
    pub fn open_with_password(&self, password: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        self.open(BackupSecret::Password(password))
    }

    /// Opens the backup with the recovery key ([`Error::KeyCommitmentMismatch`] if it
    /// is not this backup's recovery key).
    pub fn open_with_recovery_key(&self, recovery: &RecoveryKey) -> Result<Zeroizing<Vec<u8>>> {
        self.open(BackupSecret::RecoveryKey(recovery))
    }

    /// Opens the backup with either secret and returns the payload.
    ///
    /// Errors: [`Error::Rejected`] if the backup has no slot for that kind of secret;
    /// [`Error::WrongPassphrase`] / [`Error::KeyCommitmentMismatch`] for a wrong
    /// password / recovery key; [`Error::AuthenticationFailed`] if the backup was altered.
    pub fn open(&self, secret: BackupSecret<'_>) -> Result<Zeroizing<Vec<u8>>> {
        let backup_key = self.backup_key(secret)?;
        let (subkey, _) = payload_keys(&backup_key, &self.payload_salt, &self.backup_id)?;
        let aead = default_backend().prepare(subkey.expose_secret())?;
        let mut plaintext = Zeroizing::new(self.ciphertext.clone());
        aead.open_in_place(
            &self.payload_nonce,
            &self.header(),
            &mut plaintext,
            &self.tag,
        )?;
        Ok(plaintext)
    }

    /// Sets a new encryption password: unlocks the backup key with `unlock` (the old
    /// password, or the recovery key if the password was forgotten) and replaces the
    /// password slot (or adds one). The payload and the recovery-key slot are untouched.
    pub fn change_password(
        &mut self,
        unlock: BackupSecret<'_>,
        new_password: &[u8],
        params: Argon2Params,
    ) -> Result<()> {
        check_passphrase(new_password, "encryption password")?;
        let backup_key = self.backup_key(unlock)?;
        self.put_slot(&backup_key, BackupSecret::Password(new_password), params)
    }

    /// Replaces the recovery-key slot (or adds one) for `new`, unlocking with `unlock`.
    pub fn set_recovery_key(&mut self, unlock: BackupSecret<'_>, new: &RecoveryKey) -> Result<()> {
        let backup_key = self.backup_key(unlock)?;
        self.put_slot(
            &backup_key,
            BackupSecret::RecoveryKey(new),
            Argon2Params::MINIMUM,
        )
    }

    /// Whether an encryption password opens this backup.
    pub fn has_password_slot(&self) -> bool {
        self.slots
            .iter()
            .any(|s| matches!(s.kind, SlotKind::Password(_)))
    }

    /// Whether a recovery key opens this backup.
    pub fn has_recovery_key_slot(&self) -> bool {
        self.slots.iter().any(|s| s.kind == SlotKind::RecoveryKey)
    }

    /// The Argon2id parameters of the password slot, if any.
    pub fn password_params(&self) -> Option<Argon2Params> {
        self.slots.iter().find_map(|s| match s.kind {
            SlotKind::Password(p) => Some(p),
            SlotKind::RecoveryKey => None,
        })
    }

    /// The random public id of this backup.
    pub fn backup_id(&self) -> [u8; BACKUP_ID_LEN] {
        self.backup_id
    }

    /// The encoding [`parse`](Self::parse) reads.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            HEADER_LEN + 1 + self.slots.len() * 140 + self.ciphertext.len() + TAG_LEN,
        );
        out.extend_from_slice(&self.header());
        out.push(u8::try_from(self.slots.len()).unwrap_or(u8::MAX));
        for s in &self.slots {
            s.encode(&mut out);
        }
        out.extend_from_slice(&self.ciphertext);
        out.extend_from_slice(&self.tag);
        out
    }

    /// Parses a backup strictly: magic, version, suite, payload length limit, one or
    /// two slots of known types in ascending type order, Argon2 bounds, exact length.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        const WHAT: &str = "key backup";
        let mut r = ByteReader::new(WHAT, bytes);
        r.magic(MAGIC)?;
        r.version(VERSION)?;
        r.suite(SUITE_AES256GCM_HKDF_SHA256)?;
        let backup_id = r.take()?;
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
            backup_id,
            payload_salt,
            payload_commitment,
            payload_nonce,
            slots,
            ciphertext,
            tag,
        })
    }

    /// The 102-byte header, the payload's associated data.
    fn header(&self) -> Vec<u8> {
        let mut h = Vec::with_capacity(HEADER_LEN);
        h.extend_from_slice(&MAGIC);
        h.extend_from_slice(&[VERSION, SUITE_AES256GCM_HKDF_SHA256]);
        h.extend_from_slice(&self.backup_id);
        h.extend_from_slice(&self.payload_salt);
        h.extend_from_slice(&self.payload_commitment);
        h.extend_from_slice(&self.payload_nonce);
        let len = u32::try_from(self.ciphertext.len()).unwrap_or(u32::MAX);
        h.extend_from_slice(&len.to_be_bytes());
        h
    }

    /// Header ‖ slot prefix: a slot's associated data.
    fn slot_aad(&self, slot: &Slot) -> Vec<u8> {
        let mut aad = self.header();
        slot.prefix(&mut aad);
        aad
    }

    /// Unwraps the backup key from the slot matching `secret` and checks it against the
    /// payload commitment.
    fn backup_key(&self, secret: BackupSecret<'_>) -> Result<SecretBytes<32>> {
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
                what: "key backup",
                reason: if want == SLOT_PASSWORD {
                    "has no password slot"
                } else {
                    "has no recovery-key slot"
                },
            })?;
        let slot_secret = slot_secret(secret, slot.kind, &slot.salt)?;
        let (wrap_key, commitment) =
            slot_keys(&slot_secret, &slot.salt, slot.kind.code(), &self.backup_id)?;
        if !ct_eq_slices(&commitment, &slot.commitment) {
            return Err(match secret {
                BackupSecret::Password(_) => Error::WrongPassphrase,
                BackupSecret::RecoveryKey(_) => Error::KeyCommitmentMismatch,
            });
        }
        let aead = default_backend().prepare(wrap_key.expose_secret())?;
        let mut buf = slot.wrapped;
        let result = aead.open_in_place(&slot.nonce, &self.slot_aad(slot), &mut buf, &slot.tag);
        let backup_key = SecretBytes::from_bytes(buf);
        zeroize::Zeroize::zeroize(&mut buf);
        result?;
        let (_, payload_commitment) =
            payload_keys(&backup_key, &self.payload_salt, &self.backup_id)?;
        if !ct_eq_slices(&payload_commitment, &self.payload_commitment) {
            return Err(Error::KeyCommitmentMismatch);
        }
        Ok(backup_key)
    }

    /// Wraps `backup_key` for `secret` in a fresh slot, replacing a slot of that type.
    fn put_slot(
        &mut self,
        backup_key: &SecretBytes<32>,
        secret: BackupSecret<'_>,
        params: Argon2Params,
    ) -> Result<()> {
        let kind = match secret {
            BackupSecret::Password(_) => SlotKind::Password(params),
            BackupSecret::RecoveryKey(_) => SlotKind::RecoveryKey,
        };
        let salt: [u8; SALT_LEN] = random_array()?;
        let slot_secret = slot_secret(secret, kind, &salt)?;
        let (wrap_key, commitment) = slot_keys(&slot_secret, &salt, kind.code(), &self.backup_id)?;
        let mut slot = Slot {
            kind,
            salt,
            commitment,
            nonce: random_array()?,
            wrapped: *backup_key.expose_secret(),
            tag: [0u8; TAG_LEN],
        };
        let aead = default_backend().prepare(wrap_key.expose_secret())?;
        let aad = self.slot_aad(&slot);
        slot.tag = aead
            .seal_in_place(&slot.nonce, &aad, &mut slot.wrapped)
            .inspect_err(|_| zeroize::Zeroize::zeroize(&mut slot.wrapped))?;
        self.slots.retain(|s| s.kind.code() != kind.code());
        self.slots.push(slot);
        self.slots.sort_by_key(|s| s.kind.code());
        Ok(())
    }
}

impl fmt::Debug for KeyBackup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyBackup")
            .field("password_slot", &self.password_params())
            .field("recovery_key_slot", &self.has_recovery_key_slot())
            .field("payload_len", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

/// The secret a slot's wrapping key is derived from: Argon2id of the password, or the
/// recovery key itself.
fn slot_secret(
    secret: BackupSecret<'_>,
    kind: SlotKind,
    salt: &[u8; SALT_LEN],
) -> Result<SecretBytes<32>> {
    match (secret, kind) {
        (BackupSecret::Password(pw), SlotKind::Password(params)) => argon2id(pw, salt, &params),
        (BackupSecret::RecoveryKey(rk), SlotKind::RecoveryKey) => Ok(rk.0.clone()),
        _ => Err(Error::Rejected {
            what: "key backup",
            reason: "secret does not fit the slot",
        }),
    }
}

/// `wrap_key ‖ commitment = HKDF(slot secret, salt, LABEL_BACKUP_SLOT ‖ type ‖ backup_id)`.
fn slot_keys(
    secret: &SecretBytes<32>,
    salt: &[u8; SALT_LEN],
    slot_type: u8,
    backup_id: &[u8; BACKUP_ID_LEN],
) -> Result<(SecretBytes<32>, [u8; COMMITMENT_LEN])> {
    okm64(
        secret,
        salt,
        &[
            LABEL_BACKUP_SLOT,
            &[SUITE_AES256GCM_HKDF_SHA256, slot_type],
            backup_id,
        ],
    )
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
    fn base32_matches_rfc4648() {
        // RFC 4648 section 10: BASE32("fooba") = "MZXW6YTB".
        assert_eq!(&base32_encode(b"fooba")[..], b"MZXW6YTB");
        let values: Vec<u8> = b"MZXW6YTB"
            .repeat(7)
            .iter()
            .map(|c| base32_value(char::from(*c)).unwrap())
            .collect();
        assert_eq!(
            &base32_decode_35(&values)[..],
            b"fooba".repeat(7).as_slice()
        );
    }

    #[test]
    fn header_len() {
        assert_eq!(HEADER_LEN, 102);
    }
}
