//! Reading a client's message: [`parse`] checks, in this order, the total size, that the
//! text is JSON, that it is an object, the number of its members, the version `v`, the
//! `id`, the `type`, the type's shape (no unknown, missing or mistyped members), and then
//! every field's own limit and validity. The first failure is the answer, typed
//! ([`SignalingError`]); nothing panics, whatever the bytes.

use cai_core::domain::{InvitationSecret, Pseudonym};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::error::SignalingError;
use super::limits::*;
use super::message::{
    Blob, ClientBody, ClientMessage, DescriptionTo, IceTo, Join, JoinAuth, MlsClaim, MlsCommit,
    MlsGroup, MlsKeyPackages, MlsSync, SecretText,
};
use crate::webrtc_json::{IceCandidateInit, SdpType};

/// Parses and validates one client message. See the module documentation for the order
/// of checks and [`limits`](super::limits) for every limit.
pub fn parse(bytes: &[u8]) -> Result<ClientMessage, SignalingError> {
    parse_with_id(bytes).1
}

/// [`parse`], also returning the message's `id` whenever it could be read, even if the
/// message was then refused, so an `error` can name it in `in_reply_to`.
pub fn parse_with_id(bytes: &[u8]) -> (Option<u32>, Result<ClientMessage, SignalingError>) {
    let mut id = None;
    let result = parse_inner(bytes, &mut id);
    (id, result)
}

fn parse_inner(bytes: &[u8], id_out: &mut Option<u32>) -> Result<ClientMessage, SignalingError> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(SignalingError::TooLarge {
            field: "message",
            limit: MAX_MESSAGE_BYTES,
        });
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|_| SignalingError::MalformedJson)?;
    let Value::Object(mut map) = value else {
        return Err(SignalingError::NotAnObject);
    };
    if map.len() > MAX_FIELDS {
        return Err(SignalingError::TooManyFields);
    }
    match map.remove("v") {
        Some(Value::Number(n)) if n.as_u64() == Some(u64::from(PROTOCOL_VERSION)) => {}
        _ => return Err(SignalingError::UnsupportedVersion),
    }
    let id = match map.remove("id") {
        None => None,
        Some(Value::Number(n)) => Some(
            n.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or(SignalingError::InvalidField { field: "id" })?,
        ),
        Some(_) => return Err(SignalingError::InvalidField { field: "id" }),
    };
    *id_out = id;
    let kind = match map.remove("type") {
        Some(Value::String(kind)) => kind,
        _ => return Err(SignalingError::UnknownType),
    };
    let body = match kind.as_str() {
        "join" => ClientBody::Join(shape(map)?),
        "offer" => ClientBody::Offer(shape(map)?),
        "answer" => ClientBody::Answer(shape(map)?),
        "ice" => ClientBody::Ice(shape(map)?),
        "leave" => unit(map, ClientBody::Leave)?,
        "mls_key_packages" => ClientBody::MlsKeyPackages(shape(map)?),
        "mls_claim" => ClientBody::MlsClaim(shape(map)?),
        "mls_group" => ClientBody::MlsGroup(shape(map)?),
        "mls_commit" => ClientBody::MlsCommit(shape(map)?),
        "mls_sync" => ClientBody::MlsSync(shape(map)?),
        "ping" => unit(map, ClientBody::Ping)?,
        _ => return Err(SignalingError::UnknownType),
    };
    validate(&body)?;
    Ok(ClientMessage { id, body })
}

fn shape<T: DeserializeOwned>(rest: Map<String, Value>) -> Result<T, SignalingError> {
    // serde's message may quote the input; it is dropped, only the kind of failure stays.
    serde_json::from_value(Value::Object(rest)).map_err(|_| SignalingError::InvalidMessage)
}

fn unit(rest: Map<String, Value>, body: ClientBody) -> Result<ClientBody, SignalingError> {
    if rest.is_empty() {
        Ok(body)
    } else {
        Err(SignalingError::InvalidMessage)
    }
}

fn at_most(field: &'static str, len: usize, limit: usize) -> Result<(), SignalingError> {
    if len > limit {
        Err(SignalingError::TooLarge { field, limit })
    } else {
        Ok(())
    }
}

fn secret(field: &'static str, s: &SecretText, limit: usize) -> Result<(), SignalingError> {
    at_most(field, s.expose().len(), limit)
}

fn blob(field: &'static str, b: &Blob) -> Result<(), SignalingError> {
    at_most(field, b.0.len(), MAX_MLS_BLOB_BYTES)
}

/// A line of SDP-bound text must not carry line breaks or other control characters: the
/// receiver pastes it into SDP.
fn one_line(field: &'static str, text: &str) -> Result<(), SignalingError> {
    if text.chars().any(char::is_control) {
        Err(SignalingError::InvalidField { field })
    } else {
        Ok(())
    }
}

fn validate(body: &ClientBody) -> Result<(), SignalingError> {
    match body {
        ClientBody::Join(Join { auth }) => validate_auth(auth),
        ClientBody::Offer(d) => validate_description(d, &[SdpType::Offer]),
        ClientBody::Answer(d) => validate_description(d, &[SdpType::Answer, SdpType::Pranswer]),
        ClientBody::Ice(IceTo { candidate, .. }) => validate_candidate(candidate),
        ClientBody::MlsKeyPackages(MlsKeyPackages { packages }) => {
            if packages.is_empty() {
                return Err(SignalingError::InvalidField { field: "packages" });
            }
            at_most("packages", packages.len(), MAX_KEY_PACKAGES_PER_MESSAGE)?;
            packages.iter().try_for_each(|p| blob("packages", p))
        }
        ClientBody::MlsGroup(MlsGroup { group_info, record }) => {
            blob("group_info", group_info)?;
            blob("record", record)
        }
        ClientBody::MlsCommit(MlsCommit {
            commit,
            record,
            welcome,
        }) => {
            blob("commit", commit)?;
            blob("record", record)?;
            welcome.iter().try_for_each(|w| blob("welcome", w))
        }
        ClientBody::MlsClaim(MlsClaim { .. })
        | ClientBody::MlsSync(MlsSync { .. })
        | ClientBody::Leave
        | ClientBody::Ping => Ok(()),
    }
}

