#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The JSON a frontend sees, pinned: one fixed example of every public serializable
//! type, its JSON in `tests/snapshots/` (what `docs/JSON.md` quotes), a round trip for
//! every type that deserializes, and the inputs that must be rejected.
//!
//! A changed snapshot is a changed wire format: review it with the frontend teams. New
//! snapshots are written only when asked (`INSTA_UPDATE=always cargo test -p cai-core
//! --test json_snapshots`, or `cargo insta review`); under `CI=true` a missing or
//! different snapshot fails.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::net::IpAddr;
use std::time::Duration;

use cai_core::authz::{Action, Authentication, Decision, DenyReason, PermissionSet, Rule};
use cai_core::domain::{
    Account, AccountStatus, AuditActor, AuditEvent, AuditKind, AuditObject, BuiltinRole, Change,
    ContentItem, ContentKind, ContentRetention, ContentVersion, Email, Group, Guest, Incident,
    IncidentKind, Invitation, InvitationKind, InvitationSecret, InvitationStatus, Name,
    Participant, ParticipantRole, PasswordPolicy, Pseudonym, Region, RequestId, RequestMeta,
    RetentionPolicy, RetentionPreset, Role, Room, RoomContent, SealedBody, Session, SessionKind,
    SessionMode, SessionStatus, Tenant, TenantSettings, TwoFactorPolicy,
};
use cai_core::id::{
    AccountId, EventId, GroupId, GuestId, IncidentId, InvitationId, ItemId, RoleId, RoomId,
    SessionId, SubjectId, TenantId,
};
use cai_core::ports::{Notification, SessionEvent};
use cai_core::service::{
    AccountChanges, AuditRecord, ContentBody, ContentView, CreatedSession, Cursor,
    InvitationTemplate, InvitationTemplates, InviteTo, Invited, NewAccount, NewRoom, NewSession,
    NewTenant, PageRequest, Paged, SessionDetails, SessionKeyMaterial, Target,
};
use cai_core::{Caller, Error, ErrorBody, ErrorCategory, Timestamp, days, minutes};
use cai_crypto::{DataKey, KeyEpoch, KeyId, SecretBytes};
use insta::assert_json_snapshot;
use serde::Serialize;
use serde::de::DeserializeOwned;

// ---- Fixed values -------------------------------------------------------------------

fn tenant_id() -> TenantId {
    TenantId::parse("ten_0123456789abcdef0123456789abcdef").unwrap()
}
fn other_tenant_id() -> TenantId {
    TenantId::parse("ten_fedcba9876543210fedcba9876543210").unwrap()
}
fn account_id() -> AccountId {
    AccountId::parse("acc_11111111111111111111111111111111").unwrap()
}
fn other_account_id() -> AccountId {
    AccountId::parse("acc_22222222222222222222222222222222").unwrap()
}
fn guest_id() -> GuestId {
    GuestId::parse("gst_33333333333333333333333333333333").unwrap()
}
fn role_id() -> RoleId {
    RoleId::parse("rol_44444444444444444444444444444444").unwrap()
}
fn group_id() -> GroupId {
    GroupId::parse("grp_55555555555555555555555555555555").unwrap()
}
fn session_id() -> SessionId {
    SessionId::parse("ses_66666666666666666666666666666666").unwrap()
}
fn invitation_id() -> InvitationId {
    InvitationId::parse("inv_77777777777777777777777777777777").unwrap()
}
fn item_id() -> ItemId {
    ItemId::parse("itm_88888888888888888888888888888888").unwrap()
}
fn room_id() -> RoomId {
    RoomId::parse("rom_99999999999999999999999999999999").unwrap()
}
fn event_id() -> EventId {
    EventId::parse("evt_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa").unwrap()
}
fn incident_id() -> IncidentId {
    IncidentId::parse("inc_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb").unwrap()
}

/// 2026-12-01T21:56:02.123Z
fn t0() -> Timestamp {
    Timestamp::from_unix_millis(1_796_162_162_123)
}
/// t0 plus `n` hours.
fn t(hours: u64) -> Timestamp {
    t0().plus(Duration::from_secs(hours * 3600))
}

fn name(s: &str) -> Name {
    Name::parse(s).unwrap()
}
fn email() -> Email {
    Email::parse("cora@nord.example").unwrap()
}

