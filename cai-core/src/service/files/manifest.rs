//! The manifest the service seals for a file in server-managed sessions
//! (`docs/CORE.md`, "Files"): name, media type, size, blob and the file's own stream
//! key, in a small strict binary layout.

use cai_crypto::{DataKey, KeyEpoch, KeyId, SecretBytes};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::id::BlobId;
use crate::ports::StoreError;

/// Longest file name in a server-sealed manifest, in UTF-8 bytes.
pub const MAX_FILE_NAME_LEN: usize = 255;
/// Longest media type in a server-sealed manifest, in bytes (printable ASCII).
pub const MAX_MEDIA_TYPE_LEN: usize = 127;

/// The manifest's magic and version (inside its envelope).
const MANIFEST_MAGIC: &[u8; 4] = b"CAIF";
const MANIFEST_VERSION: u8 = 1;

/// A server-sealed manifest's public part, as a download in a server-managed session
/// returns it.
#[derive(Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// The file name given at upload.
    pub name: String,
    /// The media type given at upload.
    pub media_type: String,
    /// Plaintext bytes.
    pub size: u64,
}

impl std::fmt::Debug for FileInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileInfo")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

pub(super) fn too_large(what: &'static str, limit: u64) -> Error {
    Error::TooLarge {
        what,
        limit: usize::try_from(limit).unwrap_or(usize::MAX),
    }
}

pub(super) fn check_info(name: &str, media_type: &str) -> Result<()> {
    if name.is_empty() || name.chars().any(char::is_control) {
        return Err(Error::Invalid {
            what: "file name",
            reason: "must not be empty or hold control characters",
        });
    }
    if name.len() > MAX_FILE_NAME_LEN {
        return Err(too_large("file name", MAX_FILE_NAME_LEN as u64));
    }
    if media_type.is_empty() || !media_type.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(Error::Invalid {
            what: "media type",
            reason: "must be printable ASCII and not empty",
        });
    }
    if media_type.len() > MAX_MEDIA_TYPE_LEN {
        return Err(too_large("media type", MAX_MEDIA_TYPE_LEN as u64));
    }
    Ok(())
}

/// The manifest's bytes (docs/CORE.md, "Files"); zeroized on drop, as they hold the
/// stream key.
pub(super) fn encode_manifest(info: &FileInfo, blob: BlobId, key: &DataKey) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(
        80 + info.name.len() + info.media_type.len(),
    ));
    out.extend_from_slice(MANIFEST_MAGIC);
    out.push(MANIFEST_VERSION);
    out.extend_from_slice(blob.as_bytes());
    out.extend_from_slice(&info.size.to_be_bytes());
    out.extend_from_slice(key.id().as_bytes());
    out.extend_from_slice(&key.epoch().0.to_be_bytes());
    out.extend_from_slice(key.secret().expose_secret());
    // Both lengths are checked at upload: at most 255 and 127.
    out.push(u8::try_from(info.name.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(info.name.as_bytes());
    out.push(u8::try_from(info.media_type.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(info.media_type.as_bytes());
    out
}

/// Parses a manifest the service sealed; anything else is corruption.
pub(super) fn decode_manifest(bytes: &[u8]) -> Result<(FileInfo, BlobId, DataKey)> {
    let corrupt = || {
        Error::Store(StoreError::Corrupt {
            what: "file manifest",
        })
    };
    let mut rest = bytes;
    let mut take = |n: usize| -> Result<&[u8]> {
        let (head, tail) = rest.split_at_checked(n).ok_or_else(corrupt)?;
        rest = tail;
        Ok(head)
    };
    if take(4)? != MANIFEST_MAGIC || take(1)? != [MANIFEST_VERSION] {
        return Err(corrupt());
    }
    let array = |b: &[u8]| -> Result<[u8; 16]> { b.try_into().map_err(|_| corrupt()) };
    let blob = BlobId::from_bytes(array(take(16)?)?);
    let size = u64::from_be_bytes(take(8)?.try_into().map_err(|_| corrupt())?);
    let key_id = KeyId::from_bytes(array(take(16)?)?);
    let epoch = u32::from_be_bytes(take(4)?.try_into().map_err(|_| corrupt())?);
    let secret = SecretBytes::from_slice(take(32)?).map_err(|_| corrupt())?;
    let name_len = usize::from(*take(1)?.first().ok_or_else(corrupt)?);
    let name = String::from_utf8(take(name_len)?.to_vec()).map_err(|_| corrupt())?;
    let type_len = usize::from(*take(1)?.first().ok_or_else(corrupt)?);
    let media_type = String::from_utf8(take(type_len)?.to_vec()).map_err(|_| corrupt())?;
    if !rest.is_empty() {
        return Err(corrupt());
    }
    let key = DataKey::from_parts(key_id, KeyEpoch(epoch), secret);
    Ok((
        FileInfo {
            name,
            media_type,
            size,
        },
        blob,
        key,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_reads_back_and_rejects_any_other_length() {
        let key = DataKey::generate(KeyEpoch::INITIAL).unwrap_or_else(|_| unreachable!());
        let blob = BlobId::from_bytes([7; 16]);
        let info = FileInfo {
            name: "Bericht.pdf".into(),
            media_type: "application/pdf".into(),
            size: 12345,
        };
        let bytes = encode_manifest(&info, blob, &key);
        let (back, named, k) = decode_manifest(&bytes).unwrap_or_else(|_| unreachable!());
        assert_eq!((back, named), (info, blob));
        assert_eq!(k, key);
        for cut in 0..bytes.len() {
            assert!(decode_manifest(bytes.get(..cut).unwrap_or_default()).is_err());
        }
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert!(decode_manifest(&longer).is_err());
    }
}
