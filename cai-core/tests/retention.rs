//! The retention engine (R-P2..R-P4) on the in-memory reference ports: deadlines to the
//! millisecond, keys shredded before rows go, batches, audit entries, idempotence.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::time::Duration;

use cai_core::Error;
use cai_core::domain::{
    AuditKind, AuditObject, BuiltinRole, ContentKind, ContentRetention, Guest, Pseudonym,
    SessionMode, SessionStatus, TenantSettings,
};
use cai_core::id::{GuestId, SessionId};
use cai_core::ports::{
    AuditStore, Batch, ContentStore, DirectoryStore, KeyProvider, KeyProviderError, KeyStore, Page,
    SessionStore, Store, Write,
};
use cai_core::service::{
    ContentBody, NewSession, RetentionLimits, RetentionReport, session_key_context,
};
use cai_core::{Caller, days, hours};
use cai_crypto::modes::KeyCustody;
use common::{Org, World};

const CONTENT_KEPT: Duration = days(30);
const INACTIVE: Duration = days(90);

fn settings() -> TenantSettings {
    let mut s = TenantSettings::default();
    s.retention.session_content = Some(CONTENT_KEPT);
    s.retention.inactive_sessions = Some(INACTIVE);
    s
}

async fn setup() -> (World, Org, Caller) {
    let w = World::new();
    let org = w.org_with("Nord", settings()).await;
    let (_, cora) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    (w, org, cora)
}

async fn session_with(w: &World, org: &Org, c: &Caller, items: usize) -> SessionId {
    let new = NewSession {
        mode: Some(SessionMode::ServerManaged),
        ..NewSession::classic()
    };
    let s = w
        .svc
        .create_session(c, org.id(), new)
        .await
        .unwrap()
        .session
        .id;
    for n in 0..items {
        w.svc
            .post_content(
                c,
                org.id(),
                s,
                ContentKind::Message,
                ContentBody::plain(format!("message {n}").into_bytes()),
            )
            .await
            .unwrap();
    }
    s
}

async fn run(w: &World, org: &Org, batch: u32) -> RetentionReport {
    w.svc
        .run_retention(org.id(), RetentionLimits { batch })
        .await
        .unwrap()
}

async fn item_count(w: &World, org: &Org, s: SessionId) -> usize {
    w.store
        .items(org.id(), s, Page::first(1000))
        .await
        .unwrap()
        .len()
}

/// Unwraps the session's custody directly at the key provider.
async fn key_opens(
    w: &World,
    org: &Org,
    s: SessionId,
    custody: &[u8],
) -> Result<(), KeyProviderError> {
    let KeyCustody::Wrapped(wrapped) = KeyCustody::parse(custody).unwrap() else {
        panic!("server-managed custody is wrapped");
    };
    w.keys
        .unwrap(
            org.id(),
            &wrapped,
            &session_key_context(org.id(), s).unwrap(),
        )
        .await
        .map(drop)
}

async fn audit_kinds(w: &World, org: &Org) -> Vec<(AuditKind, AuditObject)> {
    w.store
        .audit_events(org.id(), 0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, e)| (e.kind, e.object))
        .collect()
}

async fn kinds_about(w: &World, org: &Org, s: SessionId) -> Vec<AuditKind> {
    audit_kinds(w, org)
        .await
        .into_iter()
        .filter(|(_, o)| *o == AuditObject::Session(s))
        .map(|(k, _)| k)
        .collect()
}

