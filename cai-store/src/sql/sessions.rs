//! [`SessionStore`] reads: sessions, participants, invitations and rooms; and the
//! keyset paging every listing shares.

use async_trait::async_trait;
use cai_core::domain::{Invitation, Participant, Room, Session};
use cai_core::id::{GroupId, InvitationId, RoomId, SessionId, SubjectId, TenantId};
use cai_core::ports::{InvitationFilter, Order, Page, SessionStore, StoreResult};

use super::Engine;
use super::codec::{IdBlob, Row, RowExt, capped, corrupt, id_list, query, record_of, subject_blob};
use super::directory::{revision, with_lists};

const SESSION: &str = "session";
const PARTICIPANT: &str = "participant";
const INVITATION: &str = "invitation";
const ROOM: &str = "room";

/// The keyset condition on `column` (one bound parameter: the page's `after` id, or
/// NULL for the first page) and the sort direction of a page. Both are constant SQL
/// text; only the id is a value, and it is bound.
pub(super) fn keyset<I>(page: &Page<I>, column: &'static str) -> (String, &'static str) {
    match (page.order, page.after.is_some()) {
        (_, false) => ("? IS NULL".to_owned(), dir(page.order)),
        (Order::OldestFirst, true) => (format!("{column} > ?"), "ASC"),
        (Order::NewestFirst, true) => (format!("{column} < ?"), "DESC"),
    }
}

fn dir(order: Order) -> &'static str {
    match order {
        Order::OldestFirst => "ASC",
        Order::NewestFirst => "DESC",
    }
}

/// A session from its row and the groups it is shared with.
fn session_of((row, groups): (Row, Vec<GroupId>)) -> StoreResult<Session> {
    record_of(
        &row.text("body", SESSION)?,
        vec![
            revision(&row, SESSION)?,
            ("groups", id_list(&groups, SESSION)?),
        ],
        SESSION,
    )
}

/// An invitation: body, revision and the two hashes JSON leaves out.
fn invitation_of(row: &Row) -> StoreResult<Invitation> {
    let mut inv: Invitation = record_of(
        &row.text("body", INVITATION)?,
        vec![revision(row, INVITATION)?],
        INVITATION,
    )?;
    inv.secret_hash = row
        .bytes("secret_hash", INVITATION)?
        .try_into()
        .map_err(|_| corrupt(INVITATION))?;
    inv.address_binding = row
        .bytes_opt("address_binding", INVITATION)?
        .map(|b| b.try_into().map_err(|_| corrupt(INVITATION)))
        .transpose()?;
    Ok(inv)
}

/// The ids in `rows`' `column`.
fn ids<I: IdBlob>(rows: &[Row], column: &str, what: &'static str) -> StoreResult<Vec<I>> {
    rows.iter().map(|r| r.id(column, what)).collect()
}

#[async_trait]
impl SessionStore for Engine {
    async fn session(&self, tenant: TenantId, id: SessionId) -> StoreResult<Option<Session>> {
        let q = query(
            "SELECT s.id, s.revision, s.body, g.grp FROM sessions s \
             LEFT JOIN session_groups g ON g.tenant = s.tenant AND g.session = s.id \
             WHERE s.tenant = ? AND s.id = ? ORDER BY g.position",
        )
        .bind(tenant.blob())
        .bind(id.blob());
        let rows = self.all(q, SESSION).await?;
        with_lists(rows, "grp", SESSION)?
            .into_iter()
            .next()
            .map(session_of)
            .transpose()
    }

    async fn participants(
        &self,
        tenant: TenantId,
        session: SessionId,
    ) -> StoreResult<Vec<Participant>> {
        let q = query(
            "SELECT body FROM participants WHERE tenant = ? AND session = ? ORDER BY subject",
        )
        .bind(tenant.blob())
        .bind(session.blob());
        self.all(q, PARTICIPANT)
            .await?
            .iter()
            .map(|row| record_of(&row.text("body", PARTICIPANT)?, vec![], PARTICIPANT))
            .collect()
    }

