//! Session keys: what a client gets to seal and open a session's content in each
//! encryption mode, the unwrapping of wrapped data keys, and key epochs: a participant
//! removed from a server-managed or session-key session — or an account that left a
//! group the session is shared with, or was deleted — takes the session to its next
//! epoch, whose data key it never held.

use std::collections::BTreeSet;
use std::fmt;

use cai_crypto::hierarchy::WrappedKey;
use cai_crypto::modes::{KeyCustody, SessionMode};
use cai_crypto::{DataKey, KeyEpoch};

use super::sessions::wrap_context;
use super::{Caller, Counselling};
use crate::authz::{Action, Decision};
use crate::domain::{AuditKind, AuditObject, Change, Session};
use crate::error::{Error, Result};
use crate::id::{GroupId, SessionId, SubjectId, TenantId};
use crate::ports::{DynStore, Page, SessionEvent, StoredCustody, Write};

/// What a participant's client needs to seal and open a session's content. JSON (serde
/// in `json/service.rs`): tagged by `type`; the session key's 32 bytes in base64 with
/// its `key_id` and `epoch`, custody and grants in base64.
pub enum SessionKeyMaterial {
    /// Server-managed: the server seals and opens content; clients get no data key.
    /// For calls (data channel and media keys, which clients must hold) they get the
    /// epoch's call key (`cai_crypto::DataKey::call_key`, docs/KEYS.md §7), which does
    /// not open stored content.
    ServerSealed {
        /// The call key of the epoch.
        call_key: DataKey,
    },
    /// Session-key mode (R-E2): the session's data key, handed to whoever may read the
    /// content — participants and members of a group the session is shared with.
    SessionKey(DataKey),
    /// Passphrase mode (R-E3): the derivation parameters; the client needs the
    /// passphrase. **Without it the content is unrecoverable.**
    Passphrase(Vec<u8>),
    /// End-to-end mode (R-E4): the server holds no key. The group's current epoch
    /// (`None` until the owner's device started the group), whose commits and records
    /// a device reads with [`Counselling::e2e_epochs`], and the history grant sealed
    /// to the caller, if any (R-E4b).
    EndToEnd {
        /// The group's current epoch.
        epoch: Option<u32>,
        /// A history grant for the caller.
        history_grant: Option<Vec<u8>>,
    },
}

impl fmt::Debug for SessionKeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionKeyMaterial::ServerSealed { .. } => f.write_str("ServerSealed(<redacted>)"),
            SessionKeyMaterial::SessionKey(_) => f.write_str("SessionKey(<redacted>)"),
            SessionKeyMaterial::Passphrase(p) => write!(f, "Passphrase({} bytes)", p.len()),
            SessionKeyMaterial::EndToEnd {
                epoch,
                history_grant,
            } => write!(
                f,
                "EndToEnd(epoch {epoch:?}, history grant: {})",
                history_grant.is_some()
            ),
        }
    }
}

impl Counselling {
    /// What the caller's client needs to seal and open the session's content now: the
    /// material of the session's current key epoch ([`Session::key_epoch`]). Needs
    /// `ReadContent` and a relation to the session: participation (not waiting in a
    /// lobby), or membership of a group the session is shared with — team members read
    /// the case, so they get its key too; administrators never by their role.
    pub async fn session_keys(
        &self,
        caller: &Caller,
        tenant: TenantId,
        session: SessionId,
    ) -> Result<SessionKeyMaterial> {
        self.observe("session_keys", Some(tenant), Some(caller), async move {
            let (store, s) = self.key_action(caller, tenant, session).await?;
            if s.mode == SessionMode::EndToEnd {
                let epoch = store.e2e_latest(tenant, session).await?.map(|e| e.epoch);
                let history_grant = match caller.subject {
                    SubjectId::Account(me) => store
                        .history_grant(tenant, session, me)
                        .await?
                        .map(|g| g.grant),
                    SubjectId::Guest(_) => None,
                };
                return Ok(SessionKeyMaterial::EndToEnd {
                    epoch,
                    history_grant,
                });
            }
            self.material_of_epoch(&store, &s, s.key_epoch).await
        })
        .await
    }

    /// The key material of an earlier (or the current) key epoch of a session outside
    /// end-to-end mode, for content sealed before a participant was removed: every
    /// stored version names its `key_epoch`. Same rights as
    /// [`session_keys`](Self::session_keys). Errors, after the rights: an end-to-end
    /// session is `wrong_mode` (earlier MLS epochs come through history grants); an
    /// epoch the session never had (above [`Session::key_epoch`]; a passphrase
    /// session has epoch 0 only) is `not_found`.
    pub async fn session_keys_at(
        &self,
        caller: &Caller,
        tenant: TenantId,
        session: SessionId,
        epoch: u32,
    ) -> Result<SessionKeyMaterial> {
        self.observe("session_keys_at", Some(tenant), Some(caller), async move {
            let (store, s) = self.key_action(caller, tenant, session).await?;
            if s.mode == SessionMode::EndToEnd {
                return Err(Error::WrongMode {
                    mode: s.mode,
                    reason: "earlier end-to-end epochs come from the group and history grants",
                });
            }
            if epoch > s.key_epoch {
                return Err(Error::NotFound { what: "key epoch" });
            }
            self.material_of_epoch(&store, &s, epoch).await
        })
        .await
    }

