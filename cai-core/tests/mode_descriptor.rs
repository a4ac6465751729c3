//! The signed mode descriptor outside end-to-end mode (issue 9, "no silent downgrade"):
//! the owner attaches it once, before any content; the service binds it into the
//! context of every item it seals; clients accept it against the creator's key and
//! bind it into theirs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use cai_core::Error;
use cai_core::domain::{BuiltinRole, ContentKind, SealedBody, SessionMode};
use cai_core::id::SessionId;
use cai_core::ports::{ContentStore, KeyProvider, KeyStore};
use cai_core::service::{
    ContentBody, ItemIds, MAX_MODE_DESCRIPTOR_LEN, NewSession, SessionKeyMaterial,
    session_key_context,
};
use cai_core::{Caller, Counselling};
use cai_crypto::e2e::{AccountRef, IdentityKey, TrustStore};
use cai_crypto::modes::{self, KeyCustody, ModeDescriptor};
use cai_crypto::passphrase::Argon2Params;
use cai_crypto::{ItemContext, envelope};
use common::{Org, World};

struct Owner {
    caller: Caller,
    key: IdentityKey,
}

impl Owner {
    fn sign(&self, org: &Org, session: SessionId, mode: SessionMode) -> Vec<u8> {
        self.sign_for(org.id().to_string(), session, mode)
    }

    fn sign_for(&self, tenant: String, session: SessionId, mode: SessionMode) -> Vec<u8> {
        ModeDescriptor::sign(
            &self.key,
            &AccountRef::new(self.caller.subject.to_string().as_bytes()).unwrap(),
            tenant.as_bytes(),
            session.to_string().as_bytes(),
            mode,
        )
        .unwrap()
        .as_bytes()
        .to_vec()
    }
}

async fn owner(w: &World, org: &Org) -> Owner {
    let (_, caller) = w.member(org, "Cora", BuiltinRole::Counsellor).await;
    Owner {
        caller,
        key: IdentityKey::generate().unwrap(),
    }
}

async fn create(svc: &Counselling, o: &Owner, org: &Org, mode: SessionMode) -> SessionId {
    let passphrase_custody = (mode == SessionMode::Passphrase).then(|| {
        modes::create_passphrase(b"our phrase", Argon2Params::MINIMUM)
            .unwrap()
            .1
            .to_bytes()
    });
    let new = NewSession {
        mode: Some(mode),
        passphrase_custody,
        ..NewSession::classic()
    };
    svc.create_session(&o.caller, org.id(), new)
        .await
        .unwrap()
        .session
        .id
}

