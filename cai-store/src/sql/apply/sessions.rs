//! Sessions, participants, invitations and rooms.

use cai_core::domain::{Invitation, Participant, Room, Session};
use cai_core::id::{SessionId, SubjectId, TenantId};
use cai_core::ports::StoreResult;

use super::super::codec::{IdBlob, body_of, int_of, query, subject_blob};
use super::{Conn, ensure_free, exec, exists, missing, next_revision, stored_revision};

const SESSION: &str = "session";
const PARTICIPANT: &str = "participant";
const INVITATION: &str = "invitation";
const ROOM: &str = "room";

/// Replaces the list of groups a session is shared with.
async fn put_groups(conn: &mut Conn, s: &Session) -> StoreResult<()> {
    let q = query("DELETE FROM session_groups WHERE tenant = ? AND session = ?")
        .bind(s.tenant.blob())
        .bind(s.id.blob());
    exec(conn, q, SESSION).await?;
    for (position, group) in (0i64..).zip(&s.groups) {
        let q = query(
            "INSERT INTO session_groups (tenant, session, position, grp) VALUES (?, ?, ?, ?)",
        )
        .bind(s.tenant.blob())
        .bind(s.id.blob())
        .bind(position)
        .bind(group.blob());
        exec(conn, q, SESSION).await?;
    }
    Ok(())
}

pub(super) async fn insert_session(conn: &mut Conn, s: Session) -> StoreResult<()> {
    let q = query("SELECT 1 FROM sessions WHERE tenant = ? AND id = ?")
        .bind(s.tenant.blob())
        .bind(s.id.blob());
    ensure_free(exists(conn, q, SESSION).await?, SESSION)?;
    let q = query("INSERT INTO sessions (tenant, id, revision, body) VALUES (?, ?, 0, ?)")
        .bind(s.tenant.blob())
        .bind(s.id.blob())
        .bind(body_of(&s, &["revision", "groups"], SESSION)?);
    exec(conn, q, SESSION).await?;
    put_groups(conn, &s).await
}

pub(super) async fn update_session(conn: &mut Conn, s: Session) -> StoreResult<()> {
    let q = query("SELECT revision FROM sessions WHERE tenant = ? AND id = ?")
        .bind(s.tenant.blob())
        .bind(s.id.blob());
    let revision = next_revision(
        stored_revision(conn, q, SESSION).await?,
        s.revision,
        SESSION,
    )?;
    let q = query("UPDATE sessions SET revision = ?, body = ? WHERE tenant = ? AND id = ?")
        .bind(int_of(revision, SESSION)?)
        .bind(body_of(&s, &["revision", "groups"], SESSION)?)
        .bind(s.tenant.blob())
        .bind(s.id.blob());
    exec(conn, q, SESSION).await?;
    put_groups(conn, &s).await
}

/// Cascades: participants, invitations, items with all versions, key custody,
/// history grants, end-to-end group epochs, guests of the session.
pub(super) async fn delete_session(conn: &mut Conn, t: TenantId, id: SessionId) -> StoreResult<()> {
    let q = query("DELETE FROM sessions WHERE tenant = ? AND id = ?")
        .bind(t.blob())
        .bind(id.blob());
    if exec(conn, q, SESSION).await? == 0 {
        return Err(missing(SESSION));
    }
    for sql in [
        "DELETE FROM participants WHERE tenant = ? AND session = ?",
        "DELETE FROM invitations WHERE tenant = ? AND session = ?",
        "DELETE FROM guests WHERE tenant = ? AND session = ?",
    ] {
        exec(conn, query(sql).bind(t.blob()).bind(id.blob()), SESSION).await?;
    }
    super::content::delete_session_content(conn, t, id).await?;
    super::keys::delete_custody(conn, t, id).await
}

/// Adds a participant, or changes the part of an existing one.
pub(super) async fn put_participant(conn: &mut Conn, p: Participant) -> StoreResult<()> {
    let q = query(
        "INSERT INTO participants (tenant, session, subject, body) VALUES (?, ?, ?, ?) \
         ON CONFLICT (tenant, session, subject) DO UPDATE SET body = excluded.body",
    )
    .bind(p.tenant.blob())
    .bind(p.session.blob())
    .bind(subject_blob(p.subject))
    .bind(body_of(&p, &[], PARTICIPANT)?);
    exec(conn, q, PARTICIPANT).await.map(drop)
}

