//! Scenario tests for sessions and content (R-S1..R-S5) and the encryption modes as
//! session settings (R-E1..R-E4b), through the service on the in-memory backend with
//! a manual clock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
#![allow(clippy::indexing_slicing)]

mod common;

use cai_core::Error;
use cai_core::authz::DenyReason;
use cai_core::domain::{
    BuiltinRole, ContentKind, ContentRetention, Email, InvitationSecret, Name, ParticipantRole,
    Pseudonym, SealedBody, SessionKind, SessionMode, TenantSettings,
};
use cai_core::hours;
use cai_core::id::SubjectId;
use cai_core::ports::{
    AuditStore, ContentStore, DirectoryStore, KeyStore, SessionEvent, SessionStore,
};
use cai_core::service::{
    ContentBody, InviteTo, Invited, NewAccount, NewRoom, NewSession, PageRequest, RoomEntry,
    SessionKeyMaterial,
};
use cai_crypto::modes::{self, KeyCustody};
use cai_crypto::passphrase::Argon2Params;
use cai_crypto::{ItemContext, envelope};
use common::World;

fn plain(text: &str) -> ContentBody {
    ContentBody::plain(text.as_bytes().to_vec())
}

fn text(body: &ContentBody) -> String {
    match body {
        ContentBody::Plain(p) => String::from_utf8(p.to_vec()).unwrap(),
        ContentBody::Sealed(_) => panic!("expected plaintext"),
    }
}

fn session_mode(mode: SessionMode) -> NewSession {
    NewSession {
        mode: Some(mode),
        ..NewSession::classic()
    }
}

