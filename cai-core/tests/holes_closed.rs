#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
#![allow(clippy::indexing_slicing)]
//! Regression tests for what a randomized probe written from `docs/CORE.md` found inside
//! one tenant, each named after the hole it closes. Every one of them failed on the code
//! before the fix.

mod common;

use std::net::{IpAddr, Ipv4Addr};

use cai_core::authz::{Action, DenyReason, PermissionSet};
use cai_core::domain::{
    AccountStatus, AuditKind, BuiltinRole, ContentKind, Email, IncidentKind, Name, Pseudonym,
    RequestId, RequestMeta, RoomContent, SessionMode,
};
use cai_core::id::SubjectId;
use cai_core::ports::{
    AuditStore, ContentStore, DirectoryStore, InvitationFilter, SessionStore, Write,
};
use cai_core::service::{
    AccountChanges, ContentBody, InviteTo, Invited, NewAccount, NewRoom, NewSession, PageRequest,
    RoomEntry,
};
use cai_core::{Caller, Error, ErrorCategory, minutes};
use common::{Org, World};

fn plain(text: &str) -> ContentBody {
    ContentBody::plain(text.as_bytes().to_vec())
}

fn server_managed() -> NewSession {
    NewSession {
        mode: Some(SessionMode::ServerManaged),
        ..NewSession::classic()
    }
}

fn ad_hoc() -> NewSession {
    NewSession {
        mode: Some(SessionMode::ServerManaged),
        ..NewSession::ad_hoc()
    }
}

fn room(password: &str, content: RoomContent) -> NewRoom {
    NewRoom {
        name: Name::parse("Coras Raum").unwrap(),
        password: password.to_owned().into(),
        mode: Some(SessionMode::ServerManaged),
        content,
    }
}

async fn guest_link(
    w: &World,
    org: &Org,
    by: &Caller,
    session: cai_core::id::SessionId,
) -> Invited {
    w.svc
        .invite(
            by,
            org.id(),
            session,
            InviteTo::GuestLink { max_uses: 5 },
            None,
        )
        .await
        .unwrap()
}

/// Enters the room, is admitted by the host from the lobby, and is let in.
async fn enter_admitted(
    w: &World,
    org: &Org,
    who: &Caller,
    host: &Caller,
    room: cai_core::id::RoomId,
    password: &str,
) -> cai_core::service::SessionDetails {
    let entry = w
        .svc
        .enter_room(who, org.id(), room, password)
        .await
        .unwrap();
    let RoomEntry::Waiting { session } = entry else {
        panic!("a newcomer waits in the lobby: {entry:?}");
    };
    w.svc
        .admit(host, org.id(), session, who.subject, None)
        .await
        .unwrap();
    match w
        .svc
        .enter_room(who, org.id(), room, password)
        .await
        .unwrap()
    {
        RoomEntry::Admitted(details) => details,
        other => panic!("admitted: {other:?}"),
    }
}

fn secret(invited: Invited) -> cai_core::domain::InvitationSecret {
    invited.into_secret().expect("a guest link")
}

async fn join(
    w: &World,
    org: &Org,
    link: &cai_core::domain::InvitationSecret,
) -> Result<Caller, Error> {
    w.svc
        .join_as_guest(org.id(), link, Pseudonym::parse("Gast").unwrap())
        .await
        .map(|(_, c)| c)
}

// ---------------------------------------------------------------------------------------
// 1. Invitations are honoured only while their inviter could still issue them.

#[tokio::test]
async fn hole_1_a_guest_link_dies_with_its_inviters_access() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (host, host_caller) = w.member(&org, "Host", BuiltinRole::Counsellor).await;
    let (cora, cora_caller) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let _ = host;
    let s = w
        .svc
        .create_session(&host_caller, org.id(), ad_hoc())
        .await
        .unwrap()
        .session;
    w.svc
        .add_counsellor(&host_caller, org.id(), s.id, cora.id, None)
        .await
        .unwrap();

    // Three links by Cora; each loses its force in another way.
    let removed = secret(guest_link(&w, &org, &cora_caller, s.id).await);
    let demoted = secret(guest_link(&w, &org, &cora_caller, s.id).await);
    let deactivated = secret(guest_link(&w, &org, &cora_caller, s.id).await);
    join(&w, &org, &removed).await.unwrap();

    // Removed from the session.
    w.svc
        .remove_participant(
            &host_caller,
            org.id(),
            s.id,
            SubjectId::Account(cora.id),
            None,
        )
        .await
        .unwrap();
    let r = join(&w, &org, &removed).await;
    assert!(matches!(r, Err(Error::NotAccepted)), "{r:?}");
    // Back in the session, but without the counsellor role.
    w.svc
        .add_counsellor(&host_caller, org.id(), s.id, cora.id, None)
        .await
        .unwrap();
    join(&w, &org, &demoted).await.unwrap();
    let second = w.member(&org, "Second", BuiltinRole::TenantAdmin).await.1;
    w.svc
        .revoke_role(&second, org.id(), cora.id, BuiltinRole::Counsellor.id())
        .await
        .unwrap();
    let r = join(&w, &org, &demoted).await;
    assert!(matches!(r, Err(Error::NotAccepted)), "{r:?}");
    w.svc
        .grant_role(&second, org.id(), cora.id, BuiltinRole::Counsellor.id())
        .await
        .unwrap();
    // Deactivated.
    join(&w, &org, &deactivated).await.unwrap();
    w.svc
        .deactivate_account(&org.admin_caller, org.id(), cora.id, None)
        .await
        .unwrap();
    let r = join(&w, &org, &deactivated).await;
    assert!(matches!(r, Err(Error::NotAccepted)), "{r:?}");
}

