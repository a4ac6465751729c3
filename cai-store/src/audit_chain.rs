//! The tamper-evident audit trail (R-U1, R-U2): every audit event is stored as a link
//! of a per-tenant hash chain, the chain's head is signed from time to time
//! (checkpoints, Ed25519), and [`AuditReport`] says whether — and where — anything
//! was modified, deleted, inserted or reordered.
//!
//! ## What is chained
//! An [`AuditEvent`] is stored in three parts:
//!
//! | Part | Holds | Erasable |
//! |---|---|---|
//! | public | id, time, actor, kind, object, authorization, security flag | no |
//! | detail | `changes` (before/after values: names, addresses, roles, …) | yes |
//! | origin | `request` (request id and client address, R-A9) | yes |
//!
//! The erasable parts are stored as `salt ‖ JSON` (16 random bytes of salt) next to
//! their digest `SHA-256("cai-audit-part-v1" ‖ 0x00 ‖ label ‖ salt ‖ JSON)` (label 1
//! for detail, 2 for origin). The chain covers the digests, not the parts:
//!
//! ```text
//! hash(n) = SHA-256("cai-audit-entry-v1" ‖ 0x00 ‖ tenant (16) ‖ n (u64 BE) ‖ hash(n-1)
//!                   ‖ len(public) (u64 BE) ‖ public ‖ digest(detail) ‖ digest(origin))
//! hash(0) = 32 zero bytes
//! ```
//!
//! So personal data can be erased (the part and its salt are deleted, the digest
//! stays) and the chain still verifies; without the salt the digest cannot be
//! brute-forced back into, say, an IPv4 address. Ids (actor, object) stay: they are
//! random identifiers whose mapping to a person goes when the account goes (R-P3).
//!
//! ## Checkpoints
//! A [`Checkpoint`] signs `"cai-audit-checkpoint-v1" ‖ 0x00 ‖ tenant ‖ seq (u64 BE) ‖
//! head (32) ‖ at (i64 BE, Unix ms)` with a key the host holds outside the database
//! ([`AuditSigner`]). Someone who can write the database can rewrite an entry *and*
//! every hash after it, which the links alone cannot reveal; they cannot re-sign a
//! checkpoint. Entries after the last checkpoint are protected only by the links and
//! the tenant's sequence counter: the report counts them as `unanchored`, and a host
//! that publishes checkpoints outside the database (mail to admins, a witness) shrinks
//! that window to the checkpoint interval.

use std::fmt;

use cai_core::Timestamp;
use cai_core::domain::{AuditEvent, Change, RequestMeta};
use cai_core::id::TenantId;
use cai_core::ports::StoreError;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::codec::{body_of, corrupt, record_of};

/// A chain hash, a part digest or a checkpoint's head.
pub type Hash = [u8; 32];

/// The predecessor of entry 1.
pub const GENESIS: Hash = [0; 32];

/// Bytes of salt in front of an erasable part.
pub(crate) const SALT_LEN: usize = 16;

const ENTRY_DOMAIN: &[u8] = b"cai-audit-entry-v1\0";
const PART_DOMAIN: &[u8] = b"cai-audit-part-v1\0";
const CHECKPOINT_DOMAIN: &[u8] = b"cai-audit-checkpoint-v1\0";

/// Most problems one report lists; past it `truncated` is set.
pub const MAX_PROBLEMS: usize = 100;

/// One of the two erasable parts of an audit event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuditPart {
    /// The `changes`.
    Detail,
    /// The `request` (request id, client address).
    Origin,
}

impl AuditPart {
    const fn label(self) -> u8 {
        match self {
            AuditPart::Detail => 1,
            AuditPart::Origin => 2,
        }
    }
}

/// The digest of an erasable part as stored (`salt ‖ JSON`), as the chain covers it.
pub fn part_digest(part: AuditPart, stored: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update(PART_DOMAIN);
    h.update([part.label()]);
    h.update(stored);
    h.finalize().into()
}