#[tokio::test]
async fn r_s1_contact_request_stores_no_personal_data_until_accepted() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (_, counsellor) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let s = w
        .svc
        .create_session(
            &counsellor,
            org.id(),
            session_mode(SessionMode::ServerManaged),
        )
        .await
        .unwrap()
        .session;

    let address = "invitee.private@mail.example";
    let invited = w
        .svc
        .invite(
            &counsellor,
            org.id(),
            s.id,
            InviteTo::contact(Email::parse(address).unwrap()),
            None,
        )
        .await
        .unwrap();

    // The invitation went out by mail, with the secret in its body; the inviter never
    // saw the code.
    assert!(matches!(invited, Invited::Mailed { .. }), "{invited:?}");
    let sent = w.mailer.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to.as_str(), address);
    let secret = w.mailed_secret();
    assert_eq!(secret.invitation(), invited.invitation());

    // Nothing the store holds mentions the invitee: no account, no audit trace.
    let email = Email::parse(address).unwrap();
    assert!(
        w.store
            .account_by_email(org.id(), &email)
            .await
            .unwrap()
            .is_none()
    );
    let trail = w.store.audit_events(org.id(), 0, 1000).await.unwrap();
    let dump = format!("{trail:?}");
    assert!(
        !dump.contains("invitee.private"),
        "audit trail holds the address"
    );
    let invitation = w
        .store
        .invitation(org.id(), secret.invitation())
        .await
        .unwrap()
        .unwrap();
    assert!(!format!("{invitation:?}").contains("invitee"));
    assert_ne!(invitation.secret_hash, [0; 32]);
    assert_eq!(w.store.participants(org.id(), s.id).await.unwrap().len(), 1);

    // Accepting creates the account; the secret travelled as text.
    let parsed = InvitationSecret::parse(&secret.expose()).unwrap();
    let (client, session) = w
        .svc
        .accept_invitation(
            org.id(),
            &parsed,
            NewAccount::new(email.clone(), Name::parse("Kim").unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(session, s.id);
    assert!(client.has_role(BuiltinRole::Client.id()));
    let parts = w.store.participants(org.id(), s.id).await.unwrap();
    assert!(
        parts.iter().any(
            |p| p.subject == SubjectId::Account(client.id) && p.role == ParticipantRole::Client
        )
    );

    // The same secret does not work twice.
    let again = w
        .svc
        .accept_invitation(
            org.id(),
            &parsed,
            NewAccount::new(
                Email::parse("other@mail.example").unwrap(),
                Name::parse("Other").unwrap(),
            ),
        )
        .await;
    assert!(matches!(again, Err(Error::NotAccepted)), "{again:?}");

    // Weeks later the client re-enters the session and continues the work.
    w.clock.advance(cai_core::days(30));
    let me = w.account_caller(&org, client.id);
    let details = w.svc.join_session(&me, org.id(), s.id).await.unwrap();
    assert_eq!(details.session.id, s.id);
    w.svc
        .post_content(
            &me,
            org.id(),
            s.id,
            ContentKind::Message,
            plain("back again"),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn r_s1_bad_expired_and_foreign_secrets_are_not_accepted() {
    let w = World::new();
    let org = w.org("Nord").await;
    let other = w.org("Sued").await;
    let (_, counsellor) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let s = w
        .svc
        .create_session(&counsellor, org.id(), NewSession::classic())
        .await
        .unwrap()
        .session;
    w.svc
        .invite(
            &counsellor,
            org.id(),
            s.id,
            InviteTo::contact(Email::parse("x@mail.example").unwrap()),
            Some(hours(1)),
        )
        .await
        .unwrap();
    let secret = w.mailed_secret();
    let new = || {
        NewAccount::new(
            Email::parse("x@mail.example").unwrap(),
            Name::parse("X").unwrap(),
        )
    };

    // A guessed secret for the real invitation id.
    let forged =
        InvitationSecret::parse(&format!("{}.{}", secret.invitation(), "00".repeat(32))).unwrap();
    let r = w.svc.accept_invitation(org.id(), &forged, new()).await;
    assert!(matches!(r, Err(Error::NotAccepted)), "{r:?}");
    // The right secret presented to another tenant.
    let r = w.svc.accept_invitation(other.id(), &secret, new()).await;
    assert!(matches!(r, Err(Error::NotAccepted)), "{r:?}");
    // The right secret after expiry.
    w.clock.advance(hours(2));
    let r = w.svc.accept_invitation(org.id(), &secret, new()).await;
    assert!(matches!(r, Err(Error::NotAccepted)), "{r:?}");
    assert!(
        w.store
            .account_by_email(org.id(), &Email::parse("x@mail.example").unwrap())
            .await
            .unwrap()
            .is_none()
    );

    // A contact request cannot be made for an ad-hoc session, nor a guest link for a
    // classic one.
    let r = w
        .svc
        .invite(
            &counsellor,
            org.id(),
            s.id,
            InviteTo::GuestLink { max_uses: 1 },
            None,
        )
        .await;
    assert!(matches!(r, Err(Error::Invalid { .. })), "{r:?}");
}

#[tokio::test]
async fn r_s1_an_invitation_whose_mail_fails_leaves_nothing() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (_, counsellor) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let s = w
        .svc
        .create_session(&counsellor, org.id(), NewSession::classic())
        .await
        .unwrap()
        .session;
    let before = w.store.snapshot();
    w.mailer.fail_next(true);
    let r = w
        .svc
        .invite(
            &counsellor,
            org.id(),
            s.id,
            InviteTo::contact(Email::parse("x@mail.example").unwrap()),
            None,
        )
        .await;
    assert!(matches!(r, Err(Error::Mailer(_))), "{r:?}");
    // The mail goes out before the commit: a failed mail stores nothing at all, and
    // the inviter simply tries again.
    assert_eq!(w.store.snapshot(), before);
    w.svc
        .invite(
            &counsellor,
            org.id(),
            s.id,
            InviteTo::contact(Email::parse("x@mail.example").unwrap()),
            None,
        )
        .await
        .unwrap();
    assert_eq!(w.mailer.sent().len(), 1);
}

#[tokio::test]
async fn r_s2_guests_join_ad_hoc_sessions_with_a_pseudonym_only() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (_, counsellor) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let server_ad_hoc = || NewSession {
        mode: Some(SessionMode::ServerManaged),
        ..NewSession::ad_hoc()
    };
    let s = w
        .svc
        .create_session(&counsellor, org.id(), server_ad_hoc())
        .await
        .unwrap()
        .session;
    let other = w
        .svc
        .create_session(&counsellor, org.id(), NewSession::ad_hoc())
        .await
        .unwrap()
        .session;
    let link = w
        .svc
        .invite(
            &counsellor,
            org.id(),
            s.id,
            InviteTo::GuestLink { max_uses: 2 },
            None,
        )
        .await
        .unwrap()
        .into_secret()
        .unwrap();
    assert!(w.mailer.sent().is_empty(), "guest links are not mailed");

    // Bad pseudonyms never get that far: the type rejects them.
    assert!(Pseudonym::parse("<b>x</b>").is_err());
    assert!(Pseudonym::parse("a").is_err());

    let (guest, g) = w
        .svc
        .join_as_guest(org.id(), &link, Pseudonym::parse("Sonnenblume").unwrap())
        .await
        .unwrap();
    assert_eq!(guest.session, s.id);
    w.svc
        .post_content(&g, org.id(), s.id, ContentKind::Message, plain("hallo"))
        .await
        .unwrap();

    // The guest lives in its one session only: no other session exists for it.
    let r = w
        .svc
        .post_content(&g, org.id(), other.id, ContentKind::Message, plain("x"))
        .await;
    assert!(
        matches!(r, Err(Error::NotFound { what: "session" })),
        "{r:?}"
    );
    let r = w
        .svc
        .invite(
            &g,
            org.id(),
            s.id,
            InviteTo::GuestLink { max_uses: 1 },
            None,
        )
        .await;
    assert!(matches!(r, Err(Error::Denied { .. })), "{r:?}");
    let r = w.svc.close_session(&g, org.id(), s.id).await;
    assert!(matches!(r, Err(Error::Denied { .. })), "{r:?}");

    // The link admits two guests, then no more.
    w.svc
        .join_as_guest(org.id(), &link, Pseudonym::parse("Mond").unwrap())
        .await
        .unwrap();
    let r = w
        .svc
        .join_as_guest(org.id(), &link, Pseudonym::parse("Stern").unwrap())
        .await;
    assert!(matches!(r, Err(Error::NotAccepted)), "{r:?}");

    // After the tenant's guest deadline (6 h in the standard preset) the guest is out.
    w.clock.advance(hours(6));
    let r = w
        .svc
        .post_content(&g, org.id(), s.id, ContentKind::Message, plain("late"))
        .await;
    assert!(matches!(r, Err(Error::AccountNotUsable)), "{r:?}");
}

#[tokio::test]
async fn r_s3_rooms_need_the_room_password_which_only_the_owner_changes() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (_, counsellor) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let (_, colleague) = w.member(&org, "Ben", BuiltinRole::Counsellor).await;
    let (client, client_caller) = w.member(&org, "Kim", BuiltinRole::Client).await;
    let room = w
        .svc
        .create_room(
            &counsellor,
            org.id(),
            NewRoom {
                name: Name::parse("Coras Raum").unwrap(),
                password: "first password".to_owned().into(),
                mode: None,
                content: Default::default(),
            },
        )
        .await
        .unwrap();
    let stored = w.store.room(org.id(), room.id).await.unwrap().unwrap();
    assert!(!String::from_utf8_lossy(&stored.password).contains("first password"));

    let r = w
        .svc
        .enter_room(&client_caller, org.id(), room.id, "wrong password")
        .await;
    assert!(matches!(r, Err(Error::NotAccepted)), "{r:?}");
    // The right password leads to the lobby; the host admits.
    let entry = w
        .svc
        .enter_room(&client_caller, org.id(), room.id, "first password")
        .await
        .unwrap();
    let RoomEntry::Waiting { session } = entry else {
        panic!("{entry:?}");
    };
    w.svc
        .admit(
            &counsellor,
            org.id(),
            session,
            SubjectId::Account(client.id),
            None,
        )
        .await
        .unwrap();
    let RoomEntry::Admitted(details) = w
        .svc
        .enter_room(&client_caller, org.id(), room.id, "first password")
        .await
        .unwrap()
    else {
        panic!("admitted");
    };
    assert_eq!(details.session.kind, SessionKind::Room(room.id));
    assert!(
        details.participants.iter().any(
            |p| p.subject == SubjectId::Account(client.id) && p.role == ParticipantRole::Client
        )
    );
    // Admitting someone who does not wait is a conflict.
    let r = w
        .svc
        .admit(
            &counsellor,
            org.id(),
            session,
            SubjectId::Account(client.id),
            None,
        )
        .await;
    assert!(matches!(r, Err(Error::Conflict { .. })), "{r:?}");

    // Only the room's owner changes the password; to anyone else the room's
    // management does not exist.
    let r = w
        .svc
        .change_room_password(&colleague, org.id(), room.id, "taken over!")
        .await;
    assert!(matches!(r, Err(Error::NotFound { .. })), "{r:?}");
    w.svc
        .change_room_password(&counsellor, org.id(), room.id, "second password")
        .await
        .unwrap();
    let r = w
        .svc
        .enter_room(&colleague, org.id(), room.id, "first password")
        .await;
    assert!(matches!(r, Err(Error::NotAccepted)), "{r:?}");
    w.svc
        .enter_room(&colleague, org.id(), room.id, "second password")
        .await
        .unwrap();

    // Too short a password is refused, and externals (guests) cannot enter rooms.
    let r = w
        .svc
        .change_room_password(&counsellor, org.id(), room.id, "short")
        .await;
    assert!(matches!(r, Err(Error::Invalid { .. })), "{r:?}");
    let adhoc = w
        .svc
        .create_session(&counsellor, org.id(), NewSession::ad_hoc())
        .await
        .unwrap()
        .session;
    let link = w
        .svc
        .invite(
            &counsellor,
            org.id(),
            adhoc.id,
            InviteTo::GuestLink { max_uses: 1 },
            None,
        )
        .await
        .unwrap()
        .into_secret()
        .unwrap();
    let (_, guest) = w
        .svc
        .join_as_guest(org.id(), &link, Pseudonym::parse("Gast").unwrap())
        .await
        .unwrap();
    let r = w
        .svc
        .enter_room(&guest, org.id(), room.id, "second password")
        .await;
    assert!(
        matches!(
            r,
            Err(Error::Denied {
                reason: DenyReason::GuestOutOfScope,
                ..
            })
        ),
        "{r:?}"
    );
}

