//! A call from a Rust participant's side: the glue between a [`SignalingChannel`] and one
//! [`Peer`] per other participant, following `docs/SIGNALING.md` (§6, "Rust client").
//!
//! [`Call::join`] sends `join` and waits for `admitted` (through `waiting` in a room's
//! lobby); a `denied` is [`CallError::Denied`]. Then the call runs on its own task:
//!
//! * **The newcomer offers.** One [`Peer`] per participant already in the call, each sent
//!   an `offer`; members already in the call answer the offers of those who join later.
//!   Candidates trickle both ways as `ice`.
//! * **Signed descriptions.** In end-to-end sessions every offer and answer is signed with
//!   this device's key ([`DescriptionKeys`]), and a remote description is used only if
//!   it verifies under a device key of the participant who sent it
//!   ([`RemoteDeviceKeys`]). The fingerprints the signature covers are kept.
//! * **The DTLS fingerprint check (ASVS V17).** When a connection comes up, and before any
//!   of its chat, files or frames are reported, the certificate fingerprint the peer
//!   actually saw ([`Peer::remote_fingerprint`]) must match the remote's (signed)
//!   description ([`check_fingerprint`](crate::signaling::check_fingerprint)). A mismatch
//!   closes that connection and is reported as [`CallError::Fingerprint`].
//! * **Roster and keys.** `peer_left` closes that connection; `key_epoch` is reported, and
//!   in end-to-end calls the media keys move at once if the device has processed that
//!   epoch (otherwise call [`Call::rekey_end_to_end`] after it has). Outside end-to-end
//!   mode the host fetches the new epoch's key (cai-core's `session_keys`) and calls
//!   [`Call::rekey_session`]; [`Call::key_epoch`] says which epoch the call has.
//! * **Keep-alive.** Whenever the call has sent nothing for [`CallSetup::keep_alive`]
//!   (20 s by default) it sends `ping`, so the hub's idle timeout does not end it.
//! * **Events** come out of [`Call::next_event`] in order per connection ([`CallEvent`]);
//!   MLS messages from the server are passed on as [`CallEvent::Mls`] and the host sends
//!   its own with [`Call::send`].
//!
//! Renegotiation (a second offer on a connection) and media tracks are not handled here:
//! a second offer from a peer is refused, and tracks can be added to a [`Peer`] the host
//! builds itself.

mod driver;
mod link;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cai_core::id::{SessionId, SubjectId};
use cai_crypto::e2e::Device;
use cai_crypto::{DataKey, ModeBinding};
use ed25519_dalek::{SigningKey, VerifyingKey};
use tokio::sync::mpsc;

use crate::data::{DataError, DataLimits, ReceivedFile, wire::FileOffer};
use crate::media::{CallProtection, FrameDropped, UnprotectedFrame};
use crate::peer::{EVENT_QUEUE, LocalTrack, MediaKind, Peer, PeerError};
use crate::signaling::limits::KEEP_ALIVE_INTERVAL;
use crate::signaling::{
    Admitted, ChannelError, ClientBody, ClientMessage, DenyReason, DescriptionError, EndReason,
    ErrorCode, Fingerprint, FingerprintError, Frame, Join, JoinAuth, PeerInfo, SenderIndex,
    ServerMessage, SignalingChannel, SignalingError,
};

use driver::{Inner, KeyState, Outbound};

/// Where a participant's data-channel and media keys come from.
pub enum CallKeySource {
    /// Modes other than end to end: the current key epoch's key as cai-core's
    /// `session_keys` hands it out — the call key in server-managed sessions
    /// (`SessionKeyMaterial::ServerSealed { call_key }`), the session's data key in
    /// session-key and passphrase sessions. Media keys are derived per sender
    /// (`docs/SFRAME.md` §3a).
    Session(DataKey),
    /// End-to-end mode: this participant's MLS device and the session's group. The data
    /// channel is sealed with the epoch's content key, media keys come from the exporter.
    EndToEnd {
        /// The device; the host processes MLS handshakes on it too.
        device: Arc<Mutex<Device>>,
        /// The session's group id.
        group_id: Vec<u8>,
    },
}

