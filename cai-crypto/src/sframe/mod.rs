//! Media frame encryption with SFrame (RFC 9605), so that a media server (SFU) relays
//! audio and video it cannot read (R-E5).
//!
//! `cai-rtc` encrypts every encoded audio/video frame with a [`FrameEncryptor`] before it
//! is packetised and decrypts received frames with a [`FrameDecryptor`] holding the keys
//! of all senders of the call. The SFrame format — headers, frame layout, counters and
//! the replay window — comes from the `sframe` crate; the AEAD is cai's backend for the
//! crate's crypto traits: RustCrypto AES-GCM whose key schedule and GHASH key are built
//! once, when a key is added, rather than for every frame. This module adds cai's key
//! ids, key derivation, replay policy and error mapping. The full description, including
//! what a browser implementation must do, is `docs/SFRAME.md`.
//!
//! * **Suites.** [`MediaSuite::Aes256GcmSha512`] (`AES_256_GCM_SHA512_128`, 0x0005, the
//!   default) and [`MediaSuite::Aes128GcmSha256`] (`AES_128_GCM_SHA256_128`, 0x0004).
//! * **Key ids.** `KID = epoch << 16 | sender_index` ([`MediaKeyId`]): the key epoch of the
//!   session (32 bits) and the sender's index in that epoch's roster (16 bits). A KID
//!   therefore always fits in 48 bits.
//! * **Base keys.** The end-to-end layer hands every sender a 32-byte media secret per
//!   epoch. The SFrame `base_key` is
//!   `HKDF-SHA256(ikm = media secret, salt = "", info = "cai sframe v1" ‖ suite u16be ‖
//!   KID u64be, L = 32)`; SFrame then derives `sframe_key`/`sframe_salt` from it as
//!   RFC 9605 section 4.4.2 prescribes. One secret thus gives independent keys per suite and
//!   per KID.
//! * **Counters.** A [`FrameEncryptor`] starts its frame counter at a random value below
//!   2^63, so two encryptors that were (wrongly) created for the same secret and KID — a
//!   reconnect within an epoch, a second track — still do not reuse AES-GCM nonces, except
//!   with negligible probability.
//! * **Replay.** A [`FrameDecryptor`] keeps a sliding window per KID and rejects repeated
//!   or too old counters ([`REPLAYED_FRAME`], [`COUNTER_TOO_OLD`]).
//!
//! ```
//! use cai_crypto::sframe::{FrameDecryptor, FrameEncryptor, MediaKeyId, MediaSuite};
//! use cai_crypto::{KeyEpoch, SecretBytes};
//!
//! // Handed out by the end-to-end layer for sender 3 in epoch 7.
//! let media_secret = SecretBytes::<32>::random()?;
//! let kid = MediaKeyId::new(KeyEpoch(7), 3);
//!
//! let mut sender = FrameEncryptor::new(MediaSuite::default(), kid, &media_secret)?;
//! let sframe = sender.encrypt(b"an encoded video frame", b"")?;
//!
//! let mut receiver = FrameDecryptor::new();
//! receiver.add_key(MediaSuite::default(), kid, &media_secret)?;
//! assert_eq!(receiver.decrypt(&sframe, b"")?, b"an encoded video frame");
//!
//! // The same frame again is a replay.
//! assert!(receiver.decrypt(&sframe, b"").is_err());
//! # Ok::<(), cai_crypto::Error>(())
//! ```

use core::fmt;

use sframe::CipherSuite;
use sframe::error::SframeError;
use sframe::frame::validation::ReplayAttackProtectionError;
use sframe::frame::{MediaFrameView, MonotonicCounter};
use sframe::header::SframeHeader;
use sframe::key::{GenericDecryptionKey, GenericEncryptionKey};
use zeroize::Zeroize;

use self::backend::{PreparedAead, PreparedKdf};

use crate::kdf::hkdf_sha256;
use crate::secret::{SecretBytes, random_array};
use crate::{Error, KeyEpoch, Result};

mod backend;
mod decryptor;
mod session;

pub use decryptor::FrameDecryptor;
pub use session::{
    CALL_ID_LEN, CallId, LABEL_SESSION_MEDIA, add_session_sender, session_frame_encryptor,
    session_media_secret,
};

/// An SFrame key of the crate's, with cai's backend: AES-GCM prepared once per key.
type EncryptionKey = GenericEncryptionKey<PreparedAead, PreparedKdf>;
/// The receiving counterpart of [`EncryptionKey`].
type DecryptionKey = GenericDecryptionKey<PreparedAead, PreparedKdf>;

