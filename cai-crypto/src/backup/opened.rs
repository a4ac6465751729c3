//! An opened backup, and the changes that make its next version.

use core::fmt;

use zeroize::Zeroizing;

use crate::secret::SecretBytes;
use crate::{Error, Result};

use super::slot::{Lineage, Slot, SlotKind, put_slot};
use super::{
    Argon2Policy, BackupSecret, KeyBackup, PasswordPolicy, RecoveryKey, WHAT, check_payload,
    seal_payload,
};

/// An opened backup: the payload, the version to remember, and the way to change the
/// backup. Holds the backup key and the payload in memory that is zeroized on drop;
/// `Debug` shows neither.
///
/// Changes (password, recovery key, payload) take effect in [`seal`](Self::seal), which
/// writes the next version: upload it, and once the server has it, remember its
/// version as the newest seen. Slots that a change does not touch are kept as they are.
pub struct OpenedBackup {
    pub(super) lineage: Lineage,
    pub(super) backup_version: u64,
    pub(super) backup_key: SecretBytes<32>,
    pub(super) slots: Vec<Slot>,
    pub(super) payload: Zeroizing<Vec<u8>>,
    pub(super) argon2: Argon2Policy,
}

impl OpenedBackup {
    /// The payload (the user's serialized private keys).
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The payload, leaving the opened backup behind.
    pub fn into_payload(self) -> Zeroizing<Vec<u8>> {
        self.payload
    }

    /// The version that was opened: remember it as the newest seen for the account.
    pub fn backup_version(&self) -> u64 {
        self.backup_version
    }

    /// The account the backup belongs to.
    pub fn account(&self) -> &[u8] {
        &self.lineage.account
    }

    /// Whether an encryption password opens the backup (as it stands, changes included).
    pub fn has_password_slot(&self) -> bool {
        self.slots.iter().any(|s| s.params().is_some())
    }

    /// Whether a recovery key opens the backup (as it stands, changes included).
    pub fn has_recovery_key_slot(&self) -> bool {
        self.slots.iter().any(|s| s.kind == SlotKind::RecoveryKey)
    }

    /// Replaces the payload (at most [`MAX_PAYLOAD_LEN`](super::MAX_PAYLOAD_LEN) bytes), e.g. after a new device
    /// key was added.
    pub fn set_payload(&mut self, payload: &[u8]) -> Result<()> {
        check_payload(payload)?;
        self.payload = Zeroizing::new(payload.to_vec());
        Ok(())
    }

    /// Sets a new encryption password, replacing the password slot or adding one. The
    /// password must pass `strength` (checked first, with the account as context); the
    /// slot gets the pinned parameters of the Argon2 policy the backup was opened with.
    ///
    /// Whoever kept an older version of the backup (the server does) can still try the
    /// *old* password against it, and the backup key behind both is the same: if the old
    /// password may be known to someone, replace the keys in the payload too.
    pub fn set_password(&mut self, password: &[u8], strength: &PasswordPolicy) -> Result<()> {
        strength.check(password, &[&self.lineage.account])?;
        let slot = self.lineage.make_slot(
            &self.backup_key,
            BackupSecret::Password(password),
            self.argon2.pinned(),
        )?;
        put_slot(&mut self.slots, slot);
        Ok(())
    }

    /// Removes the password slot, so that only the recovery key opens the backup.
    /// [`Error::Rejected`] if there is no recovery-key slot (the backup would have no
    /// slot left).
    pub fn remove_password(&mut self) -> Result<()> {
        if !self.has_recovery_key_slot() {
            return Err(Error::Rejected {
                what: WHAT,
                reason: "the password slot is the only slot",
            });
        }
        self.slots.retain(|s| s.params().is_none());
        Ok(())
    }

    /// Sets a new recovery key, replacing the recovery-key slot or adding one.
    pub fn set_recovery_key(&mut self, recovery: &RecoveryKey) -> Result<()> {
        let slot = self.lineage.make_slot(
            &self.backup_key,
            BackupSecret::RecoveryKey(recovery),
            self.argon2.pinned(),
        )?;
        put_slot(&mut self.slots, slot);
        Ok(())
    }

    /// Seals the backup as it stands as the next version (one more than the version
    /// opened; [`Error::LimitExceeded`] past `u64::MAX`), with a fresh payload salt and
    /// nonce.
    pub fn seal(self) -> Result<KeyBackup> {
        let Self {
            lineage,
            backup_version,
            backup_key,
            slots,
            payload,
            argon2: _,
        } = self;
        let next = backup_version.checked_add(1).ok_or(Error::LimitExceeded {
            what: "key backup version",
        })?;
        seal_payload(lineage, next, &backup_key, slots, &payload)
    }
}

impl fmt::Debug for OpenedBackup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenedBackup")
            .field("backup_version", &self.backup_version)
            .field("password_slot", &self.has_password_slot())
            .field("recovery_key_slot", &self.has_recovery_key_slot())
            .field("payload_len", &self.payload.len())
            .finish_non_exhaustive()
    }
}