/// A well-formed envelope (fixed header, six ciphertext bytes, a zero tag): what
/// `SealedBody::new` accepts; no key opens it.
fn sealed_body() -> SealedBody {
    use cai_crypto::envelope::{MAGIC, OVERHEAD, SUITE_AES256GCM_HKDF_SHA256, VERSION};
    let mut bytes = MAGIC.to_vec();
    bytes.push(VERSION);
    bytes.push(SUITE_AES256GCM_HKDF_SHA256);
    bytes.extend_from_slice(&[0x42; 16]); // key id
    bytes.extend_from_slice(&0u32.to_be_bytes()); // epoch
    bytes.resize(OVERHEAD - 16, 0x07); // salt, commitment, nonce
    bytes.extend_from_slice(b"cipher");
    bytes.resize(bytes.len() + 16, 0); // tag
    SealedBody::new(bytes).unwrap()
}

fn tenant() -> Tenant {
    Tenant {
        id: tenant_id(),
        name: name("Beratungsstelle Nord"),
        region: Region::parse("DE").unwrap(),
        settings: TenantSettings::default(),
        created_at: t0(),
        revision: 3,
    }
}

fn account() -> Account {
    Account {
        id: account_id(),
        tenant: tenant_id(),
        email: Some(email()),
        display_name: name("Cora"),
        roles: vec![BuiltinRole::Counsellor.id()],
        status: AccountStatus::Active,
        valid_from: Some(t0()),
        valid_until: None,
        created_at: t0(),
        revision: 1,
    }
}

fn session() -> Session {
    Session {
        id: session_id(),
        tenant: tenant_id(),
        kind: SessionKind::Classic,
        title: Some(name("Erstgespräch")),
        mode: SessionMode::EndToEnd,
        owner: account_id(),
        groups: vec![group_id()],
        on_close: ContentRetention::Keep,
        key_epoch: 2,
        created_at: t0(),
        last_activity: t(1),
        status: SessionStatus::Open,
        revision: 4,
    }
}

fn participants() -> Vec<Participant> {
    vec![
        Participant {
            session: session_id(),
            tenant: tenant_id(),
            subject: SubjectId::Account(account_id()),
            role: ParticipantRole::Host,
            joined_at: t0(),
        },
        Participant {
            session: session_id(),
            tenant: tenant_id(),
            subject: SubjectId::Guest(guest_id()),
            role: ParticipantRole::Guest,
            joined_at: t(1),
        },
    ]
}

fn content_item() -> ContentItem {
    ContentItem {
        id: item_id(),
        tenant: tenant_id(),
        session: session_id(),
        kind: ContentKind::Document,
        author: SubjectId::Account(account_id()),
        created_at: t0(),
        latest_version: 2,
    }
}

fn room() -> Room {
    Room {
        id: room_id(),
        tenant: tenant_id(),
        owner: account_id(),
        name: name("Coras Raum"),
        session: session_id(),
        mode: SessionMode::SessionKey,
        content: RoomContent::Keep,
        password: b"$argon2id$v=19$m=19456,t=2,p=1$verifier".to_vec(),
        revision: 0,
    }
}

fn invitation() -> Invitation {
    Invitation {
        id: invitation_id(),
        tenant: tenant_id(),
        session: session_id(),
        kind: InvitationKind::GuestLink { max_uses: 5 },
        secret_hash: [0xab; 32],
        address_binding: None,
        created_by: account_id(),
        created_at: t0(),
        expires_at: t(7 * 24),
        uses: 1,
        status: InvitationStatus::Pending,
        revision: 1,
    }
}

fn invitation_secret() -> InvitationSecret {
    InvitationSecret::parse(&format!("{}.{}", invitation_id(), "0f".repeat(32))).unwrap()
}

fn request_id() -> RequestId {
    RequestId::parse("req-0192a3b4.c5:d6_e7").unwrap()
}
fn client_v4() -> IpAddr {
    "192.0.2.10".parse().unwrap()
}
fn client_v6() -> IpAddr {
    "2001:db8::17".parse().unwrap()
}
fn request_meta() -> RequestMeta {
    RequestMeta {
        id: Some(request_id()),
        client: Some(client_v4()),
    }
}

