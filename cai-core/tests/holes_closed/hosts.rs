//! What else was wrong before, and what hosts rely on: notifications, conflicts,
//! answer-alike, message editing, paging, error bodies.

use super::*;

// ---------------------------------------------------------------------------------------
// Also wrong before.

#[tokio::test]
async fn deactivated_admins_receive_no_notifications() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (gone, _) = w.member(&org, "Gone", BuiltinRole::TenantAdmin).await;
    w.svc
        .deactivate_account(&org.admin_caller, org.id(), gone.id, None)
        .await
        .unwrap();
    w.member(&org, "New", BuiltinRole::Counsellor).await;
    let last = w.notifier.delivered().pop().unwrap();
    assert_eq!(last.kind, AuditKind::RoleGranted);
    assert_eq!(last.recipients, vec![org.admin.id]);
}

#[tokio::test]
async fn adding_a_client_as_counsellor_is_a_conflict() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (_, cora) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let (both, both_caller) = w.member(&org, "Both", BuiltinRole::Counsellor).await;
    let s = w
        .svc
        .create_session(&cora, org.id(), ad_hoc())
        .await
        .unwrap()
        .session;
    // `Both` takes part as a client (through a room-less path: an accepted contact).
    let mut batch = cai_core::ports::Batch::new(org.id());
    batch.push(Write::PutParticipant(cai_core::domain::Participant {
        session: s.id,
        tenant: org.id(),
        subject: both_caller.subject,
        role: cai_core::domain::ParticipantRole::Client,
        joined_at: w.now(),
    }));
    cai_core::ports::Store::commit(w.store.as_ref(), batch)
        .await
        .unwrap();
    let r = w
        .svc
        .add_counsellor(&cora, org.id(), s.id, both.id, None)
        .await;
    assert!(matches!(r, Err(Error::Conflict { .. })), "{r:?}");
    assert_eq!(r.unwrap_err().http_status(), 409);
}

#[tokio::test]
async fn what_a_caller_may_not_see_answers_like_what_does_not_exist() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (_, cora) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let (_, ben) = w.member(&org, "Ben", BuiltinRole::Counsellor).await;
    let s = w
        .svc
        .create_session(&cora, org.id(), server_managed())
        .await
        .unwrap()
        .session;
    let unknown = cai_core::id::SessionId::random().unwrap();
    let seen = w.svc.session(&ben, org.id(), s.id).await.unwrap_err();
    let none = w.svc.session(&ben, org.id(), unknown).await.unwrap_err();
    assert_eq!(seen.to_string(), none.to_string());
    let seen = w
        .svc
        .post_content(&ben, org.id(), s.id, ContentKind::Message, plain("x"))
        .await
        .unwrap_err();
    let none = w
        .svc
        .post_content(&ben, org.id(), unknown, ContentKind::Message, plain("x"))
        .await
        .unwrap_err();
    assert_eq!(seen.to_string(), none.to_string());

    // A guest link for an unknown tenant answers like a wrong secret.
    let link = secret(
        guest_link(
            &w,
            &org,
            &cora,
            w.svc
                .create_session(&cora, org.id(), ad_hoc())
                .await
                .unwrap()
                .session
                .id,
        )
        .await,
    );
    let unknown_tenant = cai_core::id::TenantId::random().unwrap();
    let r = w
        .svc
        .join_as_guest(unknown_tenant, &link, Pseudonym::parse("Gast").unwrap())
        .await;
    assert!(matches!(r, Err(Error::NotAccepted)), "{r:?}");
}

#[tokio::test]
async fn chat_messages_are_edited_only_where_the_tenant_allows_and_every_version_stays() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (_, cora) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let s = w
        .svc
        .create_session(&cora, org.id(), server_managed())
        .await
        .unwrap()
        .session;
    let msg = w
        .svc
        .post_content(&cora, org.id(), s.id, ContentKind::Message, plain("helo"))
        .await
        .unwrap();
    let r = w
        .svc
        .edit_content(&cora, org.id(), s.id, msg.id, plain("hello"))
        .await;
    assert!(matches!(r, Err(Error::Invalid { .. })), "{r:?}");

    let mut settings = org.tenant.settings.clone();
    settings.allow_message_editing = true;
    w.svc
        .update_tenant_settings(&org.admin_caller, org.id(), settings)
        .await
        .unwrap();
    let edited = w
        .svc
        .edit_content(&cora, org.id(), s.id, msg.id, plain("hello"))
        .await
        .unwrap();
    assert_eq!(edited.latest_version, 2);
    let views = w
        .svc
        .read_items(&cora, org.id(), s.id, PageRequest::first())
        .await
        .unwrap();
    assert!(matches!(&views.items[0].body, ContentBody::Plain(p) if p.as_slice() == b"hello"));
    let old = w
        .svc
        .read_content(&cora, org.id(), s.id, msg.id, Some(1))
        .await
        .unwrap();
    assert!(matches!(&old.body, ContentBody::Plain(p) if p.as_slice() == b"helo"));
    let trail = w.store.audit_events(org.id(), 0, 1000).await.unwrap();
    assert!(
        trail
            .iter()
            .any(|(_, e)| e.kind == AuditKind::ContentEdited)
    );
}

