//! Part two of the quickstart: a counselling platform on the embedded default — a
//! SQLite file (`cai-store`) — with `cai-core`'s in-memory reference ports for mail,
//! notifications, keys and the clock.

use std::sync::Arc;

use cai_core::domain::InvitationSecret;
use cai_core::ports::{AuditStore, ContentStore, SingleStore};
use cai_core::prelude::*;
use cai_store::sqlite::SqliteStore;

pub(crate) async fn run() -> Result<(), Box<dyn std::error::Error>> {
    // A fresh database file in a temporary directory, removed at the end; a host gives
    // a path of its own: `SqliteStore::open(path)`.
    let store = Arc::new(SqliteStore::temporary().await?);
    println!(
        "\n[5] a counselling platform on SQLite (cai-core + cai-store: {})",
        store
            .path()
            .map_or_else(|| "in memory".to_owned(), |p| p.display().to_string())
    );
    let mut mem = Ports::in_memory();
    mem.ports.router = Arc::new(SingleStore(store.clone()));
    let (mailer, notifier) = (mem.mailer.clone(), mem.notifier.clone());
    let service = Counselling::new(mem.ports.clone());

    let (tenant, admin) = service
        .create_tenant(
            NewTenant {
                name: Name::parse("Beratungsstelle Nord")?,
                region: Region::parse("DE")?,
                settings: TenantSettings::default(),
            },
            NewAccount::new(Email::parse("ada@nord.example")?, Name::parse("Ada")?),
        )
        .await?;
    let t = tenant.id;
    println!(
        "    tenant {t} in region DE, default mode {:?}",
        tenant.settings.default_mode
    );
    let login = |subject, second_factor| {
        Caller::new(
            t,
            subject,
            Authentication {
                second_factor,
                at: mem.clock.now(),
            },
        )
    };
    let ada = login(SubjectId::Account(admin.id), true);
    let cora = service
        .create_account(
            &ada,
            t,
            NewAccount::new(Email::parse("cora@nord.example")?, Name::parse("Cora")?),
            &[BuiltinRole::Counsellor.id()],
        )
        .await?;
    let cora = login(SubjectId::Account(cora.id), false);

    // A classic session: the contact request is mailed; the address is not stored.
    let session = service
        .create_session(
            &cora,
            t,
            NewSession {
                mode: Some(SessionMode::ServerManaged),
                ..NewSession::classic()
            },
        )
        .await?
        .session;
    service
        .invite(
            &cora,
            t,
            session.id,
            InviteTo::contact(Email::parse("kim@mail.example")?),
            None,
        )
        .await?;
    println!(
        "    contact request mailed ({} mail; the counsellor never sees the code); invitee stored: no",
        mailer.sent().len()
    );
    // Kim reads the code in her mailbox.
    let mails = mailer.sent();
    let code = mails
        .last()
        .and_then(|m| m.body.split_whitespace().find(|w| w.starts_with("inv_")))
        .ok_or(Error::NotAccepted)?;
    let secret = InvitationSecret::parse(code)?;
    let (kim, _) = service
        .accept_invitation(
            t,
            &secret,
            NewAccount::new(Email::parse("kim@mail.example")?, Name::parse("Kim")?),
        )
        .await?;
    let kim = login(SubjectId::Account(kim.id), false);
    let item = service
        .post_content(
            &kim,
            t,
            session.id,
            ContentKind::Message,
            ContentBody::plain("Thank you for making time."),
        )
        .await?;
    let stored = store
        .version(t, item.id, 1)
        .await?
        .map(|v| v.body.len())
        .unwrap_or(0);
    let read = service
        .read_content(&cora, t, session.id, item.id, None)
        .await?;
    if let ContentBody::Plain(text) = &read.body {
        println!(
            "    client posted; store holds a {stored}-byte envelope; counsellor reads {:?}",
            String::from_utf8_lossy(text)
        );
    }
    match service
        .read_content(&ada, t, session.id, item.id, None)
        .await
    {
        Ok(_) => println!("    admin read the content (must not happen)"),
        Err(e) => println!("    admin tries to read: {e}"),
    }

    // An ad-hoc session with a guest who brings nothing but a pseudonym.
    let adhoc = service
        .create_session(&cora, t, NewSession::ad_hoc())
        .await?
        .session;
    let link = service
        .invite(
            &cora,
            t,
            adhoc.id,
            InviteTo::GuestLink { max_uses: 1 },
            None,
        )
        .await?
        .into_secret()
        .ok_or(Error::NotAccepted)?;
    let (guest, _) = service
        .join_as_guest(t, &link, Pseudonym::parse("Sonnenblume")?)
        .await?;
    println!(
        "    guest {:?} joined ad-hoc session ({:?} mode)",
        guest.pseudonym, adhoc.mode
    );

    // A room is a door: each meeting is a session of its own.
    let room = service
        .create_room(
            &cora,
            t,
            NewRoom {
                name: Name::parse("Coras Raum")?,
                password: "room password 1".to_owned().into(),
                mode: Some(SessionMode::ServerManaged),
                content: RoomContent::Keep,
            },
        )
        .await?;
    // Kim knocks with the password and waits in the lobby until Cora admits her.
    let RoomEntry::Waiting { session: first } = service
        .enter_room(&kim, t, room.id, "room password 1")
        .await?
    else {
        return Err(Error::NotAccepted.into());
    };
    service.admit(&cora, t, first, kim.subject, None).await?;
    let second = service.start_meeting(&cora, t, room.id).await?;
    let again = service
        .enter_room(&kim, t, room.id, "room password 1")
        .await?;
    println!(
        "    room {}: Kim admitted to meeting {first}; next meeting {}: Kim {}",
        room.id,
        second.id,
        match again {
            RoomEntry::Waiting { .. } => "waits in the lobby again",
            RoomEntry::Admitted(_) => "walked in (must not happen)",
        }
    );
    let page = service
        .list_sessions(&cora, t, PageRequest::with_limit(10))
        .await?;
    println!("    Cora's sessions, newest first: {}", page.items.len());

    let trail = store.audit_events(t, 0, 1000).await?;
    println!(
        "    audit trail: {} events; admin notifications delivered: {}",
        trail.len(),
        notifier.delivered().len()
    );
    Ok(())
}
