//! The call's task: reads server messages, writes what the call sends (descriptions,
//! candidates, `leave`, the host's MLS messages) and keeps one [`Link`] per peer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use cai_core::id::{SessionId, SubjectId};
use cai_crypto::e2e::Device;
use cai_crypto::sframe::CallId;
use cai_crypto::{DataKey, ModeBinding};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::link::{self, Link};
use super::{CallError, CallEvent, DescriptionKeys, read};
use crate::data::{ChannelContext, DataLimits};
use crate::media::CallKeys;
use crate::peer::{MediaKind, Peer, PeerConfig};
use crate::signaling::{
    Blob, ClientBody, ClientMessage, DescriptionFrom, DescriptionRoute, DescriptionTo, Fingerprint,
    IceFrom, IceTo, PeerInfo, SenderIndex, ServerMessage, SignalingChannel, sdp_fingerprints,
    sign_description, verify_description,
};
use crate::webrtc_json::SessionDescriptionInit;

/// What the call sends.
pub(crate) enum Outbound {
    Send(ClientBody),
    Leave,
}

/// The keys new connections start with.
pub(crate) enum KeyState {
    Session(DataKey),
    EndToEnd {
        device: Arc<Mutex<Device>>,
        group_id: Vec<u8>,
    },
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// State shared by the [`Call`](super::Call), its task and the links' tasks.
pub(crate) struct Inner {
    pub(crate) session: SessionId,
    /// The call instance (`admitted.call`): bound into the session media keys.
    pub(crate) call: CallId,
    pub(crate) own: SenderIndex,
    pub(crate) tenant: Vec<u8>,
    pub(crate) mode: Option<ModeBinding>,
    pub(crate) limits: DataLimits,
    pub(crate) udp_addrs: Vec<String>,
    pub(crate) ice_servers: Vec<String>,
    pub(crate) tracks: Vec<MediaKind>,
    pub(crate) tap: bool,
    pub(crate) signing: Option<DescriptionKeys>,
    pub(crate) keys: Mutex<KeyState>,
    pub(crate) links: Mutex<HashMap<SenderIndex, Arc<Link>>>,
    pub(crate) roster: Mutex<HashMap<SenderIndex, SubjectId>>,
    pub(crate) events: mpsc::Sender<CallEvent>,
    pub(crate) out: mpsc::UnboundedSender<Outbound>,
}

impl Inner {
    pub(crate) fn link(&self, peer: SenderIndex) -> Option<Arc<Link>> {
        lock(&self.links).get(&peer).cloned()
    }

    pub(crate) fn link_indices(&self) -> Vec<SenderIndex> {
        let mut v: Vec<_> = lock(&self.links).keys().copied().collect();
        v.sort_unstable();
        v
    }

    /// The session key's epoch; `None` in an end-to-end call.
    pub(crate) fn session_key_epoch(&self) -> Option<u32> {
        match &*lock(&self.keys) {
            KeyState::Session(key) => Some(key.epoch().0),
            KeyState::EndToEnd { .. } => None,
        }
    }

    pub(crate) fn verified_links(&self) -> Vec<Arc<Link>> {
        lock(&self.links)
            .values()
            .filter(|l| l.is_verified())
            .cloned()
            .collect()
    }

    pub(crate) async fn emit(&self, event: CallEvent) {
        // The receiver is gone only when the Call was dropped: nothing left to tell.
        let _ = self.events.send(event).await;
    }

    async fn error(&self, peer: Option<SenderIndex>, error: CallError) {
        self.emit(CallEvent::Error { peer, error }).await;
    }

    fn send(&self, body: ClientBody) {
        let _ = self.out.send(Outbound::Send(body));
    }

    /// Removes and closes the connection to `peer` (if it is still `link`, when given).
    pub(crate) async fn drop_link(&self, peer: SenderIndex, only: Option<&Arc<Link>>) {
        let removed = {
            let mut links = lock(&self.links);
            match (links.get(&peer), only) {
                (Some(l), Some(only)) if !Arc::ptr_eq(l, only) => None,
                _ => links.remove(&peer),
            }
        };
        if let Some(l) = removed {
            l.shut().await;
        }
    }

