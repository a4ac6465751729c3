//! Issue 9, test 6: history grants. A genuine grant lets a counsellor's new device read
//! the epochs before it joined; a grant with one altered epoch key, an invented epoch
//! or an altered member list is refused naming the epoch; a grant for another device is
//! `NotARecipient`.

use cai_crypto::e2e::Device;
use cai_crypto::{DataKey, Error, KeyEpoch, KeyId, SecretBytes};

use crate::rogue::{GrantEpoch, Key, encode_grant, sign_record};
use crate::world::*;

struct Setup {
    server: Server,
    gid: Vec<u8>,
    /// Counsellor laptop (0), client phone (1), counsellor desk (2, joined in epoch 4).
    d: Vec<Device>,
    /// Content sealed in epochs 1, 2 and 3, by the laptop, the phone and the laptop.
    sealed: Vec<Vec<u8>>,
    cu: User,
    clu: User,
}

fn setup() -> Setup {
    let cu = User::new("counsellor");
    let clu = User::new("client");
    let mut d = vec![cu.device("laptop"), clu.device("phone")];
    let (mut server, gid) = Server::start(&cu, &mut d[0]);
    server.grow(&gid, 0, &mut d);
    let mut sealed = vec![d[0].seal(&gid, &ctx(b"m1"), b"one").unwrap()];
    for (i, (item, body)) in [(b"m2", b"two"), (b"m3", b"tre")].iter().enumerate() {
        let by = [1, 0][i];
        let h = d[by].update(&gid).unwrap();
        server.commit(&mut d[by], &gid, h);
        server.sync(&mut d[1 - by], &gid);
        sealed.push(d[by].seal(&gid, &ctx(*item), *body).unwrap());
    }
    let mut desk = cu.device("desk");
    let h = d[0].add(&gid, &[kp(&desk)]).unwrap();
    server.commit(&mut d[0], &gid, h);
    server.sync(&mut d[1], &gid);
    assert_eq!(server.join(&mut desk).epoch, 4);
    d.push(desk);
    Setup {
        server,
        gid,
        d,
        sealed,
        cu,
        clu,
    }
}

fn items() -> [&'static [u8]; 3] {
    [b"m1", b"m2", b"m3"]
}

fn genuine(d: &Device, gid: &[u8], epochs: core::ops::RangeInclusive<u64>) -> Vec<GrantEpoch> {
    epochs
        .map(|e| {
            let k = d.epoch_keys(gid, e).unwrap().unwrap();
            GrantEpoch {
                epoch: e,
                key: k.content_key().clone(),
                members: k.members().to_vec(),
            }
        })
        .collect()
}

fn reads_nothing_before_4(s: &Setup) {
    for (i, item) in items().iter().enumerate() {
        assert!(matches!(
            s.d[2].open(&s.gid, &ctx(item), &s.sealed[i]),
            Err(Error::EpochUnavailable { .. })
        ));
    }
}

#[test]
fn a_genuine_grant_opens_the_earlier_epochs_for_its_recipient_only() {
    let mut s = setup();
    reads_nothing_before_4(&s);
    let desk = s.d[2].credential().clone();
    let grant = s.d[0].grant_history(&s.gid, &[desk], 1..=3).unwrap();
    // Not for the client's phone, nor for a client device with the recipient's device
    // id, nor for another device of the counsellor.
    assert_eq!(
        s.d[1].accept_history(&s.gid, &grant, &s.server.records),
        Err(Error::NotARecipient)
    );
    let mut client_desk = s.clu.device("desk");
    let h = s.d[0].add(&s.gid, &[kp(&client_desk)]).unwrap();
    s.server.commit(&mut s.d[0], &s.gid, h);
    s.server.sync(&mut s.d[1], &s.gid);
    s.server.sync(&mut s.d[2], &s.gid);
    s.server.join(&mut client_desk);
    assert_eq!(
        client_desk.accept_history(&s.gid, &grant, &s.server.records),
        Err(Error::NotARecipient)
    );
    let mut tablet = s.cu.device("tablet");
    let h = s.d[0].add(&s.gid, &[kp(&tablet)]).unwrap();
    s.server.commit(&mut s.d[0], &s.gid, h);
    s.server.join(&mut tablet);
    assert_eq!(
        tablet.accept_history(&s.gid, &grant, &s.server.records),
        Err(Error::NotARecipient)
    );
    assert!(matches!(
        tablet.open(&s.gid, &ctx(b"m1"), &s.sealed[0]),
        Err(Error::EpochUnavailable { epoch: 1, .. })
    ));
    // The desk accepts it and reads, with the right senders.
    assert_eq!(
        s.d[2].accept_history(&s.gid, &grant, &s.server.records),
        Ok(3)
    );
    for (i, item) in items().iter().enumerate() {
        let o = s.d[2].open(&s.gid, &ctx(item), &s.sealed[i]).unwrap();
        assert_eq!(o.epoch, i as u64 + 1);
        assert_eq!(o.sender, *s.d[[0, 1, 0][i]].credential());
    }
}