fn audit_event() -> AuditEvent {
    AuditEvent {
        id: event_id(),
        tenant: tenant_id(),
        at: t0(),
        actor: AuditActor::Subject(SubjectId::Account(other_account_id())),
        kind: AuditKind::RoleGranted,
        object: AuditObject::Account(account_id()),
        changes: vec![Change::new(
            "roles",
            Some("rol_00000000000000000000000000000003"),
            Some("rol_00000000000000000000000000000002,rol_00000000000000000000000000000003"),
        )],
        authorized: Some((
            Action::AssignRoles,
            "allowed assign_roles: administrative permission with second factor and recent login, role rol_00000000000000000000000000000001".to_owned(),
        )),
        security_relevant: true,
        request: request_meta(),
    }
}

fn authentication() -> Authentication {
    Authentication {
        second_factor: true,
        at: t0(),
    }
}

fn data_key() -> DataKey {
    DataKey::from_parts(
        KeyId::from_bytes([0x5a; 16]),
        KeyEpoch(0),
        SecretBytes::from_bytes(*b"0123456789abcdef0123456789abcdef"),
    )
}

// ---- Helpers --------------------------------------------------------------------------

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap()
}

/// serialize → deserialize → equal, and the JSON is stable across the trip.
fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T) {
    let text = json(value);
    let back: T = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
    assert_eq!(&back, value, "{text}");
    assert_eq!(json(&back), text);
}

/// For types without `PartialEq`: the JSON survives a trip through the type.
fn json_round_trip<T: Serialize + DeserializeOwned>(value: &T) {
    let text = json(value);
    let back: T = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
    assert_eq!(json(&back), text);
}

fn rejects<T: DeserializeOwned + Debug>(text: &str) {
    let result = serde_json::from_str::<T>(text);
    assert!(
        result.is_err(),
        "{text} was accepted as {}: {result:?}",
        std::any::type_name::<T>()
    );
}

// ---- Ids, time, text ---------------------------------------------------------------------

#[test]
fn ids() {
    let ids = serde_json::json!({
        "tenant": tenant_id(),
        "account": account_id(),
        "guest": guest_id(),
        "role": role_id(),
        "builtin_role": BuiltinRole::TenantAdmin.id(),
        "group": group_id(),
        "session": session_id(),
        "invitation": invitation_id(),
        "item": item_id(),
        "room": room_id(),
        "event": event_id(),
        "incident": incident_id(),
        "subject_account": SubjectId::Account(account_id()),
        "subject_guest": SubjectId::Guest(guest_id()),
    });
    assert_json_snapshot!("ids", ids);
    round_trip(&tenant_id());
    round_trip(&account_id());
    round_trip(&guest_id());
    round_trip(&role_id());
    round_trip(&group_id());
    round_trip(&session_id());
    round_trip(&invitation_id());
    round_trip(&item_id());
    round_trip(&room_id());
    round_trip(&event_id());
    round_trip(&incident_id());
    round_trip(&SubjectId::Account(account_id()));
    round_trip(&SubjectId::Guest(guest_id()));
}

#[test]
fn timestamps() {
    let times = [
        t0(),
        Timestamp::EPOCH,
        Timestamp::from_unix_millis(-1),
        Timestamp::MIN_RFC3339,
        Timestamp::MAX_RFC3339,
    ];
    assert_json_snapshot!("timestamps", times);
    for time in times {
        round_trip(&time);
    }
    let with_offset: Timestamp =
        serde_json::from_str(r#""2026-12-01T22:56:02.123456+01:00""#).unwrap();
    assert_eq!(with_offset, t0());
}

#[test]
fn validated_text() {
    let text = serde_json::json!({
        "name": name("Beratungsstelle Süd"),
        "email": email(),
        "pseudonym": Pseudonym::parse("Anna K.").unwrap(),
        "region": Region::parse("on-prem-berlin").unwrap(),
        "invitation_secret": invitation_secret(),
    });
    assert_json_snapshot!("validated_text", text);
    round_trip(&name("Beratungsstelle Süd"));
    round_trip(&email());
    round_trip(&Pseudonym::parse("Anna K.").unwrap());
    round_trip(&Region::parse("on-prem-berlin").unwrap());
    let secret: InvitationSecret = serde_json::from_str(&json(&invitation_secret())).unwrap();
    assert_eq!(secret.hash(), invitation_secret().hash());
}

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
    };
    assert_json_snapshot!("tenant_settings", settings);
    round_trip(&settings);
    round_trip(&settings.password_policy);
    round_trip(&settings.two_factor);
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