/// The chain hash of entry `seq` of `tenant`'s trail after `prev` (see the [module
/// docs](self) for the layout).
pub fn entry_hash(
    tenant: TenantId,
    seq: u64,
    prev: &Hash,
    public: &[u8],
    detail: &Hash,
    origin: &Hash,
) -> Hash {
    let mut h = Sha256::new();
    h.update(ENTRY_DOMAIN);
    h.update(tenant.as_bytes());
    h.update(seq.to_be_bytes());
    h.update(prev);
    h.update((public.len() as u64).to_be_bytes());
    h.update(public);
    h.update(detail);
    h.update(origin);
    h.finalize().into()
}

/// An audit event split for storage.
pub(crate) struct StoredEvent {
    /// JSON of everything but `changes` and `request`.
    pub(crate) public: String,
    /// `salt ‖ JSON of changes`.
    pub(crate) detail: Vec<u8>,
    /// `salt ‖ JSON of request`.
    pub(crate) origin: Vec<u8>,
}

impl StoredEvent {
    /// Splits `event`, with fresh salts.
    pub(crate) fn split(event: &AuditEvent) -> Result<Self, StoreError> {
        const WHAT: &str = "audit event";
        let public = body_of(event, &["changes", "request"], WHAT)?;
        let salted = |json: Result<Vec<u8>, serde_json::Error>| -> Result<Vec<u8>, StoreError> {
            let json = json.map_err(|_| corrupt(WHAT))?;
            let mut out = vec![0_u8; SALT_LEN];
            getrandom::fill(&mut out).map_err(|_| StoreError::backend(NoRandomness))?;
            out.extend_from_slice(&json);
            Ok(out)
        };
        Ok(Self {
            public,
            detail: salted(serde_json::to_vec(&event.changes))?,
            origin: salted(serde_json::to_vec(&event.request))?,
        })
    }

    /// The chain hash of this event as entry `seq` after `prev`.
    pub(crate) fn hash(&self, tenant: TenantId, seq: u64, prev: &Hash) -> Hash {
        entry_hash(
            tenant,
            seq,
            prev,
            self.public.as_bytes(),
            &part_digest(AuditPart::Detail, &self.detail),
            &part_digest(AuditPart::Origin, &self.origin),
        )
    }
}

/// The event from its stored parts; an erased detail reads as no changes, an erased
/// origin as a request without id or address.
pub(crate) fn join(
    public: &str,
    detail: Option<&[u8]>,
    origin: Option<&[u8]>,
) -> Result<AuditEvent, StoreError> {
    const WHAT: &str = "audit event";
    let part = |stored: Option<&[u8]>| -> Result<Option<Value>, StoreError> {
        match stored {
            None => Ok(None),
            Some(bytes) => {
                let json = bytes.get(SALT_LEN..).ok_or(corrupt(WHAT))?;
                serde_json::from_slice(json)
                    .map(Some)
                    .map_err(|_| corrupt(WHAT))
            }
        }
    };
    let changes = match part(detail)? {
        Some(v) => v,
        None => serde_json::to_value(Vec::<Change>::new()).map_err(|_| corrupt(WHAT))?,
    };
    let request = match part(origin)? {
        Some(v) => v,
        None => serde_json::to_value(RequestMeta::default()).map_err(|_| corrupt(WHAT))?,
    };
    record_of(
        public,
        vec![("changes", changes), ("request", request)],
        WHAT,
    )
}

#[derive(Debug, thiserror::Error)]
#[error("the operating system's random generator failed")]
struct NoRandomness;

/// The key that signs checkpoints. The host holds it outside the database (a key
/// file, a KMS, an HSM's export); whoever holds it can vouch for a rewritten trail,
/// so it never goes into the store. Zeroized on drop; `Debug` shows only the public
/// key.
pub struct AuditSigner(SigningKey);

impl AuditSigner {
    /// A signer from its 32-byte Ed25519 secret key.
    pub fn from_bytes(secret: &[u8; 32]) -> Self {
        Self(SigningKey::from_bytes(secret))
    }

    /// A fresh key from the operating system's generator.
    pub fn generate() -> Result<Self, StoreError> {
        let mut secret = zeroize::Zeroizing::new([0_u8; 32]);
        getrandom::fill(secret.as_mut_slice()).map_err(|_| StoreError::backend(NoRandomness))?;
        Ok(Self::from_bytes(&secret))
    }

    /// The public key verifiers trust ([`AuditKeys`]).
    pub fn public_key(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes()
    }