    /// [`Self::session_action`] for handing out keys, with the caller resolved once
    /// more after the session was read. `session_action` reads the caller's account and
    /// groups before the session: an account that left a group, or was deleted, in
    /// between would pass on the old groups and be handed the key of the epoch its
    /// leaving started. Read after the session, the caller's groups are at least as new
    /// as its `key_epoch`.
    async fn key_action(
        &self,
        caller: &Caller,
        tenant: TenantId,
        session: SessionId,
    ) -> Result<(DynStore, Session)> {
        let (store, t, s, parts, _) = self
            .session_action(caller, tenant, session, Action::ReadContent)
            .await?;
        let principal = self.resolve(&store, &t, caller, self.now()).await?;
        self.check_session(
            &principal,
            Action::ReadContent,
            Self::view(&s, &parts, None),
        )
        .await?;
        Ok((store, s))
    }

    async fn material_of_epoch(
        &self,
        store: &DynStore,
        s: &Session,
        epoch: u32,
    ) -> Result<SessionKeyMaterial> {
        Ok(match s.mode {
            SessionMode::ServerManaged => SessionKeyMaterial::ServerSealed {
                call_key: self.session_data_key(store, s, epoch).await?.call_key()?,
            },
            SessionMode::Passphrase => {
                let c = store
                    .custody(s.tenant, s.id, epoch)
                    .await?
                    .ok_or(Error::NotFound { what: "key epoch" })?;
                SessionKeyMaterial::Passphrase(c.custody)
            }
            _ => SessionKeyMaterial::SessionKey(self.session_data_key(store, s, epoch).await?),
        })
    }

    /// Unwraps a wrapped-key session's data key of `epoch` through the `KeyProvider`.
    pub(crate) async fn session_data_key(
        &self,
        store: &DynStore,
        s: &Session,
        epoch: u32,
    ) -> Result<DataKey> {
        match custody_of_epoch(store, s, epoch).await? {
            Some(KeyCustody::Wrapped(wrapped)) => self.unwrap_key(s, &wrapped).await,
            Some(_) => Err(corrupt_custody()),
            None => Err(Error::NotFound { what: "key epoch" }),
        }
    }

    async fn unwrap_key(&self, s: &Session, wrapped: &WrappedKey) -> Result<DataKey> {
        self.ports
            .keys
            .unwrap(s.tenant, wrapped, &wrap_context(s.tenant, s.id)?)
            .await
            .map_err(|e| Error::KeyProvider(e.to_string()))
    }

    /// Takes a server-managed or session-key session to its next key epoch because
    /// `removed` left it: a fresh data key, wrapped by the `KeyProvider` and stored
    /// for the new epoch in the same commit, so the removed participant's key seals
    /// nothing new — neither content nor, through the call keys derived from it, a
    /// call's data channel and media. Earlier epochs' keys stay for the content sealed
    /// under them ([`session_keys_at`](Self::session_keys_at)). Audited as
    /// `session_keys_changed` (`key_epoch` old → new) and published as `KeysChanged`.
    /// Passphrase sessions cannot move: their key comes from a passphrase the removed
    /// participant knows (docs/KEYS.md §7).
    pub(super) async fn next_key_epoch(
        &self,
        store: &DynStore,
        tx: &mut super::Tx,
        s: &mut Session,
        decision: &Decision,
    ) -> Result<()> {
        let wrapped = self.wrap_next_key(s).await?;
        self.record_key_epoch(store, tx, s, wrapped, decision).await
    }

    /// A fresh data key for the epoch after `s`'s, wrapped by the `KeyProvider` (a KMS
    /// round trip, where the provider is remote).
    async fn wrap_next_key(&self, s: &Session) -> Result<WrappedKey> {
        let to = KeyEpoch(s.key_epoch).next()?;
        let key = DataKey::generate(to).map_err(|_| Error::Rng)?;
        self.ports
            .keys
            .wrap(s.tenant, &key, &wrap_context(s.tenant, s.id)?)
            .await
            .map_err(|e| Error::KeyProvider(e.to_string()))
    }