/// `info` prefix of the HKDF that turns a media secret into an SFrame base key.
pub const LABEL_SFRAME: &[u8] = b"cai sframe v1";
/// Length of the SFrame base key cai derives.
pub const BASE_KEY_LEN: usize = 32;
/// Length of the AES-GCM tag of both suites.
pub const TAG_LEN: usize = 16;
/// Longest SFrame header: config byte, 8-byte KID, 8-byte counter.
pub const MAX_HEADER_LEN: usize = 17;
/// Most bytes SFrame adds to a frame (longest header plus tag).
pub const MAX_OVERHEAD: usize = MAX_HEADER_LEN + TAG_LEN;
/// Largest frame (payload or SFrame ciphertext) this module accepts: far above any encoded
/// video frame, low enough that a forged frame cannot make us allocate without bound.
pub const MAX_FRAME_LEN: usize = 16 * 1024 * 1024;
/// Counters a [`FrameDecryptor`] accepts out of order per KID unless configured otherwise.
pub const DEFAULT_REPLAY_WINDOW: usize = 128;
/// AAD scratch capacity a [`FrameDecryptor`] keeps between frames; larger metadata gets
/// a buffer of its own that is freed after the frame.
const AAD_SCRATCH_KEEP: usize = 1024;
/// Number of distinct sender indices in one epoch.
pub const MAX_SENDERS: u32 = 1 << 16;

/// [`Error::Sframe`] reason of a frame whose counter was already received for its KID.
pub const REPLAYED_FRAME: &str = "replayed frame: counter already received";
/// [`Error::Sframe`] reason of a frame whose counter fell out of the replay window.
pub const COUNTER_TOO_OLD: &str = "frame counter too old: outside the replay window";

/// The SFrame cipher suites cai uses. Both are AES-GCM with 128-bit tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MediaSuite {
    /// `AES_128_GCM_SHA256_128` (0x0004).
    Aes128GcmSha256,
    /// `AES_256_GCM_SHA512_128` (0x0005), the default.
    #[default]
    Aes256GcmSha512,
}

impl MediaSuite {
    /// The suite's identifier in the IANA "SFrame Cipher Suites" registry.
    pub const fn id(self) -> u16 {
        match self {
            MediaSuite::Aes128GcmSha256 => 0x0004,
            MediaSuite::Aes256GcmSha512 => 0x0005,
        }
    }

    /// The suite with registry identifier `id`; other suites (AES-CTR-HMAC) are refused.
    pub fn from_id(id: u16) -> Result<Self> {
        match id {
            0x0004 => Ok(MediaSuite::Aes128GcmSha256),
            0x0005 => Ok(MediaSuite::Aes256GcmSha512),
            _ => Err(Error::Sframe {
                reason: "unsupported cipher suite: cai uses 0x0004 or 0x0005",
            }),
        }
    }

    /// The registry name, e.g. `AES_256_GCM_SHA512_128`.
    pub const fn name(self) -> &'static str {
        match self {
            MediaSuite::Aes128GcmSha256 => "AES_128_GCM_SHA256_128",
            MediaSuite::Aes256GcmSha512 => "AES_256_GCM_SHA512_128",
        }
    }

    /// AES key length in bytes.
    pub const fn key_len(self) -> usize {
        match self {
            MediaSuite::Aes128GcmSha256 => 16,
            MediaSuite::Aes256GcmSha512 => 32,
        }
    }

    /// Tag length in bytes (16 for both suites).
    pub const fn tag_len(self) -> usize {
        TAG_LEN
    }

    const fn to_sframe(self) -> CipherSuite {
        match self {
            MediaSuite::Aes128GcmSha256 => CipherSuite::AesGcm128Sha256,
            MediaSuite::Aes256GcmSha512 => CipherSuite::AesGcm256Sha512,
        }
    }
}

impl fmt::Display for MediaSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An SFrame key id in cai's layout: `KID = epoch << 16 | sender_index`.
///
/// The epoch is the session's [`KeyEpoch`] (32 bits), the sender index the participant's
/// position in that epoch's roster (16 bits), so every cai KID is below 2^48 and its
/// SFrame header field takes at most 6 bytes. Not secret.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MediaKeyId(u64);

impl MediaKeyId {
    /// The KID of sender `sender_index` in `epoch`.
    pub const fn new(epoch: KeyEpoch, sender_index: u16) -> Self {
        Self(((epoch.0 as u64) << 16) | sender_index as u64)
    }