#[tokio::test]
async fn closed_sessions_lose_content_and_keys_at_the_deadline_to_the_millisecond() {
    let (w, org, cora) = setup().await;
    let s = session_with(&w, &org, &cora, 7).await;
    let kept = session_with(&w, &org, &cora, 2).await; // open: never due by content
    let custody = w
        .store
        .custody(org.id(), s, 0)
        .await
        .unwrap()
        .unwrap()
        .custody;
    w.svc.close_session(&cora, org.id(), s).await.unwrap();
    let closed_at = w.now();

    // One millisecond before the deadline: nothing.
    w.clock
        .set(closed_at.plus(CONTENT_KEPT).minus(Duration::from_millis(1)));
    assert_eq!(run(&w, &org, 3).await, RetentionReport::default());
    assert_eq!(item_count(&w, &org, s).await, 7);
    key_opens(&w, &org, s, &custody).await.unwrap();

    // Exactly at it: keys shredded, items gone in batches of 3, then the key rows.
    w.clock.set(closed_at.plus(CONTENT_KEPT));
    let report = run(&w, &org, 3).await;
    assert_eq!(report.sessions_content_deleted, 1);
    assert_eq!(report.items_deleted, 7);
    assert_eq!(report.keys_shredded, 1);
    assert_eq!(
        report.commits,
        3 + 1,
        "7 items in batches of 3, then the key rows"
    );
    assert_eq!(report.sessions_deleted, 0);
    assert_eq!(item_count(&w, &org, s).await, 0);
    assert!(w.store.custodies(org.id(), s).await.unwrap().is_empty());
    assert!(matches!(
        key_opens(&w, &org, s, &custody).await,
        Err(KeyProviderError::Shredded)
    ));
    let session = w.store.session(org.id(), s).await.unwrap().unwrap();
    assert!(
        matches!(session.status, SessionStatus::Closed { .. }),
        "the session stays"
    );
    assert!(
        kinds_about(&w, &org, s)
            .await
            .contains(&AuditKind::SessionContentExpired)
    );
    // The other session is untouched.
    assert_eq!(item_count(&w, &org, kept).await, 2);

    // Idempotent: a second run finds nothing.
    assert_eq!(run(&w, &org, 3).await, RetentionReport::default());
}

#[tokio::test]
async fn inactive_sessions_are_deleted_whole_at_the_deadline() {
    let (w, org, cora) = setup().await;
    let s = session_with(&w, &org, &cora, 2).await;
    let last = w
        .store
        .session(org.id(), s)
        .await
        .unwrap()
        .unwrap()
        .last_activity;
    let custody = w
        .store
        .custody(org.id(), s, 0)
        .await
        .unwrap()
        .unwrap()
        .custody;

    w.clock
        .set(last.plus(INACTIVE).minus(Duration::from_millis(1)));
    assert_eq!(run(&w, &org, 500).await.sessions_deleted, 0);
    assert!(w.store.session(org.id(), s).await.unwrap().is_some());

    w.clock.set(last.plus(INACTIVE));
    let report = run(&w, &org, 500).await;
    assert_eq!((report.sessions_deleted, report.items_deleted), (1, 2));
    assert_eq!(report.commits, 2, "one batch of items, then the session");
    assert!(w.store.session(org.id(), s).await.unwrap().is_none());
    assert!(matches!(
        key_opens(&w, &org, s, &custody).await,
        Err(KeyProviderError::Shredded)
    ));
    assert!(
        kinds_about(&w, &org, s)
            .await
            .contains(&AuditKind::SessionExpired)
    );
    assert_eq!(run(&w, &org, 500).await, RetentionReport::default());
}

#[tokio::test]
async fn policies_without_deadlines_keep_everything() {
    let w = World::new();
    let mut keep = TenantSettings::default();
    keep.retention.session_content = None;
    keep.retention.inactive_sessions = None;
    let org = w.org_with("Nord", keep).await;
    let (_, cora) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let s = session_with(&w, &org, &cora, 1).await;
    w.svc.close_session(&cora, org.id(), s).await.unwrap();
    w.clock.set(w.now().plus(days(100 * 365)));
    assert_eq!(run(&w, &org, 10).await.items_deleted, 0);
    assert_eq!(item_count(&w, &org, s).await, 1);
}

#[tokio::test]
async fn delete_on_close_shreds_the_keys_before_the_rows() {
    let (w, org, cora) = setup().await;
    let new = NewSession {
        mode: Some(SessionMode::ServerManaged),
        on_close: Some(ContentRetention::DeleteOnClose),
        ..NewSession::classic()
    };
    let s = w
        .svc
        .create_session(&cora, org.id(), new)
        .await
        .unwrap()
        .session
        .id;
    let custody = w
        .store
        .custody(org.id(), s, 0)
        .await
        .unwrap()
        .unwrap()
        .custody;
    w.svc.close_session(&cora, org.id(), s).await.unwrap();
    assert!(matches!(
        key_opens(&w, &org, s, &custody).await,
        Err(KeyProviderError::Shredded)
    ));
    assert!(w.store.custodies(org.id(), s).await.unwrap().is_empty());
}

