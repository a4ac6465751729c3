//! The DTLS fingerprint rule and signed descriptions (issue 12, ASVS V17): a peer finds
//! the fingerprints of a description (only SHA-2, all m-sections agreeing), detects a
//! certificate that does not match them, and a signature no longer verifies once the
//! SDP, its route or its fingerprint is swapped.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "signaling_common/mod.rs"]
mod common;

use cai_core::id::SessionId;
use cai_rtc::signaling::{
    DescriptionError, DescriptionRoute, Fingerprint, FingerprintAlgorithm, FingerprintError,
    check_certificate, check_fingerprint, sdp_fingerprints, sign_description, verify_description,
};
use cai_rtc::webrtc_json::{SdpType, SessionDescriptionInit};
use common::sdp;
use ed25519_dalek::SigningKey;

const CERT: &[u8] = b"a DER certificate stands here";

fn fp_line(fp: &Fingerprint) -> String {
    format!("a=fingerprint:{fp}\r\n")
}

fn media_sdp(lines: &[&str]) -> String {
    format!(
        "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n{}",
        lines.concat()
    )
}

#[test]
fn the_certificate_seen_must_match_the_fingerprint() {
    let mine = Fingerprint::of_certificate(FingerprintAlgorithm::Sha256, CERT);
    let text = media_sdp(&[&fp_line(&mine), "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"]);
    let expected = sdp_fingerprints(&text).unwrap();
    assert_eq!(expected, vec![mine.clone()]);
    check_certificate(&expected, CERT).unwrap();
    check_fingerprint(&expected, &mine).unwrap();
    assert_eq!(
        check_certificate(&expected, b"the server's own certificate"),
        Err(FingerprintError::Mismatch)
    );
    let other = Fingerprint::of_certificate(FingerprintAlgorithm::Sha256, b"other");
    assert_eq!(
        check_fingerprint(&expected, &other),
        Err(FingerprintError::Mismatch)
    );
    // The same digest under another algorithm name is no match.
    let sha512 = Fingerprint::of_certificate(FingerprintAlgorithm::Sha512, CERT);
    assert_eq!(
        check_fingerprint(&expected, &sha512),
        Err(FingerprintError::Mismatch)
    );
    assert_eq!(check_certificate(&[], CERT), Err(FingerprintError::Missing));
}

#[test]
fn fingerprints_are_read_strictly() {
    let a = Fingerprint::of_certificate(FingerprintAlgorithm::Sha256, b"a");
    let b = Fingerprint::of_certificate(FingerprintAlgorithm::Sha384, b"b");
    // Media-level lines, the same in every section, lowercase hex and hash name too.
    let lower = fp_line(&a)
        .to_lowercase()
        .replace("a=fingerprint:sha-256", "a=fingerprint:SHA-256");
    let ok = media_sdp(&[
        "m=audio 9 X 0\r\n",
        &lower,
        "m=video 9 X 0\r\n",
        &fp_line(&a),
    ]);
    assert_eq!(sdp_fingerprints(&ok).unwrap(), vec![a.clone()]);
    // A section of its own overrides the session level; all must still agree.
    let disagree = media_sdp(&[
        &fp_line(&a),
        "m=audio 9 X 0\r\n",
        "m=video 9 X 0\r\n",
        &fp_line(&b),
    ]);
    assert_eq!(
        sdp_fingerprints(&disagree),
        Err(FingerprintError::Inconsistent)
    );
    let missing = media_sdp(&["m=audio 9 X 0\r\n", &fp_line(&a), "m=video 9 X 0\r\n"]);
    assert_eq!(sdp_fingerprints(&missing), Err(FingerprintError::Missing));
    assert_eq!(
        sdp_fingerprints(&media_sdp(&[])),
        Err(FingerprintError::Missing)
    );
    let sha1 = media_sdp(&[
        "a=fingerprint:sha-1 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33\r\n",
    ]);
    assert_eq!(
        sdp_fingerprints(&sha1),
        Err(FingerprintError::UnsupportedAlgorithm)
    );
    // One byte short, one byte long, a bad pair.
    let hex31 = vec!["AB"; 31].join(":");
    let hex33 = vec!["AB"; 33].join(":");
    let hex32_bad = format!("{}:G1", vec!["AB"; 31].join(":"));
    for hex in [hex31, hex33, hex32_bad] {
        let text = media_sdp(&[&format!("a=fingerprint:sha-256 {hex}\r\n")]);
        assert_eq!(
            sdp_fingerprints(&text),
            Err(FingerprintError::Malformed),
            "{hex}"
        );
    }
    let hex32 = vec!["AB"; 32].join(":");
    let exact = media_sdp(&[&format!("a=fingerprint:sha-256 {hex32}\r\n")]);
    assert_eq!(sdp_fingerprints(&exact).unwrap().len(), 1);
}

