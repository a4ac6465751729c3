//! The test world shared by the scenario tests: the service over the in-memory
//! reference ports, with a manual clock.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs
)]

use std::sync::Arc;

use cai_core::authz::Authentication;
use cai_core::domain::{Account, BuiltinRole, Email, Name, Region, Tenant, TenantSettings};
use cai_core::id::{AccountId, SubjectId, TenantId};
use cai_core::memory::{
    LocalKeyProvider, MemoryFailureCounter, MemoryMailer, MemoryNotifier, MemoryStore,
    MemoryTransport,
};
use cai_core::ports::{Clock, ManualClock};
use cai_core::service::{NewAccount, NewTenant};
use cai_core::{Caller, Counselling, Ports, ServiceConfig, Timestamp};
use cai_crypto::passphrase::Argon2Params;

pub struct World {
    pub svc: Counselling,
    pub clock: ManualClock,
    pub store: Arc<MemoryStore>,
    pub keys: Arc<LocalKeyProvider>,
    pub mailer: Arc<MemoryMailer>,
    pub notifier: Arc<MemoryNotifier>,
    pub transport: Arc<MemoryTransport>,
    pub failures: Arc<MemoryFailureCounter>,
}

pub struct Org {
    pub tenant: Tenant,
    pub admin: Account,
    pub admin_caller: Caller,
}

impl Org {
    pub fn id(&self) -> TenantId {
        self.tenant.id
    }
}

pub const START: Timestamp = Timestamp::from_unix_millis(1_790_000_000_000);

impl World {
    pub fn new() -> Self {
        Self::with_keys(|keys, _| keys)
    }

    /// A world whose service wraps and unwraps keys through what `keys` makes of the
    /// in-memory key provider (and store): a test's wrapper around them.
    pub fn with_keys(
        keys: impl FnOnce(
            Arc<LocalKeyProvider>,
            Arc<MemoryStore>,
        ) -> Arc<dyn cai_core::ports::KeyProvider>,
    ) -> Self {
        let mut mem = Ports::in_memory();
        mem.clock.set(START);
        mem.ports.keys = keys(mem.keys.clone(), mem.store.clone());
        let config = ServiceConfig {
            room_password_params: Argon2Params::MINIMUM,
            ..ServiceConfig::default()
        };
        Self {
            svc: Counselling::with_config(mem.ports.clone(), config),
            clock: mem.clock.clone(),
            store: mem.store.clone(),
            keys: mem.keys.clone(),
            mailer: mem.mailer.clone(),
            notifier: mem.notifier.clone(),
            transport: mem.transport.clone(),
            failures: mem.failures.clone(),
        }
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// A caller who logged in just now, with a second factor if `strong`.
    pub fn caller(&self, tenant: TenantId, subject: SubjectId, strong: bool) -> Caller {
        Caller::new(
            tenant,
            subject,
            Authentication {
                second_factor: strong,
                at: self.now(),
            },
        )
    }

    pub async fn org(&self, name: &str) -> Org {
        self.org_with(name, TenantSettings::default()).await
    }

    pub async fn org_with(&self, name: &str, settings: TenantSettings) -> Org {
        let (tenant, admin) = self
            .svc
            .create_tenant(
                NewTenant {
                    name: Name::parse(name).unwrap(),
                    region: Region::parse("DE").unwrap(),
                    settings,
                },
                NewAccount::new(
                    Email::parse(&format!("admin@{}.example", name.to_lowercase())).unwrap(),
                    Name::parse("Admin").unwrap(),
                ),
            )
            .await
            .unwrap();
        let admin_caller = self.caller(tenant.id, SubjectId::Account(admin.id), true);
        Org {
            tenant,
            admin,
            admin_caller,
        }
    }

    /// Creates an account with `role` through the admin; returns it and its caller.
    pub async fn member(&self, org: &Org, name: &str, role: BuiltinRole) -> (Account, Caller) {
        let admin = self.caller(org.id(), SubjectId::Account(org.admin.id), true);
        let account = self
            .svc
            .create_account(
                &admin,
                org.id(),
                NewAccount::new(
                    Email::parse(&format!("{}@{}.example", name.to_lowercase(), org.id())).unwrap(),
                    Name::parse(name).unwrap(),
                ),
                &[role.id()],
            )
            .await
            .unwrap();
        let caller = self.caller(
            org.id(),
            SubjectId::Account(account.id),
            role == BuiltinRole::TenantAdmin,
        );
        (account, caller)
    }

    pub fn account_caller(&self, org: &Org, id: AccountId) -> Caller {
        self.caller(org.id(), SubjectId::Account(id), false)
    }

    /// The invitation code of the last mail sent.
    pub fn mailed_secret(&self) -> cai_core::domain::InvitationSecret {
        let sent = self.mailer.sent();
        let mail = sent.last().expect("a mail was sent");
        let code = mail
            .body
            .split_whitespace()
            .find(|w| w.starts_with("inv_"))
            .expect("the mail holds a code");
        cai_core::domain::InvitationSecret::parse(code).expect("a well-formed code")
    }
}
