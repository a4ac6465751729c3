//! Recovery keys: 256 random bits with a typo-catching display form.

use core::fmt;

use zeroize::Zeroizing;

use crate::secret::{SecretBytes, ct_eq_slices};
use crate::{Error, Result};

/// Prefix hashed with a recovery key to form its checksum.
pub const LABEL_RECOVERY_KEY_CHECKSUM: &[u8] = b"cai recovery key v1";
/// Number of characters in a recovery key's display form, without separators.
pub const RECOVERY_KEY_CHARS: usize = 56;

const RECOVERY_CHECKSUM_LEN: usize = 3;
const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A recovery key: 256 random bits the user keeps offline (printed, written down, in a
/// password manager). Zeroized on drop, redacted in `Debug`.
///
/// Its display form is the 32 key bytes followed by a 3-byte checksum
/// (`SHA-256("cai recovery key v1" ‖ key)[..3]`), in RFC 4648 base32 (`A–Z 2–7`, no
/// padding): 56 characters, shown in 14 groups of 4 separated by `-`.
/// [`parse`](Self::parse) ignores case, spaces and dashes.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryKey(SecretBytes<32>);

impl RecoveryKey {
    /// A fresh random recovery key.
    pub fn generate() -> Result<Self> {
        Ok(Self(SecretBytes::random()?))
    }

    /// A recovery key from its 32 bytes.
    pub fn from_secret(secret: SecretBytes<32>) -> Self {
        Self(secret)
    }

    /// The key bytes; keep the borrow short.
    pub fn secret(&self) -> &SecretBytes<32> {
        &self.0
    }

    /// The display form, e.g. `ABCD-EFGH-…` (14 groups of 4). **This is the secret**:
    /// show it to the user once, never log it.
    pub fn to_display_string(&self) -> Zeroizing<String> {
        let mut raw = Zeroizing::new([0u8; 32 + RECOVERY_CHECKSUM_LEN]);
        let (key, sum) = raw.split_at_mut(32);
        key.copy_from_slice(self.0.expose_secret());
        sum.copy_from_slice(&recovery_checksum(self.0.expose_secret()));
        let chars = base32_encode(&raw[..]);
        let mut out = Zeroizing::new(String::with_capacity(RECOVERY_KEY_CHARS + 13));
        for (i, c) in chars.iter().enumerate() {
            if i > 0 && i % 4 == 0 {
                out.push('-');
            }
            out.push(char::from(*c));
        }
        out
    }

    /// Parses a display form typed back by the user: case-insensitive, spaces and
    /// dashes ignored. Wrong length or character, or a checksum mismatch (a typo), are
    /// [`Error::Malformed`].
    pub fn parse(text: &str) -> Result<Self> {
        const WHAT: &str = "recovery key";
        let mut values = Zeroizing::new(Vec::with_capacity(RECOVERY_KEY_CHARS));
        for c in text.chars() {
            if c == '-' || c.is_whitespace() {
                continue;
            }
            let v = base32_value(c).ok_or(Error::Malformed {
                what: WHAT,
                reason: "invalid character (expected A-Z and 2-7)",
            })?;
            if values.len() == RECOVERY_KEY_CHARS {
                return Err(Error::Malformed {
                    what: WHAT,
                    reason: "too long (expected 56 characters)",
                });
            }
            values.push(v);
        }
        if values.len() != RECOVERY_KEY_CHARS {
            return Err(Error::Malformed {
                what: WHAT,
                reason: "too short (expected 56 characters)",
            });
        }
        let raw = base32_decode_35(&values);
        let (key, sum) = raw.split_at(32);
        let secret = SecretBytes::<32>::from_slice(key)?;
        if !ct_eq_slices(&recovery_checksum(secret.expose_secret()), sum) {
            return Err(Error::Malformed {
                what: WHAT,
                reason: "checksum mismatch (a character is mistyped)",
            });
        }
        Ok(Self(secret))
    }
}

impl fmt::Debug for RecoveryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryKey(<redacted>)")
    }
}

fn recovery_checksum(key: &[u8; 32]) -> [u8; RECOVERY_CHECKSUM_LEN] {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(LABEL_RECOVERY_KEY_CHECKSUM);
    h.update(key);
    let digest = h.finalize();
    let mut out = [0u8; RECOVERY_CHECKSUM_LEN];
    for (o, d) in out.iter_mut().zip(digest.iter()) {
        *o = *d;
    }
    out
}

/// RFC 4648 base32 without padding, for inputs whose bit length is a multiple of 5 bytes.
fn base32_encode(bytes: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(bytes.len() * 8 / 5 + 1));
    let mut acc: u64 = 0;
    let mut bits = 0u32;
    for b in bytes {
        acc = (acc << 8) | u64::from(*b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            let idx = ((acc >> bits) & 0x1f) as usize;
            out.push(BASE32_ALPHABET.get(idx).copied().unwrap_or(b'A'));
        }
        acc &= (1u64 << bits) - 1;
    }
    if bits > 0 {
        let idx = ((acc << (5 - bits)) & 0x1f) as usize;
        out.push(BASE32_ALPHABET.get(idx).copied().unwrap_or(b'A'));
    }
    zeroize::Zeroize::zeroize(&mut acc);
    out
}

/// Decodes 56 base32 values (0..32) into 35 bytes.
fn base32_decode_35(values: &[u8]) -> Zeroizing<[u8; 35]> {
    let mut out = Zeroizing::new([0u8; 35]);
    let mut acc: u64 = 0;
    let mut bits = 0u32;
    let mut pos = 0usize;
    for v in values {
        acc = (acc << 5) | u64::from(*v & 0x1f);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            if let Some(slot) = out.get_mut(pos) {
                *slot = (acc >> bits) as u8;
            }
            pos += 1;
            acc &= (1u64 << bits) - 1;
        }
    }
    zeroize::Zeroize::zeroize(&mut acc);
    out
}

fn base32_value(c: char) -> Option<u8> {
    match c.to_ascii_uppercase() {
        u @ 'A'..='Z' => Some(u as u8 - b'A'),
        d @ '2'..='7' => Some(d as u8 - b'2' + 26),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_matches_rfc4648() {
        // RFC 4648 section 10: BASE32("fooba") = "MZXW6YTB".
        assert_eq!(&base32_encode(b"fooba")[..], b"MZXW6YTB");
        let values: Vec<u8> = b"MZXW6YTB"
            .repeat(7)
            .iter()
            .map(|c| base32_value(char::from(*c)).unwrap())
            .collect();
        assert_eq!(
            &base32_decode_35(&values)[..],
            b"fooba".repeat(7).as_slice()
        );
    }
}
