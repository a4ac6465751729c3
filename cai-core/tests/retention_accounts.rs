//! The retention engine's account and login deadlines (R-P2) on the in-memory
//! reference ports: login records lose their personal parts at `login_records`,
//! inactive accounts are deactivated at `inactive_accounts` (plus the day
//! `last_active` may lag), the last administrator stays.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::time::Duration;

use cai_core::domain::{
    Account, AccountStatus, AuditActor, AuditEvent, AuditKind, AuditObject, BuiltinRole, Change,
    RequestMeta, TenantSettings,
};
use cai_core::id::{EventId, SubjectId};
use cai_core::ports::{AuditStore, Batch, DirectoryStore, Store, Write};
use cai_core::service::{RetentionLimits, RetentionReport};
use cai_core::{Timestamp, days};
use common::{Org, World};

const INACTIVE: Duration = days(100);
const MS: Duration = Duration::from_millis(1);

async fn run(w: &World, org: &Org) -> RetentionReport {
    w.svc
        .run_retention(org.id(), RetentionLimits::default())
        .await
        .unwrap()
}

async fn account(w: &World, org: &Org, a: &Account) -> Account {
    w.store.account(org.id(), a.id).await.unwrap().unwrap()
}

fn login_event(org: &Org, at: Timestamp, kind: AuditKind, subject: &Account) -> AuditEvent {
    AuditEvent {
        id: EventId::random().unwrap(),
        tenant: org.id(),
        at,
        actor: AuditActor::Subject(SubjectId::Account(subject.id)),
        kind,
        object: AuditObject::Account(subject.id),
        changes: vec![Change::new("login", None::<String>, Some("failed"))],
        authorized: None,
        security_relevant: false,
        request: RequestMeta {
            id: None,
            client: Some(std::net::IpAddr::from([198, 51, 100, 7])),
        },
    }
}

#[tokio::test]
async fn login_records_lose_their_personal_parts_at_the_deadline() {
    let w = World::new();
    let mut settings = TenantSettings::default();
    // Client addresses outlive login records here, so the login step is what erases.
    settings.retention.ip_logs = days(180);
    settings.retention.login_records = days(30);
    let org = w.org_with("Nord", settings).await;
    let (cora, _) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let at = w.now();
    let ok = login_event(&org, at, AuditKind::LoginSucceeded, &cora);
    let failed = login_event(&org, at, AuditKind::LoginFailed, &cora);
    // Not a login record: keeps its parts until the IP-log deadline.
    let other = login_event(&org, at, AuditKind::AccountUpdated, &cora);
    let mut batch = Batch::new(org.id());
    for e in [&ok, &failed, &other] {
        batch.push(Write::AppendAudit(e.clone()));
    }
    w.store.commit(batch).await.unwrap();
    let stored = |id: EventId| {
        let (store, tenant) = (w.store.clone(), org.id());
        async move {
            store
                .audit_events(tenant, 0, 1000)
                .await
                .unwrap()
                .into_iter()
                .find(|(_, e)| e.id == id)
                .unwrap()
                .1
        }
    };

    w.clock.set(at.plus(days(30)).minus(MS));
    assert_eq!(run(&w, &org).await.login_records_erased, 0);
    assert_eq!(stored(ok.id).await, ok);

    w.clock.set(at.plus(days(30)));
    assert_eq!(run(&w, &org).await.login_records_erased, 2);
    for e in [&ok, &failed] {
        let after = stored(e.id).await;
        assert!(after.changes.is_empty(), "{:?}", after.kind);
        assert_eq!(after.request, RequestMeta::default());
        assert_eq!(
            (after.kind, after.at, after.actor, after.object),
            (e.kind, e.at, e.actor, e.object),
            "ids, kind and time stay"
        );
    }
    assert_eq!(
        stored(other.id).await,
        other,
        "other kinds are not login records"
    );
    assert_eq!(run(&w, &org).await.login_records_erased, 0, "idempotent");
}

fn inactive_settings() -> TenantSettings {
    let mut s = TenantSettings::default();
    s.retention.inactive_accounts = Some(INACTIVE);
    s
}

