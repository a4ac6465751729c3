//! cai-rtc against a real browser (issue 12, part 3).
//!
//! `browser_and_rust_peer_exchange_sealed_messages_and_sframe_audio`: a signaling hub
//! over cai-core's memory ports with cai-auth admission (`signaling_common`: a tenant,
//! counsellor Cora with a session token, a session in session-key mode with its data
//! key). Headless Chromium (Debian's `/usr/bin/chromium`, driven by playwright-core from
//! `tests/browser/`) loads the page in `tests/browser/page/` from a static server on
//! 127.0.0.1 and gets Cora's token and the session key out of band (`page.evaluate`, not
//! a URL). The Rust participant, a guest admitted through a guest link, joins the same
//! hub over a `MemoryChannel` and runs a `cai_rtc::peer::Peer`
//! ([`rust_participant::rust_participant_call_loop`]); the page joins over a WebSocket
//! (`WebSocketChannel`) with `cai-signaling.mjs`, and as the newcomer offers. Then
//! - the browser's sealed chat message (WebCrypto: `cai-datachannel.mjs` over
//!   `cai-envelope.mjs`) opens in the Peer's data channel, and its wire bytes (reported by
//!   the page) are `docs/DATACHANNEL.md`'s format, without the plaintext, and do not open
//!   under another key;
//! - the Peer's sealed reply opens in the browser;
//! - the browser sends a WebAudio tone as Opus whose every encoded frame an
//!   `RTCRtpScriptTransform` (or encoded insertable streams) worker protects with SFrame
//!   (`cai-sframe.mjs`) under its session media secret: at least [`MIN_FRAMES`] frames
//!   decrypt in the Peer (`CallKeys::session` with the session key and the sender indices
//!   and the call id from `admitted`) and none is dropped; each frame as the network
//!   carried it has the browser's KID, decrypts to the same bytes with
//!   `session_media_secret`, and does not open with a wrong session key, nor with the
//!   right key in another call instance (another call id);
//! - when the Rust participant leaves, the page sees `peer_left`.
//!
//! `js_sframe_interoperates_with_cai_crypto` (Node.js only): the JS session media secret
//! equals Rust's; JS frames open in Rust and Rust frames open in JS.
//!
//! Both skip with a message when Node.js, Chromium or playwright-core is missing **and**
//! `CAI_REQUIRE_BROWSER` is unset; `scripts/test-all.sh` sets it, so in CI they run.

// Indexing here is on `serde_json::Value`, which yields `Null` for a missing key.
#![allow(clippy::indexing_slicing)]