#[tokio::test]
async fn hole_1_a_deactivated_counsellor_cannot_accept_its_own_contact_code() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (cora, cora_caller) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let s = w
        .svc
        .create_session(&cora_caller, org.id(), server_managed())
        .await
        .unwrap()
        .session;
    let address = Email::parse("cora.private@mail.example").unwrap();
    w.svc
        .invite(
            &cora_caller,
            org.id(),
            s.id,
            InviteTo::contact(address.clone()),
            None,
        )
        .await
        .unwrap();
    let code = w.mailed_secret();
    w.svc
        .deactivate_account(&org.admin_caller, org.id(), cora.id, None)
        .await
        .unwrap();
    let r = w
        .svc
        .accept_invitation(
            org.id(),
            &code,
            NewAccount::new(address, Name::parse("C").unwrap()),
        )
        .await;
    assert!(matches!(r, Err(Error::NotAccepted)), "{r:?}");
}

#[tokio::test]
async fn hole_1_invitations_are_listed_and_withdrawn_by_inviter_host_and_admin_only() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (_, host) = w.member(&org, "Host", BuiltinRole::Counsellor).await;
    let (cora, cora_caller) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let (_, outsider) = w.member(&org, "Otto", BuiltinRole::Counsellor).await;
    let s = w
        .svc
        .create_session(&host, org.id(), ad_hoc())
        .await
        .unwrap()
        .session;
    w.svc
        .add_counsellor(&host, org.id(), s.id, cora.id, None)
        .await
        .unwrap();
    let mut links = Vec::new();
    for _ in 0..3 {
        links.push(guest_link(&w, &org, &cora_caller, s.id).await);
    }

    // Listed newest first, in pages, to the session's counsellors and to the inviter.
    let page = w
        .svc
        .list_invitations(
            &host,
            org.id(),
            InvitationFilter::Session(s.id),
            PageRequest::with_limit(2),
        )
        .await
        .unwrap();
    let ids: Vec<_> = page.items.iter().map(|i| i.id).collect();
    assert_eq!(ids, vec![links[2].invitation(), links[1].invitation()]);
    let rest = w
        .svc
        .list_invitations(
            &host,
            org.id(),
            InvitationFilter::Session(s.id),
            PageRequest::after(page.next.clone().unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 1);
    assert!(rest.next.is_none());
    let mine = w
        .svc
        .list_invitations(
            &cora_caller,
            org.id(),
            InvitationFilter::CreatedBy(cora.id),
            PageRequest::first(),
        )
        .await
        .unwrap();
    assert_eq!(mine.items.len(), 3);
    let r = w
        .svc
        .list_invitations(
            &outsider,
            org.id(),
            InvitationFilter::Session(s.id),
            PageRequest::first(),
        )
        .await;
    assert!(matches!(r, Err(Error::NotFound { .. })), "{r:?}");

    // An outsider cannot withdraw; the inviter, the host and an admin can.
    let r = w
        .svc
        .withdraw_invitation(&outsider, org.id(), links[0].invitation())
        .await;
    assert!(
        matches!(r, Err(Error::NotFound { what: "invitation" })),
        "{r:?}"
    );
    for (who, link) in [
        (&cora_caller, &links[0]),
        (&host, &links[1]),
        (&org.admin_caller, &links[2]),
    ] {
        w.svc
            .withdraw_invitation(who, org.id(), link.invitation())
            .await
            .unwrap();
    }
    let r = w
        .svc
        .withdraw_invitation(&host, org.id(), links[0].invitation())
        .await;
    assert!(matches!(r, Err(Error::Conflict { .. })), "{r:?}");
    for link in links {
        let r = join(&w, &org, &secret(link)).await;
        assert!(matches!(r, Err(Error::NotAccepted)), "{r:?}");
    }
    let trail = w.store.audit_events(org.id(), 0, 1000).await.unwrap();
    assert_eq!(
        trail
            .iter()
            .filter(|(_, e)| e.kind == AuditKind::InvitationWithdrawn)
            .count(),
        3
    );
}

// ---------------------------------------------------------------------------------------
// 2. A contact code goes only to the invited mailbox, and binds its address.

#[tokio::test]
async fn hole_2_the_contact_code_is_mailed_only_and_binds_the_invited_address() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (_, cora) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let s = w
        .svc
        .create_session(&cora, org.id(), server_managed())
        .await
        .unwrap()
        .session;
    let invited = w
        .svc
        .invite(
            &cora,
            org.id(),
            s.id,
            InviteTo::contact(Email::parse("Kim@Mail.example").unwrap()),
            None,
        )
        .await
        .unwrap();
    // The inviter gets the invitation's id, never its code.
    assert!(matches!(invited, Invited::Mailed { .. }));
    assert!(invited.into_secret().is_none());
    let code = w.mailed_secret();

    // Whoever holds the code cannot take it with another address …
    let r = w
        .svc
        .accept_invitation(
            org.id(),
            &code,
            NewAccount::new(
                Email::parse("mallory@mail.example").unwrap(),
                Name::parse("M").unwrap(),
            ),
        )
        .await;
    assert!(matches!(r, Err(Error::NotAccepted)), "{r:?}");
    // … nor with an existing account of another address.
    let (_, other) = w.member(&org, "Other", BuiltinRole::Client).await;
    let r = w.svc.accept_invitation_as(&other, org.id(), &code).await;
    assert!(matches!(r, Err(Error::NotAccepted)), "{r:?}");
    // The invited person can (addresses compare case-insensitively).
    let (account, joined) = w
        .svc
        .accept_invitation(
            org.id(),
            &code,
            NewAccount::new(
                Email::parse("kim@mail.example").unwrap(),
                Name::parse("Kim").unwrap(),
            ),
        )
        .await
        .unwrap();
    assert_eq!(joined, s.id);
    assert_eq!(account.email.unwrap().as_str(), "kim@mail.example");
}

