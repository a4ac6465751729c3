//! Issue 9, test 4: members shown different commits for one epoch detect it — their
//! epoch authenticators and verification codes differ, and what one branch commits
//! later is refused on the other. Also: a record that does not describe the commit (or
//! welcome) it comes with is refused, which is what keeps the stored chain honest.

use cai_crypto::Error;
use cai_crypto::e2e::Device;

use crate::world::*;

/// Counsellor laptop `a` (0) and tablet `x` (1); client phone `b` (2) and tablet `y`
/// (3): all in epoch 3.
fn four() -> (Server, Vec<u8>, Vec<Device>, User, User) {
    let cu = User::new("counsellor");
    let clu = User::new("client");
    let mut d = vec![
        cu.device("laptop"),
        cu.device("tablet"),
        clu.device("phone"),
        clu.device("tablet"),
    ];
    let (mut server, gid) = Server::start(&cu, &mut d[0]);
    server.grow(&gid, 0, &mut d);
    (server, gid, d, cu, clu)
}

fn agree(a: &Device, b: &Device, gid: &[u8]) -> bool {
    a.epoch_authenticator(gid).unwrap() == b.epoch_authenticator(gid).unwrap()
}

#[test]
fn members_shown_different_commits_for_one_epoch_detect_the_fork() {
    let (mut server, gid, mut d, cu, clu) = four();
    let (a, x, b, y) = (0, 1, 2, 3);
    let mut e = cu.device("desk");
    let mut f = clu.device("laptop");
    // From epoch 3, `a` adds a device of the counsellor and `b` one of the client.
    let c1 = d[a].add(&gid, &[kp(&e)]).unwrap();
    let c2 = d[b].add(&gid, &[kp(&f)]).unwrap();
    // The honest DS takes the first and refuses the second.
    server.post(&c1).unwrap();
    assert!(matches!(
        server.ds.check(&c2.commit, &c2.record),
        Err(Error::Rejected { what: "commit", .. })
    ));
    // A forking server shows `x` the first and `y` the second, and lets both confirm.
    d[a].confirm(&gid).unwrap();
    d[b].confirm(&gid).unwrap();
    // A commit with the other branch's record is refused.
    assert!(d[y].process(&gid, &c2.commit, &c1.record).is_err());
    assert!(d[x].process(&gid, &c1.commit, &c2.record).is_err());
    assert_eq!(d[x].epoch(&gid).unwrap(), 3);
    d[x].process(&gid, &c1.commit, &c1.record).unwrap();
    d[y].process(&gid, &c2.commit, &c2.record).unwrap();
    e.join(TENANT, SESSION, c1.welcome.as_ref().unwrap(), &c1.record)
        .unwrap();
    f.join(TENANT, SESSION, c2.welcome.as_ref().unwrap(), &c2.record)
        .unwrap();
    // Same epoch number, different groups.
    for i in [a, x, b, y] {
        assert_eq!(d[i].epoch(&gid).unwrap(), 4);
    }
    assert!(agree(&d[a], &d[x], &gid) && agree(&d[a], &e, &gid));
    assert!(agree(&d[b], &d[y], &gid) && agree(&d[b], &f, &gid));
    assert!(!agree(&d[x], &d[y], &gid));
    let (cx, cy) = (
        d[x].verification_code(&gid).unwrap(),
        d[y].verification_code(&gid).unwrap(),
    );
    assert_eq!(cx, d[a].verification_code(&gid).unwrap());
    assert_ne!(cx, cy);
    assert_ne!(cx.digits(), cy.digits());
    assert!(!cx.matches_qr(&cy.qr_payload()).unwrap());
    assert!(!cy.matches_qr(&cx.qr_payload()).unwrap());
    assert!(
        cx.matches_qr(&d[a].verification_code(&gid).unwrap().qr_payload())
            .unwrap()
    );

    // Epoch 5 on each branch: `a` updates, `b` updates.
    let c3 = d[a].update(&gid).unwrap();
    server.commit(&mut d[a], &gid, c3.clone());
    let c4 = d[b].update(&gid).unwrap();
    d[b].confirm(&gid).unwrap();
    let before_y = d[y].epoch_authenticator(&gid).unwrap();
    let before_x = d[x].epoch_authenticator(&gid).unwrap();
    // Neither the other branch's commit nor its record is accepted, in any pairing.
    for (commit, record) in [
        (&c3.commit, &c3.record),
        (&c3.commit, &c4.record),
        (&c4.commit, &c3.record),
    ] {
        assert!(d[y].process(&gid, commit, record).is_err());
        assert_eq!(d[y].epoch_authenticator(&gid).unwrap(), before_y);
    }
    assert!(d[x].process(&gid, &c4.commit, &c4.record).is_err());
    assert!(d[x].process(&gid, &c3.commit, &c4.record).is_err());
    assert_eq!(d[x].epoch_authenticator(&gid).unwrap(), before_x);
    // Each branch still works on its own (the refusals above are not blanket ones).
    d[x].process(&gid, &c3.commit, &c3.record).unwrap();
    d[y].process(&gid, &c4.commit, &c4.record).unwrap();
    assert!(agree(&d[a], &d[x], &gid) && agree(&d[b], &d[y], &gid));
    // The honest DS only ever holds the first branch.
    assert!(server.ds.check(&c4.commit, &c4.record).is_err());
    assert_eq!(server.ds.epoch(), 5);
}

#[test]
fn a_record_signed_by_the_committer_for_another_commit_of_the_epoch_is_refused() {
    let (mut server, gid, mut d, _cu, _clu) = four();
    let (a, x, b) = (0, 1, 2);
    // `b` makes two updates for epoch 4 (discarding the first): both records are
    // signed by `b`, chain to epoch 3 and name the same devices, but describe
    // different epochs.
    let h1 = d[b].update(&gid).unwrap();
    d[b].discard(&gid).unwrap();
    let h2 = d[b].update(&gid).unwrap();
    assert_ne!(h1.record, h2.record);
    // The DS cannot tell (it holds no secret); every member can.
    server.ds.check(&h1.commit, &h2.record).unwrap();
    for i in [a, x] {
        let before = d[i].epoch_authenticator(&gid).unwrap();
        assert!(matches!(
            d[i].process(&gid, &h2.commit, &h1.record),
            Err(Error::Rejected {
                what: "epoch record",
                ..
            })
        ));
        assert_eq!(d[i].epoch_authenticator(&gid).unwrap(), before);
    }
    server.commit(&mut d[b], &gid, h2);
    server.sync(&mut d[a], &gid);
    server.sync(&mut d[x], &gid);
    assert!(agree(&d[a], &d[b], &gid) && agree(&d[x], &d[b], &gid));
}

#[test]
fn a_welcome_with_a_record_of_another_commit_is_refused() {
    let (mut server, gid, mut d, cu, _clu) = four();
    let a = 0;
    let mut e = cu.device("desk");
    // Two adds of `e` by `a` for epoch 4; the DS takes the second.
    let h1 = d[a].add(&gid, &[kp(&e)]).unwrap();
    d[a].discard(&gid).unwrap();
    let h2 = d[a].add(&gid, &[kp(&e)]).unwrap();
    server.commit(&mut d[a], &gid, h2.clone());
    let w2 = h2.welcome.as_ref().unwrap();
    assert!(matches!(
        e.join(TENANT, SESSION, w2, &h1.record),
        Err(Error::Rejected {
            what: "epoch record",
            ..
        })
    ));
    assert_eq!(e.groups().count(), 0);
    e.join(TENANT, SESSION, w2, &h2.record).unwrap();
    assert!(agree(&d[a], &e, &gid));
}
