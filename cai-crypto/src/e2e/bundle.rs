//! Epoch bundles: one epoch's secret, wrapped with HPKE to every device of the roster
//! and signed by the sender's identity key. Byte layout (all integers big-endian; see
//! `docs/E2E.md`):
//!
//! ```text
//! "CAIK" | version 0x01 | kind 0x01 | suite 0x01
//!   | len(session) u8 | session                      (1..=255 bytes)
//!   | epoch u32
//!   | len(sender_device) u8 | sender_device          (1..=64 bytes)
//!   | sender_identity[32]                            (Ed25519 public key)
//!   | roster                                         (see roster module)
//!   | roster.count × ( enc[32] | ct[48] )            (HPKE, in roster order)
//!   | signature[64]                                  (Ed25519 over context ‖ all above)
//! ```
//!
//! For the roster entry `r`, `enc ‖ ct` is the HPKE base-mode single-shot seal of the
//! 32-byte epoch secret to `r`'s X25519 key with empty `aad` and
//!
//! ```text
//! info = "cai e2e epoch secret v1" ‖ len(session) u8 ‖ session ‖ epoch u32be
//!        ‖ roster_hash[32] ‖ len(sender_device) u8 ‖ sender_device
//!        ‖ sender_identity[32] ‖ len(r.device) u8 ‖ r.device
//! ```
//!
//! so a wrapped secret moved to another device, epoch, session, roster or sender does
//! not open.

use super::device::{DeviceId, LocalDevice, MAX_DEVICE_ID_LEN};
use super::epoch::{EPOCH_SECRET_LEN, EpochSecret, check_session};
use super::identity::{IDENTITY_PUBLIC_KEY_LEN, IdentityPublicKey, SIGNATURE_LEN};
use super::roster::{MAX_ROSTER_DEVICES, ROSTER_HASH_LEN, Roster};
use super::wire::{Reader, put_preamble, put_var8, read_preamble};
use super::wrap::{self, ENC_LEN, HPKE_TAG_LEN};
use super::{check_signature_input, signature_input};
use crate::{Error, KeyEpoch, MAX_ID_LEN, Result};

/// Kind byte of an epoch bundle.
pub const KIND_EPOCH_BUNDLE: u8 = 0x01;
/// `info` label of a wrapped epoch secret.
pub const LABEL_EPOCH_INFO: &[u8] = b"cai e2e epoch secret v1";
/// Length of one wrapped epoch secret: `enc ‖ ciphertext ‖ tag`.
pub const WRAPPED_LEN: usize = ENC_LEN + EPOCH_SECRET_LEN + HPKE_TAG_LEN;
/// Largest epoch bundle accepted, in bytes (a full roster of long ids fits).
pub const MAX_EPOCH_BUNDLE_LEN: usize = 7
    + 1
    + MAX_ID_LEN
    + 4
    + 1
    + MAX_DEVICE_ID_LEN
    + IDENTITY_PUBLIC_KEY_LEN
    + 2
    + MAX_ROSTER_DEVICES * (1 + MAX_DEVICE_ID_LEN + 32 + IDENTITY_PUBLIC_KEY_LEN + WRAPPED_LEN)
    + SIGNATURE_LEN;

const WHAT: &str = "epoch bundle";

/// One wrapped epoch secret.
#[derive(Clone, PartialEq, Eq)]
struct Wrapped {
    enc: [u8; ENC_LEN],
    ct: [u8; EPOCH_SECRET_LEN + HPKE_TAG_LEN],
}

/// A parsed epoch bundle whose signature has been verified and whose sender is in its
/// roster. Opening it for a device is [`open`](Self::open); deciding whether its sender
/// may start this epoch is [`SessionState`](super::SessionState)'s job.
#[derive(Clone, PartialEq, Eq)]
pub struct EpochBundle {
    session: Vec<u8>,
    epoch: KeyEpoch,
    sender_device: DeviceId,
    sender_identity: IdentityPublicKey,
    roster: Roster,
    wrapped: Vec<Wrapped>,
    bytes: Vec<u8>,
}

