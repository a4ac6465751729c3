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

/// Fills `dest` with fresh bytes for the random part of a nonce: from the Linux vDSO
/// `getrandom` where the `vdso-nonces` feature, the target and the kernel (x86_64 6.11+,
/// aarch64 6.14+) allow
/// it, else from [`fill_random`]. Both are the kernel's generator with the same fork and
/// virtual-machine-snapshot protection (the vDSO state is wiped on `fork` and reseeded
/// when a VM is restored); the vDSO skips the system call, which at 1 KiB costs more than
/// the AES-GCM itself. Keys never come from here: only nonces, whose secrecy does not
/// matter, depend on the vDSO wrapper crate.
pub(crate) fn fill_nonce_random(dest: &mut [u8]) -> Result<()> {
    #[cfg(all(
        feature = "vdso-nonces",
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    if vdso::fill(dest) {
        return Ok(());
    }
    fill_random(dest)
}

/// The vDSO generator: one process-wide pool of kernel-managed states, one state per
/// thread. Any failure (no vDSO symbol, no memory for a state, an error from the call)
/// answers `false` and the caller uses the system call instead.
#[cfg(all(
    feature = "vdso-nonces",
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod vdso {
    use std::cell::RefCell;
    use std::sync::OnceLock;

    use vdso_rng::{LocalState, Pool};

    fn pool() -> Option<&'static Pool> {
        static POOL: OnceLock<Option<Pool>> = OnceLock::new();
        POOL.get_or_init(|| Pool::new().ok()).as_ref()
    }

    thread_local! {
        static STATE: RefCell<Option<LocalState<'static>>> =
            RefCell::new(pool().and_then(|p| LocalState::new(p).ok()));
    }

    /// Fills all of `dest`, or answers `false`.
    pub(super) fn fill(dest: &mut [u8]) -> bool {
        STATE
            .try_with(|state| {
                let Ok(mut state) = state.try_borrow_mut() else {
                    return false;
                };
                state.as_mut().is_some_and(|s| s.fill(dest, 0).is_ok())
            })
            .unwrap_or(false)
    }

    /// Whether nonces come from the vDSO on this machine (for tests and benchmarks).
    pub(crate) fn available() -> bool {
        STATE
            .try_with(|state| state.try_borrow().is_ok_and(|s| s.is_some()))
            .unwrap_or(false)
    }
}

/// Whether envelope nonces draw their random part from the Linux vDSO `getrandom` in this
/// process (else from the `getrandom` system call).
#[cfg(all(
    feature = "vdso-nonces",
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
pub fn nonces_from_vdso() -> bool {
    vdso::available()
}

/// Whether envelope nonces draw their random part from the Linux vDSO `getrandom` in this
/// process (else from the `getrandom` system call).
#[cfg(not(all(
    feature = "vdso-nonces",
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
pub fn nonces_from_vdso() -> bool {
    false
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
    fn nonce_randomness_does_not_repeat() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let mut r = [0u8; 8];
            fill_nonce_random(&mut r).unwrap();
            assert!(seen.insert(r), "nonce randomness repeated");
        }
        // From another thread (its own vDSO state) too.
        let other = std::thread::spawn(|| {
            let mut r = [0u8; 8];
            fill_nonce_random(&mut r).unwrap();
            r
        })
        .join()
        .unwrap();
        assert!(seen.insert(other));
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
