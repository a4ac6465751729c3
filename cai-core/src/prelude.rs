//! The names most hosts use, in one import: `use cai_core::prelude::*;`.

pub use crate::authz::{Action, Authentication, Decision, PermissionSet};
pub use crate::domain::{
    Account, BuiltinRole, ContentKind, Email, Name, Pseudonym, Region, RequestMeta, Room,
    RoomContent, Session, SessionMode, Tenant, TenantSettings,
};
pub use crate::id::{
    AccountId, GroupId, InvitationId, ItemId, RoleId, RoomId, SessionId, SubjectId, TenantId,
};
pub use crate::ports::{Clock, InvitationFilter, SystemClock};
pub use crate::service::{
    ContentBody, ContentView, Cursor, InviteTo, Invited, NewAccount, NewRoom, NewSession,
    NewTenant, PageRequest, Paged, RoomEntry, SessionDetails, SessionKeyMaterial,
};
pub use crate::{Caller, Counselling, Error, ErrorCategory, Ports, Result, Timestamp};