#[tokio::test]
async fn invitation_mail_follows_the_hosts_template_with_the_code_in_a_fragment() {
    use cai_core::service::{InvitationTemplate, InvitationTemplates};
    let w = World::new();
    let mut config = cai_core::ServiceConfig::default();
    let mut templates = InvitationTemplates::default();
    templates.by_language.insert(
        "de".into(),
        InvitationTemplate::new(
            "Einladung von {tenant}",
            "Guten Tag! Bitte folgen Sie {link} (gültig bis {expires}).",
            Some("https://beratung.example/einladung".into()),
        )
        .unwrap(),
    );
    config.invitation_mail = templates;
    config.room_password_params = cai_crypto::passphrase::Argon2Params::MINIMUM;
    let svc = cai_core::Counselling::with_config(w.svc.ports().clone(), config);
    let org = w.org("Nord").await;
    let (_, cora) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let s = svc
        .create_session(&cora, org.id(), server_managed())
        .await
        .unwrap()
        .session;
    svc.invite(
        &cora,
        org.id(),
        s.id,
        InviteTo::Contact {
            email: Email::parse("kim@mail.example").unwrap(),
            language: Some("de-AT".into()),
        },
        None,
    )
    .await
    .unwrap();
    let mail = w.mailer.sent().pop().unwrap();
    assert_eq!(mail.subject, "Einladung von Nord");
    assert!(
        mail.body
            .contains("https://beratung.example/einladung#inv_"),
        "{}",
        mail.body.as_str()
    );
    assert!(!mail.body.contains("?inv_") && !mail.body.contains("=inv_"));
    let r = svc
        .invite(
            &cora,
            org.id(),
            s.id,
            InviteTo::Contact {
                email: Email::parse("kim@mail.example").unwrap(),
                language: Some("de_AT; drop".into()),
            },
            None,
        )
        .await;
    assert!(
        matches!(
            r,
            Err(Error::Invalid {
                what: "language",
                ..
            })
        ),
        "{r:?}"
    );
}

// ---------------------------------------------------------------------------------------
// 3. A room is a door: each meeting is its own session.

#[tokio::test]
async fn hole_3_one_meetings_content_is_never_visible_in_another() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (_, cora) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let (_, a) = w.member(&org, "Anna", BuiltinRole::Client).await;
    let (_, b) = w.member(&org, "Bert", BuiltinRole::Client).await;
    let r = w
        .svc
        .create_room(&cora, org.id(), room("first password", RoomContent::Keep))
        .await
        .unwrap();

    let first = enter_admitted(&w, &org, &a, &cora, r.id, "first password")
        .await
        .session;
    let said = w
        .svc
        .post_content(
            &a,
            org.id(),
            first.id,
            ContentKind::Message,
            plain("A's worries"),
        )
        .await
        .unwrap();
    // The counsellor changes the password: a new meeting starts, the old one closes.
    let second = w
        .svc
        .change_room_password(&cora, org.id(), r.id, "second password")
        .await
        .unwrap();
    assert_ne!(second.id, first.id);
    assert!(
        !w.store
            .session(org.id(), first.id)
            .await
            .unwrap()
            .unwrap()
            .is_open()
    );
    let entered = enter_admitted(&w, &org, &b, &cora, r.id, "second password").await;
    assert_eq!(entered.session.id, second.id);
    assert!(!entered.participants.iter().any(|p| p.subject == a.subject));

    // B cannot read A's meeting; A cannot read B's.
    let r1 = w
        .svc
        .read_content(&b, org.id(), first.id, said.id, None)
        .await;
    assert!(matches!(r1, Err(Error::NotFound { .. })), "{r1:?}");
    let told = w
        .svc
        .post_content(
            &b,
            org.id(),
            second.id,
            ContentKind::Message,
            plain("B's worries"),
        )
        .await
        .unwrap();
    let r2 = w
        .svc
        .read_content(&a, org.id(), second.id, told.id, None)
        .await;
    assert!(matches!(r2, Err(Error::NotFound { .. })), "{r2:?}");
    let listed = w
        .svc
        .list_items(&b, org.id(), second.id, PageRequest::first())
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);

    // Starting a meeting without a new password works the same way — and whoever knows
    // the password only reaches the lobby: A, who learnt it before, waits outside the
    // next meeting and reads nothing of it.
    let third = w.svc.start_meeting(&cora, org.id(), r.id).await.unwrap();
    let entry = w
        .svc
        .enter_room(&a, org.id(), r.id, "second password")
        .await
        .unwrap();
    assert!(
        matches!(entry, RoomEntry::Waiting { session } if session == third.id),
        "{entry:?}"
    );
    let later = enter_admitted(&w, &org, &b, &cora, r.id, "second password").await;
    let secret_of_b = w
        .svc
        .post_content(
            &b,
            org.id(),
            later.session.id,
            ContentKind::Message,
            plain("later"),
        )
        .await
        .unwrap();
    let r5 = w
        .svc
        .read_content(&a, org.id(), third.id, secret_of_b.id, None)
        .await;
    assert!(matches!(r5, Err(Error::NotFound { .. })), "{r5:?}");
    let r6 = w.svc.session(&a, org.id(), third.id).await;
    assert!(matches!(r6, Err(Error::NotFound { .. })), "{r6:?}");
    // The host sees who waits, and can turn them away.
    let lobby = w.svc.session(&cora, org.id(), third.id).await.unwrap();
    assert!(lobby.participants.iter().any(|p| p.subject == a.subject
        && p.role == cai_core::domain::ParticipantRole::Waiting));
    w.svc
        .remove_participant(&cora, org.id(), third.id, a.subject, None)
        .await
        .unwrap();
    let entered = enter_admitted(&w, &org, &a, &cora, r.id, "second password").await;
    assert_eq!(entered.session.id, third.id);
    let r3 = w
        .svc
        .read_content(&a, org.id(), second.id, told.id, None)
        .await;
    assert!(matches!(r3, Err(Error::NotFound { .. })), "{r3:?}");
    // Only the owner starts meetings.
    let r4 = w.svc.start_meeting(&a, org.id(), r.id).await;
    assert!(
        matches!(r4, Err(Error::NotFound { what: "room" })),
        "{r4:?}"
    );
}

