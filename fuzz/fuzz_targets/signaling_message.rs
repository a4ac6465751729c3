//! Feeds arbitrary bytes to the signaling parser (`cai_rtc::signaling::parse`) and to the
//! SDP fingerprint reader. Neither may panic; a message that parses must serialise to
//! JSON that parses back to the same message, and that JSON must be stable (a second
//! round gives the same text).
#![no_main]

use cai_rtc::signaling::{ServerMessage, parse, sdp_fingerprints};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = parse(data) {
        let text = message.to_json();
        let again = parse(text.as_bytes()).expect("a serialised message parses");
        assert_eq!(again, message);
        assert_eq!(again.to_json(), text);
    }
    if let Ok(message) = ServerMessage::parse(data) {
        let text = message.to_json();
        let again = ServerMessage::parse(text.as_bytes()).expect("a serialised message parses");
        assert_eq!(again, message);
    }
    if let Ok(sdp) = std::str::from_utf8(data) {
        let _ = sdp_fingerprints(sdp);
    }
});
