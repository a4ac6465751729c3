//! Applying one [`Write`] inside the batch's transaction: preconditions first (read
//! under the write lock the batch holds), then the change and its documented cascades,
//! each a statement the database runs. Behaves as cai-core's reference backend
//! (`memory/store/apply.rs`): the same `Conflict`/`Missing` outcomes with the same
//! names, the same cascades and nothing more.

mod audit;
pub(crate) use audit::chain_legacy_audit;
mod content;
mod directory;
mod keys;
mod sessions;

use cai_core::id::TenantId;
use cai_core::ports::{StoreError, StoreResult, Write};

use super::codec::{Conn, Query, Row, db_error};

/// Whether every record a write carries belongs to `tenant`. Writes that name only an
/// id belong to the batch's tenant by construction. A write this build does not know
/// passes here and is refused by [`apply`], which rolls the whole batch back.
pub(crate) fn belongs_to(write: &Write, tenant: TenantId) -> bool {
    match write {
        Write::InsertTenant(t) | Write::UpdateTenant(t) => t.id == tenant,
        Write::InsertAccount(a) | Write::UpdateAccount(a) => a.tenant == tenant,
        Write::InsertGuest(g) => g.tenant == tenant,
        Write::InsertRole(r) | Write::UpdateRole(r) => r.tenant == tenant,
        Write::InsertGroup(g) | Write::UpdateGroup(g) => g.tenant == tenant,
        Write::InsertSession(s) | Write::UpdateSession(s) => s.tenant == tenant,
        Write::PutParticipant(p) => p.tenant == tenant,
        Write::InsertInvitation(i) | Write::UpdateInvitation(i) => i.tenant == tenant,
        Write::InsertRoom(r) | Write::UpdateRoom(r) => r.tenant == tenant,
        Write::InsertItem(i, v) => i.tenant == tenant && v.tenant == tenant,
        Write::AddVersion(v) => v.tenant == tenant,
        Write::InsertCustody(c) => c.tenant == tenant,
        Write::PutHistoryGrant(g) => g.tenant == tenant,
        Write::InsertE2eEpoch(e) => e.tenant == tenant,
        Write::VetoE2eEpoch { tenant: t, .. } => *t == tenant,
        Write::PutKeyPackage(k) => k.tenant == tenant,
        Write::PutCredential(c) => c.tenant == tenant,
        Write::AppendAudit(e) => e.tenant == tenant,
        Write::RecordIncident(i) => i.tenant == tenant,
        Write::QueueNotification(n) => n.tenant == tenant,
        Write::DeleteAccount(_)
        | Write::DeleteGuest(_)
        | Write::DeleteRole(_)
        | Write::DeleteSession(_)
        | Write::RemoveParticipant { .. }
        | Write::DeleteItem(_)
        | Write::DeleteSessionContent(_)
        | Write::DeleteCustody(_)
        | Write::PutKeyBackup { .. }
        | Write::TakeKeyPackage { .. }
        | Write::DeleteCredential { .. }
        | Write::MarkNotified(_) => true,
        _ => true,
    }
}

