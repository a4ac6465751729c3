//! The wire format (issue 12, `docs/SIGNALING.md`): every example of the document parses
//! and prints back to itself; every limit holds exactly at its value and refuses one
//! past it with `too_large` naming the field; the order of checks decides which error a
//! message with several faults gets.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cai_rtc::signaling::{ClientBody, JoinAuth, ServerMessage, SignalingError, limits, parse};
use serde_json::json;

const SECRET: &str = "inv_0196f3c4a1b27c3d8e9f0a1b2c3d4e5f.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn b64(n: usize) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(vec![0x5a; n])
}

fn too_large(field: &'static str, limit: usize) -> SignalingError {
    SignalingError::TooLarge { field, limit }
}

/// The client examples of docs/SIGNALING.md, verbatim.
const CLIENT_EXAMPLES: &[&str] = &[
    r#"{"v":1,"id":1,"type":"join","auth":{"kind":"token","token":"cat_…","session":"ses_0196f3c4a1b27c3d8e9f0a1b2c3d4e5f"}}"#,
    r#"{"v":1,"id":1,"type":"join","auth":{"kind":"guest_link","tenant":"ten_0196f3c4a1b27c3d8e9f0a1b2c3d4e5f","pseudonym":"Kim","secret":"inv_0196f3c4a1b27c3d8e9f0a1b2c3d4e5f.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}}"#,
    r#"{"v":1,"id":1,"type":"join","auth":{"kind":"room","token":"cat_…","room":"rom_0196f3c4a1b27c3d8e9f0a1b2c3d4e5f","password":"Zimmer-mit-Aussicht"}}"#,
    r#"{"v":1,"id":2,"type":"offer","to":1,"description":{"type":"offer","sdp":"v=0\r\n…"},"signature":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="}"#,
    r#"{"v":1,"type":"answer","to":0,"description":{"type":"answer","sdp":"v=0\r\n…"}}"#,
    r#"{"v":1,"type":"ice","to":1,"candidate":{"candidate":"candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"abcd"}}"#,
    r#"{"v":1,"type":"ice","to":1,"candidate":{"candidate":""}}"#,
    r#"{"v":1,"type":"leave"}"#,
    r#"{"v":1,"id":3,"type":"mls_key_packages","packages":["AAEC"]}"#,
    r#"{"v":1,"id":4,"type":"mls_claim","participant":"acc_0196f3c4a1b27c3d8e9f0a1b2c3d4e5f"}"#,
    r#"{"v":1,"type":"mls_group","group_info":"AAEC","record":"AwQF"}"#,
    r#"{"v":1,"type":"mls_commit","commit":"AAEC","record":"AwQF","welcome":"BgcI"}"#,
    r#"{"v":1,"type":"mls_sync","after":2}"#,
    r#"{"v":1,"id":5,"type":"ping"}"#,
];

/// The server examples of docs/SIGNALING.md, verbatim.
const SERVER_EXAMPLES: &[&str] = &[
    r#"{"v":1,"type":"admitted","session":"ses_0196f3c4a1b27c3d8e9f0a1b2c3d4e5f","call":"5d3b8c1e0f2a4b6c8d9e0f1a2b3c4d5e","participant":"gst_0196f3c4a1b27c3d8e9f0a1b2c3d4e5f","sender_index":1,"peers":[{"participant":"acc_0196f3c4a1b27c3d8e9f0a1b2c3d4e5f","sender_index":0}],"mode":"end_to_end","end_to_end":true,"key_epoch":3,"guest_token":"cg1_…"}"#,
    r#"{"v":1,"type":"waiting","session":"ses_0196f3c4a1b27c3d8e9f0a1b2c3d4e5f"}"#,
    r#"{"v":1,"type":"denied","reason":"not_accepted","in_reply_to":1}"#,
    r#"{"v":1,"type":"denied","reason":"too_many_requests","retry_after_ms":30000,"in_reply_to":1}"#,
    r#"{"v":1,"type":"peer_joined","participant":"acc_0196f3c4a1b27c3d8e9f0a1b2c3d4e5f","sender_index":2}"#,
    r#"{"v":1,"type":"peer_left","sender_index":2}"#,
    r#"{"v":1,"type":"offer","from":0,"description":{"type":"offer","sdp":"v=0\r\n…"}}"#,
    r#"{"v":1,"type":"answer","from":1,"description":{"type":"answer","sdp":"v=0\r\n…"}}"#,
    r#"{"v":1,"type":"ice","from":0,"candidate":{"candidate":"candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host","sdpMid":"0","sdpMLineIndex":0}}"#,
    r#"{"v":1,"type":"mls_stored","count":2,"in_reply_to":3}"#,
    r#"{"v":1,"type":"mls_claimed","participant":"acc_0196f3c4a1b27c3d8e9f0a1b2c3d4e5f","packages":["AAEC"],"in_reply_to":4}"#,
    r#"{"v":1,"type":"mls_epoch","epoch":4,"commit":"AAEC","record":"AwQF","welcome":"BgcI","committed_by":"acc_0196f3c4a1b27c3d8e9f0a1b2c3d4e5f"}"#,
    r#"{"v":1,"type":"key_epoch","epoch":4}"#,
    r#"{"v":1,"type":"error","code":"too_large","field":"description.sdp","in_reply_to":2}"#,
    r#"{"v":1,"type":"error","code":"rate_limited","retry_after_ms":100}"#,
    r#"{"v":1,"type":"pong","in_reply_to":5}"#,
    r#"{"v":1,"type":"ended","reason":"removed"}"#,
];

