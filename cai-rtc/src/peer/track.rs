//! [`LocalTrack`]: an outgoing audio or video track whose frames are SFrame-protected
//! before the `webrtc` packetiser sees them.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rtc::media::Sample;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_OPUS, MIME_TYPE_VP8};
use rtc::rtp_transceiver::PayloadType;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use webrtc::media_stream::MediaStreamTrack;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::rtp_transceiver::RtpSender;

use super::Shared;
use super::config::{MediaKind, PeerError};

/// An outgoing track. Every frame given to [`write_frame`](Self::write_frame) is
/// protected with the call's keys, then packetised (Opus: one packet; VP8: split at the
/// MTU behind a payload descriptor — both treat the payload as opaque bytes).
pub struct LocalTrack {
    kind: MediaKind,
    ssrc: u32,
    track: Arc<TrackLocalStaticSample>,
    sender: Arc<dyn RtpSender>,
    payload_type: Mutex<Option<PayloadType>>,
    shared: Arc<Shared>,
}

impl core::fmt::Debug for LocalTrack {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LocalTrack")
            .field("kind", &self.kind)
            .field("ssrc", &self.ssrc)
            .finish_non_exhaustive()
    }
}

/// The `webrtc` track of `kind` with one encoding of SSRC `ssrc`.
pub(crate) fn media_track(kind: MediaKind, ssrc: u32) -> Result<TrackLocalStaticSample, PeerError> {
    let (codec, rtp_kind, id) = match kind {
        MediaKind::Audio => (
            RTCRtpCodec {
                mime_type: MIME_TYPE_OPUS.to_owned(),
                clock_rate: 48_000,
                channels: 2,
                sdp_fmtp_line: String::new(),
                rtcp_feedback: vec![],
            },
            RtpCodecKind::Audio,
            "audio",
        ),
        MediaKind::Video => (
            RTCRtpCodec {
                mime_type: MIME_TYPE_VP8.to_owned(),
                clock_rate: 90_000,
                channels: 0,
                sdp_fmtp_line: String::new(),
                rtcp_feedback: vec![],
            },
            RtpCodecKind::Video,
            "video",
        ),
    };
    let track = MediaStreamTrack::new(
        "cai".to_owned(),
        format!("cai-{id}"),
        format!("cai-{id}"),
        rtp_kind,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec,
            ..Default::default()
        }],
    );
    Ok(TrackLocalStaticSample::new(Instant::now(), track)?)
}

impl LocalTrack {
    pub(crate) fn new(
        kind: MediaKind,
        ssrc: u32,
        track: Arc<TrackLocalStaticSample>,
        sender: Arc<dyn RtpSender>,
        shared: Arc<Shared>,
    ) -> Self {
        Self {
            kind,
            ssrc,
            track,
            sender,
            payload_type: Mutex::new(None),
            shared,
        }
    }

    /// Audio or video.
    pub fn kind(&self) -> MediaKind {
        self.kind
    }

    /// Protects and sends one encoded frame lasting the kind's default duration.
    pub async fn write_frame(&self, frame: &[u8]) -> Result<(), PeerError> {
        self.write_frame_for(frame, self.kind.default_frame_duration())
            .await
    }

    /// Protects and sends one encoded frame lasting `duration` (for RTP timestamps).
    /// Fails with [`PeerError::Negotiation`] before the track was negotiated.
    pub async fn write_frame_for(&self, frame: &[u8], duration: Duration) -> Result<(), PeerError> {
        let payload_type = self.payload_type().await?;
        // Cut from a reused buffer: no allocation per frame for the packetiser's `Bytes`.
        let protected = self.shared.keys().protect_bytes(frame, b"")?;
        let sample = Sample {
            data: protected,
            duration,
            ..Sample::new(Instant::now())
        };
        self.track
            .sample_writer(self.ssrc, payload_type)
            .write_sample(&sample)
            .await?;
        Ok(())
    }

    /// The negotiated payload type (looked up once, after negotiation).
    async fn payload_type(&self) -> Result<PayloadType, PeerError> {
        if let Some(pt) = *self
            .payload_type
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
        {
            return Ok(pt);
        }
        let pt = self
            .sender
            .get_parameters()
            .await?
            .rtp_parameters
            .codecs
            .first()
            .map(|c| c.payload_type)
            .ok_or(PeerError::Negotiation {
                what: "media track",
                reason: "no codec negotiated yet",
            })?;
        *self
            .payload_type
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(pt);
        Ok(pt)
    }
}