#[path = "signaling_common/mod.rs"]
mod common;
#[path = "browser/rust_participant.rs"]
mod rust_participant;
#[path = "browser/serve.rs"]
mod serve;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use cai_core::domain::SessionMode;
use cai_core::service::SessionKeyMaterial;
use cai_crypto::sframe::{
    CallId, FrameDecryptor, FrameEncryptor, MediaKeyId, MediaSuite, TAG_LEN, parse_header,
    session_media_secret,
};
use cai_crypto::{ContentKind, DataKey, ItemContext, KeyEpoch, envelope};
use cai_rtc::media::{CallKeys, DropReason};
use cai_rtc::peer::{MediaKind, PeerEvent};
use cai_rtc::signaling::EncryptionMode;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The session id of the Node-only interop test.
const SESSION: &str = "ses_browser_test";
/// Audio frames that must decrypt: one second of 20 ms Opus frames.
const MIN_FRAMES: usize = 50;
const BROWSER_SAYS: &str = "hello from the browser, sealed in WebCrypto";
const RUST_SAYS: &str = "hello from the Rust peer, sealed by cai-crypto";
/// A guard against a hung browser or peer, not an assertion on speed.
const HANG_GUARD: Duration = Duration::from_secs(150);

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// The tools the tests need, or `None` (skip) when one is missing and
/// `CAI_REQUIRE_BROWSER` is unset; an error when it is set.
fn tools(need_chromium: bool) -> Result<Option<(PathBuf, PathBuf)>, BoxError> {
    let node = std::env::var_os("NODE").map_or_else(|| PathBuf::from("node"), PathBuf::from);
    let chromium = std::env::var_os("CAI_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    let mut missing = Vec::new();
    let node_ok = std::process::Command::new(&node)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !node_ok {
        missing.push(format!("Node.js ({})", node.display()));
    }
    if need_chromium {
        if !chromium.is_file() {
            missing.push(format!("Chromium ({})", chromium.display()));
        }
        if !browser_dir().join("node_modules/playwright-core").is_dir() {
            missing.push("playwright-core (npm ci in cai-rtc/tests/browser)".to_owned());
        }
    }
    if missing.is_empty() {
        return Ok(Some((node, chromium)));
    }
    let what = missing.join(", ");
    if std::env::var_os("CAI_REQUIRE_BROWSER").is_some() {
        return Err(format!("CAI_REQUIRE_BROWSER is set but missing: {what}").into());
    }
    eprintln!(
        "SKIPPED: missing {what}; scripts/test-all.sh installs them (and sets CAI_REQUIRE_BROWSER)"
    );
    Ok(None)
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(text: &str) -> Result<Vec<u8>, BoxError> {
    if !text.len().is_multiple_of(2) {
        return Err("odd hex length".into());
    }
    (0..text.len())
        .step_by(2)
        .map(|i| Ok(u8::from_str_radix(text.get(i..i + 2).ok_or("hex")?, 16)?))
        .collect()
}

/// A chat message on the data channel in the format of cai-rtc's data module
/// (`docs/DATACHANNEL.md`), written out here so the test checks the bytes the browser
/// sends: `0x01 ‖ 0x01 (chat) ‖ sender u16be ‖ seq u64be ‖ envelope v1`, the envelope's
/// context (tenant, session, item `"cai-dc2" ‖ call id ‖ header`, version 1, kind
/// Message).
const CHAT_HEADER_LEN: usize = 12;

fn chat_header(sender: u16, seq: u64) -> [u8; CHAT_HEADER_LEN] {
    let mut h = [0u8; CHAT_HEADER_LEN];
    h[0] = 0x01;
    h[1] = 0x01;
    h[2..4].copy_from_slice(&sender.to_be_bytes());
    h[4..].copy_from_slice(&seq.to_be_bytes());
    h
}

fn chat_item(call: &CallId, header: &[u8]) -> Vec<u8> {
    [&b"cai-dc2"[..], call.as_bytes(), header].concat()
}

fn chat_context<'a>(tenant: &'a str, session: &'a str, item: &'a [u8]) -> ItemContext<'a> {
    ItemContext::new(
        tenant.as_bytes(),
        session.as_bytes(),
        item,
        1,
        ContentKind::Message,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_and_rust_peer_exchange_sealed_messages_and_sframe_audio() -> Result<(), BoxError> {
    browser_test(Api::ScriptTransform).await
}

/// The same through Chromium's older encoded insertable streams, the page's fallback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_fallback_encoded_streams_protects_audio_the_same() -> Result<(), BoxError> {
    browser_test(Api::EncodedStreams).await
}

/// Which encoded-transform API the page uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    /// `RTCRtpScriptTransform` (Chromium 141+; Debian's is newer).
    ScriptTransform,
    /// `createEncodedStreams` with `encodedInsertableStreams: true`, forced by the fragment.
    EncodedStreams,
}

impl Api {
    fn name(self) -> &'static str {
        match self {
            Api::ScriptTransform => "RTCRtpScriptTransform",
            Api::EncodedStreams => "createEncodedStreams",
        }
    }
}

async fn browser_test(api: Api) -> Result<(), BoxError> {
    let Some((node, chromium)) = tools(true)? else {
        return Ok(());
    };
    tokio::time::timeout(HANG_GUARD, run_browser(node, chromium, api))
        .await
        .map_err(|_| "the browser test hung (see the [chromium] lines above)")?
}

/// The next line of the driver's output with `prefix`, parsed as JSON.
async fn driver_line(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    prefix: &str,
) -> Result<Value, BoxError> {
    while let Some(line) = lines.next_line().await? {
        if let Some(json) = line.strip_prefix(prefix) {
            return Ok(serde_json::from_str(json)?);
        }
    }
    Err(format!("drive.mjs ended without a {prefix}line").into())
}

