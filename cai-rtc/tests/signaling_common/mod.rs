//! The world of the signaling tests: cai-core's memory ports with the hub's
//! `HubEvents` as the session transport, cai-auth over them, a tenant with a counsellor
//! (Cora) and a client (Robin) who have passwords and session tokens, a signaling hub on
//! a manual monotonic clock, and in-memory clients.
#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use cai_auth::{AuthConfig, Authenticator, HashParams, Pepper, Peppers, caller_vouched_by_host};
use cai_core::domain::{
    Account, BuiltinRole, Email, InvitationSecret, Name, Region, RequestMeta, SessionMode, Tenant,
    TenantSettings,
};
use cai_core::id::SessionId;
use cai_core::id::TenantId;
use cai_core::memory::{
    LocalKeyProvider, MemoryBlobStore, MemoryFailureCounter, MemoryMailer, MemoryNotifier,
    MemoryStore,
};
use cai_core::ports::{
    Clock, DynStore, ManualClock as CoreClock, SingleStore, StoreError, StoreResult, TenantRouter,
};
use cai_core::service::{InviteTo, NewAccount, NewSession, NewTenant};
use cai_core::{Caller, Counselling, Ports, Timestamp};
use cai_rtc::signaling::{
    CaiBackend, Frame, HubEvents, ManualClock, MemoryChannel, ServerMessage, SignalingChannel,
    SignalingHub,
};

pub const PASSWORD: &str = "Leuchtturm-am-Deich-7";

/// A person with an account, its vouched caller and a session token.
/// A new account of the admin's tenant with `role` and a password, logged in now.
async fn make_person(
    auth: &Authenticator,
    admin: &Caller,
    clock: &CoreClock,
    (email, name): (&str, &str),
    role: BuiltinRole,
) -> Person {
    let tenant = admin.tenant;
    let account = auth
        .service()
        .create_account(
            admin,
            tenant,
            NewAccount::new(Email::parse(email).unwrap(), Name::parse(name).unwrap()),
            &[role.id()],
        )
        .await
        .unwrap();
    let caller = caller_vouched_by_host(
        tenant,
        account.id,
        false,
        clock.now(),
        RequestMeta::default(),
    );
    let issued = auth.set_password(&caller, None, PASSWORD).await.unwrap();
    Person {
        account,
        caller,
        token: issued.token.expose().to_owned(),
    }
}

pub struct Person {
    pub account: Account,
    pub caller: Caller,
    pub token: String,
}

/// Routes every tenant to one store, or fails like a store that is down while `down`
/// is set.
pub struct SwitchableStore {
    inner: SingleStore,
    down: Arc<AtomicBool>,
}

#[async_trait]
impl TenantRouter for SwitchableStore {
    async fn place(&self, tenant: TenantId, region: &Region) -> StoreResult<DynStore> {
        self.inner.place(tenant, region).await
    }

    async fn route(&self, tenant: TenantId) -> StoreResult<Option<DynStore>> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::backend(std::io::Error::other("store down")));
        }
        self.inner.route(tenant).await
    }
}

pub struct World {
    pub auth: Authenticator,
    /// The tenant's administrator (second factor, authenticated now).
    pub admin: Caller,
    /// While set, the store is unreachable (every routed read fails).
    pub store_down: Arc<AtomicBool>,
    pub clock: CoreClock,
    pub mono: Arc<ManualClock>,
    pub hub: SignalingHub,
    pub tenant: Tenant,
    pub cora: Person,
    pub robin: Person,
}

impl World {
    pub async fn new() -> Self {
        let clock = CoreClock::new(Timestamp::from_unix_millis(1_790_000_000_000));
        let events = HubEvents::new();
        let store_down = Arc::new(AtomicBool::new(false));
        let ports = Ports {
            router: Arc::new(SwitchableStore {
                inner: SingleStore(Arc::new(MemoryStore::new())),
                down: store_down.clone(),
            }),
            keys: Arc::new(LocalKeyProvider::new()),
            clock: Arc::new(clock.clone()),
            mailer: Arc::new(MemoryMailer::new()),
            notifier: Arc::new(MemoryNotifier::new()),
            transport: Arc::new(events.clone()),
            failures: Arc::new(MemoryFailureCounter::new()),
            blobs: Arc::new(MemoryBlobStore::new()),
            blocking: Arc::new(cai_core::blocking::InlinePool),
        };
        let svc = Counselling::new(ports);
        let (tenant, admin) = svc
            .create_tenant(
                NewTenant {
                    name: Name::parse("Beratung Nord").unwrap(),
                    region: Region::parse("DE").unwrap(),
                    settings: TenantSettings::default(),
                },
                NewAccount::new(
                    Email::parse("admin@nord.example").unwrap(),
                    Name::parse("Alex Admin").unwrap(),
                ),
            )
            .await
            .unwrap();
        let admin = caller_vouched_by_host(
            tenant.id,
            admin.id,
            true,
            clock.now(),
            RequestMeta::default(),
        );
        let mut config = AuthConfig::default();
        config.defaults.hash = HashParams::INSECURE_TEST;
        let auth = Authenticator::new(
            svc.clone(),
            Peppers::new(Pepper::random("t1").unwrap()),
            config,
        )
        .unwrap();
        let mono = Arc::new(ManualClock::new());
        let backend = Arc::new(CaiBackend::new(auth.clone()));
        let hub = SignalingHub::new(backend.clone(), backend, events, mono.clone());
        let cora = make_person(
            &auth,
            &admin,
            &clock,
            ("cora@nord.example", "Cora Counsellor"),
            BuiltinRole::Counsellor,
        )
        .await;
        let robin = make_person(
            &auth,
            &admin,
            &clock,
            ("robin@nord.example", "Robin Client"),
            BuiltinRole::Client,
        )
        .await;
        World {
            auth,
            admin,
            store_down,
            clock,
            mono,
            hub,
            tenant,
            cora,
            robin,
        }
    }

