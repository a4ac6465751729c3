//! Sessions (classic, ad-hoc, rooms), participants and invitations (R-S1..R-S3), with
//! the encryption mode fixed at creation (R-E1..R-E4).

use std::fmt;

use cai_crypto::modes::SessionMode;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::retention::ContentRetention;
use super::text::Name;
use crate::error::{Error, Result};
use crate::id::{AccountId, GroupId, InvitationId, RoomId, SessionId, SubjectId, TenantId};
use crate::time::Timestamp;

/// How a session came to be and how people get in. JSON: `{"type":"classic"}`,
/// `{"type":"ad_hoc"}`, `{"type":"room","room":"rom_…"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "SessionKindJson", into = "SessionKindJson")]
pub enum SessionKind {
    /// Invite by contact request; the invitee creates an account and can re-enter at
    /// any time (R-S1).
    Classic,
    /// Join with a pseudonym and an invitation secret, no account (R-S2).
    AdHoc,
    /// The session of a counsellor's personal room (R-S3).
    Room(RoomId),
}

/// Open or closed. JSON: `{"type":"open"}`, `{"type":"closed","at":"…"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SessionStatus {
    /// Participants can post.
    Open,
    /// Read-only (or its content deleted, per the retention policy).
    Closed {
        /// When it was closed.
        at: Timestamp,
    },
}

/// A counselling session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The session's id.
    pub id: SessionId,
    /// Its tenant.
    pub tenant: TenantId,
    /// Classic, ad-hoc or room.
    pub kind: SessionKind,
    /// Optional title (visible to the server; keep it non-identifying).
    pub title: Option<Name>,
    /// Encryption mode, fixed at creation.
    #[serde(with = "crate::json::mode")]
    pub mode: SessionMode,
    /// The account that created it (the host).
    pub owner: AccountId,
    /// Groups whose members may work on the session (team counselling, R-I4), sorted.
    pub groups: Vec<GroupId>,
    /// What closing does to the content.
    pub on_close: ContentRetention,
    /// Current key epoch: end-to-end sessions follow their MLS group's epoch;
    /// server-managed and session-key sessions move to a fresh data key when someone
    /// loses access (docs/CORE.md, "Key epochs outside end-to-end mode"); passphrase
    /// sessions stay at 0.
    pub key_epoch: u32,
    /// The creator's signed mode descriptor (`cai_crypto::modes::ModeDescriptor`), once
    /// the owner attached it ([`Counselling::attach_mode_descriptor`]); its binding is
    /// then part of every item's context. Always `None` in end-to-end sessions, whose
    /// MLS group carries the descriptor. JSON: base64 or `null`.
    ///
    /// [`Counselling::attach_mode_descriptor`]: crate::service::Counselling::attach_mode_descriptor
    #[serde(default, with = "crate::json::base64_opt")]
    pub mode_descriptor: Option<Vec<u8>>,
    /// When it was created.
    pub created_at: Timestamp,
    /// Last post or join, for the inactive-session deadline.
    pub last_activity: Timestamp,
    /// Open or closed.
    pub status: SessionStatus,
    /// Incremented by the store on every update.
    pub revision: u64,
}

impl Session {
    /// The binding of the session's mode descriptor that every item context carries
    /// (`None` without a descriptor).
    pub fn mode_binding(&self) -> Option<cai_crypto::ModeBinding> {
        self.mode_descriptor
            .as_deref()
            .map(cai_crypto::ModeBinding::of_accepted)
    }

    /// Whether the session accepts posts and joins.
    pub fn is_open(&self) -> bool {
        matches!(self.status, SessionStatus::Open)
    }
}

/// A participant's part in one session; decides what the session lets them do
/// together with their tenant roles. JSON: `"host"`, `"counsellor"`, `"client"`,
/// `"guest"`, `"waiting"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParticipantRole {
    /// The session's owner.
    Host,
    /// Another counsellor (team counselling, handover).
    Counsellor,
    /// The advice seeker.
    Client,
    /// An ad-hoc guest.
    Guest,
    /// Entered a room with its password and waits in the lobby until the host admits
    /// them: may do nothing in the meeting, not even see it.
    Waiting,
}

/// One subject's membership in one session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    /// The session.
    pub session: SessionId,
    /// Its tenant.
    pub tenant: TenantId,
    /// Who.
    pub subject: SubjectId,
    /// In what part.
    pub role: ParticipantRole,
    /// When they were added.
    pub joined_at: Timestamp,
}

