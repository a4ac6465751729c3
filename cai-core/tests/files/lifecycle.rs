//! What removes a file's blob: deleting its item, retention (its session's content, the
//! `files` deadline), delete-on-close, and the orphan sweep.

use super::*;

#[tokio::test]
async fn deleting_an_item_deletes_its_blob() {
    let (w, org, cora) = setup().await;
    let s = session(&w, &org, &cora, SessionMode::ServerManaged).await;
    let item = upload(&w, &org, &cora, s, 5000).await.unwrap();
    let kept = upload(&w, &org, &cora, s, 5000).await.unwrap();
    w.svc
        .delete_content(&cora, org.id(), s, item.id)
        .await
        .unwrap();
    assert_eq!(blobs(&w, org.id()).await, vec![kept.blob.unwrap()]);
    let e = w
        .svc
        .download_file(&cora, org.id(), s, item.id)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotFound { what: "item" }), "{e:?}");
}

#[tokio::test]
async fn retention_and_delete_on_close_delete_the_blobs() {
    let (w, org, cora) = setup().await;
    let s = session(&w, &org, &cora, SessionMode::ServerManaged).await;
    for _ in 0..3 {
        upload(&w, &org, &cora, s, 1000).await.unwrap();
    }
    w.svc
        .post_content(
            &cora,
            org.id(),
            s,
            ContentKind::Message,
            cai_core::service::ContentBody::plain(b"hi".to_vec()),
        )
        .await
        .unwrap();
    w.svc.close_session(&cora, org.id(), s).await.unwrap();
    assert_eq!(blobs(&w, org.id()).await.len(), 3);
    w.clock.advance(days(30));
    let report = w
        .svc
        .run_retention(org.id(), RetentionLimits { batch: 2 })
        .await
        .unwrap();
    assert_eq!((report.items_deleted, report.blobs_deleted), (4, 3));
    assert!(blobs(&w, org.id()).await.is_empty());

    let new = NewSession {
        mode: Some(SessionMode::ServerManaged),
        on_close: Some(ContentRetention::DeleteOnClose),
        ..NewSession::classic()
    };
    let d = w
        .svc
        .create_session(&cora, org.id(), new)
        .await
        .unwrap()
        .session
        .id;
    let other = session(&w, &org, &cora, SessionMode::ServerManaged).await;
    upload(&w, &org, &cora, d, 1000).await.unwrap();
    let kept = upload(&w, &org, &cora, other, 1000).await.unwrap();
    w.svc.close_session(&cora, org.id(), d).await.unwrap();
    assert_eq!(blobs(&w, org.id()).await, vec![kept.blob.unwrap()]);
}

/// A blob id as the service mints one at `at`: UUIDv7 time from the clock port.
fn blob_at(at: cai_core::Timestamp) -> BlobId {
    let mut bytes = *BlobId::random().unwrap().as_bytes();
    bytes[..6].copy_from_slice(&at.unix_millis().to_be_bytes()[2..]);
    BlobId::from_bytes(bytes)
}

#[tokio::test]
async fn the_sweep_takes_old_orphans_only() {
    let (w, org, cora) = setup().await;
    let t = org.id();
    let s = session(&w, &org, &cora, SessionMode::ServerManaged).await;
    let item = upload(&w, &org, &cora, s, 1000).await.unwrap();
    let orphan = blob_at(w.now());
    let store = &w.svc.ports().blobs;
    store
        .put(t, orphan, 10, &mut BytesChunks::new(vec![1; 10]))
        .await
        .unwrap();

    // Within the grace period both stay: the orphan could be an upload under way.
    let sweep = w.svc.sweep_orphan_blobs(t).await.unwrap();
    assert_eq!((sweep.examined, sweep.recent, sweep.deleted), (2, 2, 0));

    // One millisecond short of the grace period: still kept.
    w.clock.advance(hours(24) - Duration::from_millis(1));
    let young = blob_at(w.now());
    w.svc
        .ports()
        .blobs
        .put(t, young, 10, &mut BytesChunks::new(vec![2; 10]))
        .await
        .unwrap();
    let sweep = w.svc.sweep_orphan_blobs(t).await.unwrap();
    assert_eq!((sweep.examined, sweep.recent, sweep.deleted), (3, 3, 0));
    w.clock.advance(Duration::from_millis(1));
    let sweep = w.svc.sweep_orphan_blobs(t).await.unwrap();
    let mut expected = BlobSweep::default();
    expected.examined = 3;
    expected.referenced = 1;
    expected.recent = 1;
    expected.deleted = 1;
    assert_eq!(sweep, expected);
    let mut left = blobs(&w, t).await;
    left.sort();
    let mut want = vec![item.blob.unwrap(), young];
    want.sort();
    assert_eq!(left, want);
    // The referenced blob still downloads.
    let mut d = w.svc.download_file(&cora, t, s, item.id).await.unwrap();
    assert_eq!(read_all(d.body.as_mut(), 2000).await.unwrap().len(), 1000);

    let e = w
        .svc
        .sweep_orphan_blobs(TenantId::random().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotFound { what: "tenant" }), "{e:?}");
}

#[tokio::test]
async fn files_go_at_their_own_deadline_and_the_rest_of_the_session_stays() {
    let w = world();
    let mut settings = TenantSettings::default();
    settings.retention.files = Some(days(7));
    settings.retention.session_content = None;
    settings.retention.inactive_sessions = None;
    let org = w.org_with("Nord", settings).await;
    let (_, cora) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let s = session(&w, &org, &cora, SessionMode::ServerManaged).await;
    let first = upload(&w, &org, &cora, s, 1_000).await.unwrap();
    let uploaded = w.now();
    w.clock.set(uploaded.plus(hours(1)));
    let second = upload(&w, &org, &cora, s, 1_000).await.unwrap();
    let message = w
        .svc
        .post_content(
            &cora,
            org.id(),
            s,
            ContentKind::Message,
            ContentBody::plain(b"stays".to_vec()),
        )
        .await
        .unwrap();
    let limits = RetentionLimits { batch: 1 };

    w.clock
        .set(uploaded.plus(days(7)).minus(Duration::from_millis(1)));
    let r = w.svc.run_retention(org.id(), limits).await.unwrap();
    assert_eq!((r.files_deleted, r.blobs_deleted), (0, 0));
    w.clock.set(uploaded.plus(days(7)));
    let r = w.svc.run_retention(org.id(), limits).await.unwrap();
    assert_eq!((r.files_deleted, r.blobs_deleted), (1, 1));
    assert_eq!(items(&w, org.id(), s).await, vec![second.id, message.id]);
    assert_eq!(blobs(&w, org.id()).await, vec![second.blob.unwrap()]);
    assert!(first.blob.is_some());
    w.clock.set(uploaded.plus(days(8)));
    let r = w.svc.run_retention(org.id(), limits).await.unwrap();
    assert_eq!((r.files_deleted, r.commits), (1, 1));
    assert!(blobs(&w, org.id()).await.is_empty());
    assert_eq!(items(&w, org.id(), s).await, vec![message.id]);
}
