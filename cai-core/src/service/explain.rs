//! Explaining decisions: what `authorize` would answer for a subject, an action and a
//! target, with the rule or the reason — for debugging a tenant's custom roles and for
//! support ("why can't I open this session?").

use super::{Caller, Counselling};
use crate::authz::{Action, Decision, Resource};
use crate::error::{Error, Result};
use crate::id::{AccountId, GroupId, RoomId, SessionId, SubjectId, TenantId};

/// What an explained action would act on. JSON: `{"type":"tenant"}`,
/// `{"type":"session","session":"ses_…"}` (the id in a field named like the tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(from = "crate::json::TargetJson", into = "crate::json::TargetJson")]
pub enum Target {
    /// The tenant itself.
    Tenant,
    /// An account.
    Account(AccountId),
    /// A group.
    Group(GroupId),
    /// A session.
    Session(SessionId),
    /// A room.
    Room(RoomId),
}

impl Counselling {
    /// The decision `authorize` makes for `subject` doing `action` on `target` now,
    /// allowed or denied, with its explanation. Nothing is changed or recorded.
    ///
    /// Explaining one's own access needs nothing more; explaining another subject's
    /// needs `ManageRoles` (administrators debugging custom roles). For a session
    /// target the caller must be allowed to view that session itself — otherwise the
    /// answer would tell who takes part in it ([`Error::NotFound`], as for an unknown
    /// session).
    pub async fn explain(
        &self,
        caller: &Caller,
        tenant: TenantId,
        subject: SubjectId,
        action: Action,
        target: Target,
    ) -> Result<Decision> {
        self.observe("explain", Some(tenant), Some(caller), async move {
            let (store, me, _) = self.principal(caller, tenant, action).await?;
            let me_again = me.clone();
            let principal = if subject == caller.subject {
                me
            } else {
                self.check(&me, Action::ManageRoles, &Resource::Tenant(tenant))
                    .await?;
                let as_subject = Caller { subject, ..*caller };
                self.principal(&as_subject, tenant, action).await?.1
            };
            Ok(match target {
                Target::Tenant => {
                    crate::authz::authorize(&principal, action, &Resource::Tenant(tenant))
                }
                Target::Account(account) => crate::authz::authorize(
                    &principal,
                    action,
                    &Resource::Account { tenant, account },
                ),
                Target::Group(group) => {
                    crate::authz::authorize(&principal, action, &Resource::Group { tenant, group })
                }
                Target::Session(session) => {
                    let (s, parts) = self.load_session(&store, tenant, session).await?;
                    // An explanation about a session tells who takes part in it: only for
                    // sessions the caller may view itself; the rest do not exist for it.
                    let view = Resource::Session(Self::view(&s, &parts, None));
                    if !crate::authz::authorize(&me_again, Action::ViewSession, &view).is_allowed()
                    {
                        return Err(Error::NotFound { what: "session" });
                    }
                    crate::authz::authorize(
                        &principal,
                        action,
                        &Resource::Session(Self::view(&s, &parts, None)),
                    )
                }
                Target::Room(room) => {
                    let r = store
                        .room(tenant, room)
                        .await?
                        .ok_or(Error::NotFound { what: "room" })?;
                    crate::authz::authorize(
                        &principal,
                        action,
                        &Resource::Room {
                            tenant,
                            room,
                            owner: r.owner,
                        },
                    )
                }
            })
        })
        .await
    }
}
