//! The audit trail, incidents and the notification outbox.

use crate::domain::AuditEvent;
use crate::id::{EventId, TenantId};
use crate::ports::{DynStore, Write};

use super::data::{self, assert_conflict, assert_missing, at, commit, commit_ok, read, rid};

/// Audit events get sequence numbers 1, 2, 3, … per tenant in commit order (within a
/// batch in write order); `audit_events` pages by `after_seq` and `limit`; event ids
/// are unique per tenant.
pub async fn audit_sequence(store: DynStore) {
    let (a, b): (TenantId, TenantId) = (rid(), rid());
    data::insert_tenants(&store, &[a, b]).await;
    let events_a: Vec<AuditEvent> = (0..5).map(|_| data::audit_event(a)).collect();
    let events_b: Vec<AuditEvent> = (0..2).map(|_| data::audit_event(b)).collect();
    let append = |events: &[AuditEvent]| -> Vec<Write> {
        events.iter().cloned().map(Write::AppendAudit).collect()
    };
    commit_ok(&store, a, append(&events_a[..3])).await;
    commit_ok(&store, b, append(&events_b)).await;
    commit_ok(&store, a, append(&events_a[3..])).await;

    let numbered = |events: &[AuditEvent], from: u64| -> Vec<(u64, AuditEvent)> {
        (from..).zip(events.iter().cloned()).collect()
    };
    assert_eq!(
        read(store.audit_events(a, 0, 100).await, "audit"),
        numbered(&events_a, 1)
    );
    assert_eq!(
        read(store.audit_events(b, 0, 100).await, "audit"),
        numbered(&events_b, 1)
    );
    assert_eq!(
        read(store.audit_events(a, 2, 2).await, "audit"),
        numbered(&events_a[2..4], 3)
    );
    assert_eq!(
        read(store.audit_events(a, 4, 100).await, "audit"),
        numbered(&events_a[4..], 5)
    );
    assert!(read(store.audit_events(a, 5, 100).await, "audit").is_empty());
    assert!(read(store.audit_events(a, 0, 0).await, "audit").is_empty());
    assert!(read(store.audit_events(rid(), 0, 100).await, "audit").is_empty());

    // An event id is stored once per tenant; the failed append takes no number.
    assert_conflict(
        commit(&store, a, vec![Write::AppendAudit(events_a[0].clone())]).await,
        "appending an event id twice",
    );
    let next = data::audit_event(a);
    commit_ok(&store, a, vec![Write::AppendAudit(next.clone())]).await;
    assert_eq!(
        read(store.audit_events(a, 5, 100).await, "audit"),
        vec![(6, next)]
    );
}

/// `erase_origins_before` clears request id and client address of the entries
/// recorded strictly before the time, in that tenant only; the rest of each entry and
/// the numbering stay; a second erasure changes nothing.
pub async fn erase_origins(store: DynStore) {
    let (a, b): (TenantId, TenantId) = (rid(), rid());
    data::insert_tenants(&store, &[a, b]).await;
    let origin = crate::domain::RequestMeta {
        id: Some(crate::domain::RequestId::parse("req-7").expect("a valid request id")),
        client: Some(std::net::IpAddr::from([192, 0, 2, 7])),
    };
    let event = |tenant, millis| AuditEvent {
        at: at(millis),
        request: origin,
        ..data::audit_event(tenant)
    };
    let old = event(a, 1_000);
    let boundary = event(a, 2_000);
    let elsewhere = event(b, 1_000);
    commit_ok(
        &store,
        a,
        vec![
            Write::AppendAudit(old.clone()),
            Write::AppendAudit(boundary.clone()),
        ],
    )
    .await;
    commit_ok(&store, b, vec![Write::AppendAudit(elsewhere.clone())]).await;

    let changed = read(
        store.erase_origins_before(a, at(2_000)).await,
        "erase origins",
    );
    assert_eq!(changed, 1, "only the entry strictly before the time");
    let events = read(store.audit_events(a, 0, 10).await, "audit");
    let erased = AuditEvent {
        request: crate::domain::RequestMeta::default(),
        ..old
    };
    assert_eq!(events, vec![(1, erased), (2, boundary)]);
    assert_eq!(
        read(store.audit_events(b, 0, 10).await, "audit"),
        vec![(1, elsewhere)],
        "another tenant's entries keep their origin"
    );
    assert_eq!(
        read(
            store.erase_origins_before(a, at(2_000)).await,
            "erase origins"
        ),
        0
    );
}

