//! The test's servers on 127.0.0.1: a static file server for the page (a fixed list of
//! files, no directory serving, so nothing outside the list can be fetched; HTTP/1.1 GET
//! only, hand-written on tokio to keep the test free of web-framework dependencies), and
//! the signaling endpoint: every connection to its own port is a WebSocket that
//! [`WebSocketChannel::accept`] takes over and a real [`SignalingHub`] serves.

use std::net::SocketAddr;
use std::path::PathBuf;

use cai_core::domain::RequestMeta;
use cai_rtc::signaling::SignalingHub;
use cai_rtc::signaling::websocket::WebSocketChannel;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Largest HTTP request head read.
const MAX_HEAD: usize = 16 * 1024;

/// The running servers; dropping this stops accepting (open connections end with the
/// test's runtime).
pub(crate) struct Servers {
    /// The page's server.
    pub(crate) page: SocketAddr,
    /// The signaling WebSocket endpoint.
    pub(crate) signal: SocketAddr,
    tasks: [JoinHandle<()>; 2],
}

impl Drop for Servers {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// URL path → (file, content type). The modules keep their repository paths, so their
/// relative imports (`../../cai-crypto/js/…`) resolve as they do in Node.js.
fn files() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![
        ("/", "tests/browser/page/index.html", "text/html"),
        (
            "/page.mjs",
            "tests/browser/page/page.mjs",
            "text/javascript",
        ),
        (
            "/sframe-worker.mjs",
            "tests/browser/page/sframe-worker.mjs",
            "text/javascript",
        ),
        (
            "/cai-rtc/js/cai-sframe.mjs",
            "js/cai-sframe.mjs",
            "text/javascript",
        ),
        (
            "/cai-rtc/js/cai-datachannel.mjs",
            "js/cai-datachannel.mjs",
            "text/javascript",
        ),
        (
            "/cai-rtc/js/cai-signaling.mjs",
            "js/cai-signaling.mjs",
            "text/javascript",
        ),
        (
            "/cai-crypto/js/cai-envelope.mjs",
            "../cai-crypto/js/cai-envelope.mjs",
            "text/javascript",
        ),
    ]
}

/// Starts both servers on 127.0.0.1 with free ports; signaling connections are served by
/// `hub`, with the client address the TCP connection came from.
pub(crate) async fn start(hub: SignalingHub) -> Result<Servers, BoxError> {
    let pages = TcpListener::bind("127.0.0.1:0").await?;
    let signals = TcpListener::bind("127.0.0.1:0").await?;
    let (page, signal) = (pages.local_addr()?, signals.local_addr()?);
    let page_task = tokio::spawn(async move {
        while let Ok((stream, _)) = pages.accept().await {
            tokio::spawn(async move {
                if let Err(e) = connection(stream).await {
                    eprintln!("[serve] page connection: {e}");
                }
            });
        }
    });
    let signal_task = tokio::spawn(async move {
        while let Ok((stream, from)) = signals.accept().await {
            let hub = hub.clone();
            tokio::spawn(async move {
                match WebSocketChannel::accept(stream).await {
                    Ok(channel) => {
                        let meta = RequestMeta {
                            id: None,
                            client: Some(from.ip()),
                        };
                        hub.serve(channel, meta).await;
                    }
                    Err(e) => eprintln!("[serve] WebSocket handshake: {e}"),
                }
            });
        }
    });
    Ok(Servers {
        page,
        signal,
        tasks: [page_task, signal_task],
    })
}

async fn connection(mut stream: TcpStream) -> Result<(), BoxError> {
    let head = read_head(&mut stream).await?;
    let request = head.split("\r\n").next().unwrap_or_default();
    let mut parts = request.split(' ');
    let (method, path) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    if method != "GET" {
        return respond(
            &mut stream,
            "405 Method Not Allowed",
            "text/plain",
            b"GET only",
        )
        .await;
    }
    let path = path.split(['?', '#']).next().unwrap_or_default();
    match files().into_iter().find(|(p, _, _)| *p == path) {
        Some((_, file, mime)) => {
            let body =
                tokio::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(file)).await?;
            respond(&mut stream, "200 OK", mime, &body).await
        }
        None => respond(&mut stream, "404 Not Found", "text/plain", b"not found").await,
    }
}

async fn read_head(stream: &mut TcpStream) -> Result<String, BoxError> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    // Byte by byte, so the read stops at the end of the head (GETs have no body).
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_HEAD || stream.read(&mut byte).await? == 0 {
            return Err("HTTP request head cut or too long".into());
        }
        head.extend_from_slice(&byte);
    }
    Ok(String::from_utf8(head)?)
}

async fn respond(
    stream: &mut TcpStream,
    status: &str,
    mime: &str,
    body: &[u8],
) -> Result<(), BoxError> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {mime}; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    Ok(stream.shutdown().await?)
}
