//! Receiving: [`FrameDecryptor`] holds the keys of all senders of a call, screens the
//! replay window per KID and decrypts in place (`docs/SFRAME.md` §6).

use core::fmt;
use std::collections::HashMap;

use sframe::crypto::DecryptionBufferView;
use sframe::frame::validation::{
    FrameValidation, ReplayAttackProtectionStore, Tolerance, UnvalidatedFrame,
};
use sframe::header::SframeHeader;
use zeroize::{Zeroize, Zeroizing};

use super::{
    AAD_SCRATCH_KEEP, DEFAULT_REPLAY_WINDOW, DecryptionKey, MediaKeyId, MediaSuite,
    SframeHeaderInfo, TAG_LEN, check_frame_len, derive_base_key, map_replay_error,
    map_sframe_error, parse_sframe_header,
};
use crate::secret::{SecretBytes, ct_eq_slices};
use crate::{Error, KeyEpoch, Result};

/// One sender's key in a [`FrameDecryptor`].
struct KeyEntry {
    suite: MediaSuite,
    key: DecryptionKey,
    /// Kept only to recognise a re-delivery of the same key; zeroized on drop.
    base_key: Zeroizing<Vec<u8>>,
}

/// Decrypts the frames of all senders of a call, each identified by its KID, with replay
/// protection per KID.
pub struct FrameDecryptor {
    keys: HashMap<u64, KeyEntry>,
    replay: ReplayAttackProtectionStore,
    replay_window: usize,
    /// Scratch for the AAD (`header ‖ metadata`, both public), reused across frames.
    aad: Vec<u8>,
}

impl fmt::Debug for FrameDecryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut kids: Vec<_> = self.keys.keys().copied().collect();
        kids.sort_unstable();
        f.debug_struct("FrameDecryptor")
            .field("kids", &kids)
            .field("replay_window", &self.replay_window)
            .finish_non_exhaustive()
    }
}

impl Default for FrameDecryptor {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameDecryptor {
    /// An empty decryptor with a replay window of [`DEFAULT_REPLAY_WINDOW`] frames.
    pub fn new() -> Self {
        Self {
            keys: HashMap::new(),
            replay: ReplayAttackProtectionStore::new(Tolerance::new(DEFAULT_REPLAY_WINDOW)),
            replay_window: DEFAULT_REPLAY_WINDOW,
            aad: Vec::new(),
        }
    }

    /// An empty decryptor accepting counters up to `frames` behind the newest one per KID
    /// (at least 1; at most 2^16, far beyond any transport's reordering).
    pub fn with_replay_window(frames: usize) -> Result<Self> {
        if !(1..=1 << 16).contains(&frames) {
            return Err(Error::Sframe {
                reason: "replay window must hold 1 to 65536 frames",
            });
        }
        let tolerance = Tolerance::try_new(frames).map_err(|e| map_sframe_error(&e, 0))?;
        Ok(Self {
            keys: HashMap::new(),
            replay: ReplayAttackProtectionStore::new(tolerance),
            replay_window: frames,
            aad: Vec::new(),
        })
    }

    /// Adds the key of sender `kid`, derived from its media secret as a
    /// [`FrameEncryptor::new`](super::FrameEncryptor::new) for the same arguments derives it.
    ///
    /// Adding the same key again changes nothing. Adding a different key under a KID
    /// already present replaces it and restarts that KID's replay window.
    pub fn add_key(
        &mut self,
        suite: MediaSuite,
        kid: MediaKeyId,
        media_secret: &SecretBytes<32>,
    ) -> Result<()> {
        let base_key = derive_base_key(suite, kid, media_secret)?;
        self.add_rfc9605_base_key(suite, kid.as_u64(), base_key.expose_secret())
    }

    /// Adds a key straight from an RFC 9605 `base_key` for any KID: for interoperability
    /// tests. Production code uses [`add_key`](Self::add_key).
    pub fn add_rfc9605_base_key(
        &mut self,
        suite: MediaSuite,
        kid: u64,
        base_key: &[u8],
    ) -> Result<()> {
        if let Some(existing) = self.keys.get(&kid)
            && existing.suite == suite
            && ct_eq_slices(&existing.base_key, base_key)
        {
            return Ok(());
        }
        let key = DecryptionKey::derive_from(suite.to_sframe(), kid, base_key)
            .map_err(|e| map_sframe_error(&e, kid))?;
        let entry = KeyEntry {
            suite,
            key,
            base_key: Zeroizing::new(base_key.to_vec()),
        };
        if self.keys.insert(kid, entry).is_some() {
            self.replay.remove(kid);
        }
        Ok(())
    }

    /// Whether a key for `kid` is held.
    pub fn has_key(&self, kid: u64) -> bool {
        self.keys.contains_key(&kid)
    }

    /// The KIDs whose keys are held, in ascending order.
    pub fn kids(&self) -> Vec<u64> {
        let mut kids: Vec<_> = self.keys.keys().copied().collect();
        kids.sort_unstable();
        kids
    }

    /// Removes the key of `kid` (and its replay window); returns whether it was held.
    pub fn remove_key(&mut self, kid: u64) -> bool {
        self.replay.remove(kid);
        self.keys.remove(&kid).is_some()
    }

