//! A WebRTC peer of a call, over the `webrtc` crate (0.21): negotiation with the
//! browser's JSON dictionaries ([`crate::webrtc_json`]), trickle ICE, the sealed data
//! channel of [`crate::data`] and audio/video tracks protected with the
//! [`CallKeys`] of [`crate::media`].
//!
//! * **Negotiation.** The offerer calls [`Peer::create_offer`] (which also opens the
//!   reliable, ordered data channel `"cai"`), the answerer [`Peer::accept_offer`], the
//!   offerer [`Peer::accept_answer`]. Local ICE candidates come out of the receiver
//!   [`Peer::take_local_candidates`] returns (an empty candidate ends them, as in the
//!   browser); remote ones go into [`Peer::add_remote_candidate`]. Signaling carries both.
//! * **Data.** [`Peer::send_chat`], [`Peer::send_file`]; incoming messages, files and
//!   rejected messages are [`PeerEvent`]s. Sent messages are sized to the remote's
//!   `a=max-message-size`, capped at 256 KiB; this peer advertises 256 KiB.
//! * **Media.** Tracks added with [`Peer::add_track`] before negotiation. A frame is
//!   protected before packetisation and unprotected after depacketisation; frames under
//!   stale keys are dropped and counted ([`Peer::media_stats`]).
//! * **Status.** [`Peer::protection`] (end-to-end with the verification code, or
//!   transport-only) and [`Peer::remote_fingerprint`], the DTLS certificate fingerprint the
//!   remote actually presented.
//!
//! No STUN or TURN servers are used unless configured, and mDNS is off.

mod config;
mod tasks;
mod track;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use cai_crypto::e2e::Device;
use cai_crypto::{DataKey, SecretBytes};
use rtc::ice::mdns::MulticastDnsMode;
use rtc::ice::network_type::NetworkType;
use rtc::peer_connection::configuration::setting_engine::SctpMaxMessageSize;
use tokio::sync::{mpsc, watch};
use webrtc::data_channel::{DataChannel, RTCDataChannelInit};
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, RTCConfigurationBuilder, RTCIceServer,
    RTCStatsReportEntry, SettingEngineBuilder, StatsSelector,
};

pub use config::{
    DATA_CHANNEL_LABEL, DEFAULT_SEND_BUFFER, EVENT_QUEUE, MediaKind, PeerConfig, PeerError,
    PeerEvent, PeerState,
};
pub use track::LocalTrack;

use crate::data::{MAX_MESSAGE_SIZE_CAP, SealedChannel};
use crate::media::{CallKeys, CallProtection, MediaStats};
use crate::webrtc_json::{IceCandidateInit, SdpType, SessionDescriptionInit};

/// State shared between the peer, the connection's event handler and the reader tasks.
pub(crate) struct Shared {
    channel: Mutex<SealedChannel>,
    keys: Mutex<CallKeys>,
    data_channel: Mutex<Option<Arc<dyn DataChannel>>>,
    open: watch::Sender<bool>,
    pub(crate) events: mpsc::Sender<PeerEvent>,
    pub(crate) candidates: mpsc::UnboundedSender<IceCandidateInit>,
    pub(crate) tap: bool,
}

impl Shared {
    /// The channel state. Held only for synchronous sealing or opening, never across an
    /// await.
    pub(crate) fn channel(&self) -> MutexGuard<'_, SealedChannel> {
        self.channel.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The media keys, under the same rule.
    pub(crate) fn keys(&self) -> MutexGuard<'_, CallKeys> {
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn set_data_channel(&self, dc: Arc<dyn DataChannel>) {
        *self
            .data_channel
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(dc);
        self.open.send_replace(true);
    }

    pub(crate) fn clear_data_channel(&self) {
        self.data_channel
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        self.open.send_replace(false);
    }