    /// A new account of the tenant with `role` and a password, logged in now.
    pub async fn person(&self, email: &str, name: &str, role: BuiltinRole) -> Person {
        make_person(&self.auth, &self.admin, &self.clock, (email, name), role).await
    }

    pub fn svc(&self) -> &Counselling {
        self.auth.service()
    }

    /// A session of Cora's in `mode` (ad-hoc, so guest links work).
    pub async fn ad_hoc(&self, mode: SessionMode) -> SessionId {
        self.svc()
            .create_session(
                &self.cora.caller,
                self.tenant.id,
                NewSession {
                    mode: Some(mode),
                    ..NewSession::ad_hoc()
                },
            )
            .await
            .unwrap()
            .session
            .id
    }

    /// A guest link to `session`, valid for `valid_for`.
    pub async fn guest_link(&self, session: SessionId, valid_for: Duration) -> InvitationSecret {
        self.svc()
            .invite(
                &self.cora.caller,
                self.tenant.id,
                session,
                InviteTo::GuestLink { max_uses: 10 },
                Some(valid_for),
            )
            .await
            .unwrap()
            .into_secret()
            .unwrap()
    }

    /// A client connected to the hub over memory, from `198.51.100.7`.
    pub fn connect(&self) -> Client {
        let (server, client) = MemoryChannel::pair(512);
        let hub = self.hub.clone();
        let meta = RequestMeta {
            id: None,
            client: Some("198.51.100.7".parse().unwrap()),
        };
        tokio::spawn(async move { hub.serve(server, meta).await });
        Client { ch: client }
    }

    /// A client that joined `session` with `token` and was admitted.
    pub async fn joined(&self, token: &str, session: SessionId) -> (Client, u16) {
        let mut c = self.connect();
        c.send(&join_token(token, session)).await;
        match c.next().await {
            ServerMessage::Admitted(a) => (c, a.sender_index),
            other => panic!("expected admitted, got {other:?}"),
        }
    }
}

pub fn join_token(token: &str, session: SessionId) -> String {
    format!(
        r#"{{"v":1,"type":"join","auth":{{"kind":"token","token":"{token}","session":"{session}"}}}}"#
    )
}

pub fn join_guest(tenant: impl std::fmt::Display, pseudonym: &str, secret: &str) -> String {
    format!(
        r#"{{"v":1,"type":"join","auth":{{"kind":"guest_link","tenant":"{tenant}","pseudonym":"{pseudonym}","secret":"{secret}"}}}}"#
    )
}

/// The client end of a connection.
pub struct Client {
    pub ch: MemoryChannel,
}

impl Client {
    pub async fn send(&mut self, text: &str) {
        self.ch.send(text.to_owned()).await.unwrap();
    }

    pub async fn send_frame(&mut self, frame: Frame) {
        self.ch.send_frame(frame).await.unwrap();
    }

    /// The next message from the server; panics if the connection closed.
    pub async fn next(&mut self) -> ServerMessage {
        match self.ch.recv().await {
            Some(Ok(Frame::Text(bytes))) => ServerMessage::parse(&bytes).unwrap(),
            other => panic!("expected a message, got {other:?}"),
        }
    }

    /// Whether the server closed the connection (after any messages still queued,
    /// which are returned).
    pub async fn drain_until_closed(&mut self) -> Vec<ServerMessage> {
        let mut seen = Vec::new();
        while let Some(frame) = self.ch.recv().await {
            if let Ok(Frame::Text(bytes)) = frame {
                seen.push(ServerMessage::parse(&bytes).unwrap());
            }
        }
        seen
    }

    /// Sends a ping with `id` and returns the next message (a `pong` if the connection
    /// is usable).
    pub async fn ping(&mut self, id: u32) -> ServerMessage {
        self.send(&format!(r#"{{"v":1,"id":{id},"type":"ping"}}"#))
            .await;
        self.next().await
    }
}

/// A minimal browser-like SDP with one fingerprint at session level.
pub fn sdp(fingerprint_byte: u8) -> String {
    let fp: Vec<String> = (0..32).map(|_| format!("{fingerprint_byte:02X}")).collect();
    format!(
        "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=fingerprint:sha-256 {}\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\n",
        fp.join(":")
    )
}
