//! End-to-end group epochs and key packages: epochs are insert-only per (session,
//! epoch) — which makes the first commit of an epoch win under races — and are
//! shredded with the session's keys; one-time key packages are taken once, last-resort
//! ones never, a new last-resort package replaces the device's old one, and packages go
//! with their owner.

use crate::Timestamp;
use crate::id::{AccountId, GuestId, SessionId, SubjectId, TenantId};
use crate::ports::{DynStore, E2eEpoch, StoredKeyPackage, Write};

use super::data::{self, assert_conflict, assert_missing, at, commit, commit_ok, read, rid};

/// An epoch record of `session` with recognisable bytes.
pub fn e2e_epoch(tenant: TenantId, session: SessionId, epoch: u32) -> E2eEpoch {
    E2eEpoch {
        tenant,
        session,
        epoch,
        commit: format!("commit {epoch}").into_bytes(),
        record: format!("record {epoch}").into_bytes(),
        welcome: (epoch % 2 == 1).then(|| format!("welcome {epoch}").into_bytes()),
        group: vec![epoch as u8; 64],
        committed_by: SubjectId::Account(AccountId::from_bytes([7; 16])),
        at: at(i64::from(epoch)),
    }
}

/// A key package of `owner`'s `device`.
pub fn key_package(
    tenant: TenantId,
    owner: SubjectId,
    device: &[u8],
    reference: &[u8],
    last_resort: bool,
    published_at: Timestamp,
) -> StoredKeyPackage {
    StoredKeyPackage {
        tenant,
        owner,
        device: device.to_vec(),
        reference: reference.to_vec(),
        last_resort,
        package: [b"package ".as_slice(), reference].concat(),
        published_at,
    }
}

/// `InsertE2eEpoch` stores each (session, epoch) once; a second insert conflicts and
/// changes nothing; reads are oldest first, after a given epoch, capped by `limit`;
/// `DeleteCustody` and `DeleteSession` remove a session's epochs and nothing else.
pub async fn e2e_epochs_insert_only(store: DynStore) {
    let t: TenantId = rid();
    let (owner, session, other): (AccountId, SessionId, SessionId) = (rid(), rid(), rid());
    let mut writes = data::tenant_with_session(t, owner, session);
    writes.push(Write::InsertSession(data::session(t, other, owner)));
    commit_ok(&store, t, writes).await;
    assert!(read(store.e2e_latest(t, session).await, "e2e_latest").is_none());
    for e in [2u32, 0, 1] {
        commit_ok(
            &store,
            t,
            vec![Write::InsertE2eEpoch(e2e_epoch(t, session, e))],
        )
        .await;
    }
    commit_ok(
        &store,
        t,
        vec![Write::InsertE2eEpoch(e2e_epoch(t, other, 0))],
    )
    .await;
    let all: Vec<_> = (0..3).map(|e| e2e_epoch(t, session, e)).collect();
    assert_eq!(
        read(store.e2e_epochs(t, session, None, 10).await, "e2e_epochs"),
        all
    );
    assert_eq!(
        read(
            store.e2e_epochs(t, session, Some(0), 10).await,
            "e2e_epochs"
        ),
        all[1..]
    );
    assert_eq!(
        read(store.e2e_epochs(t, session, Some(1), 1).await, "e2e_epochs"),
        all[2..]
    );
    assert_eq!(
        read(store.e2e_epochs(t, session, None, 1).await, "e2e_epochs"),
        all[..1]
    );
    assert!(
        read(
            store.e2e_epochs(t, session, Some(2), 10).await,
            "e2e_epochs"
        )
        .is_empty()
    );
    assert_eq!(
        read(store.e2e_latest(t, session).await, "e2e_latest"),
        Some(all[2].clone())
    );

    // The first commit of an epoch wins: a second one conflicts, and the batch it was
    // in leaves no trace.
    let mut rival = e2e_epoch(t, session, 2);
    rival.commit = b"a rival commit".to_vec();
    let batch = vec![
        Write::InsertE2eEpoch(e2e_epoch(t, session, 3)),
        Write::InsertE2eEpoch(rival),
    ];
    assert_conflict(commit(&store, t, batch).await, "a second epoch 2");
    assert_eq!(
        read(store.e2e_latest(t, session).await, "e2e_latest"),
        Some(all[2].clone())
    );
    // Another tenant sees nothing.
    let stranger: TenantId = rid();
    assert!(
        read(
            store.e2e_epochs(stranger, session, None, 10).await,
            "e2e_epochs"
        )
        .is_empty()
    );

    commit_ok(&store, t, vec![Write::DeleteCustody(session)]).await;
    assert!(read(store.e2e_epochs(t, session, None, 10).await, "e2e_epochs").is_empty());
    assert_eq!(
        read(store.e2e_latest(t, other).await, "e2e_latest"),
        Some(e2e_epoch(t, other, 0))
    );
    commit_ok(&store, t, vec![Write::DeleteSession(other)]).await;
    assert!(read(store.e2e_latest(t, other).await, "e2e_latest").is_none());
}

