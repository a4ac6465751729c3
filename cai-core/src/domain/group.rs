//! Groups (R-I4): a named set of accounts. A session can give groups access, which is
//! how a team of counsellors shares a case.

use serde::{Deserialize, Serialize};

use super::text::Name;
use crate::id::{AccountId, GroupId, TenantId};

/// A group of accounts of one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// The group's id.
    pub id: GroupId,
    /// Its tenant.
    pub tenant: TenantId,
    /// Display name.
    pub name: Name,
    /// Members, sorted.
    pub members: Vec<AccountId>,
    /// Incremented by the store on every update.
    pub revision: u64,
}

impl Group {
    /// Most members a group may have.
    pub const MAX_MEMBERS: usize = 10_000;
}
