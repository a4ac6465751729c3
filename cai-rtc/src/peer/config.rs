//! Configuration, events and errors of a [`Peer`](super::Peer), and the conversions
//! between the browser's JSON dictionaries and the `webrtc` crate's types.

use std::time::Duration;

use cai_crypto::DataKey;
use webrtc::peer_connection::{
    RTCIceCandidateInit, RTCPeerConnectionState, RTCSdpType, RTCSessionDescription,
};

use crate::data::{ChannelContext, DataError, DataLimits, ReceivedFile, wire::FileOffer};
use crate::media::{FrameDropped, UnprotectedFrame};
use crate::webrtc_json::{IceCandidateInit, SdpType, SessionDescriptionInit};

/// Label of the call's data channel.
pub const DATA_CHANNEL_LABEL: &str = "cai";
/// Default bound of the send buffer of the data channel: sending a file waits while this
/// many bytes are not yet acknowledged (with 256 KiB chunks, four chunks in flight).
pub const DEFAULT_SEND_BUFFER: usize = 1024 * 1024;
/// Capacity of the event queue; a full queue pauses reading from the network.
pub const EVENT_QUEUE: usize = 256;

/// How to build a [`Peer`](super::Peer).
#[derive(Debug)]
pub struct PeerConfig {
    /// Ids bound into every sealed data-channel message, and this endpoint's roster index.
    pub channel: ChannelContext,
    /// The data key sealing the data channel: the session's key of the current epoch
    /// (in end-to-end mode the epoch's content key from MLS).
    pub data_key: DataKey,
    /// Receive limits of the data channel; `max_message_size` is capped at the 256 KiB
    /// this peer advertises. (Sent messages are sized to the remote's advertised limit.)
    pub limits: DataLimits,
    /// Local UDP addresses to gather host candidates on. The default `0.0.0.0:0` uses every
    /// interface.
    pub udp_addrs: Vec<String>,
    /// STUN/TURN server URLs (`stun:…`, `turn:…`); none by default.
    pub ice_servers: Vec<String>,
    /// Bytes the data channel may have unacknowledged before a send waits.
    pub send_buffer: usize,
    /// Delivers every received media frame as it came out of depacketisation, before
    /// SFrame unprotect, as [`PeerEvent::TransportFrame`] — the view of anyone holding the
    /// DTLS/SRTP keys. For diagnostics and tests; off by default.
    pub tap_transport_frames: bool,
    /// The sender index of the participant at the other end (from signaling): the data
    /// channel then refuses messages claiming any other index
    /// ([`SealedChannel::expect_remote`](crate::data::SealedChannel::expect_remote)).
    /// `cai_rtc::call` always sets it; set it whenever more than two take part.
    pub remote_index: Option<u16>,
}

impl PeerConfig {
    /// A configuration with default limits, every interface and no ICE servers.
    pub fn new(channel: ChannelContext, data_key: DataKey) -> Self {
        Self {
            channel,
            data_key,
            limits: DataLimits::default(),
            udp_addrs: vec!["0.0.0.0:0".to_owned()],
            ice_servers: Vec::new(),
            send_buffer: DEFAULT_SEND_BUFFER,
            tap_transport_frames: false,
            remote_index: None,
        }
    }

    /// Only UDP on 127.0.0.1, no STUN, no TURN (mDNS is always off): for tests and
    /// benchmarks on one machine.
    pub fn loopback_only(mut self) -> Self {
        self.udp_addrs = vec!["127.0.0.1:0".to_owned()];
        self.ice_servers.clear();
        self
    }
}

/// A track kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    /// Audio, sent as Opus (one frame per RTP packet).
    Audio,
    /// Video, sent as VP8 (frames split over RTP packets by the VP8 payloader).
    Video,
}

impl MediaKind {
    /// Default duration of one frame, for RTP timestamps: 20 ms of audio, 1/30 s of video.
    pub fn default_frame_duration(self) -> Duration {
        match self {
            MediaKind::Audio => Duration::from_millis(20),
            MediaKind::Video => Duration::from_micros(33_333),
        }
    }
}

/// The connection's state, as the `webrtc` crate reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerState {
    /// Not yet connecting.
    New,
    /// ICE/DTLS in progress.
    Connecting,
    /// Connected.
    Connected,
    /// Lost connectivity, may recover.
    Disconnected,
    /// Failed.
    Failed,
    /// Closed.
    Closed,
}

