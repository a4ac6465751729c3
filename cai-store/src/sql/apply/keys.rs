//! Key custody, history grants, end-to-end group epochs, key packages, key backups
//! and credentials: opaque bytes, stored as they come.

use cai_core::id::{AccountId, SessionId, SubjectId, TenantId};
use cai_core::ports::{
    Credential, CredentialKind, E2eEpoch, HistoryGrant, StoreResult, StoredCustody,
    StoredKeyPackage,
};

use super::super::codec::{IdBlob, RowExt, int_of, query, subject_blob};
use super::{
    Conn, conflict, ensure_free, exec, exists, fetch, missing, next_revision, stored_revision,
};

const CUSTODY: &str = "key custody";
const GRANT: &str = "history grant";
const EPOCH: &str = "end-to-end epoch";
const PACKAGE: &str = "key package";
const BACKUP: &str = "key backup";
const CREDENTIAL: &str = "credential";

/// Insert only: an epoch's key never changes.
pub(super) async fn insert_custody(conn: &mut Conn, c: StoredCustody) -> StoreResult<()> {
    let q = query("SELECT 1 FROM custody WHERE tenant = ? AND session = ? AND epoch = ?")
        .bind(c.tenant.blob())
        .bind(c.session.blob())
        .bind(i64::from(c.epoch));
    ensure_free(exists(conn, q, CUSTODY).await?, CUSTODY)?;
    let q = query("INSERT INTO custody (tenant, session, epoch, custody) VALUES (?, ?, ?, ?)")
        .bind(c.tenant.blob())
        .bind(c.session.blob())
        .bind(i64::from(c.epoch))
        .bind(c.custody.as_slice());
    exec(conn, q, CUSTODY).await.map(drop)
}

/// Crypto-shredding: every custody, history grant and end-to-end epoch of the session.
pub(super) async fn delete_custody(
    conn: &mut Conn,
    t: TenantId,
    session: SessionId,
) -> StoreResult<()> {
    for sql in [
        "DELETE FROM custody WHERE tenant = ? AND session = ?",
        "DELETE FROM history_grants WHERE tenant = ? AND session = ?",
        "DELETE FROM e2e_epochs WHERE tenant = ? AND session = ?",
    ] {
        exec(
            conn,
            query(sql).bind(t.blob()).bind(session.blob()),
            CUSTODY,
        )
        .await?;
    }
    Ok(())
}

/// One per session and recipient; a new one replaces it.
pub(super) async fn put_history_grant(conn: &mut Conn, g: HistoryGrant) -> StoreResult<()> {
    let q = query(
        "INSERT INTO history_grants (tenant, session, recipient, granted_by, at, grant_bytes) \
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, session, recipient) DO UPDATE SET \
         granted_by = excluded.granted_by, at = excluded.at, grant_bytes = excluded.grant_bytes",
    )
    .bind(g.tenant.blob())
    .bind(g.session.blob())
    .bind(g.recipient.blob())
    .bind(g.granted_by.blob())
    .bind(g.at.unix_millis())
    .bind(g.grant.as_slice());
    exec(conn, q, GRANT).await.map(drop)
}

