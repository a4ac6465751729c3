//! History bundles: past epochs' secrets granted to one device of a newly added
//! participant, so that (when policy allows) a counsellor taking over a case can read
//! its history (R-E4b). One bundle per recipient device, HPKE-sealed to its X25519 key
//! and signed by the granting participant's identity key. Byte layout (see
//! `docs/E2E.md`):
//!
//! ```text
//! "CAIK" | version 0x01 | kind 0x02 | suite 0x01
//!   | len(session) u8 | session
//!   | len(granter_device) u8 | granter_device | granter_identity[32]
//!   | len(recipient_device) u8 | recipient_device | recipient_x25519[32]
//!   | count u16 (1..=1024) | count × ( epoch u32 | roster_hash[32] )  (epochs ascending)
//!   | enc[32] | ct[count × 32 + 16]
//!   | signature[64]
//! ```
//!
//! `ct` seals the concatenated epoch secrets in list order, with empty `aad` and
//!
//! ```text
//! info = "cai e2e history v1" ‖ len(session) u8 ‖ session
//!        ‖ len(granter_device) u8 ‖ granter_device ‖ granter_identity[32]
//!        ‖ len(recipient_device) u8 ‖ recipient_device
//!        ‖ SHA-256(count u16 ‖ count × (epoch u32 ‖ roster_hash[32]))
//! ```

use sha2::{Digest, Sha256};

use super::device::{
    DEVICE_PUBLIC_KEY_LEN, DeviceId, DevicePublicKey, LocalDevice, MAX_DEVICE_ID_LEN,
};
use super::epoch::{EPOCH_SECRET_LEN, EpochSecret, check_session};
use super::identity::{IdentityPublicKey, SIGNATURE_LEN};
use super::roster::{ROSTER_HASH_LEN, RosterEntry};
use super::wire::{Reader, put_preamble, put_var8, read_preamble};
use super::wrap::{self, ENC_LEN, HPKE_TAG_LEN};
use super::{check_signature_input, signature_input};
use crate::{Error, KeyEpoch, MAX_ID_LEN, Result, SecretBytes};

/// Kind byte of a history bundle.
pub const KIND_HISTORY_BUNDLE: u8 = 0x02;
/// `info` label of a history bundle.
pub const LABEL_HISTORY_INFO: &[u8] = b"cai e2e history v1";
/// Most epochs one history bundle carries.
pub const MAX_HISTORY_EPOCHS: usize = 1024;
/// Largest history bundle accepted, in bytes.
pub const MAX_HISTORY_BUNDLE_LEN: usize = 7
    + 1
    + MAX_ID_LEN
    + 2 * (1 + MAX_DEVICE_ID_LEN + 32)
    + 2
    + MAX_HISTORY_EPOCHS * (4 + ROSTER_HASH_LEN + EPOCH_SECRET_LEN)
    + ENC_LEN
    + HPKE_TAG_LEN
    + SIGNATURE_LEN;

const WHAT: &str = "history bundle";

/// A parsed history bundle whose signature has been verified under the granter
/// identity it names. Whether that granter may grant is the caller's decision (see
/// [`SessionState::import_history`](super::SessionState::import_history)).
#[derive(Clone, PartialEq, Eq)]
pub struct HistoryBundle {
    session: Vec<u8>,
    granter_device: DeviceId,
    granter_identity: IdentityPublicKey,
    recipient_device: DeviceId,
    recipient_key: DevicePublicKey,
    epochs: Vec<(KeyEpoch, [u8; ROSTER_HASH_LEN])>,
    enc: [u8; ENC_LEN],
    ct: Vec<u8>,
    bytes: Vec<u8>,
}

/// `SHA-256(count u16 ‖ count × (epoch u32 ‖ roster_hash))`.
fn epochs_digest(epochs: &[(KeyEpoch, [u8; ROSTER_HASH_LEN])]) -> Result<[u8; 32]> {
    let count = u16::try_from(epochs.len()).map_err(|_| too_many(epochs.len()))?;
    let mut h = Sha256::new();
    h.update(count.to_be_bytes());
    for (e, rh) in epochs {
        h.update(e.0.to_be_bytes());
        h.update(rh);
    }
    Ok(h.finalize().into())
}

fn too_many(n: usize) -> Error {
    Error::TooLarge {
        what: "history bundle epochs",
        len: n as u64,
        limit: MAX_HISTORY_EPOCHS as u64,
    }
}