/// `erase_login_records_before` clears `changes` and origin of login entries
/// (`login_succeeded`, `login_failed`) recorded strictly before the time, in that
/// tenant only; entries of other kinds, ids, times and the numbering stay; a second
/// erasure changes nothing.
pub async fn erase_login_records(store: DynStore) {
    use crate::domain::{AuditKind, Change, RequestMeta};
    let (a, b): (TenantId, TenantId) = (rid(), rid());
    data::insert_tenants(&store, &[a, b]).await;
    let event = |tenant, millis, kind| AuditEvent {
        at: at(millis),
        kind,
        changes: vec![Change::new("login", None::<String>, Some("failed"))],
        request: RequestMeta {
            id: None,
            client: Some(std::net::IpAddr::from([192, 0, 2, 9])),
        },
        ..data::audit_event(tenant)
    };
    let ok = event(a, 1_000, AuditKind::LoginSucceeded);
    let failed = event(a, 1_999, AuditKind::LoginFailed);
    let boundary = event(a, 2_000, AuditKind::LoginFailed);
    let other_kind = event(a, 1_000, AuditKind::AccountUpdated);
    let elsewhere = event(b, 1_000, AuditKind::LoginFailed);
    commit_ok(
        &store,
        a,
        [&ok, &failed, &boundary, &other_kind]
            .map(|e| Write::AppendAudit(e.clone()))
            .to_vec(),
    )
    .await;
    commit_ok(&store, b, vec![Write::AppendAudit(elsewhere.clone())]).await;

    let changed = read(
        store.erase_login_records_before(a, at(2_000)).await,
        "erase login records",
    );
    assert_eq!(changed, 2, "login entries strictly before the time");
    let erased = |e: &AuditEvent| AuditEvent {
        changes: vec![],
        request: RequestMeta::default(),
        ..e.clone()
    };
    assert_eq!(
        read(store.audit_events(a, 0, 10).await, "audit"),
        vec![
            (1, erased(&ok)),
            (2, erased(&failed)),
            (3, boundary),
            (4, other_kind)
        ]
    );
    assert_eq!(
        read(store.audit_events(b, 0, 10).await, "audit"),
        vec![(1, elsewhere)],
        "another tenant's login records stay"
    );
    assert_eq!(
        read(
            store.erase_login_records_before(a, at(2_000)).await,
            "erase login records"
        ),
        0
    );
}

/// `erase_subject_parts` clears `changes` and origin of the entries the subject made
/// or that are about it (an account or a guest object), in that tenant only; other
/// entries and the numbering stay; a second erasure changes nothing.
pub async fn erase_subject_parts(store: DynStore) {
    use crate::domain::{AuditActor, AuditObject, Change, RequestMeta};
    use crate::id::{AccountId, GuestId, SubjectId};
    let (t, other): (TenantId, TenantId) = (rid(), rid());
    data::insert_tenants(&store, &[t, other]).await;
    let (person, guest, bystander): (AccountId, GuestId, AccountId) = (rid(), rid(), rid());
    let origin = RequestMeta {
        id: None,
        client: Some(std::net::IpAddr::from([192, 0, 2, 8])),
    };
    let event = |tenant, actor, object| AuditEvent {
        actor,
        object,
        changes: vec![Change::new(
            "email",
            Some("old@x.example"),
            Some("new@x.example"),
        )],
        request: origin,
        ..data::audit_event(tenant)
    };
    let by = event(
        t,
        AuditActor::Subject(SubjectId::Account(person)),
        AuditObject::Tenant(t),
    );
    let about = event(t, AuditActor::Operator, AuditObject::Account(person));
    let about_guest = event(t, AuditActor::Operator, AuditObject::Guest(guest));
    let unrelated = event(
        t,
        AuditActor::Subject(SubjectId::Account(bystander)),
        AuditObject::Account(bystander),
    );
    let elsewhere = event(other, AuditActor::Operator, AuditObject::Account(person));
    let writes = [&by, &about, &about_guest, &unrelated]
        .into_iter()
        .cloned()
        .map(Write::AppendAudit)
        .collect();
    commit_ok(&store, t, writes).await;
    commit_ok(&store, other, vec![Write::AppendAudit(elsewhere.clone())]).await;

    let erase = |subject| store.erase_subject_parts(t, subject);
    assert_eq!(
        read(erase(SubjectId::Account(person)).await, "erase subject"),
        2
    );
    assert_eq!(
        read(erase(SubjectId::Guest(guest)).await, "erase subject"),
        1
    );
    assert_eq!(
        read(erase(SubjectId::Account(person)).await, "erase subject"),
        0
    );
    let bare = |e: &AuditEvent| AuditEvent {
        changes: vec![],
        request: RequestMeta::default(),
        ..e.clone()
    };
    assert_eq!(
        read(store.audit_events(t, 0, 10).await, "audit"),
        vec![
            (1, bare(&by)),
            (2, bare(&about)),
            (3, bare(&about_guest)),
            (4, unrelated)
        ]
    );
    assert_eq!(
        read(store.audit_events(other, 0, 10).await, "audit"),
        vec![(1, elsewhere)]
    );
}

