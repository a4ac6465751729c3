//! Typed identifiers. Every id is 128 bits behind its own type, so a session id cannot
//! be passed where an account id is expected, and its text form carries a prefix
//! (`acc_…`, `ses_…`) so a wrong id in a URL or a log is rejected when parsed, not
//! looked up in the wrong table.
//!
//! Fresh ids are UUID version 7 (RFC 9562): a 48-bit millisecond timestamp, then
//! random bits, generated monotonically within a process. So ids sort by creation time
//! and keyset paging by id lists messages, sessions and accounts in the order they were
//! made, in every backend, without a second index. Ids are names, not secrets: access
//! is decided by authorization, never by knowing an id.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// Number of bytes in every id.
pub const ID_LEN: usize = 16;

macro_rules! define_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; ID_LEN]);

        impl $name {
            /// The text prefix of this id type, before the underscore.
            pub const PREFIX: &'static str = $prefix;

            /// A fresh id: UUID version 7, ordered after every id this process made
            /// before (see the [module docs](self)).
            pub fn random() -> Result<Self> {
                Ok(Self(fresh_bytes()))
            }

            /// The id with these bytes (for backends reading stored ids).
            pub const fn from_bytes(bytes: [u8; ID_LEN]) -> Self {
                Self(bytes)
            }

            /// The id's bytes.
            pub const fn as_bytes(&self) -> &[u8; ID_LEN] {
                &self.0
            }

            /// Parses the text form `<prefix>_<32 lowercase hex digits>`.
            pub fn parse(text: &str) -> Result<Self> {
                parse_id(text, $prefix).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}_{}", $prefix, hex::encode(self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                Self::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

define_id!(
    /// A tenant: one counselling centre or customer (R-T1).
    TenantId, "ten"
);
define_id!(
    /// A registered, e-mail identified account (R-I1).
    AccountId, "acc"
);
define_id!(
    /// An ad-hoc guest known only by a pseudonym (R-I1, R-S2).
    GuestId, "gst"
);
define_id!(
    /// A role of a tenant: a built-in one (fixed ids, see
    /// [`BuiltinRole::id`](crate::domain::BuiltinRole::id)) or a custom one.
    RoleId, "rol"
);
define_id!(
    /// A group of accounts (R-I4).
    GroupId, "grp"
);
define_id!(
    /// A counselling session.
    SessionId, "ses"
);
define_id!(
    /// An invitation: a contact request or a guest link.
    InvitationId, "inv"
);
define_id!(
    /// A content item (message, note, file, document).
    ItemId, "itm"
);
define_id!(
    /// A counsellor's personal room (R-S3).
    RoomId, "rom"
);
define_id!(
    /// An audit event (R-U1).
    EventId, "evt"
);
define_id!(
    /// A security incident (R-U3).
    IncidentId, "inc"
);
define_id!(
    /// A stored file body (a sealed stream) in a
    /// [`BlobStore`](crate::ports::BlobStore) (R-S4).
    BlobId, "blb"
);

impl RoleId {
    /// The fixed id of a built-in role: fifteen zero bytes and the role's code, the
    /// same in every tenant (roles are always looked up per tenant).
    pub(crate) const fn builtin(code: u8) -> Self {
        let mut bytes = [0u8; ID_LEN];
        bytes[ID_LEN - 1] = code;
        Self(bytes)
    }
}

/// A UUIDv7 from the `uuid` crate's shared context: its counter keeps ids made in the
/// same millisecond in order.
fn fresh_bytes() -> [u8; ID_LEN] {
    uuid::Uuid::now_v7().into_bytes()
}

fn parse_id(text: &str, prefix: &'static str) -> Result<[u8; ID_LEN]> {
    let invalid = |reason| Error::InvalidId {
        kind: prefix,
        reason,
    };
    let hex_part = text
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .ok_or_else(|| invalid("wrong prefix"))?;
    if hex_part.len() != ID_LEN * 2 {
        return Err(invalid("wrong length"));
    }
    // Only lowercase hex: one text form per id, so ids compare equal as strings too.
    if !hex_part
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(invalid("not lowercase hex"));
    }
    let mut bytes = [0u8; ID_LEN];
    hex::decode_to_slice(hex_part, &mut bytes).map_err(|_| invalid("not lowercase hex"))?;
    Ok(bytes)
}

/// Who did something or is asking for something: an account or a guest. Its text and
/// JSON form is the id's own (`acc_…` or `gst_…`): the prefix tells which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SubjectId {
    /// A registered account.
    Account(AccountId),
    /// A guest of one ad-hoc session.
    Guest(GuestId),
}

impl SubjectId {
    /// Parses an account id (`acc_…`) or a guest id (`gst_…`).
    pub fn parse(text: &str) -> Result<Self> {
        if text.starts_with("gst_") {
            GuestId::parse(text).map(SubjectId::Guest)
        } else if text.starts_with("acc_") {
            AccountId::parse(text).map(SubjectId::Account)
        } else {
            Err(Error::InvalidId {
                kind: "acc or gst",
                reason: "wrong prefix",
            })
        }
    }

    /// The account, if the subject is one.
    pub fn account(self) -> Option<AccountId> {
        match self {
            SubjectId::Account(id) => Some(id),
            SubjectId::Guest(_) => None,
        }
    }
}

impl fmt::Display for SubjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubjectId::Account(id) => id.fmt(f),
            SubjectId::Guest(id) => id.fmt(f),
        }
    }
}

impl FromStr for SubjectId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl Serialize for SubjectId {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SubjectId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips_and_is_typed() {
        let id = SessionId::random().unwrap();
        let text = id.to_string();
        assert!(text.starts_with("ses_"));
        assert_eq!(SessionId::parse(&text).unwrap(), id);
        assert!(AccountId::parse(&text).is_err());
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<SessionId>(&json).unwrap(), id);
    }

    #[test]
    fn fresh_ids_sort_by_creation() {
        let ids: Vec<ItemId> = (0..1000).map(|_| ItemId::random().unwrap()).collect();
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "ids must be strictly increasing"
        );
    }

    #[test]
    fn subjects_are_their_ids() {
        let acc = AccountId::random().unwrap();
        let gst = GuestId::random().unwrap();
        for (subject, text) in [
            (SubjectId::Account(acc), acc.to_string()),
            (SubjectId::Guest(gst), gst.to_string()),
        ] {
            assert_eq!(SubjectId::parse(&text).unwrap(), subject);
            let json = serde_json::to_string(&subject).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<SubjectId>(&json).unwrap(), subject);
        }
        let ses = SessionId::random().unwrap().to_string();
        assert!(SubjectId::parse(&ses).is_err());
        assert!(SubjectId::parse("acc_").is_err());
        assert!(SubjectId::parse("").is_err());
    }

    #[test]
    fn bad_text_is_rejected() {
        for bad in [
            "",
            "ses_",
            "ses_00",
            "ses-00000000000000000000000000000000",
            "ses_0000000000000000000000000000000G",
            "ses_0000000000000000000000000000000A",
            "ses_000000000000000000000000000000000",
            "ses_00000000000000000000000000000é0",
        ] {
            assert!(SessionId::parse(bad).is_err(), "{bad:?}");
        }
    }
}
