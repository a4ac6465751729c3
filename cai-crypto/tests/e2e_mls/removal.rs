//! Issue 9, tests 1 and 2: a removed device reads nothing after its removal, and its
//! competing commits are refused by the Delivery Service and by every client.

use cai_crypto::Error;
use cai_crypto::e2e::Device;
use cai_crypto::sframe::MediaSuite;

use crate::world::*;

const SUITE: MediaSuite = MediaSuite::Aes128GcmSha256;

/// Counsellor `c` (index 0), client phone (1) and tablet (2), all in epoch 2.
fn three() -> (Server, Vec<u8>, Vec<Device>, User, User) {
    let cu = User::new("counsellor");
    let clu = User::new("client");
    let mut devices = vec![
        cu.device("laptop"),
        clu.device("phone"),
        clu.device("tablet"),
    ];
    let (mut server, gid) = Server::start(&cu, &mut devices[0]);
    server.grow(&gid, 0, &mut devices);
    assert_eq!(devices[2].epoch(&gid).unwrap(), 2);
    (server, gid, devices, cu, clu)
}

fn state(d: &Device, gid: &[u8]) -> (u64, Vec<u8>) {
    (d.epoch(gid).unwrap(), d.epoch_authenticator(gid).unwrap())
}

#[test]
fn removed_device_that_processed_its_removal_reads_nothing_after() {
    let (mut server, gid, mut d, _cu, clu) = three();
    let before = d[0].seal(&gid, &ctx(b"before"), b"old news").unwrap();
    let tablet = d[2].credential().device().clone();
    let h = d[0].remove(&gid, &clu.account, Some(&tablet)).unwrap();
    server.commit(&mut d[0], &gid, h);
    server.sync(&mut d[1], &gid);
    // The tablet learns of its removal: its group is gone.
    let (commit, record) = server.commit_of(3).clone();
    let p = d[2].process(&gid, &commit, &record).unwrap();
    assert!(p.removed_self);
    assert_eq!(d[2].groups().count(), 0);
    let after = d[0].seal(&gid, &ctx(b"after"), b"secret").unwrap();
    assert!(matches!(
        d[2].open(&gid, &ctx(b"after"), &after),
        Err(Error::Rejected { what: "group", .. })
    ));
    assert!(d[2].open(&gid, &ctx(b"before"), &before).is_err());
    // Replayed commits, old or new, bring nothing back.
    let h = d[1].update(&gid).unwrap();
    server.commit(&mut d[1], &gid, h);
    server.sync(&mut d[0], &gid);
    for (c, r) in &server.commits {
        assert!(d[2].process(&gid, c, r).is_err());
    }
    assert_eq!(d[2].groups().count(), 0);
    // The others go on; the phone reads what the laptop sealed after the removal.
    assert_eq!(
        d[1].open(&gid, &ctx(b"after"), &after).unwrap().plaintext,
        b"secret"
    );
}

