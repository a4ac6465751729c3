//! Per-sender SFrame media secrets derived from a session's data key, for calls that are
//! not end-to-end encrypted (server-managed, session-key and passphrase modes).
//!
//! Every participant of such a call holds a 32-byte key of the session's current key
//! epoch — below `DEK`: in session-key and passphrase sessions the data key that seals
//! items (`docs/ENVELOPE.md`), in server-managed sessions the epoch's call key
//! ([`DataKey::call_key`](crate::DataKey::call_key), `docs/KEYS.md` §7), so the data key
//! itself never leaves the server — and the id of the call instance it takes part in ([`CallId`], drawn by the signaling server when the
//! call starts). Each sender's media secret is
//!
//! ```text
//! prk          = HKDF-Extract-SHA256(salt = "cai sframe session media v2", IKM = DEK)
//! media_secret = HKDF-Expand-SHA256(prk,
//!                  info = session id ‖ 0x00 ‖ call id (16) ‖ epoch u32be ‖ sender_index u16be,
//!                  L = 32)
//! ```
//!
//! and the sender's [`FrameEncryptor`] is `FrameEncryptor::new(suite,
//! MediaKeyId::new(epoch, sender_index), &media_secret)` (`docs/SFRAME.md` §3 and §3a).
//! Known-answer vectors: `cai-crypto/tests/vectors/cai/sframe_session_v2.json`.
//!
//! The call id is what keeps two calls of one session apart: sender indices count from 0
//! again in a call that starts after the last one emptied, or after the signaling server
//! restarted, so without it a sender of a later call would get the key of a sender of an
//! earlier one — frames recorded then would replay into the later call, and two senders
//! could share a key.
//!
//! Anyone holding that key — which in server-managed mode includes the server — can
//! derive every sender's key: these calls keep an SFU that does not hold it out, nothing
//! more.

use core::fmt;
use core::str::FromStr;

use zeroize::Zeroize;

use super::{FrameDecryptor, FrameEncryptor, MediaKeyId, MediaSuite};
use crate::kdf::hkdf_sha256;
use crate::secret::random_array;
use crate::{DataKey, Error, KeyEpoch, MAX_ID_LEN, Result, SecretBytes};

/// HKDF-Extract salt of [`session_media_secret`].
pub const LABEL_SESSION_MEDIA: &[u8] = b"cai sframe session media v2";

/// Length of a [`CallId`] in bytes.
pub const CALL_ID_LEN: usize = 16;

/// The id of one call instance of a session: 16 random bytes the signaling server draws
/// when the first member is admitted, and again whenever the call starts anew after it
/// emptied. It travels as 32 lowercase hex characters (`admitted.call`,
/// `docs/SIGNALING.md` §5) and is bound into every session media secret, so keys, and
/// frames recorded under them, never carry over from one call to another.
///
/// Not a secret: `Debug` and `Display` show the hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CallId([u8; CALL_ID_LEN]);

impl CallId {
    /// A fresh id from the operating system's random number generator.
    ///
    /// Fails with [`Error::Rng`] when the generator does.
    pub fn random() -> Result<Self> {
        random_array().map(Self)
    }

    /// The id with these bytes.
    pub const fn from_bytes(bytes: [u8; CALL_ID_LEN]) -> Self {
        Self(bytes)
    }

    /// The id's bytes, as they enter the HKDF info.
    pub const fn as_bytes(&self) -> &[u8; CALL_ID_LEN] {
        &self.0
    }

    /// Reads the wire form: exactly 32 lowercase hex characters.
    ///
    /// Fails with [`Error::Malformed`] for anything else (upper case, another length,
    /// other characters).
    pub fn parse_hex(text: &str) -> Result<Self> {
        let malformed = |reason| Error::Malformed {
            what: "call id",
            reason,
        };
        let text = text.as_bytes();
        if text.len() != 2 * CALL_ID_LEN {
            return Err(malformed("not 32 hex characters"));
        }
        let mut bytes = [0u8; CALL_ID_LEN];
        for (byte, pair) in bytes.iter_mut().zip(text.chunks_exact(2)) {
            let &[hi, lo] = pair else {
                return Err(malformed("not 32 hex characters"));
            };
            let (Some(hi), Some(lo)) = (lower_hex_digit(hi), lower_hex_digit(lo)) else {
                return Err(malformed("not lowercase hex"));
            };
            *byte = hi << 4 | lo;
        }
        Ok(Self(bytes))
    }
}

fn lower_hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

impl fmt::Display for CallId {
    /// The wire form: 32 lowercase hex characters.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CallId({self})")
    }
}

impl FromStr for CallId {
    type Err = Error;

    /// [`CallId::parse_hex`].
    fn from_str(text: &str) -> Result<Self> {
        Self::parse_hex(text)
    }
}

