//! The roster: who takes part in an epoch, device by device.
//!
//! A [`Roster`] is a list of [`RosterEntry`]s (device id, X25519 public key, Ed25519
//! identity public key), sorted by device id, without duplicate ids or keys, with
//! 1 to [`MAX_ROSTER_DEVICES`] entries. Its encoding is canonical, so two rosters are
//! equal exactly when their encodings (and their [hashes](Roster::hash)) are.
//!
//! ```text
//! roster = count u16be | count × ( len(device_id) u8 | device_id
//!                                  | x25519_public[32] | ed25519_public[32] )
//! roster_hash = SHA-256("cai e2e roster v1" ‖ roster)
//! ```

use sha2::{Digest, Sha256};

use super::device::{DEVICE_PUBLIC_KEY_LEN, DeviceId, DevicePublicKey, MAX_DEVICE_ID_LEN};
use super::identity::{IDENTITY_PUBLIC_KEY_LEN, IdentityPublicKey};
use super::wire::{Reader, put_var8};
use crate::{Error, Result};

/// Most devices one roster holds.
pub const MAX_ROSTER_DEVICES: usize = 256;
/// Length of a roster hash.
pub const ROSTER_HASH_LEN: usize = 32;
/// Prefix of the roster hash input.
pub const LABEL_ROSTER: &[u8] = b"cai e2e roster v1";

/// One participant device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterEntry {
    device: DeviceId,
    exchange: DevicePublicKey,
    identity: IdentityPublicKey,
}

impl RosterEntry {
    /// An entry; the X25519 key must [validate](DevicePublicKey::validate).
    pub fn new(
        device: DeviceId,
        exchange: DevicePublicKey,
        identity: IdentityPublicKey,
    ) -> Result<Self> {
        exchange.validate()?;
        Ok(Self {
            device,
            exchange,
            identity,
        })
    }

    /// The device id.
    pub fn device(&self) -> &DeviceId {
        &self.device
    }

    /// The device's X25519 public key.
    pub fn exchange(&self) -> &DevicePublicKey {
        &self.exchange
    }

    /// The identity key that signs for this device.
    pub fn identity(&self) -> &IdentityPublicKey {
        &self.identity
    }

    fn encode_into(&self, out: &mut Vec<u8>) -> Result<()> {
        put_var8(out, self.device.as_bytes())?;
        out.extend_from_slice(&self.exchange.to_bytes());
        out.extend_from_slice(&self.identity.to_bytes());
        Ok(())
    }

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let device = DeviceId::new(r.var8(MAX_DEVICE_ID_LEN, "device id length")?)?;
        let exchange = DevicePublicKey::from_bytes(r.array::<DEVICE_PUBLIC_KEY_LEN>()?);
        let identity = IdentityPublicKey::from_bytes(&r.array::<IDENTITY_PUBLIC_KEY_LEN>()?)?;
        Self::new(device, exchange, identity)
    }
}

/// The canonical set of participant devices of one epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roster {
    entries: Vec<RosterEntry>,
    encoding: Vec<u8>,
    hash: [u8; ROSTER_HASH_LEN],
}

impl Roster {
    /// A roster from entries in any order. Sorts them by device id; rejects an empty
    /// list, more than [`MAX_ROSTER_DEVICES`] entries ([`Error::TooLarge`]), a device id
    /// listed twice and an X25519 key listed twice ([`Error::Malformed`]).
    pub fn new(mut entries: Vec<RosterEntry>) -> Result<Self> {
        entries.sort_by(|a, b| a.device.cmp(&b.device));
        Self::from_sorted(entries)
    }

