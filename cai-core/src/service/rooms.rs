//! Rooms (R-S3): a counsellor's door with a password, opening one meeting at a time.
//!
//! A room is not a conversation. Whoever enters with the password waits in the lobby
//! of the room's *current meeting*, a session of its own, until the host admits them;
//! the owner starts a new meeting when the next person is due, and changing the
//! password starts one too. So a client who entered yesterday never reads today's
//! meeting — not even with yesterday's password — and today's client never reads
//! yesterday's: the personal meeting rooms of video products work this way. A room whose policy keeps
//! [`RoomContent::Nothing`] stores no content at all: chat travels live only.

use std::fmt;

use cai_crypto::modes::SessionMode;
use cai_crypto::passphrase;
use zeroize::Zeroizing;

use super::sessions::{NewSession, SessionDetails};
use super::{Caller, Counselling, Tx};
use crate::authz::{Action, Resource};
use crate::domain::{
    AuditKind, AuditObject, Change, ContentRetention, Incident, IncidentKind, Name, Participant,
    ParticipantRole, Room, RoomContent, Session, SessionKind, SessionStatus, Tenant,
};
use crate::error::{Error, Result};
use crate::id::{AccountId, IncidentId, RoomId, SessionId, SubjectId, TenantId};
use crate::ports::{AttemptKey, AttemptScope, AttemptSource, DynStore, SessionEvent, Write};

/// Shortest room password, in characters: long enough to resist guessing at Argon2id
/// cost together with the brute-force throttle.
pub const ROOM_PASSWORD_MIN: usize = 8;
/// Longest room password, in bytes.
pub const ROOM_PASSWORD_MAX: usize = 1024;

/// A room to create. JSON (request only, never echoed):
/// `{"name":"…","password":"…","mode":"session_key","content":"keep"}`; `mode` and
/// `content` may be left out.
#[derive(Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRoom {
    /// Display name.
    pub name: Name,
    /// The room password ([`ROOM_PASSWORD_MIN`] characters to [`ROOM_PASSWORD_MAX`]
    /// bytes). Only an Argon2id verifier of it is stored.
    #[serde(deserialize_with = "crate::json::secret_text")]
    pub password: Zeroizing<String>,
    /// The mode of its meetings; `None` takes the tenant's default. Passphrase mode is
    /// refused (entering would need a second secret).
    #[serde(default, with = "crate::json::mode_opt")]
    pub mode: Option<SessionMode>,
    /// What its meetings keep.
    #[serde(default)]
    pub content: RoomContent,
}

impl fmt::Debug for NewRoom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewRoom")
            .field("name", &self.name)
            .field("password", &"<redacted>")
            .field("mode", &self.mode)
            .field("content", &self.content)
            .finish()
    }
}

/// What entering a room led to.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RoomEntry {
    /// In the lobby of the current meeting until the host admits the caller
    /// ([`Counselling::admit`]); the caller sees nothing of the meeting. JSON:
    /// `{"type":"waiting","session":"ses_…"}`.
    Waiting {
        /// The meeting waited for.
        session: SessionId,
    },
    /// In the meeting (the host, or someone already admitted): JSON
    /// `{"type":"admitted","session":{…},"participants":[…]}`.
    Admitted(SessionDetails),
}

impl Counselling {
    /// Admits someone waiting in the lobby of a meeting (a room's session) as a client.
    /// Needs `ManageParticipants` (the host). In end-to-end meetings the host's device
    /// may pass the commit that adds the admitted participant's devices (`next_epoch`);
    /// nobody waiting in the lobby is ever in the group. Someone not waiting is a
    /// [`Error::Conflict`].
    pub async fn admit(
        &self,
        caller: &Caller,
        tenant: TenantId,
        session: SessionId,
        subject: SubjectId,
        next_epoch: Option<super::e2e::E2eCommit>,
    ) -> Result<()> {
        self.observe("admit", Some(tenant), Some(caller), async move {
            let (store, _, mut s, parts, decision) = self
                .session_action(caller, tenant, session, Action::ManageParticipants)
                .await?;
            match parts.iter().find(|(who, _)| *who == subject) {
                Some((_, ParticipantRole::Waiting)) => {}
                Some(_) => {
                    return Err(Error::Conflict {
                        what: "participant",
                        reason: "not waiting to be admitted",
                    });
                }
                None => {
                    return Err(Error::NotFound {
                        what: "participant",
                    });
                }
            }
            let mut tx = self.tx_of(caller, tenant);
            tx.write(Write::PutParticipant(Participant {
                session,
                tenant,
                subject,
                role: ParticipantRole::Client,
                joined_at: tx.now,
            }));
            let after: Vec<_> = parts
                .iter()
                .map(|(p, role)| {
                    if *p == subject {
                        (*p, ParticipantRole::Client)
                    } else {
                        (*p, *role)
                    }
                })
                .collect();
            self.epoch_for_change(&store, &mut tx, &mut s, &after, next_epoch, caller, None)
                .await?;
            tx.audit(
                &store,
                AuditKind::ParticipantJoined,
                AuditObject::Session(session),
                vec![Change::new(
                    "participants",
                    Some(format!("{subject} (waiting)")),
                    Some(format!("{subject} (client)")),
                )],
                Some(&decision),
                false,
            )
            .await?;
            tx.publish(session, SessionEvent::ParticipantJoined(subject));
            self.commit(&store, tx).await
        })
        .await
    }