#[tokio::test]
async fn hole_3_a_room_can_keep_no_content_at_all() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (_, cora) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let (_, a) = w.member(&org, "Anna", BuiltinRole::Client).await;
    let r = w
        .svc
        .create_room(&cora, org.id(), room("live only pw", RoomContent::Nothing))
        .await
        .unwrap();
    let meeting = enter_admitted(&w, &org, &a, &cora, r.id, "live only pw")
        .await
        .session;
    for who in [&a, &cora] {
        let r = w
            .svc
            .post_content(
                who,
                org.id(),
                meeting.id,
                ContentKind::Message,
                plain("hello"),
            )
            .await;
        assert!(
            matches!(
                r,
                Err(Error::Invalid {
                    what: "content",
                    ..
                })
            ),
            "{r:?}"
        );
    }
    assert!(
        w.store
            .items(org.id(), meeting.id, cai_core::ports::Page::first(10))
            .await
            .unwrap()
            .is_empty()
    );
}

// ---------------------------------------------------------------------------------------
// 4. Group changes are security relevant, and the admins hear of them.

#[tokio::test]
async fn hole_4_changing_group_members_notifies_the_admins() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (ben, _) = w.member(&org, "Ben", BuiltinRole::Counsellor).await;
    let g = w
        .svc
        .create_group(
            &org.admin_caller,
            org.id(),
            Name::parse("Team").unwrap(),
            &[],
        )
        .await
        .unwrap();
    let before = w.notifier.delivered().len();
    w.svc
        .set_group_members(&org.admin_caller, org.id(), g.id, &[ben.id])
        .await
        .unwrap();
    let delivered = w.notifier.delivered();
    assert_eq!(delivered.len(), before + 1);
    assert_eq!(
        delivered.last().unwrap().kind,
        AuditKind::GroupMembersChanged
    );
}

// ---------------------------------------------------------------------------------------
// 5. A call that fails leaves nothing behind.

#[tokio::test]
async fn hole_5_join_and_enter_check_view_session_before_writing() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (_, cora) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    // A custom role that may join and enter but not view.
    let role = w
        .svc
        .create_role(
            &org.admin_caller,
            org.id(),
            Name::parse("Blind").unwrap(),
            PermissionSet::of(&[Action::JoinSession, Action::EnterRoom, Action::ReadContent]),
        )
        .await
        .unwrap();
    let (blind, _) = w.member(&org, "Blind", BuiltinRole::Client).await;
    let second = w.member(&org, "Second", BuiltinRole::TenantAdmin).await.1;
    w.svc
        .revoke_role(&second, org.id(), blind.id, BuiltinRole::Client.id())
        .await
        .unwrap();
    w.svc
        .grant_role(&second, org.id(), blind.id, role.id)
        .await
        .unwrap();
    let blind = w.account_caller(&org, blind.id);

    let r = w
        .svc
        .create_room(&cora, org.id(), room("room password", RoomContent::Keep))
        .await
        .unwrap();
    // Knocking needs no `view_session`; being let in after admission does.
    let entry = w
        .svc
        .enter_room(&blind, org.id(), r.id, "room password")
        .await
        .unwrap();
    assert!(matches!(entry, RoomEntry::Waiting { .. }), "{entry:?}");
    w.svc
        .admit(&cora, org.id(), r.session, blind.subject, None)
        .await
        .unwrap();
    let audit_before = w.store.audit_events(org.id(), 0, 1000).await.unwrap().len();
    let parts_before = w.store.participants(org.id(), r.session).await.unwrap();
    let e = w
        .svc
        .enter_room(&blind, org.id(), r.id, "room password")
        .await;
    assert!(e.is_err(), "{e:?}");
    assert_eq!(
        w.store.participants(org.id(), r.session).await.unwrap(),
        parts_before
    );
    assert_eq!(
        w.store.audit_events(org.id(), 0, 1000).await.unwrap().len(),
        audit_before
    );

    // A session the blind account takes part in: joining it writes nothing either.
    let s = w
        .svc
        .create_session(&cora, org.id(), server_managed())
        .await
        .unwrap()
        .session;
    let mut batch = cai_core::ports::Batch::new(org.id());
    batch.push(Write::PutParticipant(cai_core::domain::Participant {
        session: s.id,
        tenant: org.id(),
        subject: blind.subject,
        role: cai_core::domain::ParticipantRole::Client,
        joined_at: w.now(),
    }));
    cai_core::ports::Store::commit(w.store.as_ref(), batch)
        .await
        .unwrap();
    let session_before = w.store.session(org.id(), s.id).await.unwrap();
    let audit_before = w.store.audit_events(org.id(), 0, 1000).await.unwrap().len();
    let j = w.svc.join_session(&blind, org.id(), s.id).await;
    assert!(j.is_err(), "{j:?}");
    assert_eq!(
        w.store.session(org.id(), s.id).await.unwrap(),
        session_before
    );
    assert_eq!(
        w.store.audit_events(org.id(), 0, 1000).await.unwrap().len(),
        audit_before
    );
}

// ---------------------------------------------------------------------------------------
// 6. Four eyes on one's own window; the last admin who can act for good stays.

