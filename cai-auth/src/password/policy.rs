//! The tenant's password policy (R-A2), evaluated on a new password: every rule it
//! breaks comes back, not just the first, so a user fixes everything in one go.
//!
//! The rules live in `cai_core::domain::PasswordPolicy` (the tenant stores them);
//! this module enforces them, plus three rules no tenant can switch off: the password
//! is not on the shipped list of common passwords, and it contains neither the user's
//! name nor the local part of their e-mail address.
//!
//! ```
//! use cai_auth::password::{PasswordContext, PolicyViolation, evaluate_policy};
//! use cai_core::domain::PasswordPolicy;
//!
//! let policy = PasswordPolicy::default(); // 12..=256 characters, a digit, a letter
//! let who = PasswordContext { name: Some("Kim Meier"), email: Some("kim.meier@example.org") };
//! let broken = evaluate_policy(&policy, "meier", &who);
//! assert_eq!(
//!     broken,
//!     [
//!         PolicyViolation::TooShort { min: 12 },
//!         PolicyViolation::TooFewDigits { min: 1 },
//!         PolicyViolation::ContainsName,
//!         PolicyViolation::ContainsEmail,
//!     ]
//! );
//! assert!(evaluate_policy(&policy, "Fahrrad-Kette-42-Leuchtturm", &who).is_empty());
//! ```

use std::fmt;

use cai_core::domain::PasswordPolicy;

use super::common::is_common_password;
use super::hash::MAX_PASSWORD_BYTES;

/// Shortest piece of a name or e-mail local part that a password may not contain.
pub const MIN_PERSONAL_PIECE: usize = 3;

/// Who the password is for, so it can be checked against their name and address.
#[derive(Clone, Copy, Default)]
pub struct PasswordContext<'a> {
    /// The display name.
    pub name: Option<&'a str>,
    /// The e-mail address.
    pub email: Option<&'a str>,
}

impl fmt::Debug for PasswordContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Personal data: shown as present or absent only.
        f.debug_struct("PasswordContext")
            .field("name", &self.name.map(|_| "<redacted>"))
            .field("email", &self.email.map(|_| "<redacted>"))
            .finish()
    }
}

/// One broken rule. Carries the rule's limit, never the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PolicyViolation {
    /// Fewer characters than the minimum.
    TooShort {
        /// The minimum, in characters.
        min: u16,
    },
    /// More characters than the maximum (or more than [`MAX_PASSWORD_BYTES`] bytes).
    TooLong {
        /// The maximum, in characters.
        max: u16,
    },
    /// Fewer digits than required.
    TooFewDigits {
        /// Required.
        min: u16,
    },
    /// Fewer letters than required.
    TooFewLetters {
        /// Required.
        min: u16,
    },
    /// Fewer special characters than required.
    TooFewSpecial {
        /// Required.
        min: u16,
    },
    /// A character that is neither a letter, a digit, a space nor one of the allowed
    /// special characters (control characters included).
    DisallowedCharacter,
    /// On the list of common or breached passwords.
    Common,
    /// Contains a part of the user's name.
    ContainsName,
    /// Contains the local part of the user's e-mail address (or a piece of it).
    ContainsEmail,
    /// The same as the password it replaces (checked when changing, not by
    /// [`evaluate_policy`]).
    Reused,
}

impl PolicyViolation {
    /// A stable snake_case name for clients (`too_short`, `common`, …).
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooShort { .. } => "too_short",
            Self::TooLong { .. } => "too_long",
            Self::TooFewDigits { .. } => "too_few_digits",
            Self::TooFewLetters { .. } => "too_few_letters",
            Self::TooFewSpecial { .. } => "too_few_special",
            Self::DisallowedCharacter => "disallowed_character",
            Self::Common => "common",
            Self::ContainsName => "contains_name",
            Self::ContainsEmail => "contains_email",
            Self::Reused => "reused",
        }
    }
}

impl fmt::Display for PolicyViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort { min } => write!(f, "at least {min} characters"),
            Self::TooLong { max } => write!(f, "at most {max} characters"),
            Self::TooFewDigits { min } => write!(f, "at least {min} digits"),
            Self::TooFewLetters { min } => write!(f, "at least {min} letters"),
            Self::TooFewSpecial { min } => write!(f, "at least {min} special characters"),
            Self::DisallowedCharacter => f.write_str("a character that is not allowed"),
            Self::Common => f.write_str("a commonly used password"),
            Self::ContainsName => f.write_str("contains the user's name"),
            Self::ContainsEmail => f.write_str("contains the user's e-mail address"),
            Self::Reused => f.write_str("the same as the current password"),
        }
    }
}

