//! The `webrtc` event handler and the tasks that read the data channel and remote
//! tracks: messages are opened by the [`SealedChannel`](crate::data::SealedChannel),
//! frames are depacketised and unprotected by the [`CallKeys`](crate::media::CallKeys),
//! and everything is reported as [`PeerEvent`]s.

use std::sync::Arc;

use bytes::Bytes;
use rtc::rtp::codec::vp8::Vp8Packet;
use rtc::rtp::packetizer::Depacketizer;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use webrtc::data_channel::{DataChannel, DataChannelEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    PeerConnectionEventHandler, RTCIceGatheringState, RTCPeerConnectionIceEvent,
    RTCPeerConnectionState,
};

use super::Shared;
use super::config::{DATA_CHANNEL_LABEL, MediaKind, PeerEvent, PeerState, from_rtc_candidate};
use crate::data::Incoming;
use crate::webrtc_json::IceCandidateInit;

/// Forwards the connection's events to the peer's queues.
pub(crate) struct Handler {
    pub(crate) shared: Arc<Shared>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        if let Ok(init) = event.candidate.to_json() {
            // The receiver may be gone (the caller stopped trickling): nothing to do then.
            let _ = self.shared.candidates.send(from_rtc_candidate(init));
        }
    }

    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            // End of candidates, as the browser's `icecandidate` event with an empty one.
            let _ = self.shared.candidates.send(IceCandidateInit {
                candidate: String::new(),
                sdp_mid: None,
                sdp_m_line_index: None,
                username_fragment: None,
            });
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        // Never block the connection's driver on a slow consumer: a state event may be
        // skipped when the queue is full.
        let _ = self
            .shared
            .events
            .try_send(PeerEvent::State(PeerState::from_rtc(state)));
    }

    async fn on_data_channel(&self, dc: Arc<dyn DataChannel>) {
        let label = dc.label().await.unwrap_or_default();
        let ordered = dc.ordered().await.unwrap_or(false);
        let reliable = dc.max_retransmits().await.ok().flatten().is_none()
            && dc.max_packet_life_time().await.ok().flatten().is_none();
        if label != DATA_CHANNEL_LABEL || !ordered || !reliable {
            tracing::debug!("closing an unexpected data channel");
            let _ = dc.close().await;
            return;
        }
        tokio::spawn(read_data_channel(dc, self.shared.clone()));
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        tokio::spawn(read_track(track, self.shared.clone()));
    }
}

/// Reads the call's data channel until it closes.
pub(crate) async fn read_data_channel(dc: Arc<dyn DataChannel>, shared: Arc<Shared>) {
    while let Some(event) = dc.poll().await {
        let out = match event {
            DataChannelEvent::OnOpen => {
                shared.set_data_channel(dc.clone());
                PeerEvent::DataChannelOpen {
                    max_message_size: shared.channel().limits().max_message_size,
                }
            }
            // Every message of the protocol is binary (docs/DATACHANNEL.md §1).
            DataChannelEvent::OnMessage(message) if message.is_string => continue,
            DataChannelEvent::OnMessage(message) => {
                let opened = shared.channel().open(&message.data);
                match opened {
                    Ok(Some(Incoming::Chat { sender, text })) => PeerEvent::Chat { sender, text },
                    Ok(Some(Incoming::FileOffered { sender, offer })) => {
                        PeerEvent::FileOffered { sender, offer }
                    }
                    Ok(Some(Incoming::File(file))) => PeerEvent::File(file),
                    Ok(None) => continue,
                    Err(e) => PeerEvent::DataRejected(e),
                }
            }
            DataChannelEvent::OnClose => break,
            _ => continue,
        };
        if shared.events.send(out).await.is_err() {
            break;
        }
    }
    shared.clear_data_channel();
    let _ = shared.events.try_send(PeerEvent::DataChannelClosed);
}

