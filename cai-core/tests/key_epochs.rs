//! Key epochs outside end-to-end mode (issue 12, "when a participant leaves, the
//! remaining ones move to a new epoch"): removing a participant from a server-managed or
//! session-key session gives the session a fresh data key in the same commit; older
//! content keeps opening under its own epoch's key; passphrase sessions stay.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use cai_core::Error;
use cai_core::domain::{AuditKind, AuditObject, BuiltinRole, ContentKind, SealedBody, SessionMode};
use cai_core::id::{AccountId, SessionId};
use cai_core::ports::{AuditStore, BytesChunks, ContentStore, DirectoryStore, Page, SessionEvent};
use cai_core::service::{ContentBody, FileUpload, ItemIds, NewSession, SessionKeyMaterial};
use cai_core::{Caller, Counselling};
use cai_crypto::modes;
use cai_crypto::passphrase::Argon2Params;
use cai_crypto::{DataKey, KeyEpoch, envelope};
use common::{Org, World};

struct Cast {
    owner: Caller,
    ben: Caller,
    cleo: Caller,
}

async fn cast(w: &World, org: &Org) -> Cast {
    let (_, owner) = w.member(org, "Cora", BuiltinRole::Counsellor).await;
    let (_, ben) = w.member(org, "Ben", BuiltinRole::Counsellor).await;
    let (_, cleo) = w.member(org, "Cleo", BuiltinRole::Counsellor).await;
    Cast { owner, ben, cleo }
}

/// A session in `mode` with Ben and Cleo added as counsellors.
async fn session(w: &World, org: &Org, c: &Cast, mode: SessionMode) -> SessionId {
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
    let s = create(w, &c.owner, org, new).await;
    for who in [&c.ben, &c.cleo] {
        let account = who.subject.account().unwrap();
        w.svc
            .add_counsellor(&c.owner, org.id(), s, account, None)
            .await
            .unwrap();
    }
    s
}

fn data_key(m: SessionKeyMaterial) -> DataKey {
    match m {
        SessionKeyMaterial::SessionKey(k) => k,
        SessionKeyMaterial::ServerSealed { call_key } => call_key,
        other => panic!("no data key: {other:?}"),
    }
}

async fn current(svc: &Counselling, who: &Caller, org: &Org, s: SessionId) -> DataKey {
    data_key(svc.session_keys(who, org.id(), s).await.unwrap())
}

async fn post_sealed(w: &World, who: &Caller, org: &Org, s: SessionId, text: &[u8]) {
    let key = current(&w.svc, who, org, s).await;
    let session = w.svc.session(who, org.id(), s).await.unwrap().session;
    // The server cannot open what the client sealed; what counts here is the epoch
    // the stored version names.
    let item = post(
        w,
        who,
        org,
        s,
        ContentKind::Message,
        ContentBody::Sealed(
            SealedBody::new(
                envelope::seal(
                    &key,
                    &ItemIds::in_session(&session, cai_core::id::ItemId::random().unwrap())
                        .context(1, ContentKind::Message),
                    text,
                )
                .unwrap(),
            )
            .unwrap(),
        ),
    )
    .await
    .unwrap();
    let stored = w
        .store
        .version(org.id(), item.id, 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.key_epoch,
        key.epoch().0,
        "the version names its epoch"
    );
}

/// A world with the cast and a session in `mode` they take part in.
async fn setup(mode: SessionMode) -> (World, Org, Cast, SessionId) {
    let w = World::new();
    let org = w.org("Nord").await;
    let c = cast(&w, &org).await;
    let s = session(&w, &org, &c, mode).await;
    (w, org, c, s)
}

/// A group "Team" of `members`, made by the administrator.
async fn team(w: &World, org: &Org, members: &[AccountId]) -> cai_core::domain::Group {
    w.svc
        .create_group(
            &org.admin_caller,
            org.id(),
            cai_core::domain::Name::parse("Team").unwrap(),
            members,
        )
        .await
        .unwrap()
}

/// Creates `new` as `owner`.
async fn create(w: &World, owner: &Caller, org: &Org, new: NewSession) -> SessionId {
    w.svc
        .create_session(owner, org.id(), new)
        .await
        .unwrap()
        .session
        .id
}

