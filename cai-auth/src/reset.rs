//! The four-eyes password reset (R-A6) for accounts that need it: counsellors and
//! administrators (see [`needs_four_eyes`](crate::recovery::needs_four_eyes)). Their
//! password is reset only when a second administrator approved it *and* verified the
//! person out of band with a one-time QR challenge.
//!
//! ```text
//!  subject S (mailbox)          requester R                 approver A (admin, ≠ S, ≠ R)
//!  ───────────────────          ───────────                 ────────────────────────────
//!  begin_recovery(e-mail) ──┐   request_password_reset ─┐
//!   (then R = S)            └──────────┬────────────────┘
//!                                      ▼  reset request, lapses after request_validity (72 h)
//!                                         admins notified; S mailed a notice (no token)
//!                                                           approve_password_reset(S)
//!                                      ◄──────────────────  checks 1–6 below
//!  mail: recovery code (cr1_…) ◄──────  token mailed, valid token_validity (30 min);
//!                                       the reset now lapses with the token
//!  show_reset_challenge(token)
//!   → QR code + XXXX-XXXX-XXXX-XXXX     valid challenge_validity (10 min)
//!  shows it in a video call / in person ───────────────────► A scans or reads it:
//!                                                           confirm_reset_challenge(S, code)
//!                                       verified; the password can be set within
//!                                       challenge_validity (10 min), before the token ends
//!  complete_recovery(token, new password)
//!   → password set, token used, reset cleared, all sessions ended, admins notified
//! ```
//!
//! **Checks, in order.** Approving ([`Authenticator::approve_password_reset`]):
//! 1. the approver belongs to the tenant (else a cross-tenant denial and incident);
//! 2. the approver's account is usable now, resolved fresh from the store;
//! 3. cai-core's `authorize(ApprovePasswordReset, account)`: a role granting it
//!    (administrators), a second factor and a recent authentication, and not the
//!    account itself (four eyes);
//! 4. the subject exists, is usable and has an e-mail address;
//! 5. a reset request is pending (not lapsed, not approved by someone else);
//! 6. the approver is not the requester (four eyes).
//!
//! Confirming ([`Authenticator::confirm_reset_challenge`]) repeats 1–3, then: a reset
//! approved and not lapsed; the confirmer is not the requester and is the approver;
//! a challenge shown and not expired; the code (constant-time). A wrong code counts;
//! after `challenge_attempts` (3) the challenge is void and a new one must be shown. A
//! confirmed challenge is gone: it cannot be confirmed twice, and showing a new one
//! withdraws the confirmation.
//!
//! Every step is audited and notified to the tenant's admins (R-I5); so are refused
//! approvals and confirmations inside the tenant. Nobody — requester, approver or
//! the subject — ever sees or sets another's password: the subject chooses it.

use cai_core::authz::{Action, Decision, DenyReason, Resource, authorize};
use cai_core::domain::{Account, AuditActor, AuditKind, AuditObject, Change};
use cai_core::id::{AccountId, SubjectId, TenantId};
use cai_core::ports::{DynStore, StoreError};
use cai_core::{Caller, Timestamp};

use crate::audit::AuthTx;
use crate::authenticator::Authenticator;
use crate::error::{AuthError, Result};
use crate::records::{self, RecoveryRecord, ResetRecord};
use crate::sessions::RETRIES;

/// Where a four-eyes reset stands, for administrators' screens. Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordResetStatus {
    /// The account whose password is reset.
    pub account: AccountId,
    /// Who asked: the account itself, or an administrator.
    pub requested_by: AccountId,
    /// When.
    pub requested_at: Timestamp,
    /// When the reset lapses (the request's end; once approved, the mailed token's).
    pub expires_at: Timestamp,
    /// The approving administrator, once approved.
    pub approved_by: Option<AccountId>,
    /// When it was approved.
    pub approved_at: Option<Timestamp>,
    /// A QR challenge is shown and awaits the approver's confirmation.
    pub challenge_pending: bool,
    /// When the approver confirmed the challenge.
    pub verified_at: Option<Timestamp>,
    /// Until when the subject can set the new password.
    pub verified_until: Option<Timestamp>,
}

