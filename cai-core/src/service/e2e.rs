//! The Delivery Service of end-to-end sessions (R-E4): key packages, the MLS group's
//! epochs in order, and the rule that the group's members are the session's
//! participants. The server checks and orders; it never holds a key that opens
//! content (see `cai_crypto::e2e::ds` and `docs/E2E.md`).

use cai_crypto::e2e::{self, DsGroup, KeyPackageInfo};
use serde::{Deserialize, Serialize};

use super::sessions::crypto_id;
use super::{Caller, Counselling, Tx};
use crate::authz::Action;
use crate::domain::{
    AuditKind, AuditObject, BuiltinRole, Change, ParticipantRole, Session, SessionMode,
};
use crate::error::{Error, Result};
use crate::id::{SessionId, SubjectId, TenantId};
use crate::ports::{DynStore, E2eEpoch, Page, SessionEvent, StoredKeyPackage, Write};

/// Most key packages one call publishes.
pub const MAX_KEY_PACKAGES_PER_CALL: usize = 100;
/// Most one-time key packages stored per account or guest (all devices together).
pub const MAX_KEY_PACKAGES_PER_OWNER: usize = 500;
/// Largest key package accepted, in bytes.
pub const MAX_KEY_PACKAGE_LEN: usize = 16 * 1024;
/// Largest commit, welcome or group info accepted, in bytes (as `cai_crypto`).
pub const MAX_HANDSHAKE_LEN: usize = e2e::MAX_MLS_MESSAGE_LEN;
/// Most epochs one [`Counselling::e2e_epochs`] call returns.
pub const MAX_EPOCHS_PER_READ: u32 = 100;

/// A commit as a device sends it to the Delivery Service. JSON:
/// `{"commit":"<base64>","record":"<base64>","welcome":"<base64>"|null}`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct E2eCommit {
    /// The MLS commit (a `PublicMessage`).
    #[serde(with = "crate::json::base64")]
    pub commit: Vec<u8>,
    /// The signed record of the epoch it leads to.
    #[serde(with = "crate::json::base64")]
    pub record: Vec<u8>,
    /// The welcome for the devices it adds, if any.
    #[serde(default, with = "crate::json::base64_opt")]
    pub welcome: Option<Vec<u8>>,
}

impl From<e2e::Handshake> for E2eCommit {
    fn from(h: e2e::Handshake) -> Self {
        Self {
            commit: h.commit,
            record: h.record,
            welcome: h.welcome,
        }
    }
}

impl core::fmt::Debug for E2eCommit {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("E2eCommit")
            .field("commit", &self.commit.len())
            .field("welcome", &self.welcome.as_ref().map(Vec::len))
            .finish_non_exhaustive()
    }
}

/// An accepted epoch as members read it. JSON: `{"epoch":3,"commit":"<base64>",
/// "record":"<base64>","welcome":"<base64>"|null,"committed_by":"acc_…","at":…}`
/// (`commit` is empty for epoch 0, the group's creation).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct E2eEpochView {
    /// The epoch.
    pub epoch: u32,
    /// The commit that led into it.
    #[serde(with = "crate::json::base64")]
    pub commit: Vec<u8>,
    /// Its signed record.
    #[serde(with = "crate::json::base64")]
    pub record: Vec<u8>,
    /// The welcome for the devices the commit added.
    #[serde(default, with = "crate::json::base64_opt")]
    pub welcome: Option<Vec<u8>>,
    /// Who committed.
    pub committed_by: SubjectId,
    /// When.
    pub at: crate::Timestamp,
}

/// A commit and the epoch it is made on.
pub(crate) struct CommitOn {
    pub(crate) commit: E2eCommit,
    /// `None`: the group's newest epoch.
    pub(crate) base: Option<E2eEpoch>,
}

impl CommitOn {
    /// A commit on the group's newest epoch.
    pub(crate) fn newest(commit: E2eCommit) -> Self {
        Self { commit, base: None }
    }
}

impl From<E2eEpoch> for E2eEpochView {
    fn from(e: E2eEpoch) -> Self {
        Self {
            epoch: e.epoch,
            commit: e.commit,
            record: e.record,
            welcome: e.welcome,
            committed_by: e.committed_by,
            at: e.at,
        }
    }
}

/// The account reference of a subject in credentials: its text form (`acc_…`/`gst_…`).
pub(crate) fn subject_ref(s: SubjectId) -> String {
    s.to_string()
}

