//! Shared by the content-at-rest tests of both backends (R-E1): through the service,
//! over the backend's store, one session in each encryption mode gets a message and an
//! edit of it (a second version), each carrying a canary of its own — plaintext over
//! TLS in server-managed mode, sealed by the client in the others (session key from
//! the service, a key derived from a passphrase, real MLS devices end to end). The
//! backend's test then scans what the backend keeps with [`assert_nothing_planted`].
#![allow(dead_code)]

mod e2e;

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use cai_core::authz::Authentication;
use cai_core::domain::{
    BuiltinRole, ContentKind, Email, Name, Region, SealedBody, SessionMode, TenantSettings,
};
use cai_core::id::{AccountId, SessionId, SubjectId, TenantId};
use cai_core::ports::{Clock, DynStore, SingleStore};
use cai_core::service::{ContentBody, NewAccount, NewSession, NewTenant, SessionKeyMaterial};
use cai_core::{Caller, Counselling, Ports};
use cai_crypto::e2e::{IdentityKey, ModeDescriptor, TrustStore};
use cai_crypto::modes::{self, KeyCustody};
use cai_crypto::passphrase::Argon2Params;
use cai_crypto::{DataKey, ItemContext, envelope};

/// The positive control: the counsellor's display name, which stores keep in clear.
pub(crate) const CONTROL: &[u8] = b"Cora Controlname";

/// What was put through the service, to be looked for at rest.
pub(crate) struct Planted {
    /// Bytes that must be nowhere at rest, in no encoding: every canary, the
    /// passphrase, the keys clients hold. Each with what it is, for the failure.
    pub(crate) secrets: Vec<(String, Vec<u8>)>,
    /// The sessions, one per mode.
    pub(crate) sessions: Vec<SessionId>,
    /// The envelopes clients posted, as the store must keep them (a positive control:
    /// the scan finds stored bodies where they are).
    pub(crate) envelopes: Vec<Vec<u8>>,
}

/// The service over `store` and a tenant with two counsellors: Cora, who owns every
/// session, and Ben, the second member of the end-to-end group.
struct Centre {
    svc: Counselling,
    tenant: TenantId,
    cora: Caller,
    /// Cora's user identity key, which signs her sessions' mode descriptors.
    cora_key: IdentityKey,
    ben: (AccountId, Caller),
}

/// Plants canaries through the service in a session of each mode of `store`, checks
/// that every one reads back (opened by the service or by the client), and returns
/// what must not be found at rest.
pub(crate) async fn plant_in_every_mode(store: DynStore) -> Planted {
    let c = Centre::new(store).await;
    let mut planted = Planted {
        secrets: Vec::new(),
        sessions: Vec::new(),
        envelopes: Vec::new(),
    };
    c.server_managed(&mut planted).await;
    c.session_key(&mut planted).await;
    c.passphrase(&mut planted).await;
    c.end_to_end(&mut planted).await;
    planted
}

impl Centre {
    async fn new(store: DynStore) -> Self {
        let mut world = Ports::in_memory();
        world.ports.router = Arc::new(SingleStore(store));
        let clock = world.clock.clone();
        let svc = Counselling::new(world.ports);
        // Editing messages gives every mode a second version, with a canary of its
        // own; a careful tenant has every session outside end-to-end mode carry its
        // signed mode descriptor, so the client-sealed items are bound to it.
        let settings = TenantSettings {
            allow_message_editing: true,
            require_mode_descriptor: true,
            ..TenantSettings::default()
        };
        let (tenant, admin) = svc
            .create_tenant(
                NewTenant {
                    name: Name::parse("Beratungsstelle Canary").unwrap(),
                    region: Region::parse("DE").unwrap(),
                    settings,
                },
                NewAccount::new(
                    Email::parse("admin@canary.example").unwrap(),
                    Name::parse("Admin").unwrap(),
                ),
            )
            .await
            .unwrap();
        let caller = |subject, strong| {
            Caller::new(
                tenant.id,
                subject,
                Authentication {
                    second_factor: strong,
                    at: clock.now(),
                },
            )
        };
        let admin = caller(SubjectId::Account(admin.id), true);
        let mut counsellors = Vec::new();
        for (email, name) in [
            ("cora@canary.example", "Cora Controlname"),
            ("ben@canary.example", "Ben"),
        ] {
            let account = svc
                .create_account(
                    &admin,
                    tenant.id,
                    NewAccount::new(Email::parse(email).unwrap(), Name::parse(name).unwrap()),
                    &[BuiltinRole::Counsellor.id()],
                )
                .await
                .unwrap();
            counsellors.push((account.id, caller(SubjectId::Account(account.id), false)));
        }
        let [(_, cora), ben]: [(AccountId, Caller); 2] = counsellors.try_into().unwrap();
        Self {
            svc,
            tenant: tenant.id,
            cora,
            cora_key: IdentityKey::generate().unwrap(),
            ben,
        }
    }

