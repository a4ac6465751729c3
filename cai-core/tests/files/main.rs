//! Files and recordings (R-S4) on the in-memory ports: uploads stream into the blob
//! store sealed, downloads stream back, limits at and one past, interrupted uploads
//! leave nothing, deleting an item (or its session's content) deletes its blob, and the
//! orphan sweep takes unreferenced blobs past the grace period only.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "../common/mod.rs"]
mod common;
mod downloads;
mod lifecycle;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use cai_core::domain::{
    BuiltinRole, ContentKind, ContentRetention, SealedBody, SessionMode, TenantSettings,
};
use cai_core::id::{BlobId, ItemId, SessionId, TenantId};
use cai_core::memory::MemoryBlobStore;
use cai_core::ports::{
    BlobChunks, BlobError, BlobReader, BlobStore, BytesChunks, ContentStore, Page, read_all,
};
use cai_core::service::{
    BlobSweep, ContentBody, FileUpload, ItemIds, NewSession, PageRequest, RetentionLimits,
    ServiceConfig, SessionKeyMaterial,
};
use cai_core::{Caller, Counselling, Error, days, hours};
use cai_crypto::passphrase::Argon2Params;
use cai_crypto::{DataKey, KeyEpoch, envelope, stream};
use common::{Org, World};

/// The upload limit of these tests (bytes the source yields).
const LIMIT: u64 = 300_000;

/// A world whose service takes files up to [`LIMIT`] bytes.
fn world() -> World {
    let mut w = World::new();
    let config = ServiceConfig {
        room_password_params: Argon2Params::MINIMUM,
        max_file_len: LIMIT,
        ..ServiceConfig::default()
    };
    w.svc = Counselling::with_config(w.svc.ports().clone(), config);
    w
}

/// Deterministic bytes, made chunk by chunk so neither side holds the whole file.
struct Pattern {
    len: u64,
    at: u64,
    chunk: usize,
    /// Fail instead of yielding the chunk that starts at this offset.
    fail_at: Option<u64>,
}

impl Pattern {
    fn new(len: u64) -> Self {
        Self {
            len,
            at: 0,
            chunk: 64 * 1024 - 7,
            fail_at: None,
        }
    }

    fn byte(i: u64) -> u8 {
        (i.wrapping_mul(2_654_435_761) >> 13) as u8
    }
}

#[async_trait]
impl BlobChunks for Pattern {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, BlobError> {
        if self.fail_at.is_some_and(|f| self.at >= f) {
            return Err(BlobError::Source("connection reset".into()));
        }
        if self.at == self.len {
            return Ok(None);
        }
        let n = (self.len - self.at).min(self.chunk as u64);
        let chunk = (self.at..self.at + n).map(Pattern::byte).collect();
        self.at += n;
        Ok(Some(chunk))
    }
}

async fn setup() -> (World, Org, Caller) {
    let w = world();
    let mut settings = TenantSettings::default();
    settings.retention.session_content = Some(days(30));
    let org = w.org_with("Nord", settings).await;
    let (_, cora) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    (w, org, cora)
}

async fn session(w: &World, org: &Org, c: &Caller, mode: SessionMode) -> SessionId {
    let new = NewSession {
        mode: Some(mode),
        ..NewSession::classic()
    };
    w.svc
        .create_session(c, org.id(), new)
        .await
        .unwrap()
        .session
        .id
}

fn plain(name: &str) -> FileUpload {
    FileUpload::Plain {
        name: name.into(),
        media_type: "application/pdf".into(),
    }
}

async fn blobs(w: &World, tenant: TenantId) -> Vec<BlobId> {
    w.svc.ports().blobs.list(tenant, None, 1000).await.unwrap()
}

async fn items(w: &World, tenant: TenantId, s: SessionId) -> Vec<ItemId> {
    w.store
        .items(tenant, s, Page::first(1000))
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect()
}

async fn upload(
    w: &World,
    org: &Org,
    c: &Caller,
    s: SessionId,
    len: u64,
) -> cai_core::Result<cai_core::domain::ContentItem> {
    w.svc
        .upload_file(
            c,
            org.id(),
            s,
            ContentKind::File,
            plain("a.pdf"),
            &mut Pattern::new(len),
        )
        .await
}

/// A memory blob store that records the largest chunk a put pulled.
#[derive(Default)]
struct Watching {
    inner: MemoryBlobStore,
    largest: AtomicUsize,
}

/// A put's source, measured on the way through.
struct Measured<'a> {
    source: &'a mut dyn BlobChunks,
    largest: &'a AtomicUsize,
}

