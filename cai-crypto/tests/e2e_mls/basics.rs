use crate::world::*;

#[test]
fn counsellor_and_client_talk_and_agree() {
    let cu = User::new("counsellor");
    let clu = User::new("client");
    let mut c = cu.device("laptop");
    let mut cl = clu.device("phone");
    let (mut server, gid) = Server::start(&cu, &mut c);
    let h = c.add(&gid, &[kp(&cl)]).unwrap();
    server.commit(&mut c, &gid, h);
    let joined = server.join(&mut cl);
    assert_eq!(joined.epoch, 1);
    assert_eq!(
        c.epoch_authenticator(&gid).unwrap(),
        cl.epoch_authenticator(&gid).unwrap()
    );
    assert_eq!(
        c.verification_code(&gid).unwrap(),
        cl.verification_code(&gid).unwrap()
    );
    let sealed = c.seal(&gid, &ctx(b"m1"), b"hello").unwrap();
    let opened = cl.open(&gid, &ctx(b"m1"), &sealed).unwrap();
    assert_eq!(opened.plaintext, b"hello");
    assert_eq!(opened.sender.account(), &cu.account);
    // A second device of the client joins; the counsellor is warned.
    let mut tab = clu.device("tablet");
    let h = cl.add(&gid, &[kp(&tab)]).unwrap();
    server.commit(&mut cl, &gid, h);
    let p = server.sync(&mut c, &gid);
    assert_eq!(p[0].warnings.len(), 1, "{:?}", p[0].warnings);
    server.join(&mut tab);
    assert_eq!(
        tab.verification_code(&gid).unwrap(),
        c.verification_code(&gid).unwrap()
    );
    // The tablet cannot read epoch 1 content.
    assert!(matches!(
        tab.open(&gid, &ctx(b"m1"), &sealed),
        Err(cai_crypto::Error::EpochUnavailable { epoch: 1, .. })
    ));
}

#[test]
fn media_receivers_keep_the_previous_epoch_and_nothing_older() {
    use cai_crypto::sframe::MediaSuite;
    let suite = MediaSuite::Aes128GcmSha256;
    let cu = User::new("counsellor");
    let clu = User::new("client");
    let mut c = cu.device("laptop");
    let mut cl = clu.device("phone");
    let (mut server, gid) = Server::start(&cu, &mut c);
    let h = c.add(&gid, &[kp(&cl)]).unwrap();
    server.commit(&mut c, &gid, h);
    server.join(&mut cl);
    let mut receiver = cl.media_receiver(&gid, suite).unwrap();
    // Two frames per epoch: one to receive, a spare to try later.
    let mut frames = Vec::new();
    for epoch in 1..=3u64 {
        if epoch > 1 {
            let h = c.update(&gid).unwrap();
            server.commit(&mut c, &gid, h);
            server.sync(&mut cl, &gid);
            cl.update_media_receiver(&gid, suite, &mut receiver)
                .unwrap();
        }
        let mut sender = c.media_sender(&gid, suite).unwrap();
        frames.push((
            sender.protect(b"frame", b"").unwrap(),
            sender.protect(b"spare", b"").unwrap(),
        ));
    }
    // Epoch 3 now: its frames and those of epoch 2 still in flight open; epoch 1's not.
    assert_eq!(receiver.unprotect(&frames[2].0, b"").unwrap().epoch, 3);
    assert_eq!(receiver.unprotect(&frames[1].0, b"").unwrap().epoch, 2);
    assert!(matches!(
        receiver.unprotect(&frames[0].0, b""),
        Err(cai_crypto::Error::UnknownMediaKey { .. })
    ));
    // Once the caller says the transition is over, epoch 2 goes too.
    receiver.forget_before(3);
    assert!(matches!(
        receiver.unprotect(&frames[1].1, b""),
        Err(cai_crypto::Error::UnknownMediaKey { .. })
    ));
    assert_eq!(
        receiver.unprotect(&frames[2].1, b"").unwrap().frame,
        b"spare"
    );
}
