//! Files and recordings (R-S4, R-T2): uploads streamed into the [`BlobStore`] as sealed
//! streams (`docs/STREAM.md`), never held whole in memory, each a content item whose
//! one version is a small sealed *manifest* and whose [`ContentItem::blob`] names the
//! blob. `docs/CORE.md`, "Files", is the caller's account of all this.
//!
//! Order of writes: the blob first, then the item. A crash or a failed commit between
//! the two leaves at most a blob no item refers to (an *orphan*, deleted by
//! [`Counselling::sweep_orphan_blobs`]), never an item without its blob. Deleting an
//! item goes the other way: the row first, then the blob.
//!
//! [`BlobStore`]: crate::ports::BlobStore

mod chunks;
mod manifest;

use std::time::Duration;

use cai_crypto::modes::SessionMode;
use cai_crypto::stream::StreamSealer;
use cai_crypto::{ContentKind, DataKey, KeyEpoch, envelope};
use zeroize::Zeroizing;

use self::chunks::{Checked, Opening, Sealing, Shared, blob_error, sealed_len};
pub use self::manifest::{FileInfo, MAX_FILE_NAME_LEN, MAX_MEDIA_TYPE_LEN};
use self::manifest::{check_info, decode_manifest, encode_manifest, too_large};
use super::content::descriptor_in_place;
use super::context::ItemIds;
use super::{Caller, Counselling};
use crate::authz::Action;
use crate::domain::{Change, ContentItem, SealedBody};
use crate::error::{Error, Result};
use crate::id::{BlobId, ItemId, SessionId, TenantId};
use crate::ports::{BlobChunks, BlobError, BlobReader, DynStore, Page, StoreError};
use crate::time::Timestamp;

/// What an upload carries besides its bytes.
pub enum FileUpload {
    /// Server-managed sessions: the file's name and media type. The source yields the
    /// plaintext, which the service seals as a stream under a fresh key of the file's
    /// own; the manifest (name, media type, size, blob and that key) is sealed under
    /// the session key.
    Plain {
        /// The file name (1..=[`MAX_FILE_NAME_LEN`] bytes, no control characters).
        name: String,
        /// The media type (1..=[`MAX_MEDIA_TYPE_LEN`] bytes of printable ASCII).
        media_type: String,
    },
    /// Every other mode: the client's sealed manifest (an envelope, kept as the item's
    /// version 1). The source yields the client's sealed stream (`CAIS`), stored as it
    /// is; the server checks its header, nothing more.
    Sealed(SealedBody),
}

impl std::fmt::Debug for FileUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // The name and type are content: not for logs.
            FileUpload::Plain { .. } => f.write_str("Plain(<redacted>)"),
            FileUpload::Sealed(m) => f.debug_tuple("Sealed").field(m).finish(),
        }
    }
}

/// A file being downloaded.
pub struct FileDownload {
    /// The item.
    pub item: ContentItem,
    /// Server-managed sessions: what the manifest says. `None` in other modes.
    pub info: Option<FileInfo>,
    /// Other modes: the client-sealed manifest, for the client to open. `None` in
    /// server-managed sessions.
    pub manifest: Option<SealedBody>,
    /// The body in chunks: plaintext in server-managed sessions (provisional until the
    /// reader ends with `Ok(None)`: a stream that does not open fails the read, and
    /// what was read before must then be discarded), the sealed stream otherwise.
    pub body: BlobReader,
}

impl std::fmt::Debug for FileDownload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileDownload")
            .field("item", &self.item)
            .field("info", &self.info)
            .field("manifest", &self.manifest)
            .finish_non_exhaustive()
    }
}

/// What one orphan sweep did. JSON: the field names, counts as numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct BlobSweep {
    /// Blobs looked at.
    pub examined: u64,
    /// Blobs an item refers to (kept).
    pub referenced: u64,
    /// Blobs no item refers to but younger than the grace period (kept: an upload may
    /// be under way).
    pub recent: u64,
    /// Orphans deleted.
    pub deleted: u64,
}

/// A fresh blob id whose UUIDv7 millisecond time (its first 48 bits, `crate::id`) is
/// the clock port's `now`, the rest random: the sweep measures a blob's age on the
/// same clock as everything else.
fn mint_blob(now: Timestamp) -> Result<BlobId> {
    let mut bytes = *BlobId::random()?.as_bytes();
    let millis = now.unix_millis().to_be_bytes();
    for (b, m) in bytes.iter_mut().zip(millis.iter().skip(2)) {
        *b = *m;
    }
    Ok(BlobId::from_bytes(bytes))
}

