//! [`ContentStore`] reads: items and their versions. Every column is typed; a version's
//! body is the sealed envelope exactly as cai-core handed it over.

use async_trait::async_trait;
use cai_core::Timestamp;
use cai_core::domain::{ContentItem, ContentKind, ContentVersion, SealedBody};
use cai_core::id::{BlobId, ItemId, SessionId, TenantId};
use cai_core::ports::{ContentStore, Page, StoreResult};

use super::Engine;
use super::codec::{IdBlob, Row, RowExt, capped, corrupt, id_from, query};
use super::sessions::keyset;

const ITEM: &str = "item";
const VERSION: &str = "item version";

const ITEM_COLUMNS: &str = "id, tenant, session, kind, author, created_at, latest_version, blob";
const VERSION_COLUMNS: &str = "item, tenant, session, version, author, created_at, key_epoch, body";

fn item_of(row: &Row) -> StoreResult<ContentItem> {
    let kind = u8::try_from(row.int("kind", ITEM)?).map_err(|_| corrupt(ITEM))?;
    Ok(ContentItem {
        id: row.id("id", ITEM)?,
        tenant: row.id("tenant", ITEM)?,
        session: row.id("session", ITEM)?,
        kind: ContentKind::from_code(kind).map_err(|_| corrupt(ITEM))?,
        author: row.subject("author", ITEM)?,
        created_at: row.time("created_at", ITEM)?,
        latest_version: row.u32("latest_version", ITEM)?,
        blob: row
            .bytes_opt("blob", ITEM)?
            .map(|b| id_from(&b, ITEM))
            .transpose()?,
    })
}

/// A version; a body that is not a cai envelope or stream (truncated, or written
/// behind the SDK's back) is `Corrupt`.
fn version_of(row: &Row) -> StoreResult<ContentVersion> {
    Ok(ContentVersion {
        item: row.id("item", VERSION)?,
        tenant: row.id("tenant", VERSION)?,
        session: row.id("session", VERSION)?,
        version: row.u32("version", VERSION)?,
        author: row.subject("author", VERSION)?,
        created_at: row.time("created_at", VERSION)?,
        key_epoch: row.u32("key_epoch", VERSION)?,
        body: SealedBody::new(row.bytes("body", VERSION)?).map_err(|_| corrupt(VERSION))?,
    })
}

/// An item and its latest version from one joined row (the version's own columns
/// carry a `v_` prefix); no version row is `Corrupt`.
fn joined_of(row: &Row) -> StoreResult<(ContentItem, ContentVersion)> {
    let item = item_of(row)?;
    let Some(body) = row.bytes_opt("v_body", VERSION)? else {
        return Err(corrupt(VERSION));
    };
    let version = ContentVersion {
        item: item.id,
        tenant: item.tenant,
        session: row.id("v_session", VERSION)?,
        version: row.u32("v_version", VERSION)?,
        author: row.subject("v_author", VERSION)?,
        created_at: row.time("v_created_at", VERSION)?,
        key_epoch: row.u32("v_key_epoch", VERSION)?,
        body: SealedBody::new(body).map_err(|_| corrupt(VERSION))?,
    };
    Ok((item, version))
}

#[async_trait]
impl ContentStore for Engine {
    async fn items_latest(
        &self,
        tenant: TenantId,
        session: SessionId,
        page: Page<ItemId>,
    ) -> StoreResult<Vec<(ContentItem, ContentVersion)>> {
        let (after, order) = keyset(&page, "i.id");
        let sql = format!(
            "SELECT i.id, i.tenant, i.session, i.kind, i.author, i.created_at, i.blob, \
             i.latest_version, v.session AS v_session, v.version AS v_version, \
             v.author AS v_author, v.created_at AS v_created_at, \
             v.key_epoch AS v_key_epoch, v.body AS v_body \
             FROM items i LEFT JOIN versions v \
             ON v.tenant = i.tenant AND v.item = i.id AND v.version = i.latest_version \
             WHERE i.tenant = ? AND i.session = ? AND {after} ORDER BY i.id {order} LIMIT ?"
        );
        let q = query(&sql)
            .bind(tenant.blob())
            .bind(session.blob())
            .bind(page.after.as_ref().map(IdBlob::blob))
            .bind(capped(page.limit));
        self.all(q, ITEM).await?.iter().map(joined_of).collect()
    }

    async fn item(&self, tenant: TenantId, id: ItemId) -> StoreResult<Option<ContentItem>> {
        let sql = format!("SELECT {ITEM_COLUMNS} FROM items WHERE tenant = ? AND id = ?");
        let q = query(&sql).bind(tenant.blob()).bind(id.blob());
        self.one(q, ITEM).await?.as_ref().map(item_of).transpose()
    }

    async fn items(
        &self,
        tenant: TenantId,
        session: SessionId,
        page: Page<ItemId>,
    ) -> StoreResult<Vec<ContentItem>> {
        let (after, order) = keyset(&page, "id");
        let sql = format!(
            "SELECT {ITEM_COLUMNS} FROM items WHERE tenant = ? AND session = ? AND {after} \
             ORDER BY id {order} LIMIT ?"
        );
        let q = query(&sql)
            .bind(tenant.blob())
            .bind(session.blob())
            .bind(page.after.as_ref().map(IdBlob::blob))
            .bind(capped(page.limit));
        self.all(q, ITEM).await?.iter().map(item_of).collect()
    }

    async fn version(
        &self,
        tenant: TenantId,
        item: ItemId,
        version: u32,
    ) -> StoreResult<Option<ContentVersion>> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM versions WHERE tenant = ? AND item = ? AND version = ?"
        );
        let q = query(&sql)
            .bind(tenant.blob())
            .bind(item.blob())
            .bind(i64::from(version));
        self.one(q, VERSION)
            .await?
            .as_ref()
            .map(version_of)
            .transpose()
    }

    async fn versions(&self, tenant: TenantId, item: ItemId) -> StoreResult<Vec<ContentVersion>> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM versions WHERE tenant = ? AND item = ? ORDER BY version"
        );
        let q = query(&sql).bind(tenant.blob()).bind(item.blob());
        self.all(q, VERSION).await?.iter().map(version_of).collect()
    }

    async fn files_created_before(
        &self,
        tenant: TenantId,
        before: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<ContentItem>> {
        // Only uploads have a blob; the index `items_blob` holds just their rows.
        let sql = format!(
            "SELECT {ITEM_COLUMNS} FROM items WHERE tenant = ? AND blob IS NOT NULL \
             AND created_at <= ? ORDER BY id LIMIT ?"
        );
        let q = query(&sql)
            .bind(tenant.blob())
            .bind(before.unix_millis())
            .bind(capped(limit));
        self.all(q, ITEM).await?.iter().map(item_of).collect()
    }

    async fn item_by_blob(&self, tenant: TenantId, blob: BlobId) -> StoreResult<Option<ItemId>> {
        // The unique index `items_blob` (migration 0004) answers this.
        let q = query("SELECT id FROM items WHERE tenant = ? AND blob = ?")
            .bind(tenant.blob())
            .bind(blob.blob());
        self.one(q, ITEM)
            .await?
            .as_ref()
            .map(|row| row.id("id", ITEM))
            .transpose()
    }
}