    /// Creates the caller's personal room (R-S3) and opens its first meeting. Needs
    /// `CreateRoom`. Passphrase mode — asked for, or the tenant's default when `mode` is
    /// `None` — is `wrong_mode`; a password outside the limits is `invalid_input`.
    pub async fn create_room(
        &self,
        caller: &Caller,
        tenant: TenantId,
        new: NewRoom,
    ) -> Result<Room> {
        self.observe("create_room", Some(tenant), Some(caller), async move {
            let (store, principal, t, decision) = self
                .authorized(caller, tenant, Action::CreateRoom, Resource::Tenant(tenant))
                .await?;
            let owner = principal.account_id().ok_or(Error::NotAccepted)?;
            let mode = new.mode.unwrap_or(t.settings.default_mode);
            if mode == SessionMode::Passphrase {
                return Err(Error::WrongMode {
                    mode,
                    reason: "rooms are entered with the room password; use another mode",
                });
            }
            let verifier = self.room_verifier(&new.password).await?;
            let room_id = RoomId::random()?;
            let mut tx = self.tx_of(caller, tenant);
            let meeting = self
                .open_meeting(
                    &store,
                    &t,
                    &mut tx,
                    room_id,
                    owner,
                    mode,
                    new.content,
                    &new.name,
                )
                .await?;
            let room = Room {
                id: room_id,
                tenant,
                owner,
                name: new.name,
                session: meeting.id,
                mode,
                content: new.content,
                password: verifier,
                revision: 0,
            };
            tx.write(Write::InsertRoom(room.clone()));
            tx.audit(
                &store,
                AuditKind::RoomCreated,
                AuditObject::Room(room_id),
                vec![
                    Change::new("name", None::<String>, Some(room.name.as_str())),
                    Change::new("session", None::<String>, Some(meeting.id)),
                    Change::new("mode", None::<String>, Some(crate::json::mode_name(mode))),
                    Change::new(
                        "content",
                        None::<String>,
                        Some(match room.content {
                            RoomContent::Keep => "keep",
                            RoomContent::Nothing => "nothing",
                        }),
                    ),
                    Change::new("password", None::<String>, Some("<set>")),
                ],
                Some(&decision),
                false,
            )
            .await?;
            self.commit(&store, tx).await?;
            Ok(room)
        })
        .await
    }

    /// The room, for its owner (`ManageRoom`). Others are told it does not exist.
    pub async fn room(&self, caller: &Caller, tenant: TenantId, room: RoomId) -> Result<Room> {
        self.observe("room", Some(tenant), Some(caller), async move {
            let (_, r, _) = self.owned_room(caller, tenant, room).await?;
            Ok(r)
        })
        .await
    }

    /// Ends the room's current meeting and opens a new one: whoever is in the old
    /// meeting is not in the new one, and nothing of the old one is visible in it. The
    /// old meeting is closed as any session is (its content kept or deleted by its
    /// policy). Needs `ManageRoom` (the room's owner). Returns the new meeting.
    pub async fn start_meeting(
        &self,
        caller: &Caller,
        tenant: TenantId,
        room: RoomId,
    ) -> Result<Session> {
        self.observe("start_meeting", Some(tenant), Some(caller), async move {
            self.next_meeting_of(caller, tenant, room, None).await
        })
        .await
    }

