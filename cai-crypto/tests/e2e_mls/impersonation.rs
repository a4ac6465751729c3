//! Issue 9, test 3: member A derives every key of the epoch legitimately, yet cannot
//! produce a content item or a media frame that verifies as member B's.

use cai_crypto::Error;
use cai_crypto::e2e::{Device, IdentityPublicKey};
use cai_crypto::sframe::MediaSuite;

use crate::rogue::{Key, Rogue, content_signature_body, frame_signature_body, seal_content};
use crate::world::*;

const SUITE: MediaSuite = MediaSuite::Aes128GcmSha256;

/// Counsellor `c` (an honest `Device`), client `b` (honest) and `a`, a member of a
/// second account driven straight through openmls. All in epoch 2.
fn setup() -> (Server, Vec<u8>, Device, Device, Rogue) {
    let cu = User::new("counsellor");
    let bu = User::new("client");
    let au = User::new("other client");
    let mut c = cu.device("laptop");
    let mut b = bu.device("phone");
    let mut a = Rogue::new(&au, "phone");
    let (mut server, gid) = Server::start(&cu, &mut c);
    let h = c.add(&gid, &[kp(&b)]).unwrap();
    server.commit(&mut c, &gid, h);
    server.join(&mut b);
    let h = c.add(&gid, &[a.key_package()]).unwrap();
    server.commit(&mut c, &gid, h);
    server.sync(&mut b, &gid);
    a.join(&server.welcomes.last().unwrap().1);
    assert_eq!(a.group().epoch().as_u64(), 2);
    (server, gid, c, b, a)
}

fn sign_content(
    key: &Key,
    gid: &[u8],
    claimed: &IdentityPublicKey,
    item: &[u8],
    body: &[u8],
) -> [u8; 64] {
    key.sign_cai(&content_signature_body(gid, 2, claimed, &ctx(item), body))
}

#[test]
fn content_signed_by_a_does_not_open_as_b() {
    let (_server, gid, c, b, a) = setup();
    let ck = a.content_key();
    assert_eq!(
        ck.id(),
        c.epoch_keys(&gid, 2).unwrap().unwrap().content_key().id(),
        "the rogue derives the epoch's content key legitimately"
    );
    let a_key = a.key.public();
    let b_key = *b.credential().signature_key();
    // Control: A's honest item opens, as A's.
    let sig = sign_content(&a.key, &gid, &a_key, b"i1", b"from A");
    let item = seal_content(&ck, &ctx(b"i1"), &a_key, &sig, b"from A");
    let opened = c.open(&gid, &ctx(b"i1"), &item).unwrap();
    assert_eq!(opened.sender.account(), a.account());
    assert_eq!(opened.plaintext, b"from A");

    // A signs with its own key while claiming B's key bytes.
    let sig = sign_content(&a.key, &gid, &b_key, b"i2", b"from B, honestly");
    let forged = seal_content(&ck, &ctx(b"i2"), &b_key, &sig, b"from B, honestly");
    assert_eq!(
        c.open(&gid, &ctx(b"i2"), &forged).unwrap_err(),
        Error::InvalidSignature
    );
    // ... or its own signature over what names A, relabelled as B's.
    let sig = sign_content(&a.key, &gid, &a_key, b"i3", b"x");
    let forged = seal_content(&ck, &ctx(b"i3"), &b_key, &sig, b"x");
    assert_eq!(
        c.open(&gid, &ctx(b"i3"), &forged).unwrap_err(),
        Error::InvalidSignature
    );
    // A key that is no member's is not accepted either.
    let stranger = Key::generate();
    let s_key = stranger.public();
    let sig = sign_content(&stranger, &gid, &s_key, b"i4", b"x");
    let forged = seal_content(&ck, &ctx(b"i4"), &s_key, &sig, b"x");
    assert!(matches!(
        c.open(&gid, &ctx(b"i4"), &forged),
        Err(Error::Rejected { .. })
    ));
}

