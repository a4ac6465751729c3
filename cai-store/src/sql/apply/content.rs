//! Content items and their versions. Versions go with their item by foreign key
//! (`ON DELETE CASCADE`): a version cannot outlive its item.

use cai_core::domain::{ContentItem, ContentVersion};
use cai_core::id::{ItemId, SessionId, TenantId};
use cai_core::ports::StoreResult;

use super::super::codec::{IdBlob, RowExt, query, subject_blob};
use super::{Conn, conflict, ensure_free, exec, exists, fetch, missing};

const ITEM: &str = "item";
const VERSION: &str = "item version";

async fn insert_version(conn: &mut Conn, v: &ContentVersion) -> StoreResult<()> {
    let q = query(
        "INSERT INTO versions \
         (tenant, item, version, session, author, created_at, key_epoch, body) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(v.tenant.blob())
    .bind(v.item.blob())
    .bind(i64::from(v.version))
    .bind(v.session.blob())
    .bind(subject_blob(v.author))
    .bind(v.created_at.unix_millis())
    .bind(i64::from(v.key_epoch))
    .bind(v.body.as_bytes());
    exec(conn, q, VERSION).await.map(drop)
}

pub(super) async fn insert_item(
    conn: &mut Conn,
    item: ContentItem,
    version: ContentVersion,
) -> StoreResult<()> {
    // A blob another item names would fail the unique index `items_blob` too; it is
    // looked up first (uploads only) so the conflict names the blob, not the item.
    if let Some(blob) = item.blob {
        let q = query("SELECT 1 FROM items WHERE tenant = ? AND blob = ?")
            .bind(item.tenant.blob())
            .bind(blob.blob());
        ensure_free(exists(conn, q, "item blob").await?, "item blob")?;
    }
    // The primary key is the duplicate check: a taken id fails the insert as a unique
    // violation, which `exec` reports as `Conflict("item")` — what a lookup first would
    // report, before the checks below, with one statement per message less. Whatever
    // fails here, the caller rolls the batch back, the row just inserted with it.
    let q = query(
        "INSERT INTO items \
         (tenant, id, session, kind, author, created_at, latest_version, blob) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(item.tenant.blob())
    .bind(item.id.blob())
    .bind(item.session.blob())
    .bind(i64::from(item.kind.code()))
    .bind(subject_blob(item.author))
    .bind(item.created_at.unix_millis())
    .bind(i64::from(item.latest_version))
    .bind(item.blob.as_ref().map(IdBlob::blob));
    exec(conn, q, ITEM).await?;
    if version.item != item.id || version.session != item.session {
        return Err(conflict("item version belongs to another item"));
    }
    if version.version != 1 || item.latest_version != 1 {
        return Err(conflict(VERSION));
    }
    insert_version(conn, &version).await
}

/// The next version: `version.version` must be the item's `latest_version + 1`.
pub(super) async fn add_version(conn: &mut Conn, v: ContentVersion) -> StoreResult<()> {
    let q = query("SELECT session, latest_version FROM items WHERE tenant = ? AND id = ?")
        .bind(v.tenant.blob())
        .bind(v.item.blob());
    let Some(row) = fetch(conn, q, ITEM).await? else {
        return Err(missing(ITEM));
    };
    let session: SessionId = row.id("session", ITEM)?;
    let latest = row.u32("latest_version", ITEM)?;
    if v.session != session {
        return Err(conflict("item version belongs to another session"));
    }
    if Some(v.version) != latest.checked_add(1) {
        return Err(conflict(VERSION));
    }
    insert_version(conn, &v).await?;
    let q = query("UPDATE items SET latest_version = ? WHERE tenant = ? AND id = ?")
        .bind(i64::from(v.version))
        .bind(v.tenant.blob())
        .bind(v.item.blob());
    exec(conn, q, ITEM).await.map(drop)
}

/// Cascade: all its versions.
pub(super) async fn delete_item(conn: &mut Conn, t: TenantId, id: ItemId) -> StoreResult<()> {
    let q = query("DELETE FROM items WHERE tenant = ? AND id = ?")
        .bind(t.blob())
        .bind(id.blob());
    if exec(conn, q, ITEM).await? == 0 {
        return Err(missing(ITEM));
    }
    Ok(())
}

/// Every item of the session with all versions; the session stays.
pub(super) async fn delete_session_content(
    conn: &mut Conn,
    t: TenantId,
    session: SessionId,
) -> StoreResult<()> {
    let q = query("DELETE FROM items WHERE tenant = ? AND session = ?")
        .bind(t.blob())
        .bind(session.blob());
    exec(conn, q, ITEM).await.map(drop)
}