    /// Changes a room's password (R-S3) and, with it, starts a new meeting: whoever
    /// entered with the old password stays in the old meeting. Needs `ManageRoom` (the
    /// room's owner). Returns the new meeting.
    pub async fn change_room_password(
        &self,
        caller: &Caller,
        tenant: TenantId,
        room: RoomId,
        password: &str,
    ) -> Result<Session> {
        self.observe(
            "change_room_password",
            Some(tenant),
            Some(caller),
            async move {
                self.next_meeting_of(caller, tenant, room, Some(password))
                    .await
            },
        )
        .await
    }

    /// Starts the room's next meeting, with a new password if one is given.
    async fn next_meeting_of(
        &self,
        caller: &Caller,
        tenant: TenantId,
        room: RoomId,
        password: Option<&str>,
    ) -> Result<Session> {
        let (store, mut r, decision) = self.owned_room(caller, tenant, room).await?;
        let t = self.tenant_record(&store, tenant).await?;
        let mut changes = Vec::new();
        if let Some(password) = password {
            r.password = self.room_verifier(password).await?;
            changes.push(Change::new("password", Some("<set>"), Some("<changed>")));
        }
        let mut tx = self.tx_of(caller, tenant);
        let meeting = self.next_meeting(&store, &t, &mut tx, &mut r).await?;
        changes.push(Change::new("session", None::<String>, Some(meeting.id)));
        tx.write(Write::UpdateRoom(r));
        let kind = match password {
            Some(_) => AuditKind::RoomPasswordChanged,
            None => AuditKind::MeetingStarted,
        };
        tx.audit(
            &store,
            kind,
            AuditObject::Room(room),
            changes,
            Some(&decision),
            false,
        )
        .await?;
        self.commit(&store, tx).await?;
        Ok(meeting)
    }