/// What a room keeps of its meetings' content. JSON: `"keep"`, `"nothing"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomContent {
    /// Content posted in a meeting is stored like any session's, and kept or deleted
    /// when the meeting ends as the tenant's retention policy says.
    #[default]
    Keep,
    /// Nothing is stored: posting content is refused and chat travels only over the
    /// live transport; ending a meeting shreds its keys.
    Nothing,
}

/// A counsellor's personal room (R-S3): a door, not a conversation. Entering needs the
/// room id and a password its owner can change; whoever enters joins the room's
/// *current meeting*, a session of its own. The owner starts a new meeting (and
/// changing the password starts one too), so what was said in one meeting is never
/// visible in the next, as in the personal meeting rooms of video products. `Debug`
/// leaves out the password verifier, and so does JSON: `password` is never serialized
/// and deserializes as empty.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Room {
    /// The room's id (what people type or follow to enter).
    pub id: RoomId,
    /// Its tenant.
    pub tenant: TenantId,
    /// The counsellor whose room it is (its admin).
    pub owner: AccountId,
    /// Display name.
    pub name: Name,
    /// The session of the current meeting (closed once the meeting ended).
    pub session: SessionId,
    /// The encryption mode of its meetings.
    #[serde(with = "crate::json::mode")]
    pub mode: SessionMode,
    /// What its meetings keep.
    pub content: RoomContent,
    /// Argon2id verifier of the room password (a `cai-crypto` passphrase record; no
    /// key is derived from it). Offline-guessable, so never in JSON.
    #[serde(skip)]
    pub password: Vec<u8>,
    /// Incremented by the store on every update.
    pub revision: u64,
}

impl fmt::Debug for Room {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Room")
            .field("id", &self.id)
            .field("tenant", &self.tenant)
            .field("owner", &self.owner)
            .field("name", &self.name)
            .field("session", &self.session)
            .field("mode", &self.mode)
            .field("content", &self.content)
            .field("password", &"<redacted>")
            .field("revision", &self.revision)
            .finish()
    }
}

/// What an invitation admits. JSON: `{"type":"contact"}`,
/// `{"type":"guest_link","max_uses":5}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InvitationKind {
    /// A contact request for a classic session: accepted once, by someone who then
    /// creates an account (R-S1). The invitee's address is used to send it and never
    /// stored.
    Contact,
    /// A guest link for an ad-hoc session, usable up to `max_uses` times (R-S2).
    GuestLink {
        /// How many guests may join with it.
        max_uses: u32,
    },
}

/// Where an invitation stands. JSON: `{"type":"pending"}`,
/// `{"type":"accepted","by":"acc_…","at":"…"}`, `{"type":"closed"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InvitationStatus {
    /// Can be used.
    Pending,
    /// A contact request that was accepted.
    Accepted {
        /// By which account.
        by: AccountId,
        /// When.
        at: Timestamp,
    },
    /// Withdrawn or used up.
    Closed,
}

/// An invitation to a session. Stores only a hash of its secret: whoever reads the
/// database cannot join with it, and JSON leaves the hash out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    /// The invitation's id.
    pub id: InvitationId,
    /// Its tenant.
    pub tenant: TenantId,
    /// The session it admits to.
    pub session: SessionId,
    /// Contact request or guest link.
    pub kind: InvitationKind,
    /// SHA-256 of the secret. Of no use to a client and offline-guessable for a weak
    /// secret, so never in JSON; deserializes as zeros.
    #[serde(skip)]
    pub secret_hash: [u8; 32],
    /// For contact requests: binds the invited address without storing it (R-S1):
    /// [`InvitationSecret::address_binding`] of the secret and the address. Whoever
    /// accepts must name that address, and the account gets it. Useless without the
    /// secret, which only the invited mailbox received. Never in JSON (a client has no
    /// use for it); deserializes as `None`.
    #[serde(skip)]
    pub address_binding: Option<[u8; 32]>,
    /// Who sent it.
    pub created_by: AccountId,
    /// When it was sent.
    pub created_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// How often it was used.
    pub uses: u32,
    /// Where it stands.
    pub status: InvitationStatus,
    /// Incremented by the store on every update.
    pub revision: u64,
}

impl Invitation {
    /// Whether `secret` is this invitation's secret (constant time).
    pub fn matches(&self, secret: &InvitationSecret) -> bool {
        secret.hash().ct_eq(&self.secret_hash).into()
    }
}