    /// A new session of Cora's in `mode`.
    async fn session(&self, mode: SessionMode, custody: Option<Vec<u8>>) -> SessionId {
        let new = NewSession {
            mode: Some(mode),
            passphrase_custody: custody,
            ..NewSession::classic()
        };
        let s = self
            .svc
            .create_session(&self.cora, self.tenant, new)
            .await
            .unwrap()
            .session;
        assert_eq!(s.mode, mode);
        s.id
    }

    /// Cora's device signs the mode descriptor and attaches it; then, as a client
    /// does, it accepts the descriptor the service hands out with the session against
    /// her pinned key, and returns the binding it puts into every item context.
    async fn descriptor(&self, s: SessionId, mode: SessionMode) -> cai_crypto::ModeBinding {
        let (t, sid) = (self.tenant.to_string(), s.to_string());
        let cora = e2e::account(&self.cora);
        let signed =
            ModeDescriptor::sign(&self.cora_key, &cora, t.as_bytes(), sid.as_bytes(), mode)
                .unwrap();
        self.svc
            .attach_mode_descriptor(&self.cora, self.tenant, s, signed.as_bytes().to_vec())
            .await
            .unwrap();
        let details = self.svc.session(&self.cora, self.tenant, s).await.unwrap();
        let mut trust = TrustStore::strict();
        trust.pin(cora.clone(), self.cora_key.public()).unwrap();
        ModeDescriptor::accept(
            details.session.mode_descriptor.as_deref().unwrap(),
            t.as_bytes(),
            sid.as_bytes(),
            &cora,
            details.session.mode,
            &mut trust,
        )
        .unwrap()
        .binding()
    }

    /// `author` posts a message with one canary and edits it with another (version
    /// 2), each body made by `seal(version, plaintext)`; `reader` reads both versions
    /// back and `open(version, body)` must give the canaries again.
    #[allow(clippy::too_many_arguments)]
    async fn post_and_edit(
        &self,
        planted: &mut Planted,
        mode: &str,
        s: SessionId,
        author: &Caller,
        reader: &Caller,
        seal: impl Fn(u32, &[u8]) -> ContentBody,
        open: impl Fn(u32, ContentBody) -> Vec<u8>,
    ) {
        let canary = |what: &str| format!("CANARY-{mode}-{what}-{s}-do-not-store").into_bytes();
        let (message, edit) = (canary("message"), canary("edit"));
        let body = seal(1, &message);
        keep_envelope(planted, &body);
        let item = self
            .svc
            .post_content(author, self.tenant, s, ContentKind::Message, body)
            .await
            .unwrap();
        let body = seal(2, &edit);
        keep_envelope(planted, &body);
        let edited = self
            .svc
            .edit_content(author, self.tenant, s, item.id, body)
            .await
            .unwrap();
        assert_eq!(edited.latest_version, 2);
        for (version, canary) in [(1, &message), (2, &edit)] {
            let view = self
                .svc
                .read_content(reader, self.tenant, s, item.id, Some(version))
                .await
                .unwrap();
            assert_eq!(&open(version, view.body), canary, "{mode} v{version}");
        }
        planted.secrets.push((format!("{mode} message"), message));
        planted.secrets.push((format!("{mode} edit"), edit));
        planted.sessions.push(s);
    }

