//! The audit trail, incidents and the notification outbox: appends numbered per tenant
//! from counters that never hand a number out twice.

use cai_core::domain::{AuditActor, AuditEvent, AuditObject, Incident};
use cai_core::id::{EventId, SubjectId, TenantId};
use cai_core::ports::{Notification, StoreResult};

use super::super::codec::{IdBlob, RowExt, body_of, corrupt, query, record_of, subject_blob};
use super::{Conn, ensure_free, exec, exists, fetch, missing};
use crate::audit_chain::{self, AuditPart, GENESIS, Hash, StoredEvent};

const AUDIT: &str = "audit event";
const INCIDENT: &str = "incident";
const NOTIFICATION: &str = "notification";

/// The tenant's next number in sequence `name` (1 first).
async fn next_seq(conn: &mut Conn, t: TenantId, name: &'static str) -> StoreResult<i64> {
    let q = query(
        "INSERT INTO sequences (tenant, name, last) VALUES (?, ?, 1) \
         ON CONFLICT (tenant, name) DO UPDATE SET last = sequences.last + 1 RETURNING last",
    )
    .bind(t.blob())
    .bind(name);
    match fetch(conn, q, name).await? {
        Some(row) => row.int("last", name),
        None => Err(missing(name)),
    }
}

pub(super) async fn append_audit(conn: &mut Conn, e: AuditEvent) -> StoreResult<()> {
    let q = query("SELECT 1 FROM audit_events WHERE tenant = ? AND id = ?")
        .bind(e.tenant.blob())
        .bind(e.id.blob());
    ensure_free(exists(conn, q, AUDIT).await?, AUDIT)?;
    let seq = next_seq(conn, e.tenant, "audit").await?;
    insert_chained(conn, &e, seq).await
}

/// The chain hash of the entry before `seq`: the last stored entry below it (so a
/// deleted entry does not stop the trail; verification reports the gap), the genesis
/// value for the first.
async fn prev_hash(conn: &mut Conn, t: TenantId, seq: i64) -> StoreResult<Hash> {
    let q = query(
        "SELECT hash FROM audit_events WHERE tenant = ? AND seq < ? ORDER BY seq DESC LIMIT 1",
    )
    .bind(t.blob())
    .bind(seq);
    match fetch(conn, q, AUDIT).await? {
        None => Ok(GENESIS),
        Some(row) => row
            .bytes_opt("hash", AUDIT)?
            .and_then(|h| Hash::try_from(h.as_slice()).ok())
            .ok_or(corrupt(AUDIT)),
    }
}

/// The columns that find an event's entries by person: the acting subject, and the
/// object when it is an account or a guest.
fn persons(e: &AuditEvent) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let subject = match e.actor {
        AuditActor::Subject(s) => Some(subject_blob(s)),
        _ => None,
    };
    let about = match e.object {
        AuditObject::Account(a) => Some(subject_blob(SubjectId::Account(a))),
        AuditObject::Guest(g) => Some(subject_blob(SubjectId::Guest(g))),
        _ => None,
    };
    (subject, about)
}

/// An audit kind's JSON name (`"login_succeeded"`), for the `kind` column.
pub(crate) fn kind_name(kind: cai_core::domain::AuditKind) -> StoreResult<String> {
    match serde_json::to_value(kind) {
        Ok(serde_json::Value::String(name)) => Ok(name),
        _ => Err(corrupt(AUDIT)),
    }
}

