//! The audit chain's operations on a store: checkpoints, verification and erasure of
//! personal data (see [`crate::audit_chain`] for the format).

use cai_core::Timestamp;
use cai_core::id::{SubjectId, TenantId};
use cai_core::ports::{StoreError, StoreResult};

use super::Engine;
use super::codec::{IdBlob, Query, Row, RowExt, corrupt, db_error, query, subject_blob};
use crate::audit_chain::{self, AuditKeys, AuditReport, AuditSigner, Checkpoint, Hash, Verifier};

const AUDIT: &str = "audit event";
const CHECKPOINT: &str = "audit checkpoint";
/// Entries read per round trip while verifying: memory stays bounded by this many
/// rows whatever the trail's length.
const VERIFY_PAGE: i64 = 1_000;

fn hash_of(row: &Row, col: &str, what: &'static str) -> StoreResult<Hash> {
    Hash::try_from(row.bytes(col, what)?.as_slice()).map_err(|_| corrupt(what))
}

fn checkpoint_of(row: &Row) -> StoreResult<Checkpoint> {
    Ok(Checkpoint {
        seq: row.u64("seq", CHECKPOINT)?,
        head: hash_of(row, "head", CHECKPOINT)?,
        at: row.time("at", CHECKPOINT)?,
        key: hash_of(row, "key", CHECKPOINT)?,
        signature: <[u8; 64]>::try_from(row.bytes("signature", CHECKPOINT)?.as_slice())
            .map_err(|_| corrupt(CHECKPOINT))?,
    })
}

/// One stored entry for the verifier; `None` when a column is missing or malformed.
fn chain_row(row: &Row) -> Option<audit_chain::Row> {
    Some(audit_chain::Row {
        seq: row.u64("seq", AUDIT).ok()?,
        public: row.text("body", AUDIT).ok()?.into_bytes(),
        detail: row.bytes_opt("detail", AUDIT).ok()?,
        detail_digest: hash_of(row, "detail_digest", AUDIT).ok()?,
        origin: row.bytes_opt("origin", AUDIT).ok()?,
        origin_digest: hash_of(row, "origin_digest", AUDIT).ok()?,
        hash: hash_of(row, "hash", AUDIT).ok()?,
    })
}

