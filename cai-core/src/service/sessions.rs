//! Sessions: creation in each encryption mode, reading and listing them, and closing
//! (R-S4). Invitations, participants and keys have modules of their own.

use std::fmt;

use cai_crypto::DataKey;
use cai_crypto::modes::{KeyCustody, SessionMode};

use super::paging::{PageRequest, Paged};
use super::{Caller, Counselling};
use crate::authz::{Action, Decision, DenyReason, Principal, Resource, SessionView, authorize};
use crate::domain::{
    AuditKind, AuditObject, Change, ContentRetention, Name, Participant, ParticipantRole, Session,
    SessionKind, SessionStatus, Tenant,
};
use crate::error::{Error, Result};
use crate::id::{AccountId, GroupId, SessionId, SubjectId, TenantId};
use crate::ports::{DynStore, SessionEvent, StoredCustody, Write};

/// A session to create.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSession {
    /// Classic (invitations) or ad-hoc (guest links). Rooms are made with
    /// [`Counselling::create_room`].
    pub kind: SessionKind,
    /// Optional title, visible to the server.
    pub title: Option<Name>,
    /// The encryption mode; `None` takes the tenant's default. Less than the tenant's
    /// minimum is [`Error::EncryptionDowngrade`].
    #[serde(default, with = "crate::json::mode_opt")]
    pub mode: Option<SessionMode>,
    /// Groups whose members may work on the session (R-I4).
    pub groups: Vec<GroupId>,
    /// What closing does to the content; `None` takes the tenant's retention policy.
    pub on_close: Option<ContentRetention>,
    /// For passphrase mode: the `KeyCustody` bytes the owner's client made with
    /// `cai_crypto::modes::create_passphrase` (parameters and verifier, no key). Must be
    /// `None` in every other mode. JSON: base64 or `null`.
    #[serde(default, with = "crate::json::base64_opt")]
    pub passphrase_custody: Option<Vec<u8>>,
}

impl NewSession {
    /// A classic session in the tenant's default mode.
    pub fn classic() -> Self {
        Self {
            kind: SessionKind::Classic,
            title: None,
            mode: None,
            groups: Vec::new(),
            on_close: None,
            passphrase_custody: None,
        }
    }

    /// An ad-hoc session in the tenant's default mode.
    pub fn ad_hoc() -> Self {
        Self {
            kind: SessionKind::AdHoc,
            ..Self::classic()
        }
    }
}

/// A created session.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct CreatedSession {
    /// The session.
    pub session: Session,
}

/// A session with its participants.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SessionDetails {
    /// The session.
    pub session: Session,
    /// Its participants.
    pub participants: Vec<Participant>,
}

/// The text form of ids bound into ciphertexts and key contexts: what frontends have.
pub(crate) fn crypto_id(id: &impl fmt::Display) -> String {
    id.to_string()
}

pub(crate) fn wrap_context(tenant: TenantId, session: SessionId) -> Result<Vec<u8>> {
    super::context::session_key_context(tenant, session)
}

impl Counselling {
    pub(crate) async fn load_session(
        &self,
        store: &DynStore,
        tenant: TenantId,
        id: SessionId,
    ) -> Result<(Session, Vec<(SubjectId, ParticipantRole)>)> {
        let session = store
            .session(tenant, id)
            .await?
            .ok_or(Error::NotFound { what: "session" })?;
        let parts = store
            .participants(tenant, id)
            .await?
            .into_iter()
            .map(|p| (p.subject, p.role))
            .collect();
        Ok((session, parts))
    }

