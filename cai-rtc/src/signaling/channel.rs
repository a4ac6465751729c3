//! The seam between the signaling hub and a transport: [`SignalingChannel`] sends and
//! receives whole text messages. [`MemoryChannel`] (a pair of bounded tokio channels)
//! serves tests and in-process clients; `websocket::WebSocketChannel` (feature
//! `websocket`) serves browsers.

use async_trait::async_trait;
use tokio::sync::mpsc;

/// One message as a transport delivered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A text message (the protocol's only kind), as bytes.
    Text(Vec<u8>),
    /// A binary message: answered with `invalid_frame`.
    Binary,
    /// A message over the transport's frame limit, already discarded: answered with
    /// `too_large`.
    Oversized,
}

/// A transport failure; the hub ends the connection on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("signaling transport: {0}")]
pub struct ChannelError(pub String);

/// A bidirectional, message-framed connection to one client.
#[async_trait]
pub trait SignalingChannel: Send {
    /// Sends one text message.
    async fn send(&mut self, text: String) -> Result<(), ChannelError>;

    /// The next message; `None` once the other side has closed. Must be cancel-safe
    /// (the hub waits on it in a `select!` with its own outbox): a message is never
    /// lost because the future was dropped.
    async fn recv(&mut self) -> Option<Result<Frame, ChannelError>>;

    /// Closes the connection (best effort; idempotent).
    async fn close(&mut self);
}

/// One end of an in-memory channel pair ([`MemoryChannel::pair`]).
#[derive(Debug)]
pub struct MemoryChannel {
    tx: Option<mpsc::Sender<Frame>>,
    rx: mpsc::Receiver<Frame>,
}

impl MemoryChannel {
    /// Two connected ends, each buffering up to `depth` messages towards the other.
    pub fn pair(depth: usize) -> (MemoryChannel, MemoryChannel) {
        let depth = depth.max(1);
        let (a_tx, b_rx) = mpsc::channel(depth);
        let (b_tx, a_rx) = mpsc::channel(depth);
        (
            MemoryChannel {
                tx: Some(a_tx),
                rx: a_rx,
            },
            MemoryChannel {
                tx: Some(b_tx),
                rx: b_rx,
            },
        )
    }

    /// Sends any frame (tests use it to send binary or oversized frames).
    pub async fn send_frame(&mut self, frame: Frame) -> Result<(), ChannelError> {
        match &self.tx {
            Some(tx) => tx
                .send(frame)
                .await
                .map_err(|_| ChannelError("closed".to_owned())),
            None => Err(ChannelError("closed".to_owned())),
        }
    }
}

#[async_trait]
impl SignalingChannel for MemoryChannel {
    async fn send(&mut self, text: String) -> Result<(), ChannelError> {
        self.send_frame(Frame::Text(text.into_bytes())).await
    }

    async fn recv(&mut self) -> Option<Result<Frame, ChannelError>> {
        self.rx.recv().await.map(Ok)
    }

    async fn close(&mut self) {
        self.tx = None;
        self.rx.close();
    }
}
