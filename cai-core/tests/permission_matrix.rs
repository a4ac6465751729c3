#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
#![allow(clippy::indexing_slicing)]
//! The permission matrix: every built-in role with its default permissions × every
//! action × every kind of resource (own and other account, sessions in every relation,
//! open and closed, own and other item, own and other room, the tenant), under a strong,
//! a single-factor and a stale authentication, checked against the intended answer.
//!
//! The intended answer is written out below as tables (`GRANTS`, `WHERE`, `SESSION`)
//! from the requirements (R-I2, R-I3, R-A6, R-T1), not derived from the engine's code or
//! from `BuiltinRole::default_permissions`: changing either the engine or a default
//! permission set shows up here as a diff.

use std::fmt;
use std::time::Duration;

use cai_core::Timestamp;
use cai_core::authz::{
    Action, Authentication, Decision, DenyReason, Principal, Resource, Rule, SessionView, authorize,
};
use cai_core::domain::{BuiltinRole, ParticipantRole};
use cai_core::id::{AccountId, GroupId, GuestId, RoomId, SessionId, SubjectId, TenantId};

// ---------------------------------------------------------------------------------------
// The intended answer, as data.

const X: bool = true;
const O: bool = false;

/// Which built-in role may ask for which action at all (least privilege, R-I2):
/// administrators administer and never touch content (R-I3); auditors only view the
/// audit trail, reports and incidents; guests only view, join, read and post.
#[rustfmt::skip]
const GRANTS: &[(Action, [bool; 5])] = &[
    //                                   admin couns client guest audit
    (Action::ManageTenant,              [X,    O,    O,     O,    O]),
    (Action::ManageAccounts,            [X,    O,    O,     O,    O]),
    (Action::ManageRoles,               [X,    O,    O,     O,    O]),
    (Action::AssignRoles,               [X,    O,    O,     O,    O]),
    (Action::ManageGroups,              [X,    O,    O,     O,    O]),
    (Action::UnlockAccounts,            [X,    O,    O,     O,    O]),
    (Action::ApprovePasswordReset,      [X,    O,    O,     O,    O]),
    (Action::ViewAuditTrail,            [X,    O,    O,     O,    X]),
    (Action::ViewReports,               [X,    O,    O,     O,    X]),
    (Action::ViewIncidents,             [X,    O,    O,     O,    X]),
    (Action::CreateSession,             [O,    X,    O,     O,    O]),
    (Action::ViewSession,               [O,    X,    X,     X,    O]),
    (Action::JoinSession,               [O,    X,    X,     X,    O]),
    (Action::InviteParticipants,        [O,    X,    O,     O,    O]),
    (Action::ManageParticipants,        [O,    X,    O,     O,    O]),
    (Action::CloseSession,              [O,    X,    O,     O,    O]),
    (Action::ReadContent,               [O,    X,    X,     X,    O]),
    (Action::PostContent,               [O,    X,    X,     X,    O]),
    (Action::EditContent,               [O,    X,    X,     O,    O]),
    (Action::DeleteContent,             [O,    X,    O,     O,    O]),
    (Action::ShareHistory,              [O,    X,    O,     O,    O]),
    (Action::CreateRoom,                [O,    X,    O,     O,    O]),
    (Action::ManageRoom,                [O,    X,    O,     O,    O]),
    (Action::EnterRoom,                 [O,    X,    X,     O,    O]),
    (Action::ViewOwnAccount,            [X,    X,    X,     O,    X]),
    (Action::UpdateOwnAccount,          [X,    X,    X,     O,    X]),
    (Action::DeleteOwnAccount,          [X,    X,    X,     O,    X]),
    (Action::ExportOwnData,             [X,    X,    X,     O,    X]),
];

/// The column of a role in `GRANTS`.
fn column(role: BuiltinRole) -> usize {
    match role {
        BuiltinRole::TenantAdmin => 0,
        BuiltinRole::Counsellor => 1,
        BuiltinRole::Client => 2,
        BuiltinRole::Guest => 3,
        BuiltinRole::Auditor => 4,
    }
}

