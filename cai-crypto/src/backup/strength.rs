//! The strength check a new encryption password must pass before it may protect a key
//! backup (see [`PasswordPolicy`]).

use zeroize::Zeroizing;

use crate::passphrase::{MAX_PASSPHRASE_LEN, check_passphrase};
use crate::{Error, Result};

/// Fewest characters (Unicode scalar values) a new encryption password may have.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Lowest estimated strength, in bits, a new encryption password may have.
pub const MIN_PASSWORD_BITS: u32 = 60;

// Costs in tenths of a bit, so that the estimate is exact integer arithmetic.
const FRESH_DIGIT: u32 = 33; // log2(10)
const FRESH_LETTER: u32 = 47; // log2(26)
const LETTER_IN_RUN: u32 = 20; // third and later letter of a run of letters
const FRESH_SYMBOL: u32 = 50; // log2(33), and any other character
const SEPARATOR: u32 = 20; // space - _ .
const CAPITAL: u32 = 10; // an upper-case letter after a character that is not one
const REPEAT_PREVIOUS: u32 = 10;
const SEQUENCE: u32 = 10;
const KEYBOARD: u32 = 20;
const YEAR: u32 = 70; // 1900..=2099
const COMMON_WORD: u32 = 80;
const LOOK_ALIKE: u32 = 10;
const USER_INPUT: u32 = 80;
const EARLIER_REPEAT: u32 = 40;
/// Shortest piece of the account name or of the password itself counted as a repeat.
const MIN_MATCH: usize = 3;
/// Longest user input compared, in characters.
const MAX_INPUT_CHARS: usize = 1024;

/// Base words of the most common passwords (lower case, at least four letters), in
/// English and German, plus words of this application. Not a dictionary: it only makes
/// sure that the classic passwords cost what they are worth.
const COMMON_WORDS: &[&str] = &[
    "password",
    "passwort",
    "passw",
    "pass",
    "qwerty",
    "qwertz",
    "azerty",
    "letmein",
    "welcome",
    "willkommen",
    "iloveyou",
    "ichliebedich",
    "love",
    "liebe",
    "admin",
    "login",
    "user",
    "guest",
    "test",
    "secret",
    "geheim",
    "hello",
    "hallo",
    "monkey",
    "dragon",
    "master",
    "shadow",
    "sunshine",
    "princess",
    "football",
    "fussball",
    "baseball",
    "soccer",
    "hockey",
    "superman",
    "batman",
    "trustno",
    "starwars",
    "whatever",
    "freedom",
    "charlie",
    "michael",
    "jordan",
    "jennifer",
    "hunter",
    "ashley",
    "killer",
    "cheese",
    "computer",
    "internet",
    "summer",
    "sommer",
    "winter",
    "spring",
    "autumn",
    "herbst",
    "changeme",
    "default",
    "schatz",
    "angel",
    "flower",
    "cookie",
    "pokemon",
    "google",
    "apple",
    "samsung",
    "counsel",
    "counselling",
    "beratung",
    "backup",
    "recovery",
    "encryption",
    "verschluesselung",
];

/// Rows of common keyboard layouts (QWERTY, QWERTZ, AZERTY), lower case.
const KEYBOARD_ROWS: &[&str] = &[
    "1234567890-=",
    "qwertyuiop[]",
    "asdfghjkl;'",
    "zxcvbnm,./",
    "qwertzuiopü",
    "asdfghjklöä",
    "yxcvbnm,.-",
    "azertyuiop",
    "qsdfghjklm",
    "wxcvbn,;:!",
];