#[async_trait]
impl BlobChunks for Measured<'_> {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, BlobError> {
        let chunk = self.source.next_chunk().await?;
        if let Some(c) = &chunk {
            self.largest.fetch_max(c.len(), Ordering::Relaxed);
        }
        Ok(chunk)
    }
}

#[async_trait]
impl BlobStore for Watching {
    async fn put(
        &self,
        tenant: TenantId,
        blob: BlobId,
        max_len: u64,
        source: &mut dyn BlobChunks,
    ) -> Result<u64, BlobError> {
        let mut measured = Measured {
            source,
            largest: &self.largest,
        };
        self.inner.put(tenant, blob, max_len, &mut measured).await
    }
    async fn get(&self, tenant: TenantId, blob: BlobId) -> Result<Option<BlobReader>, BlobError> {
        self.inner.get(tenant, blob).await
    }
    async fn size(&self, tenant: TenantId, blob: BlobId) -> Result<Option<u64>, BlobError> {
        self.inner.size(tenant, blob).await
    }
    async fn delete(&self, tenant: TenantId, blob: BlobId) -> Result<(), BlobError> {
        self.inner.delete(tenant, blob).await
    }
    async fn list(
        &self,
        tenant: TenantId,
        after: Option<BlobId>,
        limit: u32,
    ) -> Result<Vec<BlobId>, BlobError> {
        self.inner.list(tenant, after, limit).await
    }
}

#[tokio::test]
async fn a_multi_mib_file_round_trips_sealed_and_in_chunks() {
    let mut w = world();
    let config = ServiceConfig {
        room_password_params: Argon2Params::MINIMUM,
        ..ServiceConfig::default()
    };
    let watching = Arc::new(Watching::default());
    let mut ports = w.svc.ports().clone();
    ports.blobs = watching.clone();
    w.svc = Counselling::with_config(ports, config);
    let org = w.org("Nord").await;
    let (_, cora) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let s = session(&w, &org, &cora, SessionMode::ServerManaged).await;
    let len = 5 * 1024 * 1024 + 123;

    let item = w
        .svc
        .upload_file(
            &cora,
            org.id(),
            s,
            ContentKind::Recording,
            FileUpload::Plain {
                name: "Gespräch.webm".into(),
                media_type: "video/webm".into(),
            },
            &mut Pattern::new(len),
        )
        .await
        .unwrap();
    assert_eq!(item.kind, ContentKind::Recording);
    // The service handed the store one sealed chunk at a time, never the file.
    let largest = watching.largest.load(Ordering::Relaxed);
    assert!(
        largest <= stream::HEADER_LEN + 64 * 1024 + 16,
        "largest chunk put: {largest}"
    );
    let blob = item.blob.expect("an upload names its blob");
    assert_eq!(blobs(&w, org.id()).await, vec![blob]);

    // What the blob store holds is the sealed stream, not the file.
    let stored = w.svc.ports().blobs.size(org.id(), blob).await.unwrap();
    let chunks = len.div_ceil(u64::from(stream::DEFAULT_CHUNK_SIZE));
    assert_eq!(stored, Some(stream::HEADER_LEN as u64 + len + 16 * chunks));
    let mut raw = w
        .svc
        .ports()
        .blobs
        .get(org.id(), blob)
        .await
        .unwrap()
        .unwrap();
    let first = raw.next_chunk().await.unwrap().unwrap();
    assert_eq!(first.get(..4), Some(&b"CAIS"[..]));
    assert_ne!(
        first.get(94..200),
        Some(&(94..200).map(Pattern::byte).collect::<Vec<_>>()[..])
    );

    // The download yields the plaintext chunk by chunk; compared as it comes.
    let mut d = w
        .svc
        .download_file(&cora, org.id(), s, item.id)
        .await
        .unwrap();
    let info = d
        .info
        .clone()
        .expect("server-managed downloads tell the manifest");
    assert_eq!(
        (info.name.as_str(), info.media_type.as_str(), info.size),
        ("Gespräch.webm", "video/webm", len)
    );
    assert!(d.manifest.is_none());
    let mut at = 0u64;
    while let Some(chunk) = d.body.next_chunk().await.unwrap() {
        assert!(
            chunk.len() <= 64 * 1024,
            "a download chunk is at most 64 KiB"
        );
        for (i, b) in chunk.iter().enumerate() {
            assert_eq!(*b, Pattern::byte(at + i as u64), "byte {}", at + i as u64);
        }
        at += chunk.len() as u64;
    }
    assert_eq!(at, len);
    assert_eq!(d.body.next_chunk().await.unwrap(), None);

    // The item's version is the manifest; it holds the file's key, so it is not
    // opened for readers even in a server-managed session.
    let view = w
        .svc
        .read_content(&cora, org.id(), s, item.id, None)
        .await
        .unwrap();
    let ContentBody::Sealed(manifest) = view.body else {
        panic!("an upload's manifest is never returned opened");
    };
    assert!(manifest.len() < 400);
    let page = w
        .svc
        .read_items(&cora, org.id(), s, PageRequest::default())
        .await
        .unwrap();
    assert!(matches!(page.items[0].body, ContentBody::Sealed(_)));
}

