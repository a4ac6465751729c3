//! Device ids and X25519 box keys.
//!
//! Besides its MLS keys, every device has an X25519 *box key* pair, named in its
//! cross-signed credential; history grants are sealed to it with HPKE.
//! [`DeviceKeyPair::agree`] is the raw X25519 function with the check RFC 7748 §6.1
//! leaves to the caller: an all-zero shared secret (a low-order peer key) is
//! [`Error::NonContributory`].

use core::fmt;

use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::{Zeroize, Zeroizing};

use crate::secret::{SecretBytes, ct_eq_slices, fill_random, random_array};
use crate::{Error, Result};

/// Longest device id accepted, in bytes.
pub const MAX_DEVICE_ID_LEN: usize = 64;
/// Length of an X25519 public key.
pub const DEVICE_PUBLIC_KEY_LEN: usize = 32;

/// The opaque id of one device, 1 to [`MAX_DEVICE_ID_LEN`] bytes. Rosters sort by it
/// (lexicographic byte order). Not secret.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceId(Vec<u8>);

impl DeviceId {
    /// An id from its bytes; [`Error::InvalidContext`] unless 1 to
    /// [`MAX_DEVICE_ID_LEN`] bytes long.
    pub fn new(bytes: &[u8]) -> Result<Self> {
        if bytes.is_empty() || bytes.len() > MAX_DEVICE_ID_LEN {
            return Err(Error::InvalidContext {
                field: "device id",
                len: bytes.len(),
                max: MAX_DEVICE_ID_LEN,
            });
        }
        Ok(Self(bytes.to_vec()))
    }

    /// A fresh random 16-byte id.
    pub fn random() -> Result<Self> {
        Ok(Self(random_array::<16>()?.to_vec()))
    }

    /// The id's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceId(")?;
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))?;
        write!(f, ")")
    }
}

/// An X25519 public key (a Montgomery u-coordinate).
///
/// [`from_bytes`](Self::from_bytes) takes any 32 bytes, as X25519 itself does;
/// [`validate`](Self::validate) is what rosters require.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DevicePublicKey([u8; DEVICE_PUBLIC_KEY_LEN]);

impl DevicePublicKey {
    /// Wraps 32 bytes without checks.
    pub fn from_bytes(bytes: [u8; DEVICE_PUBLIC_KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// The 32 bytes.
    pub fn to_bytes(&self) -> [u8; DEVICE_PUBLIC_KEY_LEN] {
        self.0
    }

    /// Checks that the key is a canonical encoding (top bit clear, `u < 2^255 - 19`) and
    /// not of low order (a multiple of 8 times it is not the zero point); else
    /// [`Error::InvalidPublicKey`].
    pub fn validate(&self) -> Result<()> {
        if !is_canonical(&self.0) || is_low_order(&self.0) {
            return Err(Error::InvalidPublicKey);
        }
        Ok(())
    }
}

impl fmt::Debug for DevicePublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DevicePublicKey(")?;
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))?;
        write!(f, ")")
    }
}

/// Whether `u` is the canonical encoding of a field element: bit 255 clear and
/// `u < p = 2^255 - 19`.
fn is_canonical(u: &[u8; 32]) -> bool {
    let [lo, mid @ .., hi] = u;
    if *hi & 0x80 != 0 {
        return false;
    }
    // With bit 255 clear, u >= p exactly when u lies in [2^255 - 19, 2^255 - 1]:
    // top byte 0x7f, the 30 middle bytes 0xff, low byte >= 0xed.
    !(*hi == 0x7f && mid.iter().all(|b| *b == 0xff) && *lo >= 0xed)
}

/// Whether `u` lies in the small subgroup: X25519 with a clamped scalar (a multiple of
/// the cofactor 8) gives the all-zero output exactly for low-order inputs.
pub(crate) fn is_low_order(u: &[u8; 32]) -> bool {
    let out = Zeroizing::new(x25519_dalek::x25519([0x55; 32], *u));
    ct_eq_slices(out.as_slice(), &[0u8; 32])
}