    /// Plaintext over TLS, sealed by the service under the session's data key.
    async fn server_managed(&self, planted: &mut Planted) {
        let s = self.session(SessionMode::ServerManaged, None).await;
        self.descriptor(s, SessionMode::ServerManaged).await;
        let keys = self
            .svc
            .session_keys(&self.cora, self.tenant, s)
            .await
            .unwrap();
        let SessionKeyMaterial::ServerSealed { call_key } = keys else {
            panic!("server-managed sessions hand out a call key only: {keys:?}");
        };
        // Derived on demand, never stored.
        planted.secrets.push((
            "server-managed call key".into(),
            call_key.secret().expose_secret().to_vec(),
        ));
        let plain = |_: u32, p: &[u8]| ContentBody::plain(p.to_vec());
        let opened = |_: u32, body: ContentBody| match body {
            ContentBody::Plain(p) => p.to_vec(),
            ContentBody::Sealed(_) => panic!("server-managed content is opened by the service"),
        };
        self.post_and_edit(
            planted,
            "server-managed",
            s,
            &self.cora,
            &self.cora,
            plain,
            opened,
        )
        .await;
    }

    /// The client gets the session's data key from the service and seals.
    async fn session_key(&self, planted: &mut Planted) {
        let s = self.session(SessionMode::SessionKey, None).await;
        let binding = self.descriptor(s, SessionMode::SessionKey).await;
        let SessionKeyMaterial::SessionKey(key) = self
            .svc
            .session_keys(&self.cora, self.tenant, s)
            .await
            .unwrap()
        else {
            panic!("session-key mode hands out the key");
        };
        self.client_sealed(planted, "session-key", s, &key, binding)
            .await;
        let raw = key.secret().expose_secret().to_vec();
        planted.secrets.push(("session-key data key".into(), raw));
    }

    /// The creator's client derives the key from a passphrase and gives the service
    /// only the custody (parameters and verifier); a reader derives it again.
    async fn passphrase(&self, planted: &mut Planted) {
        let phrase = format!(
            "PASSPHRASE-{}-correct horse battery",
            cai_core::id::ItemId::random().unwrap()
        );
        let (created, custody) =
            modes::create_passphrase(phrase.as_bytes(), Argon2Params::MINIMUM).unwrap();
        let s = self
            .session(SessionMode::Passphrase, Some(custody.to_bytes()))
            .await;
        let binding = self.descriptor(s, SessionMode::Passphrase).await;
        let SessionKeyMaterial::Passphrase(stored) = self
            .svc
            .session_keys(&self.cora, self.tenant, s)
            .await
            .unwrap()
        else {
            panic!("passphrase mode hands out the custody");
        };
        let key =
            modes::recover_passphrase(phrase.as_bytes(), &KeyCustody::parse(&stored).unwrap())
                .unwrap();
        assert_eq!(key, created);
        self.client_sealed(planted, "passphrase", s, &key, binding)
            .await;
        let raw = key.secret().expose_secret().to_vec();
        planted
            .secrets
            .push(("passphrase".into(), phrase.into_bytes()));
        planted.secrets.push(("passphrase-derived key".into(), raw));
    }

    /// Cora posts and edits envelopes sealed under `key`, bound to the descriptor.
    async fn client_sealed(
        &self,
        planted: &mut Planted,
        mode: &str,
        s: SessionId,
        key: &DataKey,
        binding: cai_crypto::ModeBinding,
    ) {
        // The server assigns item ids after the client sealed: the client names the
        // item itself in the envelope's context.
        let (t, sid) = (self.tenant.to_string(), s.to_string());
        let ctx = |version: u32| {
            ItemContext::new(
                t.as_bytes(),
                sid.as_bytes(),
                b"client-msg-1",
                version,
                ContentKind::Message,
            )
            .with_mode(Some(binding))
        };
        let seal = |v: u32, p: &[u8]| sealed(envelope::seal(key, &ctx(v), p).unwrap());
        let open = |v: u32, body: ContentBody| {
            envelope::open(key, &ctx(v), unsealed(body).as_bytes()).unwrap()
        };
        self.post_and_edit(planted, mode, s, &self.cora, &self.cora, seal, open)
            .await;
    }

