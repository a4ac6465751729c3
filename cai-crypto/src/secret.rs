//! Fixed-size secret byte arrays: zeroized on drop, redacted in `Debug`, compared in
//! constant time. Every key type of this crate is built on [`SecretBytes`].

use core::fmt;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{Error, Result};

/// `N` secret bytes.
///
/// `Debug` prints only the length, equality runs in constant time, and the bytes are
/// overwritten with zeros when the value is dropped. There is deliberately no `Display`,
/// no `serde` and no `AsRef<[u8]>`: reading the bytes takes an explicit
/// [`expose_secret`](Self::expose_secret).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretBytes<const N: usize>([u8; N]);

impl<const N: usize> SecretBytes<N> {
    /// Wraps bytes the caller already holds. The caller should zeroize its own copy.
    pub fn from_bytes(bytes: [u8; N]) -> Self {
        Self(bytes)
    }

    /// Copies `N` bytes from a slice of exactly that length.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        let arr: [u8; N] = bytes.try_into().map_err(|_| Error::Malformed {
            what: "secret",
            reason: "wrong length",
        })?;
        Ok(Self(arr))
    }

    /// Fresh bytes from the operating system's random number generator.
    pub fn random() -> Result<Self> {
        let mut out = Self([0u8; N]);
        fill_random(&mut out.0)?;
        Ok(out)
    }

    /// The secret bytes. Keep the borrow short and never log it.
    pub fn expose_secret(&self) -> &[u8; N] {
        &self.0
    }
}

impl<const N: usize> fmt::Debug for SecretBytes<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes<{N}>(<redacted>)")
    }
}

impl<const N: usize> ConstantTimeEq for SecretBytes<N> {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.0.ct_eq(&other.0)
    }
}

impl<const N: usize> PartialEq for SecretBytes<N> {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl<const N: usize> Eq for SecretBytes<N> {}

/// Fills `dest` from the operating system's random number generator.
pub(crate) fn fill_random(dest: &mut [u8]) -> Result<()> {
    getrandom::fill(dest).map_err(|_| Error::Rng)
}

/// `N` random bytes (for public values such as salts, nonces and key ids).
pub(crate) fn random_array<const N: usize>() -> Result<[u8; N]> {
    let mut out = [0u8; N];
    fill_random(&mut out)?;
    Ok(out)
}

/// Constant-time equality of two byte slices (false if lengths differ).
pub(crate) fn ct_eq_slices(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = SecretBytes::<4>::from_bytes([0xde, 0xad, 0xbe, 0xef]);
        let shown = format!("{s:?}");
        assert!(!shown.contains("de") && !shown.contains("222"), "{shown}");
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn equality_compares_content() {
        let a = SecretBytes::<3>::from_bytes([1, 2, 3]);
        assert_eq!(a, SecretBytes::from_bytes([1, 2, 3]));
        assert_ne!(a, SecretBytes::from_bytes([1, 2, 4]));
    }

    #[test]
    fn random_values_differ() {
        let a = SecretBytes::<32>::random().unwrap();
        let b = SecretBytes::<32>::random().unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn from_slice_rejects_wrong_length() {
        assert!(SecretBytes::<4>::from_slice(&[1, 2, 3]).is_err());
        assert!(SecretBytes::<4>::from_slice(&[1, 2, 3, 4]).is_ok());
    }
}
