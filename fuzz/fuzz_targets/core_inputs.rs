//! Feeds arbitrary text and bytes to every `cai-core` parser of untrusted input: typed
//! ids, invitation secrets, names, e-mail addresses, pseudonyms, regions, sealed bodies
//! and JSON permission sets. None may panic; whatever parses must print back to the
//! same text.
#![no_main]

use cai_core::authz::PermissionSet;
use cai_core::domain::{Email, InvitationSecret, Name, Pseudonym, Region, SealedBody};
use cai_core::id::{AccountId, SessionId};
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
        assert_eq!(v.as_str(), text);
    }
    if let Ok(v) = Pseudonym::parse(text) {
        assert_eq!(v.as_str(), text);
    }
    if let Ok(v) = Region::parse(text) {
        assert_eq!(v.as_str(), text);
    }
    if let Ok(set) = serde_json::from_str::<PermissionSet>(text) {
        let again = serde_json::to_string(&set).unwrap_or_default();
        assert_eq!(serde_json::from_str::<PermissionSet>(&again).ok(), Some(set));
    }
});
