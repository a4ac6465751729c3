//! Content: post, read, edit (versions, R-S5), delete. In server-managed sessions the
//! service seals plaintext under the session key before the store sees it (R-E1); in
//! every other mode it only accepts and returns client-sealed envelopes.

use std::fmt;

use cai_crypto::modes::SessionMode;
use cai_crypto::{ContentKind, KeyEpoch, envelope};
use zeroize::Zeroizing;

use super::context::ItemIds;
use super::session_keys::{corrupt_custody, custody_of_epoch};
use super::{Caller, Counselling};
use crate::authz::Action;
use crate::domain::{
    AuditKind, AuditObject, Change, ContentItem, ContentVersion, SealedBody, Session, Tenant,
};
use crate::error::{Error, Result};
use crate::id::{ItemId, SessionId, TenantId};
use crate::ports::{DynStore, Order, SessionEvent, Write};

use super::paging::{PageRequest, Paged};

/// A body as the caller sends or receives it. JSON (serde in `json/service.rs`):
/// `{"type":"plain","data":"<base64>"}` or `{"type":"sealed","data":"<base64>"}`.
pub enum ContentBody {
    /// Plaintext, for server-managed sessions only; zeroized on drop.
    Plain(Zeroizing<Vec<u8>>),
    /// A client-sealed envelope or stream, for every other mode.
    Sealed(SealedBody),
}

impl ContentBody {
    /// Plaintext from bytes.
    pub fn plain(bytes: impl Into<Vec<u8>>) -> Self {
        Self::Plain(Zeroizing::new(bytes.into()))
    }
}

impl fmt::Debug for ContentBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContentBody::Plain(p) => write!(f, "Plain(<{} bytes redacted>)", p.len()),
            ContentBody::Sealed(s) => s.fmt(f),
        }
    }
}

/// One version of an item as returned to a reader.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct ContentView {
    /// The item.
    pub item: ContentItem,
    /// The version returned.
    pub version: u32,
    /// Plaintext (server-managed) or the sealed body (other modes).
    pub body: ContentBody,
}

/// Largest plaintext the service seals: the sealed body must fit [`SealedBody::MAX_LEN`].
pub const MAX_PLAINTEXT_LEN: usize = SealedBody::MAX_LEN - 1024;

/// Kinds whose items can get new versions: documents, notes and whiteboards always;
/// chat messages where the tenant allows editing them. Files and recordings never
/// change (a new upload is a new item).
fn versioned(kind: ContentKind, messages_editable: bool) -> bool {
    match kind {
        ContentKind::Document | ContentKind::Note | ContentKind::Whiteboard => true,
        ContentKind::Message => messages_editable,
        _ => false,
    }
}

/// Where the tenant requires signed mode descriptors, a session outside end-to-end mode
/// takes content only once its owner attached one.
pub(super) fn descriptor_in_place(t: &Tenant, s: &Session) -> Result<()> {
    if t.settings.require_mode_descriptor
        && s.mode != SessionMode::EndToEnd
        && s.mode_descriptor.is_none()
    {
        return Err(Error::Conflict {
            what: "session",
            reason: "the tenant requires the session's signed mode descriptor before content",
        });
    }
    Ok(())
}

