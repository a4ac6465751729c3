//! Who is asking: a [`Principal`], resolved fresh from the directory for every request
//! so that revoking a role or deactivating an account takes effect at once.

use std::time::Duration;

use super::action::PermissionSet;
use crate::id::{AccountId, GroupId, RoleId, SessionId, SubjectId, TenantId};
use crate::time::Timestamp;

/// How the principal authenticated (set by `cai-auth`).
///
/// `Serialize` only: a host may show it to its user, but must never take it from a
/// client, so there is no `Deserialize` to call on a request by mistake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Authentication {
    /// Whether a second factor (TOTP, e-mail code) was verified.
    pub second_factor: bool,
    /// When the principal last proved who it is (password, 2FA, re-authentication).
    pub at: Timestamp,
}

/// The subject of a request with everything `authorize` needs: tenant, roles with what
/// they grant in that tenant, groups, and how it authenticated.
///
/// Built by the service from stored records (`Counselling::principal`) or, in tests and
/// benchmarks, with [`Principal::account`] / [`Principal::guest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub(crate) tenant: TenantId,
    pub(crate) subject: SubjectId,
    /// For guests: the one session they belong to.
    pub(crate) guest_session: Option<SessionId>,
    /// Roles held, each with the permissions it grants in `tenant`.
    pub(crate) roles: Vec<(RoleId, PermissionSet)>,
    /// Union of `roles` (capped for guests), so a permission check is one AND.
    pub(crate) permissions: PermissionSet,
    /// Group memberships, sorted.
    pub(crate) groups: Vec<GroupId>,
    pub(crate) authentication: Authentication,
    /// The time the request is evaluated at.
    pub(crate) now: Timestamp,
    /// How recent `authentication.at` must be for administrative actions.
    pub(crate) reauth_window: Duration,
}

/// The most a guest can ever be granted, whatever the tenant configures for the guest
/// role: a guest lives in one session and only reads, posts and sees it.
pub const GUEST_CAP: PermissionSet = PermissionSet::of(&[
    super::Action::ViewSession,
    super::Action::JoinSession,
    super::Action::ReadContent,
    super::Action::PostContent,
]);

impl Principal {
    /// An account principal of `tenant` holding `roles` (each with its permissions in
    /// that tenant) and member of `groups`.
    pub fn account(
        tenant: TenantId,
        account: AccountId,
        roles: Vec<(RoleId, PermissionSet)>,
        mut groups: Vec<GroupId>,
        authentication: Authentication,
        now: Timestamp,
        reauth_window: Duration,
    ) -> Self {
        groups.sort_unstable();
        groups.dedup();
        let permissions = roles
            .iter()
            .fold(PermissionSet::EMPTY, |acc, (_, p)| acc.union(*p));
        Self {
            tenant,
            subject: SubjectId::Account(account),
            guest_session: None,
            roles,
            permissions,
            groups,
            authentication,
            now,
            reauth_window,
        }
    }

    /// A guest principal of `session`, with the tenant's guest-role permissions
    /// (capped at [`GUEST_CAP`]). Guests have no groups and no second factor.
    pub fn guest(
        tenant: TenantId,
        guest: crate::id::GuestId,
        session: SessionId,
        guest_role: (RoleId, PermissionSet),
        now: Timestamp,
    ) -> Self {
        let capped = guest_role.1.intersection(GUEST_CAP);
        Self {
            tenant,
            subject: SubjectId::Guest(guest),
            guest_session: Some(session),
            roles: vec![(guest_role.0, capped)],
            permissions: capped,
            groups: Vec::new(),
            authentication: Authentication {
                second_factor: false,
                at: now,
            },
            now,
            reauth_window: Duration::ZERO,
        }
    }

    /// The principal's tenant.
    pub fn tenant(&self) -> TenantId {
        self.tenant
    }

    /// Who it is.
    pub fn subject(&self) -> SubjectId {
        self.subject
    }

    /// The account, unless it is a guest.
    pub fn account_id(&self) -> Option<AccountId> {
        self.subject.account()
    }

    /// The roles it holds.
    pub fn roles(&self) -> impl Iterator<Item = RoleId> + '_ {
        self.roles.iter().map(|(r, _)| *r)
    }

    /// Everything its roles grant.
    pub fn permissions(&self) -> PermissionSet {
        self.permissions
    }

    /// Its groups, sorted.
    pub fn groups(&self) -> &[GroupId] {
        &self.groups
    }

    /// How it authenticated.
    pub fn authentication(&self) -> Authentication {
        self.authentication
    }

    /// When the request is evaluated.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// The first role granting `action`, for explanations.
    pub(crate) fn role_granting(&self, action: super::Action) -> Option<RoleId> {
        self.roles
            .iter()
            .find(|(_, p)| p.contains(action))
            .map(|(r, _)| *r)
    }
}
