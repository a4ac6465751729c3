//! Deny-by-default, relationship-based authorization.
//!
//! [`authorize`]`(principal, action, resource)` answers [`Decision::Deny`] unless a rule
//! allows. A rule is a permission (granted by one of the principal's tenant roles)
//! *and* a relation between the principal and the resource: being the account itself,
//! a participant of the session (in some part), a member of a group the session is
//! shared with, the owner of the room, the author of the item. RBAC with tenants as
//! domains is the special case of rules that need no relation (tenant-wide actions).
//! The model is Zanzibar's: relations come from the resource ([`SessionView`]), roles and
//! groups from the principal.
//!
//! Fixed rules that no tenant configuration can lift:
//! - A resource of another tenant is always denied ([`DenyReason::TenantMismatch`]); the
//!   service records it as an incident (R-T1, R-U3).
//! - Content actions need participation or team membership: a permission alone never
//!   reads a session, so administrators do not read content by virtue of being
//!   administrators (R-I3).
//! - Administrative actions ([`Action::is_administrative`]) need a second factor and an
//!   authentication within the tenant's re-authentication window.
//! - A guest acts only in its one session, with at most [`GUEST_CAP`].
//! - Nobody approves their own password reset (four eyes, R-A6) or changes their own
//!   roles: an administrator cannot make itself a counsellor and so a reader of content
//!   (R-I3); another administrator must, and every grant is announced (R-I5).
//!
//! Every [`Decision`] explains itself: which rule and role allowed it, or why it was
//! denied. `authorize` allocates nothing and runs in tens of nanoseconds
//! (`docs/BENCHMARKS.md`).
//!
//! ```
//! use std::time::Duration;
//! use cai_core::authz::{authorize, Action, Authentication, Principal, Resource, SessionView};
//! use cai_core::domain::{BuiltinRole, ParticipantRole};
//! use cai_core::id::*;
//! use cai_core::Timestamp;
//!
//! let tenant = TenantId::random()?;
//! let me = AccountId::random()?;
//! let now = Timestamp::from_unix_millis(1_000_000);
//! let counsellor = BuiltinRole::Counsellor;
//! let principal = Principal::account(
//!     tenant,
//!     me,
//!     vec![(counsellor.id(), counsellor.default_permissions())],
//!     vec![],
//!     Authentication { second_factor: false, at: now },
//!     now,
//!     Duration::from_secs(900),
//! );
//! let participants = [(SubjectId::Account(me), ParticipantRole::Host)];
//! let session = SessionView {
//!     tenant,
//!     session: SessionId::random()?,
//!     owner: me,
//!     participants: &participants,
//!     groups: &[],
//!     open: true,
//!     item_author: None,
//! };
//! let decision = authorize(&principal, Action::ReadContent, &Resource::Session(session));
//! assert!(decision.is_allowed());
//! println!("{decision}"); // allowed read_content: session participant (host), role rol_…
//! # Ok::<(), cai_core::Error>(())
//! ```

mod action;
mod principal;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use action::{Action, PermissionSet};
pub use principal::{Authentication, GUEST_CAP, Principal};

use crate::domain::ParticipantRole;
use crate::error::{Error, Result};
use crate::id::{AccountId, GroupId, RoleId, RoomId, SessionId, SubjectId, TenantId};

/// What a principal asks to act on, with the relations `authorize` needs.
#[derive(Debug, Clone, Copy)]
pub enum Resource<'a> {
    /// The tenant as a whole (settings, roles, audit trail; creating sessions, rooms,
    /// groups).
    Tenant(TenantId),
    /// An account of a tenant.
    Account {
        /// Its tenant.
        tenant: TenantId,
        /// The account.
        account: AccountId,
    },
    /// A group.
    Group {
        /// Its tenant.
        tenant: TenantId,
        /// The group.
        group: GroupId,
    },
    /// A session with its relations.
    Session(SessionView<'a>),
    /// A room.
    Room {
        /// Its tenant.
        tenant: TenantId,
        /// The room.
        room: RoomId,
        /// The counsellor whose room it is.
        owner: AccountId,
    },
}

impl Resource<'_> {
    /// The tenant the resource belongs to.
    pub fn tenant(&self) -> TenantId {
        match self {
            Resource::Tenant(t) => *t,
            Resource::Account { tenant, .. }
            | Resource::Group { tenant, .. }
            | Resource::Room { tenant, .. } => *tenant,
            Resource::Session(s) => s.tenant,
        }
    }
}

