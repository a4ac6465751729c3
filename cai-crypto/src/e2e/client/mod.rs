//! One device's end-to-end client: its keys, trust store and the MLS groups of the
//! sessions it takes part in. Here: creating groups and committing changes;
//! [`join`], [`session`] (state, content, media, history), [`saved`] and [`checks`]
//! (what a member checks of another's commit) hold the rest.

use std::collections::BTreeMap;

use openmls::group::{GroupId, MlsGroup, StagedWelcome};
use openmls::prelude::{
    BasicCredential, CredentialWithKey, KeyPackage, LeafNodeIndex, LeafNodeParameters,
    MlsMessageBodyIn, MlsMessageIn, MlsMessageOut, ProcessedMessageContent, RatchetTreeIn, Sender,
    StagedCommit,
};
use openmls_traits::OpenMlsProvider;
use tls_codec::{Deserialize as _, Serialize as _};
use zeroize::Zeroizing;

use super::content::{self, LABEL_CONTENT_KEY, LABEL_CONTENT_KEY_ID, Opened};
use super::credential::{self, AccountRef, DeviceCredential};
use super::descriptor::{ModeDescriptor, group_id as session_group_id};
use super::device::{DeviceId, DeviceKeyPair};
use super::ds::{check_record, commit_changes, validate_key_package};
use super::history;
use super::identity::{IdentityKey, IdentityPublicKey};
use super::media::{MediaEpoch, MediaReceiver, MediaSender, SFRAME_EXPORTER_LABEL};
use super::mls::{
    self, EXTENSION_MODE_DESCRIPTOR, LeafSigner, MAX_GROUP_MEMBERS, Provider, check_len, mls,
};
use super::record::{DIGEST_LEN, EpochFacts, EpochRecord};
use super::trust::{Admission, TrustStore};
use super::verify::VerificationCode;
use super::wire::{Reader, put_preamble, put_var8, read_preamble};
use crate::modes::SessionMode;
use crate::sframe::MediaSuite;
use crate::{DataKey, Error, ItemContext, KEY_ID_LEN, KeyEpoch, KeyId, Result, SecretBytes};

mod checks;
mod join;
mod saved;
mod session;

use checks::{check_staged, export, staged_facts};

/// Kind byte of a saved device.
pub const KIND_DEVICE_STATE: u8 = 0x06;

/// The keys of one epoch that this device keeps to read stored content: the content
/// key and the member list that says who could have signed.
#[derive(Clone)]
pub struct EpochKeys {
    epoch: u64,
    content_key: DataKey,
    members: Vec<DeviceCredential>,
    record: [u8; DIGEST_LEN],
}

impl core::fmt::Debug for EpochKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EpochKeys")
            .field("epoch", &self.epoch)
            .field("members", &self.members.len())
            .finish_non_exhaustive()
    }
}

impl EpochKeys {
    pub(crate) fn new(
        epoch: u64,
        content_key: DataKey,
        members: Vec<DeviceCredential>,
        record: [u8; DIGEST_LEN],
    ) -> Self {
        Self {
            epoch,
            content_key,
            members,
            record,
        }
    }

    /// The epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The epoch's content key.
    pub fn content_key(&self) -> &DataKey {
        &self.content_key
    }

    /// The epoch's devices, in credential byte order.
    pub fn members(&self) -> &[DeviceCredential] {
        &self.members
    }
}

/// What a device sends to the Delivery Service after a membership or key change.
#[derive(Debug, Clone)]
pub struct Handshake {
    /// The commit (an MLS `PublicMessage`).
    pub commit: Vec<u8>,
    /// The welcome for added devices, if any.
    pub welcome: Option<Vec<u8>>,
    /// The signed record of the epoch the commit leads to.
    pub record: Vec<u8>,
}

/// Something a member should be told about (R-E4: verified membership).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberWarning {
    /// A user this device had never seen, trusted on first use: compare the
    /// verification code.
    NewUser {
        /// The account.
        account: AccountRef,
    },
    /// A new device of a trusted user.
    NewDevice {
        /// The account.
        account: AccountRef,
        /// The device.
        device: DeviceId,
    },
}

/// The result of processing a commit.
#[derive(Debug)]
pub struct Processed {
    /// The epoch the group is in now.
    pub epoch: u64,
    /// New users and devices.
    pub warnings: Vec<MemberWarning>,
    /// Devices added and removed.
    pub added: Vec<DeviceCredential>,
    /// Devices removed.
    pub removed: Vec<DeviceCredential>,
    /// Whether this device was removed (its group is gone).
    pub removed_self: bool,
}

