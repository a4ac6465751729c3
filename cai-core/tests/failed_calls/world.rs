//! The world a case runs in: tenants, accounts, sessions, rooms, pools of ids and
//! secrets (the selectors that pick arguments are in `select.rs`).

use super::*;

// ---------------------------------------------------------------------------------
// The world.

pub(crate) const ROOM_PASSWORD: &str = "correct horse battery";

pub(crate) fn name(text: &str) -> Name {
    Name::parse(text).unwrap()
}

pub(crate) fn email(text: &str) -> Email {
    Email::parse(text).unwrap()
}

/// A fresh id of an account nobody has.
pub(crate) fn unknown_account() -> AccountId {
    AccountId::random().unwrap()
}

/// What a custom role of the world grants: joining sessions and entering rooms, but
/// not seeing a session (`view_session`).
pub(crate) fn joiner_permissions() -> PermissionSet {
    PermissionSet::of(&[
        Action::JoinSession,
        Action::EnterRoom,
        Action::ReadContent,
        Action::ViewOwnAccount,
    ])
}

pub(crate) struct Ctx {
    pub(crate) w: World,
    pub(crate) a: Org,
    pub(crate) b: Org,
    /// Subjects to call as (`tenant`, `subject`); the first ones are fixed:
    /// 0 admin of A, 1 second admin of A, 2 Cora and 3 Ben (counsellors), 4 a client,
    /// 5 Jo (custom role without view_session), 6 a guest, 7 a deactivated account,
    /// 8 the admin of B, 9 an account that does not exist.
    pub(crate) callers: Vec<(TenantId, SubjectId)>,
    /// Accounts of A (some deleted later, one unknown from the start).
    pub(crate) accounts: Vec<AccountId>,
    pub(crate) foreign_account: AccountId,
    pub(crate) sessions: Vec<SessionId>,
    /// The end-to-end session (Cora hosts, Ben counsels) and the session-key session
    /// (Cora hosts, the client and Jo are clients), picked more often by the
    /// operations that need them.
    pub(crate) e2e: SessionId,
    pub(crate) with_clients: SessionId,
    pub(crate) foreign_session: SessionId,
    pub(crate) items: Vec<(SessionId, ItemId)>,
    pub(crate) foreign_item: (SessionId, ItemId),
    pub(crate) rooms: Vec<(RoomId, String)>,
    pub(crate) foreign_room: RoomId,
    /// Invitation codes, each with the address a contact request was mailed to
    /// (`None` for guest links).
    pub(crate) secrets: Vec<(InvitationSecret, Option<Email>)>,
    pub(crate) foreign_secret: (InvitationSecret, Option<Email>),
    pub(crate) invitations: Vec<InvitationId>,
    pub(crate) foreign_invitation: InvitationId,
    /// Accounts of A with their addresses (for contact requests to them).
    pub(crate) emails: Vec<(AccountId, Email)>,
    /// Cursors from the listings' answers (each valid for its own listing only).
    pub(crate) cursors: Vec<Cursor>,
    pub(crate) groups: Vec<GroupId>,
    pub(crate) foreign_group: GroupId,
    pub(crate) roles: Vec<RoleId>,
    pub(crate) foreign_role: RoleId,
    /// Cora's device: creator of the end-to-end session's group (behind a lock: MLS
    /// operations change it).
    pub(crate) device: Mutex<Device>,
    /// Ben's device, a member since epoch 1.
    pub(crate) other_device: Device,
    /// Cora's commit that led into epoch 1: replayed, it is always stale.
    pub(crate) stale_commit: E2eCommit,
    /// The session-key session's key (`with_clients`): what a client seals under.
    pub(crate) with_clients_key: DataKey,
    pub(crate) counter: u32,
}

