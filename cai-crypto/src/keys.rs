//! Key identities and the per-session data key.
//!
//! A [`DataKey`] (DEK) is 256 random bits with a public [`KeyId`] and [`KeyEpoch`]. Every
//! ciphertext names the id and epoch of the key it was sealed under, so a reader can
//! fetch the right key and say plainly when it does not hold it (R-E4c).

use core::fmt;

use zeroize::Zeroize;

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
/// participant joins or leaves; server-managed and session-key sessions when a participant
/// is removed (a fresh key per epoch); passphrase sessions stay at epoch 0.
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

    /// The call key of a server-managed session's key epoch (docs/KEYS.md §7): what its
    /// call participants seal the data channel with and derive media keys from, in place
    /// of the data key, which never leaves the server in that mode. Same id and epoch;
    /// knowing it does not open the session's stored content.
    ///
    /// ```text
    /// call_key = HKDF-SHA256(salt = "cai call key v1", IKM = DEK,
    ///                        info = key_id (16) ‖ epoch (u32 big-endian), L = 32)
    /// ```
    pub fn call_key(&self) -> Result<DataKey> {
        let mut okm = [0u8; 32];
        crate::kdf::hkdf_sha256(
            self.secret.expose_secret(),
            CALL_KEY_SALT,
            &[self.id.as_bytes(), &self.epoch.0.to_be_bytes()],
            &mut okm,
        )?;
        let secret = SecretBytes::from_bytes(okm);
        okm.zeroize();
        Ok(DataKey::from_parts(self.id, self.epoch, secret))
    }
}

/// HKDF salt of [`DataKey::call_key`].
const CALL_KEY_SALT: &[u8] = b"cai call key v1";

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

    /// The call key is HKDF-SHA256 over exactly the documented salt and info, and each
    /// input (secret, id, epoch) changes it.
    #[test]
    fn call_key_follows_its_derivation() {
        let key = |id: u8, epoch: u32, secret: u8| {
            DataKey::from_parts(
                KeyId::from_bytes([id; 16]),
                KeyEpoch(epoch),
                SecretBytes::from_bytes([secret; 32]),
            )
        };
        let dek = key(1, 7, 0x42);
        let call = dek.call_key().unwrap();
        let mut info = vec![1u8; 16];
        info.extend_from_slice(&7u32.to_be_bytes());
        let mut expected = [0u8; 32];
        hkdf::Hkdf::<sha2::Sha256>::new(Some(b"cai call key v1"), &[0x42; 32])
            .expand(&info, &mut expected)
            .unwrap();
        assert_eq!(call.secret().expose_secret(), &expected);
        assert_eq!((call.id(), call.epoch()), (dek.id(), dek.epoch()));
        assert_ne!(call.secret(), dek.secret());
        for other in [key(2, 7, 0x42), key(1, 8, 0x42), key(1, 7, 0x43)] {
            assert_ne!(other.call_key().unwrap().secret(), call.secret());
        }
    }

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
