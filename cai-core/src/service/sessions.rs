//! Sessions: creation in each encryption mode, invitations (R-S1), guests (R-S2), rooms
//! (R-S3), participants, key epochs and history sharing (R-E4b), closing (R-S4).

use std::fmt;
use std::time::Duration;

use cai_crypto::DataKey;
use cai_crypto::hierarchy::WrappedKey;
use cai_crypto::modes::{KeyCustody, SessionMode};

use super::accounts::NewAccount;
use super::e2e::E2eCommit;
use super::paging::{PageRequest, Paged};
use super::{Caller, Counselling};
use crate::authz::{
    Action, Authentication, Decision, DenyReason, Principal, Resource, SessionView, authorize,
};
use crate::domain::{
    Account, AccountStatus, AuditActor, AuditKind, AuditObject, BuiltinRole, Change,
    ContentRetention, Email, Guest, Invitation, InvitationKind, InvitationSecret, InvitationStatus,
    Name, Participant, ParticipantRole, Pseudonym, Session, SessionKind, SessionStatus, Tenant,
};
use crate::error::{Error, Result};
use crate::id::{AccountId, GroupId, GuestId, InvitationId, SessionId, SubjectId, TenantId};
use crate::ports::{
    DynStore, HistoryGrant, InvitationFilter, Mail, SessionEvent, StoredCustody, Write,
};

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

/// What a participant's client needs to seal and open a session's content. JSON (serde
/// in `json/service.rs`): tagged by `type`; the session key's 32 bytes in base64 with
/// its `key_id` and `epoch`, custody and grants in base64.
pub enum SessionKeyMaterial {
    /// Server-managed: the server seals and opens; clients get no key.
    ServerSealed,
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
            SessionKeyMaterial::ServerSealed => f.write_str("ServerSealed"),
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

/// Whom to invite. JSON: `{"type":"contact","email":"…"}` or
/// `{"type":"guest_link","max_uses":5}`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(from = "crate::json::InviteToJson", into = "crate::json::InviteToJson")]
pub enum InviteTo {
    /// A contact request to this address (classic sessions), mailed by the platform:
    /// the code goes only to that mailbox, never to the inviter. The address is not
    /// stored (R-S1); only a binding that needs the code to check it is, so the account
    /// made from the request carries exactly this address.
    Contact {
        /// Where to send it.
        email: Email,
        /// Which of the host's templates to use (a language tag such as `"de"`);
        /// `None` for the default.
        language: Option<String>,
    },
    /// A guest link for up to `max_uses` guests (ad-hoc sessions), returned to the
    /// inviter to pass on.
    GuestLink {
        /// How many guests may join with it (1..=1000).
        max_uses: u32,
    },
}

impl InviteTo {
    /// A contact request to `email` in the default language.
    pub fn contact(email: Email) -> Self {
        Self::Contact {
            email,
            language: None,
        }
    }
}

/// What [`Counselling::invite`] made. JSON: `{"type":"mailed","invitation":"inv_…"}`
/// or `{"type":"guest_link","invitation":"inv_…","secret":"inv_….<hex>"}`.
#[derive(Debug, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Invited {
    /// A contact request, mailed to the invitee. The inviter never sees its code.
    Mailed {
        /// The invitation (to list or withdraw it).
        invitation: InvitationId,
    },
    /// A guest link: the secret, shown to the inviter once, to pass on (in a URL
    /// fragment or a message body, never a query string, R-A8).
    GuestLink {
        /// The invitation.
        invitation: InvitationId,
        /// The secret; only its hash is stored.
        secret: InvitationSecret,
    },
}

impl Invited {
    /// The guest link's secret (`None` for a mailed contact request).
    pub fn into_secret(self) -> Option<InvitationSecret> {
        match self {
            Invited::GuestLink { secret, .. } => Some(secret),
            Invited::Mailed { .. } => None,
        }
    }

    /// The invitation's id.
    pub fn invitation(&self) -> InvitationId {
        match self {
            Invited::Mailed { invitation } | Invited::GuestLink { invitation, .. } => *invitation,
        }
    }
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

