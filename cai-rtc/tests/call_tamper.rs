//! ASVS V17 through the hub: a relay between a participant and the signaling server that
//! rewrites the `a=fingerprint` line of its offer (to put its own certificate in the
//! middle) is refused — whether it re-signs with a key of its own or keeps the original
//! signature — and so is an offer signed by a device key the receiver does not know for
//! that participant. The answer is held to the same rule on the offerer's side: one
//! whose signature a relay between the server and the offerer stripped, or replaced with
//! its own, is refused and the pending connection closed. Outside end-to-end mode (no
//! signatures) the rewritten fingerprint makes the handshake fail and the connection is
//! reported failed. The same relay passing everything through unchanged is the positive
//! control.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod peer_support;

use cai_core::domain::SessionMode;
use cai_core::id::SessionId;
use cai_rtc::call::{Call, CallError, CallEvent};
use cai_rtc::signaling::{
    ClientBody, DescriptionError, DescriptionRoute, Frame, MemoryChannel, ServerMessage,
    SignalingChannel, parse, sign_description,
};
use ed25519_dalek::SigningKey;
use peer_support::e2e::*;
use peer_support::*;

#[derive(Clone, Copy, Debug)]
enum Tamper {
    /// Pass everything through.
    Nothing,
    /// Rewrite the offer's fingerprint and re-sign it with the relay's key.
    ReSign,
    /// Rewrite the offer's fingerprint and keep the guest's signature.
    KeepSignature,
    /// Drop the signature of the answer the server relays to the client.
    StripAnswerSignature,
    /// Replace the signature of the answer the server relays to the client with one by
    /// the relay's key over the same answer and route.
    ReSignAnswer,
}

/// Every `a=fingerprint:` value replaced by a SHA-256 fingerprint of 32 × 0xAB.
fn rewrite_fingerprints(sdp: &str) -> String {
    let fake = format!("sha-256 {}", vec!["AB"; 32].join(":"));
    sdp.split_inclusive("\r\n")
        .map(|line| {
            if line.starts_with("a=fingerprint:") {
                format!("a=fingerprint:{fake}\r\n")
            } else {
                line.to_owned()
            }
        })
        .collect()
}

/// A signaling connection to the hub with a relay in between that tampers with the
/// client's offers, or the answers relayed to it, as `tamper` says.
fn relayed_channel(w: &world::World, session: SessionId, tamper: Tamper) -> MemoryChannel {
    let mut to_hub = hub_channel(w);
    let (mut relay, client) = MemoryChannel::pair(512);
    let relay_key = SigningKey::from_bytes(&[0x66; 32]);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                f = relay.recv() => {
                    let Some(Ok(Frame::Text(bytes))) = f else { break };
                    let mut m = parse(&bytes).unwrap();
                    if let ClientBody::Offer(o) = &mut m.body {
                        match tamper {
                            Tamper::Nothing
                            | Tamper::StripAnswerSignature
                            | Tamper::ReSignAnswer => {}
                            Tamper::ReSign => {
                                o.description.sdp = rewrite_fingerprints(&o.description.sdp);
                                let route = DescriptionRoute { session, from: 1, to: o.to };
                                o.signature = Some(
                                    sign_description(&relay_key, &route, &o.description).unwrap(),
                                );
                            }
                            Tamper::KeepSignature => {
                                o.description.sdp = rewrite_fingerprints(&o.description.sdp);
                            }
                        }
                    }
                    if to_hub.send(m.to_json()).await.is_err() {
                        break;
                    }
                }
                f = to_hub.recv() => {
                    let Some(Ok(Frame::Text(bytes))) = f else { break };
                    // Answers are rewritten only when tampering; all else passes unchanged.
                    let text = match (tamper, ServerMessage::parse(&bytes).unwrap()) {
                        (Tamper::StripAnswerSignature, ServerMessage::Answer(mut a)) => {
                            a.signature = None;
                            ServerMessage::Answer(a).to_json()
                        }
                        (Tamper::ReSignAnswer, ServerMessage::Answer(mut a)) => {
                            let route = DescriptionRoute { session, from: a.from, to: 1 };
                            a.signature = Some(
                                sign_description(&relay_key, &route, &a.description).unwrap(),
                            );
                            ServerMessage::Answer(a).to_json()
                        }
                        _ => String::from_utf8(bytes).unwrap(),
                    };
                    if relay.send(text).await.is_err() {
                        break;
                    }
                }
            }
        }
    });
    client
}

