//! The retention engine's account steps (R-P2, R-I7) on the in-memory reference ports:
//! within one run an account goes through deactivation, pseudonymisation and
//! anonymisation in that order, each step seeing what the one before did; every
//! account is reached however many pages the tenant has; without the deadlines that
//! walk the accounts only those whose date has come are pseudonymised.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::time::Duration;

use cai_core::domain::{
    Account, AccountStatus, AuditActor, AuditEvent, AuditKind, AuditObject, BuiltinRole, Change,
    Email, Name, TenantSettings,
};
use cai_core::ports::{AuditStore, DirectoryStore};
use cai_core::service::{NewAccount, RetentionLimits, RetentionReport};
use cai_core::{Timestamp, days};
use common::{Org, World};

const INACTIVE: Duration = days(100);

async fn run(w: &World, org: &Org) -> RetentionReport {
    w.svc
        .run_retention(org.id(), RetentionLimits::default())
        .await
        .unwrap()
}

async fn status(w: &World, org: &Org, a: &Account) -> AccountStatus {
    w.store
        .account(org.id(), a.id)
        .await
        .unwrap()
        .unwrap()
        .status
}

/// A counsellor created by the admin, with an exit date if given.
async fn counsellor(w: &World, org: &Org, name: &str, until: Option<Timestamp>) -> Account {
    let new = NewAccount {
        valid_until: until,
        ..NewAccount::new(
            Email::parse(&format!("{name}@nord.example")).unwrap(),
            Name::parse(name).unwrap(),
        )
    };
    w.svc
        .create_account(
            &org.admin_caller,
            org.id(),
            new,
            &[BuiltinRole::Counsellor.id()],
        )
        .await
        .unwrap()
}

/// The audit events about `a` the engine wrote (actor `system`), oldest first.
async fn system_events(w: &World, org: &Org, a: &Account) -> Vec<AuditEvent> {
    w.store
        .audit_events(org.id(), 0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, e)| e)
        .filter(|e| e.actor == AuditActor::System && e.object == AuditObject::Account(a.id))
        .collect()
}

fn counts(r: &RetentionReport) -> [u64; 4] {
    [
        r.accounts_deactivated,
        r.accounts_kept,
        r.accounts_pseudonymised,
        r.accounts_anonymised,
    ]
}

/// When an account created now is due at the `inactive_accounts` deadline.
fn inactive_due(created: Timestamp) -> Timestamp {
    created.plus(INACTIVE).plus(Account::LAST_ACTIVE_RESOLUTION)
}

#[tokio::test]
async fn an_inactive_account_past_its_exit_date_is_deactivated_then_anonymised_in_one_run() {
    let w = World::new();
    let mut s = TenantSettings::default();
    s.retention.inactive_accounts = Some(INACTIVE);
    s.retention.anonymise_after_exit = Some(days(10));
    let org = w.org_with("Nord", s).await;
    let created = w.now();
    let lea = counsellor(&w, &org, "lea", Some(created.plus(days(1)))).await;
    // The exit date plus ten days lies well before the inactivity deadline.
    w.clock.set(inactive_due(created));

    let r = run(&w, &org).await;
    // The admin, as inactive, is the last administrator and stays.
    assert_eq!(counts(&r), [1, 1, 0, 1]);
    assert_eq!(r.commits, 2, "one commit per account step");
    assert!(matches!(
        status(&w, &org, &lea).await,
        AccountStatus::Pseudonymised { .. }
    ));
    let kinds: Vec<AuditKind> = system_events(&w, &org, &lea)
        .await
        .iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            AuditKind::AccountDeactivated,
            AuditKind::AccountPseudonymised
        ]
    );
    let last = system_events(&w, &org, &lea).await.pop().unwrap();
    assert_eq!(
        last.changes,
        [Change::new(
            "status",
            Some("deactivated"),
            Some("pseudonymised")
        )],
        "anonymised from the status step 6 left"
    );
    assert_eq!(counts(&run(&w, &org).await), [0, 1, 0, 0], "idempotent");
}