/// When the service minted `blob` ([`mint_blob`]).
fn minted_at(blob: BlobId) -> Timestamp {
    let b = blob.as_bytes();
    let millis = b
        .iter()
        .take(6)
        .fold(0i64, |acc, byte| (acc << 8) | i64::from(*byte));
    Timestamp::from_unix_millis(millis)
}

/// An upload after its checks: what the service seals, or what the client sealed.
enum Prepared {
    /// Server-managed: the manifest's public part and the key that seals it.
    Server {
        name: String,
        media_type: String,
        session_key: DataKey,
    },
    /// Client-sealed: the manifest as it came.
    Client(SealedBody),
}

impl Counselling {
    /// Uploads a file or recording into a session (R-S4): its bytes stream from
    /// `source` into the blob store, sealed, never held whole; the new item (kind
    /// `file` or `recording`) has one version, the sealed manifest, and names its blob
    /// in [`ContentItem::blob`]. Needs `PostContent` and a relation to the open
    /// session, as [`Self::post_content`].
    ///
    /// Checks, in order, all before a byte is stored: the kind is `file` or
    /// `recording` (`invalid_input`); the caller's rights and the session
    /// (`not_found`, `forbidden`, `session_closed`); the room keeps content
    /// (`invalid_input`); the tenant's `require_mode_descriptor` (`conflict`); the
    /// upload fits the mode (`wrong_mode`: [`FileUpload::Plain`] only in server-managed
    /// sessions, [`FileUpload::Sealed`] only in the others, end-to-end only after
    /// epoch 0); a sealed manifest under another key than the session's current one
    /// (`stale_key`, see [`Self::post_content`]); name and media type (`invalid_input`,
    /// `too_large`). While streaming:
    /// more than `ServiceConfig::max_file_len` bytes from `source` is `too_large`
    /// (exactly that many are taken); a client stream that does not start with a
    /// stream header is `invalid_input` (code `crypto`); a source that fails is
    /// `invalid_input`; the blob store's failure is `blob_store` (503). An upload that
    /// took longer than half of `ServiceConfig::orphan_blob_grace` is `conflict` (the
    /// sweep could take its blob). On every error nothing is visible: no item, and no
    /// blob (a put that fails stores nothing; a commit that fails deletes the blob).
    pub async fn upload_file(
        &self,
        caller: &Caller,
        tenant: TenantId,
        session: SessionId,
        kind: ContentKind,
        upload: FileUpload,
        source: &mut dyn BlobChunks,
    ) -> Result<ContentItem> {
        self.observe("upload_file", Some(tenant), Some(caller), async move {
            if !matches!(kind, ContentKind::File | ContentKind::Recording) {
                return Err(Error::Invalid {
                    what: "content kind",
                    reason: "uploads are files or recordings",
                });
            }
            let (store, t, s, _, decision) = self
                .session_action(caller, tenant, session, Action::PostContent)
                .await?;
            self.room_keeps_content(&store, &s).await?;
            descriptor_in_place(&t, &s)?;
            let id = ItemId::random()?;
            let limit = self.config.max_file_len;
            let prepared = match (s.mode, upload) {
                (SessionMode::ServerManaged, FileUpload::Plain { name, media_type }) => {
                    check_info(&name, &media_type)?;
                    let session_key = self.session_data_key(&store, &s, s.key_epoch).await?;
                    Prepared::Server {
                        name,
                        media_type,
                        session_key,
                    }
                }
                (SessionMode::ServerManaged, FileUpload::Sealed(_)) => {
                    return Err(Error::WrongMode {
                        mode: s.mode,
                        reason: "server-managed sessions take plaintext over TLS and seal it on the server",
                    });
                }
                (mode, FileUpload::Plain { .. }) => {
                    return Err(Error::WrongMode {
                        mode,
                        reason: "content must be sealed on the client in this mode",
                    });
                }
                (SessionMode::EndToEnd, FileUpload::Sealed(_))
                    if store.e2e_latest(tenant, session).await?.is_none() =>
                {
                    return Err(Error::WrongMode {
                        mode: s.mode,
                        reason: "the end-to-end group is not started yet",
                    });
                }
                (_, FileUpload::Sealed(manifest)) => {
                    self.check_current_key(&store, &s, &manifest).await?;
                    Prepared::Client(manifest)
                }
            };

            // The blob before the item: a crash from here on leaves an orphan blob.
            let blob = mint_blob(self.now())?;
            let ids = ItemIds::in_session(&s, id);
            let (stored, body) = match prepared {
                Prepared::Server {
                    name,
                    media_type,
                    session_key,
                } => {
                    let file_key = DataKey::generate(KeyEpoch::INITIAL)?;
                    let out = Shared::default();
                    let sealer = StreamSealer::new(&file_key, &ids.context(1, kind), out.clone())?;
                    let mut sealing = Sealing {
                        source,
                        sealer: Some(sealer),
                        out,
                        plain: 0,
                        limit,
                        failure: None,
                    };
                    let put = self
                        .ports
                        .blobs
                        .put(tenant, blob, sealed_len(limit), &mut sealing)
                        .await;
                    let stored = put.map_err(|e| put_error(e, sealing.failure.take(), limit))?;
                    let info = FileInfo {
                        name,
                        media_type,
                        size: sealing.plain,
                    };
                    let manifest = encode_manifest(&info, blob, &file_key);
                    match envelope::seal(&session_key, &ids.context(1, kind), &manifest)
                        .map_err(Error::from)
                        .and_then(SealedBody::new)
                    {
                        Ok(body) => (stored, body),
                        Err(e) => {
                            self.delete_blobs(tenant, [blob]).await;
                            return Err(e);
                        }
                    }
                }
                Prepared::Client(manifest) => {
                    let mut checked = Checked {
                        source,
                        head: Some(Vec::new()),
                        failure: None,
                    };
                    let put = self
                        .ports
                        .blobs
                        .put(tenant, blob, limit, &mut checked)
                        .await;
                    let stored = put.map_err(|e| put_error(e, checked.failure.take(), limit))?;
                    (stored, manifest)
                }
            };
            if self.now().since(minted_at(blob)) >= self.config.orphan_blob_grace / 2 {
                self.delete_blobs(tenant, [blob]).await;
                return Err(Error::Conflict {
                    what: "file",
                    reason: "the upload took longer than the orphan sweep allows",
                });
            }

            // The audit names the kind, the blob and the stored manifest's size.
            let extra = vec![
                Change::new("blob", None::<String>, Some(blob)),
                Change::new("sealed_bytes", None::<String>, Some(stored)),
            ];
            match self
                .commit_first_version(
                    &store,
                    caller,
                    s,
                    (id, kind, Some(blob)),
                    body,
                    extra,
                    &decision,
                )
                .await
            {
                Ok(item) => Ok(item),
                Err(e) => {
                    self.delete_blobs(tenant, [blob]).await;
                    Err(e)
                }
            }
        })
        .await
    }

