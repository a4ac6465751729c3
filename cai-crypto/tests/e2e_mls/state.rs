//! Saved state: a device saved and loaded mid-session goes on (also with a commit
//! pending), the Delivery Service's group too — and issue 9, test 5: state stolen
//! before a device updated cannot read the epochs after the update.

use cai_crypto::Error;
use cai_crypto::e2e::{Device, DsGroup};
use cai_crypto::sframe::MediaSuite;

use crate::world::*;

const SUITE: MediaSuite = MediaSuite::Aes128GcmSha256;

/// Counsellor laptop (0), client phone (1) and tablet (2), in epoch 2.
fn three() -> (Server, Vec<u8>, Vec<Device>, User, User) {
    let cu = User::new("counsellor");
    let clu = User::new("client");
    let mut d = vec![
        cu.device("laptop"),
        clu.device("phone"),
        clu.device("tablet"),
    ];
    let (mut server, gid) = Server::start(&cu, &mut d[0]);
    server.grow(&gid, 0, &mut d);
    (server, gid, d, cu, clu)
}

fn reload(d: &Device) -> Device {
    Device::load(&d.save().unwrap()).unwrap()
}

#[test]
fn a_device_saved_and_loaded_mid_session_goes_on() {
    let (mut server, gid, mut d, cu, _clu) = three();
    let old = d[1].seal(&gid, &ctx(b"old"), b"epoch 2").unwrap();
    let code = d[0].verification_code(&gid).unwrap();
    d[0] = reload(&d[0]);
    let ds = DsGroup::from_bytes(&server.ds.to_bytes().unwrap()).unwrap();
    assert_eq!(ds.epoch(), server.ds.epoch());
    assert_eq!(ds.members().unwrap(), server.ds.members().unwrap());
    server.ds = ds;
    assert_eq!(d[0].verification_code(&gid).unwrap(), code);
    assert_eq!(d[0].members(&gid).unwrap(), d[1].members(&gid).unwrap());
    assert_eq!(
        d[0].open(&gid, &ctx(b"old"), &old).unwrap().plaintext,
        b"epoch 2"
    );
    // It processes others' commits, commits itself, seals and opens.
    let h = d[1].update(&gid).unwrap();
    server.commit(&mut d[1], &gid, h);
    server.sync(&mut d[0], &gid);
    server.sync(&mut d[2], &gid);
    let mut desk = cu.device("desk");
    let h = d[0].add(&gid, &[kp(&desk)]).unwrap();
    server.commit(&mut d[0], &gid, h);
    server.sync(&mut d[1], &gid);
    server.sync(&mut d[2], &gid);
    server.join(&mut desk);
    let new = d[0].seal(&gid, &ctx(b"new"), b"epoch 4").unwrap();
    for o in [&d[1], &d[2], &desk] {
        assert_eq!(
            o.open(&gid, &ctx(b"new"), &new).unwrap().plaintext,
            b"epoch 4"
        );
        assert_eq!(
            o.verification_code(&gid).unwrap(),
            d[0].verification_code(&gid).unwrap()
        );
    }
    // The trust store came back too: the desk is a known device now, not new again.
    let again = reload(&d[0]);
    assert_eq!(again.members(&gid).unwrap().len(), 4);
    let mut rx = again.media_receiver(&gid, SUITE).unwrap();
    let f = d[1]
        .media_sender(&gid, SUITE)
        .unwrap()
        .protect(b"f", b"m")
        .unwrap();
    assert_eq!(rx.unprotect(&f, b"m").unwrap().frame, b"f");
}