/// Where an action applies and which rule allows it there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Where {
    /// Administration of the tenant itself: second factor and recent login.
    AdminTenant,
    /// Administration of the tenant, or of one of its groups.
    AdminTenantOrGroup,
    /// Administration of any account of the tenant.
    AdminAccount,
    /// Administration of the tenant's accounts as a whole (listing them), or of one.
    AdminTenantOrAccount,
    /// Administration of another account only (four eyes, R-A6).
    AdminOtherAccount,
    /// A tenant-wide action needing no relation.
    Tenant,
    /// Self-service: one's own account only.
    OwnAccount,
    /// One's own room only.
    OwnRoom,
    /// Any room of the tenant (the room password decides, elsewhere).
    AnyRoom,
    /// A session, by relation: see `SESSION`.
    Session,
}

#[rustfmt::skip]
const WHERE: &[(Action, Where)] = &[
    (Action::ManageTenant,          Where::AdminTenant),
    (Action::ManageAccounts,        Where::AdminTenantOrAccount),
    (Action::ManageRoles,           Where::AdminTenant),
    (Action::AssignRoles,           Where::AdminOtherAccount),
    (Action::ManageGroups,          Where::AdminTenantOrGroup),
    (Action::UnlockAccounts,        Where::AdminAccount),
    (Action::ApprovePasswordReset,  Where::AdminOtherAccount),
    (Action::ViewAuditTrail,        Where::Tenant),
    (Action::ViewReports,           Where::Tenant),
    (Action::ViewIncidents,         Where::Tenant),
    (Action::CreateSession,         Where::Tenant),
    (Action::ViewSession,           Where::Session),
    (Action::JoinSession,           Where::Session),
    (Action::InviteParticipants,    Where::Session),
    (Action::ManageParticipants,    Where::Session),
    (Action::CloseSession,          Where::Session),
    (Action::ReadContent,           Where::Session),
    (Action::PostContent,           Where::Session),
    (Action::EditContent,           Where::Session),
    (Action::DeleteContent,         Where::Session),
    (Action::ShareHistory,          Where::Session),
    (Action::CreateRoom,            Where::Tenant),
    (Action::ManageRoom,            Where::OwnRoom),
    (Action::EnterRoom,             Where::AnyRoom),
    (Action::ViewOwnAccount,        Where::OwnAccount),
    (Action::UpdateOwnAccount,      Where::OwnAccount),
    (Action::DeleteOwnAccount,      Where::OwnAccount),
    (Action::ExportOwnData,         Where::OwnAccount),
];

/// Which item a session action may touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ItemRule {
    /// Not an item action.
    None,
    /// Only one's own item.
    Author,
    /// One's own item, or any item for the host.
    AuthorOrHost,
}

/// Session actions by relation: the host runs the session, a co-counsellor helps run
/// it, clients and guests take part, a member of a group the session is shared with
/// works on the case but does not run the session; nobody unrelated does anything.
/// Changing actions need the session open.
#[rustfmt::skip]
const SESSION: &[(Action, [bool; 5], bool, ItemRule)] = &[
    //                               host couns client guest team   open  item
    (Action::ViewSession,           [X,   X,    X,     X,    X],    O,    ItemRule::None),
    (Action::JoinSession,           [X,   X,    X,     X,    X],    X,    ItemRule::None),
    (Action::InviteParticipants,    [X,   X,    O,     O,    O],    X,    ItemRule::None),
    (Action::ManageParticipants,    [X,   O,    O,     O,    O],    X,    ItemRule::None),
    (Action::CloseSession,          [X,   X,    O,     O,    O],    X,    ItemRule::None),
    (Action::ReadContent,           [X,   X,    X,     X,    X],    O,    ItemRule::None),
    (Action::PostContent,           [X,   X,    X,     X,    X],    X,    ItemRule::None),
    (Action::EditContent,           [X,   X,    X,     X,    X],    X,    ItemRule::Author),
    // A closed session is read-only: its content is kept for documentation (R-S4);
    // erasure goes through retention and account deletion.
    (Action::DeleteContent,         [X,   X,    X,     X,    X],    X,    ItemRule::AuthorOrHost),
    (Action::ShareHistory,          [X,   X,    O,     O,    O],    X,    ItemRule::None),
];

// ---------------------------------------------------------------------------------------
// The cases.

