//! Holes 7 and 8: wrong room passwords are throttled and reported; incidents page newest
//! first.

use super::*;

// 7. Brute force on room passwords is detected, slowed and reported (R-U3).

#[tokio::test]
async fn hole_7_wrong_room_passwords_are_throttled_and_reported() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (_, cora) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let (_, kim) = w.member(&org, "Kim", BuiltinRole::Client).await;
    let r = w
        .svc
        .create_room(&cora, org.id(), room("the password", RoomContent::Keep))
        .await
        .unwrap();
    let from = RequestMeta {
        id: Some(RequestId::parse("req-1").unwrap()),
        client: Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7))),
    };
    let attacker = kim.with_request(from);
    let free = cai_core::throttle::ThrottlePolicy::default().free_attempts;
    for _ in 0..free {
        let e = w
            .svc
            .enter_room(&attacker, org.id(), r.id, "guess guess")
            .await;
        assert!(matches!(e, Err(Error::NotAccepted)), "{e:?}");
    }
    assert!(
        w.store
            .incidents(org.id(), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let notified = w.notifier.delivered().len();
    // One more: still "not accepted", now throttled and reported once.
    let e = w
        .svc
        .enter_room(&attacker, org.id(), r.id, "guess guess")
        .await;
    assert!(matches!(e, Err(Error::NotAccepted)), "{e:?}");
    let incidents = w.store.incidents(org.id(), None, 10).await.unwrap();
    assert_eq!(incidents.len(), 1);
    assert!(matches!(
        &incidents[0].1.kind,
        IncidentKind::RepeatedWrongSecret { attempts, source: Some(src), .. }
            if *attempts == free + 1 && src == "203.0.113.7"
    ));
    assert_eq!(w.notifier.delivered().len(), notified + 1);
    // Blocked: even the right password is turned away until the wait is over …
    let e = w
        .svc
        .enter_room(&attacker, org.id(), r.id, "the password")
        .await;
    let Err(Error::TooManyRequests { retry_after }) = e else {
        panic!("{e:?}");
    };
    assert_eq!(
        e.as_ref().unwrap_err().category(),
        ErrorCategory::TooManyRequests
    );
    // … the block grows with further failures and is reported only once per burst.
    w.clock.advance(retry_after);
    let e = w
        .svc
        .enter_room(&attacker, org.id(), r.id, "guess guess")
        .await;
    assert!(matches!(e, Err(Error::NotAccepted)), "{e:?}");
    let e = w
        .svc
        .enter_room(&attacker, org.id(), r.id, "the password")
        .await;
    let Err(Error::TooManyRequests {
        retry_after: longer,
    }) = e
    else {
        panic!("{e:?}");
    };
    assert!(longer > retry_after, "{longer:?} > {retry_after:?}");
    assert_eq!(
        w.store.incidents(org.id(), None, 10).await.unwrap().len(),
        1
    );
    // The audit trail carries the request metadata of every wrong guess.
    let trail = w.store.audit_events(org.id(), 0, 1000).await.unwrap();
    assert!(
        trail
            .iter()
            .filter(|(_, e)| e.kind == AuditKind::AccessDenied)
            .all(|(_, e)| e.request == from)
    );
    w.clock.advance(longer);
    w.svc
        .enter_room(&attacker, org.id(), r.id, "the password")
        .await
        .unwrap();
}

// ---------------------------------------------------------------------------------------
// 8. Incidents page, newest first: a flood cannot hide the latest.

#[tokio::test]
async fn hole_8_incidents_are_paged_newest_first() {
    let w = World::new();
    let nord = w.org("Nord").await;
    let sued = w.org("Sued").await;
    let (cora, _) = w.member(&nord, "Cora", BuiltinRole::Counsellor).await;
    // Cora's login stays fresh while the clock moves on below.
    let cora = || w.caller(nord.id(), SubjectId::Account(cora.id), false);
    // A burst of cross-tenant attempts is one incident, not one per request …
    for _ in 0..50 {
        let _ = w
            .svc
            .audit_trail(&cora(), sued.id(), PageRequest::first())
            .await;
    }
    let burst = w
        .svc
        .incidents(&sued.admin_caller, sued.id(), PageRequest::first())
        .await
        .unwrap();
    assert_eq!(burst.items.len(), 1);
    // … so 1,005 incidents take 1,005 bursts, an hour apart.
    for _ in 1..1005 {
        w.clock.advance(minutes(61));
        let _ = w
            .svc
            .audit_trail(&cora(), sued.id(), PageRequest::first())
            .await;
    }
    // Then something new.
    let (kim, _) = w.member(&sued, "Kim", BuiltinRole::Client).await;
    let kim = w.caller(sued.id(), SubjectId::Account(kim.id), false);
    let _ = w.svc.tenant(&kim, nord.id()).await;
    let admin = w.caller(sued.id(), SubjectId::Account(sued.admin.id), true);
    let first = w
        .svc
        .incidents(&admin, sued.id(), PageRequest::with_limit(10))
        .await
        .unwrap();
    assert_eq!(first.items.len(), 10);
    assert!(matches!(
        first.items[0].kind,
        IncidentKind::CrossTenantAccess { actor_tenant, .. } if actor_tenant == sued.id()
    ));
    // Paging on reaches the oldest; every page continues where the last ended.
    let mut seen = first.items.len();
    let mut next = first.next;
    let mut pages = 1;
    while let Some(cursor) = next {
        let page = w
            .svc
            .incidents(
                &admin,
                sued.id(),
                PageRequest {
                    cursor: Some(cursor),
                    limit: Some(200),
                    newest_first: None,
                },
            )
            .await
            .unwrap();
        seen += page.items.len();
        next = page.next;
        pages += 1;
        assert!(pages < 20, "paging does not end");
    }
    assert_eq!(seen, 1006);
}
