//! [`DirectoryStore`] reads: tenants, accounts, guests, roles and groups.

use async_trait::async_trait;
use cai_core::Timestamp;
use cai_core::domain::{Account, Email, Group, Guest, Role, Tenant};
use cai_core::id::{AccountId, GroupId, GuestId, RoleId, TenantId};
use cai_core::ports::{DirectoryStore, Page, StoreResult};
use serde_json::Value;

use super::Engine;
use super::codec::{
    IdBlob, Query, Row, RowExt, capped, db_error, id_from, id_list, query, record_of,
};
use super::sessions::keyset;

const TENANT: &str = "tenant";
const ACCOUNT: &str = "account";
const GUEST: &str = "guest";
const ROLE: &str = "role";
const GROUP: &str = "group";

/// `revision` from its column, as a JSON value.
pub(super) fn revision(row: &Row, what: &'static str) -> StoreResult<(&'static str, Value)> {
    Ok(("revision", Value::from(row.u64("revision", what)?)))
}

/// Rows of a record joined with one of its lists (`LEFT JOIN`, one row per list entry,
/// the record's columns repeated): the record rows with their lists, in row order.
pub(super) fn with_lists<I: IdBlob>(
    rows: Vec<Row>,
    list: &str,
    what: &'static str,
) -> StoreResult<Vec<(Row, Vec<I>)>> {
    let mut out: Vec<(Vec<u8>, Row, Vec<I>)> = Vec::new();
    for row in rows {
        let id = row.bytes("id", what)?;
        let entry: Option<I> = row
            .bytes_opt(list, what)?
            .map(|b| id_from(&b, what))
            .transpose()?;
        match out.last_mut() {
            Some((last, _, entries)) if *last == id => entries.extend(entry),
            _ => out.push((id, row, entry.into_iter().collect())),
        }
    }
    Ok(out.into_iter().map(|(_, row, list)| (row, list)).collect())
}

/// An account from its row and its roles.
fn account_of((row, roles): (Row, Vec<RoleId>)) -> StoreResult<Account> {
    let body = row.text("body", ACCOUNT)?;
    record_of(
        &body,
        vec![
            revision(&row, ACCOUNT)?,
            ("roles", id_list(&roles, ACCOUNT)?),
        ],
        ACCOUNT,
    )
}

/// A group from its row and its members.
fn group_of((row, members): (Row, Vec<AccountId>)) -> StoreResult<Group> {
    let body = row.text("body", GROUP)?;
    record_of(
        &body,
        vec![
            revision(&row, GROUP)?,
            ("members", id_list(&members, GROUP)?),
        ],
        GROUP,
    )
}

/// Accounts with their roles, in position order.
const ACCOUNTS_WITH_ROLES: &str = "SELECT a.id, a.revision, a.body, r.role FROM accounts a \
     LEFT JOIN account_roles r ON r.tenant = a.tenant AND r.account = a.id";
/// Groups with their members, in position order.
const GROUPS_WITH_MEMBERS: &str = "SELECT g.id, g.revision, g.body, m.account FROM groups g \
     LEFT JOIN group_members m ON m.tenant = g.tenant AND m.grp = g.id";

impl Engine {
    /// Fetches at most one row.
    pub(super) async fn one(
        &self,
        query: Query<'_>,
        what: &'static str,
    ) -> StoreResult<Option<Row>> {
        query
            .fetch_optional(self.read_pool())
            .await
            .map_err(|e| db_error(e, what))
    }

    /// Fetches every row.
    pub(super) async fn all(&self, query: Query<'_>, what: &'static str) -> StoreResult<Vec<Row>> {
        query
            .fetch_all(self.read_pool())
            .await
            .map_err(|e| db_error(e, what))
    }
}

/// A record whose body and revision are all there is.
fn plain<T: serde::de::DeserializeOwned>(row: &Row, what: &'static str) -> StoreResult<T> {
    record_of(&row.text("body", what)?, vec![revision(row, what)?], what)
}

#[async_trait]
impl DirectoryStore for Engine {
    async fn tenant(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        let q = query("SELECT revision, body FROM tenants WHERE id = ?").bind(id.blob());
        self.one(q, TENANT)
            .await?
            .map(|row| plain(&row, TENANT))
            .transpose()
    }

    async fn account(&self, tenant: TenantId, id: AccountId) -> StoreResult<Option<Account>> {
        let sql =
            format!("{ACCOUNTS_WITH_ROLES} WHERE a.tenant = ? AND a.id = ? ORDER BY r.position");
        let q = query(&sql).bind(tenant.blob()).bind(id.blob());
        let rows = self.all(q, ACCOUNT).await?;
        with_lists(rows, "role", ACCOUNT)?
            .into_iter()
            .next()
            .map(account_of)
            .transpose()
    }

    async fn account_by_email(
        &self,
        tenant: TenantId,
        email: &Email,
    ) -> StoreResult<Option<Account>> {
        let sql =
            format!("{ACCOUNTS_WITH_ROLES} WHERE a.tenant = ? AND a.email = ? ORDER BY r.position");
        let q = query(&sql).bind(tenant.blob()).bind(email.as_str());
        let rows = self.all(q, ACCOUNT).await?;
        with_lists(rows, "role", ACCOUNT)?
            .into_iter()
            .next()
            .map(account_of)
            .transpose()
    }