const TENANT: TenantId = TenantId::from_bytes([1; 16]);
const OTHER_TENANT: TenantId = TenantId::from_bytes([2; 16]);
const ME: AccountId = AccountId::from_bytes([10; 16]);
const OTHER: AccountId = AccountId::from_bytes([11; 16]);
const CLIENT: AccountId = AccountId::from_bytes([12; 16]);
const GUEST: GuestId = GuestId::from_bytes([13; 16]);
const GUEST_SESSION: SessionId = SessionId::from_bytes([20; 16]);
const SESSION_ID: SessionId = SessionId::from_bytes([21; 16]);
const TEAM: GroupId = GroupId::from_bytes([30; 16]);
const MY_OTHER_GROUP: GroupId = GroupId::from_bytes([31; 16]);
const FOREIGN_GROUP: GroupId = GroupId::from_bytes([32; 16]);
const MY_ROOM: RoomId = RoomId::from_bytes([40; 16]);
const OTHER_ROOM: RoomId = RoomId::from_bytes([41; 16]);
const NOW: Timestamp = Timestamp::from_unix_millis(10_000_000);
const WINDOW: Duration = Duration::from_secs(900);

/// Who asks: an account holding one built-in role, or a guest of `GUEST_SESSION`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Account(BuiltinRole),
    Guest,
}

impl Who {
    fn all() -> impl Iterator<Item = Who> {
        [
            BuiltinRole::TenantAdmin,
            BuiltinRole::Counsellor,
            BuiltinRole::Client,
            BuiltinRole::Auditor,
        ]
        .into_iter()
        .map(Who::Account)
        .chain([Who::Guest])
    }

    fn role(self) -> BuiltinRole {
        match self {
            Who::Account(r) => r,
            Who::Guest => BuiltinRole::Guest,
        }
    }