/// The result of joining a group.
#[derive(Debug)]
pub struct Joined {
    /// The group id.
    pub group_id: Vec<u8>,
    /// The epoch joined.
    pub epoch: u64,
    /// The session's mode descriptor (checked).
    pub descriptor: ModeDescriptor,
    /// New users and devices among the members.
    pub warnings: Vec<MemberWarning>,
}

struct GroupState {
    group: MlsGroup,
    descriptor: ModeDescriptor,
    epochs: BTreeMap<u64, EpochKeys>,
    last_record: [u8; DIGEST_LEN],
    /// The earliest epoch this device checked itself (its anchor for history grants).
    anchor: (u64, [u8; DIGEST_LEN]),
    pending: Option<(EpochRecord, Vec<DeviceCredential>)>,
}

impl GroupState {
    /// A group this device just created or joined: `keys` are those of its first epoch,
    /// whose record is the anchor for history grants.
    fn new(group: MlsGroup, descriptor: ModeDescriptor, keys: EpochKeys) -> Self {
        let anchor = (keys.epoch, keys.record);
        Self {
            group,
            descriptor,
            last_record: keys.record,
            anchor,
            epochs: BTreeMap::from([(keys.epoch, keys)]),
            pending: None,
        }
    }
}

/// Learns `credentials` into `trust`, saying which users and devices are new.
fn admit_all(
    trust: &mut TrustStore,
    credentials: &[DeviceCredential],
) -> Result<Vec<MemberWarning>> {
    let mut warnings = Vec::new();
    for c in credentials {
        match trust.admit(c)? {
            Admission::Known => {}
            Admission::NewDevice => warnings.push(MemberWarning::NewDevice {
                account: c.account().clone(),
                device: c.device().clone(),
            }),
            Admission::NewUser => warnings.push(MemberWarning::NewUser {
                account: c.account().clone(),
            }),
        }
    }
    Ok(warnings)
}

/// One device of one user, with the MLS groups of its sessions.
pub struct Device {
    provider: Provider,
    signing: IdentityKey,
    boxing: DeviceKeyPair,
    credential: DeviceCredential,
    trust: TrustStore,
    groups: BTreeMap<Vec<u8>, GroupState>,
}

impl core::fmt::Debug for Device {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Device")
            .field("credential", &self.credential)
            .field("groups", &self.groups.len())
            .finish_non_exhaustive()
    }
}

fn serialize(what: &'static str, m: &MlsMessageOut) -> Result<Vec<u8>> {
    m.tls_serialize_detached().map_err(|e| mls(what, e))
}

fn no_group() -> Error {
    Error::Rejected {
        what: "group",
        reason: "this device is not a member of the group",
    }
}

/// The content key and id of the epoch an exporter belongs to.
fn content_key(epoch: u64, export: impl Fn(&str, usize) -> Result<Vec<u8>>) -> Result<DataKey> {
    let key_epoch = u32::try_from(epoch).map_err(|_| Error::LimitExceeded {
        what: "epochs per group",
    })?;
    let secret = Zeroizing::new(export(LABEL_CONTENT_KEY, 32)?);
    let id = export(LABEL_CONTENT_KEY_ID, KEY_ID_LEN)?;
    let secret = SecretBytes::<32>::from_slice(&secret)?;
    let id: [u8; KEY_ID_LEN] = id.as_slice().try_into().map_err(|_| Error::Malformed {
        what: "exported key id",
        reason: "wrong length",
    })?;
    Ok(DataKey::from_parts(
        KeyId::from_bytes(id),
        KeyEpoch(key_epoch),
        secret,
    ))
}

fn sorted(mut members: Vec<DeviceCredential>) -> Vec<DeviceCredential> {
    credential::sort(&mut members);
    members
}

fn members_of(group: &MlsGroup) -> Result<Vec<DeviceCredential>> {
    credential::of_members(group.members())
}

impl Device {
    /// A new device of `account`, its credential cross-signed by the user's identity
    /// key `user` (which the device does not keep). `trust` decides which other users
    /// it accepts; the device's own user is pinned in it.
    pub fn new(
        user: &IdentityKey,
        account: AccountRef,
        device: DeviceId,
        mut trust: TrustStore,
    ) -> Result<Self> {
        let signing = IdentityKey::generate()?;
        let boxing = DeviceKeyPair::generate()?;
        let credential =
            DeviceCredential::issue(user, &account, &device, &signing.public(), &boxing.public())?;
        trust.pin(account, user.public())?;
        trust.admit(&credential)?;
        Ok(Self {
            provider: Provider::default(),
            signing,
            boxing,
            credential,
            trust,
            groups: BTreeMap::new(),
        })
    }

