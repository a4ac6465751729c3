//! The audit trail, incidents and the notification outbox: appends numbered per tenant
//! from counters that never hand a number out twice.

use cai_core::domain::{AuditEvent, Incident};
use cai_core::id::{EventId, TenantId};
use cai_core::ports::{Notification, StoreResult};

use super::super::codec::{IdBlob, RowExt, body_of, query};
use super::{Conn, ensure_free, exec, exists, fetch, missing};

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
    let q = query("INSERT INTO audit_events (tenant, seq, id, body) VALUES (?, ?, ?, ?)")
        .bind(e.tenant.blob())
        .bind(seq)
        .bind(e.id.blob())
        .bind(body_of(&e, &[], AUDIT)?);
    exec(conn, q, AUDIT).await.map(drop)
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