fn subject_of(c: &e2e::DeviceCredential) -> Result<SubjectId> {
    core::str::from_utf8(c.account().as_bytes())
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or(Error::Invalid {
            what: "device credential",
            reason: "names no account or guest of this platform",
        })
}

fn group_id_of(s: &Session) -> Result<Vec<u8>> {
    Ok(e2e::group_id(
        crypto_id(&s.tenant).as_bytes(),
        crypto_id(&s.id).as_bytes(),
    )?)
}

fn too_large(what: &'static str, limit: usize) -> Error {
    Error::TooLarge { what, limit }
}

impl Counselling {
    /// Publishes key packages of the caller's devices (R-E4): one-time packages, and
    /// per device at most one last-resort package (a new one replaces the old). Each
    /// must be a valid RFC 9420 key package of cai's suite whose credential names the
    /// caller. At most [`MAX_KEY_PACKAGES_PER_CALL`] per call, [`MAX_KEY_PACKAGE_LEN`]
    /// bytes each (413), [`MAX_KEY_PACKAGES_PER_OWNER`] stored one-time packages
    /// (else `conflict`). Returns how many are stored now.
    pub async fn publish_key_packages(
        &self,
        caller: &Caller,
        tenant: TenantId,
        packages: Vec<Vec<u8>>,
    ) -> Result<usize> {
        self.observe(
            "publish_key_packages",
            Some(tenant),
            Some(caller),
            async move {
                let (store, _, _) = self.principal(caller, tenant, Action::ViewSession).await?;
                if packages.is_empty() || packages.len() > MAX_KEY_PACKAGES_PER_CALL {
                    return Err(Error::Invalid {
                        what: "key packages",
                        reason: "1 to 100 per call",
                    });
                }
                let me = subject_ref(caller.subject);
                let stored = store.key_packages(tenant, caller.subject).await?;
                let mut tx = self.tx_of(caller, tenant);
                let mut one_time = stored.iter().filter(|k| !k.last_resort).count();
                for bytes in packages {
                    if bytes.len() > MAX_KEY_PACKAGE_LEN {
                        return Err(too_large("key package", MAX_KEY_PACKAGE_LEN));
                    }
                    let info = KeyPackageInfo::parse(&bytes)?;
                    if info.credential().account().as_bytes() != me.as_bytes() {
                        return Err(Error::Invalid {
                            what: "key package",
                            reason: "its credential names another account",
                        });
                    }
                    if !info.is_last_resort() {
                        one_time += 1;
                        if one_time > MAX_KEY_PACKAGES_PER_OWNER {
                            return Err(Error::Conflict {
                                what: "key packages",
                                reason: "too many unused one-time key packages",
                            });
                        }
                    }
                    tx.write(Write::PutKeyPackage(StoredKeyPackage {
                        tenant,
                        owner: caller.subject,
                        device: info.credential().device().as_bytes().to_vec(),
                        reference: info.reference().to_vec(),
                        last_resort: info.is_last_resort(),
                        package: bytes,
                        published_at: tx.now,
                    }));
                }
                self.commit(&store, tx).await?;
                Ok(store.key_packages(tenant, caller.subject).await?.len())
            },
        )
        .await
    }

