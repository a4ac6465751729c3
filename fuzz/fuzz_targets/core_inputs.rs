//! Feeds arbitrary text and bytes to every `cai-core` parser of untrusted input: typed
//! ids, invitation secrets, names, e-mail addresses, pseudonyms, regions, sealed bodies,
//! request ids, paging cursors, JSON permission sets and the JSON request types a
//! frontend sends (new sessions, rooms, invitations, page requests, invitation
//! templates). None may panic; whatever parses must print back to the same text.
#![no_main]

use cai_core::authz::PermissionSet;
use cai_core::domain::{
    Email, InvitationSecret, Name, Pseudonym, Region, RequestId, SealedBody, TenantSettings,
};
use cai_core::id::{AccountId, SessionId, SubjectId};
use cai_core::service::{
    Cursor, InvitationTemplate, InviteTo, NewRoom, NewSession, PageRequest,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = SealedBody::new(data.to_vec());
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(id) = SessionId::parse(text) {
        assert_eq!(id.to_string(), text);
    }
    if let Ok(id) = AccountId::parse(text) {
        assert_eq!(id.to_string(), text);
    }
    if let Ok(secret) = InvitationSecret::parse(text) {
        assert_eq!(secret.expose().as_str(), text);
    }
    if let Ok(v) = Name::parse(text) {
        assert_eq!(v.as_str(), text);
    }
    if let Ok(v) = Email::parse(text) {
        // Addresses are kept lowercase; parsing is idempotent.
        assert_eq!(v.as_str(), text.to_ascii_lowercase());
        assert_eq!(Email::parse(v.as_str()).ok(), Some(v));
    }
    if let Ok(v) = Pseudonym::parse(text) {
        assert_eq!(v.as_str(), text);
    }
    if let Ok(v) = Region::parse(text) {
        assert_eq!(v.as_str(), text);
    }
    if let Ok(v) = RequestId::parse(text) {
        assert_eq!(v.as_str(), text);
    }
    if let Ok(v) = Cursor::parse(text) {
        assert_eq!(v.as_str(), text);
    }
    if let Ok(v) = SubjectId::parse(text) {
        assert_eq!(v.to_string(), text);
    }
    let _ = serde_json::from_str::<NewSession>(text);
    let _ = serde_json::from_str::<NewRoom>(text);
    let _ = serde_json::from_str::<InviteTo>(text);
    let _ = serde_json::from_str::<PageRequest>(text);
    let _ = serde_json::from_str::<InvitationTemplate>(text);
    let _ = serde_json::from_str::<TenantSettings>(text);
    if let Ok(set) = serde_json::from_str::<PermissionSet>(text) {
        let again = serde_json::to_string(&set).unwrap_or_default();
        assert_eq!(serde_json::from_str::<PermissionSet>(&again).ok(), Some(set));
    }
});
