//! The Delivery Service side: what the server checks before it stores or relays MLS
//! bytes. It holds no secret of the group — only the public tree (openmls'
//! `PublicGroup`) — and it decides nothing a member has to trust: members check every
//! commit and record themselves. What it adds is **order**: a [`DsGroup`] accepts
//! exactly one commit per epoch (the first valid one) and refuses every other, which is
//! how MLS keeps a relaying server from forking a group — a server that shows
//! different members different commits must then also make them disagree on every
//! later epoch authenticator and verification code.
//!
//! The server also refuses, before any member sees them, commits that MLS allows but
//! cai does not: anything but adds, removes and the committer's own path update;
//! proposals by reference; external commits; changed group-context extensions (the
//! signed mode descriptor is fixed at creation); a committer that swaps its own
//! account or device; and records that do not chain to the last one.

use openmls::group::{GroupId, ProposalStore, PublicGroup};
use openmls::prelude::{
    KeyPackageIn, LeafNodeIndex, MlsMessageBodyIn, MlsMessageIn, ProcessedMessageContent, Proposal,
    ProtocolMessage, ProtocolVersion, Sender, StagedCommit,
};
use openmls_traits::OpenMlsProvider;
use tls_codec::Deserialize as _;
use zeroize::Zeroizing;

use super::credential::{self, DeviceCredential};
use super::descriptor::{ModeDescriptor, group_id as session_group_id};
use super::mls::{self, EXTENSION_MODE_DESCRIPTOR, MAX_GROUP_MEMBERS, Provider, check_len, mls};
use super::record::{DIGEST_LEN, EpochRecord, members_hash};
use super::wire::{Reader, put_preamble, put_var8, read_preamble};
use crate::modes::SessionMode;
use crate::{Error, Result};

/// Kind byte of a saved Delivery Service group.
pub const KIND_DS_GROUP: u8 = 0x07;

/// A key package as the Delivery Service sees it: validated (signature, suite,
/// lifetime, distinct keys) and with a cai device credential.
#[derive(Debug, Clone)]
pub struct KeyPackageInfo {
    credential: DeviceCredential,
    last_resort: bool,
    reference: Vec<u8>,
}

impl KeyPackageInfo {
    /// Validates a `KeyPackage` MLS message (RFC 9420 §10.1) of cai's cipher suite.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        check_len("key package", bytes)?;
        let provider = Provider::default();
        let kp = match MlsMessageIn::tls_deserialize_exact(bytes)
            .map_err(|e| mls("parse key package", e))?
            .extract()
        {
            MlsMessageBodyIn::KeyPackage(kp) => kp,
            _ => {
                return Err(Error::Rejected {
                    what: "key package",
                    reason: "not a key package message",
                });
            }
        };
        validate_key_package(&provider, kp).map(|(info, _)| info)
    }

    /// The device it belongs to.
    pub fn credential(&self) -> &DeviceCredential {
        &self.credential
    }

    /// Whether it is the device's last-resort package (kept, not consumed, RFC 9420 §16.8).
    pub fn is_last_resort(&self) -> bool {
        self.last_resort
    }

    /// Its `KeyPackageRef` (RFC 9420 §5.2).
    pub fn reference(&self) -> &[u8] {
        &self.reference
    }
}

pub(crate) fn validate_key_package(
    provider: &Provider,
    kp: KeyPackageIn,
) -> Result<(KeyPackageInfo, openmls::prelude::KeyPackage)> {
    let kp = kp
        .validate(provider.crypto(), ProtocolVersion::Mls10)
        .map_err(|e| mls("validate key package", e))?;
    if kp.ciphersuite() != mls::CIPHERSUITE {
        return Err(Error::Rejected {
            what: "key package",
            reason: "not cai's cipher suite",
        });
    }
    let leaf = kp.leaf_node();
    let credential = credential::of_leaf(leaf.credential(), leaf.signature_key().as_slice())?;
    let reference = kp
        .hash_ref(provider.crypto())
        .map_err(|e| mls("key package reference", e))?
        .as_slice()
        .to_vec();
    Ok((
        KeyPackageInfo {
            credential,
            last_resort: kp.last_resort(),
            reference,
        },
        kp,
    ))
}

/// What a commit would do, checked but not yet applied.
pub struct CommitCheck {
    staged: StagedCommit,
    record: EpochRecord,
    committer: DeviceCredential,
    added: Vec<DeviceCredential>,
    removed: Vec<DeviceCredential>,
    members: Vec<DeviceCredential>,
}

