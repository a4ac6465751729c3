//! The Delivery Service's checks: one commit per epoch, and a record that is the
//! committer's, chains to the last one and names the new epoch's devices — at
//! `DsGroup::create` and at `DsGroup::check`.

use cai_crypto::Error;
use cai_crypto::e2e::{DsGroup, EpochRecord, group_id};

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