#[tokio::test]
async fn the_limit_takes_exactly_max_file_len_bytes() {
    let (w, org, cora) = setup().await;
    let s = session(&w, &org, &cora, SessionMode::ServerManaged).await;

    let at = upload(&w, &org, &cora, s, LIMIT).await.unwrap();
    let mut d = w
        .svc
        .download_file(&cora, org.id(), s, at.id)
        .await
        .unwrap();
    assert_eq!(
        read_all(d.body.as_mut(), LIMIT).await.unwrap().len() as u64,
        LIMIT
    );

    let past = upload(&w, &org, &cora, s, LIMIT + 1).await.unwrap_err();
    assert!(
        matches!(past, Error::TooLarge { what: "file", limit } if limit as u64 == LIMIT),
        "{past:?}"
    );
    assert_eq!(past.http_status(), 413);
    assert_eq!(blobs(&w, org.id()).await, vec![at.blob.unwrap()]);
    assert_eq!(items(&w, org.id(), s).await, vec![at.id]);

    // Client-sealed: the limit counts the sealed stream's bytes.
    let sk = session(&w, &org, &cora, SessionMode::SessionKey).await;
    let mut exact = sealed_stream(LIMIT as usize - stream::HEADER_LEN - 5 * 16);
    exact.resize(LIMIT as usize, 0);
    let ok = w
        .svc
        .upload_file(
            &cora,
            org.id(),
            sk,
            ContentKind::File,
            manifest_of(&w, &cora, &org, sk).await,
            &mut BytesChunks::new(exact.clone()),
        )
        .await
        .unwrap();
    exact.push(0);
    let past = w
        .svc
        .upload_file(
            &cora,
            org.id(),
            sk,
            ContentKind::File,
            manifest_of(&w, &cora, &org, sk).await,
            &mut BytesChunks::new(exact),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(past, Error::TooLarge { what: "file", .. }),
        "{past:?}"
    );
    assert_eq!(items(&w, org.id(), sk).await, vec![ok.id]);
    assert_eq!(blobs(&w, org.id()).await.len(), 2);
}

/// A stream as a client seals it (any key of its own; the server only checks the
/// header).
fn sealed_stream(plain_len: usize) -> Vec<u8> {
    let key = DataKey::generate(KeyEpoch::INITIAL).unwrap();
    let ids = ItemIds::new(
        TenantId::random().unwrap(),
        SessionId::random().unwrap(),
        ItemId::random().unwrap(),
    );
    let mut out = Vec::new();
    stream::seal_stream(
        &key,
        &ids.context(1, ContentKind::File),
        &vec![7u8; plain_len][..],
        &mut out,
    )
    .unwrap();
    out
}

/// A manifest sealed under a key of no session: refused before anything is stored
/// wherever the mode and rights let it that far.
fn manifest() -> FileUpload {
    manifest_under(&DataKey::generate(KeyEpoch::INITIAL).unwrap())
}

/// A manifest sealed under `key`, as a client seals it.
fn manifest_under(key: &DataKey) -> FileUpload {
    let ids = ItemIds::new(
        TenantId::random().unwrap(),
        SessionId::random().unwrap(),
        ItemId::random().unwrap(),
    );
    let sealed =
        envelope::seal(key, &ids.context(1, ContentKind::File), b"name, type, key").unwrap();
    FileUpload::Sealed(SealedBody::new(sealed).unwrap())
}

/// A manifest sealed under the current key of `s`, fetched as `who`.
async fn manifest_of(w: &World, who: &Caller, org: &Org, s: SessionId) -> FileUpload {
    match w.svc.session_keys(who, org.id(), s).await.unwrap() {
        SessionKeyMaterial::SessionKey(key) => manifest_under(&key),
        other => panic!("not a session-key session: {other:?}"),
    }
}

