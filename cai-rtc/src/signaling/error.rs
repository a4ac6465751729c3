//! The typed errors of signaling: [`SignalingError`] for Rust callers, [`ErrorCode`] as
//! it travels in an `error` message, and [`DenyReason`] for a refused `join`. None carries
//! a secret, a token or the offending text; at most the name of the field at fault.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What an `error` message says went wrong (`"code"`). Stable: a frontend matches on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// Not UTF-8 JSON text.
    MalformedJson,
    /// JSON, but not an object.
    NotAnObject,
    /// The message, or the field named in `field`, is over its limit.
    TooLarge,
    /// More top-level members than [`MAX_FIELDS`](super::limits::MAX_FIELDS).
    TooManyFields,
    /// `v` is missing or not a version this server speaks.
    UnsupportedVersion,
    /// `type` is missing or names no message a client may send.
    UnknownType,
    /// The right type, the wrong shape: an unknown, missing, duplicated or mistyped
    /// member.
    InvalidMessage,
    /// The member named in `field` has a value that does not validate (an id, a
    /// pseudonym, base64, an SDP type that does not fit the message).
    InvalidField,
    /// The connection sends faster than its rate limit; `retry_after_ms` says when the
    /// next message is accepted.
    RateLimited,
    /// The message needs an admitted connection; send `join` first.
    NotJoined,
    /// A second `join` on an admitted (or waiting) connection.
    AlreadyJoined,
    /// `to` names no one in the call.
    UnknownPeer,
    /// An MLS message in a session that is not end-to-end.
    WrongMode,
    /// The Delivery Service refused the MLS message (it does not fit the group).
    MlsRejected,
    /// Another commit won this epoch; process it and try again.
    MlsConflict,
    /// The caller may not do this in the session.
    Forbidden,
    /// A binary WebSocket frame (the protocol is text frames only).
    InvalidFrame,
    /// A dependency of the server failed; try again later.
    Unavailable,
    /// A bug on the server.
    Internal,
    /// Sent just before the server closes a connection that caused too many errors.
    TooManyErrors,
}

impl ErrorCode {
    /// The snake_case name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MalformedJson => "malformed_json",
            Self::NotAnObject => "not_an_object",
            Self::TooLarge => "too_large",
            Self::TooManyFields => "too_many_fields",
            Self::UnsupportedVersion => "unsupported_version",
            Self::UnknownType => "unknown_type",
            Self::InvalidMessage => "invalid_message",
            Self::InvalidField => "invalid_field",
            Self::RateLimited => "rate_limited",
            Self::NotJoined => "not_joined",
            Self::AlreadyJoined => "already_joined",
            Self::UnknownPeer => "unknown_peer",
            Self::WrongMode => "wrong_mode",
            Self::MlsRejected => "mls_rejected",
            Self::MlsConflict => "mls_conflict",
            Self::Forbidden => "forbidden",
            Self::InvalidFrame => "invalid_frame",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
            Self::TooManyErrors => "too_many_errors",
        }
    }
}

/// Why a `join` was refused (`denied.reason`). Deliberately coarse: a wrong, expired,
/// withdrawn or used-up invitation, an unknown tenant or room and a wrong room password
/// are all [`NotAccepted`](Self::NotAccepted), so the answer tells nobody which part of a
/// secret was wrong or which rooms exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DenyReason {
    /// The session token is invalid, expired or revoked: log in again.
    Unauthenticated,
    /// The invitation, guest link or room password was not accepted.
    NotAccepted,
    /// Authenticated, but not a participant who may take part in this session's call.
    Forbidden,
    /// Too many wrong secrets from this client address; `retry_after_ms` says when.
    TooManyRequests,
    /// The session is closed.
    SessionClosed,
    /// The call has used up its sender indices (65,536 joins); start a new session.
    CallFull,
    /// A dependency of the server failed; try again later.
    Unavailable,
}

/// A message could not be accepted. Carries the [`ErrorCode`] a client gets and, where
/// one is at fault, the static name of the field; never the input itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignalingError {
    /// See [`ErrorCode::MalformedJson`].
    #[error("malformed JSON")]
    MalformedJson,
    /// See [`ErrorCode::NotAnObject`].
    #[error("not a JSON object")]
    NotAnObject,
    /// The message (`field` = `"message"`) or one field is over its limit.
    #[error("{field} is over its limit of {limit}")]
    TooLarge {
        /// The field (or `"message"`).
        field: &'static str,
        /// The limit (bytes, or items for lists).
        limit: usize,
    },
    /// See [`ErrorCode::TooManyFields`].
    #[error("too many fields")]
    TooManyFields,
    /// See [`ErrorCode::UnsupportedVersion`].
    #[error("unsupported protocol version")]
    UnsupportedVersion,
    /// See [`ErrorCode::UnknownType`].
    #[error("unknown message type")]
    UnknownType,
    /// See [`ErrorCode::InvalidMessage`].
    #[error("invalid message shape")]
    InvalidMessage,
    /// See [`ErrorCode::InvalidField`].
    #[error("invalid value of {field}")]
    InvalidField {
        /// The field.
        field: &'static str,
    },
    /// See [`ErrorCode::RateLimited`].
    #[error("rate limited; retry after {retry_after:?}")]
    RateLimited {
        /// When the next message will be accepted.
        retry_after: Duration,
    },
}

impl SignalingError {
    /// The code an `error` message carries for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::MalformedJson => ErrorCode::MalformedJson,
            Self::NotAnObject => ErrorCode::NotAnObject,
            Self::TooLarge { .. } => ErrorCode::TooLarge,
            Self::TooManyFields => ErrorCode::TooManyFields,
            Self::UnsupportedVersion => ErrorCode::UnsupportedVersion,
            Self::UnknownType => ErrorCode::UnknownType,
            Self::InvalidMessage => ErrorCode::InvalidMessage,
            Self::InvalidField { .. } => ErrorCode::InvalidField,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
        }
    }

    /// The field at fault, if one is.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::TooLarge { field, .. } | Self::InvalidField { field } => Some(field),
            _ => None,
        }
    }
}