#[test]
fn the_documented_examples_parse_and_print_back() {
    for text in CLIENT_EXAMPLES {
        // The token examples are placeholders ("cat_…"); every other field is real.
        let m = parse(text.as_bytes()).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(&m.to_json(), text);
    }
    for text in SERVER_EXAMPLES {
        let m = ServerMessage::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(&m.to_json(), text);
    }
}

/// A message whose one field is `n` bytes long, and the field's name and limit.
fn with_field(field: &str, n: usize) -> serde_json::Value {
    let s = "x".repeat(n);
    match field {
        "token" => {
            json!({"v":1,"type":"join","auth":{"kind":"token","token":s,"session":"ses_0196f3c4a1b27c3d8e9f0a1b2c3d4e5f"}})
        }
        "password" => {
            json!({"v":1,"type":"join","auth":{"kind":"room","token":"t","room":"rom_0196f3c4a1b27c3d8e9f0a1b2c3d4e5f","password":s}})
        }
        "description.sdp" => {
            json!({"v":1,"type":"offer","to":1,"description":{"type":"offer","sdp":s}})
        }
        "candidate.candidate" => json!({"v":1,"type":"ice","to":1,"candidate":{"candidate":s}}),
        "candidate.sdpMid" => {
            json!({"v":1,"type":"ice","to":1,"candidate":{"candidate":"","sdpMid":s}})
        }
        "candidate.usernameFragment" => {
            json!({"v":1,"type":"ice","to":1,"candidate":{"candidate":"","usernameFragment":s}})
        }
        "commit" => json!({"v":1,"type":"mls_commit","commit":b64(n),"record":"AA=="}),
        "welcome" => {
            json!({"v":1,"type":"mls_commit","commit":"AA==","record":"AA==","welcome":b64(n)})
        }
        "group_info" => json!({"v":1,"type":"mls_group","group_info":b64(n),"record":"AA=="}),
        "packages" => json!({"v":1,"type":"mls_key_packages","packages":[b64(n)]}),
        _ => unreachable!(),
    }
}

#[test]
fn every_field_limit_holds_exactly_and_refuses_one_past() {
    for (field, limit) in [
        ("token", limits::MAX_TOKEN_BYTES),
        ("password", limits::MAX_ROOM_PASSWORD_BYTES),
        ("description.sdp", limits::MAX_SDP_BYTES),
        ("candidate.candidate", limits::MAX_CANDIDATE_BYTES),
        ("candidate.sdpMid", limits::MAX_SDP_MID_BYTES),
        ("candidate.usernameFragment", limits::MAX_UFRAG_BYTES),
        ("commit", limits::MAX_MLS_BLOB_BYTES),
        ("welcome", limits::MAX_MLS_BLOB_BYTES),
        ("group_info", limits::MAX_MLS_BLOB_BYTES),
        ("packages", limits::MAX_MLS_BLOB_BYTES),
    ] {
        let at = with_field(field, limit).to_string();
        assert!(parse(at.as_bytes()).is_ok(), "{field} at {limit}");
        let over = with_field(field, limit + 1).to_string();
        assert_eq!(
            parse(over.as_bytes()),
            Err(too_large(field, limit)),
            "{field} one past"
        );
    }
}