#[tokio::test]
async fn hole_6_a_time_limited_admin_cannot_lift_its_own_end_date() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (temp, temp_caller) = w.member(&org, "Temp", BuiltinRole::TenantAdmin).await;
    w.svc
        .update_account(
            &org.admin_caller,
            org.id(),
            temp.id,
            AccountChanges {
                valid_until: Some(Some(w.now().plus(cai_core::days(30)))),
                ..AccountChanges::default()
            },
        )
        .await
        .unwrap();
    let r = w
        .svc
        .update_account(
            &temp_caller,
            org.id(),
            temp.id,
            AccountChanges {
                valid_until: Some(None),
                ..AccountChanges::default()
            },
        )
        .await;
    assert!(
        matches!(
            r,
            Err(Error::Denied {
                reason: DenyReason::FourEyes,
                ..
            })
        ),
        "{r:?}"
    );
    // Its own display name it may change.
    w.svc
        .update_account(
            &temp_caller,
            org.id(),
            temp.id,
            AccountChanges {
                display_name: Some(Name::parse("Temporary").unwrap()),
                ..AccountChanges::default()
            },
        )
        .await
        .unwrap();

    // The time-limited admin does not count as the tenant's lasting administrator: it
    // cannot remove the one that does, nor give it an end date.
    let r = w
        .svc
        .revoke_role(
            &temp_caller,
            org.id(),
            org.admin.id,
            BuiltinRole::TenantAdmin.id(),
        )
        .await;
    assert!(matches!(r, Err(Error::Conflict { .. })), "{r:?}");
    let r = w
        .svc
        .update_account(
            &temp_caller,
            org.id(),
            org.admin.id,
            AccountChanges {
                valid_until: Some(Some(w.now().plus(cai_core::days(1)))),
                ..AccountChanges::default()
            },
        )
        .await;
    assert!(matches!(r, Err(Error::Conflict { .. })), "{r:?}");
    let r = w
        .svc
        .deactivate_account(&temp_caller, org.id(), org.admin.id, None)
        .await;
    assert!(matches!(r, Err(Error::Conflict { .. })), "{r:?}");
}

#[tokio::test]
async fn hole_6_a_locked_admin_is_no_lasting_admin() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (locked, _) = w.member(&org, "Locked", BuiltinRole::TenantAdmin).await;
    let mut a = w.store.account(org.id(), locked.id).await.unwrap().unwrap();
    a.status = AccountStatus::Locked {
        at: w.now(),
        until: None,
    };
    let mut batch = cai_core::ports::Batch::new(org.id());
    batch.push(Write::UpdateAccount(a));
    cai_core::ports::Store::commit(w.store.as_ref(), batch)
        .await
        .unwrap();
    let locked_caller = w.caller(org.id(), SubjectId::Account(locked.id), true);
    let r = w.svc.account(&locked_caller, org.id(), locked.id).await;
    assert!(matches!(r, Err(Error::AccountNotUsable)), "{r:?}");
    // With the other admin locked, the first is the last one who can act.
    let (_, third) = w.member(&org, "Third", BuiltinRole::Counsellor).await;
    let _ = third;
    let r = w
        .svc
        .delete_account(&org.admin_caller, org.id(), org.admin.id)
        .await;
    assert!(matches!(r, Err(Error::Conflict { .. })), "{r:?}");
}

// ---------------------------------------------------------------------------------------
// 7. Brute force on room passwords is detected, slowed and reported (R-U3).