/// Applies one write. On error the caller rolls the whole batch back.
pub(crate) async fn apply(conn: &mut Conn, tenant: TenantId, write: Write) -> StoreResult<()> {
    match write {
        Write::InsertTenant(t) => directory::insert_tenant(conn, t).await,
        Write::UpdateTenant(t) => directory::update_tenant(conn, t).await,
        Write::InsertAccount(a) => directory::insert_account(conn, a).await,
        Write::UpdateAccount(a) => directory::update_account(conn, a).await,
        Write::DeleteAccount(id) => directory::delete_account(conn, tenant, id).await,
        Write::InsertGuest(g) => directory::insert_guest(conn, g).await,
        Write::DeleteGuest(id) => directory::delete_guest(conn, tenant, id).await,
        Write::InsertRole(r) => directory::insert_role(conn, r).await,
        Write::UpdateRole(r) => directory::update_role(conn, r).await,
        Write::DeleteRole(id) => directory::delete_role(conn, tenant, id).await,
        Write::InsertGroup(g) => directory::insert_group(conn, g).await,
        Write::UpdateGroup(g) => directory::update_group(conn, g).await,
        Write::InsertSession(s) => sessions::insert_session(conn, s).await,
        Write::UpdateSession(s) => sessions::update_session(conn, s).await,
        Write::DeleteSession(id) => sessions::delete_session(conn, tenant, id).await,
        Write::PutParticipant(p) => sessions::put_participant(conn, p).await,
        Write::RemoveParticipant { session, subject } => {
            sessions::remove_participant(conn, tenant, session, subject).await
        }
        Write::InsertInvitation(i) => sessions::insert_invitation(conn, i).await,
        Write::UpdateInvitation(i) => sessions::update_invitation(conn, i).await,
        Write::InsertRoom(r) => sessions::insert_room(conn, r).await,
        Write::UpdateRoom(r) => sessions::update_room(conn, r).await,
        Write::InsertItem(item, version) => content::insert_item(conn, item, version).await,
        Write::AddVersion(v) => content::add_version(conn, v).await,
        Write::DeleteItem(id) => content::delete_item(conn, tenant, id).await,
        Write::DeleteSessionContent(session) => {
            content::delete_session_content(conn, tenant, session).await
        }
        Write::InsertCustody(c) => keys::insert_custody(conn, c).await,
        Write::DeleteCustody(session) => keys::delete_custody(conn, tenant, session).await,
        Write::PutHistoryGrant(g) => keys::put_history_grant(conn, g).await,
        Write::InsertE2eEpoch(e) => keys::insert_e2e_epoch(conn, e).await,
        Write::VetoE2eEpoch {
            session,
            epoch,
            commit,
            ..
        } => keys::veto_e2e_epoch(conn, tenant, session, epoch, &commit).await,
        Write::PutKeyPackage(k) => keys::put_key_package(conn, k).await,
        Write::TakeKeyPackage { owner, reference } => {
            keys::take_key_package(conn, tenant, owner, &reference).await
        }
        Write::PutKeyBackup { account, backup } => {
            keys::put_key_backup(conn, tenant, account, backup).await
        }
        Write::PutCredential(c) => keys::put_credential(conn, c).await,
        Write::DeleteCredential { account, kind } => {
            keys::delete_credential(conn, tenant, account, kind).await
        }
        Write::AppendAudit(e) => audit::append_audit(conn, e).await,
        Write::RecordIncident(i) => audit::record_incident(conn, i).await,
        Write::QueueNotification(n) => audit::queue_notification(conn, n).await,
        Write::MarkNotified(event) => audit::mark_notified(conn, tenant, event).await,
        // A variant added to cai-core after this backend was written: refuse the
        // batch rather than drop the write silently.
        _ => Err(StoreError::backend(UnsupportedWrite)),
    }
}

/// A write this backend does not implement yet (cai-core's `Write` is
/// `#[non_exhaustive]`).
#[derive(Debug, thiserror::Error)]
#[error("this store does not implement a write in the batch; update cai-store")]
struct UnsupportedWrite;

pub(super) const fn conflict(what: &'static str) -> StoreError {
    StoreError::Conflict { what }
}

pub(super) const fn missing(what: &'static str) -> StoreError {
    StoreError::Missing { what }
}

/// A failed statement: a unique key met is a `Conflict` (the checks before each insert
/// name the key; this is the database's own guard behind them), anything else as
/// [`db_error`] maps it.
fn write_error(e: sqlx::Error, what: &'static str) -> StoreError {
    let unique = e
        .as_database_error()
        .is_some_and(|d| d.is_unique_violation());
    if unique {
        conflict(what)
    } else {
        db_error(e, what)
    }
}

/// Runs a statement; how many rows it changed.
pub(super) async fn exec(conn: &mut Conn, q: Query<'_>, what: &'static str) -> StoreResult<u64> {
    q.execute(&mut *conn)
        .await
        .map(|r| r.rows_affected())
        .map_err(|e| write_error(e, what))
}

/// Fetches at most one row.
pub(super) async fn fetch(
    conn: &mut Conn,
    q: Query<'_>,
    what: &'static str,
) -> StoreResult<Option<Row>> {
    q.fetch_optional(&mut *conn)
        .await
        .map_err(|e| db_error(e, what))
}

/// Whether the query finds a row.
pub(super) async fn exists(conn: &mut Conn, q: Query<'_>, what: &'static str) -> StoreResult<bool> {
    Ok(fetch(conn, q, what).await?.is_some())
}

/// `Conflict` if an insert's key is taken.
pub(super) fn ensure_free(taken: bool, what: &'static str) -> StoreResult<()> {
    if taken { Err(conflict(what)) } else { Ok(()) }
}

/// The revision an update stores, if the stored record (its revision, `None` if there
/// is none) allows an update from `given`.
pub(super) fn next_revision(
    stored: Option<u64>,
    given: u64,
    what: &'static str,
) -> StoreResult<u64> {
    match stored {
        None => Err(missing(what)),
        Some(r) if r != given => Err(conflict(what)),
        Some(r) => r.checked_add(1).ok_or(conflict(what)),
    }
}

/// The stored revision of the record the query selects (its one column `revision`).
pub(super) async fn stored_revision(
    conn: &mut Conn,
    q: Query<'_>,
    what: &'static str,
) -> StoreResult<Option<u64>> {
    use super::codec::RowExt;
    fetch(conn, q, what)
        .await?
        .map(|row| row.u64("revision", what))
        .transpose()
}