/// Posts `body` to `s` as `who`.
async fn post(
    w: &World,
    who: &Caller,
    org: &Org,
    s: SessionId,
    kind: ContentKind,
    body: ContentBody,
) -> Result<cai_core::domain::ContentItem, Error> {
    w.svc.post_content(who, org.id(), s, kind, body).await
}

async fn remove(w: &World, c: &Cast, org: &Org, s: SessionId, who: &Caller) {
    w.svc
        .remove_participant(&c.owner, org.id(), s, who.subject, None)
        .await
        .unwrap();
}

#[tokio::test]
async fn removing_a_participant_moves_a_session_key_session_to_a_fresh_key() {
    let (w, org, c, s) = setup(SessionMode::SessionKey).await;
    let first = current(&w.svc, &c.ben, &org, s).await;
    assert_eq!(first.epoch().0, 0);
    post_sealed(&w, &c.owner, &org, s, b"before").await;

    remove(&w, &c, &org, s, &c.ben).await;

    let second = current(&w.svc, &c.cleo, &org, s).await;
    assert_eq!(second.epoch().0, 1);
    assert_ne!(second.id(), first.id(), "a fresh key, not a derivation");
    assert_ne!(second.secret(), first.secret());
    assert_eq!(current(&w.svc, &c.owner, &org, s).await, second);
    let details = w.svc.session(&c.owner, org.id(), s).await.unwrap();
    assert_eq!(details.session.key_epoch, 1);
    // New content names the new epoch; older content opens under its own.
    post_sealed(&w, &c.cleo, &org, s, b"after").await;
    let old = data_key(
        w.svc
            .session_keys_at(&c.cleo, org.id(), s, 0)
            .await
            .unwrap(),
    );
    assert_eq!(old, first);
    // The current epoch through either operation.
    let now = data_key(
        w.svc
            .session_keys_at(&c.cleo, org.id(), s, 1)
            .await
            .unwrap(),
    );
    assert_eq!(now, second);
    // Key material never shows its secret in `Debug`.
    let shown = format!(
        "{:?}",
        w.svc.session_keys(&c.cleo, org.id(), s).await.unwrap()
    );
    assert_eq!(shown, "SessionKey(<redacted>)");
    // The removed participant gets neither the new key nor the old one any more.
    for r in [
        w.svc.session_keys(&c.ben, org.id(), s).await,
        w.svc.session_keys_at(&c.ben, org.id(), s, 1).await,
    ] {
        assert!(matches!(r, Err(Error::NotFound { .. })), "{r:?}");
    }
    // An epoch the session never had.
    let r = w.svc.session_keys_at(&c.cleo, org.id(), s, 2).await;
    assert!(
        matches!(r, Err(Error::NotFound { what: "key epoch" })),
        "{r:?}"
    );

    // Published right after the removal, audited with the old and new epoch.
    let events = w.transport.events_of(org.id(), s);
    let at = events
        .iter()
        .position(|e| matches!(e, SessionEvent::ParticipantRemoved(who) if *who == c.ben.subject))
        .unwrap();
    assert!(
        matches!(
            events.get(at + 1),
            Some(SessionEvent::KeysChanged { epoch: 1 })
        ),
        "{events:?}"
    );
    let audited: Vec<_> = w
        .store
        .audit_events(org.id(), 0, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|(_, e)| {
            e.kind == AuditKind::SessionKeysChanged && e.object == AuditObject::Session(s)
        })
        .map(|(_, e)| e.changes)
        .collect();
    assert_eq!(audited.len(), 1, "{audited:?}");
    let change = &audited[0][0];
    assert_eq!(change.property, "key_epoch");
    assert_eq!(
        (change.before.as_deref(), change.after.as_deref()),
        (Some("0"), Some("1"))
    );

    // A second removal moves on again.
    remove(&w, &c, &org, s, &c.cleo).await;
    assert_eq!(current(&w.svc, &c.owner, &org, s).await.epoch().0, 2);
}