    pub(crate) fn view<'a>(
        session: &'a Session,
        parts: &'a [(SubjectId, ParticipantRole)],
        item_author: Option<SubjectId>,
    ) -> SessionView<'a> {
        SessionView {
            tenant: session.tenant,
            session: session.id,
            owner: session.owner,
            participants: parts,
            groups: &session.groups,
            open: session.is_open(),
            item_author,
        }
    }

    /// Resolves the caller, loads the session and authorizes `action` on it.
    pub(crate) async fn session_action(
        &self,
        caller: &Caller,
        tenant: TenantId,
        session: SessionId,
        action: Action,
    ) -> Result<(
        DynStore,
        Tenant,
        Session,
        Vec<(SubjectId, ParticipantRole)>,
        Decision,
    )> {
        let (store, principal, t) = self.principal(caller, tenant, action).await?;
        let (s, parts) = self.load_session(&store, tenant, session).await?;
        let decision = self
            .check_session(&principal, action, Self::view(&s, &parts, None))
            .await?;
        Ok((store, t, s, parts, decision))
    }

    /// Authorizes a session action, answering "not found" — as for a session that does
    /// not exist — to a caller who may not even view the session, so nobody learns
    /// which sessions exist by being refused. A caller who may view it learns why it
    /// was refused.
    pub(crate) async fn check_session(
        &self,
        principal: &Principal,
        action: Action,
        view: SessionView<'_>,
    ) -> Result<Decision> {
        let resource = Resource::Session(view);
        match self.check(principal, action, &resource).await {
            Err(Error::Denied { reason, .. })
                if !matches!(reason, DenyReason::TenantMismatch { .. })
                    && !authorize(principal, Action::ViewSession, &resource).is_allowed() =>
            {
                Err(Error::NotFound { what: "session" })
            }
            other => other,
        }
    }

    /// Creates a session (R-S1, R-S2) in the requested or the tenant's default mode,
    /// never below the tenant's minimum (R-E1..R-E4). Server-managed and session-key
    /// sessions get a fresh data key wrapped by the `KeyProvider`; passphrase sessions
    /// store the client's parameters; end-to-end sessions start without keys until the
    /// owner's device starts its MLS group ([`Counselling::start_e2e_group`]). Needs
    /// `CreateSession`. At most 64 groups (else `invalid_input`); an unknown group is
    /// `not_found`; a room kind is `invalid_input` (rooms come from `create_room`).
    pub async fn create_session(
        &self,
        caller: &Caller,
        tenant: TenantId,
        new: NewSession,
    ) -> Result<CreatedSession> {
        self.observe("create_session", Some(tenant), Some(caller), async move {
            let (store, principal, t, decision) = self
                .authorized(
                    caller,
                    tenant,
                    Action::CreateSession,
                    Resource::Tenant(tenant),
                )
                .await?;
            let owner = principal.account_id().ok_or(Error::Invalid {
                what: "session owner",
                reason: "guests cannot own sessions",
            })?;
            if matches!(new.kind, SessionKind::Room(_)) {
                return Err(Error::Invalid {
                    what: "session kind",
                    reason: "rooms are created with create_room",
                });
            }
            let session = SessionId::random()?;
            let mut tx = self.tx_of(caller, tenant);
            let s = self
                .new_session(&store, &t, &mut tx, session, owner, new)
                .await?;
            tx.audit(
                &store,
                AuditKind::SessionCreated,
                AuditObject::Session(session),
                session_changes(&s),
                Some(&decision),
                false,
            )
            .await?;
            self.commit(&store, tx).await?;
            Ok(CreatedSession { session: s })
        })
        .await
    }

    /// Builds the session, its host participant and its key custody into `tx`.
    pub(super) async fn new_session(
        &self,
        store: &DynStore,
        t: &Tenant,
        tx: &mut super::Tx,
        session: SessionId,
        owner: AccountId,
        new: NewSession,
    ) -> Result<Session> {
        let tenant = t.id;
        let mode = new.mode.unwrap_or(t.settings.default_mode);
        if !t.settings.minimum_mode.can_change_to(mode) {
            return Err(Error::EncryptionDowngrade {
                requested: mode,
                minimum: t.settings.minimum_mode,
            });
        }
        let mut groups = new.groups;
        groups.sort_unstable();
        groups.dedup();
        if groups.len() > 64 {
            return Err(Error::Invalid {
                what: "session groups",
                reason: "more than 64",
            });
        }
        for g in &groups {
            store
                .group(tenant, *g)
                .await?
                .ok_or(Error::NotFound { what: "group" })?;
        }
        let custody = match mode {
            SessionMode::ServerManaged | SessionMode::SessionKey => {
                if new.passphrase_custody.is_some() {
                    return Err(Error::WrongMode {
                        mode,
                        reason: "passphrase custody given for a wrapped-key session",
                    });
                }
                let key =
                    DataKey::generate(cai_crypto::KeyEpoch::INITIAL).map_err(|_| Error::Rng)?;
                let wrapped = self
                    .ports
                    .keys
                    .wrap(tenant, &key, &wrap_context(tenant, session)?)
                    .await
                    .map_err(|e| Error::KeyProvider(e.to_string()))?;
                Some(KeyCustody::Wrapped(wrapped).to_bytes())
            }
            SessionMode::Passphrase => {
                let bytes = new.passphrase_custody.ok_or(Error::WrongMode {
                    mode,
                    reason: "passphrase sessions need the client's passphrase custody",
                })?;
                let custody = KeyCustody::parse(&bytes)?;
                if !custody.fits(mode) {
                    return Err(Error::WrongMode {
                        mode,
                        reason: "custody is not passphrase custody",
                    });
                }
                Some(bytes)
            }
            _ => {
                if new.passphrase_custody.is_some() {
                    return Err(Error::WrongMode {
                        mode,
                        reason: "end-to-end sessions take their keys from devices",
                    });
                }
                None
            }
        };
        let s = Session {
            id: session,
            tenant,
            kind: new.kind,
            title: new.title,
            mode,
            owner,
            groups,
            on_close: new.on_close.unwrap_or(t.settings.retention.on_close),
            key_epoch: 0,
            mode_descriptor: None,
            created_at: tx.now,
            last_activity: tx.now,
            status: SessionStatus::Open,
            revision: 0,
        };
        tx.write(Write::InsertSession(s.clone()));
        tx.write(Write::PutParticipant(Participant {
            session,
            tenant,
            subject: SubjectId::Account(owner),
            role: ParticipantRole::Host,
            joined_at: tx.now,
        }));
        if let Some(custody) = custody {
            tx.write(Write::InsertCustody(StoredCustody {
                tenant,
                session,
                epoch: 0,
                custody,
            }));
        }
        Ok(s)
    }

    /// The session and its participants. Needs `ViewSession` and a relation to it.
    pub async fn session(
        &self,
        caller: &Caller,
        tenant: TenantId,
        session: SessionId,
    ) -> Result<SessionDetails> {
        self.observe("session", Some(tenant), Some(caller), async move {
            let (store, _, s, _, _) = self
                .session_action(caller, tenant, session, Action::ViewSession)
                .await?;
            let participants = store.participants(tenant, session).await?;
            Ok(SessionDetails {
                session: s,
                participants,
            })
        })
        .await
    }

    /// A page of the sessions the caller takes part in (as host, counsellor, client
    /// or guest), newest first unless asked otherwise. Sessions the caller works on
    /// through a group are listed by [`Counselling::list_group_sessions`]. Each needs
    /// `ViewSession`; sessions the caller may not view are left out.
    pub async fn list_sessions(
        &self,
        caller: &Caller,
        tenant: TenantId,
        page: PageRequest,
    ) -> Result<Paged<Session>> {
        self.observe("list_sessions", Some(tenant), Some(caller), async move {
            let (store, principal, _) = self.principal(caller, tenant, Action::ViewSession).await?;
            let kind = format!("ses{}", caller.subject);
            let page = page.id_page(&kind, crate::ports::Order::NewestFirst)?;
            let ids = store.sessions_of(tenant, caller.subject, page).await?;
            let listed = Paged::by_id(ids, &kind, &page, |id| *id);
            self.visible_sessions(&store, &principal, tenant, listed)
                .await
        })
        .await
    }

    /// A page of the sessions shared with a group the caller is a member of (team
    /// counselling, R-I4), newest first unless asked otherwise. Sessions the caller may
    /// not view are left out; a group the caller is not in lists nothing.
    pub async fn list_group_sessions(
        &self,
        caller: &Caller,
        tenant: TenantId,
        group: GroupId,
        page: PageRequest,
    ) -> Result<Paged<Session>> {
        self.observe(
            "list_group_sessions",
            Some(tenant),
            Some(caller),
            async move {
                let (store, principal, _) =
                    self.principal(caller, tenant, Action::ViewSession).await?;
                let kind = format!("ses{group}");
                let page = page.id_page(&kind, crate::ports::Order::NewestFirst)?;
                if !principal.groups().contains(&group) {
                    return Ok(Paged {
                        items: Vec::new(),
                        next: None,
                    });
                }
                let ids = store.sessions_of_group(tenant, group, page).await?;
                let listed = Paged::by_id(ids, &kind, &page, |id| *id);
                self.visible_sessions(&store, &principal, tenant, listed)
                    .await
            },
        )
        .await
    }

    /// Loads the listed sessions the principal may view; the cursor stays the
    /// listing's, so leaving some out never ends the paging early.
    async fn visible_sessions(
        &self,
        store: &DynStore,
        principal: &Principal,
        tenant: TenantId,
        listed: Paged<SessionId>,
    ) -> Result<Paged<Session>> {
        let mut items = Vec::with_capacity(listed.items.len());
        for id in listed.items {
            // A session deleted since it was listed is skipped; a failing store fails
            // the listing.
            let (s, parts) = match self.load_session(store, tenant, id).await {
                Err(Error::NotFound { .. }) => continue,
                other => other?,
            };
            let view = Resource::Session(Self::view(&s, &parts, None));
            if authorize(principal, Action::ViewSession, &view).is_allowed() {
                items.push(s);
            }
        }
        Ok(Paged {
            items,
            next: listed.next,
        })
    }

    /// Closes a session (R-S4). With delete-on-close the session's keys are shredded at
    /// the key provider first ([`KeyProvider::shred`](crate::ports::KeyProvider::shred),
    /// R-P4), then its content and key rows are deleted in the commit that closes it.
    /// Needs `CloseSession`.
    pub async fn close_session(
        &self,
        caller: &Caller,
        tenant: TenantId,
        session: SessionId,
    ) -> Result<Session> {
        self.observe("close_session", Some(tenant), Some(caller), async move {
            let (store, _, mut s, _, decision) = self
                .session_action(caller, tenant, session, Action::CloseSession)
                .await?;
            let mut tx = self.tx_of(caller, tenant);
            s.status = SessionStatus::Closed { at: tx.now };
            tx.write(Write::UpdateSession(s.clone()));
            let mut changes = vec![Change::new("status", Some("open"), Some("closed"))];
            let mut blobs = Vec::new();
            if s.on_close == ContentRetention::DeleteOnClose {
                // Keys first: should the commit fail, the content no longer opens
                // rather than surviving the deletion (closing again finishes it).
                self.shred_session_keys(tenant, session).await?;
                // Files' blobs go after the commit (an upload racing it leaves an
                // orphan for the sweep).
                blobs = self.session_blobs(&store, tenant, session).await?;
                tx.write(Write::DeleteSessionContent(session));
                tx.write(Write::DeleteCustody(session));
                changes.push(Change::new("content", Some("kept"), Some("deleted")));
            }
            tx.audit(
                &store,
                AuditKind::SessionClosed,
                AuditObject::Session(session),
                changes,
                Some(&decision),
                false,
            )
            .await?;
            tx.publish(session, SessionEvent::Closed);
            self.commit(&store, tx).await?;
            self.delete_blobs(tenant, blobs).await;
            s.revision += 1;
            Ok(s)
        })
        .await
    }
}

pub(super) fn session_changes(s: &Session) -> Vec<Change> {
    vec![
        Change::new("kind", None::<String>, Some(format!("{:?}", s.kind))),
        Change::new("mode", None::<String>, Some(crate::json::mode_name(s.mode))),
        Change::new("owner", None::<String>, Some(s.owner)),
        Change::new(
            "on_close",
            None::<String>,
            Some(format!("{:?}", s.on_close)),
        ),
    ]
}