/// The device keys of other participants, to verify their signed descriptions.
pub trait RemoteDeviceKeys: Send + Sync {
    /// The description-signing keys of `participant`'s devices (the signature keys of
    /// their MLS credentials); empty if none is known.
    fn device_keys(&self, participant: &SubjectId) -> Vec<VerifyingKey>;
}

/// Signing and verifying session descriptions (required in end-to-end sessions).
pub struct DescriptionKeys {
    /// This device's signing key.
    pub signing: SigningKey,
    /// The others' keys.
    pub remote: Arc<dyn RemoteDeviceKeys>,
}

/// How to take part in a call.
pub struct CallSetup {
    /// The tenant id bound into every data-channel message (as in the session's items).
    pub tenant: Vec<u8>,
    /// The session's mode binding, if it has a signed mode descriptor.
    pub mode: Option<ModeBinding>,
    /// The keys.
    pub keys: CallKeySource,
    /// Description signatures; must be present for an end-to-end session.
    pub signing: Option<DescriptionKeys>,
    /// Receive limits of every data channel.
    pub limits: DataLimits,
    /// Local UDP addresses for host candidates (default: every interface).
    pub udp_addrs: Vec<String>,
    /// STUN/TURN server URLs (default: none).
    pub ice_servers: Vec<String>,
    /// Outgoing tracks every connection gets (before it negotiates), for
    /// [`Call::tracks`].
    pub tracks: Vec<MediaKind>,
    /// Reports received media frames before SFrame unprotect as
    /// [`CallEvent::TransportFrame`] (diagnostics and tests; see
    /// [`PeerConfig::tap_transport_frames`](crate::peer::PeerConfig::tap_transport_frames)).
    pub tap_transport_frames: bool,
    /// Called when the server puts the join in a room's lobby (`waiting`).
    pub on_waiting: Option<Box<dyn FnOnce(SessionId) + Send>>,
    /// Once in the call, a `ping` goes to the server whenever nothing was sent for this
    /// long, so the hub's idle timeout (`HubConfig::idle_timeout`, 60 s by default) does
    /// not end a quiet call. Default [`KEEP_ALIVE_INTERVAL`] (20 s); taken as at least
    /// one second. Keep it well below the hub's idle timeout.
    pub keep_alive: Duration,
}

impl CallSetup {
    /// A setup with default limits, every interface, no ICE servers and no signing.
    pub fn new(tenant: impl Into<Vec<u8>>, keys: CallKeySource) -> Self {
        Self {
            tenant: tenant.into(),
            mode: None,
            keys,
            signing: None,
            limits: DataLimits::default(),
            udp_addrs: vec!["0.0.0.0:0".to_owned()],
            ice_servers: Vec::new(),
            tracks: Vec::new(),
            tap_transport_frames: false,
            on_waiting: None,
            keep_alive: KEEP_ALIVE_INTERVAL,
        }
    }

    /// Signs and verifies descriptions with `keys`.
    pub fn with_signing(mut self, keys: DescriptionKeys) -> Self {
        self.signing = Some(keys);
        self
    }

    /// Only UDP on 127.0.0.1, no STUN or TURN: for tests and benchmarks.
    pub fn loopback_only(mut self) -> Self {
        self.udp_addrs = vec!["127.0.0.1:0".to_owned()];
        self.ice_servers.clear();
        self
    }
}