#[test]
fn guest_fields_are_checked_for_size_then_shape() {
    let join = |pseudonym: &str, secret: &str| {
        json!({"v":1,"type":"join","auth":{"kind":"guest_link","tenant":"ten_0196f3c4a1b27c3d8e9f0a1b2c3d4e5f","pseudonym":pseudonym,"secret":secret}})
            .to_string()
    };
    let ok = parse(join("Kim", SECRET).as_bytes()).unwrap();
    assert!(matches!(ok.body, ClientBody::Join(j) if matches!(j.auth, JoinAuth::GuestLink { .. })));
    // cai-core's pseudonyms are 2 to 32 characters; signaling's byte limit comes first.
    assert!(parse(join(&"K".repeat(32), SECRET).as_bytes()).is_ok());
    assert_eq!(
        parse(join(&"K".repeat(33), SECRET).as_bytes()),
        Err(SignalingError::InvalidField { field: "pseudonym" })
    );
    assert_eq!(
        parse(join(&"K".repeat(limits::MAX_PSEUDONYM_BYTES + 1), SECRET).as_bytes()),
        Err(too_large("pseudonym", limits::MAX_PSEUDONYM_BYTES))
    );
    assert_eq!(
        parse(join("Kim", "inv_nope").as_bytes()),
        Err(SignalingError::InvalidField { field: "secret" })
    );
    assert_eq!(
        parse(join("Kim", &"s".repeat(limits::MAX_INVITATION_SECRET_BYTES + 1)).as_bytes()),
        Err(too_large("secret", limits::MAX_INVITATION_SECRET_BYTES))
    );
}

#[test]
fn the_message_size_and_key_package_count_hold_exactly() {
    // A ping padded with spaces to exactly the limit parses; one byte more does not.
    let ping = r#"{"v":1,"type":"ping"}"#;
    let exact = format!(
        "{ping}{}",
        " ".repeat(limits::MAX_MESSAGE_BYTES - ping.len())
    );
    assert!(parse(exact.as_bytes()).is_ok());
    let over = format!("{exact} ");
    assert_eq!(
        parse(over.as_bytes()),
        Err(too_large("message", limits::MAX_MESSAGE_BYTES))
    );
    let packages =
        |n: usize| json!({"v":1,"type":"mls_key_packages","packages":vec!["AA=="; n]}).to_string();
    assert!(parse(packages(limits::MAX_KEY_PACKAGES_PER_MESSAGE).as_bytes()).is_ok());
    assert_eq!(
        parse(packages(limits::MAX_KEY_PACKAGES_PER_MESSAGE + 1).as_bytes()),
        Err(too_large("packages", limits::MAX_KEY_PACKAGES_PER_MESSAGE))
    );
    assert_eq!(
        parse(packages(0).as_bytes()),
        Err(SignalingError::InvalidField { field: "packages" })
    );
    // Exactly MAX_FIELDS members parse (as far as the count goes), one more does not.
    let mut at = serde_json::Map::new();
    at.insert("v".into(), json!(1));
    at.insert("type".into(), json!("ping"));
    for i in 0..limits::MAX_FIELDS - 2 {
        at.insert(format!("f{i}"), json!(0));
    }
    assert_eq!(
        parse(serde_json::Value::Object(at.clone()).to_string().as_bytes()),
        Err(SignalingError::InvalidMessage),
        "the count passes; the unknown members are then refused"
    );
    at.insert("one_more".into(), json!(0));
    assert_eq!(
        parse(serde_json::Value::Object(at).to_string().as_bytes()),
        Err(SignalingError::TooManyFields)
    );
}