/// Insert only: of two commits racing for one epoch, the first wins.
pub(super) async fn insert_e2e_epoch(conn: &mut Conn, e: E2eEpoch) -> StoreResult<()> {
    let q = query("SELECT 1 FROM e2e_epochs WHERE tenant = ? AND session = ? AND epoch = ?")
        .bind(e.tenant.blob())
        .bind(e.session.blob())
        .bind(i64::from(e.epoch));
    ensure_free(exists(conn, q, EPOCH).await?, EPOCH)?;
    let q = query(
        "INSERT INTO e2e_epochs \
         (tenant, session, epoch, commit_bytes, record, welcome, grp, committed_by, at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(e.tenant.blob())
    .bind(e.session.blob())
    .bind(i64::from(e.epoch))
    .bind(e.commit.as_slice())
    .bind(e.record.as_slice())
    .bind(e.welcome.as_deref())
    .bind(e.group.as_slice())
    .bind(subject_blob(e.committed_by))
    .bind(e.at.unix_millis());
    exec(conn, q, EPOCH).await.map(drop)
}

/// Withdraws the session's newest epoch if it is `epoch` and still holds `commit`.
pub(super) async fn veto_e2e_epoch(
    conn: &mut Conn,
    t: TenantId,
    session: SessionId,
    epoch: u32,
    commit: &[u8],
) -> StoreResult<()> {
    let q = query(
        "SELECT epoch, commit_bytes FROM e2e_epochs WHERE tenant = ? AND session = ? \
         ORDER BY epoch DESC LIMIT 1",
    )
    .bind(t.blob())
    .bind(session.blob());
    let newest = match fetch(conn, q, EPOCH).await? {
        Some(row) => Some((
            row.u32("epoch", EPOCH)?,
            row.bytes("commit_bytes", EPOCH)? == commit,
        )),
        None => None,
    };
    if newest != Some((epoch, true)) {
        return Err(conflict(EPOCH));
    }
    let q = query("DELETE FROM e2e_epochs WHERE tenant = ? AND session = ? AND epoch = ?")
        .bind(t.blob())
        .bind(session.blob())
        .bind(i64::from(epoch));
    exec(conn, q, EPOCH).await.map(drop)
}

/// Its reference unique in the tenant; a last-resort package replaces the device's
/// previous one.
pub(super) async fn put_key_package(conn: &mut Conn, k: StoredKeyPackage) -> StoreResult<()> {
    let q = query("SELECT 1 FROM key_packages WHERE tenant = ? AND reference = ?")
        .bind(k.tenant.blob())
        .bind(k.reference.as_slice());
    ensure_free(exists(conn, q, PACKAGE).await?, PACKAGE)?;
    let owner = subject_blob(k.owner);
    if k.last_resort {
        let q = query(
            "DELETE FROM key_packages WHERE tenant = ? AND owner = ? AND device = ? \
             AND last_resort = 1",
        )
        .bind(k.tenant.blob())
        .bind(owner.as_slice())
        .bind(k.device.as_slice());
        exec(conn, q, PACKAGE).await?;
    }
    let q = query(
        "INSERT INTO key_packages \
         (tenant, owner, reference, device, last_resort, package, published_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(k.tenant.blob())
    .bind(owner)
    .bind(k.reference.as_slice())
    .bind(k.device.as_slice())
    .bind(i64::from(k.last_resort))
    .bind(k.package.as_slice())
    .bind(k.published_at.unix_millis());
    exec(conn, q, PACKAGE).await.map(drop)
}

/// Consumes a one-time package; a last-resort package is never consumed.
pub(super) async fn take_key_package(
    conn: &mut Conn,
    t: TenantId,
    owner: SubjectId,
    reference: &[u8],
) -> StoreResult<()> {
    let q = query(
        "DELETE FROM key_packages WHERE tenant = ? AND owner = ? AND reference = ? \
         AND last_resort = 0",
    )
    .bind(t.blob())
    .bind(subject_blob(owner))
    .bind(reference);
    if exec(conn, q, PACKAGE).await? == 0 {
        return Err(missing(PACKAGE));
    }
    Ok(())
}

pub(super) async fn put_key_backup(
    conn: &mut Conn,
    t: TenantId,
    account: AccountId,
    backup: Vec<u8>,
) -> StoreResult<()> {
    let q = query(
        "INSERT INTO key_backups (tenant, account, backup) VALUES (?, ?, ?) \
         ON CONFLICT (tenant, account) DO UPDATE SET backup = excluded.backup",
    )
    .bind(t.blob())
    .bind(account.blob())
    .bind(backup);
    exec(conn, q, BACKUP).await.map(drop)
}

/// Revision 0 inserts (stored as revision 1: 0 already means "insert"); any other
/// revision updates under the precondition.
pub(super) async fn put_credential(conn: &mut Conn, c: Credential) -> StoreResult<()> {
    let q = query("SELECT revision FROM credentials WHERE tenant = ? AND account = ? AND kind = ?")
        .bind(c.tenant.blob())
        .bind(c.account.blob())
        .bind(i64::from(c.kind.code()));
    let stored = stored_revision(conn, q, CREDENTIAL).await?;
    let revision = if c.revision == 0 {
        ensure_free(stored.is_some(), CREDENTIAL)?;
        1
    } else {
        next_revision(stored, c.revision, CREDENTIAL)?
    };
    let q = query(
        "INSERT INTO credentials (tenant, account, kind, data, updated_at, revision) \
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, account, kind) DO UPDATE SET \
         data = excluded.data, updated_at = excluded.updated_at, revision = excluded.revision",
    )
    .bind(c.tenant.blob())
    .bind(c.account.blob())
    .bind(i64::from(c.kind.code()))
    .bind(c.data.as_slice())
    .bind(c.updated_at.unix_millis())
    .bind(int_of(revision, CREDENTIAL)?);
    exec(conn, q, CREDENTIAL).await.map(drop)
}

/// Idempotent: deleting a missing credential is not an error.
pub(super) async fn delete_credential(
    conn: &mut Conn,
    t: TenantId,
    account: AccountId,
    kind: CredentialKind,
) -> StoreResult<()> {
    let q = query("DELETE FROM credentials WHERE tenant = ? AND account = ? AND kind = ?")
        .bind(t.blob())
        .bind(account.blob())
        .bind(i64::from(kind.code()));
    exec(conn, q, CREDENTIAL).await.map(drop)
}
