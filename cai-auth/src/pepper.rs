//! The pepper: a server-side secret mixed into every password hash (Argon2's `secret`
//! input), held by the host — in its secret store, an environment variable, a KMS —
//! and never in the database. A stolen database alone then cannot be attacked offline.
//!
//! Each pepper has a short id, written into the PHC string as Argon2's `keyid`
//! parameter (which does not enter the hash), so peppers can be rotated: add the new
//! one as current, keep the old one as previous; every successful login re-hashes
//! under the current pepper, and once no stored hash names the old id it can go.

use std::fmt;

use zeroize::Zeroizing;

use crate::error::{AuthError, Result};

/// One pepper: an id of 1..=8 ASCII letters or digits, and 32..=64 secret bytes.
/// Zeroized on drop; `Debug` shows the id only.
#[derive(Clone)]
pub struct Pepper {
    id: String,
    secret: Zeroizing<Vec<u8>>,
}

impl Pepper {
    /// Fewest secret bytes.
    pub const MIN_LEN: usize = 32;
    /// Most secret bytes.
    pub const MAX_LEN: usize = 64;
    /// Longest id (Argon2's `keyid` limit).
    pub const MAX_ID_LEN: usize = 8;

    /// A pepper with this id and secret.
    pub fn new(id: &str, secret: &[u8]) -> Result<Self> {
        if id.is_empty()
            || id.len() > Self::MAX_ID_LEN
            || !id.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(AuthError::Config(
                "pepper id must be 1..=8 ASCII letters or digits",
            ));
        }
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&secret.len()) {
            return Err(AuthError::Config("pepper must be 32..=64 bytes"));
        }
        Ok(Self {
            id: id.to_owned(),
            secret: Zeroizing::new(secret.to_vec()),
        })
    }

    /// A fresh random 32-byte pepper (for tests and first setup; the host must keep
    /// it, or every password is lost).
    pub fn random(id: &str) -> Result<Self> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(bytes.as_mut_slice()).map_err(|_| AuthError::Rng)?;
        Self::new(id, bytes.as_slice())
    }

    /// Its id.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn secret(&self) -> &[u8] {
        &self.secret
    }
}

impl fmt::Debug for Pepper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pepper")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// The current pepper, which new hashes use, and previous ones still accepted for
/// verification.
#[derive(Clone, Debug)]
pub struct Peppers {
    current: Pepper,
    previous: Vec<Pepper>,
}

impl Peppers {
    /// Only `current`.
    pub fn new(current: Pepper) -> Self {
        Self {
            current,
            previous: Vec::new(),
        }
    }

    /// Also accepts hashes made under `old`. Ids must differ.
    pub fn with_previous(mut self, old: Pepper) -> Result<Self> {
        if old.id == self.current.id || self.previous.iter().any(|p| p.id == old.id) {
            return Err(AuthError::Config("pepper ids must be unique"));
        }
        self.previous.push(old);
        Ok(self)
    }

    /// The pepper new hashes use.
    pub fn current(&self) -> &Pepper {
        &self.current
    }

    /// Every pepper, the current one first.
    pub(crate) fn all(&self) -> impl Iterator<Item = &Pepper> {
        std::iter::once(&self.current).chain(&self.previous)
    }

    /// The pepper with this id, if known.
    pub fn by_id(&self, id: &str) -> Option<&Pepper> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|p| p.id == id)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_lengths_are_checked() {
        assert!(Pepper::new("p1", &[7; 32]).is_ok());
        assert!(Pepper::new("p1", &[7; 64]).is_ok());
        assert!(Pepper::new("12345678", &[7; 32]).is_ok());
        for (id, len) in [
            ("p1", 31),
            ("p1", 65),
            ("", 32),
            ("123456789", 32),
            ("p-1", 32),
        ] {
            assert!(
                matches!(Pepper::new(id, &vec![7; len]), Err(AuthError::Config(_))),
                "{id} {len}"
            );
        }
    }

    #[test]
    fn debug_shows_the_id_not_the_secret() {
        let p = Pepper::new("k2026", &[0xAB; 32]).unwrap();
        let shown = format!("{p:?} {:?}", Peppers::new(p.clone()));
        assert!(shown.contains("k2026"));
        assert!(!shown.to_lowercase().contains("ab, ab") && !shown.contains("171"));
    }

    #[test]
    fn rotation_keeps_old_peppers_findable_and_ids_unique() {
        let old = Pepper::new("old", &[1; 32]).unwrap();
        let new = Pepper::new("new", &[2; 32]).unwrap();
        let ring = Peppers::new(new.clone())
            .with_previous(old.clone())
            .unwrap();
        assert_eq!(ring.current().id(), "new");
        assert_eq!(ring.by_id("old").unwrap().secret(), old.secret());
        assert_eq!(ring.by_id("new").unwrap().secret(), new.secret());
        assert!(ring.by_id("other").is_none());
        assert!(ring.clone().with_previous(new).is_err());
        assert!(ring.with_previous(old).is_err());
    }
}