fn history_info(
    session: &[u8],
    granter_device: &DeviceId,
    granter_identity: &IdentityPublicKey,
    recipient_device: &DeviceId,
    epochs: &[(KeyEpoch, [u8; ROSTER_HASH_LEN])],
) -> Result<Vec<u8>> {
    let mut info = Vec::with_capacity(LABEL_HISTORY_INFO.len() + 512);
    info.extend_from_slice(LABEL_HISTORY_INFO);
    put_var8(&mut info, session)?;
    put_var8(&mut info, granter_device.as_bytes())?;
    info.extend_from_slice(&granter_identity.to_bytes());
    put_var8(&mut info, recipient_device.as_bytes())?;
    info.extend_from_slice(&epochs_digest(epochs)?);
    Ok(info)
}

impl HistoryBundle {
    /// Seals `secrets` (past epochs of `session`, any order, no epoch twice) to the
    /// device `recipient`, signed by `granter`.
    pub fn create(
        session: &[u8],
        secrets: &[&EpochSecret],
        granter: &LocalDevice,
        recipient: &RosterEntry,
    ) -> Result<Self> {
        check_session(session)?;
        if secrets.is_empty() {
            return Err(Error::Malformed {
                what: WHAT,
                reason: "no epochs",
            });
        }
        if secrets.len() > MAX_HISTORY_EPOCHS {
            return Err(too_many(secrets.len()));
        }
        let mut sorted: Vec<&EpochSecret> = secrets.to_vec();
        sorted.sort_by_key(|s| s.epoch());
        if sorted
            .windows(2)
            .any(|w| matches!(w, [a, b] if a.epoch() == b.epoch()))
        {
            return Err(Error::Malformed {
                what: WHAT,
                reason: "an epoch is listed twice",
            });
        }
        if sorted.iter().any(|s| s.session() != session) {
            return Err(Error::Rejected {
                what: WHAT,
                reason: "an epoch secret belongs to another session",
            });
        }
        let epochs: Vec<(KeyEpoch, [u8; ROSTER_HASH_LEN])> = sorted
            .iter()
            .map(|s| (s.epoch(), s.roster_hash()))
            .collect();
        let granter_identity = granter.identity().public();
        let info = history_info(
            session,
            granter.id(),
            &granter_identity,
            recipient.device(),
            &epochs,
        )?;
        let mut plain =
            zeroize::Zeroizing::new(Vec::with_capacity(sorted.len() * EPOCH_SECRET_LEN));
        for s in &sorted {
            plain.extend_from_slice(s.secret().expose_secret());
        }
        let (enc, ct) = wrap::seal(recipient.exchange(), &info, b"", &plain)?;

        let mut out = Vec::with_capacity(256 + epochs.len() * 36 + ct.len());
        put_preamble(&mut out, KIND_HISTORY_BUNDLE);
        put_var8(&mut out, session)?;
        put_var8(&mut out, granter.id().as_bytes())?;
        out.extend_from_slice(&granter_identity.to_bytes());
        put_var8(&mut out, recipient.device().as_bytes())?;
        out.extend_from_slice(&recipient.exchange().to_bytes());
        let count = u16::try_from(epochs.len()).map_err(|_| too_many(epochs.len()))?;
        out.extend_from_slice(&count.to_be_bytes());
        for (e, rh) in &epochs {
            out.extend_from_slice(&e.0.to_be_bytes());
            out.extend_from_slice(rh);
        }
        out.extend_from_slice(&enc);
        out.extend_from_slice(&ct);
        let signature = granter.identity().sign(&signature_input(&out));
        out.extend_from_slice(&signature);
        Ok(Self {
            session: session.to_vec(),
            granter_device: granter.id().clone(),
            granter_identity,
            recipient_device: recipient.device().clone(),
            recipient_key: *recipient.exchange(),
            epochs,
            enc,
            ct,
            bytes: out,
        })
    }

    /// One bundle for each of `recipients` (typically all devices of the new participant).
    pub fn create_for_all(
        session: &[u8],
        secrets: &[&EpochSecret],
        granter: &LocalDevice,
        recipients: &[RosterEntry],
    ) -> Result<Vec<Self>> {
        recipients
            .iter()
            .map(|r| Self::create(session, secrets, granter, r))
            .collect()
    }