impl core::fmt::Debug for CommitCheck {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CommitCheck")
            .field("epoch", &self.record.epoch())
            .field("committer", &self.committer)
            .field("added", &self.added)
            .field("removed", &self.removed)
            .finish_non_exhaustive()
    }
}

impl CommitCheck {
    /// The epoch the commit moves the group into.
    pub fn epoch(&self) -> u64 {
        self.record.epoch()
    }

    /// The committing device.
    pub fn committer(&self) -> &DeviceCredential {
        &self.committer
    }

    /// Devices the commit adds.
    pub fn added(&self) -> &[DeviceCredential] {
        &self.added
    }

    /// Devices the commit removes.
    pub fn removed(&self) -> &[DeviceCredential] {
        &self.removed
    }

    /// Every device of the new epoch, in credential byte order.
    pub fn members(&self) -> &[DeviceCredential] {
        &self.members
    }

    /// The new epoch's record, to store beside the commit.
    pub fn record(&self) -> &EpochRecord {
        &self.record
    }
}

/// The Delivery Service's view of one session's group.
pub struct DsGroup {
    provider: Provider,
    group: PublicGroup,
    last_record: [u8; DIGEST_LEN],
}

impl core::fmt::Debug for DsGroup {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DsGroup")
            .field("epoch", &self.epoch())
            .field("members", &self.group.members().count())
            .finish_non_exhaustive()
    }
}

impl DsGroup {
    /// Starts tracking a session's group from the creator's `GroupInfo` (with the
    /// ratchet tree extension) and the signed record of epoch 0. Checks: the group id is
    /// the session's, epoch 0, exactly one member, a valid end-to-end mode descriptor
    /// for this session whose creator is that member's account and user key, and a
    /// record of epoch 0 signed by that member.
    pub fn create(tenant: &[u8], session: &[u8], group_info: &[u8], record: &[u8]) -> Result<Self> {
        check_len("group info", group_info)?;
        let provider = Provider::default();
        let vgi = match MlsMessageIn::tls_deserialize_exact(group_info)
            .map_err(|e| mls("parse group info", e))?
            .extract()
        {
            MlsMessageBodyIn::GroupInfo(gi) => gi,
            _ => {
                return Err(Error::Rejected {
                    what: "group info",
                    reason: "not a group info message",
                });
            }
        };
        let expected = session_group_id(tenant, session)?;
        if vgi.group_id().as_slice() != expected.as_slice() {
            return Err(Error::Rejected {
                what: "group info",
                reason: "made for another session",
            });
        }
        let tree = vgi
            .extensions()
            .ratchet_tree()
            .ok_or(Error::Rejected {
                what: "group info",
                reason: "no ratchet tree extension",
            })?
            .ratchet_tree()
            .clone();
        let (group, _) = PublicGroup::from_external(
            provider.crypto(),
            provider.storage(),
            tree,
            vgi,
            ProposalStore::new(),
        )
        .map_err(|e| mls("track group", e))?;
        if group.ciphersuite() != mls::CIPHERSUITE {
            return Err(Error::Rejected {
                what: "group info",
                reason: "not cai's cipher suite",
            });
        }
        if group.group_context().epoch().as_u64() != 0 {
            return Err(Error::Rejected {
                what: "group info",
                reason: "not epoch 0",
            });
        }
        let members = credential::of_members(group.members())?;
        let [creator] = members.as_slice() else {
            return Err(Error::Rejected {
                what: "group info",
                reason: "a new group has exactly its creator's device",
            });
        };
        let descriptor = descriptor_of(&group)?;
        descriptor.check_session(tenant, session)?;
        if descriptor.mode() != SessionMode::EndToEnd {
            return Err(Error::Rejected {
                what: "mode descriptor",
                reason: "not an end-to-end session",
            });
        }
        if descriptor.creator() != creator.account()
            || descriptor.creator_key() != creator.user_key()
        {
            return Err(Error::Rejected {
                what: "mode descriptor",
                reason: "not signed by the creating device's user",
            });
        }
        let record = EpochRecord::parse(record)?;
        check_record(&record, &expected, 0, &[0; DIGEST_LEN], creator, &members)?;
        Ok(Self {
            provider,
            group,
            last_record: record.digest(),
        })
    }

    /// The current epoch.
    pub fn epoch(&self) -> u64 {
        self.group.group_context().epoch().as_u64()
    }

    /// The group id.
    pub fn group_id(&self) -> &[u8] {
        self.group.group_id().as_slice()
    }

    /// The current devices, in credential byte order.
    pub fn members(&self) -> Result<Vec<DeviceCredential>> {
        credential::of_members(self.group.members())
    }

