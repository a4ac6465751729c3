//! Invitations (R-S1), guest links and guest admission (R-S2), accepting an invitation
//! and joining a session.

use std::time::Duration;

use super::accounts::NewAccount;
use super::paging::{PageRequest, Paged};
use super::sessions::SessionDetails;

use super::{Caller, Counselling};
use crate::authz::{Action, Authentication, Resource, authorize};
use crate::domain::{
    Account, AccountStatus, AuditActor, AuditKind, AuditObject, BuiltinRole, Change, Email, Guest,
    Invitation, InvitationKind, InvitationSecret, InvitationStatus, Participant, ParticipantRole,
    Pseudonym, Session, SessionKind,
};
use crate::error::{Error, Result};
use crate::id::{AccountId, GuestId, InvitationId, SessionId, SubjectId, TenantId};
use crate::ports::{DynStore, InvitationFilter, Mail, SessionEvent, Write};

/// Whom to invite. JSON: `{"type":"contact","email":"…"}` or
/// `{"type":"guest_link","max_uses":5}`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(from = "crate::json::InviteToJson", into = "crate::json::InviteToJson")]
pub enum InviteTo {
    /// A contact request to this address (classic sessions), mailed by the platform:
    /// the code goes only to that mailbox, never to the inviter. The address is not
    /// stored (R-S1); only a binding that needs the code to check it is, so the account
    /// made from the request carries exactly this address.
    Contact {
        /// Where to send it.
        email: Email,
        /// Which of the host's templates to use (a language tag such as `"de"`);
        /// `None` for the default.
        language: Option<String>,
    },
    /// A guest link for up to `max_uses` guests (ad-hoc sessions), returned to the
    /// inviter to pass on.
    GuestLink {
        /// How many guests may join with it (1..=1000).
        max_uses: u32,
    },
}

impl InviteTo {
    /// A contact request to `email` in the default language.
    pub fn contact(email: Email) -> Self {
        Self::Contact {
            email,
            language: None,
        }
    }
}

/// What [`Counselling::invite`] made. JSON: `{"type":"mailed","invitation":"inv_…"}`
/// or `{"type":"guest_link","invitation":"inv_…","secret":"inv_….<hex>"}`.
#[derive(Debug, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Invited {
    /// A contact request, mailed to the invitee. The inviter never sees its code.
    Mailed {
        /// The invitation (to list or withdraw it).
        invitation: InvitationId,
    },
    /// A guest link: the secret, shown to the inviter once, to pass on (in a URL
    /// fragment or a message body, never a query string, R-A8).
    GuestLink {
        /// The invitation.
        invitation: InvitationId,
        /// The secret; only its hash is stored.
        secret: InvitationSecret,
    },
}

impl Invited {
    /// The guest link's secret (`None` for a mailed contact request).
    pub fn into_secret(self) -> Option<InvitationSecret> {
        match self {
            Invited::GuestLink { secret, .. } => Some(secret),
            Invited::Mailed { .. } => None,
        }
    }

    /// The invitation's id.
    pub fn invitation(&self) -> InvitationId {
        match self {
            Invited::Mailed { invitation } | Invited::GuestLink { invitation, .. } => *invitation,
        }
    }
}