#[tokio::test]
async fn r_s4_content_is_kept_or_deleted_on_close_as_the_policy_says() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (_, counsellor) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    for retention in [ContentRetention::Keep, ContentRetention::DeleteOnClose] {
        let s = w
            .svc
            .create_session(
                &counsellor,
                org.id(),
                NewSession {
                    on_close: Some(retention),
                    mode: Some(SessionMode::ServerManaged),
                    ..NewSession::classic()
                },
            )
            .await
            .unwrap()
            .session;
        let item = w
            .svc
            .post_content(
                &counsellor,
                org.id(),
                s.id,
                ContentKind::Note,
                plain("notes"),
            )
            .await
            .unwrap();
        w.svc
            .close_session(&counsellor, org.id(), s.id)
            .await
            .unwrap();
        let events = w.transport.events_of(org.id(), s.id);
        assert!(events.contains(&SessionEvent::ContentPosted {
            item: item.id,
            version: 1
        }));
        assert_eq!(events.last(), Some(&SessionEvent::Closed), "{events:?}");
        let r = w
            .svc
            .post_content(
                &counsellor,
                org.id(),
                s.id,
                ContentKind::Message,
                plain("x"),
            )
            .await;
        assert!(
            matches!(
                r,
                Err(Error::Denied {
                    reason: DenyReason::SessionClosed,
                    ..
                })
            ),
            "{r:?}"
        );
        let stored = w.store.item(org.id(), item.id).await.unwrap();
        let custody = w.store.custodies(org.id(), s.id).await.unwrap();
        match retention {
            ContentRetention::Keep => {
                assert!(stored.is_some());
                assert_eq!(custody.len(), 1);
                let view = w
                    .svc
                    .read_content(&counsellor, org.id(), s.id, item.id, None)
                    .await
                    .unwrap();
                assert_eq!(text(&view.body), "notes");
            }
            ContentRetention::DeleteOnClose => {
                assert!(stored.is_none(), "content survived closing");
                assert!(custody.is_empty(), "keys survived closing");
            }
        }
    }
}

