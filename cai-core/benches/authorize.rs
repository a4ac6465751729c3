#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
#![allow(clippy::indexing_slicing)]
//! `authorize` against casbin-rs (RBAC with domains) and, optionally, Cedar, on the same
//! requests, in one criterion group, reported as decisions per second.
//!
//! Run: `cargo bench -p cai-core --bench authorize`. With Cedar, which takes minutes to
//! compile and so is built only when asked for (a separate target directory keeps the
//! changed RUSTFLAGS from invalidating the usual build):
//!
//! ```sh
//! CARGO_TARGET_DIR=$PWD/target/bench-cedar RUSTFLAGS="--cfg cai_bench_cedar" \
//!     cargo bench -p cai-core --bench authorize
//! ```
//!
//! Figures are recorded in `docs/BENCHMARKS.md`.
//!
//! The fixture is two tenants with built-in and custom roles (permissions differ per
//! tenant), accounts holding 3–4 roles and 5–20 groups, guests, sessions with 2–6
//! participants shared with 1–3 groups, rooms; the requests mix session, tenant,
//! account, group, room and cross-tenant requests, about two in five allowed. Item
//! actions (edit/delete content, which need the item's author) are left out: RBAC with
//! domains has no natural place for a per-request author.
//!
//! Every engine gets the relations as prepared state, the way each is meant to be used:
//! ours borrows `SessionView`s, casbin holds them as grouping policies in its role
//! manager, Cedar as entities. Before timing, all engines must agree on every request.

use std::collections::BTreeSet;
use std::hint::black_box;
use std::time::Duration;

use cai_core::Timestamp;
use cai_core::authz::{
    Action, Authentication, GUEST_CAP, PermissionSet, Principal, Resource, SessionView, authorize,
};
use cai_core::domain::{BuiltinRole, ParticipantRole};
use cai_core::id::{AccountId, GroupId, GuestId, RoleId, RoomId, SessionId, SubjectId, TenantId};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};

const NOW: Timestamp = Timestamp::from_unix_millis(1_800_000_000_000);
const WINDOW: Duration = Duration::from_secs(900);
const REQUESTS: usize = 4096;

/// A small deterministic generator (SplitMix64), so every run benches the same requests.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
    /// `n` distinct items of `pool`.
    fn distinct<T: Copy + PartialEq>(&mut self, pool: &[T], n: usize) -> Vec<T> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let item = self.pick(pool);
            if !out.contains(&item) {
                out.push(item);
            }
        }
        out
    }
    fn bytes(&mut self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.next().to_le_bytes());
        b[8..].copy_from_slice(&self.next().to_le_bytes());
        b
    }
}

// ---------------------------------------------------------------------------------------
// The fixture.

struct TenantData {
    id: TenantId,
    /// Every role of the tenant with what it grants there.
    roles: Vec<(RoleId, PermissionSet)>,
    groups: Vec<GroupId>,
}

struct SessionData {
    tenant: usize,
    id: SessionId,
    owner: AccountId,
    participants: Vec<(SubjectId, ParticipantRole)>,
    groups: Vec<GroupId>,
    open: bool,
}

struct RoomData {
    tenant: usize,
    id: RoomId,
    owner: AccountId,
}

struct PrincipalData {
    tenant: usize,
    principal: Principal,
    /// The roles it holds (a guest: the guest role, capped).
    roles: Vec<(RoleId, PermissionSet)>,
    /// Second factor and a login inside the re-authentication window.
    strong: bool,
}

#[derive(Clone, Copy)]
enum Target {
    Tenant(usize),
    Account(usize, AccountId),
    Group(usize, GroupId),
    Session(usize),
    Room(usize),
}

struct Request {
    principal: usize,
    action: Action,
    target: Target,
}

struct Fixture {
    tenants: Vec<TenantData>,
    /// Accounts of each tenant.
    accounts: Vec<Vec<AccountId>>,
    principals: Vec<PrincipalData>,
    sessions: Vec<SessionData>,
    rooms: Vec<RoomData>,
    requests: Vec<Request>,
}

