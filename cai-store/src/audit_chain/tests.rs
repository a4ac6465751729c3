//! Unit tests of the audit chain's format and verifier.

use super::*;

const TENANT: TenantId = TenantId::from_bytes([7; 16]);

/// Entries 1..=n of a well-formed trail.
fn chain(n: u64) -> Vec<Row> {
    let mut prev = GENESIS;
    (1..=n)
        .map(|seq| {
            let public = format!("{{\"n\":{seq}}}").into_bytes();
            let (detail, origin) = (vec![1_u8; 20], vec![2_u8; 20]);
            let (dd, od) = (
                part_digest(AuditPart::Detail, &detail),
                part_digest(AuditPart::Origin, &origin),
            );
            let hash = entry_hash(TENANT, seq, &prev, &public, &dd, &od);
            prev = hash;
            Row {
                seq,
                public,
                detail: Some(detail),
                detail_digest: dd,
                origin: Some(origin),
                origin_digest: od,
                hash,
            }
        })
        .collect()
}

fn walk(rows: Vec<Row>, keys: &AuditKeys, cps: Vec<Checkpoint>, counter: u64) -> AuditReport {
    let mut v = Verifier::new(TENANT, keys, cps);
    rows.into_iter().for_each(|r| v.row(r));
    v.finish(counter)
}

#[test]
fn the_two_parts_have_distinct_digests_and_the_layout_is_fixed() {
    let stored = b"0123456789abcdef{\"x\":1}";
    assert_ne!(
        part_digest(AuditPart::Detail, stored),
        part_digest(AuditPart::Origin, stored)
    );
    // Known answers for independent verifiers (SHA-256 over the documented layout).
    let mut h = Sha256::new();
    h.update(b"cai-audit-part-v1\0\x02");
    h.update(stored);
    assert_eq!(
        part_digest(AuditPart::Origin, stored),
        <Hash>::from(h.finalize())
    );
    let mut h = Sha256::new();
    h.update(b"cai-audit-entry-v1\0");
    h.update([7; 16]);
    h.update(3_u64.to_be_bytes());
    h.update([9; 32]);
    h.update(2_u64.to_be_bytes());
    h.update(b"{}");
    h.update([1; 32]);
    h.update([2; 32]);
    assert_eq!(
        entry_hash(TENANT, 3, &[9; 32], b"{}", &[1; 32], &[2; 32]),
        <Hash>::from(h.finalize())
    );
}

#[test]
fn a_signer_shows_only_its_public_key() {
    let signer = AuditSigner::from_bytes(&[5; 32]);
    let shown = format!("{signer:?}");
    assert!(shown.contains(&hex::encode(signer.public_key())), "{shown}");
    assert!(!shown.contains(&hex::encode([5_u8; 32])), "{shown}");
}

#[test]
fn problems_are_listed_up_to_the_limit_then_truncated() {
    let keys = AuditKeys::new();
    // Every entry's link broken: exactly MAX_PROBLEMS problems are all listed.
    let broken = |n: u64| {
        chain(n)
            .into_iter()
            .map(|mut r| {
                r.hash[0] ^= 1;
                r
            })
            .collect::<Vec<_>>()
    };
    let r = walk(
        broken(MAX_PROBLEMS as u64),
        &keys,
        vec![],
        MAX_PROBLEMS as u64,
    );
    assert_eq!(
        (r.problems.len(), r.truncated, r.is_intact()),
        (MAX_PROBLEMS, false, false)
    );
    let r = walk(
        broken(MAX_PROBLEMS as u64 + 1),
        &keys,
        vec![],
        MAX_PROBLEMS as u64 + 1,
    );
    assert_eq!((r.problems.len(), r.truncated), (MAX_PROBLEMS, true));
    let r = walk(chain(3), &keys, vec![], 3);
    assert!(r.is_intact() && !r.truncated, "{r:?}");
}

