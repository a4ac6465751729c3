//! An end-to-end session for the call tests: the counsellor's and the guest's MLS
//! devices in one group, their description keys known to each other.

use std::sync::{Arc, Mutex};

use cai_core::domain::SessionMode;
use cai_core::id::{SessionId, SubjectId};
use cai_crypto::e2e::{AccountRef, Device, DeviceId, IdentityKey, ModeDescriptor, TrustStore};
use cai_rtc::call::{CallKeySource, CallSetup, DescriptionKeys};
use ed25519_dalek::SigningKey;

use super::{TwoKeys, hub_session, world};

pub(crate) struct E2eWorld {
    pub(crate) w: world::World,
    pub(crate) s: SessionId,
    pub(crate) link: cai_core::domain::InvitationSecret,
    pub(crate) cora: Arc<Mutex<Device>>,
    pub(crate) guest: Arc<Mutex<Device>>,
    pub(crate) gid: Vec<u8>,
    pub(crate) keys: Arc<TwoKeys>,
    /// The Delivery Service's view of the group.
    pub(crate) ds: Mutex<cai_crypto::e2e::DsGroup>,
}

/// An end-to-end session with the counsellor's and the guest's devices in one MLS group
/// and their description keys (0x11…, 0x22…) known to each other.
pub(crate) async fn e2e_world() -> E2eWorld {
    let (w, s, link) = hub_session(SessionMode::EndToEnd).await;
    let (tenant, session) = (w.tenant.id.to_string(), s.to_string());
    let device = |name: &str| {
        let key = IdentityKey::generate().unwrap();
        let account = AccountRef::new(name.as_bytes()).unwrap();
        let d = Device::new(
            &key,
            account.clone(),
            DeviceId::new(b"dev").unwrap(),
            TrustStore::trust_on_first_use(),
        )
        .unwrap();
        (key, account, d)
    };
    let (ck, ca, mut c) = device("counsellor");
    let (_, _, mut g) = device("guest");
    let descriptor = ModeDescriptor::sign(
        &ck,
        &ca,
        tenant.as_bytes(),
        session.as_bytes(),
        cai_crypto::modes::SessionMode::EndToEnd,
    )
    .unwrap();
    let (info, record) = c.create_group(&descriptor).unwrap();
    let mut ds =
        cai_crypto::e2e::DsGroup::create(tenant.as_bytes(), session.as_bytes(), &info, &record)
            .unwrap();
    let gid = ds.group_id().to_vec();
    let h = c.add(&gid, &[g.key_package(false).unwrap()]).unwrap();
    let check = ds.check(&h.commit, &h.record).unwrap();
    ds.apply(check).unwrap();
    c.confirm(&gid).unwrap();
    g.join(
        tenant.as_bytes(),
        session.as_bytes(),
        h.welcome.as_ref().unwrap(),
        &h.record,
    )
    .unwrap();
    let keys = Arc::new(TwoKeys {
        counsellor: SubjectId::Account(w.cora.account.id),
        counsellor_key: SigningKey::from_bytes(&[0x11; 32]).verifying_key(),
        guest_key: SigningKey::from_bytes(&[0x22; 32]).verifying_key(),
    });
    E2eWorld {
        w,
        s,
        link,
        cora: Arc::new(Mutex::new(c)),
        guest: Arc::new(Mutex::new(g)),
        gid,
        keys,
        ds: Mutex::new(ds),
    }
}

pub(crate) fn e2e_setup(e: &E2eWorld, device: &Arc<Mutex<Device>>, seed: u8) -> CallSetup {
    CallSetup::new(
        e.w.tenant.id.to_string().into_bytes(),
        CallKeySource::EndToEnd {
            device: device.clone(),
            group_id: e.gid.clone(),
        },
    )
    .with_signing(DescriptionKeys {
        signing: SigningKey::from_bytes(&[seed; 32]),
        remote: e.keys.clone(),
    })
    .loopback_only()
}
