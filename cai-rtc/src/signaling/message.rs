//! The messages of signaling protocol version 1, client to server ([`ClientMessage`]) and
//! server to client ([`ServerMessage`]). Every message is one JSON object with the
//! protocol version `v`, a `type`, and the type's own members; a client may add a numeric
//! `id` that the server's answer names in `in_reply_to`. `docs/SIGNALING.md` has an
//! example of each.
//!
//! Session descriptions and ICE candidates have the browser's own shapes
//! ([`SessionDescriptionInit`], [`IceCandidateInit`]); MLS handshake bytes are base64
//! ([`Blob`]). Parsing and validation live in [`parse`](super::parse).

use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cai_core::id::{RoomId, SessionId, SubjectId, TenantId};
use cai_crypto::sframe::CallId;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::error::{DenyReason, ErrorCode};
use super::limits::PROTOCOL_VERSION;
use crate::webrtc_json::{IceCandidateInit, SessionDescriptionInit};

/// A participant's index in the call's roster (`sender_index`), assigned by the server
/// in `admitted` and never reused within the call: it addresses offers, answers and
/// candidates, and is the low 16 bits of the participant's SFrame key id.
pub type SenderIndex = u16;

/// Bytes that travel as standard base64 with padding (RFC 4648 §4). `Debug` shows the
/// length only.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Blob(pub Vec<u8>);

impl fmt::Debug for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Blob({} bytes)", self.0.len())
    }
}

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        // The standard engine refuses non-zero trailing bits, so one text per value.
        STANDARD
            .decode(text.as_bytes())
            .map(Blob)
            .map_err(|_| serde::de::Error::custom("invalid base64"))
    }
}

/// Secret text (a token, an invitation secret, a room password): zeroized on drop,
/// redacted in `Debug`, compared in constant time.
#[derive(Clone, Default)]
pub struct SecretText(Zeroizing<String>);

impl SecretText {
    /// Wraps `text`.
    pub fn new(text: impl Into<String>) -> Self {
        Self(Zeroizing::new(text.into()))
    }

    /// The secret text; pass it on, never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl PartialEq for SecretText {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for SecretText {}

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretText(<redacted>)")
    }
}

impl Serialize for SecretText {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SecretText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self::new)
    }
}

/// How a `join` authenticates (`auth`, tagged by `kind`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum JoinAuth {
    /// A session token from `cai-auth` (an account's, or a guest's `cg1_…` from an
    /// earlier admission) and the session whose call to join:
    /// `{"kind":"token","token":"…","session":"ses_…"}`.
    Token {
        /// The bearer token.
        token: SecretText,
        /// The session.
        session: SessionId,
    },
    /// A guest with a pseudonym and a guest link (invitation secret) of an ad-hoc
    /// session: `{"kind":"guest_link","tenant":"ten_…","pseudonym":"Kim","secret":"inv_….<hex>"}`.
    GuestLink {
        /// The tenant of the link.
        tenant: TenantId,
        /// The name the guest is shown under (cai-core's `Pseudonym`).
        pseudonym: String,
        /// The guest link's secret.
        secret: SecretText,
    },
    /// Entering a counsellor's room with its password: `{"kind":"room","token":"…",
    /// "room":"rom_…","password":"…"}`. cai-core lets only accounts of the tenant into
    /// rooms, so the visitor authenticates with its session token too; the session is
    /// the room's current meeting.
    Room {
        /// The visitor's session token.
        token: SecretText,
        /// The room.
        room: RoomId,
        /// The room password.
        password: SecretText,
    },
}

/// `join`: asks to take part in a session's call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Join {
    /// How the client authenticates.
    pub auth: JoinAuth,
}

/// `offer` / `answer` as a client sends it: a session description for one peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DescriptionTo {
    /// The peer it is for.
    pub to: SenderIndex,
    /// The browser's `RTCSessionDescriptionInit`.
    pub description: SessionDescriptionInit,
    /// The sender's device signature over the description
    /// ([`sign_description`](super::sign_description)); end-to-end sessions require it
    /// of peers, the server relays it untouched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Blob>,
}

