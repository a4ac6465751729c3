//! The QR step of the four-eyes reset (R-A6): the subject's screen shows a one-time
//! challenge ([`Authenticator::show_reset_challenge`], reachable only with the mailed
//! four-eyes token), and the approving administrator confirms it from their own AAL2
//! session after scanning it or hearing it read back
//! ([`Authenticator::confirm_reset_challenge`]). Order of checks and expiries: the
//! [`reset`](crate::reset) module and `docs/AUTH.md`, section 4e.

use std::fmt;

use cai_core::authz::{Action, DenyReason};
use cai_core::domain::{AuditActor, AuditKind, AuditObject, Change, RequestMeta};
use cai_core::id::{AccountId, SubjectId, TenantId};
use cai_core::{Caller, Timestamp};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::audit::AuthTx;
use crate::authenticator::Authenticator;
use crate::error::{AuthError, Result};
use crate::records::{self, ChallengeRecord, RecoveryRecord};
use crate::recovery::{PresentedRecovery, Refusal};
use crate::recovery_codes::keyed_hash;
use crate::reset::{PasswordResetStatus, conflict, denied, live_reset, none_pending};
use crate::sessions::RETRIES;

const CHALLENGE_LABEL: &[u8] = b"cai-auth reset challenge v1\0";
const CHALLENGE_CHARS: usize = 16;
const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// The one-time challenge the subject's screen shows: the approving administrator
/// scans the QR code or reads the code back, and confirms it
/// ([`Authenticator::confirm_reset_challenge`]). Zeroized on drop; `Debug` redacted.
pub struct ResetChallenge {
    /// 80 random bits as 16 base32 letters and digits, shown `XXXX-XXXX-XXXX-XXXX`
    /// (case, dashes and spaces are ignored when confirmed).
    pub code: Zeroizing<String>,
    /// The code as an SVG QR code.
    pub qr_svg: Zeroizing<String>,
    /// When the challenge stops working.
    pub expires_at: Timestamp,
    /// The administrator who approved the reset and must confirm the challenge.
    pub approver: AccountId,
    /// The token that sets the password once the approver confirmed this challenge
    /// (`complete_recovery`). Showing the challenge replaced the mailed token (and any
    /// earlier one): only the screen that showed the code the approver confirmed can
    /// set the password — someone who also reads the user's mailbox cannot.
    pub token: Zeroizing<String>,
}

