//! Audit events (R-U1): who did what to which object when, with property-level before
//! and after values. Events are written in the same atomic commit as the change they
//! describe, so there is no change without its event. Values are never secrets: a
//! changed password or room password is recorded as changed, not as its value.

use serde::{Deserialize, Serialize};

use crate::authz::Action;
use crate::id::{
    AccountId, EventId, GroupId, IncidentId, InvitationId, ItemId, RoleId, RoomId, SessionId,
    SubjectId, TenantId,
};
use crate::time::Timestamp;

/// Who caused an event. JSON: `{"type":"subject","subject":"acc_…"}`,
/// `{"type":"operator"}`, `{"type":"system"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "AuditActorJson", into = "AuditActorJson")]
pub enum AuditActor {
    /// An account or guest.
    Subject(SubjectId),
    /// The platform operator (for example creating a tenant).
    Operator,
    /// A scheduled job (pseudonymisation, retention).
    System,
}

/// The object an event is about. JSON: `{"type":"session","session":"ses_…"}`, the
/// field named like the type, for every kind of object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "AuditObjectJson", into = "AuditObjectJson")]
pub enum AuditObject {
    /// The tenant itself.
    Tenant(TenantId),
    /// An account.
    Account(AccountId),
    /// A guest.
    Guest(crate::id::GuestId),
    /// A role.
    Role(RoleId),
    /// A group.
    Group(GroupId),
    /// A session.
    Session(SessionId),
    /// An invitation.
    Invitation(InvitationId),
    /// A content item.
    Item(ItemId),
    /// A room.
    Room(RoomId),
    /// An incident.
    Incident(IncidentId),
}

/// What happened. JSON: the snake_case name (`"role_granted"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuditKind {
    /// A tenant was created.
    TenantCreated,
    /// A tenant's settings changed.
    TenantSettingsChanged,
    /// An account was created.
    AccountCreated,
    /// An account's profile changed.
    AccountUpdated,
    /// An account was deactivated.
    AccountDeactivated,
    /// An account was reactivated.
    AccountReactivated,
    /// An account was pseudonymised.
    AccountPseudonymised,
    /// An account was deleted.
    AccountDeleted,
    /// A role was granted.
    RoleGranted,
    /// A role was revoked.
    RoleRevoked,
    /// A role was created.
    RoleCreated,
    /// A role's permissions changed.
    RolePermissionsChanged,
    /// A group was created.
    GroupCreated,
    /// A group's members changed.
    GroupMembersChanged,
    /// A session was created.
    SessionCreated,
    /// A session was closed.
    SessionClosed,
    /// Someone joined a session.
    ParticipantJoined,
    /// Someone was removed from a session.
    ParticipantRemoved,
    /// An invitation was sent.
    InvitationSent,
    /// An invitation was accepted.
    InvitationAccepted,
    /// An invitation was withdrawn.
    InvitationWithdrawn,
    /// A guest joined.
    GuestJoined,
    /// A room was created.
    RoomCreated,
    /// A room's password changed.
    RoomPasswordChanged,
    /// A room was entered.
    RoomEntered,
    /// A room's meeting ended and a new one started.
    MeetingStarted,
    /// Content was posted.
    ContentPosted,
    /// A new version of an item was written.
    ContentEdited,
    /// An item was deleted.
    ContentDeleted,
    /// Key material of a session changed (new epoch, history shared).
    SessionKeysChanged,
    /// History keys were shared with a counsellor (R-E4b).
    HistoryShared,
    /// An action was denied (recorded for security-relevant denials).
    AccessDenied,
    /// An incident was recorded.
    IncidentRecorded,
    /// Someone logged in: with a password, a passkey, an identity provider's token
    /// or a guest link (R-A9). `cai-auth` records it.
    LoginSucceeded,
    /// A login failed (R-A9); the object is the account, or the tenant when no
    /// account was found.
    LoginFailed,
    /// A credential of an account was set, changed or removed: password, second
    /// factor, recovery codes, passkey, identity-provider link. Never its value.
    CredentialChanged,
    /// An account was locked after too many failures (R-A3).
    AccountLocked,
    /// The retention engine deleted a closed session's content after its deadline and
    /// shredded its keys (R-P2, R-P4).
    SessionContentExpired,
    /// The retention engine deleted a session without activity, content and keys
    /// included (R-P2, R-P4).
    SessionExpired,
    /// The retention engine deleted a guest after its deadline (R-P2).
    GuestDeleted,
    /// A report was read (R-P6); the object is the tenant, the change names the query.
    ReportViewed,
}