/// A session as `authorize` sees it: borrowed, so building one allocates nothing.
#[derive(Debug, Clone, Copy)]
pub struct SessionView<'a> {
    /// Its tenant.
    pub tenant: TenantId,
    /// The session.
    pub session: SessionId,
    /// The account that owns (hosts) it.
    pub owner: AccountId,
    /// Participants and their parts (a handful; scanned linearly).
    pub participants: &'a [(SubjectId, ParticipantRole)],
    /// Groups the session is shared with, sorted.
    pub groups: &'a [GroupId],
    /// Whether it is open.
    pub open: bool,
    /// For item actions (edit, delete): the item's author.
    pub item_author: Option<SubjectId>,
}

/// Which rule allowed an action. JSON: internally tagged, `{"type":"own_account"}`,
/// `{"type":"participant","participant_role":"host"}`, `{"type":"team","group":"grp_…"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "RuleJson", into = "RuleJson")]
pub enum Rule {
    /// A tenant-wide permission, no relation needed (non-administrative).
    TenantPermission,
    /// An administrative permission, with a second factor and a recent authentication.
    Administration,
    /// The principal acts on its own account.
    OwnAccount,
    /// The principal takes part in the session in this part.
    Participant(ParticipantRole),
    /// The principal is a member of this group, which the session is shared with.
    Team(GroupId),
    /// The principal wrote the item (edit, delete).
    ItemAuthor,
    /// The principal owns the room.
    RoomOwner,
    /// Any account of the tenant may try to enter a room (the room password decides).
    RoomEntry,
}

/// Why an action was denied. JSON: internally tagged, `{"type":"no_permission"}`,
/// `{"type":"tenant_mismatch","principal":"ten_…","resource":"ten_…"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DenyReason {
    /// The resource belongs to another tenant. Always an incident.
    TenantMismatch {
        /// The principal's tenant.
        principal: TenantId,
        /// The resource's tenant.
        resource: TenantId,
    },
    /// No role of the principal grants the action.
    NoPermission,
    /// The action does not apply to this kind of resource.
    NotApplicable,
    /// The principal has no relation to the session that allows the action
    /// (not a participant in the needed part, not in a shared group).
    NoRelation,
    /// Administrative action without a verified second factor.
    SecondFactorRequired,
    /// Administrative action without a recent enough authentication.
    ReauthenticationRequired,
    /// A guest asked for something outside its one session.
    GuestOutOfScope,
    /// A self-service action on someone else's account.
    NotOwnAccount,
    /// Approving one's own password reset, or granting or revoking one's own roles
    /// (four eyes).
    FourEyes,
    /// Editing or deleting someone else's item.
    NotAuthor,
    /// Changing a closed session.
    SessionClosed,
    /// Managing someone else's room.
    NotRoomOwner,
}

/// The answer of [`authorize`], with its explanation. JSON: internally tagged,
/// `{"type":"allow","action":…,"rule":{…},"role":"rol_…"}` or
/// `{"type":"deny","action":…,"reason":{…}}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Decision {
    /// Allowed.
    Allow {
        /// What was asked.
        action: Action,
        /// The rule that allowed it.
        rule: Rule,
        /// The role whose permission it used.
        role: RoleId,
    },
    /// Denied.
    Deny {
        /// What was asked.
        action: Action,
        /// Why not.
        reason: DenyReason,
    },
}

impl DenyReason {
    /// A stable snake_case name (as in JSON's `"type"`), for metrics labels and logs.
    pub const fn code(&self) -> &'static str {
        match self {
            DenyReason::TenantMismatch { .. } => "tenant_mismatch",
            DenyReason::NoPermission => "no_permission",
            DenyReason::NotApplicable => "not_applicable",
            DenyReason::NoRelation => "no_relation",
            DenyReason::SecondFactorRequired => "second_factor_required",
            DenyReason::ReauthenticationRequired => "reauthentication_required",
            DenyReason::GuestOutOfScope => "guest_out_of_scope",
            DenyReason::NotOwnAccount => "not_own_account",
            DenyReason::FourEyes => "four_eyes",
            DenyReason::NotAuthor => "not_author",
            DenyReason::SessionClosed => "session_closed",
            DenyReason::NotRoomOwner => "not_room_owner",
        }
    }
}

impl Decision {
    /// Whether the action is allowed.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow { .. })
    }

    /// The decision as a result: `Err(Error::Denied)` for a denial.
    pub fn into_result(self) -> Result<Decision> {
        match self {
            Decision::Allow { .. } => Ok(self),
            Decision::Deny { action, reason } => Err(Error::Denied { action, reason }),
        }
    }
}

/// The JSON shape of [`Rule`]: internally tagged, a variant's value as a named field.
#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum RuleJson {
    TenantPermission,
    Administration,
    OwnAccount,
    Participant { participant_role: ParticipantRole },
    Team { group: GroupId },
    ItemAuthor,
    RoomOwner,
    RoomEntry,
}

