//! The Delivery Service's checks: one commit per epoch, and a record that is the
//! committer's, chains to the last one and names the new epoch's devices — at
//! `DsGroup::create` and at `DsGroup::check`.

use cai_crypto::Error;
use cai_crypto::e2e::{DsGroup, EpochRecord, KeyPackageInfo, group_id};

use crate::rogue::{Key, Rogue, sign_record};
use crate::world::*;

fn record_refused<T: core::fmt::Debug>(r: cai_crypto::Result<T>) {
    assert!(
        matches!(
            r,
            Err(Error::Rejected {
                what: "epoch record",
                ..
            }) | Err(Error::InvalidSignature)
        ),
        "{r:?}"
    );
}

#[test]
fn a_commit_is_accepted_only_with_its_committers_chained_record() {
    let cu = User::new("counsellor");
    let clu = User::new("client");
    let mut c = cu.device("laptop");
    let mut cl = clu.device("phone");
    let (mut server, gid) = Server::start(&cu, &mut c);
    let h = c.add(&gid, &[kp(&cl)]).unwrap();
    server.commit(&mut c, &gid, h);
    server.join(&mut cl);
    // Epoch 2: the phone updates; the laptop makes a competing update.
    let mine = cl.update(&gid).unwrap();
    let theirs = c.update(&gid).unwrap();
    // The laptop's record with the phone's commit: not the committer's.
    record_refused(server.ds.check(&mine.commit, &theirs.record));
    // An earlier record (other epoch, other chain).
    record_refused(server.ds.check(&mine.commit, &server.records[1]));
    record_refused(server.ds.check(&mine.commit, &server.records[0]));
    // The phone's record with one byte changed: its signature fails.
    let mut altered = mine.record.clone();
    altered[40] ^= 1;
    record_refused(server.ds.check(&mine.commit, &altered));
    // Not a record at all.
    assert!(server.ds.check(&mine.commit, b"record").is_err());
    assert_eq!(server.ds.epoch(), 1);
    // With its own record it goes through; then the competing commit is refused.
    server.post(&mine).unwrap();
    assert!(matches!(
        server.ds.check(&theirs.commit, &theirs.record),
        Err(Error::Rejected { what: "commit", .. })
    ));
    cl.confirm(&gid).unwrap();
    c.discard(&gid).unwrap();
    server.sync(&mut c, &gid);
    assert_eq!(
        c.epoch_authenticator(&gid).unwrap(),
        cl.epoch_authenticator(&gid).unwrap()
    );
}

#[test]
fn a_group_is_created_only_with_its_creators_record_of_epoch_0() {
    let cu = User::new("counsellor");
    let d = cai_crypto::e2e::ModeDescriptor::sign(
        &cu.key,
        &cu.account,
        TENANT,
        SESSION,
        cai_crypto::modes::SessionMode::EndToEnd,
    )
    .unwrap();
    let mut r = Rogue::new(&cu, "laptop");
    let gid = group_id(TENANT, SESSION).unwrap();
    let (info, record) = r.create(&gid, d.as_bytes());
    let members = r.members();
    let ck = r.content_key();
    let stranger = Key::generate();
    let auth = [0u8; 32];
    for bad in [
        // Signed by another key.
        sign_record(&stranger, &gid, 0, [0; 32], &auth, &ck, &members),
        // Another group, another epoch, a previous digest, other members.
        sign_record(&r.key, b"cai1other", 0, [0; 32], &auth, &ck, &members),
        sign_record(&r.key, &gid, 1, [0; 32], &auth, &ck, &members),
        sign_record(&r.key, &gid, 0, [1; 32], &auth, &ck, &members),
        sign_record(&r.key, &gid, 0, [0; 32], &auth, &ck, &[]),
    ] {
        record_refused(DsGroup::create(TENANT, SESSION, &info, &bad));
    }
    let ds = DsGroup::create(TENANT, SESSION, &info, &record).unwrap();
    assert_eq!(EpochRecord::parse(&record).unwrap().epoch(), ds.epoch());
}

#[test]
fn a_group_is_created_only_under_its_creators_descriptor() {
    let cu = User::new("counsellor");
    let other = User::new("other");
    let gid = group_id(TENANT, SESSION).unwrap();
    // Signed by another user's key for the creator's account, or by the creator's key
    // for another account: either way not the creating device's user.
    for (key, account) in [(&other.key, &cu.account), (&cu.key, &other.account)] {
        let d = cai_crypto::e2e::ModeDescriptor::sign(
            key,
            account,
            TENANT,
            SESSION,
            cai_crypto::modes::SessionMode::EndToEnd,
        )
        .unwrap();
        let mut r = Rogue::new(&cu, "laptop");
        let (info, record) = r.create(&gid, d.as_bytes());
        let got = DsGroup::create(TENANT, SESSION, &info, &record);
        assert!(
            matches!(
                got,
                Err(Error::Rejected {
                    what: "mode descriptor",
                    ..
                })
            ),
            "{got:?}"
        );
    }
}

#[test]
fn a_checked_commit_says_what_it_does() {
    let cu = User::new("counsellor");
    let clu = User::new("client");
    let mut c = cu.device("laptop");
    let cl = clu.device("phone");
    let tab = clu.device("tablet");
    let (mut server, gid) = Server::start(&cu, &mut c);

    let one_time = kp(&cl);
    let info = KeyPackageInfo::parse(&one_time).unwrap();
    assert!(!info.is_last_resort());
    assert_eq!(info.credential(), cl.credential());
    assert_eq!(info.reference().len(), 32);
    let last = KeyPackageInfo::parse(&cl.key_package(true).unwrap()).unwrap();
    assert!(last.is_last_resort());
    assert_ne!(last.reference(), info.reference());

    let h = c.add(&gid, &[one_time, kp(&tab)]).unwrap();
    let check = server.ds.check(&h.commit, &h.record).unwrap();
    assert_eq!(check.epoch(), 1);
    assert_eq!(check.committer(), c.credential());
    let mut added = check.added().to_vec();
    added.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    let mut expected = vec![cl.credential().clone(), tab.credential().clone()];
    expected.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    assert_eq!(added, expected);
    assert!(check.removed().is_empty());
    assert_eq!(check.members().len(), 3);
    assert_eq!(check.record().as_bytes(), h.record.as_slice());
    assert_eq!(server.ds.apply(check).unwrap(), 1);
    server.records.push(h.record.clone());
    c.confirm(&gid).unwrap();

    let h = c
        .remove(&gid, &clu.account, Some(tab.credential().device()))
        .unwrap();
    let check = server.ds.check(&h.commit, &h.record).unwrap();
    assert_eq!(check.epoch(), 2);
    assert!(check.added().is_empty());
    assert_eq!(check.removed(), [tab.credential().clone()]);
    assert_eq!(check.members().len(), 2);
    assert!(!check.members().contains(tab.credential()));
}

#[test]
fn saved_server_state_has_a_size_limit() {
    use cai_crypto::e2e::MAX_STATE_LEN;
    // Exactly at the limit the bytes are read (and are no state); one past is refused
    // before anything is read.
    let at = vec![0u8; MAX_STATE_LEN];
    assert!(matches!(
        DsGroup::from_bytes(&at),
        Err(Error::BadMagic { .. })
    ));
    let past = vec![0u8; MAX_STATE_LEN + 1];
    assert!(matches!(
        DsGroup::from_bytes(&past),
        Err(Error::TooLarge { .. })
    ));
}