impl PasswordResetStatus {
    pub(crate) fn of(account: AccountId, r: &ResetRecord) -> Self {
        let t = Timestamp::from_unix_millis;
        Self {
            account,
            requested_by: r.requested_by,
            requested_at: t(r.requested_at),
            expires_at: t(r.expires_at),
            approved_by: r.approved_by,
            approved_at: r.approved_at.map(t),
            challenge_pending: r.challenge.is_some(),
            verified_at: r.verified_at.map(t),
            verified_until: r.verified_until.map(t),
        }
    }
}

pub(crate) fn denied(action: Action, reason: DenyReason) -> AuthError {
    AuthError::Core(cai_core::Error::Denied { action, reason })
}

pub(crate) fn none_pending() -> AuthError {
    AuthError::Core(cai_core::Error::Invalid {
        what: "password reset",
        reason: "none pending in this state",
    })
}

pub(crate) fn conflict(e: &AuthError) -> bool {
    matches!(
        e,
        AuthError::Core(cai_core::Error::Store(StoreError::Conflict { .. }))
    )
}

/// The live (not lapsed) reset of a record.
pub(crate) fn live_reset(record: Option<&RecoveryRecord>, now: i64) -> Option<ResetRecord> {
    record
        .and_then(|r| r.reset.clone())
        .filter(|r| now < r.expires_at)
}