#[tokio::test]
async fn with_no_delay_an_account_deactivated_for_inactivity_is_pseudonymised_in_the_same_run() {
    let w = World::new();
    let mut s = TenantSettings::default();
    s.retention.inactive_accounts = Some(INACTIVE);
    s.retention.pseudonymise_after = Duration::ZERO;
    s.retention.anonymise_after_exit = Some(days(10));
    let org = w.org_with("Nord", s).await;
    let created = w.now();
    // Past its exit date too: pseudonymised at step 7, so step 8 finds nothing.
    let lea = counsellor(&w, &org, "lea", Some(created.plus(days(1)))).await;
    let max = counsellor(&w, &org, "max", None).await;
    w.clock
        .set(inactive_due(created).minus(Duration::from_millis(1)));
    assert_eq!(counts(&run(&w, &org).await), [0, 0, 0, 1], "only the exit");
    assert_eq!(status(&w, &org, &max).await, AccountStatus::Active);

    w.clock.set(inactive_due(created));
    let r = run(&w, &org).await;
    assert_eq!(counts(&r), [1, 1, 1, 0]);
    assert_eq!(r.commits, 2, "the deactivation, then the pseudonymisation");
    assert_eq!(
        status(&w, &org, &max).await,
        AccountStatus::Pseudonymised {
            at: inactive_due(created)
        }
    );
    let events = system_events(&w, &org, &max).await;
    assert_eq!(
        events.iter().map(|e| e.kind).collect::<Vec<_>>(),
        [
            AuditKind::AccountDeactivated,
            AuditKind::AccountPseudonymised
        ]
    );
    assert_eq!(
        events[1].changes,
        [Change::new(
            "status",
            Some("deactivated"),
            Some("pseudonymised")
        )]
    );
    assert!(matches!(
        status(&w, &org, &lea).await,
        AccountStatus::Pseudonymised { .. }
    ));
}

#[tokio::test]
async fn every_account_is_reached_across_pages() {
    let w = World::new();
    let mut s = TenantSettings::default();
    s.retention.inactive_accounts = Some(INACTIVE);
    let org = w.org_with("Nord", s).await;
    let created = w.now();
    // With the admin, 201 accounts: one full page of 200 and one more.
    let mut all = Vec::new();
    for n in 0..200 {
        all.push(counsellor(&w, &org, &format!("c{n}"), None).await);
    }
    w.clock.set(inactive_due(created));
    assert_eq!(counts(&run(&w, &org).await), [200, 1, 0, 0]);
    for a in [&all[0], &all[199]] {
        assert!(matches!(
            status(&w, &org, a).await,
            AccountStatus::Deactivated { .. }
        ));
    }
    assert_eq!(counts(&run(&w, &org).await), [0, 1, 0, 0], "idempotent");
}

#[tokio::test]
async fn without_inactivity_or_exit_deadlines_only_due_accounts_are_pseudonymised() {
    let w = World::new();
    let mut s = TenantSettings::default();
    s.retention.inactive_accounts = None;
    s.retention.anonymise_after_exit = None;
    let org = w.org_with("Nord", s).await;
    let start = w.now();
    let lea = counsellor(&w, &org, "lea", None).await;
    let max = counsellor(&w, &org, "max", Some(start.plus(days(1)))).await;
    w.svc
        .deactivate_account(
            &org.admin_caller,
            org.id(),
            lea.id,
            Some(start.plus(days(2))),
        )
        .await
        .unwrap();

    w.clock
        .set(start.plus(days(2)).minus(Duration::from_millis(1)));
    assert_eq!(counts(&run(&w, &org).await), [0, 0, 0, 0]);
    w.clock.set(start.plus(days(5000)));
    assert_eq!(counts(&run(&w, &org).await), [0, 0, 1, 0]);
    assert!(matches!(
        status(&w, &org, &lea).await,
        AccountStatus::Pseudonymised { .. }
    ));
    // Long past its exit date and never seen again, yet no deadline asks for it.
    assert_eq!(status(&w, &org, &max).await, AccountStatus::Active);
    assert_eq!(counts(&run(&w, &org).await), [0, 0, 0, 0], "idempotent");
}