    /// Downloads an uploaded file: its body streams from the blob store. Needs
    /// `ReadContent` and a relation to the session, as [`Self::read_content`] (a
    /// caller who may not view the session gets `not_found`). An item of the session
    /// that is not an upload is `invalid_input`; a stored blob or manifest that is
    /// missing or does not open is `store` (500: corruption, not the caller's
    /// mistake). In server-managed sessions the body is verified plaintext, otherwise
    /// the client's sealed stream with its sealed manifest.
    pub async fn download_file(
        &self,
        caller: &Caller,
        tenant: TenantId,
        session: SessionId,
        item: ItemId,
    ) -> Result<FileDownload> {
        self.observe("download_file", Some(tenant), Some(caller), async move {
            let (store, _, s, _, _) = self
                .session_action(caller, tenant, session, Action::ReadContent)
                .await?;
            let i = store
                .item(tenant, item)
                .await?
                .filter(|i| i.session == session)
                .ok_or(Error::NotFound { what: "item" })?;
            let Some(blob) = i.blob else {
                return Err(Error::Invalid {
                    what: "item",
                    reason: "not an uploaded file",
                });
            };
            let v = store
                .version(tenant, item, 1)
                .await?
                .ok_or(Error::NotFound { what: "version" })?;
            let reader = self
                .ports
                .blobs
                .get(tenant, blob)
                .await
                .map_err(blob_error)?
                .ok_or(Error::Store(StoreError::Corrupt { what: "file blob" }))?;
            if s.mode != SessionMode::ServerManaged {
                return Ok(FileDownload {
                    item: i,
                    info: None,
                    manifest: Some(v.body),
                    body: reader,
                });
            }
            let session_key = self.session_data_key(&store, &s, v.key_epoch).await?;
            let ids = ItemIds::in_session(&s, item);
            let manifest = Zeroizing::new(
                envelope::open(&session_key, &ids.context(1, i.kind), v.body.as_bytes()).map_err(
                    |_| {
                        Error::Store(StoreError::Corrupt {
                            what: "file manifest",
                        })
                    },
                )?,
            );
            let (info, named, file_key) = decode_manifest(&manifest)?;
            if named != blob {
                return Err(Error::Store(StoreError::Corrupt {
                    what: "file manifest",
                }));
            }
            let body = Opening::new(reader, &file_key, &ids, i.kind).await?;
            Ok(FileDownload {
                item: i,
                info: Some(info),
                manifest: None,
                body: Box::new(body),
            })
        })
        .await
    }