#[tokio::test]
async fn inactive_accounts_are_deactivated_a_resolution_after_the_deadline() {
    let w = World::new();
    let org = w.org_with("Nord", inactive_settings()).await;
    let pseudonymise_after = org.tenant.settings.retention.pseudonymise_after;
    let (cora, _) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let (dana, _) = w.member(&org, "Dana", BuiltinRole::Counsellor).await;
    let created = w.now();
    // Dana logged in 50 days later (what cai-auth records).
    let mut d = account(&w, &org, &dana).await;
    d.last_active = Some(created.plus(days(50)));
    let mut batch = Batch::new(org.id());
    batch.push(Write::UpdateAccount(d));
    w.store.commit(batch).await.unwrap();

    let due = created.plus(INACTIVE).plus(Account::LAST_ACTIVE_RESOLUTION);
    w.clock.set(due.minus(MS));
    let r = run(&w, &org).await;
    assert_eq!((r.accounts_deactivated, r.accounts_kept), (0, 0));
    assert_eq!(account(&w, &org, &cora).await.status, AccountStatus::Active);

    w.clock.set(due);
    let r = run(&w, &org).await;
    // Cora goes; the admin, created with her, is the tenant's last administrator.
    assert_eq!((r.accounts_deactivated, r.accounts_kept), (1, 1));
    assert_eq!(
        account(&w, &org, &cora).await.status,
        AccountStatus::Deactivated {
            at: due,
            pseudonymise_at: due.plus(pseudonymise_after),
        }
    );
    assert_eq!(account(&w, &org, &dana).await.status, AccountStatus::Active);
    assert!(matches!(
        account(&w, &org, &org.admin).await.status,
        AccountStatus::Active
    ));
    let audited: Vec<AuditEvent> = w
        .store
        .audit_events(org.id(), 0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, e)| e)
        .filter(|e| e.kind == AuditKind::AccountDeactivated)
        .collect();
    assert_eq!(audited.len(), 1);
    assert_eq!(audited[0].actor, AuditActor::System);
    assert_eq!(audited[0].object, AuditObject::Account(cora.id));
    assert!(
        audited[0]
            .changes
            .contains(&Change::new("reason", None::<String>, Some("inactive")))
    );

    // Dana's clock ran from her login: due 50 days later, not before.
    w.clock.set(due.plus(days(50)).minus(MS));
    assert_eq!(run(&w, &org).await.accounts_deactivated, 0);
    w.clock.set(due.plus(days(50)));
    assert_eq!(run(&w, &org).await.accounts_deactivated, 1);
    assert_eq!(run(&w, &org).await.accounts_deactivated, 0, "idempotent");
}

#[tokio::test]
async fn reactivation_restarts_the_inactivity_clock() {
    let w = World::new();
    let org = w.org_with("Nord", inactive_settings()).await;
    let (cora, _) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let due = w.now().plus(INACTIVE).plus(Account::LAST_ACTIVE_RESOLUTION);
    w.clock.set(due);
    assert_eq!(run(&w, &org).await.accounts_deactivated, 1);

    let admin = w.caller(org.id(), SubjectId::Account(org.admin.id), true);
    let back = w
        .svc
        .reactivate_account(&admin, org.id(), cora.id)
        .await
        .unwrap();
    assert_eq!(back.last_active, Some(due));
    assert_eq!(run(&w, &org).await.accounts_deactivated, 0);
    w.clock
        .set(due.plus(INACTIVE).plus(Account::LAST_ACTIVE_RESOLUTION));
    assert_eq!(run(&w, &org).await.accounts_deactivated, 1);
}

#[tokio::test]
async fn without_the_deadline_accounts_stay_and_locked_ones_count_as_inactive() {
    let w = World::new();
    let mut keep = TenantSettings::default();
    keep.retention.inactive_accounts = None;
    let org = w.org_with("Keep", keep).await;
    w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    w.clock.set(w.now().plus(days(5000)));
    assert_eq!(run(&w, &org).await.accounts_deactivated, 0);

    let org = w.org_with("Sued", inactive_settings()).await;
    let (cora, _) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let mut locked = account(&w, &org, &cora).await;
    locked.status = AccountStatus::Locked {
        at: w.now(),
        until: None,
    };
    let mut batch = Batch::new(org.id());
    batch.push(Write::UpdateAccount(locked));
    w.store.commit(batch).await.unwrap();
    w.clock
        .set(w.now().plus(INACTIVE).plus(Account::LAST_ACTIVE_RESOLUTION));
    assert_eq!(run(&w, &org).await.accounts_deactivated, 1);
    assert!(matches!(
        account(&w, &org, &cora).await.status,
        AccountStatus::Deactivated { .. }
    ));
}