/// Every rule of `policy` (and the built-in ones) that `password` breaks, in the order
/// of [`PolicyViolation`]'s variants; empty when it may be used.
pub fn evaluate_policy(
    policy: &PasswordPolicy,
    password: &str,
    who: &PasswordContext<'_>,
) -> Vec<PolicyViolation> {
    let mut broken = Vec::new();
    let (mut chars, mut digits, mut letters, mut special) = (0usize, 0usize, 0usize, 0usize);
    let mut disallowed = false;
    for c in password.chars() {
        chars += 1;
        if c.is_numeric() {
            digits += 1;
        } else if c.is_alphabetic() {
            letters += 1;
        } else if policy.allowed_special.contains(c) {
            special += 1;
        } else if c != ' ' {
            disallowed = true;
        }
    }
    if chars < usize::from(policy.min_len) {
        broken.push(PolicyViolation::TooShort {
            min: policy.min_len,
        });
    }
    if chars > usize::from(policy.max_len) || password.len() > MAX_PASSWORD_BYTES {
        broken.push(PolicyViolation::TooLong {
            max: policy.max_len,
        });
    }
    if digits < usize::from(policy.min_digits) {
        broken.push(PolicyViolation::TooFewDigits {
            min: policy.min_digits,
        });
    }
    if letters < usize::from(policy.min_letters) {
        broken.push(PolicyViolation::TooFewLetters {
            min: policy.min_letters,
        });
    }
    if special < usize::from(policy.min_special) {
        broken.push(PolicyViolation::TooFewSpecial {
            min: policy.min_special,
        });
    }
    if disallowed {
        broken.push(PolicyViolation::DisallowedCharacter);
    }
    if is_common_password(password) {
        broken.push(PolicyViolation::Common);
    }
    // Personal checks only on bounded input: a password over the byte limit is
    // refused above anyway.
    if password.len() <= MAX_PASSWORD_BYTES {
        let lower = password.to_lowercase();
        if who.name.is_some_and(|n| contains_piece(&lower, n)) {
            broken.push(PolicyViolation::ContainsName);
        }
        let local = who.email.map(|e| e.rsplit_once('@').map_or(e, |(l, _)| l));
        if local.is_some_and(|l| contains_piece(&lower, l)) {
            broken.push(PolicyViolation::ContainsEmail);
        }
    }
    broken
}

