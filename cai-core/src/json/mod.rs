//! The JSON forms of the public types that a host sends to or receives from a frontend,
//! as specified in `docs/JSON.md`: serde helpers for fields whose Rust type has no
//! serde of its own (durations, `cai-crypto`'s enums, bytes), and the serde of the
//! service's request and answer types that derive cannot express. Ids, timestamps and
//! the domain enums carry their own impls next to their definitions.

mod service;

pub(crate) use service::{InviteToJson, TargetJson};

use std::time::Duration;

use ::base64::Engine as _;
use ::base64::engine::general_purpose::STANDARD;
use cai_crypto::ContentKind;
use cai_crypto::modes::SessionMode;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

/// Standard base64 with padding (RFC 4648 §4); no whitespace, no URL-safe alphabet,
/// canonical padding bits only.
pub(crate) fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decodes what [`encode`] writes; anything else is an error naming `what`.
pub(crate) fn decode<E: serde::de::Error>(text: &str, what: &str) -> Result<Vec<u8>, E> {
    STANDARD
        .decode(text)
        .map_err(|_| E::custom(format_args!("{what}: not standard base64 with padding")))
}

/// Bytes as a base64 string (see [`encode`]).
pub(crate) mod base64 {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&encode(bytes))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        decode(&text, "bytes")
    }
}

/// Optional bytes: a base64 string or `null`.
pub(crate) mod base64_opt {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        bytes: &Option<Vec<u8>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(b) => s.serialize_some(&encode(b)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        Option::<std::borrow::Cow<'de, str>>::deserialize(d)?
            .map(|text| decode(&text, "bytes"))
            .transpose()
    }
}

/// Largest number of seconds a duration may have in JSON: 2^53 - 1, the largest
/// integer a JavaScript number holds exactly. In milliseconds it still fits an `i64`,
/// so no deadline computed from it overflows.
pub(crate) const MAX_SECS: u64 = (1 << 53) - 1;

fn to_secs<E: serde::ser::Error>(d: &Duration) -> Result<u64, E> {
    if d.subsec_nanos() != 0 {
        return Err(E::custom("duration is not a whole number of seconds"));
    }
    if d.as_secs() > MAX_SECS {
        return Err(E::custom("duration exceeds 2^53 - 1 seconds"));
    }
    Ok(d.as_secs())
}

fn from_secs<E: serde::de::Error>(secs: u64) -> Result<Duration, E> {
    if secs > MAX_SECS {
        return Err(E::custom("duration exceeds 2^53 - 1 seconds"));
    }
    Ok(Duration::from_secs(secs))
}

/// A [`Duration`] as whole seconds (a non-negative integer up to [`MAX_SECS`]). A
/// duration with a fraction of a second has no JSON form: serializing it is an error,
/// not a silent rounding.
pub(crate) mod secs {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(to_secs(d)?)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        from_secs(u64::deserialize(d)?)
    }
}

/// An optional [`Duration`]: whole seconds or `null`.
pub(crate) mod secs_opt {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&to_secs::<S::Error>(d)?),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        Option::<u64>::deserialize(d)?.map(from_secs).transpose()
    }
}

/// The JSON names of the session modes, in protection order.
const MODE_NAMES: [(SessionMode, &str); 4] = [
    (SessionMode::ServerManaged, "server_managed"),
    (SessionMode::SessionKey, "session_key"),
    (SessionMode::Passphrase, "passphrase"),
    (SessionMode::EndToEnd, "end_to_end"),
];

/// The JSON names of the content kinds, in code order.
const KIND_NAMES: [(ContentKind, &str); 7] = [
    (ContentKind::Message, "message"),
    (ContentKind::Note, "note"),
    (ContentKind::File, "file"),
    (ContentKind::Document, "document"),
    (ContentKind::Whiteboard, "whiteboard"),
    (ContentKind::Recording, "recording"),
    (ContentKind::KeyMaterial, "key_material"),
];

/// The JSON name of a session mode (`"end_to_end"`), for audit values and logs.
pub(crate) fn mode_name(m: SessionMode) -> &'static str {
    MODE_NAMES
        .iter()
        .find(|(v, _)| *v == m)
        .map_or("unknown", |(_, n)| *n)
}