/// The HPKE `info` for the secret wrapped to `recipient`.
#[allow(clippy::too_many_arguments)]
fn epoch_info(
    session: &[u8],
    epoch: KeyEpoch,
    roster_hash: &[u8; ROSTER_HASH_LEN],
    sender_device: &DeviceId,
    sender_identity: &IdentityPublicKey,
    recipient: &DeviceId,
) -> Result<Vec<u8>> {
    let mut info = Vec::with_capacity(LABEL_EPOCH_INFO.len() + 512);
    info.extend_from_slice(LABEL_EPOCH_INFO);
    put_var8(&mut info, session)?;
    info.extend_from_slice(&epoch.0.to_be_bytes());
    info.extend_from_slice(roster_hash);
    put_var8(&mut info, sender_device.as_bytes())?;
    info.extend_from_slice(&sender_identity.to_bytes());
    put_var8(&mut info, recipient.as_bytes())?;
    Ok(info)
}

impl EpochBundle {
    /// Starts `epoch` of `session` for `roster`: draws a fresh epoch secret, wraps it to
    /// every device of the roster (the sender's included) and signs the bundle with
    /// `sender`'s identity key. `sender` must be in the roster with its identity key
    /// ([`Error::Rejected`] otherwise).
    pub fn create(
        session: &[u8],
        epoch: KeyEpoch,
        roster: &Roster,
        sender: &LocalDevice,
    ) -> Result<(Self, EpochSecret)> {
        check_session(session)?;
        let sender_identity = sender.identity().public();
        if !roster.is_member(sender.id(), &sender_identity) {
            return Err(Error::Rejected {
                what: WHAT,
                reason: "sender is not in the roster",
            });
        }
        let secret = EpochSecret::generate(session, epoch, roster.hash())?;

        let mut out = Vec::with_capacity(
            64 + session.len() + roster.to_bytes().len() + roster.len() * WRAPPED_LEN,
        );
        put_preamble(&mut out, KIND_EPOCH_BUNDLE);
        put_var8(&mut out, session)?;
        out.extend_from_slice(&epoch.0.to_be_bytes());
        put_var8(&mut out, sender.id().as_bytes())?;
        out.extend_from_slice(&sender_identity.to_bytes());
        out.extend_from_slice(roster.to_bytes());
        let mut wrapped = Vec::with_capacity(roster.len());
        for entry in roster.entries() {
            let info = epoch_info(
                session,
                epoch,
                &roster.hash(),
                sender.id(),
                &sender_identity,
                entry.device(),
            )?;
            let (enc, ct) = wrap::seal(
                entry.exchange(),
                &info,
                b"",
                secret.secret().expose_secret(),
            )?;
            let ct: [u8; EPOCH_SECRET_LEN + HPKE_TAG_LEN] = ct
                .as_slice()
                .try_into()
                .map_err(|_| Error::Hpke { op: "seal" })?;
            out.extend_from_slice(&enc);
            out.extend_from_slice(&ct);
            wrapped.push(Wrapped { enc, ct });
        }
        let signature = sender.identity().sign(&signature_input(&out));
        out.extend_from_slice(&signature);
        Ok((
            Self {
                session: session.to_vec(),
                epoch,
                sender_device: sender.id().clone(),
                sender_identity,
                roster: roster.clone(),
                wrapped,
                bytes: out,
            },
            secret,
        ))
    }

