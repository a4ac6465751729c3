//! Holes 1 and 2: invitations die with their inviter's standing; contact codes go only
//! to the invited mailbox and bind its address.

use super::*;

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
