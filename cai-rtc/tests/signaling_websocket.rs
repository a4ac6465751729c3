//! Signaling over a real WebSocket on 127.0.0.1 (feature `websocket`): a client joins and
//! is admitted; a binary frame gets `invalid_frame` and a text frame over the message
//! limit `too_large`, the connection staying usable after both; a frame over the
//! transport's frame limit ends the connection.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "signaling_common/mod.rs"]
mod common;

use cai_core::domain::{RequestMeta, SessionMode};
use cai_rtc::signaling::websocket::WebSocketChannel;
use cai_rtc::signaling::{ErrorCode, ServerMessage, limits};
use common::*;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next(ws: &mut Ws) -> ServerMessage {
    loop {
        match ws.next().await.unwrap().unwrap() {
            Message::Text(t) => return ServerMessage::parse(t.as_bytes()).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

fn error_code(m: ServerMessage) -> ErrorCode {
    match m {
        ServerMessage::Error { code, .. } => code,
        other => panic!("expected an error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_browser_like_client_joins_over_a_websocket() {
    let w = World::new().await;
    let s = w.ad_hoc(SessionMode::ServerManaged).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hub = w.hub.clone();
    tokio::spawn(async move {
        while let Ok((stream, peer)) = listener.accept().await {
            let hub = hub.clone();
            tokio::spawn(async move {
                if let Ok(channel) = WebSocketChannel::accept(stream).await {
                    let meta = RequestMeta {
                        id: None,
                        client: Some(peer.ip()),
                    };
                    hub.serve(channel, meta).await;
                }
            });
        }
    });
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
        .await
        .unwrap();
    ws.send(Message::text(join_token(&w.cora.token, s)))
        .await
        .unwrap();
    let ServerMessage::Admitted(a) = next(&mut ws).await else {
        panic!("not admitted");
    };
    assert_eq!(a.session, s);

    ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    assert_eq!(error_code(next(&mut ws).await), ErrorCode::InvalidFrame);

    let ping = r#"{"v":1,"id":1,"type":"ping"}"#;
    let padded = format!(
        "{ping}{}",
        " ".repeat(limits::MAX_MESSAGE_BYTES + 1 - ping.len())
    );
    ws.send(Message::text(padded)).await.unwrap();
    assert_eq!(error_code(next(&mut ws).await), ErrorCode::TooLarge);

    ws.send(Message::text(ping)).await.unwrap();
    assert_eq!(
        next(&mut ws).await,
        ServerMessage::Pong {
            in_reply_to: Some(1)
        }
    );

    // Over the frame limit: the transport gives up on the connection.
    let flood = " ".repeat(limits::MAX_FRAME_BYTES + 1);
    let _ = ws.send(Message::text(flood)).await;
    let end = loop {
        match ws.next().await {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break true,
            Some(Ok(Message::Text(t))) => panic!("answered a flood: {t}"),
            Some(Ok(_)) => continue,
        }
    };
    assert!(end);
}
