//! One device's end-to-end client: its keys, trust store and the MLS groups of the
//! sessions it takes part in.

use std::collections::BTreeMap;

use openmls::group::{GroupId, MlsGroup, StagedWelcome};
use openmls::prelude::{
    BasicCredential, CredentialWithKey, KeyPackage, LeafNodeIndex, LeafNodeParameters,
    MlsMessageBodyIn, MlsMessageIn, MlsMessageOut, ProcessedMessageContent, Proposal,
    RatchetTreeIn, Sender, StagedCommit,
};
use openmls_traits::OpenMlsProvider;
use tls_codec::{Deserialize as _, Serialize as _};
use zeroize::Zeroizing;

use super::content::{self, LABEL_CONTENT_KEY, LABEL_CONTENT_KEY_ID, Opened};
use super::credential::{self, AccountRef, DeviceCredential};
use super::descriptor::{ModeDescriptor, group_id as session_group_id};
use super::device::{DeviceId, DeviceKeyPair};
use super::ds::{check_record, validate_key_package};
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
    members.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    members
}

fn members_of(group: &MlsGroup) -> Result<Vec<DeviceCredential>> {
    group
        .members()
        .map(|m| credential::of_leaf(&m.credential, &m.signature_key))
        .collect::<Result<Vec<_>>>()
        .map(sorted)
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
        let digest = record.digest();
        self.groups.insert(
            gid,
            GroupState {
                group,
                descriptor: descriptor.clone(),
                epochs: BTreeMap::from([(0, EpochKeys::new(0, key, members, digest))]),
                last_record: digest,
                anchor: (0, digest),
                pending: None,
            },
        );
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
        let mut warnings = Vec::new();
        for c in &added {
            match self.trust.admit(c)? {
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

    /// Joins a group from a welcome and the record of the epoch it welcomes into.
    /// Checks that the group is the session's, that its mode descriptor is a valid
    /// end-to-end descriptor for that session by a trusted creator, that every member
    /// is trusted, and that the record describes the epoch.
    pub fn join(
        &mut self,
        tenant: &[u8],
        session: &[u8],
        welcome: &[u8],
        record: &[u8],
    ) -> Result<Joined> {
        check_len("welcome", welcome)?;
        let gid = session_group_id(tenant, session)?;
        if self.groups.contains_key(&gid) {
            return Err(Error::Rejected {
                what: "welcome",
                reason: "already a member",
            });
        }
        let record = EpochRecord::parse(record)?;
        // Processing a welcome consumes this device's key package; a welcome refused
        // below (wrong record, untrusted member, wrong descriptor) must not, or whoever
        // relays welcomes could burn the key package and keep the device out of the
        // genuine one.
        let snapshot = self.provider.snapshot()?;
        let joined = self.join_checked(tenant, session, gid, welcome, record);
        if joined.is_err() {
            self.provider.restore(&snapshot)?;
        }
        joined
    }

    fn join_checked(
        &mut self,
        tenant: &[u8],
        session: &[u8],
        gid: Vec<u8>,
        welcome: &[u8],
        record: EpochRecord,
    ) -> Result<Joined> {
        let MlsMessageBodyIn::Welcome(w) = MlsMessageIn::tls_deserialize_exact(welcome)
            .map_err(|e| mls("parse welcome", e))?
            .extract()
        else {
            return Err(Error::Rejected {
                what: "welcome",
                reason: "not a welcome message",
            });
        };
        let staged = StagedWelcome::new_from_welcome(&self.provider, &mls::join_config(), w, None)
            .map_err(|e| mls("process welcome", e))?;
        if staged.group_context().group_id().as_slice() != gid.as_slice() {
            return Err(Error::Rejected {
                what: "welcome",
                reason: "made for another session",
            });
        }
        let ext = staged
            .group_context()
            .extensions()
            .unknown(EXTENSION_MODE_DESCRIPTOR)
            .ok_or(Error::Rejected {
                what: "welcome",
                reason: "the group has no mode descriptor",
            })?;
        let descriptor = ModeDescriptor::parse(&ext.0)?;
        descriptor.check_session(tenant, session)?;
        if descriptor.mode() != SessionMode::EndToEnd {
            return Err(Error::Rejected {
                what: "mode descriptor",
                reason: "not an end-to-end session",
            });
        }
        match self.trust.get(descriptor.creator()) {
            Some((k, _)) if k != *descriptor.creator_key() => {
                return Err(Error::Untrusted {
                    reason: "mode descriptor signed by another key than the creator's",
                });
            }
            _ => {}
        }
        let members = sorted(
            staged
                .members()
                .map(|m| credential::of_leaf(&m.credential, &m.signature_key))
                .collect::<Result<Vec<_>>>()?,
        );
        self.trust.check_all(&members)?;
        let sender = staged
            .welcome_sender()
            .map_err(|e| mls("welcome sender", e))?;
        let sender = credential::of_leaf(sender.credential(), sender.signature_key().as_slice())?;
        let group = staged
            .into_group(&self.provider)
            .map_err(|e| mls("join group", e))?;
        let epoch = group.epoch().as_u64();
        let key = content_key(epoch, |l, n| export(&self.provider, &group, l, n))?;
        let facts = EpochFacts::new(group.epoch_authenticator().as_slice(), &key, &members);
        let checked = check_record(&record, &gid, epoch, record.previous(), &sender, &members)
            .and_then(|()| {
                if *record.facts() == facts {
                    Ok(())
                } else {
                    Err(Error::Rejected {
                        what: "epoch record",
                        reason: "does not describe the epoch this device computed: the group may be forked",
                    })
                }
            });
        checked?;
        let mut warnings = Vec::new();
        for m in &members {
            match self.trust.admit(m)? {
                Admission::Known => {}
                Admission::NewDevice => warnings.push(MemberWarning::NewDevice {
                    account: m.account().clone(),
                    device: m.device().clone(),
                }),
                Admission::NewUser => warnings.push(MemberWarning::NewUser {
                    account: m.account().clone(),
                }),
            }
        }
        let digest = record.digest();
        self.groups.insert(
            gid.clone(),
            GroupState {
                group,
                descriptor: descriptor.clone(),
                epochs: BTreeMap::from([(epoch, EpochKeys::new(epoch, key, members, digest))]),
                last_record: digest,
                anchor: (epoch, digest),
                pending: None,
            },
        );
        Ok(Joined {
            group_id: gid,
            epoch,
            descriptor,
            warnings,
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

    /// The groups this device is a member of.
    pub fn groups(&self) -> impl Iterator<Item = &[u8]> {
        self.groups.keys().map(Vec::as_slice)
    }

    /// The current epoch of a group.
    pub fn epoch(&self, gid: &[u8]) -> Result<u64> {
        Ok(self.state(gid)?.group.epoch().as_u64())
    }

    /// The current members of a group, in credential byte order.
    pub fn members(&self, gid: &[u8]) -> Result<Vec<DeviceCredential>> {
        members_of(&self.state(gid)?.group)
    }

    /// The session's signed mode descriptor.
    pub fn descriptor(&self, gid: &[u8]) -> Result<&ModeDescriptor> {
        Ok(&self.state(gid)?.descriptor)
    }

    /// The epoch authenticator of the current epoch (RFC 9420 §8.7).
    pub fn epoch_authenticator(&self, gid: &[u8]) -> Result<Vec<u8>> {
        Ok(self
            .state(gid)?
            .group
            .epoch_authenticator()
            .as_slice()
            .to_vec())
    }

    /// The verification code of the current epoch.
    pub fn verification_code(&self, gid: &[u8]) -> Result<VerificationCode> {
        let st = self.state(gid)?;
        VerificationCode::derive(
            gid,
            st.group.epoch().as_u64(),
            st.group.epoch_authenticator().as_slice(),
        )
    }

    /// The keys this device holds for `epoch`, if any.
    pub fn epoch_keys(&self, gid: &[u8], epoch: u64) -> Result<Option<&EpochKeys>> {
        Ok(self.state(gid)?.epochs.get(&epoch))
    }

    /// Seals a content item in the current epoch, signed by this device.
    pub fn seal(&self, gid: &[u8], ctx: &ItemContext<'_>, plaintext: &[u8]) -> Result<Vec<u8>> {
        let st = self.state(gid)?;
        let epoch = st.group.epoch().as_u64();
        let keys = st.epochs.get(&epoch).ok_or(Error::EpochUnavailable {
            epoch,
            reason: "the current epoch's keys are missing",
        })?;
        content::seal(keys, gid, &self.signing, ctx, plaintext)
    }

    /// Opens a content item of any epoch this device holds keys for, and says who sent
    /// it. Items of other epochs are [`Error::EpochUnavailable`] (R-E4c).
    pub fn open(&self, gid: &[u8], ctx: &ItemContext<'_>, sealed: &[u8]) -> Result<Opened> {
        let st = self.state(gid)?;
        let (header, _) = crate::envelope::EnvelopeHeader::parse(sealed)?;
        let epoch = u64::from(header.epoch.0);
        let keys = st.epochs.get(&epoch).ok_or(Error::EpochUnavailable {
            epoch,
            reason: "this device was not a member then and holds no history grant for it",
        })?;
        content::open(keys, gid, ctx, sealed)
    }

    fn media_epoch(&self, st: &GroupState, suite: MediaSuite) -> Result<MediaEpoch> {
        let secret = Zeroizing::new(export(
            &self.provider,
            &st.group,
            SFRAME_EXPORTER_LABEL,
            suite.key_len(),
        )?);
        let mut senders = Vec::new();
        for m in st.group.members() {
            let key: [u8; 32] =
                m.signature_key
                    .as_slice()
                    .try_into()
                    .map_err(|_| Error::Untrusted {
                        reason: "leaf signature key is not an Ed25519 key",
                    })?;
            senders.push((m.index.u32(), IdentityPublicKey::from_bytes(&key)?));
        }
        Ok(MediaEpoch {
            epoch: st.group.epoch().as_u64(),
            secret,
            senders,
        })
    }

    /// A media sender for this device in the current epoch (RFC 9605 §5.2 keys).
    pub fn media_sender(&self, gid: &[u8], suite: MediaSuite) -> Result<MediaSender> {
        let st = self.state(gid)?;
        let keys = self.media_epoch(st, suite)?;
        MediaSender::new(
            gid,
            suite,
            &keys,
            st.group.own_leaf_index().u32(),
            &self.signing,
        )
    }

    /// A media receiver holding every sender's key of the current epoch.
    pub fn media_receiver(&self, gid: &[u8], suite: MediaSuite) -> Result<MediaReceiver> {
        let mut r = MediaReceiver::new(gid);
        self.update_media_receiver(gid, suite, &mut r)?;
        Ok(r)
    }

    /// Adds the current epoch's sender keys to `receiver` (after an epoch change).
    pub fn update_media_receiver(
        &self,
        gid: &[u8],
        suite: MediaSuite,
        receiver: &mut MediaReceiver,
    ) -> Result<()> {
        let st = self.state(gid)?;
        receiver.add_epoch(suite, &self.media_epoch(st, suite)?)
    }

    /// Seals the content keys of `epochs` (those this device holds) to `recipients`,
    /// the devices of one counsellor (R-E4b).
    pub fn grant_history(
        &self,
        gid: &[u8],
        recipients: &[DeviceCredential],
        epochs: core::ops::RangeInclusive<u64>,
    ) -> Result<Vec<u8>> {
        let st = self.state(gid)?;
        // Only to devices in the group: credentials from anywhere else (the server's
        // word for "the new counsellor's devices") would receive the history unseen.
        let members = members_of(&st.group)?;
        for r in recipients {
            if !members.contains(r) {
                return Err(Error::Rejected {
                    what: "history grant",
                    reason: "a recipient device is not a member of the group",
                });
            }
        }
        if epochs.start() > epochs.end() {
            return Err(Error::Rejected {
                what: "history grant",
                reason: "empty epoch range",
            });
        }
        let keys: Vec<&EpochKeys> = st.epochs.range(epochs).map(|(_, k)| k).collect();
        history::grant(gid, recipients, &keys)
    }

    /// Accepts a history grant after checking every epoch in it against `records` (the
    /// Delivery Service's stored records of the group). Returns how many epochs were
    /// added; nothing is added when any epoch is refused.
    pub fn accept_history(
        &mut self,
        gid: &[u8],
        grant: &[u8],
        records: &[Vec<u8>],
    ) -> Result<usize> {
        let st = self.groups.get(gid).ok_or_else(no_group)?;
        let keys = history::accept(
            grant,
            gid,
            &self.credential,
            &self.boxing,
            st.anchor,
            records,
        )?;
        let st = self.groups.get_mut(gid).ok_or_else(no_group)?;
        let mut added = 0;
        for k in keys {
            if let std::collections::btree_map::Entry::Vacant(v) = st.epochs.entry(k.epoch) {
                v.insert(k);
                added += 1;
            }
        }
        Ok(added)
    }

    /// The device's whole state — private keys, MLS groups, epoch keys, trust — to keep
    /// on the device (encrypted by the caller) or in its key backup. Zeroized on drop.
    pub fn save(&self) -> Result<Zeroizing<Vec<u8>>> {
        let mut out = Zeroizing::new(Vec::new());
        put_preamble(&mut out, KIND_DEVICE_STATE);
        out.extend_from_slice(self.signing.to_seed().expose_secret());
        out.extend_from_slice(self.boxing.to_secret().expose_secret());
        out.extend_from_slice(&(self.credential.as_bytes().len() as u16).to_be_bytes());
        out.extend_from_slice(self.credential.as_bytes());
        self.trust.encode(&mut out)?;
        out.extend_from_slice(&(self.groups.len() as u32).to_be_bytes());
        for (gid, st) in &self.groups {
            put_var8(&mut out, gid)?;
            out.extend_from_slice(&(st.descriptor.as_bytes().len() as u16).to_be_bytes());
            out.extend_from_slice(st.descriptor.as_bytes());
            out.extend_from_slice(&st.last_record);
            out.extend_from_slice(&st.anchor.0.to_be_bytes());
            out.extend_from_slice(&st.anchor.1);
            out.extend_from_slice(&(st.epochs.len() as u32).to_be_bytes());
            for k in st.epochs.values() {
                out.extend_from_slice(&k.epoch.to_be_bytes());
                out.extend_from_slice(k.content_key.id().as_bytes());
                out.extend_from_slice(k.content_key.secret().expose_secret());
                out.extend_from_slice(&k.record);
                out.extend_from_slice(&(k.members.len() as u16).to_be_bytes());
                for m in &k.members {
                    out.extend_from_slice(&(m.as_bytes().len() as u16).to_be_bytes());
                    out.extend_from_slice(m.as_bytes());
                }
            }
        }
        out.extend_from_slice(&self.provider.save()?);
        // `load` refuses more, so refuse to write it: a state that saves but never
        // loads again would lose every key in it.
        mls::check_state_len("device state", out.len())?;
        Ok(out)
    }

    /// Restores a device from [`save`](Self::save). A commit pending at the save stays
    /// pending: [`confirm`](Self::confirm) or [`discard`](Self::discard) it, or
    /// [`process`](Self::process) whichever commit the Delivery Service accepted.
    pub fn load(bytes: &[u8]) -> Result<Self> {
        const WHAT: &str = "device state";
        mls::check_state_len(WHAT, bytes.len())?;
        let mut r = Reader::new(bytes, WHAT);
        read_preamble(&mut r, WHAT, KIND_DEVICE_STATE)?;
        let signing = IdentityKey::from_seed(&SecretBytes::from_bytes(r.array()?));
        let boxing = DeviceKeyPair::from_secret(&SecretBytes::from_bytes(r.array()?));
        let n = usize::from(r.u16()?);
        let credential = DeviceCredential::parse(r.take(n)?)?;
        if *credential.signature_key() != signing.public()
            || *credential.box_key() != boxing.public()
        {
            return Err(Error::Malformed {
                what: WHAT,
                reason: "keys do not match the credential",
            });
        }
        let trust = TrustStore::decode(&mut r)?;
        let mut groups_raw = Vec::new();
        for _ in 0..r.u32()? {
            let gid = r.var8(255, "group id length")?.to_vec();
            let n = usize::from(r.u16()?);
            let descriptor = ModeDescriptor::parse(r.take(n)?)?;
            let last_record = r.array()?;
            let anchor = (r.u64()?, r.array()?);
            let mut epochs = BTreeMap::new();
            for _ in 0..r.u32()? {
                let epoch = r.u64()?;
                let id = KeyId::from_bytes(r.array()?);
                let secret = SecretBytes::from_bytes(r.array()?);
                let record = r.array()?;
                let mut members = Vec::new();
                for _ in 0..r.u16()? {
                    let n = usize::from(r.u16()?);
                    members.push(DeviceCredential::parse(r.take(n)?)?);
                }
                let key_epoch = u32::try_from(epoch).map_err(|_| Error::Malformed {
                    what: WHAT,
                    reason: "epoch out of range",
                })?;
                let key = DataKey::from_parts(id, KeyEpoch(key_epoch), secret);
                epochs.insert(epoch, EpochKeys::new(epoch, key, members, record));
            }
            groups_raw.push((gid, descriptor, last_record, anchor, epochs));
        }
        let provider = Provider::load(&mut r)?;
        r.finish()?;
        let mut groups = BTreeMap::new();
        for (gid, descriptor, last_record, anchor, epochs) in groups_raw {
            let group = MlsGroup::load(provider.storage(), &GroupId::from_slice(&gid))
                .map_err(|e| mls("load group", e))?
                .ok_or(Error::Malformed {
                    what: WHAT,
                    reason: "a group's MLS state is missing",
                })?;
            // A commit made before the save is still pending in the MLS state: its
            // record is signed again (Ed25519 is deterministic: the same bytes) so that
            // `confirm`, or processing the commit when the Delivery Service relays it,
            // works as before the save.
            let pending = match group.pending_commit() {
                Some(staged) => {
                    let (facts, members, epoch) = staged_facts(&provider, &group, staged)?;
                    let record = EpochRecord::sign(&signing, &gid, epoch, last_record, &facts)?;
                    Some((record, members))
                }
                None => None,
            };
            groups.insert(
                gid,
                GroupState {
                    group,
                    descriptor,
                    epochs,
                    last_record,
                    anchor,
                    pending,
                },
            );
        }
        Ok(Self {
            provider,
            signing,
            boxing,
            credential,
            trust,
            groups,
        })
    }
}

fn export(provider: &Provider, group: &MlsGroup, label: &str, len: usize) -> Result<Vec<u8>> {
    group
        .export_secret(provider.crypto(), label, &[], len)
        .map_err(|e| mls("export secret", e))
}

/// The facts, members and epoch of the epoch a staged commit leads to.
fn staged_facts(
    provider: &Provider,
    group: &MlsGroup,
    staged: &StagedCommit,
) -> Result<(EpochFacts, Vec<DeviceCredential>, u64)> {
    let epoch = staged.epoch().as_u64();
    let tree = staged
        .export_ratchet_tree(provider.crypto(), group.export_ratchet_tree())
        .map_err(|e| mls("staged tree", e))?
        .ok_or(Error::Mls {
            op: "staged tree",
            reason: "not a member's staged commit".into(),
        })?;
    let members = sorted(
        RatchetTreeIn::from(tree)
            .leaves()
            .map(|l| credential::of_leaf(l.credential(), l.signature_key().as_slice()))
            .collect::<Result<Vec<_>>>()?,
    );
    let authenticator = staged.epoch_authenticator().ok_or(Error::Mls {
        op: "staged epoch",
        reason: "no epoch authenticator".into(),
    })?;
    let key = content_key(epoch, |l, n| {
        staged
            .export_secret(provider.crypto(), l, &[], n)
            .map_err(|e| mls("export secret", e))
    })?;
    Ok((
        EpochFacts::new(authenticator.as_slice(), &key, &members),
        members,
        epoch,
    ))
}

/// The checks a member makes on another member's commit: proposals by the committer
/// only, adds and removes only, trusted new devices (and, within the commit, one user
/// key per account), the committer stays itself. Returns the committer's credential in
/// the new epoch and the devices of the new epoch as the proposals describe them.
fn check_staged(
    group: &MlsGroup,
    trust: &TrustStore,
    sender: LeafNodeIndex,
    staged: &StagedCommit,
) -> Result<(DeviceCredential, Vec<DeviceCredential>)> {
    let reject = |reason| Error::Rejected {
        what: "commit",
        reason,
    };
    let leaf = group
        .members()
        .find(|m| m.index == sender)
        .ok_or(reject("committer is not a member"))?;
    let committer = credential::of_leaf(&leaf.credential, &leaf.signature_key)?;
    let mut added = Vec::new();
    let mut removed = Vec::new();
    for q in staged.queued_proposals() {
        if !matches!(q.sender(), Sender::Member(s) if *s == sender) {
            return Err(reject("proposals by reference are not accepted"));
        }
        match q.proposal() {
            Proposal::Add(add) => {
                let l = add.key_package().leaf_node();
                added.push(credential::of_leaf(
                    l.credential(),
                    l.signature_key().as_slice(),
                )?);
            }
            Proposal::Remove(r) => removed.push(r.removed()),
            _ => return Err(reject("only add and remove proposals are accepted")),
        }
    }
    if removed.contains(&sender) {
        return Err(reject("a device does not remove itself by commit"));
    }
    trust.check_all(&added)?;
    let new_committer = match staged.update_path_leaf_node() {
        Some(l) => {
            let c = credential::of_leaf(l.credential(), l.signature_key().as_slice())?;
            if c.account() != committer.account() || c.device() != committer.device() {
                return Err(reject("a committer cannot become another device"));
            }
            trust.check(&c)?;
            c
        }
        None => committer,
    };
    let mut members = Vec::new();
    for m in group.members() {
        if m.index != sender && !removed.contains(&m.index) {
            members.push(credential::of_leaf(&m.credential, &m.signature_key)?);
        }
    }
    members.push(new_committer.clone());
    members.extend(added);
    Ok((new_committer, sorted(members)))
}