/// Cora joins directly, the guest (signing with `guest_seed`) through a relay that
/// tampers as `tamper` says; returns Cora's call, and keeps the guest's alive.
async fn e2e_calls(e: &E2eWorld, tamper: Tamper, guest_seed: u8) -> (Call, Call) {
    let a = Call::join(
        hub_channel(&e.w),
        cora_auth(&e.w, e.s),
        e2e_setup(e, &e.cora, 0x11),
    )
    .await
    .unwrap();
    let b = Call::join(
        relayed_channel(&e.w, e.s, tamper),
        guest_auth(&e.w, &e.link),
        e2e_setup(e, &e.guest, guest_seed),
    )
    .await
    .unwrap();
    (a, b)
}

/// What Cora's call makes of the guest's offer: connected, or the error it reports.
async fn outcome(a: &Call) -> Result<(), CallError> {
    outcome_with(a, 1).await
}

/// What `call` makes of its connection to `peer`: connected, or the error it reports.
async fn outcome_with(call: &Call, peer: u16) -> Result<(), CallError> {
    next_call_matching(call, |e| match e {
        CallEvent::PeerConnected { peer: p, .. } if p == peer => Some(Ok(())),
        CallEvent::Error {
            peer: Some(p),
            error,
        } if p == peer => Some(Err(error)),
        CallEvent::Chat { .. } | CallEvent::File { .. } => panic!("content before a check"),
        _ => None,
    })
    .await
}

/// `call` refuses `peer`'s description for its signature and keeps no connection to it.
async fn refused_for_its_signature(call: &Call, peer: u16) {
    let err = outcome_with(call, peer).await.unwrap_err();
    assert!(
        matches!(err, CallError::Description(DescriptionError::BadSignature)),
        "{err:?}"
    );
    assert!(call.peers().is_empty(), "no connection was made");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_untampered_relay_connects() {
    let e = e2e_world().await;
    let (a, b) = e2e_calls(&e, Tamper::Nothing, 0x22).await;
    outcome(&a).await.unwrap();
    // The guest's own check of Cora's certificate may finish later than Cora's: chat
    // goes only to checked connections, so wait for it.
    next_call_matching(&b, |e| match e {
        CallEvent::PeerConnected { peer: 0, .. } => Some(()),
        _ => None,
    })
    .await;
    b.send_chat("through the relay").await.unwrap();
    next_call_matching(&a, |e| match e {
        CallEvent::Chat { peer: 1, text } => Some(text),
        _ => None,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewritten_fingerprint_re_signed_by_the_relay_is_refused() {
    let e = e2e_world().await;
    let (a, _b) = e2e_calls(&e, Tamper::ReSign, 0x22).await;
    refused_for_its_signature(&a, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewritten_fingerprint_under_the_original_signature_is_refused() {
    let e = e2e_world().await;
    let (a, _b) = e2e_calls(&e, Tamper::KeepSignature, 0x22).await;
    refused_for_its_signature(&a, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_signed_by_another_device_key_is_refused() {
    let e = e2e_world().await;
    // The guest signs with a key Cora does not know for the guest.
    let (a, _b) = e2e_calls(&e, Tamper::Nothing, 0x33).await;
    refused_for_its_signature(&a, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_without_its_signature_is_refused() {
    let e = e2e_world().await;
    // The guest offers to Cora; the answer Cora signed reaches the guest unsigned.
    let (_a, b) = e2e_calls(&e, Tamper::StripAnswerSignature, 0x22).await;
    refused_for_its_signature(&b, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_signed_by_another_key_is_refused() {
    let e = e2e_world().await;
    let (_a, b) = e2e_calls(&e, Tamper::ReSignAnswer, 0x22).await;
    refused_for_its_signature(&b, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_end_to_end_setup_without_signing_is_refused_before_connecting() {
    let e = e2e_world().await;
    let mut setup = e2e_setup(&e, &e.cora, 0x11);
    setup.signing = None;
    let err = Call::join(hub_channel(&e.w), cora_auth(&e.w, e.s), setup)
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::ModeMismatch), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_signatures_a_rewritten_fingerprint_fails_the_handshake() {
    let (w, s, link) = hub_session(SessionMode::ServerManaged).await;
    let key = shared_key(5, 0);
    let a = join_session(&w, cora_auth(&w, s), &key).await.unwrap();
    let _b = Call::join(
        relayed_channel(&w, s, Tamper::KeepSignature),
        guest_auth(&w, &link),
        session_setup(&w, &key).loopback_only(),
    )
    .await
    .unwrap();
    // Cora answered a description whose fingerprint is not the guest's certificate: the
    // handshake fails, nothing of the guest's is delivered.
    let err = outcome(&a).await.unwrap_err();
    assert!(matches!(err, CallError::ConnectionFailed), "{err:?}");
    assert!(a.peers().is_empty());
}