/// What a [`Call`] reports. `peer` is the other participant's sender index.
#[derive(Debug)]
#[non_exhaustive]
pub enum CallEvent {
    /// A participant joined the call; it will send an offer.
    PeerJoined(PeerInfo),
    /// The connection to `peer` is up, its DTLS certificate matched its description, and
    /// its data channel is open.
    PeerConnected {
        /// The peer.
        peer: SenderIndex,
        /// The certificate fingerprint seen in the handshake.
        fingerprint: Fingerprint,
        /// How the connection's media is protected, with the verification code (R-E5).
        protection: CallProtection,
    },
    /// A participant left; its connection is closed.
    PeerLeft {
        /// The peer.
        peer: SenderIndex,
    },
    /// A chat message.
    Chat {
        /// The peer.
        peer: SenderIndex,
        /// The text.
        text: String,
    },
    /// A file was offered; [`CallEvent::File`] follows when it is complete.
    FileOffered {
        /// The peer.
        peer: SenderIndex,
        /// Name, type, size, hash.
        offer: FileOffer,
    },
    /// A file arrived whole and matches its hash.
    File {
        /// The peer.
        peer: SenderIndex,
        /// The file.
        file: ReceivedFile,
    },
    /// A decrypted media frame.
    Frame {
        /// The peer.
        peer: SenderIndex,
        /// Audio or video.
        kind: MediaKind,
        /// The frame.
        frame: UnprotectedFrame,
    },
    /// A received media frame before SFrame unprotect (only with
    /// [`CallSetup::tap_transport_frames`]).
    TransportFrame {
        /// The peer.
        peer: SenderIndex,
        /// Audio or video.
        kind: MediaKind,
        /// What the transport carried.
        payload: Vec<u8>,
    },
    /// A media frame was dropped.
    FrameDropped {
        /// The peer.
        peer: SenderIndex,
        /// Audio or video.
        kind: MediaKind,
        /// Why.
        dropped: FrameDropped,
    },
    /// A data-channel message was refused; the channel stays open.
    DataRejected {
        /// The peer.
        peer: SenderIndex,
        /// Why.
        error: DataError,
    },
    /// The session's key epoch changed (`key_epoch`).
    KeyEpoch {
        /// The new epoch.
        epoch: u32,
    },
    /// The call's media moved to new keys; the protection (and verification code) now.
    Protection(CallProtection),
    /// An MLS message from the server (`mls_stored`, `mls_claimed`, `mls_epoch`), for the
    /// host's device.
    Mls(ServerMessage),
    /// Something failed; `peer` names the connection concerned, if one is.
    Error {
        /// The peer.
        peer: Option<SenderIndex>,
        /// What.
        error: CallError,
    },
    /// The call is over: `Some` when the server ended it, `None` when the connection
    /// closed or [`Call::leave`] was called. No event follows.
    Ended(Option<EndReason>),
}