    /// What the caller's client needs to seal and open the session's content. Needs
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
            let (store, _, s, _, _) = self
                .session_action(caller, tenant, session, Action::ReadContent)
                .await?;
            Ok(match s.mode {
                SessionMode::ServerManaged => SessionKeyMaterial::ServerSealed,
                SessionMode::SessionKey => {
                    SessionKeyMaterial::SessionKey(self.session_data_key(&store, &s, 0).await?)
                }
                SessionMode::Passphrase => {
                    let c = store
                        .custody(tenant, session, 0)
                        .await?
                        .ok_or(Error::NotFound {
                            what: "key custody",
                        })?;
                    SessionKeyMaterial::Passphrase(c.custody)
                }
                _ => {
                    let epoch = store.e2e_latest(tenant, session).await?.map(|e| e.epoch);
                    let history_grant = match caller.subject {
                        SubjectId::Account(me) => store
                            .history_grant(tenant, session, me)
                            .await?
                            .map(|g| g.grant),
                        SubjectId::Guest(_) => None,
                    };
                    SessionKeyMaterial::EndToEnd {
                        epoch,
                        history_grant,
                    }
                }
            })
        })
        .await
    }

    /// Unwraps a wrapped-key session's data key through the `KeyProvider`.
    pub(crate) async fn session_data_key(
        &self,
        store: &DynStore,
        s: &Session,
        epoch: u32,
    ) -> Result<DataKey> {
        let c = store
            .custody(s.tenant, s.id, epoch)
            .await?
            .ok_or(Error::NotFound {
                what: "key custody",
            })?;
        // Stored data that does not parse is corruption, not the caller's mistake.
        let corrupt = Error::Store(crate::ports::StoreError::Corrupt {
            what: "session key custody",
        });
        let Ok(KeyCustody::Wrapped(wrapped)) = KeyCustody::parse(&c.custody) else {
            return Err(corrupt);
        };
        self.unwrap_key(s, &wrapped).await
    }

    async fn unwrap_key(&self, s: &Session, wrapped: &WrappedKey) -> Result<DataKey> {
        self.ports
            .keys
            .unwrap(s.tenant, wrapped, &wrap_context(s.tenant, s.id)?)
            .await
            .map_err(|e| Error::KeyProvider(e.to_string()))
    }

    /// Invites someone (R-S1, R-S2). A contact request (classic sessions) is mailed to
    /// the address from the host's template ([`ServiceConfig::invitation_mail`]); its
    /// code goes only to that mailbox and the address is not stored. A guest link
    /// (ad-hoc sessions) is returned to the inviter to pass on. Only the secret's hash
    /// is stored. Needs `InviteParticipants`.
    ///
    /// An invitation is honoured only while its inviter could still issue it: if the
    /// inviter is deactivated, loses the role, or leaves the session, it stops working.
    ///
    /// Errors: a guest inviting, a `valid_for` of zero or above
    /// [`ServiceConfig::max_invitation_validity`] (default 90 days; `None` takes
    /// `invitation_validity`, 7 days), a contact request to a non-classic session or a
    /// guest link to a non-ad-hoc one, `max_uses` outside 1..=1000 or a bad language tag
    /// are `invalid_input`; a failed mail is `unavailable` and stores nothing.
    ///
    /// [`ServiceConfig::invitation_mail`]: super::ServiceConfig::invitation_mail
    /// [`ServiceConfig::max_invitation_validity`]: super::ServiceConfig::max_invitation_validity
    pub async fn invite(
        &self,
        caller: &Caller,
        tenant: TenantId,
        session: SessionId,
        to: InviteTo,
        valid_for: Option<Duration>,
    ) -> Result<Invited> {
        self.observe("invite", Some(tenant), Some(caller), async move {
        let (store, t, s, _, decision) = self
            .session_action(caller, tenant, session, Action::InviteParticipants)
            .await?;
        let inviter = caller.subject.account().ok_or(Error::Invalid {
            what: "inviter",
            reason: "guests cannot invite",
        })?;
        let valid_for = valid_for.unwrap_or(self.config.invitation_validity);
        if valid_for.is_zero() || valid_for > self.config.max_invitation_validity {
            return Err(Error::Invalid {
                what: "invitation validity",
                reason: "out of range",
            });
        }
        let kind = match (&to, s.kind) {
            (InviteTo::Contact { language, .. }, SessionKind::Classic) => {
                if let Some(tag) = language {
                    super::mail::check_language(tag)?;
                }
                InvitationKind::Contact
            }
            (InviteTo::GuestLink { max_uses }, SessionKind::AdHoc) => {
                if !(1..=1000).contains(max_uses) {
                    return Err(Error::Invalid {
                        what: "guest link",
                        reason: "max uses must be 1..=1000",
                    });
                }
                InvitationKind::GuestLink {
                    max_uses: *max_uses,
                }
            }
            _ => {
                return Err(Error::Invalid {
                    what: "invitation",
                    reason: "contact requests are for classic sessions, guest links for ad-hoc ones",
                });
            }
        };
        let id = InvitationId::random()?;
        let secret = InvitationSecret::generate(id)?;
        let address_binding = match &to {
            InviteTo::Contact { email, .. } => Some(secret.address_binding(email)),
            InviteTo::GuestLink { .. } => None,
        };
        let mut tx = self.tx_of(caller, tenant);
        let expires_at = tx.now.plus(valid_for);
        tx.write(Write::InsertInvitation(Invitation {
            id,
            tenant,
            session,
            kind,
            secret_hash: secret.hash(),
            address_binding,
            created_by: inviter,
            created_at: tx.now,
            expires_at,
            uses: 0,
            status: InvitationStatus::Pending,
            revision: 0,
        }));
        tx.audit(
            &store,
            AuditKind::InvitationSent,
            AuditObject::Invitation(id),
            vec![
                Change::new("session", None::<String>, Some(session)),
                Change::new("kind", None::<String>, Some(format!("{kind:?}"))),
                Change::new("expires_at", None::<String>, Some(expires_at)),
            ],
            Some(&decision),
            false,
        )
        .await?;
        // Mail first, commit after: a call that fails leaves nothing behind. If the
        // mail fails, nothing is stored and the inviter tries again; if the commit
        // fails after the mail went out, the mailed code names no invitation and
        // admits nobody.
        if let InviteTo::Contact { email, language } = &to {
            let template = self.config.invitation_mail.for_language(language.as_deref());
            let (subject, body) = template.render(
                t.name.as_str(),
                secret.expose().as_str(),
                &expires_at.to_rfc3339().unwrap_or_else(|_| expires_at.to_string()),
            );
            self.ports
                .mailer
                .send(Mail {
                    to: email.clone(),
                    subject,
                    body,
                })
                .await
                .map_err(|e| Error::Mailer(e.to_string()))?;
        }
        self.commit(&store, tx).await?;
        Ok(match to {
            InviteTo::Contact { .. } => Invited::Mailed { invitation: id },
            InviteTo::GuestLink { .. } => Invited::GuestLink {
                invitation: id,
                secret,
            },
        })
        })
        .await
    }

    /// A page of invitations, newest first: those to a session (for participants who
    /// may invite to it, `InviteParticipants`), or those an account sent (one's own;
    /// for an administrator with `ManageAccounts`, another account's *pending* ones, to
    /// withdraw them — accepted ones would tell who takes part where). A page may hold
    /// fewer than asked and still have a `next` cursor. Secrets are never listed; only
    /// their hashes are stored.
    pub async fn list_invitations(
        &self,
        caller: &Caller,
        tenant: TenantId,
        filter: InvitationFilter,
        page: PageRequest,
    ) -> Result<Paged<Invitation>> {
        self.observe("list_invitations", Some(tenant), Some(caller), async move {
            let store = match filter {
                InvitationFilter::Session(session) => {
                    self.session_action(caller, tenant, session, Action::InviteParticipants)
                        .await?
                        .0
                }
                InvitationFilter::CreatedBy(account) => {
                    let action = if caller.subject == SubjectId::Account(account) {
                        Action::ViewOwnAccount
                    } else {
                        Action::ManageAccounts
                    };
                    self.authorized(
                        caller,
                        tenant,
                        action,
                        Resource::Account { tenant, account },
                    )
                    .await?
                    .0
                }
            };
            let kind = match filter {
                InvitationFilter::Session(session) => format!("inv{session}"),
                InvitationFilter::CreatedBy(account) => format!("inv{account}"),
            };
            let page = page.id_page(&kind, crate::ports::Order::NewestFirst)?;
            let items = store.invitations(tenant, filter, page).await?;
            let mut listed = Paged::by_id(items, &kind, &page, |i| i.id);
            // An administrator looking at someone else's invitations sees the pending
            // ones, to withdraw them — not who accepted which session's invitation.
            if matches!(filter, InvitationFilter::CreatedBy(a) if caller.subject != SubjectId::Account(a))
            {
                listed
                    .items
                    .retain(|i| i.status == InvitationStatus::Pending);
            }
            Ok(listed)
        })
        .await
    }

    /// Withdraws a pending invitation: its code stops working at once. Allowed to its
    /// inviter, to whoever may manage the session's participants (the host), and to an
    /// administrator with `ManageAccounts`. Others are told it does not exist. Audited.
    pub async fn withdraw_invitation(
        &self,
        caller: &Caller,
        tenant: TenantId,
        invitation: InvitationId,
    ) -> Result<Invitation> {
        self.observe(
            "withdraw_invitation",
            Some(tenant),
            Some(caller),
            async move {
                let (store, principal, _) = self
                    .principal(caller, tenant, Action::InviteParticipants)
                    .await?;
                let not_found = Error::NotFound { what: "invitation" };
                let mut inv = store
                    .invitation(tenant, invitation)
                    .await?
                    .ok_or(not_found.clone())?;
                let decision = if caller.subject == SubjectId::Account(inv.created_by) {
                    None
                } else {
                    let (s, parts) = self.load_session(&store, tenant, inv.session).await?;
                    let as_host = authorize(
                        &principal,
                        Action::ManageParticipants,
                        &Resource::Session(Self::view(&s, &parts, None)),
                    );
                    let as_admin = authorize(
                        &principal,
                        Action::ManageAccounts,
                        &Resource::Account {
                            tenant,
                            account: inv.created_by,
                        },
                    );
                    match (as_host.is_allowed(), as_admin.is_allowed()) {
                        (true, _) => Some(as_host),
                        (_, true) => Some(as_admin),
                        _ => return Err(not_found),
                    }
                };
                if inv.status != InvitationStatus::Pending {
                    return Err(Error::Conflict {
                        what: "invitation",
                        reason: "no longer pending",
                    });
                }
                inv.status = InvitationStatus::Closed;
                let mut tx = self.tx_of(caller, tenant);
                tx.write(Write::UpdateInvitation(inv.clone()));
                tx.audit(
                    &store,
                    AuditKind::InvitationWithdrawn,
                    AuditObject::Invitation(invitation),
                    vec![Change::new("status", Some("pending"), Some("withdrawn"))],
                    decision.as_ref(),
                    false,
                )
                .await?;
                self.commit(&store, tx).await?;
                inv.revision += 1;
                Ok(inv)
            },
        )
        .await
    }

    /// Checks an invitation secret: exists in the tenant, matches (constant time),
    /// pending, not expired, of the expected kind, for an open session — and its
    /// inviter could still issue it now (active, inside its window, holding a role that
    /// invites, still in the session). For contact requests, `email` must be the
    /// invited address. Every failure but a closed session is [`Error::NotAccepted`].
    async fn usable_invitation(
        &self,
        store: &DynStore,
        tenant: TenantId,
        secret: &InvitationSecret,
        contact: Option<&Email>,
    ) -> Result<(Invitation, Session)> {
        let now = self.now();
        let invitation = store
            .invitation(tenant, secret.invitation())
            .await?
            .filter(|i| i.matches(secret))
            .filter(|i| i.status == InvitationStatus::Pending && now < i.expires_at)
            .filter(|i| match (i.kind, contact, i.address_binding) {
                (InvitationKind::Contact, Some(email), Some(binding)) => {
                    secret.binds(&binding, email)
                }
                (InvitationKind::GuestLink { .. }, None, _) => true,
                _ => false,
            })
            .ok_or(Error::NotAccepted)?;
        let (session, parts) = self.load_session(store, tenant, invitation.session).await?;
        if !session.is_open() {
            return Err(Error::SessionClosed);
        }
        let t = store.tenant(tenant).await?.ok_or(Error::NotAccepted)?;
        let inviter = Caller::new(
            tenant,
            SubjectId::Account(invitation.created_by),
            Authentication {
                second_factor: false,
                at: now,
            },
        );
        let still_may = match self.resolve(store, &t, &inviter, now).await {
            Ok(principal) => authorize(
                &principal,
                Action::InviteParticipants,
                &Resource::Session(Self::view(&session, &parts, None)),
            )
            .is_allowed(),
            Err(Error::AccountNotUsable) => false,
            Err(e) => return Err(e),
        };
        if !still_may {
            return Err(Error::NotAccepted);
        }
        Ok((invitation, session))
    }

    /// Accepts a contact request by creating the invitee's account (R-S1): only now is
    /// personal data of the invitee stored. `new.email` must be the address the request
    /// was mailed to (else [`Error::NotAccepted`], like a wrong code). The account gets
    /// the client role and joins the session as its client; `cai-auth` then lets its
    /// owner set a password.
    pub async fn accept_invitation(
        &self,
        tenant: TenantId,
        secret: &InvitationSecret,
        new: NewAccount,
    ) -> Result<(Account, SessionId)> {
        self.observe("accept_invitation", Some(tenant), None, async move {
            new.validate()?;
            let store = match self.store(tenant).await {
                Err(Error::NotFound { .. }) => return Err(Error::NotAccepted),
                other => other?,
            };
            let (mut invitation, s) = self
                .usable_invitation(&store, tenant, secret, Some(&new.email))
                .await?;
            // An address that already has an account is refused like a bad secret, so an
            // invitation cannot be used to probe which addresses exist; that person logs in
            // and uses `accept_invitation_as`.
            if store.account_by_email(tenant, &new.email).await?.is_some() {
                return Err(Error::NotAccepted);
            }
            let id = AccountId::random()?;
            let mut tx = self.tx(tenant, AuditActor::Subject(SubjectId::Account(id)));
            let account = Account {
                id,
                tenant,
                email: Some(new.email),
                display_name: new.display_name,
                roles: vec![BuiltinRole::Client.id()],
                status: AccountStatus::Active,
                valid_from: new.valid_from,
                valid_until: new.valid_until,
                created_at: tx.now,
                last_active: None,
                revision: 0,
            };
            tx.write(Write::InsertAccount(account.clone()));
            tx.audit(
                &store,
                AuditKind::AccountCreated,
                AuditObject::Account(id),
                vec![Change::new(
                    "roles",
                    None::<String>,
                    Some(BuiltinRole::Client.default_name()),
                )],
                None,
                false,
            )
            .await?;
            self.accept_into(&store, &mut tx, &mut invitation, &s, id)
                .await?;
            self.commit(&store, tx).await?;
            Ok((account, s.id))
        })
        .await
    }

    /// Accepts a contact request with an existing account of the tenant: the account's
    /// address must be the one the request was mailed to.
    pub async fn accept_invitation_as(
        &self,
        caller: &Caller,
        tenant: TenantId,
        secret: &InvitationSecret,
    ) -> Result<SessionId> {
        self.observe(
            "accept_invitation_as",
            Some(tenant),
            Some(caller),
            async move {
                let (store, principal, _) =
                    self.principal(caller, tenant, Action::JoinSession).await?;
                let me = principal.account_id().ok_or(Error::NotAccepted)?;
                if !principal.permissions().contains(Action::JoinSession) {
                    return Err(Error::Denied {
                        action: Action::JoinSession,
                        reason: crate::authz::DenyReason::NoPermission,
                    });
                }
                // The request binds the invited address: only the account holding it accepts.
                let account = store
                    .account(tenant, me)
                    .await?
                    .ok_or(Error::AccountNotUsable)?;
                let email = account.email.ok_or(Error::NotAccepted)?;
                let (mut invitation, s) = self
                    .usable_invitation(&store, tenant, secret, Some(&email))
                    .await?;
                let mut tx = self.tx_of(caller, tenant);
                self.accept_into(&store, &mut tx, &mut invitation, &s, me)
                    .await?;
                self.commit(&store, tx).await?;
                Ok(s.id)
            },
        )
        .await
    }

    async fn accept_into(
        &self,
        store: &DynStore,
        tx: &mut super::Tx,
        invitation: &mut Invitation,
        s: &Session,
        account: AccountId,
    ) -> Result<()> {
        invitation.uses = invitation.uses.saturating_add(1);
        invitation.status = InvitationStatus::Accepted {
            by: account,
            at: tx.now,
        };
        tx.write(Write::UpdateInvitation(invitation.clone()));
        // Someone already in the session keeps their part (a counsellor who accepts a
        // forwarded code is not demoted to client).
        let already = store
            .participants(s.tenant, s.id)
            .await?
            .iter()
            .any(|p| p.subject == SubjectId::Account(account));
        if !already {
            tx.write(Write::PutParticipant(Participant {
                session: s.id,
                tenant: s.tenant,
                subject: SubjectId::Account(account),
                role: ParticipantRole::Client,
                joined_at: tx.now,
            }));
        }
        tx.audit(
            store,
            AuditKind::InvitationAccepted,
            AuditObject::Invitation(invitation.id),
            vec![Change::new("status", Some("pending"), Some("accepted"))],
            None,
            false,
        )
        .await?;
        tx.publish(
            s.id,
            SessionEvent::ParticipantJoined(SubjectId::Account(account)),
        );
        Ok(())
    }

    /// Joins an ad-hoc session as a guest with a pseudonym and a guest-link secret
    /// (R-S2, R-A7). Nothing but the pseudonym is stored. Returns the guest and the
    /// [`Caller`] to act as it (the host wraps it in its own session token).
    pub async fn join_as_guest(
        &self,
        tenant: TenantId,
        secret: &InvitationSecret,
        pseudonym: Pseudonym,
    ) -> Result<(Guest, Caller)> {
        self.observe("join_as_guest", Some(tenant), None, async move {
            // An unknown tenant answers like a wrong secret: a guest link reveals nothing
            // about which tenants exist.
            let store = match self.store(tenant).await {
                Err(Error::NotFound { .. }) => return Err(Error::NotAccepted),
                other => other?,
            };
            let t = store.tenant(tenant).await?.ok_or(Error::NotAccepted)?;
            let (mut invitation, s) = self.usable_invitation(&store, tenant, secret, None).await?;
            let InvitationKind::GuestLink { max_uses } = invitation.kind else {
                return Err(Error::NotAccepted);
            };
            if s.kind != SessionKind::AdHoc {
                return Err(Error::NotAccepted);
            }
            let id = GuestId::random()?;
            let subject = SubjectId::Guest(id);
            let mut tx = self.tx(tenant, AuditActor::Subject(subject));
            let guest = Guest {
                id,
                tenant,
                session: s.id,
                pseudonym,
                joined_at: tx.now,
                expires_at: tx.now.plus(t.settings.retention.guest_deactivate_after),
            };
            invitation.uses = invitation.uses.saturating_add(1);
            if invitation.uses >= max_uses {
                invitation.status = InvitationStatus::Closed;
            }
            tx.write(Write::UpdateInvitation(invitation.clone()));
            tx.write(Write::InsertGuest(guest.clone()));
            tx.write(Write::PutParticipant(Participant {
                session: s.id,
                tenant,
                subject,
                role: ParticipantRole::Guest,
                joined_at: tx.now,
            }));
            tx.audit(
                &store,
                AuditKind::GuestJoined,
                AuditObject::Guest(id),
                vec![
                    Change::new("pseudonym", None::<String>, Some(guest.pseudonym.as_str())),
                    Change::new("session", None::<String>, Some(s.id)),
                ],
                None,
                false,
            )
            .await?;
            tx.publish(s.id, SessionEvent::ParticipantJoined(subject));
            let caller = Caller::new(
                tenant,
                subject,
                Authentication {
                    second_factor: false,
                    at: tx.now,
                },
            );
            self.commit(&store, tx).await?;
            Ok((guest, caller))
        })
        .await
    }

    /// Enters or re-enters a session one takes part in (R-S1: an invitee can come back
    /// at any time), or works on through a group the session is shared with (team
    /// members stay team members; they are not made participants). Needs `JoinSession`,
    /// and `ViewSession` for the answer, both checked before anything is written. Every
    /// join is audited (`participant_joined`).
    pub async fn join_session(
        &self,
        caller: &Caller,
        tenant: TenantId,
        session: SessionId,
    ) -> Result<SessionDetails> {
        self.observe("join_session", Some(tenant), Some(caller), async move {
            let (store, principal, _) = self.principal(caller, tenant, Action::JoinSession).await?;
            let (mut s, parts) = self.load_session(&store, tenant, session).await?;
            let decision = self
                .check_session(
                    &principal,
                    Action::JoinSession,
                    Self::view(&s, &parts, None),
                )
                .await?;
            // The answer shows the session: that needs `view_session` too, checked before
            // anything is written.
            self.check_session(
                &principal,
                Action::ViewSession,
                Self::view(&s, &parts, None),
            )
            .await?;
            let participants = store.participants(tenant, session).await?;
            let mut tx = self.tx_of(caller, tenant);
            // Team members (access through a shared group) get no participant row: the
            // team rule already lets them work on the case, and a row would give them the
            // part of a participant, with the right to run the session.
            let known = parts.iter().any(|(who, _)| *who == caller.subject);
            s.last_activity = tx.now;
            tx.write(Write::UpdateSession(s.clone()));
            tx.audit(
                &store,
                AuditKind::ParticipantJoined,
                AuditObject::Session(session),
                if known {
                    Vec::new()
                } else {
                    vec![Change::new("access", None::<String>, Some("team"))]
                },
                Some(&decision),
                false,
            )
            .await?;
            tx.publish(session, SessionEvent::ParticipantJoined(caller.subject));
            self.commit(&store, tx).await?;
            s.revision += 1;
            Ok(SessionDetails {
                session: s,
                participants,
            })
        })
        .await
    }

    /// Adds an account of the tenant to the session as a counsellor (team counselling,
    /// handover). Needs `InviteParticipants`; the account must hold the built-in
    /// Counsellor role (else `invalid_input`); someone already taking part as host or
    /// counsellor is left as is, as client, guest or waiting is a `conflict`. For
    /// end-to-end sessions the adding device may pass the commit that adds the new
    /// counsellor's devices (`next_epoch`, checked as in
    /// [`Counselling::post_e2e_commit`]), and may share history with
    /// [`Counselling::share_history`].
    pub async fn add_counsellor(
        &self,
        caller: &Caller,
        tenant: TenantId,
        session: SessionId,
        account: AccountId,
        next_epoch: Option<E2eCommit>,
    ) -> Result<()> {
        self.observe("add_counsellor", Some(tenant), Some(caller), async move {
            let (store, _, mut s, parts, decision) = self
                .session_action(caller, tenant, session, Action::InviteParticipants)
                .await?;
            let a = store
                .account(tenant, account)
                .await?
                .ok_or(Error::NotFound { what: "account" })?;
            if !a.has_role(BuiltinRole::Counsellor.id()) {
                return Err(Error::Invalid {
                    what: "participant",
                    reason: "only counsellors are added as counsellors",
                });
            }
            // Already there: as host or counsellor nothing changes; a client or guest is
            // not turned into a counsellor of their own case.
            match parts
                .iter()
                .find(|(who, _)| *who == SubjectId::Account(account))
            {
                Some((_, ParticipantRole::Host | ParticipantRole::Counsellor)) => return Ok(()),
                Some(_) => {
                    return Err(Error::Conflict {
                        what: "participant",
                        reason: "takes part in the session as a client or guest, or waits in its lobby",
                    });
                }
                None => {}
            }
            let mut tx = self.tx_of(caller, tenant);
            tx.write(Write::PutParticipant(Participant {
                session,
                tenant,
                subject: SubjectId::Account(account),
                role: ParticipantRole::Counsellor,
                joined_at: tx.now,
            }));
            let mut after = parts.clone();
            after.push((SubjectId::Account(account), ParticipantRole::Counsellor));
            self.epoch_for_change(&store, &mut tx, &mut s, &after, next_epoch, caller, None)
                .await?;
            tx.audit(
                &store,
                AuditKind::ParticipantJoined,
                AuditObject::Session(session),
                vec![Change::new(
                    "participants",
                    None::<String>,
                    Some(format!("+{account} (counsellor)")),
                )],
                Some(&decision),
                false,
            )
            .await?;
            tx.publish(
                session,
                SessionEvent::ParticipantJoined(SubjectId::Account(account)),
            );
            self.commit(&store, tx).await
        })
        .await
    }

    /// End-to-end sessions change their group with their participants: a commit given
    /// with a participant change is checked against the participants after the change
    /// (`parts_after`, see [`Counselling::apply_e2e_commit`]); removing someone whose
    /// devices are in the group needs the commit that removes them. Adding someone
    /// needs none (their devices may have no key packages yet; any member with
    /// `InviteParticipants` adds them later). Other modes must not pass a commit.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn epoch_for_change(
        &self,
        store: &DynStore,
        tx: &mut super::Tx,
        s: &mut Session,
        parts_after: &[(SubjectId, ParticipantRole)],
        next_epoch: Option<E2eCommit>,
        caller: &Caller,
        leaving: Option<SubjectId>,
    ) -> Result<()> {
        match (s.mode, next_epoch) {
            (SessionMode::EndToEnd, Some(commit)) => {
                self.apply_e2e_commit(
                    store,
                    tx,
                    s,
                    parts_after,
                    super::e2e::CommitOn::newest(commit),
                    caller,
                )
                .await?;
                Ok(())
            }
            (SessionMode::EndToEnd, None) => match leaving {
                Some(who) if self.e2e_has_devices_of(store, s, who).await? => {
                    Err(Error::WrongMode {
                        mode: s.mode,
                        reason: "removing a participant whose devices are in the group needs the commit that removes them",
                    })
                }
                Some(_) => {
                    // The session's revision moves on, so a commit adding the leaver's
                    // devices that was checked against the old participants conflicts.
                    tx.write(Write::UpdateSession(s.clone()));
                    Ok(())
                }
                None => Ok(()),
            },
            (_, None) => Ok(()),
            (mode, Some(_)) => Err(Error::WrongMode {
                mode,
                reason: "only end-to-end sessions have an MLS group",
            }),
        }
    }

    /// Removes a participant (the host cannot be removed). End-to-end sessions need
    /// the next epoch, made without the removed participant's devices — except for
    /// someone waiting in a room's lobby, who never held keys (no epoch then). Needs
    /// `ManageParticipants` (the host).
    pub async fn remove_participant(
        &self,
        caller: &Caller,
        tenant: TenantId,
        session: SessionId,
        subject: SubjectId,
        next_epoch: Option<E2eCommit>,
    ) -> Result<()> {
        self.observe(
            "remove_participant",
            Some(tenant),
            Some(caller),
            async move {
                let (store, _, mut s, parts, decision) = self
                    .session_action(caller, tenant, session, Action::ManageParticipants)
                    .await?;
                if subject == SubjectId::Account(s.owner) {
                    return Err(Error::Invalid {
                        what: "participant",
                        reason: "the host cannot be removed",
                    });
                }
                let Some((_, part)) = parts.iter().find(|(who, _)| *who == subject) else {
                    return Err(Error::NotFound {
                        what: "participant",
                    });
                };
                let mut tx = self.tx_of(caller, tenant);
                tx.write(Write::RemoveParticipant { session, subject });
                if *part == ParticipantRole::Waiting {
                    // Turning someone away from a room's lobby: they never held keys.
                    if next_epoch.is_some() {
                        return Err(Error::WrongMode {
                            mode: s.mode,
                            reason: "someone waiting in the lobby held no keys: no commit",
                        });
                    }
                } else {
                    let after: Vec<_> = parts
                        .iter()
                        .filter(|(p, _)| *p != subject)
                        .copied()
                        .collect();
                    self.epoch_for_change(
                        &store,
                        &mut tx,
                        &mut s,
                        &after,
                        next_epoch,
                        caller,
                        Some(subject),
                    )
                    .await?;
                }
                tx.audit(
                    &store,
                    AuditKind::ParticipantRemoved,
                    AuditObject::Session(session),
                    vec![Change::new(
                        "participants",
                        Some(format!("-{subject}")),
                        None::<String>,
                    )],
                    Some(&decision),
                    false,
                )
                .await?;
                tx.publish(session, SessionEvent::ParticipantRemoved(subject));
                self.commit(&store, tx).await
            },
        )
        .await
    }

    /// Gives a counsellor of the session the keys of its earlier epochs (R-E4b): a
    /// history grant (`cai_crypto::e2e::Device::grant_history`) made on a participant's device and sealed to
    /// the recipient's devices. Allowed only when the tenant allows history sharing,
    /// for end-to-end sessions, to the host or a counsellor of the session (else
    /// `invalid_input`); a grant is at most 1 MiB (413). Needs `ShareHistory`.
    pub async fn share_history(
        &self,
        caller: &Caller,
        tenant: TenantId,
        session: SessionId,
        recipient: AccountId,
        grant: Vec<u8>,
    ) -> Result<()> {
        self.observe("share_history", Some(tenant), Some(caller), async move {
        let (store, t, s, parts, decision) = self
            .session_action(caller, tenant, session, Action::ShareHistory)
            .await?;
        if !t.settings.allow_history_sharing {
            return Err(Error::HistorySharingNotAllowed);
        }
        if s.mode != SessionMode::EndToEnd {
            return Err(Error::WrongMode {
                mode: s.mode,
                reason: "history keys are shared only in end-to-end sessions; others read through their custody",
            });
        }
        let granter = caller.subject.account().ok_or(Error::NotAccepted)?;
        if !parts.iter().any(|(who, part)| {
            *who == SubjectId::Account(recipient)
                && matches!(part, ParticipantRole::Counsellor | ParticipantRole::Host)
        }) {
            return Err(Error::Invalid {
                what: "history recipient",
                reason: "not a counsellor of the session",
            });
        }
        if grant.len() > 1 << 20 {
            return Err(Error::TooLarge {
                what: "history grant",
                limit: 1 << 20,
            });
        }
        Self::check_grant_group(&s, &grant)?;
        let mut tx = self.tx_of(caller, tenant);
        tx.write(Write::PutHistoryGrant(HistoryGrant {
            tenant,
            session,
            recipient,
            granted_by: granter,
            at: tx.now,
            grant,
        }));
        tx.audit(
            &store,
            AuditKind::HistoryShared,
            AuditObject::Session(session),
            vec![Change::new(
                "history_shared_with",
                None::<String>,
                Some(recipient),
            )],
            Some(&decision),
            true,
        )
        .await?;
        self.commit(&store, tx).await
    })
        .await
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
