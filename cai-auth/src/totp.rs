//! Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP): the algorithm, the
//! `otpauth://` enrolment URI and its QR code, as standard authenticator apps expect
//! them (HMAC-SHA-1, 6 digits, 30-second steps).
//!
//! Verification accepts the current step and one step either side (clock drift), and
//! only steps later than the last one accepted, so a code is good once.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use zeroize::Zeroizing;

use crate::error::{AuthError, Result};

/// Length of a TOTP secret: 160 bits, RFC 4226's recommendation and what every
/// authenticator app handles.
pub const SECRET_LEN: usize = 20;
/// Digits of a code.
pub const DIGITS: u32 = 6;
/// Seconds per step.
pub const STEP_SECS: u64 = 30;

/// The HMAC of an HOTP computation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HotpHash {
    /// HMAC-SHA-1: what authenticator apps use.
    Sha1,
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-512.
    Sha512,
}

fn mac<M: Mac + KeyInit>(key: &[u8], counter: u64) -> Result<Vec<u8>> {
    let mut m = <M as KeyInit>::new_from_slice(key).map_err(|_| AuthError::Config("HMAC key"))?;
    m.update(&counter.to_be_bytes());
    Ok(m.finalize().into_bytes().to_vec())
}

/// HOTP (RFC 4226 §5.3): the `digits`-digit code of `counter` under `key`.
pub fn hotp(key: &[u8], counter: u64, digits: u32, hash: HotpHash) -> Result<String> {
    if !(6..=9).contains(&digits) {
        return Err(AuthError::Config("HOTP codes have 6 to 9 digits"));
    }
    let digest = Zeroizing::new(match hash {
        HotpHash::Sha1 => mac::<Hmac<sha1::Sha1>>(key, counter)?,
        HotpHash::Sha256 => mac::<Hmac<sha2::Sha256>>(key, counter)?,
        HotpHash::Sha512 => mac::<Hmac<sha2::Sha512>>(key, counter)?,
    });
    let offset = usize::from(digest.last().copied().unwrap_or(0) & 0x0f);
    let mut four = [0u8; 4];
    four.copy_from_slice(
        digest
            .get(offset..offset + 4)
            .ok_or(AuthError::Config("HMAC output too short"))?,
    );
    let word = u32::from_be_bytes(four) & 0x7fff_ffff;
    let code = word % 10u32.pow(digits);
    Ok(format!("{code:0width$}", width = digits as usize))
}

/// The TOTP step of `unix_secs` (RFC 6238 §4, T0 = 0).
pub fn step_at(unix_secs: u64, step_secs: u64) -> u64 {
    unix_secs / step_secs.max(1)
}

/// A TOTP secret. Zeroized on drop; `Debug` is redacted.
#[derive(Clone)]
pub struct TotpSecret(Zeroizing<[u8; SECRET_LEN]>);

impl TotpSecret {
    /// A fresh secret from the OS random generator.
    pub fn random() -> Result<Self> {
        let mut bytes = Zeroizing::new([0u8; SECRET_LEN]);
        getrandom::fill(bytes.as_mut_slice()).map_err(|_| AuthError::Rng)?;
        Ok(Self(bytes))
    }

    /// A secret with these bytes.
    pub fn from_bytes(bytes: [u8; SECRET_LEN]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    #[cfg(test)]
    fn bytes(&self) -> &[u8; SECRET_LEN] {
        &self.0
    }

    /// The code of `step`.
    pub fn code_at_step(&self, step: u64) -> Result<String> {
        hotp(self.0.as_slice(), step, DIGITS, HotpHash::Sha1)
    }

    /// The step `code` belongs to, if it is the code of a step within one of
    /// `unix_secs`'s and later than `after` (the last step accepted). Every candidate
    /// is computed and compared in constant time.
    pub fn matching_step(
        &self,
        code: &str,
        unix_secs: u64,
        after: Option<u64>,
    ) -> Result<Option<u64>> {
        use subtle::ConstantTimeEq;
        if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(None);
        }
        let now = step_at(unix_secs, STEP_SECS);
        let mut found = None;
        for step in [now.saturating_sub(1), now, now.saturating_add(1)] {
            let expected = Zeroizing::new(self.code_at_step(step)?);
            let fresh = after.is_none_or(|last| step > last);
            if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) && fresh && found.is_none() {
                found = Some(step);
            }
        }
        Ok(found)
    }

    /// The secret from its base32 text (RFC 4648, upper or lower case, no padding), as
    /// [`to_base32`](Self::to_base32) writes it: for tests and migrations.
    pub fn from_base32(text: &str) -> Result<Self> {
        let invalid = || AuthError::Config("not a base32 TOTP secret");
        let mut out = Zeroizing::new([0u8; SECRET_LEN]);
        let (mut buffer, mut bits, mut n) = (0u32, 0u32, 0usize);
        for c in text.bytes() {
            let v = BASE32
                .iter()
                .position(|b| *b == c.to_ascii_uppercase())
                .ok_or_else(invalid)?;
            buffer = (buffer << 5) | v as u32;
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                *out.get_mut(n).ok_or_else(invalid)? = (buffer >> bits) as u8;
                n += 1;
                buffer &= (1 << bits) - 1;
            }
        }
        if n != SECRET_LEN {
            return Err(invalid());
        }
        Ok(Self(out))
    }

    /// The secret in base32 (RFC 4648, no padding), as authenticator apps take it.
    pub fn to_base32(&self) -> Zeroizing<String> {
        Zeroizing::new(base32(self.0.as_slice()))
    }

    /// The `otpauth://totp/` URI of Google's Key Uri Format, which authenticator apps
    /// read from a QR code: `issuer` (the platform's name) and `account` (the e-mail
    /// address) label the entry.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
            percent(issuer),
            percent(account),
            self.to_base32().as_str(),
            percent(issuer),
        ))
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