    fn subject(self) -> SubjectId {
        match self {
            Who::Account(_) => SubjectId::Account(ME),
            Who::Guest => SubjectId::Guest(GUEST),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Auth {
    /// Second factor, authenticated just now.
    Strong,
    /// Password only, just now.
    SingleFactor,
    /// Second factor, but longer ago than the re-authentication window.
    Stale,
}

impl Auth {
    const ALL: [Auth; 3] = [Auth::Strong, Auth::SingleFactor, Auth::Stale];

    fn authentication(self) -> Authentication {
        match self {
            Auth::Strong => Authentication {
                second_factor: true,
                at: NOW.minus(Duration::from_secs(60)),
            },
            Auth::SingleFactor => Authentication {
                second_factor: false,
                at: NOW.minus(Duration::from_secs(60)),
            },
            Auth::Stale => Authentication {
                second_factor: true,
                at: NOW.minus(WINDOW + Duration::from_secs(1)),
            },
        }
    }
}

fn principal(who: Who, auth: Auth, tenant: TenantId) -> Principal {
    let role = who.role();
    match who {
        Who::Account(_) => Principal::account(
            tenant,
            ME,
            vec![(role.id(), role.default_permissions())],
            vec![MY_OTHER_GROUP, TEAM],
            auth.authentication(),
            NOW,
            WINDOW,
        ),
        Who::Guest => Principal::guest(
            tenant,
            GUEST,
            GUEST_SESSION,
            (role.id(), role.default_permissions()),
            NOW,
        ),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Whose {
    Own,
    Other,
}

/// How the principal relates to a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rel {
    /// It owns (hosts) the session.
    Host,
    /// It takes part as a further counsellor.
    CounsellorPart,
    /// It takes part as a client.
    ClientPart,
    /// It takes part as a guest (for the guest principal: its own session).
    GuestPart,
    /// It is in a group the session is shared with, not a participant.
    Team,
    /// None of these (for the guest principal: another session).
    Unrelated,
}

impl Rel {
    const ALL: [Rel; 6] = [
        Rel::Host,
        Rel::CounsellorPart,
        Rel::ClientPart,
        Rel::GuestPart,
        Rel::Team,
        Rel::Unrelated,
    ];

    /// The column in `SESSION`, if the relation allows anything.
    fn column(self) -> Option<usize> {
        match self {
            Rel::Host => Some(0),
            Rel::CounsellorPart => Some(1),
            Rel::ClientPart => Some(2),
            Rel::GuestPart => Some(3),
            Rel::Team => Some(4),
            Rel::Unrelated => None,
        }
    }

    fn part(self) -> Option<ParticipantRole> {
        match self {
            Rel::Host => Some(ParticipantRole::Host),
            Rel::CounsellorPart => Some(ParticipantRole::Counsellor),
            Rel::ClientPart => Some(ParticipantRole::Client),
            Rel::GuestPart => Some(ParticipantRole::Guest),
            Rel::Team | Rel::Unrelated => None,
        }
    }
}

/// A resource, described.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Res {
    Tenant,
    Group,
    Account(Whose),
    Room(Whose),
    Session { rel: Rel, open: bool, item: Whose },
}

impl Res {
    /// Every resource that makes sense for `who` (a guest owns no account or room and
    /// relates to sessions only as a guest).
    fn all(who: Who) -> Vec<Res> {
        let mut all = vec![Res::Tenant, Res::Group];
        let whose: &[Whose] = match who {
            Who::Account(_) => &[Whose::Own, Whose::Other],
            Who::Guest => &[Whose::Other],
        };
        for w in whose {
            all.push(Res::Account(*w));
            all.push(Res::Room(*w));
        }
        let rels: &[Rel] = match who {
            Who::Account(_) => &Rel::ALL,
            Who::Guest => &[Rel::GuestPart, Rel::Unrelated],
        };
        for rel in rels {
            for open in [true, false] {
                for item in [Whose::Own, Whose::Other] {
                    all.push(Res::Session {
                        rel: *rel,
                        open,
                        item,
                    });
                }
            }
        }
        all
    }
}

impl fmt::Display for Res {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Res::Tenant => f.write_str("tenant"),
            Res::Group => f.write_str("group"),
            Res::Account(w) => write!(f, "account({w:?})"),
            Res::Room(w) => write!(f, "room({w:?})"),
            Res::Session { rel, open, item } => write!(
                f,
                "session({rel:?}, {}, item {item:?})",
                if *open { "open" } else { "closed" }
            ),
        }
    }
}

/// Builds the resource `res` as `who` sees it in `tenant` and hands it to `f`.
fn with_resource<T>(who: Who, res: Res, tenant: TenantId, f: impl FnOnce(&Resource<'_>) -> T) -> T {
    let me = who.subject();
    let whose_account = |w| match (w, who) {
        (Whose::Own, Who::Account(_)) => ME,
        _ => OTHER,
    };
    match res {
        Res::Tenant => f(&Resource::Tenant(tenant)),
        Res::Group => f(&Resource::Group {
            tenant,
            group: TEAM,
        }),
        Res::Account(w) => f(&Resource::Account {
            tenant,
            account: whose_account(w),
        }),
        Res::Room(w) => f(&Resource::Room {
            tenant,
            room: if w == Whose::Own { MY_ROOM } else { OTHER_ROOM },
            owner: whose_account(w),
        }),
        Res::Session { rel, open, item } => {
            let owner = match (rel, who) {
                (Rel::Host, Who::Account(_)) => ME,
                _ => OTHER,
            };
            let mut participants = vec![
                (SubjectId::Account(owner), ParticipantRole::Host),
                (SubjectId::Account(CLIENT), ParticipantRole::Client),
            ];
            if let (Some(part), false) = (rel.part(), rel == Rel::Host) {
                participants.push((me, part));
            }
            let groups: &[GroupId] = if rel == Rel::Team {
                &[TEAM]
            } else {
                &[FOREIGN_GROUP]
            };
            let session = match (who, rel) {
                (Who::Guest, Rel::GuestPart) => GUEST_SESSION,
                _ => SESSION_ID,
            };
            let view = SessionView {
                tenant,
                session,
                owner,
                participants: &participants,
                groups,
                open,
                item_author: Some(match item {
                    Whose::Own => me,
                    Whose::Other => SubjectId::Account(CLIENT),
                }),
            };
            f(&Resource::Session(view))
        }
    }
}

/// What the matrix expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Allow(Rule),
    /// Denied; with `Some`, for exactly this reason.
    Deny(Option<DenyReason>),
}

impl Expect {
    fn matches(self, d: &Decision) -> bool {
        match (self, d) {
            (Expect::Allow(rule), Decision::Allow { rule: got, .. }) => rule == *got,
            (Expect::Deny(None), Decision::Deny { .. }) => true,
            (Expect::Deny(Some(reason)), Decision::Deny { reason: got, .. }) => reason == *got,
            _ => false,
        }
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Allow(rule) => write!(f, "allow ({rule:?})"),
            Expect::Deny(Some(reason)) => write!(f, "deny ({reason:?})"),
            Expect::Deny(None) => f.write_str("deny"),
        }
    }
}

