//! Accounts and guests (R-I1), account validity windows (R-I6) and the deactivation →
//! pseudonymisation life cycle (R-I7).

use serde::{Deserialize, Serialize};

use super::text::{Email, Name, Pseudonym};
use crate::id::{AccountId, GuestId, RoleId, SessionId, TenantId};
use crate::time::Timestamp;

/// A registered, e-mail identified account of one tenant. Personalised: one person per
/// account (R-I8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The account's id.
    pub id: AccountId,
    /// Its tenant.
    pub tenant: TenantId,
    /// The login e-mail address; `None` once pseudonymised.
    pub email: Option<Email>,
    /// Display name; replaced by a neutral one on pseudonymisation.
    pub display_name: Name,
    /// Roles held (several allowed, R-I2), sorted.
    pub roles: Vec<RoleId>,
    /// Life-cycle state.
    pub status: AccountStatus,
    /// Login allowed only from this time (R-I6).
    pub valid_from: Option<Timestamp>,
    /// Login allowed only until this time (R-I6); also the exit date for anonymisation.
    pub valid_until: Option<Timestamp>,
    /// When the account was created.
    pub created_at: Timestamp,
    /// When the account last logged in or was reactivated by an administrator; `None`
    /// before either (the inactivity clock then runs from `created_at`). Logins refresh
    /// it at most once per [`Account::LAST_ACTIVE_RESOLUTION`], so it may lag the last
    /// login by up to that much; the retention engine's `inactive_accounts` deadline
    /// allows for the lag. JSON: `"last_active"`, `null` when `None` (and when absent
    /// from input written before the field existed).
    #[serde(default)]
    pub last_active: Option<Timestamp>,
    /// Incremented by the store on every update.
    pub revision: u64,
}

impl Account {
    /// How stale [`Account::last_active`] may be before a login refreshes it: one day.
    /// Refreshing on every login would rewrite the account (and race with
    /// administrators' edits of it) for no gain against deadlines counted in months.
    pub const LAST_ACTIVE_RESOLUTION: std::time::Duration = crate::time::days(1);

    /// When the account was last seen active: [`Account::last_active`], else its
    /// creation.
    pub fn active_at(&self) -> Timestamp {
        self.last_active
            .unwrap_or(self.created_at)
            .max(self.created_at)
    }

    /// Whether a login at `now` should refresh [`Account::last_active`]: it is unset, at
    /// least [`Account::LAST_ACTIVE_RESOLUTION`] old, or in the future (a clock that
    /// ran backwards).
    pub fn last_active_stale_at(&self, now: Timestamp) -> bool {
        self.last_active
            .is_none_or(|at| at > now || now.minus(Self::LAST_ACTIVE_RESOLUTION) >= at)
    }

    /// Whether the account may act at `now`: active (or its temporary lock has run
    /// out) and inside its validity window.
    pub fn is_usable_at(&self, now: Timestamp) -> bool {
        let active = match self.status {
            AccountStatus::Active => true,
            AccountStatus::Locked { until, .. } => until.is_some_and(|until| now >= until),
            AccountStatus::Deactivated { .. } | AccountStatus::Pseudonymised { .. } => false,
        };
        active
            && self.valid_from.is_none_or(|from| now >= from)
            && self.valid_until.is_none_or(|until| now < until)
    }

    /// Whether the account holds `role`.
    pub fn has_role(&self, role: RoleId) -> bool {
        self.roles.binary_search(&role).is_ok()
    }
}

/// Where an account is in its life cycle (R-I7). JSON: `{"type":"active"}`,
/// `{"type":"deactivated","at":…,"pseudonymise_at":…}`, `{"type":"pseudonymised","at":…}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AccountStatus {
    /// Can log in (inside its validity window).
    Active,
    /// Locked after too many failed logins (R-A3), until an administrator unlocks it
    /// (`until: None`) or until a time (a temporary lock). A locked account cannot act,
    /// whatever token it holds.
    Locked {
        /// When it was locked.
        at: Timestamp,
        /// When a temporary lock ends; `None` until an administrator acts.
        until: Option<Timestamp>,
    },
    /// Cannot log in; pseudonymised at `pseudonymise_at` unless reactivated first.
    Deactivated {
        /// When it was deactivated.
        at: Timestamp,
        /// When its personal data will be replaced by a pseudonym.
        pseudonymise_at: Timestamp,
    },
    /// Personal data removed; the record remains so content and audit entries stay
    /// attributable to "a former account". Cannot be reactivated.
    Pseudonymised {
        /// When it was pseudonymised.
        at: Timestamp,
    },
}

/// A guest of one ad-hoc session (R-S2, R-A7): a pseudonym and nothing else, anonymous
/// to the platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Guest {
    /// The guest's id.
    pub id: GuestId,
    /// Its tenant.
    pub tenant: TenantId,
    /// The one session it may take part in.
    pub session: SessionId,
    /// The self-chosen pseudonym.
    pub pseudonym: Pseudonym,
    /// When it joined.
    pub joined_at: Timestamp,
    /// When it stops being usable (the tenant's guest deactivation deadline).
    pub expires_at: Timestamp,
}