#[test]
fn a_grant_with_one_altered_epoch_key_or_member_list_or_an_invented_epoch_is_refused() {
    let mut s = setup();
    let gid = s.gid.clone();
    let desk = vec![s.d[2].credential().clone()];
    let records = s.server.records.clone();
    let accept = |d: &mut Device, epochs: &[GrantEpoch]| {
        d.accept_history(&gid, &encode_grant(&gid, &desk, epochs), &records)
    };
    // One altered key (epoch 2).
    let mut epochs = genuine(&s.d[0], &gid, 1..=3);
    let k = &epochs[1].key;
    let mut secret = *k.secret().expose_secret();
    secret[0] ^= 1;
    epochs[1].key = DataKey::from_parts(k.id(), k.epoch(), SecretBytes::from_bytes(secret));
    assert!(matches!(
        accept(&mut s.d[2], &epochs),
        Err(Error::HistoryRefused { epoch: 2, .. })
    ));
    // Another key id for the same secret.
    let mut epochs = genuine(&s.d[0], &gid, 1..=3);
    let k = &epochs[0].key;
    let other_id = KeyId::from_bytes([7; 16]);
    epochs[0].key = DataKey::from_parts(other_id, k.epoch(), k.secret().clone());
    assert!(matches!(
        accept(&mut s.d[2], &epochs),
        Err(Error::HistoryRefused { epoch: 1, .. })
    ));
    // An invented epoch, after genuine ones.
    let mut epochs = genuine(&s.d[0], &gid, 1..=3);
    epochs.push(GrantEpoch {
        epoch: 7,
        key: DataKey::generate(KeyEpoch(7)).unwrap(),
        members: epochs[2].members.clone(),
    });
    assert!(matches!(
        accept(&mut s.d[2], &epochs),
        Err(Error::HistoryRefused { epoch: 7, .. })
    ));
    // An altered member list (a stranger added to epoch 3).
    let mut epochs = genuine(&s.d[0], &gid, 1..=3);
    epochs[2]
        .members
        .push(User::new("stranger").device("x").credential().clone());
    assert!(matches!(
        accept(&mut s.d[2], &epochs),
        Err(Error::HistoryRefused { epoch: 3, .. })
    ));
    // Nothing was added by any of these.
    reads_nothing_before_4(&s);
    // The same encoder with the genuine keys is accepted (the refusals are the checks').
    let epochs = genuine(&s.d[0], &gid, 1..=3);
    assert_eq!(accept(&mut s.d[2], &epochs), Ok(3));
    let o = s.d[2].open(&gid, &ctx(b"m2"), &s.sealed[1]).unwrap();
    assert_eq!(o.plaintext, b"two");
}

#[test]
fn a_forged_record_for_the_altered_key_does_not_chain_and_a_missing_record_breaks_the_chain() {
    let mut s = setup();
    let gid = s.gid.clone();
    let desk = vec![s.d[2].credential().clone()];
    // Epoch 2 with a fresh key, and a record for it signed by a member-looking key
    // that chains to epoch 1's record.
    let mut epochs = genuine(&s.d[0], &gid, 1..=3);
    let fake = DataKey::from_parts(
        epochs[1].key.id(),
        KeyEpoch(2),
        SecretBytes::random().unwrap(),
    );
    epochs[1].key = fake.clone();
    let signer = Key::generate();
    let r1 = cai_crypto::e2e::EpochRecord::parse(&s.server.records[1]).unwrap();
    let forged = sign_record(
        &signer,
        &gid,
        2,
        r1.digest(),
        &[0; 32],
        &fake,
        &epochs[1].members,
    );
    let mut records = s.server.records.clone();
    records.push(forged.clone());
    records.swap(2, 5);
    let grant = encode_grant(&gid, &desk, &epochs);
    assert!(matches!(
        s.d[2].accept_history(&gid, &grant, &records),
        Err(Error::HistoryRefused { epoch: 2, .. })
    ));
    // In place of the genuine record, it breaks the chain: nothing before 3 is taken.
    let mut records = s.server.records.clone();
    records[2] = forged;
    assert!(matches!(
        s.d[2].accept_history(&gid, &grant, &records),
        Err(Error::HistoryRefused { epoch: 1, .. })
    ));
    // Without the record of epoch 3, genuine epochs 1 to 3 no longer chain either.
    let mut records = s.server.records.clone();
    records.remove(3);
    let grant = encode_grant(&gid, &desk, &genuine(&s.d[0], &gid, 1..=3));
    assert!(matches!(
        s.d[2].accept_history(&gid, &grant, &records),
        Err(Error::HistoryRefused { epoch: 1, .. })
    ));
    // With every record, it is accepted.
    assert_eq!(
        s.d[2].accept_history(&gid, &grant, &s.server.records),
        Ok(3)
    );
}

#[test]
fn grants_go_only_to_member_devices_and_a_proper_epoch_range() {
    let s = setup();
    // A device outside the group — say, credentials the server passed off as the new
    // counsellor's — gets nothing, even of a trusted user.
    let outsider = s.cu.device("not-in-the-group");
    let r = s.d[0].grant_history(&s.gid, &[outsider.credential().clone()], 1..=3);
    assert!(
        matches!(
            r,
            Err(Error::Rejected {
                what: "history grant",
                ..
            })
        ),
        "{r:?}"
    );
    let desk = s.d[2].credential().clone();
    #[allow(clippy::reversed_empty_ranges)]
    let backwards = 3..=1;
    let r = s.d[0].grant_history(&s.gid, std::slice::from_ref(&desk), backwards);
    assert!(matches!(r, Err(Error::Rejected { .. })), "{r:?}");
    // One epoch is a proper range.
    assert!(s.d[0].grant_history(&s.gid, &[desk], 2..=2).is_ok());
}