#[tokio::test]
async fn a_client_sealed_upload_is_stored_and_returned_as_it_came() {
    let (w, org, cora) = setup().await;
    let s = session(&w, &org, &cora, SessionMode::SessionKey).await;
    let sealed = sealed_stream(100_000);
    let FileUpload::Sealed(m) = manifest_of(&w, &cora, &org, s).await else {
        unreachable!()
    };
    let item = w
        .svc
        .upload_file(
            &cora,
            org.id(),
            s,
            ContentKind::File,
            FileUpload::Sealed(m.clone()),
            &mut BytesChunks::with_chunk_len(sealed.clone(), 1000),
        )
        .await
        .unwrap();
    let mut d = w
        .svc
        .download_file(&cora, org.id(), s, item.id)
        .await
        .unwrap();
    assert_eq!(d.manifest, Some(m));
    assert!(d.info.is_none());
    assert_eq!(read_all(d.body.as_mut(), LIMIT).await.unwrap(), sealed);

    // Not a sealed stream: refused, nothing stored.
    for junk in [
        b"plain text, not a stream".to_vec(),
        Vec::new(),
        sealed[..93].to_vec(),
    ] {
        let e = w
            .svc
            .upload_file(
                &cora,
                org.id(),
                s,
                ContentKind::File,
                manifest_of(&w, &cora, &org, s).await,
                &mut BytesChunks::new(junk),
            )
            .await
            .unwrap_err();
        assert_eq!(e.code(), "crypto", "{e:?}");
    }
    assert_eq!(items(&w, org.id(), s).await, vec![item.id]);
    assert_eq!(blobs(&w, org.id()).await, vec![item.blob.unwrap()]);
}

#[tokio::test]
async fn uploads_are_checked_before_a_byte_is_stored() {
    let (w, org, cora) = setup().await;
    let sm = session(&w, &org, &cora, SessionMode::ServerManaged).await;
    let sk = session(&w, &org, &cora, SessionMode::SessionKey).await;
    let t = org.id();
    let up = |s, kind, upload| {
        let w = &w;
        let cora = &cora;
        async move {
            w.svc
                .upload_file(cora, t, s, kind, upload, &mut Pattern::new(1000))
                .await
                .unwrap_err()
        }
    };
    assert!(matches!(
        up(sm, ContentKind::Message, plain("a")).await,
        Error::Invalid {
            what: "content kind",
            ..
        }
    ));
    assert!(matches!(
        up(sm, ContentKind::File, manifest()).await,
        Error::WrongMode { .. }
    ));
    assert!(matches!(
        up(sk, ContentKind::File, plain("a")).await,
        Error::WrongMode { .. }
    ));
    let bad_name = FileUpload::Plain {
        name: "a\nb".into(),
        media_type: "text/plain".into(),
    };
    assert!(matches!(
        up(sm, ContentKind::File, bad_name).await,
        Error::Invalid {
            what: "file name",
            ..
        }
    ));
    let long = FileUpload::Plain {
        name: "x".repeat(256),
        media_type: "text/plain".into(),
    };
    assert!(matches!(
        up(sm, ContentKind::File, long).await,
        Error::TooLarge {
            what: "file name",
            limit: 255
        }
    ));
    let at = FileUpload::Plain {
        name: "ü".repeat(127) + "x",
        media_type: "t/".to_owned() + &"x".repeat(125),
    };
    w.svc
        .upload_file(&cora, t, sm, ContentKind::File, at, &mut Pattern::new(10))
        .await
        .unwrap();
    let media = FileUpload::Plain {
        name: "a".into(),
        media_type: "t/".to_owned() + &"x".repeat(126),
    };
    assert!(matches!(
        up(sm, ContentKind::File, media).await,
        Error::TooLarge {
            what: "media type",
            limit: 127
        }
    ));

    // A stranger to the session learns nothing; a closed session takes nothing.
    let (_, other) = w.member(&org, "Otto", BuiltinRole::Counsellor).await;
    let e = w
        .svc
        .upload_file(
            &other,
            t,
            sm,
            ContentKind::File,
            plain("a"),
            &mut Pattern::new(10),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
    w.svc.close_session(&cora, t, sk).await.unwrap();
    let e = up(sk, ContentKind::File, manifest()).await;
    assert_eq!(e.category(), cai_core::ErrorCategory::Forbidden, "{e:?}");
    assert_eq!(blobs(&w, t).await.len(), 1);
}

#[tokio::test]
async fn an_interrupted_upload_leaves_no_item_and_no_blob() {
    let (w, org, cora) = setup().await;
    let s = session(&w, &org, &cora, SessionMode::ServerManaged).await;
    let mut source = Pattern::new(200_000);
    source.fail_at = Some(100_000);
    let e = w
        .svc
        .upload_file(
            &cora,
            org.id(),
            s,
            ContentKind::File,
            plain("a.pdf"),
            &mut source,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Invalid { what: "file", .. }), "{e:?}");
    assert!(source.at > 0, "the upload had started");
    assert!(items(&w, org.id(), s).await.is_empty());
    assert!(blobs(&w, org.id()).await.is_empty());
}
