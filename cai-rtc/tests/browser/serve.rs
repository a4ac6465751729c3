//! The test's web server on 127.0.0.1: a fixed list of static files for the page (no
//! directory serving, so nothing outside the list can be fetched) and one WebSocket
//! endpoint, `/signal`, for the ad-hoc signaling. Hand-written on tokio (HTTP/1.1 GET and
//! RFC 6455 text frames only) to keep the test free of web-framework dependencies; the
//! lead replaces the WebSocket part with cai-rtc's signaling module.

use std::net::SocketAddr;
use std::path::PathBuf;

use base64::Engine as _;
use sha1::{Digest as _, Sha1};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Largest signaling message the test accepts (an offer with candidates is a few KiB).
const MAX_MESSAGE: usize = 256 * 1024;
/// Largest HTTP request head read.
const MAX_HEAD: usize = 16 * 1024;

/// One JSON text message each way over the WebSocket of the page.
pub(crate) struct Signal {
    /// Messages from the browser, parsed as JSON.
    pub(crate) incoming: mpsc::UnboundedReceiver<serde_json::Value>,
    /// Messages to the browser; dropping the sender closes the WebSocket.
    pub(crate) outgoing: mpsc::UnboundedSender<serde_json::Value>,
}

/// The running server: its address and the first WebSocket the page opens.
pub(crate) struct Server {
    /// Where it listens (127.0.0.1, a free port).
    pub(crate) addr: SocketAddr,
    /// Receives the signaling channel once the page connects.
    pub(crate) signal: mpsc::UnboundedReceiver<Signal>,
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
            "/cai-crypto/js/cai-envelope.mjs",
            "../cai-crypto/js/cai-envelope.mjs",
            "text/javascript",
        ),
    ]
}

/// Starts the server on 127.0.0.1 with a free port.
pub(crate) async fn start() -> Result<Server, BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (tx, signal) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                if let Err(e) = connection(stream, tx).await {
                    eprintln!("[serve] connection: {e}");
                }
            });
        }
    });
    Ok(Server { addr, signal })
}

async fn connection(
    mut stream: TcpStream,
    signals: mpsc::UnboundedSender<Signal>,
) -> Result<(), BoxError> {
    let head = read_head(&mut stream).await?;
    let mut lines = head.split("\r\n");
    let request = lines.next().unwrap_or_default();
    let mut parts = request.split(' ');
    let (method, path) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if method != "GET" {
        return respond(
            &mut stream,
            "405 Method Not Allowed",
            "text/plain",
            b"GET only",
        )
        .await;
    }
    if path == "/signal" {
        let key = header("sec-websocket-key").ok_or("WebSocket upgrade without a key")?;
        return websocket(stream, key, signals).await;
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
    // Byte by byte, so nothing after the head (a WebSocket frame) is consumed.
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

/// RFC 6455 handshake, then a reader task (browser → `incoming`) and a writer task
/// (`outgoing` → browser, a close frame when the test drops its sender).
async fn websocket(
    mut stream: TcpStream,
    key: &str,
    signals: mpsc::UnboundedSender<Signal>,
) -> Result<(), BoxError> {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    let accept = base64::engine::general_purpose::STANDARD.encode(sha.finalize());
    let head = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await?;
    let (mut rd, mut wr) = stream.into_split();
    let (in_tx, incoming) = mpsc::unbounded_channel();
    let (outgoing, mut out_rx) = mpsc::unbounded_channel::<serde_json::Value>();
    signals
        .send(Signal { incoming, outgoing })
        .map_err(|_| "test gone")?;
    tokio::spawn(async move {
        while let Some(msg) = out_rx.recv().await {
            if write_frame(&mut wr, 0x1, msg.to_string().as_bytes())
                .await
                .is_err()
            {
                return;
            }
        }
        let _ = write_frame(&mut wr, 0x8, &1000u16.to_be_bytes()).await;
    });
    loop {
        match read_frame(&mut rd).await? {
            Some(text) => {
                let value = serde_json::from_slice(&text)?;
                if in_tx.send(value).is_err() {
                    return Ok(());
                }
            }
            None => return Ok(()),
        }
    }
}

/// Reads one client frame: a whole text message (`Some`), or `None` on close. The test's
/// page sends small unfragmented text frames; anything else is an error.
async fn read_frame(rd: &mut (impl AsyncRead + Unpin)) -> Result<Option<Vec<u8>>, BoxError> {
    loop {
        let mut h = [0u8; 2];
        if rd.read_exact(&mut h).await.is_err() {
            return Ok(None);
        }
        let (fin, opcode, masked) = (h[0] & 0x80 != 0, h[0] & 0x0f, h[1] & 0x80 != 0);
        let len = match h[1] & 0x7f {
            126 => usize::from(rd.read_u16().await?),
            127 => usize::try_from(rd.read_u64().await?)?,
            n => usize::from(n),
        };
        if !fin || !masked || len > MAX_MESSAGE {
            return Err("unsupported WebSocket frame (fragmented, unmasked or too long)".into());
        }
        let mut mask = [0u8; 4];
        rd.read_exact(&mut mask).await?;
        let mut payload = vec![0u8; len];
        rd.read_exact(&mut payload).await?;
        for (b, m) in payload.iter_mut().zip(mask.iter().cycle()) {
            *b ^= m;
        }
        match opcode {
            0x1 => return Ok(Some(payload)),
            0x8 => return Ok(None),
            0x9 | 0xa => continue, // ping/pong: browsers do not send them unprompted
            _ => return Err("unsupported WebSocket opcode".into()),
        }
    }
}

async fn write_frame(
    wr: &mut (impl AsyncWrite + Unpin),
    opcode: u8,
    payload: &[u8],
) -> std::io::Result<()> {
    let mut frame = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => frame.push(n as u8),
        n if n <= usize::from(u16::MAX) => {
            frame.push(126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(payload);
    wr.write_all(&frame).await
}
