//! One connection of a call: the [`Peer`], the fingerprints its remote committed to, and
//! the task that checks the DTLS certificate (ASVS V17) before it passes on any of the
//! connection's content as [`CallEvent`]s.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;

use super::driver::Inner;
use super::{CallError, CallEvent};
use crate::peer::{LocalTrack, Peer, PeerEvent, PeerState};
use crate::signaling::{Fingerprint, FingerprintError, SenderIndex, check_fingerprint};

/// How often, and how long apart, the stats are asked for the remote certificate: the
/// `webrtc` crate records it just after the handshake, which may trail the state change.
const CERTIFICATE_POLLS: u32 = 100;
const CERTIFICATE_POLL_INTERVAL: Duration = Duration::from_millis(10);

/// A connection to one peer.
pub(crate) struct Link {
    pub(crate) peer: Arc<Peer>,
    pub(crate) tracks: Vec<Arc<LocalTrack>>,
    expected: watch::Sender<Option<Vec<Fingerprint>>>,
    verified: AtomicBool,
    stop: watch::Sender<bool>,
}

impl Link {
    pub(crate) fn new(peer: Arc<Peer>, tracks: Vec<Arc<LocalTrack>>) -> Self {
        Self {
            peer,
            tracks,
            expected: watch::channel(None).0,
            verified: AtomicBool::new(false),
            stop: watch::channel(false).0,
        }
    }

    /// Records the fingerprints of the remote's (verified) description.
    pub(crate) fn expect(&self, fingerprints: Vec<Fingerprint>) {
        self.expected.send_replace(Some(fingerprints));
    }

    /// Whether the remote description was taken.
    pub(crate) fn has_remote(&self) -> bool {
        self.expected.borrow().is_some()
    }

    /// Whether the remote certificate was checked and matched and the data channel is
    /// open.
    pub(crate) fn is_verified(&self) -> bool {
        self.verified.load(Ordering::Acquire)
    }

    /// A receiver that turns `true` when the link is shut.
    pub(crate) fn stopped(&self) -> watch::Receiver<bool> {
        self.stop.subscribe()
    }

    /// Stops the link's tasks and closes the connection.
    pub(crate) async fn shut(&self) {
        self.stop.send_replace(true);
        if let Err(e) = self.peer.close().await {
            tracing::debug!(error = %e, "closing a peer connection failed");
        }
    }

    /// The V17 check: the certificate fingerprint the handshake saw against the remote's
    /// description.
    async fn verify(&self) -> Result<Fingerprint, CallError> {
        let mut expected = self.expected.subscribe();
        let expected = expected
            .wait_for(Option::is_some)
            .await
            .map_err(|_| CallError::Closed)?
            .clone()
            .unwrap_or_default();
        let mut seen = None;
        for _ in 0..CERTIFICATE_POLLS {
            seen = self.peer.remote_fingerprint().await;
            if seen.is_some() {
                break;
            }
            tokio::time::sleep(CERTIFICATE_POLL_INTERVAL).await;
        }
        let seen = Fingerprint::parse(&seen.ok_or(FingerprintError::Missing)?)?;
        check_fingerprint(&expected, &seen)?;
        Ok(seen)
    }
}

/// Whether an event carries what the remote sent (so it waits for the certificate check).
fn is_content(event: &PeerEvent) -> bool {
    !matches!(
        event,
        PeerEvent::State(_) | PeerEvent::DataChannelClosed | PeerEvent::DataChannelOpen { .. }
    )
}

/// The event as the call reports it; `None` for what the call keeps to itself.
fn to_call_event(peer: SenderIndex, event: PeerEvent) -> Option<CallEvent> {
    Some(match event {
        PeerEvent::Chat { text, .. } => CallEvent::Chat { peer, text },
        PeerEvent::FileOffered { offer, .. } => CallEvent::FileOffered { peer, offer },
        PeerEvent::File(file) => CallEvent::File { peer, file },
        PeerEvent::Frame { kind, frame } => CallEvent::Frame { peer, kind, frame },
        PeerEvent::FrameDropped { kind, dropped } => CallEvent::FrameDropped {
            peer,
            kind,
            dropped,
        },
        PeerEvent::DataRejected(error) => CallEvent::DataRejected { peer, error },
        PeerEvent::TransportFrame { kind, payload } => CallEvent::TransportFrame {
            peer,
            kind,
            payload,
        },
        _ => return None,
    })
}

/// Forwards `link`'s events until it is shut. The certificate is checked when the
/// connection comes up, and in any case before the data channel is reported open or the
/// first content event is passed on; a failed check shuts the link and reports
/// [`CallError::Fingerprint`]. [`CallEvent::PeerConnected`] comes when the check passed
/// and the data channel is open.
pub(crate) async fn forward_events(inner: Arc<Inner>, peer: SenderIndex, link: Arc<Link>) {
    let mut stop = link.stopped();
    let mut checked: Option<Fingerprint> = None;
    loop {
        let event = tokio::select! {
            e = link.peer.next_event() => e,
            _ = stop.wait_for(|s| *s) => None,
        };
        let Some(event) = event else { return };
        if matches!(event, PeerEvent::State(PeerState::Failed)) {
            inner.drop_link(peer, Some(&link)).await;
            inner
                .emit(CallEvent::Error {
                    peer: Some(peer),
                    error: CallError::ConnectionFailed,
                })
                .await;
            return;
        }
        let connected = matches!(event, PeerEvent::State(PeerState::Connected));
        let open = matches!(event, PeerEvent::DataChannelOpen { .. });
        if checked.is_none() && (connected || open || is_content(&event)) {
            let verified = tokio::select! {
                v = link.verify() => v,
                // Shut while waiting for the remote description or the certificate.
                _ = stop.wait_for(|s| *s) => return,
            };
            match verified {
                Ok(fingerprint) => checked = Some(fingerprint),
                Err(error) => {
                    inner.drop_link(peer, Some(&link)).await;
                    inner
                        .emit(CallEvent::Error {
                            peer: Some(peer),
                            error,
                        })
                        .await;
                    return;
                }
            }
        }
        if open && let Some(fingerprint) = checked.clone() {
            // Checked and able to send: the connection is usable.
            link.verified.store(true, Ordering::Release);
            let protection = link.peer.protection();
            inner
                .emit(CallEvent::PeerConnected {
                    peer,
                    fingerprint,
                    protection,
                })
                .await;
        }
        if let Some(e) = to_call_event(peer, event) {
            inner.emit(e).await;
        }
    }
}

#[cfg(test)]
mod tests;