impl fmt::Debug for ResetChallenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResetChallenge")
            .field("code", &"<redacted>")
            .field("qr_svg", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .field("approver", &self.approver)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// The canonical form of a typed or scanned challenge: upper case, without dashes
/// and spaces; `None` if it cannot be one.
fn normalise(input: &str) -> Option<Zeroizing<String>> {
    let s: Zeroizing<String> = Zeroizing::new(
        input
            .chars()
            .filter(|c| *c != '-' && !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect(),
    );
    (s.len() == CHALLENGE_CHARS && s.bytes().all(|b| ALPHABET.contains(&b))).then_some(s)
}

impl Authenticator {
    /// The subject's side of the QR step: with the mailed four-eyes token, shows a
    /// fresh one-time challenge (QR code and text) for the approver to confirm, and
    /// replaces the token with a new one ([`ResetChallenge::token`], same end) that only
    /// this screen holds: the password is set with it, the mailed one stops working.
    /// Each call replaces the previous challenge and token and withdraws an earlier
    /// confirmation.
    /// Token failures are [`AuthError::InvalidToken`] (counted like
    /// [`complete_recovery`](Self::complete_recovery)'s); a token without an approved
    /// reset is [`AuthError::ResetIncomplete`].
    pub async fn show_reset_challenge(
        &self,
        tenant: TenantId,
        token: &str,
        request: RequestMeta,
    ) -> Result<ResetChallenge> {
        let keys = self.recovery_keys(tenant, None, &request)?;
        let failures = self.inner.svc.ports().failures.clone();
        let reserved = failures.reserve_all(&keys, self.now()).await?;
        let outcome = async {
            let store = self.store(tenant).await?.ok_or(AuthError::InvalidToken)?;
            let Some(presented) = PresentedRecovery::parse(token) else {
                self.recovery_refused(
                    &store,
                    tenant,
                    None,
                    Refusal::Malformed.reason(),
                    &request,
                    &reserved,
                )
                .await;
                return Err(AuthError::InvalidToken);
            };
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
                            &request,
                            &reserved,
                        )
                        .await;
                        return Err(AuthError::InvalidToken);
                    }
                };
                let now = self.now();
                let account = live.account.id;
                let Some((mut reset, approver)) =
                    live_reset(Some(&live.record.value), now.unix_millis())
                        .filter(|_| live.token.four_eyes)
                        .and_then(|r| r.approved_by.map(|by| (r, by)))
                else {
                    return Err(AuthError::ResetIncomplete);
                };
                let (code, hash, pepper) = self.new_challenge(tenant, account)?;
                let expires_at = now
                    .plus(self.inner.config.recovery.challenge_validity)
                    .unix_millis()
                    .min(reset.expires_at);
                reset.challenge = Some(ChallengeRecord {
                    hash,
                    pepper,
                    expires_at,
                    wrong: 0,
                });
                reset.verified_at = None;
                reset.verified_until = None;
                // The mailed token is used up here: a fresh one, ending when it did,
                // goes to this screen only.
                let (new_token, mut stored) =
                    self.new_recovery_token(tenant, account, now, true)?;
                stored.expires_at = live.token.expires_at;
                let record = RecoveryRecord {
                    token: Some(stored),
                    reset: Some(reset),
                };
                let mut tx = AuthTx::new(
                    tenant,
                    now,
                    AuditActor::Subject(SubjectId::Account(account)),
                    request,
                );
                tx.write(records::put(
                    tenant,
                    account,
                    &record,
                    live.record.revision,
                    now,
                )?);
                tx.audit(
                    &store,
                    AuditKind::AccountUpdated,
                    AuditObject::Account(account),
                    vec![Change::new(
                        "password_reset",
                        None::<String>,
                        Some("QR challenge shown; awaits the approver's confirmation"),
                    )],
                    None,
                    true,
                )
                .await?;
                match tx.commit(&self.inner.svc, &store).await {
                    Ok(()) => {
                        let qr_svg = crate::totp::qr_svg(&code)?;
                        return Ok(ResetChallenge {
                            code,
                            qr_svg,
                            expires_at: Timestamp::from_unix_millis(expires_at),
                            approver,
                            token: new_token,
                        });
                    }
                    Err(e) if conflict(&e) => {}
                    Err(e) => return Err(e),
                }
            }
            Err(AuthError::Unavailable("recovery record kept changing"))
        }
        .await;
        if !matches!(outcome, Err(AuthError::InvalidToken))
            && let Err(e) = failures.refund_all(&keys, &reserved).await
        {
            tracing::warn!(%tenant, error = %e, "recovery attempt not refunded");
        }
        outcome
    }

    /// The approver's side of the QR step: confirms the challenge the subject's
    /// screen shows (scanned, or read back in a video call). Only the approving
    /// administrator confirms, with a fresh AAL2 session. A wrong, expired or missing
    /// challenge is [`AuthError::WrongCode`]. Afterwards the subject can set the new
    /// password for `challenge_validity` (within the token's validity).
    pub async fn confirm_reset_challenge(
        &self,
        approver: &Caller,
        tenant: TenantId,
        account: AccountId,
        code: &str,
    ) -> Result<PasswordResetStatus> {
        let action = Action::ApprovePasswordReset;
        let (store, decision, approver_id) = self
            .authorize_reset(approver, tenant, account, action, "confirmation")
            .await?;
        let attempts = self.inner.config.recovery.challenge_attempts;
        for _ in 0..RETRIES {
            let now = self.now();
            let Some(existing) = records::load::<RecoveryRecord>(&store, tenant, account).await?
            else {
                return Err(none_pending());
            };
            let Some(mut reset) = live_reset(Some(&existing.value), now.unix_millis())
                .filter(|r| r.approved_by.is_some())
            else {
                return Err(none_pending());
            };
            if reset.requested_by == approver_id {
                self.reset_denied(
                    &store,
                    approver,
                    account,
                    "confirmation refused: the requester cannot confirm",
                )
                .await;
                return Err(denied(action, DenyReason::FourEyes));
            }
            if reset.approved_by != Some(approver_id) {
                self.reset_denied(
                    &store,
                    approver,
                    account,
                    "confirmation refused: not the approving administrator",
                )
                .await;
                return Err(denied(action, DenyReason::NoRelation));
            }
            let Some(mut challenge) = reset
                .challenge
                .clone()
                .filter(|c| now.unix_millis() < c.expires_at)
            else {
                self.reset_denied(
                    &store,
                    approver,
                    account,
                    "confirmation refused: no challenge shown, or it expired",
                )
                .await;
                return Err(AuthError::WrongCode);
            };
            let right = match normalise(code) {
                Some(code) => {
                    let expected = keyed_hash(
                        &self.inner.peppers,
                        &challenge.pepper,
                        CHALLENGE_LABEL,
                        tenant,
                        account,
                        &code,
                    )?;
                    let mut stored = [0u8; 32];
                    hex::decode_to_slice(&challenge.hash, &mut stored).is_ok()
                        && bool::from(stored.ct_eq(&expected))
                }
                None => false,
            };
            let (change, result) = if right {
                reset.challenge = None;
                reset.verified_at = Some(now.unix_millis());
                reset.verified_until = Some(
                    now.plus(self.inner.config.recovery.challenge_validity)
                        .unix_millis()
                        .min(reset.expires_at),
                );
                (
                    "QR challenge confirmed; the new password can be set".to_owned(),
                    Ok(PasswordResetStatus::of(account, &reset)),
                )
            } else {
                challenge.wrong = challenge.wrong.saturating_add(1);
                let void = challenge.wrong >= attempts;
                let change = if void {
                    format!(
                        "wrong challenge code ({} of {attempts}); challenge void",
                        challenge.wrong
                    )
                } else {
                    format!("wrong challenge code ({} of {attempts})", challenge.wrong)
                };
                reset.challenge = (!void).then_some(challenge);
                (change, Err(AuthError::WrongCode))
            };
            let record = RecoveryRecord {
                token: existing.value.token.clone(),
                reset: Some(reset),
            };
            let mut tx = self.reset_tx(approver, tenant, now);
            tx.write(records::put(
                tenant,
                account,
                &record,
                existing.revision,
                now,
            )?);
            tx.audit(
                &store,
                if right {
                    AuditKind::AccountUpdated
                } else {
                    AuditKind::AccessDenied
                },
                AuditObject::Account(account),
                vec![Change::new("password_reset", None::<String>, Some(change))],
                right.then_some(&decision),
                true,
            )
            .await?;
            match tx.commit(&self.inner.svc, &store).await {
                Ok(()) => return result,
                // Confirmed or replaced meanwhile: read again.
                Err(e) if conflict(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Err(AuthError::Unavailable("recovery record kept changing"))
    }

    /// A fresh challenge for `account`: its display form and what to store of it.
    fn new_challenge(
        &self,
        tenant: TenantId,
        account: AccountId,
    ) -> Result<(Zeroizing<String>, String, String)> {
        let mut random = Zeroizing::new([0u8; CHALLENGE_CHARS]);
        getrandom::fill(random.as_mut_slice()).map_err(|_| AuthError::Rng)?;
        let plain: Zeroizing<String> = Zeroizing::new(
            random
                .iter()
                .map(|b| char::from(ALPHABET.get(usize::from(b & 31)).copied().unwrap_or(b'A')))
                .collect(),
        );
        let pepper = self.inner.peppers.current().id().to_owned();
        let hash = keyed_hash(
            &self.inner.peppers,
            &pepper,
            CHALLENGE_LABEL,
            tenant,
            account,
            &plain,
        )?;
        let mut shown = Zeroizing::new(String::with_capacity(CHALLENGE_CHARS + 3));
        for (i, c) in plain.chars().enumerate() {
            if i > 0 && i % 4 == 0 {
                shown.push('-');
            }
            shown.push(c);
        }
        Ok((shown, hex::encode(hash), pepper))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_read_back_in_any_spelling() {
        assert_eq!(
            normalise("abcd-efgh ijkl-mn23").unwrap().as_str(),
            "ABCDEFGHIJKLMN23"
        );
        for junk in [
            "",
            "ABCD-EFGH-IJKL-MNO",
            "ABCD-EFGH-IJKL-MNO1",
            "ÄBCD-EFGH-IJKL-MNOP",
        ] {
            assert!(normalise(junk).is_none(), "{junk}");
        }
    }
}