/// `ice` as a client sends it: one trickled candidate for one peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IceTo {
    /// The peer it is for.
    pub to: SenderIndex,
    /// The browser's `RTCIceCandidateInit` (an empty `candidate` ends the trickle).
    pub candidate: IceCandidateInit,
}

/// `mls_key_packages`: uploads key packages of the sender's devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlsKeyPackages {
    /// 1 to [`MAX_KEY_PACKAGES_PER_MESSAGE`](super::limits::MAX_KEY_PACKAGES_PER_MESSAGE)
    /// RFC 9420 key packages.
    pub packages: Vec<Blob>,
}

/// `mls_claim`: claims one key package per device of a participant, to add them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlsClaim {
    /// Whose devices (`acc_…` or `gst_…`).
    pub participant: SubjectId,
}

/// `mls_group`: the session owner's device starts the session's MLS group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlsGroup {
    /// The group's `GroupInfo` with its ratchet tree.
    pub group_info: Blob,
    /// The signed record of epoch 0.
    pub record: Blob,
}

/// `mls_commit`: a commit for the group's newest epoch, with the welcome for the devices
/// it adds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlsCommit {
    /// The MLS commit (a `PublicMessage`).
    pub commit: Blob,
    /// The signed record of the epoch it leads to.
    pub record: Blob,
    /// The welcome for added devices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub welcome: Option<Blob>,
}

/// `mls_sync`: asks for the accepted epochs after `after` (all when absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlsSync {
    /// The last epoch the device has processed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<u32>,
}

/// What a client sends, without the envelope (`v`, `id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientBody {
    /// Asks to be admitted to a session's call.
    Join(Join),
    /// An offer for one peer.
    Offer(DescriptionTo),
    /// An answer for one peer.
    Answer(DescriptionTo),
    /// A trickled candidate for one peer.
    Ice(IceTo),
    /// Leaves the call (the connection stays open and may `join` again).
    Leave,
    /// Uploads MLS key packages.
    MlsKeyPackages(MlsKeyPackages),
    /// Claims key packages of a participant.
    MlsClaim(MlsClaim),
    /// Starts the session's MLS group.
    MlsGroup(MlsGroup),
    /// A commit for the newest epoch.
    MlsCommit(MlsCommit),
    /// Asks for accepted epochs.
    MlsSync(MlsSync),
    /// Keep-alive; answered with `pong`.
    Ping,
}

/// A message from a client: the optional request id and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientMessage {
    /// The client's id for this message (`"id"`), echoed in `in_reply_to`.
    pub id: Option<u32>,
    /// What it says.
    pub body: ClientBody,
}

#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    v: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<u32>,
    #[serde(flatten)]
    body: &'a T,
}

fn to_json<T: Serialize>(id: Option<u32>, body: &T) -> String {
    let envelope = Envelope {
        v: PROTOCOL_VERSION,
        id,
        body,
    };
    // Serialising these types cannot fail: string keys, no maps with other keys, no
    // floats; the fallback keeps the function total all the same.
    serde_json::to_string(&envelope)
        .unwrap_or_else(|_| r#"{"v":1,"type":"error","code":"internal"}"#.to_owned())
}

impl ClientMessage {
    /// A message without an id.
    pub fn new(body: ClientBody) -> Self {
        Self { id: None, body }
    }

    /// The JSON text, as [`parse`](super::parse) reads it back.
    pub fn to_json(&self) -> String {
        to_json(self.id, &self.body)
    }
}

/// The session's protection (cai-core's `SessionMode`), as `admitted` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EncryptionMode {
    /// R-E1: the server seals at rest; media keys from the session's data key.
    ServerManaged,
    /// R-E2: per-session key.
    SessionKey,
    /// R-E3: passphrase.
    Passphrase,
    /// R-E4: end-to-end (MLS); media keys from the group's exporter.
    EndToEnd,
}