    /// Parses and verifies a history bundle: strict structure (bounded lengths, epochs
    /// strictly ascending, exact ciphertext length, nothing trailing) and the Ed25519
    /// signature under the granter identity it names.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_HISTORY_BUNDLE_LEN {
            return Err(Error::TooLarge {
                what: WHAT,
                len: bytes.len() as u64,
                limit: MAX_HISTORY_BUNDLE_LEN as u64,
            });
        }
        let mut r = Reader::new(bytes, WHAT);
        read_preamble(&mut r, WHAT, KIND_HISTORY_BUNDLE)?;
        let session = r.var8(MAX_ID_LEN, "session id length")?.to_vec();
        let granter_device = DeviceId::new(r.var8(MAX_DEVICE_ID_LEN, "device id length")?)?;
        let granter_identity = IdentityPublicKey::from_bytes(&r.array()?)?;
        let recipient_device = DeviceId::new(r.var8(MAX_DEVICE_ID_LEN, "device id length")?)?;
        let recipient_key = DevicePublicKey::from_bytes(r.array::<DEVICE_PUBLIC_KEY_LEN>()?);
        recipient_key.validate()?;
        let count = usize::from(r.u16()?);
        if count == 0 {
            return Err(Error::Malformed {
                what: WHAT,
                reason: "no epochs",
            });
        }
        if count > MAX_HISTORY_EPOCHS {
            return Err(too_many(count));
        }
        let mut epochs = Vec::with_capacity(count);
        for _ in 0..count {
            epochs.push((KeyEpoch(r.u32()?), r.array::<ROSTER_HASH_LEN>()?));
        }
        if epochs.windows(2).any(|w| matches!(w, [a, b] if a.0 >= b.0)) {
            return Err(Error::Malformed {
                what: WHAT,
                reason: "epochs not strictly ascending",
            });
        }
        let enc: [u8; ENC_LEN] = r.array()?;
        let ct = r.take(count * EPOCH_SECRET_LEN + HPKE_TAG_LEN)?.to_vec();
        let signed_len = r.position();
        let signature: [u8; SIGNATURE_LEN] = r.array()?;
        r.finish()?;
        let signed = bytes.get(..signed_len).ok_or(Error::Malformed {
            what: WHAT,
            reason: "signature offset",
        })?;
        check_signature_input(&granter_identity, signed, &signature)?;
        Ok(Self {
            session,
            granter_device,
            granter_identity,
            recipient_device,
            recipient_key,
            epochs,
            enc,
            ct,
            bytes: bytes.to_vec(),
        })
    }

    /// Opens the bundle on `device` and returns the granted epoch secrets, ascending.
    ///
    /// [`Error::NotARecipient`] unless the bundle is addressed to this device id and
    /// X25519 key; [`Error::NonContributory`] or [`Error::Hpke`] if it does not open.
    pub fn open(&self, device: &LocalDevice) -> Result<Vec<EpochSecret>> {
        if *device.id() != self.recipient_device || device.exchange().public() != self.recipient_key
        {
            return Err(Error::NotARecipient);
        }
        let info = history_info(
            &self.session,
            &self.granter_device,
            &self.granter_identity,
            &self.recipient_device,
            &self.epochs,
        )?;
        let plain = wrap::open(device.exchange(), &self.enc, &info, b"", &self.ct)?;
        if plain.len() != self.epochs.len() * EPOCH_SECRET_LEN {
            return Err(Error::Malformed {
                what: WHAT,
                reason: "plaintext length",
            });
        }
        plain
            .chunks_exact(EPOCH_SECRET_LEN)
            .zip(&self.epochs)
            .map(|(chunk, (epoch, rh))| {
                EpochSecret::from_parts(&self.session, *epoch, *rh, SecretBytes::from_slice(chunk)?)
            })
            .collect()
    }

    /// The session id.
    pub fn session(&self) -> &[u8] {
        &self.session
    }

    /// The granting device.
    pub fn granter_device(&self) -> &DeviceId {
        &self.granter_device
    }

    /// The identity key that signed the grant.
    pub fn granter_identity(&self) -> &IdentityPublicKey {
        &self.granter_identity
    }

    /// The device the bundle is sealed to.
    pub fn recipient_device(&self) -> &DeviceId {
        &self.recipient_device
    }

    /// The granted epochs and their roster hashes, ascending.
    pub fn epochs(&self) -> &[(KeyEpoch, [u8; ROSTER_HASH_LEN])] {
        &self.epochs
    }

    /// The encoded bundle.
    pub fn to_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl core::fmt::Debug for HistoryBundle {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HistoryBundle")
            .field("granter_device", &self.granter_device)
            .field("recipient_device", &self.recipient_device)
            .field("epochs", &self.epochs.len())
            .finish_non_exhaustive()
    }
}