#[tokio::test]
async fn server_managed_sessions_seal_under_the_new_epoch_and_hand_out_call_keys() {
    let (w, org, c, s) = setup(SessionMode::ServerManaged).await;
    let call_before = current(&w.svc, &c.ben, &org, s).await;
    let before = post(
        &w,
        &c.owner,
        &org,
        s,
        ContentKind::Message,
        ContentBody::plain(b"before".to_vec()),
    )
    .await
    .unwrap();

    remove(&w, &c, &org, s, &c.ben).await;

    let call_after = current(&w.svc, &c.cleo, &org, s).await;
    assert_eq!(
        (call_before.epoch().0, call_after.epoch().0),
        (0, 1),
        "the call key follows the session's epoch"
    );
    assert_ne!(call_after.secret(), call_before.secret());
    let shown = format!(
        "{:?}",
        w.svc.session_keys(&c.cleo, org.id(), s).await.unwrap()
    );
    assert_eq!(shown, "ServerSealed(<redacted>)");
    let after = post(
        &w,
        &c.cleo,
        &org,
        s,
        ContentKind::Message,
        ContentBody::plain(b"after".to_vec()),
    )
    .await
    .unwrap();
    for (item, epoch, text) in [(before.id, 0, &b"before"[..]), (after.id, 1, b"after")] {
        let stored = w.store.version(org.id(), item, 1).await.unwrap().unwrap();
        assert_eq!(stored.key_epoch, epoch);
        let view = w
            .svc
            .read_content(&c.owner, org.id(), s, item, None)
            .await
            .unwrap();
        assert!(matches!(view.body, ContentBody::Plain(ref p) if p.as_slice() == text));
        // The call key is not the content key: it does not open what the server sealed.
        let ctx_session = w.svc.session(&c.owner, org.id(), s).await.unwrap().session;
        let opened = envelope::open(
            &current(&w.svc, &c.owner, &org, s).await,
            &ItemIds::in_session(&ctx_session, item).context(1, ContentKind::Message),
            stored.body.as_bytes(),
        );
        assert!(opened.is_err());
    }
}

#[tokio::test]
async fn passphrase_sessions_and_the_lobby_keep_their_epoch() {
    let (w, org, c, s) = setup(SessionMode::Passphrase).await;
    remove(&w, &c, &org, s, &c.ben).await;
    let details = w.svc.session(&c.owner, org.id(), s).await.unwrap();
    assert_eq!(details.session.key_epoch, 0);
    assert!(matches!(
        w.svc.session_keys(&c.cleo, org.id(), s).await.unwrap(),
        SessionKeyMaterial::Passphrase(_)
    ));
    let r = w.svc.session_keys_at(&c.cleo, org.id(), s, 1).await;
    assert!(matches!(r, Err(Error::NotFound { .. })), "{r:?}");
    assert!(
        !w.transport
            .events_of(org.id(), s)
            .iter()
            .any(|e| matches!(e, SessionEvent::KeysChanged { .. }))
    );
}

#[tokio::test]
async fn end_to_end_sessions_answer_earlier_epochs_with_wrong_mode() {
    let w = World::new();
    let org = w.org("Nord").await;
    let c = cast(&w, &org).await;
    let s = create(
        &w,
        &c.owner,
        &org,
        NewSession {
            mode: Some(SessionMode::EndToEnd),
            ..NewSession::classic()
        },
    )
    .await;
    let r = w.svc.session_keys_at(&c.owner, org.id(), s, 0).await;
    assert!(matches!(r, Err(Error::WrongMode { .. })), "{r:?}");
    // Rights come first: a stranger learns nothing about the mode.
    let r = w.svc.session_keys_at(&c.ben, org.id(), s, 0).await;
    assert!(
        matches!(r, Err(Error::NotFound { what: "session" })),
        "{r:?}"
    );
}

/// An envelope under `key`, as a client seals a post for `s`.
fn sealed_under(key: &DataKey, text: &[u8]) -> SealedBody {
    let ctx = cai_crypto::ItemContext::new(b"t", b"s", b"i", 1, ContentKind::Note);
    SealedBody::new(envelope::seal(key, &ctx, text).unwrap()).unwrap()
}

fn stale(r: Result<impl std::fmt::Debug, Error>) {
    let Err(e) = r else {
        panic!("accepted: {r:?}");
    };
    assert!(
        matches!(
            e,
            Error::StaleKey {
                reason: "fetch session_keys and seal again"
            }
        ),
        "{e:?}"
    );
    let body = e.to_body();
    assert_eq!(
        (body.category, body.code.as_str()),
        (cai_core::ErrorCategory::Conflict, "stale_key")
    );
}