    pub(crate) fn sign(
        &self,
        tenant: TenantId,
        seq: u64,
        head: &Hash,
        at: Timestamp,
    ) -> Checkpoint {
        let signature = self.0.sign(&checkpoint_message(tenant, seq, head, at));
        Checkpoint {
            seq,
            head: *head,
            at,
            key: self.public_key(),
            signature: signature.to_bytes(),
        }
    }
}

impl fmt::Debug for AuditSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditSigner")
            .field("public_key", &hex::encode(self.public_key()))
            .finish_non_exhaustive()
    }
}

/// The public keys whose checkpoints a verification trusts (old keys stay listed
/// after a rotation, so older checkpoints keep verifying).
#[derive(Debug, Clone, Default)]
pub struct AuditKeys(Vec<VerifyingKey>);

impl AuditKeys {
    /// Trusts nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also trusts `public_key`; `Err` if it is not a valid Ed25519 point.
    pub fn trust(mut self, public_key: &[u8; 32]) -> Result<Self, InvalidKey> {
        let key = VerifyingKey::from_bytes(public_key).map_err(|_| InvalidKey)?;
        self.0.push(key);
        Ok(self)
    }

    fn verifies(&self, tenant: TenantId, cp: &Checkpoint) -> bool {
        let message = checkpoint_message(tenant, cp.seq, &cp.head, cp.at);
        let signature = Signature::from_bytes(&cp.signature);
        self.0
            .iter()
            .any(|k| k.as_bytes() == &cp.key && k.verify_strict(&message, &signature).is_ok())
    }
}

/// A public key that is not an Ed25519 point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not an Ed25519 public key")]
pub struct InvalidKey;

fn checkpoint_message(tenant: TenantId, seq: u64, head: &Hash, at: Timestamp) -> Vec<u8> {
    let mut m = Vec::with_capacity(CHECKPOINT_DOMAIN.len() + 16 + 8 + 32 + 8);
    m.extend_from_slice(CHECKPOINT_DOMAIN);
    m.extend_from_slice(tenant.as_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(head);
    m.extend_from_slice(&at.unix_millis().to_be_bytes());
    m
}

/// A signed statement: "entry `seq` of this tenant's trail had chain hash `head`".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The entry it covers (it and everything before it).
    pub seq: u64,
    /// The chain hash of that entry.
    pub head: Hash,
    /// When it was made.
    pub at: Timestamp,
    /// The signer's public key.
    pub key: [u8; 32],
    /// Ed25519 signature.
    pub signature: [u8; 64],
}

/// Something a verification found wrong, at the first place it shows.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuditProblem {
    /// Entries `first..=last` are gone (deleted, or the trail was cut).
    Missing {
        /// The first missing sequence number.
        first: u64,
        /// The last one.
        last: u64,
    },
    /// An erasable part no longer matches its digest: it was modified.
    PartAltered {
        /// The entry.
        seq: u64,
        /// Which part.
        part: AuditPart,
    },
    /// The entry's stored hash does not follow from its content and its predecessor:
    /// this entry was modified, inserted or moved here (or its predecessor's hash was
    /// rewritten).
    LinkBroken {
        /// The entry.
        seq: u64,
    },
    /// A signed checkpoint does not match the chain recomputed from the start: an
    /// entry after the previous intact checkpoint, up to `seq`, was rewritten together
    /// with every hash after it.
    CheckpointMismatch {
        /// The checkpoint's entry.
        seq: u64,
        /// The previous checkpoint that matched (0: none).
        since: u64,
    },
    /// A checkpoint's signature is not valid under any trusted key.
    CheckpointInvalid {
        /// The checkpoint's entry.
        seq: u64,
    },
    /// An entry numbered past the tenant's sequence counter: inserted behind the store's
    /// back.
    BeyondCounter {
        /// The entry.
        seq: u64,
    },
    /// A stored row could not be decoded.
    Unreadable {
        /// The entry.
        seq: u64,
    },
}