#[test]
fn shapes_are_strict() {
    for (text, expected) in [
        (
            r#"{"v":1,"type":"ping","extra":true}"#,
            SignalingError::InvalidMessage,
        ),
        (
            r#"{"v":1,"type":"offer","to":1}"#,
            SignalingError::InvalidMessage,
        ),
        (
            r#"{"v":1,"type":"offer","to":70000,"description":{"type":"offer","sdp":"v=0"}}"#,
            SignalingError::InvalidMessage,
        ),
        (
            r#"{"v":1,"type":"offer","to":1,"description":{"type":"offer","sdp":"v=0","x":1}}"#,
            SignalingError::InvalidMessage,
        ),
        (
            r#"{"v":1,"type":"join","auth":{"kind":"token","token":"t","session":"ses_x"}}"#,
            SignalingError::InvalidMessage,
        ),
        (
            r#"{"v":1,"type":"join","auth":{"kind":"magic"}}"#,
            SignalingError::InvalidMessage,
        ),
        (
            r#"{"v":1,"type":"mls_commit","commit":"A","record":"AA=="}"#,
            SignalingError::InvalidMessage,
        ),
        (
            r#"{"v":1,"type":"offer","to":1,"description":{"type":"offer","sdp":""}}"#,
            SignalingError::InvalidField {
                field: "description.sdp",
            },
        ),
        (
            r#"{"v":1,"type":"answer","to":1,"description":{"type":"offer","sdp":"v=0"}}"#,
            SignalingError::InvalidField {
                field: "description.type",
            },
        ),
        (
            r#"{"v":1,"type":"offer","to":1,"description":{"type":"offer","sdp":"v=0"},"signature":"AA=="}"#,
            SignalingError::InvalidField { field: "signature" },
        ),
        (
            r#"{"v":1,"type":"join","auth":{"kind":"token","token":"a\nb","session":"ses_0196f3c4a1b27c3d8e9f0a1b2c3d4e5f"}}"#,
            SignalingError::InvalidField { field: "token" },
        ),
        (
            r#"{"v":1,"id":4294967296,"type":"ping"}"#,
            SignalingError::InvalidField { field: "id" },
        ),
        (
            r#"{"v":1.0,"type":"ping"}"#,
            SignalingError::UnsupportedVersion,
        ),
        (r#""ping""#, SignalingError::NotAnObject),
        ("\u{feff}{}", SignalingError::MalformedJson),
    ] {
        assert_eq!(parse(text.as_bytes()), Err(expected.clone()), "{text}");
    }
    // Order of checks: size before JSON, version before type, type before shape.
    assert_eq!(
        parse(br#"{"v":9,"type":"nope","x":1}"#),
        Err(SignalingError::UnsupportedVersion)
    );
    assert_eq!(
        parse(br#"{"v":1,"type":"nope","x":1}"#),
        Err(SignalingError::UnknownType)
    );
}

#[test]
fn the_server_message_parser_takes_only_32_lowercase_hex_characters_as_call() {
    let good = "5d3b8c1e0f2a4b6c8d9e0f1a2b3c4d5e";
    let with_call = |call: serde_json::Value| {
        let mut m: serde_json::Value = serde_json::from_str(SERVER_EXAMPLES[0]).unwrap();
        m.as_object_mut().unwrap().insert("call".into(), call);
        ServerMessage::parse(m.to_string().as_bytes())
    };
    let Ok(ServerMessage::Admitted(a)) = with_call(json!(good)) else {
        panic!("the documented call id parses");
    };
    assert_eq!(a.call.to_string(), good);
    for bad in [
        json!(good.to_uppercase()),
        json!(&good[..31]),
        json!(format!("{good}0")),
        json!(format!("{}g", &good[..31])),
        json!(format!("{} ", &good[..31])),
        json!(""),
        json!(null),
        json!(5),
        json!([good]),
    ] {
        assert_eq!(
            with_call(bad.clone()),
            Err(SignalingError::InvalidField { field: "call" }),
            "{bad}"
        );
    }
    // A missing one is named too, as cai-signaling.mjs names it (docs/SIGNALING.md §5).
    let mut m: serde_json::Value = serde_json::from_str(SERVER_EXAMPLES[0]).unwrap();
    m.as_object_mut().unwrap().remove("call");
    assert_eq!(
        ServerMessage::parse(m.to_string().as_bytes()),
        Err(SignalingError::InvalidField { field: "call" })
    );
    // It is checked first: other faults of the same message do not hide it.
    for (member, value) in [("session", json!(5)), ("extra", json!(true))] {
        let mut other = m.clone();
        other.as_object_mut().unwrap().insert(member.into(), value);
        assert_eq!(
            ServerMessage::parse(other.to_string().as_bytes()),
            Err(SignalingError::InvalidField { field: "call" }),
            "{member}"
        );
    }
}

#[test]
fn secrets_never_show_in_debug_output() {
    let join = parse(
        json!({"v":1,"type":"join","auth":{"kind":"room","token":"tok-SECRET-1","room":"rom_0196f3c4a1b27c3d8e9f0a1b2c3d4e5f","password":"pw-SECRET-2"}})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    let shown = format!("{join:?}");
    assert!(!shown.contains("SECRET"), "{shown}");
    let admitted =
        ServerMessage::parse(SERVER_EXAMPLES[0].replace("cg1_…", "cg1_SECRET").as_bytes()).unwrap();
    let shown = format!("{admitted:?}");
    assert!(!shown.contains("SECRET"), "{shown}");
    // The wire form carries them, of course.
    assert!(admitted.to_json().contains("cg1_SECRET"));
}