const SESSION_ACTIONS: [Action; 8] = [
    Action::ViewSession,
    Action::JoinSession,
    Action::InviteParticipants,
    Action::ManageParticipants,
    Action::CloseSession,
    Action::ReadContent,
    Action::PostContent,
    Action::ShareHistory,
];
const TENANT_ACTIONS: [Action; 8] = [
    Action::ManageTenant,
    Action::ManageRoles,
    Action::ManageGroups,
    Action::ViewAuditTrail,
    Action::ViewReports,
    Action::ViewIncidents,
    Action::CreateSession,
    Action::CreateRoom,
];
const ACCOUNT_ACTIONS: [Action; 8] = [
    Action::ManageAccounts,
    Action::AssignRoles,
    Action::UnlockAccounts,
    Action::ApprovePasswordReset,
    Action::ViewOwnAccount,
    Action::UpdateOwnAccount,
    Action::DeleteOwnAccount,
    Action::ExportOwnData,
];

fn tenant_roles(variant: usize) -> Vec<(RoleId, PermissionSet)> {
    let mut roles: Vec<(RoleId, PermissionSet)> = BuiltinRole::ALL
        .iter()
        .map(|r| (r.id(), r.default_permissions()))
        .collect();
    // Tenants configure roles differently: the second one does not let counsellors
    // close sessions.
    if variant == 1 {
        roles[1].1 = roles[1].1.without(Action::CloseSession);
    }
    let supervisor = PermissionSet::of(&[
        Action::ViewReports,
        Action::ViewIncidents,
        Action::ViewSession,
        Action::ReadContent,
        Action::ShareHistory,
    ]);
    let intake = PermissionSet::of(&[
        Action::CreateSession,
        Action::InviteParticipants,
        Action::ViewSession,
        Action::JoinSession,
    ]);
    roles.push((RoleId::from_bytes([0xa0 + variant as u8; 16]), supervisor));
    roles.push((RoleId::from_bytes([0xb0 + variant as u8; 16]), intake));
    roles
}