#[test]
fn a_commit_pending_at_the_save_can_be_confirmed_or_processed_after_the_load() {
    let (mut server, gid, mut d, cu, _clu) = three();
    let mut desk = cu.device("desk");
    let h = d[0].add(&gid, &[kp(&desk)]).unwrap();
    let saved = d[0].save().unwrap();
    server.post(&h).unwrap();
    // Restarted, it learns from the DS that its commit won: `confirm` works...
    let mut a = Device::load(&saved).unwrap();
    assert_eq!(a.confirm(&gid).unwrap().epoch, 3);
    // ... and so does processing its own commit as relayed by the DS.
    let mut b = Device::load(&saved).unwrap();
    assert!(matches!(
        b.process(&gid, &h.commit, &server.records[1]),
        Err(Error::Rejected { .. })
    ));
    assert_eq!(b.epoch(&gid).unwrap(), 2);
    assert_eq!(b.process(&gid, &h.commit, &h.record).unwrap().epoch, 3);
    server.sync(&mut d[1], &gid);
    server.join(&mut desk);
    for x in [&a, &b, &desk] {
        assert_eq!(
            x.epoch_authenticator(&gid).unwrap(),
            d[1].epoch_authenticator(&gid).unwrap()
        );
    }
    // When another commit won, the loaded device processes that one instead.
    let h = b.update(&gid).unwrap();
    let saved = b.save().unwrap();
    let other = d[1].update(&gid).unwrap();
    server.commit(&mut d[1], &gid, other);
    assert!(server.post(&h).is_err());
    let mut c = Device::load(&saved).unwrap();
    server.sync(&mut c, &gid);
    assert!(c.confirm(&gid).is_err(), "its own commit lost and is void");
    assert_eq!(
        c.epoch_authenticator(&gid).unwrap(),
        d[1].epoch_authenticator(&gid).unwrap()
    );
}

#[test]
fn state_stolen_before_an_update_cannot_read_the_epochs_after_it() {
    let (mut server, gid, mut d, _cu, _clu) = three();
    let stolen_bytes = d[1].save().unwrap();
    let before = d[0].seal(&gid, &ctx(b"before"), b"epoch 2").unwrap();
    // The phone was compromised; it updates (post-compromise security).
    let h = d[1].update(&gid).unwrap();
    let (commit, record) = (h.commit.clone(), h.record.clone());
    server.commit(&mut d[1], &gid, h);
    server.sync(&mut d[0], &gid);
    server.sync(&mut d[2], &gid);
    let after = d[0].seal(&gid, &ctx(b"after"), b"epoch 3").unwrap();
    let frame = d[0]
        .media_sender(&gid, SUITE)
        .unwrap()
        .protect(b"frame 3", b"m")
        .unwrap();

    let mut stolen = Device::load(&stolen_bytes).unwrap();
    let mut rx = stolen.media_receiver(&gid, SUITE).unwrap();
    // The attacker reads what it had (the state is real) ...
    assert_eq!(
        stolen
            .open(&gid, &ctx(b"before"), &before)
            .unwrap()
            .plaintext,
        b"epoch 2"
    );
    // ... but cannot follow the update, nor read or hear anything after it.
    assert!(stolen.process(&gid, &commit, &record).is_err());
    assert_eq!(stolen.epoch(&gid).unwrap(), 2);
    assert!(matches!(
        stolen.open(&gid, &ctx(b"after"), &after),
        Err(Error::EpochUnavailable { epoch: 3, .. })
    ));
    assert!(rx.unprotect(&frame, b"m").is_err());
    // Nor any later epoch.
    let h = d[2].update(&gid).unwrap();
    server.commit(&mut d[2], &gid, h.clone());
    server.sync(&mut d[0], &gid);
    server.sync(&mut d[1], &gid);
    assert!(stolen.process(&gid, &h.commit, &h.record).is_err());
    let later = d[1].seal(&gid, &ctx(b"later"), b"epoch 4").unwrap();
    assert!(matches!(
        stolen.open(&gid, &ctx(b"later"), &later),
        Err(Error::EpochUnavailable { epoch: 4, .. })
    ));
    // The genuine phone reads everything.
    assert_eq!(
        d[1].open(&gid, &ctx(b"after"), &after).unwrap().plaintext,
        b"epoch 3"
    );
}