    /// The session's signed mode descriptor.
    pub fn descriptor(&self) -> Result<ModeDescriptor> {
        descriptor_of(&self.group)
    }

    /// Checks a commit (a `PublicMessage`) for the current epoch and the record of the
    /// epoch it leads to. Nothing changes until [`apply`](Self::apply).
    pub fn check(&self, commit: &[u8], record: &[u8]) -> Result<CommitCheck> {
        check_len("commit", commit)?;
        let message =
            MlsMessageIn::tls_deserialize_exact(commit).map_err(|e| mls("parse commit", e))?;
        let protocol: ProtocolMessage = match message.extract() {
            MlsMessageBodyIn::PublicMessage(m) => m.into(),
            _ => {
                return Err(Error::Rejected {
                    what: "commit",
                    reason: "handshake messages must be public messages",
                });
            }
        };
        if protocol.group_id().as_slice() != self.group_id() {
            return Err(Error::Rejected {
                what: "commit",
                reason: "made for another group",
            });
        }
        if protocol.epoch().as_u64() != self.epoch() {
            return Err(Error::Rejected {
                what: "commit",
                reason: "not for the group's current epoch (another commit came first)",
            });
        }
        let processed = self
            .group
            .process_message(self.provider.crypto(), protocol)
            .map_err(|e| mls("check commit", e))?;
        let Sender::Member(sender) = *processed.sender() else {
            return Err(Error::Rejected {
                what: "commit",
                reason: "only members commit",
            });
        };
        let ProcessedMessageContent::StagedCommitMessage(staged) = processed.into_content() else {
            return Err(Error::Rejected {
                what: "commit",
                reason: "not a commit",
            });
        };
        let CommitChanges {
            committer,
            new_committer,
            added,
            removed,
            members,
        } = commit_changes(self.group.members(), sender, &staged)?;
        // Members refuse a group holding two identity keys for one user; so does the
        // server, before the commit can leave them behind.
        let mut keys = std::collections::BTreeMap::new();
        for m in &members {
            if *keys.entry(m.account()).or_insert(m.user_key()) != m.user_key() {
                return Err(Error::Rejected {
                    what: "commit",
                    reason: "two identity keys for one user",
                });
            }
        }
        let record = EpochRecord::parse(record)?;
        check_record(
            &record,
            self.group_id(),
            self.epoch() + 1,
            &self.last_record,
            &new_committer,
            &members,
        )?;
        Ok(CommitCheck {
            staged: *staged,
            record,
            committer,
            added,
            removed,
            members,
        })
    }

    /// Applies a checked commit: the group moves to the next epoch, and every other
    /// commit for the epoch it left will be refused.
    pub fn apply(&mut self, check: CommitCheck) -> Result<u64> {
        if check.record.epoch() != self.epoch() + 1 {
            return Err(Error::Rejected {
                what: "commit",
                reason: "checked against another epoch",
            });
        }
        self.group
            .merge_commit(self.provider.storage(), check.staged)
            .map_err(|e| mls("apply commit", e))?;
        self.last_record = check.record.digest();
        Ok(self.epoch())
    }

    /// The saved state: `preamble(0x07) ‖ len8 group id ‖ last record digest ‖ store`.
    /// Public data only.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let store: Zeroizing<Vec<u8>> = self.provider.save()?;
        let mut out = Vec::with_capacity(store.len() + 300);
        put_preamble(&mut out, KIND_DS_GROUP);
        put_var8(&mut out, self.group_id())?;
        out.extend_from_slice(&self.last_record);
        out.extend_from_slice(&store);
        mls::check_state_len("delivery service group", out.len())?;
        Ok(out)
    }

    /// Loads a saved group.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        const WHAT: &str = "delivery service group";
        mls::check_state_len(WHAT, bytes.len())?;
        let mut r = Reader::new(bytes, WHAT);
        read_preamble(&mut r, WHAT, KIND_DS_GROUP)?;
        let id = GroupId::from_slice(r.var8(255, "group id length")?);
        let last_record = r.array()?;
        let provider = Provider::load(&mut r)?;
        r.finish()?;
        let group = PublicGroup::load(provider.storage(), &id)
            .map_err(|e| mls("load group", e))?
            .ok_or(Error::Malformed {
                what: WHAT,
                reason: "holds no group",
            })?;
        Ok(Self {
            provider,
            group,
            last_record,
        })
    }
}

