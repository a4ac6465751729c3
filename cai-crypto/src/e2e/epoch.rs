//! Epoch secrets and the per-sender keys derived from them.
//!
//! An [`EpochSecret`] is 32 random bytes chosen by whoever starts an epoch, together with
//! the public facts it belongs to (session, epoch number, roster hash). From it every
//! participant derives, for each sender device `s`:
//!
//! ```text
//! sender_info(label)  = label ‖ len(session) u8 ‖ session ‖ epoch u32be
//!                       ‖ len(s) u8 ‖ s
//! content key secret  = HKDF-SHA256(ikm = epoch secret, salt = "",
//!                                   info = sender_info("cai e2e sender content v1"), L = 32)
//! media base secret   = HKDF-SHA256(ikm = epoch secret, salt = "",
//!                                   info = sender_info("cai e2e sender media v1"), L = 32)
//! content key id      = SHA-256(sender_info("cai e2e sender key id v1"))[0..16]
//! ```
//!
//! The content key is a [`DataKey`] for [`envelope`](crate::envelope) with that id and the
//! epoch; the key id depends on public values only, so a receiver (or a server routing
//! ciphertexts) can tell which sender and epoch an envelope belongs to.

use core::fmt;

use sha2::{Digest, Sha256};

use super::device::DeviceId;
use super::roster::ROSTER_HASH_LEN;
use crate::kdf::hkdf_sha256;
use crate::secret::SecretBytes;
use crate::{DataKey, Error, KEY_ID_LEN, KeyEpoch, KeyId, MAX_ID_LEN, Result};

/// `info` label of the per-sender content key.
pub const LABEL_SENDER_CONTENT: &[u8] = b"cai e2e sender content v1";
/// `info` label of the per-sender media base secret.
pub const LABEL_SENDER_MEDIA: &[u8] = b"cai e2e sender media v1";
/// Hash label of the per-sender content key id.
pub const LABEL_SENDER_KEY_ID: &[u8] = b"cai e2e sender key id v1";

/// Length of an epoch secret.
pub const EPOCH_SECRET_LEN: usize = 32;

/// Checks a session id: 1 to [`MAX_ID_LEN`] bytes.
pub(crate) fn check_session(session: &[u8]) -> Result<()> {
    if session.is_empty() || session.len() > MAX_ID_LEN {
        return Err(Error::InvalidContext {
            field: "session",
            len: session.len(),
            max: MAX_ID_LEN,
        });
    }
    Ok(())
}

/// `label ‖ len(session) ‖ session ‖ epoch ‖ len(sender) ‖ sender`. Lengths are checked
/// by the types (session 1..=255, device id 1..=64), so each fits in one byte.
fn sender_info(label: &[u8], session: &[u8], epoch: KeyEpoch, sender: &DeviceId) -> Vec<u8> {
    let s = sender.as_bytes();
    let mut info = Vec::with_capacity(label.len() + 2 + session.len() + 4 + s.len());
    info.extend_from_slice(label);
    info.push(u8::try_from(session.len()).unwrap_or(u8::MAX));
    info.extend_from_slice(session);
    info.extend_from_slice(&epoch.0.to_be_bytes());
    info.push(u8::try_from(s.len()).unwrap_or(u8::MAX));
    info.extend_from_slice(s);
    info
}

/// The public key id of `sender`'s content key in `epoch` of `session`.
pub fn sender_key_id(session: &[u8], epoch: KeyEpoch, sender: &DeviceId) -> Result<KeyId> {
    check_session(session)?;
    let digest = Sha256::digest(sender_info(LABEL_SENDER_KEY_ID, session, epoch, sender));
    let id: [u8; KEY_ID_LEN] = digest
        .get(..KEY_ID_LEN)
        .and_then(|s| s.try_into().ok())
        .ok_or(Error::Malformed {
            what: "sender key id",
            reason: "digest length",
        })?;
    Ok(KeyId::from_bytes(id))
}

