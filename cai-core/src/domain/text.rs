//! Validated text values: names, e-mail addresses, pseudonyms, regions. Each has a
//! `parse` constructor that rejects bad input with a reason, so an invalid value cannot
//! exist. Lengths count characters (Unicode scalar values), and every limit is a
//! public constant.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

fn check(
    text: &str,
    what: &'static str,
    min: usize,
    max: usize,
    allowed: impl Fn(char) -> bool,
) -> Result<()> {
    // Bound the work before counting: a multi-megabyte "name" is rejected by its byte
    // length (a char is at most 4 bytes).
    if text.len() > max * 4 {
        return Err(Error::Invalid {
            what,
            reason: "too long",
        });
    }
    let count = text.chars().count();
    if count < min {
        return Err(Error::Invalid {
            what,
            reason: if count == 0 { "empty" } else { "too short" },
        });
    }
    if count > max {
        return Err(Error::Invalid {
            what,
            reason: "too long",
        });
    }
    if !text.chars().all(allowed) {
        return Err(Error::Invalid {
            what,
            reason: "character not allowed",
        });
    }
    if text.starts_with(char::is_whitespace) || text.ends_with(char::is_whitespace) {
        return Err(Error::Invalid {
            what,
            reason: "leading or trailing whitespace",
        });
    }
    Ok(())
}

/// Printable text: no control characters (no newlines, no terminal escapes, no
/// bidirectional overrides that make a name display as something else).
fn printable(c: char) -> bool {
    !c.is_control() && !matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

macro_rules! text_type {
    ($(#[$meta:meta])* $name:ident, $what:literal) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }

        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                Self::parse(s)
            }
        }
    };
}

text_type!(
    /// A human-readable name: of a tenant, role, group, room or session, or an account's
    /// display name. 1 to [`Name::MAX_LEN`] printable characters.
    Name, "name"
);

impl Name {
    /// Longest name, in characters.
    pub const MAX_LEN: usize = 120;

    /// Validates a name.
    pub fn parse(text: &str) -> Result<Self> {
        check(text, "name", 1, Self::MAX_LEN, printable)?;
        Ok(Self(text.to_owned()))
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

text_type!(
    /// An e-mail address. Checked for shape only (one `@`, a dot-free-or-dotted domain,
    /// no spaces or control characters, at most [`Email::MAX_LEN`] characters, RFC 5321's
    /// limit); whether it is reachable is the mailer's business. Personal data: its
    /// `Debug` form is redacted so it never lands in a log by accident.
    Email, "e-mail address"
);

impl Email {
    /// Longest address, in characters (RFC 5321).
    pub const MAX_LEN: usize = 254;

    /// Validates an address and lowercases its ASCII letters, so one mailbox has one
    /// form: uniqueness within a tenant, lookups and invitation bindings all see the
    /// same text. (Case-sensitive local parts exist in theory; no provider in use treats
    /// `Kim@` and `kim@` as different people.) Other characters are kept as they are:
    /// Unicode case mapping is context-dependent (final sigma) and would make lookups
    /// miss.
    pub fn parse(text: &str) -> Result<Self> {
        let lower = text.to_ascii_lowercase();
        let text = lower.as_str();
        check(text, "e-mail address", 3, Self::MAX_LEN, |c| {
            printable(c) && !c.is_whitespace()
        })?;
        let invalid = |reason| Error::Invalid {
            what: "e-mail address",
            reason,
        };
        let (local, domain) = text.split_once('@').ok_or_else(|| invalid("no @"))?;
        if local.is_empty() || local.chars().count() > 64 {
            return Err(invalid("bad local part"));
        }
        if domain.is_empty() || domain.contains('@') {
            return Err(invalid("bad domain"));
        }
        if domain.starts_with('.') || domain.ends_with('.') || domain.contains("..") {
            return Err(invalid("bad domain"));
        }
        Ok(Self(text.to_owned()))
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Email(<redacted>)")
    }
}

text_type!(
    /// A guest's self-chosen pseudonym (R-A7): 2 to [`Pseudonym::MAX_LEN`] characters,
    /// letters (any script), digits, space, `-`, `_`, `.`; no leading or trailing
    /// space.
    Pseudonym, "pseudonym"
);

impl Pseudonym {
    /// Longest pseudonym, in characters.
    pub const MAX_LEN: usize = 32;

    /// Validates a pseudonym.
    pub fn parse(text: &str) -> Result<Self> {
        check(text, "pseudonym", 2, Self::MAX_LEN, |c| {
            c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.')
        })?;
        if text.contains("  ") {
            return Err(Error::Invalid {
                what: "pseudonym",
                reason: "repeated spaces",
            });
        }
        Ok(Self(text.to_owned()))
    }
}

impl fmt::Debug for Pseudonym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

text_type!(
    /// A data-residency region a tenant is placed in (R-T2), such as `DE`, `CH`, `EU`
    /// or `on-prem-berlin`: 2 to [`Region::MAX_LEN`] ASCII letters, digits and `-`.
    Region, "region"
);

impl Region {
    /// Longest region name.
    pub const MAX_LEN: usize = 32;

    /// Validates a region name.
    pub fn parse(text: &str) -> Result<Self> {
        check(text, "region", 2, Self::MAX_LEN, |c| {
            c.is_ascii_alphanumeric() || c == '-'
        })?;
        Ok(Self(text.to_owned()))
    }
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(Name::parse("Beratungsstelle Süd").is_ok());
        assert!(Name::parse("").is_err());
        assert!(Name::parse(" x").is_err());
        assert!(Name::parse("a\nb").is_err());
        assert!(Name::parse("evil\u{202E}gpj.exe").is_err());
        assert!(Name::parse(&"x".repeat(Name::MAX_LEN)).is_ok());
        assert!(Name::parse(&"x".repeat(Name::MAX_LEN + 1)).is_err());
        assert!(Name::parse(&"é".repeat(Name::MAX_LEN)).is_ok());
    }

    #[test]
    fn emails() {
        assert!(Email::parse("client@example.org").is_ok());
        for bad in [
            "", "a", "@x.org", "a@", "a@@b", "a b@c.de", "a@.de", "a@b..de", "a@b.",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            format!("{:?}", Email::parse("x@y.de").unwrap()),
            "Email(<redacted>)"
        );
    }

    #[test]
    fn pseudonyms() {
        for ok in ["Mo", "Anna K.", "zeynep_23", "Łukasz", "東京"] {
            assert!(Pseudonym::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "a", " Ann", "Ann ", "a  b", "<script>", "a@b", "x\u{0}y",
        ] {
            assert!(Pseudonym::parse(bad).is_err(), "{bad}");
        }
        assert!(Pseudonym::parse(&"a".repeat(33)).is_err());
    }

    #[test]
    fn regions() {
        assert!(Region::parse("DE").is_ok());
        assert!(Region::parse("on-prem-1").is_ok());
        assert!(Region::parse("D").is_err());
        assert!(Region::parse("de/../x").is_err());
    }
}
