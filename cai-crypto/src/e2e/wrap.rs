//! HPKE base mode (RFC 9180 §5.1.1) with the one suite of this module:
//! DHKEM(X25519, HKDF-SHA256) `0x0020`, HKDF-SHA256 `0x0001`, AES-256-GCM `0x0002`.
//!
//! Single-shot seal and open of a short secret to one device's box key (history grants).
//! Base mode on purpose: what a grant carries is authenticated by the signed epoch
//! records it must match, not by HPKE auth mode, which allows key-compromise
//! impersonation.

use core::convert::Infallible;

use hpke::aead::AesGcm256;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::rand_core::{TryCryptoRng, TryRng};
use hpke::{Deserializable, HpkeError, Kem, OpModeR, OpModeS, Serializable};
use zeroize::Zeroizing;

use super::device::{DeviceKeyPair, DevicePublicKey, is_low_order};
use crate::{Error, Result};

/// Length of the HPKE encapsulated key (`enc`) for X25519.
pub const ENC_LEN: usize = 32;
/// Bytes the AEAD adds to a plaintext.
pub const HPKE_TAG_LEN: usize = 16;
/// Longest `info` accepted (RFC 9180 bounds it well below 2^16; so do we).
pub const MAX_INFO_LEN: usize = 1024;

type SuiteKem = X25519HkdfSha256;

/// The operating system's RNG as the `hpke` crate wants it. `rand_core`'s infallible
/// interface cannot report a failure, so one is recorded here and turned into
/// [`Error::Rng`] before any output leaves [`seal`].
struct OsRng {
    failed: bool,
}

impl TryRng for OsRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> core::result::Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> core::result::Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> core::result::Result<(), Infallible> {
        if getrandom::fill(dst).is_err() {
            self.failed = true;
            dst.fill(0);
        }
        Ok(())
    }
}

impl TryCryptoRng for OsRng {}

fn check_info(info: &[u8]) -> Result<()> {
    if info.len() > MAX_INFO_LEN {
        return Err(Error::TooLarge {
            what: "HPKE info",
            len: info.len() as u64,
            limit: MAX_INFO_LEN as u64,
        });
    }
    Ok(())
}

/// HPKE base-mode single-shot seal of `plaintext` to `recipient`. Returns `enc` and
/// `ciphertext ‖ tag`. The recipient key must [validate](DevicePublicKey::validate).
pub fn seal(
    recipient: &DevicePublicKey,
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<([u8; ENC_LEN], Vec<u8>)> {
    check_info(info)?;
    recipient.validate()?;
    let pk = <SuiteKem as Kem>::PublicKey::from_bytes(&recipient.to_bytes())
        .map_err(|_| Error::InvalidPublicKey)?;
    let mut rng = OsRng { failed: false };
    let sealed = hpke::single_shot_seal_with_rng::<AesGcm256, HkdfSha256, SuiteKem>(
        &OpModeS::Base,
        &pk,
        info,
        plaintext,
        aad,
        &mut rng,
    );
    if rng.failed {
        return Err(Error::Rng);
    }
    let (enc, ct) = sealed.map_err(|e| match e {
        HpkeError::EncapError => Error::NonContributory,
        _ => Error::Hpke { op: "seal" },
    })?;
    let mut enc_bytes = [0u8; ENC_LEN];
    enc.write_exact(&mut enc_bytes);
    Ok((enc_bytes, ct))
}

/// HPKE base-mode single-shot open with a device's private key.
///
/// A low-order `enc` (all-zero DH output) is [`Error::NonContributory`], checked before
/// HPKE runs; any other failure is [`Error::Hpke`] with `op = "open"` (wrong key, `info`,
/// `aad` or altered ciphertext). The plaintext is zeroized on drop.
pub fn open(
    device: &DeviceKeyPair,
    enc: &[u8; ENC_LEN],
    info: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    check_info(info)?;
    if is_low_order(enc) {
        return Err(Error::NonContributory);
    }
    let sk = <SuiteKem as Kem>::PrivateKey::from_bytes(device.secret_bytes())
        .map_err(|_| Error::Hpke { op: "open" })?;
    let enc =
        <SuiteKem as Kem>::EncappedKey::from_bytes(enc).map_err(|_| Error::Hpke { op: "open" })?;
    hpke::single_shot_open::<AesGcm256, HkdfSha256, SuiteKem>(
        &OpModeR::Base,
        &sk,
        &enc,
        info,
        ciphertext,
        aad,
    )
    .map(Zeroizing::new)
    .map_err(|e| match e {
        HpkeError::DecapError => Error::NonContributory,
        _ => Error::Hpke { op: "open" },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_binding() {
        let d = DeviceKeyPair::generate().unwrap();
        let other = DeviceKeyPair::generate().unwrap();
        let (enc, ct) = seal(&d.public(), b"info", b"aad", b"secret").unwrap();
        assert_eq!(ct.len(), 6 + HPKE_TAG_LEN);
        assert_eq!(&*open(&d, &enc, b"info", b"aad", &ct).unwrap(), b"secret");
        for (dev, info, aad) in [
            (&other, &b"info"[..], &b"aad"[..]),
            (&d, b"infO", b"aad"),
            (&d, b"info", b"aaD"),
        ] {
            assert_eq!(
                open(dev, &enc, info, aad, &ct),
                Err(Error::Hpke { op: "open" })
            );
        }
        assert_eq!(
            open(&d, &[0u8; 32], b"info", b"aad", &ct),
            Err(Error::NonContributory)
        );
        assert_eq!(
            seal(&DevicePublicKey::from_bytes([0; 32]), b"", b"", b"x"),
            Err(Error::InvalidPublicKey)
        );
        assert!(matches!(
            seal(&d.public(), &[0; MAX_INFO_LEN + 1], b"", b"x"),
            Err(Error::TooLarge { .. })
        ));
    }
}