impl Counselling {
    /// Seals or accepts `body` for `s`, as version `version` of `item`.
    async fn seal_body(
        &self,
        store: &DynStore,
        s: &Session,
        item: ItemId,
        version: u32,
        kind: ContentKind,
        body: ContentBody,
    ) -> Result<SealedBody> {
        match (s.mode, body) {
            (SessionMode::ServerManaged, ContentBody::Plain(plain)) => {
                if plain.len() > MAX_PLAINTEXT_LEN {
                    return Err(Error::TooLarge {
                        what: "content",
                        limit: MAX_PLAINTEXT_LEN,
                    });
                }
                let key = self.session_data_key(store, s, s.key_epoch).await?;
                let ids = ItemIds::in_session(s, item);
                SealedBody::new(envelope::seal(&key, &ids.context(version, kind), &plain)?)
            }
            (SessionMode::ServerManaged, ContentBody::Sealed(_)) => Err(Error::WrongMode {
                mode: s.mode,
                reason: "server-managed sessions take plaintext over TLS and seal it on the server",
            }),
            (mode, ContentBody::Plain(_)) => Err(Error::WrongMode {
                mode,
                reason: "content must be sealed on the client in this mode",
            }),
            (SessionMode::EndToEnd, ContentBody::Sealed(_))
                if store.e2e_latest(s.tenant, s.id).await?.is_none() =>
            {
                Err(Error::WrongMode {
                    mode: s.mode,
                    reason: "the end-to-end group is not started yet",
                })
            }
            (_, ContentBody::Sealed(sealed)) => {
                self.check_current_key(store, s, &sealed).await?;
                Ok(sealed)
            }
        }
    }

    /// A client-sealed body (a post, an edit, an upload's manifest) must be sealed
    /// under the session's current key: its header (envelope or stream) names the current
    /// [`Session::key_epoch`] and, outside end-to-end mode, the id of that epoch's key.
    /// Otherwise a participant still holding the key of an earlier epoch — one a
    /// removed participant holds too — would add content that the removed one can
    /// read, stored under an epoch whose key does not open it. End-to-end sessions are
    /// checked by epoch only: the key id comes from the MLS exporter, which the server
    /// never sees. Another key is [`Error::StaleKey`] (`stale_key`, 409).
    pub(super) async fn check_current_key(
        &self,
        store: &DynStore,
        s: &Session,
        sealed: &SealedBody,
    ) -> Result<()> {
        // `SealedBody::new` let in an envelope or a stream; both headers name the key.
        let bytes = sealed.as_bytes();
        let (key_id, epoch) = if let Ok((h, _)) = envelope::EnvelopeHeader::parse(bytes) {
            (h.key_id, h.epoch)
        } else if let Ok(h) = cai_crypto::stream::StreamHeader::parse(bytes) {
            (h.key_id, h.epoch)
        } else {
            return Err(Error::Invalid {
                what: "sealed content",
                reason: "not a cai envelope or stream",
            });
        };
        let current = epoch == KeyEpoch(s.key_epoch)
            && (s.mode == SessionMode::EndToEnd
                || custody_of_epoch(store, s, s.key_epoch)
                    .await?
                    .ok_or_else(corrupt_custody)?
                    .key_id()
                    == key_id);
        if !current {
            return Err(Error::StaleKey {
                reason: if s.mode == SessionMode::EndToEnd {
                    "process e2e_epochs and seal under the group's current epoch"
                } else {
                    "fetch session_keys and seal again"
                },
            });
        }
        Ok(())
    }

    /// Opens a stored version for the reader: plaintext in server-managed sessions,
    /// the sealed body otherwise. An upload's manifest (`upload`) stays sealed in every
    /// mode: in server-managed sessions it holds the file's stream key, which never
    /// leaves the server (`download_file` tells name, type and size).
    async fn open_body(
        &self,
        store: &DynStore,
        s: &Session,
        v: ContentVersion,
        kind: ContentKind,
        upload: bool,
    ) -> Result<ContentBody> {
        if s.mode != SessionMode::ServerManaged || upload {
            return Ok(ContentBody::Sealed(v.body));
        }
        let key = self.session_data_key(store, s, v.key_epoch).await?;
        let ids = ItemIds::in_session(s, v.item);
        let ctx = ids.context(v.version, kind);
        // A stored envelope the server sealed itself that does not open is corruption
        // (or tampering at rest), not the reader's mistake.
        let plain = envelope::open(&key, &ctx, v.body.as_bytes()).map_err(|_| {
            Error::Store(crate::ports::StoreError::Corrupt {
                what: "sealed content",
            })
        })?;
        Ok(ContentBody::Plain(Zeroizing::new(plain)))
    }

