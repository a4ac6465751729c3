//! The two WebRTC dictionaries that travel between browsers and Rust peers, with exactly
//! the JSON shape the browser's `RTCPeerConnection` produces and accepts
//! (`RTCSessionDescriptionInit`, `RTCIceCandidateInit` of the W3C WebRTC specification), so
//! a frontend can pass `pc.localDescription` or an `icecandidate` event's `candidate.toJSON()`
//! through signaling unchanged.
//!
//! These types only carry the values; size limits and validation are the signaling
//! layer's job.

use serde::{Deserialize, Serialize};

/// The type of a session description (`RTCSdpType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SdpType {
    /// An offer.
    Offer,
    /// A provisional answer.
    Pranswer,
    /// A final answer.
    Answer,
    /// Rolls back a pending offer.
    Rollback,
}

/// `RTCSessionDescriptionInit`: `{"type":"offer","sdp":"v=0\r\n…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionDescriptionInit {
    /// Offer, answer, …
    #[serde(rename = "type")]
    pub sdp_type: SdpType,
    /// The SDP text (empty for a rollback).
    #[serde(default)]
    pub sdp: String,
}

/// `RTCIceCandidateInit`: `{"candidate":"candidate:…","sdpMid":"0","sdpMLineIndex":0,
/// "usernameFragment":"…"}`. An empty `candidate` marks the end of candidates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IceCandidateInit {
    /// The `candidate:` attribute line, without `a=`.
    pub candidate: String,
    /// The media stream identification tag the candidate belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdp_mid: Option<String>,
    /// The index of the m-line the candidate belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdp_m_line_index: Option<u16>,
    /// The ICE username fragment the candidate belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_fragment: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_shapes_round_trip() -> Result<(), serde_json::Error> {
        let d: SessionDescriptionInit =
            serde_json::from_str(r#"{"type":"answer","sdp":"v=0\r\n"}"#)?;
        assert_eq!(d.sdp_type, SdpType::Answer);
        assert_eq!(
            serde_json::to_string(&d)?,
            r#"{"type":"answer","sdp":"v=0\r\n"}"#
        );
        let c: IceCandidateInit = serde_json::from_str(
            r#"{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"abcd"}"#,
        )?;
        assert_eq!(c.sdp_m_line_index, Some(0));
        assert_eq!(c.sdp_mid.as_deref(), Some("0"));
        let end: IceCandidateInit = serde_json::from_str(r#"{"candidate":""}"#)?;
        assert_eq!(serde_json::to_string(&end)?, r#"{"candidate":""}"#);
        assert!(serde_json::from_str::<IceCandidateInit>(r#"{"candidate":"","x":1}"#).is_err());
        assert!(
            serde_json::from_str::<SessionDescriptionInit>(r#"{"type":"bogus","sdp":""}"#).is_err()
        );
        Ok(())
    }
}