/// The 32-byte media secret of sender `sender_index` in key epoch `epoch` of the call
/// `call_id` of the session `session_id` (its ASCII id, e.g. `ses_…`), derived from the
/// session's data key `dek`.
///
/// Fails with [`Error::Malformed`] when `session_id` is empty, longer than
/// [`MAX_ID_LEN`] bytes or contains a 0x00 byte (the separator in the HKDF info).
pub fn session_media_secret(
    dek: &SecretBytes<32>,
    session_id: &[u8],
    call_id: &CallId,
    epoch: KeyEpoch,
    sender_index: u16,
) -> Result<SecretBytes<32>> {
    check_session_id(session_id)?;
    let mut okm = [0u8; 32];
    let result = hkdf_sha256(
        dek.expose_secret(),
        LABEL_SESSION_MEDIA,
        &[
            session_id,
            &[0],
            call_id.as_bytes(),
            &epoch.0.to_be_bytes(),
            &sender_index.to_be_bytes(),
        ],
        &mut okm,
    );
    let secret = SecretBytes::from_bytes(okm);
    okm.zeroize();
    result.map(|()| secret)
}

/// The frame encryptor of sender `sender_index` in call `call_id` for `data_key` (its
/// epoch is the KID's epoch): [`session_media_secret`] then [`FrameEncryptor::new`].
pub fn session_frame_encryptor(
    suite: MediaSuite,
    data_key: &DataKey,
    session_id: &[u8],
    call_id: &CallId,
    sender_index: u16,
) -> Result<FrameEncryptor> {
    let epoch = data_key.epoch();
    let secret = session_media_secret(data_key.secret(), session_id, call_id, epoch, sender_index)?;
    FrameEncryptor::new(suite, MediaKeyId::new(epoch, sender_index), &secret)
}

/// Adds the key of sender `sender_index` in call `call_id` for `data_key` to
/// `decryptor`; returns its KID.
pub fn add_session_sender(
    decryptor: &mut FrameDecryptor,
    suite: MediaSuite,
    data_key: &DataKey,
    session_id: &[u8],
    call_id: &CallId,
    sender_index: u16,
) -> Result<MediaKeyId> {
    let epoch = data_key.epoch();
    let secret = session_media_secret(data_key.secret(), session_id, call_id, epoch, sender_index)?;
    let kid = MediaKeyId::new(epoch, sender_index);
    decryptor.add_key(suite, kid, &secret)?;
    Ok(kid)
}

fn check_session_id(session_id: &[u8]) -> Result<()> {
    let reason = if session_id.is_empty() {
        "empty"
    } else if session_id.len() > MAX_ID_LEN {
        "longer than 255 bytes"
    } else if session_id.contains(&0) {
        "contains a 0x00 byte"
    } else {
        return Ok(());
    };
    Err(Error::Malformed {
        what: "session id for media keys",
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CALL: CallId = CallId::from_bytes([3; CALL_ID_LEN]);

    #[test]
    fn separates_session_call_epoch_and_sender() {
        let dek = SecretBytes::from_bytes([7; 32]);
        let secret = |dek: &SecretBytes<32>, session: &[u8], call: &CallId, epoch, index| {
            session_media_secret(dek, session, call, KeyEpoch(epoch), index).unwrap()
        };
        let base = secret(&dek, b"ses_a", &CALL, 1, 1);
        let mut other_call = *CALL.as_bytes();
        other_call[15] ^= 1;
        for changed in [
            secret(&SecretBytes::from_bytes([8; 32]), b"ses_a", &CALL, 1, 1),
            secret(&dek, b"ses_b", &CALL, 1, 1),
            secret(&dek, b"ses_a", &CallId::from_bytes(other_call), 1, 1),
            secret(&dek, b"ses_a", &CALL, 2, 1),
            secret(&dek, b"ses_a", &CALL, 1, 2),
        ] {
            assert_ne!(base, changed);
        }
        assert_eq!(base, secret(&dek, b"ses_a", &CALL, 1, 1));
    }

    #[test]
    fn rejects_bad_session_ids() {
        let dek = SecretBytes::from_bytes([7; 32]);
        for id in [&b""[..], b"ses\0x", &[b'a'; MAX_ID_LEN + 1]] {
            assert!(matches!(
                session_media_secret(&dek, id, &CALL, KeyEpoch(0), 0),
                Err(Error::Malformed { .. })
            ));
        }
        assert!(session_media_secret(&dek, &[b'a'; MAX_ID_LEN], &CALL, KeyEpoch(0), 0).is_ok());
    }

    #[test]
    fn call_ids_read_exactly_32_lowercase_hex_characters() {
        let text = "000102030405060708090a0b0c0d0eff";
        let id = CallId::parse_hex(text).unwrap();
        assert_eq!(id.as_bytes().last(), Some(&0xff));
        assert_eq!(id.to_string(), text);
        assert_eq!(text.parse::<CallId>().unwrap(), id);
        assert_eq!(format!("{id:?}"), format!("CallId({text})"));
        for bad in [
            "",
            &text[..31],
            &format!("{text}0"),
            "000102030405060708090a0b0c0d0eFF",
            "000102030405060708090a0b0c0d0eg0",
            "000102030405060708090a0b0c0d0e f",
            "+00102030405060708090a0b0c0d0eff",
            "é000000000000000000000000000000",
        ] {
            assert!(
                matches!(CallId::parse_hex(bad), Err(Error::Malformed { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn random_call_ids_differ() {
        assert_ne!(CallId::random().unwrap(), CallId::random().unwrap());
    }
}