impl PeerState {
    pub(crate) fn from_rtc(state: RTCPeerConnectionState) -> Self {
        match state {
            RTCPeerConnectionState::Connecting => PeerState::Connecting,
            RTCPeerConnectionState::Connected => PeerState::Connected,
            RTCPeerConnectionState::Disconnected => PeerState::Disconnected,
            RTCPeerConnectionState::Failed => PeerState::Failed,
            RTCPeerConnectionState::Closed => PeerState::Closed,
            _ => PeerState::New,
        }
    }
}

/// What a [`Peer`](super::Peer) reports, in order, through
/// [`Peer::next_event`](super::Peer::next_event).
#[derive(Debug)]
#[non_exhaustive]
pub enum PeerEvent {
    /// The connection state changed.
    State(PeerState),
    /// The data channel opened; messages are at most `max_message_size` bytes.
    DataChannelOpen {
        /// The negotiated max-message-size, capped at 256 KiB.
        max_message_size: usize,
    },
    /// The data channel closed.
    DataChannelClosed,
    /// A chat message.
    Chat {
        /// The sender's roster index.
        sender: u16,
        /// The text.
        text: String,
    },
    /// A file was offered; chunks follow.
    FileOffered {
        /// The sender's roster index.
        sender: u16,
        /// Name, type, size, hash.
        offer: FileOffer,
    },
    /// A file arrived completely and matches its SHA-256.
    File(ReceivedFile),
    /// A data-channel message was rejected (and dropped); the channel stays open.
    DataRejected(DataError),
    /// A received frame before SFrame unprotect (only with
    /// [`PeerConfig::tap_transport_frames`]).
    TransportFrame {
        /// Audio or video.
        kind: MediaKind,
        /// The depacketised payload: the SFrame ciphertext.
        payload: Vec<u8>,
    },
    /// A received frame, decrypted.
    Frame {
        /// Audio or video.
        kind: MediaKind,
        /// The frame and its sender.
        frame: UnprotectedFrame,
    },
    /// A received frame was dropped (counted in the stats).
    FrameDropped {
        /// Audio or video.
        kind: MediaKind,
        /// Why.
        dropped: FrameDropped,
    },
}

/// Why a peer operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PeerError {
    /// The WebRTC stack failed (negotiation, transport, closed connection).
    #[error("webrtc: {0}")]
    WebRtc(#[from] webrtc::error::Error),
    /// A session description or candidate cannot be used (a rollback, a pranswer, or SDP
    /// the stack rejects).
    #[error("unusable {what}: {reason}")]
    Negotiation {
        /// Which value.
        what: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// The data channel is not open (yet, or any more).
    #[error("the data channel is not open")]
    NotOpen,
    /// A data-channel operation failed.
    #[error(transparent)]
    Data(#[from] DataError),
    /// Media keys failed.
    #[error("media keys: {0}")]
    Crypto(#[from] cai_crypto::Error),
}

pub(crate) fn to_rtc_description(
    desc: &SessionDescriptionInit,
) -> Result<RTCSessionDescription, PeerError> {
    let sdp = desc.sdp.clone();
    let made = match desc.sdp_type {
        SdpType::Offer => RTCSessionDescription::offer(sdp),
        SdpType::Answer => RTCSessionDescription::answer(sdp),
        SdpType::Pranswer | SdpType::Rollback => {
            return Err(PeerError::Negotiation {
                what: "session description",
                reason: "only offers and answers are used",
            });
        }
    };
    Ok(made?)
}

pub(crate) fn from_rtc_description(
    desc: RTCSessionDescription,
) -> Result<SessionDescriptionInit, PeerError> {
    let sdp_type = match desc.sdp_type {
        RTCSdpType::Offer => SdpType::Offer,
        RTCSdpType::Answer => SdpType::Answer,
        RTCSdpType::Pranswer => SdpType::Pranswer,
        RTCSdpType::Rollback => SdpType::Rollback,
        _ => {
            return Err(PeerError::Negotiation {
                what: "local session description",
                reason: "unspecified type",
            });
        }
    };
    Ok(SessionDescriptionInit {
        sdp_type,
        sdp: desc.sdp,
    })
}

pub(crate) fn to_rtc_candidate(c: &IceCandidateInit) -> RTCIceCandidateInit {
    RTCIceCandidateInit {
        candidate: c.candidate.clone(),
        sdp_mid: c.sdp_mid.clone(),
        sdp_mline_index: c.sdp_m_line_index,
        username_fragment: c.username_fragment.clone(),
        url: None,
    }
}

pub(crate) fn from_rtc_candidate(c: RTCIceCandidateInit) -> IceCandidateInit {
    IceCandidateInit {
        candidate: c.candidate,
        sdp_mid: c.sdp_mid,
        sdp_m_line_index: c.sdp_mline_index,
        username_fragment: c.username_fragment,
    }
}