    /// Like [`new`](Self::new) for a sender index held in a wider integer; fails with
    /// [`Error::LimitExceeded`] from 2^16 on.
    pub fn try_new(epoch: KeyEpoch, sender_index: u32) -> Result<Self> {
        let index = u16::try_from(sender_index).map_err(|_| Error::LimitExceeded {
            what: "SFrame sender index (at most 2^16 senders per epoch)",
        })?;
        Ok(Self::new(epoch, index))
    }

    /// Reads a KID from a frame; fails with [`Error::Malformed`] from 2^48 on, which no cai
    /// sender produces.
    pub fn from_u64(kid: u64) -> Result<Self> {
        if kid >> 48 != 0 {
            return Err(Error::Malformed {
                what: "SFrame key id",
                reason: "not below 2^48, so not a cai media key id",
            });
        }
        Ok(Self(kid))
    }

    /// The epoch part.
    pub const fn epoch(self) -> KeyEpoch {
        KeyEpoch((self.0 >> 16) as u32)
    }

    /// The sender index part.
    pub const fn sender_index(self) -> u16 {
        (self.0 & 0xffff) as u16
    }

    /// The KID as it appears in the SFrame header.
    pub const fn as_u64(self) -> u64 {
        self.0
    }
}

impl TryFrom<u64> for MediaKeyId {
    type Error = Error;

    fn try_from(kid: u64) -> Result<Self> {
        Self::from_u64(kid)
    }
}

impl From<MediaKeyId> for u64 {
    fn from(kid: MediaKeyId) -> u64 {
        kid.0
    }
}

impl fmt::Display for MediaKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "epoch {} sender {} (kid {:#x})",
            self.epoch().0,
            self.sender_index(),
            self.0
        )
    }
}

impl fmt::Debug for MediaKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MediaKeyId({self})")
    }
}

/// The public fields of an SFrame header. Reading them touches no secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SframeHeaderInfo {
    /// The key id (KID), as sent; see [`media_key_id`](Self::media_key_id).
    pub kid: u64,
    /// The frame counter (CTR).
    pub counter: u64,
    /// Length of the encoded header in bytes (1..=17).
    pub header_len: usize,
}

impl SframeHeaderInfo {
    /// The KID in cai's layout, or `None` if it is not one (2^48 or above).
    pub fn media_key_id(&self) -> Option<MediaKeyId> {
        MediaKeyId::from_u64(self.kid).ok()
    }
}

/// Parses the SFrame header at the start of `frame`. Never panics; fails with
/// [`Error::Truncated`] when `frame` ends inside the header.
pub fn parse_header(frame: &[u8]) -> Result<SframeHeaderInfo> {
    parse_sframe_header(frame).map(|(_, info)| info)
}

/// The crate's header and its public fields, or [`Error::Truncated`].
fn parse_sframe_header(frame: &[u8]) -> Result<(SframeHeader, SframeHeaderInfo)> {
    let header = SframeHeader::deserialize(frame).map_err(|_| Error::Truncated {
        what: "SFrame header",
        needed: encoded_header_len(frame.first().copied()),
        got: frame.len(),
    })?;
    let info = SframeHeaderInfo {
        kid: header.key_id(),
        counter: header.counter(),
        header_len: header.len(),
    };
    Ok((header, info))
}

/// Header length announced by the config byte (RFC 9605 section 4.3), for error reports.
fn encoded_header_len(config: Option<u8>) -> usize {
    let Some(c) = config else { return 1 };
    let kid = if c & 0x80 != 0 {
        usize::from((c >> 4) & 0x07) + 1
    } else {
        0
    };
    let ctr = if c & 0x08 != 0 {
        usize::from(c & 0x07) + 1
    } else {
        0
    };
    1 + kid + ctr
}

/// Derives the SFrame base key of `kid` under `suite` from a sender's media secret.
fn derive_base_key(
    suite: MediaSuite,
    kid: MediaKeyId,
    media_secret: &SecretBytes<32>,
) -> Result<SecretBytes<BASE_KEY_LEN>> {
    let mut okm = [0u8; BASE_KEY_LEN];
    let result = hkdf_sha256(
        media_secret.expose_secret(),
        b"",
        &[
            LABEL_SFRAME,
            &suite.id().to_be_bytes(),
            &kid.as_u64().to_be_bytes(),
        ],
        &mut okm,
    );
    let base_key = SecretBytes::from_bytes(okm);
    okm.zeroize();
    result.map(|()| base_key)
}

