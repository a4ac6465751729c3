//! Epoch records: a signed, hash-chained statement of what each epoch was.
//!
//! Whoever moves a group into an epoch (the creator for epoch 0, then each committer)
//! signs an [`EpochRecord`] with its leaf signature key: the epoch, the digest of the
//! previous record, and commitments to the epoch authenticator, the content key and
//! the member list. Every member recomputes the record from its own group state before
//! it accepts the commit that carries it, so a record that does not describe the epoch
//! is refused together with the commit. The Delivery Service stores the chain; a
//! history grant is checked against it ([`super::history`]), so an altered or invented
//! epoch key is refused (R-E4b, R-E4c).

use core::fmt;

use sha2::{Digest, Sha256};

use super::credential::DeviceCredential;
use super::identity::{IdentityKey, IdentityPublicKey, SIGNATURE_LEN};
use super::wire::{Reader, put_preamble, put_var8, read_preamble};
use crate::{DataKey, Error, Result};

/// Kind byte of an epoch record.
pub const KIND_EPOCH_RECORD: u8 = 0x03;
/// Length of a record digest and of each commitment in it.
pub const DIGEST_LEN: usize = 32;
/// Prefix of the epoch-authenticator commitment.
pub const LABEL_AUTHENTICATOR: &[u8] = b"cai epoch authenticator v1";
/// Prefix of the content-key commitment.
pub const LABEL_KEY_COMMITMENT: &[u8] = b"cai content key commitment v1";
/// Prefix of the member-list hash.
pub const LABEL_MEMBERS: &[u8] = b"cai members v1";
/// Prefix of a record digest.
pub const LABEL_RECORD: &[u8] = b"cai epoch record v1";

/// What a record commits to, computed by a member from its own state.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct EpochFacts {
    pub(crate) authenticator: [u8; DIGEST_LEN],
    pub(crate) key: [u8; DIGEST_LEN],
    pub(crate) members: [u8; DIGEST_LEN],
}

impl EpochFacts {
    pub(crate) fn new(
        epoch_authenticator: &[u8],
        key: &DataKey,
        members: &[DeviceCredential],
    ) -> Self {
        Self {
            authenticator: Sha256::new()
                .chain_update(LABEL_AUTHENTICATOR)
                .chain_update(epoch_authenticator)
                .finalize()
                .into(),
            key: key_commitment(key),
            members: members_hash(members),
        }
    }
}

/// `SHA-256(LABEL_KEY_COMMITMENT ‖ key id ‖ epoch u32be ‖ key)`.
pub(crate) fn key_commitment(key: &DataKey) -> [u8; DIGEST_LEN] {
    Sha256::new()
        .chain_update(LABEL_KEY_COMMITMENT)
        .chain_update(key.id().as_bytes())
        .chain_update(key.epoch().0.to_be_bytes())
        .chain_update(key.secret().expose_secret())
        .finalize()
        .into()
}

/// `SHA-256(LABEL_MEMBERS ‖ count u32be ‖ (len16 credential)*)` over the credentials in
/// byte order. `members` must already be sorted and free of duplicates.
pub(crate) fn members_hash(members: &[DeviceCredential]) -> [u8; DIGEST_LEN] {
    let mut h = Sha256::new().chain_update(LABEL_MEMBERS);
    h.update((members.len() as u32).to_be_bytes());
    for m in members {
        h.update((m.as_bytes().len() as u16).to_be_bytes());
        h.update(m.as_bytes());
    }
    h.finalize().into()
}

/// A signed record of one epoch. Parsing checks the encoding only; [`verify`](Self::verify)
/// checks the signature.
#[derive(Clone, PartialEq, Eq)]
pub struct EpochRecord {
    group_id: Vec<u8>,
    epoch: u64,
    previous: [u8; DIGEST_LEN],
    facts: EpochFacts,
    signer: IdentityPublicKey,
    signed_len: usize,
    bytes: Vec<u8>,
}

impl EpochRecord {
    pub(crate) fn sign(
        key: &IdentityKey,
        group_id: &[u8],
        epoch: u64,
        previous: [u8; DIGEST_LEN],
        facts: &EpochFacts,
    ) -> Result<Self> {
        let mut out = Vec::with_capacity(256);
        put_preamble(&mut out, KIND_EPOCH_RECORD);
        put_var8(&mut out, group_id)?;
        out.extend_from_slice(&epoch.to_be_bytes());
        out.extend_from_slice(&previous);
        out.extend_from_slice(&facts.authenticator);
        out.extend_from_slice(&facts.key);
        out.extend_from_slice(&facts.members);
        out.extend_from_slice(&key.public().to_bytes());
        let sig = key.sign(&super::signature_input(&out));
        out.extend_from_slice(&sig);
        let record = Self::parse(&out)?;
        record.verify()?;
        Ok(record)
    }

    /// Parses a record.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        const WHAT: &str = "epoch record";
        let mut r = Reader::new(bytes, WHAT);
        read_preamble(&mut r, WHAT, KIND_EPOCH_RECORD)?;
        let group_id = r.var8(255, "group id length")?.to_vec();
        let epoch = r.u64()?;
        let previous = r.array()?;
        let facts = EpochFacts {
            authenticator: r.array()?,
            key: r.array()?,
            members: r.array()?,
        };
        let signer = IdentityPublicKey::from_bytes(&r.array()?)?;
        let signed_len = r.position();
        let _sig: [u8; SIGNATURE_LEN] = r.array()?;
        r.finish()?;
        Ok(Self {
            group_id,
            epoch,
            previous,
            facts,
            signer,
            signed_len,
            bytes: bytes.to_vec(),
        })
    }

    /// Checks the signature against the signer key the record names. Whether that key
    /// belongs to the epoch's committer is checked by whoever knows the group.
    pub fn verify(&self) -> Result<()> {
        let (body, sig) = self
            .bytes
            .split_at_checked(self.signed_len)
            .ok_or(Error::Malformed {
                what: "epoch record",
                reason: "signature missing",
            })?;
        super::check_signature_input(&self.signer, body, sig)
    }

    /// The group (session) it belongs to.
    pub fn group_id(&self) -> &[u8] {
        &self.group_id
    }

    /// The epoch it describes.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Digest of the previous epoch's record (zeros for epoch 0).
    pub fn previous(&self) -> &[u8; DIGEST_LEN] {
        &self.previous
    }

    /// The signature key of the member who signed it.
    pub fn signer(&self) -> &IdentityPublicKey {
        &self.signer
    }

    /// `SHA-256(LABEL_RECORD ‖ encoded record)`: what the next record chains to.
    pub fn digest(&self) -> [u8; DIGEST_LEN] {
        Sha256::new()
            .chain_update(LABEL_RECORD)
            .chain_update(&self.bytes)
            .finalize()
            .into()
    }

    /// The encoded record.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub(crate) fn facts(&self) -> &EpochFacts {
        &self.facts
    }
}

impl fmt::Debug for EpochRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EpochRecord")
            .field("epoch", &self.epoch)
            .field("signer", &self.signer)
            .finish_non_exhaustive()
    }
}