impl From<cai_core::domain::SessionMode> for EncryptionMode {
    fn from(m: cai_core::domain::SessionMode) -> Self {
        use cai_core::domain::SessionMode as M;
        match m {
            M::ServerManaged => Self::ServerManaged,
            M::SessionKey => Self::SessionKey,
            M::Passphrase => Self::Passphrase,
            M::EndToEnd => Self::EndToEnd,
            // A mode added later is reported as the least protective one: the indicator
            // may understate protection, never claim end-to-end falsely.
            _ => Self::ServerManaged,
        }
    }
}

/// A member of the call as others see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerInfo {
    /// The account or guest.
    pub participant: SubjectId,
    /// Its index in the call: address offers, answers and candidates to it.
    pub sender_index: SenderIndex,
}

/// `admitted`: the connection takes part in the call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Admitted {
    /// The session.
    pub session: SessionId,
    /// The call instance: 16 random bytes the hub draws when the first member is
    /// admitted and again whenever the call starts anew after it emptied, as 32 lowercase
    /// hex characters. Every member of one call instance gets the same value; session
    /// media keys are derived with it (`docs/SFRAME.md` §3a), so keys and recorded frames
    /// of one call are worthless in another even though sender indices repeat.
    #[serde(with = "call_hex")]
    pub call: CallId,
    /// Who the connection is.
    pub participant: SubjectId,
    /// Its index in the call's roster (SFrame KID low 16 bits).
    pub sender_index: SenderIndex,
    /// The others already in the call.
    pub peers: Vec<PeerInfo>,
    /// The session's encryption mode.
    pub mode: EncryptionMode,
    /// Whether the call is end-to-end encrypted (R-E5 indicator): `true` exactly when
    /// `mode` is `end_to_end`, so media keys come from MLS, which the server never holds.
    pub end_to_end: bool,
    /// The session's current key epoch.
    pub key_epoch: u32,
    /// For a guest admitted through a guest link: its session token (`cg1_…`), to
    /// rejoin and to call the REST API. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_token: Option<SecretText>,
}

/// `admitted.call` on the wire: [`CallId`]'s 32 lowercase hex characters, nothing else.
mod call_hex {
    use cai_crypto::sframe::CallId;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(id: &CallId, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(id)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<CallId, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        CallId::parse_hex(&text).map_err(|_| serde::de::Error::custom("invalid call id"))
    }
}

/// `offer` / `answer` as the server relays it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DescriptionFrom {
    /// The sending peer.
    pub from: SenderIndex,
    /// Its session description, unchanged.
    pub description: SessionDescriptionInit,
    /// Its signature, unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Blob>,
}

/// `ice` as the server relays it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IceFrom {
    /// The sending peer.
    pub from: SenderIndex,
    /// Its candidate, unchanged.
    pub candidate: IceCandidateInit,
}

/// `mls_epoch`: an epoch the Delivery Service accepted. Delivered to every connection of
/// the call in epoch order: the epoch is the per-session sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlsEpoch {
    /// The epoch (0: the group's creation, `commit` empty).
    pub epoch: u32,
    /// The commit that led into it.
    pub commit: Blob,
    /// Its signed record.
    pub record: Blob,
    /// The welcome for the devices the commit added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub welcome: Option<Blob>,
    /// Who committed.
    pub committed_by: SubjectId,
}

/// Why the server ended a connection's part in the call (`ended.reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The participant was removed from the session.
    Removed,
    /// The session was closed.
    SessionClosed,
    /// A periodic re-check of the admission failed (`HubConfig::recheck_every`): the
    /// token the connection authenticated with no longer does (revoked, expired, the
    /// account locked or deactivated), or the participant may no longer take part in
    /// the session.
    Revoked,
}

