//! Self-service password recovery by e-mailed single-use token (R-A5).
//!
//! [`Authenticator::begin_recovery`] takes an e-mail address and always answers
//! `Ok(())` (or `TooManyRequests`, for known and unknown addresses alike). For an
//! existing, usable account without a counsellor or administrator role it mails a
//! token through cai-core's `Mailer` port; [`Authenticator::complete_recovery`] takes
//! the token and a new password.
//!
//! **The token** is `cr1_` + the account id (32 lowercase hex digits) + 256 random bits
//! (64 lowercase hex digits): 100 characters ([`RECOVERY_TOKEN_LEN`]). The account id
//! routes the lookup and is no secret. Only an HMAC-SHA-256 of the whole text under the
//! host's pepper (bound to tenant and account) is stored, in the account's `Recovery`
//! credential record ([`RecoveryRecord`]), with its expiry (30 minutes by default,
//! [`RecoveryConfig::token_validity`]). The mail carries it as text and, if the host
//! configured [`RecoveryConfig::link`], in the *fragment* of a link
//! (`https://…/recover#cr1_…`), never in a query (R-A8). A newer request replaces the
//! pending token.
//!
//! **Accounts that need four eyes** (a role with an administrative permission or
//! `create_session`, or the built-in administrator or counsellor role) get no token from
//! `begin_recovery`: their request becomes a four-eyes reset (`docs/AUTH.md`, 4e) that a
//! second administrator approves, and whose token sets a password only after the QR
//! step. A token of such an account is refused by `complete_recovery` with
//! [`AuthError::ResetIncomplete`] until then.
//!
//! **Completing** checks, in this order: the client's throttle; the token's shape; the
//! stored hash (constant-time); unused; not expired; the account usable now (a locked
//! account stays locked — an administrator unlocks it); the four-eyes steps where they
//! apply; the tenant's password policy (every broken rule, as `set_password`). Then, in
//! one revision-checked commit: the new password, the token marked used, every session
//! and ticket of the account ended, the audit event (admins notified). Of two
//! concurrent completions exactly one commits; the other re-reads and finds the token
//! used. Every token failure answers [`AuthError::InvalidToken`]; the audit trail says
//! which it was. A confirmation is mailed to the account.
//!
//! Recovery gives no session, resets no failed-login counter and removes no second
//! factor: the next login asks for the TOTP or e-mailed code as before.

use std::fmt;
use std::time::Duration;

use cai_core::Timestamp;
use cai_core::authz::Action;
use cai_core::domain::{
    Account, AuditActor, AuditKind, AuditObject, BuiltinRole, Change, Email, RequestMeta, Role,
};
use cai_core::id::{AccountId, ID_LEN, SubjectId, TenantId};
use cai_core::ports::{DynStore, Reserved, StoreError};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::audit::AuthTx;
use crate::authenticator::Authenticator;
use crate::error::{AuthError, Result};
use crate::password::{MAX_PASSWORD_BYTES, PolicyViolation, evaluate_policy};
use crate::records::{
    self, PasswordRecord, RecoveryRecord, RecoveryTokenRecord, ResetRecord, Versioned,
};
use crate::recovery_codes::keyed_hash;
use crate::sessions::RETRIES;

/// Length of a recovery token's text: `cr1_`, 32 hex digits of account id, 64 hex
/// digits of secret.
pub const RECOVERY_TOKEN_LEN: usize = PREFIX.len() + 2 * ID_LEN + 2 * SECRET_LEN;

/// Recovery requests and wrong recovery tokens from one client address are counted
/// under this account id (with the address as source), apart from its failed logins.
/// No real account has it (it is not a UUIDv7).
pub const RECOVERY_ATTEMPTS: AccountId =
    AccountId::from_bytes([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);

const PREFIX: &str = "cr1_";
const SECRET_LEN: usize = 32;
const TOKEN_LABEL: &[u8] = b"cai-auth recovery token v1\0";

/// A recovery token as presented, in the right shape: whose it claims to be, and its
/// text.
pub(crate) struct PresentedRecovery {
    pub(crate) account: AccountId,
    text: Zeroizing<String>,
}

impl fmt::Debug for PresentedRecovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PresentedRecovery")
            .field("account", &self.account)
            .field("text", &"<redacted>")
            .finish()
    }
}