    /// Posts a new item (R-S4). Needs `PostContent` and a relation to the open session.
    /// Errors: kind `key_material` (checked first) and posting in a room that keeps no
    /// content are `invalid_input`; plaintext over [`MAX_PLAINTEXT_LEN`] is `too_large`;
    /// a body that does not fit the mode (plaintext to a client-sealed session, an
    /// envelope to a server-managed one, an end-to-end post before epoch 0) is
    /// `wrong_mode`; a client-sealed body whose header names another key than the
    /// session's current one is `stale_key` (409, checked right after the mode; fetch
    /// `session_keys` and seal again — docs/CORE.md, "Key epochs outside end-to-end
    /// mode"). Where the tenant sets `require_mode_descriptor`, a
    /// session outside end-to-end mode without its descriptor is `conflict` (checked
    /// after the room, before the body). A removal committed while the post was under
    /// way makes it `conflict` at commit.
    pub async fn post_content(
        &self,
        caller: &Caller,
        tenant: TenantId,
        session: SessionId,
        kind: ContentKind,
        body: ContentBody,
    ) -> Result<ContentItem> {
        self.observe("post_content", Some(tenant), Some(caller), async move {
            if kind == ContentKind::KeyMaterial {
                return Err(Error::Invalid {
                    what: "content kind",
                    reason: "key material is stored through the key operations",
                });
            }
            let (store, t, s, _, decision) = self
                .session_action(caller, tenant, session, Action::PostContent)
                .await?;
            self.room_keeps_content(&store, &s).await?;
            let id = ItemId::random()?;
            descriptor_in_place(&t, &s)?;
            let sealed = self.seal_body(&store, &s, id, 1, kind, body).await?;
            let size = sealed.len();
            let extra = vec![Change::new("sealed_bytes", None::<String>, Some(size))];
            self.commit_first_version(
                &store,
                caller,
                s,
                (id, kind, None),
                sealed,
                extra,
                &decision,
            )
            .await
        })
        .await
    }