fn fixture() -> Fixture {
    let mut rng = Rng(0x00c0_ffee);
    let tenants: Vec<TenantData> = (0..2)
        .map(|t| TenantData {
            id: TenantId::from_bytes(rng.bytes()),
            roles: tenant_roles(t),
            groups: (0..30).map(|_| GroupId::from_bytes(rng.bytes())).collect(),
        })
        .collect();
    let account_counts = [48, 12];
    let accounts: Vec<Vec<AccountId>> = account_counts
        .iter()
        .map(|n| {
            (0..*n)
                .map(|_| AccountId::from_bytes(rng.bytes()))
                .collect()
        })
        .collect();

    let mut principals = Vec::new();
    for (t, tenant) in tenants.iter().enumerate() {
        for &account in &accounts[t] {
            // Three or four roles, at least one of them for counselling (counsellor or
            // client); never the guest role, which is for guests.
            let mut held = vec![rng.pick(&[1, 1, 2])];
            while held.len() < 3 || (held.len() < 4 && rng.chance(50)) {
                // Admin, counsellor, client, auditor, supervisor, intake.
                let r = rng.pick(&[0, 1, 2, 4, 5, 6]);
                if !held.contains(&r) {
                    held.push(r);
                }
            }
            let roles: Vec<(RoleId, PermissionSet)> =
                held.iter().map(|r| tenant.roles[*r]).collect();
            let n = rng.range(5, 20);
            let groups = rng.distinct(&tenant.groups, n);
            let second_factor = rng.chance(75);
            let age = Duration::from_secs(rng.range(0, 1200) as u64);
            let principal = Principal::account(
                tenant.id,
                account,
                roles.clone(),
                groups,
                Authentication {
                    second_factor,
                    at: NOW.minus(age),
                },
                NOW,
                WINDOW,
            );
            principals.push(PrincipalData {
                tenant: t,
                principal,
                roles,
                strong: second_factor && age <= WINDOW,
            });
        }
    }

    let mut sessions = Vec::new();
    for (t, tenant) in tenants.iter().enumerate() {
        let n = if t == 0 { 80 } else { 12 };
        for _ in 0..n {
            let owner = rng.pick(&accounts[t]);
            let mut participants = vec![(SubjectId::Account(owner), ParticipantRole::Host)];
            let others = rng.range(1, 5);
            while participants.len() < 1 + others {
                let who = SubjectId::Account(rng.pick(&accounts[t]));
                if participants.iter().all(|(s, _)| *s != who) {
                    let part = rng.pick(&[
                        ParticipantRole::Client,
                        ParticipantRole::Client,
                        ParticipantRole::Counsellor,
                    ]);
                    participants.push((who, part));
                }
            }
            let n = rng.range(1, 3);
            let groups: BTreeSet<GroupId> = rng.distinct(&tenant.groups, n).into_iter().collect();
            sessions.push(SessionData {
                tenant: t,
                id: SessionId::from_bytes(rng.bytes()),
                owner,
                participants,
                groups: groups.into_iter().collect(),
                open: rng.chance(80),
            });
        }
    }

    // Guests of the first tenant, each in one session with fewer than six participants.
    let guest_role = tenants[0].roles[3];
    for s in 0..8 {
        let session = &mut sessions[s * 7];
        if session.participants.len() >= 6 {
            session.participants.pop();
        }
        let guest = GuestId::from_bytes(rng.bytes());
        session
            .participants
            .push((SubjectId::Guest(guest), ParticipantRole::Guest));
        principals.push(PrincipalData {
            tenant: 0,
            principal: Principal::guest(tenants[0].id, guest, session.id, guest_role, NOW),
            roles: vec![(guest_role.0, guest_role.1.intersection(GUEST_CAP))],
            strong: false,
        });
    }

    let rooms: Vec<RoomData> = (0..12)
        .map(|i| {
            let t = usize::from(i >= 10);
            RoomData {
                tenant: t,
                id: RoomId::from_bytes(rng.bytes()),
                owner: rng.pick(&accounts[t]),
            }
        })
        .collect();

    let mut requests = Vec::with_capacity(REQUESTS);
    while requests.len() < REQUESTS {
        let principal = rng.below(principals.len());
        let p = &principals[principal];
        let own = p.tenant;
        let me = p.principal.subject();
        let related: Vec<usize> = sessions
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                s.tenant == own
                    && (s.participants.iter().any(|(who, _)| *who == me)
                        || s.groups.iter().any(|g| p.principal.groups().contains(g)))
            })
            .map(|(i, _)| i)
            .collect();
        let in_tenant = |t: usize| -> Vec<usize> {
            (0..sessions.len())
                .filter(|i| sessions[*i].tenant == t)
                .collect()
        };
        let (action, target) = match rng.below(100) {
            // Sessions, mostly ones the principal relates to.
            0..55 => {
                let s = if !related.is_empty() && rng.chance(65) {
                    rng.pick(&related)
                } else {
                    rng.pick(&in_tenant(own))
                };
                (rng.pick(&SESSION_ACTIONS), Target::Session(s))
            }
            55..70 => (rng.pick(&TENANT_ACTIONS), Target::Tenant(own)),
            70..85 => {
                let account = match me.account() {
                    Some(a) if rng.chance(50) => a,
                    _ => rng.pick(&accounts[own]),
                };
                (rng.pick(&ACCOUNT_ACTIONS), Target::Account(own, account))
            }
            85..90 => (
                Action::ManageGroups,
                Target::Group(own, rng.pick(&tenants[own].groups)),
            ),
            90..95 => {
                let mine: Vec<usize> = (0..rooms.len())
                    .filter(|r| Some(rooms[*r].owner) == me.account())
                    .collect();
                let room = if !mine.is_empty() && rng.chance(50) {
                    rng.pick(&mine)
                } else {
                    rng.pick(
                        &(0..rooms.len())
                            .filter(|r| rooms[*r].tenant == own)
                            .collect::<Vec<_>>(),
                    )
                };
                (
                    rng.pick(&[Action::ManageRoom, Action::EnterRoom]),
                    Target::Room(room),
                )
            }
            // Another tenant's resources.
            _ => {
                let other = 1 - own;
                let target = match rng.below(3) {
                    0 => Target::Tenant(other),
                    1 => Target::Account(other, rng.pick(&accounts[other])),
                    _ => Target::Session(rng.pick(&in_tenant(other))),
                };
                (rng.pick(Action::ALL), target)
            }
        };
        if matches!(action, Action::EditContent | Action::DeleteContent) {
            continue;
        }
        requests.push(Request {
            principal,
            action,
            target,
        });
    }

    Fixture {
        tenants,
        accounts,
        principals,
        sessions,
        rooms,
        requests,
    }
}