impl Counselling {
    /// Invites someone (R-S1, R-S2). A contact request (classic sessions) is mailed to
    /// the address from the host's template ([`ServiceConfig::invitation_mail`]); its
    /// code goes only to that mailbox and the address is not stored. A guest link
    /// (ad-hoc sessions) is returned to the inviter to pass on. Only the secret's hash
    /// is stored. Needs `InviteParticipants`.
    ///
    /// An invitation is honoured only while its inviter could still issue it: if the
    /// inviter is deactivated, loses the role, or leaves the session, it stops working.
    ///
    /// Errors: a guest inviting, a `valid_for` of zero or above
    /// [`ServiceConfig::max_invitation_validity`] (default 90 days; `None` takes
    /// `invitation_validity`, 7 days), a contact request to a non-classic session or a
    /// guest link to a non-ad-hoc one, `max_uses` outside 1..=1000 or a bad language tag
    /// are `invalid_input`; a failed mail is `unavailable` and stores nothing.
    ///
    /// [`ServiceConfig::invitation_mail`]: super::ServiceConfig::invitation_mail
    /// [`ServiceConfig::max_invitation_validity`]: super::ServiceConfig::max_invitation_validity
    pub async fn invite(
        &self,
        caller: &Caller,
        tenant: TenantId,
        session: SessionId,
        to: InviteTo,
        valid_for: Option<Duration>,
    ) -> Result<Invited> {
        self.observe("invite", Some(tenant), Some(caller), async move {
        let (store, t, s, _, decision) = self
            .session_action(caller, tenant, session, Action::InviteParticipants)
            .await?;
        let inviter = caller.subject.account().ok_or(Error::Invalid {
            what: "inviter",
            reason: "guests cannot invite",
        })?;
        let valid_for = valid_for.unwrap_or(self.config.invitation_validity);
        if valid_for.is_zero() || valid_for > self.config.max_invitation_validity {
            return Err(Error::Invalid {
                what: "invitation validity",
                reason: "out of range",
            });
        }
        let kind = match (&to, s.kind) {
            (InviteTo::Contact { language, .. }, SessionKind::Classic) => {
                if let Some(tag) = language {
                    super::mail::check_language(tag)?;
                }
                InvitationKind::Contact
            }
            (InviteTo::GuestLink { max_uses }, SessionKind::AdHoc) => {
                if !(1..=1000).contains(max_uses) {
                    return Err(Error::Invalid {
                        what: "guest link",
                        reason: "max uses must be 1..=1000",
                    });
                }
                InvitationKind::GuestLink {
                    max_uses: *max_uses,
                }
            }
            _ => {
                return Err(Error::Invalid {
                    what: "invitation",
                    reason: "contact requests are for classic sessions, guest links for ad-hoc ones",
                });
            }
        };
        let id = InvitationId::random()?;
        let secret = InvitationSecret::generate(id)?;
        let address_binding = match &to {
            InviteTo::Contact { email, .. } => Some(secret.address_binding(email)),
            InviteTo::GuestLink { .. } => None,
        };
        let mut tx = self.tx_of(caller, tenant);
        let expires_at = tx.now.plus(valid_for);
        tx.write(Write::InsertInvitation(Invitation {
            id,
            tenant,
            session,
            kind,
            secret_hash: secret.hash(),
            address_binding,
            created_by: inviter,
            created_at: tx.now,
            expires_at,
            uses: 0,
            status: InvitationStatus::Pending,
            revision: 0,
        }));
        tx.audit(
            &store,
            AuditKind::InvitationSent,
            AuditObject::Invitation(id),
            vec![
                Change::new("session", None::<String>, Some(session)),
                Change::new("kind", None::<String>, Some(format!("{kind:?}"))),
                Change::new("expires_at", None::<String>, Some(expires_at)),
            ],
            Some(&decision),
            false,
        )
        .await?;
        // Mail first, commit after: a call that fails leaves nothing behind. If the
        // mail fails, nothing is stored and the inviter tries again; if the commit
        // fails after the mail went out, the mailed code names no invitation and
        // admits nobody.
        if let InviteTo::Contact { email, language } = &to {
            let template = self.config.invitation_mail.for_language(language.as_deref());
            let (subject, body) = template.render(
                t.name.as_str(),
                secret.expose().as_str(),
                &expires_at.to_rfc3339().unwrap_or_else(|_| expires_at.to_string()),
            );
            self.ports
                .mailer
                .send(Mail {
                    to: email.clone(),
                    subject,
                    body,
                })
                .await
                .map_err(|e| Error::Mailer(e.to_string()))?;
        }
        self.commit(&store, tx).await?;
        Ok(match to {
            InviteTo::Contact { .. } => Invited::Mailed { invitation: id },
            InviteTo::GuestLink { .. } => Invited::GuestLink {
                invitation: id,
                secret,
            },
        })
        })
        .await
    }