    /// One key package per device of `subject`, to add those devices to the session's
    /// group: the oldest one-time package of each device (consumed), else its
    /// last-resort package (kept, so claims never run a device dry). Empty when the
    /// subject published none. Allowed for one's own devices (`ViewSession`), else to
    /// whoever may invite participants to the session (`InviteParticipants`), and only
    /// for a participant of the session or an account holding the Counsellor role
    /// (else `invalid_input`). Whether the devices may join is decided when the commit
    /// adding them arrives.
    pub async fn claim_key_packages(
        &self,
        caller: &Caller,
        tenant: TenantId,
        session: SessionId,
        subject: SubjectId,
    ) -> Result<Vec<Vec<u8>>> {
        self.observe(
            "claim_key_packages",
            Some(tenant),
            Some(caller),
            async move {
                let action = if subject == caller.subject {
                    Action::ViewSession
                } else {
                    Action::InviteParticipants
                };
                let (store, _, s, parts, _) =
                    self.session_action(caller, tenant, session, action).await?;
                require_e2e(&s)?;
                // Only devices that could join this session: one's own, a participant's,
                // or a counsellor's of the tenant (whom `add_counsellor` may bring in).
                let may_join = subject == caller.subject
                    || parts.iter().any(|(p, _)| *p == subject)
                    || match subject {
                        SubjectId::Account(a) => store
                            .account(tenant, a)
                            .await?
                            .is_some_and(|a| a.has_role(BuiltinRole::Counsellor.id())),
                        SubjectId::Guest(_) => false,
                    };
                if !may_join {
                    return Err(Error::Invalid {
                        what: "key packages",
                        reason: "neither a participant of the session nor a counsellor who could be added",
                    });
                }
                let mut packages = store.key_packages(tenant, subject).await?;
                packages.sort_by_key(|k| k.published_at);
                let mut chosen: Vec<StoredKeyPackage> = Vec::new();
                for k in &packages {
                    match chosen.iter_mut().find(|c| c.device == k.device) {
                        None => chosen.push(k.clone()),
                        // A one-time package is preferred to the last-resort one.
                        Some(c) if c.last_resort && !k.last_resort => *c = k.clone(),
                        Some(_) => {}
                    }
                }
                let mut tx = self.tx_of(caller, tenant);
                for c in chosen.iter().filter(|c| !c.last_resort) {
                    tx.write(Write::TakeKeyPackage {
                        owner: subject,
                        reference: c.reference.clone(),
                    });
                }
                self.commit(&store, tx).await?;
                Ok(chosen.into_iter().map(|c| c.package).collect())
            },
        )
        .await
    }

    /// Starts the MLS group of an end-to-end session: the creator's device sends the
    /// group's `GroupInfo` (with its ratchet tree) and the record of epoch 0. The
    /// group's signed mode descriptor must name this session, end-to-end mode and the
    /// caller, who must be the session's owner. Once only (`conflict`).
    pub async fn start_e2e_group(
        &self,
        caller: &Caller,
        tenant: TenantId,
        session: SessionId,
        group_info: Vec<u8>,
        record: Vec<u8>,
    ) -> Result<u32> {
        self.observe("start_e2e_group", Some(tenant), Some(caller), async move {
            let (store, _, mut s, _, decision) = self
                .session_action(caller, tenant, session, Action::InviteParticipants)
                .await?;
            require_e2e(&s)?;
            if caller.subject != SubjectId::Account(s.owner) {
                return Err(Error::Invalid {
                    what: "end-to-end group",
                    reason: "only the session's owner starts its group",
                });
            }
            if group_info.len() > MAX_HANDSHAKE_LEN {
                return Err(too_large("group info", MAX_HANDSHAKE_LEN));
            }
            if store.e2e_latest(tenant, session).await?.is_some() {
                return Err(Error::Conflict {
                    what: "end-to-end group",
                    reason: "already started",
                });
            }
            let ds = DsGroup::create(
                crypto_id(&tenant).as_bytes(),
                crypto_id(&session).as_bytes(),
                &group_info,
                &record,
            )?;
            if ds.descriptor()?.creator().as_bytes() != subject_ref(caller.subject).as_bytes() {
                return Err(Error::Invalid {
                    what: "end-to-end group",
                    reason: "its mode descriptor names another creator than the caller",
                });
            }
            let mut tx = self.tx_of(caller, tenant);
            tx.write(Write::InsertE2eEpoch(E2eEpoch {
                tenant,
                session,
                epoch: 0,
                commit: Vec::new(),
                record,
                welcome: None,
                group: ds.to_bytes()?,
                committed_by: caller.subject,
                at: tx.now,
            }));
            s.key_epoch = 0;
            tx.write(Write::UpdateSession(s.clone()));
            tx.publish(session, SessionEvent::KeysChanged { epoch: 0 });
            tx.audit(
                &store,
                AuditKind::SessionKeysChanged,
                AuditObject::Session(session),
                vec![Change::new("key_epoch", None::<u32>, Some(0u32))],
                Some(&decision),
                false,
            )
            .await?;
            self.commit(&store, tx).await?;
            Ok(0)
        })
        .await
    }

