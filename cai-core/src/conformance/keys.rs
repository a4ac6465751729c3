//! Wrapped keys and credentials: custody is insert-only, `DeleteCustody` shreds a
//! session's keys, grants and backups are replaced, credentials follow their
//! insert/update/delete rules.

use crate::id::{AccountId, SessionId, SubjectId, TenantId};
use crate::ports::{Credential, CredentialKind, DynStore, Page, Write};

use super::data::{self, assert_conflict, assert_missing, commit, commit_ok, read, rid};
use super::fixture::Fixture;

/// `InsertCustody` stores each (session, epoch) once; a second insert conflicts and
/// changes nothing; `custodies` lists oldest epoch first.
pub async fn custody_insert_only(store: DynStore) {
    let t: TenantId = rid();
    let (owner, session, other): (AccountId, SessionId, SessionId) = (rid(), rid(), rid());
    let mut writes = data::tenant_with_session(t, owner, session);
    writes.push(Write::InsertSession(data::session(t, other, owner)));
    commit_ok(&store, t, writes).await;
    let epochs = [2u32, 0, 1];
    let writes = epochs
        .iter()
        .map(|e| Write::InsertCustody(data::custody(t, session, *e)))
        .collect();
    commit_ok(&store, t, writes).await;
    let expected: Vec<_> = (0..3).map(|e| data::custody(t, session, e)).collect();
    assert_eq!(
        read(store.custodies(t, session).await, "custodies"),
        expected
    );

    let mut replacement = data::custody(t, session, 1);
    replacement.custody = b"a different key".to_vec();
    assert_conflict(
        commit(&store, t, vec![Write::InsertCustody(replacement)]).await,
        "replacing an epoch's custody",
    );
    assert_eq!(
        read(store.custody(t, session, 1).await, "custody"),
        Some(data::custody(t, session, 1))
    );
    assert!(read(store.custody(t, session, 3).await, "custody").is_none());
    // The same epoch of another session is another key.
    commit_ok(
        &store,
        t,
        vec![Write::InsertCustody(data::custody(t, other, 1))],
    )
    .await;
}

/// `DeleteCustody` removes every custody and history grant of the session
/// (crypto-shredding); the content, other sessions' keys and key backups stay.
pub async fn delete_custody_shreds(store: DynStore) {
    let fixture = Fixture::random(rid());
    let ids = fixture.ids;
    let t = ids.tenant;
    fixture.insert(&store).await;
    let other: SessionId = rid();
    let other_custody = data::custody(t, other, 0);
    let other_grant = data::history_grant(t, other, ids.admin, ids.counsellor);
    commit_ok(
        &store,
        t,
        vec![
            Write::InsertSession(data::session(t, other, ids.counsellor)),
            Write::PutHistoryGrant(data::history_grant(
                t,
                ids.session,
                ids.client,
                ids.counsellor,
            )),
            Write::InsertCustody(other_custody.clone()),
            Write::PutHistoryGrant(other_grant.clone()),
        ],
    )
    .await;

    commit_ok(&store, t, vec![Write::DeleteCustody(ids.session)]).await;
    assert!(read(store.custodies(t, ids.session).await, "custodies").is_empty());
    for c in &fixture.custody {
        assert!(read(store.custody(t, ids.session, c.epoch).await, "custody").is_none());
    }
    for recipient in [ids.admin, ids.client] {
        assert!(
            read(
                store.history_grant(t, ids.session, recipient).await,
                "grant"
            )
            .is_none()
        );
    }
    assert_eq!(
        read(store.custodies(t, other).await, "custodies"),
        vec![other_custody]
    );
    assert_eq!(
        read(store.history_grant(t, other, ids.admin).await, "grant"),
        Some(other_grant)
    );
    assert_eq!(
        read(store.versions(t, ids.item).await, "versions"),
        fixture.versions
    );
    assert_eq!(
        read(store.items(t, ids.session, Page::first(10)).await, "items"),
        vec![fixture.item.clone()]
    );
    assert_eq!(
        read(store.key_backup(t, ids.counsellor).await, "backup"),
        Some(fixture.backup.clone())
    );
    assert!(read(store.session(t, ids.session).await, "session").is_some());
    // Shredding twice is not an error: there is nothing left to shred.
    commit_ok(&store, t, vec![Write::DeleteCustody(ids.session)]).await;
    // A new epoch can be stored after shredding.
    commit_ok(
        &store,
        t,
        vec![Write::InsertCustody(data::custody(t, ids.session, 2))],
    )
    .await;
}