    /// A page of invitations, newest first: those to a session (for participants who
    /// may invite to it, `InviteParticipants`), or those an account sent (one's own;
    /// for an administrator with `ManageAccounts`, another account's *pending* ones, to
    /// withdraw them — accepted ones would tell who takes part where). A page may hold
    /// fewer than asked and still have a `next` cursor. Secrets are never listed; only
    /// their hashes are stored.
    pub async fn list_invitations(
        &self,
        caller: &Caller,
        tenant: TenantId,
        filter: InvitationFilter,
        page: PageRequest,
    ) -> Result<Paged<Invitation>> {
        self.observe("list_invitations", Some(tenant), Some(caller), async move {
            let store = match filter {
                InvitationFilter::Session(session) => {
                    self.session_action(caller, tenant, session, Action::InviteParticipants)
                        .await?
                        .0
                }
                InvitationFilter::CreatedBy(account) => {
                    let action = if caller.subject == SubjectId::Account(account) {
                        Action::ViewOwnAccount
                    } else {
                        Action::ManageAccounts
                    };
                    self.authorized(
                        caller,
                        tenant,
                        action,
                        Resource::Account { tenant, account },
                    )
                    .await?
                    .0
                }
            };
            let kind = match filter {
                InvitationFilter::Session(session) => format!("inv{session}"),
                InvitationFilter::CreatedBy(account) => format!("inv{account}"),
            };
            let page = page.id_page(&kind, crate::ports::Order::NewestFirst)?;
            let items = store.invitations(tenant, filter, page).await?;
            let mut listed = Paged::by_id(items, &kind, &page, |i| i.id);
            // An administrator looking at someone else's invitations sees the pending
            // ones, to withdraw them — not who accepted which session's invitation.
            if matches!(filter, InvitationFilter::CreatedBy(a) if caller.subject != SubjectId::Account(a))
            {
                listed
                    .items
                    .retain(|i| i.status == InvitationStatus::Pending);
            }
            Ok(listed)
        })
        .await
    }

    /// Withdraws a pending invitation: its code stops working at once. Allowed to its
    /// inviter, to whoever may manage the session's participants (the host), and to an
    /// administrator with `ManageAccounts`. Others are told it does not exist. Audited.
    pub async fn withdraw_invitation(
        &self,
        caller: &Caller,
        tenant: TenantId,
        invitation: InvitationId,
    ) -> Result<Invitation> {
        self.observe(
            "withdraw_invitation",
            Some(tenant),
            Some(caller),
            async move {
                let (store, principal, _) = self
                    .principal(caller, tenant, Action::InviteParticipants)
                    .await?;
                let not_found = Error::NotFound { what: "invitation" };
                let mut inv = store
                    .invitation(tenant, invitation)
                    .await?
                    .ok_or(not_found.clone())?;
                let decision = if caller.subject == SubjectId::Account(inv.created_by) {
                    None
                } else {
                    let (s, parts) = self.load_session(&store, tenant, inv.session).await?;
                    let as_host = authorize(
                        &principal,
                        Action::ManageParticipants,
                        &Resource::Session(Self::view(&s, &parts, None)),
                    );
                    let as_admin = authorize(
                        &principal,
                        Action::ManageAccounts,
                        &Resource::Account {
                            tenant,
                            account: inv.created_by,
                        },
                    );
                    match (as_host.is_allowed(), as_admin.is_allowed()) {
                        (true, _) => Some(as_host),
                        (_, true) => Some(as_admin),
                        _ => return Err(not_found),
                    }
                };
                if inv.status != InvitationStatus::Pending {
                    return Err(Error::Conflict {
                        what: "invitation",
                        reason: "no longer pending",
                    });
                }
                inv.status = InvitationStatus::Closed;
                let mut tx = self.tx_of(caller, tenant);
                tx.write(Write::UpdateInvitation(inv.clone()));
                tx.audit(
                    &store,
                    AuditKind::InvitationWithdrawn,
                    AuditObject::Invitation(invitation),
                    vec![Change::new("status", Some("pending"), Some("withdrawn"))],
                    decision.as_ref(),
                    false,
                )
                .await?;
                self.commit(&store, tx).await?;
                inv.revision += 1;
                Ok(inv)
            },
        )
        .await
    }

