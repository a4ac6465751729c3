//! What comes from outside and is refused before it does anything: mode descriptors of
//! another session or mode (at `DsGroup::create` and at join), oversize MLS inputs, and
//! verification QR payloads of another group state or epoch.

use cai_crypto::Error;
use cai_crypto::e2e::{
    Device, DsGroup, EpochRecord, KeyPackageInfo, MAX_MLS_MESSAGE_LEN, MAX_STATE_LEN,
    ModeDescriptor, group_id,
};
use cai_crypto::modes::SessionMode;

use crate::rogue::Rogue;
use crate::world::*;

const OTHER: &[u8] = b"session-10";

fn descriptor(u: &User, session: &[u8], mode: SessionMode) -> ModeDescriptor {
    ModeDescriptor::sign(&u.key, &u.account, TENANT, session, mode).unwrap()
}

fn refused_descriptor<T: core::fmt::Debug>(r: cai_crypto::Result<T>) {
    assert!(
        matches!(
            r,
            Err(Error::Rejected {
                what: "mode descriptor",
                ..
            })
        ),
        "{r:?}"
    );
}

/// A group of this session (by its group id) made straight with openmls, whose context
/// carries `d`, plus the key package of `victim` added to it: (group info, record of
/// epoch 0, welcome, record of epoch 1).
fn rogue_group(
    u: &User,
    d: &ModeDescriptor,
    victim: &Device,
) -> (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>) {
    let mut r = Rogue::new(u, "laptop");
    let gid = group_id(TENANT, SESSION).unwrap();
    let (info, record0) = r.create(&gid, d.as_bytes());
    let (_, welcome) = r.add(&[kp(victim)]);
    let record1 = r.record(EpochRecord::parse(&record0).unwrap().digest());
    (info, record0, welcome, record1)
}

#[test]
fn a_descriptor_of_another_session_or_mode_is_refused_at_create_and_at_join() {
    let cu = User::new("counsellor");
    let clu = User::new("client");
    // The honest path refuses to make such a group at all.
    let mut c = cu.device("laptop");
    refused_descriptor(c.create_group(&descriptor(&cu, SESSION, SessionMode::SessionKey)));
    // A genuine group presented as another session's.
    let (info, record) = c
        .create_group(&descriptor(&cu, SESSION, SessionMode::EndToEnd))
        .unwrap();
    assert!(matches!(
        DsGroup::create(TENANT, OTHER, &info, &record),
        Err(Error::Rejected { .. })
    ));
    // Made with openmls directly: this session's group id, another descriptor.
    for bad in [
        descriptor(&cu, OTHER, SessionMode::EndToEnd),
        descriptor(&cu, SESSION, SessionMode::SessionKey),
        descriptor(&cu, SESSION, SessionMode::ServerManaged),
    ] {
        let mut victim = clu.device("phone");
        let (info, record0, welcome, record1) = rogue_group(&cu, &bad, &victim);
        refused_descriptor(DsGroup::create(TENANT, SESSION, &info, &record0));
        refused_descriptor(victim.join(TENANT, SESSION, &welcome, &record1));
        assert_eq!(victim.groups().count(), 0);
    }
    // The same construction with the right descriptor is accepted by both.
    let mut victim = clu.device("phone");
    let good = descriptor(&cu, SESSION, SessionMode::EndToEnd);
    let (info, record0, welcome, record1) = rogue_group(&cu, &good, &victim);
    DsGroup::create(TENANT, SESSION, &info, &record0).unwrap();
    // Asked to join another session, the device refuses the welcome.
    assert!(matches!(
        victim.join(TENANT, OTHER, &welcome, &record1),
        Err(Error::Rejected { .. })
    ));
    let j = victim.join(TENANT, SESSION, &welcome, &record1).unwrap();
    assert_eq!(j.descriptor, good);
}

#[test]
fn a_descriptor_signed_by_another_user_than_the_creator_is_refused() {
    let cu = User::new("counsellor");
    let mallory = User::new("mallory");
    let clu = User::new("client");
    let mut c = cu.device("laptop");
    let foreign = descriptor(&mallory, SESSION, SessionMode::EndToEnd);
    refused_descriptor(c.create_group(&foreign));
    let victim = clu.device("phone");
    let (info, record0, _, _) = rogue_group(&cu, &foreign, &victim);
    refused_descriptor(DsGroup::create(TENANT, SESSION, &info, &record0));
}