    /// A new connection to `peer` with the current keys, registered, its events
    /// forwarded.
    async fn new_link(self: &Arc<Self>, peer: SenderIndex) -> Result<Arc<Link>, CallError> {
        let session = self.session.to_string();
        let (data_key, keys) = match &*lock(&self.keys) {
            KeyState::Session(key) => (
                key.clone(),
                CallKeys::session(&session, &self.call, key, self.own, &[self.own, peer])?,
            ),
            KeyState::EndToEnd { device, group_id } => {
                let device = lock(device);
                let epoch = device.epoch(group_id)?;
                let content = device
                    .epoch_keys(group_id, epoch)?
                    .ok_or(cai_crypto::Error::EpochUnavailable {
                        epoch,
                        reason: "the current epoch's keys are missing",
                    })?
                    .content_key()
                    .clone();
                (content, CallKeys::end_to_end(&device, group_id)?)
            }
        };
        let mut config = PeerConfig::new(
            ChannelContext {
                tenant: self.tenant.clone(),
                session: session.into_bytes(),
                call: self.call,
                sender_index: self.own,
                mode: self.mode,
            },
            data_key,
        );
        config.limits = self.limits;
        config.udp_addrs = self.udp_addrs.clone();
        config.ice_servers = self.ice_servers.clone();
        config.tap_transport_frames = self.tap;
        config.remote_index = Some(peer);
        let peer_conn = Arc::new(Peer::new(config, keys).await?);
        let mut tracks = Vec::with_capacity(self.tracks.len());
        for kind in &self.tracks {
            tracks.push(Arc::new(peer_conn.add_track(*kind).await?));
        }
        let link = Arc::new(Link::new(peer_conn, tracks));
        let previous = lock(&self.links).insert(peer, link.clone());
        if let Some(previous) = previous {
            previous.shut().await;
        }
        tokio::spawn(link::forward_events(self.clone(), peer, link.clone()));
        Ok(link)
    }