    /// Stores a new item with its first version — a message, or an upload whose blob
    /// is already written — and the session's last activity, audited as
    /// `content_posted` (the kind, then `changes`) and published, in one commit.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn commit_first_version(
        &self,
        store: &DynStore,
        caller: &Caller,
        mut s: Session,
        (id, kind, blob): (ItemId, ContentKind, Option<crate::id::BlobId>),
        body: SealedBody,
        changes: Vec<Change>,
        decision: &crate::authz::Decision,
    ) -> Result<ContentItem> {
        let (tenant, session) = (s.tenant, s.id);
        let mut tx = self.tx_of(caller, tenant);
        let item = ContentItem {
            id,
            tenant,
            session,
            kind,
            author: caller.subject,
            created_at: tx.now,
            latest_version: 1,
            blob,
        };
        tx.write(Write::InsertItem(
            item.clone(),
            ContentVersion {
                item: id,
                tenant,
                session,
                version: 1,
                author: caller.subject,
                created_at: tx.now,
                key_epoch: s.key_epoch,
                body,
            },
        ));
        s.last_activity = tx.now;
        tx.write(Write::UpdateSession(s));
        let mut all = vec![Change::new(
            "kind",
            None::<String>,
            Some(crate::json::kind_name(kind)),
        )];
        all.extend(changes);
        tx.audit(
            store,
            AuditKind::ContentPosted,
            AuditObject::Item(id),
            all,
            Some(decision),
            false,
        )
        .await?;
        tx.publish(
            session,
            SessionEvent::ContentPosted {
                item: id,
                version: 1,
            },
        );
        self.commit(store, tx).await?;
        Ok(item)
    }

    async fn load_item(
        &self,
        store: &DynStore,
        tenant: TenantId,
        session: SessionId,
        item: ItemId,
    ) -> Result<ContentItem> {
        store
            .item(tenant, item)
            .await?
            .filter(|i| i.session == session)
            .ok_or(Error::NotFound { what: "item" })
    }

    /// Reads a version of an item (the newest by default). Needs `ReadContent` and a
    /// relation to the session: administrators do not read content (R-I3).
    pub async fn read_content(
        &self,
        caller: &Caller,
        tenant: TenantId,
        session: SessionId,
        item: ItemId,
        version: Option<u32>,
    ) -> Result<ContentView> {
        self.observe("read_content", Some(tenant), Some(caller), async move {
            let (store, _, s, _, _) = self
                .session_action(caller, tenant, session, Action::ReadContent)
                .await?;
            let i = self.load_item(&store, tenant, session, item).await?;
            let version = version.unwrap_or(i.latest_version);
            let v = store
                .version(tenant, item, version)
                .await?
                .ok_or(Error::NotFound { what: "version" })?;
            let body = self
                .open_body(&store, &s, v, i.kind, i.blob.is_some())
                .await?;
            Ok(ContentView {
                item: i,
                version,
                body,
            })
        })
        .await
    }

    /// A page of the session's items (metadata only), newest first unless asked
    /// otherwise; item ids sort by posting time. Needs `ReadContent`.
    pub async fn list_items(
        &self,
        caller: &Caller,
        tenant: TenantId,
        session: SessionId,
        page: PageRequest,
    ) -> Result<Paged<ContentItem>> {
        self.observe("list_items", Some(tenant), Some(caller), async move {
            let (store, ..) = self
                .session_action(caller, tenant, session, Action::ReadContent)
                .await?;
            let kind = format!("itm{session}");
            let page = page.id_page(&kind, Order::NewestFirst)?;
            let items = store.items(tenant, session, page).await?;
            Ok(Paged::by_id(items, &kind, &page, |i| i.id))
        })
        .await
    }

    /// A page of the session's items with their newest versions' bodies — what a chat
    /// view loads — newest first unless asked otherwise: plaintext in server-managed
    /// sessions, sealed bodies otherwise. Needs `ReadContent`.
    pub async fn read_items(
        &self,
        caller: &Caller,
        tenant: TenantId,
        session: SessionId,
        page: PageRequest,
    ) -> Result<Paged<ContentView>> {
        self.observe("read_items", Some(tenant), Some(caller), async move {
            let (store, _, s, _, _) = self
                .session_action(caller, tenant, session, Action::ReadContent)
                .await?;
            let kind = format!("itm{session}");
            let page = page.id_page(&kind, Order::NewestFirst)?;
            // Items with their latest versions in one read.
            let items = store.items_latest(tenant, session, page).await?;
            let next = Paged::by_id(items, &kind, &page, |(i, _)| i.id);
            let mut views = Vec::with_capacity(next.items.len());
            for (item, v) in next.items {
                let version = v.version;
                let body = self
                    .open_body(&store, &s, v, item.kind, item.blob.is_some())
                    .await?;
                views.push(ContentView {
                    item,
                    version,
                    body,
                });
            }
            Ok(Paged {
                items: views,
                next: next.next,
            })
        })
        .await
    }

    /// The versions of an item, oldest first, with their metadata (bodies stay sealed).
    /// Needs `ReadContent`.
    pub async fn versions(
        &self,
        caller: &Caller,
        tenant: TenantId,
        session: SessionId,
        item: ItemId,
    ) -> Result<Vec<ContentVersion>> {
        self.observe("versions", Some(tenant), Some(caller), async move {
            let (store, ..) = self
                .session_action(caller, tenant, session, Action::ReadContent)
                .await?;
            self.load_item(&store, tenant, session, item).await?;
            Ok(store.versions(tenant, item).await?)
        })
        .await
    }

    /// Adds a new version to one's own document, note or whiteboard — or chat message,
    /// where the tenant allows editing messages (`allow_message_editing`) — (R-S5).
    /// Every earlier version stays stored and readable, and the edit is audited.
    /// Needs `EditContent` as the item's author. Where the tenant sets
    /// `require_mode_descriptor`, editing in a session without its descriptor is
    /// `conflict`, as posting is; a client-sealed body under another key than the
    /// session's current one is `stale_key` (see [`Self::post_content`]).
    pub async fn edit_content(
        &self,
        caller: &Caller,
        tenant: TenantId,
        session: SessionId,
        item: ItemId,
        body: ContentBody,
    ) -> Result<ContentItem> {
        self.observe("edit_content", Some(tenant), Some(caller), async move {
        let (store, principal, t) = self.principal(caller, tenant, Action::EditContent).await?;
        let (mut s, parts) = self.load_session(&store, tenant, session).await?;
        self.check_session(
            &principal,
            Action::ReadContent,
            Self::view(&s, &parts, None),
        )
        .await?;
        let mut i = self.load_item(&store, tenant, session, item).await?;
        let decision = self
            .check_session(
                &principal,
                Action::EditContent,
                Self::view(&s, &parts, Some(i.author)),
            )
            .await?;
        if !versioned(i.kind, t.settings.allow_message_editing) {
            return Err(Error::Invalid {
                what: "content kind",
                reason: "this kind of item cannot be edited (messages only where the tenant allows it)",
            });
        }
        let version = i.latest_version.checked_add(1).ok_or(Error::Invalid {
            what: "item",
            reason: "too many versions",
        })?;
        descriptor_in_place(&t, &s)?;
        let sealed = self
            .seal_body(&store, &s, item, version, i.kind, body)
            .await?;
        let mut tx = self.tx_of(caller, tenant);
        tx.write(Write::AddVersion(ContentVersion {
            item,
            tenant,
            session,
            version,
            author: caller.subject,
            created_at: tx.now,
            key_epoch: s.key_epoch,
            body: sealed,
        }));
        s.last_activity = tx.now;
        tx.write(Write::UpdateSession(s));
        tx.audit(
            &store,
            AuditKind::ContentEdited,
            AuditObject::Item(item),
            vec![Change::new(
                "version",
                Some(i.latest_version),
                Some(version),
            )],
            Some(&decision),
            false,
        )
        .await?;
        tx.publish(session, SessionEvent::ContentPosted { item, version });
        self.commit(&store, tx).await?;
        i.latest_version = version;
        Ok(i)
    })
        .await
    }

    /// Deletes an item with all its versions. Needs `DeleteContent` as its author or
    /// as the session's host. An uploaded file's blob is deleted after the item's
    /// commit; should that fail, the item is gone all the same and the blob is an
    /// orphan for [`Self::sweep_orphan_blobs`].
    pub async fn delete_content(
        &self,
        caller: &Caller,
        tenant: TenantId,
        session: SessionId,
        item: ItemId,
    ) -> Result<()> {
        self.observe("delete_content", Some(tenant), Some(caller), async move {
            let (store, principal, _) = self
                .principal(caller, tenant, Action::DeleteContent)
                .await?;
            let (s, parts) = self.load_session(&store, tenant, session).await?;
            self.check_session(
                &principal,
                Action::ReadContent,
                Self::view(&s, &parts, None),
            )
            .await?;
            let i = self.load_item(&store, tenant, session, item).await?;
            let decision = self
                .check_session(
                    &principal,
                    Action::DeleteContent,
                    Self::view(&s, &parts, Some(i.author)),
                )
                .await?;
            let mut tx = self.tx_of(caller, tenant);
            tx.write(Write::DeleteItem(item));
            tx.audit(
                &store,
                AuditKind::ContentDeleted,
                AuditObject::Item(item),
                vec![Change::new("versions", Some(i.latest_version), None::<u32>)],
                Some(&decision),
                false,
            )
            .await?;
            self.commit(&store, tx).await?;
            // The manifest (the only copy of the file's stream key) went with the row.
            self.delete_blobs(tenant, i.blob).await;
            Ok(())
        })
        .await
    }
}
