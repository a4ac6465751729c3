//! What `cai-auth` needs from a storage backend, as tests every backend runs
//! (feature `conformance`). cai-core's own suite checks the credential records'
//! contract (revisions, isolation, cascades); these check `cai-auth`'s flows over a
//! backend, above all that a token or ticket is taken **once** when several requests
//! race for it. Run them on a multi-threaded runtime, so the races are real:
//!
//! ```
//! // In a backend's tests, with its own store in place of the in-memory one:
//! cai_auth::auth_conformance_tests!(async {
//!     std::sync::Arc::new(cai_core::memory::MemoryStore::new()) as cai_core::ports::DynStore
//! });
//! # fn main() {}
//! ```
// Test code: a broken expectation is a failed test.
#![allow(clippy::expect_used, clippy::panic, clippy::unwrap_used)]

use std::sync::Arc;

use cai_core::authz::Authentication;
use cai_core::domain::{
    Account, BuiltinRole, Email, Name, Region, RequestMeta, Tenant, TenantSettings,
};
use cai_core::id::SubjectId;
use cai_core::memory::{
    LocalKeyProvider, MemoryFailureCounter, MemoryMailer, MemoryNotifier, MemoryTransport,
};
use cai_core::ports::{Clock, CredentialKind, DynStore, ManualClock, SingleStore};
use cai_core::service::{NewAccount, NewTenant};
use cai_core::{Caller, Counselling, Ports, Timestamp};

use crate::{
    AuthConfig, AuthError, Authenticator, HashParams, LoginOutcome, Pepper, Peppers,
    caller_vouched_by_host,
};

/// A strong password that passes the default policy.
pub const PASSWORD: &str = "Leuchtturm-am-Deich-7";

/// An authenticator over one store, with a tenant, its admin and a client account.
pub struct Fixture {
    /// The authenticator.
    pub auth: Authenticator,
    /// The clock (standing still until advanced).
    pub clock: ManualClock,
    /// The store.
    pub store: DynStore,
    /// The tenant.
    pub tenant: Tenant,
    /// Its administrator (no password set).
    pub admin: Account,
    /// A client account (no password set).
    pub client: Account,
    /// The host's peppers.
    pub peppers: Peppers,
    /// Admin notifications delivered.
    pub notifier: Arc<MemoryNotifier>,
    /// The failure counters.
    pub failures: Arc<MemoryFailureCounter>,
    /// Mail sent.
    pub mailer: Arc<MemoryMailer>,
}

impl Fixture {
    /// Builds the fixture over `store` with `config` (its hash cost is replaced by
    /// the cheapest, for speed, unless `keep_cost`).
    pub async fn new(store: DynStore, config: AuthConfig, keep_cost: bool) -> Self {
        Self::with_pool(
            store,
            config,
            keep_cost,
            Arc::new(cai_core::blocking::InlinePool),
        )
        .await
    }

    /// [`new`](Self::new), with Argon2 running on `blocking`.
    pub async fn with_pool(
        store: DynStore,
        config: AuthConfig,
        keep_cost: bool,
        blocking: Arc<dyn cai_core::blocking::BlockingPool>,
    ) -> Self {
        Self::build(store, config, keep_cost, blocking, None).await
    }

    /// [`new`](Self::new) (cheapest hash cost), with mail going out through `mailer`
    /// (an SMTP mailer, say); the fixture's own `mailer` then stays empty.
    pub async fn with_mailer(
        store: DynStore,
        config: AuthConfig,
        mailer: Arc<dyn cai_core::ports::Mailer>,
    ) -> Self {
        Self::build(
            store,
            config,
            false,
            Arc::new(cai_core::blocking::InlinePool),
            Some(mailer),
        )
        .await
    }