#[tokio::test]
async fn listings_page_with_opaque_cursors() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (_, cora) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let mut made = Vec::new();
    for _ in 0..5 {
        made.push(
            w.svc
                .create_session(&cora, org.id(), server_managed())
                .await
                .unwrap()
                .session
                .id,
        );
    }
    let mut ids = Vec::new();
    let mut page = PageRequest::with_limit(2);
    loop {
        let got = w
            .svc
            .list_sessions(&cora, org.id(), page.clone())
            .await
            .unwrap();
        ids.extend(got.items.iter().map(|s| s.id));
        match got.next {
            Some(c) => {
                page = PageRequest {
                    cursor: Some(c),
                    limit: Some(2),
                    newest_first: None,
                }
            }
            None => break,
        }
    }
    made.reverse();
    assert_eq!(ids, made, "newest first, each once");

    // Items: newest first by default, oldest first on request; a cursor of one listing
    // is refused by another.
    let s = made[0];
    for n in 0..3 {
        w.svc
            .post_content(
                &cora,
                org.id(),
                s,
                ContentKind::Message,
                plain(&format!("m{n}")),
            )
            .await
            .unwrap();
    }
    let newest = w
        .svc
        .read_items(&cora, org.id(), s, PageRequest::with_limit(1))
        .await
        .unwrap();
    assert!(matches!(&newest.items[0].body, ContentBody::Plain(p) if p.as_slice() == b"m2"));
    let oldest = w
        .svc
        .read_items(
            &cora,
            org.id(),
            s,
            PageRequest {
                newest_first: Some(false),
                ..PageRequest::with_limit(1)
            },
        )
        .await
        .unwrap();
    assert!(matches!(&oldest.items[0].body, ContentBody::Plain(p) if p.as_slice() == b"m0"));
    let r = w
        .svc
        .list_sessions(&cora, org.id(), PageRequest::after(newest.next.unwrap()))
        .await;
    assert!(
        matches!(r, Err(Error::Invalid { what: "cursor", .. })),
        "{r:?}"
    );

    // Accounts and groups for administrators.
    let accounts = w
        .svc
        .list_accounts(&org.admin_caller, org.id(), PageRequest::first())
        .await
        .unwrap();
    assert_eq!(accounts.items.len(), 2);
    assert_eq!(accounts.items[0].id, org.admin.id, "oldest first");
    let r = w
        .svc
        .list_accounts(&cora, org.id(), PageRequest::first())
        .await;
    assert!(matches!(r, Err(Error::Denied { .. })), "{r:?}");
    w.svc
        .create_group(&org.admin_caller, org.id(), Name::parse("T").unwrap(), &[])
        .await
        .unwrap();
    assert_eq!(
        w.svc
            .list_groups(&org.admin_caller, org.id(), PageRequest::first())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
}

#[tokio::test]
async fn errors_map_to_categories_and_bodies_that_keep_internals_out() {
    let e = Error::KeyProvider("connection to kms.internal:9000 refused, token abc".into());
    let body = e.to_body();
    assert_eq!(body.category, ErrorCategory::Unavailable);
    assert_eq!(e.http_status(), 503);
    assert!(!body.message.contains("kms") && !body.message.contains("abc"));
    let e = Error::TooManyRequests {
        retry_after: std::time::Duration::from_millis(1001),
    };
    assert_eq!(e.to_body().retry_after_secs, Some(2));
    assert_eq!(e.http_status(), 429);
    assert_eq!(Error::NotAccepted.http_status(), 403);
    assert_eq!(Error::Unauthenticated.http_status(), 401);
    assert_eq!(
        Error::TooLarge {
            what: "x",
            limit: 1
        }
        .http_status(),
        413
    );
    assert_eq!(Error::NotFound { what: "session" }.http_status(), 404);
}

// ---------------------------------------------------------------------------------------
