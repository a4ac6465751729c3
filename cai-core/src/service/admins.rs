//! The rules that keep a tenant administrable: the last administrator who can act now
//! and for good stays one (deactivation, deletion, revocation, windows, the retention
//! engine), and four eyes around administrative roles — a time-limited administrator
//! cannot make another account outlast it.

use super::{Caller, Counselling};
use crate::authz::{Action, DenyReason};
use crate::domain::{Account, BuiltinRole, Role};
use crate::error::{Error, Result};
use crate::id::{AccountId, TenantId};
use crate::ports::DynStore;
use crate::time::Timestamp;

impl Counselling {
    /// Four eyes across accounts: an administrator whose own window ends cannot hand a
    /// role with administrative permissions to an account that outlasts it (a second
    /// account of its own, say) — another administrator must.
    pub(super) async fn no_outlasting_admin(
        &self,
        store: &DynStore,
        caller: &Caller,
        role: &Role,
        target_until: Option<Timestamp>,
    ) -> Result<()> {
        if !role.permissions.iter().any(|a| a.is_administrative()) {
            return Ok(());
        }
        let Some(me) = caller.subject.account() else {
            return Ok(());
        };
        let granter = self.load_account(store, caller.tenant, me).await?;
        match (granter.valid_until, target_until) {
            (Some(mine), Some(theirs)) if theirs <= mine => Ok(()),
            (Some(_), _) => Err(four_eyes(Action::AssignRoles)),
            (None, _) => Ok(()),
        }
    }

    /// Refuses to take `leaving` away as an administrator unless another one can act
    /// now and for good: active, not locked, inside its window, with no end date. A
    /// tenant whose administrators all run out could never be administered again.
    pub(super) async fn ensure_other_admin(
        &self,
        store: &DynStore,
        tenant: TenantId,
        leaving: AccountId,
    ) -> Result<()> {
        if self.lasting_admins(store, tenant, Some(leaving)).await? > 0 {
            return Ok(());
        }
        Err(Error::Conflict {
            what: "administrators",
            reason: "the tenant's last lasting administrator cannot be removed",
        })
    }

    /// Refuses a changed administrator `a` (not yet stored) unless, with the change,
    /// some administrator can act now and for good.
    pub(super) async fn ensure_lasting_admin(
        &self,
        store: &DynStore,
        tenant: TenantId,
        a: &Account,
    ) -> Result<()> {
        if lasting(a, self.now()) || self.lasting_admins(store, tenant, Some(a.id)).await? > 0 {
            return Ok(());
        }
        Err(Error::Conflict {
            what: "administrators",
            reason: "the change would leave no administrator without an end date",
        })
    }

    /// How many administrators other than `except` can act now and have no end date.
    async fn lasting_admins(
        &self,
        store: &DynStore,
        tenant: TenantId,
        except: Option<AccountId>,
    ) -> Result<usize> {
        let now = self.now();
        let mut n = 0;
        for id in store
            .accounts_with_role(tenant, BuiltinRole::TenantAdmin.id())
            .await?
        {
            if Some(id) == except {
                continue;
            }
            if let Some(a) = store.account(tenant, id).await?
                && lasting(&a, now)
            {
                n += 1;
            }
        }
        Ok(n)
    }
}

/// Usable now and without an end date: an administrator the tenant can rely on.
fn lasting(a: &Account, now: Timestamp) -> bool {
    a.is_usable_at(now) && a.valid_until.is_none()
}

/// The denial of an administrative act that needs a second administrator (four eyes).
pub(super) fn four_eyes(action: Action) -> Error {
    Error::Denied {
        action,
        reason: DenyReason::FourEyes,
    }
}
