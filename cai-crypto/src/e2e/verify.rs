//! The verification code: what counsellor and client compare to know they see the
//! same group.
//!
//! It is derived from the epoch authenticator (RFC 9420 §8.7), which commits to the
//! whole group state — every member's credential and key and the history of commits.
//! Two members who were shown different commits have different codes (with probability
//! 1 − 2^-99 for the 30 digits shown). It cannot tell a device everyone was shown and
//! accepted from a welcome one: that is what the membership warnings are for. Like
//! DAVE's privacy code and Signal's safety numbers, it is shown as digits (6 groups of
//! 5) and as a QR payload one device scans from the other.

use core::fmt;

use zeroize::Zeroize;

use crate::kdf::hkdf_sha256;
use crate::secret::ct_eq_slices;
use crate::{Error, Result};

use super::wire::{Reader, put_preamble, read_preamble};

/// HKDF `info` prefix of the code material: `LABEL ‖ group id`.
pub const LABEL_VERIFICATION_CODE: &[u8] = b"cai verification code v1";
/// Kind byte of the QR payload.
pub const KIND_VERIFICATION_QR: u8 = 0x08;
/// Length of the code material.
const MATERIAL_LEN: usize = 32;

/// The verification code of one epoch of one group.
#[derive(Clone)]
pub struct VerificationCode {
    epoch: u64,
    material: [u8; MATERIAL_LEN],
}

impl VerificationCode {
    /// `HKDF-SHA256(salt = "", ikm = epoch_authenticator, info = LABEL ‖ group id, 32)`.
    pub(crate) fn derive(group_id: &[u8], epoch: u64, epoch_authenticator: &[u8]) -> Result<Self> {
        let mut material = [0u8; MATERIAL_LEN];
        hkdf_sha256(
            epoch_authenticator,
            &[],
            &[LABEL_VERIFICATION_CODE, group_id],
            &mut material,
        )?;
        Ok(Self { epoch, material })
    }

    /// The epoch it belongs to (both sides must be in the same epoch to compare).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// 30 digits in 6 groups of 5: group `i` is the big-endian value of material bytes
    /// `5i..5i+5` modulo 100000, zero-padded.
    pub fn digits(&self) -> String {
        self.material
            .chunks_exact(5)
            .take(6)
            .map(|c| {
                let v = c.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
                format!("{:05}", v % 100_000)
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The QR payload: `preamble(0x08) ‖ epoch u64be ‖ material[32]` (47 bytes).
    pub fn qr_payload(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(47);
        put_preamble(&mut out, KIND_VERIFICATION_QR);
        out.extend_from_slice(&self.epoch.to_be_bytes());
        out.extend_from_slice(&self.material);
        out
    }

    /// Compares a scanned QR payload with this code in constant time: `Ok(true)` when
    /// they match; `Ok(false)` when they differ (different group state — do not trust
    /// the session); an error when the payload is not a code or of another epoch.
    pub fn matches_qr(&self, scanned: &[u8]) -> Result<bool> {
        const WHAT: &str = "verification QR payload";
        let mut r = Reader::new(scanned, WHAT);
        read_preamble(&mut r, WHAT, KIND_VERIFICATION_QR)?;
        let epoch = r.u64()?;
        let material: [u8; MATERIAL_LEN] = r.array()?;
        r.finish()?;
        if epoch != self.epoch {
            return Err(Error::Rejected {
                what: WHAT,
                reason: "made in another epoch: compare again once both are in the same one",
            });
        }
        Ok(ct_eq_slices(&material, &self.material))
    }
}

impl PartialEq for VerificationCode {
    fn eq(&self, other: &Self) -> bool {
        self.epoch == other.epoch && ct_eq_slices(&self.material, &other.material)
    }
}

impl Eq for VerificationCode {}

impl Drop for VerificationCode {
    fn drop(&mut self) {
        self.material.zeroize();
    }
}

impl fmt::Debug for VerificationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not secret (it is shown to people), but printing it in logs would let whoever
        // reads them skip the comparison.
        f.debug_struct("VerificationCode")
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}
