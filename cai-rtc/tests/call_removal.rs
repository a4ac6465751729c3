//! "When a participant leaves, the remaining ones move to a new epoch" outside end-to-end
//! mode, through the real pieces: three participants in a call of a session-key session,
//! each holding the key cai-core hands out. The host removes one in cai-core; the hub
//! ends the removed participant's call; the others hear `peer_left` and `key_epoch`,
//! fetch the new epoch's key from cai-core as themselves, rekey, and keep talking — under
//! a key the removed participant never held, which opens none of their new frames.
//! And a server-managed call on the call key cai-core hands out in place of the data key.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod peer_support;

use std::collections::BTreeSet;

use cai_core::domain::{RequestMeta, SessionMode};
use cai_core::id::SessionId;
use cai_core::service::SessionKeyMaterial;
use cai_core::{Caller, Error};
use cai_crypto::{DataKey, KeyEpoch};
use cai_rtc::call::{Call, CallError, CallEvent};
use cai_rtc::media::{CallKeys, DropReason};
use cai_rtc::signaling::{EndReason, JoinAuth, SecretText};
use peer_support::*;

fn guest(w: &world::World, link: &cai_core::domain::InvitationSecret, name: &str) -> JoinAuth {
    JoinAuth::GuestLink {
        tenant: w.tenant.id,
        pseudonym: name.to_owned(),
        secret: SecretText::new(link.expose().as_str().to_owned()),
    }
}

async fn key_of(w: &world::World, who: &Caller, s: SessionId) -> Result<DataKey, Error> {
    match w.svc().session_keys(who, w.tenant.id, s).await? {
        SessionKeyMaterial::SessionKey(key) => Ok(key),
        SessionKeyMaterial::ServerSealed { call_key } => Ok(call_key),
        other => panic!("a session outside end-to-end mode hands out a key: {other:?}"),
    }
}

/// The guest's own caller, from the token `admitted` gave it.
async fn caller_of(w: &world::World, call: &Call) -> Caller {
    let token = call.admitted().guest_token.as_ref().expect("a guest token");
    w.auth
        .authenticate(token.expose(), RequestMeta::default())
        .await
        .unwrap()
}