    /// Real MLS devices: Cora starts the group and adds Ben; Ben's device seals the
    /// content, signed inside; Cora's device opens it.
    async fn end_to_end(&self, planted: &mut Planted) {
        let s = self.session(SessionMode::EndToEnd, None).await;
        let t = self.tenant;
        let mut cora = e2e::Client::new(&self.cora, "cora-laptop");
        let mut ben = e2e::Client::new(&self.ben.1, "ben-laptop");
        cora.publish(&self.svc, t).await;
        ben.publish(&self.svc, t).await;
        cora.start(&self.svc, t, s).await;
        cora.add(&self.svc, &mut ben, self.ben.0, t, s).await;

        let g = e2e::gid(t, s);
        let (tt, ss) = (t.to_string(), s.to_string());
        let ctx = |version: u32| {
            ItemContext::new(
                tt.as_bytes(),
                ss.as_bytes(),
                b"client-msg-1",
                version,
                ContentKind::Message,
            )
        };
        let seal = |v: u32, p: &[u8]| sealed(ben.device.seal(&g, &ctx(v), p).unwrap());
        let open = |v: u32, body: ContentBody| {
            let opened = cora
                .device
                .open(&g, &ctx(v), unsealed(body).as_bytes())
                .unwrap();
            assert_eq!(opened.sender.account(), &e2e::account(&ben.caller));
            opened.plaintext
        };
        self.post_and_edit(
            planted,
            "end-to-end",
            s,
            &ben.caller,
            &cora.caller,
            seal,
            open,
        )
        .await;
    }
}

fn sealed(bytes: Vec<u8>) -> ContentBody {
    ContentBody::Sealed(SealedBody::new(bytes).unwrap())
}

fn unsealed(body: ContentBody) -> SealedBody {
    match body {
        ContentBody::Sealed(b) => b,
        ContentBody::Plain(_) => panic!("client-sealed content comes back sealed"),
    }
}

fn keep_envelope(planted: &mut Planted, body: &ContentBody) {
    if let ContentBody::Sealed(b) = body {
        planted.envelopes.push(b.as_bytes().to_vec());
    }
}

/// Every occurrence of `needle` in `haystack`.
pub(crate) fn occurrences(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

/// `bytes` as lower-case hex, as `pg_dump` writes a `BYTEA` value.
pub(crate) fn hex(bytes: &[u8]) -> Vec<u8> {
    hex::encode(bytes).into_bytes()
}

/// The forms in which `secret` could sit in stored bytes: itself; as hex, lower and
/// upper case; as base64 in the standard and the URL-safe alphabet — for each of the
/// three offsets at which a base64 text can start it, the whole 3-byte groups from
/// there on, which any base64 text holding the secret at that offset contains.
pub(crate) fn encodings(secret: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let mut out = vec![
        ("raw", secret.to_vec()),
        ("hex", hex(secret)),
        ("HEX", hex::encode_upper(secret).into_bytes()),
    ];
    for skip in 0..3 {
        let Some(rest) = secret.get(skip..) else {
            continue;
        };
        let whole: Vec<u8> = rest.chunks_exact(3).flatten().copied().collect();
        out.push(("base64", STANDARD_NO_PAD.encode(&whole).into_bytes()));
        out.push(("base64url", URL_SAFE_NO_PAD.encode(&whole).into_bytes()));
    }
    out
}

/// Proves the needles of [`encodings`] on texts that hold the secret: a JSON-ish
/// document with the secret base64-encoded after 0, 1 and 2 bytes of other data, in
/// either alphabet, and hex-encoded in either case, is found.
fn encodings_find_what_is_there(secret: &[u8]) {
    let needles = encodings(secret);
    let found = |text: &[u8]| needles.iter().any(|(_, n)| occurrences(text, n) > 0);
    for lead in 0..3 {
        let mut data = vec![0xa5u8; lead];
        data.extend_from_slice(secret);
        data.extend_from_slice(b"}\x00\xff");
        for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            let text = format!("{{\"body\":\"{}\"}}", engine.encode(&data));
            assert!(found(text.as_bytes()), "base64 after {lead} bytes");
        }
        assert!(found(hex::encode(&data).as_bytes()));
        assert!(found(hex::encode_upper(&data).as_bytes()));
    }
}

/// Asserts that no planted secret is in any of `haystacks` (the files or dumps of
/// `place`) in any of its [`encodings`]; the needles are first proven to find the
/// secrets where they are encoded.
pub(crate) fn assert_nothing_planted(place: &str, haystacks: &[&[u8]], planted: &Planted) {
    assert!(planted.secrets.len() >= 8, "two canaries per mode");
    let mut leaks = Vec::new();
    for (what, secret) in &planted.secrets {
        encodings_find_what_is_there(secret);
        for (encoding, needle) in encodings(secret) {
            let n: usize = haystacks.iter().map(|h| occurrences(h, &needle)).sum();
            if n > 0 {
                leaks.push(format!("{what} as {encoding} ({n}×)"));
            }
        }
    }
    assert!(leaks.is_empty(), "at rest in {place}: {leaks:?}");
}