/// A strength policy for new encryption passwords: a password slot can be guessed
/// offline by whoever holds the backup (the server), so only passwords that resist that
/// are accepted. The default is [`MIN_PASSWORD_CHARS`] characters and
/// [`MIN_PASSWORD_BITS`] bits; an application may demand more, never less.
///
/// The check is conservative and self-contained (no dictionary data, no copies of the
/// password outside zeroized buffers). It is specified in `docs/KEYS.md` (section 4.4);
/// in short:
///
/// 1. the password is 1 to 1024 bytes of UTF-8 text with at least
///    [`MIN_PASSWORD_CHARS`] characters;
/// 2. its estimated strength is at least [`MIN_PASSWORD_BITS`] bits. The estimate is the
///    cheapest way to spell the password out of pieces an attacker tries first, each with
///    a cost in bits: a repeated or sequential character or a keyboard neighbour costs 1
///    or 2 bits, a year 7, a common password word or a piece of the account name 8 (+1
///    with capitals, +1 with look-alike digits such as `p4ssw0rd`), a repeat of an earlier
///    piece 4; anything else costs what a random character of its class would (digit 3.3,
///    symbol 5, letter 4.7 — but only 2 from the third letter of a run on, since runs of
///    letters are usually words; a capital after a non-capital +1).
///
/// It is not a dictionary meter: long phrases of ordinary words pass (four words do,
/// three usually do not), and random lower-case strings are undervalued. Applications
/// may run a dictionary-based meter in their user interface in addition; the recovery
/// key remains the strong default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PasswordPolicy {
    min_chars: usize,
    min_bits: u32,
}

impl PasswordPolicy {
    /// [`MIN_PASSWORD_CHARS`] characters, [`MIN_PASSWORD_BITS`] bits.
    pub const DEFAULT: Self = Self {
        min_chars: MIN_PASSWORD_CHARS,
        min_bits: MIN_PASSWORD_BITS,
    };

    /// A stricter policy. [`Error::Rejected`] if it is weaker than the default in either
    /// respect, or asks for more characters than the longest password accepted (1024
    /// bytes) can hold.
    pub fn new(min_chars: usize, min_bits: u32) -> Result<Self> {
        const WHAT: &str = "password policy";
        if min_chars < MIN_PASSWORD_CHARS {
            return Err(Error::Rejected {
                what: WHAT,
                reason: "minimum length below the default",
            });
        }
        if min_chars > MAX_PASSPHRASE_LEN {
            return Err(Error::Rejected {
                what: WHAT,
                reason: "minimum length above the longest password accepted",
            });
        }
        if min_bits < MIN_PASSWORD_BITS {
            return Err(Error::Rejected {
                what: WHAT,
                reason: "minimum strength below the default",
            });
        }
        Ok(Self {
            min_chars,
            min_bits,
        })
    }

    /// Fewest characters accepted.
    pub fn min_chars(&self) -> usize {
        self.min_chars
    }

    /// Lowest estimated strength accepted, in bits.
    pub fn min_bits(&self) -> u32 {
        self.min_bits
    }

    /// Checks a new encryption password. `user_inputs` are strings an attacker knows
    /// about the user (the account name is always added by [`KeyBackup`]; applications
    /// may add the login name, e-mail address, display name); pieces of them in the
    /// password count for little.
    ///
    /// Errors, none of which repeats the password: [`Error::Malformed`] (empty, or not
    /// UTF-8), [`Error::TooLarge`] (over 1024 bytes), [`Error::PasswordTooShort`],
    /// [`Error::PasswordTooPredictable`].
    ///
    /// [`KeyBackup`]: super::KeyBackup
    pub fn check(&self, password: &[u8], user_inputs: &[&[u8]]) -> Result<()> {
        let chars = decode(password)?;
        if chars.len() < self.min_chars {
            return Err(Error::PasswordTooShort {
                min_chars: self.min_chars,
            });
        }
        if estimate_tenths(&chars, user_inputs) < self.min_bits.saturating_mul(10) {
            return Err(Error::PasswordTooPredictable {
                min_bits: self.min_bits,
            });
        }
        Ok(())
    }

    /// The estimated strength of a password in whole bits (rounded down), as
    /// [`check`](Self::check) computes it — for a strength meter. Errors as `check`'s
    /// first two.
    pub fn estimate_bits(password: &[u8], user_inputs: &[&[u8]]) -> Result<u32> {
        let chars = decode(password)?;
        Ok(estimate_tenths(&chars, user_inputs) / 10)
    }
}