impl Ctx {
    pub(crate) async fn new() -> Self {
        let w = World::new();
        // History sharing allowed, so share_history can succeed (settings can turn it
        // off again).
        let a = w
            .org_with(
                "Alpha",
                TenantSettings {
                    allow_history_sharing: true,
                    ..TenantSettings::default()
                },
            )
            .await;
        let b = w.org("Beta").await;
        let admin_a = a.admin_caller;
        let (admin2, _) = w.member(&a, "Ada", BuiltinRole::TenantAdmin).await;
        let (cora, as_cora) = w.member(&a, "Cora", BuiltinRole::Counsellor).await;
        let (ben, _) = w.member(&a, "Ben", BuiltinRole::Counsellor).await;
        let (cli, as_cli) = w.member(&a, "Cli", BuiltinRole::Client).await;
        let (dee, _) = w.member(&a, "Dee", BuiltinRole::Client).await;
        let svc = &w.svc;
        let joiner = svc
            .create_role(&admin_a, a.id(), name("Joiner"), joiner_permissions())
            .await
            .unwrap();
        let jo = svc
            .create_account(
                &admin_a,
                a.id(),
                NewAccount::new(email("jo@alpha.example"), name("Jo")),
                &[joiner.id],
            )
            .await
            .unwrap();
        let as_jo = w.caller(a.id(), SubjectId::Account(jo.id), false);
        let team = svc
            .create_group(&admin_a, a.id(), name("Team"), &[jo.id, ben.id])
            .await
            .unwrap();

        let mode = |m: SessionMode| NewSession {
            mode: Some(m),
            groups: vec![team.id],
            ..NewSession::classic()
        };
        let a_id = a.id();
        let create = |new: NewSession| async move {
            svc.create_session(&as_cora, a_id, new)
                .await
                .unwrap()
                .session
                .id
        };
        let s_sm = create(mode(SessionMode::ServerManaged)).await;
        let s_sk = create(mode(SessionMode::SessionKey)).await;
        let (_, custody) = modes::create_passphrase(b"our phrase", Argon2Params::MINIMUM).unwrap();
        let s_pp = create(NewSession {
            passphrase_custody: Some(custody.to_bytes()),
            ..mode(SessionMode::Passphrase)
        })
        .await;
        let s_e2e = create(mode(SessionMode::EndToEnd)).await;
        let s_adhoc = create(NewSession {
            mode: Some(SessionMode::ServerManaged),
            ..NewSession::ad_hoc()
        })
        .await;
        let s_delete = create(NewSession {
            on_close: Some(ContentRetention::DeleteOnClose),
            ..mode(SessionMode::ServerManaged)
        })
        .await;
        let s_closed = create(mode(SessionMode::ServerManaged)).await;

        let (mut device, cora_key) = e2e_device(SubjectId::Account(cora.id), "cora-laptop");
        let (other_device, _) = e2e_device(SubjectId::Account(ben.id), "ben-laptop");
        let d = ModeDescriptor::sign(
            &cora_key,
            &AccountRef::new(SubjectId::Account(cora.id).to_string().as_bytes()).unwrap(),
            a.id().to_string().as_bytes(),
            s_e2e.to_string().as_bytes(),
            cai_crypto::modes::SessionMode::EndToEnd,
        )
        .unwrap();
        let (info, record) = device.create_group(&d).unwrap();
        svc.start_e2e_group(&as_cora, a.id(), s_e2e, info, record)
            .await
            .unwrap();
        let as_ben = w.caller(a.id(), SubjectId::Account(ben.id), false);
        svc.publish_key_packages(
            &as_ben,
            a.id(),
            vec![
                other_device.key_package(false).unwrap(),
                other_device.key_package(true).unwrap(),
            ],
        )
        .await
        .unwrap();
        let kps = svc
            .claim_key_packages(&as_cora, a.id(), s_e2e, SubjectId::Account(ben.id))
            .await
            .unwrap();
        let gid = e2e_group(a.id(), s_e2e);
        let stale_commit: E2eCommit = device.add(&gid, &kps).unwrap().into();
        svc.add_counsellor(&as_cora, a.id(), s_e2e, ben.id, Some(stale_commit.clone()))
            .await
            .unwrap();
        device.confirm(&gid).unwrap();

        // Content: a note and a message in the server-managed session, a sealed note in
        // the session-key one, a note in the session deleted on close.
        let mut items = Vec::new();
        for (s, kind) in [
            (s_sm, ContentKind::Note),
            (s_sm, ContentKind::Message),
            (s_delete, ContentKind::Document),
        ] {
            let item = svc
                .post_content(
                    &as_cora,
                    a.id(),
                    s,
                    kind,
                    ContentBody::plain(b"notes".to_vec()),
                )
                .await
                .unwrap();
            items.push((s, item.id));
        }
        let with_clients_key = match svc.session_keys(&as_cora, a.id(), s_sk).await.unwrap() {
            cai_core::service::SessionKeyMaterial::SessionKey(key) => key,
            _ => unreachable!("a session-key session"),
        };
        let item = svc
            .post_content(
                &as_cora,
                a.id(),
                s_sk,
                ContentKind::Note,
                sealed_under(&with_clients_key),
            )
            .await
            .unwrap();
        items.push((s_sk, item.id));
        svc.close_session(&as_cora, a.id(), s_closed).await.unwrap();

        // The client and Jo accept contact requests to the session-key session, mailed
        // to their addresses; requests to Ben, Dee and a newcomer stay pending.
        let address = |account: &cai_core::domain::Account| account.email.clone().unwrap();
        let mut secrets = Vec::new();
        let mut invitations = Vec::new();
        for (who, to) in [
            (Some(&as_cli), address(&cli)),
            (Some(&as_jo), address(&jo)),
            (None, address(&ben)),
            (None, address(&dee)),
            (None, email("later@mail.example")),
        ] {
            let invited = svc
                .invite(&as_cora, a.id(), s_sk, InviteTo::contact(to.clone()), None)
                .await
                .unwrap();
            let secret = w.mailed_secret();
            if let Some(who) = who {
                svc.accept_invitation_as(who, a.id(), &secret)
                    .await
                    .unwrap();
            }
            invitations.push(invited.invitation());
            secrets.push((secret, Some(to)));
        }
        // A guest link with a guest.
        let link = svc
            .invite(
                &as_cora,
                a.id(),
                s_adhoc,
                InviteTo::GuestLink { max_uses: 5 },
                None,
            )
            .await
            .unwrap();
        invitations.push(link.invitation());
        let link = link.into_secret().unwrap();
        let (_, as_guest) = svc
            .join_as_guest(a.id(), &link, Pseudonym::parse("Guest one").unwrap())
            .await
            .unwrap();
        secrets.push((link, None));
        // Cora's room.
        let room = svc
            .create_room(
                &as_cora,
                a.id(),
                new_room("Cora's room", ROOM_PASSWORD, None),
            )
            .await
            .unwrap();
        // A deactivated client.
        svc.deactivate_account(&admin_a, a.id(), dee.id, None)
            .await
            .unwrap();

        // Tenant B: a counsellor with a session, an item, a room, a group, a role and
        // a pending invitation.
        let (bob, as_bob) = w.member(&b, "Bob", BuiltinRole::Counsellor).await;
        let foreign_session = svc
            .create_session(
                &as_bob,
                b.id(),
                NewSession {
                    mode: Some(SessionMode::ServerManaged),
                    ..NewSession::classic()
                },
            )
            .await
            .unwrap()
            .session
            .id;
        let foreign_item = svc
            .post_content(
                &as_bob,
                b.id(),
                foreign_session,
                ContentKind::Note,
                ContentBody::plain(b"b".to_vec()),
            )
            .await
            .unwrap()
            .id;
        let foreign_room = svc
            .create_room(&as_bob, b.id(), new_room("Bob's room", ROOM_PASSWORD, None))
            .await
            .unwrap()
            .id;
        let foreign_group = svc
            .create_group(&b.admin_caller, b.id(), name("B team"), &[bob.id])
            .await
            .unwrap()
            .id;
        let foreign_role = svc
            .create_role(
                &b.admin_caller,
                b.id(),
                name("B role"),
                PermissionSet::EMPTY,
            )
            .await
            .unwrap()
            .id;
        let foreign_invitation = svc
            .invite(
                &as_bob,
                b.id(),
                foreign_session,
                InviteTo::contact(email("x@mail.example")),
                None,
            )
            .await
            .unwrap()
            .invitation();
        let foreign_secret = (w.mailed_secret(), Some(email("x@mail.example")));

        let unknown = unknown_account();
        let mut roles: Vec<RoleId> = BuiltinRole::ALL.iter().map(|r| r.id()).collect();
        roles.push(joiner.id);
        Ctx {
            callers: vec![
                (a.id(), SubjectId::Account(a.admin.id)),
                (a.id(), SubjectId::Account(admin2.id)),
                (a.id(), SubjectId::Account(cora.id)),
                (a.id(), SubjectId::Account(ben.id)),
                (a.id(), as_cli.subject),
                (a.id(), SubjectId::Account(jo.id)),
                (a.id(), as_guest.subject),
                (a.id(), SubjectId::Account(dee.id)),
                (b.id(), SubjectId::Account(b.admin.id)),
                (a.id(), SubjectId::Account(unknown)),
            ],
            accounts: vec![
                a.admin.id, admin2.id, cora.id, ben.id, cli.id, jo.id, dee.id, unknown,
            ],
            foreign_account: bob.id,
            sessions: vec![
                s_sm,
                s_sk,
                s_pp,
                s_e2e,
                s_adhoc,
                s_delete,
                s_closed,
                room.session,
            ],
            e2e: s_e2e,
            with_clients: s_sk,
            with_clients_key,
            foreign_session,
            items,
            foreign_item: (foreign_session, foreign_item),
            rooms: vec![(room.id, ROOM_PASSWORD.to_owned())],
            foreign_room,
            secrets,
            foreign_secret,
            invitations,
            foreign_invitation,
            emails: [&a.admin, &admin2, &cora, &ben, &cli, &jo, &dee]
                .into_iter()
                .map(|acc| (acc.id, address(acc)))
                .collect(),
            cursors: Vec::new(),
            groups: vec![team.id],
            foreign_group,
            roles,
            foreign_role,
            device: Mutex::new(device),
            other_device,
            stale_commit,
            counter: 0,
            w,
            a,
            b,
        }
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.w.now()
    }