impl PresentedRecovery {
    /// Parses a token (surrounding white space ignored); `None` if it cannot be one.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let bytes = text.as_bytes();
        if bytes.len() != RECOVERY_TOKEN_LEN
            || !text.starts_with(PREFIX)
            || !bytes
                .iter()
                .skip(PREFIX.len())
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return None;
        }
        let mut id = [0u8; ID_LEN];
        hex::decode_to_slice(text.get(PREFIX.len()..PREFIX.len() + 2 * ID_LEN)?, &mut id).ok()?;
        Some(Self {
            account: AccountId::from_bytes(id),
            text: Zeroizing::new(text.to_owned()),
        })
    }
}

/// Why a presented token was refused: one answer to the client
/// ([`AuthError::InvalidToken`]), this reason in the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    Malformed,
    NoAccount,
    NothingPending,
    Wrong,
    Used,
    Expired,
    NotUsable,
}

impl Refusal {
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Refusal::Malformed => "refused: malformed token",
            Refusal::NoAccount => "refused: token of no account",
            Refusal::NothingPending => "refused: no recovery pending",
            Refusal::Wrong => "refused: wrong or replaced token",
            Refusal::Used => "refused: token already used",
            Refusal::Expired => "refused: token expired",
            Refusal::NotUsable => "refused: account not usable",
        }
    }
}

/// A token that checked out: its account, the record as read, the stored token.
pub(crate) struct LiveToken {
    pub(crate) account: Account,
    pub(crate) record: Versioned<RecoveryRecord>,
    pub(crate) token: RecoveryTokenRecord,
}

/// Whether an account's password reset needs four eyes (R-A6): it holds the built-in
/// administrator or counsellor role, or any role granting an administrative permission
/// (what makes the second factor mandatory for admins) or `create_session` (what
/// makes a counsellor: running sessions, so holding clients' content).
pub(crate) fn needs_four_eyes(roles: &[Role], account: &Account) -> bool {
    roles.iter().filter(|r| account.has_role(r.id)).any(|r| {
        matches!(
            r.builtin,
            Some(BuiltinRole::TenantAdmin | BuiltinRole::Counsellor)
        ) || r
            .permissions
            .iter()
            .any(|a| a.is_administrative() || a == Action::CreateSession)
    })
}

