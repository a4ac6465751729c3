#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The JSON a frontend sees, pinned: one fixed example of every public serializable
//! type, its JSON in `tests/json_snapshots/snapshots/` (what `docs/JSON.md` quotes), a round trip for
//! every type that deserializes, and the inputs that must be rejected.
//!
//! A changed snapshot is a changed wire format: review it with the frontend teams. New
//! snapshots are written only when asked (`INSTA_UPDATE=always cargo test -p cai-core
//! --test json_snapshots`, or `cargo insta review`); under `CI=true` a missing or
//! different snapshot fails.

mod authz_ports;
mod domain;
mod rejected;
mod service;

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::net::IpAddr;
use std::time::Duration;

use cai_core::authz::{Action, Authentication, Decision, DenyReason, PermissionSet, Rule};
use cai_core::domain::{
    Account, AccountStatus, AuditActor, AuditEvent, AuditKind, AuditObject, BuiltinRole, Change,
    ContentItem, ContentKind, ContentRetention, ContentVersion, Email, Group, Guest, Incident,
    IncidentKind, Invitation, InvitationKind, InvitationSecret, InvitationStatus, Name,
    Participant, ParticipantRole, PasswordPolicy, Pseudonym, Region, Report, ReportBy, ReportCell,
    ReportKey, ReportPeriod, ReportQuery, RequestId, RequestMeta, RetentionPolicy, RetentionPreset,
    Role, Room, RoomContent, SealedBody, Session, SessionKind, SessionMode, SessionStatus, Tenant,
    TenantSettings, TwoFactorPolicy,
};
use cai_core::id::{
    AccountId, EventId, GroupId, GuestId, IncidentId, InvitationId, ItemId, RoleId, RoomId,
    SessionId, SubjectId, TenantId,
};
use cai_core::ports::{Notification, SessionEvent};
use cai_core::service::{
    AccountChanges, AuditRecord, ContentBody, ContentView, CreatedSession, Cursor, E2eCommit,
    E2eEpochView, InvitationTemplate, InvitationTemplates, InviteTo, Invited, NewAccount, NewRoom,
    NewSession, NewTenant, PageRequest, Paged, SessionDetails, SessionKeyMaterial, Target,
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
        last_active: Some(t0()),
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
        mode_descriptor: None,
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
        blob: None,
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
