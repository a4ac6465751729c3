//! Downloads: authorized as reads, failing on a damaged stored stream; and an upload
//! whose commit loses a race.

use super::*;

#[tokio::test]
async fn downloads_are_authorized_as_reads() {
    let (w, org, cora) = setup().await;
    let t = org.id();
    let s = session(&w, &org, &cora, SessionMode::ServerManaged).await;
    let item = upload(&w, &org, &cora, s, 1000).await.unwrap();
    let message = w
        .svc
        .post_content(
            &cora,
            t,
            s,
            ContentKind::Message,
            cai_core::service::ContentBody::plain(b"hi".to_vec()),
        )
        .await
        .unwrap();
    let (_, otto) = w.member(&org, "Otto", BuiltinRole::Counsellor).await;
    let other_org = w.org("Süd").await;
    for caller in [otto, org.admin_caller, other_org.admin_caller] {
        let read = w
            .svc
            .read_content(&caller, t, s, item.id, None)
            .await
            .unwrap_err();
        let down = w
            .svc
            .download_file(&caller, t, s, item.id)
            .await
            .unwrap_err();
        assert_eq!(down.code(), read.code(), "{down:?} / {read:?}");
        assert_eq!(down.category(), read.category());
    }
    // An item of the session that is no upload, or one of another session.
    let e = w
        .svc
        .download_file(&cora, t, s, message.id)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Invalid { what: "item", .. }), "{e:?}");
    let s2 = session(&w, &org, &cora, SessionMode::ServerManaged).await;
    let e = w
        .svc
        .download_file(&cora, t, s2, item.id)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotFound { what: "item" }), "{e:?}");
}

#[tokio::test]
async fn a_cut_or_altered_stored_stream_fails_the_download_instead_of_ending_it() {
    let (w, org, cora) = setup().await;
    let t = org.id();
    let s = session(&w, &org, &cora, SessionMode::ServerManaged).await;
    let item = upload(&w, &org, &cora, s, 200_000).await.unwrap();
    let blob = item.blob.unwrap();
    let store = &w.svc.ports().blobs;
    let mut reader = store.get(t, blob).await.unwrap().unwrap();
    let sealed = read_all(reader.as_mut(), LIMIT).await.unwrap();

    let cut = sealed[..sealed.len() - 100].to_vec();
    let mut flipped = sealed.clone();
    flipped[150_000] ^= 1;
    for bad in [cut, flipped] {
        store
            .put(t, blob, LIMIT, &mut BytesChunks::new(bad))
            .await
            .unwrap();
        let mut d = w.svc.download_file(&cora, t, s, item.id).await.unwrap();
        let e = read_all(d.body.as_mut(), LIMIT).await.unwrap_err();
        assert!(matches!(e, BlobError::Backend(_)), "{e:?}");
    }
}

/// A source that, before its first chunk, has someone else post in the session: the
/// upload's commit then loses the race on the session's revision.
struct Racing {
    svc: Counselling,
    caller: Caller,
    tenant: TenantId,
    session: SessionId,
    inner: Pattern,
    raced: bool,
}

#[async_trait]
impl BlobChunks for Racing {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, BlobError> {
        if !self.raced {
            self.raced = true;
            self.svc
                .post_content(
                    &self.caller,
                    self.tenant,
                    self.session,
                    ContentKind::Message,
                    ContentBody::plain(b"meanwhile".to_vec()),
                )
                .await
                .unwrap();
        }
        self.inner.next_chunk().await
    }
}

#[tokio::test]
async fn an_upload_whose_commit_fails_deletes_its_blob() {
    let (w, org, cora) = setup().await;
    let t = org.id();
    let s = session(&w, &org, &cora, SessionMode::ServerManaged).await;
    let mut source = Racing {
        svc: w.svc.clone(),
        caller: cora,
        tenant: t,
        session: s,
        inner: Pattern::new(100_000),
        raced: false,
    };
    let e = w
        .svc
        .upload_file(&cora, t, s, ContentKind::File, plain("a.pdf"), &mut source)
        .await
        .unwrap_err();
    assert_eq!(e.category(), cai_core::ErrorCategory::Conflict, "{e:?}");
    assert!(
        source.raced && source.inner.at == 100_000,
        "the blob was written"
    );
    assert_eq!(items(&w, t, s).await.len(), 1, "only the message");
    assert!(blobs(&w, t).await.is_empty());
}
