//! Media keys from MLS (RFC 9605 §5.2) and frames signed by their sender.
//!
//! Per epoch and sender, as RFC 9605 §5.2 says:
//!
//! ```text
//! sframe_epoch_secret = MLS-Exporter("SFrame 1.0 Base Key", "", Nk)
//! base_key            = HKDF-Expand(sframe_epoch_secret, sender_index u64be, Nk)
//! KID                 = sender_index << MEDIA_EPOCH_BITS | epoch mod 2^MEDIA_EPOCH_BITS
//! ```
//!
//! with `Nk` and the HKDF hash of the SFrame suite (16/SHA-256 for
//! `AES_128_GCM_SHA256_128`, 32/SHA-512 for `AES_256_GCM_SHA512_128`) and the MLS leaf
//! index as sender index. Keys change with every epoch, so a removed member cannot
//! decrypt media after its removal.
//!
//! SFrame alone authenticates the *group*: every member can derive every sender's key.
//! So each protected frame also carries the sender's Ed25519 signature (64 bytes,
//! by its leaf signature key):
//!
//! ```text
//! protected = sframe ‖ Ed25519(leaf key, SIGNATURE_CONTEXT ‖ LABEL_MEDIA_SIGNATURE
//!                               ‖ len8 group id ‖ len16 metadata ‖ metadata ‖ sframe)
//! ```
//!
//! A receiver checks the signature against the leaf the KID names before it decrypts.

use std::collections::HashMap;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Sha256, Sha512};
use zeroize::Zeroizing;

use super::identity::{IdentityKey, IdentityPublicKey, SIGNATURE_LEN};
use crate::sframe::{FrameDecryptor, FrameEncryptor, MediaSuite, parse_header};
use crate::{Error, Result};

/// The MLS exporter label of RFC 9605 §5.2.
pub const SFRAME_EXPORTER_LABEL: &str = "SFrame 1.0 Base Key";
/// Bits of the epoch in a KID (RFC 9605 §5.2 `E`).
pub const MEDIA_EPOCH_BITS: u32 = 8;
/// Prefix of a frame signature's input (after `SIGNATURE_CONTEXT`).
pub const LABEL_MEDIA_SIGNATURE: &[u8] = b"cai e2e media v1";

/// One epoch's media keys: the exporter secret and every sender's signature key.
pub(crate) struct MediaEpoch {
    pub(crate) epoch: u64,
    pub(crate) secret: Zeroizing<Vec<u8>>,
    /// Leaf index → signature key.
    pub(crate) senders: Vec<(u32, IdentityPublicKey)>,
}

/// RFC 9605 §5.2 KID.
pub(crate) fn kid(sender_index: u32, epoch: u64) -> u64 {
    (u64::from(sender_index) << MEDIA_EPOCH_BITS) | (epoch & ((1 << MEDIA_EPOCH_BITS) - 1))
}

/// `HKDF-Expand(secret, sender_index u64be, Nk)` with the suite's hash. `Nk` is at
/// most the hash length, so the expansion is the single block `HMAC(secret, info ‖ 1)`.
pub(crate) fn base_key(
    suite: MediaSuite,
    secret: &[u8],
    sender_index: u32,
) -> Result<Zeroizing<Vec<u8>>> {
    let info = u64::from(sender_index).to_be_bytes();
    let block = match suite {
        MediaSuite::Aes128GcmSha256 => first_block::<Hmac<Sha256>>(secret, &info)?,
        MediaSuite::Aes256GcmSha512 => first_block::<Hmac<Sha512>>(secret, &info)?,
    };
    Ok(Zeroizing::new(
        block.get(..suite.key_len()).unwrap_or_default().to_vec(),
    ))
}

/// `T(1) = HMAC(prk, info ‖ 0x01)`, HKDF-Expand's first block.
fn first_block<M: Mac + KeyInit>(prk: &[u8], info: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let mut mac = <M as KeyInit>::new_from_slice(prk).map_err(|_| Error::Malformed {
        what: "media secret",
        reason: "invalid HMAC key",
    })?;
    mac.update(info);
    mac.update(&[1]);
    Ok(Zeroizing::new(mac.finalize().into_bytes().to_vec()))
}

fn signature_input(group_id: &[u8], metadata: &[u8], sframe: &[u8]) -> Result<Vec<u8>> {
    let meta_len = u16::try_from(metadata.len()).map_err(|_| Error::TooLarge {
        what: "frame metadata",
        len: metadata.len() as u64,
        limit: u64::from(u16::MAX),
    })?;
    let mut m = Vec::with_capacity(sframe.len() + metadata.len() + 300);
    m.extend_from_slice(LABEL_MEDIA_SIGNATURE);
    super::wire::put_var8(&mut m, group_id)?;
    m.extend_from_slice(&meta_len.to_be_bytes());
    m.extend_from_slice(metadata);
    m.extend_from_slice(sframe);
    Ok(super::signature_input(&m))
}