impl Default for PasswordPolicy {
    /// [`PasswordPolicy::DEFAULT`].
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The password's characters in a zeroized buffer allocated once (no reallocation
/// leaves copies behind).
fn decode(password: &[u8]) -> Result<Zeroizing<Vec<char>>> {
    check_passphrase(password, "encryption password")?;
    let text = core::str::from_utf8(password).map_err(|_| Error::Malformed {
        what: "encryption password",
        reason: "not UTF-8 text",
    })?;
    let mut chars = Zeroizing::new(Vec::with_capacity(password.len()));
    chars.extend(text.chars());
    Ok(chars)
}

fn fold(c: char) -> char {
    if c.is_uppercase() {
        c.to_lowercase().next().unwrap_or(c)
    } else {
        c
    }
}

/// Whether `p` in a password stands for the letter `w` of a word: the same letter in
/// either case, or a look-alike (`4` or `@` for `a`, `0` for `o`, …).
fn stands_for(p: char, w: char) -> (bool, bool) {
    if fold(p) == w {
        return (true, false);
    }
    let look_alike = matches!(
        (p, w),
        ('4' | '@', 'a')
            | ('8', 'b')
            | ('3', 'e')
            | ('9', 'g')
            | ('1' | '!', 'i')
            | ('1' | '|', 'l')
            | ('0', 'o')
            | ('5' | '$', 's')
            | ('7' | '+', 't')
    );
    (look_alike, look_alike)
}

fn keyboard_neighbours(a: char, b: char) -> bool {
    KEYBOARD_ROWS.iter().any(|row| {
        row.chars()
            .zip(row.chars().skip(1))
            .any(|(p, c)| (p == a && c == b) || (p == b && c == a))
    })
}

/// Position of `c` in a run of ASCII lower-case letters or digits, for sequences.
fn sequence_class(c: char) -> Option<(u8, i32)> {
    if c.is_ascii_lowercase() {
        Some((0, c as i32))
    } else if c.is_ascii_digit() {
        Some((1, c as i32))
    } else {
        None
    }
}

/// The cost of the character at `i` on its own: the cheapest of "as a random character
/// of its class" and its relation to the one or two characters before it.
fn single_cost(orig: &[char], folded: &[char], i: usize) -> u32 {
    let Some(&c) = orig.get(i) else {
        return 0;
    };
    let prev = i.checked_sub(1).and_then(|j| orig.get(j)).copied();
    let prev2 = i.checked_sub(2).and_then(|j| orig.get(j)).copied();
    let mut cost = if c.is_alphabetic() {
        let in_run =
            prev.is_some_and(char::is_alphabetic) && prev2.is_some_and(char::is_alphabetic);
        let capital = c.is_uppercase() && !prev.is_some_and(char::is_uppercase);
        (if in_run { LETTER_IN_RUN } else { FRESH_LETTER }) + if capital { CAPITAL } else { 0 }
    } else if c.is_ascii_digit() {
        FRESH_DIGIT
    } else if matches!(c, ' ' | '-' | '_' | '.') {
        SEPARATOR
    } else {
        FRESH_SYMBOL
    };
    let f = folded.get(i).copied().unwrap_or(c);
    let fp = i.checked_sub(1).and_then(|j| folded.get(j)).copied();
    let fp2 = i.checked_sub(2).and_then(|j| folded.get(j)).copied();
    if let Some(p) = fp {
        if p == f {
            cost = cost.min(REPEAT_PREVIOUS);
        }
        if keyboard_neighbours(p, f) {
            cost = cost.min(KEYBOARD);
        }
        if let (Some((k, x)), Some((kp, xp))) = (sequence_class(f), sequence_class(p)) {
            let step = x - xp;
            let steady = fp2.and_then(sequence_class).is_some_and(|(kp2, xp2)| {
                kp2 == k && xp - xp2 == step && (1..=4).contains(&step.abs())
            });
            if k == kp && (step.abs() == 1 || steady) {
                cost = cost.min(SEQUENCE);
            }
        }
    }
    cost
}

/// Cost of a common word starting at `i`, and its length.
fn common_words_at(orig: &[char], i: usize) -> impl Iterator<Item = (usize, u32)> + '_ {
    COMMON_WORDS.iter().filter_map(move |word| {
        let len = word.chars().count();
        let span = orig.get(i..i.checked_add(len)?)?;
        let mut any_look_alike = false;
        for (p, w) in span.iter().zip(word.chars()) {
            let (ok, look_alike) = stands_for(*p, w);
            if !ok {
                return None;
            }
            any_look_alike |= look_alike;
        }
        let capital = span.iter().any(|c| c.is_uppercase());
        let cost = COMMON_WORD
            + if capital { CAPITAL } else { 0 }
            + if any_look_alike { LOOK_ALIKE } else { 0 };
        Some((len, cost))
    })
}