/// Writes `e` as entry `seq`, linked to its predecessor.
async fn insert_chained(conn: &mut Conn, e: &AuditEvent, seq: i64) -> StoreResult<()> {
    let stored = StoredEvent::split(e)?;
    let n = u64::try_from(seq).map_err(|_| corrupt(AUDIT))?;
    let hash = stored.hash(e.tenant, n, &prev_hash(conn, e.tenant, seq).await?);
    let (subject, about) = persons(e);
    let q = query(
        "INSERT INTO audit_events (tenant, seq, id, body, at, subject, about, detail, \
         detail_digest, origin, origin_digest, hash, kind) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(e.tenant.blob())
    .bind(seq)
    .bind(e.id.blob())
    .bind(stored.public.clone())
    .bind(e.at.unix_millis())
    .bind(subject)
    .bind(about)
    .bind(stored.detail.clone())
    .bind(audit_chain::part_digest(AuditPart::Detail, &stored.detail).to_vec())
    .bind(stored.origin.clone())
    .bind(audit_chain::part_digest(AuditPart::Origin, &stored.origin).to_vec())
    .bind(hash.to_vec())
    .bind(kind_name(e.kind)?);
    exec(conn, q, AUDIT).await.map(drop)
}

/// Chains entries written before the chain existed (`hash` NULL: their body is the
/// whole event), in sequence order per tenant. Runs once, on open after the
/// migration that added the chain; a no-op afterwards.
pub(crate) async fn chain_legacy_audit(conn: &mut Conn) -> StoreResult<u64> {
    let q =
        query("SELECT tenant, seq, body FROM audit_events WHERE hash IS NULL ORDER BY tenant, seq");
    let rows = q
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| super::super::codec::db_error(e, AUDIT))?;
    let mut chained = 0;
    for row in rows {
        let seq = row.int("seq", AUDIT)?;
        let event: AuditEvent = record_of(&row.text("body", AUDIT)?, vec![], AUDIT)?;
        let q = query("DELETE FROM audit_events WHERE tenant = ? AND seq = ?")
            .bind(event.tenant.blob())
            .bind(seq);
        exec(conn, q, AUDIT).await?;
        insert_chained(conn, &event, seq).await?;
        chained += 1;
    }
    Ok(chained)
}

pub(super) async fn record_incident(conn: &mut Conn, i: Incident) -> StoreResult<()> {
    let q = query("SELECT 1 FROM incidents WHERE tenant = ? AND id = ?")
        .bind(i.tenant.blob())
        .bind(i.id.blob());
    ensure_free(exists(conn, q, INCIDENT).await?, INCIDENT)?;
    let seq = next_seq(conn, i.tenant, "incident").await?;
    let q = query("INSERT INTO incidents (tenant, seq, id, body) VALUES (?, ?, ?, ?)")
        .bind(i.tenant.blob())
        .bind(seq)
        .bind(i.id.blob())
        .bind(body_of(&i, &[], INCIDENT)?);
    exec(conn, q, INCIDENT).await.map(drop)
}

pub(super) async fn queue_notification(conn: &mut Conn, n: Notification) -> StoreResult<()> {
    let q = query("SELECT 1 FROM notifications WHERE tenant = ? AND event = ?")
        .bind(n.tenant.blob())
        .bind(n.event.blob());
    ensure_free(exists(conn, q, NOTIFICATION).await?, NOTIFICATION)?;
    let seq = next_seq(conn, n.tenant, "outbox").await?;
    let q = query(
        "INSERT INTO notifications (tenant, seq, event, delivered, body) VALUES (?, ?, ?, 0, ?)",
    )
    .bind(n.tenant.blob())
    .bind(seq)
    .bind(n.event.blob())
    .bind(body_of(&n, &[], NOTIFICATION)?);
    exec(conn, q, NOTIFICATION).await.map(drop)
}

/// Delivered notifications leave the outbox (their body goes; the event id stays, so
/// queueing it again is still a conflict); marking one twice changes nothing.
pub(super) async fn mark_notified(conn: &mut Conn, t: TenantId, event: EventId) -> StoreResult<()> {
    let q = query("SELECT 1 FROM notifications WHERE tenant = ? AND event = ?")
        .bind(t.blob())
        .bind(event.blob());
    if !exists(conn, q, NOTIFICATION).await? {
        return Err(missing(NOTIFICATION));
    }
    let q = query(
        "UPDATE notifications SET delivered = 1, body = NULL \
         WHERE tenant = ? AND event = ? AND delivered = 0",
    )
    .bind(t.blob())
    .bind(event.blob());
    exec(conn, q, NOTIFICATION).await.map(drop)
}