#[test]
fn a_pruned_prefix_verifies_from_its_signed_anchor_only() {
    let signer = AuditSigner::from_bytes(&[5; 32]);
    let keys = AuditKeys::new().trust(&signer.public_key()).unwrap();
    let rows = chain(6);
    let cp = |seq: u64, signer: &AuditSigner| {
        signer.sign(
            TENANT,
            seq,
            &rows[seq as usize - 1].hash,
            Timestamp::from_unix_millis(9),
        )
    };
    let walk_from = |first: usize, cps: Vec<Checkpoint>| {
        let mut v = Verifier::new(TENANT, &keys, cps);
        v.start_after_pruned(first as u64);
        chain(6).into_iter().skip(first - 1).for_each(|r| v.row(r));
        v.finish(6)
    };
    // Pruned to the checkpoint at 3 (an older one at 2 left behind is passed over).
    let r = walk_from(4, vec![cp(2, &signer), cp(3, &signer)]);
    assert!(r.is_intact(), "{r:?}");
    assert_eq!(
        (r.pruned_to, r.entries, r.anchored_to, r.unanchored),
        (3, 3, 3, 3)
    );
    assert_eq!(r.pruned_anchor_at, Some(Timestamp::from_unix_millis(9)));
    // Cut one past the last anchor: pruned to 2, entry 3 missing, the chain goes on.
    let r = walk_from(4, vec![cp(2, &signer)]);
    assert_eq!(
        r.problems,
        vec![AuditProblem::Missing { first: 3, last: 3 }]
    );
    assert_eq!(r.pruned_to, 2);
    // No checkpoint below the first entry: the whole prefix is missing.
    let r = walk_from(4, vec![cp(5, &signer)]);
    assert_eq!(r.problems[0], AuditProblem::Missing { first: 1, last: 3 });
    assert_eq!(r.pruned_to, 0);
    // A checkpoint by an untrusted key does not anchor.
    let r = walk_from(4, vec![cp(3, &AuditSigner::from_bytes(&[6; 32]))]);
    assert_eq!(r.problems[0], AuditProblem::Missing { first: 1, last: 3 });
    // An anchor whose head is not entry 3's: the next link breaks.
    let mut forged = cp(3, &signer);
    forged.head = [1; 32];
    let forged = signer.sign(TENANT, 3, &forged.head, forged.at);
    let r = walk_from(4, vec![forged]);
    assert_eq!(r.problems, vec![AuditProblem::LinkBroken { seq: 4 }]);
    // Nothing to do for a trail that starts at 1.
    let r = walk_from(1, vec![cp(3, &signer)]);
    assert!(r.is_intact());
    assert_eq!(r.pruned_to, 0);
}

#[test]
fn checkpoints_on_missing_or_later_entries_are_reported() {
    let signer = AuditSigner::from_bytes(&[5; 32]);
    let keys = AuditKeys::new().trust(&signer.public_key()).unwrap();
    let rows = chain(6);
    let cp = |seq: u64| {
        signer.sign(
            TENANT,
            seq,
            &rows[seq as usize - 1].hash,
            Timestamp::from_unix_millis(1),
        )
    };
    let (cp3, cp6) = (cp(3), cp(6));
    // Entry 3 deleted: its checkpoint cannot match; the one at 6 cannot either.
    let mut gap = chain(6);
    gap.remove(2);
    let r = walk(gap, &keys, vec![cp3.clone(), cp6.clone()], 6);
    assert_eq!(
        r.problems,
        vec![
            AuditProblem::Missing { first: 3, last: 3 },
            AuditProblem::CheckpointMismatch { seq: 3, since: 0 },
            AuditProblem::CheckpointMismatch { seq: 6, since: 0 },
        ]
    );
    // The tail cut below a valid checkpoint, and one with a bad signature.
    let mut bad = cp6.clone();
    bad.signature[0] ^= 1;
    let mut cut = chain(6);
    cut.truncate(4);
    let r = walk(cut, &keys, vec![cp3.clone(), cp6.clone(), bad], 6);
    assert_eq!(
        r.problems,
        vec![
            AuditProblem::Missing { first: 5, last: 6 },
            AuditProblem::CheckpointMismatch { seq: 6, since: 3 },
            AuditProblem::CheckpointInvalid { seq: 6 },
        ]
    );
    assert_eq!((r.checkpoints, r.anchored_to, r.unanchored), (1, 3, 1));
    // Intact: both verify, nothing after the last.
    let r = walk(chain(6), &keys, vec![cp3, cp6], 6);
    assert!(r.is_intact(), "{r:?}");
    assert_eq!((r.checkpoints, r.anchored_to, r.unanchored), (2, 6, 0));
}

#[test]
fn keys_that_are_not_points_are_refused() {
    // The y coordinate 2 is not on the curve for any sign bit.
    let mut not_a_point = [0_u8; 32];
    not_a_point[0] = 2;
    assert_eq!(
        AuditKeys::new().trust(&not_a_point).unwrap_err(),
        InvalidKey
    );
}