/// Whether the four characters at `i` are a year from 1900 to 2099.
fn year_at(orig: &[char], i: usize) -> bool {
    let Some(span) = i.checked_add(4).and_then(|end| orig.get(i..end)) else {
        return false;
    };
    let mut value = 0u32;
    for c in span {
        match c.to_digit(10) {
            Some(d) if c.is_ascii_digit() => value = value * 10 + d,
            _ => return false,
        }
    }
    (1900..=2099).contains(&value)
}

/// For every position, the length of the longest piece starting there that also starts
/// at an earlier position (overlaps allowed, as in "abababab").
fn earlier_repeats(folded: &[char]) -> Zeroizing<Vec<usize>> {
    let n = folded.len();
    let mut best = Zeroizing::new(vec![0usize; n]);
    for d in 1..n {
        let mut run = 0usize;
        for i in (d..n).rev() {
            let same = folded.get(i - d) == folded.get(i);
            run = if same { run + 1 } else { 0 };
            if let Some(b) = best.get_mut(i) {
                *b = (*b).max(run);
            }
        }
    }
    best
}

/// For every position, the length of the longest piece starting there that occurs in
/// one of the user inputs (compared case-insensitively; inputs that are not UTF-8 are
/// compared as Latin-1 characters).
fn input_matches(folded: &[char], user_inputs: &[&[u8]]) -> Zeroizing<Vec<usize>> {
    let n = folded.len();
    let mut best = Zeroizing::new(vec![0usize; n]);
    for input in user_inputs {
        let chars: Vec<char> = match core::str::from_utf8(input) {
            Ok(text) => text.chars().map(fold).take(MAX_INPUT_CHARS).collect(),
            Err(_) => input
                .iter()
                .map(|b| fold(char::from(*b)))
                .take(MAX_INPUT_CHARS)
                .collect(),
        };
        let m = chars.len();
        // next[s] = length of the common prefix of folded[i + 1..] and chars[s..].
        let mut next = vec![0usize; m + 1];
        let mut cur = vec![0usize; m + 1];
        for i in (0..n).rev() {
            for s in (0..m).rev() {
                let same = folded.get(i) == chars.get(s);
                let value = if same {
                    next.get(s + 1).copied().unwrap_or(0) + 1
                } else {
                    0
                };
                if let Some(c) = cur.get_mut(s) {
                    *c = value;
                }
                if let Some(b) = best.get_mut(i) {
                    *b = (*b).max(value);
                }
            }
            core::mem::swap(&mut next, &mut cur);
        }
    }
    best
}