    /// Checks an invitation secret: exists in the tenant, matches (constant time),
    /// pending, not expired, of the expected kind, for an open session — and its
    /// inviter could still issue it now (active, inside its window, holding a role that
    /// invites, still in the session). For contact requests, `email` must be the
    /// invited address. Every failure but a closed session is [`Error::NotAccepted`].
    async fn usable_invitation(
        &self,
        store: &DynStore,
        tenant: TenantId,
        secret: &InvitationSecret,
        contact: Option<&Email>,
    ) -> Result<(Invitation, Session)> {
        let now = self.now();
        let invitation = store
            .invitation(tenant, secret.invitation())
            .await?
            .filter(|i| i.matches(secret))
            .filter(|i| i.status == InvitationStatus::Pending && now < i.expires_at)
            .filter(|i| match (i.kind, contact, i.address_binding) {
                (InvitationKind::Contact, Some(email), Some(binding)) => {
                    secret.binds(&binding, email)
                }
                (InvitationKind::GuestLink { .. }, None, _) => true,
                _ => false,
            })
            .ok_or(Error::NotAccepted)?;
        let (session, parts) = self.load_session(store, tenant, invitation.session).await?;
        if !session.is_open() {
            return Err(Error::SessionClosed);
        }
        let t = store.tenant(tenant).await?.ok_or(Error::NotAccepted)?;
        let inviter = Caller::new(
            tenant,
            SubjectId::Account(invitation.created_by),
            Authentication {
                second_factor: false,
                at: now,
            },
        );
        let still_may = match self.resolve(store, &t, &inviter, now).await {
            Ok(principal) => authorize(
                &principal,
                Action::InviteParticipants,
                &Resource::Session(Self::view(&session, &parts, None)),
            )
            .is_allowed(),
            Err(Error::AccountNotUsable) => false,
            Err(e) => return Err(e),
        };
        if !still_may {
            return Err(Error::NotAccepted);
        }
        Ok((invitation, session))
    }

    /// Accepts a contact request by creating the invitee's account (R-S1): only now is
    /// personal data of the invitee stored. `new.email` must be the address the request
    /// was mailed to (else [`Error::NotAccepted`], like a wrong code). The account gets
    /// the client role and joins the session as its client; `cai-auth` then lets its
    /// owner set a password.
    pub async fn accept_invitation(
        &self,
        tenant: TenantId,
        secret: &InvitationSecret,
        new: NewAccount,
    ) -> Result<(Account, SessionId)> {
        self.observe("accept_invitation", Some(tenant), None, async move {
            new.validate()?;
            let store = match self.store(tenant).await {
                Err(Error::NotFound { .. }) => return Err(Error::NotAccepted),
                other => other?,
            };
            let (mut invitation, s) = self
                .usable_invitation(&store, tenant, secret, Some(&new.email))
                .await?;
            // An address that already has an account is refused like a bad secret, so an
            // invitation cannot be used to probe which addresses exist; that person logs in
            // and uses `accept_invitation_as`.
            if store.account_by_email(tenant, &new.email).await?.is_some() {
                return Err(Error::NotAccepted);
            }
            let id = AccountId::random()?;
            let mut tx = self.tx(tenant, AuditActor::Subject(SubjectId::Account(id)));
            let account = Account {
                id,
                tenant,
                email: Some(new.email),
                display_name: new.display_name,
                roles: vec![BuiltinRole::Client.id()],
                status: AccountStatus::Active,
                valid_from: new.valid_from,
                valid_until: new.valid_until,
                created_at: tx.now,
                last_active: None,
                revision: 0,
            };
            tx.write(Write::InsertAccount(account.clone()));
            tx.audit(
                &store,
                AuditKind::AccountCreated,
                AuditObject::Account(id),
                vec![Change::new(
                    "roles",
                    None::<String>,
                    Some(BuiltinRole::Client.default_name()),
                )],
                None,
                false,
            )
            .await?;
            self.accept_into(&store, &mut tx, &mut invitation, &s, id)
                .await?;
            self.commit(&store, tx).await?;
            Ok((account, s.id))
        })
        .await
    }

