//! The service's requests and answers: tenants, accounts, sessions, content, rooms,
//! paging, audit records, templates, error bodies, room entries, health.

use super::*;

// ---- Service requests and answers ----------------------------------------------------

#[test]
fn tenant_and_account_requests() {
    let new_tenant = NewTenant {
        name: name("Beratungsstelle Nord"),
        region: Region::parse("DE").unwrap(),
        settings: TenantSettings::default(),
    };
    assert_json_snapshot!("new_tenant", new_tenant);
    json_round_trip(&new_tenant);
    let new_account = NewAccount {
        valid_until: Some(t(365 * 24)),
        ..NewAccount::new(email(), name("Cora"))
    };
    assert_json_snapshot!("new_account", new_account);
    json_round_trip(&new_account);
    let changes = [
        AccountChanges::default(),
        AccountChanges {
            display_name: Some(name("Cora B.")),
            valid_from: Some(None),
            valid_until: Some(Some(t(24))),
        },
    ];
    assert_json_snapshot!("account_changes", changes);
    for c in &changes {
        json_round_trip(c);
    }
    // A merge patch: left out is unchanged, null removes, a value sets.
    let patch: AccountChanges =
        serde_json::from_str(r#"{"valid_from":null,"valid_until":"2026-12-02T21:56:02.123Z"}"#)
            .unwrap();
    assert!(patch.display_name.is_none());
    assert_eq!(patch.valid_from, Some(None));
    assert_eq!(patch.valid_until, Some(Some(t(24))));
    let patch: AccountChanges = serde_json::from_str("{}").unwrap();
    assert_eq!(patch.valid_from, None);
    assert_eq!(patch.valid_until, None);
}

#[test]
fn session_requests_and_answers() {
    let new_session = NewSession {
        title: Some(name("Erstgespräch")),
        mode: Some(SessionMode::Passphrase),
        groups: vec![group_id()],
        on_close: Some(ContentRetention::Keep),
        passphrase_custody: Some(b"custody: params and verifier".to_vec()),
        ..NewSession::classic()
    };
    assert_json_snapshot!("new_session", new_session);
    json_round_trip(&new_session);
    assert_json_snapshot!("new_session_defaults", NewSession::ad_hoc());
    json_round_trip(&NewSession::ad_hoc());
    // Optional fields may be left out of a request: the same as null.
    let minimal: NewSession =
        serde_json::from_str(r#"{"kind":{"type":"ad_hoc"},"groups":[]}"#).unwrap();
    assert_eq!(json(&minimal), json(&NewSession::ad_hoc()));

    let created = CreatedSession { session: session() };
    assert_json_snapshot!("created_session", created);
    json_round_trip(&created);
    let details = SessionDetails {
        session: session(),
        participants: participants(),
    };
    assert_json_snapshot!("session_details", details);
    json_round_trip(&details);

    let invites = [
        InviteTo::contact(email()),
        InviteTo::Contact {
            email: email(),
            language: Some("de".to_owned()),
        },
        InviteTo::GuestLink { max_uses: 10 },
    ];
    assert_json_snapshot!("invite_to", invites);
    for i in &invites {
        json_round_trip(i);
    }
    // `language` may be left out: the same as null.
    let minimal: InviteTo =
        serde_json::from_str(r#"{"type":"contact","email":"cora@nord.example"}"#).unwrap();
    let InviteTo::Contact { email: e, language } = &minimal else {
        panic!("{minimal:?}")
    };
    assert_eq!((e, language), (&email(), &None));
    assert_eq!(json(&minimal), json(&invites[0]));

    let invited = [
        Invited::Mailed {
            invitation: invitation_id(),
        },
        Invited::GuestLink {
            invitation: invitation_id(),
            secret: invitation_secret(),
        },
    ];
    assert_json_snapshot!("invited", invited);
    let value = serde_json::to_value(&invited).unwrap();
    // The mailed code never reaches the inviter; the guest link's secret is its text form.
    assert!(value[0].get("secret").is_none(), "{value}");
    assert_eq!(
        value[1]["secret"],
        serde_json::to_value(invitation_secret()).unwrap()
    );
    let secret: InvitationSecret = serde_json::from_value(value[1]["secret"].clone()).unwrap();
    assert_eq!(secret.hash(), invitation_secret().hash());

    let keys = [
        SessionKeyMaterial::ServerSealed {
            call_key: data_key().call_key().unwrap(),
        },
        SessionKeyMaterial::SessionKey(data_key()),
        SessionKeyMaterial::Passphrase(b"custody: params and verifier".to_vec()),
        SessionKeyMaterial::EndToEnd {
            epoch: Some(3),
            history_grant: Some(b"history grant".to_vec()),
        },
        SessionKeyMaterial::EndToEnd {
            epoch: None,
            history_grant: None,
        },
    ];
    assert_json_snapshot!("session_key_material", keys);
    for k in &keys {
        json_round_trip(k);
    }
    let back: SessionKeyMaterial = serde_json::from_str(&json(&keys[1])).unwrap();
    let SessionKeyMaterial::SessionKey(key) = back else {
        panic!("{back:?}")
    };
    assert_eq!(key, data_key());

    let targets = [
        Target::Tenant,
        Target::Account(account_id()),
        Target::Group(group_id()),
        Target::Session(session_id()),
        Target::Room(room_id()),
    ];
    assert_json_snapshot!("targets", targets);
    for t in targets {
        round_trip(&t);
    }
}

#[test]
fn content_requests_and_answers() {
    let bodies = [
        ContentBody::plain("first notes"),
        ContentBody::Sealed(sealed_body()),
    ];
    assert_json_snapshot!("content_bodies", bodies);
    for b in &bodies {
        json_round_trip(b);
    }
    let view = ContentView {
        item: ContentItem {
            kind: ContentKind::Note,
            latest_version: 1,
            blob: None,
            ..content_item()
        },
        version: 1,
        body: ContentBody::plain("first notes"),
    };
    assert_json_snapshot!("content_view", view);
    json_round_trip(&view);
}

#[test]
fn new_room_is_a_request_only() {
    let new: NewRoom = serde_json::from_str(
        r#"{"name":"Coras Raum","password":"correct horse battery staple","mode":"end_to_end","content":"nothing"}"#,
    )
    .unwrap();
    assert_eq!(new.name, name("Coras Raum"));
    assert_eq!(new.password.as_str(), "correct horse battery staple");
    assert_eq!(new.mode, Some(SessionMode::EndToEnd));
    assert_eq!(new.content, RoomContent::Nothing);
    // Debug never shows the password.
    let debug = format!("{new:?}");
    assert!(
        !debug.contains("correct horse") && debug.contains("<redacted>"),
        "{debug}"
    );
    // `mode` and `content` may be left out (or `mode` null): the tenant's default mode,
    // content kept.
    for minimal in [
        r#"{"name":"Coras Raum","password":"correct horse battery staple"}"#,
        r#"{"name":"Coras Raum","password":"correct horse battery staple","mode":null}"#,
    ] {
        let new: NewRoom = serde_json::from_str(minimal).unwrap();
        assert_eq!(new.mode, None);
        assert_eq!(new.content, RoomContent::Keep);
    }
    // No password, an unknown field, a bad name, mode or content: rejected.
    rejects::<NewRoom>(r#"{"name":"Coras Raum"}"#);
    rejects::<NewRoom>(r#"{"name":"Coras Raum","password":null}"#);
    rejects::<NewRoom>(
        r#"{"name":"Coras Raum","password":"correct horse battery staple","owner":"acc_11111111111111111111111111111111"}"#,
    );
    rejects::<NewRoom>(
        r#"{"name":"Coras Raum","password":"correct horse battery staple","passwort":"x"}"#,
    );
    rejects::<NewRoom>(r#"{"name":"","password":"correct horse battery staple"}"#);
    rejects::<NewRoom>(
        r#"{"name":"Coras Raum","password":"correct horse battery staple","mode":"e2e"}"#,
    );
    rejects::<NewRoom>(
        r#"{"name":"Coras Raum","password":"correct horse battery staple","content":"delete_on_close"}"#,
    );
}

#[test]
fn paging() {
    let cursor = Cursor::parse("itm.n.itm_88888888888888888888888888888888").unwrap();
    let requests = [
        PageRequest::first(),
        PageRequest::with_limit(20),
        PageRequest {
            cursor: Some(cursor.clone()),
            limit: Some(20),
            newest_first: Some(true),
        },
    ];
    assert_json_snapshot!("page_requests", requests);
    for r in &requests {
        round_trip(r);
    }
    // A cursor is a plain string, sent back unchanged.
    assert_eq!(
        serde_json::to_value(&cursor).unwrap(),
        "itm.n.itm_88888888888888888888888888888888"
    );
    round_trip(&cursor);
    // Every field may be left out: `{}` is the first page.
    let first: PageRequest = serde_json::from_str("{}").unwrap();
    assert_eq!(first, PageRequest::first());
    let after: PageRequest =
        serde_json::from_str(r#"{"cursor":"itm.n.itm_88888888888888888888888888888888"}"#).unwrap();
    assert_eq!(after, PageRequest::after(cursor.clone()));
    rejects::<PageRequest>(r#"{"cursor":5}"#);
    rejects::<PageRequest>(r#"{"limit":-1}"#);
    rejects::<PageRequest>(r#"{"limit":"50"}"#);
    rejects::<PageRequest>(r#"{"newest_first":"yes"}"#);
    let too_long = "x".repeat(129);
    for bad in ["", "a b", "itm/o/1", too_long.as_str()] {
        assert!(Cursor::parse(bad).is_err(), "{bad:?}");
    }

    let item = content_item();
    let full = Paged {
        items: vec![item.clone()],
        next: Some(cursor),
    };
    let last = Paged {
        items: vec![item],
        next: None,
    };
    assert_json_snapshot!("paged", [&full, &last]);
    round_trip(&full);
    round_trip(&last);
    let empty: Paged<ContentItem> = Paged {
        items: vec![],
        next: None,
    };
    assert_eq!(json(&empty), r#"{"items":[],"next":null}"#);
}

#[test]
fn audit_records() {
    let record = AuditRecord {
        seq: 7,
        event: audit_event(),
    };
    assert_json_snapshot!("audit_record", record);
    round_trip(&record);
}

#[test]
fn invitation_templates() {
    let mut by_language = BTreeMap::new();
    by_language.insert(
        "de".to_owned(),
        InvitationTemplate::new(
            "Einladung von {tenant}",
            "Sie wurden zu einer Beratung bei {tenant} eingeladen: {link}\nGültig bis {expires}.",
            Some("https://beratung.example/einladung".to_owned()),
        )
        .unwrap(),
    );
    by_language.insert(
        "en".to_owned(),
        InvitationTemplate::new(
            "Invitation from {tenant}",
            "Your invitation code: {code}",
            None,
        )
        .unwrap(),
    );
    let templates = InvitationTemplates {
        default: InvitationTemplate::default(),
        by_language,
    };
    assert_json_snapshot!("invitation_templates", templates);
    round_trip(&templates);
    round_trip(&InvitationTemplate::default());
    assert!(InvitationTemplate::new("Hi", "no code here", None).is_err());
    assert!(InvitationTemplate::new("Hi", "{link}", Some("http://x.example".to_owned())).is_err());
}

#[test]
fn error_bodies() {
    let categories = [
        ErrorCategory::Unauthenticated,
        ErrorCategory::Forbidden,
        ErrorCategory::NotFound,
        ErrorCategory::Conflict,
        ErrorCategory::InvalidInput,
        ErrorCategory::TooManyRequests,
        ErrorCategory::Unavailable,
        ErrorCategory::Internal,
    ];
    assert_json_snapshot!("error_categories", categories);
    let statuses: Vec<u16> = categories.iter().map(|c| c.http_status()).collect();
    assert_eq!(statuses, [401, 403, 404, 409, 400, 429, 503, 500]);
    for c in categories {
        round_trip(&c);
    }
    rejects::<ErrorCategory>(r#""bad_request""#);

    let errors = [
        Error::NotFound { what: "session" },
        Error::TooManyRequests {
            retry_after: Duration::from_millis(1500),
        },
        Error::Denied {
            action: Action::ReadContent,
            reason: DenyReason::NoRelation,
        },
        Error::NotAccepted,
        Error::TooLarge {
            what: "content body",
            limit: 16 * 1024 * 1024,
        },
        Error::Unauthenticated,
        Error::KeyProvider("db password xyz".into()),
        Error::Rng,
    ];
    let bodies: Vec<ErrorBody> = errors.iter().map(Error::to_body).collect();
    assert_json_snapshot!("error_bodies", bodies);
    for b in &bodies {
        round_trip(b);
    }
    let http: Vec<u16> = errors.iter().map(Error::http_status).collect();
    assert_eq!(http, [404, 429, 403, 403, 413, 401, 503, 500]);
    for (e, b) in errors.iter().zip(&bodies) {
        assert_eq!(b.category, e.category(), "{e:?}");
        assert_eq!(b.code, e.code(), "{e:?}");
    }
    // 1.5 s to wait is announced as 2, never 1: a client must not retry too early.
    assert_eq!(bodies[1].retry_after_secs, Some(2));
    assert!(
        bodies
            .iter()
            .enumerate()
            .all(|(i, b)| (i == 1) == b.retry_after_secs.is_some())
    );
    // A dependency's message stays in the server's log.
    let key_provider = json(&bodies[6]);
    assert_eq!(bodies[6].category, ErrorCategory::Unavailable);
    assert!(
        !key_provider.contains("xyz") && !key_provider.contains("password"),
        "{key_provider}"
    );
    assert!(
        Error::KeyProvider("db password xyz".into())
            .to_string()
            .contains("xyz")
    );
    let store = Error::Store(cai_core::ports::StoreError::backend(std::io::Error::other(
        "connection to 10.1.2.3 refused for user admin",
    )));
    let store_body = json(&store.to_body());
    assert_eq!(store.http_status(), 503);
    assert!(
        !store_body.contains("10.1.2.3") && !store_body.contains("admin"),
        "{store_body}"
    );
    let exact = Error::TooManyRequests {
        retry_after: Duration::from_secs(3),
    };
    assert_eq!(exact.to_body().retry_after_secs, Some(3));
}

#[test]
fn room_entries_and_health() {
    use cai_core::service::{Health, PortHealth, RoomEntry};
    let waiting = RoomEntry::Waiting {
        session: session().id,
    };
    assert_json_snapshot!("room_entry_waiting", waiting);
    let admitted = RoomEntry::Admitted(cai_core::service::SessionDetails {
        session: session(),
        participants: participants(),
    });
    let json = serde_json::to_value(&admitted).unwrap();
    assert_eq!(json["type"], "admitted");
    assert_eq!(json["session"]["id"], session().id.to_string());
    assert!(json["participants"].is_array());
    let health = Health {
        healthy: false,
        ports: vec![
            PortHealth {
                port: "store",
                healthy: true,
                detail: None,
            },
            PortHealth {
                port: "mailer",
                healthy: false,
                detail: Some("smtp: connection refused".into()),
            },
        ],
    };
    assert_json_snapshot!("health", health);
}

#[test]
fn end_to_end_commits_and_epochs() {
    let commit = E2eCommit {
        commit: b"commit".to_vec(),
        record: b"record".to_vec(),
        welcome: Some(b"welcome".to_vec()),
    };
    assert_json_snapshot!("e2e_commit", commit);
    let back: E2eCommit = serde_json::from_str(&json(&commit)).unwrap();
    assert_eq!((back.commit, back.welcome), (commit.commit, commit.welcome));
    // `welcome` may be left out; unknown fields are refused.
    let short: E2eCommit =
        serde_json::from_str(r#"{"commit":"Y29tbWl0","record":"cmVjb3Jk"}"#).unwrap();
    assert!(short.welcome.is_none());
    assert!(serde_json::from_str::<E2eCommit>(r#"{"commit":"","record":"","epoch":1}"#).is_err());
    let epoch = E2eEpochView {
        epoch: 1,
        commit: b"commit".to_vec(),
        record: b"record".to_vec(),
        welcome: None,
        committed_by: SubjectId::Account(account_id()),
        at: t0(),
    };
    assert_json_snapshot!("e2e_epoch", epoch);
    json_round_trip(&epoch);
}