/// The secret of one epoch of one session. Zeroized on drop, redacted in `Debug`,
/// compared in constant time.
#[derive(Clone, PartialEq, Eq)]
pub struct EpochSecret {
    session: Vec<u8>,
    epoch: KeyEpoch,
    roster_hash: [u8; ROSTER_HASH_LEN],
    secret: SecretBytes<EPOCH_SECRET_LEN>,
}

impl EpochSecret {
    /// A fresh random secret.
    pub(crate) fn generate(
        session: &[u8],
        epoch: KeyEpoch,
        roster_hash: [u8; ROSTER_HASH_LEN],
    ) -> Result<Self> {
        Self::from_parts(session, epoch, roster_hash, SecretBytes::random()?)
    }

    /// A secret from parts the caller holds (for instance a key store).
    pub fn from_parts(
        session: &[u8],
        epoch: KeyEpoch,
        roster_hash: [u8; ROSTER_HASH_LEN],
        secret: SecretBytes<EPOCH_SECRET_LEN>,
    ) -> Result<Self> {
        check_session(session)?;
        Ok(Self {
            session: session.to_vec(),
            epoch,
            roster_hash,
            secret,
        })
    }

    /// The session id.
    pub fn session(&self) -> &[u8] {
        &self.session
    }

    /// The epoch.
    pub fn epoch(&self) -> KeyEpoch {
        self.epoch
    }

    /// Hash of the epoch's roster.
    pub fn roster_hash(&self) -> [u8; ROSTER_HASH_LEN] {
        self.roster_hash
    }

    /// The 32 secret bytes; keep the borrow short.
    pub fn secret(&self) -> &SecretBytes<EPOCH_SECRET_LEN> {
        &self.secret
    }

    /// The content [`DataKey`] of `sender` in this epoch, for [`envelope`](crate::envelope):
    /// id [`sender_key_id`], epoch [`epoch`](Self::epoch). Equal on every participant.
    pub fn data_key(&self, sender: &DeviceId) -> Result<DataKey> {
        let secret = self.derive(LABEL_SENDER_CONTENT, sender)?;
        let id = sender_key_id(&self.session, self.epoch, sender)?;
        Ok(DataKey::from_parts(id, self.epoch, secret))
    }

    /// The 32-byte media base secret of `sender` in this epoch, for SFrame.
    pub fn media_secret(&self, sender: &DeviceId) -> Result<SecretBytes<32>> {
        self.derive(LABEL_SENDER_MEDIA, sender)
    }

    fn derive(&self, label: &[u8], sender: &DeviceId) -> Result<SecretBytes<32>> {
        let info = sender_info(label, &self.session, self.epoch, sender);
        let mut okm = [0u8; 32];
        let result = hkdf_sha256(self.secret.expose_secret(), b"", &[&info], &mut okm);
        let out = SecretBytes::from_bytes(okm);
        zeroize::Zeroize::zeroize(&mut okm);
        result.map(|()| out)
    }
}

impl fmt::Debug for EpochSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EpochSecret")
            .field("session_len", &self.session.len())
            .field("epoch", &self.epoch.0)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivations_are_distinct() {
        let s = EpochSecret::generate(b"s", KeyEpoch(1), [0; 32]).unwrap();
        let a = DeviceId::new(b"a").unwrap();
        let b = DeviceId::new(b"b").unwrap();
        let ka = s.data_key(&a).unwrap();
        assert_ne!(ka, s.data_key(&b).unwrap());
        assert_ne!(ka.secret(), &s.media_secret(&a).unwrap());
        assert_eq!(ka.id(), sender_key_id(b"s", KeyEpoch(1), &a).unwrap());
        assert_eq!(ka.epoch(), KeyEpoch(1));
        assert!(EpochSecret::generate(b"", KeyEpoch(1), [0; 32]).is_err());
        let shown = format!("{s:?}");
        assert!(shown.contains("EpochSecret") && !shown.contains("secret:"));
    }
}