/// Waits until `call` reported a checked connection to each of `peers`.
async fn connected_to(call: &Call, peers: &[u16]) {
    let mut missing: BTreeSet<u16> = peers.iter().copied().collect();
    while !missing.is_empty() {
        let peer = next_call_matching(call, |e| match e {
            CallEvent::PeerConnected { peer, .. } => Some(peer),
            _ => None,
        })
        .await;
        missing.remove(&peer);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_participant_is_cut_off_and_the_others_move_to_a_key_it_never_held() {
    let (w, s, link) = hub_session(SessionMode::SessionKey).await;
    let first = key_of(&w, &w.cora.caller, s).await.unwrap();
    assert_eq!(first.epoch().0, 0);

    let cora = join_session(&w, cora_auth(&w, s), &first).await.unwrap();
    let kim = join_session(&w, guest(&w, &link, "Kim"), &first)
        .await
        .unwrap();
    let lu = join_session(&w, guest(&w, &link, "Lu"), &first)
        .await
        .unwrap();
    let (kim_caller, lu_caller) = (caller_of(&w, &kim).await, caller_of(&w, &lu).await);
    // Each guest holds the session's key as itself.
    assert_eq!(key_of(&w, &kim_caller, s).await.unwrap(), first);
    assert_eq!(key_of(&w, &lu_caller, s).await.unwrap(), first);
    connected_to(&cora, &[1, 2]).await;
    connected_to(&kim, &[0, 2]).await;
    connected_to(&lu, &[0, 1]).await;
    assert_eq!(cora.send_chat("all three").await.unwrap(), 2);
    // Both read it now: a chat left queued would be the next one read later.
    for call in [&kim, &lu] {
        assert_eq!(next_chat_from(call, Some(0)).await.1, "all three");
    }

    // The host removes Lu from the session in cai-core.
    w.svc()
        .remove_participant(
            &w.cora.caller,
            w.tenant.id,
            s,
            lu.admitted().participant,
            None,
        )
        .await
        .unwrap();
    let ended = next_call_matching(&lu, |e| match e {
        CallEvent::Ended(reason) => Some(reason),
        _ => None,
    })
    .await;
    assert_eq!(ended, Some(EndReason::Removed));
    for call in [&cora, &kim] {
        next_call_matching(call, |e| match e {
            CallEvent::PeerLeft { peer: 2 } => Some(()),
            _ => None,
        })
        .await;
        let epoch = next_call_matching(call, |e| match e {
            CallEvent::KeyEpoch { epoch } => Some(epoch),
            _ => None,
        })
        .await;
        assert_eq!(epoch, 1);
    }

    // Each remaining participant fetches the new key as itself; Lu gets nothing.
    let next = key_of(&w, &w.cora.caller, s).await.unwrap();
    assert_eq!(next.epoch().0, 1);
    assert_ne!(next.secret(), first.secret());
    assert_eq!(key_of(&w, &kim_caller, s).await.unwrap(), next);
    let refused = key_of(&w, &lu_caller, s).await;
    assert!(
        matches!(refused, Err(Error::NotFound { .. })),
        "{refused:?}"
    );
    // The key the call already has changes nothing.
    assert_eq!(cora.key_epoch(), Some(0));
    cora.rekey_session(&first).await.unwrap();
    assert_eq!(cora.key_epoch(), Some(0));
    cora.rekey_session(&next).await.unwrap();
    kim.rekey_session(&next).await.unwrap();
    assert_eq!(cora.key_epoch(), Some(1));
    // A second `key_epoch` for this epoch leads to the same key again: nothing to do.
    cora.rekey_session(&next).await.unwrap();
    assert_eq!(cora.key_epoch(), Some(1));
    // A key of a lower epoch, or another key at the call's epoch, is refused and
    // changes nothing.
    let stale = cora.rekey_session(&first).await.unwrap_err();
    assert!(
        matches!(stale, CallError::KeyEpoch { call: 1, given: 0 }),
        "{stale:?}"
    );
    let relabelled = DataKey::from_parts(first.id(), KeyEpoch(1), first.secret().clone());
    let other = cora.rekey_session(&relabelled).await.unwrap_err();
    assert!(
        matches!(other, CallError::KeyEpoch { call: 1, given: 1 }),
        "{other:?}"
    );
    assert_eq!(cora.key_epoch(), Some(1));
    assert_eq!(cora.send_chat("just us now").await.unwrap(), 1);
    assert_eq!(next_chat_from(&kim, Some(0)).await.1, "just us now");
    assert_eq!(kim.send_chat("agreed").await.unwrap(), 1);
    assert_eq!(next_chat_from(&cora, Some(1)).await.1, "agreed");

    // At the frame layer: what Cora sends now opens for Kim, and not for Lu even when
    // Lu labels the key it kept with the new epoch. Lu then derives keys for the same
    // SFrame KIDs (epoch 1, the senders' indices; the data key's id enters no media
    // key), so Cora's frame is not dropped as stale or of an unknown sender but fails
    // to decrypt: the new key is fresh, not derived from the old one.
    let call_id = cora.admitted().call;
    let session = s.to_string();
    let mut sender = CallKeys::session(&session, &call_id, &next, 0, &[0, 1]).unwrap();
    let mut receiver = CallKeys::session(&session, &call_id, &next, 1, &[0, 1]).unwrap();
    let mut kept_by_lu = CallKeys::session(&session, &call_id, &relabelled, 2, &[0, 1, 2]).unwrap();
    let frame = sender.protect(b"after the removal", b"").unwrap();
    let opened = receiver.unprotect(&frame, b"").unwrap();
    assert_eq!(&opened.data[..], b"after the removal");
    assert_eq!(opened.epoch, 1);
    let dropped = kept_by_lu.unprotect(&frame, b"").unwrap_err();
    assert_eq!(dropped.reason, DropReason::Invalid, "{dropped:?}");
    assert_eq!(kept_by_lu.stats().dropped_invalid, 1);

    // Joining again with the old key is refused before any connection is made, but
    // after the hub admitted the join: it took sender index 3 (and one of Cora's
    // joins), so a join with the current key gets index 4.
    let late = join_session(&w, cora_auth(&w, s), &first)
        .await
        .unwrap_err();
    assert!(
        matches!(late, CallError::KeyEpoch { call: 1, given: 0 }),
        "{late:?}"
    );
    let again = join_session(&w, cora_auth(&w, s), &next).await.unwrap();
    assert_eq!(again.admitted().sender_index, 4);
    assert_eq!(again.key_epoch(), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_managed_call_runs_on_the_call_key_cai_core_hands_out() {
    let (w, s, link) = hub_session(SessionMode::ServerManaged).await;
    let call_key = key_of(&w, &w.cora.caller, s).await.unwrap();
    let cora = join_session(&w, cora_auth(&w, s), &call_key).await.unwrap();
    let kim = join_session(&w, guest(&w, &link, "Kim"), &call_key)
        .await
        .unwrap();
    // The guest gets the same call key as itself.
    let kim_caller = caller_of(&w, &kim).await;
    assert_eq!(key_of(&w, &kim_caller, s).await.unwrap(), call_key);
    connected_to(&cora, &[1]).await;
    connected_to(&kim, &[0]).await;
    cora.send_chat("on the call key").await.unwrap();
    assert_eq!(next_chat_from(&kim, Some(0)).await.1, "on the call key");
    kim.send_chat("heard").await.unwrap();
    assert_eq!(next_chat_from(&cora, Some(1)).await.1, "heard");
    cora.leave();
    kim.leave();
}
