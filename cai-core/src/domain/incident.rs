//! Security incidents (R-U3): recorded in the tenant's store and reported to the admin
//! notifier.

use serde::{Deserialize, Serialize};

use super::audit::AuditObject;
use crate::authz::Action;
use crate::id::{AccountId, IncidentId, SubjectId, TenantId};
use crate::time::Timestamp;

/// What was detected. JSON: internally tagged,
/// `{"type":"cross_tenant_access","actor_tenant":"ten_…","action":"view_session"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum IncidentKind {
    /// A principal of one tenant asked for a resource of another (R-T1). Always an
    /// incident, whatever the action.
    CrossTenantAccess {
        /// The tenant the principal belongs to.
        actor_tenant: TenantId,
        /// What it asked to do.
        action: Action,
    },
    /// Repeated wrong secrets (room password, later logins and codes) against one
    /// object, or from one source: the throttle's threshold was crossed (R-U3).
    RepeatedWrongSecret {
        /// How many failures in a row so far.
        attempts: u32,
        /// What was attacked.
        object: AuditObject,
        /// The client address of the attempt that crossed a threshold (whichever
        /// counter — per address or per object — crossed), if the host named one.
        source: Option<String>,
    },
    /// An external identity provider (OpenID Connect) vouched for an account's e-mail
    /// address with another identity (issuer and subject) than the one linked to the
    /// account: the provider may have given the address to someone else. The login was
    /// refused.
    ExternalIdentityMismatch {
        /// The account whose linked identity differs.
        account: AccountId,
        /// The issuer of the refused ID token.
        issuer: String,
    },
}

/// A recorded incident. Stored with the tenant whose data was targeted, and also with
/// the actor's tenant for cross-tenant access, so both sets of admins see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    /// The incident's id.
    pub id: IncidentId,
    /// The tenant whose store holds this record.
    pub tenant: TenantId,
    /// When.
    pub at: Timestamp,
    /// Who, if known.
    pub actor: Option<SubjectId>,
    /// What.
    pub kind: IncidentKind,
}
