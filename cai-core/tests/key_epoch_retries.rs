//! Moving many sessions to a new key epoch in one commit (a group member leaves, an
//! account is deleted) meets other changes of those sessions. The keys are wrapped
//! before the sessions are read again, so a post during the wraps (a KMS round trip
//! each) does not make the commit conflict. A session that moved to another epoch
//! meanwhile does: the service reads everything again and retries, at most
//! `ROTATION_ATTEMPTS` times in all, then answers `conflict` with nothing changed. The
//! changes are made to land inside the window by the key provider: it makes them just
//! before wrapping a new key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use cai_core::domain::{AuditKind, BuiltinRole, Name, SessionMode};
use cai_core::id::{AccountId, GroupId, SessionId, TenantId};
use cai_core::memory::{LocalKeyProvider, MemoryStore};
use cai_core::ports::{
    AuditStore, Batch, DirectoryStore, KeyProvider, KeyProviderError, SessionEvent, SessionStore,
    Store, StoreError, Write,
};
use cai_core::service::{NewSession, ROTATION_ATTEMPTS};
use cai_core::{Caller, Error};
use cai_crypto::DataKey;
use cai_crypto::hierarchy::WrappedKey;
use common::{Org, World};

/// What changes meanwhile.
#[derive(Clone, Copy)]
enum Target {
    /// The session is updated, as a post does.
    Post(TenantId, SessionId),
    /// The session moves to its next key epoch, as a concurrent removal does.
    Move(TenantId, SessionId),
    /// The group is updated, as another administrator does.
    Group(TenantId, GroupId),
}

/// Wraps through the in-memory provider; before each of the next `posts` wraps it
/// updates `target`.
struct PostsMeanwhile {
    inner: Arc<LocalKeyProvider>,
    store: Arc<MemoryStore>,
    target: Mutex<Option<Target>>,
    posts: AtomicU32,
    wraps: AtomicU32,
}

#[async_trait]
impl KeyProvider for PostsMeanwhile {
    async fn provision(&self, tenant: TenantId) -> Result<(), KeyProviderError> {
        self.inner.provision(tenant).await
    }

    async fn wrap(
        &self,
        tenant: TenantId,
        key: &DataKey,
        context: &[u8],
    ) -> Result<WrappedKey, KeyProviderError> {
        self.wraps.fetch_add(1, Ordering::SeqCst);
        let target = *self.target.lock().unwrap();
        if let Some(target) = target
            && self
                .posts
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
        {
            let (t, write) = match target {
                Target::Post(t, s) => {
                    let session = self.store.session(t, s).await.unwrap().unwrap();
                    (t, Write::UpdateSession(session))
                }
                Target::Move(t, s) => {
                    let mut session = self.store.session(t, s).await.unwrap().unwrap();
                    session.key_epoch += 1;
                    (t, Write::UpdateSession(session))
                }
                Target::Group(t, g) => {
                    let group = self.store.group(t, g).await.unwrap().unwrap();
                    (t, Write::UpdateGroup(group))
                }
            };
            let mut batch = Batch::new(t);
            batch.push(write);
            self.store.commit(batch).await.unwrap();
        }
        self.inner.wrap(tenant, key, context).await
    }

    async fn unwrap(
        &self,
        tenant: TenantId,
        wrapped: &WrappedKey,
        context: &[u8],
    ) -> Result<DataKey, KeyProviderError> {
        self.inner.unwrap(tenant, wrapped, context).await
    }

    async fn shred(&self, tenant: TenantId, context: &[u8]) -> Result<(), KeyProviderError> {
        self.inner.shred(tenant, context).await
    }
}

struct Scene {
    w: World,
    keys: Arc<PostsMeanwhile>,
    org: Org,
    owner: Caller,
    ben: AccountId,
    cleo: AccountId,
    team: cai_core::domain::Group,
    s: SessionId,
}

/// A session-key session shared with a group of Ben and Cleo; from now on the next
/// `posts` wraps meet a move of it to its next epoch.
async fn scene(posts: u32) -> Scene {
    let mut handle = None;
    let w = World::with_keys(|inner, store| {
        let keys = Arc::new(PostsMeanwhile {
            inner,
            store,
            target: Mutex::new(None),
            posts: AtomicU32::new(0),
            wraps: AtomicU32::new(0),
        });
        handle = Some(keys.clone());
        keys
    });
    let keys = handle.unwrap();
    let org = w.org("Nord").await;
    let (_, owner) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let (_, ben) = w.member(&org, "Ben", BuiltinRole::Counsellor).await;
    let (_, cleo) = w.member(&org, "Cleo", BuiltinRole::Counsellor).await;
    let (ben, cleo) = (
        ben.subject.account().unwrap(),
        cleo.subject.account().unwrap(),
    );
    let team = w
        .svc
        .create_group(
            &org.admin_caller,
            org.id(),
            Name::parse("Team").unwrap(),
            &[ben, cleo],
        )
        .await
        .unwrap();
    let new = NewSession {
        mode: Some(SessionMode::SessionKey),
        groups: vec![team.id],
        ..NewSession::classic()
    };
    let s = w
        .svc
        .create_session(&owner, org.id(), new)
        .await
        .unwrap()
        .session
        .id;
    *keys.target.lock().unwrap() = Some(Target::Move(org.id(), s));
    keys.posts.store(posts, Ordering::SeqCst);
    keys.wraps.store(0, Ordering::SeqCst);
    Scene {
        w,
        keys,
        org,
        owner,
        ben,
        cleo,
        team,
        s,
    }
}