impl From<Rule> for RuleJson {
    fn from(r: Rule) -> Self {
        match r {
            Rule::TenantPermission => Self::TenantPermission,
            Rule::Administration => Self::Administration,
            Rule::OwnAccount => Self::OwnAccount,
            Rule::Participant(participant_role) => Self::Participant { participant_role },
            Rule::Team(group) => Self::Team { group },
            Rule::ItemAuthor => Self::ItemAuthor,
            Rule::RoomOwner => Self::RoomOwner,
            Rule::RoomEntry => Self::RoomEntry,
        }
    }
}

impl From<RuleJson> for Rule {
    fn from(r: RuleJson) -> Self {
        match r {
            RuleJson::TenantPermission => Self::TenantPermission,
            RuleJson::Administration => Self::Administration,
            RuleJson::OwnAccount => Self::OwnAccount,
            RuleJson::Participant { participant_role } => Self::Participant(participant_role),
            RuleJson::Team { group } => Self::Team(group),
            RuleJson::ItemAuthor => Self::ItemAuthor,
            RuleJson::RoomOwner => Self::RoomOwner,
            RuleJson::RoomEntry => Self::RoomEntry,
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::TenantPermission => f.write_str("tenant permission"),
            Rule::Administration => {
                f.write_str("administrative permission with second factor and recent login")
            }
            Rule::OwnAccount => f.write_str("own account"),
            Rule::Participant(p) => write!(f, "session participant ({p:?})"),
            Rule::Team(g) => write!(f, "member of group {g} the session is shared with"),
            Rule::ItemAuthor => f.write_str("author of the item"),
            Rule::RoomOwner => f.write_str("room owner"),
            Rule::RoomEntry => f.write_str("room entry (password checked separately)"),
        }
    }
}

impl fmt::Display for DenyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DenyReason::TenantMismatch {
                principal,
                resource,
            } => write!(
                f,
                "resource of tenant {resource} asked for by a principal of tenant {principal}"
            ),
            DenyReason::NoPermission => f.write_str("no role grants the action"),
            DenyReason::NotApplicable => f.write_str("the action does not apply to the resource"),
            DenyReason::NoRelation => {
                f.write_str("not a participant of the session in a part that allows it")
            }
            DenyReason::SecondFactorRequired => f.write_str("a second factor is required"),
            DenyReason::ReauthenticationRequired => f.write_str("a recent login is required"),
            DenyReason::GuestOutOfScope => f.write_str("a guest acts only in its own session"),
            DenyReason::NotOwnAccount => f.write_str("not the principal's own account"),
            DenyReason::FourEyes => {
                f.write_str("nobody approves their own request or changes their own roles")
            }
            DenyReason::NotAuthor => f.write_str("not the author of the item"),
            DenyReason::SessionClosed => f.write_str("the session is closed"),
            DenyReason::NotRoomOwner => f.write_str("not the room's owner"),
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decision::Allow { action, rule, role } => {
                write!(f, "allowed {action}: {rule}, role {role}")
            }
            Decision::Deny { action, reason } => write!(f, "denied {action}: {reason}"),
        }
    }
}

/// Session actions and the participant parts that may perform them (besides team
/// members, see [`team_may`]).
fn participant_may(action: Action, part: ParticipantRole) -> bool {
    use ParticipantRole::*;
    if part == Waiting {
        // In the lobby: nothing until the host admits them.
        return false;
    }
    match action {
        Action::ViewSession
        | Action::JoinSession
        | Action::ReadContent
        | Action::PostContent
        | Action::EditContent
        | Action::DeleteContent => true,
        Action::InviteParticipants | Action::CloseSession | Action::ShareHistory => {
            matches!(part, Host | Counsellor)
        }
        Action::ManageParticipants => matches!(part, Host),
        _ => false,
    }
}

/// Session actions a member of a shared group may perform: working on the case, not
/// running the session.
fn team_may(action: Action) -> bool {
    matches!(
        action,
        Action::ViewSession
            | Action::JoinSession
            | Action::ReadContent
            | Action::PostContent
            | Action::EditContent
            | Action::DeleteContent
    )
}

/// Actions that change a session and so need it open.
fn changes_session(action: Action) -> bool {
    matches!(
        action,
        Action::JoinSession
            | Action::InviteParticipants
            | Action::ManageParticipants
            | Action::CloseSession
            | Action::PostContent
            | Action::EditContent
            | Action::DeleteContent
            | Action::ShareHistory
    )
}

