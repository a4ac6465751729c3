#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
#![allow(clippy::indexing_slicing)]
//! Invariants of `authorize` over arbitrary tenants, principals (any mix of built-in and
//! custom roles with any permissions, any groups, any authentication), actions and
//! resources:
//!
//! - (a) nothing is ever allowed across tenants (R-T1);
//! - (b) a guest is allowed nothing outside its one session and nothing beyond
//!   `GUEST_CAP`;
//! - (c) removing a role never turns a denial into an allowance, and removes every
//!   allowance only that role's permission justified;
//! - (d) content is reached only through a relation (participant, team, author), never
//!   through a permission alone (R-I3);
//! - (e) adding permissions never turns an allowance into a denial;
//!
//! and a few more that keep the explanations honest.
//!
//! Ids come from small pools, so principals and resources meet often enough for the
//! relations (participant, owner, shared group) to matter.

use std::time::Duration;

use cai_core::Timestamp;
use cai_core::authz::{
    Action, Authentication, Decision, DenyReason, GUEST_CAP, PermissionSet, Principal, Resource,
    Rule, SessionView, authorize,
};
use cai_core::domain::{BuiltinRole, ParticipantRole};
use cai_core::id::{AccountId, GroupId, GuestId, RoleId, RoomId, SessionId, SubjectId, TenantId};
use proptest::prelude::*;
use proptest::sample::subsequence;

const NOW: Timestamp = Timestamp::from_unix_millis(1_000_000_000);

fn tenant(i: u8) -> TenantId {
    TenantId::from_bytes([i; 16])
}
fn account(i: u8) -> AccountId {
    AccountId::from_bytes([i; 16])
}
fn guest(i: u8) -> GuestId {
    GuestId::from_bytes([i; 16])
}
fn group(i: u8) -> GroupId {
    GroupId::from_bytes([i; 16])
}
fn session(i: u8) -> SessionId {
    SessionId::from_bytes([i; 16])
}

