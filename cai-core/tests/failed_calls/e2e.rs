//! The end-to-end side of the world: Cora's device, the commits and grants it makes.

use super::*;

impl Ctx {
    /// A commit for `session`: Cora's device's key update for the end-to-end group
    /// (which only that session accepts, and only while the device is in step), the
    /// stale commit of epoch 1, or garbage. Settle it with [`Ctx::settle`].
    pub(crate) fn e2e_commit(&self, sel: u8) -> E2eCommit {
        match sel % 4 {
            0 | 1 => {
                let gid = e2e_group(self.a.id(), self.e2e);
                let mut device = self.device.lock().unwrap();
                match device.update(&gid) {
                    Ok(h) => h.into(),
                    Err(_) => self.stale_commit.clone(),
                }
            }
            2 => self.stale_commit.clone(),
            _ => E2eCommit {
                commit: b"not a commit".to_vec(),
                record: b"not a record".to_vec(),
                welcome: None,
            },
        }
    }

    pub(crate) fn e2e_commit_opt(&self, sel: u8) -> Option<E2eCommit> {
        (sel % 5 < 3).then(|| self.e2e_commit(sel))
    }

    /// After a call that may have carried Cora's pending commit: apply it if the
    /// service stored it, else drop it.
    pub(crate) fn settle(&self, stored: bool) {
        let gid = e2e_group(self.a.id(), self.e2e);
        let mut device = self.device.lock().unwrap();
        if stored {
            // Applies the pending commit, if this call carried it.
            let _ = device.confirm(&gid);
        } else {
            let _ = device.discard(&gid);
        }
    }

    /// A history grant of epoch 0 for Ben's device: for the end-to-end session, the
    /// same with its group id altered, or garbage.
    pub(crate) fn history(&self, sel: u8) -> Vec<u8> {
        let gid = e2e_group(self.a.id(), self.e2e);
        let grant = self
            .device
            .lock()
            .unwrap()
            .grant_history(&gid, &[self.other_device.credential().clone()], 0..=0)
            .unwrap();
        match sel % 3 {
            0 => grant,
            1 => {
                let mut g = grant;
                // The preamble is 7 bytes, then the group id's length and the id.
                g[12] ^= 1;
                g
            }
            _ => b"not a grant".to_vec(),
        }
    }
}

/// A device of `subject` with a fresh user identity key.
pub(crate) fn e2e_device(subject: SubjectId, name: &str) -> (Device, IdentityKey) {
    let key = IdentityKey::generate().unwrap();
    let device = Device::new(
        &key,
        AccountRef::new(subject.to_string().as_bytes()).unwrap(),
        DeviceId::new(name.as_bytes()).unwrap(),
        TrustStore::trust_on_first_use(),
    )
    .unwrap();
    (device, key)
}

/// The MLS group id of a session.
pub(crate) fn e2e_group(tenant: TenantId, session: SessionId) -> Vec<u8> {
    cai_crypto::e2e::group_id(
        tenant.to_string().as_bytes(),
        session.to_string().as_bytes(),
    )
    .unwrap()
}
