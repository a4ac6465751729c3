//! [`AuditStore`] reads: the audit trail and incidents by their per-tenant sequence
//! numbers, and the notification outbox in commit order.

use async_trait::async_trait;
use cai_core::Timestamp;
use cai_core::domain::{AuditEvent, Incident};
use cai_core::id::{SubjectId, TenantId};
use cai_core::ports::{AuditStore, Notification, StoreResult};

use super::Engine;
use super::codec::{IdBlob, Row, RowExt, capped, query, record_of};

const AUDIT: &str = "audit event";
const INCIDENT: &str = "incident";
const NOTIFICATION: &str = "notification";

/// A sequence number as a bound value: numbers past `i64::MAX` are never handed out,
/// so they clamp without changing the answer.
fn seq(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn numbered<T: serde::de::DeserializeOwned>(
    row: &Row,
    what: &'static str,
) -> StoreResult<(u64, T)> {
    let record = record_of(&row.text("body", what)?, vec![], what)?;
    Ok((row.u64("seq", what)?, record))
}

#[async_trait]
impl AuditStore for Engine {
    async fn erase_subject_parts(&self, tenant: TenantId, subject: SubjectId) -> StoreResult<u64> {
        // The audit chain's erasure: detail and origin go, their digests stay.
        self.erase_audit_subject(tenant, subject).await
    }

    async fn erase_login_records_before(
        &self,
        tenant: TenantId,
        before: Timestamp,
    ) -> StoreResult<u64> {
        // The audit chain's erasure: detail and origin go, their digests stay.
        self.erase_audit_logins(tenant, before).await
    }

    async fn erase_origins_before(&self, tenant: TenantId, before: Timestamp) -> StoreResult<u64> {
        // The audit chain's erasure: origin parts go, their digests stay.
        self.erase_audit_origins(tenant, before).await
    }

    async fn audit_events(
        &self,
        tenant: TenantId,
        after_seq: u64,
        limit: u32,
    ) -> StoreResult<Vec<(u64, AuditEvent)>> {
        let q = query(
            "SELECT seq, body, detail, origin FROM audit_events WHERE tenant = ? AND seq > ? \
             ORDER BY seq LIMIT ?",
        )
        .bind(tenant.blob())
        .bind(seq(after_seq))
        .bind(capped(limit));
        self.all(q, AUDIT)
            .await?
            .iter()
            .map(|row| {
                let event = crate::audit_chain::join(
                    &row.text("body", AUDIT)?,
                    row.bytes_opt("detail", AUDIT)?.as_deref(),
                    row.bytes_opt("origin", AUDIT)?.as_deref(),
                )?;
                Ok((row.u64("seq", AUDIT)?, event))
            })
            .collect()
    }

    async fn incidents(
        &self,
        tenant: TenantId,
        before: Option<u64>,
        limit: u32,
    ) -> StoreResult<Vec<(u64, Incident)>> {
        let q = query(
            "SELECT seq, body FROM incidents WHERE tenant = ? AND seq < ? \
             ORDER BY seq DESC LIMIT ?",
        )
        .bind(tenant.blob())
        .bind(before.map_or(i64::MAX, seq))
        .bind(capped(limit));
        self.all(q, INCIDENT)
            .await?
            .iter()
            .map(|row| numbered(row, INCIDENT))
            .collect()
    }

    async fn pending_notifications(
        &self,
        tenant: TenantId,
        limit: u32,
    ) -> StoreResult<Vec<Notification>> {
        let q = query(
            "SELECT body FROM notifications WHERE tenant = ? AND delivered = 0 \
             ORDER BY seq LIMIT ?",
        )
        .bind(tenant.blob())
        .bind(capped(limit));
        self.all(q, NOTIFICATION)
            .await?
            .iter()
            .map(|row| record_of(&row.text("body", NOTIFICATION)?, vec![], NOTIFICATION))
            .collect()
    }
}