#[tokio::test]
async fn guests_are_deleted_at_their_deadline() {
    let (w, org, cora) = setup().await;
    let s = session_with(&w, &org, &cora, 0).await;
    let delete_after = org.tenant.settings.retention.guest_delete_after;
    let joined = w.now();
    let mut batch = Batch::new(org.id());
    let ids: Vec<GuestId> = (0..3).map(|_| GuestId::random().unwrap()).collect();
    for (n, id) in ids.iter().enumerate() {
        batch.push(Write::InsertGuest(Guest {
            id: *id,
            tenant: org.id(),
            session: s,
            pseudonym: Pseudonym::parse("Mo").unwrap(),
            // The last one joined an hour later.
            joined_at: if n == 2 {
                joined.plus(hours(1))
            } else {
                joined
            },
            expires_at: joined.plus(hours(6)),
        }));
    }
    w.store.commit(batch).await.unwrap();

    w.clock
        .set(joined.plus(delete_after).minus(Duration::from_millis(1)));
    assert_eq!(run(&w, &org, 1).await.guests_deleted, 0);
    w.clock.set(joined.plus(delete_after));
    let report = run(&w, &org, 1).await;
    assert_eq!(report.guests_deleted, 2);
    assert_eq!(report.commits, 2, "one guest per commit with batch 1");
    for id in &ids[..2] {
        assert!(w.store.guest(org.id(), *id).await.unwrap().is_none());
    }
    assert!(w.store.guest(org.id(), ids[2]).await.unwrap().is_some());
    let audited = audit_kinds(&w, &org)
        .await
        .iter()
        .filter(|(k, _)| *k == AuditKind::GuestDeleted)
        .count();
    assert_eq!(audited, 2);
}

#[tokio::test]
async fn limits_are_checked_at_their_boundaries() {
    let (w, org, _) = setup().await;
    for batch in [0, RetentionLimits::MAX_BATCH + 1] {
        let r = w
            .svc
            .run_retention(org.id(), RetentionLimits { batch })
            .await;
        assert!(matches!(r, Err(Error::Invalid { .. })), "{batch}: {r:?}");
    }
    for batch in [RetentionLimits::MIN_BATCH, RetentionLimits::MAX_BATCH] {
        run(&w, &org, batch).await;
    }
    assert_eq!(RetentionLimits::default().batch, 500);
}

#[tokio::test]
async fn client_addresses_leave_the_audit_trail_at_the_ip_logs_deadline() {
    use cai_core::domain::{AuditActor, AuditEvent, RequestMeta};
    use cai_core::id::EventId;
    let (w, org, _) = setup().await;
    let ip_logs = org.tenant.settings.retention.ip_logs;
    let at = w.now();
    let event = AuditEvent {
        id: EventId::random().unwrap(),
        tenant: org.id(),
        at,
        actor: AuditActor::System,
        kind: AuditKind::LoginFailed,
        object: AuditObject::Tenant(org.id()),
        changes: vec![],
        authorized: None,
        security_relevant: true,
        request: RequestMeta {
            id: None,
            client: Some(std::net::IpAddr::from([198, 51, 100, 9])),
        },
    };
    let mut batch = Batch::new(org.id());
    batch.push(Write::AppendAudit(event.clone()));
    w.store.commit(batch).await.unwrap();
    let stored = |w: &World| {
        let w = w.store.clone();
        let id = event.id;
        let tenant = org.id();
        async move {
            w.audit_events(tenant, 0, 1000)
                .await
                .unwrap()
                .into_iter()
                .find(|(_, e)| e.id == id)
                .unwrap()
                .1
        }
    };

    w.clock
        .set(at.plus(ip_logs).minus(Duration::from_millis(1)));
    assert_eq!(run(&w, &org, 10).await.origins_erased, 0);
    assert!(stored(&w).await.request.client.is_some());
    w.clock.set(at.plus(ip_logs));
    assert_eq!(run(&w, &org, 10).await.origins_erased, 1);
    let after = stored(&w).await;
    assert_eq!(after.request, RequestMeta::default());
    assert_eq!(
        (after.kind, after.at),
        (event.kind, event.at),
        "the rest stays"
    );
}