/// RFC 7748 §5 clamping: clear the low three bits and bit 255, set bit 254.
fn clamp(scalar: &mut [u8; 32]) {
    let [lo, .., hi] = scalar;
    *lo &= 0xf8;
    *hi &= 0x7f;
    *hi |= 0x40;
}

/// The X25519 key pair of one device. Zeroized on drop, redacted in `Debug`.
#[derive(Clone)]
pub struct DeviceKeyPair {
    secret: StaticSecret,
    public: DevicePublicKey,
}

impl DeviceKeyPair {
    /// A fresh key pair from the operating system's random number generator.
    pub fn generate() -> Result<Self> {
        let mut bytes = [0u8; 32];
        let filled = fill_random(&mut bytes);
        let pair = Self::from_array(bytes);
        bytes.zeroize();
        filled.map(|()| pair)
    }

    /// The key pair with private key `secret`. The scalar is clamped (RFC 7748 §5) on the
    /// way in, which X25519 does anyway, so [`to_secret`](Self::to_secret) returns the
    /// clamped form.
    pub fn from_secret(secret: &SecretBytes<32>) -> Self {
        Self::from_array(*secret.expose_secret())
    }

    fn from_array(mut bytes: [u8; 32]) -> Self {
        clamp(&mut bytes);
        let secret = StaticSecret::from(bytes);
        bytes.zeroize();
        let public = DevicePublicKey(PublicKey::from(&secret).to_bytes());
        Self { secret, public }
    }

    /// The clamped private scalar. Keep it in a backup or key store only.
    pub fn to_secret(&self) -> SecretBytes<32> {
        SecretBytes::from_bytes(self.secret.to_bytes())
    }

    /// The public key.
    pub fn public(&self) -> DevicePublicKey {
        self.public
    }

    /// X25519 with `peer`. An all-zero result (the peer key has low order) is
    /// [`Error::NonContributory`]; the check runs in constant time.
    pub fn agree(&self, peer: &DevicePublicKey) -> Result<SecretBytes<32>> {
        let shared = self.secret.diffie_hellman(&PublicKey::from(peer.0));
        if ct_eq_slices(shared.as_bytes(), &[0u8; 32]) {
            return Err(Error::NonContributory);
        }
        Ok(SecretBytes::from_bytes(shared.to_bytes()))
    }

    /// The private scalar for HPKE.
    pub(crate) fn secret_bytes(&self) -> &[u8; 32] {
        self.secret.as_bytes()
    }
}

impl fmt::Debug for DeviceKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceKeyPair")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreement_is_symmetric() {
        let a = DeviceKeyPair::generate().unwrap();
        let b = DeviceKeyPair::generate().unwrap();
        assert_eq!(a.agree(&b.public()).unwrap(), b.agree(&a.public()).unwrap());
        a.public().validate().unwrap();
    }

    #[test]
    fn low_order_and_non_canonical_keys_are_invalid() {
        let a = DeviceKeyPair::generate().unwrap();
        for u in [[0u8; 32], {
            let mut one = [0u8; 32];
            one[0] = 1;
            one
        }] {
            let pk = DevicePublicKey::from_bytes(u);
            assert_eq!(a.agree(&pk), Err(Error::NonContributory));
            assert_eq!(pk.validate(), Err(Error::InvalidPublicKey));
        }
        let mut p = [0xffu8; 32];
        p[0] = 0xed;
        p[31] = 0x7f;
        assert!(!is_canonical(&p));
        p[0] = 0xec;
        assert!(is_canonical(&p));
        let mut high = a.public().to_bytes();
        high[31] |= 0x80;
        assert_eq!(
            DevicePublicKey::from_bytes(high).validate(),
            Err(Error::InvalidPublicKey)
        );
    }

    #[test]
    fn device_id_bounds() {
        assert!(DeviceId::new(b"").is_err());
        assert!(DeviceId::new(&[1; MAX_DEVICE_ID_LEN + 1]).is_err());
        assert!(DeviceId::new(&[1; MAX_DEVICE_ID_LEN]).is_ok());
    }
}