/// An SVG image of a QR code of `text` (the `otpauth://` URI), at least 200 px wide.
pub fn qr_svg(text: &str) -> Result<Zeroizing<String>> {
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M)
        .map_err(|_| AuthError::Config("text too long for a QR code"))?;
    Ok(Zeroizing::new(
        code.render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .build(),
    ))
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(symbol(buffer >> bits));
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(symbol(buffer << (5 - bits)));
    }
    out
}

/// The base32 symbol of the low five bits of `v`.
fn symbol(v: u32) -> char {
    char::from(BASE32.get((v & 31) as usize).copied().unwrap_or(b'A'))
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::*;

    #[test]
    fn base32_follows_rfc_4648() {
        // RFC 4648 §10 test vectors, without padding.
        for (plain, encoded) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn base32_round_trips_and_rejects_junk() {
        let s = TotpSecret::random().unwrap();
        let back = TotpSecret::from_base32(&s.to_base32()).unwrap();
        assert_eq!(back.bytes(), s.bytes());
        let lower = s.to_base32().to_lowercase();
        assert_eq!(TotpSecret::from_base32(&lower).unwrap().bytes(), s.bytes());
        for bad in ["", "MZXW6", "1!", &"A".repeat(40)] {
            assert!(TotpSecret::from_base32(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_uri_is_the_key_uri_format_with_encoded_labels() {
        let s = TotpSecret::from_bytes(*b"12345678901234567890");
        let uri = s.otpauth_uri("Beratung Nord", "kim@nord.example");
        assert_eq!(
            uri.as_str(),
            "otpauth://totp/Beratung%20Nord:kim%40nord.example?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Beratung%20Nord&algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn a_code_is_accepted_one_step_either_side_and_only_after_the_last_one() {
        let s = TotpSecret::from_bytes(*b"12345678901234567890");
        let t = 1_111_111_111u64; // step 37037037
        let now = step_at(t, STEP_SECS);
        for step in [now - 1, now, now + 1] {
            let code = s.code_at_step(step).unwrap();
            assert_eq!(s.matching_step(&code, t, None).unwrap(), Some(step));
            assert_eq!(
                s.matching_step(&code, t, Some(step)).unwrap(),
                None,
                "replay"
            );
            assert_eq!(
                s.matching_step(&code, t, Some(step - 1)).unwrap(),
                Some(step)
            );
        }
        for step in [now - 2, now + 2] {
            let code = s.code_at_step(step).unwrap();
            assert_eq!(s.matching_step(&code, t, None).unwrap(), None, "{step}");
        }
        for bad in ["", "12345", "1234567", "12345a", "１２３４５６"] {
            assert_eq!(s.matching_step(bad, t, None).unwrap(), None);
        }
    }

    #[test]
    fn the_qr_code_is_an_svg() {
        let svg = qr_svg("otpauth://totp/x:y?secret=ABC").unwrap();
        assert!(
            svg.starts_with("<?xml") && svg.contains("<svg"),
            "{}",
            &svg[..60]
        );
        assert!(qr_svg(&"x".repeat(5000)).is_err());
    }

    #[test]
    fn debug_is_redacted() {
        let s = TotpSecret::from_bytes(*b"12345678901234567890");
        assert_eq!(format!("{s:?}"), "TotpSecret(<redacted>)");
    }
}