    async fn build(
        store: DynStore,
        mut config: AuthConfig,
        keep_cost: bool,
        blocking: Arc<dyn cai_core::blocking::BlockingPool>,
        outgoing: Option<Arc<dyn cai_core::ports::Mailer>>,
    ) -> Self {
        if !keep_cost {
            config.defaults.hash = HashParams::INSECURE_TEST;
            for t in config.tenants.values_mut() {
                t.hash = HashParams::INSECURE_TEST;
            }
        }
        let clock = ManualClock::new(Timestamp::from_unix_millis(1_790_000_000_000));
        let notifier = Arc::new(MemoryNotifier::new());
        let failures = Arc::new(MemoryFailureCounter::new());
        let mailer = Arc::new(MemoryMailer::new());
        let ports = Ports {
            router: Arc::new(SingleStore(store.clone())),
            keys: Arc::new(LocalKeyProvider::new()),
            clock: Arc::new(clock.clone()),
            mailer: outgoing.unwrap_or_else(|| mailer.clone()),
            notifier: notifier.clone(),
            transport: Arc::new(MemoryTransport::new()),
            failures: failures.clone(),
            blobs: Arc::new(cai_core::memory::MemoryBlobStore::new()),
            blocking,
        };
        let svc = Counselling::new(ports);
        let (tenant, admin) = svc
            .create_tenant(
                NewTenant {
                    name: Name::parse("Beratung Nord").expect("valid"),
                    region: Region::parse("DE").expect("valid"),
                    settings: TenantSettings::default(),
                },
                NewAccount::new(
                    Email::parse("admin@nord.example").expect("valid"),
                    Name::parse("Alex Admin").expect("valid"),
                ),
            )
            .await
            .expect("tenant created");
        let admin_caller = caller_vouched_by_host(
            tenant.id,
            admin.id,
            true,
            clock.now(),
            RequestMeta::default(),
        );
        let client = svc
            .create_account(
                &admin_caller,
                tenant.id,
                NewAccount::new(
                    Email::parse("robin@nord.example").expect("valid"),
                    Name::parse("Robin Client").expect("valid"),
                ),
                &[BuiltinRole::Client.id()],
            )
            .await
            .expect("account created");
        let peppers = Peppers::new(Pepper::random("t1").expect("random"));
        let auth = Authenticator::new(svc, peppers.clone(), config).expect("valid config");
        Self {
            auth,
            clock,
            store,
            tenant,
            admin,
            client,
            peppers,
            notifier,
            failures,
            mailer,
        }
    }

    /// A caller for `account` as its host vouches (second factor if `strong`).
    pub fn vouched(&self, account: &Account, strong: bool) -> Caller {
        caller_vouched_by_host(
            self.tenant.id,
            account.id,
            strong,
            self.clock.now(),
            RequestMeta::default(),
        )
    }

    /// The admin, with a second factor, just authenticated.
    pub fn admin_caller(&self) -> Caller {
        self.vouched(&self.admin, true)
    }

    /// Sets `account`'s first password to [`PASSWORD`].
    pub async fn with_password(&self, account: &Account) {
        self.auth
            .set_password(&self.vouched(account, false), None, PASSWORD)
            .await
            .expect("first password set");
    }

    /// Logs `account` in with [`PASSWORD`]; panics unless a session comes back.
    pub async fn session(&self, account: &Account) -> crate::IssuedSession {
        let email = account.email.as_ref().expect("has an address").as_str();
        match self
            .auth
            .login(self.tenant.id, email, PASSWORD, RequestMeta::default())
            .await
        {
            Ok(LoginOutcome::Session(s)) => s,
            other => panic!("expected a session, got {other:?}"),
        }
    }
}

/// The stored password is a peppered Argon2id PHC string, never the password; it is
/// re-layered on login; login and `authenticate` work over the backend.
pub async fn password_round_trip(store: DynStore) {
    let f = Fixture::new(store.clone(), AuthConfig::default(), false).await;
    f.with_password(&f.client).await;
    let first = stored_password(&f).await;
    assert!(first.starts_with("$argon2id$v=19$"), "a PHC string");
    assert!(!first.contains(PASSWORD));
    let session = f.session(&f.client).await;
    let second = stored_password(&f).await;
    assert_ne!(first, second, "a fresh salt on every successful login");
    let caller = f
        .auth
        .authenticate(session.token.expose(), RequestMeta::default())
        .await
        .expect("a fresh token authenticates");
    assert_eq!(caller.subject, SubjectId::Account(f.client.id));
    assert_eq!(caller.tenant, f.tenant.id);
}