#[tokio::test]
async fn r_s5_documents_keep_their_versions() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (_, counsellor) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let (_, colleague) = w.member(&org, "Ben", BuiltinRole::Counsellor).await;
    let s = w
        .svc
        .create_session(
            &counsellor,
            org.id(),
            session_mode(SessionMode::ServerManaged),
        )
        .await
        .unwrap()
        .session;
    let doc = w
        .svc
        .post_content(
            &counsellor,
            org.id(),
            s.id,
            ContentKind::Document,
            plain("draft 1"),
        )
        .await
        .unwrap();
    let doc = w
        .svc
        .edit_content(&counsellor, org.id(), s.id, doc.id, plain("draft 2"))
        .await
        .unwrap();
    assert_eq!(doc.latest_version, 2);
    let v1 = w
        .svc
        .read_content(&counsellor, org.id(), s.id, doc.id, Some(1))
        .await
        .unwrap();
    let v2 = w
        .svc
        .read_content(&counsellor, org.id(), s.id, doc.id, None)
        .await
        .unwrap();
    assert_eq!(
        (text(&v1.body).as_str(), text(&v2.body).as_str()),
        ("draft 1", "draft 2")
    );
    let versions = w
        .svc
        .versions(&counsellor, org.id(), s.id, doc.id)
        .await
        .unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [1, 2]
    );

    // A version sealed for v1 cannot be passed off as v2: the context binds it.
    let stored_v1 = w.store.version(org.id(), doc.id, 1).await.unwrap().unwrap();
    let stored_v2 = w.store.version(org.id(), doc.id, 2).await.unwrap().unwrap();
    assert_ne!(stored_v1.body, stored_v2.body);

    // Messages have no versions; others' items cannot be edited.
    let msg = w
        .svc
        .post_content(
            &counsellor,
            org.id(),
            s.id,
            ContentKind::Message,
            plain("hi"),
        )
        .await
        .unwrap();
    let r = w
        .svc
        .edit_content(&counsellor, org.id(), s.id, msg.id, plain("x"))
        .await;
    assert!(matches!(r, Err(Error::Invalid { .. })), "{r:?}");
    w.svc
        .add_counsellor(
            &counsellor,
            org.id(),
            s.id,
            colleague.subject.account().unwrap(),
            None,
        )
        .await
        .unwrap();
    let r = w
        .svc
        .edit_content(&colleague, org.id(), s.id, doc.id, plain("mine now"))
        .await;
    assert!(
        matches!(
            r,
            Err(Error::Denied {
                reason: DenyReason::NotAuthor,
                ..
            })
        ),
        "{r:?}"
    );
    assert_eq!(
        w.svc
            .list_items(&colleague, org.id(), s.id, PageRequest::with_limit(10))
            .await
            .unwrap()
            .items
            .len(),
        2
    );
}