/// Protects this device's frames for one epoch.
pub struct MediaSender {
    group_id: Vec<u8>,
    epoch: u64,
    encryptor: FrameEncryptor,
    signer: IdentityKey,
}

impl core::fmt::Debug for MediaSender {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MediaSender")
            .field("epoch", &self.epoch)
            .field("kid", &self.encryptor.kid())
            .finish_non_exhaustive()
    }
}

impl MediaSender {
    pub(crate) fn new(
        group_id: &[u8],
        suite: MediaSuite,
        keys: &MediaEpoch,
        own_index: u32,
        signer: &IdentityKey,
    ) -> Result<Self> {
        let kid = kid(own_index, keys.epoch);
        let base = base_key(suite, &keys.secret, own_index)?;
        let first = u64::from_be_bytes(crate::secret::random_array()?) >> 1;
        Ok(Self {
            group_id: group_id.to_vec(),
            epoch: keys.epoch,
            encryptor: FrameEncryptor::from_rfc9605_base_key(suite, kid, &base, first)?,
            signer: signer.clone(),
        })
    }

    /// The epoch whose keys it uses (make a new sender when the epoch changes).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The SFrame KID of this sender.
    pub fn kid(&self) -> u64 {
        self.encryptor.kid()
    }

    /// Encrypts and signs one encoded frame: `sframe ‖ signature`.
    pub fn protect(&mut self, frame: &[u8], metadata: &[u8]) -> Result<Vec<u8>> {
        let mut out = self.encryptor.encrypt(frame, metadata)?;
        let sig = self
            .signer
            .sign(&signature_input(&self.group_id, metadata, &out)?);
        out.extend_from_slice(&sig);
        Ok(out)
    }
}

/// Verifies and decrypts the frames of every sender of the epochs it was given.
pub struct MediaReceiver {
    group_id: Vec<u8>,
    decryptor: FrameDecryptor,
    senders: HashMap<u64, (u64, IdentityPublicKey)>,
}

impl core::fmt::Debug for MediaReceiver {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MediaReceiver")
            .field("senders", &self.senders.len())
            .finish_non_exhaustive()
    }
}

/// A received frame and who sent it.
#[derive(Debug)]
pub struct ReceivedFrame {
    /// The decrypted frame.
    pub frame: Vec<u8>,
    /// The sender's leaf index in `epoch`.
    pub sender_index: u32,
    /// The epoch of the key.
    pub epoch: u64,
}

impl MediaReceiver {
    pub(crate) fn new(group_id: &[u8]) -> Self {
        Self {
            group_id: group_id.to_vec(),
            decryptor: FrameDecryptor::new(),
            senders: HashMap::new(),
        }
    }

    /// Adds every sender's key of an epoch and drops epochs older than the one before
    /// it: frames of the previous epoch still in flight are accepted, nothing older (a
    /// member removed two epochs ago can send nothing more). Call
    /// [`forget_before`](Self::forget_before) to drop the previous one too.
    pub(crate) fn add_epoch(&mut self, suite: MediaSuite, keys: &MediaEpoch) -> Result<()> {
        self.forget_before(keys.epoch.saturating_sub(1));
        for (index, key) in &keys.senders {
            let kid = kid(*index, keys.epoch);
            let base = base_key(suite, &keys.secret, *index)?;
            self.decryptor.add_rfc9605_base_key(suite, kid, &base)?;
            self.senders.insert(kid, (keys.epoch, *key));
        }
        Ok(())
    }

    /// Drops the keys of epochs before `epoch`.
    pub fn forget_before(&mut self, epoch: u64) {
        let old: Vec<u64> = self
            .senders
            .iter()
            .filter(|(_, (e, _))| *e < epoch)
            .map(|(k, _)| *k)
            .collect();
        for k in old {
            self.senders.remove(&k);
            self.decryptor.remove_key(k);
        }
    }

    /// Verifies the sender's signature, then decrypts. A frame whose KID names no known
    /// sender is [`Error::UnknownMediaKey`]; a bad signature [`Error::InvalidSignature`].
    pub fn unprotect(&mut self, protected: &[u8], metadata: &[u8]) -> Result<ReceivedFrame> {
        let split = protected
            .len()
            .checked_sub(SIGNATURE_LEN)
            .ok_or(Error::Truncated {
                what: "signed media frame",
                needed: SIGNATURE_LEN,
                got: protected.len(),
            })?;
        let (sframe, sig) = protected.split_at(split);
        let kid = parse_header(sframe)?.kid;
        let (epoch, key) = *self
            .senders
            .get(&kid)
            .ok_or(Error::UnknownMediaKey { kid })?;
        key.verify(&signature_input(&self.group_id, metadata, sframe)?, sig)?;
        let frame = self.decryptor.decrypt(sframe, metadata)?;
        Ok(ReceivedFrame {
            frame,
            sender_index: u32::try_from(kid >> MEDIA_EPOCH_BITS).unwrap_or(u32::MAX),
            epoch,
        })
    }
}