/// The estimate in tenths of a bit: the cheapest spelling of the password, by dynamic
/// programming over its positions.
fn estimate_tenths(orig: &[char], user_inputs: &[&[u8]]) -> u32 {
    let n = orig.len();
    let mut folded = Zeroizing::new(Vec::with_capacity(n));
    folded.extend(orig.iter().map(|c| fold(*c)));
    let repeats = earlier_repeats(&folded);
    let inputs = input_matches(&folded, user_inputs);
    // cost[j] = cheapest cost of spelling the first j characters.
    let mut cost = Zeroizing::new(vec![u32::MAX; n + 1]);
    if let Some(c) = cost.first_mut() {
        *c = 0;
    }
    let relax = |cost: &mut [u32], from: u32, to: usize, add: u32| {
        if let Some(c) = cost.get_mut(to) {
            *c = (*c).min(from.saturating_add(add));
        }
    };
    for i in 0..n {
        let here = cost.get(i).copied().unwrap_or(u32::MAX);
        if here == u32::MAX {
            continue;
        }
        relax(&mut cost, here, i + 1, single_cost(orig, &folded, i));
        if year_at(orig, i) {
            relax(&mut cost, here, i + 4, YEAR);
        }
        for (len, add) in common_words_at(orig, i) {
            relax(&mut cost, here, i + len, add);
        }
        for (longest, add) in [
            (inputs.get(i).copied().unwrap_or(0), USER_INPUT),
            (repeats.get(i).copied().unwrap_or(0), EARLIER_REPEAT),
        ] {
            for len in MIN_MATCH..=longest {
                relax(&mut cost, here, i + len, add);
            }
        }
    }
    cost.get(n).copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenths(pw: &str, inputs: &[&[u8]]) -> u32 {
        let chars: Vec<char> = pw.chars().collect();
        estimate_tenths(&chars, inputs)
    }

    #[test]
    fn worked_examples() {
        // docs/KEYS.md lists most of these; a change here is a change of the contract.
        for (pw, expected) in [
            ("aaaaaaaaaaaa", 47 + 40),      // a, then a repeat of an earlier piece
            ("abcdefghijkl", 47 + 11 * 10), // a, then 11 sequence steps
            ("Password123!", 90 + 33 + 10 + 10 + 50), // word + capital, 1, 2 3 sequence, !
            ("P4ssw0rd2024", 100 + 70),     // word + capital + look-alikes, year
            ("passwordpassword", 80 + 40),  // word, repeat
            ("alice2024alice", 80 + 70 + 40), // account, year, repeat
            // h o r(run) s(r→s sequence) e(run)
            ("horse", 47 + 47 + 20 + 10 + 20),
            ("horse battery staple", 144 + 20 + 147 + 20 + 137),
            ("correct horse battery staple", 184 + 20 + 468),
            (
                "k7#Qm2!xR9p$",
                47 + 33 + 50 + 57 + 47 + 33 + 50 + 47 + 57 + 33 + 47 + 50,
            ),
            ("k7#Qm2!xR9p$Lw4z", 551 + 57 + 47 + 33 + 47),
            ("Q#Z!M%K&X*J@", 6 * 57 + 6 * 50),
        ] {
            assert_eq!(tenths(pw, &[b"alice"]), expected, "{pw}");
        }
    }

    const DOCS: &str = include_str!("../../../docs/KEYS.md");

    /// The fenced block after `marker` in docs/KEYS.md, split on whitespace.
    fn docs_block(marker: &str) -> Vec<&'static str> {
        let after = DOCS.split_once(marker).unwrap().1;
        let block = after.split_once("```text\n").unwrap().1;
        block
            .split_once("```")
            .unwrap()
            .0
            .split_whitespace()
            .collect()
    }

    #[test]
    fn word_list_and_keyboard_rows_match_the_docs() {
        assert_eq!(docs_block("<!-- common-words"), COMMON_WORDS);
        assert_eq!(docs_block("<!-- keyboard-rows"), KEYBOARD_ROWS);
        for w in COMMON_WORDS {
            assert!(
                w.chars().count() >= 4 && w.chars().all(|c| c.is_ascii_lowercase()),
                "{w}"
            );
        }
    }

    #[test]
    fn worked_examples_table_of_the_docs() {
        let table = DOCS
            .split_once("Worked examples (checked by the unit tests of `backup::strength`)")
            .unwrap()
            .1;
        let rows: Vec<&str> = table
            .lines()
            .skip_while(|l| !l.starts_with("| `"))
            .take_while(|l| l.starts_with("| `"))
            .collect();
        assert_eq!(rows.len(), 8);
        for row in rows {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let pw = cells[1].trim_matches('`');
            let (whole, tenth) = cells[2].split_once('.').unwrap();
            let documented: u32 =
                whole.parse::<u32>().unwrap() * 10 + tenth.parse::<u32>().unwrap();
            assert_eq!(tenths(pw, &[]), documented, "{pw}");
            let accepted = PasswordPolicy::DEFAULT.check(pw.as_bytes(), &[]).is_ok();
            assert_eq!(accepted, cells[4] == "accepted", "{pw}");
        }
    }

    #[test]
    fn single_character_rules() {
        assert_eq!(tenths("a", &[]), FRESH_LETTER);
        assert_eq!(tenths("A", &[]), FRESH_LETTER + CAPITAL);
        assert_eq!(tenths("AB", &[]), FRESH_LETTER + CAPITAL + SEQUENCE);
        assert_eq!(tenths("7", &[]), FRESH_DIGIT);
        assert_eq!(tenths("#", &[]), FRESH_SYMBOL);
        assert_eq!(tenths("é", &[]), FRESH_LETTER);
        assert_eq!(tenths("😀", &[]), FRESH_SYMBOL);
        assert_eq!(tenths("a b", &[]), FRESH_LETTER + SEPARATOR + FRESH_LETTER);
        // Third letter of a run: the word rate.
        assert_eq!(tenths("xqz", &[]), FRESH_LETTER * 2 + LETTER_IN_RUN);
        // Steady steps: 2 4 6 8.
        assert_eq!(tenths("2468", &[]), FRESH_DIGIT * 2 + SEQUENCE * 2);
        // A step of 5 is not a sequence.
        assert_eq!(tenths("16", &[]), FRESH_DIGIT * 2);
        // Keyboard neighbours in another layout (QWERTZ "zu").
        assert_eq!(tenths("zu", &[]), FRESH_LETTER + KEYBOARD);
        assert_eq!(tenths("", &[]), 0);
    }

    #[test]
    fn pieces_of_user_inputs_are_cheap() {
        let base = tenths("xk-mallory-qz", &[]);
        let with = tenths("xk-mallory-qz", &[b"Mallory@example.org"]);
        assert!(with < base, "{with} vs {base}");
        // Two characters are not a piece; three are.
        assert_eq!(tenths("zq", &[b"zq"]), tenths("zq", &[]));
        assert_eq!(tenths("zqj", &[b"zqj"]), USER_INPUT);
        // Non-UTF-8 inputs still count, byte by byte.
        assert_eq!(tenths("zqj", &[&[b'z', b'q', b'j', 0xff]]), USER_INPUT);
    }

    #[test]
    fn long_degenerate_inputs_stay_fast_and_cheap() {
        let long = "a".repeat(MAX_PASSPHRASE_LEN);
        assert!(tenths(&long, &[long.as_bytes()]) < 100);
        let long_seq: String = "0123456789".repeat(102);
        assert!(tenths(&long_seq, &[]) < 200);
    }

    #[test]
    fn policies_are_only_stricter() {
        assert_eq!(PasswordPolicy::default(), PasswordPolicy::DEFAULT);
        assert!(PasswordPolicy::new(MIN_PASSWORD_CHARS, MIN_PASSWORD_BITS).is_ok());
        assert!(PasswordPolicy::new(MAX_PASSPHRASE_LEN, 200).is_ok());
        for (c, b) in [
            (MIN_PASSWORD_CHARS - 1, MIN_PASSWORD_BITS),
            (MIN_PASSWORD_CHARS, MIN_PASSWORD_BITS - 1),
            (MAX_PASSPHRASE_LEN + 1, MIN_PASSWORD_BITS),
        ] {
            assert!(matches!(
                PasswordPolicy::new(c, b),
                Err(Error::Rejected { .. })
            ));
        }
    }
}
