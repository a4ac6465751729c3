//! Tenant isolation and placement, tenant settings with their audit, explained
//! decisions (R-T1..R-T3, R-U1, R-U3).

use super::*;

#[tokio::test]
async fn r_t1_r_u3_cross_tenant_requests_are_denied_and_become_incidents_in_both_tenants() {
    let w = World::new();
    let nord = w.org("Nord").await;
    let sued = w.org("Sued").await;
    let (_, cora) = w.member(&nord, "Cora", BuiltinRole::Counsellor).await;
    let s = server_session(
        &w,
        &sued,
        &w.member(&sued, "Sam", BuiltinRole::Counsellor).await.1,
    )
    .await;

    let r = w.svc.session(&cora, sued.id(), s.id).await;
    assert!(
        matches!(
            r,
            Err(Error::Denied {
                reason: DenyReason::TenantMismatch { .. },
                ..
            })
        ),
        "{r:?}"
    );
    // Admins of other tenants get nothing either.
    let r = w
        .svc
        .audit_trail(&nord.admin_caller, sued.id(), PageRequest::with_limit(10))
        .await;
    assert!(matches!(r, Err(Error::Denied { .. })), "{r:?}");

    // A session id of tenant Süd asked for inside tenant Nord does not exist there.
    let r = w.svc.session(&cora, nord.id(), s.id).await;
    assert!(matches!(r, Err(Error::NotFound { .. })), "{r:?}");

    for org in [&nord, &sued] {
        let incidents = w
            .svc
            .incidents(&org.admin_caller, org.id(), PageRequest::with_limit(100))
            .await
            .unwrap()
            .items;
        assert_eq!(incidents.len(), 2, "{incidents:?}");
        assert!(incidents.iter().all(|i| matches!(
            i.kind,
            IncidentKind::CrossTenantAccess { actor_tenant, .. } if actor_tenant == nord.id()
        )));
        assert!(
            w.notifier
                .delivered()
                .iter()
                .any(|n| n.tenant == org.id() && n.kind == AuditKind::IncidentRecorded)
        );
    }
}

#[tokio::test]
async fn r_t2_tenants_live_in_their_region_store_only() {
    let de: Arc<MemoryStore> = Arc::new(MemoryStore::new());
    let ch: Arc<MemoryStore> = Arc::new(MemoryStore::new());
    let router = RegionRouter::new();
    router.add_region(Region::parse("DE").unwrap(), de.clone() as DynStore);
    router.add_region(Region::parse("CH").unwrap(), ch.clone() as DynStore);
    let svc = Counselling::new(Ports {
        router: Arc::new(router),
        keys: Arc::new(LocalKeyProvider::new()),
        clock: Arc::new(ManualClock::new(START)),
        mailer: Arc::new(MemoryMailer::new()),
        notifier: Arc::new(MemoryNotifier::new()),
        transport: Arc::new(MemoryTransport::new()),
        failures: Arc::new(MemoryFailureCounter::new()),
        blobs: Arc::new(cai_core::memory::MemoryBlobStore::new()),
        blocking: Arc::new(InlinePool),
    });
    let create = |region: &str, name: &str| NewTenant {
        name: Name::parse(name).unwrap(),
        region: Region::parse(region).unwrap(),
        settings: TenantSettings::default(),
    };
    let admin = || {
        NewAccount::new(
            Email::parse("a@x.example").unwrap(),
            Name::parse("A").unwrap(),
        )
    };
    let (zurich, _) = svc
        .create_tenant(create("CH", "Zürich"), admin())
        .await
        .unwrap();
    let (berlin, _) = svc
        .create_tenant(create("DE", "Berlin"), admin())
        .await
        .unwrap();
    assert!(ch.tenant(zurich.id).await.unwrap().is_some());
    assert!(de.tenant(zurich.id).await.unwrap().is_none());
    assert!(de.tenant(berlin.id).await.unwrap().is_some());
    assert!(ch.tenant(berlin.id).await.unwrap().is_none());
    let r = svc.create_tenant(create("US", "Nowhere"), admin()).await;
    assert!(r.is_err(), "an unknown region is never a fallback: {r:?}");
}