#[tokio::test]
async fn r_e1_server_managed_content_is_ciphertext_in_the_store() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (_, counsellor) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let s = w
        .svc
        .create_session(
            &counsellor,
            org.id(),
            session_mode(SessionMode::ServerManaged),
        )
        .await
        .unwrap()
        .session;
    let secret = "a very private sentence about my family";
    let item = w
        .svc
        .post_content(
            &counsellor,
            org.id(),
            s.id,
            ContentKind::Message,
            plain(secret),
        )
        .await
        .unwrap();
    let stored = w
        .store
        .version(org.id(), item.id, 1)
        .await
        .unwrap()
        .unwrap();
    let bytes = stored.body.as_bytes();
    assert!(bytes.starts_with(b"CAIE"));
    assert!(
        !bytes
            .windows(secret.len())
            .any(|win| win == secret.as_bytes())
    );
    let custody = w.store.custody(org.id(), s.id, 0).await.unwrap().unwrap();
    assert!(custody.custody.starts_with(b"CAIW"));
    // Sealed bodies are refused in server-managed sessions.
    let r = w
        .svc
        .post_content(
            &counsellor,
            org.id(),
            s.id,
            ContentKind::Message,
            ContentBody::Sealed(stored.body.clone()),
        )
        .await;
    assert!(matches!(r, Err(Error::WrongMode { .. })), "{r:?}");
    // Plaintext that is not an envelope cannot even be made into a sealed body.
    assert!(SealedBody::new(secret.as_bytes().to_vec()).is_err());
}

