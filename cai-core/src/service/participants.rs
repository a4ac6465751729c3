//! Participants after admission: adding counsellors, removing participants (with the
//! key epoch that follows), and sharing end-to-end history (R-E4b).

use cai_crypto::modes::SessionMode;

use super::e2e::E2eCommit;
use super::{Caller, Counselling};
use crate::authz::Action;
use crate::domain::{
    AuditKind, AuditObject, BuiltinRole, Change, Participant, ParticipantRole, Session,
};
use crate::error::{Error, Result};
use crate::id::{AccountId, SessionId, SubjectId, TenantId};
use crate::ports::{DynStore, HistoryGrant, SessionEvent, Write};

impl Counselling {
    /// Adds an account of the tenant to the session as a counsellor (team counselling,
    /// handover). Needs `InviteParticipants`; the account must hold the built-in
    /// Counsellor role (else `invalid_input`); someone already taking part as host or
    /// counsellor is left as is, as client, guest or waiting is a `conflict`. For
    /// end-to-end sessions the adding device may pass the commit that adds the new
    /// counsellor's devices (`next_epoch`, checked as in
    /// [`Counselling::post_e2e_commit`]), and may share history with
    /// [`Counselling::share_history`].
    pub async fn add_counsellor(
        &self,
        caller: &Caller,
        tenant: TenantId,
        session: SessionId,
        account: AccountId,
        next_epoch: Option<E2eCommit>,
    ) -> Result<()> {
        self.observe("add_counsellor", Some(tenant), Some(caller), async move {
            let (store, _, mut s, parts, decision) = self
                .session_action(caller, tenant, session, Action::InviteParticipants)
                .await?;
            let a = store
                .account(tenant, account)
                .await?
                .ok_or(Error::NotFound { what: "account" })?;
            if !a.has_role(BuiltinRole::Counsellor.id()) {
                return Err(Error::Invalid {
                    what: "participant",
                    reason: "only counsellors are added as counsellors",
                });
            }
            // Already there: as host or counsellor nothing changes; a client or guest is
            // not turned into a counsellor of their own case.
            match parts
                .iter()
                .find(|(who, _)| *who == SubjectId::Account(account))
            {
                Some((_, ParticipantRole::Host | ParticipantRole::Counsellor)) => return Ok(()),
                Some(_) => {
                    return Err(Error::Conflict {
                        what: "participant",
                        reason: "takes part in the session as a client or guest, or waits in its lobby",
                    });
                }
                None => {}
            }
            let mut tx = self.tx_of(caller, tenant);
            tx.write(Write::PutParticipant(Participant {
                session,
                tenant,
                subject: SubjectId::Account(account),
                role: ParticipantRole::Counsellor,
                joined_at: tx.now,
            }));
            let mut after = parts.clone();
            after.push((SubjectId::Account(account), ParticipantRole::Counsellor));
            self.epoch_for_change(&store, &mut tx, &mut s, &after, next_epoch, caller, None)
                .await?;
            tx.audit(
                &store,
                AuditKind::ParticipantJoined,
                AuditObject::Session(session),
                vec![Change::new(
                    "participants",
                    None::<String>,
                    Some(format!("+{account} (counsellor)")),
                )],
                Some(&decision),
                false,
            )
            .await?;
            tx.publish(
                session,
                SessionEvent::ParticipantJoined(SubjectId::Account(account)),
            );
            self.commit(&store, tx).await
        })
        .await
    }

