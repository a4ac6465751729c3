//! Second-factor enrolment demanded at login (R-A4, R-T3): where the tenant's
//! `TwoFactorPolicy` requires a second factor — for accounts holding a role with an
//! administrative permission (the default), or for everyone — and the account has none
//! yet, the right password gives no session but
//! [`LoginOutcome::SecondFactorEnrolmentRequired`]: a single-use ticket with which the
//! user enrols a TOTP ([`Authenticator::begin_enrolment_with_ticket`]) and confirms it
//! ([`Authenticator::finish_enrolment_with_ticket`]), which yields an AAL2 login and
//! the recovery codes.

use cai_core::Timestamp;
use cai_core::authz::Authentication;
use cai_core::domain::{Account, RequestMeta};
use cai_core::ports::DynStore;

use crate::authenticator::Authenticator;
use crate::error::{AuthError, Result};
use crate::login::LoginOutcome;
use crate::records::{self, PasswordRecord, TokenPurpose, TokenRecord};
use crate::recovery_codes::RecoveryCodes;
use crate::second_factor::TotpEnrolment;
use crate::token::{Presented, Token};

/// The ticket of a login that must enrol a second factor first.
#[derive(Debug)]
pub struct EnrolmentTicket {
    /// The ticket, for the client (once).
    pub ticket: Token,
    /// When it stops working.
    pub expires_at: Timestamp,
}

/// A finished enrolment: the login's outcome (an AAL2 session, or a change ticket)
/// and the recovery codes to show once.
#[derive(Debug)]
pub struct EnrolledLogin {
    /// What the login gives now.
    pub outcome: LoginOutcome,
    /// The new recovery codes.
    pub recovery_codes: RecoveryCodes,
}

impl Authenticator {
    /// Whether the tenant requires `account` to use a second factor.
    pub(crate) async fn second_factor_required(
        &self,
        store: &DynStore,
        account: &Account,
    ) -> Result<bool> {
        let Some(t) = store.tenant(account.tenant).await? else {
            return Ok(false);
        };
        let policy = t.settings.two_factor;
        if policy.required_for_everyone {
            return Ok(true);
        }
        if !policy.required_for_admins {
            return Ok(false);
        }
        let roles = store.roles(account.tenant).await?;
        Ok(roles
            .iter()
            .filter(|r| account.has_role(r.id))
            .any(|r| r.permissions.iter().any(|a| a.is_administrative())))
    }

    /// Starts TOTP enrolment with the ticket of
    /// [`LoginOutcome::SecondFactorEnrolmentRequired`]; the ticket stays valid for
    /// [`finish_enrolment_with_ticket`](Self::finish_enrolment_with_ticket).
    pub async fn begin_enrolment_with_ticket(
        &self,
        ticket: &str,
        issuer: &str,
        request: RequestMeta,
    ) -> Result<TotpEnrolment> {
        let (_, presented) = self.live_enrolment_ticket(ticket).await?;
        self.enrol(presented.tenant, presented.account, issuer, request)
            .await
    }

    /// Confirms the enrolment with a code from the app: uses up the ticket and
    /// finishes the login with a second factor.
    pub async fn finish_enrolment_with_ticket(
        &self,
        ticket: &str,
        code: &str,
        request: RequestMeta,
    ) -> Result<EnrolledLogin> {
        let (store, presented) = self.live_enrolment_ticket(ticket).await?;
        let (tenant, account) = (presented.tenant, presented.account);
        let recovery_codes = self.confirm(tenant, account, code, &request).await?;
        let Some(entry) = self
            .remove_token(&store, &presented, TokenPurpose::Enrolment)
            .await?
        else {
            return Err(AuthError::InvalidToken);
        };
        let (store, a, policy) = self.usable_account(tenant, account).await?;
        // After an OpenID Connect first step the password played no part.
        let password = if entry.external {
            None
        } else {
            Some(
                records::load::<PasswordRecord>(&store, tenant, account)
                    .await?
                    .ok_or(AuthError::InvalidToken)?,
            )
        };
        let authentication = Authentication {
            second_factor: true,
            at: self.now(),
        };
        let outcome = self
            .after_authentication(
                &store,
                &a,
                password.as_ref().map(|p| (&p.value, policy.max_age_days)),
                authentication,
                &request,
            )
            .await?;
        Ok(EnrolledLogin {
            outcome,
            recovery_codes,
        })
    }

    async fn live_enrolment_ticket(&self, ticket: &str) -> Result<(DynStore, Presented)> {
        let presented = Presented::parse(ticket, TokenPurpose::Enrolment)?;
        let store = self
            .store(presented.tenant)
            .await?
            .ok_or(AuthError::InvalidToken)?;
        let now = self.now();
        let live = records::load::<TokenRecord>(&store, presented.tenant, presented.account)
            .await?
            .is_some_and(|r| {
                r.value.entries.iter().any(|e| {
                    e.purpose == TokenPurpose::Enrolment
                        && presented.matches(&e.hash)
                        && self.is_live(e, now)
                })
            });
        if !live {
            return Err(AuthError::InvalidToken);
        }
        Ok((store, presented))
    }
}