#[tokio::test]
async fn r_e2_session_key_mode_hands_the_key_to_participants_only() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (_, counsellor) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let (_, outsider) = w.member(&org, "Ben", BuiltinRole::Counsellor).await;
    let s = w
        .svc
        .create_session(&counsellor, org.id(), session_mode(SessionMode::SessionKey))
        .await
        .unwrap()
        .session;
    let SessionKeyMaterial::SessionKey(key) = w
        .svc
        .session_keys(&counsellor, org.id(), s.id)
        .await
        .unwrap()
    else {
        panic!("session-key mode hands out the key");
    };
    let r = w.svc.session_keys(&outsider, org.id(), s.id).await;
    assert!(matches!(r, Err(Error::NotFound { .. })), "{r:?}");
    let admin = w.svc.session_keys(&org.admin_caller, org.id(), s.id).await;
    assert!(
        matches!(admin, Err(Error::NotFound { .. })),
        "admins get no keys: {admin:?}"
    );

    let r = w
        .svc
        .post_content(
            &counsellor,
            org.id(),
            s.id,
            ContentKind::Message,
            plain("x"),
        )
        .await;
    assert!(
        matches!(r, Err(Error::WrongMode { .. })),
        "plaintext refused: {r:?}"
    );

    // The client seals with the key; the context uses the ids' text form. The item id
    // is chosen by the server, so clients bind the session and a client-side message id
    // inside the envelope; here the test seals for a known context.
    let (t, sid) = (org.id().to_string(), s.id.to_string());
    let ctx = ItemContext::new(
        t.as_bytes(),
        sid.as_bytes(),
        b"client-msg-1",
        1,
        ContentKind::Message,
    );
    let sealed = envelope::seal(&key, &ctx, b"hello").unwrap();
    let item = w
        .svc
        .post_content(
            &counsellor,
            org.id(),
            s.id,
            ContentKind::Message,
            ContentBody::Sealed(SealedBody::new(sealed.clone()).unwrap()),
        )
        .await
        .unwrap();
    let view = w
        .svc
        .read_content(&counsellor, org.id(), s.id, item.id, None)
        .await
        .unwrap();
    let ContentBody::Sealed(body) = view.body else {
        panic!("client-sealed content comes back sealed");
    };
    assert_eq!(
        envelope::open(&key, &ctx, body.as_bytes()).unwrap(),
        b"hello"
    );
}

#[tokio::test]
async fn r_e3_passphrase_sessions_store_no_key() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (_, counsellor) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    // Without the client's custody the session cannot be made.
    let r = w
        .svc
        .create_session(&counsellor, org.id(), session_mode(SessionMode::Passphrase))
        .await;
    assert!(matches!(r, Err(Error::WrongMode { .. })), "{r:?}");

    let (key, custody) =
        modes::create_passphrase(b"our shared phrase", Argon2Params::MINIMUM).unwrap();
    let s = w
        .svc
        .create_session(
            &counsellor,
            org.id(),
            NewSession {
                passphrase_custody: Some(custody.to_bytes()),
                ..session_mode(SessionMode::Passphrase)
            },
        )
        .await
        .unwrap()
        .session;
    let SessionKeyMaterial::Passphrase(stored) = w
        .svc
        .session_keys(&counsellor, org.id(), s.id)
        .await
        .unwrap()
    else {
        panic!("passphrase mode hands out parameters");
    };
    let stored = KeyCustody::parse(&stored).unwrap();
    assert_eq!(
        modes::recover_passphrase(b"our shared phrase", &stored).unwrap(),
        key
    );
    assert!(modes::recover_passphrase(b"wrong", &stored).is_err());
}

#[tokio::test]
async fn r_e_modes_default_from_tenant_and_never_below_its_minimum() {
    let w = World::new();
    let settings = TenantSettings {
        default_mode: SessionMode::EndToEnd,
        minimum_mode: SessionMode::SessionKey,
        ..TenantSettings::default()
    };
    let org = w.org_with("Nord", settings).await;
    let (_, counsellor) = w.member(&org, "Cora", BuiltinRole::Counsellor).await;
    let s = w
        .svc
        .create_session(&counsellor, org.id(), NewSession::classic())
        .await
        .unwrap()
        .session;
    assert_eq!(s.mode, SessionMode::EndToEnd);
    let r = w
        .svc
        .create_session(
            &counsellor,
            org.id(),
            session_mode(SessionMode::ServerManaged),
        )
        .await;
    assert!(
        matches!(
            r,
            Err(Error::EncryptionDowngrade {
                requested: SessionMode::ServerManaged,
                minimum: SessionMode::SessionKey
            })
        ),
        "{r:?}"
    );
}