    /// The caller for `op`: half of the time (`who < 128`) one who may well succeed
    /// (an admin for administration, Cora for her sessions, a participant for
    /// joining), otherwise anyone in the pool. `auth` picks the authentication: bit 0
    /// a second factor, bit 1 a login an hour ago (beyond the admin re-authentication
    /// window); the likely callers log in with a second factor unless `auth` is 3.
    /// `from` picks the client address the request comes from (none, or one of
    /// three), which the room throttle counts by.
    pub(crate) fn caller(&self, op: Op, who: u8, auth: u8, from: u8) -> Caller {
        let (index, auth) = if who < 128 {
            let likely: &[usize] = match op {
                Op::UpdateTenantSettings
                | Op::AuditTrail
                | Op::Incidents
                | Op::Report
                | Op::CreateAccount
                | Op::Account
                | Op::ListAccounts
                | Op::ListGroups
                | Op::UpdateAccount
                | Op::GrantRole
                | Op::RevokeRole
                | Op::CreateRole
                | Op::SetRolePermissions
                | Op::CreateGroup
                | Op::SetGroupMembers
                | Op::DeactivateAccount
                | Op::ReactivateAccount
                | Op::DeleteAccount
                | Op::Explain
                | Op::Principal
                | Op::Tenant => &[0, 1],
                Op::JoinSession | Op::EnterRoom | Op::AcceptInvitationAs => &[2, 3, 4, 5, 6],
                Op::PostContent
                | Op::ReadContent
                | Op::ListItems
                | Op::ReadItems
                | Op::ListSessions
                | Op::ListGroupSessions
                | Op::Versions
                | Op::EditContent
                | Op::DeleteContent
                | Op::Session
                | Op::SessionKeys
                | Op::SessionKeysAt => &[2, 2, 3, 4, 6],
                Op::WithdrawInvitation | Op::ListInvitations => &[2, 2, 0],
                _ => &[2],
            };
            let auth = if auth == 3 { 3 } else { 1 };
            (likely[usize::from(who) % likely.len()], auth)
        } else {
            (usize::from(who) % self.callers.len(), auth)
        };
        let (tenant, subject) = self.callers[index];
        let now = self.now();
        let at = if auth & 2 != 0 {
            now.minus(hours(1))
        } else {
            now
        };
        let client =
            (!from.is_multiple_of(4)).then(|| IpAddr::V4(Ipv4Addr::new(10, 0, 0, from % 4)));
        Caller::new(
            tenant,
            subject,
            Authentication {
                second_factor: auth & 1 != 0,
                at,
            },
        )
        .with_request(RequestMeta { id: None, client })
    }

