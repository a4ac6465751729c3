//! HKDF-SHA256 (RFC 5869) and the labels that keep every derived key distinct.
//!
//! Every subkey in this crate is `HKDF-SHA256(ikm, salt, info)` where `info` starts with
//! one of the labels below. Distinct labels make keys for different purposes
//! independent even when they come from the same input key.

use hkdf::Hkdf;
use sha2::Sha256;

use crate::{Error, Result};

/// `info` prefix for envelope v1 subkeys and commitments.
pub const LABEL_ENVELOPE: &[u8] = b"cai envelope v1";
/// `info` prefix for streaming envelope v1 subkeys and commitments.
pub const LABEL_STREAM: &[u8] = b"cai stream v1";

/// HKDF-SHA256 extract-then-expand. `info` parts are concatenated. Fails only when more
/// than 255 × 32 bytes are requested.
pub fn hkdf_sha256(ikm: &[u8], salt: &[u8], info: &[&[u8]], okm: &mut [u8]) -> Result<()> {
    let salt = if salt.is_empty() { None } else { Some(salt) };
    Hkdf::<Sha256>::new(salt, ikm)
        .expand_multi_info(info, okm)
        .map_err(|_| Error::TooLarge {
            what: "HKDF output",
            len: okm.len() as u64,
            limit: 255 * 32,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 5869 A.1.
    #[test]
    fn rfc5869_case_1() {
        let ikm = [0x0bu8; 22];
        let salt: Vec<u8> = (0u8..=0x0c).collect();
        let info: Vec<u8> = (0xf0u8..=0xf9).collect();
        let mut okm = [0u8; 42];
        hkdf_sha256(&ikm, &salt, &[&info[..5], &info[5..]], &mut okm).unwrap();
        assert_eq!(
            okm.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
        );
    }

    #[test]
    fn too_long_output_is_an_error() {
        let mut okm = vec![0u8; 255 * 32 + 1];
        assert!(matches!(
            hkdf_sha256(b"k", b"", &[b"x"], &mut okm),
            Err(Error::TooLarge { .. })
        ));
    }
}
