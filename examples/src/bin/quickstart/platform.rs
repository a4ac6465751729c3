//! Part two of the quickstart: a counselling platform assembled in memory from
//! `cai-core`'s reference ports.

use std::sync::Arc;

use cai_core::authz::Authentication;
use cai_core::domain::{
    BuiltinRole, ContentKind, Email, Name, Pseudonym, Region, SessionMode, TenantSettings,
};
use cai_core::id::SubjectId;
use cai_core::memory::{
    LocalKeyProvider, MemoryMailer, MemoryNotifier, MemoryStore, MemoryTransport,
};
use cai_core::ports::{AuditStore, Clock, ContentStore, SingleStore, SystemClock};
use cai_core::service::{ContentBody, InviteTo, NewAccount, NewSession, NewTenant};
use cai_core::{Caller, Counselling, Error, Ports};

pub(crate) async fn run() -> Result<(), Error> {
    println!("\n[5] a counselling platform in memory (cai-core)");
    let store = Arc::new(MemoryStore::new());
    let mailer = Arc::new(MemoryMailer::new());
    let notifier = Arc::new(MemoryNotifier::new());
    let service = Counselling::new(Ports {
        router: Arc::new(SingleStore(store.clone())),
        keys: Arc::new(LocalKeyProvider::new()),
        clock: Arc::new(SystemClock),
        mailer: mailer.clone(),
        notifier: notifier.clone(),
        transport: Arc::new(MemoryTransport::new()),
    });

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
    let login = |subject, second_factor| Caller {
        tenant: t,
        subject,
        authentication: Authentication {
            second_factor,
            at: SystemClock.now(),
        },
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
    let secret = service
        .invite(
            &cora,
            t,
            session.id,
            InviteTo::Contact(Email::parse("kim@mail.example")?),
            None,
        )
        .await?;
    println!(
        "    contact request mailed ({} mail); invitee stored: no",
        mailer.sent().len()
    );
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
        .await
        .map_err(Error::from)?
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
        .await?;
    let (guest, _) = service
        .join_as_guest(t, &link, Pseudonym::parse("Sonnenblume")?)
        .await?;
    println!(
        "    guest {:?} joined ad-hoc session ({:?} mode)",
        guest.pseudonym, adhoc.mode
    );

    let trail = store.audit_events(t, 0, 1000).await.map_err(Error::from)?;
    println!(
        "    audit trail: {} events; admin notifications delivered: {}",
        trail.len(),
        notifier.delivered().len()
    );
    Ok(())
}