async fn stored_password(f: &Fixture) -> String {
    let c = f
        .store
        .credential(f.tenant.id, f.client.id, CredentialKind::Password)
        .await
        .expect("readable")
        .expect("stored");
    let r: crate::records::PasswordRecord = serde_json::from_slice(&c.data).expect("json");
    r.phc
}

/// Eight requests race to use one password-change ticket: exactly one sets its
/// password; the rest see an invalid ticket.
pub async fn ticket_is_taken_once(store: DynStore) {
    let f = Fixture::new(store, AuthConfig::default(), false).await;
    f.with_password(&f.client).await;
    f.auth
        .force_password_change(&f.admin_caller(), f.tenant.id, f.client.id)
        .await
        .expect("forced");
    let ticket = match f
        .auth
        .login(
            f.tenant.id,
            "robin@nord.example",
            PASSWORD,
            RequestMeta::default(),
        )
        .await
    {
        Ok(LoginOutcome::MustChangePassword(t)) => t.ticket,
        other => panic!("expected a change ticket, got {other:?}"),
    };
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let auth = f.auth.clone();
            let ticket = ticket.expose().to_owned();
            tokio::spawn(async move {
                auth.change_password_with_ticket(
                    &ticket,
                    &format!("Neuer-Deich-Turm-{i}x"),
                    RequestMeta::default(),
                )
                .await
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.expect("task ran") {
            Ok(_) => ok += 1,
            Err(AuthError::InvalidToken) => {}
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert_eq!(ok, 1, "exactly one use of the ticket");
}

/// Eight requests race to complete one recovery with the same mailed token: exactly
/// one sets its password (the one that then logs in); the rest see an invalid token.
pub async fn recovery_token_is_taken_once(store: DynStore) {
    let f = Fixture::new(store, AuthConfig::default(), false).await;
    f.with_password(&f.client).await;
    f.auth
        .begin_recovery(f.tenant.id, "robin@nord.example", RequestMeta::default())
        .await
        .expect("requested");
    let token = f
        .mailer
        .sent()
        .last()
        .and_then(|m| {
            m.body
                .split_whitespace()
                .find(|w| w.starts_with("cr1_"))
                .map(str::to_owned)
        })
        .expect("a token was mailed");
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let auth = f.auth.clone();
            let (tenant, token) = (f.tenant.id, token.clone());
            tokio::spawn(async move {
                auth.complete_recovery(
                    tenant,
                    &token,
                    &format!("Neuer-Deich-Turm-{i}x"),
                    RequestMeta::default(),
                )
                .await
                .map(|()| i)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        match t.await.expect("task ran") {
            Ok(i) => winners.push(i),
            Err(AuthError::InvalidToken) => {}
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one use of the token");
    let outcome = f
        .auth
        .login(
            f.tenant.id,
            "robin@nord.example",
            &format!("Neuer-Deich-Turm-{}x", winners.first().expect("a winner")),
            RequestMeta::default(),
        )
        .await;
    assert!(
        matches!(outcome, Ok(LoginOutcome::Session(_))),
        "{outcome:?}"
    );
}

/// Requests using a session race with its revocation: once `revoke` has returned,
/// the token never authenticates again (a request's write of "last used" must not
/// bring it back).
pub async fn revocation_wins_over_concurrent_use(store: DynStore) {
    let f = Fixture::new(store, AuthConfig::default(), false).await;
    f.with_password(&f.client).await;
    let session = f.session(&f.client).await;
    let token = session.token.expose().to_owned();
    // Make every use want to write its "last used" time.
    f.clock.advance(f.auth.config().touch_interval);
    let users: Vec<_> = (0..8)
        .map(|_| {
            let (auth, token) = (f.auth.clone(), token.clone());
            tokio::spawn(async move {
                for _ in 0..4 {
                    let _ = auth.authenticate(&token, RequestMeta::default()).await;
                }
            })
        })
        .collect();
    f.auth.revoke(&token).await.expect("revoked");
    for u in users {
        u.await.expect("task ran");
    }
    assert!(matches!(
        f.auth.authenticate(&token, RequestMeta::default()).await,
        Err(AuthError::InvalidToken)
    ));
}

/// Concurrent logins of one account all get working sessions (each token write is
/// retried on conflict, none lost).
pub async fn concurrent_logins_all_get_sessions(store: DynStore) {
    let f = Fixture::new(store, AuthConfig::default(), false).await;
    f.with_password(&f.client).await;
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let auth = f.auth.clone();
            let tenant = f.tenant.id;
            tokio::spawn(async move {
                auth.login(
                    tenant,
                    "robin@nord.example",
                    PASSWORD,
                    RequestMeta::default(),
                )
                .await
            })
        })
        .collect();
    let mut tokens = Vec::new();
    for t in tasks {
        match t.await.expect("task ran") {
            Ok(LoginOutcome::Session(s)) => tokens.push(s.token),
            other => panic!("expected a session, got {other:?}"),
        }
    }
    for t in &tokens {
        f.auth
            .authenticate(t.expose(), RequestMeta::default())
            .await
            .expect("every issued token works");
    }
}

/// Deleting an account deletes its credentials: its tokens stop working and nothing
/// of its password remains.
pub async fn deleting_an_account_deletes_its_credentials(store: DynStore) {
    let f = Fixture::new(store, AuthConfig::default(), false).await;
    f.with_password(&f.client).await;
    let session = f.session(&f.client).await;
    f.auth
        .service()
        .delete_account(&f.admin_caller(), f.tenant.id, f.client.id)
        .await
        .expect("deleted");
    for kind in [CredentialKind::Password, CredentialKind::Tokens] {
        assert!(
            f.store
                .credential(f.tenant.id, f.client.id, kind)
                .await
                .expect("readable")
                .is_none(),
            "{kind:?} left behind"
        );
    }
    assert!(matches!(
        f.auth
            .authenticate(session.token.expose(), RequestMeta::default())
            .await,
        Err(AuthError::InvalidToken)
    ));
}

/// A second factor recorded on a session comes back on its `Caller`, with the time
/// of authentication, not the time of use.
pub async fn authentication_facts_survive_the_store(store: DynStore) {
    let f = Fixture::new(store, AuthConfig::default(), false).await;
    f.with_password(&f.client).await;
    let at = f.clock.now();
    let session = f.session(&f.client).await;
    f.clock.advance(std::time::Duration::from_secs(5 * 60));
    let caller = f
        .auth
        .authenticate(session.token.expose(), RequestMeta::default())
        .await
        .expect("valid");
    assert_eq!(
        caller.authentication,
        Authentication {
            second_factor: false,
            at
        }
    );
}

/// Runs every case as a test over the store `$new_store` (an async expression giving
/// a `DynStore`), on a multi-threaded runtime.
#[macro_export]
macro_rules! auth_conformance_tests {
    ($new_store:expr $(,)?) => {
        #[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
        mod auth_conformance {
            #[allow(unused_imports)]
            use super::*;
            $crate::auth_conformance_tests!(@cases $new_store;
                password_round_trip, ticket_is_taken_once, recovery_token_is_taken_once,
                revocation_wins_over_concurrent_use, concurrent_logins_all_get_sessions,
                deleting_an_account_deletes_its_credentials,
                authentication_facts_survive_the_store);
        }
    };
    (@cases $new_store:expr; $($case:ident),+) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::conformance::$case(($new_store).await).await;
            }
        )+
    };
}

#[cfg(test)]
mod memory {
    crate::auth_conformance_tests!(async {
        std::sync::Arc::new(cai_core::memory::MemoryStore::new()) as cai_core::ports::DynStore
    });
}
