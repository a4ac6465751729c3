//! Issue 9, test 7: a device added to user U by anyone but U is refused or flagged. A
//! credential for U's account signed by another identity key is `Untrusted` at add, at
//! process and at join; a genuine new device of U comes with `NewDevice`; a strict
//! trust store refuses unknown users.

use cai_crypto::Error;
use cai_crypto::e2e::{EpochRecord, MemberWarning, TrustStore};

use crate::rogue::Rogue;
use crate::world::*;

fn untrusted<T: core::fmt::Debug>(r: cai_crypto::Result<T>) -> bool {
    matches!(r, Err(Error::Untrusted { .. }))
}

#[test]
fn a_ghost_device_of_a_known_user_is_refused_at_add_process_and_join() {
    let cu = User::new("counsellor");
    let u = User::new("client");
    let mu = User::new("mallory");
    let mut c = cu.device("laptop");
    let mut m = mu.device("phone");
    let (mut server, gid) = Server::start(&cu, &mut c);
    let h = c.add(&gid, &[kp(&m)]).unwrap();
    server.commit(&mut c, &gid, h);
    server.join(&mut m);
    // The counsellor knows U's key (pinned from a verified directory); Mallory never
    // saw U, so on first use she takes whatever key claims U's account.
    c.trust_mut()
        .pin(u.account.clone(), u.key.public())
        .unwrap();
    let ghost_user = u.impostor();
    let mut ghost = ghost_user.device("ghost");
    // At add.
    assert!(untrusted(c.add(&gid, &[kp(&ghost)])));
    assert_eq!(c.epoch(&gid).unwrap(), 1);
    // At process: Mallory adds it, the DS (which trusts nobody's keys) relays it.
    let h = m.add(&gid, &[kp(&ghost)]).unwrap();
    server.commit(&mut m, &gid, h.clone());
    let before = c.epoch_authenticator(&gid).unwrap();
    assert!(untrusted(c.process(&gid, &h.commit, &h.record)));
    assert_eq!(c.epoch_authenticator(&gid).unwrap(), before);
    // The ghost itself joins (its own trust store has its own key).
    server.join(&mut ghost);
    // At join: a device that knows U's real key refuses the group with the ghost in it.
    let mut j = User::new("supervisor").device("desk");
    j.trust_mut()
        .pin(u.account.clone(), u.key.public())
        .unwrap();
    let h = m.add(&gid, &[kp(&j)]).unwrap();
    server.commit(&mut m, &gid, h.clone());
    server.sync(&mut ghost, &gid);
    let w = h.welcome.unwrap();
    assert!(untrusted(j.join(TENANT, SESSION, &w, &h.record)));
    assert_eq!(j.groups().count(), 0);
    // The same device, told to accept the other key, can then join with the same
    // welcome: the refusal did not use up its key package.
    j.trust_mut()
        .replace(u.account.clone(), ghost_user.key.public());
    j.join(TENANT, SESSION, &w, &h.record).unwrap();
}

#[test]
fn a_genuine_new_device_of_a_user_is_flagged_to_the_others() {
    let cu = User::new("counsellor");
    let u = User::new("client");
    let mut c = cu.device("laptop");
    let mut phone = u.device("phone");
    let (mut server, gid) = Server::start(&cu, &mut c);
    let h = c.add(&gid, &[kp(&phone)]).unwrap();
    let p = server.commit(&mut c, &gid, h);
    assert_eq!(
        p.warnings,
        vec![MemberWarning::NewUser {
            account: u.account.clone()
        }]
    );
    server.join(&mut phone);
    // U adds a tablet; then the counsellor adds a second one.
    let tablet = u.device("tablet");
    let h = phone.add(&gid, &[kp(&tablet)]).unwrap();
    server.commit(&mut phone, &gid, h);
    let p = server.sync(&mut c, &gid);
    assert_eq!(
        p[0].warnings,
        vec![MemberWarning::NewDevice {
            account: u.account.clone(),
            device: tablet.credential().device().clone()
        }]
    );
    let watch = u.device("watch");
    let h = c.add(&gid, &[kp(&watch)]).unwrap();
    let p = server.commit(&mut c, &gid, h);
    assert_eq!(
        p.warnings,
        vec![MemberWarning::NewDevice {
            account: u.account.clone(),
            device: watch.credential().device().clone()
        }]
    );
    // U's own phone is told as well: a device it did not add joined its account.
    let p = server.sync(&mut phone, &gid);
    assert_eq!(
        p[0].warnings,
        vec![MemberWarning::NewDevice {
            account: u.account.clone(),
            device: watch.credential().device().clone()
        }]
    );
}