fn lookup<T: Copy>(table: &[(Action, T)], action: Action) -> T {
    table
        .iter()
        .find(|(a, _)| *a == action)
        .map(|(_, t)| *t)
        .unwrap_or_else(|| panic!("{action} is missing from a table of this test"))
}

/// The intended answer for `who` asking `action` on `res`, from the tables above.
fn intended(who: Who, auth: Auth, action: Action, res: Res) -> Expect {
    use Expect::{Allow, Deny};
    if who == Who::Guest
        && !matches!(
            res,
            Res::Session {
                rel: Rel::GuestPart,
                ..
            }
        )
    {
        return Deny(Some(DenyReason::GuestOutOfScope));
    }
    if !lookup(GRANTS, action)[column(who.role())] {
        return Deny(Some(DenyReason::NoPermission));
    }
    // An administrative answer once the resource fits.
    let administrative = |four_eyes_violated: bool| match auth {
        Auth::SingleFactor => Deny(Some(DenyReason::SecondFactorRequired)),
        Auth::Stale => Deny(Some(DenyReason::ReauthenticationRequired)),
        Auth::Strong if four_eyes_violated => Deny(Some(DenyReason::FourEyes)),
        Auth::Strong => Allow(Rule::Administration),
    };
    match (lookup(WHERE, action), res) {
        (
            Where::AdminTenant | Where::AdminTenantOrGroup | Where::AdminTenantOrAccount,
            Res::Tenant,
        )
        | (Where::AdminTenantOrGroup, Res::Group)
        | (Where::AdminAccount | Where::AdminTenantOrAccount, Res::Account(_)) => {
            administrative(false)
        }
        (Where::AdminOtherAccount, Res::Account(w)) => administrative(w == Whose::Own),
        (Where::Tenant, Res::Tenant) => Allow(Rule::TenantPermission),
        (Where::OwnAccount, Res::Account(Whose::Own)) => Allow(Rule::OwnAccount),
        (Where::OwnAccount, Res::Account(Whose::Other)) => Deny(Some(DenyReason::NotOwnAccount)),
        (Where::OwnRoom, Res::Room(Whose::Own)) => Allow(Rule::RoomOwner),
        (Where::OwnRoom, Res::Room(Whose::Other)) => Deny(Some(DenyReason::NotRoomOwner)),
        (Where::AnyRoom, Res::Room(_)) => Allow(Rule::RoomEntry),
        (Where::Session, Res::Session { rel, open, item }) => {
            let (_, parts, needs_open, item_rule) = *SESSION
                .iter()
                .find(|(a, ..)| *a == action)
                .unwrap_or_else(|| panic!("{action} is missing from SESSION"));
            let Some(col) = rel.column().filter(|c| parts[*c]) else {
                return Deny(None);
            };
            if needs_open && !open {
                return Deny(Some(DenyReason::SessionClosed));
            }
            let relation = match rel.part() {
                Some(part) => Rule::Participant(part),
                None => {
                    assert_eq!(col, 4);
                    Rule::Team(TEAM)
                }
            };
            match (item_rule, item) {
                (ItemRule::None, _) => Allow(relation),
                (ItemRule::Author | ItemRule::AuthorOrHost, Whose::Own) => Allow(Rule::ItemAuthor),
                (ItemRule::AuthorOrHost, Whose::Other) if rel == Rel::Host => Allow(relation),
                (ItemRule::Author | ItemRule::AuthorOrHost, Whose::Other) => {
                    Deny(Some(DenyReason::NotAuthor))
                }
            }
        }
        _ => Deny(None),
    }
}