    /// Mostly tenant A, sometimes B, sometimes a tenant that does not exist.
    pub(crate) fn tenant(&self, sel: u8) -> TenantId {
        match sel % 8 {
            6 => self.b.id(),
            7 => TenantId::random().unwrap(),
            _ => self.a.id(),
        }
    }

    pub(crate) fn account(&self, sel: u8) -> AccountId {
        pick(&self.accounts, sel, self.foreign_account, unknown_account)
    }

    pub(crate) fn session(&self, sel: u8) -> SessionId {
        pick(&self.sessions, sel, self.foreign_session, || {
            SessionId::random().unwrap()
        })
    }

    pub(crate) fn item(&self, sel: u8) -> (SessionId, ItemId) {
        pick(&self.items, sel, self.foreign_item, || {
            (self.sessions[0], ItemId::random().unwrap())
        })
    }

    pub(crate) fn room(&self, sel: u8) -> RoomId {
        let ids: Vec<RoomId> = self.rooms.iter().map(|(id, _)| *id).collect();
        pick(&ids, sel, self.foreign_room, || RoomId::random().unwrap())
    }

    pub(crate) fn group(&self, sel: u8) -> GroupId {
        pick(&self.groups, sel, self.foreign_group, || {
            GroupId::random().unwrap()
        })
    }

    pub(crate) fn role(&self, sel: u8) -> RoleId {
        pick(&self.roles, sel, self.foreign_role, || {
            RoleId::random().unwrap()
        })
    }