pub(super) async fn remove_participant(
    conn: &mut Conn,
    t: TenantId,
    session: SessionId,
    subject: SubjectId,
) -> StoreResult<()> {
    let q = query("DELETE FROM participants WHERE tenant = ? AND session = ? AND subject = ?")
        .bind(t.blob())
        .bind(session.blob())
        .bind(subject_blob(subject));
    if exec(conn, q, PARTICIPANT).await? == 0 {
        return Err(missing(PARTICIPANT));
    }
    Ok(())
}

pub(super) async fn insert_invitation(conn: &mut Conn, i: Invitation) -> StoreResult<()> {
    let q = query("SELECT 1 FROM invitations WHERE tenant = ? AND id = ?")
        .bind(i.tenant.blob())
        .bind(i.id.blob());
    ensure_free(exists(conn, q, INVITATION).await?, INVITATION)?;
    let q = query(
        "INSERT INTO invitations \
         (tenant, id, session, created_by, secret_hash, address_binding, revision, body) \
         VALUES (?, ?, ?, ?, ?, ?, 0, ?)",
    )
    .bind(i.tenant.blob())
    .bind(i.id.blob())
    .bind(i.session.blob())
    .bind(i.created_by.blob())
    .bind(i.secret_hash.as_slice())
    .bind(i.address_binding.as_ref().map(<[u8; 32]>::as_slice))
    .bind(body_of(&i, &["revision"], INVITATION)?);
    exec(conn, q, INVITATION).await.map(drop)
}

pub(super) async fn update_invitation(conn: &mut Conn, i: Invitation) -> StoreResult<()> {
    let q = query("SELECT revision FROM invitations WHERE tenant = ? AND id = ?")
        .bind(i.tenant.blob())
        .bind(i.id.blob());
    let stored = stored_revision(conn, q, INVITATION).await?;
    let revision = next_revision(stored, i.revision, INVITATION)?;
    let q = query(
        "UPDATE invitations SET session = ?, created_by = ?, secret_hash = ?, \
         address_binding = ?, revision = ?, body = ? WHERE tenant = ? AND id = ?",
    )
    .bind(i.session.blob())
    .bind(i.created_by.blob())
    .bind(i.secret_hash.as_slice())
    .bind(i.address_binding.as_ref().map(<[u8; 32]>::as_slice))
    .bind(int_of(revision, INVITATION)?)
    .bind(body_of(&i, &["revision"], INVITATION)?)
    .bind(i.tenant.blob())
    .bind(i.id.blob());
    exec(conn, q, INVITATION).await.map(drop)
}

pub(super) async fn insert_room(conn: &mut Conn, r: Room) -> StoreResult<()> {
    let q = query("SELECT 1 FROM rooms WHERE tenant = ? AND id = ?")
        .bind(r.tenant.blob())
        .bind(r.id.blob());
    ensure_free(exists(conn, q, ROOM).await?, ROOM)?;
    let q =
        query("INSERT INTO rooms (tenant, id, password, revision, body) VALUES (?, ?, ?, 0, ?)")
            .bind(r.tenant.blob())
            .bind(r.id.blob())
            .bind(r.password.as_slice())
            .bind(body_of(&r, &["revision"], ROOM)?);
    exec(conn, q, ROOM).await.map(drop)
}

pub(super) async fn update_room(conn: &mut Conn, r: Room) -> StoreResult<()> {
    let q = query("SELECT revision FROM rooms WHERE tenant = ? AND id = ?")
        .bind(r.tenant.blob())
        .bind(r.id.blob());
    let revision = next_revision(stored_revision(conn, q, ROOM).await?, r.revision, ROOM)?;
    let q =
        query("UPDATE rooms SET password = ?, revision = ?, body = ? WHERE tenant = ? AND id = ?")
            .bind(r.password.as_slice())
            .bind(int_of(revision, ROOM)?)
            .bind(body_of(&r, &["revision"], ROOM)?)
            .bind(r.tenant.blob())
            .bind(r.id.blob());
    exec(conn, q, ROOM).await.map(drop)
}