struct Case {
    who: Who,
    auth: Auth,
    action: Action,
    res: Res,
}

fn cases() -> impl Iterator<Item = Case> {
    Who::all().flat_map(|who| {
        Auth::ALL.into_iter().flat_map(move |auth| {
            Action::ALL.iter().flat_map(move |&action| {
                Res::all(who).into_iter().map(move |res| Case {
                    who,
                    auth,
                    action,
                    res,
                })
            })
        })
    })
}

fn who_name(who: Who) -> String {
    match who {
        Who::Account(r) => format!("{r:?}"),
        Who::Guest => "guest".to_owned(),
    }
}

// ---------------------------------------------------------------------------------------
// The tests.

#[test]
fn tables_cover_every_action_once() {
    for table in [
        GRANTS.iter().map(|(a, _)| *a).collect::<Vec<_>>(),
        WHERE.iter().map(|(a, _)| *a).collect(),
    ] {
        assert_eq!(
            table,
            Action::ALL,
            "tables list every action, in code order"
        );
    }
    let session: Vec<Action> = SESSION.iter().map(|(a, ..)| *a).collect();
    let session_where: Vec<Action> = WHERE
        .iter()
        .filter(|(_, w)| *w == Where::Session)
        .map(|(a, _)| *a)
        .collect();
    assert_eq!(session, session_where);
}

#[test]
fn every_role_action_and_resource_gets_the_intended_answer() {
    let mut mismatches = Vec::new();
    let mut total = 0usize;
    let mut allowed = 0usize;
    for Case {
        who,
        auth,
        action,
        res,
    } in cases()
    {
        total += 1;
        let p = principal(who, auth, TENANT);
        let got = with_resource(who, res, TENANT, |r| authorize(&p, action, r));
        let want = intended(who, auth, action, res);
        if got.is_allowed() {
            allowed += 1;
            if let Decision::Allow { role, .. } = got {
                assert_eq!(role, who.role().id(), "the only role held allowed it");
            }
        }
        if !want.matches(&got) {
            let got = match got {
                Decision::Allow { rule, .. } => format!("allow ({rule:?})"),
                Decision::Deny { reason, .. } => format!("deny ({reason:?})"),
            };
            mismatches.push(format!(
                "{:<12} {:<12} {:<22} {:<42} want {:<36} got {got}",
                who_name(who),
                format!("{auth:?}"),
                action.name(),
                res.to_string(),
                want.to_string(),
            ));
        }
    }
    // The matrix is not vacuous: a fair share of it allows.
    assert!(allowed > 200, "only {allowed} of {total} cases allowed");
    if !mismatches.is_empty() {
        let shown = mismatches.len().min(80);
        panic!(
            "{} of {total} cases differ from the intended matrix (showing {shown}):\n\
             {:<12} {:<12} {:<22} {:<42} {:<41} {}\n{}",
            mismatches.len(),
            "who",
            "auth",
            "action",
            "resource",
            "intended",
            "authorize",
            mismatches[..shown].join("\n")
        );
    }
}

#[test]
fn matrix_reproduces_the_default_permission_sets() {
    // The hand-written grants agree with what a new tenant stores, so the matrix above
    // tests the roles as shipped (a difference is a change to review, in either place).
    for role in BuiltinRole::ALL {
        let from_table: Vec<Action> = GRANTS
            .iter()
            .filter(|(_, row)| row[column(role)])
            .map(|(a, _)| *a)
            .collect();
        let shipped: Vec<Action> = role.default_permissions().iter().collect();
        assert_eq!(from_table, shipped, "{role:?}");
    }
}

/// Words each explanation must contain, per rule and per reason.
fn rule_words(rule: Rule) -> Vec<String> {
    match rule {
        Rule::TenantPermission => vec!["tenant permission".into()],
        Rule::Administration => vec!["administrative".into(), "second factor".into()],
        Rule::OwnAccount => vec!["own account".into()],
        Rule::Participant(part) => vec!["participant".into(), format!("{part:?}")],
        Rule::Team(group) => vec!["group".into(), group.to_string()],
        Rule::ItemAuthor => vec!["author".into()],
        Rule::RoomOwner => vec!["room owner".into()],
        Rule::RoomEntry => vec!["room entry".into()],
    }
}