/// The JSON name of a content kind (`"message"`), for audit values and logs.
pub(crate) fn kind_name(k: ContentKind) -> &'static str {
    KIND_NAMES
        .iter()
        .find(|(v, _)| *v == k)
        .map_or("unknown", |(_, n)| *n)
}

fn name_of<T: PartialEq + Copy, E: serde::ser::Error>(
    table: &[(T, &'static str)],
    value: T,
    what: &str,
) -> Result<&'static str, E> {
    table
        .iter()
        .find(|(v, _)| *v == value)
        .map(|(_, n)| *n)
        .ok_or_else(|| E::custom(format_args!("{what} has no JSON name")))
}

fn named<T: Copy, E: serde::de::Error>(
    table: &[(T, &'static str)],
    name: &str,
    what: &str,
) -> Result<T, E> {
    table
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(v, _)| *v)
        .ok_or_else(|| E::custom(format_args!("unknown {what} {name:?}")))
}

/// A [`SessionMode`] as its snake_case name (`"end_to_end"`).
pub(crate) mod mode {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(m: &SessionMode, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(name_of(&MODE_NAMES, *m, "session mode")?)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SessionMode, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        named(&MODE_NAMES, &name, "session mode")
    }
}

/// An optional [`SessionMode`]: its name or `null`.
pub(crate) mod mode_opt {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        m: &Option<SessionMode>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match m {
            Some(m) => s.serialize_some(name_of::<_, S::Error>(&MODE_NAMES, *m, "session mode")?),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<SessionMode>, D::Error> {
        Option::<std::borrow::Cow<'de, str>>::deserialize(d)?
            .map(|name| named(&MODE_NAMES, &name, "session mode"))
            .transpose()
    }
}

/// A [`ContentKind`] as its snake_case name (`"key_material"`).
pub(crate) mod content_kind {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(k: &ContentKind, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(name_of(&KIND_NAMES, *k, "content kind")?)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ContentKind, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        named(&KIND_NAMES, &name, "content kind")
    }
}

/// A change of an optional value in a request, as in a JSON Merge Patch (RFC 7396):
/// the field left out means "unchanged" (`None`), `null` means "remove"
/// (`Some(None)`), a value means "set" (`Some(Some(v))`). Use with
/// `#[serde(default, skip_serializing_if = "Option::is_none")]`.
pub(crate) mod patch {
    use super::*;

    pub(crate) fn serialize<T: Serialize, S: Serializer>(
        v: &Option<Option<T>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(inner) => inner.serialize(s),
            // Left out by `skip_serializing_if`; `null` would mean "remove".
            None => Err(S::Error::custom("an unchanged field is left out")),
        }
    }

    pub(crate) fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

/// Secret text (an invitation secret) deserialized into a buffer that is zeroized on
/// drop.
pub(crate) fn secret_text<'de, D: Deserializer<'de>>(d: D) -> Result<Zeroizing<String>, D::Error> {
    String::deserialize(d).map(Zeroizing::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mode_and_kind_has_a_name() {
        for m in SessionMode::ALL {
            assert!(MODE_NAMES.iter().any(|(v, _)| *v == m), "{m:?}");
        }
        for k in ContentKind::ALL {
            assert!(KIND_NAMES.iter().any(|(v, _)| *v == k), "{k:?}");
        }
    }

    #[test]
    fn durations_are_whole_bounded_seconds() {
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct T {
            #[serde(with = "secs")]
            d: Duration,
        }
        let json = serde_json::to_string(&T {
            d: Duration::from_secs(900),
        })
        .unwrap();
        assert_eq!(json, r#"{"d":900}"#);
        assert!(
            serde_json::to_string(&T {
                d: Duration::from_millis(1500)
            })
            .is_err()
        );
        assert!(
            serde_json::to_string(&T {
                d: Duration::from_secs(MAX_SECS + 1)
            })
            .is_err()
        );
        assert!(serde_json::from_str::<T>(r#"{"d":9007199254740992}"#).is_err());
        assert!(serde_json::from_str::<T>(r#"{"d":18446744073709551616}"#).is_err());
        assert!(serde_json::from_str::<T>(r#"{"d":-1}"#).is_err());
        assert!(serde_json::from_str::<T>(r#"{"d":1.5}"#).is_err());
        assert_eq!(
            serde_json::from_str::<T>(r#"{"d":9007199254740991}"#)
                .unwrap()
                .d,
            Duration::from_secs(MAX_SECS)
        );
    }
}