/// One history grant per session and recipient, and one key backup per account: a
/// new one replaces the old.
pub async fn grants_and_backups_are_replaced(store: DynStore) {
    let t: TenantId = rid();
    let session: SessionId = rid();
    let (counsellor, colleague): (AccountId, AccountId) = (rid(), rid());
    let mut writes = data::tenant_with_session(t, counsellor, session);
    writes.push(data::insert_subject(
        t,
        session,
        SubjectId::Account(colleague),
    ));
    commit_ok(&store, t, writes).await;
    let first = data::history_grant(t, session, colleague, counsellor);
    let mut second = first.clone();
    second.grant = b"the grant after a new epoch".to_vec();
    second.at = data::at(50_000);
    commit_ok(&store, t, vec![Write::PutHistoryGrant(first.clone())]).await;
    assert_eq!(
        read(store.history_grant(t, session, colleague).await, "grant"),
        Some(first)
    );
    commit_ok(&store, t, vec![Write::PutHistoryGrant(second.clone())]).await;
    assert_eq!(
        read(store.history_grant(t, session, colleague).await, "grant"),
        Some(second)
    );
    assert!(read(store.history_grant(t, session, counsellor).await, "grant").is_none());

    for backup in [
        b"backup one".to_vec(),
        b"backup two, longer".to_vec(),
        Vec::new(),
    ] {
        commit_ok(
            &store,
            t,
            vec![Write::PutKeyBackup {
                account: counsellor,
                backup: backup.clone(),
            }],
        )
        .await;
        assert_eq!(
            read(store.key_backup(t, counsellor).await, "backup"),
            Some(backup)
        );
    }
    assert!(read(store.key_backup(t, colleague).await, "backup").is_none());
    assert!(read(store.key_backup(rid(), counsellor).await, "backup").is_none());
}

/// `PutCredential` with revision 0 inserts (conflict if one exists); with the stored
/// revision it updates and the revision moves on; a stale or unknown revision
/// conflicts; an update of a missing credential is `Missing`; `DeleteCredential` is
/// idempotent; kinds and tenants are separate.
pub async fn credentials(store: DynStore) {
    let (a, b): (TenantId, TenantId) = (rid(), rid());
    let account: AccountId = rid();
    for t in [a, b] {
        commit_ok(
            &store,
            t,
            vec![
                Write::InsertTenant(data::tenant(t)),
                Write::InsertAccount(data::account(t, account, "creds@example.org")),
            ],
        )
        .await;
    }
    let get = |t: TenantId, kind: CredentialKind| {
        let store = store.clone();
        async move { read(store.credential(t, account, kind).await, "credential") }
    };
    let password = data::credential(a, account, CredentialKind::Password, b"hash one");
    commit_ok(&store, a, vec![Write::PutCredential(password.clone())]).await;
    let stored = get(a, CredentialKind::Password).await.expect("inserted");
    assert_eq!(stored.data, password.data);
    assert_eq!(stored.updated_at, password.updated_at);
    assert!(
        get(a, CredentialKind::Totp).await.is_none(),
        "kinds are separate"
    );
    assert!(
        get(b, CredentialKind::Password).await.is_none(),
        "tenants are separate"
    );

    assert_conflict(
        commit(&store, a, vec![Write::PutCredential(password.clone())]).await,
        "inserting twice",
    );

    // Read, change, write back with the revision read.
    let mut update = stored.clone();
    update.data = b"hash two".to_vec();
    commit_ok(&store, a, vec![Write::PutCredential(update.clone())]).await;
    let after = get(a, CredentialKind::Password).await.expect("updated");
    assert_eq!(after.data, b"hash two".to_vec());
    assert_eq!(
        after.revision,
        stored.revision + 1,
        "an update increments the revision"
    );

    let mut stale = update.clone();
    stale.data = b"hash three".to_vec();
    assert_conflict(
        commit(&store, a, vec![Write::PutCredential(stale.clone())]).await,
        "stale update",
    );
    stale.revision = after.revision + 5;
    assert_conflict(
        commit(&store, a, vec![Write::PutCredential(stale)]).await,
        "future revision",
    );
    assert_eq!(get(a, CredentialKind::Password).await, Some(after.clone()));

    let mut phantom = data::credential(a, account, CredentialKind::Lockout, b"3 failures");
    phantom.revision = 4;
    assert_missing(
        commit(&store, a, vec![Write::PutCredential(phantom)]).await,
        "updating a missing credential",
    );

    // Opaque bytes of any length up to the limit are kept as they are.
    let big = data::credential(
        a,
        account,
        CredentialKind::Tokens,
        &vec![0xA5; Credential::MAX_LEN],
    );
    commit_ok(&store, a, vec![Write::PutCredential(big.clone())]).await;
    assert_eq!(
        get(a, CredentialKind::Tokens).await.map(|c| c.data),
        Some(big.data)
    );

    // The same account id in tenant B has its own credentials.
    let in_b = data::credential(b, account, CredentialKind::Password, b"hash in b");
    commit_ok(&store, b, vec![Write::PutCredential(in_b.clone())]).await;

    let delete = |kind| Write::DeleteCredential { account, kind };
    commit_ok(&store, a, vec![delete(CredentialKind::Password)]).await;
    assert!(get(a, CredentialKind::Password).await.is_none());
    commit_ok(&store, a, vec![delete(CredentialKind::Password)]).await;
    commit_ok(&store, a, vec![delete(CredentialKind::EmailCode)]).await;
    assert_eq!(
        get(b, CredentialKind::Password).await.map(|c| c.data),
        Some(in_b.data)
    );
    assert!(
        get(a, CredentialKind::Tokens).await.is_some(),
        "other kinds stay"
    );

    // After a delete, revision 0 inserts again.
    commit_ok(&store, a, vec![Write::PutCredential(password)]).await;
    assert!(get(a, CredentialKind::Password).await.is_some());
}