/// Reads one remote track: depacketises, taps, unprotects.
async fn read_track(track: Arc<dyn TrackRemote>, shared: Arc<Shared>) {
    let kind = match track.kind().await {
        RtpCodecKind::Audio => MediaKind::Audio,
        RtpCodecKind::Video => MediaKind::Video,
        _ => return,
    };
    let mut video = Vp8Frames::default();
    while let Some(event) = track.poll().await {
        let TrackRemoteEvent::OnRtpPacket(packet) = event else {
            continue;
        };
        let frame = match kind {
            // The Opus payloader puts one frame in one packet, unchanged: decrypted from
            // the payload into a reused buffer.
            MediaKind::Audio => Frame::Shared(packet.payload),
            MediaKind::Video => match video.push(
                packet.header.sequence_number,
                packet.header.marker,
                &packet.payload,
            ) {
                Some(frame) => Frame::Owned(frame),
                None => continue,
            },
        };
        if shared.tap {
            let tap = PeerEvent::TransportFrame {
                kind,
                payload: frame.as_slice().to_vec(),
            };
            if shared.events.send(tap).await.is_err() {
                break;
            }
        }
        let unprotected = match frame {
            Frame::Shared(payload) => shared.keys().unprotect_bytes(&payload, b""),
            Frame::Owned(frame) => shared.keys().unprotect_owned(frame, b""),
        };
        let out = match unprotected {
            Ok(frame) => PeerEvent::Frame { kind, frame },
            Err(dropped) => PeerEvent::FrameDropped { kind, dropped },
        };
        if shared.events.send(out).await.is_err() {
            break;
        }
    }
}

/// A received frame: an RTP payload as it came, or one reassembled from several.
enum Frame {
    Shared(Bytes),
    Owned(Vec<u8>),
}

impl Frame {
    fn as_slice(&self) -> &[u8] {
        match self {
            Frame::Shared(b) => b,
            Frame::Owned(v) => v,
        }
    }
}

/// Largest reassembled video frame; a frame that would grow past it is discarded.
/// (A 4K VP8 key frame is well under 1 MiB.)
pub(crate) const MAX_VIDEO_FRAME: usize = 4 * 1024 * 1024;

/// Reassembles VP8 frames from RTP payloads (RFC 7741): a frame starts at a packet with
/// the S bit and partition index 0 and ends at the marker bit. A gap in sequence numbers
/// discards the frame in progress, so a lost packet costs one frame, never a garbled one.
#[derive(Default)]
struct Vp8Frames {
    frame: Vec<u8>,
    next_seq: Option<u16>,
    in_frame: bool,
}

impl Vp8Frames {
    fn push(&mut self, seq: u16, marker: bool, payload: &Bytes) -> Option<Vec<u8>> {
        let mut depacketizer = Vp8Packet::default();
        let contiguous = self.next_seq == Some(seq);
        self.next_seq = Some(seq.wrapping_add(1));
        let body = depacketizer.depacketize(payload).ok()?;
        if depacketizer.s == 1 && depacketizer.pid == 0 {
            self.frame.clear();
            self.in_frame = true;
        } else if !contiguous {
            self.in_frame = false;
        }
        if !self.in_frame {
            return None;
        }
        if self.frame.len() + body.len() > MAX_VIDEO_FRAME {
            // A sender that never sets the marker bit must not grow this without end.
            self.frame.clear();
            self.in_frame = false;
            return None;
        }
        self.frame.extend_from_slice(&body);
        if marker {
            self.in_frame = false;
            return Some(std::mem::take(&mut self.frame));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A VP8 RTP payload: a one-byte descriptor (S bit on a frame's first packet,
    /// partition 0), then `len` bytes.
    fn packet(start: bool, len: usize) -> Bytes {
        let mut p = vec![if start { 0x10 } else { 0x00 }];
        p.resize(1 + len, 0xab);
        Bytes::from(p)
    }

    #[test]
    fn a_frame_of_exactly_the_limit_passes_and_one_byte_more_is_discarded() {
        const PART: usize = 1024 * 1024;
        let mut frames = Vp8Frames::default();
        for i in 0..3u16 {
            assert!(frames.push(i, false, &packet(i == 0, PART)).is_none());
        }
        let whole = frames.push(3, true, &packet(false, PART));
        assert_eq!(whole.map(|f| f.len()), Some(MAX_VIDEO_FRAME));

        for i in 4..7u16 {
            assert!(frames.push(i, false, &packet(i == 4, PART)).is_none());
        }
        // One byte past the limit: discarded, and the rest of that frame with it.
        assert!(frames.push(7, false, &packet(false, PART + 1)).is_none());
        assert!(frames.push(8, true, &packet(false, 10)).is_none());
        // The next frame is whole again.
        assert_eq!(
            frames.push(9, true, &packet(true, 10)).map(|f| f.len()),
            Some(10)
        );
    }
}