/// The outcome of [`verify`](crate::sqlite::SqliteStore::verify_audit).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditReport {
    /// Entries read.
    pub entries: u64,
    /// Entries whose detail was erased.
    pub erased_details: u64,
    /// Entries whose origin was erased.
    pub erased_origins: u64,
    /// Checkpoints that verified and matched.
    pub checkpoints: u64,
    /// The last entry covered by a checkpoint that verified and matched (0: none).
    pub anchored_to: u64,
    /// Entries after `anchored_to`: protected by the links and the sequence counter
    /// only (see the [module docs](crate::audit_chain)).
    pub unanchored: u64,
    /// What is wrong, at most [`MAX_PROBLEMS`], in the order the walk found it: by
    /// sequence number, then what only the end of the walk shows (a cut tail, entries
    /// past the counter, checkpoints past the last entry).
    pub problems: Vec<AuditProblem>,
    /// More problems were found than listed.
    pub truncated: bool,
    /// The trail was pruned (retention of audit entries): entries `1..=pruned_to` were
    /// deleted and the walk started from the signed checkpoint at `pruned_to` (0: not
    /// pruned). An attacker who deletes a prefix cannot forge that checkpoint, but could
    /// cut at an older one: compare [`pruned_anchor_at`](Self::pruned_anchor_at) with
    /// the retention period.
    pub pruned_to: u64,
    /// When the checkpoint the trail was pruned to was signed: every pruned entry is at
    /// least this old.
    pub pruned_anchor_at: Option<Timestamp>,
}

impl AuditReport {
    /// Nothing is wrong.
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// One stored entry as the verifier reads it.
pub(crate) struct Row {
    pub(crate) seq: u64,
    pub(crate) public: Vec<u8>,
    pub(crate) detail: Option<Vec<u8>>,
    pub(crate) detail_digest: Hash,
    pub(crate) origin: Option<Vec<u8>>,
    pub(crate) origin_digest: Hash,
    pub(crate) hash: Hash,
}

/// Walks a trail in sequence order: fed rows one by one ([`Verifier::row`]), with the
/// checkpoints ordered by sequence, then [`finish`](Verifier::finish)ed with the
/// tenant's counter.
pub(crate) struct Verifier<'k> {
    tenant: TenantId,
    keys: &'k AuditKeys,
    checkpoints: std::iter::Peekable<std::vec::IntoIter<Checkpoint>>,
    expected: u64,
    /// The stored hash of the last entry (links are checked against it, so one
    /// modified entry shows once, where it is).
    prev_stored: Hash,
    /// The hash recomputed from entry 1 (checkpoints are checked against it).
    prev_true: Hash,
    last_good_checkpoint: u64,
    /// The previous row could not be decoded: the next link cannot be checked.
    after_unreadable: bool,
    report: AuditReport,
}

impl<'k> Verifier<'k> {
    pub(crate) fn new(tenant: TenantId, keys: &'k AuditKeys, checkpoints: Vec<Checkpoint>) -> Self {
        Self {
            tenant,
            keys,
            checkpoints: checkpoints.into_iter().peekable(),
            expected: 1,
            prev_stored: GENESIS,
            prev_true: GENESIS,
            last_good_checkpoint: 0,
            after_unreadable: false,
            report: AuditReport::default(),
        }
    }

    fn problem(&mut self, p: AuditProblem) {
        if self.report.problems.len() < MAX_PROBLEMS {
            self.report.problems.push(p);
        } else {
            self.report.truncated = true;
        }
    }

    /// Starts the walk after a pruned prefix: the trail's first entry is `first`, and
    /// the newest trusted checkpoint below it anchors the walk (its head is that
    /// entry's hash). Entries between the anchor and `first` were not pruned but
    /// deleted: the walk reports them missing. Without any trusted checkpoint below
    /// `first` nothing changes and the whole prefix is reported missing. Checkpoints
    /// below the anchor cover pruned entries and are passed over.
    pub(crate) fn start_after_pruned(&mut self, first: u64) {
        if first <= 1 {
            return;
        }
        let anchor = self
            .checkpoints
            .clone()
            .rfind(|cp| cp.seq < first && self.keys.verifies(self.tenant, cp));
        let Some(anchor) = anchor else {
            return;
        };
        while self
            .checkpoints
            .next_if(|cp| cp.seq <= anchor.seq)
            .is_some()
        {}
        self.expected = anchor.seq + 1;
        self.prev_stored = anchor.head;
        self.prev_true = anchor.head;
        self.last_good_checkpoint = anchor.seq;
        self.report.checkpoints += 1;
        self.report.pruned_to = anchor.seq;
        self.report.pruned_anchor_at = Some(anchor.at);
    }