#[tokio::test]
async fn content_sealed_under_an_earlier_or_a_foreign_key_is_refused() {
    let (w, org, c, s) = setup(SessionMode::SessionKey).await;
    let first = current(&w.svc, &c.cleo, &org, s).await;
    let note = post(
        &w,
        &c.cleo,
        &org,
        s,
        ContentKind::Note,
        ContentBody::Sealed(sealed_under(&first, b"v1")),
    )
    .await
    .unwrap();
    remove(&w, &c, &org, s, &c.ben).await;
    let second = current(&w.svc, &c.cleo, &org, s).await;

    // Ben still holds the first key: nothing new may be sealed under it, as a post,
    // an edit or an upload's manifest; nothing is stored.
    let post_under = |key: &DataKey| {
        let body = ContentBody::Sealed(sealed_under(key, b"for the remaining"));
        post(&w, &c.cleo, &org, s, ContentKind::Message, body)
    };
    stale(post_under(&first).await);
    stale(
        w.svc
            .edit_content(
                &c.cleo,
                org.id(),
                s,
                note.id,
                ContentBody::Sealed(sealed_under(&first, b"v2")),
            )
            .await,
    );
    stale(
        w.svc
            .upload_file(
                &c.cleo,
                org.id(),
                s,
                ContentKind::File,
                FileUpload::Sealed(sealed_under(&first, b"manifest")),
                &mut BytesChunks::new(Vec::new()),
            )
            .await,
    );
    // The current epoch under another key id, and the current key id relabelled with
    // the earlier epoch.
    stale(post_under(&DataKey::generate(KeyEpoch(1)).unwrap()).await);
    let relabelled = DataKey::from_parts(second.id(), KeyEpoch(0), second.secret().clone());
    stale(post_under(&relabelled).await);
    // A stream instead of an envelope: its header names the key as well.
    let stream_under = |key: &DataKey| {
        let mut out = Vec::new();
        let ctx = cai_crypto::ItemContext::new(b"t", b"s", b"i", 1, ContentKind::Note);
        cai_crypto::stream::seal_stream(key, &ctx, &b"a short recording"[..], &mut out).unwrap();
        ContentBody::Sealed(SealedBody::new(out).unwrap())
    };
    stale(
        post(
            &w,
            &c.cleo,
            &org,
            s,
            ContentKind::Note,
            stream_under(&first),
        )
        .await,
    );
    let stored = w.store.items(org.id(), s, Page::first(100)).await.unwrap();
    assert_eq!(stored.len(), 1, "only the note");
    assert_eq!(stored[0].latest_version, 1);

    // Under the current key all go through.
    post_under(&second).await.unwrap();
    post(
        &w,
        &c.cleo,
        &org,
        s,
        ContentKind::Note,
        stream_under(&second),
    )
    .await
    .unwrap();
    w.svc
        .edit_content(
            &c.cleo,
            org.id(),
            s,
            note.id,
            ContentBody::Sealed(sealed_under(&second, b"v2")),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_passphrase_session_takes_only_its_derived_key() {
    let w = World::new();
    let org = w.org("Nord").await;
    let c = cast(&w, &org).await;
    let (key, custody) = modes::create_passphrase(b"our phrase", Argon2Params::MINIMUM).unwrap();
    let s = create(
        &w,
        &c.owner,
        &org,
        NewSession {
            mode: Some(SessionMode::Passphrase),
            passphrase_custody: Some(custody.to_bytes()),
            ..NewSession::classic()
        },
    )
    .await;
    let post_under = |key: &DataKey| {
        let body = ContentBody::Sealed(sealed_under(key, b"hello"));
        post(&w, &c.owner, &org, s, ContentKind::Message, body)
    };
    stale(post_under(&DataKey::generate(KeyEpoch(0)).unwrap()).await);
    post_under(&key).await.unwrap();
}

#[tokio::test]
async fn leaving_a_group_moves_the_open_sessions_shared_with_it() {
    let w = World::new();
    let org = w.org("Nord").await;
    let c = cast(&w, &org).await;
    let (ben, cleo) = (
        c.ben.subject.account().unwrap(),
        c.cleo.subject.account().unwrap(),
    );
    let team = team(&w, &org, &[ben, cleo]).await;
    let shared = |mode: SessionMode| {
        let new = NewSession {
            mode: Some(mode),
            groups: vec![team.id],
            ..NewSession::classic()
        };
        async { create(&w, &c.owner, &org, new).await }
    };
    let (sk, sm, closed, e2e) = (
        shared(SessionMode::SessionKey).await,
        shared(SessionMode::ServerManaged).await,
        shared(SessionMode::SessionKey).await,
        shared(SessionMode::EndToEnd).await,
    );
    w.svc
        .close_session(&c.owner, org.id(), closed)
        .await
        .unwrap();
    // More than one page of them (the service reads 100 at a time).
    let mut more = Vec::new();
    for _ in 0..98 {
        more.push(shared(SessionMode::SessionKey).await);
    }
    let (w, c, org) = (&w, &c, &org);
    let epoch = |s: SessionId| async move {
        w.svc
            .session(&c.owner, org.id(), s)
            .await
            .unwrap()
            .session
            .key_epoch
    };
    let before = current(&w.svc, &c.ben, org, sk).await;

    // Adding someone moves nothing.
    let (_, dana) = w.member(org, "Dana", BuiltinRole::Counsellor).await;
    let dana = dana.subject.account().unwrap();
    w.svc
        .set_group_members(&org.admin_caller, org.id(), team.id, &[ben, cleo, dana])
        .await
        .unwrap();
    assert_eq!(epoch(sk).await, 0);

    // Ben leaves: the open sessions with keys the server keeps move on.
    let changed = w
        .svc
        .set_group_members(&org.admin_caller, org.id(), team.id, &[cleo, dana])
        .await
        .unwrap();
    let stored = w.store.group(org.id(), team.id).await.unwrap().unwrap();
    assert_eq!(
        changed.revision, stored.revision,
        "the group as it now stands"
    );
    for s in more {
        assert_eq!(epoch(s).await, 1);
    }
    for (s, moved) in [(sk, 1), (sm, 1), (closed, 0), (e2e, 0)] {
        assert_eq!(epoch(s).await, moved, "{s}");
        let published = w
            .transport
            .events_of(org.id(), s)
            .iter()
            .any(|e| matches!(e, SessionEvent::KeysChanged { epoch: 1 }));
        assert_eq!(published, moved == 1, "{s}");
    }
    let after = current(&w.svc, &c.cleo, org, sk).await;
    assert_eq!(after.epoch().0, 1);
    assert_ne!(after.id(), before.id());
    let r = w.svc.session_keys(&c.ben, org.id(), sk).await;
    assert!(matches!(r, Err(Error::NotFound { .. })), "{r:?}");
    stale(
        post(
            w,
            &c.cleo,
            org,
            sk,
            ContentKind::Message,
            ContentBody::Sealed(sealed_under(&before, b"late")),
        )
        .await,
    );
    let audited = w
        .store
        .audit_events(org.id(), 0, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|(_, e)| e.kind == AuditKind::SessionKeysChanged)
        .count();
    assert_eq!(audited, 100, "one per moved session");
}

#[tokio::test]
async fn deleting_an_account_moves_the_sessions_it_reached() {
    let w = World::new();
    let org = w.org("Nord").await;
    let c = cast(&w, &org).await;
    let direct = session(&w, &org, &c, SessionMode::SessionKey).await;
    let cleo = c.cleo.subject.account().unwrap();
    let team = team(&w, &org, &[cleo]).await;
    let new = NewSession {
        mode: Some(SessionMode::ServerManaged),
        groups: vec![team.id],
        ..NewSession::classic()
    };
    let through_group = create(&w, &c.owner, &org, new).await;
    let epochs = || async {
        let mut out = Vec::new();
        for s in [direct, through_group] {
            let d = w.svc.session(&c.owner, org.id(), s).await.unwrap();
            out.push(d.session.key_epoch);
        }
        out
    };
    let ben = c.ben.subject.account().unwrap();
    w.svc
        .delete_account(&org.admin_caller, org.id(), ben)
        .await
        .unwrap();
    assert_eq!(epochs().await, [1, 0], "Ben took part in the first only");
    w.svc
        .delete_account(&org.admin_caller, org.id(), cleo)
        .await
        .unwrap();
    assert_eq!(epochs().await, [2, 1], "Cleo reached both");
}