    fn from_sorted(entries: Vec<RosterEntry>) -> Result<Self> {
        const WHAT: &str = "roster";
        if entries.is_empty() {
            return Err(Error::Malformed {
                what: WHAT,
                reason: "no devices",
            });
        }
        if entries.len() > MAX_ROSTER_DEVICES {
            return Err(Error::TooLarge {
                what: WHAT,
                len: entries.len() as u64,
                limit: MAX_ROSTER_DEVICES as u64,
            });
        }
        if entries.windows(2).any(|w| match w {
            [a, b] => a.device >= b.device,
            _ => false,
        }) {
            return Err(Error::Malformed {
                what: WHAT,
                reason: "device ids not strictly ascending (duplicate device)",
            });
        }
        let mut keys: Vec<[u8; 32]> = entries.iter().map(|e| e.exchange.to_bytes()).collect();
        keys.sort_unstable();
        if keys.windows(2).any(|w| matches!(w, [a, b] if a == b)) {
            return Err(Error::Malformed {
                what: WHAT,
                reason: "an X25519 key is listed for two devices",
            });
        }
        // One signing identity per device: a bundle's claimed sender device is then
        // bound to the key that signed it, and removing a device removes its authority.
        let mut identities: Vec<[u8; 32]> = entries.iter().map(|e| e.identity.to_bytes()).collect();
        identities.sort_unstable();
        if identities.windows(2).any(|w| matches!(w, [a, b] if a == b)) {
            return Err(Error::Malformed {
                what: WHAT,
                reason: "an identity key is listed for two devices",
            });
        }
        let count = u16::try_from(entries.len()).map_err(|_| Error::TooLarge {
            what: WHAT,
            len: entries.len() as u64,
            limit: MAX_ROSTER_DEVICES as u64,
        })?;
        let mut encoding = Vec::with_capacity(2 + entries.len() * (1 + 16 + 64));
        encoding.extend_from_slice(&count.to_be_bytes());
        for e in &entries {
            e.encode_into(&mut encoding)?;
        }
        let hash = Sha256::new()
            .chain_update(LABEL_ROSTER)
            .chain_update(&encoding)
            .finalize()
            .into();
        Ok(Self {
            entries,
            encoding,
            hash,
        })
    }

    /// Parses a canonical roster encoding with nothing after it.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, "roster");
        let roster = Self::read(&mut r)?;
        r.finish()?;
        Ok(roster)
    }

    /// Reads a roster from inside a larger structure. Entries must already be in
    /// canonical (strictly ascending) order.
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self> {
        let count = usize::from(r.u16()?);
        if count > MAX_ROSTER_DEVICES {
            return Err(Error::TooLarge {
                what: "roster",
                len: count as u64,
                limit: MAX_ROSTER_DEVICES as u64,
            });
        }
        let mut entries = Vec::with_capacity(count);
        for _ in 0..count {
            entries.push(RosterEntry::read(r)?);
        }
        Self::from_sorted(entries)
    }

    /// The entries, sorted by device id.
    pub fn entries(&self) -> &[RosterEntry] {
        &self.entries
    }

    /// Number of devices.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Always false: a roster has at least one device.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry of `device`, if it takes part.
    pub fn get(&self, device: &DeviceId) -> Option<&RosterEntry> {
        self.entries
            .binary_search_by(|e| e.device.cmp(device))
            .ok()
            .and_then(|i| self.entries.get(i))
    }

    /// Position of `device` in the sorted roster.
    pub(crate) fn position(&self, device: &DeviceId) -> Option<usize> {
        self.entries.binary_search_by(|e| e.device.cmp(device)).ok()
    }

    /// Whether `device` takes part.
    pub fn contains(&self, device: &DeviceId) -> bool {
        self.get(device).is_some()
    }

    /// Whether `device` takes part and signs with `identity`.
    pub fn is_member(&self, device: &DeviceId, identity: &IdentityPublicKey) -> bool {
        self.get(device).is_some_and(|e| e.identity == *identity)
    }

    /// The canonical encoding.
    pub fn to_bytes(&self) -> &[u8] {
        &self.encoding
    }

    /// `SHA-256("cai e2e roster v1" ‖ encoding)`.
    pub fn hash(&self) -> [u8; ROSTER_HASH_LEN] {
        self.hash
    }
}

/// Whether going from `old` to `new` needs a new epoch: true when any device joined or
/// left, or any device's X25519 or identity key changed. A departed device must not
/// read what follows and a joining one must not read what came before (unless granted
/// a [`HistoryBundle`](super::HistoryBundle)), so every change starts a new epoch.
pub fn requires_new_epoch(old: &Roster, new: &Roster) -> bool {
    old.hash != new.hash
}