#[test]
fn removed_device_kept_in_the_dark_cannot_read_new_epochs_even_with_replays_and_reordering() {
    let (mut server, gid, mut d, _cu, clu) = three();
    let mut media_rx = d[2].media_receiver(&gid, SUITE).unwrap();
    let mut sender = d[0].media_sender(&gid, SUITE).unwrap();
    let old_frame = sender.protect(b"frame in epoch 2", b"meta").unwrap();
    assert_eq!(
        media_rx.unprotect(&old_frame, b"meta").unwrap().frame,
        b"frame in epoch 2"
    );
    let before = d[0].seal(&gid, &ctx(b"before"), b"old news").unwrap();
    // Epoch 3: the tablet is removed; the server never tells it.
    let tablet = d[2].credential().device().clone();
    let h = d[0].remove(&gid, &clu.account, Some(&tablet)).unwrap();
    server.commit(&mut d[0], &gid, h);
    server.sync(&mut d[1], &gid);
    // Epoch 4: the phone rotates its keys.
    let h = d[1].update(&gid).unwrap();
    server.commit(&mut d[1], &gid, h);
    server.sync(&mut d[0], &gid);
    let frozen = state(&d[2], &gid);
    assert_eq!(frozen.0, 2);

    for (epoch, item) in [(3u64, &b"e3"[..]), (4, b"e4")] {
        let sealed = if epoch == 3 {
            // Sealed by the phone from its own epoch-3 keys.
            let k = d[1]
                .epoch_keys(&gid, 3)
                .unwrap()
                .unwrap()
                .content_key()
                .clone();
            cai_crypto::envelope::seal(&k, &ctx(item), b"x").unwrap()
        } else {
            d[0].seal(&gid, &ctx(item), b"after removal").unwrap()
        };
        assert!(
            matches!(
                d[2].open(&gid, &ctx(item), &sealed),
                Err(Error::EpochUnavailable { epoch: e, .. }) if e == epoch
            ),
            "epoch {epoch}"
        );
    }
    // Reordered: the epoch-4 commit first; replayed: the commits of epochs 1 and 2.
    for epoch in [4, 1, 2, 4] {
        let (c, r) = server.commit_of(epoch).clone();
        assert!(
            d[2].process(&gid, &c, &r).is_err(),
            "commit of epoch {epoch}"
        );
        assert_eq!(state(&d[2], &gid), frozen);
    }
    // A commit with the record of another epoch is refused too.
    let (c, _) = server.commit_of(3).clone();
    let (_, r4) = server.commit_of(4).clone();
    assert!(d[2].process(&gid, &c, &r4).is_err());
    assert_eq!(state(&d[2], &gid), frozen);

    // Media of the new epoch: the laptop's and the phone's new senders.
    for d_idx in [0, 1] {
        let mut s = d[d_idx].media_sender(&gid, SUITE).unwrap();
        assert_eq!(s.epoch(), 4);
        let f = s.protect(b"frame in epoch 4", b"meta").unwrap();
        assert!(matches!(
            media_rx.unprotect(&f, b"meta"),
            Err(Error::UnknownMediaKey { .. })
        ));
        // Refreshing its receiver only brings back the keys of the epoch it is stuck in.
        d[2].update_media_receiver(&gid, SUITE, &mut media_rx)
            .unwrap();
        assert!(media_rx.unprotect(&f, b"meta").is_err());
    }
    // What it was a member for stays readable (the checks above are not vacuous).
    assert_eq!(
        d[2].open(&gid, &ctx(b"before"), &before).unwrap().plaintext,
        b"old news"
    );
    // Once the removal commit arrives, the group is gone.
    let (c, r) = server.commit_of(3).clone();
    assert!(d[2].process(&gid, &c, &r).unwrap().removed_self);
}

#[test]
fn removed_devices_competing_commit_is_refused_by_the_delivery_service_and_by_clients() {
    let (mut server, gid, mut d, _cu, clu) = three();
    let newcomer = User::new("second counsellor").device("desk");
    // The laptop removes the tablet; the DS accepts; the phone processes it.
    let tablet = d[2].credential().device().clone();
    let h = d[0].remove(&gid, &clu.account, Some(&tablet)).unwrap();
    server.commit(&mut d[0], &gid, h);
    server.sync(&mut d[1], &gid);
    let phone = state(&d[1], &gid);
    let laptop = state(&d[0], &gid);
    // The tablet, not yet told, commits in the epoch it left: an update and an add.
    let competing = [d[2].update(&gid).unwrap(), {
        d[2].discard(&gid).unwrap();
        d[2].add(&gid, &[kp(&newcomer)]).unwrap()
    }];
    for h in &competing {
        assert!(matches!(
            server.ds.check(&h.commit, &h.record),
            Err(Error::Rejected { what: "commit", .. })
        ));
        assert!(server.post(h).is_err());
        // A client that has already processed the removal refuses it as well.
        assert!(d[1].process(&gid, &h.commit, &h.record).is_err());
        assert!(d[0].process(&gid, &h.commit, &h.record).is_err());
        assert_eq!(state(&d[1], &gid), phone);
        assert_eq!(state(&d[0], &gid), laptop);
    }
    assert_eq!(server.ds.epoch(), 3);
    assert_eq!(server.ds.members().unwrap().len(), 2);
    // The group goes on: a later commit is processed normally.
    let h = d[1].update(&gid).unwrap();
    server.commit(&mut d[1], &gid, h);
    server.sync(&mut d[0], &gid);
    assert_eq!(
        d[0].epoch_authenticator(&gid).unwrap(),
        d[1].epoch_authenticator(&gid).unwrap()
    );
}