    /// Stores a commit that changes no participant: a device's key update
    /// (post-compromise security), adding or removing one's own devices, adding the
    /// devices of participants (needs `InviteParticipants`), removing devices of
    /// someone who no longer takes part, or removing a participant's device (needs
    /// `ManageParticipants`). The first valid commit of an epoch wins; a commit for an
    /// older epoch is `conflict` (the device processes the winner and tries again).
    /// Returns the new epoch.
    pub async fn post_e2e_commit(
        &self,
        caller: &Caller,
        tenant: TenantId,
        session: SessionId,
        commit: E2eCommit,
    ) -> Result<u32> {
        self.observe("post_e2e_commit", Some(tenant), Some(caller), async move {
            let (store, _, mut s, parts, decision) = self
                .session_action(caller, tenant, session, Action::ViewSession)
                .await?;
            let mut tx = self.tx_of(caller, tenant);
            let epoch = self
                .apply_e2e_commit(
                    &store,
                    &mut tx,
                    &mut s,
                    &parts,
                    CommitOn::newest(commit),
                    caller,
                )
                .await?;
            tx.audit(
                &store,
                AuditKind::SessionKeysChanged,
                AuditObject::Session(session),
                vec![Change::new("key_epoch", None::<u32>, Some(epoch))],
                Some(&decision),
                false,
            )
            .await?;
            self.commit(&store, tx).await?;
            Ok(epoch)
        })
        .await
    }

    /// Withdraws the group's newest epoch and puts the owner's `replacement` commit in
    /// its place: how a session recovers when a member (or a thief of a member
    /// device's key) posted a commit the Delivery Service accepted but the members'
    /// devices refuse (`docs/E2E.md` §6.1) — the server cannot check what only members
    /// can, so without a veto every later commit would conflict. The replacement is a
    /// commit by the owner's device for the epoch *before* the vetoed one, typically
    /// removing the offending device, and goes through every check of
    /// [`post_e2e_commit`](Self::post_e2e_commit) against that epoch's group state.
    /// Atomic: if another commit or veto got there first, `conflict` and nothing
    /// changes.
    ///
    /// Checks, in this order: the caller may view the session (else `not_found`); the
    /// session is end-to-end (`wrong_mode`); only its owner vetoes (`invalid`);
    /// `vetoed_epoch` is the group's newest (`conflict`) and not its first, which the
    /// owner made (`invalid`); the replacement is not the vetoed commit itself
    /// (`invalid`); then the replacement as a commit. Members that had
    /// processed the vetoed commit are on another branch from then on and see the
    /// replacement refused (a fork they detect); the owner vouches for the veto.
    /// Audited as `session_keys_changed` (`vetoed_epoch`, `key_epoch`), notified to
    /// the tenant's administrators as security relevant.
    pub async fn veto_e2e_commit(
        &self,
        caller: &Caller,
        tenant: TenantId,
        session: SessionId,
        vetoed_epoch: u32,
        replacement: E2eCommit,
    ) -> Result<u32> {
        self.observe("veto_e2e_commit", Some(tenant), Some(caller), async move {
            let (store, _, mut s, parts, decision) = self
                .session_action(caller, tenant, session, Action::ViewSession)
                .await?;
            require_e2e(&s)?;
            if caller.subject != SubjectId::Account(s.owner) {
                return Err(Error::Invalid {
                    what: "end-to-end veto",
                    reason: "only the session's owner vetoes a commit",
                });
            }
            let vetoed = store
                .e2e_latest(tenant, session)
                .await?
                .filter(|e| e.epoch == vetoed_epoch)
                .ok_or(Error::Conflict {
                    what: "end-to-end veto",
                    reason: "only the group's newest epoch can be vetoed",
                })?;
            let base_epoch = vetoed_epoch.checked_sub(1).ok_or(Error::Invalid {
                what: "end-to-end veto",
                reason: "the group's first epoch is its creation by the owner",
            })?;
            if replacement.commit == vetoed.commit {
                return Err(Error::Invalid {
                    what: "end-to-end veto",
                    reason: "the replacement is the vetoed commit",
                });
            }
            let base = store
                .e2e_epochs(tenant, session, base_epoch.checked_sub(1), 1)
                .await?
                .into_iter()
                .find(|e| e.epoch == base_epoch)
                .ok_or(Error::Store(crate::ports::StoreError::Corrupt {
                    what: "end-to-end epochs",
                }))?;
            let mut tx = self.tx_of(caller, tenant);
            tx.write(Write::VetoE2eEpoch {
                tenant,
                session,
                epoch: vetoed_epoch,
                commit: vetoed.commit,
            });
            let epoch = self
                .apply_e2e_commit(
                    &store,
                    &mut tx,
                    &mut s,
                    &parts,
                    CommitOn {
                        commit: replacement,
                        base: Some(base),
                    },
                    caller,
                )
                .await?;
            tx.audit(
                &store,
                AuditKind::SessionKeysChanged,
                AuditObject::Session(session),
                vec![
                    Change::new("vetoed_epoch", None::<u32>, Some(vetoed_epoch)),
                    Change::new("key_epoch", Some(vetoed_epoch), Some(epoch)),
                ],
                Some(&decision),
                true,
            )
            .await?;
            self.commit(&store, tx).await?;
            Ok(epoch)
        })
        .await
    }

