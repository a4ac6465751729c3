//! Properties of policy evaluation: each counting rule is reported exactly when it is
//! broken, nothing else is reported for a clean composition, and arbitrary input never
//! panics.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use cai_auth::PolicyViolation;
use cai_auth::password::{PasswordContext, evaluate_policy};
use cai_core::domain::PasswordPolicy;
use proptest::prelude::*;

const SPECIALS: &str = "!?-_";

fn policy(min_len: u16, digits: u16, letters: u16, special: u16) -> PasswordPolicy {
    PasswordPolicy {
        min_len,
        max_len: 200,
        min_digits: digits,
        min_letters: letters,
        min_special: special,
        allowed_special: SPECIALS.to_owned(),
        ..PasswordPolicy::default()
    }
}

/// A password of exactly `d` digits, `l` letters (from a pool that spells no common
/// word) and `s` specials, shuffled by `seed`.
fn compose(d: usize, l: usize, s: usize, seed: u64) -> String {
    let mut chars: Vec<char> = Vec::new();
    chars.extend((0..d).map(|i| char::from(b'0' + (i % 10) as u8)));
    chars.extend((0..l).map(|i| ['q', 'x', 'j', 'z', 'v', 'k', 'ß', 'é'][i % 8]));
    chars.extend((0..s).map(|i| SPECIALS.chars().nth(i % 4).unwrap()));
    let mut state = seed | 1;
    for i in (1..chars.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        chars.swap(i, (state % (i as u64 + 1)) as usize);
    }
    chars.into_iter().collect()
}

proptest! {
    #[test]
    fn each_counting_rule_is_reported_exactly_when_broken(
        d in 0usize..12, l in 0usize..12, s in 0usize..12,
        min_d in 0u16..8, min_l in 0u16..8, min_s in 0u16..8, min_len in 8u16..30,
        seed in any::<u64>(),
    ) {
        let pw = compose(d, l, s, seed);
        let v = evaluate_policy(&policy(min_len, min_d, min_l, min_s), &pw, &PasswordContext::default());
        prop_assert_eq!(v.contains(&PolicyViolation::TooFewDigits { min: min_d }), d < usize::from(min_d));
        prop_assert_eq!(v.contains(&PolicyViolation::TooFewLetters { min: min_l }), l < usize::from(min_l));
        prop_assert_eq!(v.contains(&PolicyViolation::TooFewSpecial { min: min_s }), s < usize::from(min_s));
        prop_assert_eq!(v.contains(&PolicyViolation::TooShort { min: min_len }), d + l + s < usize::from(min_len));
        prop_assert!(!v.contains(&PolicyViolation::DisallowedCharacter));
        let too_long = v.iter().any(|x| matches!(x, PolicyViolation::TooLong { .. }));
        prop_assert!(!too_long);
        // Every reported rule is one of the counting rules, once each.
        let mut seen = v.clone();
        seen.dedup();
        prop_assert_eq!(seen.len(), v.len());
    }

    #[test]
    fn a_character_outside_the_allowed_set_is_always_reported(
        pw in "[a-z0-9]{4,20}", bad in prop::sample::select(vec!['#', '€', '\t', '\u{0}', '<']),
        at in 0usize..20,
    ) {
        let mut chars: Vec<char> = pw.chars().collect();
        chars.insert(at.min(chars.len()), bad);
        let pw: String = chars.into_iter().collect();
        let v = evaluate_policy(&policy(8, 0, 0, 0), &pw, &PasswordContext::default());
        prop_assert!(v.contains(&PolicyViolation::DisallowedCharacter));
    }

    #[test]
    fn arbitrary_input_never_panics_and_is_bounded(pw in ".{0,300}", name in ".{0,40}", email in ".{0,40}") {
        let who = PasswordContext { name: Some(&name), email: Some(&email) };
        let v = evaluate_policy(&PasswordPolicy::default(), &pw, &who);
        prop_assert!(v.len() <= 10);
    }

    #[test]
    fn a_password_containing_the_name_is_refused(
        name in "[a-z]{3,10}", before in "[0-9]{0,5}", after in "[0-9]{0,5}",
    ) {
        let pw = format!("{before}{}{after}", name.to_uppercase());
        let who = PasswordContext { name: Some(&name), email: None };
        prop_assert!(evaluate_policy(&PasswordPolicy::default(), &pw, &who).contains(&PolicyViolation::ContainsName));
    }
}
