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