    async fn accounts(&self, tenant: TenantId, page: Page<AccountId>) -> StoreResult<Vec<Account>> {
        let (after, order) = keyset(&page, "id");
        let sql = format!(
            "SELECT a.id, a.revision, a.body, r.role FROM \
             (SELECT tenant, id, revision, body FROM accounts WHERE tenant = ? AND {after} \
              ORDER BY id {order} LIMIT ?) a \
             LEFT JOIN account_roles r ON r.tenant = a.tenant AND r.account = a.id \
             ORDER BY a.id {order}, r.position"
        );
        let q = query(&sql)
            .bind(tenant.blob())
            .bind(page.after.as_ref().map(IdBlob::blob))
            .bind(capped(page.limit));
        let rows = self.all(q, ACCOUNT).await?;
        with_lists(rows, "role", ACCOUNT)?
            .into_iter()
            .map(account_of)
            .collect()
    }

    async fn accounts_with_role(
        &self,
        tenant: TenantId,
        role: RoleId,
    ) -> StoreResult<Vec<AccountId>> {
        let q = query(
            "SELECT DISTINCT account FROM account_roles WHERE tenant = ? AND role = ? ORDER BY account",
        )
        .bind(tenant.blob())
        .bind(role.blob());
        self.all(q, ACCOUNT)
            .await?
            .iter()
            .map(|r| r.id("account", ACCOUNT))
            .collect()
    }

    async fn pseudonymisation_due(
        &self,
        tenant: TenantId,
        now: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<AccountId>> {
        let q = query(
            "SELECT id FROM accounts WHERE tenant = ? AND pseudonymise_at <= ? ORDER BY id LIMIT ?",
        )
        .bind(tenant.blob())
        .bind(now.unix_millis())
        .bind(capped(limit));
        self.all(q, ACCOUNT)
            .await?
            .iter()
            .map(|r| r.id("id", ACCOUNT))
            .collect()
    }

    async fn guest(&self, tenant: TenantId, id: GuestId) -> StoreResult<Option<Guest>> {
        let q = query("SELECT body FROM guests WHERE tenant = ? AND id = ?")
            .bind(tenant.blob())
            .bind(id.blob());
        self.one(q, GUEST)
            .await?
            .map(|row| record_of(&row.text("body", GUEST)?, vec![], GUEST))
            .transpose()
    }

    async fn guest_ids(&self, tenant: TenantId, page: Page<GuestId>) -> StoreResult<Vec<GuestId>> {
        let (after, order) = keyset(&page, "id");
        let sql = format!(
            "SELECT id FROM guests WHERE tenant = ? AND {after} ORDER BY id {order} LIMIT ?"
        );
        let q = query(&sql)
            .bind(tenant.blob())
            .bind(page.after.as_ref().map(IdBlob::blob))
            .bind(capped(page.limit));
        self.all(q, GUEST)
            .await?
            .iter()
            .map(|r| r.id("id", GUEST))
            .collect()
    }

    async fn role(&self, tenant: TenantId, id: RoleId) -> StoreResult<Option<Role>> {
        let q = query("SELECT revision, body FROM roles WHERE tenant = ? AND id = ?")
            .bind(tenant.blob())
            .bind(id.blob());
        self.one(q, ROLE)
            .await?
            .map(|row| plain(&row, ROLE))
            .transpose()
    }

    async fn roles(&self, tenant: TenantId) -> StoreResult<Vec<Role>> {
        let q = query("SELECT revision, body FROM roles WHERE tenant = ? ORDER BY id")
            .bind(tenant.blob());
        self.all(q, ROLE)
            .await?
            .iter()
            .map(|row| plain(row, ROLE))
            .collect()
    }

    async fn group(&self, tenant: TenantId, id: GroupId) -> StoreResult<Option<Group>> {
        let sql =
            format!("{GROUPS_WITH_MEMBERS} WHERE g.tenant = ? AND g.id = ? ORDER BY m.position");
        let q = query(&sql).bind(tenant.blob()).bind(id.blob());
        let rows = self.all(q, GROUP).await?;
        with_lists(rows, "account", GROUP)?
            .into_iter()
            .next()
            .map(group_of)
            .transpose()
    }

    async fn groups_of(&self, tenant: TenantId, account: AccountId) -> StoreResult<Vec<GroupId>> {
        let q = query(
            "SELECT DISTINCT grp FROM group_members WHERE tenant = ? AND account = ? ORDER BY grp",
        )
        .bind(tenant.blob())
        .bind(account.blob());
        self.all(q, GROUP)
            .await?
            .iter()
            .map(|r| r.id("grp", GROUP))
            .collect()
    }

    async fn groups(&self, tenant: TenantId, page: Page<GroupId>) -> StoreResult<Vec<Group>> {
        let (after, order) = keyset(&page, "id");
        let sql = format!(
            "SELECT g.id, g.revision, g.body, m.account FROM \
             (SELECT tenant, id, revision, body FROM groups WHERE tenant = ? AND {after} \
              ORDER BY id {order} LIMIT ?) g \
             LEFT JOIN group_members m ON m.tenant = g.tenant AND m.grp = g.id \
             ORDER BY g.id {order}, m.position"
        );
        let q = query(&sql)
            .bind(tenant.blob())
            .bind(page.after.as_ref().map(IdBlob::blob))
            .bind(capped(page.limit));
        let rows = self.all(q, GROUP).await?;
        with_lists(rows, "account", GROUP)?
            .into_iter()
            .map(group_of)
            .collect()
    }
}