    /// Accepts a contact request with an existing account of the tenant: the account's
    /// address must be the one the request was mailed to.
    pub async fn accept_invitation_as(
        &self,
        caller: &Caller,
        tenant: TenantId,
        secret: &InvitationSecret,
    ) -> Result<SessionId> {
        self.observe(
            "accept_invitation_as",
            Some(tenant),
            Some(caller),
            async move {
                let (store, principal, _) =
                    self.principal(caller, tenant, Action::JoinSession).await?;
                let me = principal.account_id().ok_or(Error::NotAccepted)?;
                if !principal.permissions().contains(Action::JoinSession) {
                    return Err(Error::Denied {
                        action: Action::JoinSession,
                        reason: crate::authz::DenyReason::NoPermission,
                    });
                }
                // The request binds the invited address: only the account holding it accepts.
                let account = store
                    .account(tenant, me)
                    .await?
                    .ok_or(Error::AccountNotUsable)?;
                let email = account.email.ok_or(Error::NotAccepted)?;
                let (mut invitation, s) = self
                    .usable_invitation(&store, tenant, secret, Some(&email))
                    .await?;
                let mut tx = self.tx_of(caller, tenant);
                self.accept_into(&store, &mut tx, &mut invitation, &s, me)
                    .await?;
                self.commit(&store, tx).await?;
                Ok(s.id)
            },
        )
        .await
    }

    async fn accept_into(
        &self,
        store: &DynStore,
        tx: &mut super::Tx,
        invitation: &mut Invitation,
        s: &Session,
        account: AccountId,
    ) -> Result<()> {
        invitation.uses = invitation.uses.saturating_add(1);
        invitation.status = InvitationStatus::Accepted {
            by: account,
            at: tx.now,
        };
        tx.write(Write::UpdateInvitation(invitation.clone()));
        // Someone already in the session keeps their part (a counsellor who accepts a
        // forwarded code is not demoted to client).
        let already = store
            .participants(s.tenant, s.id)
            .await?
            .iter()
            .any(|p| p.subject == SubjectId::Account(account));
        if !already {
            tx.write(Write::PutParticipant(Participant {
                session: s.id,
                tenant: s.tenant,
                subject: SubjectId::Account(account),
                role: ParticipantRole::Client,
                joined_at: tx.now,
            }));
        }
        tx.audit(
            store,
            AuditKind::InvitationAccepted,
            AuditObject::Invitation(invitation.id),
            vec![Change::new("status", Some("pending"), Some("accepted"))],
            None,
            false,
        )
        .await?;
        tx.publish(
            s.id,
            SessionEvent::ParticipantJoined(SubjectId::Account(account)),
        );
        Ok(())
    }