fn validate_auth(auth: &JoinAuth) -> Result<(), SignalingError> {
    match auth {
        JoinAuth::Token { token, .. } => {
            secret("token", token, MAX_TOKEN_BYTES)?;
            one_line("token", token.expose())
        }
        JoinAuth::GuestLink {
            pseudonym,
            secret: s,
            ..
        } => {
            at_most("pseudonym", pseudonym.len(), MAX_PSEUDONYM_BYTES)?;
            secret("secret", s, MAX_INVITATION_SECRET_BYTES)?;
            Pseudonym::parse(pseudonym)
                .map_err(|_| SignalingError::InvalidField { field: "pseudonym" })?;
            // Only the shape is checked here; whether the secret is right is the
            // admission's question, answered `not_accepted` whatever is wrong.
            InvitationSecret::parse(s.expose())
                .map(drop)
                .map_err(|_| SignalingError::InvalidField { field: "secret" })
        }
        JoinAuth::Room {
            token, password, ..
        } => {
            secret("token", token, MAX_TOKEN_BYTES)?;
            one_line("token", token.expose())?;
            secret("password", password, MAX_ROOM_PASSWORD_BYTES)
        }
    }
}

fn validate_description(d: &DescriptionTo, allowed: &[SdpType]) -> Result<(), SignalingError> {
    if !allowed.contains(&d.description.sdp_type) {
        return Err(SignalingError::InvalidField {
            field: "description.type",
        });
    }
    at_most("description.sdp", d.description.sdp.len(), MAX_SDP_BYTES)?;
    if d.description.sdp.is_empty() {
        return Err(SignalingError::InvalidField {
            field: "description.sdp",
        });
    }
    match &d.signature {
        Some(sig) if sig.0.len() != SIGNATURE_BYTES => {
            Err(SignalingError::InvalidField { field: "signature" })
        }
        _ => Ok(()),
    }
}

fn validate_candidate(c: &IceCandidateInit) -> Result<(), SignalingError> {
    at_most(
        "candidate.candidate",
        c.candidate.len(),
        MAX_CANDIDATE_BYTES,
    )?;
    one_line("candidate.candidate", &c.candidate)?;
    if let Some(mid) = &c.sdp_mid {
        at_most("candidate.sdpMid", mid.len(), MAX_SDP_MID_BYTES)?;
        one_line("candidate.sdpMid", mid)?;
    }
    if let Some(ufrag) = &c.username_fragment {
        at_most("candidate.usernameFragment", ufrag.len(), MAX_UFRAG_BYTES)?;
        one_line("candidate.usernameFragment", ufrag)?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn err(text: &str) -> SignalingError {
        parse(text.as_bytes()).unwrap_err()
    }

    #[test]
    fn each_check_has_its_error() {
        assert_eq!(err("{"), SignalingError::MalformedJson);
        assert_eq!(err("[1]"), SignalingError::NotAnObject);
        assert_eq!(
            err(r#"{"type":"ping"}"#),
            SignalingError::UnsupportedVersion
        );
        assert_eq!(
            err(r#"{"v":2,"type":"ping"}"#),
            SignalingError::UnsupportedVersion
        );
        assert_eq!(
            err(r#"{"v":"1","type":"ping"}"#),
            SignalingError::UnsupportedVersion
        );
        assert_eq!(err(r#"{"v":1,"type":"nope"}"#), SignalingError::UnknownType);
        assert_eq!(err(r#"{"v":1}"#), SignalingError::UnknownType);
        assert_eq!(
            err(r#"{"v":1,"type":"ping","x":1}"#),
            SignalingError::InvalidMessage
        );
        assert_eq!(
            err(r#"{"v":1,"type":"ping","id":-1}"#),
            SignalingError::InvalidField { field: "id" }
        );
        assert_eq!(
            err(r#"{"v":1,"type":"ice","to":1,"candidate":{"candidate":"a\r\nb"}}"#),
            SignalingError::InvalidField {
                field: "candidate.candidate"
            }
        );
        assert_eq!(
            err(r#"{"v":1,"type":"offer","to":1,"description":{"type":"answer","sdp":"v=0"}}"#),
            SignalingError::InvalidField {
                field: "description.type"
            }
        );
        let many: String = (0..MAX_FIELDS).map(|i| format!(r#","f{i}":0"#)).collect();
        assert_eq!(
            err(&format!(r#"{{"v":1,"type":"ping"{many}}}"#)),
            SignalingError::TooManyFields
        );
    }

    #[test]
    fn the_id_is_known_even_when_the_message_is_refused() {
        let (id, r) = parse_with_id(br#"{"v":1,"id":7,"type":"ping","x":1}"#);
        assert_eq!(id, Some(7));
        assert!(r.is_err());
        let m = parse(br#"{"v":1,"id":8,"type":"ping"}"#).unwrap();
        assert_eq!(m.id, Some(8));
        assert_eq!(m.to_json(), r#"{"v":1,"id":8,"type":"ping"}"#);
    }
}