#[test]
fn a_strict_trust_store_refuses_unknown_users_at_add_process_and_join() {
    let cu = User::new("counsellor");
    let u = User::new("client");
    let other = User::new("friend");
    let mut s = cu.device_with("laptop", TrustStore::strict());
    let mut phone = u.device("phone");
    let (mut server, gid) = Server::start(&cu, &mut s);
    assert!(untrusted(s.add(&gid, &[kp(&phone)])));
    s.trust_mut()
        .pin(u.account.clone(), u.key.public())
        .unwrap();
    let h = s.add(&gid, &[kp(&phone)]).unwrap();
    let p = server.commit(&mut s, &gid, h);
    // A verified user, hence no `NewUser`, but still a device never seen.
    assert_eq!(
        p.warnings,
        vec![MemberWarning::NewDevice {
            account: u.account.clone(),
            device: phone.credential().device().clone()
        }]
    );
    server.join(&mut phone);
    // The client adds a friend the counsellor has never verified.
    let mut f = other.device("phone");
    let h = phone.add(&gid, &[kp(&f)]).unwrap();
    server.commit(&mut phone, &gid, h.clone());
    assert!(untrusted(s.process(&gid, &h.commit, &h.record)));
    assert_eq!(s.epoch(&gid).unwrap(), 1);
    server.join(&mut f);
    // A strict device joining that group: refused until it knows every member's user.
    let mut j = cu.device_with("desk", TrustStore::strict());
    j.trust_mut()
        .pin(u.account.clone(), u.key.public())
        .unwrap();
    let h = phone.add(&gid, &[kp(&j)]).unwrap();
    server.commit(&mut phone, &gid, h.clone());
    let w = h.welcome.unwrap();
    assert!(untrusted(j.join(TENANT, SESSION, &w, &h.record)));
    j.trust_mut()
        .pin(other.account.clone(), other.key.public())
        .unwrap();
    j.join(TENANT, SESSION, &w, &h.record).unwrap();
}

#[test]
fn two_keys_for_one_user_in_one_commit_are_refused_even_on_first_use() {
    let cu = User::new("counsellor");
    let u = User::new("client");
    let ru = User::new("rogue");
    let mut c = cu.device("laptop");
    let mut x = User::new("supervisor").device("desk");
    let mut r = Rogue::new(&ru, "phone");
    let (mut server, gid) = Server::start(&cu, &mut c);
    let h = c.add(&gid, &[kp(&x)]).unwrap();
    server.commit(&mut c, &gid, h);
    server.join(&mut x);
    let h = c.add(&gid, &[r.key_package()]).unwrap();
    server.commit(&mut c, &gid, h);
    server.sync(&mut x, &gid);
    r.join(&server.welcomes.last().unwrap().1);
    // Nobody has seen U yet. The rogue adds U's real phone and a ghost of U at once,
    // with a device of a newcomer who has not seen U either.
    let mut phone = u.device("phone");
    let ghost = u.impostor().device("ghost");
    let mut newcomer = User::new("newcomer").device("tablet");
    // An honest device would not make that commit.
    assert!(untrusted(c.add(&gid, &[kp(&phone), kp(&ghost)])));
    let (commit, welcome) = r.add(&[kp(&phone), kp(&ghost), kp(&newcomer)]);
    let previous = EpochRecord::parse(server.records.last().unwrap())
        .unwrap()
        .digest();
    let record = r.record(previous);
    // The DS trusts no user key, but refuses two keys for one account in one group;
    // the members refuse it on their own too (a server that relays it anyway).
    assert!(matches!(
        server.ds.check(&commit, &record),
        Err(cai_crypto::Error::Rejected {
            reason: "two identity keys for one user",
            ..
        })
    ));
    for d in [&mut c, &mut x] {
        assert!(untrusted(d.process(&gid, &commit, &record)));
        assert_eq!(d.epoch(&gid).unwrap(), 2);
        // Refused as a whole: neither of U's keys was learned on first use.
        assert_eq!(d.trust_mut().get(&u.account), None);
    }
    assert!(untrusted(phone.join(TENANT, SESSION, &welcome, &record)));
    assert!(untrusted(newcomer.join(TENANT, SESSION, &welcome, &record)));
    assert_eq!(newcomer.groups().count(), 0);
    assert_eq!(newcomer.trust_mut().get(&u.account), None);
}