    /// This device's credential.
    pub fn credential(&self) -> &DeviceCredential {
        &self.credential
    }

    /// The trust store (pin keys, accept changes).
    pub fn trust_mut(&mut self) -> &mut TrustStore {
        &mut self.trust
    }

    fn credential_with_key(&self) -> CredentialWithKey {
        CredentialWithKey {
            credential: BasicCredential::new(self.credential.as_bytes().to_vec()).into(),
            signature_key: self.signing.public().to_bytes().to_vec().into(),
        }
    }

    /// A new `KeyPackage` MLS message to publish: one-time, or the device's last-resort
    /// package (RFC 9420 §16.8) that the Delivery Service keeps instead of consuming.
    pub fn key_package(&self, last_resort: bool) -> Result<Vec<u8>> {
        let mut b = KeyPackage::builder().leaf_node_capabilities(mls::capabilities());
        if last_resort {
            b = b.mark_as_last_resort();
        }
        let bundle = b
            .build(
                mls::CIPHERSUITE,
                &self.provider,
                &LeafSigner(&self.signing),
                self.credential_with_key(),
            )
            .map_err(|e| mls("make key package", e))?;
        serialize(
            "encode key package",
            &MlsMessageOut::from(bundle.key_package().clone()),
        )
    }

    /// Creates the group of a new end-to-end session whose descriptor this device's
    /// user signed. Returns the `GroupInfo` (with the ratchet tree) and the record of
    /// epoch 0 for the Delivery Service ([`DsGroup::create`](super::DsGroup::create)).
    pub fn create_group(&mut self, descriptor: &ModeDescriptor) -> Result<(Vec<u8>, Vec<u8>)> {
        if descriptor.mode() != SessionMode::EndToEnd
            || descriptor.creator() != self.credential.account()
            || descriptor.creator_key() != self.credential.user_key()
        {
            return Err(Error::Rejected {
                what: "mode descriptor",
                reason: "not an end-to-end descriptor signed by this device's user",
            });
        }
        let gid = session_group_id(descriptor.tenant(), descriptor.session())?;
        if self.groups.contains_key(&gid) {
            return Err(Error::Rejected {
                what: "group",
                reason: "already a member",
            });
        }
        let signer = LeafSigner(&self.signing);
        let group = MlsGroup::new_with_group_id(
            &self.provider,
            &signer,
            &mls::create_config(descriptor.as_bytes())?,
            GroupId::from_slice(&gid),
            self.credential_with_key(),
        )
        .map_err(|e| mls("create group", e))?;
        let members = members_of(&group)?;
        let key = content_key(0, |l, n| export(&self.provider, &group, l, n))?;
        let facts = EpochFacts::new(group.epoch_authenticator().as_slice(), &key, &members);
        let record = EpochRecord::sign(&self.signing, &gid, 0, [0; DIGEST_LEN], &facts)?;
        let info = group
            .export_group_info(self.provider.crypto(), &signer, true)
            .map_err(|e| mls("export group info", e))?;
        let info = serialize("encode group info", &info)?;
        let keys = EpochKeys::new(0, key, members, record.digest());
        self.groups
            .insert(gid, GroupState::new(group, descriptor.clone(), keys));
        Ok((info, record.as_bytes().to_vec()))
    }

    fn state(&self, gid: &[u8]) -> Result<&GroupState> {
        self.groups.get(gid).ok_or_else(no_group)
    }

    fn state_mut(&mut self, gid: &[u8]) -> Result<&mut GroupState> {
        self.groups.get_mut(gid).ok_or_else(no_group)
    }

    /// Adds devices from their key packages (as published; each is validated and its
    /// user must be trusted). The group changes only after [`confirm`](Self::confirm).
    pub fn add(&mut self, gid: &[u8], key_packages: &[Vec<u8>]) -> Result<Handshake> {
        let mut kps = Vec::with_capacity(key_packages.len());
        let mut credentials = Vec::with_capacity(key_packages.len());
        for bytes in key_packages {
            check_len("key package", bytes)?;
            let MlsMessageBodyIn::KeyPackage(kp) = MlsMessageIn::tls_deserialize_exact(bytes)
                .map_err(|e| mls("parse key package", e))?
                .extract()
            else {
                return Err(Error::Rejected {
                    what: "key package",
                    reason: "not a key package message",
                });
            };
            let (info, kp) = validate_key_package(&self.provider, kp)?;
            credentials.push(info.credential().clone());
            kps.push(kp);
        }
        self.trust.check_all(&credentials)?;
        let st = self.groups.get_mut(gid).ok_or_else(no_group)?;
        if st.group.members().count() + kps.len() > MAX_GROUP_MEMBERS {
            return Err(Error::LimitExceeded {
                what: "members per group",
            });
        }
        let (commit, welcome, _) = st
            .group
            .add_members(&self.provider, &LeafSigner(&self.signing), &kps)
            .map_err(|e| mls("add members", e))?;
        let welcome = Some(serialize("encode welcome", &welcome)?);
        self.finish_commit(gid, &commit, welcome)
    }