    /// Parses and verifies a bundle: strict structure (every length bounded, roster
    /// canonical, one wrapped secret per roster device, nothing trailing), then the
    /// Ed25519 signature under the sender identity key it names
    /// ([`Error::InvalidSignature`]), then that the sender is in the roster with that key
    /// ([`Error::Rejected`]).
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_EPOCH_BUNDLE_LEN {
            return Err(Error::TooLarge {
                what: WHAT,
                len: bytes.len() as u64,
                limit: MAX_EPOCH_BUNDLE_LEN as u64,
            });
        }
        let mut r = Reader::new(bytes, WHAT);
        read_preamble(&mut r, WHAT, KIND_EPOCH_BUNDLE)?;
        let session = r.var8(MAX_ID_LEN, "session id length")?.to_vec();
        let epoch = KeyEpoch(r.u32()?);
        let sender_device = DeviceId::new(r.var8(MAX_DEVICE_ID_LEN, "device id length")?)?;
        let sender_identity = IdentityPublicKey::from_bytes(&r.array()?)?;
        let roster = Roster::read(&mut r)?;
        let mut wrapped = Vec::with_capacity(roster.len());
        for _ in 0..roster.len() {
            wrapped.push(Wrapped {
                enc: r.array()?,
                ct: r.array()?,
            });
        }
        let signed_len = r.position();
        let signature: [u8; SIGNATURE_LEN] = r.array()?;
        r.finish()?;

        let signed = bytes.get(..signed_len).ok_or(Error::Malformed {
            what: WHAT,
            reason: "signature offset",
        })?;
        check_signature_input(&sender_identity, signed, &signature)?;
        if !roster.is_member(&sender_device, &sender_identity) {
            return Err(Error::Rejected {
                what: WHAT,
                reason: "sender is not in the roster",
            });
        }
        Ok(Self {
            session,
            epoch,
            sender_device,
            sender_identity,
            roster,
            wrapped,
            bytes: bytes.to_vec(),
        })
    }

    /// Unwraps the epoch secret for `device`.
    ///
    /// [`Error::NotARecipient`] if the device is not in the roster; [`Error::Rejected`] if
    /// the roster lists the device with another X25519 key (the bundle was made for a
    /// key this device no longer has); [`Error::NonContributory`] or [`Error::Hpke`] if
    /// the wrapped secret does not open.
    pub fn open(&self, device: &LocalDevice) -> Result<EpochSecret> {
        let pos = self
            .roster
            .position(device.id())
            .ok_or(Error::NotARecipient)?;
        let entry = self.roster.entries().get(pos).ok_or(Error::NotARecipient)?;
        if *entry.exchange() != device.exchange().public() {
            return Err(Error::Rejected {
                what: WHAT,
                reason: "wrapped to another X25519 key of this device",
            });
        }
        let w = self.wrapped.get(pos).ok_or(Error::NotARecipient)?;
        let info = epoch_info(
            &self.session,
            self.epoch,
            &self.roster.hash(),
            &self.sender_device,
            &self.sender_identity,
            device.id(),
        )?;
        let plain = wrap::open(device.exchange(), &w.enc, &info, b"", &w.ct)?;
        let secret = crate::SecretBytes::<EPOCH_SECRET_LEN>::from_slice(&plain)?;
        EpochSecret::from_parts(&self.session, self.epoch, self.roster.hash(), secret)
    }

    /// The session id.
    pub fn session(&self) -> &[u8] {
        &self.session
    }

    /// The epoch this bundle starts.
    pub fn epoch(&self) -> KeyEpoch {
        self.epoch
    }

    /// The sending device.
    pub fn sender_device(&self) -> &DeviceId {
        &self.sender_device
    }

    /// The identity key that signed the bundle.
    pub fn sender_identity(&self) -> &IdentityPublicKey {
        &self.sender_identity
    }

    /// The epoch's roster.
    pub fn roster(&self) -> &Roster {
        &self.roster
    }

    /// The encoded bundle.
    pub fn to_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl core::fmt::Debug for EpochBundle {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EpochBundle")
            .field("epoch", &self.epoch.0)
            .field("sender_device", &self.sender_device)
            .field("devices", &self.roster.len())
            .finish_non_exhaustive()
    }
}
