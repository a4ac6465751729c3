//! Key identities and the per-session data key.
//!
//! A [`DataKey`] (DEK) is 256 random bits with a public [`KeyId`] and [`KeyEpoch`]. Every
//! ciphertext names the id and epoch of the key it was sealed under, so a reader can
//! fetch the right key and say plainly when it does not hold it (R-E4c).

use core::fmt;

use crate::secret::{SecretBytes, random_array};
use crate::{Error, Result};

/// Length of a [`KeyId`] in bytes.
pub const KEY_ID_LEN: usize = 16;

/// Public, random identifier of a key. Not secret.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId([u8; KEY_ID_LEN]);

impl KeyId {
    /// A fresh random id.
    pub fn random() -> Result<Self> {
        Ok(Self(random_array()?))
    }

    /// An id from its bytes.
    pub const fn from_bytes(bytes: [u8; KEY_ID_LEN]) -> Self {
        Self(bytes)
    }

    /// The id's bytes.
    pub const fn as_bytes(&self) -> &[u8; KEY_ID_LEN] {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// Generation of a session key. End-to-end sessions start a new epoch whenever a
/// participant joins or leaves; other modes stay at epoch 0 unless rotated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct KeyEpoch(pub u32);

impl KeyEpoch {
    /// The first epoch.
    pub const INITIAL: KeyEpoch = KeyEpoch(0);

    /// The following epoch, or [`Error::LimitExceeded`] after `u32::MAX`.
    pub fn next(self) -> Result<Self> {
        self.0
            .checked_add(1)
            .map(KeyEpoch)
            .ok_or(Error::LimitExceeded { what: "key epochs" })
    }
}

/// A 256-bit data-encryption key (DEK) with its public id and epoch.
///
/// Zeroized on drop, redacted in `Debug`, compared in constant time.
#[derive(Clone, PartialEq, Eq)]
pub struct DataKey {
    id: KeyId,
    epoch: KeyEpoch,
    secret: SecretBytes<32>,
}

impl DataKey {
    /// A fresh random key with a fresh random id.
    pub fn generate(epoch: KeyEpoch) -> Result<Self> {
        Ok(Self {
            id: KeyId::random()?,
            epoch,
            secret: SecretBytes::random()?,
        })
    }

    /// A key from parts the caller holds (an unwrapped key, a derived key).
    pub fn from_parts(id: KeyId, epoch: KeyEpoch, secret: SecretBytes<32>) -> Self {
        Self { id, epoch, secret }
    }

    /// The key's id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The key's epoch.
    pub fn epoch(&self) -> KeyEpoch {
        self.epoch
    }

    /// The secret bytes; keep the borrow short.
    pub fn secret(&self) -> &SecretBytes<32> {
        &self.secret
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKey")
            .field("id", &self.id)
            .field("epoch", &self.epoch.0)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_secret() {
        let k = DataKey::from_parts(
            KeyId::from_bytes([1; 16]),
            KeyEpoch(3),
            SecretBytes::from_bytes([0xab; 32]),
        );
        let s = format!("{k:?}");
        assert!(
            !s.contains("ab, ") && !s.contains("abababab") && !s.contains("171, 171"),
            "{s}"
        );
        assert!(s.contains("01010101"));
    }

    #[test]
    fn epochs_advance_and_stop() {
        assert_eq!(KeyEpoch(1).next().unwrap(), KeyEpoch(2));
        assert!(KeyEpoch(u32::MAX).next().is_err());
    }
}