/// Incidents are numbered 1, 2, 3, … in commit order and listed newest first, before
/// a sequence number, at most `limit`, per tenant; an incident id is recorded once.
pub async fn incidents(store: DynStore) {
    let (a, b): (TenantId, TenantId) = (rid(), rid());
    data::insert_tenants(&store, &[a, b]).await;
    let recorded: Vec<_> = (0..4).map(|n| data::incident(a, at(1_000 * n))).collect();
    commit_ok(&store, a, vec![Write::RecordIncident(recorded[0].clone())]).await;
    commit_ok(
        &store,
        a,
        recorded[1..]
            .iter()
            .cloned()
            .map(Write::RecordIncident)
            .collect(),
    )
    .await;
    let other = data::incident(b, at(500));
    commit_ok(&store, b, vec![Write::RecordIncident(other.clone())]).await;

    let numbered: Vec<(u64, _)> = recorded
        .iter()
        .cloned()
        .enumerate()
        .map(|(n, i)| (n as u64 + 1, i))
        .rev()
        .collect();
    assert_eq!(
        read(store.incidents(a, None, 100).await, "incidents"),
        numbered
    );
    assert_eq!(
        read(store.incidents(a, None, 2).await, "incidents"),
        numbered[..2].to_vec()
    );
    // Paging on: those numbered below the last one seen.
    assert_eq!(
        read(store.incidents(a, Some(3), 100).await, "incidents"),
        numbered[2..].to_vec()
    );
    assert!(read(store.incidents(a, Some(1), 100).await, "incidents").is_empty());
    assert!(read(store.incidents(a, None, 0).await, "incidents").is_empty());
    assert_eq!(
        read(store.incidents(b, None, 100).await, "incidents"),
        vec![(1, other)]
    );
    assert_conflict(
        commit(&store, a, vec![Write::RecordIncident(recorded[1].clone())]).await,
        "recording an incident twice",
    );
    assert_eq!(
        read(store.incidents(a, None, 100).await, "incidents").len(),
        4
    );
}

/// Queued notifications are pending, oldest first, until marked delivered; marking
/// an unknown one is `Missing` and undoes the rest of its batch; each tenant has its
/// own outbox.
pub async fn notification_outbox(store: DynStore) {
    let (a, b): (TenantId, TenantId) = (rid(), rid());
    data::insert_tenants(&store, &[a, b]).await;
    let admins = [rid(), rid()];
    let queued: Vec<_> = (0..3)
        .map(|_| data::notification(&data::audit_event(a), &admins))
        .collect();
    // Queued in the same batch as the event it reports, as the service does.
    for n in &queued {
        let mut event = data::audit_event(a);
        event.id = n.event;
        commit_ok(
            &store,
            a,
            vec![
                Write::AppendAudit(event),
                Write::QueueNotification(n.clone()),
            ],
        )
        .await;
    }
    let in_b = data::notification(&data::audit_event(b), &[]);
    commit_ok(&store, b, vec![Write::QueueNotification(in_b.clone())]).await;

    assert_eq!(
        read(store.pending_notifications(a, 100).await, "pending"),
        queued
    );
    assert_eq!(
        read(store.pending_notifications(a, 2).await, "pending"),
        queued[..2].to_vec()
    );
    assert!(read(store.pending_notifications(a, 0).await, "pending").is_empty());
    assert_eq!(
        read(store.pending_notifications(b, 100).await, "pending"),
        vec![in_b.clone()]
    );
    assert_conflict(
        commit(&store, a, vec![Write::QueueNotification(queued[0].clone())]).await,
        "queueing an event twice",
    );

    commit_ok(&store, a, vec![Write::MarkNotified(queued[1].event)]).await;
    let pending = vec![queued[0].clone(), queued[2].clone()];
    assert_eq!(
        read(store.pending_notifications(a, 100).await, "pending"),
        pending
    );

    // Unknown: another tenant's event, or none at all. The batch is undone.
    for unknown in [in_b.event, rid::<EventId>()] {
        assert_missing(
            commit(
                &store,
                a,
                vec![
                    Write::MarkNotified(queued[0].event),
                    Write::MarkNotified(unknown),
                ],
            )
            .await,
            "marking an unknown notification",
        );
        assert_eq!(
            read(store.pending_notifications(a, 100).await, "pending"),
            pending
        );
    }
    assert_eq!(
        read(store.pending_notifications(b, 100).await, "pending"),
        vec![in_b]
    );

    commit_ok(
        &store,
        a,
        vec![
            Write::MarkNotified(queued[0].event),
            Write::MarkNotified(queued[2].event),
        ],
    )
    .await;
    assert!(read(store.pending_notifications(a, 100).await, "pending").is_empty());
    // Delivery is recorded in the outbox only: the audit trail keeps every event.
    assert_eq!(read(store.audit_events(a, 0, 100).await, "audit").len(), 3);
}