    /// Writes `wrapped` (the key of the epoch after `s`'s) as `s`'s new epoch into
    /// `tx`: custody, session, audit, and the `KeysChanged` to publish.
    async fn record_key_epoch(
        &self,
        store: &DynStore,
        tx: &mut super::Tx,
        s: &mut Session,
        wrapped: WrappedKey,
        decision: &Decision,
    ) -> Result<()> {
        let from = KeyEpoch(s.key_epoch);
        let to = wrapped.epoch();
        tx.write(Write::InsertCustody(StoredCustody {
            tenant: s.tenant,
            session: s.id,
            epoch: to.0,
            custody: KeyCustody::Wrapped(wrapped).to_bytes(),
        }));
        s.key_epoch = to.0;
        tx.write(Write::UpdateSession(s.clone()));
        tx.audit(
            store,
            AuditKind::SessionKeysChanged,
            AuditObject::Session(s.id),
            vec![Change::new("key_epoch", Some(from.0), Some(to.0))],
            Some(decision),
            false,
        )
        .await?;
        tx.publish(s.id, SessionEvent::KeysChanged { epoch: to.0 });
        Ok(())
    }

    /// Moves each of `sessions` that is open and keeps its key with the server
    /// (server-managed, session key) to its next key epoch within `tx`: someone who
    /// held the current key lost access to them. Closed sessions take no new content;
    /// passphrase and end-to-end sessions cannot move here.
    ///
    /// The keys are wrapped first and the sessions read again just before they are
    /// written: the wraps (a KMS round trip each) then lie outside the window in which
    /// a post in one of the sessions makes the commit conflict. A session that moved
    /// meanwhile (its epoch is not the one its key was made for) is such a conflict.
    pub(super) async fn next_key_epochs(
        &self,
        store: &DynStore,
        tx: &mut super::Tx,
        tenant: TenantId,
        sessions: &BTreeSet<SessionId>,
        decision: &Decision,
    ) -> Result<()> {
        let mut wrapped = Vec::new();
        for id in sessions {
            // A session deleted since it was listed has nothing left to seal.
            let Some(s) = store.session(tenant, *id).await? else {
                continue;
            };
            if s.is_open() && matches!(s.mode, SessionMode::ServerManaged | SessionMode::SessionKey)
            {
                wrapped.push((s.id, self.wrap_next_key(&s).await?));
            }
        }
        for (id, key) in wrapped {
            let Some(mut s) = store.session(tenant, id).await? else {
                continue;
            };
            if KeyEpoch(s.key_epoch).next()? != key.epoch() {
                return Err(Error::Store(crate::ports::StoreError::Conflict {
                    what: "session",
                }));
            }
            if s.is_open() {
                self.record_key_epoch(store, tx, &mut s, key, decision)
                    .await?;
            }
        }
        Ok(())
    }
}

/// The stored custody of `s`'s key `epoch`, if any. Stored data that does not parse,
/// or names another epoch, is corruption, not the caller's mistake.
pub(super) async fn custody_of_epoch(
    store: &DynStore,
    s: &Session,
    epoch: u32,
) -> Result<Option<KeyCustody>> {
    let Some(stored) = store.custody(s.tenant, s.id, epoch).await? else {
        return Ok(None);
    };
    match KeyCustody::parse(&stored.custody) {
        Ok(custody) if custody.epoch() == KeyEpoch(epoch) => Ok(Some(custody)),
        _ => Err(corrupt_custody()),
    }
}

pub(super) fn corrupt_custody() -> Error {
    Error::Store(crate::ports::StoreError::Corrupt {
        what: "session key custody",
    })
}

/// How often an operation that moves many sessions to a new key epoch is tried when a
/// post in one of them (which updates the session) made its commit conflict.
pub const ROTATION_ATTEMPTS: u32 = 3;

/// Runs `attempt` (an operation that moves sessions to new key epochs) again while its
/// commit conflicted on a session changed meanwhile (a post, another move), up to
/// [`ROTATION_ATTEMPTS`] times in all; any other outcome is the answer.
pub(super) async fn retrying_moves<T>(mut attempt: impl AsyncFnMut() -> Result<T>) -> Result<T> {
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(Error::Store(crate::ports::StoreError::Conflict { what: "session" }))
                if tries < ROTATION_ATTEMPTS =>
            {
                tries += 1;
            }
            done => return done,
        }
    }
}

/// Sessions read at a time while collecting those someone reached.
const REACH_PAGE: u32 = 100;

/// How an account reached sessions.
pub(super) enum Reach {
    /// As a participant.
    Participant(SubjectId),
    /// As a member of a group they are shared with.
    Group(GroupId),
}

/// Adds every session reached by `reach` to `into`, all pages.
pub(super) async fn collect_sessions(
    store: &DynStore,
    tenant: TenantId,
    reach: Reach,
    into: &mut BTreeSet<SessionId>,
) -> Result<()> {
    let mut page = Page::<SessionId>::first(REACH_PAGE);
    loop {
        let ids = match reach {
            Reach::Participant(who) => store.sessions_of(tenant, who, page).await?,
            Reach::Group(group) => store.sessions_of_group(tenant, group, page).await?,
        };
        // Until a page comes back empty (one read more than needed, no shortcut to
        // get wrong). A session created after its page was read is not moved: a narrow
        // race in which the one who left could fetch that new session's first key.
        let Some(last) = ids.last().copied() else {
            return Ok(());
        };
        into.extend(ids);
        page = page.after(last);
    }
}