    /// Enters a room with its id and password (R-S3). A newcomer waits in the lobby of
    /// the current meeting until the host admits them ([`Counselling::admit`]) — a
    /// password, once shared, never opens a later meeting by itself; the host and
    /// those already admitted are let in. Only accounts of the tenant can (externals
    /// must authenticate). A wrong
    /// password is [`Error::NotAccepted`], recorded, and counted per room and per
    /// client address (`Caller::request.client`); past the
    /// threshold further attempts are refused with [`Error::TooManyRequests`] for a
    /// growing time, before any password is checked, and a `RepeatedWrongSecret`
    /// incident is raised (R-U3). Needs `EnterRoom`, and `ViewSession` to be let in;
    /// both are checked before anything is written.
    ///
    /// Checking the password runs Argon2id on the service's blocking pool.
    pub async fn enter_room(
        &self,
        caller: &Caller,
        tenant: TenantId,
        room: RoomId,
        password: &str,
    ) -> Result<RoomEntry> {
        self.observe("enter_room", Some(tenant), Some(caller), async move {
            let (store, principal, _) = self.principal(caller, tenant, Action::EnterRoom).await?;
            let r = self.load_room(&store, tenant, room).await?;
            let decision = self
                .check(
                    &principal,
                    Action::EnterRoom,
                    &Resource::Room {
                        tenant,
                        room,
                        owner: r.owner,
                    },
                )
                .await?;
            // Every attempt is counted before the password is checked — per client
            // address (strict) and per room (lenient: one client must not lock everyone
            // out) — and given back when the password was right. A blocked attempt is
            // turned away before any Argon2 time is spent on it, and guesses sent at once
            // cannot all slip past the count.
            let source = caller
                .request
                .client
                .map(|ip| AttemptSource::parse(&ip.to_string()))
                .transpose()?;
            // The strict per-source key first: a source that is turned away never
            // touches the room's counter.
            let mut keys = Vec::with_capacity(2);
            if let Some(source) = &source {
                keys.push((
                    AttemptKey::per_source(tenant, AttemptScope::Room(room), source.clone()),
                    self.config.room_throttle,
                ));
            }
            keys.push((
                AttemptKey::per_scope(tenant, AttemptScope::Room(room)),
                self.config.room_throttle_per_room,
            ));
            let reserved = self.ports.failures.reserve_all(&keys, self.now()).await?;
            let outcome = reserved.outcome;
            let matches = match self.room_password_matches(&r, password).await {
                Ok(matches) => matches,
                Err(e) => {
                    self.ports.failures.refund_all(&keys, &reserved).await?;
                    return Err(e);
                }
            };
            if !matches {
                let mut tx = self.tx_of(caller, tenant);
                tx.audit(
                    &store,
                    AuditKind::AccessDenied,
                    AuditObject::Room(room),
                    vec![Change::new("room_password", None::<String>, Some("wrong"))],
                    None,
                    false,
                )
                .await?;
                if outcome.crossed_threshold {
                    metrics::counter!(super::observe::INCIDENTS, "kind" => "repeated_wrong_secret")
                        .increment(1);
                    let id = IncidentId::random()?;
                    tx.write(Write::RecordIncident(Incident {
                        id,
                        tenant,
                        at: tx.now,
                        actor: Some(caller.subject),
                        kind: IncidentKind::RepeatedWrongSecret {
                            attempts: outcome.failures,
                            object: AuditObject::Room(room),
                            source: source.as_ref().map(|s| s.as_str().to_owned()),
                        },
                    }));
                    tx.audit(
                        &store,
                        AuditKind::IncidentRecorded,
                        AuditObject::Incident(id),
                        vec![Change::new(
                            "repeated_wrong_secret",
                            None::<String>,
                            Some(format!("room {room}: {} failures", outcome.failures)),
                        )],
                        None,
                        true,
                    )
                    .await?;
                }
                self.commit(&store, tx).await?;
                return Err(Error::NotAccepted);
            }
            // The right password: the reserved attempt is given back, and this source's
            // counter is cleared; the room's counter keeps what others got wrong.
            self.ports.failures.refund_all(&keys, &reserved).await?;
            if source.is_some()
                && let Some((per_source, _)) = keys.first()
            {
                self.ports.failures.record_success(per_source).await?;
            }
            let (s, parts) = self.load_session(&store, tenant, r.session).await?;
            if !s.is_open() {
                return Err(Error::SessionClosed);
            }
            let part = if caller.subject == SubjectId::Account(s.owner) {
                Some(ParticipantRole::Host)
            } else {
                parts
                    .iter()
                    .find(|(who, _)| *who == caller.subject)
                    .map(|(_, p)| *p)
            };
            let meeting = s.id;
            let mut tx = self.tx_of(caller, tenant);
            let (state, entry) = match part {
                // Still waiting: nothing new to record.
                Some(ParticipantRole::Waiting) => {
                    return Ok(RoomEntry::Waiting { session: meeting });
                }
                // A newcomer knocks: into the lobby. The room record is written back
                // unchanged, so an entry racing the start of a new meeting conflicts
                // instead of landing in the closed one.
                None => {
                    tx.write(Write::PutParticipant(Participant {
                        session: meeting,
                        tenant,
                        subject: caller.subject,
                        role: ParticipantRole::Waiting,
                        joined_at: tx.now,
                    }));
                    tx.write(Write::UpdateRoom(r));
                    tx.publish(meeting, SessionEvent::ParticipantWaiting(caller.subject));
                    ("waiting", RoomEntry::Waiting { session: meeting })
                }
                // The host, or someone admitted: let in. The answer shows the meeting,
                // checked before anything is written.
                Some(_) => {
                    self.check_session(
                        &principal,
                        Action::ViewSession,
                        Self::view(&s, &parts, None),
                    )
                    .await?;
                    let participants = store.participants(tenant, meeting).await?;
                    let details = SessionDetails {
                        session: s,
                        participants,
                    };
                    ("admitted", RoomEntry::Admitted(details))
                }
            };
            tx.audit(
                &store,
                AuditKind::RoomEntered,
                AuditObject::Room(room),
                vec![Change::new(
                    "session",
                    None::<String>,
                    Some(format!("{meeting} ({state})")),
                )],
                Some(&decision),
                false,
            )
            .await?;
            self.commit(&store, tx).await?;
            Ok(entry)
        })
        .await
    }

    /// Whether `password` opens `r`, checked with Argon2id off the async executor.
    async fn room_password_matches(&self, r: &Room, password: &str) -> Result<bool> {
        if password.len() > ROOM_PASSWORD_MAX {
            return Ok(false);
        }
        // A stored verifier that does not parse is corruption, not the caller's mistake.
        let params = passphrase::PassphraseParams::parse(&r.password).map_err(|_| {
            Error::Store(crate::ports::StoreError::Corrupt {
                what: "room password verifier",
            })
        })?;
        let password = Zeroizing::new(password.as_bytes().to_vec());
        self.blocking(move || passphrase::derive(&password, &params).is_ok())
            .await
    }