#[tokio::test]
async fn server_sealed_items_carry_the_binding() {
    let w = World::new();
    let org = w.org("Nord").await;
    let o = owner(&w, &org).await;
    let s = create(&w.svc, &o, &org, SessionMode::ServerManaged).await;
    let descriptor = o.sign(&org, s, SessionMode::ServerManaged);
    let attached = w
        .svc
        .attach_mode_descriptor(&o.caller, org.id(), s, descriptor.clone())
        .await
        .unwrap();
    assert_eq!(attached.mode_descriptor.as_deref(), Some(&descriptor[..]));
    // Every reader is handed the descriptor with the session.
    let details = w.svc.session(&o.caller, org.id(), s).await.unwrap();
    assert_eq!(
        details.session.mode_descriptor.as_deref(),
        Some(&descriptor[..])
    );
    // The answer is the session as stored, revision included.
    assert_eq!(attached, details.session);

    let item = w
        .svc
        .post_content(
            &o.caller,
            org.id(),
            s,
            ContentKind::Message,
            ContentBody::plain(b"hello".to_vec()),
        )
        .await
        .unwrap();
    let view = w
        .svc
        .read_content(&o.caller, org.id(), s, item.id, None)
        .await
        .unwrap();
    assert!(matches!(view.body, ContentBody::Plain(ref p) if p.as_slice() == b"hello"));

    // At rest the envelope's context holds the binding: without it, it does not open.
    let stored = w
        .store
        .version(org.id(), item.id, 1)
        .await
        .unwrap()
        .unwrap();
    let custody = w.store.custody(org.id(), s, 0).await.unwrap().unwrap();
    let KeyCustody::Wrapped(wrapped) = KeyCustody::parse(&custody.custody).unwrap() else {
        panic!("server-managed custody is wrapped");
    };
    let key = w
        .keys
        .unwrap(
            org.id(),
            &wrapped,
            &session_key_context(org.id(), s).unwrap(),
        )
        .await
        .unwrap();
    let mut trust = TrustStore::strict();
    trust
        .pin(
            AccountRef::new(o.caller.subject.to_string().as_bytes()).unwrap(),
            o.key.public(),
        )
        .unwrap();
    let accepted = ModeDescriptor::accept(
        &descriptor,
        org.id().to_string().as_bytes(),
        s.to_string().as_bytes(),
        &AccountRef::new(o.caller.subject.to_string().as_bytes()).unwrap(),
        SessionMode::ServerManaged,
        &mut trust,
    )
    .unwrap();
    let ids = ItemIds::new(org.id(), s, item.id);
    let bound = ids.clone().with_mode(Some(accepted.binding()));
    let ctx = bound.context(1, ContentKind::Message);
    assert_eq!(
        envelope::open(&key, &ctx, stored.body.as_bytes()).unwrap(),
        b"hello"
    );
    assert!(
        envelope::open(
            &key,
            &ids.context(1, ContentKind::Message),
            stored.body.as_bytes()
        )
        .is_err()
    );
}

#[tokio::test]
async fn clients_accept_the_descriptor_and_seal_with_its_binding() {
    let w = World::new();
    let org = w.org("Nord").await;
    let o = owner(&w, &org).await;
    let s = create(&w.svc, &o, &org, SessionMode::SessionKey).await;
    let descriptor = o.sign(&org, s, SessionMode::SessionKey);
    w.svc
        .attach_mode_descriptor(&o.caller, org.id(), s, descriptor)
        .await
        .unwrap();

    // A client device: the session (with its descriptor) and the key from the server,
    // the owner's identity key pinned from elsewhere.
    let details = w.svc.session(&o.caller, org.id(), s).await.unwrap();
    let SessionKeyMaterial::SessionKey(key) =
        w.svc.session_keys(&o.caller, org.id(), s).await.unwrap()
    else {
        panic!("session-key mode hands out the key");
    };
    let (t, sid) = (org.id().to_string(), s.to_string());
    let mut trust = TrustStore::strict();
    trust
        .pin(
            AccountRef::new(o.caller.subject.to_string().as_bytes()).unwrap(),
            o.key.public(),
        )
        .unwrap();
    let d = ModeDescriptor::accept(
        details.session.mode_descriptor.as_deref().unwrap(),
        t.as_bytes(),
        sid.as_bytes(),
        &AccountRef::new(details.session.owner.to_string().as_bytes()).unwrap(),
        details.session.mode,
        &mut trust,
    )
    .unwrap();
    // The server could not announce server-managed mode for it instead.
    assert!(
        ModeDescriptor::accept(
            details.session.mode_descriptor.as_deref().unwrap(),
            t.as_bytes(),
            sid.as_bytes(),
            &AccountRef::new(details.session.owner.to_string().as_bytes()).unwrap(),
            SessionMode::ServerManaged,
            &mut trust,
        )
        .is_err()
    );
    assert_eq!(Some(d.binding()), details.session.mode_binding());

    let ctx = ItemContext::new(
        t.as_bytes(),
        sid.as_bytes(),
        b"client-msg-1",
        1,
        ContentKind::Message,
    )
    .with_mode(Some(d.binding()));
    let sealed = envelope::seal(&key, &ctx, b"hello").unwrap();
    let item = w
        .svc
        .post_content(
            &o.caller,
            org.id(),
            s,
            ContentKind::Message,
            ContentBody::Sealed(SealedBody::new(sealed).unwrap()),
        )
        .await
        .unwrap();
    let view = w
        .svc
        .read_content(&o.caller, org.id(), s, item.id, None)
        .await
        .unwrap();
    let ContentBody::Sealed(body) = view.body else {
        panic!("client-sealed content comes back sealed");
    };
    assert_eq!(
        envelope::open(&key, &ctx, body.as_bytes()).unwrap(),
        b"hello"
    );
    assert!(envelope::open(&key, &ctx.with_mode(None), body.as_bytes()).is_err());
}