    /// Deletes the tenant's blobs that no item refers to and whose ids were minted at
    /// least `ServiceConfig::orphan_blob_grace` ago (by the clock port): what a crash
    /// between an upload's blob and its item, or a blob deletion that failed after its
    /// item's, leaves behind. A younger blob is kept — its upload may still be under
    /// way (an upload fails rather than commit after half the grace). For the host's
    /// housekeeping, like [`Self::run_retention`]; not audited (orphans are no content
    /// anyone can reach). Errors: an unknown tenant `not_found`; `blob_store`; store
    /// failures. Blobs deleted before an error stay deleted.
    pub async fn sweep_orphan_blobs(&self, tenant: TenantId) -> Result<BlobSweep> {
        self.observe("sweep_orphan_blobs", Some(tenant), None, async move {
            let store = self.store(tenant).await?;
            store
                .tenant(tenant)
                .await?
                .ok_or(Error::NotFound { what: "tenant" })?;
            let now = self.now();
            let grace: Duration = self.config.orphan_blob_grace;
            let mut report = BlobSweep::default();
            let mut after = None;
            loop {
                let ids = self
                    .ports
                    .blobs
                    .list(tenant, after, Page::<BlobId>::MAX_LIMIT)
                    .await
                    .map_err(blob_error)?;
                let Some(last) = ids.last().copied() else {
                    return Ok(report);
                };
                for blob in ids {
                    report.examined += 1;
                    if now.since(minted_at(blob)) < grace {
                        report.recent += 1;
                    } else if store.item_by_blob(tenant, blob).await?.is_some() {
                        report.referenced += 1;
                    } else {
                        self.ports
                            .blobs
                            .delete(tenant, blob)
                            .await
                            .map_err(blob_error)?;
                        report.deleted += 1;
                    }
                }
                after = Some(last);
            }
        })
        .await
    }

    /// Deletes blobs whose items are gone (committed). Best effort: a blob that cannot
    /// be deleted now is an orphan, and [`Self::sweep_orphan_blobs`] deletes it later.
    pub(crate) async fn delete_blobs(
        &self,
        tenant: TenantId,
        blobs: impl IntoIterator<Item = BlobId>,
    ) -> u64 {
        let mut deleted = 0;
        for blob in blobs {
            match self.ports.blobs.delete(tenant, blob).await {
                Ok(()) => deleted += 1,
                Err(e) => {
                    tracing::warn!(%tenant, %blob, error = %e, "blob not deleted; the orphan sweep will");
                }
            }
        }
        deleted
    }

    /// The blobs of a session's items, read before a commit that deletes them.
    pub(crate) async fn session_blobs(
        &self,
        store: &DynStore,
        tenant: TenantId,
        session: SessionId,
    ) -> Result<Vec<BlobId>> {
        let mut blobs = Vec::new();
        let mut after = None;
        loop {
            let page = Page {
                after,
                ..Page::first(Page::<ItemId>::MAX_LIMIT)
            };
            let items = store.items(tenant, session, page).await?;
            let Some(last) = items.last().map(|i| i.id) else {
                return Ok(blobs);
            };
            blobs.extend(items.iter().filter_map(|i| i.blob));
            after = Some(last);
        }
    }
}

/// The error of a failed put: the adapter's own reason first.
fn put_error(e: BlobError, failure: Option<Error>, limit: u64) -> Error {
    if let Some(failure) = failure {
        return failure;
    }
    match e {
        BlobError::TooLarge { .. } => too_large("file", limit),
        BlobError::Source(_) => Error::Invalid {
            what: "file",
            reason: "the upload's source failed before its end",
        },
        BlobError::Backend(message) => Error::BlobStore(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_blobs_carry_the_clock_time() {
        for millis in [0, 1_790_000_000_000, (1 << 48) - 1] {
            let at = Timestamp::from_unix_millis(millis);
            let a = mint_blob(at).unwrap_or_else(|_| unreachable!());
            let b = mint_blob(at).unwrap_or_else(|_| unreachable!());
            assert_eq!((minted_at(a), minted_at(b)), (at, at));
            assert_ne!(a, b);
        }
    }
}
