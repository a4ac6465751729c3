//! A small world: users with identity keys, devices, and one Delivery Service group.

use cai_crypto::e2e::{
    AccountRef, Device, DeviceId, DsGroup, Handshake, IdentityKey, KeyPackageInfo, ModeDescriptor,
    Processed, TrustStore,
};
use cai_crypto::modes::SessionMode;
use cai_crypto::{ContentKind, ItemContext};

pub(crate) const TENANT: &[u8] = b"tenant-1";
pub(crate) const SESSION: &[u8] = b"session-9";

/// The context of content item `item` of the session.
pub(crate) fn ctx(item: &[u8]) -> ItemContext<'_> {
    ItemContext::new(TENANT, SESSION, item, 1, ContentKind::Message)
}

pub(crate) struct User {
    pub(crate) key: IdentityKey,
    pub(crate) account: AccountRef,
}

impl User {
    pub(crate) fn new(name: &str) -> Self {
        Self {
            key: IdentityKey::generate().unwrap(),
            account: AccountRef::new(name.as_bytes()).unwrap(),
        }
    }

    pub(crate) fn device(&self, name: &str) -> Device {
        self.device_with(name, TrustStore::trust_on_first_use())
    }

    pub(crate) fn device_with(&self, name: &str, trust: TrustStore) -> Device {
        Device::new(
            &self.key,
            self.account.clone(),
            DeviceId::new(name.as_bytes()).unwrap(),
            trust,
        )
        .unwrap()
    }

    /// Someone else claiming this user's account with their own identity key.
    pub(crate) fn impostor(&self) -> Self {
        Self {
            key: IdentityKey::generate().unwrap(),
            account: self.account.clone(),
        }
    }
}

/// The server: the DS group, every accepted commit and record in order, and the welcome
/// of each epoch.
pub(crate) struct Server {
    pub(crate) ds: DsGroup,
    pub(crate) commits: Vec<(Vec<u8>, Vec<u8>)>,
    pub(crate) records: Vec<Vec<u8>>,
    pub(crate) welcomes: Vec<(u64, Vec<u8>)>,
}

impl Server {
    /// `creator` makes the session's group; the server starts tracking it.
    pub(crate) fn start(creator_user: &User, creator: &mut Device) -> (Self, Vec<u8>) {
        let d = ModeDescriptor::sign(
            &creator_user.key,
            &creator_user.account,
            TENANT,
            SESSION,
            SessionMode::EndToEnd,
        )
        .unwrap();
        let (info, record) = creator.create_group(&d).unwrap();
        let ds = DsGroup::create(TENANT, SESSION, &info, &record).unwrap();
        let gid = ds.group_id().to_vec();
        (
            Self {
                ds,
                commits: Vec::new(),
                records: vec![record],
                welcomes: Vec::new(),
            },
            gid,
        )
    }

    /// The DS accepts a handshake (first one wins) or refuses it.
    pub(crate) fn post(&mut self, h: &Handshake) -> cai_crypto::Result<u64> {
        let check = self.ds.check(&h.commit, &h.record)?;
        let epoch = self.ds.apply(check)?;
        self.commits.push((h.commit.clone(), h.record.clone()));
        self.records.push(h.record.clone());
        if let Some(w) = &h.welcome {
            self.welcomes.push((epoch, w.clone()));
        }
        Ok(epoch)
    }

    /// A committing device's full round: commit, DS, confirm.
    pub(crate) fn commit(&mut self, committer: &mut Device, gid: &[u8], h: Handshake) -> Processed {
        self.post(&h).unwrap();
        committer.confirm(gid).unwrap()
    }

    /// Brings `device` up to date with every commit after its epoch.
    pub(crate) fn sync(&self, device: &mut Device, gid: &[u8]) -> Vec<Processed> {
        let from = device.epoch(gid).unwrap() as usize;
        self.commits[from..]
            .iter()
            .map(|(c, r)| device.process(gid, c, r).unwrap())
            .collect()
    }

    /// The commit and record that led to `epoch`.
    pub(crate) fn commit_of(&self, epoch: u64) -> &(Vec<u8>, Vec<u8>) {
        &self.commits[epoch as usize - 1]
    }

    /// `creator` adds `others` one commit each; everyone already in syncs after each.
    pub(crate) fn grow(&mut self, gid: &[u8], creator: usize, devices: &mut [Device]) {
        for i in 0..devices.len() {
            if i == creator || devices[i].groups().any(|g| g == gid) {
                continue;
            }
            let kp = kp(&devices[i]);
            let h = devices[creator].add(gid, &[kp]).unwrap();
            self.commit(&mut devices[creator], gid, h);
            for (j, d) in devices.iter_mut().enumerate() {
                if j != creator && j != i && d.groups().any(|g| g == gid) {
                    self.sync(d, gid);
                }
            }
            self.join(&mut devices[i]);
        }
    }

    /// `device` joins from the latest welcome.
    pub(crate) fn join(&self, device: &mut Device) -> cai_crypto::e2e::Joined {
        let (epoch, w) = self.welcomes.last().unwrap();
        device
            .join(TENANT, SESSION, w, &self.records[*epoch as usize])
            .unwrap()
    }
}

pub(crate) fn kp(device: &Device) -> Vec<u8> {
    let kp = device.key_package(false).unwrap();
    KeyPackageInfo::parse(&kp).unwrap();
    kp
}
