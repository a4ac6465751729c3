//! Groups (R-I4): listing, creation and membership. Groups open sessions to their
//! members, so every change is security relevant and nobody adds themselves (four
//! eyes).

use super::admins::four_eyes;
use super::paging::{PageRequest, Paged};
use super::{Caller, Counselling};
use crate::authz::{Action, Resource};
use crate::domain::{AuditKind, AuditObject, Change, Group, Name};
use crate::error::{Error, Result};
use std::collections::BTreeSet;

use super::session_keys::{Reach, collect_sessions, retrying_moves};
use crate::id::{AccountId, GroupId, SubjectId, TenantId};
use crate::ports::{DynStore, Order, Write};

impl Counselling {
    /// A page of the tenant's groups, oldest first unless asked otherwise. Needs
    /// `ManageGroups`.
    pub async fn list_groups(
        &self,
        caller: &Caller,
        tenant: TenantId,
        page: PageRequest,
    ) -> Result<Paged<Group>> {
        self.observe("list_groups", Some(tenant), Some(caller), async move {
            let (store, ..) = self
                .authorized(
                    caller,
                    tenant,
                    Action::ManageGroups,
                    Resource::Tenant(tenant),
                )
                .await?;
            let kind = format!("grp{tenant}");
            let page = page.id_page(&kind, Order::OldestFirst)?;
            let items = store.groups(tenant, page).await?;
            Ok(Paged::by_id(items, &kind, &page, |g| g.id))
        })
        .await
    }

    /// Creates a group with these members (R-I4). Needs `ManageGroups`; nobody adds
    /// themselves (four eyes). Security relevant: groups open sessions to their members.
    pub async fn create_group(
        &self,
        caller: &Caller,
        tenant: TenantId,
        name: Name,
        members: &[AccountId],
    ) -> Result<Group> {
        self.observe("create_group", Some(tenant), Some(caller), async move {
            let (store, _, _, decision) = self
                .authorized(
                    caller,
                    tenant,
                    Action::ManageGroups,
                    Resource::Tenant(tenant),
                )
                .await?;
            let members = self.checked_members(&store, tenant, members).await?;
            self.no_self_add(caller, &[], &members)?;
            let group = Group {
                id: GroupId::random()?,
                tenant,
                name,
                members,
                revision: 0,
            };
            let mut tx = self.tx_of(caller, tenant);
            tx.write(Write::InsertGroup(group.clone()));
            tx.audit(
                &store,
                AuditKind::GroupCreated,
                AuditObject::Group(group.id),
                vec![
                    Change::new("name", None::<String>, Some(group.name.as_str())),
                    Change::new("members", None::<String>, Some(id_list(&group.members))),
                ],
                Some(&decision),
                true,
            )
            .await?;
            self.commit(&store, tx).await?;
            Ok(group)
        })
        .await
    }

    /// Replaces a group's members. Needs `ManageGroups`; nobody adds themselves (four
    /// eyes). Takes effect on each member's next request. Security relevant.
    ///
    /// When an account leaves the group, every open server-managed or session-key
    /// session shared with the group moves to its next key epoch in the same commit,
    /// as `remove_participant` does (docs/CORE.md, "Key epochs outside end-to-end
    /// mode"): the one who left may still hold the current key, and nothing sealed
    /// from now on is under it. That costs one `KeyProvider::wrap` per such session.
    /// A post in one of those sessions meanwhile makes the commit conflict; the
    /// service then reads everything again, up to [`ROTATION_ATTEMPTS`] times in all,
    /// before it answers `conflict` (nothing changed). A concurrent change of the group
    /// itself is `conflict` at once.
    ///
    /// [`ROTATION_ATTEMPTS`]: crate::service::ROTATION_ATTEMPTS
    pub async fn set_group_members(
        &self,
        caller: &Caller,
        tenant: TenantId,
        group: GroupId,
        members: &[AccountId],
    ) -> Result<Group> {
        self.observe(
            "set_group_members",
            Some(tenant),
            Some(caller),
            retrying_moves(async || self.replace_members(caller, tenant, group, members).await),
        )
        .await
    }

    /// One attempt of [`Self::set_group_members`].
    async fn replace_members(
        &self,
        caller: &Caller,
        tenant: TenantId,
        group: GroupId,
        members: &[AccountId],
    ) -> Result<Group> {
        let (store, _, _, decision) = self
            .authorized(
                caller,
                tenant,
                Action::ManageGroups,
                Resource::Group { tenant, group },
            )
            .await?;
        let mut g = store
            .group(tenant, group)
            .await?
            .ok_or(Error::NotFound { what: "group" })?;
        let members = self.checked_members(&store, tenant, members).await?;
        self.no_self_add(caller, &g.members, &members)?;
        let before = id_list(&g.members);
        let someone_left = g.members.iter().any(|m| !members.contains(m));
        g.members = members;
        let mut tx = self.tx_of(caller, tenant);
        tx.write(Write::UpdateGroup(g.clone()));
        tx.audit(
            &store,
            AuditKind::GroupMembersChanged,
            AuditObject::Group(group),
            vec![Change::new(
                "members",
                Some(before),
                Some(id_list(&g.members)),
            )],
            Some(&decision),
            true,
        )
        .await?;
        // After the cause in the audit trail, as for a removal.
        if someone_left {
            let mut reached = BTreeSet::new();
            collect_sessions(&store, tenant, Reach::Group(group), &mut reached).await?;
            self.next_key_epochs(&store, &mut tx, tenant, &reached, &decision)
                .await?;
        }
        self.commit(&store, tx).await?;
        g.revision += 1;
        Ok(g)
    }

    /// Four eyes for groups: nobody adds themselves to a group (groups open sessions to
    /// their members, R-I4); another administrator must.
    fn no_self_add(
        &self,
        caller: &Caller,
        before: &[AccountId],
        after: &[AccountId],
    ) -> Result<()> {
        match caller.subject {
            SubjectId::Account(me) if after.contains(&me) && !before.contains(&me) => {
                Err(four_eyes(Action::ManageGroups))
            }
            _ => Ok(()),
        }
    }

    /// The members of a group as given: at most [`Group::MAX_MEMBERS`], each an account
    /// of the tenant (else `not_found`), sorted, without repeats.
    async fn checked_members(
        &self,
        store: &DynStore,
        tenant: TenantId,
        members: &[AccountId],
    ) -> Result<Vec<AccountId>> {
        if members.len() > Group::MAX_MEMBERS {
            return Err(Error::Invalid {
                what: "group",
                reason: "too many members",
            });
        }
        let mut members = members.to_vec();
        members.sort_unstable();
        members.dedup();
        for m in &members {
            self.load_account(store, tenant, *m).await?;
        }
        Ok(members)
    }
}

/// Account ids as the audit trail lists them.
fn id_list(ids: &[AccountId]) -> String {
    ids.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