// ---- Authorization ---------------------------------------------------------------------

#[test]
fn actions_and_permissions() {
    assert_json_snapshot!("actions", Action::ALL);
    for a in Action::ALL {
        round_trip(a);
    }
    let set = BuiltinRole::Client.default_permissions();
    assert_json_snapshot!("permission_set", set);
    round_trip(&set);
    round_trip(&PermissionSet::EMPTY);
}

#[test]
fn decisions() {
    let allow = Decision::Allow {
        action: Action::ReadContent,
        rule: Rule::Participant(ParticipantRole::Host),
        role: BuiltinRole::Counsellor.id(),
    };
    let deny = Decision::Deny {
        action: Action::ReadContent,
        reason: DenyReason::TenantMismatch {
            principal: other_tenant_id(),
            resource: tenant_id(),
        },
    };
    assert_json_snapshot!("decision_allow", allow);
    assert_json_snapshot!("decision_deny", deny);
    round_trip(&allow);
    round_trip(&deny);
    let rules = [
        Rule::TenantPermission,
        Rule::Administration,
        Rule::OwnAccount,
        Rule::Participant(ParticipantRole::Client),
        Rule::Team(group_id()),
        Rule::ItemAuthor,
        Rule::RoomOwner,
        Rule::RoomEntry,
    ];
    assert_json_snapshot!("rules", rules);
    let reasons = [
        DenyReason::TenantMismatch {
            principal: other_tenant_id(),
            resource: tenant_id(),
        },
        DenyReason::NoPermission,
        DenyReason::NotApplicable,
        DenyReason::NoRelation,
        DenyReason::SecondFactorRequired,
        DenyReason::ReauthenticationRequired,
        DenyReason::GuestOutOfScope,
        DenyReason::NotOwnAccount,
        DenyReason::FourEyes,
        DenyReason::NotAuthor,
        DenyReason::SessionClosed,
        DenyReason::NotRoomOwner,
    ];
    assert_json_snapshot!("deny_reasons", reasons);
    for r in rules {
        round_trip(&r);
    }
    for r in reasons {
        round_trip(&r);
    }
}

#[test]
fn callers_are_serialized_only() {
    assert_json_snapshot!("authentication", authentication());
    let caller = Caller::new(
        tenant_id(),
        SubjectId::Account(account_id()),
        authentication(),
    );
    assert_eq!(caller.request, RequestMeta::default());
    assert_json_snapshot!("caller", caller);
    let with_request = caller.with_request(RequestMeta {
        id: Some(request_id()),
        client: Some(client_v6()),
    });
    assert_json_snapshot!("caller_with_request", with_request);
}

// ---- Ports ------------------------------------------------------------------------------

