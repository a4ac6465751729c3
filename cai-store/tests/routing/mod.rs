//! Shared by the router tests: counselling centres created through the service with a
//! `StoreRouter` as its router, and the checks that two centres see nothing of each
//! other — through the service, and row by row in the raw databases.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use cai_core::Error;
use cai_core::authz::Authentication;
use cai_core::domain::{
    BuiltinRole, ContentKind, Email, Name, Region, SessionMode, TenantSettings,
};
use cai_core::id::{AccountId, SessionId, SubjectId, TenantId};
use cai_core::ports::{Clock, ManualClock, TenantRouter};
use cai_core::service::{ContentBody, NewAccount, NewSession, NewTenant, PageRequest};
use cai_core::{Caller, Counselling, Ports};
use sqlx::Connection;

/// The service over `router` with every other port in memory.
pub(crate) struct World {
    pub svc: Counselling,
    pub clock: ManualClock,
    /// The ports, to start the service again over a new router with the same keys.
    pub ports: Ports,
}

impl World {
    pub(crate) fn new(router: Arc<dyn TenantRouter>) -> Self {
        let mut world = Ports::in_memory();
        world.ports.router = router;
        World {
            svc: Counselling::new(world.ports.clone()),
            clock: world.clock,
            ports: world.ports,
        }
    }

    /// Stops the service: the router (and the stores it opened) is dropped; the keys
    /// (the in-memory key provider stands for the host's KMS) and the clock are kept.
    pub(crate) fn stop(self) -> Stopped {
        let World {
            svc,
            clock,
            mut ports,
        } = self;
        drop(svc);
        ports.router = Arc::new(cai_core::memory::RegionRouter::new());
        Stopped { clock, ports }
    }
}

/// A stopped service's keys and clock.
pub(crate) struct Stopped {
    clock: ManualClock,
    ports: Ports,
}

impl Stopped {
    /// The service started again over `router`.
    pub(crate) fn restart(self, router: Arc<dyn TenantRouter>) -> World {
        let Stopped { clock, mut ports } = self;
        ports.router = router;
        World {
            svc: Counselling::new(ports.clone()),
            clock,
            ports,
        }
    }
}

/// A centre created through the service: its admin, a counsellor, a server-managed
/// session with one message.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Centre {
    pub tenant: TenantId,
    pub admin: AccountId,
    pub counsellor: AccountId,
    pub session: SessionId,
}

impl Centre {
    /// Creates the centre `name` in `region`.
    pub(crate) async fn create(world: &World, region: &str, name: &str) -> Self {
        let (svc, clock) = (&world.svc, &world.clock);
        let (tenant, admin) = svc
            .create_tenant(
                NewTenant {
                    name: Name::parse(name).unwrap(),
                    region: Region::parse(region).unwrap(),
                    settings: TenantSettings::default(),
                },
                NewAccount::new(
                    Email::parse(&format!("admin@{}.example", name.to_lowercase())).unwrap(),
                    Name::parse("Admin").unwrap(),
                ),
            )
            .await
            .unwrap();
        let mut centre = Centre {
            tenant: tenant.id,
            admin: admin.id,
            counsellor: admin.id,
            session: SessionId::random().unwrap(),
        };
        let counsellor = svc
            .create_account(
                &centre.admin_caller(clock),
                tenant.id,
                NewAccount::new(
                    Email::parse(&format!("cora@{}.example", name.to_lowercase())).unwrap(),
                    Name::parse("Cora").unwrap(),
                ),
                &[BuiltinRole::Counsellor.id()],
            )
            .await
            .unwrap();
        centre.counsellor = counsellor.id;
        let cora = centre.counsellor_caller(clock);
        centre.session = svc
            .create_session(
                &cora,
                tenant.id,
                NewSession {
                    mode: Some(SessionMode::ServerManaged),
                    ..NewSession::classic()
                },
            )
            .await
            .unwrap()
            .session
            .id;
        svc.post_content(
            &cora,
            tenant.id,
            centre.session,
            ContentKind::Message,
            ContentBody::plain(format!("hello from {name}").into_bytes()),
        )
        .await
        .unwrap();
        centre
    }

    pub(crate) fn admin_caller(&self, clock: &ManualClock) -> Caller {
        caller(self.tenant, self.admin, true, clock)
    }

    pub(crate) fn counsellor_caller(&self, clock: &ManualClock) -> Caller {
        caller(self.tenant, self.counsellor, false, clock)
    }

    /// What the centre's admin reads of its own tenant: its accounts and its trail.
    pub(crate) async fn assert_readable(&self, world: &World) {
        let (svc, clock) = (&world.svc, &world.clock);
        let admin = self.admin_caller(clock);
        let listed: BTreeSet<AccountId> = svc
            .list_accounts(&admin, self.tenant, PageRequest::first())
            .await
            .unwrap()
            .items
            .iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(listed, BTreeSet::from([self.admin, self.counsellor]));
        let cora = self.counsellor_caller(clock);
        let details = svc.session(&cora, self.tenant, self.session).await.unwrap();
        assert_eq!(details.session.tenant, self.tenant);
        let items = svc
            .list_items(&cora, self.tenant, self.session, PageRequest::first())
            .await
            .unwrap();
        assert_eq!(items.items.len(), 1);
    }
}