/// Whether `lower_password` contains `personal` as a whole or any of its pieces
/// (runs of letters: `schmidt77` gives `schmidt`) of at least [`MIN_PERSONAL_PIECE`]
/// characters, ignoring case.
fn contains_piece(lower_password: &str, personal: &str) -> bool {
    let personal = personal.to_lowercase();
    let long_enough = |s: &str| s.chars().count() >= MIN_PERSONAL_PIECE;
    (long_enough(personal.trim()) && lower_password.contains(personal.trim()))
        || personal
            .split(|c: char| !c.is_alphabetic())
            .filter(|p| long_enough(p))
            .any(|p| lower_password.contains(p))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn policy() -> PasswordPolicy {
        PasswordPolicy {
            min_len: 10,
            max_len: 20,
            min_digits: 2,
            min_letters: 3,
            min_special: 1,
            allowed_special: "!?-".to_owned(),
            ..PasswordPolicy::default()
        }
    }

    const NOBODY: PasswordContext<'static> = PasswordContext {
        name: None,
        email: None,
    };

    #[test]
    fn every_broken_rule_is_reported_at_once() {
        assert_eq!(
            evaluate_policy(&policy(), "a#", &NOBODY),
            [
                PolicyViolation::TooShort { min: 10 },
                PolicyViolation::TooFewDigits { min: 2 },
                PolicyViolation::TooFewLetters { min: 3 },
                PolicyViolation::TooFewSpecial { min: 1 },
                PolicyViolation::DisallowedCharacter,
            ]
        );
        assert!(evaluate_policy(&policy(), "abc-12 xyzq", &NOBODY).is_empty());
    }

    #[test]
    fn limits_are_inclusive() {
        let p = policy();
        // Exactly 10 and exactly 20 characters pass; 9 and 21 do not.
        assert!(evaluate_policy(&p, "abc-123456", &NOBODY).is_empty());
        assert!(evaluate_policy(&p, "abc-1234567890123456", &NOBODY).is_empty());
        assert_eq!(
            evaluate_policy(&p, "abc-12345", &NOBODY),
            [PolicyViolation::TooShort { min: 10 }]
        );
        assert_eq!(
            evaluate_policy(&p, "abc-12345678901234567", &NOBODY),
            [PolicyViolation::TooLong { max: 20 }]
        );
        // Exactly the required counts pass.
        assert!(evaluate_policy(&p, "abc!12    ", &NOBODY).is_empty());
    }

    #[test]
    fn length_counts_characters_not_bytes_and_long_passphrases_are_allowed() {
        let p = PasswordPolicy {
            min_len: 12,
            max_len: 128,
            ..PasswordPolicy::default()
        };
        // 12 characters, 24 bytes.
        assert!(evaluate_policy(&p, "äöüäöüäöüäö1", &NOBODY).is_empty());
        let long = format!("{} 7", "lange passphrase mit vielen woertern ".repeat(2));
        assert!(long.chars().count() >= 64);
        assert!(evaluate_policy(&p, &long, &NOBODY).is_empty());
    }

    #[test]
    fn over_the_byte_limit_is_too_long_whatever_the_policy() {
        let p = PasswordPolicy {
            max_len: PasswordPolicy::MAX_LEN_LIMIT,
            min_digits: 0,
            ..PasswordPolicy::default()
        };
        let huge = "€".repeat(1_400); // 1 400 characters, 4 200 bytes
        assert!(
            evaluate_policy(&p, &huge, &NOBODY).contains(&PolicyViolation::TooLong { max: 1024 })
        );
        let at_limit = "€".repeat(1_024);
        assert!(
            !evaluate_policy(&p, &at_limit, &NOBODY)
                .iter()
                .any(|v| matches!(v, PolicyViolation::TooLong { .. }))
        );
    }

    #[test]
    fn common_passwords_are_refused() {
        let p = PasswordPolicy {
            min_len: 8,
            min_digits: 0,
            ..PasswordPolicy::default()
        };
        assert_eq!(
            evaluate_policy(&p, "Password1", &NOBODY),
            [PolicyViolation::Common]
        );
        assert!(evaluate_policy(&p, "Fahrradkette", &NOBODY).is_empty());
    }

    #[test]
    fn names_and_email_local_parts_are_refused_in_any_case() {
        let p = PasswordPolicy::default();
        let who = PasswordContext {
            name: Some("Anna-Lena Schmidt"),
            email: Some("a.schmidt77@beratung.example"),
        };
        assert_eq!(
            evaluate_policy(&p, "Lighthouse-SCHMIDT-99", &who),
            [
                PolicyViolation::ContainsName,
                PolicyViolation::ContainsEmail
            ]
        );
        assert_eq!(
            evaluate_policy(&p, "lighthouse-lena-99", &who),
            [PolicyViolation::ContainsName]
        );
        assert_eq!(
            evaluate_policy(&p, "lighthouse-schmidt77-9", &who),
            [
                PolicyViolation::ContainsName,
                PolicyViolation::ContainsEmail
            ]
        );
        // The domain is not personal; pieces shorter than three characters are not
        // checked ("a").
        assert!(evaluate_policy(&p, "beratung-lighthouse-9", &who).is_empty());
        let short = PasswordContext {
            name: Some("Al"),
            email: Some("al@x.example"),
        };
        assert!(evaluate_policy(&p, "always-al-lighthouse-9", &short).is_empty());
    }

    #[test]
    fn the_byte_limit_admits_exactly_max_password_bytes() {
        let p = PasswordPolicy {
            max_len: PasswordPolicy::MAX_LEN_LIMIT,
            min_digits: 0,
            min_letters: 0,
            ..PasswordPolicy::default()
        };
        // 1 024 characters of 4 bytes: exactly the byte limit, not too long.
        let at_limit = "\u{1D11E}".repeat(1_024);
        assert_eq!(at_limit.len(), MAX_PASSWORD_BYTES);
        assert!(
            !evaluate_policy(&p, &at_limit, &NOBODY)
                .iter()
                .any(|v| matches!(v, PolicyViolation::TooLong { .. }))
        );
    }

    #[test]
    fn codes_are_stable_snake_case_names() {
        let all = [
            (PolicyViolation::TooShort { min: 1 }, "too_short"),
            (PolicyViolation::TooLong { max: 1 }, "too_long"),
            (PolicyViolation::TooFewDigits { min: 1 }, "too_few_digits"),
            (PolicyViolation::TooFewLetters { min: 1 }, "too_few_letters"),
            (PolicyViolation::TooFewSpecial { min: 1 }, "too_few_special"),
            (PolicyViolation::DisallowedCharacter, "disallowed_character"),
            (PolicyViolation::Common, "common"),
            (PolicyViolation::ContainsName, "contains_name"),
            (PolicyViolation::ContainsEmail, "contains_email"),
            (PolicyViolation::Reused, "reused"),
        ];
        for (v, code) in all {
            assert_eq!(v.code(), code);
        }
    }

    #[test]
    fn the_context_debug_hides_name_and_address() {
        let who = PasswordContext {
            name: Some("Robin Client"),
            email: Some("robin@nord.example"),
        };
        let shown = format!("{who:?}");
        assert!(shown.contains("<redacted>"));
        assert!(!shown.contains("Robin") && !shown.contains("robin@"));
        assert_eq!(
            format!("{NOBODY:?}"),
            "PasswordContext { name: None, email: None }"
        );
    }

    #[test]
    fn codes_and_messages_name_the_rule_not_the_password() {
        let v = evaluate_policy(&policy(), "Secret", &NOBODY);
        for violation in &v {
            assert!(!violation.to_string().contains("Secret"));
            assert!(!violation.code().is_empty());
        }
        assert_eq!(
            PolicyViolation::TooShort { min: 3 }.to_string(),
            "at least 3 characters"
        );
    }
}