/// Decides whether `principal` may perform `action` on `resource`. Deny unless a rule
/// allows; see the [module documentation](self) for the rules.
pub fn authorize(principal: &Principal, action: Action, resource: &Resource<'_>) -> Decision {
    let deny = |reason| Decision::Deny { action, reason };
    let resource_tenant = resource.tenant();
    if resource_tenant != principal.tenant {
        return deny(DenyReason::TenantMismatch {
            principal: principal.tenant,
            resource: resource_tenant,
        });
    }
    if let Some(guest_session) = principal.guest_session {
        match resource {
            Resource::Session(s) if s.session == guest_session => {}
            _ => return deny(DenyReason::GuestOutOfScope),
        }
    }
    // Which role grants it; `None` means no role does. Checked before relations so a
    // denial for lack of permission says so, not "no relation".
    if !principal.permissions.contains(action) {
        return deny(DenyReason::NoPermission);
    }
    let Some(role) = principal.role_granting(action) else {
        return deny(DenyReason::NoPermission);
    };
    let allow = |rule| Decision::Allow { action, rule, role };

    if action.is_administrative() {
        let auth = principal.authentication;
        if !auth.second_factor {
            return deny(DenyReason::SecondFactorRequired);
        }
        if principal.now.since(auth.at) > principal.reauth_window || auth.at > principal.now {
            return deny(DenyReason::ReauthenticationRequired);
        }
    }

    match (action, resource) {
        (
            Action::ManageTenant
            | Action::ManageAccounts
            | Action::ManageRoles
            | Action::ManageGroups
            | Action::ViewAuditTrail
            | Action::ViewReports
            | Action::ViewIncidents
            | Action::CreateSession
            | Action::CreateRoom,
            Resource::Tenant(_),
        )
        | (Action::ManageGroups, Resource::Group { .. }) => allow(if action.is_administrative() {
            Rule::Administration
        } else {
            Rule::TenantPermission
        }),

        (Action::ApprovePasswordReset | Action::AssignRoles, Resource::Account { account, .. }) => {
            if principal.subject == SubjectId::Account(*account) {
                deny(DenyReason::FourEyes)
            } else {
                allow(Rule::Administration)
            }
        }
        (Action::ManageAccounts | Action::UnlockAccounts, Resource::Account { .. }) => {
            allow(Rule::Administration)
        }

        (
            Action::ViewOwnAccount
            | Action::UpdateOwnAccount
            | Action::DeleteOwnAccount
            | Action::ExportOwnData,
            Resource::Account { account, .. },
        ) => {
            if principal.subject == SubjectId::Account(*account) {
                allow(Rule::OwnAccount)
            } else {
                deny(DenyReason::NotOwnAccount)
            }
        }

        (Action::ManageRoom, Resource::Room { owner, .. }) => {
            if principal.subject == SubjectId::Account(*owner) {
                allow(Rule::RoomOwner)
            } else {
                deny(DenyReason::NotRoomOwner)
            }
        }
        (Action::EnterRoom, Resource::Room { .. }) => allow(Rule::RoomEntry),

        (_, Resource::Session(s)) => authorize_session(principal, action, s, role),

        _ => deny(DenyReason::NotApplicable),
    }
}

fn authorize_session(
    principal: &Principal,
    action: Action,
    s: &SessionView<'_>,
    role: RoleId,
) -> Decision {
    let deny = |reason| Decision::Deny { action, reason };
    let allow = |rule| Decision::Allow { action, rule, role };
    if !participant_may(action, ParticipantRole::Host) {
        return deny(DenyReason::NotApplicable);
    }
    if !s.open && changes_session(action) {
        return deny(DenyReason::SessionClosed);
    }

    // The strongest relation first: the owner is the host even if the participant
    // list says otherwise.
    let me = principal.subject;
    let part = if me == SubjectId::Account(s.owner) {
        Some(ParticipantRole::Host)
    } else {
        s.participants
            .iter()
            .find(|(who, _)| *who == me)
            .map(|(_, part)| *part)
    };
    let rule = match part {
        Some(part) if participant_may(action, part) => Some(Rule::Participant(part)),
        _ if team_may(action) => first_common(&principal.groups, s.groups).map(Rule::Team),
        _ => None,
    };
    let Some(rule) = rule else {
        return deny(DenyReason::NoRelation);
    };

    match action {
        Action::EditContent => match s.item_author {
            Some(author) if author == me => allow(Rule::ItemAuthor),
            _ => deny(DenyReason::NotAuthor),
        },
        Action::DeleteContent => match s.item_author {
            Some(author) if author == me => allow(Rule::ItemAuthor),
            _ if part == Some(ParticipantRole::Host) => allow(rule),
            _ => deny(DenyReason::NotAuthor),
        },
        _ => allow(rule),
    }
}

/// The first element of two sorted slices that both contain, by merging.
fn first_common(a: &[GroupId], b: &[GroupId]) -> Option<GroupId> {
    let (mut i, mut j) = (a.iter().peekable(), b.iter().peekable());
    while let (Some(x), Some(y)) = (i.peek(), j.peek()) {
        match x.cmp(y) {
            std::cmp::Ordering::Less => {
                i.next();
            }
            std::cmp::Ordering::Greater => {
                j.next();
            }
            std::cmp::Ordering::Equal => return Some(**x),
        }
    }
    None
}