#[tokio::test]
async fn refusals_in_their_documented_order() {
    let w = World::new();
    let org = w.org("Nord").await;
    let o = owner(&w, &org).await;
    let s = create(&w.svc, &o, &org, SessionMode::Passphrase).await;
    let good = o.sign(&org, s, SessionMode::Passphrase);

    // Only the owner.
    let (colleague, colleague_caller) = w.member(&org, "Bea", BuiltinRole::Counsellor).await;
    w.svc
        .add_counsellor(&o.caller, org.id(), s, colleague.id, None)
        .await
        .unwrap();
    let r = w
        .svc
        .attach_mode_descriptor(&colleague_caller, org.id(), s, good.clone())
        .await;
    assert!(matches!(r, Err(Error::Invalid { .. })), "{r:?}");

    // Too large, before anything is parsed.
    let r = w
        .svc
        .attach_mode_descriptor(&o.caller, org.id(), s, vec![0; MAX_MODE_DESCRIPTOR_LEN + 1])
        .await;
    assert!(matches!(r, Err(Error::TooLarge { .. })), "{r:?}");
    // Exactly at the limit it is parsed (and refused as malformed).
    let r = w
        .svc
        .attach_mode_descriptor(&o.caller, org.id(), s, vec![0; MAX_MODE_DESCRIPTOR_LEN])
        .await;
    assert!(matches!(r, Err(Error::Crypto(_))), "{r:?}");

    // Tampered: the signature does not verify.
    let mut tampered = good.clone();
    *tampered.last_mut().unwrap() ^= 1;
    let r = w
        .svc
        .attach_mode_descriptor(&o.caller, org.id(), s, tampered)
        .await;
    assert!(matches!(r, Err(Error::Crypto(_))), "{r:?}");

    // Well signed but wrong: another mode, another session, another tenant, another
    // creator.
    let other_session = create(&w.svc, &o, &org, SessionMode::Passphrase).await;
    let colleague_key = Owner {
        caller: colleague_caller,
        key: IdentityKey::generate().unwrap(),
    };
    for wrong in [
        o.sign(&org, s, SessionMode::SessionKey),
        o.sign(&org, other_session, SessionMode::Passphrase),
        o.sign_for("ten_other".into(), s, SessionMode::Passphrase),
        colleague_key.sign(&org, s, SessionMode::Passphrase),
    ] {
        let r = w
            .svc
            .attach_mode_descriptor(&o.caller, org.id(), s, wrong)
            .await;
        assert!(matches!(r, Err(Error::Invalid { .. })), "{r:?}");
    }

    // Once; the second is a conflict even with the same bytes.
    w.svc
        .attach_mode_descriptor(&o.caller, org.id(), s, good.clone())
        .await
        .unwrap();
    let r = w
        .svc
        .attach_mode_descriptor(&o.caller, org.id(), s, good)
        .await;
    assert!(matches!(r, Err(Error::Conflict { .. })), "{r:?}");
}