fn caller(tenant: TenantId, account: AccountId, strong: bool, clock: &ManualClock) -> Caller {
    Caller::new(
        tenant,
        SubjectId::Account(account),
        Authentication {
            second_factor: strong,
            at: clock.now(),
        },
    )
}

/// No operation of `a`'s callers reads, lists or counts `b`'s records: asking in `b`'s
/// tenant is denied, asking for `b`'s ids in `a`'s own tenant finds nothing, and every
/// listing of `a` holds only `a`'s records.
pub(crate) async fn assert_apart(world: &World, a: &Centre, b: &Centre) {
    let (svc, clock) = (&world.svc, &world.clock);
    let admin = a.admin_caller(clock);
    let cora = a.counsellor_caller(clock);

    // In b's tenant: denied, whatever is asked.
    let denied = |r: Result<(), Error>| {
        assert!(matches!(r, Err(Error::Denied { .. })), "{r:?}");
    };
    denied(
        svc.list_accounts(&admin, b.tenant, PageRequest::first())
            .await
            .map(|_| ()),
    );
    denied(svc.account(&admin, b.tenant, b.admin).await.map(|_| ()));
    denied(svc.tenant(&admin, b.tenant).await.map(|_| ()));
    denied(
        svc.audit_trail(&admin, b.tenant, PageRequest::first())
            .await
            .map(|_| ()),
    );
    denied(svc.session(&cora, b.tenant, b.session).await.map(|_| ()));
    denied(
        svc.list_sessions(&cora, b.tenant, PageRequest::first())
            .await
            .map(|_| ()),
    );
    denied(
        svc.list_items(&cora, b.tenant, b.session, PageRequest::first())
            .await
            .map(|_| ()),
    );

    // b's ids in a's own tenant: not there.
    let not_found = |r: Result<(), Error>| {
        assert!(matches!(r, Err(Error::NotFound { .. })), "{r:?}");
    };
    not_found(svc.account(&admin, a.tenant, b.admin).await.map(|_| ()));
    not_found(
        svc.account(&admin, a.tenant, b.counsellor)
            .await
            .map(|_| ()),
    );
    not_found(svc.session(&cora, a.tenant, b.session).await.map(|_| ()));
    not_found(
        svc.list_items(&cora, a.tenant, b.session, PageRequest::first())
            .await
            .map(|_| ()),
    );
    // b's admin as a caller of a's tenant is nobody there.
    let stranger = caller(a.tenant, b.admin, true, clock);
    assert!(matches!(
        svc.list_accounts(&stranger, a.tenant, PageRequest::first())
            .await,
        Err(Error::AccountNotUsable)
    ));

    // a's listings: a's records only, counted.
    let accounts = svc
        .list_accounts(&admin, a.tenant, PageRequest::first())
        .await
        .unwrap()
        .items;
    assert_eq!(accounts.len(), 2);
    assert!(accounts.iter().all(|x| x.tenant == a.tenant));
    let sessions = svc
        .list_sessions(&cora, a.tenant, PageRequest::first())
        .await
        .unwrap()
        .items;
    assert_eq!(
        sessions.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![a.session]
    );
    let trail = svc
        .audit_trail(&admin, a.tenant, PageRequest::with_limit(1000))
        .await
        .unwrap()
        .items;
    assert!(!trail.is_empty());
    assert!(trail.iter().all(|r| r.event.tenant == a.tenant));
    let incidents = svc
        .incidents(&admin, a.tenant, PageRequest::with_limit(1000))
        .await
        .unwrap()
        .items;
    assert!(incidents.iter().all(|i| i.tenant == a.tenant));
}

/// Rows per tenant in every table of the SQLite file at `path` that has a `tenant`
/// column: `tenant → rows`.
pub(crate) async fn sqlite_rows_by_tenant(
    path: &Path,
) -> std::collections::BTreeMap<TenantId, i64> {
    let url = format!("sqlite://{}", path.display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT m.name FROM sqlite_master m WHERE m.type = 'table' \
         AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) WHERE name = 'tenant')",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert!(tables.len() > 10, "{tables:?}");
    let mut rows = std::collections::BTreeMap::new();
    for table in tables {
        let sql = format!("SELECT tenant, COUNT(*) FROM \"{table}\" GROUP BY tenant");
        let counts: Vec<(Vec<u8>, i64)> = sqlx::query_as(&sql).fetch_all(&mut conn).await.unwrap();
        for (tenant, n) in counts {
            let id = TenantId::from_bytes(tenant.try_into().unwrap());
            *rows.entry(id).or_insert(0) += n;
        }
    }
    conn.close().await.unwrap();
    rows
}
