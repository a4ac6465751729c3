//! Tenants, accounts, guests, roles and groups.

use cai_core::domain::{Account, AccountStatus, Group, Guest, Role, Tenant};
use cai_core::id::{AccountId, GuestId, RoleId, SubjectId, TenantId};
use cai_core::ports::StoreResult;

use super::super::codec::{IdBlob, body_of, int_of, query, subject_blob};
use super::{Conn, ensure_free, exec, exists, missing, next_revision, stored_revision};

const TENANT: &str = "tenant";
const ACCOUNT: &str = "account";
const EMAIL: &str = "account e-mail";
const GUEST: &str = "guest";
const ROLE: &str = "role";
const GROUP: &str = "group";

pub(super) async fn insert_tenant(conn: &mut Conn, t: Tenant) -> StoreResult<()> {
    let q = query("SELECT 1 FROM tenants WHERE id = ?").bind(t.id.blob());
    ensure_free(exists(conn, q, TENANT).await?, TENANT)?;
    let q = query("INSERT INTO tenants (id, revision, body) VALUES (?, 0, ?)")
        .bind(t.id.blob())
        .bind(body_of(&t, &["revision"], TENANT)?);
    exec(conn, q, TENANT).await.map(drop)
}

pub(super) async fn update_tenant(conn: &mut Conn, t: Tenant) -> StoreResult<()> {
    let q = query("SELECT revision FROM tenants WHERE id = ?").bind(t.id.blob());
    let revision = next_revision(stored_revision(conn, q, TENANT).await?, t.revision, TENANT)?;
    let q = query("UPDATE tenants SET revision = ?, body = ? WHERE id = ?")
        .bind(int_of(revision, TENANT)?)
        .bind(body_of(&t, &["revision"], TENANT)?)
        .bind(t.id.blob());
    exec(conn, q, TENANT).await.map(drop)
}

/// When a deactivated account is due for pseudonymisation (the indexed column).
fn pseudonymise_at(a: &Account) -> Option<i64> {
    match a.status {
        AccountStatus::Deactivated {
            pseudonymise_at, ..
        } => Some(pseudonymise_at.unix_millis()),
        _ => None,
    }
}

/// Replaces an account's role list.
async fn put_roles(conn: &mut Conn, a: &Account) -> StoreResult<()> {
    let q = query("DELETE FROM account_roles WHERE tenant = ? AND account = ?")
        .bind(a.tenant.blob())
        .bind(a.id.blob());
    exec(conn, q, ACCOUNT).await?;
    for (position, role) in (0i64..).zip(&a.roles) {
        let q = query(
            "INSERT INTO account_roles (tenant, account, position, role) VALUES (?, ?, ?, ?)",
        )
        .bind(a.tenant.blob())
        .bind(a.id.blob())
        .bind(position)
        .bind(role.blob());
        exec(conn, q, ACCOUNT).await?;
    }
    Ok(())
}

/// The account holding `email` in the tenant, if any.
async fn email_holder(conn: &mut Conn, a: &Account) -> StoreResult<Option<AccountId>> {
    use super::super::codec::RowExt;
    let Some(email) = &a.email else {
        return Ok(None);
    };
    let q = query("SELECT id FROM accounts WHERE tenant = ? AND email = ?")
        .bind(a.tenant.blob())
        .bind(email.as_str());
    super::fetch(conn, q, EMAIL)
        .await?
        .map(|row| row.id("id", EMAIL))
        .transpose()
}

pub(super) async fn insert_account(conn: &mut Conn, a: Account) -> StoreResult<()> {
    let q = query("SELECT 1 FROM accounts WHERE tenant = ? AND id = ?")
        .bind(a.tenant.blob())
        .bind(a.id.blob());
    ensure_free(exists(conn, q, ACCOUNT).await?, ACCOUNT)?;
    ensure_free(email_holder(conn, &a).await?.is_some(), EMAIL)?;
    let q = query(
        "INSERT INTO accounts (tenant, id, email, pseudonymise_at, revision, body) \
         VALUES (?, ?, ?, ?, 0, ?)",
    )
    .bind(a.tenant.blob())
    .bind(a.id.blob())
    .bind(a.email.as_ref().map(|e| e.as_str()))
    .bind(pseudonymise_at(&a))
    .bind(body_of(&a, &["revision", "roles"], ACCOUNT)?);
    exec(conn, q, EMAIL).await?;
    put_roles(conn, &a).await
}

