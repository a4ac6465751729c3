//! Recovery codes (R-A4's lookup secrets): ten one-time codes handed out when a TOTP is
//! confirmed (or regenerated from an AAL2 session), each accepted once in place of a
//! TOTP code — for a lost or reset phone.
//!
//! A code is 10 characters of base32 (50 bits), shown as `xxxxx-xxxxx`. Only an
//! HMAC-SHA-256 of it under the host's pepper is stored (with the pepper's id), so the
//! database alone allows no offline guessing; input is compared without regard to
//! case, dashes and spaces.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use cai_core::id::{AccountId, TenantId};

use crate::error::{AuthError, Result};
use crate::pepper::Peppers;

/// Codes per set.
pub const RECOVERY_CODE_COUNT: usize = 10;
const CODE_CHARS: usize = 10;
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
const LABEL: &[u8] = b"cai-auth recovery code v1\0";

/// A fresh set of recovery codes, to show the user once. Zeroized on drop; `Debug`
/// is redacted.
pub struct RecoveryCodes {
    /// The codes, formatted `xxxxx-xxxxx`.
    pub codes: Vec<Zeroizing<String>>,
}

impl fmt::Debug for RecoveryCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecoveryCodes(<{} redacted>)", self.codes.len())
    }
}

/// What is stored of a set: the pepper id and one keyed hash per unused code (hex).
pub(crate) struct StoredCodes {
    pub(crate) pepper: String,
    pub(crate) hashes: Vec<String>,
}

/// The canonical form of user input: lower case, without dashes and spaces; `None` if
/// it cannot be a recovery code.
fn normalise(input: &str) -> Option<Zeroizing<String>> {
    let s: Zeroizing<String> = Zeroizing::new(
        input
            .chars()
            .filter(|c| *c != '-' && *c != ' ')
            .map(|c| c.to_ascii_lowercase())
            .collect(),
    );
    (s.len() == CODE_CHARS && s.bytes().all(|b| ALPHABET.contains(&b))).then_some(s)
}

/// HMAC-SHA-256 under the pepper `pepper_id` of `label`, the ids and `code`: what is
/// stored of a short one-time code (recovery or e-mailed).
pub(crate) fn keyed_hash(
    peppers: &Peppers,
    pepper_id: &str,
    label: &[u8],
    tenant: TenantId,
    account: AccountId,
    code: &str,
) -> Result<[u8; 32]> {
    let pepper = peppers.by_id(pepper_id).ok_or(AuthError::Corrupt {
        what: "recovery codes",
    })?;
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(pepper.secret())
        .map_err(|_| AuthError::Config("pepper"))?;
    mac.update(label);
    mac.update(tenant.as_bytes());
    mac.update(account.as_bytes());
    mac.update(code.as_bytes());
    Ok(mac.finalize().into_bytes().into())
}

/// A fresh set for `account`, and what to store of it.
pub(crate) fn generate(
    peppers: &Peppers,
    tenant: TenantId,
    account: AccountId,
) -> Result<(RecoveryCodes, StoredCodes)> {
    let pepper = peppers.current().id().to_owned();
    let mut codes = Vec::with_capacity(RECOVERY_CODE_COUNT);
    let mut hashes = Vec::with_capacity(RECOVERY_CODE_COUNT);
    for _ in 0..RECOVERY_CODE_COUNT {
        let mut random = Zeroizing::new([0u8; CODE_CHARS]);
        getrandom::fill(random.as_mut_slice()).map_err(|_| AuthError::Rng)?;
        let plain: Zeroizing<String> = Zeroizing::new(
            random
                .iter()
                .map(|b| char::from(ALPHABET.get(usize::from(b & 31)).copied().unwrap_or(b'a')))
                .collect(),
        );
        hashes.push(hex::encode(keyed_hash(
            peppers, &pepper, LABEL, tenant, account, &plain,
        )?));
        let (left, right) = plain.split_at(CODE_CHARS / 2);
        codes.push(Zeroizing::new(format!("{left}-{right}")));
    }
    Ok((RecoveryCodes { codes }, StoredCodes { pepper, hashes }))
}

/// The index of the stored hash `input` matches, comparing every one in constant
/// time; `None` for no match or input that cannot be a code.
pub(crate) fn find(
    peppers: &Peppers,
    stored: &StoredCodes,
    tenant: TenantId,
    account: AccountId,
    input: &str,
) -> Result<Option<usize>> {
    let Some(code) = normalise(input) else {
        return Ok(None);
    };
    let hash = keyed_hash(peppers, &stored.pepper, LABEL, tenant, account, &code)?;
    let mut found = None;
    for (i, h) in stored.hashes.iter().enumerate() {
        let mut candidate = [0u8; 32];
        let decoded = hex::decode_to_slice(h, &mut candidate).is_ok();
        if decoded && bool::from(candidate.ct_eq(&hash)) && found.is_none() {
            found = Some(i);
        }
    }
    Ok(found)
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
    use crate::pepper::Pepper;

    fn setup() -> (Peppers, TenantId, AccountId) {
        (
            Peppers::new(Pepper::new("r1", &[5; 32]).unwrap()),
            TenantId::random().unwrap(),
            AccountId::random().unwrap(),
        )
    }

    #[test]
    fn ten_distinct_codes_each_found_in_any_spelling() {
        let (peppers, t, a) = setup();
        let (codes, stored) = generate(&peppers, t, a).unwrap();
        assert_eq!(codes.codes.len(), RECOVERY_CODE_COUNT);
        assert_eq!(stored.hashes.len(), RECOVERY_CODE_COUNT);
        let mut seen: Vec<&str> = codes.codes.iter().map(|c| c.as_str()).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), RECOVERY_CODE_COUNT);
        for (i, c) in codes.codes.iter().enumerate() {
            assert_eq!(c.len(), 11);
            assert_eq!(&c[5..6], "-");
            assert_eq!(find(&peppers, &stored, t, a, c).unwrap(), Some(i));
            let sloppy = c.to_uppercase().replace('-', " ");
            assert_eq!(find(&peppers, &stored, t, a, &sloppy).unwrap(), Some(i));
        }
    }

    #[test]
    fn codes_are_bound_to_account_and_pepper() {
        let (peppers, t, a) = setup();
        let (codes, stored) = generate(&peppers, t, a).unwrap();
        let code = codes.codes[0].as_str();
        let other = AccountId::random().unwrap();
        assert_eq!(find(&peppers, &stored, t, other, code).unwrap(), None);
        let other_pepper = Peppers::new(Pepper::new("r1", &[6; 32]).unwrap());
        assert_eq!(find(&other_pepper, &stored, t, a, code).unwrap(), None);
        let unknown = Peppers::new(Pepper::new("r2", &[5; 32]).unwrap());
        assert!(find(&unknown, &stored, t, a, code).is_err());
    }

    #[test]
    fn junk_is_no_code_and_nothing_is_shown() {
        let (peppers, t, a) = setup();
        let (codes, stored) = generate(&peppers, t, a).unwrap();
        for junk in [
            "",
            "123456",
            "abcde-fghi",
            "abcde-fghij1",
            "abcde-fgh1j",
            "ÄBCDE-FGHIJ",
        ] {
            assert_eq!(find(&peppers, &stored, t, a, junk).unwrap(), None, "{junk}");
        }
        let shown = format!("{codes:?}");
        assert_eq!(shown, "RecoveryCodes(<10 redacted>)");
        assert!(
            stored
                .hashes
                .iter()
                .all(|h| !h.contains(&codes.codes[0].replace('-', "")))
        );
    }
}