    /// An invitation code with the address it was mailed to, if any.
    pub(crate) fn secret(&self, sel: u8) -> (InvitationSecret, Option<Email>) {
        pick(&self.secrets, sel, self.foreign_secret.clone(), || {
            (
                InvitationSecret::generate(InvitationId::random().unwrap()).unwrap(),
                Some(email("someone@mail.example")),
            )
        })
    }

    pub(crate) fn invitation(&self, sel: u8) -> InvitationId {
        pick(&self.invitations, sel, self.foreign_invitation, || {
            InvitationId::random().unwrap()
        })
    }

    /// An address to invite: a newcomer's, or one of an account of A.
    pub(crate) fn invitee(&mut self, sel: u8) -> Email {
        if sel.is_multiple_of(2) {
            self.counter += 1;
            email(&format!("invitee{}@mail.example", self.counter))
        } else {
            let i = usize::from(sel / 2) % self.emails.len();
            self.emails[i].1.clone()
        }
    }

    /// The account of A that holds `address`, if any.
    pub(crate) fn holder(&self, address: &Email) -> Option<AccountId> {
        self.emails
            .iter()
            .find(|(_, e)| e == address)
            .map(|(id, _)| *id)
    }

    /// A page request: the first page (default, small, oversized, newest first), a
    /// cursor from an earlier answer (of this listing or another), or a bad cursor.
    pub(crate) fn page(&self, sel: u8) -> PageRequest {
        let bad = |text: &str| PageRequest::after(Cursor::parse(text).unwrap());
        match sel % 10 {
            0 | 1 => PageRequest::first(),
            2 => PageRequest::with_limit(1),
            3 => PageRequest::with_limit(100_000),
            4 => PageRequest {
                newest_first: Some(true),
                limit: Some(2),
                ..PageRequest::default()
            },
            5 | 6 if !self.cursors.is_empty() => {
                let i = usize::from(sel / 10) % self.cursors.len();
                PageRequest::after(self.cursors[i].clone())
            }
            5 => bad("x.o.nonsense"),
            6 => bad("evt.n.1"),
            7 => bad("evt.o.99999999999999999999999"),
            8 => bad("ses.o.nonsense"),
            _ => bad("inc.o.3"),
        }
    }

    /// Keeps a listing's next cursor for later calls.
    pub(crate) fn keep<T>(&mut self, paged: &Paged<T>) {
        if let Some(next) = &paged.next
            && self.cursors.len() < 32
        {
            self.cursors.push(next.clone());
        }
    }

    pub(crate) fn subject(&self, sel: u8) -> SubjectId {
        let subjects: Vec<SubjectId> = self.callers.iter().map(|(_, s)| *s).collect();
        pick(
            &subjects,
            sel,
            SubjectId::Account(self.foreign_account),
            || SubjectId::Guest(GuestId::random().unwrap()),
        )
    }

    pub(crate) fn fresh_email(&mut self) -> Email {
        self.counter += 1;
        email(&format!("new{}@alpha.example", self.counter))
    }

    /// The account to accept a contact request with: the invited address (also with
    /// a bad validity window), another new address, or one that has an account.
    pub(crate) fn invitee_account(&mut self, sel: u8, invited: Option<Email>) -> NewAccount {
        let invited = invited.unwrap_or_else(|| self.fresh_email());
        match sel % 5 {
            0 | 1 => NewAccount::new(invited, name("Invitee")),
            2 => NewAccount {
                valid_from: Some(self.now().plus(days(1))),
                valid_until: Some(self.now()),
                ..NewAccount::new(invited, name("Window"))
            },
            3 => NewAccount::new(self.fresh_email(), name("Other")),
            _ => NewAccount::new(email("jo@alpha.example"), name("Jo again")),
        }
    }

    pub(crate) fn new_account(&mut self, sel: u8) -> NewAccount {
        match sel % 3 {
            0 => NewAccount::new(self.fresh_email(), name("New")),
            1 => NewAccount::new(email("jo@alpha.example"), name("Jo again")),
            _ => NewAccount {
                valid_from: Some(self.now().plus(days(1))),
                valid_until: Some(self.now()),
                ..NewAccount::new(self.fresh_email(), name("Window"))
            },
        }
    }

    /// A body the session's mode takes: plaintext for server-managed sessions, sealed
    /// otherwise.
    pub(crate) async fn fitting_body(&self, tenant: TenantId, session: SessionId) -> ContentBody {
        match self.w.store.session(tenant, session).await.unwrap() {
            Some(s) if s.mode == SessionMode::ServerManaged => {
                ContentBody::plain(b"edited".to_vec())
            }
            _ if session == self.with_clients => sealed_under(&self.with_clients_key),
            _ => sealed_body(),
        }
    }
}