pub(super) async fn update_account(conn: &mut Conn, a: Account) -> StoreResult<()> {
    let q = query("SELECT revision FROM accounts WHERE tenant = ? AND id = ?")
        .bind(a.tenant.blob())
        .bind(a.id.blob());
    let revision = next_revision(
        stored_revision(conn, q, ACCOUNT).await?,
        a.revision,
        ACCOUNT,
    )?;
    let holder = email_holder(conn, &a).await?;
    ensure_free(holder.is_some_and(|h| h != a.id), EMAIL)?;
    let q = query(
        "UPDATE accounts SET email = ?, pseudonymise_at = ?, revision = ?, body = ? \
         WHERE tenant = ? AND id = ?",
    )
    .bind(a.email.as_ref().map(|e| e.as_str()))
    .bind(pseudonymise_at(&a))
    .bind(int_of(revision, ACCOUNT)?)
    .bind(body_of(&a, &["revision", "roles"], ACCOUNT)?)
    .bind(a.tenant.blob())
    .bind(a.id.blob());
    exec(conn, q, EMAIL).await?;
    put_roles(conn, &a).await
}

/// Cascades: credentials, key backup, history grants to it, group memberships (the
/// groups' revisions move on, so a stale update cannot put the member back),
/// participations, key packages. Content, audit events and grants it gave stay.
pub(super) async fn delete_account(conn: &mut Conn, t: TenantId, id: AccountId) -> StoreResult<()> {
    let q = query("DELETE FROM accounts WHERE tenant = ? AND id = ?")
        .bind(t.blob())
        .bind(id.blob());
    if exec(conn, q, ACCOUNT).await? == 0 {
        return Err(missing(ACCOUNT));
    }
    for sql in [
        "DELETE FROM credentials WHERE tenant = ? AND account = ?",
        "DELETE FROM key_backups WHERE tenant = ? AND account = ?",
        "DELETE FROM history_grants WHERE tenant = ? AND recipient = ?",
    ] {
        exec(conn, query(sql).bind(t.blob()).bind(id.blob()), ACCOUNT).await?;
    }
    let q = query(
        "UPDATE groups SET revision = revision + 1 WHERE tenant = ? AND id IN \
         (SELECT grp FROM group_members WHERE tenant = ? AND account = ?)",
    )
    .bind(t.blob())
    .bind(t.blob())
    .bind(id.blob());
    exec(conn, q, GROUP).await?;
    let q = query("DELETE FROM group_members WHERE tenant = ? AND account = ?")
        .bind(t.blob())
        .bind(id.blob());
    exec(conn, q, GROUP).await?;
    remove_subject(conn, t, SubjectId::Account(id)).await
}

/// A subject's participations and key packages.
async fn remove_subject(conn: &mut Conn, t: TenantId, subject: SubjectId) -> StoreResult<()> {
    for sql in [
        "DELETE FROM participants WHERE tenant = ? AND subject = ?",
        "DELETE FROM key_packages WHERE tenant = ? AND owner = ?",
    ] {
        let q = query(sql).bind(t.blob()).bind(subject_blob(subject));
        exec(conn, q, "subject").await?;
    }
    Ok(())
}

pub(super) async fn insert_guest(conn: &mut Conn, g: Guest) -> StoreResult<()> {
    let q = query("SELECT 1 FROM guests WHERE tenant = ? AND id = ?")
        .bind(g.tenant.blob())
        .bind(g.id.blob());
    ensure_free(exists(conn, q, GUEST).await?, GUEST)?;
    let q = query("INSERT INTO guests (tenant, id, session, body) VALUES (?, ?, ?, ?)")
        .bind(g.tenant.blob())
        .bind(g.id.blob())
        .bind(g.session.blob())
        .bind(body_of(&g, &[], GUEST)?);
    exec(conn, q, GUEST).await.map(drop)
}

/// Cascades: its participations, its key packages.
pub(super) async fn delete_guest(conn: &mut Conn, t: TenantId, id: GuestId) -> StoreResult<()> {
    let q = query("DELETE FROM guests WHERE tenant = ? AND id = ?")
        .bind(t.blob())
        .bind(id.blob());
    if exec(conn, q, GUEST).await? == 0 {
        return Err(missing(GUEST));
    }
    remove_subject(conn, t, SubjectId::Guest(id)).await
}