#[tokio::test]
async fn not_after_content_not_in_end_to_end_sessions_not_when_closed() {
    let w = World::new();
    let org = w.org("Nord").await;
    let o = owner(&w, &org).await;

    let s = create(&w.svc, &o, &org, SessionMode::ServerManaged).await;
    w.svc
        .post_content(
            &o.caller,
            org.id(),
            s,
            ContentKind::Message,
            ContentBody::plain(b"early".to_vec()),
        )
        .await
        .unwrap();
    let r = w
        .svc
        .attach_mode_descriptor(
            &o.caller,
            org.id(),
            s,
            o.sign(&org, s, SessionMode::ServerManaged),
        )
        .await;
    assert!(matches!(r, Err(Error::Conflict { .. })), "{r:?}");

    let e2e = create(&w.svc, &o, &org, SessionMode::EndToEnd).await;
    let r = w
        .svc
        .attach_mode_descriptor(
            &o.caller,
            org.id(),
            e2e,
            o.sign(&org, e2e, SessionMode::EndToEnd),
        )
        .await;
    assert!(matches!(r, Err(Error::WrongMode { .. })), "{r:?}");

    let closed = create(&w.svc, &o, &org, SessionMode::SessionKey).await;
    w.svc
        .close_session(&o.caller, org.id(), closed)
        .await
        .unwrap();
    let r = w
        .svc
        .attach_mode_descriptor(
            &o.caller,
            org.id(),
            closed,
            o.sign(&org, closed, SessionMode::SessionKey),
        )
        .await;
    assert!(matches!(r, Err(Error::SessionClosed)), "{r:?}");
}

#[tokio::test]
async fn a_tenant_that_requires_descriptors_takes_no_content_before_one() {
    let w = World::new();
    let org = w.org("Nord").await;
    let (_, admin) = w.member(&org, "Ada", BuiltinRole::TenantAdmin).await;
    let o = owner(&w, &org).await;
    let plain = || ContentBody::plain(b"hello".to_vec());
    let refused = |r: Result<_, Error>| {
        matches!(
            r,
            Err(Error::Conflict {
                what: "session",
                ..
            })
        )
    };

    // An item from before the requirement, in a session without a descriptor.
    let mut settings = org.tenant.settings.clone();
    settings.allow_message_editing = true;
    w.svc
        .update_tenant_settings(&admin, org.id(), settings.clone())
        .await
        .unwrap();
    let early = create(&w.svc, &o, &org, SessionMode::ServerManaged).await;
    let item = w
        .svc
        .post_content(&o.caller, org.id(), early, ContentKind::Message, plain())
        .await
        .unwrap();

    settings.require_mode_descriptor = true;
    let t = w
        .svc
        .update_tenant_settings(&admin, org.id(), settings)
        .await
        .unwrap();
    assert!(t.settings.require_mode_descriptor);
    let r = w
        .svc
        .edit_content(&o.caller, org.id(), early, item.id, plain())
        .await;
    assert!(refused(r), "editing without a descriptor");
    let r = w
        .svc
        .post_content(&o.caller, org.id(), early, ContentKind::Message, plain())
        .await;
    assert!(refused(r), "posting without a descriptor");
    assert_eq!(w.store.versions(org.id(), item.id).await.unwrap().len(), 1);

    // The refusal comes before the body is looked at: in a client-sealed session even
    // a well-formed envelope is refused.
    let s = create(&w.svc, &o, &org, SessionMode::SessionKey).await;
    let sealed = envelope::seal(
        &cai_crypto::DataKey::generate(cai_crypto::KeyEpoch(0)).unwrap(),
        &ItemContext::new(b"t", b"s", b"i", 1, ContentKind::Message),
        b"x",
    )
    .unwrap();
    let r = w
        .svc
        .post_content(
            &o.caller,
            org.id(),
            s,
            ContentKind::Message,
            ContentBody::Sealed(SealedBody::new(sealed).unwrap()),
        )
        .await;
    assert!(refused(r), "client-sealed session without a descriptor");

    // With the descriptor attached, content is taken again.
    let s = create(&w.svc, &o, &org, SessionMode::ServerManaged).await;
    let r = w
        .svc
        .post_content(&o.caller, org.id(), s, ContentKind::Message, plain())
        .await;
    assert!(refused(r));
    w.svc
        .attach_mode_descriptor(
            &o.caller,
            org.id(),
            s,
            o.sign(&org, s, SessionMode::ServerManaged),
        )
        .await
        .unwrap();
    let item = w
        .svc
        .post_content(&o.caller, org.id(), s, ContentKind::Message, plain())
        .await
        .unwrap();
    w.svc
        .edit_content(&o.caller, org.id(), s, item.id, plain())
        .await
        .unwrap();
}