#[tokio::test]
async fn hole_7_wrong_room_passwords_are_throttled_and_reported() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (_, cora) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let (_, kim) = w.member(&org, "Kim", BuiltinRole::Client).await;
    let r = w
        .svc
        .create_room(&cora, org.id(), room("the password", RoomContent::Keep))
        .await
        .unwrap();
    let from = RequestMeta {
        id: Some(RequestId::parse("req-1").unwrap()),
        client: Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7))),
    };
    let attacker = kim.with_request(from);
    let free = cai_core::throttle::ThrottlePolicy::default().free_attempts;
    for _ in 0..free {
        let e = w
            .svc
            .enter_room(&attacker, org.id(), r.id, "guess guess")
            .await;
        assert!(matches!(e, Err(Error::NotAccepted)), "{e:?}");
    }
    assert!(
        w.store
            .incidents(org.id(), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let notified = w.notifier.delivered().len();
    // One more: still "not accepted", now throttled and reported once.
    let e = w
        .svc
        .enter_room(&attacker, org.id(), r.id, "guess guess")
        .await;
    assert!(matches!(e, Err(Error::NotAccepted)), "{e:?}");
    let incidents = w.store.incidents(org.id(), None, 10).await.unwrap();
    assert_eq!(incidents.len(), 1);
    assert!(matches!(
        &incidents[0].1.kind,
        IncidentKind::RepeatedWrongSecret { attempts, source: Some(src), .. }
            if *attempts == free + 1 && src == "203.0.113.7"
    ));
    assert_eq!(w.notifier.delivered().len(), notified + 1);
    // Blocked: even the right password is turned away until the wait is over …
    let e = w
        .svc
        .enter_room(&attacker, org.id(), r.id, "the password")
        .await;
    let Err(Error::TooManyRequests { retry_after }) = e else {
        panic!("{e:?}");
    };
    assert_eq!(
        e.as_ref().unwrap_err().category(),
        ErrorCategory::TooManyRequests
    );
    // … the block grows with further failures and is reported only once per burst.
    w.clock.advance(retry_after);
    let e = w
        .svc
        .enter_room(&attacker, org.id(), r.id, "guess guess")
        .await;
    assert!(matches!(e, Err(Error::NotAccepted)), "{e:?}");
    let e = w
        .svc
        .enter_room(&attacker, org.id(), r.id, "the password")
        .await;
    let Err(Error::TooManyRequests {
        retry_after: longer,
    }) = e
    else {
        panic!("{e:?}");
    };
    assert!(longer > retry_after, "{longer:?} > {retry_after:?}");
    assert_eq!(
        w.store.incidents(org.id(), None, 10).await.unwrap().len(),
        1
    );
    // The audit trail carries the request metadata of every wrong guess.
    let trail = w.store.audit_events(org.id(), 0, 1000).await.unwrap();
    assert!(
        trail
            .iter()
            .filter(|(_, e)| e.kind == AuditKind::AccessDenied)
            .all(|(_, e)| e.request == from)
    );
    w.clock.advance(longer);
    w.svc
        .enter_room(&attacker, org.id(), r.id, "the password")
        .await
        .unwrap();
}

// ---------------------------------------------------------------------------------------
// 8. Incidents page, newest first: a flood cannot hide the latest.

#[tokio::test]
async fn hole_8_incidents_are_paged_newest_first() {
    let w = World::new();
    let nord = w.org("Nord").await;
    let sued = w.org("Sued").await;
    let (cora, _) = w.member(&nord, "Cora", BuiltinRole::Counsellor).await;
    // Cora's login stays fresh while the clock moves on below.
    let cora = || w.caller(nord.id(), SubjectId::Account(cora.id), false);
    // A burst of cross-tenant attempts is one incident, not one per request …
    for _ in 0..50 {
        let _ = w
            .svc
            .audit_trail(&cora(), sued.id(), PageRequest::first())
            .await;
    }
    let burst = w
        .svc
        .incidents(&sued.admin_caller, sued.id(), PageRequest::first())
        .await
        .unwrap();
    assert_eq!(burst.items.len(), 1);
    // … so 1,005 incidents take 1,005 bursts, an hour apart.
    for _ in 1..1005 {
        w.clock.advance(minutes(61));
        let _ = w
            .svc
            .audit_trail(&cora(), sued.id(), PageRequest::first())
            .await;
    }
    // Then something new.
    let (kim, _) = w.member(&sued, "Kim", BuiltinRole::Client).await;
    let kim = w.caller(sued.id(), SubjectId::Account(kim.id), false);
    let _ = w.svc.tenant(&kim, nord.id()).await;
    let admin = w.caller(sued.id(), SubjectId::Account(sued.admin.id), true);
    let first = w
        .svc
        .incidents(&admin, sued.id(), PageRequest::with_limit(10))
        .await
        .unwrap();
    assert_eq!(first.items.len(), 10);
    assert!(matches!(
        first.items[0].kind,
        IncidentKind::CrossTenantAccess { actor_tenant, .. } if actor_tenant == sued.id()
    ));
    // Paging on reaches the oldest; every page continues where the last ended.
    let mut seen = first.items.len();
    let mut next = first.next;
    let mut pages = 1;
    while let Some(cursor) = next {
        let page = w
            .svc
            .incidents(
                &admin,
                sued.id(),
                PageRequest {
                    cursor: Some(cursor),
                    limit: Some(200),
                    newest_first: None,
                },
            )
            .await
            .unwrap();
        seen += page.items.len();
        next = page.next;
        pages += 1;
        assert!(pages < 20, "paging does not end");
    }
    assert_eq!(seen, 1006);
}

// ---------------------------------------------------------------------------------------
// Also wrong before.

#[tokio::test]
async fn deactivated_admins_receive_no_notifications() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (gone, _) = w.member(&org, "Gone", BuiltinRole::TenantAdmin).await;
    w.svc
        .deactivate_account(&org.admin_caller, org.id(), gone.id, None)
        .await
        .unwrap();
    w.member(&org, "New", BuiltinRole::Counsellor).await;
    let last = w.notifier.delivered().pop().unwrap();
    assert_eq!(last.kind, AuditKind::RoleGranted);
    assert_eq!(last.recipients, vec![org.admin.id]);
}

#[tokio::test]
async fn adding_a_client_as_counsellor_is_a_conflict() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (_, cora) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let (both, both_caller) = w.member(&org, "Both", BuiltinRole::Counsellor).await;
    let s = w
        .svc
        .create_session(&cora, org.id(), ad_hoc())
        .await
        .unwrap()
        .session;
    // `Both` takes part as a client (through a room-less path: an accepted contact).
    let mut batch = cai_core::ports::Batch::new(org.id());
    batch.push(Write::PutParticipant(cai_core::domain::Participant {
        session: s.id,
        tenant: org.id(),
        subject: both_caller.subject,
        role: cai_core::domain::ParticipantRole::Client,
        joined_at: w.now(),
    }));
    cai_core::ports::Store::commit(w.store.as_ref(), batch)
        .await
        .unwrap();
    let r = w
        .svc
        .add_counsellor(&cora, org.id(), s.id, both.id, None)
        .await;
    assert!(matches!(r, Err(Error::Conflict { .. })), "{r:?}");
    assert_eq!(r.unwrap_err().http_status(), 409);
}

#[tokio::test]
async fn what_a_caller_may_not_see_answers_like_what_does_not_exist() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (_, cora) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let (_, ben) = w.member(&org, "Ben", BuiltinRole::Counsellor).await;
    let s = w
        .svc
        .create_session(&cora, org.id(), server_managed())
        .await
        .unwrap()
        .session;
    let unknown = cai_core::id::SessionId::random().unwrap();
    let seen = w.svc.session(&ben, org.id(), s.id).await.unwrap_err();
    let none = w.svc.session(&ben, org.id(), unknown).await.unwrap_err();
    assert_eq!(seen.to_string(), none.to_string());
    let seen = w
        .svc
        .post_content(&ben, org.id(), s.id, ContentKind::Message, plain("x"))
        .await
        .unwrap_err();
    let none = w
        .svc
        .post_content(&ben, org.id(), unknown, ContentKind::Message, plain("x"))
        .await
        .unwrap_err();
    assert_eq!(seen.to_string(), none.to_string());

    // A guest link for an unknown tenant answers like a wrong secret.
    let link = secret(
        guest_link(
            &w,
            &org,
            &cora,
            w.svc
                .create_session(&cora, org.id(), ad_hoc())
                .await
                .unwrap()
                .session
                .id,
        )
        .await,
    );
    let unknown_tenant = cai_core::id::TenantId::random().unwrap();
    let r = w
        .svc
        .join_as_guest(unknown_tenant, &link, Pseudonym::parse("Gast").unwrap())
        .await;
    assert!(matches!(r, Err(Error::NotAccepted)), "{r:?}");
}