/// Maps an `sframe` error to ours; the key id is the frame's (for unknown keys).
fn map_sframe_error(e: &SframeError, kid: u64) -> Error {
    match e {
        SframeError::MissingDecryptionKey { .. } => Error::UnknownMediaKey { kid },
        SframeError::DecryptionFailure => Error::AuthenticationFailed,
        SframeError::FrameValidationFailed(_) => {
            map_replay_error(e.source_as::<ReplayAttackProtectionError>())
        }
        SframeError::CounterCreationFailed(_) => Error::LimitExceeded {
            what: "SFrame frame counter",
        },
        SframeError::EncryptionFailure => Error::Sframe {
            reason: "encryption failed",
        },
        SframeError::KeyDerivationFailure => Error::Sframe {
            reason: "key derivation failed",
        },
        SframeError::UnsupportedCipherSuite => Error::Sframe {
            reason: "cipher suite not supported by the crypto backend",
        },
        SframeError::InvalidBuffer(_) => Error::Sframe {
            reason: "frame buffer too small",
        },
        _ => Error::Sframe {
            reason: "frame processing failed",
        },
    }
}

/// Maps the replay window's verdict on a frame to ours.
fn map_replay_error(e: Option<&ReplayAttackProtectionError>) -> Error {
    match e {
        Some(ReplayAttackProtectionError::CounterTooOld { .. }) => Error::Sframe {
            reason: COUNTER_TOO_OLD,
        },
        Some(ReplayAttackProtectionError::DuplicatedFrame { .. }) => Error::Sframe {
            reason: REPLAYED_FRAME,
        },
        _ => Error::Sframe {
            reason: "frame rejected by replay protection",
        },
    }
}

fn check_frame_len(what: &'static str, len: usize) -> Result<()> {
    if len > MAX_FRAME_LEN {
        return Err(Error::TooLarge {
            what,
            len: len as u64,
            limit: MAX_FRAME_LEN as u64,
        });
    }
    Ok(())
}

/// Encrypts the frames of one sender under one KID. Not `Clone`: two copies would reuse
/// frame counters, hence AES-GCM nonces.
///
/// Create exactly one encryptor per (media secret, KID) and share it between the sender's
/// tracks. The random first counter (see the [module docs](self)) is a safety net, not a
/// licence to create more.
pub struct FrameEncryptor {
    suite: MediaSuite,
    kid: u64,
    key: EncryptionKey,
    counter: MonotonicCounter,
}

impl fmt::Debug for FrameEncryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameEncryptor")
            .field("suite", &self.suite)
            .field("kid", &format_args!("{:#x}", self.kid))
            .field("next_counter", &self.counter.current())
            .finish_non_exhaustive()
    }
}

impl FrameEncryptor {
    /// An encryptor for sender `kid` whose media secret is `media_secret`, starting at a
    /// random frame counter below 2^63.
    pub fn new(suite: MediaSuite, kid: MediaKeyId, media_secret: &SecretBytes<32>) -> Result<Self> {
        let base_key = derive_base_key(suite, kid, media_secret)?;
        let first_counter = u64::from_be_bytes(random_array()?) >> 1;
        Self::from_rfc9605_base_key(suite, kid.as_u64(), base_key.expose_secret(), first_counter)
    }

    /// An encryptor straight from an RFC 9605 `base_key`, any KID and a chosen first
    /// counter: for interoperability tests against the RFC vectors or another
    /// implementation. Production code uses [`new`](Self::new).
    ///
    /// The caller must ensure no (base key, KID, counter) is ever used twice.
    pub fn from_rfc9605_base_key(
        suite: MediaSuite,
        kid: u64,
        base_key: &[u8],
        first_counter: u64,
    ) -> Result<Self> {
        let key = EncryptionKey::derive_from(suite.to_sframe(), kid, base_key)
            .map_err(|e| map_sframe_error(&e, kid))?;
        Ok(Self {
            suite,
            kid,
            key,
            counter: MonotonicCounter::with_start_value(first_counter, u64::MAX),
        })
    }

    /// The suite.
    pub fn suite(&self) -> MediaSuite {
        self.suite
    }

    /// The KID written into every header.
    pub fn kid(&self) -> u64 {
        self.kid
    }

    /// The counter the next frame gets.
    pub fn next_counter(&self) -> u64 {
        self.counter.current()
    }

    /// Encrypts one encoded frame. `metadata` (for instance a codec header that must stay
    /// readable for packetisation) is authenticated but neither encrypted nor included in
    /// the output; the receiver passes the same bytes to [`FrameDecryptor::decrypt`].
    ///
    /// Returns the SFrame ciphertext `header ‖ encrypted frame ‖ tag`.
    pub fn encrypt(&mut self, frame: &[u8], metadata: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.encrypt_into(frame, metadata, &mut out)?;
        Ok(out)
    }

