//! Slots: the wrappings of a backup's key, and what they are bound to.

use crate::aead::{NONCE_LEN, TAG_LEN, default_backend};
use crate::passphrase::{Argon2Params, argon2id};
use crate::secret::{SecretBytes, ct_eq_slices, random_array};
use crate::{Error, Result};

use super::{
    BACKUP_ID_LEN, BackupSecret, COMMITMENT_LEN, LABEL_BACKUP_SLOT, MAGIC, MAX_ACCOUNT_LEN,
    PASSWORD_SLOT_LEN, SALT_LEN, SLOT_PASSWORD, SLOT_RECOVERY_KEY, SUITE_AES256GCM_HKDF_SHA256,
    VERSION, WHAT, okm64,
};

/// What a slot needs besides its wrapped key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SlotKind {
    Password(Argon2Params),
    RecoveryKey,
}

impl SlotKind {
    pub(super) fn code(self) -> u8 {
        match self {
            SlotKind::Password(_) => SLOT_PASSWORD,
            SlotKind::RecoveryKey => SLOT_RECOVERY_KEY,
        }
    }
}

/// One wrapping of the backup key.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct Slot {
    pub(super) kind: SlotKind,
    pub(super) salt: [u8; SALT_LEN],
    pub(super) commitment: [u8; COMMITMENT_LEN],
    pub(super) nonce: [u8; NONCE_LEN],
    pub(super) wrapped: [u8; 32],
    pub(super) tag: [u8; TAG_LEN],
}

impl Slot {
    /// `type [params] salt commitment nonce`: the slot's part of its associated data.
    pub(super) fn prefix(&self, out: &mut Vec<u8>) {
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

    pub(super) fn encode(&self, out: &mut Vec<u8>) {
        self.prefix(out);
        out.extend_from_slice(&self.wrapped);
        out.extend_from_slice(&self.tag);
    }

    pub(super) fn params(&self) -> Option<Argon2Params> {
        match self.kind {
            SlotKind::Password(p) => Some(p),
            SlotKind::RecoveryKey => None,
        }
    }
}

/// What stays the same across all versions of one backup: its id and its account.
/// Slots are bound to it (not to a version), so a slot survives updates that do not
/// touch it.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct Lineage {
    pub(super) backup_id: [u8; BACKUP_ID_LEN],
    pub(super) account: Vec<u8>,
}

impl Lineage {
    pub(super) fn new(account: &[u8]) -> Result<Self> {
        if account.is_empty() || account.len() > MAX_ACCOUNT_LEN {
            return Err(Error::InvalidContext {
                field: "account",
                len: account.len(),
                max: MAX_ACCOUNT_LEN,
            });
        }
        Ok(Self {
            backup_id: random_array()?,
            account: account.to_vec(),
        })
    }

    /// `magic ‖ version ‖ suite ‖ backup_id ‖ account_len ‖ account`: the start of the
    /// header and of every slot's associated data.
    pub(super) fn identity(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&[VERSION, SUITE_AES256GCM_HKDF_SHA256]);
        out.extend_from_slice(&self.backup_id);
        // 1..=255 bytes by construction and by parsing.
        out.push(u8::try_from(self.account.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(&self.account);
    }

    /// Identity ‖ slot prefix: a slot's associated data.
    pub(super) fn slot_aad(&self, slot: &Slot) -> Vec<u8> {
        let mut aad = Vec::with_capacity(24 + self.account.len() + PASSWORD_SLOT_LEN);
        self.identity(&mut aad);
        slot.prefix(&mut aad);
        aad
    }

    /// Wraps `backup_key` for `secret` in a fresh slot (new salt and nonce).
    pub(super) fn make_slot(
        &self,
        backup_key: &SecretBytes<32>,
        secret: BackupSecret<'_>,
        params: Argon2Params,
    ) -> Result<Slot> {
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
        let sealed = aead.seal_in_place(&slot.nonce, &aad, &mut slot.wrapped);
        match sealed {
            Ok(tag) => {
                slot.tag = tag;
                Ok(slot)
            }
            Err(e) => {
                zeroize::Zeroize::zeroize(&mut slot.wrapped);
                Err(e)
            }
        }
    }

    /// Unwraps the backup key from `slot` with `secret`: derives the wrapping key and
    /// commitment, compares the commitment in constant time (a mismatch is
    /// [`Error::WrongPassphrase`] for a password, [`Error::KeyCommitmentMismatch`] for a
    /// recovery key), then decrypts. The caller has checked the slot's Argon2
    /// parameters.
    pub(super) fn open_slot(
        &self,
        slot: &Slot,
        secret: BackupSecret<'_>,
    ) -> Result<SecretBytes<32>> {
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
        Ok(backup_key)
    }
}

/// Puts `slot` in place of a slot of its type, keeping slots ordered by type.
pub(super) fn put_slot(slots: &mut Vec<Slot>, slot: Slot) {
    slots.retain(|s| s.kind.code() != slot.kind.code());
    slots.push(slot);
    slots.sort_by_key(|s| s.kind.code());
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
        (BackupSecret::RecoveryKey(rk), SlotKind::RecoveryKey) => Ok(rk.secret().clone()),
        _ => Err(Error::Rejected {
            what: WHAT,
            reason: "secret does not fit the slot",
        }),
    }
}

/// `wrap_key ‖ commitment = HKDF(slot secret, salt, LABEL_BACKUP_SLOT ‖ suite ‖ type ‖
/// backup_id)`.
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
