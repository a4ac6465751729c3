//! The Rust peer of the browser test, for now a raw `webrtc` 0.21 answerer driven by
//! ad-hoc signaling messages. **The lead replaces this file's [`rust_peer`] with
//! cai-rtc's own signaling and `Peer` when merging**; the test only needs what
//! [`PeerUnderTest`] offers: the data-channel messages and audio RTP payloads as they
//! arrived (still sealed / SFrame-protected), a way to send a data-channel message, and
//! the page's report.
//!
//! Signaling messages (JSON text over the WebSocket, shaped like cai-rtc's signaling):
//! `{"v":1,"type":"offer","sdp":RTCSessionDescriptionInit}` from the browser,
//! `{"v":1,"type":"answer","sdp":…}` back (after ICE gathering, so it carries the
//! candidates), `{"v":1,"type":"ice","candidate":RTCIceCandidateInit}` from the browser,
//! and the test's own `{"v":1,"type":"test_report",…}` from the page.

use std::sync::Arc;

use bytes::BytesMut;
use cai_rtc::webrtc_json::{IceCandidateInit, SessionDescriptionInit};
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use serde_json::{Value, json};
use tokio::sync::{Mutex, mpsc};
use webrtc::data_channel::{DataChannel, DataChannelEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceCandidateInit, RTCIceGatheringState, RTCPeerConnectionState,
    RTCSessionDescription, Registry, register_default_interceptors,
};
use webrtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};

use crate::serve::Signal;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What the test reads from and does through the Rust peer.
pub(crate) struct PeerUnderTest {
    /// Every data-channel message from the browser, as received.
    pub(crate) data_in: mpsc::UnboundedReceiver<Vec<u8>>,
    /// The payload of every audio RTP packet from the browser, as received.
    pub(crate) audio_in: mpsc::UnboundedReceiver<Vec<u8>>,
    /// The page's `test_report` messages.
    pub(crate) reports: mpsc::UnboundedReceiver<Value>,
    /// The peer connection's state changes (for diagnostics).
    pub(crate) states: mpsc::UnboundedReceiver<String>,
    channel: Arc<Mutex<Option<Arc<dyn DataChannel>>>>,
    pc: Arc<dyn PeerConnection>,
    signal_out: mpsc::UnboundedSender<Value>,
}

impl PeerUnderTest {
    /// Sends one binary data-channel message to the browser.
    pub(crate) async fn send_data(&self, bytes: &[u8]) -> Result<(), BoxError> {
        let dc = self
            .channel
            .lock()
            .await
            .clone()
            .ok_or("no data channel yet")?;
        dc.send(BytesMut::from(bytes)).await?;
        Ok(())
    }

    /// Closes the peer connection and the signaling channel (the page then reports done).
    pub(crate) async fn close(self) -> Result<(), BoxError> {
        self.pc.close().await?;
        drop(self.signal_out);
        Ok(())
    }
}

struct Handler {
    channel: Arc<Mutex<Option<Arc<dyn DataChannel>>>>,
    data_in: mpsc::UnboundedSender<Vec<u8>>,
    audio_in: mpsc::UnboundedSender<Vec<u8>>,
    gathered: mpsc::UnboundedSender<()>,
    states: mpsc::UnboundedSender<String>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.gathered.send(());
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let _ = self.states.send(state.to_string());
    }

    async fn on_data_channel(&self, dc: Arc<dyn DataChannel>) {
        *self.channel.lock().await = Some(dc.clone());
        let data_in = self.data_in.clone();
        tokio::spawn(async move {
            while let Some(event) = dc.poll().await {
                match event {
                    DataChannelEvent::OnMessage(msg) => {
                        let _ = data_in.send(msg.data.to_vec());
                    }
                    DataChannelEvent::OnClose => break,
                    _ => {}
                }
            }
        });
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        if track.kind().await != RtpCodecKind::Audio {
            return;
        }
        let audio_in = self.audio_in.clone();
        tokio::spawn(async move {
            while let Some(event) = track.poll().await {
                if let TrackRemoteEvent::OnRtpPacket(packet) = event {
                    let _ = audio_in.send(packet.payload.to_vec());
                }
            }
        });
    }
}