/// The secret that travels in an invitation: 32 random bytes. Its text form is
/// `<invitation id>.<64 hex digits>`, so the server can find the invitation without
/// an index on the secret and compare the secret in constant time. Zeroized on drop,
/// redacted in `Debug`. Put it in a URL *fragment* or a form body, never in a query
/// string or path a proxy logs (R-A8).
///
/// JSON: the text form, a string. It is a bearer secret meant for the invitee: send it
/// to the inviter's client or the invitee only.
#[derive(Clone)]
pub struct InvitationSecret {
    id: InvitationId,
    secret: Zeroizing<[u8; 32]>,
}

impl InvitationSecret {
    /// A fresh secret for invitation `id`.
    pub fn generate(id: InvitationId) -> Result<Self> {
        let mut secret = Zeroizing::new([0u8; 32]);
        getrandom::fill(secret.as_mut()).map_err(|_| Error::Rng)?;
        Ok(Self { id, secret })
    }

    /// The invitation it belongs to.
    pub fn invitation(&self) -> InvitationId {
        self.id
    }

    /// SHA-256 of the secret bytes, what the store keeps.
    pub fn hash(&self) -> [u8; 32] {
        use sha2::Digest;
        sha2::Sha256::digest(self.secret.as_ref()).into()
    }

    /// Binds `email` to this secret: SHA-256 over a label, the secret and the address
    /// (as [`Email::parse`](super::text::Email::parse) normalised it).
    /// Stored instead of the address, it reveals nothing about it to whoever lacks the
    /// secret (the secret's 256 bits rule out guessing both).
    pub fn address_binding(&self, email: &super::text::Email) -> [u8; 32] {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(b"cai invitation address v1\0");
        h.update(self.secret.as_ref());
        h.update(email.as_str().as_bytes());
        h.finalize().into()
    }

    /// Whether `email` is the address this secret was sent to, given the stored
    /// binding (constant time).
    pub fn binds(&self, binding: &[u8; 32], email: &super::text::Email) -> bool {
        self.address_binding(email).ct_eq(binding).into()
    }

    /// The text form to send (`inv_….<hex>`). Treat it as a password.
    pub fn expose(&self) -> Zeroizing<String> {
        Zeroizing::new(format!("{}.{}", self.id, hex::encode(self.secret.as_ref())))
    }

    /// Parses the text form.
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = Error::Invalid {
            what: "invitation secret",
            reason: "malformed",
        };
        let (id, secret_hex) = text.split_once('.').ok_or(invalid.clone())?;
        let id = InvitationId::parse(id).map_err(|_| invalid.clone())?;
        // One text form per secret: lowercase hex only.
        if secret_hex.len() != 64
            || !secret_hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(invalid);
        }
        let mut secret = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(secret_hex, secret.as_mut()).map_err(|_| invalid)?;
        Ok(Self { id, secret })
    }
}

impl Serialize for InvitationSecret {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.expose())
    }
}

impl<'de> Deserialize<'de> for InvitationSecret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = crate::json::secret_text(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl fmt::Debug for InvitationSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InvitationSecret({}, <redacted>)", self.id)
    }
}

/// The JSON shape of [`SessionKind`]: internally tagged, a room's id as a field.
#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum SessionKindJson {
    Classic,
    AdHoc,
    Room { room: RoomId },
}

impl From<SessionKind> for SessionKindJson {
    fn from(k: SessionKind) -> Self {
        match k {
            SessionKind::Classic => Self::Classic,
            SessionKind::AdHoc => Self::AdHoc,
            SessionKind::Room(room) => Self::Room { room },
        }
    }
}

impl From<SessionKindJson> for SessionKind {
    fn from(k: SessionKindJson) -> Self {
        match k {
            SessionKindJson::Classic => Self::Classic,
            SessionKindJson::AdHoc => Self::AdHoc,
            SessionKindJson::Room { room } => Self::Room(room),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_round_trips_and_is_redacted() {
        let s = InvitationSecret::generate(InvitationId::random().unwrap()).unwrap();
        let text = s.expose();
        let back = InvitationSecret::parse(&text).unwrap();
        assert_eq!(back.hash(), s.hash());
        assert!(!format!("{s:?}").contains(&text[text.len() - 64..]));
        for bad in ["", "x.y", &text[..text.len() - 1], &text.replace('.', "-")] {
            assert!(InvitationSecret::parse(bad).is_err());
        }
    }
}