/// What the server sends, without the envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ServerMessage {
    /// The join was accepted.
    Admitted(Admitted),
    /// The room's host has not admitted the visitor yet; `admitted` follows when they do.
    Waiting {
        /// The meeting waited for.
        session: SessionId,
    },
    /// The join was refused; the connection stays open for another attempt.
    Denied {
        /// Why.
        reason: DenyReason,
        /// For `too_many_requests`: when to try again, in milliseconds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
        /// The `id` of the `join`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        in_reply_to: Option<u32>,
    },
    /// Someone joined the call.
    PeerJoined(PeerInfo),
    /// Someone left the call (or lost their connection).
    PeerLeft {
        /// Who.
        sender_index: SenderIndex,
    },
    /// An offer from a peer.
    Offer(DescriptionFrom),
    /// An answer from a peer.
    Answer(DescriptionFrom),
    /// A candidate from a peer.
    Ice(IceFrom),
    /// Key packages stored.
    MlsStored {
        /// How many of the sender's key packages are stored now.
        count: u32,
        /// The `id` of the `mls_key_packages`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        in_reply_to: Option<u32>,
    },
    /// The key packages claimed, one per device (empty: none published).
    MlsClaimed {
        /// Whose.
        participant: SubjectId,
        /// The packages.
        packages: Vec<Blob>,
        /// The `id` of the `mls_claim`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        in_reply_to: Option<u32>,
    },
    /// An accepted epoch, in order.
    MlsEpoch(MlsEpoch),
    /// The session's key epoch changed; media keys move to it.
    KeyEpoch {
        /// The new epoch.
        epoch: u32,
    },
    /// A message was refused; the connection stays usable (except after
    /// `too_many_errors`).
    Error {
        /// What went wrong.
        code: ErrorCode,
        /// The field at fault, if one is.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        field: Option<String>,
        /// For `rate_limited`: when the next message is accepted, in milliseconds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
        /// The `id` of the refused message, if it had one that could be read.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        in_reply_to: Option<u32>,
    },
    /// The answer to `ping`.
    Pong {
        /// The `id` of the `ping`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        in_reply_to: Option<u32>,
    },
    /// The connection's part in the call is over; the server closes it next.
    Ended {
        /// Why.
        reason: EndReason,
    },
}

impl ServerMessage {
    /// The JSON text (`{"v":1,"type":…}`).
    pub fn to_json(&self) -> String {
        to_json(None, self)
    }

    /// Reads a server message (for Rust clients and tests): at most
    /// [`MAX_MESSAGE_BYTES`](super::limits::MAX_MESSAGE_BYTES), version 1, no unknown
    /// members. Fails with the first of [`TooLarge`](super::SignalingError::TooLarge),
    /// [`MalformedJson`](super::SignalingError::MalformedJson),
    /// [`NotAnObject`](super::SignalingError::NotAnObject),
    /// [`UnsupportedVersion`](super::SignalingError::UnsupportedVersion),
    /// [`InvalidField`](super::SignalingError::InvalidField) `call` (an `admitted` whose
    /// `call` is missing or not exactly 32 lowercase hex characters), and
    /// [`InvalidMessage`](super::SignalingError::InvalidMessage) for any other shape.
    pub fn parse(bytes: &[u8]) -> Result<Self, super::SignalingError> {
        use super::SignalingError as E;
        if bytes.len() > super::limits::MAX_MESSAGE_BYTES {
            return Err(E::TooLarge {
                field: "message",
                limit: super::limits::MAX_MESSAGE_BYTES,
            });
        }
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|_| E::MalformedJson)?;
        let serde_json::Value::Object(mut map) = value else {
            return Err(E::NotAnObject);
        };
        if map.remove("v") != Some(serde_json::Value::from(PROTOCOL_VERSION)) {
            return Err(E::UnsupportedVersion);
        }
        // The call id keys the media (docs/SFRAME.md §3a): a missing or bad one is named,
        // not lost in the shape error below.
        if map.get("type").and_then(serde_json::Value::as_str) == Some("admitted")
            && map
                .get("call")
                .and_then(serde_json::Value::as_str)
                .is_none_or(|c| CallId::parse_hex(c).is_err())
        {
            return Err(E::InvalidField { field: "call" });
        }
        serde_json::from_value(serde_json::Value::Object(map)).map_err(|_| E::InvalidMessage)
    }
}