impl Engine {
    /// Chains audit entries written before the chain existed (see
    /// `chain_legacy_audit`); called on open.
    pub(crate) async fn chain_legacy(&self) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        let chained = super::apply::chain_legacy_audit(&mut tx).await?;
        tx.commit().await.map_err(StoreError::backend)?;
        Ok(chained)
    }

    /// Signs the head of `tenant`'s audit trail as it is now, at `at` (the host's
    /// clock), and stores the checkpoint. `None` when the trail is empty. A second
    /// call without new entries returns the checkpoint already stored for that head.
    pub async fn checkpoint_audit(
        &self,
        tenant: TenantId,
        signer: &AuditSigner,
        at: Timestamp,
    ) -> StoreResult<Option<Checkpoint>> {
        let mut tx = self.begin_write().await?;
        let q =
            query("SELECT seq, hash FROM audit_events WHERE tenant = ? ORDER BY seq DESC LIMIT 1")
                .bind(tenant.blob());
        let Some(row) = q
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| db_error(e, AUDIT))?
        else {
            return Ok(None);
        };
        let seq = row.u64("seq", AUDIT)?;
        let q = query("SELECT seq, head, at, key, signature FROM audit_checkpoints WHERE tenant = ? AND seq = ?")
            .bind(tenant.blob())
            .bind(row.int("seq", AUDIT)?);
        if let Some(existing) = q
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| db_error(e, CHECKPOINT))?
        {
            return checkpoint_of(&existing).map(Some);
        }
        let cp = signer.sign(tenant, seq, &hash_of(&row, "hash", AUDIT)?, at);
        let q = query(
            "INSERT INTO audit_checkpoints (tenant, seq, head, at, key, signature) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(tenant.blob())
        .bind(row.int("seq", AUDIT)?)
        .bind(cp.head.to_vec())
        .bind(cp.at.unix_millis())
        .bind(cp.key.to_vec())
        .bind(cp.signature.to_vec());
        q.execute(&mut *tx)
            .await
            .map_err(|e| db_error(e, CHECKPOINT))?;
        tx.commit().await.map_err(StoreError::backend)?;
        Ok(Some(cp))
    }

    /// Checks `tenant`'s whole audit trail against its links, its sequence counter
    /// and the checkpoints signed by `keys`, on one snapshot of the database, reading
    /// a bounded page of entries at a time. The report lists every problem found
    /// (up to [`MAX_PROBLEMS`](audit_chain::MAX_PROBLEMS)) at the place it shows.
    pub async fn verify_audit(
        &self,
        tenant: TenantId,
        keys: &AuditKeys,
    ) -> StoreResult<AuditReport> {
        let mut tx = self.begin_read().await?;
        let q = query("SELECT seq, head, at, key, signature FROM audit_checkpoints WHERE tenant = ? ORDER BY seq")
            .bind(tenant.blob());
        let checkpoints = q
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| db_error(e, CHECKPOINT))?
            .iter()
            .map(checkpoint_of)
            .collect::<StoreResult<Vec<_>>>()?;
        let mut verifier = Verifier::new(tenant, keys, checkpoints);
        // A pruned trail starts past 1, at the entry after its anchor checkpoint.
        let q = query("SELECT seq FROM audit_events WHERE tenant = ? ORDER BY seq LIMIT 1")
            .bind(tenant.blob());
        if let Some(first) = q
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| db_error(e, AUDIT))?
        {
            verifier.start_after_pruned(first.u64("seq", AUDIT)?);
        }
        let mut after = 0_i64;
        loop {
            let q = query(
                "SELECT seq, body, detail, detail_digest, origin, origin_digest, hash \
                 FROM audit_events WHERE tenant = ? AND seq > ? ORDER BY seq LIMIT ?",
            )
            .bind(tenant.blob())
            .bind(after)
            .bind(VERIFY_PAGE);
            let rows = q
                .fetch_all(&mut *tx)
                .await
                .map_err(|e| db_error(e, AUDIT))?;
            let Some(last) = rows.last() else { break };
            after = last.int("seq", AUDIT)?;
            for row in &rows {
                match chain_row(row) {
                    Some(r) => verifier.row(r),
                    None => verifier.unreadable(row.u64("seq", AUDIT)?),
                }
            }
        }
        let q = query("SELECT last FROM sequences WHERE tenant = ? AND name = 'audit'")
            .bind(tenant.blob());
        let counter = match q
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| db_error(e, AUDIT))?
        {
            Some(row) => row.u64("last", AUDIT)?,
            None => 0,
        };
        tx.rollback().await.map_err(StoreError::backend)?;
        Ok(verifier.finish(counter))
    }

    /// Retention of the audit trail (R-U2's period): deletes the entries up to the
    /// newest checkpoint signed before `before`, and the checkpoints below it; that
    /// checkpoint stays as the anchor [`verify_audit`](Self::verify_audit) starts
    /// from (`AuditReport::pruned_to`). Only an intact trail is pruned: the whole
    /// trail is verified with `keys` first, and any problem refuses the pruning
    /// (`StoreError::Corrupt`), so evidence of tampering is never deleted. Returns
    /// how many entries were deleted (0 when no checkpoint is old enough).
    pub async fn prune_audit(
        &self,
        tenant: TenantId,
        before: Timestamp,
        keys: &audit_chain::AuditKeys,
    ) -> StoreResult<u64> {
        if !self.verify_audit(tenant, keys).await?.is_intact() {
            return Err(StoreError::Corrupt {
                what: "audit trail (not pruned: it does not verify)",
            });
        }
        let mut tx = self.begin_write().await?;
        let q = query(
            "SELECT seq FROM audit_checkpoints WHERE tenant = ? AND at < ? ORDER BY seq DESC LIMIT 1",
        )
        .bind(tenant.blob())
        .bind(before.unix_millis());
        let Some(anchor) = q
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| db_error(e, CHECKPOINT))?
        else {
            return Ok(0);
        };
        let anchor = anchor.int("seq", CHECKPOINT)?;
        let deleted = query("DELETE FROM audit_events WHERE tenant = ? AND seq <= ?")
            .bind(tenant.blob())
            .bind(anchor)
            .execute(&mut *tx)
            .await
            .map_err(|e| db_error(e, AUDIT))?
            .rows_affected();
        query("DELETE FROM audit_checkpoints WHERE tenant = ? AND seq < ?")
            .bind(tenant.blob())
            .bind(anchor)
            .execute(&mut *tx)
            .await
            .map_err(|e| db_error(e, CHECKPOINT))?;
        tx.commit().await.map_err(StoreError::backend)?;
        self.after_erasure().await?;
        Ok(deleted)
    }

    /// Erases the personal parts (detail and origin) of every audit entry of
    /// `tenant` that `subject` made or that is about it — for the deletion or
    /// pseudonymisation of a person (R-P3, R-I7). The entries, their ids and the
    /// chain stay and still verify. Returns how many entries changed.
    pub async fn erase_audit_subject(
        &self,
        tenant: TenantId,
        subject: SubjectId,
    ) -> StoreResult<u64> {
        let who = subject_blob(subject);
        self.erase_parts(
            query(
                "UPDATE audit_events SET detail = NULL, origin = NULL WHERE tenant = ? \
                 AND (subject = ? OR about = ?) AND (detail IS NOT NULL OR origin IS NOT NULL)",
            )
            .bind(tenant.blob())
            .bind(who.clone())
            .bind(who),
        )
        .await
    }

    /// Erases the personal parts (detail and origin) of every login record of
    /// `tenant` (kinds `login_succeeded`, `login_failed`) recorded before `before` —
    /// the retention of login records (R-A9, R-P2). Returns how many entries changed.
    pub async fn erase_audit_logins(
        &self,
        tenant: TenantId,
        before: Timestamp,
    ) -> StoreResult<u64> {
        self.erase_parts(
            query(
                "UPDATE audit_events SET detail = NULL, origin = NULL WHERE tenant = ? \
                 AND kind IN ('login_succeeded', 'login_failed') AND at < ? \
                 AND (detail IS NOT NULL OR origin IS NOT NULL)",
            )
            .bind(tenant.blob())
            .bind(before.unix_millis()),
        )
        .await
    }

    /// Erases the origin (request id, client address) of every audit entry of
    /// `tenant` recorded before `before` — the retention of IP logs (R-P2). Returns how
    /// many entries changed.
    pub async fn erase_audit_origins(
        &self,
        tenant: TenantId,
        before: Timestamp,
    ) -> StoreResult<u64> {
        self.erase_parts(
            query(
                "UPDATE audit_events SET origin = NULL WHERE tenant = ? AND at < ? \
                 AND origin IS NOT NULL",
            )
            .bind(tenant.blob())
            .bind(before.unix_millis()),
        )
        .await
    }

    /// Runs one erasing `UPDATE` in a write transaction, then makes the erased bytes
    /// physically go ([`Self::after_erasure`]). Returns the rows changed.
    async fn erase_parts(&self, update: Query<'_>) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        let changed = update
            .execute(&mut *tx)
            .await
            .map_err(|e| db_error(e, AUDIT))?
            .rows_affected();
        tx.commit().await.map_err(StoreError::backend)?;
        self.after_erasure().await?;
        Ok(changed)
    }
}
