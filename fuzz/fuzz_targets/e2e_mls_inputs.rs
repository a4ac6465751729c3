//! Feeds arbitrary bytes to every entry point of the end-to-end (MLS) mode that takes
//! bytes from outside: key packages, group infos, commits, welcomes, records, content
//! items, history grants, saved devices and Delivery Service groups, credentials, mode
//! descriptors, verification QR payloads and signed media frames.
//!
//! A real group (counsellor laptop and client phone, with a history grant, a signed
//! frame and a pending joiner) is built once; every input runs against it. Entry points
//! that change a device run on a device freshly loaded from its saved state, so runs do
//! not depend on each other. Nothing may panic, nothing invented may be accepted where
//! acceptance needs a signature, and what parses must re-encode to the same bytes.
//!
//! The first byte picks the entry point; for those with two byte inputs the second
//! byte says whether the fuzzed bytes replace the first input, the second, or both
//! (split where the third byte says).
//!
//! Run: `cargo +nightly fuzz run e2e_mls_inputs` in `fuzz/`.

#![no_main]

use std::sync::{Mutex, OnceLock};

use cai_crypto::e2e::{
    AccountRef, Device, DeviceCredential, DeviceId, DsGroup, EpochRecord, IdentityKey,
    KeyPackageInfo, MediaReceiver, ModeDescriptor, TrustStore, VerificationCode,
};
use cai_crypto::modes::SessionMode;
use cai_crypto::sframe::MediaSuite;
use cai_crypto::{ContentKind, ItemContext};
use libfuzzer_sys::fuzz_target;

const TENANT: &[u8] = b"tenant";
const SESSION: &[u8] = b"session";
const SUITE: MediaSuite = MediaSuite::Aes128GcmSha256;

struct World {
    gid: Vec<u8>,
    /// The group info and record of epoch 0 (for `DsGroup::create`).
    info: Vec<u8>,
    /// Every record, epoch 0 on.
    records: Vec<Vec<u8>>,
    /// The DS group at the current epoch, and as bytes.
    ds: DsGroup,
    ds_bytes: Vec<u8>,
    /// A genuine commit for the current epoch (not applied) and its record.
    commit: Vec<u8>,
    commit_record: Vec<u8>,
    /// A genuine welcome for the joiner and its record.
    welcome: Vec<u8>,
    welcome_record: Vec<u8>,
    /// Saved states: the client phone (a member) and the joiner (not yet).
    member_state: Vec<u8>,
    joiner_state: Vec<u8>,
    /// A genuine history grant to the phone, and a sealed item.
    grant: Vec<u8>,
    sealed: Vec<u8>,
    frame: Vec<u8>,
    credential: Vec<u8>,
    descriptor: Vec<u8>,
    reader: Mutex<Device>,
    receiver: Mutex<MediaReceiver>,
    code: VerificationCode,
}

fn ctx() -> ItemContext<'static> {
    ItemContext::new(TENANT, SESSION, b"item", 1, ContentKind::Message)
}

fn device(user: &IdentityKey, account: &[u8], name: &[u8]) -> Option<Device> {
    Device::new(
        user,
        AccountRef::new(account).ok()?,
        DeviceId::new(name).ok()?,
        TrustStore::trust_on_first_use(),
    )
    .ok()
}

fn build() -> Option<World> {
    let cu = IdentityKey::generate().ok()?;
    let clu = IdentityKey::generate().ok()?;
    let mut c = device(&cu, b"counsellor", b"laptop")?;
    let mut phone = device(&clu, b"client", b"phone")?;
    let mut tablet = device(&clu, b"client", b"tablet")?;
    let desk = device(&cu, b"counsellor", b"desk")?;
    let d = ModeDescriptor::sign(
        &cu,
        &AccountRef::new(b"counsellor").ok()?,
        TENANT,
        SESSION,
        SessionMode::EndToEnd,
    )
    .ok()?;
    let (info, record0) = c.create_group(&d).ok()?;
    let mut ds = DsGroup::create(TENANT, SESSION, &info, &record0).ok()?;
    let gid = ds.group_id().to_vec();
    let mut records = vec![record0];
    // Epoch 1: the phone joins; a message; epoch 2: the tablet joins.
    let h = c.add(&gid, &[phone.key_package(false).ok()?]).ok()?;
    ds.apply(ds.check(&h.commit, &h.record).ok()?).ok()?;
    c.confirm(&gid).ok()?;
    phone
        .join(TENANT, SESSION, h.welcome.as_ref()?, &h.record)
        .ok()?;
    records.push(h.record);
    let sealed = c.seal(&gid, &ctx(), b"hello").ok()?;
    let h = c.add(&gid, &[tablet.key_package(false).ok()?]).ok()?;
    ds.apply(ds.check(&h.commit, &h.record).ok()?).ok()?;
    c.confirm(&gid).ok()?;
    phone.process(&gid, &h.commit, &h.record).ok()?;
    tablet
        .join(TENANT, SESSION, h.welcome.as_ref()?, &h.record)
        .ok()?;
    records.push(h.record);
    let grant = c
        .grant_history(&gid, &[tablet.credential().clone()], 1..=1)
        .ok()?;
    let frame = c
        .media_sender(&gid, SUITE)
        .ok()?
        .protect(b"frame", b"meta")
        .ok()?;
    // A pending add of the desk: its commit and welcome are valid for the current
    // epoch, and the desk (saved with its key package) could join with it.
    let desk_kp = desk.key_package(false).ok()?;
    let h = c.add(&gid, &[desk_kp]).ok()?;
    Some(World {
        info,
        ds_bytes: ds.to_bytes().ok()?,
        commit: h.commit,
        commit_record: h.record.clone(),
        welcome: h.welcome?,
        welcome_record: h.record,
        member_state: tablet.save().ok()?.to_vec(),
        joiner_state: desk.save().ok()?.to_vec(),
        grant,
        sealed,
        frame,
        credential: phone.credential().as_bytes().to_vec(),
        descriptor: d.as_bytes().to_vec(),
        receiver: Mutex::new(phone.media_receiver(&gid, SUITE).ok()?),
        code: phone.verification_code(&gid).ok()?,
        reader: Mutex::new(phone),
        records,
        ds,
        gid,
    })
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| build().expect("the fixed world builds"))
}