    /// Removes every device of `account` (or only `device`, when given).
    pub fn remove(
        &mut self,
        gid: &[u8],
        account: &AccountRef,
        device: Option<&DeviceId>,
    ) -> Result<Handshake> {
        let st = self.groups.get_mut(gid).ok_or_else(no_group)?;
        let mut leaves = Vec::new();
        for m in st.group.members() {
            let c = credential::of_leaf(&m.credential, &m.signature_key)?;
            if c.account() == account && device.is_none_or(|d| d == c.device()) {
                leaves.push(m.index);
            }
        }
        if leaves.is_empty() {
            return Err(Error::Rejected {
                what: "removal",
                reason: "no such member",
            });
        }
        if leaves.contains(&st.group.own_leaf_index()) {
            return Err(Error::Rejected {
                what: "removal",
                reason: "a device does not remove itself by commit",
            });
        }
        let (commit, welcome, _) = st
            .group
            .remove_members(&self.provider, &LeafSigner(&self.signing), &leaves)
            .map_err(|e| mls("remove members", e))?;
        let welcome = welcome
            .map(|w| serialize("encode welcome", &w))
            .transpose()?;
        self.finish_commit(gid, &commit, welcome)
    }

    /// Rotates this device's leaf keys (post-compromise security): after the commit,
    /// state stolen from this device before it cannot read the new epoch.
    pub fn update(&mut self, gid: &[u8]) -> Result<Handshake> {
        let st = self.groups.get_mut(gid).ok_or_else(no_group)?;
        let bundle = st
            .group
            .self_update(
                &self.provider,
                &LeafSigner(&self.signing),
                LeafNodeParameters::default(),
            )
            .map_err(|e| mls("self update", e))?;
        let commit = bundle.into_commit();
        self.finish_commit(gid, &commit, None)
    }

    fn finish_commit(
        &mut self,
        gid: &[u8],
        commit: &MlsMessageOut,
        welcome: Option<Vec<u8>>,
    ) -> Result<Handshake> {
        let commit = serialize("encode commit", commit)?;
        let st = self.groups.get(gid).ok_or_else(no_group)?;
        let staged = st.group.pending_commit().ok_or(Error::Mls {
            op: "commit",
            reason: "no pending commit".into(),
        })?;
        let (facts, members, epoch) = staged_facts(&self.provider, &st.group, staged)?;
        let record = EpochRecord::sign(&self.signing, gid, epoch, st.last_record, &facts)?;
        let bytes = record.as_bytes().to_vec();
        self.state_mut(gid)?.pending = Some((record, members));
        Ok(Handshake {
            commit,
            welcome,
            record: bytes,
        })
    }

    /// The Delivery Service accepted this device's pending commit: apply it.
    pub fn confirm(&mut self, gid: &[u8]) -> Result<Processed> {
        let st = self.groups.get_mut(gid).ok_or_else(no_group)?;
        let (record, members) = st.pending.clone().ok_or(Error::Rejected {
            what: "confirm",
            reason: "no pending commit",
        })?;
        let before = members_of(&st.group)?;
        st.group
            .merge_pending_commit(&self.provider)
            .map_err(|e| mls("merge commit", e))?;
        st.pending = None;
        self.after_merge(gid, &record, members, before)
    }

    /// The Delivery Service refused this device's pending commit (another came first):
    /// drop it, then process the winning commit.
    pub fn discard(&mut self, gid: &[u8]) -> Result<()> {
        let st = self.groups.get_mut(gid).ok_or_else(no_group)?;
        st.pending = None;
        st.group
            .clear_pending_commit(self.provider.storage())
            .map_err(|e| mls("discard commit", e))
    }