/// Why joining, or something in a call, failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The server refused the join. The connection is closed; join again on a new one.
    #[error("join denied: {reason:?}")]
    Denied {
        /// Why.
        reason: DenyReason,
        /// For `too_many_requests`: when to try again.
        retry_after_ms: Option<u64>,
    },
    /// The server refused a message (`error`).
    #[error("refused by the server: {code:?}")]
    Refused {
        /// The error code.
        code: ErrorCode,
        /// The field at fault, if one is.
        field: Option<String>,
    },
    /// The signaling connection closed.
    #[error("the signaling connection closed")]
    Closed,
    /// The signaling transport failed.
    #[error(transparent)]
    Transport(#[from] ChannelError),
    /// The server sent something the client cannot read.
    #[error(transparent)]
    Signaling(#[from] SignalingError),
    /// A message arrived that the protocol does not allow at this point.
    #[error("unexpected signaling message: {0}")]
    Unexpected(&'static str),
    /// The keys or signing of the setup do not fit the session's mode (end-to-end keys and
    /// signing exactly in end-to-end sessions).
    #[error("the call setup does not fit the session's mode")]
    ModeMismatch,
    /// A session key (modes other than end to end) of the wrong key epoch: at
    /// [`Call::join`] it must be of the session's current epoch (`admitted.key_epoch`;
    /// fetch that epoch's key and join again), for [`Call::rekey_session`] above the
    /// call's epoch (or the very key the call has). Nothing changed.
    #[error("session key of epoch {given} does not fit the call's key epoch {call}")]
    KeyEpoch {
        /// The call's key epoch.
        call: u32,
        /// The epoch of the key given.
        given: u32,
    },
    /// A remote description was refused: its signature does not verify under the
    /// sender's device keys, or its fingerprints are unusable.
    #[error("remote description refused: {0}")]
    Description(#[from] DescriptionError),
    /// No device key is known for the participant who signed a description.
    #[error("no device key known for the sender")]
    UnknownDeviceKey,
    /// The certificate the peer presented does not match its description (ASVS V17); the
    /// connection is closed.
    #[error("DTLS certificate check failed: {0}")]
    Fingerprint(#[from] FingerprintError),
    /// The connection to the peer failed (ICE or DTLS, for example a certificate that
    /// the `webrtc` stack's own fingerprint check refused); it is closed.
    #[error("the connection to the peer failed")]
    ConnectionFailed,
    /// No (checked) connection to that peer, or, for `send_chat`, to any peer.
    #[error("no connection to that peer")]
    NoPeer,
    /// The peer failed.
    #[error(transparent)]
    Peer(#[from] PeerError),
    /// Key material failed.
    #[error("keys: {0}")]
    Crypto(#[from] cai_crypto::Error),
}

/// A participant's part in a call. Dropping it leaves the call.
pub struct Call {
    admitted: Admitted,
    inner: Arc<Inner>,
    events: tokio::sync::Mutex<mpsc::Receiver<CallEvent>>,
    ended: std::sync::atomic::AtomicBool,
}

impl core::fmt::Debug for Call {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Call")
            .field("session", &self.admitted.session)
            .field("call", &self.admitted.call)
            .field("sender_index", &self.admitted.sender_index)
            .field("end_to_end", &self.admitted.end_to_end)
            .finish_non_exhaustive()
    }
}

impl Call {
    /// Joins a session's call over `channel`: sends `join` with `auth`, waits for
    /// `admitted` (through `waiting`, see [`CallSetup::on_waiting`]) and starts offering
    /// to the participants already in the call.
    ///
    /// Fails with [`CallError::Denied`] for `denied`, [`CallError::Refused`] for an
    /// `error`, and with the transport's errors. Once `admitted` has come, two checks of
    /// the setup follow, before any peer connection is made:
    ///
    /// * [`CallError::ModeMismatch`] when the setup's keys or signing do not fit the
    ///   session's mode;
    /// * [`CallError::KeyEpoch`]` { call, given }` when a [`CallKeySource::Session`] key's
    ///   epoch (`given`) is not the session's current one (`call`, `admitted.key_epoch`):
    ///   the session moved to a new key epoch since the key was fetched.
    ///   Fetch the key again (cai-core's `session_keys`) and join again on a new
    ///   connection.
    ///
    /// Both refusals come after the server admitted the join, so they cost what a join
    /// costs: the server has handed out a sender index (never handed out again in this
    /// call) and counted one of the participant's joins
    /// ([`HubConfig::max_joins_per_participant`](crate::signaling::HubConfig::max_joins_per_participant),
    /// `call_full` beyond), and the others saw `peer_joined`, then `peer_left`. On any
    /// failure the channel is closed (the server then takes this participant out of the
    /// call).
    pub async fn join<C>(
        mut channel: C,
        auth: JoinAuth,
        setup: CallSetup,
    ) -> Result<Self, CallError>
    where
        C: SignalingChannel + 'static,
    {
        let result = Self::admit(&mut channel, auth, setup).await;
        match result {
            Ok((admitted, setup)) => Ok(Self::start(channel, admitted, setup)),
            Err(e) => {
                channel.close().await;
                Err(e)
            }
        }
    }

    async fn admit<C: SignalingChannel>(
        channel: &mut C,
        auth: JoinAuth,
        mut setup: CallSetup,
    ) -> Result<(Admitted, CallSetup), CallError> {
        let join = ClientMessage {
            id: Some(1),
            body: ClientBody::Join(Join { auth }),
        };
        channel.send(join.to_json()).await?;
        let admitted = loop {
            match read(channel).await? {
                ServerMessage::Admitted(a) => break a,
                ServerMessage::Waiting { session } => {
                    if let Some(f) = setup.on_waiting.take() {
                        f(session);
                    }
                }
                ServerMessage::Denied {
                    reason,
                    retry_after_ms,
                    ..
                } => {
                    return Err(CallError::Denied {
                        reason,
                        retry_after_ms,
                    });
                }
                ServerMessage::Error { code, field, .. } => {
                    return Err(CallError::Refused { code, field });
                }
                _ => return Err(CallError::Unexpected("before admitted")),
            }
        };
        let e2e_keys = matches!(setup.keys, CallKeySource::EndToEnd { .. });
        if admitted.end_to_end != e2e_keys || (admitted.end_to_end && setup.signing.is_none()) {
            return Err(CallError::ModeMismatch);
        }
        if let CallKeySource::Session(key) = &setup.keys
            && key.epoch().0 != admitted.key_epoch
        {
            // The others seal under the session's current epoch: with another key
            // nothing would open, in either direction.
            return Err(CallError::KeyEpoch {
                call: admitted.key_epoch,
                given: key.epoch().0,
            });
        }
        Ok((admitted, setup))
    }

    fn start<C: SignalingChannel + 'static>(
        channel: C,
        admitted: Admitted,
        setup: CallSetup,
    ) -> Self {
        let (events_tx, events_rx) = mpsc::channel(EVENT_QUEUE);
        let (out_tx, out_rx) = mpsc::unbounded_channel();
        let keys = match setup.keys {
            CallKeySource::Session(key) => KeyState::Session(key),
            CallKeySource::EndToEnd { device, group_id } => KeyState::EndToEnd { device, group_id },
        };
        let inner = Arc::new(Inner {
            session: admitted.session,
            call: admitted.call,
            own: admitted.sender_index,
            tenant: setup.tenant,
            mode: setup.mode,
            limits: setup.limits,
            udp_addrs: setup.udp_addrs,
            ice_servers: setup.ice_servers,
            tracks: setup.tracks,
            tap: setup.tap_transport_frames,
            signing: setup.signing,
            keys: Mutex::new(keys),
            links: Mutex::default(),
            roster: Mutex::new(
                admitted
                    .peers
                    .iter()
                    .map(|p| (p.sender_index, p.participant))
                    .collect(),
            ),
            events: events_tx,
            out: out_tx,
        });
        tokio::spawn(driver::run(
            inner.clone(),
            channel,
            out_rx,
            admitted.peers.clone(),
            setup.keep_alive.max(Duration::from_secs(1)),
        ));
        Self {
            admitted,
            inner,
            events: tokio::sync::Mutex::new(events_rx),
            ended: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The server's `admitted`: this participant's sender index, the session's mode and
    /// the R-E5 indicator, the key epoch at joining.
    pub fn admitted(&self) -> &Admitted {
        &self.admitted
    }

    /// The next event; `None` after [`CallEvent::Ended`].
    pub async fn next_event(&self) -> Option<CallEvent> {
        use std::sync::atomic::Ordering;
        let mut events = self.events.lock().await;
        if self.ended.load(Ordering::Acquire) {
            return None;
        }
        let event = events.recv().await;
        if matches!(event, Some(CallEvent::Ended(_)) | None) {
            self.ended.store(true, Ordering::Release);
        }
        event
    }

    /// The connection to `peer`, if there is one (for tracks, stats, raw sends).
    pub fn peer(&self, peer: SenderIndex) -> Option<Arc<Peer>> {
        self.inner.link(peer).map(|l| l.peer.clone())
    }

    /// The outgoing tracks of the connection to `peer` ([`CallSetup::tracks`]).
    pub fn tracks(&self, peer: SenderIndex) -> Vec<Arc<LocalTrack>> {
        self.inner
            .link(peer)
            .map(|l| l.tracks.clone())
            .unwrap_or_default()
    }

    /// The sender indices of the peers with a connection.
    pub fn peers(&self) -> Vec<SenderIndex> {
        self.inner.link_indices()
    }

    /// Sends a chat message to every connected peer whose certificate was checked and
    /// returns to how many it went. With no such peer (nobody else in the call yet, or
    /// checks still running) it is [`CallError::NoPeer`], so a message is never dropped
    /// without the caller knowing. Fails with the first peer's error; the others still
    /// get it.
    pub async fn send_chat(&self, text: &str) -> Result<usize, CallError> {
        let (mut sent, mut first) = (0, None);
        for link in self.inner.verified_links() {
            match link.peer.send_chat(text).await {
                Ok(()) => sent += 1,
                Err(e) => {
                    first.get_or_insert(e);
                }
            }
        }
        match first {
            Some(e) => Err(e.into()),
            None if sent == 0 => Err(CallError::NoPeer),
            None => Ok(sent),
        }
    }

    /// Sends a file to `peer` (once its certificate was checked); returns the file id.
    pub async fn send_file(
        &self,
        peer: SenderIndex,
        name: &str,
        mime: &str,
        data: bytes::Bytes,
    ) -> Result<u32, CallError> {
        let link = self
            .inner
            .link(peer)
            .filter(|l| l.is_verified())
            .ok_or(CallError::NoPeer)?;
        Ok(link.peer.send_file(name, mime, data).await?)
    }

    /// Sends a message to the server (the host's MLS messages). Fails with
    /// [`CallError::Closed`] once the call is over.
    pub fn send(&self, body: ClientBody) -> Result<(), CallError> {
        self.inner
            .out
            .send(Outbound::Send(body))
            .map_err(|_| CallError::Closed)
    }

    /// The epoch of the session key the call uses now (modes other than end to end):
    /// `admitted.key_epoch` at first, then that of the last key
    /// [`rekey_session`](Self::rekey_session) moved to. A [`CallEvent::KeyEpoch`] at or
    /// below it needs no new key. `None` in an end-to-end call, whose keys follow the
    /// device's MLS epoch.
    pub fn key_epoch(&self) -> Option<u32> {
        self.inner.session_key_epoch()
    }

    /// Moves every connection to `data_key`'s epoch (modes other than end to end, after
    /// [`CallEvent::KeyEpoch`]); later connections start with it, and the move is
    /// reported as [`CallEvent::Protection`].
    ///
    /// The key the call already has (same id, epoch and secret) is accepted and changes
    /// nothing, without an event: a `key_epoch` can name the epoch the call is in (one
    /// that came twice, or a move the join already saw in `admitted.key_epoch`), and
    /// rekeying on every `key_epoch` is then harmless. Fails with [`CallError::KeyEpoch`]
    /// (changing nothing) for any other key whose epoch is not above the call's — a lower
    /// epoch, or another key at the same epoch — and with [`CallError::ModeMismatch`] in
    /// an end-to-end call.
    pub async fn rekey_session(&self, data_key: &DataKey) -> Result<(), CallError> {
        self.inner.rekey_session(data_key).await
    }

    /// Moves every connection to the device's current epoch (end-to-end mode), after the
    /// device processed an epoch that `key_epoch` announced earlier. Connections already
    /// in that epoch are left as they are.
    pub async fn rekey_end_to_end(&self) -> Result<(), CallError> {
        self.inner.rekey_end_to_end().await
    }

    /// Leaves the call: sends `leave`, closes every connection and the channel;
    /// [`CallEvent::Ended`]`(None)` follows.
    pub fn leave(&self) {
        let _ = self.inner.out.send(Outbound::Leave);
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        self.leave();
    }
}

/// The next server message, skipping nothing.
async fn read<C: SignalingChannel>(channel: &mut C) -> Result<ServerMessage, CallError> {
    match channel.recv().await {
        Some(Ok(Frame::Text(bytes))) => Ok(ServerMessage::parse(&bytes)?),
        Some(Ok(_)) => Err(CallError::Unexpected("a non-text frame")),
        Some(Err(e)) => Err(e.into()),
        None => Err(CallError::Closed),
    }
}