fn route() -> DescriptionRoute {
    DescriptionRoute {
        session: SessionId::random().unwrap(),
        from: 3,
        to: 5,
    }
}

#[test]
fn a_signature_covers_the_sdp_its_route_and_type() {
    let key = SigningKey::from_bytes(&[42u8; 32]);
    let r = route();
    let offer = SessionDescriptionInit {
        sdp_type: SdpType::Offer,
        sdp: sdp(0xAA),
    };
    let sig = sign_description(&key, &r, &offer).unwrap();
    let fps = verify_description(&key.verifying_key(), &r, &offer, Some(&sig)).unwrap();
    assert_eq!(fps, sdp_fingerprints(&offer.sdp).unwrap());

    // The server swaps in an SDP with its own fingerprint: refused.
    let swapped = SessionDescriptionInit {
        sdp: sdp(0xEE),
        ..offer.clone()
    };
    assert_eq!(
        verify_description(&key.verifying_key(), &r, &swapped, Some(&sig)),
        Err(DescriptionError::BadSignature)
    );
    // Same fingerprint, one other line (a candidate address): refused too.
    let edited = SessionDescriptionInit {
        sdp: offer.sdp.replace("127.0.0.1", "203.0.113.9"),
        ..offer.clone()
    };
    assert_eq!(
        verify_description(&key.verifying_key(), &r, &edited, Some(&sig)),
        Err(DescriptionError::BadSignature)
    );
    // Replayed to another peer, from another, in another session, as an answer.
    for other in [
        DescriptionRoute { to: 6, ..r },
        DescriptionRoute { from: 4, ..r },
        DescriptionRoute {
            session: SessionId::random().unwrap(),
            ..r
        },
    ] {
        assert_eq!(
            verify_description(&key.verifying_key(), &other, &offer, Some(&sig)),
            Err(DescriptionError::BadSignature)
        );
    }
    let as_answer = SessionDescriptionInit {
        sdp_type: SdpType::Answer,
        ..offer.clone()
    };
    assert_eq!(
        verify_description(&key.verifying_key(), &r, &as_answer, Some(&sig)),
        Err(DescriptionError::BadSignature)
    );
    // Another key, no signature, a short one.
    let other_key = SigningKey::from_bytes(&[43u8; 32]);
    assert_eq!(
        verify_description(&other_key.verifying_key(), &r, &offer, Some(&sig)),
        Err(DescriptionError::BadSignature)
    );
    assert_eq!(
        verify_description(&key.verifying_key(), &r, &offer, None),
        Err(DescriptionError::BadSignature)
    );
    let short = cai_rtc::signaling::Blob(sig.0[..63].to_vec());
    assert_eq!(
        verify_description(&key.verifying_key(), &r, &offer, Some(&short)),
        Err(DescriptionError::BadSignature)
    );
    // A rollback is never signed.
    let rollback = SessionDescriptionInit {
        sdp_type: SdpType::Rollback,
        sdp: String::new(),
    };
    assert_eq!(
        sign_description(&key, &r, &rollback),
        Err(DescriptionError::UnsignedType)
    );
}

/// The worked example of docs/SIGNALING.md §7: the signed bytes and the signature of a
/// fixed offer under a fixed key (RFC 8032 Ed25519 is deterministic).
#[test]
fn the_signed_bytes_are_as_documented() {
    let key = SigningKey::from_bytes(&[42u8; 32]);
    let r = DescriptionRoute {
        session: "ses_0196f3c4a1b27c3d8e9f0a1b2c3d4e5f".parse().unwrap(),
        from: 0,
        to: 1,
    };
    let fp = vec!["AB"; 32].join(":");
    let offer = SessionDescriptionInit {
        sdp_type: SdpType::Offer,
        sdp: format!("v=0\r\na=fingerprint:sha-256 {fp}\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"),
    };
    let (bytes, _) = cai_rtc::signaling::description_signing_bytes(&r, &offer).unwrap();
    let sig = sign_description(&key, &r, &offer).unwrap();
    assert_eq!(
        hex(key.verifying_key().as_bytes()),
        "197f6b23e16c8532c6abc838facd5ea789be0c76b2920334039bfa8b3d368d61"
    );
    assert_eq!(hex(&bytes), EXAMPLE_BYTES);
    assert_eq!(hex(&sig.0), EXAMPLE_SIGNATURE);
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

const EXAMPLE_BYTES: &str = "6361692d7274632073657373696f6e206465736372697074696f6e207631000000000100247365735f30313936663363346131623237633364386539663061316232633364346535660000000101010120abababababababababababababababababababababababababababababababab7ad3b1e59be7d3b23ac885fa4eac093eee79a759f5fb1f418d20443ab9a1d41d";
const EXAMPLE_SIGNATURE: &str = "330dc26b0068c3749458e15509fd14c85f0d3ac25751c994c8871c9f549e4ba89dce9bd4162f52e672c05eac9d875b1ea96c1a4efd31bd2f0990932d2ecd6803";