#[tokio::test]
async fn chat_messages_are_edited_only_where_the_tenant_allows_and_every_version_stays() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (_, cora) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let s = w
        .svc
        .create_session(&cora, org.id(), server_managed())
        .await
        .unwrap()
        .session;
    let msg = w
        .svc
        .post_content(&cora, org.id(), s.id, ContentKind::Message, plain("helo"))
        .await
        .unwrap();
    let r = w
        .svc
        .edit_content(&cora, org.id(), s.id, msg.id, plain("hello"))
        .await;
    assert!(matches!(r, Err(Error::Invalid { .. })), "{r:?}");

    let mut settings = org.tenant.settings.clone();
    settings.allow_message_editing = true;
    w.svc
        .update_tenant_settings(&org.admin_caller, org.id(), settings)
        .await
        .unwrap();
    let edited = w
        .svc
        .edit_content(&cora, org.id(), s.id, msg.id, plain("hello"))
        .await
        .unwrap();
    assert_eq!(edited.latest_version, 2);
    let views = w
        .svc
        .read_items(&cora, org.id(), s.id, PageRequest::first())
        .await
        .unwrap();
    assert!(matches!(&views.items[0].body, ContentBody::Plain(p) if p.as_slice() == b"hello"));
    let old = w
        .svc
        .read_content(&cora, org.id(), s.id, msg.id, Some(1))
        .await
        .unwrap();
    assert!(matches!(&old.body, ContentBody::Plain(p) if p.as_slice() == b"helo"));
    let trail = w.store.audit_events(org.id(), 0, 1000).await.unwrap();
    assert!(
        trail
            .iter()
            .any(|(_, e)| e.kind == AuditKind::ContentEdited)
    );
}

#[tokio::test]
async fn listings_page_with_opaque_cursors() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (_, cora) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let mut made = Vec::new();
    for _ in 0..5 {
        made.push(
            w.svc
                .create_session(&cora, org.id(), server_managed())
                .await
                .unwrap()
                .session
                .id,
        );
    }
    let mut ids = Vec::new();
    let mut page = PageRequest::with_limit(2);
    loop {
        let got = w
            .svc
            .list_sessions(&cora, org.id(), page.clone())
            .await
            .unwrap();
        ids.extend(got.items.iter().map(|s| s.id));
        match got.next {
            Some(c) => {
                page = PageRequest {
                    cursor: Some(c),
                    limit: Some(2),
                    newest_first: None,
                }
            }
            None => break,
        }
    }
    made.reverse();
    assert_eq!(ids, made, "newest first, each once");

    // Items: newest first by default, oldest first on request; a cursor of one listing
    // is refused by another.
    let s = made[0];
    for n in 0..3 {
        w.svc
            .post_content(
                &cora,
                org.id(),
                s,
                ContentKind::Message,
                plain(&format!("m{n}")),
            )
            .await
            .unwrap();
    }
    let newest = w
        .svc
        .read_items(&cora, org.id(), s, PageRequest::with_limit(1))
        .await
        .unwrap();
    assert!(matches!(&newest.items[0].body, ContentBody::Plain(p) if p.as_slice() == b"m2"));
    let oldest = w
        .svc
        .read_items(
            &cora,
            org.id(),
            s,
            PageRequest {
                newest_first: Some(false),
                ..PageRequest::with_limit(1)
            },
        )
        .await
        .unwrap();
    assert!(matches!(&oldest.items[0].body, ContentBody::Plain(p) if p.as_slice() == b"m0"));
    let r = w
        .svc
        .list_sessions(&cora, org.id(), PageRequest::after(newest.next.unwrap()))
        .await;
    assert!(
        matches!(r, Err(Error::Invalid { what: "cursor", .. })),
        "{r:?}"
    );

    // Accounts and groups for administrators.
    let accounts = w
        .svc
        .list_accounts(&org.admin_caller, org.id(), PageRequest::first())
        .await
        .unwrap();
    assert_eq!(accounts.items.len(), 2);
    assert_eq!(accounts.items[0].id, org.admin.id, "oldest first");
    let r = w
        .svc
        .list_accounts(&cora, org.id(), PageRequest::first())
        .await;
    assert!(matches!(r, Err(Error::Denied { .. })), "{r:?}");
    w.svc
        .create_group(&org.admin_caller, org.id(), Name::parse("T").unwrap(), &[])
        .await
        .unwrap();
    assert_eq!(
        w.svc
            .list_groups(&org.admin_caller, org.id(), PageRequest::first())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
}

#[tokio::test]
async fn errors_map_to_categories_and_bodies_that_keep_internals_out() {
    let e = Error::KeyProvider("connection to kms.internal:9000 refused, token abc".into());
    let body = e.to_body();
    assert_eq!(body.category, ErrorCategory::Unavailable);
    assert_eq!(e.http_status(), 503);
    assert!(!body.message.contains("kms") && !body.message.contains("abc"));
    let e = Error::TooManyRequests {
        retry_after: std::time::Duration::from_millis(1001),
    };
    assert_eq!(e.to_body().retry_after_secs, Some(2));
    assert_eq!(e.http_status(), 429);
    assert_eq!(Error::NotAccepted.http_status(), 403);
    assert_eq!(Error::Unauthenticated.http_status(), 401);
    assert_eq!(
        Error::TooLarge {
            what: "x",
            limit: 1
        }
        .http_status(),
        413
    );
    assert_eq!(Error::NotFound { what: "session" }.http_status(), 404);
    let _ = minutes(1);
}