    /// Processes another member's commit and the record it came with, as the Delivery
    /// Service relays them. A pending commit of this device (one the Delivery Service
    /// refused because this one came first) is dropped. Refused (and nothing changes) when the commit is not for
    /// this epoch, adds an untrusted device, holds anything but adds and removes, or
    /// when the record does not describe the new epoch exactly as this device computes
    /// it — which is how a forked or tampered group is detected.
    pub fn process(&mut self, gid: &[u8], commit: &[u8], record: &[u8]) -> Result<Processed> {
        check_len("commit", commit)?;
        let record = EpochRecord::parse(record)?;
        let st = self.groups.get_mut(gid).ok_or_else(no_group)?;
        let MlsMessageBodyIn::PublicMessage(m) = MlsMessageIn::tls_deserialize_exact(commit)
            .map_err(|e| mls("parse commit", e))?
            .extract()
        else {
            return Err(Error::Rejected {
                what: "commit",
                reason: "handshake messages must be public messages",
            });
        };
        let processed = st
            .group
            .process_message(&self.provider, m)
            .map_err(|e| mls("process commit", e))?;
        let Sender::Member(sender) = *processed.sender() else {
            return Err(Error::Rejected {
                what: "commit",
                reason: "only members commit",
            });
        };
        let staged = match processed.into_content() {
            ProcessedMessageContent::StagedCommitMessage(staged) => *staged,
            // This device's own pending commit, relayed back by the Delivery Service
            // (after a restart, say): the same as `confirm`, if the record is ours.
            ProcessedMessageContent::OwnPendingCommit => {
                let ours = st
                    .pending
                    .as_ref()
                    .is_some_and(|(mine, _)| mine.as_bytes() == record.as_bytes());
                return if ours {
                    self.confirm(gid)
                } else {
                    Err(Error::Rejected {
                        what: "epoch record",
                        reason: "not the record of this device's pending commit",
                    })
                };
            }
            _ => {
                return Err(Error::Rejected {
                    what: "commit",
                    reason: "not a commit",
                });
            }
        };
        let result = check_staged(&st.group, &self.trust, sender, &staged).and_then(
            |(committer, expected)| {
                let epoch = staged.epoch().as_u64();
                // Even a device that leaves checks the record as far as it can: it no
                // longer learns the new epoch's secrets, but the record must still be
                // the committer's, chain to the last one and name the devices left.
                check_record(&record, gid, epoch, &st.last_record, &committer, &expected)?;
                if staged.self_removed() {
                    return Ok(None);
                }
                let (facts, members, _) = staged_facts(&self.provider, &st.group, &staged)?;
                if members != expected {
                    return Err(Error::Rejected {
                        what: "commit",
                        reason: "the new tree does not hold the devices the proposals name",
                    });
                }
                if *record.facts() != facts {
                    return Err(Error::Rejected {
                        what: "epoch record",
                        reason: "does not describe the epoch this device computed: the group may be forked",
                    });
                }
                Ok(Some(members))
            },
        );
        let members = match result {
            Ok(m) => m,
            Err(e) => {
                // Leave the group untouched for the next (winning) commit.
                let _ = st.group.clear_pending_proposals(self.provider.storage());
                return Err(e);
            }
        };
        let before = members_of(&st.group)?;
        st.group
            .merge_staged_commit(&self.provider, staged)
            .map_err(|e| mls("merge commit", e))?;
        // Another commit won the epoch: a commit of this device still pending is void.
        st.pending = None;
        match members {
            Some(members) => self.after_merge(gid, &record, members, before),
            None => {
                let epoch = self.state(gid)?.group.epoch().as_u64();
                self.forget_group(gid)?;
                Ok(Processed {
                    epoch,
                    warnings: Vec::new(),
                    added: Vec::new(),
                    removed: vec![self.credential.clone()],
                    removed_self: true,
                })
            }
        }
    }

    fn after_merge(
        &mut self,
        gid: &[u8],
        record: &EpochRecord,
        members: Vec<DeviceCredential>,
        before: Vec<DeviceCredential>,
    ) -> Result<Processed> {
        let st = self.groups.get_mut(gid).ok_or_else(no_group)?;
        let epoch = st.group.epoch().as_u64();
        let key = content_key(epoch, |l, n| export(&self.provider, &st.group, l, n))?;
        let added: Vec<_> = members
            .iter()
            .filter(|m| !before.contains(m))
            .cloned()
            .collect();
        let removed: Vec<_> = before
            .iter()
            .filter(|m| !members.contains(m))
            .cloned()
            .collect();
        let warnings = admit_all(&mut self.trust, &added)?;
        st.last_record = record.digest();
        st.epochs
            .insert(epoch, EpochKeys::new(epoch, key, members, st.last_record));
        Ok(Processed {
            epoch,
            warnings,
            added,
            removed,
            removed_self: false,
        })
    }

    fn forget_group(&mut self, gid: &[u8]) -> Result<()> {
        if let Some(mut st) = self.groups.remove(gid) {
            st.group
                .delete(self.provider.storage())
                .map_err(|e| mls("delete group", e))?;
        }
        Ok(())
    }
}