impl Authenticator {
    /// An administrator asks for a four-eyes reset of another account's password, on
    /// its owner's behalf (who called the help desk, say). Needs `ManageAccounts`; not
    /// for one's own account. Replaces any pending request or mailed recovery token;
    /// a second administrator must [approve](Self::approve_password_reset) it. The
    /// account is mailed a notice (no token), the admins are notified.
    pub async fn request_password_reset(
        &self,
        admin: &Caller,
        tenant: TenantId,
        account: AccountId,
    ) -> Result<PasswordResetStatus> {
        let (store, decision, admin_id) = self
            .authorize_reset(admin, tenant, account, Action::ManageAccounts, "request")
            .await?;
        if admin_id == account {
            self.reset_denied(&store, admin, account, "request refused: own account")
                .await;
            return Err(denied(Action::ManageAccounts, DenyReason::FourEyes));
        }
        let a = self.reset_subject(&store, tenant, account).await?;
        for _ in 0..RETRIES {
            let now = self.now();
            let existing = records::load::<RecoveryRecord>(&store, tenant, account).await?;
            let reset = ResetRecord {
                requested_at: now.unix_millis(),
                requested_by: admin_id,
                expires_at: now
                    .plus(self.inner.config.recovery.request_validity)
                    .unix_millis(),
                approved_by: None,
                approved_at: None,
                challenge: None,
                verified_at: None,
                verified_until: None,
            };
            let record = RecoveryRecord {
                token: None,
                reset: Some(reset.clone()),
            };
            let mut tx = self.reset_tx(admin, tenant, now);
            tx.write(records::put(
                tenant,
                account,
                &record,
                existing.as_ref().map_or(0, |r| r.revision),
                now,
            )?);
            tx.audit(
                &store,
                AuditKind::AccountUpdated,
                AuditObject::Account(account),
                vec![Change::new(
                    "password_reset",
                    None::<String>,
                    Some("requested; awaits a second administrator's approval"),
                )],
                Some(&decision),
                true,
            )
            .await?;
            match tx.commit(&self.inner.svc, &store).await {
                Ok(()) => {
                    let mail = self.request_notice_mail(&a, true)?;
                    self.send_best_effort(tenant, mail).await;
                    return Ok(PasswordResetStatus::of(account, &reset));
                }
                Err(e) if conflict(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Err(AuthError::Unavailable("recovery record kept changing"))
    }

    /// A second administrator approves a pending reset (checks 1–6 of the module
    /// documentation): a four-eyes recovery token is mailed to the account, valid for
    /// `token_validity`, and the reset now lapses with it. The same approver may
    /// approve again while the reset is live to have a fresh token mailed (the old one
    /// stops working, a shown challenge and a confirmation are withdrawn). A mail that
    /// cannot be sent is reported (`AuthError::Core(Mailer)`); approving again resends.
    pub async fn approve_password_reset(
        &self,
        approver: &Caller,
        tenant: TenantId,
        account: AccountId,
    ) -> Result<PasswordResetStatus> {
        let (store, decision, approver_id) = self
            .authorize_reset(
                approver,
                tenant,
                account,
                Action::ApprovePasswordReset,
                "approval",
            )
            .await?;
        let a = self.reset_subject(&store, tenant, account).await?;
        let approver_name = store.account(tenant, approver_id).await?.map_or_else(
            || "An administrator".to_owned(),
            |x| x.display_name.as_str().to_owned(),
        );
        for _ in 0..RETRIES {
            let now = self.now();
            let existing = records::load::<RecoveryRecord>(&store, tenant, account).await?;
            let Some(mut reset) =
                live_reset(existing.as_ref().map(|r| &r.value), now.unix_millis())
                    .filter(|r| r.approved_by.is_none_or(|by| by == approver_id))
            else {
                return Err(none_pending());
            };
            if reset.requested_by == approver_id {
                self.reset_denied(
                    &store,
                    approver,
                    account,
                    "approval refused: the requester cannot approve",
                )
                .await;
                return Err(denied(Action::ApprovePasswordReset, DenyReason::FourEyes));
            }
            let (token, stored) = self.new_recovery_token(tenant, account, now, true)?;
            reset.approved_by = Some(approver_id);
            reset.approved_at = Some(now.unix_millis());
            reset.expires_at = stored.expires_at;
            reset.challenge = None;
            reset.verified_at = None;
            reset.verified_until = None;
            let record = RecoveryRecord {
                token: Some(stored),
                reset: Some(reset.clone()),
            };
            let mut tx = self.reset_tx(approver, tenant, now);
            tx.write(records::put(
                tenant,
                account,
                &record,
                existing.as_ref().map_or(0, |r| r.revision),
                now,
            )?);
            tx.audit(
                &store,
                AuditKind::AccountUpdated,
                AuditObject::Account(account),
                vec![Change::new(
                    "password_reset",
                    None::<String>,
                    Some("approved; recovery code mailed"),
                )],
                Some(&decision),
                true,
            )
            .await?;
            let mail = self.token_mail(&a, &token, Some(&approver_name))?;
            match tx.commit(&self.inner.svc, &store).await {
                Ok(()) => {
                    self.inner
                        .svc
                        .ports()
                        .mailer
                        .send(mail)
                        .await
                        .map_err(|e| AuthError::Core(cai_core::Error::Mailer(e.to_string())))?;
                    return Ok(PasswordResetStatus::of(account, &reset));
                }
                Err(e) if conflict(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Err(AuthError::Unavailable("recovery record kept changing"))
    }

    /// Where the account's reset stands, `None` if none is live. Needs
    /// `ManageAccounts`.
    pub async fn password_reset_status(
        &self,
        admin: &Caller,
        tenant: TenantId,
        account: AccountId,
    ) -> Result<Option<PasswordResetStatus>> {
        let (store, _, _) = self
            .authorize_reset(admin, tenant, account, Action::ManageAccounts, "status")
            .await?;
        let record = records::load::<RecoveryRecord>(&store, tenant, account).await?;
        Ok(
            live_reset(record.as_ref().map(|r| &r.value), self.now().unix_millis())
                .map(|r| PasswordResetStatus::of(account, &r)),
        )
    }

    /// Withdraws the account's pending reset and any mailed recovery token (a
    /// suspicious request, a mistake). Needs `ManageAccounts`; audited and notified.
    pub async fn cancel_password_reset(
        &self,
        admin: &Caller,
        tenant: TenantId,
        account: AccountId,
    ) -> Result<()> {
        let (store, decision, _) = self
            .authorize_reset(
                admin,
                tenant,
                account,
                Action::ManageAccounts,
                "cancellation",
            )
            .await?;
        for _ in 0..RETRIES {
            let now = self.now();
            let Some(existing) = records::load::<RecoveryRecord>(&store, tenant, account).await?
            else {
                return Err(none_pending());
            };
            let live_token = existing
                .value
                .token
                .as_ref()
                .is_some_and(|t| t.used_at.is_none() && now.unix_millis() < t.expires_at);
            if live_reset(Some(&existing.value), now.unix_millis()).is_none() && !live_token {
                return Err(none_pending());
            }
            let mut tx = self.reset_tx(admin, tenant, now);
            tx.write(records::put(
                tenant,
                account,
                &RecoveryRecord::default(),
                existing.revision,
                now,
            )?);
            tx.audit(
                &store,
                AuditKind::AccountUpdated,
                AuditObject::Account(account),
                vec![Change::new(
                    "password_reset",
                    None::<String>,
                    Some("cancelled; recovery code withdrawn"),
                )],
                Some(&decision),
                true,
            )
            .await?;
            match tx.commit(&self.inner.svc, &store).await {
                Ok(()) => return Ok(()),
                Err(e) if conflict(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Err(AuthError::Unavailable("recovery record kept changing"))
    }

    /// Resolves `caller` fresh and authorizes `action` on the account (checks 1–3);
    /// a denial inside the tenant is audited and notified.
    pub(crate) async fn authorize_reset(
        &self,
        caller: &Caller,
        tenant: TenantId,
        account: AccountId,
        action: Action,
        step: &str,
    ) -> Result<(DynStore, Decision, AccountId)> {
        let result: Result<(DynStore, Decision)> = async {
            let (store, principal, _) = self.inner.svc.principal(caller, tenant, action).await?;
            let decision = authorize(&principal, action, &Resource::Account { tenant, account })
                .into_result()?;
            Ok((store, decision))
        }
        .await;
        match result {
            Ok((store, decision)) => match caller.subject {
                SubjectId::Account(id) => Ok((store, decision, id)),
                _ => Err(denied(action, DenyReason::NoPermission)),
            },
            Err(AuthError::Core(cai_core::Error::Denied { action, reason })) => {
                if caller.tenant == tenant
                    && !matches!(reason, DenyReason::TenantMismatch { .. })
                    && let Ok(Some(store)) = self.store(tenant).await
                {
                    let what = format!("{step} refused: {}", reason.code());
                    self.reset_denied(&store, caller, account, &what).await;
                }
                Err(denied(action, reason))
            }
            Err(e) => Err(e),
        }
    }

    /// The account a reset is for: existing, usable now, with an e-mail address.
    async fn reset_subject(
        &self,
        store: &DynStore,
        tenant: TenantId,
        account: AccountId,
    ) -> Result<Account> {
        let a = store
            .account(tenant, account)
            .await?
            .ok_or(AuthError::Core(cai_core::Error::NotFound {
                what: "account",
            }))?;
        if !a.is_usable_at(self.now()) {
            return Err(AuthError::Core(cai_core::Error::AccountNotUsable));
        }
        if a.email.is_none() {
            return Err(AuthError::Core(cai_core::Error::Invalid {
                what: "account",
                reason: "has no e-mail address",
            }));
        }
        Ok(a)
    }

    pub(crate) fn reset_tx(&self, caller: &Caller, tenant: TenantId, now: Timestamp) -> AuthTx {
        AuthTx::new(
            tenant,
            now,
            AuditActor::Subject(caller.subject),
            caller.request,
        )
    }

    /// Records a refused reset step (best effort), notifying the admins.
    pub(crate) async fn reset_denied(
        &self,
        store: &DynStore,
        caller: &Caller,
        account: AccountId,
        what: &str,
    ) {
        let tenant = caller.tenant;
        let mut tx = self.reset_tx(caller, tenant, self.now());
        let result = async {
            tx.audit(
                store,
                AuditKind::AccessDenied,
                AuditObject::Account(account),
                vec![Change::new("password_reset", None::<String>, Some(what))],
                None,
                true,
            )
            .await?;
            tx.commit(&self.inner.svc, store).await
        }
        .await;
        if let Err(e) = result {
            tracing::error!(%tenant, error = %e, "refused reset step not recorded");
        }
    }
}