/// Answers the browser's offer with a raw `webrtc` peer connection on loopback host
/// candidates only, and routes the page's other signaling messages to the test.
pub(crate) async fn rust_peer(signal: Signal) -> Result<PeerUnderTest, BoxError> {
    let Signal {
        mut incoming,
        outgoing,
    } = signal;
    let (data_tx, data_in) = mpsc::unbounded_channel();
    let (audio_tx, audio_in) = mpsc::unbounded_channel();
    let (report_tx, reports) = mpsc::unbounded_channel();
    let (gathered_tx, mut gathered) = mpsc::unbounded_channel();
    let (states_tx, states) = mpsc::unbounded_channel();
    let channel = Arc::new(Mutex::new(None));

    let mut media = MediaEngine::default();
    media.register_default_codecs()?;
    let registry = register_default_interceptors(Registry::new(), &mut media)?;
    let handler = Arc::new(Handler {
        channel: channel.clone(),
        data_in: data_tx,
        audio_in: audio_tx,
        gathered: gathered_tx,
        states: states_tx,
    });
    let pc: Arc<dyn PeerConnection> = Arc::new(
        PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(media)
            .with_interceptor_registry(registry)
            .with_handler(handler)
            .with_runtime(webrtc::runtime::default_runtime().ok_or("no webrtc runtime")?)
            .with_udp_addrs(vec!["127.0.0.1:0".to_owned()])
            .build()
            .await?,
    );
    pc.add_transceiver_from_kind(
        RtpCodecKind::Audio,
        Some(RTCRtpTransceiverInit {
            direction: RTCRtpTransceiverDirection::Recvonly,
            ..Default::default()
        }),
    )
    .await?;

    // Anything before the offer (a candidate, a report) waits until it is applied.
    let mut early = Vec::new();
    let offer = loop {
        let msg = incoming
            .recv()
            .await
            .ok_or("signaling closed before the offer")?;
        if msg["type"] == "offer" {
            break msg;
        }
        early.push(msg);
    };
    let offer: SessionDescriptionInit = serde_json::from_value(offer["sdp"].clone())?;
    let offer: RTCSessionDescription = serde_json::from_value(serde_json::to_value(offer)?)?;
    pc.set_remote_description(offer).await?;
    for msg in early {
        route(&pc, &report_tx, msg).await?;
    }
    let answer = pc.create_answer(None).await?;
    pc.set_local_description(answer).await?;
    gathered
        .recv()
        .await
        .ok_or("ICE gathering did not complete")?;
    let local = pc.local_description().await.ok_or("no local description")?;
    let answer: SessionDescriptionInit = serde_json::from_value(serde_json::to_value(&local)?)?;
    outgoing.send(json!({"v": 1, "type": "answer", "sdp": answer}))?;

    let router_pc = pc.clone();
    tokio::spawn(async move {
        while let Some(msg) = incoming.recv().await {
            if let Err(e) = route(&router_pc, &report_tx, msg).await {
                eprintln!("[answerer] signaling message: {e}");
            }
        }
    });
    Ok(PeerUnderTest {
        data_in,
        audio_in,
        reports,
        states,
        channel,
        pc,
        signal_out: outgoing,
    })
}

async fn route(
    pc: &Arc<dyn PeerConnection>,
    reports: &mpsc::UnboundedSender<Value>,
    msg: Value,
) -> Result<(), BoxError> {
    match msg["type"].as_str() {
        Some("ice") => {
            let c: IceCandidateInit = serde_json::from_value(msg["candidate"].clone())?;
            if !c.candidate.is_empty() {
                let c: RTCIceCandidateInit = serde_json::from_value(serde_json::to_value(c)?)?;
                pc.add_ice_candidate(c).await?;
            }
        }
        Some("test_report") => reports.send(msg)?,
        other => return Err(format!("unexpected signaling message {other:?}").into()),
    }
    Ok(())
}