pub(super) async fn insert_role(conn: &mut Conn, r: Role) -> StoreResult<()> {
    let q = query("SELECT 1 FROM roles WHERE tenant = ? AND id = ?")
        .bind(r.tenant.blob())
        .bind(r.id.blob());
    ensure_free(exists(conn, q, ROLE).await?, ROLE)?;
    let q = query("INSERT INTO roles (tenant, id, revision, body) VALUES (?, ?, 0, ?)")
        .bind(r.tenant.blob())
        .bind(r.id.blob())
        .bind(body_of(&r, &["revision"], ROLE)?);
    exec(conn, q, ROLE).await.map(drop)
}

pub(super) async fn update_role(conn: &mut Conn, r: Role) -> StoreResult<()> {
    let q = query("SELECT revision FROM roles WHERE tenant = ? AND id = ?")
        .bind(r.tenant.blob())
        .bind(r.id.blob());
    let revision = next_revision(stored_revision(conn, q, ROLE).await?, r.revision, ROLE)?;
    let q = query("UPDATE roles SET revision = ?, body = ? WHERE tenant = ? AND id = ?")
        .bind(int_of(revision, ROLE)?)
        .bind(body_of(&r, &["revision"], ROLE)?)
        .bind(r.tenant.blob())
        .bind(r.id.blob());
    exec(conn, q, ROLE).await.map(drop)
}

/// Cascade: the role leaves every account holding it (their revisions move on).
pub(super) async fn delete_role(conn: &mut Conn, t: TenantId, id: RoleId) -> StoreResult<()> {
    let q = query("DELETE FROM roles WHERE tenant = ? AND id = ?")
        .bind(t.blob())
        .bind(id.blob());
    if exec(conn, q, ROLE).await? == 0 {
        return Err(missing(ROLE));
    }
    let q = query(
        "UPDATE accounts SET revision = revision + 1 WHERE tenant = ? AND id IN \
         (SELECT account FROM account_roles WHERE tenant = ? AND role = ?)",
    )
    .bind(t.blob())
    .bind(t.blob())
    .bind(id.blob());
    exec(conn, q, ACCOUNT).await?;
    let q = query("DELETE FROM account_roles WHERE tenant = ? AND role = ?")
        .bind(t.blob())
        .bind(id.blob());
    exec(conn, q, ACCOUNT).await.map(drop)
}

/// Replaces a group's member list.
async fn put_members(conn: &mut Conn, g: &Group) -> StoreResult<()> {
    let q = query("DELETE FROM group_members WHERE tenant = ? AND grp = ?")
        .bind(g.tenant.blob())
        .bind(g.id.blob());
    exec(conn, q, GROUP).await?;
    for (position, member) in (0i64..).zip(&g.members) {
        let q =
            query("INSERT INTO group_members (tenant, grp, position, account) VALUES (?, ?, ?, ?)")
                .bind(g.tenant.blob())
                .bind(g.id.blob())
                .bind(position)
                .bind(member.blob());
        exec(conn, q, GROUP).await?;
    }
    Ok(())
}

pub(super) async fn insert_group(conn: &mut Conn, g: Group) -> StoreResult<()> {
    let q = query("SELECT 1 FROM groups WHERE tenant = ? AND id = ?")
        .bind(g.tenant.blob())
        .bind(g.id.blob());
    ensure_free(exists(conn, q, GROUP).await?, GROUP)?;
    let q = query("INSERT INTO groups (tenant, id, revision, body) VALUES (?, ?, 0, ?)")
        .bind(g.tenant.blob())
        .bind(g.id.blob())
        .bind(body_of(&g, &["revision", "members"], GROUP)?);
    exec(conn, q, GROUP).await?;
    put_members(conn, &g).await
}

pub(super) async fn update_group(conn: &mut Conn, g: Group) -> StoreResult<()> {
    let q = query("SELECT revision FROM groups WHERE tenant = ? AND id = ?")
        .bind(g.tenant.blob())
        .bind(g.id.blob());
    let revision = next_revision(stored_revision(conn, q, GROUP).await?, g.revision, GROUP)?;
    let q = query("UPDATE groups SET revision = ?, body = ? WHERE tenant = ? AND id = ?")
        .bind(int_of(revision, GROUP)?)
        .bind(body_of(&g, &["revision", "members"], GROUP)?)
        .bind(g.tenant.blob())
        .bind(g.id.blob());
    exec(conn, q, GROUP).await?;
    put_members(conn, &g).await
}