impl Scene {
    async fn epoch(&self) -> u32 {
        let d = self.w.svc.session(&self.owner, self.org.id(), self.s).await;
        d.unwrap().session.key_epoch
    }

    fn moves_published(&self) -> usize {
        self.w
            .transport
            .events_of(self.org.id(), self.s)
            .iter()
            .filter(|e| matches!(e, SessionEvent::KeysChanged { .. }))
            .count()
    }

    async fn moves_audited(&self) -> usize {
        let events = self.w.store.audit_events(self.org.id(), 0, 1000).await;
        let events = events.unwrap();
        events
            .iter()
            .filter(|(_, e)| e.kind == AuditKind::SessionKeysChanged)
            .count()
    }

    async fn members(&self) -> Vec<AccountId> {
        let g = self.w.store.group(self.org.id(), self.team.id).await;
        g.unwrap().unwrap().members
    }

    async fn leave_group(&self) -> Result<cai_core::domain::Group, Error> {
        self.w
            .svc
            .set_group_members(
                &self.org.admin_caller,
                self.org.id(),
                self.team.id,
                &[self.cleo],
            )
            .await
    }
}

#[tokio::test]
async fn posts_during_the_wraps_do_not_make_a_group_leave_conflict() {
    let sc = scene(u32::MAX).await;
    *sc.keys.target.lock().unwrap() = Some(Target::Post(sc.org.id(), sc.s));
    sc.leave_group().await.unwrap();
    assert_eq!(sc.keys.wraps.load(Ordering::SeqCst), 1, "one attempt");
    assert_eq!(sc.epoch().await, 1);
    assert_eq!(sc.members().await, [sc.cleo]);
}

#[tokio::test]
async fn a_session_moved_during_a_group_leave_is_met_by_reading_again() {
    let sc = scene(ROTATION_ATTEMPTS - 1).await;
    sc.leave_group().await.unwrap();
    assert_eq!(
        sc.keys.wraps.load(Ordering::SeqCst),
        ROTATION_ATTEMPTS,
        "one wrap per attempt"
    );
    // Moved twice meanwhile, then once by the leave: each attempt made its key for
    // the epoch it read.
    assert_eq!(sc.epoch().await, ROTATION_ATTEMPTS);
    assert_eq!(sc.members().await, [sc.cleo]);
    assert_eq!(sc.moves_published(), 1);
    assert_eq!(sc.moves_audited().await, 1);
}

#[tokio::test]
async fn moves_through_every_attempt_leave_the_group_as_it_was() {
    let sc = scene(u32::MAX).await;
    let e = sc.leave_group().await.unwrap_err();
    assert!(
        matches!(e, Error::Store(StoreError::Conflict { what: "session" })),
        "{e:?}"
    );
    assert_eq!(sc.keys.wraps.load(Ordering::SeqCst), ROTATION_ATTEMPTS);
    assert_eq!(
        sc.epoch().await,
        ROTATION_ATTEMPTS,
        "only the moves meanwhile"
    );
    let mut both = vec![sc.ben, sc.cleo];
    both.sort_unstable();
    assert_eq!(sc.members().await, both, "the group is unchanged");
    assert_eq!(sc.moves_published(), 0);
    assert_eq!(sc.moves_audited().await, 0);
}

#[tokio::test]
async fn a_session_moved_during_an_account_deletion_is_met_by_reading_again() {
    let sc = scene(1).await;
    sc.w.svc
        .delete_account(&sc.org.admin_caller, sc.org.id(), sc.ben)
        .await
        .unwrap();
    assert_eq!(sc.keys.wraps.load(Ordering::SeqCst), 2);
    assert_eq!(sc.epoch().await, 2);
    assert!(
        sc.w.store
            .account(sc.org.id(), sc.ben)
            .await
            .unwrap()
            .is_none()
    );
    // The cause comes first in the audit trail, the move after it.
    let kinds: Vec<_> =
        sc.w.store
            .audit_events(sc.org.id(), 0, 1000)
            .await
            .unwrap()
            .into_iter()
            .map(|(_, e)| e.kind)
            .rev()
            .take(2)
            .collect();
    assert_eq!(
        kinds,
        [AuditKind::SessionKeysChanged, AuditKind::AccountDeleted]
    );
}

#[tokio::test]
async fn moves_through_every_attempt_of_a_deletion_leave_the_account() {
    let sc = scene(u32::MAX).await;
    let e =
        sc.w.svc
            .delete_account(&sc.org.admin_caller, sc.org.id(), sc.ben)
            .await
            .unwrap_err();
    assert!(
        matches!(e, Error::Store(StoreError::Conflict { what: "session" })),
        "{e:?}"
    );
    assert_eq!(sc.keys.wraps.load(Ordering::SeqCst), ROTATION_ATTEMPTS);
    assert!(
        sc.w.store
            .account(sc.org.id(), sc.ben)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(sc.moves_audited().await, 0);
}

#[tokio::test]
async fn a_concurrent_change_of_the_group_is_not_retried() {
    let sc = scene(1).await;
    *sc.keys.target.lock().unwrap() = Some(Target::Group(sc.org.id(), sc.team.id));
    let e = sc.leave_group().await.unwrap_err();
    assert!(
        matches!(e, Error::Store(StoreError::Conflict { what: "group" })),
        "{e:?}"
    );
    assert_eq!(sc.keys.wraps.load(Ordering::SeqCst), 1, "one attempt");
    assert_eq!(sc.epoch().await, 0);
}
