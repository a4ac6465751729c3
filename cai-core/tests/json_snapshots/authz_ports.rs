//! Authorization (actions, decisions, callers) and the port types clients see
//! (notifications, live session events).

use super::*;

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