// ---------------------------------------------------------------------------------------
// Found by the second review of this change.

fn from(last: u8) -> RequestMeta {
    RequestMeta {
        id: None,
        client: Some(IpAddr::V4(Ipv4Addr::new(198, 51, 100, last))),
    }
}

#[tokio::test]
async fn a_right_room_password_never_locks_the_room_for_others() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (_, cora) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let (_, lea) = w.member(&org, "Lea", BuiltinRole::Client).await;
    let r = w
        .svc
        .create_room(&cora, org.id(), room("the password", RoomContent::Keep))
        .await
        .unwrap();
    // 26 wrong guesses spread over 13 addresses: the room's counter is past its 20
    // free failures, no single address is.
    for n in 0..26u8 {
        let guesser = lea.with_request(from(n / 2));
        let _ = w
            .svc
            .enter_room(&guesser, org.id(), r.id, "wrong guess")
            .await;
    }
    w.clock.advance(minutes(10));
    // Lea enters with the right password; right after her, the owner from another
    // address does too.
    w.svc
        .enter_room(&lea.with_request(from(200)), org.id(), r.id, "the password")
        .await
        .unwrap();
    w.svc
        .enter_room(
            &cora.with_request(from(201)),
            org.id(),
            r.id,
            "the password",
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_time_limited_admin_cannot_widen_a_role_into_an_outlasting_admin() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (temp, temp_caller) = w.member(&org, "Temp", BuiltinRole::TenantAdmin).await;
    w.svc
        .update_account(
            &org.admin_caller,
            org.id(),
            temp.id,
            AccountChanges {
                valid_until: Some(Some(w.now().plus(cai_core::days(1)))),
                ..AccountChanges::default()
            },
        )
        .await
        .unwrap();
    let temp_caller = w.caller(org.id(), temp_caller.subject, true);
    let (other, _) = w.member(&org, "Other", BuiltinRole::Counsellor).await;
    let empty = w
        .svc
        .create_role(
            &temp_caller,
            org.id(),
            Name::parse("Empty").unwrap(),
            PermissionSet::EMPTY,
        )
        .await
        .unwrap();
    w.svc
        .grant_role(&temp_caller, org.id(), other.id, empty.id)
        .await
        .unwrap();
    let r = w
        .svc
        .set_role_permissions(
            &temp_caller,
            org.id(),
            empty.id,
            PermissionSet::of(&[Action::ManageAccounts, Action::AssignRoles]),
        )
        .await;
    assert!(
        matches!(
            r,
            Err(Error::Denied {
                reason: DenyReason::FourEyes,
                ..
            })
        ),
        "{r:?}"
    );
    // Nor may it lift the end of an account holding a custom administrative role.
    let admin_ish = w
        .svc
        .create_role(
            &org.admin_caller,
            org.id(),
            Name::parse("Account steward").unwrap(),
            PermissionSet::of(&[Action::ManageAccounts]),
        )
        .await
        .unwrap();
    let (steward, _) = w.member(&org, "Steward", BuiltinRole::Counsellor).await;
    w.svc
        .grant_role(&org.admin_caller, org.id(), steward.id, admin_ish.id)
        .await
        .unwrap();
    w.svc
        .update_account(
            &org.admin_caller,
            org.id(),
            steward.id,
            AccountChanges {
                valid_until: Some(Some(w.now().plus(cai_core::hours(1)))),
                ..AccountChanges::default()
            },
        )
        .await
        .unwrap();
    let r = w
        .svc
        .update_account(
            &temp_caller,
            org.id(),
            steward.id,
            AccountChanges {
                valid_until: Some(None),
                ..AccountChanges::default()
            },
        )
        .await;
    assert!(
        matches!(
            r,
            Err(Error::Denied {
                reason: DenyReason::FourEyes,
                ..
            })
        ),
        "{r:?}"
    );
}

#[tokio::test]
async fn the_lobby_costs_nothing_to_wait_in_or_to_turn_away() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (_, cora) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let (_, kim) = w.member(&org, "Kim", BuiltinRole::Client).await;
    let r = w
        .svc
        .create_room(
            &cora,
            org.id(),
            NewRoom {
                mode: Some(SessionMode::EndToEnd),
                ..room("e2e room pw", RoomContent::Keep)
            },
        )
        .await
        .unwrap();
    w.svc
        .enter_room(&kim, org.id(), r.id, "e2e room pw")
        .await
        .unwrap();
    // Knocking again while waiting writes nothing.
    let before = w.store.snapshot();
    for _ in 0..5 {
        let e = w
            .svc
            .enter_room(&kim, org.id(), r.id, "e2e room pw")
            .await
            .unwrap();
        assert!(matches!(e, RoomEntry::Waiting { .. }));
    }
    assert_eq!(w.store.snapshot(), before);
    // Turning a waiter away needs no new key epoch, even end to end.
    w.svc
        .remove_participant(&cora, org.id(), r.session, kim.subject, None)
        .await
        .unwrap();
}

#[tokio::test]
async fn cross_tenant_requests_naming_random_tenants_are_one_burst() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (_, cora) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    for _ in 0..30 {
        let elsewhere = cai_core::id::TenantId::random().unwrap();
        let _ = w.svc.tenant(&cora, elsewhere).await;
    }
    let incidents = w.store.incidents(org.id(), None, 100).await.unwrap();
    assert_eq!(incidents.len(), 1, "{incidents:?}");
}