    /// Removes every key of an epoch before `epoch`, and every KID outside cai's layout;
    /// returns how many keys were removed. Call it once frames of the old epochs can no
    /// longer arrive (for instance a few seconds after a participant left).
    pub fn remove_epochs_before(&mut self, epoch: KeyEpoch) -> usize {
        let keep = |kid: u64| MediaKeyId::from_u64(kid).is_ok_and(|k| k.epoch() >= epoch);
        let before = self.keys.len();
        self.keys.retain(|kid, _| keep(*kid));
        self.replay.retain(keep);
        before - self.keys.len()
    }

    /// Decrypts one SFrame ciphertext (`header ‖ encrypted frame ‖ tag`) with the key its
    /// KID names; `metadata` must be the bytes the sender authenticated.
    ///
    /// Fails with [`Error::Truncated`] for a cut header or a frame shorter than a tag,
    /// [`Error::UnknownMediaKey`] when no key for the KID is held (the error names epoch
    /// and sender, R-E4c), [`Error::Sframe`] with [`REPLAYED_FRAME`](super::REPLAYED_FRAME) or
    /// [`COUNTER_TOO_OLD`](super::COUNTER_TOO_OLD) for replays, and [`Error::AuthenticationFailed`] when the frame,
    /// header or metadata were altered or the key is wrong.
    pub fn decrypt(&mut self, frame: &[u8], metadata: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.decrypt_into(frame, metadata, &mut out)?;
        Ok(out)
    }

    /// Like [`decrypt`](Self::decrypt), writing the plaintext into `out` (cleared first) and
    /// returning the now authenticated header. On error `out` is empty.
    pub fn decrypt_into(
        &mut self,
        frame: &[u8],
        metadata: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<SframeHeaderInfo> {
        out.clear();
        let (header, info) = self.begin(frame, metadata)?;
        // One copy of the ciphertext into `out`, then decryption in place there.
        out.extend_from_slice(frame.get(info.header_len..).unwrap_or_default());
        match self.finish(&header, &info, metadata, out) {
            Ok(len) => {
                out.truncate(len);
                Ok(info)
            }
            Err(e) => {
                out.clear();
                Err(e)
            }
        }
    }

    /// Decrypts a frame in its own buffer, without copying: afterwards
    /// `frame[range]` is the plaintext (the header before it and the tag after it are
    /// left as they were). The fastest way for a receiver that owns the packet buffer.
    /// Same checks and errors as [`decrypt`](Self::decrypt); on an authentication
    /// failure the frame's payload is wiped.
    pub fn decrypt_in_place(
        &mut self,
        frame: &mut [u8],
        metadata: &[u8],
    ) -> Result<(SframeHeaderInfo, core::ops::Range<usize>)> {
        let (header, info) = self.begin(frame, metadata)?;
        let body = frame.get_mut(info.header_len..).unwrap_or_default();
        let len = self.finish(&header, &info, metadata, body)?;
        Ok((info, info.header_len..info.header_len + len))
    }

    /// Checks sizes, parses the header and leaves the associated data (encoded header ‖ metadata, RFC 9605 section 4.4.3;
    /// the crate serialises the parsed header back to exactly these bytes) in
    /// `self.aad`.
    fn begin(&mut self, frame: &[u8], metadata: &[u8]) -> Result<(SframeHeader, SframeHeaderInfo)> {
        check_frame_len("SFrame frame", frame.len())?;
        check_frame_len("SFrame metadata", metadata.len())?;
        let (header, info) = parse_sframe_header(frame)?;
        let encoded_header = frame
            .get(..info.header_len)
            .filter(|_| frame.len() >= info.header_len + TAG_LEN)
            .ok_or(Error::Truncated {
                what: "SFrame frame",
                needed: info.header_len + TAG_LEN,
                got: frame.len(),
            })?;
        self.aad.clear();
        self.aad.extend_from_slice(encoded_header);
        self.aad.extend_from_slice(metadata);
        Ok((header, info))
    }

    /// Finds the key and decrypts `body` (`ciphertext ‖ tag`) in place; returns the
    /// plaintext length. The replay window is screened before and recorded only once
    /// the frame authenticated, so a forged frame cannot burn a counter. On an
    /// authentication failure `body` is wiped.
    fn finish(
        &mut self,
        header: &SframeHeader,
        info: &SframeHeaderInfo,
        metadata: &[u8],
        body: &mut [u8],
    ) -> Result<usize> {
        let entry = self
            .keys
            .get(&info.kid)
            .ok_or(Error::UnknownMediaKey { kid: info.kid })?;
        let token = self
            .replay
            .screen(UnvalidatedFrame::new(header, metadata))
            .map_err(|e| map_replay_error(Some(&e)))?;
        let len = body.len().saturating_sub(TAG_LEN);
        let view = DecryptionBufferView {
            aad: &mut self.aad,
            data: body,
        };
        let decrypted = entry.key.decrypt(view, info.counter);
        if self.aad.capacity() > AAD_SCRATCH_KEEP {
            self.aad = Vec::new();
        }
        if let Err(e) = decrypted {
            body.zeroize();
            return Err(map_sframe_error(&e, info.kid));
        }
        self.replay.record(token);
        Ok(len)
    }
}