    /// The accepted epochs of a session's group after `after` (all when `None`),
    /// oldest first, at most `limit` (≤ [`MAX_EPOCHS_PER_READ`]): what a device
    /// processes to catch up, and the records a history grant is checked against.
    /// Needs `ViewSession` and a relation to the session.
    pub async fn e2e_epochs(
        &self,
        caller: &Caller,
        tenant: TenantId,
        session: SessionId,
        after: Option<u32>,
        limit: u32,
    ) -> Result<Vec<E2eEpochView>> {
        self.observe("e2e_epochs", Some(tenant), Some(caller), async move {
            let (store, _, s, _, _) = self
                .session_action(caller, tenant, session, Action::ViewSession)
                .await?;
            require_e2e(&s)?;
            let limit = limit.clamp(1, MAX_EPOCHS_PER_READ);
            Ok(store
                .e2e_epochs(tenant, session, after, limit)
                .await?
                .into_iter()
                .map(E2eEpochView::from)
                .collect())
        })
        .await
    }

    /// Checks `commit` against the group and against the session's participants
    /// **after** the operation (`parts`), and adds the new epoch to `tx`.
    ///
    /// The rules, in order: the session is end-to-end and open and its group started;
    /// sizes; the commit is valid for the current epoch (`cai_crypto::e2e::DsGroup::check`); the
    /// committing device is the caller's; every device of the new epoch belongs to a
    /// participant who is not waiting in a lobby; adding another subject's devices
    /// needs `InviteParticipants`; removing devices of another subject who still takes
    /// part needs `ManageParticipants`.
    pub(crate) async fn apply_e2e_commit(
        &self,
        store: &DynStore,
        tx: &mut Tx,
        s: &mut Session,
        parts: &[(SubjectId, ParticipantRole)],
        on: CommitOn,
        caller: &Caller,
    ) -> Result<u32> {
        let CommitOn { commit, base } = on;
        require_e2e(s)?;
        if !s.is_open() {
            return Err(Error::SessionClosed);
        }
        for (what, b) in [("commit", &commit.commit), ("epoch record", &commit.record)] {
            if b.len() > MAX_HANDSHAKE_LEN {
                return Err(too_large(what, MAX_HANDSHAKE_LEN));
            }
        }
        if commit
            .welcome
            .as_ref()
            .is_some_and(|w| w.len() > MAX_HANDSHAKE_LEN)
        {
            return Err(too_large("welcome", MAX_HANDSHAKE_LEN));
        }
        let latest = match base {
            Some(base) => base,
            None => store
                .e2e_latest(s.tenant, s.id)
                .await?
                .ok_or(Error::Conflict {
                    what: "end-to-end group",
                    reason: "not started yet",
                })?,
        };
        let mut ds = DsGroup::from_bytes(&latest.group).map_err(|_| {
            Error::Store(crate::ports::StoreError::Corrupt {
                what: "end-to-end group state",
            })
        })?;
        let check = ds
            .check(&commit.commit, &commit.record)
            .map_err(|e| match e {
                cai_crypto::Error::Rejected { reason, .. }
                    if reason.starts_with("not for the group's current epoch") =>
                {
                    Error::Conflict {
                        what: "end-to-end commit",
                        reason: "not for the group's current epoch: process the newer epochs first",
                    }
                }
                other => Error::Crypto(other),
            })?;
        // A commit that adds devices must bring their welcome, and only then: devices
        // added without one could never join, and a welcome without adds is junk.
        if check.added().is_empty() != commit.welcome.is_none() {
            return Err(Error::Invalid {
                what: "end-to-end commit",
                reason: "a welcome comes with a commit that adds devices, and only then",
            });
        }
        if subject_of(check.committer())? != caller.subject {
            return Err(Error::Invalid {
                what: "end-to-end commit",
                reason: "made by another subject's device",
            });
        }
        let active = |who: SubjectId| {
            parts
                .iter()
                .any(|(p, role)| *p == who && *role != ParticipantRole::Waiting)
        };
        for m in check.members() {
            if !active(subject_of(m)?) {
                return Err(Error::Invalid {
                    what: "end-to-end commit",
                    reason: "the group would hold a device of someone who does not take part",
                });
            }
        }
        let mut adds_others = false;
        for a in check.added() {
            adds_others |= subject_of(a)? != caller.subject;
        }
        let mut removes_participants = false;
        for r in check.removed() {
            let who = subject_of(r)?;
            removes_participants |= who != caller.subject && active(who);
        }
        if adds_others || removes_participants {
            // Through the usual check: denials are counted and explained like any other.
            let principal = self
                .principal(caller, s.tenant, Action::ViewSession)
                .await?
                .1;
            let view = Self::view(s, parts, None);
            if adds_others {
                self.check_session(&principal, Action::InviteParticipants, view)
                    .await?;
            }
            if removes_participants {
                self.check_session(&principal, Action::ManageParticipants, view)
                    .await?;
            }
        }
        let epoch = u32::try_from(check.epoch()).map_err(|_| Error::Invalid {
            what: "end-to-end commit",
            reason: "too many epochs",
        })?;
        ds.apply(check)?;
        tx.write(Write::InsertE2eEpoch(E2eEpoch {
            tenant: s.tenant,
            session: s.id,
            epoch,
            commit: commit.commit,
            record: commit.record,
            welcome: commit.welcome,
            group: ds.to_bytes()?,
            committed_by: caller.subject,
            at: tx.now,
        }));
        s.key_epoch = epoch;
        tx.write(Write::UpdateSession(s.clone()));
        tx.publish(s.id, SessionEvent::KeysChanged { epoch });
        Ok(epoch)
    }