/// The two inputs of a two-input entry point: the fuzzed bytes replace the first, the
/// second or both (split at a fuzzer-chosen point) of the genuine pair.
fn pair<'a>(mode: u8, data: &'a [u8], first: &'a [u8], second: &'a [u8]) -> (&'a [u8], &'a [u8]) {
    match mode % 3 {
        0 => (data, second),
        1 => (first, data),
        _ => {
            let (at, rest) = data.split_first().map_or((0, data), |(a, r)| (*a, r));
            rest.split_at((usize::from(at) * rest.len() / 256).min(rest.len()))
        }
    }
}

fn fuzz(data: &[u8]) {
    let w = world();
    let Some((&which, data)) = data.split_first() else {
        return;
    };
    let (mode, data) = data.split_first().map_or((0, data), |(m, d)| (*m, d));
    match which % 14 {
        0 => {
            let _ = KeyPackageInfo::parse(data);
        }
        1 => {
            let (info, record) = pair(mode, data, &w.info, &w.records[0]);
            let _ = DsGroup::create(TENANT, SESSION, info, record);
        }
        2 => {
            let (commit, record) = pair(mode, data, &w.commit, &w.commit_record);
            if let Ok(check) = w.ds.check(commit, record) {
                // Only the genuine commit checks; its record must be the genuine one.
                assert_eq!(check.record().as_bytes(), w.commit_record.as_slice());
            }
        }
        3 => {
            if let Ok(mut d) = Device::load(&w.member_state) {
                let (commit, record) = pair(mode, data, &w.commit, &w.commit_record);
                let _ = d.process(&w.gid, commit, record);
            }
        }
        4 => {
            if let Ok(mut d) = Device::load(&w.joiner_state) {
                let (welcome, record) = pair(mode, data, &w.welcome, &w.welcome_record);
                let _ = d.join(TENANT, SESSION, welcome, record);
            }
        }
        5 => {
            if let Ok(reader) = w.reader.lock() {
                let sealed = if mode & 1 == 0 {
                    data.to_vec()
                } else {
                    // The genuine item with fuzzer bytes spliced in after its header.
                    let mut s = w.sealed.clone();
                    let at = (usize::from(mode) * s.len() / 256).min(s.len());
                    s.splice(at..(at + data.len()).min(s.len()), data.iter().copied());
                    s
                };
                if let Ok(o) = reader.open(&w.gid, &ctx(), &sealed) {
                    assert_eq!(sealed, w.sealed, "only the genuine item opens");
                    assert_eq!(o.plaintext, b"hello");
                }
            }
        }
        6 => {
            if let Ok(mut d) = Device::load(&w.member_state) {
                let grant = if mode & 1 == 0 { data } else { &w.grant };
                let mut records = w.records.clone();
                if mode & 1 == 1 {
                    records.push(data.to_vec());
                }
                let _ = d.accept_history(&w.gid, grant, &records);
            }
        }
        7 => {
            if let Ok(d) = Device::load(data) {
                let _ = d.save();
            }
        }
        8 => {
            if let Ok(g) = DsGroup::from_bytes(data) {
                let _ = g.to_bytes();
            }
            let _ = &w.ds_bytes;
        }
        9 => {
            if let Ok(r) = EpochRecord::parse(data) {
                assert_eq!(r.as_bytes(), data);
                let _ = r.verify();
            }
        }
        10 => {
            if let Ok(c) = DeviceCredential::parse(data) {
                assert_eq!(c.as_bytes(), data);
            }
            let _ = &w.credential;
        }
        11 => {
            if let Ok(d) = ModeDescriptor::parse(data) {
                assert_eq!(d.as_bytes(), data);
                let _ = d.check_session(TENANT, SESSION);
            }
            // What a client does with a descriptor the server hands it, in any mode.
            for mode in cai_crypto::modes::SessionMode::ALL {
                let _ = ModeDescriptor::accept(
                    data,
                    TENANT,
                    SESSION,
                    &AccountRef::new(b"acc_owner").unwrap(),
                    mode,
                    &mut TrustStore::trust_on_first_use(),
                );
            }
            let _ = &w.descriptor;
        }
        12 => {
            if let Ok(true) = w.code.matches_qr(data) {
                assert_eq!(data, w.code.qr_payload().as_slice());
            }
        }
        _ => {
            if let Ok(mut rx) = w.receiver.lock() {
                let frame = if mode & 1 == 0 {
                    data.to_vec()
                } else {
                    let mut f = w.frame.clone();
                    let at = (usize::from(mode) * f.len() / 256).min(f.len());
                    f.splice(at..(at + data.len()).min(f.len()), data.iter().copied());
                    f
                };
                if let Ok(got) = rx.unprotect(&frame, b"meta") {
                    assert_eq!(frame, w.frame, "only the genuine frame verifies");
                    assert_eq!(got.frame, b"frame");
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| fuzz(data));