#[test]
fn b_s_genuine_item_cannot_be_re_signed_altered_or_moved_by_a() {
    let (_server, gid, c, b, a) = setup();
    let ck = a.content_key();
    let b_key = *b.credential().signature_key();
    let genuine = b.seal(&gid, &ctx(b"m"), b"I am B").unwrap();
    assert_eq!(
        c.open(&gid, &ctx(b"m"), &genuine).unwrap().sender,
        *b.credential()
    );
    // A opens it (A is a member) and takes B's signature.
    let inner = cai_crypto::envelope::open(&ck, &ctx(b"m"), &genuine).unwrap();
    let b_sig: [u8; 64] = inner[7 + 32..7 + 32 + 64].try_into().unwrap();
    // B's signature on another body, or under another item id: refused.
    let altered = seal_content(&ck, &ctx(b"m"), &b_key, &b_sig, b"I am B, pay A");
    assert_eq!(
        c.open(&gid, &ctx(b"m"), &altered).unwrap_err(),
        Error::InvalidSignature
    );
    let moved = seal_content(&ck, &ctx(b"other"), &b_key, &b_sig, b"I am B");
    assert_eq!(
        c.open(&gid, &ctx(b"other"), &moved).unwrap_err(),
        Error::InvalidSignature
    );
    // A re-signs B's body with its own key, keeping B's key bytes: refused.
    let sig = sign_content(&a.key, &gid, &b_key, b"m", b"I am B");
    let resigned = seal_content(&ck, &ctx(b"m"), &b_key, &sig, b"I am B");
    assert_eq!(
        c.open(&gid, &ctx(b"m"), &resigned).unwrap_err(),
        Error::InvalidSignature
    );
    // Re-signed honestly under A's own key, it opens — as A's, never as B's.
    let a_key = a.key.public();
    let sig = sign_content(&a.key, &gid, &a_key, b"m", b"I am B");
    let resigned = seal_content(&ck, &ctx(b"m"), &a_key, &sig, b"I am B");
    let opened = c.open(&gid, &ctx(b"m"), &resigned).unwrap();
    assert_eq!(opened.sender.account(), a.account());
    assert_ne!(opened.sender, *b.credential());
}

#[test]
fn a_cannot_forge_or_re_sign_a_frame_under_b_s_kid() {
    let (_server, gid, c, b, a) = setup();
    let mut rx = c.media_receiver(&gid, SUITE).unwrap();
    let a_index = a.leaf_of(&a.credential);
    let b_index = a.leaf_of(b.credential());
    // Control: A's own frame, under its own KID and signed by it, is accepted as A's.
    let sframe = a.sframe_as(a_index, b"A's frame", b"meta");
    let mut frame = sframe.clone();
    frame.extend_from_slice(
        &a.key
            .sign_cai(&frame_signature_body(&gid, b"meta", &sframe)),
    );
    let got = rx.unprotect(&frame, b"meta").unwrap();
    assert_eq!(
        (got.frame.as_slice(), got.sender_index),
        (&b"A's frame"[..], a_index)
    );

    // A encrypts under B's key and KID (every member can derive it) and signs itself.
    let sframe = a.sframe_as(b_index, b"B says hi", b"meta");
    let mut forged = sframe.clone();
    forged.extend_from_slice(
        &a.key
            .sign_cai(&frame_signature_body(&gid, b"meta", &sframe)),
    );
    assert_eq!(
        rx.unprotect(&forged, b"meta").unwrap_err(),
        Error::InvalidSignature
    );
    // A takes B's genuine frame and re-signs it.
    let mut bs = b.media_sender(&gid, SUITE).unwrap();
    let genuine = bs.protect(b"B's real frame", b"meta").unwrap();
    let sframe = &genuine[..genuine.len() - 64];
    let mut resigned = sframe.to_vec();
    resigned.extend_from_slice(&a.key.sign_cai(&frame_signature_body(&gid, b"meta", sframe)));
    assert_eq!(
        rx.unprotect(&resigned, b"meta").unwrap_err(),
        Error::InvalidSignature
    );
    // B's signature moved onto A's forged SFrame under B's KID.
    let mut moved = a.sframe_as(b_index, b"B says hi", b"meta");
    moved.extend_from_slice(&genuine[genuine.len() - 64..]);
    assert_eq!(
        rx.unprotect(&moved, b"meta").unwrap_err(),
        Error::InvalidSignature
    );
    // B's genuine frame still passes (the receiver is not just refusing everything).
    let got = rx.unprotect(&genuine, b"meta").unwrap();
    assert_eq!(
        (got.frame.as_slice(), got.sender_index),
        (&b"B's real frame"[..], b_index)
    );
}