    /// Joins an ad-hoc session as a guest with a pseudonym and a guest-link secret
    /// (R-S2, R-A7). Nothing but the pseudonym is stored. Returns the guest and the
    /// [`Caller`] to act as it (the host wraps it in its own session token).
    pub async fn join_as_guest(
        &self,
        tenant: TenantId,
        secret: &InvitationSecret,
        pseudonym: Pseudonym,
    ) -> Result<(Guest, Caller)> {
        self.observe("join_as_guest", Some(tenant), None, async move {
            // An unknown tenant answers like a wrong secret: a guest link reveals nothing
            // about which tenants exist.
            let store = match self.store(tenant).await {
                Err(Error::NotFound { .. }) => return Err(Error::NotAccepted),
                other => other?,
            };
            let t = store.tenant(tenant).await?.ok_or(Error::NotAccepted)?;
            let (mut invitation, s) = self.usable_invitation(&store, tenant, secret, None).await?;
            let InvitationKind::GuestLink { max_uses } = invitation.kind else {
                return Err(Error::NotAccepted);
            };
            if s.kind != SessionKind::AdHoc {
                return Err(Error::NotAccepted);
            }
            let id = GuestId::random()?;
            let subject = SubjectId::Guest(id);
            let mut tx = self.tx(tenant, AuditActor::Subject(subject));
            let guest = Guest {
                id,
                tenant,
                session: s.id,
                pseudonym,
                joined_at: tx.now,
                expires_at: tx.now.plus(t.settings.retention.guest_deactivate_after),
            };
            invitation.uses = invitation.uses.saturating_add(1);
            if invitation.uses >= max_uses {
                invitation.status = InvitationStatus::Closed;
            }
            tx.write(Write::UpdateInvitation(invitation.clone()));
            tx.write(Write::InsertGuest(guest.clone()));
            tx.write(Write::PutParticipant(Participant {
                session: s.id,
                tenant,
                subject,
                role: ParticipantRole::Guest,
                joined_at: tx.now,
            }));
            tx.audit(
                &store,
                AuditKind::GuestJoined,
                AuditObject::Guest(id),
                vec![
                    Change::new("pseudonym", None::<String>, Some(guest.pseudonym.as_str())),
                    Change::new("session", None::<String>, Some(s.id)),
                ],
                None,
                false,
            )
            .await?;
            tx.publish(s.id, SessionEvent::ParticipantJoined(subject));
            let caller = Caller::new(
                tenant,
                subject,
                Authentication {
                    second_factor: false,
                    at: tx.now,
                },
            );
            self.commit(&store, tx).await?;
            Ok((guest, caller))
        })
        .await
    }

    /// Enters or re-enters a session one takes part in (R-S1: an invitee can come back
    /// at any time), or works on through a group the session is shared with (team
    /// members stay team members; they are not made participants). Needs `JoinSession`,
    /// and `ViewSession` for the answer, both checked before anything is written. Every
    /// join is audited (`participant_joined`).
    pub async fn join_session(
        &self,
        caller: &Caller,
        tenant: TenantId,
        session: SessionId,
    ) -> Result<SessionDetails> {
        self.observe("join_session", Some(tenant), Some(caller), async move {
            let (store, principal, _) = self.principal(caller, tenant, Action::JoinSession).await?;
            let (mut s, parts) = self.load_session(&store, tenant, session).await?;
            let decision = self
                .check_session(
                    &principal,
                    Action::JoinSession,
                    Self::view(&s, &parts, None),
                )
                .await?;
            // The answer shows the session: that needs `view_session` too, checked before
            // anything is written.
            self.check_session(
                &principal,
                Action::ViewSession,
                Self::view(&s, &parts, None),
            )
            .await?;
            let participants = store.participants(tenant, session).await?;
            let mut tx = self.tx_of(caller, tenant);
            // Team members (access through a shared group) get no participant row: the
            // team rule already lets them work on the case, and a row would give them the
            // part of a participant, with the right to run the session.
            let known = parts.iter().any(|(who, _)| *who == caller.subject);
            s.last_activity = tx.now;
            tx.write(Write::UpdateSession(s.clone()));
            tx.audit(
                &store,
                AuditKind::ParticipantJoined,
                AuditObject::Session(session),
                if known {
                    Vec::new()
                } else {
                    vec![Change::new("access", None::<String>, Some("team"))]
                },
                Some(&decision),
                false,
            )
            .await?;
            tx.publish(session, SessionEvent::ParticipantJoined(caller.subject));
            self.commit(&store, tx).await?;
            s.revision += 1;
            Ok(SessionDetails {
                session: s,
                participants,
            })
        })
        .await
    }
}