    async fn sessions_of(
        &self,
        tenant: TenantId,
        subject: SubjectId,
        page: Page<SessionId>,
    ) -> StoreResult<Vec<SessionId>> {
        let (after, order) = keyset(&page, "session");
        let sql = format!(
            "SELECT session FROM participants WHERE tenant = ? AND subject = ? AND {after} \
             ORDER BY session {order} LIMIT ?"
        );
        let q = query(&sql)
            .bind(tenant.blob())
            .bind(subject_blob(subject))
            .bind(page.after.as_ref().map(IdBlob::blob))
            .bind(capped(page.limit));
        ids(&self.all(q, SESSION).await?, "session", SESSION)
    }

    async fn session_ids(
        &self,
        tenant: TenantId,
        page: Page<SessionId>,
    ) -> StoreResult<Vec<SessionId>> {
        let (after, order) = keyset(&page, "id");
        let sql = format!(
            "SELECT id FROM sessions WHERE tenant = ? AND {after} ORDER BY id {order} LIMIT ?"
        );
        let q = query(&sql)
            .bind(tenant.blob())
            .bind(page.after.as_ref().map(IdBlob::blob))
            .bind(capped(page.limit));
        ids(&self.all(q, SESSION).await?, "id", SESSION)
    }

    async fn sessions_of_group(
        &self,
        tenant: TenantId,
        group: GroupId,
        page: Page<SessionId>,
    ) -> StoreResult<Vec<SessionId>> {
        let (after, order) = keyset(&page, "session");
        let sql = format!(
            "SELECT DISTINCT session FROM session_groups WHERE tenant = ? AND grp = ? AND {after} \
             ORDER BY session {order} LIMIT ?"
        );
        let q = query(&sql)
            .bind(tenant.blob())
            .bind(group.blob())
            .bind(page.after.as_ref().map(IdBlob::blob))
            .bind(capped(page.limit));
        ids(&self.all(q, SESSION).await?, "session", SESSION)
    }

    async fn invitation(
        &self,
        tenant: TenantId,
        id: InvitationId,
    ) -> StoreResult<Option<Invitation>> {
        let q = query(
            "SELECT secret_hash, address_binding, revision, body FROM invitations \
             WHERE tenant = ? AND id = ?",
        )
        .bind(tenant.blob())
        .bind(id.blob());
        self.one(q, INVITATION)
            .await?
            .map(|row| invitation_of(&row))
            .transpose()
    }

    async fn invitations(
        &self,
        tenant: TenantId,
        filter: InvitationFilter,
        page: Page<InvitationId>,
    ) -> StoreResult<Vec<Invitation>> {
        let (column, value) = match filter {
            InvitationFilter::Session(s) => ("session", s.blob().to_vec()),
            InvitationFilter::CreatedBy(a) => ("created_by", a.blob().to_vec()),
            // A filter this build does not know lists nothing rather than everything.
            _ => return Ok(Vec::new()),
        };
        let (after, order) = keyset(&page, "id");
        let sql = format!(
            "SELECT secret_hash, address_binding, revision, body FROM invitations \
             WHERE tenant = ? AND {column} = ? AND {after} ORDER BY id {order} LIMIT ?"
        );
        let q = query(&sql)
            .bind(tenant.blob())
            .bind(value)
            .bind(page.after.as_ref().map(IdBlob::blob))
            .bind(capped(page.limit));
        self.all(q, INVITATION)
            .await?
            .iter()
            .map(invitation_of)
            .collect()
    }

    async fn room(&self, tenant: TenantId, id: RoomId) -> StoreResult<Option<Room>> {
        let q = query("SELECT password, revision, body FROM rooms WHERE tenant = ? AND id = ?")
            .bind(tenant.blob())
            .bind(id.blob());
        let Some(row) = self.one(q, ROOM).await? else {
            return Ok(None);
        };
        let mut room: Room =
            record_of(&row.text("body", ROOM)?, vec![revision(&row, ROOM)?], ROOM)?;
        room.password = row.bytes("password", ROOM)?;
        Ok(Some(room))
    }
}
