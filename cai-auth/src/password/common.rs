//! The shipped list of common and breached passwords: the 10 000 most frequent
//! entries of the zxcvbn password frequency list (see `cai-auth/data/README.md` for
//! source and licence), lower case, one per line, compiled into the crate.

use std::collections::HashSet;
use std::sync::OnceLock;

const LIST: &str = include_str!("../../data/common-passwords.txt");

fn set() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| LIST.lines().filter(|l| !l.is_empty()).collect())
}

/// How many passwords the list holds.
pub fn common_password_count() -> usize {
    set().len()
}

/// Whether `password`, compared without regard to case (and to surrounding
/// whitespace), is on the list.
pub fn is_common_password(password: &str) -> bool {
    let trimmed = password.trim();
    // Nothing on the list is longer than this; longer input needs no lowercasing.
    if trimmed.len() > 64 {
        return false;
    }
    set().contains(trimmed.to_lowercase().as_str())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn the_list_holds_at_least_ten_thousand_distinct_passwords() {
        assert!(
            common_password_count() >= 10_000,
            "{}",
            common_password_count()
        );
        assert_eq!(
            common_password_count(),
            LIST.lines().filter(|l| !l.is_empty()).count(),
            "no duplicates"
        );
        assert!(LIST.lines().all(|l| l.len() <= 64));
    }

    #[test]
    fn the_classics_are_on_it_whatever_their_case() {
        for pw in [
            "123456",
            "password",
            "Password",
            "QWERTY",
            " letmein ",
            "passw0rd",
        ] {
            assert!(is_common_password(pw), "{pw}");
        }
        for pw in [
            "",
            "correct horse battery staple",
            "Kx9#vQ2!mZ",
            &"a".repeat(100),
        ] {
            assert!(!is_common_password(pw), "{pw}");
        }
    }
}