    /// End-to-end sessions change their group with their participants: a commit given
    /// with a participant change is checked against the participants after the change
    /// (`parts_after`, see [`Counselling::apply_e2e_commit`]); removing someone whose
    /// devices are in the group needs the commit that removes them. Adding someone
    /// needs none (their devices may have no key packages yet; any member with
    /// `InviteParticipants` adds them later). Other modes must not pass a commit.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn epoch_for_change(
        &self,
        store: &DynStore,
        tx: &mut super::Tx,
        s: &mut Session,
        parts_after: &[(SubjectId, ParticipantRole)],
        next_epoch: Option<E2eCommit>,
        caller: &Caller,
        leaving: Option<SubjectId>,
    ) -> Result<()> {
        match (s.mode, next_epoch) {
            (SessionMode::EndToEnd, Some(commit)) => {
                self.apply_e2e_commit(
                    store,
                    tx,
                    s,
                    parts_after,
                    super::e2e::CommitOn::newest(commit),
                    caller,
                )
                .await?;
                Ok(())
            }
            (SessionMode::EndToEnd, None) => match leaving {
                Some(who) if self.e2e_has_devices_of(store, s, who).await? => {
                    Err(Error::WrongMode {
                        mode: s.mode,
                        reason: "removing a participant whose devices are in the group needs the commit that removes them",
                    })
                }
                Some(_) => {
                    // The session's revision moves on, so a commit adding the leaver's
                    // devices that was checked against the old participants conflicts.
                    tx.write(Write::UpdateSession(s.clone()));
                    Ok(())
                }
                None => Ok(()),
            },
            (_, None) => Ok(()),
            (mode, Some(_)) => Err(Error::WrongMode {
                mode,
                reason: "only end-to-end sessions have an MLS group",
            }),
        }
    }

    /// Removes a participant (the host cannot be removed). Needs `ManageParticipants`
    /// (the host). The session moves to its next key epoch, made without the removed
    /// participant — except for someone waiting in a room's lobby, who never held keys:
    ///
    /// * end-to-end sessions need the commit that removes the participant's devices
    ///   (`next_epoch`, checked as in [`Counselling::post_e2e_commit`]);
    /// * server-managed and session-key sessions get a fresh data key in the same
    ///   commit ([`Session::key_epoch`] + 1; audited as `session_keys_changed`, published
    ///   as `KeysChanged` after `ParticipantRemoved`); clients fetch it with
    ///   [`Counselling::session_keys`] and keep reading older content with
    ///   [`Counselling::session_keys_at`];
    /// * passphrase sessions stay in their epoch: the key comes from the passphrase,
    ///   which the removed participant knows (docs/KEYS.md §7).
    ///
    /// An account that leaves a group the session is shared with, or is deleted, moves
    /// the sessions it reached as well (`set_group_members`, `delete_account`).
    ///
    /// `next_epoch` outside end-to-end mode, or for someone waiting, is `wrong_mode`.
    pub async fn remove_participant(
        &self,
        caller: &Caller,
        tenant: TenantId,
        session: SessionId,
        subject: SubjectId,
        next_epoch: Option<E2eCommit>,
    ) -> Result<()> {
        self.observe(
            "remove_participant",
            Some(tenant),
            Some(caller),
            async move {
                let (store, _, mut s, parts, decision) = self
                    .session_action(caller, tenant, session, Action::ManageParticipants)
                    .await?;
                if subject == SubjectId::Account(s.owner) {
                    return Err(Error::Invalid {
                        what: "participant",
                        reason: "the host cannot be removed",
                    });
                }
                let Some((_, part)) = parts.iter().find(|(who, _)| *who == subject) else {
                    return Err(Error::NotFound {
                        what: "participant",
                    });
                };
                let mut tx = self.tx_of(caller, tenant);
                tx.write(Write::RemoveParticipant { session, subject });
                if *part == ParticipantRole::Waiting {
                    // Turning someone away from a room's lobby: they never held keys.
                    if next_epoch.is_some() {
                        return Err(Error::WrongMode {
                            mode: s.mode,
                            reason: "someone waiting in the lobby held no keys: no commit",
                        });
                    }
                } else {
                    let after: Vec<_> = parts
                        .iter()
                        .filter(|(p, _)| *p != subject)
                        .copied()
                        .collect();
                    self.epoch_for_change(
                        &store,
                        &mut tx,
                        &mut s,
                        &after,
                        next_epoch,
                        caller,
                        Some(subject),
                    )
                    .await?;
                }
                tx.audit(
                    &store,
                    AuditKind::ParticipantRemoved,
                    AuditObject::Session(session),
                    vec![Change::new(
                        "participants",
                        Some(format!("-{subject}")),
                        None::<String>,
                    )],
                    Some(&decision),
                    false,
                )
                .await?;
                tx.publish(session, SessionEvent::ParticipantRemoved(subject));
                // After the removal's notice, so the hub has ended the removed
                // participant's calls before the others hear of the new epoch.
                if *part != ParticipantRole::Waiting
                    && matches!(s.mode, SessionMode::ServerManaged | SessionMode::SessionKey)
                {
                    self.next_key_epoch(&store, &mut tx, &mut s, &decision)
                        .await?;
                }
                self.commit(&store, tx).await
            },
        )
        .await
    }

    /// Gives a counsellor of the session the keys of its earlier epochs (R-E4b): a
    /// history grant (`cai_crypto::e2e::Device::grant_history`) made on a participant's device and sealed to
    /// the recipient's devices. Allowed only when the tenant allows history sharing,
    /// for end-to-end sessions, to the host or a counsellor of the session (else
    /// `invalid_input`); a grant is at most 1 MiB (413). Needs `ShareHistory`.
    pub async fn share_history(
        &self,
        caller: &Caller,
        tenant: TenantId,
        session: SessionId,
        recipient: AccountId,
        grant: Vec<u8>,
    ) -> Result<()> {
        self.observe("share_history", Some(tenant), Some(caller), async move {
        let (store, t, s, parts, decision) = self
            .session_action(caller, tenant, session, Action::ShareHistory)
            .await?;
        if !t.settings.allow_history_sharing {
            return Err(Error::HistorySharingNotAllowed);
        }
        if s.mode != SessionMode::EndToEnd {
            return Err(Error::WrongMode {
                mode: s.mode,
                reason: "history keys are shared only in end-to-end sessions; others read through their custody",
            });
        }
        let granter = caller.subject.account().ok_or(Error::NotAccepted)?;
        if !parts.iter().any(|(who, part)| {
            *who == SubjectId::Account(recipient)
                && matches!(part, ParticipantRole::Counsellor | ParticipantRole::Host)
        }) {
            return Err(Error::Invalid {
                what: "history recipient",
                reason: "not a counsellor of the session",
            });
        }
        if grant.len() > 1 << 20 {
            return Err(Error::TooLarge {
                what: "history grant",
                limit: 1 << 20,
            });
        }
        Self::check_grant_group(&s, &grant)?;
        let mut tx = self.tx_of(caller, tenant);
        tx.write(Write::PutHistoryGrant(HistoryGrant {
            tenant,
            session,
            recipient,
            granted_by: granter,
            at: tx.now,
            grant,
        }));
        tx.audit(
            &store,
            AuditKind::HistoryShared,
            AuditObject::Session(session),
            vec![Change::new(
                "history_shared_with",
                None::<String>,
                Some(recipient),
            )],
            Some(&decision),
            true,
        )
        .await?;
        self.commit(&store, tx).await
    })
        .await
    }
}