    fn data_channel(&self) -> Option<Arc<dyn DataChannel>> {
        self.data_channel
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// One participant's WebRTC connection to another.
pub struct Peer {
    pc: Arc<dyn PeerConnection>,
    shared: Arc<Shared>,
    events: tokio::sync::Mutex<mpsc::Receiver<PeerEvent>>,
    candidates: Mutex<Option<mpsc::UnboundedReceiver<IceCandidateInit>>>,
    open: watch::Receiver<bool>,
    /// Serialises sealing and sending, so sequence numbers reach the wire in order.
    send: tokio::sync::Mutex<bool>,
}

impl core::fmt::Debug for Peer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Peer")
            .field("open", &*self.open.borrow())
            .finish_non_exhaustive()
    }
}

impl Peer {
    /// A peer sealing its data channel as `config` says and protecting media with `keys`.
    /// Binds its UDP sockets at once.
    pub async fn new(config: PeerConfig, keys: CallKeys) -> Result<Self, PeerError> {
        let mut limits = config.limits;
        limits.max_message_size = limits.max_message_size.min(MAX_MESSAGE_SIZE_CAP);
        let mut channel = SealedChannel::new(config.channel, &config.data_key, limits)?;
        if let Some(remote) = config.remote_index {
            channel.expect_remote(remote);
        }
        let (events_tx, events_rx) = mpsc::channel(EVENT_QUEUE);
        let (cand_tx, cand_rx) = mpsc::unbounded_channel();
        let (open_tx, open_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            channel: Mutex::new(channel),
            keys: Mutex::new(keys),
            data_channel: Mutex::new(None),
            open: open_tx,
            events: events_tx,
            candidates: cand_tx,
            tap: config.tap_transport_frames,
        });

