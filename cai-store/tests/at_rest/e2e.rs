//! The least of an end-to-end session (R-E4) that the content-at-rest tests need, as
//! cai-core's `tests/e2e_delivery` sets it up: real MLS devices that publish key
//! packages, the owner's device starting the group, a counsellor added with the commit
//! that adds their device, and that device joining from the welcome.

use cai_core::Caller;
use cai_core::id::{AccountId, SessionId, SubjectId, TenantId};
use cai_core::{Counselling, domain::SessionMode};
use cai_crypto::e2e::{AccountRef, Device, DeviceId, IdentityKey, ModeDescriptor, TrustStore};

/// A user's identity key and one device, named by the caller's subject.
pub(crate) struct Client {
    key: IdentityKey,
    pub(crate) caller: Caller,
    pub(crate) device: Device,
}

impl Client {
    pub(crate) fn new(caller: &Caller, device: &str) -> Self {
        let key = IdentityKey::generate().unwrap();
        let device = Device::new(
            &key,
            account(caller),
            DeviceId::new(device.as_bytes()).unwrap(),
            TrustStore::trust_on_first_use(),
        )
        .unwrap();
        Self {
            key,
            caller: *caller,
            device,
        }
    }

    /// Publishes a one-time and a last-resort key package of this device.
    pub(crate) async fn publish(&self, svc: &Counselling, t: TenantId) {
        let kps = vec![
            self.device.key_package(false).unwrap(),
            self.device.key_package(true).unwrap(),
        ];
        svc.publish_key_packages(&self.caller, t, kps)
            .await
            .unwrap();
    }

    /// As the session's owner: creates the group and has the service start it.
    pub(crate) async fn start(&mut self, svc: &Counselling, t: TenantId, s: SessionId) {
        let d = ModeDescriptor::sign(
            &self.key,
            &account(&self.caller),
            t.to_string().as_bytes(),
            s.to_string().as_bytes(),
            SessionMode::EndToEnd,
        )
        .unwrap();
        let (info, record) = self.device.create_group(&d).unwrap();
        let epoch = svc
            .start_e2e_group(&self.caller, t, s, info, record)
            .await
            .unwrap();
        assert_eq!(epoch, 0);
    }

    /// As a member: adds `who` (account `id`) as counsellor with the commit adding
    /// their device, which then joins from the welcome.
    pub(crate) async fn add(
        &mut self,
        svc: &Counselling,
        who: &mut Client,
        id: AccountId,
        t: TenantId,
        s: SessionId,
    ) {
        let g = gid(t, s);
        let kps = svc
            .claim_key_packages(&self.caller, t, s, SubjectId::Account(id))
            .await
            .unwrap();
        assert!(!kps.is_empty());
        let commit = self.device.add(&g, &kps).unwrap().into();
        svc.add_counsellor(&self.caller, t, s, id, Some(commit))
            .await
            .unwrap();
        self.device.confirm(&g).unwrap();

        let epochs = svc.e2e_epochs(&who.caller, t, s, None, 100).await.unwrap();
        let last = epochs.iter().rev().find(|e| e.welcome.is_some()).unwrap();
        who.device
            .join(
                t.to_string().as_bytes(),
                s.to_string().as_bytes(),
                last.welcome.as_ref().unwrap(),
                &last.record,
            )
            .unwrap();
        assert_eq!(
            self.device.verification_code(&g).unwrap(),
            who.device.verification_code(&g).unwrap()
        );
    }
}

/// The MLS group id of session `s`.
pub(crate) fn gid(t: TenantId, s: SessionId) -> Vec<u8> {
    cai_crypto::e2e::group_id(t.to_string().as_bytes(), s.to_string().as_bytes()).unwrap()
}

/// The account reference of a caller's subject, as device credentials name it.
pub(crate) fn account(caller: &Caller) -> AccountRef {
    AccountRef::new(caller.subject.to_string().as_bytes()).unwrap()
}
