//! The counselling domain: plain data types with validated constructors. They hold no
//! behaviour that needs I/O; the [`service`](crate::service) changes them and the
//! [`ports`](crate::ports) store them.

mod account;
mod audit;
mod content;
mod group;
mod incident;
mod report;
mod request;
mod retention;
mod role;
mod session;
mod tenant;
mod text;

pub use account::{Account, AccountStatus, Guest};
pub use audit::{AuditActor, AuditEvent, AuditKind, AuditObject, Change};
pub use content::{ContentItem, ContentVersion, SealedBody};
pub use group::Group;
pub use incident::{Incident, IncidentKind};
pub use report::{Report, ReportBy, ReportCell, ReportKey, ReportPeriod, ReportQuery};
pub use request::{RequestId, RequestMeta};
pub use retention::{ContentRetention, RetentionPolicy, RetentionPreset};
pub use role::{BuiltinRole, Role};
pub use session::{
    Invitation, InvitationKind, InvitationSecret, InvitationStatus, Participant, ParticipantRole,
    Room, RoomContent, Session, SessionKind, SessionStatus,
};
pub use tenant::{PasswordPolicy, Tenant, TenantSettings, TwoFactorPolicy};
pub use text::{Email, Name, Pseudonym, Region};

pub use cai_crypto::ContentKind;
pub use cai_crypto::modes::SessionMode;
