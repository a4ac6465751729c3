//! Per-sender SFrame media secrets derived from a session's data key, for calls that are
//! not end-to-end encrypted (server-managed, session-key and passphrase modes).
//!
//! Every participant of such a call holds the session's 32-byte data key (DEK) of the
//! current key epoch — the key that seals items (`docs/ENVELOPE.md`). Each sender's media
//! secret is
//!
//! ```text
//! prk          = HKDF-Extract-SHA256(salt = "cai sframe session media v1", IKM = DEK)
//! media_secret = HKDF-Expand-SHA256(prk,
//!                  info = session id ‖ 0x00 ‖ epoch u32be ‖ sender_index u16be, L = 32)
//! ```
//!
//! and the sender's [`FrameEncryptor`] is `FrameEncryptor::new(suite,
//! MediaKeyId::new(epoch, sender_index), &media_secret)` (`docs/SFRAME.md` §3 and §3a).
//! Known-answer vectors: `cai-crypto/tests/vectors/cai/sframe_session_v1.json`.
//!
//! Anyone holding the DEK — which in server-managed mode includes the server — can derive
//! every sender's key: these calls keep an SFU that does not hold the DEK out, nothing
//! more.

use zeroize::Zeroize;

use super::{FrameDecryptor, FrameEncryptor, MediaKeyId, MediaSuite};
use crate::kdf::hkdf_sha256;
use crate::{DataKey, Error, KeyEpoch, MAX_ID_LEN, Result, SecretBytes};

/// HKDF-Extract salt of [`session_media_secret`].
pub const LABEL_SESSION_MEDIA: &[u8] = b"cai sframe session media v1";

/// The 32-byte media secret of sender `sender_index` in key epoch `epoch` of the session
/// `session_id` (its ASCII id, e.g. `ses_…`), derived from the session's data key `dek`.
///
/// Fails with [`Error::Malformed`] when `session_id` is empty, longer than
/// [`MAX_ID_LEN`] bytes or contains a 0x00 byte (the separator in the HKDF info).
pub fn session_media_secret(
    dek: &SecretBytes<32>,
    session_id: &[u8],
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
            &epoch.0.to_be_bytes(),
            &sender_index.to_be_bytes(),
        ],
        &mut okm,
    );
    let secret = SecretBytes::from_bytes(okm);
    okm.zeroize();
    result.map(|()| secret)
}

/// The frame encryptor of sender `sender_index` for `data_key` (its epoch is the KID's
/// epoch): [`session_media_secret`] then [`FrameEncryptor::new`].
pub fn session_frame_encryptor(
    suite: MediaSuite,
    data_key: &DataKey,
    session_id: &[u8],
    sender_index: u16,
) -> Result<FrameEncryptor> {
    let epoch = data_key.epoch();
    let secret = session_media_secret(data_key.secret(), session_id, epoch, sender_index)?;
    FrameEncryptor::new(suite, MediaKeyId::new(epoch, sender_index), &secret)
}

/// Adds the key of sender `sender_index` for `data_key` to `decryptor`; returns its KID.
pub fn add_session_sender(
    decryptor: &mut FrameDecryptor,
    suite: MediaSuite,
    data_key: &DataKey,
    session_id: &[u8],
    sender_index: u16,
) -> Result<MediaKeyId> {
    let epoch = data_key.epoch();
    let secret = session_media_secret(data_key.secret(), session_id, epoch, sender_index)?;
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

    #[test]
    fn separates_session_epoch_and_sender() {
        let dek = SecretBytes::from_bytes([7; 32]);
        let base = session_media_secret(&dek, b"ses_a", KeyEpoch(1), 1).unwrap();
        assert_ne!(
            base,
            session_media_secret(&dek, b"ses_b", KeyEpoch(1), 1).unwrap()
        );
        assert_ne!(
            base,
            session_media_secret(&dek, b"ses_a", KeyEpoch(2), 1).unwrap()
        );
        assert_ne!(
            base,
            session_media_secret(&dek, b"ses_a", KeyEpoch(1), 2).unwrap()
        );
        assert_eq!(
            base,
            session_media_secret(&dek, b"ses_a", KeyEpoch(1), 1).unwrap()
        );
    }

    #[test]
    fn rejects_bad_session_ids() {
        let dek = SecretBytes::from_bytes([7; 32]);
        for id in [&b""[..], b"ses\0x", &[b'a'; MAX_ID_LEN + 1]] {
            assert!(matches!(
                session_media_secret(&dek, id, KeyEpoch(0), 0),
                Err(Error::Malformed { .. })
            ));
        }
        assert!(session_media_secret(&dek, &[b'a'; MAX_ID_LEN], KeyEpoch(0), 0).is_ok());
    }
}