impl Fixture {
    fn resource(&self, target: Target) -> Resource<'_> {
        match target {
            Target::Tenant(t) => Resource::Tenant(self.tenants[t].id),
            Target::Account(t, account) => Resource::Account {
                tenant: self.tenants[t].id,
                account,
            },
            Target::Group(t, group) => Resource::Group {
                tenant: self.tenants[t].id,
                group,
            },
            Target::Session(s) => {
                let s = &self.sessions[s];
                Resource::Session(SessionView {
                    tenant: self.tenants[s.tenant].id,
                    session: s.id,
                    owner: s.owner,
                    participants: &s.participants,
                    groups: &s.groups,
                    open: s.open,
                    item_author: None,
                })
            }
            Target::Room(r) => {
                let r = &self.rooms[r];
                Resource::Room {
                    tenant: self.tenants[r.tenant].id,
                    room: r.id,
                    owner: r.owner,
                }
            }
        }
    }

    fn target_tenant(&self, target: Target) -> usize {
        match target {
            Target::Tenant(t) | Target::Account(t, _) | Target::Group(t, _) => t,
            Target::Session(s) => self.sessions[s].tenant,
            Target::Room(r) => self.rooms[r].tenant,
        }
    }

    /// The part each subject takes in a session, as `authorize` sees it: the owner is
    /// the host; otherwise the first listing counts.
    fn parts(&self, s: &SessionData) -> Vec<(SubjectId, ParticipantRole)> {
        let mut parts = vec![(SubjectId::Account(s.owner), ParticipantRole::Host)];
        for (who, part) in &s.participants {
            if parts.iter().all(|(w, _)| w != who) {
                parts.push((*who, *part));
            }
        }
        parts
    }
}

// ---------------------------------------------------------------------------------------
// The rules, as the other engines need them spelled out: for each action, the relations
// that allow it (see the module documentation of `cai_core::authz`).

/// A relation under which a permission takes effect.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rel {
    Tenant,
    AdminTenant,
    AdminGroup,
    AdminAccount,
    AdminOtherAccount,
    OwnAccount,
    RoomOwner,
    AnyRoom,
    /// A part in the session (`host`, `counsellor`, `client`, `guest`) or `team`;
    /// `true`: the session must be open.
    Session(&'static str, bool),
}

