//! The Rust participant of the browser test: a [`Peer`] whose signaling is driven by hand
//! over a [`MemoryChannel`] to the same [`SignalingHub`](cai_rtc::signaling::SignalingHub)
//! the browser reaches by WebSocket. **`cai_rtc::call` replaces
//! [`rust_participant_call_loop`] when it lands**; the test needs only what it hands out:
//! the admission, the peer once the browser joined, and a way to leave.
//!
//! Protocol (docs/SIGNALING.md §6): this participant joins first, so the browser is the
//! newcomer and offers; this side answers and both trickle ICE, addressed by sender index.

use std::sync::Arc;

use cai_crypto::DataKey;
use cai_rtc::data::ChannelContext;
use cai_rtc::media::CallKeys;
use cai_rtc::peer::{Peer, PeerConfig};
use cai_rtc::signaling::{
    Admitted, ClientBody, ClientMessage, DescriptionTo, Frame, IceTo, MemoryChannel, ServerMessage,
    SignalingChannel,
};
use cai_rtc::webrtc_json::{IceCandidateInit, SdpType};
use tokio::sync::{mpsc, oneshot};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What the participant's peer is built from.
pub(crate) struct Session {
    /// The tenant id text (`ten_…`), bound into sealed data-channel messages.
    pub(crate) tenant: String,
    /// The session id text (`ses_…`).
    pub(crate) session: String,
    /// The session's data key of the current epoch (session-key mode).
    pub(crate) key: DataKey,
}

/// The participant while its call runs.
pub(crate) struct Participant {
    /// Its `admitted`.
    pub(crate) admitted: Admitted,
    /// The peer towards the browser, once the browser joined and offered.
    pub(crate) peer: oneshot::Receiver<(Arc<Peer>, u16)>,
    /// Tells the loop to send `leave` and end.
    pub(crate) leave: oneshot::Sender<()>,
    /// The loop; its result says whether the signaling went as the protocol says.
    pub(crate) task: tokio::task::JoinHandle<Result<(), BoxError>>,
}

async fn next(ch: &mut MemoryChannel) -> Result<ServerMessage, BoxError> {
    match ch.recv().await {
        Some(Ok(Frame::Text(bytes))) => Ok(ServerMessage::parse(&bytes)?),
        other => Err(format!("signaling: expected a message, got {other:?}").into()),
    }
}

async fn send(ch: &mut MemoryChannel, body: ClientBody) -> Result<(), BoxError> {
    Ok(ch.send(ClientMessage::new(body).to_json()).await?)
}

/// Joins with `join` (the JSON text of a `join`), then runs the participant's signaling in
/// a task: on `peer_joined` it builds a [`Peer`] (loopback only, transport frames tapped so
/// the test sees what the network carried) with the session's [`CallKeys`]; it answers the
/// newcomer's `offer`, forwards local candidates as `ice` to it and applies its `ice`, and
/// ends with `leave` when told to. Any other message than those is an error.
pub(crate) async fn rust_participant_call_loop(
    mut ch: MemoryChannel,
    join: String,
    session: Session,
) -> Result<Participant, BoxError> {
    ch.send(join).await?;
    let admitted = match next(&mut ch).await? {
        ServerMessage::Admitted(a) => a,
        other => return Err(format!("the Rust participant was not admitted: {other:?}").into()),
    };
    let me = admitted.sender_index;
    let call = admitted.call;
    let (peer_tx, peer) = oneshot::channel();
    let (leave, mut leave_rx) = oneshot::channel();
    let task = tokio::spawn(async move {
        let mut peer_tx = Some(peer_tx);
        let mut current: Option<(Arc<Peer>, u16)> = None;
        // Local candidates; a closed receiver until the peer exists.
        let (_, mut candidates) = mpsc::unbounded_channel::<IceCandidateInit>();
        loop {
            tokio::select! {
                _ = &mut leave_rx => {
                    send(&mut ch, ClientBody::Leave).await?;
                    return Ok(());
                }
                Some(candidate) = candidates.recv() => {
                    let (_, to) = current.as_ref().ok_or("a candidate without a peer")?;
                    send(&mut ch, ClientBody::Ice(IceTo { to: *to, candidate })).await?;
                }
                msg = next(&mut ch) => match msg? {
                    ServerMessage::PeerJoined(p) => {
                        if current.is_some() {
                            return Err("a second peer joined".into());
                        }
                        let roster = [me, p.sender_index];
                        let ctx = ChannelContext {
                            tenant: session.tenant.clone().into_bytes(),
                            session: session.session.clone().into_bytes(),
                            call,
                            sender_index: me,
                            mode: None,
                        };
                        let mut config = PeerConfig::new(ctx, session.key.clone()).loopback_only();
                        config.tap_transport_frames = true;
                        config.remote_index = Some(p.sender_index);
                        let keys = CallKeys::session(&session.session, &call, &session.key, me, &roster)?;
                        let peer = Arc::new(Peer::new(config, keys).await?);
                        candidates = peer.take_local_candidates().ok_or("candidates taken")?;
                        current = Some((peer, p.sender_index));
                    }
                    ServerMessage::Offer(o) => {
                        let (peer, from) = current.as_ref().ok_or("an offer before peer_joined")?;
                        if o.from != *from || o.description.sdp_type != SdpType::Offer {
                            return Err(format!("unexpected offer from {}", o.from).into());
                        }
                        let answer = peer.accept_offer(&o.description).await?;
                        send(&mut ch, ClientBody::Answer(DescriptionTo {
                            to: *from,
                            description: answer,
                            signature: None,
                        }))
                        .await?;
                        if let Some(tx) = peer_tx.take() {
                            let _ = tx.send((peer.clone(), *from));
                        }
                    }
                    ServerMessage::Ice(ice) => {
                        let (peer, from) = current.as_ref().ok_or("a candidate before peer_joined")?;
                        if ice.from != *from {
                            return Err(format!("a candidate from {}", ice.from).into());
                        }
                        peer.add_remote_candidate(&ice.candidate).await?;
                    }
                    other => return Err(format!("unexpected signaling message {other:?}").into()),
                },
            }
        }
    });
    Ok(Participant {
        admitted,
        peer,
        leave,
        task,
    })
}