    /// Like [`encrypt`](Self::encrypt), writing into `out`, which is cleared first (reuse
    /// it across frames to avoid allocations). On error `out` is empty.
    pub fn encrypt_into(&mut self, frame: &[u8], metadata: &[u8], out: &mut Vec<u8>) -> Result<()> {
        out.clear();
        check_frame_len("SFrame payload", frame.len())?;
        check_frame_len("SFrame metadata", metadata.len())?;
        let kid = self.kid;
        let media = MediaFrameView::try_with_meta_data(&mut self.counter, frame, metadata)
            .map_err(|e| map_sframe_error(&e, kid))?;
        let meta_len = match media.encrypt_into(&self.key, out) {
            Ok(view) => view.meta_data().len(),
            Err(e) => {
                out.zeroize();
                out.clear();
                return Err(map_sframe_error(&e, kid));
            }
        };
        // The buffer is `metadata ‖ header ‖ ciphertext ‖ tag`; the caller has the metadata.
        out.drain(..meta_len.min(out.len()));
        Ok(())
    }
}

/// How a call's media is protected, for the indicator every participant sees (R-E5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaProtection {
    /// Every frame is SFrame-encrypted end to end: the media server cannot read it.
    EndToEnd(MediaSuite),
    /// Only the transport (DTLS-SRTP) is encrypted: the media server can read audio and
    /// video.
    TransportOnly,
}

impl MediaProtection {
    /// The protection of a call that frame-encrypts with `suite`, or only relies on the
    /// transport when `None`.
    pub fn for_call(frame_encryption: Option<MediaSuite>) -> Self {
        frame_encryption.map_or(MediaProtection::TransportOnly, MediaProtection::EndToEnd)
    }

    /// Whether the media server is kept out.
    pub fn is_end_to_end(&self) -> bool {
        matches!(self, MediaProtection::EndToEnd(_))
    }
}

impl fmt::Display for MediaProtection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MediaProtection::EndToEnd(suite) => {
                write!(f, "end-to-end encrypted (SFrame {suite})")
            }
            MediaProtection::TransportOnly => {
                f.write_str("transport-encrypted only: the media server can access audio and video")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kid_layout() {
        let kid = MediaKeyId::new(KeyEpoch(0x0102_0304), 0x0506);
        assert_eq!(kid.as_u64(), 0x0102_0304_0506);
        assert_eq!(kid.epoch(), KeyEpoch(0x0102_0304));
        assert_eq!(kid.sender_index(), 0x0506);
        assert_eq!(MediaKeyId::from_u64(kid.as_u64()).unwrap(), kid);
        assert!(MediaKeyId::from_u64(1 << 48).is_err());
        assert!(MediaKeyId::try_new(KeyEpoch(1), 1 << 16).is_err());
        assert_eq!(
            MediaKeyId::try_new(KeyEpoch(1), 0xffff).unwrap(),
            MediaKeyId::new(KeyEpoch(1), 0xffff)
        );
    }

    #[test]
    fn config_byte_lengths() {
        assert_eq!(encoded_header_len(None), 1);
        assert_eq!(encoded_header_len(Some(0x00)), 1);
        assert_eq!(encoded_header_len(Some(0xff)), 17);
        assert_eq!(encoded_header_len(Some(0x99)), 5);
    }

    #[test]
    fn base_keys_are_bound_to_suite_and_kid() {
        let secret = SecretBytes::from_bytes([9; 32]);
        let a = MediaKeyId::new(KeyEpoch(1), 1);
        let b = MediaKeyId::new(KeyEpoch(1), 2);
        let k1 = derive_base_key(MediaSuite::Aes256GcmSha512, a, &secret).unwrap();
        let k2 = derive_base_key(MediaSuite::Aes128GcmSha256, a, &secret).unwrap();
        let k3 = derive_base_key(MediaSuite::Aes256GcmSha512, b, &secret).unwrap();
        assert_ne!(k1, k2);
        assert_ne!(k1, k3);
        assert_eq!(
            k1,
            derive_base_key(MediaSuite::Aes256GcmSha512, a, &secret).unwrap()
        );
    }

    #[test]
    fn suites_round_trip_ids() {
        for s in [MediaSuite::Aes128GcmSha256, MediaSuite::Aes256GcmSha512] {
            assert_eq!(MediaSuite::from_id(s.id()).unwrap(), s);
            assert_eq!(s.to_sframe() as u16, s.id());
        }
        assert!(MediaSuite::from_id(1).is_err());
        assert_eq!(MediaSuite::default(), MediaSuite::Aes256GcmSha512);
    }
}