#[test]
fn notifications_and_events() {
    let notification = Notification {
        event: event_id(),
        tenant: tenant_id(),
        at: t0(),
        actor: AuditActor::Subject(SubjectId::Account(other_account_id())),
        kind: AuditKind::RoleGranted,
        object: AuditObject::Account(account_id()),
        recipients: vec![other_account_id()],
    };
    assert_json_snapshot!("notification", notification);
    round_trip(&notification);
    let events = [
        SessionEvent::ParticipantJoined(SubjectId::Guest(guest_id())),
        SessionEvent::ParticipantWaiting(SubjectId::Account(other_account_id())),
        SessionEvent::ParticipantRemoved(SubjectId::Account(other_account_id())),
        SessionEvent::ContentPosted {
            item: item_id(),
            version: 1,
        },
        SessionEvent::KeysChanged { epoch: 3 },
        SessionEvent::Closed,
    ];
    assert_json_snapshot!("session_events", events);
    for e in &events {
        round_trip(e);
    }
}

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
        SessionKeyMaterial::ServerSealed,
        SessionKeyMaterial::SessionKey(data_key()),
        SessionKeyMaterial::Passphrase(b"custody: params and verifier".to_vec()),
        SessionKeyMaterial::EndToEnd {
            epochs: vec![b"epoch 0 bundle".to_vec(), b"epoch 1 bundle".to_vec()],
            history_grant: Some(b"history grant".to_vec()),
        },
        SessionKeyMaterial::EndToEnd {
            epochs: vec![b"epoch 0 bundle".to_vec()],
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

// ---- What must be rejected ----------------------------------------------------------

#[test]
fn bad_timestamps_are_rejected() {
    for bad in [
        r#""""#,
        r#""yesterday""#,
        r#""2026-12-01""#,
        r#""2026-12-01T21:56:02""#,
        r#""2026-02-30T21:56:02Z""#,
        r#""2026-12-01T21:56:60.5Z""#,
        r#""10000-01-01T00:00:00Z""#,
        r#""9999-12-31T23:59:59-00:01""#,
        "1796162162123",
        "null",
    ] {
        rejects::<Timestamp>(bad);
    }
    for bad in [
        Timestamp::from_unix_millis(i64::MAX),
        Timestamp::from_unix_millis(i64::MIN),
    ] {
        assert!(serde_json::to_string(&bad).is_err());
    }
}

#[test]
fn unknown_enum_names_are_rejected() {
    rejects::<BuiltinRole>(r#""admin""#);
    rejects::<BuiltinRole>(r#""TenantAdmin""#);
    rejects::<ParticipantRole>(r#""owner""#);
    rejects::<AuditKind>(r#""role_grant""#);
    rejects::<RetentionPreset>(r#""Standard""#);
    rejects::<ContentRetention>(r#""delete""#);
    rejects::<Action>(r#""read_everything""#);
    rejects::<PermissionSet>(r#"["read_content","read_everything"]"#);
    rejects::<SessionStatus>(r#"{"type":"archived"}"#);
    rejects::<SessionStatus>(r#""open""#);
    rejects::<SessionKind>(r#"{"type":"room"}"#);
    rejects::<AccountStatus>(r#"{"type":"frozen"}"#);
    rejects::<AuditActor>(r#"{"type":"subject"}"#);
    rejects::<Target>(r#"{"type":"item","item":"itm_88888888888888888888888888888888"}"#);
    rejects::<InviteTo>(r#"{"type":"sms","phone":"123"}"#);
    rejects::<ContentBody>(r#"{"type":"encrypted","data":""}"#);
    rejects::<SessionKeyMaterial>(r#"{"type":"none"}"#);
    // Modes and kinds by name only; the old one-byte codes are gone.
    let session = json(&session());
    for bad_mode in [r#""e2e""#, "3", r#""EndToEnd""#] {
        rejects::<Session>(&session.replace(r#""end_to_end""#, bad_mode));
    }
    let item = json(&content_item());
    for bad_kind in [r#""doc""#, "4"] {
        rejects::<ContentItem>(&item.replace(r#""document""#, bad_kind));
    }
}

#[test]
fn wrong_id_prefixes_are_rejected() {
    rejects::<SessionId>(r#""acc_11111111111111111111111111111111""#);
    rejects::<AccountId>(r#""ACC_11111111111111111111111111111111""#);
    rejects::<AccountId>(r#""acc_1111111111111111111111111111111""#);
    rejects::<SubjectId>(r#""ses_66666666666666666666666666666666""#);
    rejects::<SubjectId>(r#""11111111111111111111111111111111""#);
    rejects::<Target>(r#"{"type":"session","session":"rom_99999999999999999999999999999999"}"#);
}

#[test]
fn bad_bytes_are_rejected() {
    let good = json(&sealed_body());
    serde_json::from_str::<SealedBody>(&good).unwrap();
    let unpadded = good.trim_end_matches("=\"").to_owned() + "\"";
    assert_ne!(unpadded, good, "the fixture's base64 ends in padding");
    for bad in [
        r#""not base64!""#.to_owned(),
        unpadded,
        format!("\" {}", &good[1..]),
        // Valid base64 of bytes that are no envelope: plaintext cannot sneak in.
        format!("\"{}\"", "aGVsbG8gd29ybGQ="),
    ] {
        rejects::<SealedBody>(&bad);
    }
    // The standard alphabet only, not the URL-safe one.
    serde_json::from_str::<ContentBody>(r#"{"type":"plain","data":"+/8="}"#).unwrap();
    rejects::<ContentBody>(r#"{"type":"plain","data":"-_8="}"#);
    rejects::<ContentBody>(r#"{"type":"plain","data":"@@@@"}"#);
    rejects::<ContentBody>(r#"{"type":"plain","data":"aGk"}"#);
    rejects::<ContentBody>(r#"{"type":"sealed","data":"aGVsbG8gd29ybGQ="}"#);
    rejects::<NewSession>(r#"{"kind":{"type":"classic"},"groups":[],"passphrase_custody":"%%"}"#);
    rejects::<SessionKeyMaterial>(r#"{"type":"passphrase","custody":"%%%"}"#);
    // A session key must be 32 bytes with a 32-digit lowercase hex id.
    let key = json(&SessionKeyMaterial::SessionKey(data_key()));
    let short_key = key.replace(
        "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        "MDEyMzQ1Njc4OWFiY2RlZg==",
    );
    assert_ne!(short_key, key);
    rejects::<SessionKeyMaterial>(&short_key);
    rejects::<SessionKeyMaterial>(&key.replace("5a5a5a5a", "5A5A5A5A"));
}

#[test]
fn bad_durations_and_unknown_request_fields_are_rejected() {
    let settings = json(&TenantSettings::default());
    serde_json::from_str::<TenantSettings>(&settings).unwrap();
    for (good, bad) in [
        (
            r#""admin_reauth_window_secs":900"#,
            r#""admin_reauth_window_secs":-1"#,
        ),
        (
            r#""admin_reauth_window_secs":900"#,
            r#""admin_reauth_window_secs":1.5"#,
        ),
        (
            r#""admin_reauth_window_secs":900"#,
            r#""admin_reauth_window_secs":9007199254740992"#,
        ),
        (
            r#""admin_reauth_window_secs":900"#,
            r#""admin_reauth_window":900"#,
        ),
        (r#""ip_logs_secs":1209600"#, r#""ip_logs_secs":"14d""#),
    ] {
        assert!(settings.contains(good), "{settings}");
        rejects::<TenantSettings>(&settings.replace(good, bad));
    }
    // A duration with a fraction of a second has no JSON form.
    let sub_second = TenantSettings {
        admin_reauth_window: Duration::from_millis(1500),
        ..TenantSettings::default()
    };
    assert!(serde_json::to_string(&sub_second).is_err());
    let huge = RetentionPolicy {
        audit_trail: days(u64::MAX / 86_400),
        ..RetentionPolicy::default()
    };
    assert!(serde_json::to_string(&huge).is_err());
    // A misspelt field in a request is an error, not a silently ignored change.
    rejects::<AccountChanges>(r#"{"valid_untill":null}"#);
    rejects::<Target>(r#"{"type":"tenant","tenant":"ten_0123456789abcdef0123456789abcdef"}"#);
    rejects::<InviteTo>(r#"{"type":"guest_link","max_uses":2,"email":"a@b.de"}"#);
    rejects::<ContentBody>(r#"{"type":"plain","data":"aGk=","kind":"note"}"#);
    rejects::<SessionKeyMaterial>(r#"{"type":"server_sealed","key":"aGk="}"#);
    rejects::<InviteTo>(
        r#"{"type":"contact","email":"cora@nord.example","language":"de","name":"Cora"}"#,
    );
    rejects::<RetentionPolicy>(
        &json(&RetentionPolicy::default()).replace(r#""on_close""#, r#""files":1,"on_close""#),
    );
    rejects::<NewSession>(r#"{"kind":{"type":"classic"},"groups":[],"modus":"end_to_end"}"#);
    rejects::<NewAccount>(
        r#"{"email":"cora@nord.example","display_name":"Cora","valid_from":null,"valid_until":null,"admin":true}"#,
    );
    // Validated text stays validated.
    rejects::<NewAccount>(
        r#"{"email":"not an address","display_name":"Cora","valid_from":null,"valid_until":null}"#,
    );
    rejects::<Name>(r#""""#);
    rejects::<Pseudonym>(r#""<script>""#);
    rejects::<InvitationSecret>(r#""inv_77777777777777777777777777777777.00""#);
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
