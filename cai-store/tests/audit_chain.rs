//! The tamper-evident audit trail on both backends: a verification finds every
//! modified, deleted, inserted or reordered entry — also when the attacker rewrote the
//! hashes after it — and says where; personal parts can be erased without breaking
//! the chain. The "attacker" writes to the database directly, behind the store's back.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

#[cfg(feature = "postgres")]
mod pg;

use std::net::{IpAddr, Ipv4Addr};

use async_trait::async_trait;
use cai_core::Timestamp;
use cai_core::conformance::data::{at, rid, tenant};
use cai_core::domain::{AuditActor, AuditEvent, AuditKind, AuditObject, Change, RequestMeta};
use cai_core::id::{AccountId, SubjectId, TenantId};
use cai_core::ports::{AuditStore, Batch, Store, StoreError, StoreResult, Write};
use cai_store::audit_chain::{
    AuditKeys, AuditPart, AuditProblem, AuditReport, AuditSigner, Checkpoint, GENESIS, Hash,
    entry_hash, part_digest,
};
#[cfg(feature = "postgres")]
use cai_store::postgres::PgStore;
use cai_store::sqlite::SqliteStore;
use sqlx::Connection;

/// What the tests need of a backend: the store and a raw connection for the attacker.
#[async_trait]
trait Backend: Sized + Send + Sync + 'static {
    /// SQL for 16 random bytes.
    const RANDOM_ID: &'static str;
    async fn fresh() -> Self;
    async fn commit(&self, batch: Batch) -> StoreResult<()>;
    async fn events(
        &self,
        t: TenantId,
        after: u64,
        limit: u32,
    ) -> StoreResult<Vec<(u64, AuditEvent)>>;
    async fn reopen(&self) -> Self;
    /// Runs `sql` (`?` placeholders) with the tenant's id as its only parameter.
    async fn raw(&self, sql: &str, tenant: TenantId) -> u64;
    /// Rows of `(seq, body, detail_digest, origin_digest)` for the attacker's rewrite.
    async fn raw_rows(&self, tenant: TenantId) -> Vec<(i64, String, Vec<u8>, Vec<u8>)>;
    async fn raw_set_hash(&self, tenant: TenantId, seq: i64, hash: &Hash);
    async fn checkpoint(
        &self,
        t: TenantId,
        s: &AuditSigner,
        at: Timestamp,
    ) -> StoreResult<Option<Checkpoint>>;
    async fn verify(&self, t: TenantId, k: &AuditKeys) -> StoreResult<AuditReport>;
    async fn erase_subject(&self, t: TenantId, s: SubjectId) -> StoreResult<u64>;
    async fn erase_origins(&self, t: TenantId, before: Timestamp) -> StoreResult<u64>;
    async fn prune(&self, t: TenantId, before: Timestamp, k: &AuditKeys) -> StoreResult<u64>;
}

macro_rules! backend_impl {
    ($t:ty, { $($own:tt)* }) => {
        #[async_trait]
        impl Backend for $t {
        $($own)*
        async fn commit(&self, batch: Batch) -> StoreResult<()> {
            Store::commit(self, batch).await
        }
        async fn events(
            &self,
            t: TenantId,
            after: u64,
            limit: u32,
        ) -> StoreResult<Vec<(u64, AuditEvent)>> {
            self.audit_events(t, after, limit).await
        }
        async fn checkpoint(
            &self,
            t: TenantId,
            s: &AuditSigner,
            at: Timestamp,
        ) -> StoreResult<Option<Checkpoint>> {
            self.checkpoint_audit(t, s, at).await
        }
        async fn verify(&self, t: TenantId, k: &AuditKeys) -> StoreResult<AuditReport> {
            self.verify_audit(t, k).await
        }
        async fn erase_subject(&self, t: TenantId, s: SubjectId) -> StoreResult<u64> {
            self.erase_audit_subject(t, s).await
        }
        async fn erase_origins(&self, t: TenantId, before: Timestamp) -> StoreResult<u64> {
            self.erase_audit_origins(t, before).await
        }
        async fn prune(&self, t: TenantId, before: Timestamp, k: &AuditKeys) -> StoreResult<u64> {
            self.prune_audit(t, before, k).await
        }
    }
    };
}