fn relations(action: Action) -> Vec<Rel> {
    use Action as A;
    let session = |parts: &[&'static str], open: bool| -> Vec<Rel> {
        parts.iter().map(|p| Rel::Session(p, open)).collect()
    };
    let all = ["host", "counsellor", "client", "guest", "team"];
    let running = ["host", "counsellor"];
    match action {
        A::ManageTenant | A::ManageRoles => vec![Rel::AdminTenant],
        A::ManageGroups => vec![Rel::AdminTenant, Rel::AdminGroup],
        A::ManageAccounts => vec![Rel::AdminTenant, Rel::AdminAccount],
        A::UnlockAccounts => vec![Rel::AdminAccount],
        A::ApprovePasswordReset | A::AssignRoles => vec![Rel::AdminOtherAccount],
        A::ViewAuditTrail
        | A::ViewReports
        | A::ViewIncidents
        | A::CreateSession
        | A::CreateRoom => {
            vec![Rel::Tenant]
        }
        A::ViewOwnAccount | A::UpdateOwnAccount | A::DeleteOwnAccount | A::ExportOwnData => {
            vec![Rel::OwnAccount]
        }
        A::ManageRoom => vec![Rel::RoomOwner],
        A::EnterRoom => vec![Rel::AnyRoom],
        A::ViewSession | A::ReadContent => session(&all, false),
        A::JoinSession | A::PostContent => session(&all, true),
        A::InviteParticipants | A::CloseSession | A::ShareHistory => session(&running, true),
        A::ManageParticipants => session(&["host"], true),
        // Item actions are not in the request set.
        _ => Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------
// casbin-rs: RBAC with domains. Roles per tenant `g(user, role, tenant)`; relations are
// grouping policies too: `g(user, "in:host:<session>", tenant)`, team membership through
// `g(user, group, tenant)` + `g(group, "in:team:<session>", tenant)`, open sessions
// `g(session, "open", tenant)`, room owners, and `g(user, "strong_auth", tenant)` for a
// second factor with a recent login.

const CASBIN_MODEL: &str = r#"
[request_definition]
r = sub, dom, obj, act

[policy_definition]
p = sub, dom, act, rel, state

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = r.act == p.act && r.dom == p.dom && g(r.sub, p.sub, r.dom) && ( \
    (p.rel == "tenant" && r.obj == r.dom) || \
    (p.rel == "admin_tenant" && r.obj == r.dom && g(r.sub, "strong_auth", r.dom)) || \
    (p.rel == "admin_group" && keyMatch(r.obj, "grp_*") && g(r.sub, "strong_auth", r.dom)) || \
    (p.rel == "admin_account" && keyMatch(r.obj, "acc_*") && g(r.sub, "strong_auth", r.dom)) || \
    (p.rel == "admin_other_account" && keyMatch(r.obj, "acc_*") && r.obj != r.sub \
        && g(r.sub, "strong_auth", r.dom)) || \
    (p.rel == "own_account" && r.obj == r.sub) || \
    (p.rel == "room_owner" && g(r.sub, "owner:" + r.obj, r.dom)) || \
    (p.rel == "room" && keyMatch(r.obj, "rom_*")) || \
    (p.state != "na" && g(r.sub, p.rel + ":" + r.obj, r.dom) \
        && (p.state == "any" || g(r.obj, "open", r.dom))))
"#;

mod casbin_engine {
    use casbin::{CoreApi, DefaultModel, Enforcer, MemoryAdapter, MgmtApi};

    use super::{CASBIN_MODEL, Fixture, Rel, Target, relations};

    pub(super) struct Casbin {
        enforcer: Enforcer,
        requests: Vec<[String; 4]>,
    }

    fn rel_row(rel: Rel) -> (String, &'static str) {
        let plain = |s: &str| (s.to_owned(), "na");
        match rel {
            Rel::Tenant => plain("tenant"),
            Rel::AdminTenant => plain("admin_tenant"),
            Rel::AdminGroup => plain("admin_group"),
            Rel::AdminAccount => plain("admin_account"),
            Rel::AdminOtherAccount => plain("admin_other_account"),
            Rel::OwnAccount => plain("own_account"),
            Rel::RoomOwner => plain("room_owner"),
            Rel::AnyRoom => plain("room"),
            Rel::Session(part, open) => (format!("in:{part}"), if open { "open" } else { "any" }),
        }
    }

    impl Casbin {
        pub(super) fn new(f: &Fixture, rt: &tokio::runtime::Runtime) -> Self {
            let mut policies = Vec::new();
            for t in &f.tenants {
                let dom = t.id.to_string();
                for (role, perms) in &t.roles {
                    for action in perms.iter() {
                        for rel in relations(action) {
                            let (rel, state) = rel_row(rel);
                            policies.push(vec![
                                role.to_string(),
                                dom.clone(),
                                action.name().to_owned(),
                                rel,
                                state.to_owned(),
                            ]);
                        }
                    }
                }
            }
            let mut links: Vec<Vec<String>> = Vec::new();
            let mut link = |a: String, b: String, dom: String| links.push(vec![a, b, dom]);
            for p in &f.principals {
                let dom = f.tenants[p.tenant].id.to_string();
                let me = p.principal.subject().to_string();
                for (role, _) in &p.roles {
                    link(me.clone(), role.to_string(), dom.clone());
                }
                for g in p.principal.groups() {
                    link(me.clone(), g.to_string(), dom.clone());
                }
                if p.strong {
                    link(me.clone(), "strong_auth".into(), dom.clone());
                }
            }
            for s in &f.sessions {
                let dom = f.tenants[s.tenant].id.to_string();
                for (who, part) in f.parts(s) {
                    let part = format!("{part:?}").to_lowercase();
                    link(who.to_string(), format!("in:{part}:{}", s.id), dom.clone());
                }
                for g in &s.groups {
                    link(g.to_string(), format!("in:team:{}", s.id), dom.clone());
                }
                if s.open {
                    link(s.id.to_string(), "open".into(), dom.clone());
                }
            }
            for r in &f.rooms {
                let dom = f.tenants[r.tenant].id.to_string();
                link(r.owner.to_string(), format!("owner:{}", r.id), dom);
            }
            let enforcer = rt.block_on(async {
                let model = DefaultModel::from_str(CASBIN_MODEL).await.unwrap();
                let mut e = Enforcer::new(model, MemoryAdapter::default())
                    .await
                    .unwrap();
                e.add_policies(policies).await.unwrap();
                e.add_grouping_policies(links).await.unwrap();
                e
            });
            let requests = f
                .requests
                .iter()
                .map(|r| {
                    let p = &f.principals[r.principal];
                    let dom = f.tenants[f.target_tenant(r.target)].id.to_string();
                    let obj = match r.target {
                        Target::Tenant(_) => dom.clone(),
                        Target::Account(_, a) => a.to_string(),
                        Target::Group(_, g) => g.to_string(),
                        Target::Session(s) => f.sessions[s].id.to_string(),
                        Target::Room(r) => f.rooms[r].id.to_string(),
                    };
                    [
                        p.principal.subject().to_string(),
                        dom,
                        obj,
                        r.action.name().to_owned(),
                    ]
                })
                .collect();
            Self { enforcer, requests }
        }

        pub(super) fn len(&self) -> usize {
            self.requests.len()
        }

        pub(super) fn policies(&self) -> usize {
            self.enforcer.get_policy().len()
        }

        pub(super) fn decide(&self, i: usize) -> bool {
            let [sub, dom, obj, act] = &self.requests[i];
            self.enforcer
                .enforce((sub.as_str(), dom.as_str(), obj.as_str(), act.as_str()))
                .unwrap()
        }
    }
}

// ---------------------------------------------------------------------------------------
// Cedar: principals in `Role::"<tenant>/<role>"` and their groups; one `permit` per
// tenant, role, granted action and relation, the relation read from resource attributes
// (tenant, owner, participants per part, groups, open).

#[cfg(cai_bench_cedar)]
mod cedar_engine {
    use std::collections::{HashMap, HashSet};
    use std::str::FromStr;

    use cedar_policy::{
        Authorizer, Context, Decision, Entities, Entity, EntityUid, PolicySet, Request,
        RestrictedExpression,
    };

    use super::{Fixture, Rel, Target, relations};

    pub(super) struct Cedar {
        authorizer: Authorizer,
        policies: PolicySet,
        entities: Entities,
        requests: Vec<Request>,
    }

    fn uid(kind: &str, id: impl std::fmt::Display) -> EntityUid {
        EntityUid::from_str(&format!("{kind}::\"{id}\"")).unwrap()
    }

    fn condition(rel: Rel, tenant: &str) -> String {
        let admin = "principal.strong";
        match rel {
            Rel::Tenant => format!("resource == Tenant::\"{tenant}\""),
            Rel::AdminTenant => format!("resource == Tenant::\"{tenant}\" && {admin}"),
            Rel::AdminGroup => {
                format!("resource is Group && resource.tenant == \"{tenant}\" && {admin}")
            }
            Rel::AdminAccount => {
                format!("resource is User && resource.tenant == \"{tenant}\" && {admin}")
            }
            Rel::AdminOtherAccount => format!(
                "resource is User && resource.tenant == \"{tenant}\" && resource != principal && {admin}"
            ),
            Rel::OwnAccount => "resource == principal".to_owned(),
            Rel::RoomOwner => format!(
                "resource is Room && resource.tenant == \"{tenant}\" && resource.owner == principal"
            ),
            Rel::AnyRoom => format!("resource is Room && resource.tenant == \"{tenant}\""),
            Rel::Session(part, open) => {
                let related = if part == "team" {
                    "principal in resource.groups".to_owned()
                } else {
                    format!("resource.{part}.contains(principal)")
                };
                let open = if open { " && resource.open" } else { "" };
                format!("resource is Session && resource.tenant == \"{tenant}\" && {related}{open}")
            }
        }
    }

    impl Cedar {
        pub(super) fn new(f: &Fixture) -> Self {
            // One policy per tenant, role and relation, naming every action the role
            // may perform under that relation.
            let mut text = String::new();
            for t in &f.tenants {
                let tenant = t.id.to_string();
                for (role, perms) in &t.roles {
                    let mut by_relation: Vec<(Rel, Vec<String>)> = Vec::new();
                    for action in perms.iter() {
                        for rel in relations(action) {
                            let name = format!("Action::\"{}\"", action.name());
                            match by_relation.iter_mut().find(|(r, _)| *r == rel) {
                                Some((_, actions)) => actions.push(name),
                                None => by_relation.push((rel, vec![name])),
                            }
                        }
                    }
                    for (rel, actions) in by_relation {
                        text.push_str(&format!(
                            "permit(principal in Role::\"{tenant}/{role}\", action in [{}], resource) when {{ {} }};\n",
                            actions.join(", "),
                            condition(rel, &tenant)
                        ));
                    }
                }
            }
            let policies = PolicySet::from_str(&text).unwrap();

            let s = |v: String| RestrictedExpression::new_string(v);
            let mut entities = Vec::new();
            let mut seen_users = HashSet::new();
            for p in &f.principals {
                let tenant = f.tenants[p.tenant].id.to_string();
                let me = p.principal.subject();
                seen_users.insert(me.to_string());
                let mut parents: HashSet<EntityUid> = p
                    .roles
                    .iter()
                    .map(|(r, _)| uid("Role", format!("{tenant}/{r}")))
                    .collect();
                parents.extend(p.principal.groups().iter().map(|g| uid("Group", g)));
                let attrs = HashMap::from([
                    ("tenant".to_owned(), s(tenant)),
                    (
                        "strong".to_owned(),
                        RestrictedExpression::new_bool(p.strong),
                    ),
                ]);
                entities.push(Entity::new(uid("User", me), attrs, parents).unwrap());
            }
            // Accounts asked about that are no principal here.
            for (t, accounts) in f.accounts.iter().enumerate() {
                for a in accounts {
                    if seen_users.insert(a.to_string()) {
                        let attrs =
                            HashMap::from([("tenant".to_owned(), s(f.tenants[t].id.to_string()))]);
                        entities.push(Entity::new(uid("User", a), attrs, HashSet::new()).unwrap());
                    }
                }
            }
            for t in &f.tenants {
                entities.push(Entity::new_no_attrs(uid("Tenant", t.id), HashSet::new()));
                for g in &t.groups {
                    let attrs = HashMap::from([("tenant".to_owned(), s(t.id.to_string()))]);
                    entities.push(Entity::new(uid("Group", g), attrs, HashSet::new()).unwrap());
                }
            }
            for session in &f.sessions {
                let mut attrs = HashMap::from([
                    (
                        "tenant".to_owned(),
                        s(f.tenants[session.tenant].id.to_string()),
                    ),
                    (
                        "open".to_owned(),
                        RestrictedExpression::new_bool(session.open),
                    ),
                    (
                        "groups".to_owned(),
                        RestrictedExpression::new_set(
                            session
                                .groups
                                .iter()
                                .map(|g| RestrictedExpression::new_entity_uid(uid("Group", g))),
                        ),
                    ),
                ]);
                let parts = f.parts(session);
                for part in ["host", "counsellor", "client", "guest"] {
                    let members = parts
                        .iter()
                        .filter(|(_, p)| format!("{p:?}").to_lowercase() == part)
                        .map(|(who, _)| RestrictedExpression::new_entity_uid(uid("User", who)));
                    attrs.insert(part.to_owned(), RestrictedExpression::new_set(members));
                }
                entities
                    .push(Entity::new(uid("Session", session.id), attrs, HashSet::new()).unwrap());
            }
            for r in &f.rooms {
                let attrs = HashMap::from([
                    ("tenant".to_owned(), s(f.tenants[r.tenant].id.to_string())),
                    (
                        "owner".to_owned(),
                        RestrictedExpression::new_entity_uid(uid("User", r.owner)),
                    ),
                ]);
                entities.push(Entity::new(uid("Room", r.id), attrs, HashSet::new()).unwrap());
            }
            let entities = Entities::from_entities(entities, None).unwrap();

            let requests = f
                .requests
                .iter()
                .map(|r| {
                    let resource = match r.target {
                        Target::Tenant(t) => uid("Tenant", f.tenants[t].id),
                        Target::Account(_, a) => uid("User", a),
                        Target::Group(_, g) => uid("Group", g),
                        Target::Session(s) => uid("Session", f.sessions[s].id),
                        Target::Room(room) => uid("Room", f.rooms[room].id),
                    };
                    Request::new(
                        uid("User", f.principals[r.principal].principal.subject()),
                        uid("Action", r.action.name()),
                        resource,
                        Context::empty(),
                        None,
                    )
                    .unwrap()
                })
                .collect();
            Self {
                authorizer: Authorizer::new(),
                policies,
                entities,
                requests,
            }
        }

        pub(super) fn policies(&self) -> usize {
            self.policies.policies().count()
        }

        pub(super) fn decide(&self, i: usize) -> bool {
            self.authorizer
                .is_authorized(&self.requests[i], &self.policies, &self.entities)
                .decision()
                == Decision::Allow
        }
    }
}

// ---------------------------------------------------------------------------------------

fn bench(c: &mut Criterion) {
    let f = fixture();
    let ours: Vec<(&Principal, Action, Resource<'_>)> = f
        .requests
        .iter()
        .map(|r| {
            (
                &f.principals[r.principal].principal,
                r.action,
                f.resource(r.target),
            )
        })
        .collect();
    let decisions: Vec<bool> = ours
        .iter()
        .map(|(p, a, r)| authorize(p, *a, r).is_allowed())
        .collect();
    let allowed = decisions.iter().filter(|d| **d).count();

    // casbin needs an async runtime to be built; enforcing is synchronous.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let casbin = casbin_engine::Casbin::new(&f, &rt);
    assert_eq!(casbin.len(), ours.len());
    let disagree = |name: &str, decide: &dyn Fn(usize) -> bool| {
        let wrong: Vec<String> = (0..ours.len())
            .filter(|i| decide(*i) != decisions[*i])
            .map(|i| {
                let (p, a, r) = &ours[i];
                format!(
                    "  {name} says {} to {a} by {} on {r:?}",
                    decide(i),
                    p.subject()
                )
            })
            .collect();
        assert!(
            wrong.is_empty(),
            "{} of {} requests decided differently:\n{}",
            wrong.len(),
            ours.len(),
            wrong[..wrong.len().min(10)].join("\n")
        );
    };
    disagree("casbin", &|i| casbin.decide(i));
    println!("casbin: {} policy rules", casbin.policies());
    #[cfg(cai_bench_cedar)]
    let cedar = cedar_engine::Cedar::new(&f);
    #[cfg(cai_bench_cedar)]
    {
        disagree("cedar", &|i| cedar.decide(i));
        println!("cedar: {} policies", cedar.policies());
    }
    let accounts: usize = f.accounts.iter().map(Vec::len).sum();
    println!(
        "authorize: {} requests by {} principals ({accounts} accounts) on {} sessions, \
         {allowed} allowed; the engines agree on every one",
        ours.len(),
        f.principals.len(),
        f.sessions.len(),
    );
    let mut kinds: Vec<(&str, usize, usize)> = Vec::new();
    for (r, allowed) in f.requests.iter().zip(&decisions) {
        let kind = if f.target_tenant(r.target) != f.principals[r.principal].tenant {
            "other tenant"
        } else {
            match r.target {
                Target::Tenant(_) => "tenant",
                Target::Account(..) => "account",
                Target::Group(..) => "group",
                Target::Session(_) => "session",
                Target::Room(_) => "room",
            }
        };
        match kinds.iter_mut().find(|(k, ..)| *k == kind) {
            Some((_, n, a)) => {
                *n += 1;
                *a += usize::from(*allowed);
            }
            None => kinds.push((kind, 1, usize::from(*allowed))),
        }
    }
    for (kind, n, a) in kinds {
        println!("  {kind:<13} {n:>5} requests, {a:>5} allowed");
    }

    let mut group = c.benchmark_group("authorize");
    group.throughput(Throughput::Elements(ours.len() as u64));
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("cai_core", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for (p, a, r) in &ours {
                n += usize::from(authorize(black_box(p), black_box(*a), black_box(r)).is_allowed());
            }
            n
        })
    });
    group.bench_function("casbin", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for i in 0..casbin.len() {
                n += usize::from(casbin.decide(black_box(i)));
            }
            n
        })
    });
    #[cfg(cai_bench_cedar)]
    group.bench_function("cedar", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for i in 0..ours.len() {
                n += usize::from(cedar.decide(black_box(i)));
            }
            n
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
