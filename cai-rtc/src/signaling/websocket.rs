//! A [`SignalingChannel`] over a WebSocket (feature `websocket`), for servers: the host
//! accepts the TCP (or TLS) connection and hands the stream to
//! [`WebSocketChannel::accept`], then to [`SignalingHub::serve`](super::SignalingHub::serve).
//!
//! Text frames only: a binary message is answered with `invalid_frame` and the
//! connection stays. Messages up to [`MAX_FRAME_BYTES`] are read (those above
//! [`MAX_MESSAGE_BYTES`](super::limits::MAX_MESSAGE_BYTES) then get `too_large`); a
//! larger one makes tungstenite drop the connection, as it is a flood rather than a
//! mistake. Pings are answered by tungstenite.

use async_trait::async_trait;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::channel::{ChannelError, Frame, SignalingChannel};
use super::limits::MAX_FRAME_BYTES;

/// The WebSocket settings of signaling: messages and frames up to [`MAX_FRAME_BYTES`].
pub fn websocket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_FRAME_BYTES))
        .max_frame_size(Some(MAX_FRAME_BYTES))
}

/// A server-side WebSocket connection carrying signaling.
#[derive(Debug)]
pub struct WebSocketChannel<S> {
    ws: WebSocketStream<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> WebSocketChannel<S> {
    /// Runs the server handshake on `stream` with [`websocket_config`].
    pub async fn accept(stream: S) -> Result<Self, ChannelError> {
        tokio_tungstenite::accept_async_with_config(stream, Some(websocket_config()))
            .await
            .map(|ws| Self { ws })
            .map_err(|e| ChannelError(e.to_string()))
    }

    /// Wraps a connection whose handshake the host ran itself (configure it with
    /// [`websocket_config`]).
    pub fn from_stream(ws: WebSocketStream<S>) -> Self {
        Self { ws }
    }
}

#[async_trait]
impl<S: AsyncRead + AsyncWrite + Unpin + Send> SignalingChannel for WebSocketChannel<S> {
    async fn send(&mut self, text: String) -> Result<(), ChannelError> {
        self.ws
            .send(Message::text(text))
            .await
            .map_err(|e| ChannelError(e.to_string()))
    }

    async fn recv(&mut self) -> Option<Result<Frame, ChannelError>> {
        loop {
            // `StreamExt::next` on a WebSocketStream is cancel-safe.
            match self.ws.next().await? {
                Ok(Message::Text(text)) => return Some(Ok(Frame::Text(text.as_bytes().to_vec()))),
                Ok(Message::Binary(_)) => return Some(Ok(Frame::Binary)),
                Ok(Message::Close(_)) => return None,
                // Pings, pongs and raw frames: tungstenite handles them.
                Ok(_) => continue,
                Err(e) => return Some(Err(ChannelError(e.to_string()))),
            }
        }
    }

    async fn close(&mut self) {
        let _ = self.ws.close(None).await;
    }
}
