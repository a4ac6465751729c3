//! What must be rejected: bad timestamps, unknown enum names, wrong id prefixes, bad
//! bytes, bad durations and unknown request fields.

use super::*;

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
    // The bare form of earlier releases: the call key's fields are required.
    rejects::<SessionKeyMaterial>(r#"{"type":"server_sealed"}"#);
    // A call key is 32 bytes; the content key's field name is not the call key's.
    rejects::<SessionKeyMaterial>(
        r#"{"type":"server_sealed","key_id":"0123456789abcdef0123456789abcdef","epoch":0,"call_key":"aGk="}"#,
    );
    rejects::<SessionKeyMaterial>(
        r#"{"type":"server_sealed","key_id":"0123456789abcdef0123456789abcdef","epoch":0,"key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}"#,
    );
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
