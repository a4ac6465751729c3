//! The domain types: tenants, retention, accounts, roles, sessions, rooms, invitations,
//! content, audit events and incidents, request metadata.

use super::*;

// ---- Domain -----------------------------------------------------------------------------

#[test]
fn tenants() {
    assert_json_snapshot!("tenant", tenant());
    round_trip(&tenant());
    let settings = TenantSettings {
        default_mode: SessionMode::EndToEnd,
        minimum_mode: SessionMode::Passphrase,
        retention: RetentionPolicy::preset(RetentionPreset::Documentation),
        password_policy: PasswordPolicy {
            max_age_days: Some(180),
            ..PasswordPolicy::default()
        },
        two_factor: TwoFactorPolicy {
            required_for_admins: true,
            required_for_everyone: true,
        },
        allow_history_sharing: true,
        admin_reauth_window: minutes(5),
        allow_message_editing: true,
        require_mode_descriptor: true,
        report_min_count: 10,
    };
    assert_json_snapshot!("tenant_settings", settings);
    round_trip(&settings);
    round_trip(&settings.password_policy);
    round_trip(&settings.two_factor);
}

#[test]
fn reports() {
    let at = |text: &str| Timestamp::parse_rfc3339(text).unwrap();
    let query = ReportQuery {
        from: at("2026-10-01T00:00:00Z"),
        to: at("2026-12-01T00:00:00Z"),
        period: ReportPeriod::Month,
        by: ReportBy::Counsellor,
    };
    let shown = ReportCell {
        period_start: at("2026-10-01T00:00:00Z"),
        key: Some(ReportKey::Counsellor(account_id())),
        sessions: Some(12),
        contacts: Some(9),
        duration_secs: Some(43_200),
        suppressed: false,
    };
    let withheld = ReportCell {
        key: Some(ReportKey::Counsellor(other_account_id())),
        sessions: None,
        contacts: None,
        duration_secs: None,
        suppressed: true,
        ..shown
    };
    let report = Report {
        query,
        min_count: 5,
        cells: vec![shown, withheld],
    };
    assert_json_snapshot!("report", report);
    round_trip(&report);
    // The tenant minimum left out of settings is the default; null is refused.
    let settings = serde_json::to_string(&TenantSettings::default()).unwrap();
    let without = settings.replace(r#","report_min_count":5"#, "");
    assert_ne!(without, settings);
    let back: TenantSettings = serde_json::from_str(&without).unwrap();
    assert_eq!(
        back.report_min_count,
        TenantSettings::REPORT_MIN_COUNT_DEFAULT
    );
    rejects::<TenantSettings>(
        &settings.replace(r#""report_min_count":5"#, r#""report_min_count":null"#),
    );
    let text = serde_json::to_string(&query).unwrap();
    rejects::<ReportQuery>(&text.replace(r#""by":"counsellor""#, r#""by":"client""#));
    rejects::<ReportQuery>(&text.replace(r#""period":"month""#, r#""period":"year""#));
    rejects::<ReportQuery>(&text.replace('}', r#","limit":3}"#));
    for cell in [
        ReportCell { key: None, ..shown },
        ReportCell {
            key: Some(ReportKey::Group(group_id())),
            ..shown
        },
    ] {
        round_trip(&cell);
    }
}

#[test]
fn retention() {
    let presets = [
        RetentionPreset::Standard,
        RetentionPreset::Ephemeral,
        RetentionPreset::Documentation,
    ];
    assert_json_snapshot!("retention_presets", presets);
    let policies: Vec<RetentionPolicy> = presets.into_iter().map(RetentionPolicy::preset).collect();
    assert_json_snapshot!("retention_policies", policies);
    let modes = [ContentRetention::Keep, ContentRetention::DeleteOnClose];
    assert_json_snapshot!("content_retention", modes);
    for p in presets {
        round_trip(&p);
        round_trip(&RetentionPolicy::preset(p));
    }
    for m in modes {
        round_trip(&m);
    }
}

#[test]
fn accounts_and_guests() {
    assert_json_snapshot!("account", account());
    round_trip(&account());
    let pseudonymised = Account {
        email: None,
        display_name: name("Former account"),
        status: AccountStatus::Pseudonymised { at: t(48) },
        valid_from: None,
        ..account()
    };
    assert_json_snapshot!("account_pseudonymised", pseudonymised);
    round_trip(&pseudonymised);
    let statuses = [
        AccountStatus::Active,
        AccountStatus::Locked {
            at: t0(),
            until: Some(t(1)),
        },
        AccountStatus::Locked {
            at: t0(),
            until: None,
        },
        AccountStatus::Deactivated {
            at: t0(),
            pseudonymise_at: t(30 * 24),
        },
        AccountStatus::Pseudonymised { at: t(30 * 24) },
    ];
    assert_json_snapshot!("account_status", statuses);
    for s in statuses {
        round_trip(&s);
    }
    let guest = Guest {
        id: guest_id(),
        tenant: tenant_id(),
        session: session_id(),
        pseudonym: Pseudonym::parse("Mo").unwrap(),
        joined_at: t0(),
        expires_at: t(6),
    };
    assert_json_snapshot!("guest", guest);
    round_trip(&guest);
}

#[test]
fn roles_and_groups() {
    assert_json_snapshot!("builtin_roles", BuiltinRole::ALL);
    for r in BuiltinRole::ALL {
        round_trip(&r);
    }
    let builtin = Role::builtin(tenant_id(), BuiltinRole::Counsellor).unwrap();
    assert_json_snapshot!("role_builtin", builtin);
    round_trip(&builtin);
    let custom = Role {
        id: role_id(),
        tenant: tenant_id(),
        name: name("Supervision"),
        permissions: PermissionSet::of(&[Action::ViewSession, Action::ViewReports]),
        builtin: None,
        revision: 2,
    };
    assert_json_snapshot!("role_custom", custom);
    round_trip(&custom);
    let group = Group {
        id: group_id(),
        tenant: tenant_id(),
        name: name("Team Nord"),
        members: vec![account_id(), other_account_id()],
        revision: 1,
    };
    assert_json_snapshot!("group", group);
    round_trip(&group);
}

#[test]
fn sessions() {
    assert_json_snapshot!("session", session());
    round_trip(&session());
    let closed_room = Session {
        kind: SessionKind::Room(room_id()),
        title: None,
        mode: SessionMode::ServerManaged,
        groups: vec![],
        on_close: ContentRetention::DeleteOnClose,
        key_epoch: 0,
        status: SessionStatus::Closed { at: t(2) },
        ..session()
    };
    assert_json_snapshot!("session_closed_room", closed_room);
    round_trip(&closed_room);
    let kinds = [
        SessionKind::Classic,
        SessionKind::AdHoc,
        SessionKind::Room(room_id()),
    ];
    assert_json_snapshot!("session_kinds", kinds);
    let statuses = [SessionStatus::Open, SessionStatus::Closed { at: t0() }];
    assert_json_snapshot!("session_status", statuses);
    let modes: Vec<_> = SessionMode::ALL
        .into_iter()
        .map(|mode| Session { mode, ..session() })
        .map(|s| serde_json::to_value(s).unwrap()["mode"].clone())
        .collect();
    assert_json_snapshot!("session_modes", modes);
    let roles = [
        ParticipantRole::Host,
        ParticipantRole::Counsellor,
        ParticipantRole::Client,
        ParticipantRole::Guest,
        ParticipantRole::Waiting,
    ];
    assert_json_snapshot!("participant_roles", roles);
    assert_json_snapshot!("participants", participants());
    for k in kinds {
        round_trip(&k);
    }
    for s in statuses {
        round_trip(&s);
    }
    for r in roles {
        round_trip(&r);
    }
    for p in participants() {
        round_trip(&p);
    }
}

#[test]
fn rooms_never_show_their_password() {
    let room = room();
    assert_json_snapshot!("room", room);
    let text = json(&room);
    assert!(
        !text.contains("password") && !text.contains("argon2"),
        "{text}"
    );
    let back: Room = serde_json::from_str(&text).unwrap();
    assert!(back.password.is_empty());
    assert_eq!(
        back,
        Room {
            password: vec![],
            ..room.clone()
        }
    );
    // A room whose meetings keep nothing, in end-to-end mode.
    let nothing = Room {
        mode: SessionMode::EndToEnd,
        content: RoomContent::Nothing,
        ..room
    };
    let value = serde_json::to_value(&nothing).unwrap();
    assert_eq!(value["mode"], "end_to_end");
    assert_eq!(value["content"], "nothing");
    let contents = [RoomContent::Keep, RoomContent::Nothing];
    assert_json_snapshot!("room_contents", contents);
    for c in contents {
        round_trip(&c);
    }
    assert_eq!(RoomContent::default(), RoomContent::Keep);
    rejects::<RoomContent>(r#""delete""#);
    for (good, bad) in [
        (r#""content":"keep""#, r#""content":"Keep""#),
        (r#""content":"keep""#, r#""content":"delete_on_close""#),
        (r#""mode":"session_key""#, r#""mode":"e2e""#),
    ] {
        assert!(text.contains(good), "{text}");
        rejects::<Room>(&text.replace(good, bad));
    }
}

#[test]
fn invitations_never_show_their_secret_hash() {
    let invitation = invitation();
    assert_json_snapshot!("invitation", invitation);
    let text = json(&invitation);
    assert!(!text.contains("secret"), "{text}");
    let back: Invitation = serde_json::from_str(&text).unwrap();
    assert_eq!(back.secret_hash, [0; 32]);
    assert_eq!(
        back,
        Invitation {
            secret_hash: [0; 32],
            ..invitation
        }
    );
    // A contact request's address binding is derived from the secret: never in JSON,
    // and it deserializes as `None`.
    let contact = Invitation {
        kind: InvitationKind::Contact,
        address_binding: Some([0xcd; 32]),
        ..invitation
    };
    assert_json_snapshot!("invitation_contact", contact);
    let text = json(&contact);
    assert!(
        !text.contains("secret") && !text.contains("binding") && !text.contains("cdcd"),
        "{text}"
    );
    let value = serde_json::to_value(&contact).unwrap();
    assert!(value.get("address_binding").is_none(), "{text}");
    let back: Invitation = serde_json::from_str(&text).unwrap();
    assert_eq!(back.address_binding, None);
    assert_eq!(
        back,
        Invitation {
            secret_hash: [0; 32],
            address_binding: None,
            ..contact
        }
    );
    let kinds = [
        InvitationKind::Contact,
        InvitationKind::GuestLink { max_uses: 5 },
    ];
    assert_json_snapshot!("invitation_kinds", kinds);
    let statuses = [
        InvitationStatus::Pending,
        InvitationStatus::Accepted {
            by: other_account_id(),
            at: t(1),
        },
        InvitationStatus::Closed,
    ];
    assert_json_snapshot!("invitation_status", statuses);
    for k in kinds {
        round_trip(&k);
    }
    for s in statuses {
        round_trip(&s);
    }
}

#[test]
fn content() {
    assert_json_snapshot!("content_item", content_item());
    round_trip(&content_item());
    let kinds: Vec<_> = ContentKind::ALL
        .into_iter()
        .map(|kind| ContentItem {
            kind,
            ..content_item()
        })
        .map(|i| serde_json::to_value(i).unwrap()["kind"].clone())
        .collect();
    assert_json_snapshot!("content_kinds", kinds);
    let version = ContentVersion {
        item: item_id(),
        tenant: tenant_id(),
        session: session_id(),
        version: 2,
        author: SubjectId::Guest(guest_id()),
        created_at: t(1),
        key_epoch: 2,
        body: sealed_body(),
    };
    assert_json_snapshot!("content_version", version);
    round_trip(&version);
    assert_json_snapshot!("sealed_body", sealed_body());
    round_trip(&sealed_body());
}

#[test]
fn audit_and_incidents() {
    assert_json_snapshot!("audit_event", audit_event());
    round_trip(&audit_event());
    let unauthorized = AuditEvent {
        actor: AuditActor::System,
        kind: AuditKind::AccountPseudonymised,
        authorized: None,
        changes: vec![Change::new("email", Some("<redacted>"), None::<&str>)],
        security_relevant: false,
        request: RequestMeta::default(),
        ..audit_event()
    };
    assert_json_snapshot!("audit_event_system", unauthorized);
    round_trip(&unauthorized);
    let actors = [
        AuditActor::Subject(SubjectId::Guest(guest_id())),
        AuditActor::Operator,
        AuditActor::System,
    ];
    assert_json_snapshot!("audit_actors", actors);
    let objects = [
        AuditObject::Tenant(tenant_id()),
        AuditObject::Account(account_id()),
        AuditObject::Guest(guest_id()),
        AuditObject::Role(role_id()),
        AuditObject::Group(group_id()),
        AuditObject::Session(session_id()),
        AuditObject::Invitation(invitation_id()),
        AuditObject::Item(item_id()),
        AuditObject::Room(room_id()),
        AuditObject::Incident(incident_id()),
    ];
    assert_json_snapshot!("audit_objects", objects);
    let kinds = [
        AuditKind::TenantCreated,
        AuditKind::TenantSettingsChanged,
        AuditKind::AccountCreated,
        AuditKind::AccountUpdated,
        AuditKind::AccountDeactivated,
        AuditKind::AccountReactivated,
        AuditKind::AccountPseudonymised,
        AuditKind::AccountDeleted,
        AuditKind::RoleGranted,
        AuditKind::RoleRevoked,
        AuditKind::RoleCreated,
        AuditKind::RolePermissionsChanged,
        AuditKind::GroupCreated,
        AuditKind::GroupMembersChanged,
        AuditKind::SessionCreated,
        AuditKind::SessionClosed,
        AuditKind::ParticipantJoined,
        AuditKind::ParticipantRemoved,
        AuditKind::InvitationSent,
        AuditKind::InvitationAccepted,
        AuditKind::InvitationWithdrawn,
        AuditKind::GuestJoined,
        AuditKind::RoomCreated,
        AuditKind::RoomPasswordChanged,
        AuditKind::RoomEntered,
        AuditKind::MeetingStarted,
        AuditKind::ContentPosted,
        AuditKind::ContentEdited,
        AuditKind::ContentDeleted,
        AuditKind::SessionKeysChanged,
        AuditKind::HistoryShared,
        AuditKind::AccessDenied,
        AuditKind::IncidentRecorded,
        AuditKind::LoginSucceeded,
        AuditKind::LoginFailed,
        AuditKind::CredentialChanged,
        AuditKind::AccountLocked,
        AuditKind::SessionContentExpired,
        AuditKind::SessionExpired,
        AuditKind::GuestDeleted,
        AuditKind::ReportViewed,
    ];
    assert_json_snapshot!("audit_kinds", &kinds[..]);
    for a in actors {
        round_trip(&a);
    }
    for o in objects {
        round_trip(&o);
    }
    for k in kinds {
        round_trip(&k);
    }
    round_trip(&audit_event().changes[0]);

    let incident = Incident {
        id: incident_id(),
        tenant: tenant_id(),
        at: t0(),
        actor: Some(SubjectId::Account(account_id())),
        kind: IncidentKind::CrossTenantAccess {
            actor_tenant: other_tenant_id(),
            action: Action::ReadContent,
        },
    };
    assert_json_snapshot!("incident", incident);
    round_trip(&incident);
    let anonymous = Incident {
        actor: None,
        kind: IncidentKind::RepeatedWrongSecret {
            attempts: 12,
            object: AuditObject::Room(room_id()),
            source: Some("192.0.2.10".to_owned()),
        },
        ..incident
    };
    assert_json_snapshot!("incident_wrong_secret", anonymous);
    round_trip(&anonymous);
    let per_object = Incident {
        kind: IncidentKind::RepeatedWrongSecret {
            attempts: 20,
            object: AuditObject::Invitation(invitation_id()),
            source: None,
        },
        ..anonymous
    };
    assert_json_snapshot!("incident_wrong_secret_per_object", per_object);
    round_trip(&per_object);
    let mismatch = Incident {
        kind: IncidentKind::ExternalIdentityMismatch {
            account: account_id(),
            issuer: "https://idp.example/realms/nord".to_owned(),
        },
        ..per_object
    };
    assert_json_snapshot!("incident_external_identity_mismatch", mismatch);
    round_trip(&mismatch);
    rejects::<IncidentKind>(r#"{"type":"repeated_wrong_secret","attempts":12}"#);
}

#[test]
fn request_metadata() {
    let metas = [
        RequestMeta::default(),
        request_meta(),
        RequestMeta {
            id: Some(RequestId::parse("0192a3b4-c5d6-7e8f-9012-3456789abcde").unwrap()),
            client: Some(client_v6()),
        },
    ];
    assert_json_snapshot!("request_meta", metas);
    for m in metas {
        round_trip(&m);
    }
    round_trip(&request_id());
    let longest = "a".repeat(RequestId::MAX_LEN);
    assert_eq!(RequestId::parse(&longest).unwrap().as_str(), longest);
    round_trip(&RequestId::parse(&longest).unwrap());
    let too_long = "a".repeat(RequestId::MAX_LEN + 1);
    for bad in ["", too_long.as_str(), "a b", "ä", "req/1", "req\n1"] {
        assert!(RequestId::parse(bad).is_err(), "{bad:?}");
        rejects::<RequestId>(&serde_json::to_string(bad).unwrap());
    }
    rejects::<RequestId>("42");
    rejects::<RequestMeta>(r#"{"id":null,"client":"192.0.2.300"}"#);
    rejects::<RequestMeta>(r#"{"id":null,"client":"localhost"}"#);
    rejects::<RequestMeta>(r#"{"id":"","client":null}"#);
}