        let mut media = MediaEngine::default();
        media.register_default_codecs()?;
        let settings = SettingEngineBuilder::new()
            .with_multicast_dns_mode(MulticastDnsMode::Disabled)
            .with_network_types(vec![NetworkType::Udp4, NetworkType::Udp6])
            .with_sctp_max_message_size(SctpMaxMessageSize::Bounded(MAX_MESSAGE_SIZE_CAP as u32))
            .build();
        let ice_servers = if config.ice_servers.is_empty() {
            Vec::new()
        } else {
            vec![RTCIceServer {
                urls: config.ice_servers,
                ..Default::default()
            }]
        };
        let rtc_config = RTCConfigurationBuilder::default()
            .with_ice_servers(ice_servers)
            .build();
        let pc = PeerConnectionBuilder::new()
            .with_configuration(rtc_config)
            .with_media_engine(media)
            .with_setting_engine(settings)
            .with_handler(Arc::new(tasks::Handler {
                shared: shared.clone(),
            }))
            .with_udp_addrs(config.udp_addrs)
            .with_data_channel_send_buffer_limit(config.send_buffer)
            .build()
            .await?;
        Ok(Self {
            pc: Arc::new(pc),
            shared,
            events: tokio::sync::Mutex::new(events_rx),
            candidates: Mutex::new(Some(cand_rx)),
            open: open_rx,
            send: tokio::sync::Mutex::new(false),
        })
    }

    /// The receiver of this peer's local ICE candidates, to pass to signaling; an empty
    /// `candidate` marks the end. `None` after the first call.
    pub fn take_local_candidates(&self) -> Option<mpsc::UnboundedReceiver<IceCandidateInit>> {
        self.candidates
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Offerer: opens the data channel and makes the offer (already set as the local
    /// description).
    pub async fn create_offer(&self) -> Result<SessionDescriptionInit, PeerError> {
        let init = RTCDataChannelInit {
            ordered: true,
            ..Default::default()
        };
        let dc = self
            .pc
            .create_data_channel(DATA_CHANNEL_LABEL, Some(init))
            .await?;
        tokio::spawn(tasks::read_data_channel(dc, self.shared.clone()));
        let offer = self.pc.create_offer(None).await?;
        self.pc.set_local_description(offer.clone()).await?;
        config::from_rtc_description(offer)
    }

    /// Answerer: takes the remote offer and returns the answer (already set as the local
    /// description). Fails with [`PeerError::Negotiation`] for anything but an offer.
    pub async fn accept_offer(
        &self,
        offer: &SessionDescriptionInit,
    ) -> Result<SessionDescriptionInit, PeerError> {
        if offer.sdp_type != SdpType::Offer {
            return Err(PeerError::Negotiation {
                what: "remote description",
                reason: "expected an offer",
            });
        }
        self.pc
            .set_remote_description(config::to_rtc_description(offer)?)
            .await?;
        let answer = self.pc.create_answer(None).await?;
        self.pc.set_local_description(answer.clone()).await?;
        config::from_rtc_description(answer)
    }

    /// Offerer: takes the remote answer. Fails with [`PeerError::Negotiation`] for
    /// anything but an answer.
    pub async fn accept_answer(&self, answer: &SessionDescriptionInit) -> Result<(), PeerError> {
        if answer.sdp_type != SdpType::Answer {
            return Err(PeerError::Negotiation {
                what: "remote description",
                reason: "expected an answer",
            });
        }
        self.pc
            .set_remote_description(config::to_rtc_description(answer)?)
            .await?;
        Ok(())
    }

    /// Adds a remote ICE candidate; an empty one (end of candidates) is accepted and
    /// ignored.
    pub async fn add_remote_candidate(
        &self,
        candidate: &IceCandidateInit,
    ) -> Result<(), PeerError> {
        if candidate.candidate.is_empty() {
            return Ok(());
        }
        self.pc
            .add_ice_candidate(config::to_rtc_candidate(candidate))
            .await?;
        Ok(())
    }

    /// Adds an outgoing audio or video track. Call before [`create_offer`](Self::create_offer)
    /// or [`accept_offer`](Self::accept_offer).
    pub async fn add_track(&self, kind: MediaKind) -> Result<LocalTrack, PeerError> {
        let ssrc = u32::from_be_bytes(*SecretBytes::<4>::random()?.expose_secret());
        let track = Arc::new(track::media_track(kind, ssrc)?);
        let sender = self
            .pc
            .add_track(track.clone() as Arc<dyn TrackLocal>)
            .await?;
        Ok(LocalTrack::new(
            kind,
            ssrc,
            track,
            sender,
            self.shared.clone(),
        ))
    }

    /// Waits until the data channel is open. Fails with [`PeerError::NotOpen`] if the
    /// peer is dropped meanwhile.
    pub async fn wait_data_channel_open(&self) -> Result<(), PeerError> {
        let mut open = self.open.clone();
        open.wait_for(|o| *o)
            .await
            .map_err(|_| PeerError::NotOpen)?;
        Ok(())
    }

    /// Seals and sends a chat message.
    pub async fn send_chat(&self, text: &str) -> Result<(), PeerError> {
        let mut sized = self.send.lock().await;
        let dc = self.ready(&mut sized).await?;
        let message = self.shared.channel().seal_chat(text)?;
        dc.send(BytesMut::from(&message[..])).await?;
        Ok(())
    }

    /// Offers and sends a file in chunks; returns its file id. Waits while the send buffer
    /// ([`PeerConfig::send_buffer`]) is full. Other sends wait until the file is through.
    pub async fn send_file(&self, name: &str, mime: &str, data: Bytes) -> Result<u32, PeerError> {
        let mut sized = self.send.lock().await;
        let dc = self.ready(&mut sized).await?;
        let (offer, mut file) = self.shared.channel().offer_file(name, mime, data)?;
        dc.send(BytesMut::from(&offer[..])).await?;
        loop {
            let next = self.shared.channel().seal_next_chunk(&mut file);
            let Some(chunk) = next else { break };
            dc.send(BytesMut::from(&chunk?[..])).await?;
        }
        Ok(file.offer().file_id)
    }

    /// Sends bytes as they are on the data channel: for tests of receivers and for
    /// benchmarks. Nothing is sealed.
    pub async fn send_raw(&self, message: &[u8]) -> Result<(), PeerError> {
        let mut sized = self.send.lock().await;
        let dc = self.ready(&mut sized).await?;
        dc.send(BytesMut::from(message)).await?;
        Ok(())
    }

    /// Seals with this peer's channel state without sending (its sequence number is
    /// used up): with [`send_raw`](Self::send_raw), lets tests craft boundary messages.
    pub fn with_channel<R>(&self, f: impl FnOnce(&mut SealedChannel) -> R) -> R {
        f(&mut self.shared.channel())
    }

    /// The open data channel, with the send size set from the negotiated
    /// max-message-size on first use.
    async fn ready(&self, sized: &mut bool) -> Result<Arc<dyn DataChannel>, PeerError> {
        let dc = self.shared.data_channel().ok_or(PeerError::NotOpen)?;
        if !*sized {
            let sctp = self.pc.sctp().await.ok_or(PeerError::NotOpen)?;
            let negotiated = sctp.max_message_size().await? as usize;
            self.shared.channel().set_send_limit(negotiated)?;
            *sized = true;
        }
        Ok(dc)
    }

    /// The size of messages this peer sends (after the data channel was first used).
    pub fn send_message_size(&self) -> usize {
        self.shared.channel().send_limit()
    }

    /// The next event; `None` once the peer is closed and every event was taken.
    pub async fn next_event(&self) -> Option<PeerEvent> {
        self.events.lock().await.recv().await
    }

    /// How the call is protected (R-E5).
    pub fn protection(&self) -> CallProtection {
        self.shared.keys().protection()
    }

    /// Frame counters.
    pub fn media_stats(&self) -> MediaStats {
        self.shared.keys().stats()
    }

    /// Moves a session-key call and the data channel to `data_key`'s epoch with the new
    /// roster (see [`CallKeys::rekey_session`], [`SealedChannel::rekey`]).
    pub fn rekey_session(&self, data_key: &DataKey, roster: &[u16]) -> Result<(), PeerError> {
        self.shared.keys().rekey_session(data_key, roster)?;
        self.shared.channel().rekey(data_key)?;
        Ok(())
    }

    /// Moves an end-to-end call to the current epoch of `device`'s group: media keys from
    /// the MLS exporter, the data channel to the epoch's content key.
    pub fn rekey_end_to_end(&self, device: &Device, group_id: &[u8]) -> Result<(), PeerError> {
        self.shared.keys().rekey_end_to_end(device)?;
        let epoch = device.epoch(group_id)?;
        let keys =
            device
                .epoch_keys(group_id, epoch)?
                .ok_or(cai_crypto::Error::EpochUnavailable {
                    epoch,
                    reason: "the current epoch's keys are missing",
                })?;
        self.shared.channel().rekey(keys.content_key())?;
        Ok(())
    }

    /// The SHA-256 fingerprint of the DTLS certificate the remote presented
    /// (`"sha-256 AB:CD:…"` as in SDP), once the handshake completed.
    pub async fn remote_fingerprint(&self) -> Option<String> {
        let report = self.pc.get_stats(Instant::now(), StatsSelector::None).await;
        let id = report.iter().find_map(|entry| match entry {
            RTCStatsReportEntry::Transport(t) if !t.remote_certificate_id.is_empty() => {
                Some(t.remote_certificate_id.clone())
            }
            _ => None,
        })?;
        report.iter().find_map(|entry| match entry {
            RTCStatsReportEntry::Certificate(c) if c.stats.id == id => {
                Some(format!("{} {}", c.fingerprint_algorithm, c.fingerprint))
            }
            _ => None,
        })
    }

    /// Closes the connection; events already queued can still be taken.
    pub async fn close(&self) -> Result<(), PeerError> {
        if let Some(dc) = self.shared.data_channel() {
            let _ = dc.close().await;
        }
        self.pc.close().await?;
        Ok(())
    }
}