fn reason_words(reason: DenyReason) -> Vec<String> {
    match reason {
        DenyReason::TenantMismatch {
            principal,
            resource,
        } => vec!["tenant".into(), principal.to_string(), resource.to_string()],
        DenyReason::NoPermission => vec!["no role".into()],
        DenyReason::NotApplicable => vec!["does not apply".into()],
        DenyReason::NoRelation => vec!["not a participant".into()],
        DenyReason::SecondFactorRequired => vec!["second factor".into()],
        DenyReason::ReauthenticationRequired => vec!["recent login".into()],
        DenyReason::GuestOutOfScope => vec!["guest".into(), "own session".into()],
        DenyReason::NotOwnAccount => vec!["own account".into()],
        DenyReason::FourEyes => vec!["own request".into()],
        DenyReason::NotAuthor => vec!["author".into()],
        DenyReason::SessionClosed => vec!["closed".into()],
        DenyReason::NotRoomOwner => vec!["room's owner".into()],
    }
}

#[test]
fn every_decision_explains_its_rule_or_reason() {
    let mut rules_seen = Vec::new();
    let mut reasons_seen = Vec::new();
    let mut check = |d: Decision| {
        let text = d.to_string();
        let (words, verdict, action) = match d {
            Decision::Allow { action, rule, role } => {
                let mut w = rule_words(rule);
                w.push(role.to_string());
                let kind = std::mem::discriminant(&rule);
                if !rules_seen.contains(&kind) {
                    rules_seen.push(kind);
                }
                (w, "allowed", action)
            }
            Decision::Deny { action, reason } => {
                let kind = std::mem::discriminant(&reason);
                if !reasons_seen.contains(&kind) {
                    reasons_seen.push(kind);
                }
                (reason_words(reason), "denied", action)
            }
        };
        assert!(text.starts_with(verdict), "{text:?}");
        assert!(text.contains(action.name()), "{text:?} names no action");
        for w in words {
            assert!(text.contains(&w), "{text:?} lacks {w:?}");
        }
        // The error a service returns for a denial says the same.
        if let Decision::Deny { reason, .. } = d {
            let err = d.into_result().unwrap_err().to_string();
            assert!(err.contains(&reason.to_string()), "{err:?}");
        }
    };
    for Case {
        who,
        auth,
        action,
        res,
    } in cases()
    {
        let p = principal(who, auth, TENANT);
        check(with_resource(who, res, TENANT, |r| {
            authorize(&p, action, r)
        }));
        // The same case asked across tenants.
        check(with_resource(who, res, OTHER_TENANT, |r| {
            authorize(&p, action, r)
        }));
    }
    // A session nobody relates to, asked with a permission: no relation.
    let p = principal(Who::Account(BuiltinRole::Counsellor), Auth::Strong, TENANT);
    check(with_resource(
        Who::Account(BuiltinRole::Counsellor),
        Res::Session {
            rel: Rel::Unrelated,
            open: true,
            item: Whose::Other,
        },
        TENANT,
        |r| authorize(&p, Action::ReadContent, r),
    ));
    // Every rule and every reason was explained at least once: 8 rules, 12 reasons.
    assert_eq!(rules_seen.len(), 8, "rules exercised");
    assert_eq!(reasons_seen.len(), 12, "deny reasons exercised");
}

#[test]
fn another_tenants_resource_is_always_a_tenant_mismatch() {
    let mut checked = 0;
    for who in Who::all() {
        let p = principal(who, Auth::Strong, TENANT);
        let mut resources = Res::all(who);
        // The guest's own session id, but in the other tenant.
        resources.push(Res::Session {
            rel: Rel::GuestPart,
            open: true,
            item: Whose::Own,
        });
        for res in resources {
            for &action in Action::ALL {
                let d = with_resource(who, res, OTHER_TENANT, |r| authorize(&p, action, r));
                let want = DenyReason::TenantMismatch {
                    principal: TENANT,
                    resource: OTHER_TENANT,
                };
                assert_eq!(
                    d,
                    Decision::Deny {
                        action,
                        reason: want
                    },
                    "{} {action} {res}",
                    who_name(who)
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 1000);
}