    async fn room_verifier(&self, password: &str) -> Result<Vec<u8>> {
        let chars = password.chars().count();
        if chars < ROOM_PASSWORD_MIN || password.len() > ROOM_PASSWORD_MAX {
            return Err(Error::Invalid {
                what: "room password",
                reason: "must be 8 characters to 1024 bytes",
            });
        }
        let password = Zeroizing::new(password.as_bytes().to_vec());
        let cost = self.config.room_password_params;
        // The password was checked above; a failure here is the server's (parameters,
        // random generator), not the caller's.
        let (_, params) = self
            .blocking(move || passphrase::create(&password, cost))
            .await?
            .map_err(|_| Error::Rng)?;
        Ok(params.to_bytes())
    }

    async fn load_room(&self, store: &DynStore, tenant: TenantId, room: RoomId) -> Result<Room> {
        store
            .room(tenant, room)
            .await?
            .ok_or(Error::NotFound { what: "room" })
    }

    async fn tenant_record(&self, store: &DynStore, tenant: TenantId) -> Result<Tenant> {
        store
            .tenant(tenant)
            .await?
            .ok_or(Error::NotFound { what: "tenant" })
    }

    /// Loads a room for its owner; anyone else is told it does not exist.
    async fn owned_room(
        &self,
        caller: &Caller,
        tenant: TenantId,
        room: RoomId,
    ) -> Result<(DynStore, Room, crate::authz::Decision)> {
        let (store, principal, _) = self.principal(caller, tenant, Action::ManageRoom).await?;
        let r = self.load_room(&store, tenant, room).await?;
        let decision = match self
            .check(
                &principal,
                Action::ManageRoom,
                &Resource::Room {
                    tenant,
                    room,
                    owner: r.owner,
                },
            )
            .await
        {
            Err(Error::Denied { .. }) => return Err(Error::NotFound { what: "room" }),
            other => other?,
        };
        Ok((store, r, decision))
    }

    /// Closes the room's current meeting (if still open) and opens the next, in `tx`.
    async fn next_meeting(
        &self,
        store: &DynStore,
        t: &Tenant,
        tx: &mut Tx,
        r: &mut Room,
    ) -> Result<Session> {
        if let Some(mut old) = store.session(t.id, r.session).await?
            && old.is_open()
        {
            old.status = SessionStatus::Closed { at: tx.now };
            tx.write(Write::UpdateSession(old.clone()));
            if old.on_close == ContentRetention::DeleteOnClose {
                self.shred_session_keys(t.id, old.id).await?;
                tx.write(Write::DeleteSessionContent(old.id));
                tx.write(Write::DeleteCustody(old.id));
            }
            tx.publish(old.id, SessionEvent::Closed);
        }
        let meeting = self
            .open_meeting(store, t, tx, r.id, r.owner, r.mode, r.content, &r.name)
            .await?;
        r.session = meeting.id;
        Ok(meeting)
    }

    /// A new meeting session of room `room`, in `tx`.
    #[allow(clippy::too_many_arguments)]
    async fn open_meeting(
        &self,
        store: &DynStore,
        t: &Tenant,
        tx: &mut Tx,
        room: RoomId,
        owner: AccountId,
        mode: SessionMode,
        content: RoomContent,
        name: &Name,
    ) -> Result<Session> {
        let new = NewSession {
            kind: SessionKind::Room(room),
            title: Some(name.clone()),
            mode: Some(mode),
            on_close: match content {
                RoomContent::Keep => None,
                RoomContent::Nothing => Some(ContentRetention::DeleteOnClose),
            },
            ..NewSession::classic()
        };
        let id = SessionId::random()?;
        self.new_session(store, t, tx, id, owner, new).await
    }

    /// Refuses content in a meeting of a room that keeps nothing.
    pub(crate) async fn room_keeps_content(&self, store: &DynStore, s: &Session) -> Result<()> {
        if let SessionKind::Room(room) = s.kind {
            let r = self.load_room(store, s.tenant, room).await?;
            if r.content == RoomContent::Nothing {
                return Err(Error::Invalid {
                    what: "content",
                    reason: "this room keeps no content; chat travels live only",
                });
            }
        }
        Ok(())
    }
}