fn descriptor_of(group: &PublicGroup) -> Result<ModeDescriptor> {
    let ext = group
        .group_context()
        .extensions()
        .unknown(EXTENSION_MODE_DESCRIPTOR)
        .ok_or(Error::Rejected {
            what: "group",
            reason: "no mode descriptor extension",
        })?;
    ModeDescriptor::parse(&ext.0)
}

/// The checks on a record anyone can make without the group's secrets.
pub(crate) fn check_record(
    record: &EpochRecord,
    group_id: &[u8],
    epoch: u64,
    previous: &[u8; DIGEST_LEN],
    signer: &DeviceCredential,
    members: &[DeviceCredential],
) -> Result<()> {
    let reject = |reason| Error::Rejected {
        what: "epoch record",
        reason,
    };
    if record.group_id() != group_id {
        return Err(reject("made for another group"));
    }
    if record.epoch() != epoch {
        return Err(reject("describes another epoch"));
    }
    if record.previous() != previous {
        return Err(reject("does not chain to the previous record"));
    }
    if record.signer() != signer.signature_key() {
        return Err(reject("not signed by the committer"));
    }
    if record.facts().members != members_hash(members) {
        return Err(reject("names other members"));
    }
    record.verify()
}

/// What a commit does, by the rules the Delivery Service and every member apply alike.
pub(crate) struct CommitChanges {
    /// The committing device as it was.
    pub(crate) committer: DeviceCredential,
    /// The committing device in the new epoch (its path update may rotate its keys).
    pub(crate) new_committer: DeviceCredential,
    /// Devices added.
    pub(crate) added: Vec<DeviceCredential>,
    /// Devices removed.
    pub(crate) removed: Vec<DeviceCredential>,
    /// Every device of the new epoch, in credential byte order.
    pub(crate) members: Vec<DeviceCredential>,
}

/// Applies cai's rules to a staged commit of `sender` in a group whose members are
/// `current`: proposals only by value from the committer, only adds and removes; the
/// committer stays the same account, device and user identity key and does not remove
/// itself; no device added twice; at most [`MAX_GROUP_MEMBERS`] devices.
pub(crate) fn commit_changes(
    current: impl Iterator<Item = openmls::prelude::Member>,
    sender: LeafNodeIndex,
    staged: &StagedCommit,
) -> Result<CommitChanges> {
    let reject = |reason| Error::Rejected {
        what: "commit",
        reason,
    };
    let current = current
        .map(|m| {
            Ok((
                m.index,
                credential::of_leaf(&m.credential, &m.signature_key)?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let member = |index: LeafNodeIndex| {
        current
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, c)| c.clone())
            .ok_or(reject("names a leaf that is not a member"))
    };
    let committer = member(sender)?;
    let mut added = Vec::new();
    let mut removed = Vec::new();
    for q in staged.queued_proposals() {
        if !matches!(q.sender(), Sender::Member(s) if *s == sender) {
            return Err(reject("proposals by reference are not accepted"));
        }
        match q.proposal() {
            Proposal::Add(add) => {
                let leaf = add.key_package().leaf_node();
                added.push(credential::of_leaf(
                    leaf.credential(),
                    leaf.signature_key().as_slice(),
                )?);
            }
            Proposal::Remove(r) => removed.push(member(r.removed())?),
            _ => return Err(reject("only add and remove proposals are accepted")),
        }
    }
    // The committer may rotate its own keys (post-compromise security) but stays
    // the same account and device, of the same user.
    let mut new_committer = committer.clone();
    if let Some(leaf) = staged.update_path_leaf_node() {
        let c = credential::of_leaf(leaf.credential(), leaf.signature_key().as_slice())?;
        if c.account() != committer.account() || c.device() != committer.device() {
            return Err(reject("a committer cannot become another device"));
        }
        if c.user_key() != committer.user_key() {
            return Err(reject("a committer cannot change its user's identity key"));
        }
        new_committer = c;
    }
    if removed.contains(&committer) {
        return Err(reject("a device does not remove itself by commit"));
    }
    let mut members: Vec<DeviceCredential> = current
        .into_iter()
        .map(|(_, c)| c)
        .filter(|m| !removed.contains(m) && *m != committer)
        .collect();
    members.push(new_committer.clone());
    for a in &added {
        if members
            .iter()
            .any(|m| m.account() == a.account() && m.device() == a.device())
        {
            return Err(reject("adds a device that is already a member"));
        }
        members.push(a.clone());
    }
    if members.len() > MAX_GROUP_MEMBERS {
        return Err(Error::LimitExceeded {
            what: "members per group",
        });
    }
    credential::sort(&mut members);
    Ok(CommitChanges {
        committer,
        new_committer,
        added,
        removed,
        members,
    })
}