    /// Whether the devices of `subject` are in the session's group now.
    pub(crate) async fn e2e_has_devices_of(
        &self,
        store: &DynStore,
        s: &Session,
        subject: SubjectId,
    ) -> Result<bool> {
        let Some(latest) = store.e2e_latest(s.tenant, s.id).await? else {
            return Ok(false);
        };
        let ds = DsGroup::from_bytes(&latest.group).map_err(|_| {
            Error::Store(crate::ports::StoreError::Corrupt {
                what: "end-to-end group state",
            })
        })?;
        let me = subject_ref(subject);
        Ok(ds
            .members()?
            .iter()
            .any(|m| m.account().as_bytes() == me.as_bytes()))
    }

    /// Whether `subject` has devices in the group of an open end-to-end session it
    /// takes part in: such a subject is not deleted until its devices are removed by a
    /// commit (a cascade cannot make one).
    pub(crate) async fn e2e_devices_anywhere(
        &self,
        store: &DynStore,
        tenant: TenantId,
        subject: SubjectId,
    ) -> Result<bool> {
        let mut page = Page::first(Page::<SessionId>::MAX_LIMIT);
        loop {
            let ids = store.sessions_of(tenant, subject, page).await?;
            for id in &ids {
                if let Some(s) = store.session(tenant, *id).await?
                    && s.mode == SessionMode::EndToEnd
                    && s.is_open()
                    && self.e2e_has_devices_of(store, &s, subject).await?
                {
                    return Ok(true);
                }
            }
            match ids.last() {
                Some(last) if ids.len() == Page::<SessionId>::MAX_LIMIT as usize => {
                    page = page.after(*last);
                }
                _ => return Ok(false),
            }
        }
    }

    /// A history grant must be made for this session's group.
    pub(crate) fn check_grant_group(s: &Session, grant: &[u8]) -> Result<()> {
        if e2e::grant_group_id(grant)? != group_id_of(s)? {
            return Err(Error::Invalid {
                what: "history grant",
                reason: "made for another session",
            });
        }
        Ok(())
    }
}

fn require_e2e(s: &Session) -> Result<()> {
    if s.mode != SessionMode::EndToEnd {
        return Err(Error::WrongMode {
            mode: s.mode,
            reason: "only end-to-end sessions have an MLS group",
        });
    }
    Ok(())
}