/// Every bit that names an action.
fn known_bits() -> u64 {
    Action::ALL.iter().fold(0, |acc, a| acc | a.bit())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subject {
    Account(u8),
    Guest(u8),
}

impl Subject {
    fn id(self) -> SubjectId {
        match self {
            Subject::Account(i) => SubjectId::Account(account(i)),
            Subject::Guest(i) => SubjectId::Guest(guest(i)),
        }
    }
}

#[derive(Debug, Clone)]
enum Kind {
    Account(u8),
    Guest { guest: u8, session: u8 },
}

#[derive(Debug, Clone)]
struct PrincipalSpec {
    tenant: u8,
    kind: Kind,
    /// For a guest, only the first role counts (guests hold the tenant's guest role).
    roles: Vec<(RoleId, PermissionSet)>,
    groups: Vec<u8>,
    second_factor: bool,
    auth_age: Duration,
    window: Duration,
}

impl PrincipalSpec {
    fn build(&self) -> Principal {
        self.build_with(self.roles.clone())
    }

    fn build_with(&self, roles: Vec<(RoleId, PermissionSet)>) -> Principal {
        match self.kind {
            Kind::Account(a) => Principal::account(
                tenant(self.tenant),
                account(a),
                roles,
                self.groups.iter().map(|g| group(*g)).collect(),
                Authentication {
                    second_factor: self.second_factor,
                    at: NOW.minus(self.auth_age),
                },
                NOW,
                self.window,
            ),
            Kind::Guest {
                guest: g,
                session: s,
            } => {
                let role = roles
                    .first()
                    .copied()
                    .unwrap_or((BuiltinRole::Guest.id(), PermissionSet::EMPTY));
                Principal::guest(tenant(self.tenant), guest(g), session(s), role, NOW)
            }
        }
    }

    fn is_guest(&self) -> bool {
        matches!(self.kind, Kind::Guest { .. })
    }
}

#[derive(Debug, Clone)]
enum ResSpec {
    Tenant(u8),
    Account {
        tenant: u8,
        account: u8,
    },
    Group {
        tenant: u8,
        group: u8,
    },
    Room {
        tenant: u8,
        room: u8,
        owner: u8,
    },
    Session {
        tenant: u8,
        session: u8,
        owner: u8,
        participants: Vec<(SubjectId, ParticipantRole)>,
        groups: Vec<GroupId>,
        open: bool,
        item_author: Option<SubjectId>,
    },
}

impl ResSpec {
    fn with<T>(&self, f: impl FnOnce(&Resource<'_>) -> T) -> T {
        match self {
            ResSpec::Tenant(t) => f(&Resource::Tenant(tenant(*t))),
            ResSpec::Account {
                tenant: t,
                account: a,
            } => f(&Resource::Account {
                tenant: tenant(*t),
                account: account(*a),
            }),
            ResSpec::Group {
                tenant: t,
                group: g,
            } => f(&Resource::Group {
                tenant: tenant(*t),
                group: group(*g),
            }),
            ResSpec::Room {
                tenant: t,
                room,
                owner,
            } => f(&Resource::Room {
                tenant: tenant(*t),
                room: RoomId::from_bytes([*room; 16]),
                owner: account(*owner),
            }),
            ResSpec::Session {
                tenant: t,
                session: s,
                owner,
                participants,
                groups,
                open,
                item_author,
            } => f(&Resource::Session(SessionView {
                tenant: tenant(*t),
                session: session(*s),
                owner: account(*owner),
                participants,
                groups,
                open: *open,
                item_author: *item_author,
            })),
        }
    }

    fn tenant(&self) -> u8 {
        match self {
            ResSpec::Tenant(t)
            | ResSpec::Account { tenant: t, .. }
            | ResSpec::Group { tenant: t, .. }
            | ResSpec::Room { tenant: t, .. }
            | ResSpec::Session { tenant: t, .. } => *t,
        }
    }
}

fn permission_set() -> impl Strategy<Value = PermissionSet> {
    any::<u64>().prop_map(|bits| PermissionSet::from_bits(bits & known_bits()).unwrap())
}

/// Built-in roles with their default permissions or with any the tenant configured, and
/// custom roles with any permissions.
fn roles() -> impl Strategy<Value = Vec<(RoleId, PermissionSet)>> {
    let builtin = subsequence(BuiltinRole::ALL.to_vec(), 0..=5)
        .prop_flat_map(|rs| {
            rs.into_iter()
                .map(|r| {
                    prop_oneof![
                        3 => Just(r.default_permissions()),
                        1 => permission_set(),
                    ]
                    .prop_map(move |p| (r.id(), p))
                })
                .collect::<Vec<_>>()
        })
        .boxed();
    let custom = prop::collection::vec((100u8..104, permission_set()), 0..3)
        .prop_map(|v| {
            v.into_iter()
                .map(|(id, p)| (RoleId::from_bytes([id; 16]), p))
                .collect::<Vec<_>>()
        })
        .boxed();
    (builtin, custom).prop_map(|(mut b, c)| {
        b.extend(c);
        b
    })
}

fn principal_spec() -> impl Strategy<Value = PrincipalSpec> {
    // A guest holds the tenant's guest role, as configured (or not).
    let guest_role = prop_oneof![
        3 => Just(BuiltinRole::Guest.default_permissions()),
        1 => permission_set(),
    ]
    .prop_map(|p| vec![(BuiltinRole::Guest.id(), p)]);
    let kind_and_roles = prop_oneof![
        3 => ((0u8..4).prop_map(Kind::Account), roles()),
        1 => ((0u8..2, 0u8..2).prop_map(|(guest, session)| Kind::Guest { guest, session }), guest_role),
    ];
    (
        tenant_index(),
        kind_and_roles,
        prop::collection::vec(0u8..8, 0..8),
        any::<bool>(),
        0u64..2_000,
        prop_oneof![Just(0u64), 1u64..1_800],
    )
        .prop_map(
            |(tenant, (kind, roles), groups, second_factor, age, window)| PrincipalSpec {
                tenant,
                kind,
                roles,
                groups,
                second_factor,
                auth_age: Duration::from_secs(age),
                window: Duration::from_secs(window),
            },
        )
}

fn subject() -> impl Strategy<Value = Subject> {
    prop_oneof![
        3 => (0u8..4).prop_map(Subject::Account),
        1 => (0u8..2).prop_map(Subject::Guest),
    ]
}

fn part() -> impl Strategy<Value = ParticipantRole> {
    prop_oneof![
        Just(ParticipantRole::Host),
        Just(ParticipantRole::Counsellor),
        Just(ParticipantRole::Client),
        Just(ParticipantRole::Guest),
        Just(ParticipantRole::Waiting),
    ]
}

/// Mostly the first of two tenants, so principal and resource usually share one.
fn tenant_index() -> impl Strategy<Value = u8> + Clone {
    prop_oneof![4 => Just(0u8), 1 => Just(1u8)]
}

fn resource() -> impl Strategy<Value = ResSpec> {
    let t = tenant_index();
    prop_oneof![
        1 => t.clone().prop_map(ResSpec::Tenant),
        1 => (t.clone(), 0u8..4).prop_map(|(tenant, account)| ResSpec::Account { tenant, account }),
        1 => (t.clone(), 0u8..8).prop_map(|(tenant, group)| ResSpec::Group { tenant, group }),
        1 => (t.clone(), 0u8..2, 0u8..4).prop_map(|(tenant, room, owner)| ResSpec::Room {
            tenant,
            room,
            owner
        }),
        4 => (
            t,
            0u8..2,
            0u8..4,
            prop::collection::vec((subject(), part()), 0..6),
            prop::collection::btree_set(0u8..8, 0..4),
            any::<bool>(),
            prop::option::of(subject()),
        )
            .prop_map(
                |(tenant, session, owner, participants, groups, open, item_author)| {
                    ResSpec::Session {
                        tenant,
                        session,
                        owner,
                        participants: participants.into_iter().map(|(s, p)| (s.id(), p)).collect(),
                        // Sorted, as `SessionView` asks.
                        groups: groups.into_iter().map(group).collect(),
                        open,
                        item_author: item_author.map(Subject::id),
                    }
                },
            ),
    ]
}

fn action() -> impl Strategy<Value = Action> {
    proptest::sample::select(Action::ALL)
}

fn is_content(action: Action) -> bool {
    matches!(
        action,
        Action::ReadContent
            | Action::PostContent
            | Action::EditContent
            | Action::DeleteContent
            | Action::ShareHistory
    )
}

fn decide(p: &Principal, action: Action, res: &ResSpec) -> Decision {
    res.with(|r| authorize(p, action, r))
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 16_384,
        // A failure prints its shrunk input; no regression files beside the tests.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// (a) Nothing is ever allowed across tenants, and the denial says why.
    #[test]
    fn no_action_crosses_tenants(spec in principal_spec(), action in action(), res in resource()) {
        let p = spec.build();
        let d = decide(&p, action, &res);
        if res.tenant() != spec.tenant {
            prop_assert_eq!(d, Decision::Deny {
                action,
                reason: DenyReason::TenantMismatch {
                    principal: tenant(spec.tenant),
                    resource: tenant(res.tenant()),
                },
            });
        } else {
            let mismatch = matches!(
                d,
                Decision::Deny { reason: DenyReason::TenantMismatch { .. }, .. }
            );
            prop_assert!(!mismatch, "{}", d);
        }
    }

    /// (b) A guest is allowed only inside its one session and only within `GUEST_CAP`,
    /// whatever its role is configured to grant.
    #[test]
    fn guests_stay_in_their_session(
        g in 0u8..2,
        s in 0u8..3,
        t in tenant_index(),
        perms in prop_oneof![Just(GUEST_CAP), permission_set(), Just(PermissionSet::from_bits(known_bits()).unwrap())],
        action in action(),
        res in resource(),
    ) {
        let p = Principal::guest(tenant(t), guest(g), session(s), (BuiltinRole::Guest.id(), perms), NOW);
        prop_assert!(GUEST_CAP.union(p.permissions()) == GUEST_CAP);
        let d = decide(&p, action, &res);
        if d.is_allowed() {
            prop_assert!(GUEST_CAP.contains(action), "{action} beyond GUEST_CAP: {d}");
            match &res {
                ResSpec::Session { session: rs, .. } => prop_assert_eq!(*rs, s, "{}", d),
                other => prop_assert!(false, "guest allowed {} on {:?}", d, other),
            }
        }
    }

    /// (c) Removing a role never turns a denial into an allowance; an allowance survives
    /// exactly when a remaining role still grants the action.
    #[test]
    fn removing_a_role_only_removes(spec in principal_spec(), action in action(), res in resource()) {
        let full = decide(&spec.build(), action, &res);
        let n = if spec.is_guest() { 1 } else { spec.roles.len() };
        for i in 0..n {
            // A guest holds one role; without it, it holds nothing.
            let mut rest = if spec.is_guest() { Vec::new() } else { spec.roles.clone() };
            if i < rest.len() {
                rest.remove(i);
            }
            let fewer = spec.build_with(rest.clone());
            let d = decide(&fewer, action, &res);
            if !full.is_allowed() {
                prop_assert!(!d.is_allowed(), "removing role {} allowed: {}", i, d);
                continue;
            }
            let still_granted = fewer.permissions().contains(action);
            match (d, full) {
                (Decision::Allow { rule, role, .. }, Decision::Allow { rule: was, .. }) => {
                    prop_assert!(still_granted, "allowed without any role granting it: {}", d);
                    prop_assert_eq!(rule, was);
                    prop_assert!(rest.iter().any(|(r, p)| *r == role && p.contains(action)));
                }
                (Decision::Deny { .. }, _) => prop_assert!(
                    !still_granted,
                    "{} still granted by a remaining role, but {}", action, d
                ),
                _ => unreachable!(),
            }
        }
    }

    /// (d) Content is reached only through a relation the resource really has; a
    /// permission alone never suffices (R-I3).
    #[test]
    fn content_needs_a_relation(spec in principal_spec(), action in action(), res in resource()) {
        let p = spec.build();
        let d = decide(&p, action, &res);
        let Decision::Allow { rule, .. } = d else { return Ok(()) };
        if !is_content(action) {
            return Ok(());
        }
        let ResSpec::Session { owner, participants, groups, item_author, .. } = &res else {
            return Err(TestCaseError::fail(format!("content action allowed on {res:?}: {d}")));
        };
        let me = p.subject();
        let part_of = |part: ParticipantRole| {
            (part == ParticipantRole::Host && me == SubjectId::Account(account(*owner)))
                || participants.contains(&(me, part))
        };
        let participates = me == SubjectId::Account(account(*owner))
            || participants.iter().any(|(who, _)| *who == me);
        let in_team = p.groups().iter().any(|g| groups.contains(g));
        match rule {
            // Waiting in a room's lobby grants nothing.
            Rule::Participant(part) => {
                prop_assert!(part != ParticipantRole::Waiting && part_of(part), "{}", d)
            }
            Rule::Team(g) => prop_assert!(p.groups().contains(&g) && groups.contains(&g), "{}", d),
            Rule::ItemAuthor => {
                prop_assert_eq!(*item_author, Some(me));
                prop_assert!(participates || in_team, "author without relation: {}", d);
            }
            other => prop_assert!(false, "content allowed by {:?}: {}", other, d),
        }
    }

    /// (e) Adding permissions, to a held role or as a new role, never turns an allowance
    /// into a denial, nor changes the rule that allowed it.
    #[test]
    fn adding_permissions_is_monotonic(
        spec in principal_spec(),
        extra in permission_set(),
        which in any::<prop::sample::Index>(),
        as_new_role in any::<bool>(),
        action in action(),
        res in resource(),
    ) {
        let before = decide(&spec.build(), action, &res);
        let mut roles = spec.roles.clone();
        if as_new_role && !spec.is_guest() {
            roles.push((RoleId::from_bytes([200; 16]), extra));
        } else if roles.is_empty() {
            roles.push((BuiltinRole::Guest.id(), extra));
        } else {
            let i = if spec.is_guest() { 0 } else { which.index(roles.len()) };
            roles[i].1 = roles[i].1.union(extra);
        }
        let after = decide(&spec.build_with(roles), action, &res);
        if let Decision::Allow { rule, .. } = before {
            match after {
                Decision::Allow { rule: now, .. } => prop_assert_eq!(rule, now),
                Decision::Deny { .. } => prop_assert!(false, "{} became {}", before, after),
            }
        }
    }

    /// Explanations are honest: an allowance names a held role that grants the action,
    /// administrative allowances had a second factor and a recent login, and nobody
    /// approves their own password reset.
    #[test]
    fn allowances_are_explained_truthfully(spec in principal_spec(), action in action(), res in resource()) {
        let p = spec.build();
        let d = decide(&p, action, &res);
        let Decision::Allow { action: asked, role, rule } = d else { return Ok(()) };
        prop_assert_eq!(asked, action);
        let roles = if spec.is_guest() {
            vec![spec.roles.first().copied().unwrap_or((BuiltinRole::Guest.id(), PermissionSet::EMPTY))]
        } else {
            spec.roles.clone()
        };
        prop_assert!(roles.iter().any(|(r, perms)| *r == role && perms.contains(action)), "{}", d);
        if action.is_administrative() {
            prop_assert_eq!(rule, Rule::Administration);
            prop_assert!(spec.second_factor && spec.auth_age <= spec.window, "{}", d);
        }
        if let (Action::ApprovePasswordReset | Action::AssignRoles, ResSpec::Account { account: a, .. }) = (action, &res) {
            prop_assert!(p.subject() != SubjectId::Account(account(*a)), "four eyes: {}", d);
        }
    }
}

/// The generators reach the interesting cases: without this, the properties above could
/// hold only because almost everything is denied.
#[test]
fn generators_reach_allowances_of_every_kind() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let strategy = (principal_spec(), action(), resource());
    let (mut allowed, mut content, mut team, mut author, mut admin, mut guest) = (0, 0, 0, 0, 0, 0);
    // Item allowances are rare (open session, right relation, own item): sample enough.
    let n = 60_000;
    for _ in 0..n {
        let (spec, action, res) = strategy.new_tree(&mut runner).unwrap().current();
        let d = decide(&spec.build(), action, &res);
        let Decision::Allow { rule, .. } = d else {
            continue;
        };
        allowed += 1;
        content += usize::from(is_content(action));
        team += usize::from(matches!(rule, Rule::Team(_)));
        author += usize::from(rule == Rule::ItemAuthor);
        admin += usize::from(rule == Rule::Administration);
        guest += usize::from(spec.is_guest());
    }
    println!(
        "{allowed} of {n} allowed: {content} content, {team} team, {author} author, \
         {admin} administrative, {guest} guest"
    );
    assert!(allowed > n / 40, "{allowed}");
    for (what, count) in [
        ("content", content),
        ("team", team),
        ("author", author),
        ("administrative", admin),
        ("guest", guest),
    ] {
        assert!(count >= 10, "only {count} {what} allowances");
    }
}