/// `VetoE2eEpoch` withdraws only the newest epoch, only while it holds the given
/// commit; with an `InsertE2eEpoch` of the same number in the same batch it replaces
/// it. Refused vetoes change nothing.
pub async fn e2e_veto(store: DynStore) {
    let t: TenantId = rid();
    let (owner, session, empty): (AccountId, SessionId, SessionId) = (rid(), rid(), rid());
    let mut writes = data::tenant_with_session(t, owner, session);
    writes.push(Write::InsertSession(data::session(t, empty, owner)));
    writes.extend((0..3).map(|e| Write::InsertE2eEpoch(e2e_epoch(t, session, e))));
    commit_ok(&store, t, writes).await;
    let veto = |session: SessionId, epoch: u32, commit: &[u8]| Write::VetoE2eEpoch {
        tenant: t,
        session,
        epoch,
        commit: commit.to_vec(),
    };
    let all = |store: &DynStore| {
        let store = store.clone();
        async move { read(store.e2e_epochs(t, session, None, 10).await, "e2e_epochs") }
    };
    let before = all(&store).await;

    let mut replacement = e2e_epoch(t, session, 2);
    replacement.commit = b"the owner's commit".to_vec();
    for (batch, why) in [
        (vec![veto(session, 1, b"commit 1")], "not the newest epoch"),
        (vec![veto(session, 2, b"commit 1")], "another commit"),
        (
            vec![veto(session, 3, b"commit 3")],
            "an epoch that is not there",
        ),
        (vec![veto(empty, 0, b"commit 0")], "a group without epochs"),
        (
            vec![
                veto(session, 2, b"commit 2"),
                Write::InsertE2eEpoch(replacement.clone()),
                Write::InsertE2eEpoch(e2e_epoch(t, session, 2)),
            ],
            "a second insert after the replacement",
        ),
    ] {
        assert_conflict(commit(&store, t, batch).await, why);
        assert_eq!(all(&store).await, before, "{why} changed the epochs");
    }

    // Vetoed and replaced in one batch.
    commit_ok(
        &store,
        t,
        vec![
            veto(session, 2, b"commit 2"),
            Write::InsertE2eEpoch(replacement.clone()),
        ],
    )
    .await;
    assert_eq!(
        read(store.e2e_latest(t, session).await, "e2e_latest"),
        Some(replacement.clone())
    );
    // The vetoed commit cannot be vetoed again: the row holds another commit now.
    assert_conflict(
        commit(&store, t, vec![veto(session, 2, b"commit 2")]).await,
        "a veto of a commit already vetoed",
    );
    // A veto alone leaves the epoch before as the newest.
    commit_ok(&store, t, vec![veto(session, 2, b"the owner's commit")]).await;
    assert_eq!(
        read(store.e2e_latest(t, session).await, "e2e_latest"),
        Some(e2e_epoch(t, session, 1))
    );
}

/// Key packages: listed oldest first; a reference is unique; a one-time package is
/// taken once (then `Missing`), a last-resort one never; a new last-resort package
/// replaces the device's old one only; deleting the account or guest removes them.
pub async fn key_packages(store: DynStore) {
    let t: TenantId = rid();
    let (owner, session): (AccountId, SessionId) = (rid(), rid());
    let guest: GuestId = rid();
    let mut writes = data::tenant_with_session(t, owner, session);
    writes.push(data::insert_subject(t, session, SubjectId::Guest(guest)));
    commit_ok(&store, t, writes).await;
    let me = SubjectId::Account(owner);
    let kp = |d: &[u8], r: &[u8], lr: bool, ms: i64| key_package(t, me, d, r, lr, at(ms));
    commit_ok(
        &store,
        t,
        vec![
            Write::PutKeyPackage(kp(b"laptop", b"r2", false, 2)),
            Write::PutKeyPackage(kp(b"laptop", b"r1", false, 1)),
            Write::PutKeyPackage(kp(b"laptop", b"last-1", true, 3)),
            Write::PutKeyPackage(kp(b"phone", b"last-2", true, 4)),
        ],
    )
    .await;
    let listed = read(store.key_packages(t, me).await, "key_packages");
    let refs: Vec<&[u8]> = listed.iter().map(|k| k.reference.as_slice()).collect();
    assert_eq!(refs, [b"r1".as_slice(), b"r2", b"last-1", b"last-2"]);
    assert_eq!(listed[0], kp(b"laptop", b"r1", false, 1));

    assert_conflict(
        commit(
            &store,
            t,
            vec![Write::PutKeyPackage(kp(b"phone", b"r1", false, 5))],
        )
        .await,
        "a second package with one reference",
    );
    let take = |r: &[u8]| Write::TakeKeyPackage {
        owner: me,
        reference: r.to_vec(),
    };
    commit_ok(&store, t, vec![take(b"r1")]).await;
    assert_missing(
        commit(&store, t, vec![take(b"r1")]).await,
        "taking r1 twice",
    );
    assert_missing(
        commit(&store, t, vec![take(b"last-1")]).await,
        "taking a last-resort package",
    );
    assert_missing(
        commit(&store, t, vec![take(b"nope")]).await,
        "an unknown package",
    );

    // A new last-resort package replaces the laptop's, not the phone's.
    commit_ok(
        &store,
        t,
        vec![Write::PutKeyPackage(kp(b"laptop", b"last-3", true, 6))],
    )
    .await;
    let refs: Vec<Vec<u8>> = read(store.key_packages(t, me).await, "key_packages")
        .into_iter()
        .map(|k| k.reference)
        .collect();
    assert_eq!(
        refs,
        [b"r2".to_vec(), b"last-2".to_vec(), b"last-3".to_vec()]
    );

    // The guest's packages are its own and go with it.
    let g = SubjectId::Guest(guest);
    commit_ok(
        &store,
        t,
        vec![Write::PutKeyPackage(key_package(
            t,
            g,
            b"browser",
            b"g1",
            false,
            at(7),
        ))],
    )
    .await;
    assert_eq!(
        read(store.key_packages(t, g).await, "key_packages").len(),
        1
    );
    commit_ok(&store, t, vec![Write::DeleteGuest(guest)]).await;
    assert!(read(store.key_packages(t, g).await, "key_packages").is_empty());
    commit_ok(&store, t, vec![Write::DeleteAccount(owner)]).await;
    assert!(read(store.key_packages(t, me).await, "key_packages").is_empty());
}