    /// A row that could not be decoded: counted, reported, and the chain goes on
    /// from it as if it were missing.
    pub(crate) fn unreadable(&mut self, seq: u64) {
        self.problem(AuditProblem::Unreadable { seq });
        self.expected = seq.saturating_add(1);
        self.after_unreadable = true;
    }

    pub(crate) fn row(&mut self, row: Row) {
        self.report.entries += 1;
        // After a gap (or an unreadable row) the link cannot be checked: its
        // predecessor is gone (and the gap is what is reported).
        let after_gap = row.seq > self.expected;
        if after_gap {
            self.problem(AuditProblem::Missing {
                first: self.expected,
                last: row.seq - 1,
            });
        }
        self.expected = row.seq.saturating_add(1);
        let detail = self.part(
            row.seq,
            AuditPart::Detail,
            row.detail.as_deref(),
            row.detail_digest,
        );
        let origin = self.part(
            row.seq,
            AuditPart::Origin,
            row.origin.as_deref(),
            row.origin_digest,
        );
        // Links are checked with the stored digests (an altered part is reported as
        // such, once); the chain from entry 1 with the actual ones.
        let linked = entry_hash(
            self.tenant,
            row.seq,
            &self.prev_stored,
            &row.public,
            &row.detail_digest,
            &row.origin_digest,
        );
        let unlinked = after_gap || std::mem::take(&mut self.after_unreadable);
        if linked != row.hash && !unlinked {
            self.problem(AuditProblem::LinkBroken { seq: row.seq });
        }
        self.prev_true = entry_hash(
            self.tenant,
            row.seq,
            &self.prev_true,
            &row.public,
            &detail,
            &origin,
        );
        self.prev_stored = row.hash;
        while let Some(cp) = self.checkpoints.next_if(|cp| cp.seq <= row.seq) {
            if !self.keys.verifies(self.tenant, &cp) {
                self.problem(AuditProblem::CheckpointInvalid { seq: cp.seq });
            } else if cp.seq != row.seq || cp.head != self.prev_true {
                self.problem(AuditProblem::CheckpointMismatch {
                    seq: cp.seq,
                    since: self.last_good_checkpoint,
                });
            } else {
                self.report.checkpoints += 1;
                self.last_good_checkpoint = cp.seq;
            }
        }
    }

    /// The digest a part contributes to the chain from entry 1: recomputed when the
    /// part is there (and compared with the stored one), the stored one when it was
    /// erased.
    fn part(&mut self, seq: u64, part: AuditPart, stored: Option<&[u8]>, digest: Hash) -> Hash {
        match stored {
            Some(bytes) => {
                let actual = part_digest(part, bytes);
                if actual != digest {
                    self.problem(AuditProblem::PartAltered { seq, part });
                }
                actual
            }
            None => {
                match part {
                    AuditPart::Detail => self.report.erased_details += 1,
                    AuditPart::Origin => self.report.erased_origins += 1,
                }
                digest
            }
        }
    }

    /// Ends the walk: `counter` is the last number the tenant's sequence handed out.
    pub(crate) fn finish(mut self, counter: u64) -> AuditReport {
        let last_seen = self.expected.saturating_sub(1);
        if counter > last_seen {
            self.problem(AuditProblem::Missing {
                first: last_seen + 1,
                last: counter,
            });
        } else if last_seen > counter {
            self.problem(AuditProblem::BeyondCounter { seq: counter + 1 });
        }
        // Checkpoints past the last entry refer to entries that are gone.
        while let Some(cp) = self.checkpoints.next() {
            if !self.keys.verifies(self.tenant, &cp) {
                self.problem(AuditProblem::CheckpointInvalid { seq: cp.seq });
            } else {
                self.problem(AuditProblem::CheckpointMismatch {
                    seq: cp.seq,
                    since: self.last_good_checkpoint,
                });
            }
        }
        self.report.anchored_to = self.last_good_checkpoint;
        self.report.unanchored = last_seen.saturating_sub(self.last_good_checkpoint);
        self.report
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests;
