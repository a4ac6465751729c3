//! [`ContentStore`] reads: items and their versions. Every column is typed; a version's
//! body is the sealed envelope exactly as cai-core handed it over.

use async_trait::async_trait;
use cai_core::Timestamp;
use cai_core::domain::{ContentItem, ContentKind, ContentVersion, SealedBody};
use cai_core::id::{BlobId, ItemId, SessionId, TenantId};
use cai_core::ports::{ContentStore, Page, StoreResult};
use futures_util::TryStreamExt as _;

use super::Engine;
use super::codec::{IdBlob, Row, RowExt, capped, corrupt, db_error, id_from, query, subject_from};
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

/// The columns of [`latest_sql`], by position: decoded by index, as a raw sqlx caller
/// would, not looked up by name row by row.
mod latest {
    pub(super) const ID: usize = 0;
    pub(super) const KIND: usize = 1;
    pub(super) const AUTHOR: usize = 2;
    pub(super) const CREATED_AT: usize = 3;
    pub(super) const LATEST_VERSION: usize = 4;
    pub(super) const BLOB: usize = 5;
    pub(super) const V_AUTHOR: usize = 6;
    pub(super) const V_CREATED_AT: usize = 7;
    pub(super) const V_KEY_EPOCH: usize = 8;
    pub(super) const V_BODY: usize = 9;
}

/// The query of a page of items with their latest versions, the columns in the order
/// of [`latest`]; `after` and `order` are the keyset's fragments. Only what the
/// statement does not already fix is selected: the tenant and session are the bound
/// ones (`WHERE`), and the version's item, tenant, number and session are the item's
/// (`ON`) — fewer columns, because sqlx copies every column of every row. A version
/// filed under another session than its item's does not join, so it reads as a
/// missing version: `Corrupt`, never a body from elsewhere.
fn latest_sql(after: &str, order: &str) -> String {
    format!(
        "SELECT i.id, i.kind, i.author, i.created_at, i.latest_version, i.blob, \
         v.author, v.created_at, v.key_epoch, v.body \
         FROM items i LEFT JOIN versions v \
         ON v.tenant = i.tenant AND v.item = i.id AND v.version = i.latest_version \
         AND v.session = i.session \
         WHERE i.tenant = ? AND i.session = ? AND {after} ORDER BY i.id {order} LIMIT ?"
    )
}

/// A column of `row` by position, each failure `Corrupt(what)`. Ids and subjects are
/// read as borrowed bytes (no copy); only the body is copied out.
fn column<'r, T>(row: &'r Row, col: usize, what: &'static str) -> StoreResult<T>
where
    T: sqlx::Decode<'r, <Row as sqlx::Row>::Database> + sqlx::Type<<Row as sqlx::Row>::Database>,
{
    sqlx::Row::try_get(row, col).map_err(|e| db_error(e, what))
}

/// An item of `tenant` in `session` and its latest version from one row of
/// [`latest_sql`]; no version row (or one of another session) is `Corrupt`, as is every
/// column that does not decode.
fn joined_of(
    row: &Row,
    tenant: TenantId,
    session: SessionId,
) -> StoreResult<(ContentItem, ContentVersion)> {
    use latest::*;
    let kind = u8::try_from(column::<i64>(row, KIND, ITEM)?).map_err(|_| corrupt(ITEM))?;
    let item = ContentItem {
        id: id_from(column(row, ID, ITEM)?, ITEM)?,
        tenant,
        session,
        kind: ContentKind::from_code(kind).map_err(|_| corrupt(ITEM))?,
        author: subject_from(column(row, AUTHOR, ITEM)?, ITEM)?,
        created_at: Timestamp::from_unix_millis(column(row, CREATED_AT, ITEM)?),
        latest_version: u32_of(column(row, LATEST_VERSION, ITEM)?, ITEM)?,
        blob: column::<Option<&[u8]>>(row, BLOB, ITEM)?
            .map(|b| id_from(b, ITEM))
            .transpose()?,
    };
    let Some(body) = column::<Option<Vec<u8>>>(row, V_BODY, VERSION)? else {
        return Err(corrupt(VERSION));
    };
    let version = ContentVersion {
        item: item.id,
        tenant,
        session,
        version: item.latest_version,
        author: subject_from(column(row, V_AUTHOR, VERSION)?, VERSION)?,
        created_at: Timestamp::from_unix_millis(column(row, V_CREATED_AT, VERSION)?),
        key_epoch: u32_of(column(row, V_KEY_EPOCH, VERSION)?, VERSION)?,
        body: SealedBody::new(body).map_err(|_| corrupt(VERSION))?,
    };
    Ok((item, version))
}

/// A stored integer as a `u32`; out of range is `Corrupt(what)`.
fn u32_of(n: i64, what: &'static str) -> StoreResult<u32> {
    u32::try_from(n).map_err(|_| corrupt(what))
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
        let sql = latest_sql(&after, order);
        let q = query(&sql)
            .bind(tenant.blob())
            .bind(session.blob())
            .bind(page.after.as_ref().map(IdBlob::blob))
            .bind(capped(page.limit));
        // Each row is decoded as it arrives and dropped, as `query_as` does, rather than
        // the whole page of rows (every column copied) held until the end.
        let mut rows = q.fetch(self.read_pool());
        let mut out = Vec::new();
        while let Some(row) = rows.try_next().await.map_err(|e| db_error(e, ITEM))? {
            out.push(joined_of(&row, tenant, session)?);
        }
        Ok(out)
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
