//! [`KeyStore`] and [`CredentialStore`] reads: session key custody, history grants,
//! end-to-end group epochs, key packages, key backups and credentials — opaque bytes
//! in BLOB columns, returned as they were stored.

use async_trait::async_trait;
use cai_core::id::{AccountId, SessionId, SubjectId, TenantId};
use cai_core::ports::{
    Credential, CredentialKind, CredentialStore, E2eEpoch, HistoryGrant, KeyStore, StoreResult,
    StoredCustody, StoredKeyPackage,
};

use super::Engine;
use super::codec::{IdBlob, Row, RowExt, capped, corrupt, query, subject_blob};

const CUSTODY: &str = "key custody";
const GRANT: &str = "history grant";
const EPOCH: &str = "end-to-end epoch";
const PACKAGE: &str = "key package";
const BACKUP: &str = "key backup";
const CREDENTIAL: &str = "credential";

const EPOCH_COLUMNS: &str =
    "tenant, session, epoch, commit_bytes, record, welcome, grp, committed_by, at";

fn custody_of(row: &Row) -> StoreResult<StoredCustody> {
    Ok(StoredCustody {
        tenant: row.id("tenant", CUSTODY)?,
        session: row.id("session", CUSTODY)?,
        epoch: row.u32("epoch", CUSTODY)?,
        custody: row.bytes("custody", CUSTODY)?,
    })
}

fn epoch_of(row: &Row) -> StoreResult<E2eEpoch> {
    Ok(E2eEpoch {
        tenant: row.id("tenant", EPOCH)?,
        session: row.id("session", EPOCH)?,
        epoch: row.u32("epoch", EPOCH)?,
        commit: row.bytes("commit_bytes", EPOCH)?,
        record: row.bytes("record", EPOCH)?,
        welcome: row.bytes_opt("welcome", EPOCH)?,
        group: row.bytes("grp", EPOCH)?,
        committed_by: row.subject("committed_by", EPOCH)?,
        at: row.time("at", EPOCH)?,
    })
}

fn package_of(row: &Row) -> StoreResult<StoredKeyPackage> {
    Ok(StoredKeyPackage {
        tenant: row.id("tenant", PACKAGE)?,
        owner: row.subject("owner", PACKAGE)?,
        device: row.bytes("device", PACKAGE)?,
        reference: row.bytes("reference", PACKAGE)?,
        last_resort: row.int("last_resort", PACKAGE)? != 0,
        package: row.bytes("package", PACKAGE)?,
        published_at: row.time("published_at", PACKAGE)?,
    })
}

#[async_trait]
impl KeyStore for Engine {
    async fn custody(
        &self,
        tenant: TenantId,
        session: SessionId,
        epoch: u32,
    ) -> StoreResult<Option<StoredCustody>> {
        let q = query(
            "SELECT tenant, session, epoch, custody FROM custody \
             WHERE tenant = ? AND session = ? AND epoch = ?",
        )
        .bind(tenant.blob())
        .bind(session.blob())
        .bind(i64::from(epoch));
        self.one(q, CUSTODY)
            .await?
            .as_ref()
            .map(custody_of)
            .transpose()
    }

    async fn custodies(
        &self,
        tenant: TenantId,
        session: SessionId,
    ) -> StoreResult<Vec<StoredCustody>> {
        let q = query(
            "SELECT tenant, session, epoch, custody FROM custody \
             WHERE tenant = ? AND session = ? ORDER BY epoch",
        )
        .bind(tenant.blob())
        .bind(session.blob());
        self.all(q, CUSTODY).await?.iter().map(custody_of).collect()
    }

    async fn history_grant(
        &self,
        tenant: TenantId,
        session: SessionId,
        recipient: AccountId,
    ) -> StoreResult<Option<HistoryGrant>> {
        let q = query(
            "SELECT granted_by, at, grant_bytes FROM history_grants \
             WHERE tenant = ? AND session = ? AND recipient = ?",
        )
        .bind(tenant.blob())
        .bind(session.blob())
        .bind(recipient.blob());
        let Some(row) = self.one(q, GRANT).await? else {
            return Ok(None);
        };
        Ok(Some(HistoryGrant {
            tenant,
            session,
            recipient,
            granted_by: row.id("granted_by", GRANT)?,
            at: row.time("at", GRANT)?,
            grant: row.bytes("grant_bytes", GRANT)?,
        }))
    }

    async fn e2e_epochs(
        &self,
        tenant: TenantId,
        session: SessionId,
        after: Option<u32>,
        limit: u32,
    ) -> StoreResult<Vec<E2eEpoch>> {
        let sql = format!(
            "SELECT {EPOCH_COLUMNS} FROM e2e_epochs WHERE tenant = ? AND session = ? \
             AND epoch > ? ORDER BY epoch LIMIT ?"
        );
        let q = query(&sql)
            .bind(tenant.blob())
            .bind(session.blob())
            // Epochs start at 0: "all" is "above -1".
            .bind(after.map_or(-1, i64::from))
            .bind(capped(limit));
        self.all(q, EPOCH).await?.iter().map(epoch_of).collect()
    }

    async fn e2e_latest(
        &self,
        tenant: TenantId,
        session: SessionId,
    ) -> StoreResult<Option<E2eEpoch>> {
        let sql = format!(
            "SELECT {EPOCH_COLUMNS} FROM e2e_epochs WHERE tenant = ? AND session = ? \
             ORDER BY epoch DESC LIMIT 1"
        );
        let q = query(&sql).bind(tenant.blob()).bind(session.blob());
        self.one(q, EPOCH).await?.as_ref().map(epoch_of).transpose()
    }

    async fn key_packages(
        &self,
        tenant: TenantId,
        owner: SubjectId,
    ) -> StoreResult<Vec<StoredKeyPackage>> {
        let q = query(
            "SELECT tenant, owner, reference, device, last_resort, package, published_at \
             FROM key_packages WHERE tenant = ? AND owner = ? ORDER BY published_at, reference",
        )
        .bind(tenant.blob())
        .bind(subject_blob(owner));
        self.all(q, PACKAGE).await?.iter().map(package_of).collect()
    }

    async fn key_backup(
        &self,
        tenant: TenantId,
        account: AccountId,
    ) -> StoreResult<Option<Vec<u8>>> {
        let q = query("SELECT backup FROM key_backups WHERE tenant = ? AND account = ?")
            .bind(tenant.blob())
            .bind(account.blob());
        self.one(q, BACKUP)
            .await?
            .map(|row| row.bytes("backup", BACKUP))
            .transpose()
    }
}

#[async_trait]
impl CredentialStore for Engine {
    async fn credential(
        &self,
        tenant: TenantId,
        account: AccountId,
        kind: CredentialKind,
    ) -> StoreResult<Option<Credential>> {
        let q = query(
            "SELECT kind, data, updated_at, revision FROM credentials \
             WHERE tenant = ? AND account = ? AND kind = ?",
        )
        .bind(tenant.blob())
        .bind(account.blob())
        .bind(i64::from(kind.code()));
        let Some(row) = self.one(q, CREDENTIAL).await? else {
            return Ok(None);
        };
        let code = u8::try_from(row.int("kind", CREDENTIAL)?).map_err(|_| corrupt(CREDENTIAL))?;
        Ok(Some(Credential {
            tenant,
            account,
            kind: CredentialKind::from_code(code).ok_or(corrupt(CREDENTIAL))?,
            data: row.bytes("data", CREDENTIAL)?,
            updated_at: row.time("updated_at", CREDENTIAL)?,
            revision: row.u64("revision", CREDENTIAL)?,
        }))
    }
}