    /// Trickles `link`'s local candidates to `peer` (after its description was sent).
    fn trickle(&self, peer: SenderIndex, link: &Link) {
        let Some(mut rx) = link.peer.take_local_candidates() else {
            return;
        };
        let out = self.out.clone();
        let mut stop = link.stopped();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    c = rx.recv() => match c {
                        Some(candidate) => {
                            let body = ClientBody::Ice(IceTo { to: peer, candidate });
                            if out.send(Outbound::Send(body)).is_err() {
                                break;
                            }
                        }
                        None => break,
                    },
                    _ = stop.wait_for(|s| *s) => break,
                }
            }
        });
    }

    fn route(&self, from: SenderIndex, to: SenderIndex) -> DescriptionRoute {
        DescriptionRoute {
            session: self.session,
            from,
            to,
        }
    }

    fn sign(
        &self,
        to: SenderIndex,
        description: &SessionDescriptionInit,
    ) -> Result<Option<Blob>, CallError> {
        match &self.signing {
            Some(keys) => Ok(Some(sign_description(
                &keys.signing,
                &self.route(self.own, to),
                description,
            )?)),
            None => Ok(None),
        }
    }

    /// The fingerprints a remote description commits its sender to: verified under the
    /// sender's device keys when descriptions are signed, else read from the SDP.
    fn remote_fingerprints(&self, d: &DescriptionFrom) -> Result<Vec<Fingerprint>, CallError> {
        let Some(keys) = &self.signing else {
            return Ok(sdp_fingerprints(&d.description.sdp)?);
        };
        let participant = lock(&self.roster).get(&d.from).copied();
        let device_keys = participant
            .map(|p| keys.remote.device_keys(&p))
            .unwrap_or_default();
        if device_keys.is_empty() {
            return Err(CallError::UnknownDeviceKey);
        }
        let route = self.route(d.from, self.own);
        let mut last = None;
        for key in &device_keys {
            match verify_description(key, &route, &d.description, d.signature.as_ref()) {
                Ok(fps) => return Ok(fps),
                Err(e) => last = Some(e),
            }
        }
        Err(last.map_or(CallError::UnknownDeviceKey, CallError::Description))
    }

    /// The newcomer's offer to a participant already in the call.
    async fn offer_to(self: &Arc<Self>, peer: SenderIndex) -> Result<(), CallError> {
        let link = self.new_link(peer).await?;
        let result = async {
            let offer = link.peer.create_offer().await?;
            let signature = self.sign(peer, &offer)?;
            self.send(ClientBody::Offer(DescriptionTo {
                to: peer,
                description: offer,
                signature,
            }));
            self.trickle(peer, &link);
            Ok(())
        }
        .await;
        if result.is_err() {
            self.drop_link(peer, Some(&link)).await;
        }
        result
    }

    async fn on_offer(self: &Arc<Self>, d: DescriptionFrom) -> Result<(), CallError> {
        if self.link(d.from).is_some() {
            return Err(CallError::Unexpected("a second offer (renegotiation)"));
        }
        let expected = self.remote_fingerprints(&d)?;
        let link = self.new_link(d.from).await?;
        link.expect(expected);
        let result = async {
            let answer = link.peer.accept_offer(&d.description).await?;
            let signature = self.sign(d.from, &answer)?;
            self.send(ClientBody::Answer(DescriptionTo {
                to: d.from,
                description: answer,
                signature,
            }));
            self.trickle(d.from, &link);
            Ok(())
        }
        .await;
        if result.is_err() {
            self.drop_link(d.from, Some(&link)).await;
        }
        result
    }

    async fn on_answer(&self, d: DescriptionFrom) -> Result<(), CallError> {
        let link = self.link(d.from).ok_or(CallError::NoPeer)?;
        if link.has_remote() {
            return Err(CallError::Unexpected("a second answer"));
        }
        let checked = match self.remote_fingerprints(&d) {
            Ok(expected) => {
                link.expect(expected);
                link.peer
                    .accept_answer(&d.description)
                    .await
                    .map_err(CallError::from)
            }
            Err(e) => Err(e),
        };
        if checked.is_err() {
            // A refused answer ends this connection attempt.
            self.drop_link(d.from, Some(&link)).await;
        }
        checked
    }

    async fn on_ice(&self, ice: IceFrom) -> Result<(), CallError> {
        let Some(link) = self.link(ice.from) else {
            // Candidates of a connection refused or closed meanwhile: nothing to add to.
            tracing::debug!(peer = ice.from, "candidate for no connection dropped");
            return Ok(());
        };
        link.peer.add_remote_candidate(&ice.candidate).await?;
        Ok(())
    }

    pub(crate) async fn rekey_session(&self, data_key: &DataKey) -> Result<(), CallError> {
        let links: Vec<(SenderIndex, Arc<Link>)> = {
            let mut keys = lock(&self.keys);
            match &mut *keys {
                KeyState::Session(current) => {
                    // A repeated `key_epoch` (or one for the epoch `admitted` named) leads
                    // the host here with the key the call already has.
                    if *data_key == *current {
                        return Ok(());
                    }
                    if data_key.epoch() <= current.epoch() {
                        return Err(CallError::KeyEpoch {
                            call: current.epoch().0,
                            given: data_key.epoch().0,
                        });
                    }
                    *current = data_key.clone();
                }
                KeyState::EndToEnd { .. } => return Err(CallError::ModeMismatch),
            }
            lock(&self.links)
                .iter()
                .map(|(i, l)| (*i, l.clone()))
                .collect()
        };
        for (peer, link) in links {
            link.peer.rekey_session(data_key, &[self.own, peer])?;
        }
        self.emit(CallEvent::Protection(
            crate::media::CallProtection::TransportOnly,
        ))
        .await;
        Ok(())
    }

    pub(crate) async fn rekey_end_to_end(&self) -> Result<(), CallError> {
        let protection = {
            let keys = lock(&self.keys);
            let KeyState::EndToEnd { device, group_id } = &*keys else {
                return Err(CallError::ModeMismatch);
            };
            let device = lock(device);
            let epoch = device.epoch(group_id)?;
            let mut protection = None;
            for link in lock(&self.links).values() {
                let behind = match link.peer.protection() {
                    crate::media::CallProtection::EndToEnd { epoch: e, .. } => e < epoch,
                    crate::media::CallProtection::TransportOnly => false,
                };
                if behind {
                    link.peer.rekey_end_to_end(&device, group_id)?;
                    protection = Some(link.peer.protection());
                }
            }
            protection
        };
        if let Some(p) = protection {
            self.emit(CallEvent::Protection(p)).await;
        }
        Ok(())
    }

    /// `key_epoch`: reported; an end-to-end call follows at once if the device is there.
    async fn on_key_epoch(&self, epoch: u32) {
        self.emit(CallEvent::KeyEpoch { epoch }).await;
        let ready = match &*lock(&self.keys) {
            KeyState::EndToEnd { device, group_id } => lock(device)
                .epoch(group_id)
                .is_ok_and(|e| e >= u64::from(epoch)),
            KeyState::Session(_) => false,
        };
        if ready && let Err(e) = self.rekey_end_to_end().await {
            self.error(None, e).await;
        }
    }

    /// Handles one server message; `false` ends the call.
    async fn handle(self: &Arc<Self>, message: ServerMessage) -> bool {
        let (peer, result) = match message {
            ServerMessage::PeerJoined(info) => {
                lock(&self.roster).insert(info.sender_index, info.participant);
                self.emit(CallEvent::PeerJoined(info)).await;
                return true;
            }
            ServerMessage::PeerLeft { sender_index } => {
                lock(&self.roster).remove(&sender_index);
                self.drop_link(sender_index, None).await;
                self.emit(CallEvent::PeerLeft { peer: sender_index }).await;
                return true;
            }
            ServerMessage::Offer(d) => (Some(d.from), self.on_offer(d).await),
            ServerMessage::Answer(d) => (Some(d.from), self.on_answer(d).await),
            ServerMessage::Ice(ice) => (Some(ice.from), self.on_ice(ice).await),
            ServerMessage::KeyEpoch { epoch } => {
                self.on_key_epoch(epoch).await;
                return true;
            }
            m @ (ServerMessage::MlsStored { .. }
            | ServerMessage::MlsClaimed { .. }
            | ServerMessage::MlsEpoch(_)) => {
                self.emit(CallEvent::Mls(m)).await;
                return true;
            }
            ServerMessage::Error { code, field, .. } => {
                (None, Err(CallError::Refused { code, field }))
            }
            ServerMessage::Pong { .. } => return true,
            ServerMessage::Ended { reason } => {
                self.shut_all().await;
                self.emit(CallEvent::Ended(Some(reason))).await;
                return false;
            }
            ServerMessage::Admitted(_)
            | ServerMessage::Waiting { .. }
            | ServerMessage::Denied { .. } => (
                None,
                Err(CallError::Unexpected("a join answer while in the call")),
            ),
        };
        if let Err(e) = result {
            self.error(peer, e).await;
        }
        true
    }

    async fn shut_all(&self) {
        let links: Vec<Arc<Link>> = lock(&self.links).drain().map(|(_, l)| l).collect();
        for l in links {
            l.shut().await;
        }
    }
}