/// Whether the four-eyes steps of `record` are done for `token` at `now`: approved,
/// the QR challenge confirmed by the approver, the confirmation still fresh.
pub(crate) fn four_eyes_done(
    record: &RecoveryRecord,
    token: &RecoveryTokenRecord,
    now: i64,
) -> bool {
    token.four_eyes
        && record.reset.as_ref().is_some_and(|r| {
            r.approved_by.is_some()
                && r.verified_at.is_some()
                && r.verified_until.is_some_and(|until| now < until)
                && now < r.expires_at
        })
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn conflict(e: &AuthError) -> bool {
    matches!(
        e,
        AuthError::Core(cai_core::Error::Store(StoreError::Conflict { .. }))
    )
}

impl Authenticator {
    /// Starts self-service recovery for the account of `email` in `tenant` (R-A5).
    ///
    /// Answers `Ok(())` whether or not the address has an account, after the same
    /// work (lookups, a fresh token and its keyed hash, one audited commit); only an
    /// existing account gets mail. Show the user one neutral text ("if the address
    /// has an account, a mail is on its way"). `TooManyRequests` comes from the
    /// client's or the address's throttle, alike for every address.
    ///
    /// - usable account, no four eyes needed: a token is mailed (replacing a pending
    ///   one);
    /// - usable account that needs four eyes: a reset request is recorded (unless one
    ///   is pending), the admins are notified, and the account is mailed a notice
    ///   without a token;
    /// - locked, deactivated, outside its validity window, or unknown: no mail; the
    ///   audit trail records the request.
    ///
    /// A mail that cannot be sent is logged, not reported (the answer would tell the
    /// address exists).
    pub async fn begin_recovery(
        &self,
        tenant: TenantId,
        email: &str,
        request: RequestMeta,
    ) -> Result<()> {
        let address = email.trim().to_ascii_lowercase();
        let keys = self.recovery_keys(tenant, Some(&address), &request)?;
        let reserved = self
            .inner
            .svc
            .ports()
            .failures
            .reserve_all(&keys, self.now())
            .await?;
        let Some(store) = self.store(tenant).await? else {
            return Ok(());
        };
        let account = match Email::parse(&address) {
            Ok(e) => store.account_by_email(tenant, &e).await?,
            Err(_) => None,
        };
        let roles = store.roles(tenant).await?;
        let four_eyes = account.as_ref().is_some_and(|a| needs_four_eyes(&roles, a));
        let target = account
            .as_ref()
            .map_or_else(|| self.phantom_account(tenant, &address), |a| a.id);
        let flood = request.client.is_some()
            && reserved
                .reservations
                .first()
                .is_some_and(|r| r.outcome.crossed_threshold);
        for _ in 0..RETRIES {
            let now = self.now();
            let existing = records::load::<RecoveryRecord>(&store, tenant, target).await?;
            let revision = existing.as_ref().map_or(0, |r| r.revision);
            // A token and its keyed hash are made on every path, so an unknown address
            // costs what a known one costs.
            let (token, stored) = self.new_recovery_token(tenant, target, now, false)?;
            let mut tx = AuthTx::new(tenant, now, AuditActor::System, request);
            if flood {
                self.recovery_flood(&store, &mut tx, &reserved, &request)
                    .await?;
            }
            let mail = match account.as_ref() {
                None => {
                    tx.audit(
                        &store,
                        AuditKind::AccessDenied,
                        AuditObject::Tenant(tenant),
                        vec![Change::new(
                            "recovery",
                            None::<String>,
                            Some("requested for an address without an account"),
                        )],
                        None,
                        false,
                    )
                    .await?;
                    None
                }
                Some(a) if !a.is_usable_at(now) => {
                    tx.audit(
                        &store,
                        AuditKind::AccessDenied,
                        AuditObject::Account(a.id),
                        vec![Change::new(
                            "recovery",
                            None::<String>,
                            Some(Refusal::NotUsable.reason()),
                        )],
                        None,
                        false,
                    )
                    .await?;
                    None
                }
                Some(a) if !four_eyes => {
                    let record = RecoveryRecord {
                        token: Some(stored),
                        reset: None,
                    };
                    tx.write(records::put(tenant, a.id, &record, revision, now)?);
                    tx.audit(
                        &store,
                        AuditKind::AccountUpdated,
                        AuditObject::Account(a.id),
                        vec![Change::new(
                            "recovery",
                            None::<String>,
                            Some("token mailed"),
                        )],
                        None,
                        false,
                    )
                    .await?;
                    Some(self.token_mail(a, &token, None)?)
                }
                Some(a) => {
                    let pending = existing
                        .as_ref()
                        .and_then(|r| r.value.reset.as_ref())
                        .is_some_and(|r| now.unix_millis() < r.expires_at);
                    if pending {
                        tx.audit(
                            &store,
                            AuditKind::AccountUpdated,
                            AuditObject::Account(a.id),
                            vec![Change::new(
                                "password_reset",
                                None::<String>,
                                Some("requested again; one is pending"),
                            )],
                            None,
                            false,
                        )
                        .await?;
                        None
                    } else {
                        let record = RecoveryRecord {
                            token: None,
                            reset: Some(ResetRecord {
                                requested_at: now.unix_millis(),
                                requested_by: a.id,
                                expires_at: now
                                    .plus(self.inner.config.recovery.request_validity)
                                    .unix_millis(),
                                approved_by: None,
                                approved_at: None,
                                challenge: None,
                                verified_at: None,
                                verified_until: None,
                            }),
                        };
                        tx.write(records::put(tenant, a.id, &record, revision, now)?);
                        tx.audit(
                            &store,
                            AuditKind::AccountUpdated,
                            AuditObject::Account(a.id),
                            vec![Change::new(
                                "password_reset",
                                None::<String>,
                                Some("requested by the account; awaits a second administrator's approval"),
                            )],
                            None,
                            true,
                        )
                        .await?;
                        Some(self.request_notice_mail(a, false)?)
                    }
                }
            };
            match tx.commit(&self.inner.svc, &store).await {
                Ok(()) => {
                    if let Some(mail) = mail {
                        self.send_best_effort(tenant, mail).await;
                    }
                    return Ok(());
                }
                Err(e) if conflict(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Err(AuthError::Unavailable("recovery record kept changing"))
    }

    /// Sets a new password with a mailed recovery token (R-A5; for accounts that need
    /// four eyes, after the QR step: [`Self::confirm_reset_challenge`]).
    ///
    /// Every token failure — malformed, unknown, wrong, replaced by a newer request,
    /// used, expired, account locked or deactivated — is [`AuthError::InvalidToken`]
    /// and counts against the client's throttle; the audit trail records which. A
    /// password that breaks the tenant's policy gives
    /// [`AuthError::PolicyViolated`] with every broken rule and leaves the token valid;
    /// missing four-eyes steps give [`AuthError::ResetIncomplete`].
    ///
    /// On success every session and ticket of the account has ended, the admins are
    /// notified and the account gets a confirmation mail. No session is returned: the
    /// user logs in, with the second factor if the account has one.
    pub async fn complete_recovery(
        &self,
        tenant: TenantId,
        token: &str,
        new_password: &str,
        request: RequestMeta,
    ) -> Result<()> {
        let keys = self.recovery_keys(tenant, None, &request)?;
        let failures = self.inner.svc.ports().failures.clone();
        let reserved = failures.reserve_all(&keys, self.now()).await?;
        let outcome = self
            .try_complete_recovery(tenant, token, new_password, &request, &reserved)
            .await;
        if !matches!(outcome, Err(AuthError::InvalidToken))
            && let Err(e) = failures.refund_all(&keys, &reserved).await
        {
            tracing::warn!(%tenant, error = %e, "recovery attempt not refunded");
        }
        outcome
    }

    async fn try_complete_recovery(
        &self,
        tenant: TenantId,
        token: &str,
        new: &str,
        request: &RequestMeta,
        reserved: &Reserved,
    ) -> Result<()> {
        let Some(store) = self.store(tenant).await? else {
            return Err(AuthError::InvalidToken);
        };
        let Some(presented) = PresentedRecovery::parse(token) else {
            self.recovery_refused(
                &store,
                tenant,
                None,
                Refusal::Malformed.reason(),
                request,
                reserved,
            )
            .await;
            return Err(AuthError::InvalidToken);
        };
        let mut phc: Option<String> = None;
        for _ in 0..RETRIES {
            let live = match self
                .check_recovery_token(&store, tenant, &presented)
                .await?
            {
                Ok(live) => live,
                Err((account, refusal)) => {
                    self.recovery_refused(
                        &store,
                        tenant,
                        account,
                        refusal.reason(),
                        request,
                        reserved,
                    )
                    .await;
                    return Err(AuthError::InvalidToken);
                }
            };
            let now = self.now();
            let a = &live.account;
            let roles = store.roles(tenant).await?;
            let four_eyes = live.token.four_eyes || needs_four_eyes(&roles, a);
            if four_eyes && !four_eyes_done(&live.record.value, &live.token, now.unix_millis()) {
                self.recovery_refused(
                    &store,
                    tenant,
                    Some(a.id),
                    "refused: four-eyes steps missing",
                    request,
                    &Reserved::default(),
                )
                .await;
                return Err(AuthError::ResetIncomplete);
            }
            let password = records::load::<PasswordRecord>(&store, tenant, a.id).await?;
            let phc = match &phc {
                Some(phc) => phc.clone(),
                None => {
                    let policy = store
                        .tenant(tenant)
                        .await?
                        .map(|t| t.settings.password_policy)
                        .unwrap_or_default();
                    let mut violations = evaluate_policy(&policy, new, &crate::owner::context(a));
                    if let Some(old) = &password
                        && new.len() <= MAX_PASSWORD_BYTES
                        && self.verify(old.value.phc.as_str().into(), new).await?
                    {
                        violations.push(PolicyViolation::Reused);
                    }
                    if !violations.is_empty() {
                        return Err(AuthError::PolicyViolated(violations));
                    }
                    let hashed = self.hash(tenant, new).await?;
                    phc = Some(hashed.clone());
                    hashed
                }
            };
            let now = self.now();
            let mut record = live.record.value.clone();
            if let Some(t) = record.token.as_mut() {
                t.used_at = Some(now.unix_millis());
            }
            record.reset = None;
            let mut tx = AuthTx::new(
                tenant,
                now,
                AuditActor::Subject(SubjectId::Account(a.id)),
                *request,
            );
            tx.write(records::put(
                tenant,
                a.id,
                &PasswordRecord {
                    phc,
                    changed_at: now.unix_millis(),
                    must_change: false,
                },
                password.map_or(0, |p| p.revision),
                now,
            )?);
            tx.write(records::put(
                tenant,
                a.id,
                &record,
                live.record.revision,
                now,
            )?);
            self.end_sessions_in(&store, &mut tx, a.id).await?;
            tx.audit(
                &store,
                AuditKind::CredentialChanged,
                AuditObject::Account(a.id),
                vec![
                    Change::new(
                        "password",
                        None::<String>,
                        Some(if four_eyes {
                            "reset under four eyes"
                        } else {
                            "reset by e-mail recovery"
                        }),
                    ),
                    Change::new("sessions", None::<String>, Some("all ended")),
                ],
                None,
                true,
            )
            .await?;
            match tx.commit(&self.inner.svc, &store).await {
                Ok(()) => {
                    if let Some(mail) = self.changed_mail(a) {
                        self.send_best_effort(tenant, mail).await;
                    }
                    return Ok(());
                }
                // A concurrent completion, login or request changed a record: read
                // again (a used token is then refused).
                Err(e) if conflict(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Err(AuthError::Unavailable("recovery record kept changing"))
    }

    /// Checks a presented token against the account's record: `Ok(Err(..))` with the
    /// account (if there is one) and the reason when it is refused. The keyed hash is
    /// computed and compared (in constant time) whatever is stored.
    pub(crate) async fn check_recovery_token(
        &self,
        store: &DynStore,
        tenant: TenantId,
        presented: &PresentedRecovery,
    ) -> Result<std::result::Result<LiveToken, (Option<AccountId>, Refusal)>> {
        let now = self.now().unix_millis();
        let account = store.account(tenant, presented.account).await?;
        let record = match &account {
            Some(a) => records::load::<RecoveryRecord>(store, tenant, a.id).await?,
            None => None,
        };
        let stored = record.as_ref().and_then(|r| r.value.token.clone());
        let peppers = &self.inner.peppers;
        let pepper = stored
            .as_ref()
            .map(|t| t.pepper.as_str())
            .filter(|id| peppers.by_id(id).is_some())
            .unwrap_or(peppers.current().id());
        let expected = keyed_hash(
            peppers,
            pepper,
            TOKEN_LABEL,
            tenant,
            presented.account,
            &presented.text,
        )?;
        let matches = stored.as_ref().is_some_and(|t| {
            let mut candidate = [0u8; 32];
            t.pepper == pepper
                && hex::decode_to_slice(&t.hash, &mut candidate).is_ok()
                && bool::from(candidate.ct_eq(&expected))
        });
        let Some(account) = account else {
            return Ok(Err((None, Refusal::NoAccount)));
        };
        let (Some(record), Some(token)) = (record, stored) else {
            return Ok(Err((Some(account.id), Refusal::NothingPending)));
        };
        if !matches {
            return Ok(Err((Some(account.id), Refusal::Wrong)));
        }
        if token.used_at.is_some() {
            return Ok(Err((Some(account.id), Refusal::Used)));
        }
        if now >= token.expires_at {
            return Ok(Err((Some(account.id), Refusal::Expired)));
        }
        if !account.is_usable_at(self.now()) {
            return Ok(Err((Some(account.id), Refusal::NotUsable)));
        }
        Ok(Ok(LiveToken {
            account,
            record,
            token,
        }))
    }

    /// A fresh token for `account` and what to store of it.
    pub(crate) fn new_recovery_token(
        &self,
        tenant: TenantId,
        account: AccountId,
        now: Timestamp,
        four_eyes: bool,
    ) -> Result<(Zeroizing<String>, RecoveryTokenRecord)> {
        let mut secret = Zeroizing::new([0u8; SECRET_LEN]);
        getrandom::fill(secret.as_mut_slice()).map_err(|_| AuthError::Rng)?;
        let mut text = Zeroizing::new(String::with_capacity(RECOVERY_TOKEN_LEN));
        text.push_str(PREFIX);
        text.push_str(&hex::encode(account.as_bytes()));
        text.push_str(&Zeroizing::new(hex::encode(secret.as_slice())));
        let pepper = self.inner.peppers.current().id().to_owned();
        let hash = keyed_hash(
            &self.inner.peppers,
            &pepper,
            TOKEN_LABEL,
            tenant,
            account,
            &text,
        )?;
        let stored = RecoveryTokenRecord {
            hash: hex::encode(hash),
            pepper,
            issued_at: now.unix_millis(),
            expires_at: now
                .unix_millis()
                .saturating_add(millis(self.inner.config.recovery.token_validity)),
            used_at: None,
            four_eyes,
        };
        Ok((text, stored))
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_the_documented_shape_and_malformed_ones_are_none() {
        let account = AccountId::random().unwrap();
        let mut secret = [0u8; SECRET_LEN];
        getrandom::fill(&mut secret).unwrap();
        let text = format!(
            "{PREFIX}{}{}",
            hex::encode(account.as_bytes()),
            hex::encode(secret)
        );
        assert_eq!(text.len(), RECOVERY_TOKEN_LEN);
        assert_eq!(RECOVERY_TOKEN_LEN, 100);
        let p = PresentedRecovery::parse(&format!(" {text}\n")).unwrap();
        assert_eq!(p.account, account);
        assert!(!format!("{p:?}").contains(&text[36..]));
        let upper = text.to_uppercase();
        let other_prefix = text.replacen("cr1_", "cp1_", 1);
        let mut multibyte = text[..RECOVERY_TOKEN_LEN - 2].to_owned();
        multibyte.push('é');
        for bad in [
            "",
            "cr1_",
            &text[..RECOVERY_TOKEN_LEN - 1],
            &format!("{text}0"),
            upper.as_str(),
            other_prefix.as_str(),
            multibyte.as_str(),
        ] {
            assert!(PresentedRecovery::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_recovery_counter_is_no_real_account() {
        assert_ne!(RECOVERY_ATTEMPTS, crate::ALL_ACCOUNTS);
        // Not a UUIDv7: the version nibble is 0.
        assert_eq!(RECOVERY_ATTEMPTS.as_bytes()[6] >> 4, 0);
    }
}
