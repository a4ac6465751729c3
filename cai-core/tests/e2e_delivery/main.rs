//! End-to-end sessions through the service (R-E4, R-E4b): the server as the MLS
//! Delivery Service — key packages, the group's epochs in order, membership that
//! follows the participants, history grants by tenant policy — with real
//! `cai_crypto::e2e::Device`s as the clients.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
#![allow(clippy::indexing_slicing)]

#[path = "../common/mod.rs"]
mod common;

mod limits;
mod rights;
mod scenarios;
mod veto;

use cai_core::domain::{
    BuiltinRole, ContentKind, Pseudonym, SealedBody, SessionMode, TenantSettings,
};
use cai_core::id::{SessionId, SubjectId, TenantId};
use cai_core::service::{
    ContentBody, E2eCommit, E2eEpochView, InviteTo, NewSession, SessionKeyMaterial,
};
use cai_core::{Caller, Error};
use cai_crypto::e2e::{
    AccountRef, Device, DeviceId, IdentityKey, ModeDescriptor, TrustStore, group_id,
};
use cai_crypto::{ItemContext, envelope};
use common::World;

/// A user's identity key and one device, named by the caller's subject.
struct Client {
    key: IdentityKey,
    caller: Caller,
    device: Device,
}

impl Client {
    fn new(caller: &Caller, device: &str) -> Self {
        let key = IdentityKey::generate().unwrap();
        let device = Device::new(
            &key,
            AccountRef::new(caller.subject.to_string().as_bytes()).unwrap(),
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

    fn account(&self) -> AccountRef {
        AccountRef::new(self.caller.subject.to_string().as_bytes()).unwrap()
    }
}

fn e2e() -> NewSession {
    NewSession {
        mode: Some(SessionMode::EndToEnd),
        ..NewSession::classic()
    }
}

fn gid(t: TenantId, s: SessionId) -> Vec<u8> {
    group_id(t.to_string().as_bytes(), s.to_string().as_bytes()).unwrap()
}

async fn epochs(w: &World, c: &Caller, t: TenantId, s: SessionId) -> Vec<E2eEpochView> {
    w.svc.e2e_epochs(c, t, s, None, 100).await.unwrap()
}

/// The owner's device creates the group and the service starts tracking it.
async fn start(w: &World, owner: &mut Client, t: TenantId, s: SessionId) {
    let d = ModeDescriptor::sign(
        &owner.key,
        &owner.account(),
        t.to_string().as_bytes(),
        s.to_string().as_bytes(),
        cai_crypto::modes::SessionMode::EndToEnd,
    )
    .unwrap();
    let (info, record) = owner.device.create_group(&d).unwrap();
    assert_eq!(
        w.svc
            .start_e2e_group(&owner.caller, t, s, info, record)
            .await
            .unwrap(),
        0
    );
}

/// `adder` claims `who`'s key packages and makes the commit adding them.
async fn add_commit(
    w: &World,
    adder: &mut Client,
    who: SubjectId,
    t: TenantId,
    s: SessionId,
) -> E2eCommit {
    let kps = w
        .svc
        .claim_key_packages(&adder.caller, t, s, who)
        .await
        .unwrap();
    assert!(!kps.is_empty());
    adder.device.add(&gid(t, s), &kps).unwrap().into()
}

async fn publish(w: &World, c: &Client, t: TenantId) {
    let kps = vec![
        c.device.key_package(false).unwrap(),
        c.device.key_package(true).unwrap(),
    ];
    w.svc.publish_key_packages(&c.caller, t, kps).await.unwrap();
}

/// A device joins from the newest welcome.
async fn join(w: &World, c: &mut Client, t: TenantId, s: SessionId) {
    let all = epochs(w, &c.caller, t, s).await;
    let last = all.iter().rev().find(|e| e.welcome.is_some()).unwrap();
    c.device
        .join(
            t.to_string().as_bytes(),
            s.to_string().as_bytes(),
            last.welcome.as_ref().unwrap(),
            &last.record,
        )
        .unwrap();
}

fn sealed(body: Vec<u8>) -> ContentBody {
    ContentBody::Sealed(SealedBody::new(body).unwrap())
}