#[tokio::test]
async fn r_t3_r_u1_tenant_defaults_change_with_property_level_audit() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (_, cora) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let mut settings = org.tenant.settings.clone();
    settings.default_mode = SessionMode::EndToEnd;
    settings.retention.ip_logs = days(7);
    let r = w
        .svc
        .update_tenant_settings(&cora, org.id(), settings.clone())
        .await;
    assert_eq!(denied(&r), Some(DenyReason::NoPermission), "{r:?}");
    let mut bad = settings.clone();
    bad.retention.ip_logs = days(365);
    let r = w
        .svc
        .update_tenant_settings(&org.admin_caller, org.id(), bad)
        .await;
    assert!(matches!(r, Err(Error::Invalid { .. })), "{r:?}");

    let t = w
        .svc
        .update_tenant_settings(&org.admin_caller, org.id(), settings)
        .await
        .unwrap();
    assert_eq!(t.settings.default_mode, SessionMode::EndToEnd);
    let trail = w.store.audit_events(org.id(), 0, 1000).await.unwrap();
    let (_, event) = trail
        .iter()
        .find(|(_, e)| e.kind == AuditKind::TenantSettingsChanged)
        .unwrap();
    assert_eq!(
        event.actor,
        cai_core::domain::AuditActor::Subject(SubjectId::Account(org.admin.id))
    );
    assert_eq!(event.at, w.now());
    let mode = event
        .changes
        .iter()
        .find(|c| c.property == "settings.default_mode")
        .unwrap();
    assert_eq!(mode.before.as_deref(), Some("session_key"));
    assert_eq!(mode.after.as_deref(), Some("end_to_end"));
    assert!(
        event
            .changes
            .iter()
            .any(|c| c.property == "settings.retention")
    );
    let (action, why) = event.authorized.clone().unwrap();
    assert_eq!(action, Action::ManageTenant);
    assert!(why.contains("administrative"), "{why}");
    // Sequence numbers are dense and ordered.
    let seqs: Vec<u64> = trail.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    let _ = hours(1);
}

#[tokio::test]
async fn decisions_explain_themselves_for_debugging_custom_roles() {
    use cai_core::authz::{Decision, Rule};
    use cai_core::service::Target;
    let w = World::new();
    let org = w.org("Nord").await;
    let (cora, cora_caller) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let (ben, ben_caller) = w.member(&org, "Ben", BuiltinRole::Counsellor).await;
    let s = server_session(&w, &org, &cora_caller).await;

    let mine = w
        .svc
        .explain(
            &cora_caller,
            org.id(),
            SubjectId::Account(cora.id),
            Action::ReadContent,
            Target::Session(s.id),
        )
        .await
        .unwrap();
    assert!(
        matches!(
            mine,
            Decision::Allow {
                rule: Rule::Participant(cai_core::domain::ParticipantRole::Host),
                ..
            }
        ),
        "{mine}"
    );
    // An administrator explains another subject's access to what it may see itself:
    // a session it does not take part in does not exist for it (who takes part in a
    // session is not an administrator's business).
    let r = w
        .svc
        .explain(
            &org.admin_caller,
            org.id(),
            SubjectId::Account(ben.id),
            Action::ReadContent,
            Target::Session(s.id),
        )
        .await;
    assert!(
        matches!(r, Err(Error::NotFound { what: "session" })),
        "{r:?}"
    );
    let why = w
        .svc
        .explain(
            &org.admin_caller,
            org.id(),
            SubjectId::Account(ben.id),
            Action::ManageRoles,
            Target::Tenant,
        )
        .await
        .unwrap();
    assert_eq!(
        why,
        Decision::Deny {
            action: Action::ManageRoles,
            reason: DenyReason::NoPermission
        }
    );
    assert!(why.to_string().contains("no role grants"), "{why}");
    // Nor does it exist for a colleague asking about its own access to it.
    let r = w
        .svc
        .explain(
            &ben_caller,
            org.id(),
            SubjectId::Account(ben.id),
            Action::ReadContent,
            Target::Session(s.id),
        )
        .await;
    assert!(
        matches!(r, Err(Error::NotFound { what: "session" })),
        "{r:?}"
    );
    // Explaining someone else's access is an administrator's tool.
    let r = w
        .svc
        .explain(
            &ben_caller,
            org.id(),
            SubjectId::Account(cora.id),
            Action::ReadContent,
            Target::Session(s.id),
        )
        .await;
    assert_eq!(denied(&r), Some(DenyReason::NoPermission), "{r:?}");
}