/// Runs the call until the server ends it, the channel closes or the call is left.
///
/// Sends `ping` whenever it has sent nothing for `keep_alive`, so the hub's idle timeout
/// (`docs/SIGNALING.md` §8) never ends a call that is merely quiet.
pub(crate) async fn run<C: SignalingChannel>(
    inner: Arc<Inner>,
    mut channel: C,
    mut out: mpsc::UnboundedReceiver<Outbound>,
    peers: Vec<PeerInfo>,
    keep_alive: Duration,
) {
    // docs/SIGNALING.md §6: the newcomer offers to everyone already in the call.
    for p in peers {
        if let Err(e) = inner.offer_to(p.sender_index).await {
            inner.error(Some(p.sender_index), e).await;
        }
    }
    // `join` went out just before this task started.
    let mut sent_at = Instant::now();
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(sent_at + keep_alive) => {
                let ping = ClientMessage::new(ClientBody::Ping).to_json();
                if let Err(e) = channel.send(ping).await {
                    inner.error(None, e.into()).await;
                    break;
                }
                sent_at = Instant::now();
            }
            message = read(&mut channel) => match message {
                Ok(m) => {
                    if !inner.handle(m).await {
                        // `ended` was reported already.
                        channel.close().await;
                        return;
                    }
                }
                Err(CallError::Closed) => break,
                Err(e @ CallError::Transport(_)) => {
                    inner.error(None, e).await;
                    break;
                }
                Err(e) => inner.error(None, e).await,
            },
            next = out.recv() => match next {
                Some(Outbound::Send(body)) => {
                    if let Err(e) = channel.send(ClientMessage::new(body).to_json()).await {
                        inner.error(None, e.into()).await;
                        break;
                    }
                    sent_at = Instant::now();
                }
                Some(Outbound::Leave) | None => {
                    let _ = channel.send(ClientMessage::new(ClientBody::Leave).to_json()).await;
                    break;
                }
            },
        }
    }
    inner.shut_all().await;
    channel.close().await;
    inner.emit(CallEvent::Ended(None)).await;
}
