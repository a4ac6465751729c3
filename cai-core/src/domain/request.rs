//! What the host knows about a request — its id and the client's address — carried on
//! the [`Caller`](crate::Caller) into audit events, throttles and tracing spans.
//!
//! Both are `Copy` and bounded, so a `Caller` stays a small value. The host fills them
//! from its own transport (the request id its proxy assigned, the peer address it
//! trusts); the service never derives them from request bodies.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// A request id as the host's infrastructure names it (a UUID, a ULID, a trace id):
/// 1..=[`RequestId::MAX_LEN`] bytes of `A-Z a-z 0-9 - _ . :`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestId {
    bytes: [u8; RequestId::MAX_LEN],
    len: u8,
}

impl RequestId {
    /// Longest request id, in bytes.
    pub const MAX_LEN: usize = 64;

    /// Validates a request id.
    pub fn parse(text: &str) -> Result<Self> {
        if text.len() > Self::MAX_LEN {
            return Err(Error::TooLarge {
                what: "request id",
                limit: Self::MAX_LEN,
            });
        }
        if text.is_empty()
            || !text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
        {
            return Err(Error::Invalid {
                what: "request id",
                reason: "must be 1..=64 of A-Z a-z 0-9 - _ . :",
            });
        }
        let mut bytes = [0u8; Self::MAX_LEN];
        bytes
            .get_mut(..text.len())
            .ok_or(Error::Invalid {
                what: "request id",
                reason: "too long",
            })?
            .copy_from_slice(text.as_bytes());
        Ok(Self {
            bytes,
            len: text.len() as u8,
        })
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        let bytes = self.bytes.get(..usize::from(self.len)).unwrap_or_default();
        // Only ASCII is ever stored (checked in `parse`).
        std::str::from_utf8(bytes).unwrap_or_default()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestId({})", self.as_str())
    }
}

impl Serialize for RequestId {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RequestId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Request metadata a host supplies. Recorded in audit events (R-U1, R-A9) and used as
/// the source of brute-force counting (R-U3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct RequestMeta {
    /// The host's id of the request, for correlating logs and audit events.
    pub id: Option<RequestId>,
    /// The client's address as the host trusts it (the peer, or the first untrusted
    /// hop of a proxy chain the host configured).
    pub client: Option<IpAddr>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_bounded_and_plain() {
        let longest = "a".repeat(RequestId::MAX_LEN);
        assert_eq!(RequestId::parse(&longest).unwrap().as_str(), longest);
        assert!(matches!(
            RequestId::parse(&"a".repeat(RequestId::MAX_LEN + 1)),
            Err(Error::TooLarge { .. })
        ));
        for ok in ["x", "req-1", "01J:abc_def.9"] {
            let id = RequestId::parse(ok).unwrap();
            assert_eq!(id.to_string(), ok);
            assert_eq!(format!("{id:?}"), format!("RequestId({ok})"));
        }
        for bad in ["", " ", "a b", "ä", "a/b", "a\nb"] {
            assert!(
                matches!(RequestId::parse(bad), Err(Error::Invalid { .. })),
                "{bad:?}"
            );
        }
    }
}