backend_impl!(SqliteStore, {
    const RANDOM_ID: &'static str = "randomblob(16)";
    async fn fresh() -> Self {
        SqliteStore::temporary().await.unwrap()
    }
    async fn reopen(&self) -> Self {
        SqliteStore::open(self.path().unwrap()).await.unwrap()
    }
    async fn raw(&self, sql: &str, tenant: TenantId) -> u64 {
        let mut c = sqlx::SqliteConnection::connect_with(
            &sqlx::sqlite::SqliteConnectOptions::new().filename(self.path().unwrap()),
        )
        .await
        .unwrap();
        let n = sqlx::query(sql)
            .bind(tenant.as_bytes().as_slice())
            .execute(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
        n.rows_affected()
    }
    async fn raw_rows(&self, tenant: TenantId) -> Vec<(i64, String, Vec<u8>, Vec<u8>)> {
        let pool = sqlx::SqlitePool::connect_with(
            sqlx::sqlite::SqliteConnectOptions::new().filename(self.path().unwrap()),
        )
        .await
        .unwrap();
        sqlx::query_as(
            "SELECT seq, body, detail_digest, origin_digest FROM audit_events WHERE tenant = ? ORDER BY seq",
        )
        .bind(tenant.as_bytes().as_slice())
        .fetch_all(&pool)
        .await
        .unwrap()
    }
    async fn raw_set_hash(&self, tenant: TenantId, seq: i64, hash: &Hash) {
        let pool = sqlx::SqlitePool::connect_with(
            sqlx::sqlite::SqliteConnectOptions::new().filename(self.path().unwrap()),
        )
        .await
        .unwrap();
        sqlx::query("UPDATE audit_events SET hash = ? WHERE tenant = ? AND seq = ?")
            .bind(hash.as_slice())
            .bind(tenant.as_bytes().as_slice())
            .bind(seq)
            .execute(&pool)
            .await
            .unwrap();
    }
});

/// A raw connection into the store's schema.
#[cfg(feature = "postgres")]
async fn pg_conn(store: &PgStore) -> sqlx::PgConnection {
    let mut c = sqlx::PgConnection::connect(&pg::url()).await.unwrap();
    sqlx::query(&format!(
        "SET search_path TO \"{}\"",
        store.schema().as_str()
    ))
    .execute(&mut c)
    .await
    .unwrap();
    c
}

#[cfg(feature = "postgres")]
fn numbered(sql: &str) -> String {
    let mut n = 0;
    sql.chars()
        .map(|c| {
            if c == '?' {
                n += 1;
                format!("${n}")
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(feature = "postgres")]
backend_impl!(PgStore, {
    const RANDOM_ID: &'static str = "decode(md5(random()::text), 'hex')";
    async fn fresh() -> Self {
        pg::fresh_store("chain").await
    }
    async fn reopen(&self) -> Self {
        PgStore::connect(&pg::url(), self.schema()).await.unwrap()
    }
    async fn raw(&self, sql: &str, tenant: TenantId) -> u64 {
        let mut c = pg_conn(self).await;
        let sql = numbered(sql);
        let n = sqlx::query(&sql)
            .bind(tenant.as_bytes().as_slice())
            .execute(&mut c)
            .await
            .unwrap();
        n.rows_affected()
    }
    async fn raw_rows(&self, tenant: TenantId) -> Vec<(i64, String, Vec<u8>, Vec<u8>)> {
        let mut c = pg_conn(self).await;
        sqlx::query_as(
            "SELECT seq, body, detail_digest, origin_digest FROM audit_events WHERE tenant = $1 ORDER BY seq",
        )
        .bind(tenant.as_bytes().as_slice())
        .fetch_all(&mut c)
        .await
        .unwrap()
    }
    async fn raw_set_hash(&self, tenant: TenantId, seq: i64, hash: &Hash) {
        let mut c = pg_conn(self).await;
        sqlx::query("UPDATE audit_events SET hash = $1 WHERE tenant = $2 AND seq = $3")
            .bind(hash.as_slice())
            .bind(tenant.as_bytes().as_slice())
            .bind(seq)
            .execute(&mut c)
            .await
            .unwrap();
    }
});

const CANARY: &str = "canary-4f1d9c@personal.example";

/// A trail of `n` events of two accounts (odd: `a`, even: `b`), at 1 000, 2 000, … ms.
struct Trail {
    tenant: TenantId,
    a: AccountId,
    b: AccountId,
}

fn event(t: &Trail, i: u64) -> AuditEvent {
    let who = if i % 2 == 1 { t.a } else { t.b };
    AuditEvent {
        id: rid(),
        tenant: t.tenant,
        at: at(i as i64 * 1_000),
        actor: AuditActor::Subject(SubjectId::Account(who)),
        kind: AuditKind::AccountUpdated,
        object: AuditObject::Account(who),
        changes: vec![Change::new(
            "email",
            Some(format!("{i}-{CANARY}")),
            Some("new@x.example"),
        )],
        authorized: None,
        security_relevant: false,
        request: RequestMeta {
            id: None,
            client: Some(IpAddr::V4(Ipv4Addr::new(198, 51, 100, i as u8))),
        },
    }
}

async fn trail<B: Backend>(store: &B, n: u64) -> Trail {
    let t = Trail {
        tenant: rid(),
        a: rid(),
        b: rid(),
    };
    let mut batch = Batch::new(t.tenant);
    batch.push(Write::InsertTenant(tenant(t.tenant)));
    store.commit(batch).await.unwrap();
    append(store, &t, 1..=n).await;
    t
}

async fn append<B: Backend>(store: &B, t: &Trail, range: std::ops::RangeInclusive<u64>) {
    for i in range {
        let mut batch = Batch::new(t.tenant);
        batch.push(Write::AppendAudit(event(t, i)));
        store.commit(batch).await.unwrap();
    }
}

fn keys(signer: &AuditSigner) -> AuditKeys {
    AuditKeys::new().trust(&signer.public_key()).unwrap()
}

async fn intact_trail_verifies<B: Backend>() {
    let store = B::fresh().await;
    let t = trail(&store, 5).await;
    let signer = AuditSigner::generate().unwrap();
    let cp = store
        .checkpoint(t.tenant, &signer, at(9_000))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cp.seq, 5);
    // No new entries: the same checkpoint again.
    assert_eq!(
        store
            .checkpoint(t.tenant, &signer, at(9_500))
            .await
            .unwrap(),
        Some(cp)
    );
    append(&store, &t, 6..=7).await;
    let report = store.verify(t.tenant, &keys(&signer)).await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(
        (
            report.entries,
            report.checkpoints,
            report.anchored_to,
            report.unanchored
        ),
        (7, 1, 5, 2)
    );
    // The events read back whole, in order.
    let events = store.events(t.tenant, 0, 100).await.unwrap();
    assert_eq!(events.len(), 7);
    assert_eq!(events[2], (3, event_like(&events[2].1, &t, 3)));
    // An empty trail: nothing to sign, nothing wrong.
    let empty: TenantId = rid();
    assert_eq!(store.checkpoint(empty, &signer, at(1)).await.unwrap(), None);
    assert!(
        store
            .verify(empty, &keys(&signer))
            .await
            .unwrap()
            .is_intact()
    );
}

/// `event(t, i)` with the id and time of the stored one (ids are random).
fn event_like(stored: &AuditEvent, t: &Trail, i: u64) -> AuditEvent {
    AuditEvent {
        id: stored.id,
        ..event(t, i)
    }
}

/// A trail of six entries with a checkpoint over all, tampered with by the statements
/// of `tamper` (`;`-separated).
async fn verify_after<B: Backend>(tamper: &str) -> AuditReport {
    let store = B::fresh().await;
    let t = trail(&store, 6).await;
    let signer = AuditSigner::generate().unwrap();
    store
        .checkpoint(t.tenant, &signer, at(99_000))
        .await
        .unwrap();
    for statement in tamper.split(';') {
        assert!(
            store.raw(statement, t.tenant).await >= 1,
            "the tampering changed nothing: {statement}"
        );
    }
    store.verify(t.tenant, &keys(&signer)).await.unwrap()
}

async fn every_kind_of_tampering_is_found_where_it_is<B: Backend>() {
    // A public field modified (entry 3).
    let r = verify_after::<B>(
        "UPDATE audit_events SET body = replace(body, 'account_updated', 'tenant_created') WHERE tenant = ? AND seq = 3",
    )
    .await;
    assert_eq!(
        r.problems.first(),
        Some(&AuditProblem::LinkBroken { seq: 3 }),
        "{r:?}"
    );
    assert!(
        r.problems
            .contains(&AuditProblem::CheckpointMismatch { seq: 6, since: 0 })
    );

    // A personal part modified: the part is named, the links stay.
    let r =
        verify_after::<B>("UPDATE audit_events SET origin = detail WHERE tenant = ? AND seq = 2")
            .await;
    assert_eq!(
        r.problems.first(),
        Some(&AuditProblem::PartAltered {
            seq: 2,
            part: AuditPart::Origin
        }),
        "{r:?}"
    );
    assert!(
        !r.problems
            .iter()
            .any(|p| matches!(p, AuditProblem::LinkBroken { .. })),
        "{r:?}"
    );

    // An entry deleted: the gap, nothing else at the next entry.
    let r = verify_after::<B>("DELETE FROM audit_events WHERE tenant = ? AND seq = 4").await;
    assert_eq!(
        r.problems.first(),
        Some(&AuditProblem::Missing { first: 4, last: 4 }),
        "{r:?}"
    );
    assert!(
        !r.problems.contains(&AuditProblem::LinkBroken { seq: 5 }),
        "{r:?}"
    );

    // The tail deleted (the sequence counter remembers it).
    let r = verify_after::<B>("DELETE FROM audit_events WHERE tenant = ? AND seq >= 5").await;
    assert_eq!(
        r.problems.first(),
        Some(&AuditProblem::Missing { first: 5, last: 6 }),
        "{r:?}"
    );

    // Two entries swapped.
    let r = verify_after::<B>(
        "UPDATE audit_events SET seq = 100 WHERE tenant = ? AND seq = 2;\
         UPDATE audit_events SET seq = 2 WHERE tenant = ? AND seq = 3;\
         UPDATE audit_events SET seq = 3 WHERE tenant = ? AND seq = 100",
    )
    .await;
    assert_eq!(
        r.problems.first(),
        Some(&AuditProblem::LinkBroken { seq: 2 }),
        "{r:?}"
    );
    assert!(
        r.problems.contains(&AuditProblem::LinkBroken { seq: 3 }),
        "{r:?}"
    );

    // A row whose columns no longer decode: named, and the entry after it is not
    // blamed for it.
    let r = verify_after::<B>(
        "UPDATE audit_events SET detail_digest = NULL WHERE tenant = ? AND seq = 3",
    )
    .await;
    assert_eq!(
        r.problems.first(),
        Some(&AuditProblem::Unreadable { seq: 3 }),
        "{r:?}"
    );
    assert!(
        !r.problems.contains(&AuditProblem::LinkBroken { seq: 4 }),
        "{r:?}"
    );
    assert!(
        r.problems
            .contains(&AuditProblem::CheckpointMismatch { seq: 6, since: 0 }),
        "{r:?}"
    );

    // An entry appended behind the store's back, numbered past the counter.
    let r = verify_after::<B>(&format!(
        "INSERT INTO audit_events (tenant, seq, id, body, at, detail, detail_digest, origin, origin_digest, hash) \
         SELECT tenant, 7, {}, body, at, detail, detail_digest, origin, origin_digest, hash \
         FROM audit_events WHERE tenant = ? AND seq = 6",
        B::RANDOM_ID
    ))
    .await;
    assert!(
        r.problems.contains(&AuditProblem::BeyondCounter { seq: 7 }),
        "{r:?}"
    );

    // A checkpoint whose signature is not the signer's.
    let r = verify_after::<B>("UPDATE audit_checkpoints SET at = at + 1 WHERE tenant = ?").await;
    assert_eq!(
        r.problems,
        vec![AuditProblem::CheckpointInvalid { seq: 6 }],
        "{r:?}"
    );
    assert_eq!((r.checkpoints, r.anchored_to, r.unanchored), (0, 0, 6));
}

async fn a_rewritten_chain_is_caught_by_its_checkpoint<B: Backend>() {
    let store = B::fresh().await;
    let t = trail(&store, 4).await;
    let signer = AuditSigner::generate().unwrap();
    store
        .checkpoint(t.tenant, &signer, at(10_000))
        .await
        .unwrap();
    append(&store, &t, 5..=8).await;
    store
        .checkpoint(t.tenant, &signer, at(20_000))
        .await
        .unwrap();
    append(&store, &t, 9..=10).await;
    // The attacker changes entry 6 and recomputes every hash from it on, with the
    // published algorithm: every link holds.
    store
        .raw(
            "UPDATE audit_events SET body = replace(body, 'account_updated', 'account_created') WHERE tenant = ? AND seq = 6",
            t.tenant,
        )
        .await;
    let rows = store.raw_rows(t.tenant).await;
    let mut prev: Hash = GENESIS;
    for (seq, body, detail, origin) in rows {
        let h = entry_hash(
            t.tenant,
            seq as u64,
            &prev,
            body.as_bytes(),
            &detail.try_into().unwrap(),
            &origin.try_into().unwrap(),
        );
        store.raw_set_hash(t.tenant, seq, &h).await;
        prev = h;
    }
    let r = store.verify(t.tenant, &keys(&signer)).await.unwrap();
    // The first checkpoint still holds; the second does not: the change is in 5..=8.
    assert_eq!(
        r.problems,
        vec![AuditProblem::CheckpointMismatch { seq: 8, since: 4 }],
        "{r:?}"
    );
    assert_eq!((r.checkpoints, r.anchored_to, r.unanchored), (1, 4, 6));
    // A verifier that trusts another key trusts no checkpoint.
    let other = AuditSigner::generate().unwrap();
    let r = store.verify(t.tenant, &keys(&other)).await.unwrap();
    assert!(
        r.problems
            .contains(&AuditProblem::CheckpointInvalid { seq: 4 })
    );
    assert!(
        r.problems
            .contains(&AuditProblem::CheckpointInvalid { seq: 8 })
    );
}

async fn personal_parts_are_erased_and_the_chain_still_verifies<B: Backend>() {
    let store = B::fresh().await;
    let t = trail(&store, 6).await;
    let signer = AuditSigner::generate().unwrap();
    store
        .checkpoint(t.tenant, &signer, at(10_000))
        .await
        .unwrap();

    // Origins (client addresses) older than 3.5 s go: entries 1..=3.
    assert_eq!(store.erase_origins(t.tenant, at(3_500)).await.unwrap(), 3);
    assert_eq!(
        store.erase_origins(t.tenant, at(3_500)).await.unwrap(),
        0,
        "idempotent"
    );
    // Everything personal about account `a` (entries 1, 3, 5) goes.
    assert_eq!(
        store
            .erase_subject(t.tenant, SubjectId::Account(t.a))
            .await
            .unwrap(),
        3
    );

    let r = store.verify(t.tenant, &keys(&signer)).await.unwrap();
    assert!(r.is_intact(), "{r:?}");
    assert_eq!(
        (r.erased_details, r.erased_origins, r.checkpoints),
        (3, 4, 1)
    );

    let events = store.events(t.tenant, 0, 100).await.unwrap();
    for (seq, e) in &events {
        let about_a = seq % 2 == 1;
        assert_eq!(e.changes.is_empty(), about_a, "entry {seq}");
        assert_eq!(
            e.request.client.is_none(),
            about_a || *seq <= 3,
            "entry {seq}"
        );
        // What is not personal stays.
        assert_eq!(e.kind, AuditKind::AccountUpdated);
        assert_eq!(e.at, at(*seq as i64 * 1_000));
    }
    // The part digests cannot be guessed back: they are salted.
    let rows = store.raw_rows(t.tenant).await;
    let unsalted = part_digest(AuditPart::Origin, br#"{"id":null,"client":"198.51.100.1"}"#);
    assert!(
        rows.iter()
            .all(|(_, _, _, origin)| origin.as_slice() != unsalted.as_slice())
    );
}

async fn entries_written_before_the_chain_are_chained_on_open<B: Backend>() {
    let store = B::fresh().await;
    let t = trail(&store, 3).await;
    // What a build before the chain wrote: the whole event as the body, no hash.
    let stored = store.events(t.tenant, 0, 10).await.unwrap();
    for (seq, event) in &stored[1..] {
        let legacy = serde_json::to_string(event).unwrap();
        store
            .raw(
                &format!(
                    "UPDATE audit_events SET body = '{}', detail = NULL, detail_digest = NULL, \
                     origin = NULL, origin_digest = NULL, hash = NULL, at = NULL, subject = NULL, \
                     about = NULL WHERE tenant = ? AND seq = {seq}",
                    legacy.replace('\'', "''")
                ),
                t.tenant,
            )
            .await;
    }
    let reopened = store.reopen().await;
    let signer = AuditSigner::generate().unwrap();
    reopened
        .checkpoint(t.tenant, &signer, at(50_000))
        .await
        .unwrap();
    let r = reopened.verify(t.tenant, &keys(&signer)).await.unwrap();
    assert!(r.is_intact(), "{r:?}");
    assert_eq!(reopened.events(t.tenant, 0, 10).await.unwrap(), stored);
    // And the trail goes on from there.
    append(&reopened, &t, 4..=4).await;
    assert!(
        reopened
            .verify(t.tenant, &keys(&signer))
            .await
            .unwrap()
            .is_intact()
    );
}

async fn pruning_keeps_the_rest_verifiable_and_never_prunes_a_broken_trail<B: Backend>() {
    let store = B::fresh().await;
    let t = trail(&store, 5).await;
    let signer = AuditSigner::generate().unwrap();
    let k = keys(&signer);
    store
        .checkpoint(t.tenant, &signer, at(9_000))
        .await
        .unwrap();
    append(&store, &t, 6..=7).await;
    store
        .checkpoint(t.tenant, &signer, at(20_000))
        .await
        .unwrap();
    append(&store, &t, 8..=8).await;

    // Nothing signed strictly before 9 000 ms: nothing pruned.
    assert_eq!(store.prune(t.tenant, at(9_000), &k).await.unwrap(), 0);
    assert_eq!(store.verify(t.tenant, &k).await.unwrap().pruned_to, 0);
    // The checkpoint of 9 000 ms is the newest before 9 001: entries 1..=5 go.
    assert_eq!(store.prune(t.tenant, at(9_001), &k).await.unwrap(), 5);
    let r = store.verify(t.tenant, &k).await.unwrap();
    assert!(r.is_intact(), "{r:?}");
    assert_eq!(
        (
            r.entries,
            r.pruned_to,
            r.pruned_anchor_at,
            r.checkpoints,
            r.anchored_to
        ),
        (3, 5, Some(at(9_000)), 2, 7)
    );
    let left: Vec<u64> = store
        .events(t.tenant, 0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|(seq, _)| seq)
        .collect();
    assert_eq!(left, vec![6, 7, 8]);
    // Pruning again to the same anchor deletes nothing more and still verifies.
    assert_eq!(store.prune(t.tenant, at(9_001), &k).await.unwrap(), 0);
    assert!(store.verify(t.tenant, &k).await.unwrap().is_intact());

    // A trail that does not verify is never pruned: the evidence stays.
    store
        .raw(
            "UPDATE audit_events SET detail_digest = origin_digest WHERE tenant = ? AND seq = 7",
            t.tenant,
        )
        .await;
    assert!(matches!(
        store.prune(t.tenant, at(30_000), &k).await,
        Err(StoreError::Corrupt { .. })
    ));
    assert_eq!(store.events(t.tenant, 0, 100).await.unwrap().len(), 3);
    // Deleting the oldest remaining entry behind the store's back is not a pruning:
    // the walk starts at the anchor (5) and finds 6 missing.
    store
        .raw(
            "DELETE FROM audit_events WHERE tenant = ? AND seq = 6",
            t.tenant,
        )
        .await;
    let r = store.verify(t.tenant, &k).await.unwrap();
    assert_eq!(r.pruned_to, 5);
    assert_eq!(
        r.problems[0],
        AuditProblem::Missing { first: 6, last: 6 },
        "{r:?}"
    );
}

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            use super::*;
            $(#[tokio::test] async fn $name() { super::$name::<SqliteStore>().await })*
        }
        #[cfg(feature = "postgres")]
        mod postgres {
            use super::*;
            $(#[tokio::test] async fn $name() { super::$name::<PgStore>().await })*
        }
    };
}

on_both!(
    intact_trail_verifies,
    every_kind_of_tampering_is_found_where_it_is,
    a_rewritten_chain_is_caught_by_its_checkpoint,
    personal_parts_are_erased_and_the_chain_still_verifies,
    entries_written_before_the_chain_are_chained_on_open,
    pruning_keeps_the_rest_verifiable_and_never_prunes_a_broken_trail,
);
