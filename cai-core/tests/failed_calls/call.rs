//! One call of each operation, with the arguments a step selects.

use super::*;

/// Runs one call; on success, adds what it made to the pools.
pub(crate) async fn call(
    ctx: &mut Ctx,
    op: Op,
    (who, auth, from): (u8, u8, u8),
    tsel: u8,
    x: u8,
    y: u8,
    z: u8,
) -> Result<(), Error> {
    let c = ctx.caller(op, who, auth, from);
    let t = ctx.tenant(tsel);
    let svc = ctx.w.svc.clone();
    let now = ctx.now();
    match op {
        Op::CreateTenant => {
            let spec = NewTenant {
                name: name("Gamma"),
                region: Region::parse("DE").unwrap(),
                settings: settings(y),
            };
            let admin = ctx.new_account(x);
            svc.create_tenant(spec, admin).await.map(drop)
        }
        Op::Tenant => svc.tenant(&c, t).await.map(drop),
        Op::UpdateTenantSettings => svc
            .update_tenant_settings(&c, t, settings(x))
            .await
            .map(drop),
        Op::AuditTrail => {
            let paged = svc.audit_trail(&c, t, ctx.page(x)).await?;
            ctx.keep(&paged);
            Ok(())
        }
        Op::Incidents => {
            let paged = svc.incidents(&c, t, ctx.page(x)).await?;
            ctx.keep(&paged);
            Ok(())
        }
        Op::Report => svc.report(&c, t, report_query(now, x, y)).await.map(drop),
        Op::CreateAccount => {
            let new = ctx.new_account(x);
            let roles: Vec<RoleId> = match y % 6 {
                0 => Vec::new(),
                1 => vec![BuiltinRole::Counsellor.id()],
                2 => vec![BuiltinRole::TenantAdmin.id()],
                3 => vec![RoleId::random().unwrap()],
                4 => vec![ctx.role(z)],
                _ => vec![BuiltinRole::Client.id(), BuiltinRole::Counsellor.id()],
            };
            let a = svc.create_account(&c, t, new, &roles).await?;
            if a.tenant == ctx.a.id() {
                ctx.accounts.push(a.id);
                ctx.callers.push((a.tenant, SubjectId::Account(a.id)));
                if let Some(address) = a.email.clone() {
                    ctx.emails.push((a.id, address));
                }
            }
            Ok(())
        }
        Op::Account => svc.account(&c, t, ctx.account(x)).await.map(drop),
        Op::ListAccounts => {
            let paged = svc.list_accounts(&c, t, ctx.page(x)).await?;
            ctx.keep(&paged);
            Ok(())
        }
        Op::ListGroups => {
            let paged = svc.list_groups(&c, t, ctx.page(x)).await?;
            ctx.keep(&paged);
            Ok(())
        }
        Op::UpdateAccount => {
            let changes = match y % 4 {
                0 => AccountChanges {
                    display_name: Some(name("Renamed")),
                    ..AccountChanges::default()
                },
                1 => AccountChanges {
                    valid_from: Some(Some(now.plus(days(1)))),
                    valid_until: Some(Some(now)),
                    ..AccountChanges::default()
                },
                2 => AccountChanges {
                    valid_until: Some(Some(now.plus(days(1)))),
                    ..AccountChanges::default()
                },
                _ => AccountChanges {
                    valid_from: Some(None),
                    valid_until: Some(None),
                    ..AccountChanges::default()
                },
            };
            // Often one's own account.
            let account = match (z % 2, c.subject) {
                (0, SubjectId::Account(me)) => me,
                _ => ctx.account(x),
            };
            svc.update_account(&c, t, account, changes).await.map(drop)
        }
        Op::GrantRole => svc
            .grant_role(&c, t, ctx.account(x), ctx.role(y))
            .await
            .map(drop),
        Op::RevokeRole => svc
            .revoke_role(&c, t, ctx.account(x), ctx.role(y))
            .await
            .map(drop),
        Op::CreateRole => {
            let r = svc
                .create_role(&c, t, name("Custom"), permissions(x))
                .await?;
            if r.tenant == ctx.a.id() {
                ctx.roles.push(r.id);
            }
            Ok(())
        }
        Op::SetRolePermissions => svc
            .set_role_permissions(&c, t, ctx.role(x), permissions(y))
            .await
            .map(drop),
        Op::CreateGroup | Op::SetGroupMembers => {
            let members: Vec<AccountId> = match y % 5 {
                0 => Vec::new(),
                1 => vec![ctx.account(z)],
                2 => vec![ctx.account(z), ctx.account(z.wrapping_add(1))],
                3 => c.subject.account().into_iter().collect(),
                _ if z.is_multiple_of(4) => (0..=10_000).map(|_| unknown_account()).collect(),
                _ => vec![unknown_account()],
            };
            if op == Op::CreateGroup {
                let g = svc.create_group(&c, t, name("Group"), &members).await?;
                if g.tenant == ctx.a.id() {
                    ctx.groups.push(g.id);
                }
                Ok(())
            } else {
                svc.set_group_members(&c, t, ctx.group(x), &members)
                    .await
                    .map(drop)
            }
        }
        Op::DeactivateAccount => {
            let at = match y % 3 {
                0 => None,
                1 => Some(now.minus(days(1))),
                _ => Some(now.plus(minutes(1))),
            };
            svc.deactivate_account(&c, t, ctx.account(x), at)
                .await
                .map(drop)
        }
        Op::ReactivateAccount => svc
            .reactivate_account(&c, t, ctx.account(x))
            .await
            .map(drop),
        Op::RunPseudonymisation => svc.run_pseudonymisation(t).await.map(drop),
        Op::RunRetention => {
            // Batch 0 is refused before anything is read; 1 and 2 run.
            let limits = cai_core::service::RetentionLimits {
                batch: u32::from(z % 3),
            };
            svc.run_retention(t, limits).await.map(drop)
        }
        Op::DeleteAccount => {
            let account = match (z % 3, c.subject) {
                (0, SubjectId::Account(me)) => me,
                _ => ctx.account(x),
            };
            svc.delete_account(&c, t, account).await
        }
        Op::PostContent => {
            let s = ctx.session(x);
            let item = svc.post_content(&c, t, s, kind(y), body(z)).await?;
            if item.tenant == ctx.a.id() {
                ctx.items.push((item.session, item.id));
            }
            Ok(())
        }
        Op::ReadContent => {
            let (s, item) = ctx.item(x);
            let s = if y % 5 == 4 { ctx.session(z) } else { s };
            let version = match y % 4 {
                0 | 1 => None,
                2 => Some(1),
                _ => Some(u32::from(z)),
            };
            svc.read_content(&c, t, s, item, version).await.map(drop)
        }
        Op::ListItems => {
            let paged = svc.list_items(&c, t, ctx.session(x), ctx.page(y)).await?;
            ctx.keep(&paged);
            Ok(())
        }
        Op::ReadItems => {
            let paged = svc.read_items(&c, t, ctx.session(x), ctx.page(y)).await?;
            ctx.keep(&paged);
            Ok(())
        }
        Op::Versions => {
            let (s, item) = ctx.item(x);
            let s = if y % 5 == 4 { ctx.session(z) } else { s };
            svc.versions(&c, t, s, item).await.map(drop)
        }
        Op::EditContent => {
            let (s, item) = ctx.item(x);
            let s = if y % 7 == 6 { ctx.session(z) } else { s };
            // Half of the time a body that fits the session's mode.
            let body = if z.is_multiple_of(2) {
                ctx.fitting_body(t, s).await
            } else {
                body(y)
            };
            svc.edit_content(&c, t, s, item, body).await.map(drop)
        }
        Op::UploadFile => {
            let s = ctx.session(x);
            let kind = [
                ContentKind::File,
                ContentKind::Recording,
                ContentKind::Message,
            ][usize::from(y % 3)];
            let item = svc
                .upload_file(&c, t, s, kind, file_upload(z), &mut file_source(z / 4))
                .await?;
            if item.tenant == ctx.a.id() {
                ctx.items.push((item.session, item.id));
            }
            Ok(())
        }
        Op::DownloadFile => {
            let (s, item) = ctx.item(x);
            let s = if y % 5 == 4 { ctx.session(z) } else { s };
            let mut d = svc.download_file(&c, t, s, item).await?;
            cai_core::ports::read_all(d.body.as_mut(), 1 << 20)
                .await
                .map(drop)
                .map_err(|e| Error::BlobStore(e.to_string()))
        }
        Op::SweepOrphanBlobs => svc.sweep_orphan_blobs(t).await.map(drop),
        Op::DeleteContent => {
            let (s, item) = ctx.item(x);
            let s = if y % 5 == 4 { ctx.session(z) } else { s };
            svc.delete_content(&c, t, s, item).await
        }
        Op::Explain => {
            let subject = if y.is_multiple_of(2) {
                c.subject
            } else {
                ctx.subject(z)
            };
            let action = Action::ALL[usize::from(x) % Action::ALL.len()];
            let target = match y % 6 {
                0 => Target::Tenant,
                1 => Target::Account(ctx.account(z)),
                2 => Target::Group(ctx.group(z)),
                3 => Target::Session(ctx.session(z)),
                4 => Target::Room(ctx.room(z)),
                _ => Target::Session(SessionId::random().unwrap()),
            };
            svc.explain(&c, t, subject, action, target).await.map(drop)
        }
        Op::DeliverNotifications => svc.deliver_notifications(t).await.map(drop),
        Op::Principal => {
            let action = Action::ALL[usize::from(x) % Action::ALL.len()];
            svc.principal(&c, t, action).await.map(drop)
        }
        Op::CreateSession => {
            let kind = match x % 5 {
                0 | 1 => SessionKind::Classic,
                2 | 3 => SessionKind::AdHoc,
                _ => SessionKind::Room(RoomId::random().unwrap()),
            };
            let m = mode(y);
            let passphrase_custody = match (m, z % 3) {
                (Some(SessionMode::Passphrase), 0 | 1) | (_, 2) => Some(
                    modes::create_passphrase(b"phrase", Argon2Params::MINIMUM)
                        .unwrap()
                        .1
                        .to_bytes(),
                ),
                _ => None,
            };
            let groups = match z % 7 {
                0..=2 => Vec::new(),
                3 => vec![ctx.group(x)],
                4 => vec![GroupId::random().unwrap()],
                5 => (0..65).map(|_| GroupId::random().unwrap()).collect(),
                _ => ctx.groups.clone(),
            };
            let on_close = [
                None,
                Some(ContentRetention::Keep),
                Some(ContentRetention::DeleteOnClose),
            ][usize::from(y / 5) % 3];
            let new = NewSession {
                kind,
                title: Some(name("Session")),
                mode: m,
                groups,
                on_close,
                passphrase_custody,
            };
            let s = svc.create_session(&c, t, new).await?.session;
            if s.tenant == ctx.a.id() {
                ctx.sessions.push(s.id);
            }
            Ok(())
        }
        Op::Session => svc.session(&c, t, ctx.session(x)).await.map(drop),
        Op::ListSessions => {
            let paged = svc.list_sessions(&c, t, ctx.page(x)).await?;
            ctx.keep(&paged);
            Ok(())
        }
        Op::ListGroupSessions => {
            let paged = svc
                .list_group_sessions(&c, t, ctx.group(x), ctx.page(y))
                .await?;
            ctx.keep(&paged);
            Ok(())
        }
        Op::SessionKeys => svc.session_keys(&c, t, ctx.session(x)).await.map(drop),
        Op::SessionKeysAt => svc
            .session_keys_at(&c, t, ctx.session(x), u32::from(y % 3))
            .await
            .map(drop),
        Op::PublishKeyPackages => {
            let packages = match y % 4 {
                // Ben's device's package: only Ben may publish it.
                0 => vec![ctx.other_device.key_package(z.is_multiple_of(2)).unwrap()],
                1 => Vec::new(),
                2 => vec![b"not a key package".to_vec()],
                _ => vec![vec![0; cai_core::service::MAX_KEY_PACKAGE_LEN + 1]],
            };
            svc.publish_key_packages(&c, t, packages).await.map(drop)
        }
        Op::ClaimKeyPackages => {
            let s = if x < 96 { ctx.e2e } else { ctx.session(x) };
            svc.claim_key_packages(&c, t, s, ctx.subject(y))
                .await
                .map(drop)
        }
        Op::StartE2eGroup => {
            // A new group for the session, by a fresh device of the caller.
            let s = if x < 96 { ctx.e2e } else { ctx.session(x) };
            let (mut device, key) = e2e_device(c.subject, "new-device");
            let d = ModeDescriptor::sign(
                &key,
                &AccountRef::new(c.subject.to_string().as_bytes()).unwrap(),
                t.to_string().as_bytes(),
                s.to_string().as_bytes(),
                cai_crypto::modes::SessionMode::EndToEnd,
            )
            .unwrap();
            let (info, record) = device.create_group(&d).unwrap();
            let info = if y.is_multiple_of(3) {
                b"garbage".to_vec()
            } else {
                info
            };
            svc.start_e2e_group(&c, t, s, info, record).await.map(drop)
        }
        Op::PostE2eCommit => {
            let s = if x < 96 { ctx.e2e } else { ctx.session(x) };
            let commit = ctx.e2e_commit(y);
            let r = svc.post_e2e_commit(&c, t, s, commit).await;
            ctx.settle(r.is_ok());
            r.map(drop)
        }
        Op::VetoE2eCommit => {
            let s = if x < 96 { ctx.e2e } else { ctx.session(x) };
            let commit = ctx.e2e_commit(y);
            let r = svc
                .veto_e2e_commit(&c, t, s, u32::from(z % 4), commit)
                .await;
            ctx.settle(r.is_ok());
            r.map(drop)
        }
        Op::E2eEpochs => {
            let s = if x < 96 { ctx.e2e } else { ctx.session(x) };
            let after = (!y.is_multiple_of(3)).then_some(u32::from(y % 4));
            svc.e2e_epochs(&c, t, s, after, u32::from(z))
                .await
                .map(drop)
        }
        Op::Invite => {
            let to = match y % 3 {
                0 => InviteTo::Contact {
                    email: ctx.invitee(x / 2),
                    language: [None, None, Some("de"), Some("not a tag")][usize::from(z) % 4]
                        .map(str::to_owned),
                },
                _ => InviteTo::GuestLink {
                    max_uses: [1, 3, 0, 1001][usize::from(z) % 4],
                },
            };
            let valid_for = [
                None,
                Some(hours(1)),
                Some(Duration::ZERO),
                Some(days(91)),
                None,
            ][usize::from(z / 4) % 5];
            let address = match &to {
                InviteTo::Contact { email, .. } => Some(email.clone()),
                InviteTo::GuestLink { .. } => None,
            };
            let mailed = ctx.w.mailer.sent().len();
            let invited = svc.invite(&c, t, ctx.session(x), to, valid_for).await?;
            if t == ctx.a.id() {
                ctx.invitations.push(invited.invitation());
                match invited {
                    Invited::GuestLink { secret, .. } => ctx.secrets.push((secret, None)),
                    Invited::Mailed { .. } => {
                        // The code went only to the mailbox.
                        assert_eq!(ctx.w.mailer.sent().len(), mailed + 1);
                        ctx.secrets.push((ctx.w.mailed_secret(), address));
                    }
                }
            }
            Ok(())
        }
        Op::ListInvitations => {
            let filter = match (y % 3, c.subject) {
                (0, SubjectId::Account(me)) => InvitationFilter::CreatedBy(me),
                (1, _) => InvitationFilter::CreatedBy(ctx.account(z)),
                _ => InvitationFilter::Session(ctx.session(z)),
            };
            let paged = svc.list_invitations(&c, t, filter, ctx.page(x)).await?;
            ctx.keep(&paged);
            Ok(())
        }
        Op::WithdrawInvitation => svc
            .withdraw_invitation(&c, t, ctx.invitation(x))
            .await
            .map(drop),
        Op::AcceptInvitation => {
            let (secret, address) = ctx.secret(x);
            let new = ctx.invitee_account(y, address);
            let (account, _) = svc.accept_invitation(t, &secret, new).await?;
            if account.tenant == ctx.a.id() {
                ctx.accounts.push(account.id);
                ctx.callers
                    .push((account.tenant, SubjectId::Account(account.id)));
                if let Some(address) = account.email.clone() {
                    ctx.emails.push((account.id, address));
                }
            }
            Ok(())
        }
        Op::AcceptInvitationAs => {
            let (secret, address) = ctx.secret(x);
            // Half of the time as the account holding the invited address.
            let c = match address.and_then(|a| ctx.holder(&a)) {
                Some(holder) if y.is_multiple_of(2) => Caller {
                    subject: SubjectId::Account(holder),
                    tenant: ctx.a.id(),
                    ..c
                },
                _ => c,
            };
            svc.accept_invitation_as(&c, t, &secret).await.map(drop)
        }
        Op::JoinAsGuest => {
            let pseudonym =
                Pseudonym::parse(if y.is_multiple_of(2) { "Visitor" } else { "Vi" }).unwrap();
            let (_, guest) = svc.join_as_guest(t, &ctx.secret(x).0, pseudonym).await?;
            ctx.callers.push((guest.tenant, guest.subject));
            Ok(())
        }
        Op::JoinSession => svc.join_session(&c, t, ctx.session(x)).await.map(drop),
        Op::AddCounsellor => {
            let s = ctx.session(x);
            let next = ctx.e2e_commit_opt(z);
            let r = svc.add_counsellor(&c, t, s, ctx.account(y), next).await;
            ctx.settle(r.is_ok());
            r
        }
        Op::RemoveParticipant => {
            let (s, subject) = if x < 96 {
                (ctx.with_clients, ctx.callers[4 + usize::from(y % 2)].1)
            } else {
                (ctx.session(x), ctx.subject(y))
            };
            let next = ctx.e2e_commit_opt(z);
            let r = svc.remove_participant(&c, t, s, subject, next).await;
            ctx.settle(r.is_ok());
            r
        }
        Op::ShareHistory => {
            let s = if x < 96 { ctx.e2e } else { ctx.session(x) };
            let grant = match z % 4 {
                3 if y.is_multiple_of(2) => vec![0; (1 << 20) + 1],
                _ => ctx.history(z),
            };
            svc.share_history(&c, t, s, ctx.account(y), grant).await
        }
        Op::CloseSession => svc.close_session(&c, t, ctx.session(x)).await.map(drop),
        Op::AttachModeDescriptor => {
            // Signed by the caller for one of the sessions, in a mode that may or may
            // not be the session's; sometimes garbage.
            let s = ctx.session(x);
            let mode = cai_crypto::modes::SessionMode::ALL[usize::from(z) % 4];
            let descriptor = ModeDescriptor::sign(
                &cai_crypto::e2e::IdentityKey::generate().unwrap(),
                &AccountRef::new(c.subject.to_string().as_bytes()).unwrap(),
                t.to_string().as_bytes(),
                s.to_string().as_bytes(),
                mode,
            )
            .unwrap()
            .as_bytes()
            .to_vec();
            let descriptor = if y.is_multiple_of(5) {
                b"garbage".to_vec()
            } else {
                descriptor
            };
            svc.attach_mode_descriptor(&c, t, s, descriptor)
                .await
                .map(drop)
        }
        Op::CreateRoom => {
            let password = room_password(y, ROOM_PASSWORD);
            let new = NewRoom {
                content: if x.is_multiple_of(3) {
                    RoomContent::Nothing
                } else {
                    RoomContent::Keep
                },
                ..new_room("Room", &password, mode(z))
            };
            let room = svc.create_room(&c, t, new).await?;
            if room.tenant == ctx.a.id() {
                ctx.rooms.push((room.id, password));
                ctx.sessions.push(room.session);
            }
            Ok(())
        }
        Op::Room => svc.room(&c, t, ctx.room(x)).await.map(drop),
        Op::Admit => {
            // Mostly someone who may be waiting in a room's meeting: any caller of the
            // world, into the session of a room or any other session.
            let s = match x % 3 {
                0 => ctx
                    .sessions
                    .last()
                    .copied()
                    .unwrap_or_else(|| ctx.session(x)),
                _ => ctx.session(x),
            };
            let next = ctx.e2e_commit_opt(z);
            let r = svc.admit(&c, t, s, ctx.subject(y), next).await;
            ctx.settle(r.is_ok());
            r
        }
        Op::StartMeeting => {
            let meeting = svc.start_meeting(&c, t, ctx.room(x)).await?;
            if meeting.tenant == ctx.a.id() {
                ctx.sessions.push(meeting.id);
            }
            Ok(())
        }
        Op::ChangeRoomPassword => {
            let room = ctx.room(x);
            let password = room_password(y, "a new password");
            let meeting = svc.change_room_password(&c, t, room, &password).await?;
            if let Some(entry) = ctx.rooms.iter_mut().find(|(id, _)| *id == room) {
                entry.1 = password;
            }
            if meeting.tenant == ctx.a.id() {
                ctx.sessions.push(meeting.id);
            }
            Ok(())
        }
        Op::EnterRoom => {
            // Mostly a room of A, else any (B's, unknown).
            let room = if x < 160 {
                ctx.rooms[usize::from(x) % ctx.rooms.len()].0
            } else {
                ctx.room(x)
            };
            let right = ctx
                .rooms
                .iter()
                .find(|(id, _)| *id == room)
                .map_or(ROOM_PASSWORD.to_owned(), |(_, p)| p.clone());
            // The right password half of the time.
            let password = if y.is_multiple_of(2) {
                right
            } else {
                room_password(y / 2, &right)
            };
            svc.enter_room(&c, t, room, &password).await.map(drop)
        }
        // Never fails: called for coverage of the table only.
        Op::Health => {
            svc.health().await;
            Ok(())
        }
    }
}