/// One property's change. Values are short display strings, never secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The property (`status`, `roles`, `settings.default_mode`, …).
    pub property: String,
    /// The value before, if there was one.
    pub before: Option<String>,
    /// The value after, if there is one.
    pub after: Option<String>,
}

impl Change {
    /// A change of `property` from `before` to `after`.
    pub fn new(
        property: impl Into<String>,
        before: Option<impl ToString>,
        after: Option<impl ToString>,
    ) -> Self {
        Self {
            property: property.into(),
            before: before.map(|v| v.to_string()),
            after: after.map(|v| v.to_string()),
        }
    }
}

/// One entry of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// The event's id.
    pub id: EventId,
    /// The tenant whose trail it belongs to.
    pub tenant: TenantId,
    /// When.
    pub at: Timestamp,
    /// Who.
    pub actor: AuditActor,
    /// What happened.
    pub kind: AuditKind,
    /// To what.
    pub object: AuditObject,
    /// Property-level changes.
    pub changes: Vec<Change>,
    /// Which action the actor was authorized for, and by which rule (the decision's
    /// explanation), if the event followed an authorization. JSON:
    /// `{"action":"grant_role","explanation":"…"}` or `null`.
    #[serde(default, with = "authorized_json")]
    pub authorized: Option<(Action, String)>,
    /// Whether the tenant's admins are notified of it (R-I5).
    pub security_relevant: bool,
    /// The request it came from, as the host named it (id, client address).
    pub request: super::request::RequestMeta,
}

/// The JSON shape of [`AuditActor`]: internally tagged, the subject as a field.
#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum AuditActorJson {
    Subject { subject: SubjectId },
    Operator,
    System,
}

impl From<AuditActor> for AuditActorJson {
    fn from(a: AuditActor) -> Self {
        match a {
            AuditActor::Subject(subject) => Self::Subject { subject },
            AuditActor::Operator => Self::Operator,
            AuditActor::System => Self::System,
        }
    }
}

impl From<AuditActorJson> for AuditActor {
    fn from(a: AuditActorJson) -> Self {
        match a {
            AuditActorJson::Subject { subject } => Self::Subject(subject),
            AuditActorJson::Operator => Self::Operator,
            AuditActorJson::System => Self::System,
        }
    }
}

macro_rules! audit_object_json {
    ($($variant:ident($field:ident: $id:ty),)*) => {
        /// The JSON shape of [`AuditObject`]: internally tagged, the id in a field named
        /// like the tag.
        #[derive(Serialize, Deserialize)]
        #[serde(tag = "type", rename_all = "snake_case")]
        enum AuditObjectJson {
            $($variant { $field: $id },)*
        }

        impl From<AuditObject> for AuditObjectJson {
            fn from(o: AuditObject) -> Self {
                match o {
                    $(AuditObject::$variant($field) => Self::$variant { $field },)*
                }
            }
        }

        impl From<AuditObjectJson> for AuditObject {
            fn from(o: AuditObjectJson) -> Self {
                match o {
                    $(AuditObjectJson::$variant { $field } => Self::$variant($field),)*
                }
            }
        }
    };
}

audit_object_json! {
    Tenant(tenant: TenantId),
    Account(account: AccountId),
    Guest(guest: crate::id::GuestId),
    Role(role: RoleId),
    Group(group: GroupId),
    Session(session: SessionId),
    Invitation(invitation: InvitationId),
    Item(item: ItemId),
    Room(room: RoomId),
    Incident(incident: IncidentId),
}

/// [`AuditEvent::authorized`] as `{"action":…,"explanation":…}` or `null`.
mod authorized_json {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::authz::Action;

    #[derive(Serialize)]
    struct Out<'a> {
        action: Action,
        explanation: &'a str,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct In {
        action: Action,
        explanation: String,
    }

    pub(super) fn serialize<S: Serializer>(
        v: &Option<(Action, String)>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        v.as_ref()
            .map(|(action, explanation)| Out {
                action: *action,
                explanation,
            })
            .serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<(Action, String)>, D::Error> {
        Ok(Option::<In>::deserialize(d)?.map(|i| (i.action, i.explanation)))
    }
}