#[test]
fn oversize_inputs_are_too_large() {
    let cu = User::new("counsellor");
    let mut c = cu.device("laptop");
    let mut other = User::new("client").device("phone");
    let (server, gid) = Server::start(&cu, &mut c);
    let record = server.records[0].clone();
    let big = vec![0u8; MAX_MLS_MESSAGE_LEN + 1];
    let too_large = |r: cai_crypto::Result<()>| {
        assert!(matches!(r, Err(Error::TooLarge { .. })), "{r:?}");
    };
    too_large(KeyPackageInfo::parse(&big).map(drop));
    too_large(DsGroup::create(TENANT, SESSION, &big, &record).map(drop));
    too_large(server.ds.check(&big, &record).map(drop));
    too_large(c.process(&gid, &big, &record).map(drop));
    too_large(c.add(&gid, std::slice::from_ref(&big)).map(drop));
    too_large(other.join(TENANT, SESSION, &big, &record).map(drop));
    let huge = vec![0u8; MAX_STATE_LEN + 1];
    too_large(Device::load(&huge).map(drop));
    too_large(DsGroup::from_bytes(&huge).map(drop));
    // Exactly at the limit is parsed (and refused for what it is, not for its size).
    let at = vec![0u8; MAX_MLS_MESSAGE_LEN];
    assert!(!matches!(
        KeyPackageInfo::parse(&at),
        Err(Error::TooLarge { .. })
    ));
}

#[test]
fn verification_qr_payload_matches_mismatches_and_names_its_epoch() {
    let cu = User::new("counsellor");
    let clu = User::new("client");
    let mut c = cu.device("laptop");
    let mut cl = clu.device("phone");
    let (mut server, gid) = Server::start(&cu, &mut c);
    let h = c.add(&gid, &[kp(&cl)]).unwrap();
    server.commit(&mut c, &gid, h);
    server.join(&mut cl);
    let mine = c.verification_code(&gid).unwrap();
    let theirs = cl.verification_code(&gid).unwrap();
    assert_eq!(mine.digits(), theirs.digits());
    assert_eq!(mine.digits().len(), 35);
    assert!(mine.matches_qr(&theirs.qr_payload()).unwrap());
    // One bit of the material differs: no match (an answer, not an error).
    let mut altered = theirs.qr_payload();
    *altered.last_mut().unwrap() ^= 1;
    assert!(!mine.matches_qr(&altered).unwrap());
    // Another group in the same epoch: no match.
    let mut c2 = cu.device("desk");
    let d2 =
        ModeDescriptor::sign(&cu.key, &cu.account, TENANT, OTHER, SessionMode::EndToEnd).unwrap();
    c2.create_group(&d2).unwrap();
    let gid2 = group_id(TENANT, OTHER).unwrap();
    let mut x = clu.device("tablet");
    let h = c2.add(&gid2, &[kp(&x)]).unwrap();
    c2.confirm(&gid2).unwrap();
    x.join(TENANT, OTHER, h.welcome.as_ref().unwrap(), &h.record)
        .unwrap();
    let elsewhere = x.verification_code(&gid2).unwrap();
    assert_eq!(elsewhere.epoch(), mine.epoch());
    assert!(!mine.matches_qr(&elsewhere.qr_payload()).unwrap());
    // Another epoch: an error that says to compare again.
    let h = c.update(&gid).unwrap();
    server.commit(&mut c, &gid, h);
    let later = c.verification_code(&gid).unwrap();
    assert!(matches!(
        mine.matches_qr(&later.qr_payload()),
        Err(Error::Rejected { .. })
    ));
    server.sync(&mut cl, &gid);
    assert!(
        later
            .matches_qr(&cl.verification_code(&gid).unwrap().qr_payload())
            .unwrap()
    );
    // Not a payload at all.
    let p = later.qr_payload();
    for bad in [
        &p[..p.len() - 1],
        &[p.as_slice(), &[0]].concat(),
        &b"hello"[..],
    ] {
        assert!(later.matches_qr(bad).is_err());
    }
}