async fn run_browser(node: PathBuf, chromium: PathBuf, api: Api) -> Result<(), BoxError> {
    let t0 = Instant::now();
    let w = common::World::new().await;
    let s = w.ad_hoc(SessionMode::SessionKey).await;
    let SessionKeyMaterial::SessionKey(key) =
        w.svc().session_keys(&w.cora.caller, w.tenant.id, s).await?
    else {
        return Err("a session-key session without its data key".into());
    };
    let (tenant, session) = (w.tenant.id.to_string(), s.to_string());
    let servers = serve::start(w.hub.clone()).await?;

    // The Rust participant joins first (a guest through a guest link), so the browser is
    // the newcomer and offers (docs/SIGNALING.md §6).
    let link = w.guest_link(s, Duration::from_secs(600)).await;
    let rust = rust_participant::rust_participant_call_loop(
        w.connect().ch,
        common::join_guest(w.tenant.id, "Rusty", &link.expose()),
        rust_participant::Session {
            tenant: tenant.clone(),
            session: session.clone(),
            key: key.clone(),
        },
    )
    .await?;
    let me = rust.admitted.sender_index;
    let call = rust.admitted.call;
    assert_eq!(rust.admitted.mode, EncryptionMode::SessionKey);
    assert!(!rust.admitted.end_to_end);
    assert_eq!(rust.admitted.key_epoch, key.epoch().0);
    assert!(
        rust.admitted.peers.is_empty(),
        "the Rust participant is first"
    );

    let mut url = format!("http://{}/#signal=ws://{}/", servers.page, servers.signal);
    if api == Api::EncodedStreams {
        url.push_str("&api=createEncodedStreams");
    }
    let mut driver = tokio::process::Command::new(&node)
        .arg("drive.mjs")
        .arg(&url)
        .arg(&chromium)
        .current_dir(browser_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    // Dropping this (at the end, or when an assertion fails) closes the driver's stdin,
    // and the driver closes Chromium and removes its profile.
    let mut driver_stdin = driver.stdin.take().ok_or("driver stdin")?;
    let mut lines = BufReader::new(driver.stdout.take().ok_or("driver stdout")?).lines();
    // Out of band, as a host's page would get them from its own backend: Cora's session
    // token and the session's data key.
    let credentials = json!({
        "token": w.cora.token,
        "tenant": tenant, "session": session,
        "key": {
            "id": to_hex(key.id().as_bytes()),
            "epoch": key.epoch().0,
            "secret": to_hex(key.secret().expose_secret()),
        },
        "send": BROWSER_SAYS,
    });
    driver_stdin
        .write_all(format!("{credentials}\n").as_bytes())
        .await?;
    driver_stdin.flush().await?;

    let (peer, browser) = rust.peer.await.map_err(|_| match rust.task.is_finished() {
        true => "the Rust participant's signaling loop ended before an offer came",
        false => "no offer from the browser",
    })?;
    let t_offer = t0.elapsed();

    // Every frame the network carried is checked on its own: the browser's KID, rising
    // counters, the same plaintext under `session_media_secret`, and no frame opens under
    // another session key with the same KIDs, nor under the right key for another call
    // instance (negative controls: a frame recorded in one call is worthless in the next).
    let epoch = key.epoch();
    let kid = MediaKeyId::new(epoch, browser);
    let mut check = FrameDecryptor::new();
    check.add_key(
        MediaSuite::Aes256GcmSha512,
        kid,
        &session_media_secret(key.secret(), session.as_bytes(), &call, epoch, browser)?,
    )?;
    let roster = [me, browser];
    let mut wrong = CallKeys::session(&session, &call, &DataKey::generate(epoch)?, me, &roster)?;
    let mut other_call = CallKeys::session(&session, &CallId::random()?, &key, me, &roster)?;
    let (mut chat, mut t_message) = (false, None);
    let (mut decrypted, mut bytes) = (0usize, 0usize);
    let mut tapped: Option<Vec<u8>> = None;
    let mut last_counter = None;
    let mut states = Vec::new();
    while !chat || decrypted < MIN_FRAMES {
        match peer.next_event().await.ok_or("the peer closed")? {
            PeerEvent::State(state) => states.push(state),
            PeerEvent::DataChannelOpen { .. } => {}
            PeerEvent::Chat { sender, text } => {
                assert_eq!(sender, browser, "the chat's sender index");
                assert_eq!(text, BROWSER_SAYS);
                assert!(!chat, "one chat message");
                chat = true;
                t_message = Some(t0.elapsed());
                peer.send_chat(RUST_SAYS).await?;
            }
            PeerEvent::TransportFrame { kind, payload } => {
                assert_eq!(kind, MediaKind::Audio);
                assert!(
                    tapped.is_none(),
                    "every tapped frame is followed by its outcome"
                );
                let header = parse_header(&payload)?;
                assert_eq!(header.kid, kid.as_u64(), "frame {decrypted}: KID");
                if let Some(last) = last_counter {
                    assert!(header.counter > last, "counters rise");
                }
                last_counter = Some(header.counter);
                let dropped = wrong
                    .unprotect(&payload, b"")
                    .err()
                    .ok_or("a frame opened under a wrong session key")?;
                assert_eq!(dropped.reason, DropReason::Invalid);
                let dropped = other_call
                    .unprotect(&payload, b"")
                    .err()
                    .ok_or("a frame opened under another call id")?;
                assert_eq!(dropped.reason, DropReason::Invalid);
                let plain = check
                    .decrypt(&payload, b"")
                    .map_err(|e| format!("audio frame {decrypted} did not decrypt: {e}"))?;
                assert_eq!(payload.len(), header.header_len + plain.len() + TAG_LEN);
                tapped = Some(plain);
            }
            PeerEvent::Frame { kind, frame } => {
                assert_eq!(kind, MediaKind::Audio);
                assert_eq!(frame.sender, u32::from(browser));
                assert_eq!(frame.epoch, u64::from(epoch.0));
                assert!(
                    !frame.data.is_empty(),
                    "an Opus frame has at least its TOC byte"
                );
                assert_eq!(
                    Some(&frame.data[..]),
                    tapped.take().as_deref(),
                    "the Peer's plaintext is the one session_media_secret gives"
                );
                decrypted += 1;
                bytes += frame.data.len();
            }
            PeerEvent::FrameDropped { dropped, .. } => {
                return Err(format!("the Peer dropped a frame of the browser: {dropped}").into());
            }
            other => return Err(format!("unexpected peer event {other:?}").into()),
        }
    }
    let t_frames = t0.elapsed();

    // What the page reported once it opened the reply.
    let result = driver_line(&mut lines, "CAI_RESULT ").await?;
    assert_eq!(result["errors"], json!([]), "page errors: {result}");
    assert_eq!(result["api"], api.name(), "the transform API the page used");
    assert_eq!(
        result["reply"], RUST_SAYS,
        "the browser opened Rust's reply"
    );
    assert_eq!(result["sent"], BROWSER_SAYS);
    assert_eq!(
        result["admitted"],
        json!({
            "call": call.to_string(), "sender_index": browser, "peers": [me], "mode": "session_key",
            "end_to_end": false, "key_epoch": epoch.0,
        })
    );
    // The chat message as the browser put it on the wire.
    let message = from_hex(result["sent_hex"].as_str().ok_or("no sent_hex")?)?;
    let (header, sealed) = message
        .split_at_checked(CHAT_HEADER_LEN)
        .ok_or("message shorter than its header")?;
    assert_eq!(
        header,
        chat_header(browser, 0),
        "chat header: version, type, sender, seq 0"
    );
    assert!(
        sealed.starts_with(b"CAIE"),
        "an envelope follows the header"
    );
    assert!(
        !message
            .windows(BROWSER_SAYS.len())
            .any(|w| w == BROWSER_SAYS.as_bytes()),
        "no plaintext on the wire"
    );
    let item = chat_item(&call, header);
    let ctx = chat_context(&tenant, &session, &item);
    assert_eq!(envelope::open(&key, &ctx, sealed)?, BROWSER_SAYS.as_bytes());
    // Negative controls: not under another key, not under another header, not in another
    // call instance.
    let other_key = DataKey::from_parts(key.id(), epoch, cai_crypto::SecretBytes::random()?);
    assert!(envelope::open(&other_key, &ctx, sealed).is_err());
    let other = chat_item(&call, &chat_header(browser, 1));
    assert!(envelope::open(&key, &chat_context(&tenant, &session, &other), sealed).is_err());
    let other = chat_item(&CallId::random()?, header);
    assert!(envelope::open(&key, &chat_context(&tenant, &session, &other), sealed).is_err());

    // The Rust participant leaves; the page sees `peer_left` and finishes.
    rust.leave
        .send(())
        .map_err(|_| "the Rust participant's loop is gone")?;
    rust.task.await??;
    let done = driver_line(&mut lines, "CAI_DONE ").await?;
    assert_eq!(done["peer_left"], true, "the page saw peer_left");
    assert_eq!(done["errors"], json!([]), "page errors: {done}");
    peer.close().await?;
    let status = driver.wait().await?;
    drop(driver_stdin);
    assert!(status.success(), "drive.mjs failed: {status}");
    eprintln!(
        "browser test: transform {}; {decrypted} frames ({bytes} plaintext bytes) decrypted; \
         offer after {t_offer:?}, sealed message after {:?}, {MIN_FRAMES} frames after \
         {t_frames:?}, all done after {:?}; states {states:?}; page stats {}",
        api.name(),
        t_message.unwrap_or_default(),
        t0.elapsed(),
        done["stats"]
    );
    Ok(())
}

#[tokio::test]
async fn js_sframe_interoperates_with_cai_crypto() -> Result<(), BoxError> {
    let Some((node, _)) = tools(false)? else {
        return Ok(());
    };
    let key = DataKey::generate(KeyEpoch(0x0102_0304))?;
    let sender = 0xfffe;
    let call = CallId::random()?;
    let secret =
        session_media_secret(key.secret(), SESSION.as_bytes(), &call, key.epoch(), sender)?;
    let kid = MediaKeyId::new(key.epoch(), sender);
    let suite = MediaSuite::Aes256GcmSha512;
    let plaintexts: Vec<Vec<u8>> = vec![vec![], vec![0xfc], (0..=255).collect(), vec![7; 1500]];
    let metadata = b"codec prefix";
    let mut enc = FrameEncryptor::new(suite, kid, &secret)?;
    let rust_frames = plaintexts
        .iter()
        .map(|p| enc.encrypt(p, metadata).map(|f| to_hex(&f)))
        .collect::<Result<Vec<_>, _>>()?;
    let input = json!({
        "dek": to_hex(key.secret().expose_secret()),
        "session": SESSION, "call": call.to_string(), "epoch": key.epoch().0, "sender": sender,
        "metadata": to_hex(metadata),
        "frames": plaintexts.iter().map(|f| to_hex(f)).collect::<Vec<_>>(),
        "rust_frames": rust_frames,
    });
    let out = tokio::process::Command::new(node)
        .arg(browser_dir().join("sframe-interop.mjs"))
        .arg(input.to_string())
        .output()
        .await?;
    assert!(
        out.status.success(),
        "node: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(
        got["media_secret"],
        to_hex(secret.expose_secret()),
        "session media secret"
    );
    let expected: Vec<String> = plaintexts.iter().map(|f| to_hex(f)).collect();
    assert_eq!(got["opened"], json!(expected), "Rust frames open in JS");
    let mut dec = FrameDecryptor::new();
    dec.add_key(suite, kid, &secret)?;
    let protected = got["protected"].as_array().ok_or("no protected frames")?;
    assert_eq!(protected.len(), plaintexts.len());
    for (frame, plain) in protected.iter().zip(&plaintexts) {
        let frame = from_hex(frame.as_str().ok_or("hex")?)?;
        assert_eq!(parse_header(&frame)?.kid, kid.as_u64());
        assert_eq!(
            &dec.decrypt(&frame, metadata)?,
            plain,
            "JS frames open in Rust"
        );
        assert!(
            dec.decrypt(&frame, metadata).is_err(),
            "a replay is refused"
        );
    }
    Ok(())
}