#[tokio::test]
async fn pseudonymised_and_deleted_people_leave_no_personal_values_in_the_audit_trail() {
    use cai_core::domain::Name;
    use cai_core::service::AccountChanges;
    let (w, org, _) = setup().await;
    let admin = org.admin_caller;
    let personal = |kinds: Vec<cai_core::domain::AuditEvent>| {
        kinds
            .iter()
            .filter(|e| {
                e.changes.iter().any(|c| {
                    format!("{c:?}").contains("Marta") || format!("{c:?}").contains("marta")
                })
            })
            .count()
    };
    let events = |w: &World, org: &Org| {
        let store = w.store.clone();
        let t = org.id();
        async move {
            store
                .audit_events(t, 0, 1000)
                .await
                .unwrap()
                .into_iter()
                .map(|(_, e)| e)
                .collect::<Vec<_>>()
        }
    };
    let (leaving, _) = w.member(&org, "MartaL", BuiltinRole::Counsellor).await;
    let (deleted, _) = w.member(&org, "MartaD", BuiltinRole::Counsellor).await;
    for id in [leaving.id, deleted.id] {
        w.svc
            .update_account(
                &admin,
                org.id(),
                id,
                AccountChanges {
                    display_name: Some(Name::parse("Marta Renamed").unwrap()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    assert!(
        personal(events(&w, &org).await) >= 4,
        "names are in the trail before"
    );

    w.svc
        .deactivate_account(&admin, org.id(), leaving.id, Some(w.now()))
        .await
        .unwrap();
    let report = run(&w, &org, 10).await;
    assert_eq!(report.accounts_pseudonymised, 1);
    w.svc
        .delete_account(&admin, org.id(), deleted.id)
        .await
        .unwrap();
    let after = events(&w, &org).await;
    assert_eq!(personal(after.clone()), 0, "no personal value left");
    // The entries themselves stay, attributable by id.
    assert!(
        after
            .iter()
            .any(|e| e.kind == AuditKind::AccountPseudonymised
                && e.object == AuditObject::Account(leaving.id))
    );
    assert!(after.iter().any(
        |e| e.kind == AuditKind::AccountDeleted && e.object == AuditObject::Account(deleted.id)
    ));
}

#[tokio::test]
async fn accounts_are_anonymised_the_set_time_after_their_exit_date() {
    use cai_core::domain::{AccountStatus, Email, Name};
    use cai_core::service::NewAccount;
    let w = World::new();
    let mut s = settings();
    s.retention.anonymise_after_exit = Some(days(365));
    let org = w.org_with("Nord", s).await;
    let exit = w.now().plus(days(10));
    let new = |name: &str, until| NewAccount {
        valid_until: until,
        ..NewAccount::new(
            Email::parse(&format!("{name}@nord.example")).unwrap(),
            Name::parse(name).unwrap(),
        )
    };
    let leaver = w
        .svc
        .create_account(
            &org.admin_caller,
            org.id(),
            new("leaver", Some(exit)),
            &[BuiltinRole::Counsellor.id()],
        )
        .await
        .unwrap();
    let stayer = w
        .svc
        .create_account(
            &org.admin_caller,
            org.id(),
            new("stayer", None),
            &[BuiltinRole::Counsellor.id()],
        )
        .await
        .unwrap();

    w.clock
        .set(exit.plus(days(365)).minus(Duration::from_millis(1)));
    assert_eq!(run(&w, &org, 10).await.accounts_anonymised, 0);
    w.clock.set(exit.plus(days(365)));
    assert_eq!(run(&w, &org, 10).await.accounts_anonymised, 1);
    let gone = w.store.account(org.id(), leaver.id).await.unwrap().unwrap();
    assert!(matches!(gone.status, AccountStatus::Pseudonymised { .. }));
    assert_eq!((gone.email, gone.roles.len()), (None, 0));
    assert_eq!(gone.display_name.as_str(), "Former account");
    let kept = w.store.account(org.id(), stayer.id).await.unwrap().unwrap();
    assert!(kept.email.is_some());
    // Once anonymised, never again.
    assert_eq!(run(&w, &org, 10).await.accounts_anonymised, 0);
}
