//! The mails of recovery and the four-eyes reset, sent through cai-core's `Mailer`
//! port: the token (as text, and in a link's fragment if configured — never a query,
//! R-A8), the notice that a reset awaits approval, the confirmation of a change.

use std::time::Duration;

use cai_core::domain::Account;
use cai_core::id::TenantId;
use cai_core::ports::Mail;
use zeroize::Zeroizing;

use crate::authenticator::Authenticator;
use crate::error::{AuthError, Result};

fn minutes(d: Duration) -> u64 {
    d.as_secs().div_ceil(60)
}

impl Authenticator {
    /// The mail carrying a token: as text, and in a link's fragment if configured.
    pub(crate) fn token_mail(
        &self,
        a: &Account,
        token: &str,
        approved: Option<&str>,
    ) -> Result<Mail> {
        let to = a
            .email
            .clone()
            .ok_or(AuthError::Core(cai_core::Error::Invalid {
                what: "account",
                reason: "has no e-mail address",
            }))?;
        let config = &self.inner.config.recovery;
        let link = config
            .link
            .as_ref()
            .map(|l| format!("open this link to choose a new password:\n\n  {l}#{token}\n\nor "))
            .unwrap_or_default();
        let valid = minutes(config.token_validity);
        let body = match approved {
            None => format!(
                "Someone asked to reset the password of your account, hopefully you.\n\n\
                 To go on, {link}enter this recovery code where you asked for it:\n\n  {token}\n\n\
                 It works once and for {valid} minutes; a newer request replaces it. Your \
                 sign-in still asks for your second factor afterwards. If you did not ask, \
                 ignore this mail: your password stays as it is.\n"
            ),
            Some(approver) => format!(
                "{approver} approved the reset of your password.\n\n\
                 To go on, {link}enter this recovery code where you asked for it:\n\n  {token}\n\n\
                 Your screen then shows a QR code and a code such as ABCD-EFGH-JKMN-PQRS. Show \
                 it to {approver} in a video call or in person; once they confirm it, you can \
                 choose the new password. The recovery code works once and for {valid} minutes. \
                 If you did not ask for this, tell your administrators.\n"
            ),
        };
        Ok(Mail {
            to,
            subject: "Reset your password".to_owned(),
            body: Zeroizing::new(body),
        })
    }

    /// The notice that a reset awaits a second administrator's approval (no token).
    pub(crate) fn request_notice_mail(&self, a: &Account, by_admin: bool) -> Result<Mail> {
        let to = a
            .email
            .clone()
            .ok_or(AuthError::Core(cai_core::Error::Invalid {
                what: "account",
                reason: "has no e-mail address",
            }))?;
        let who = if by_admin {
            "An administrator asked for a reset of your password."
        } else {
            "Someone asked to reset the password of your account, hopefully you."
        };
        let body = format!(
            "{who}\n\nYour account can only be reset with the approval of a second \
             administrator, who has been told. Once one approves, you get a mail with a \
             recovery code; setting the new password then needs a short check with that \
             administrator (a video call or in person). If you did not ask for this, tell \
             your administrators.\n"
        );
        Ok(Mail {
            to,
            subject: "Password reset requested".to_owned(),
            body: Zeroizing::new(body),
        })
    }

    pub(crate) fn changed_mail(&self, a: &Account) -> Option<Mail> {
        Some(Mail {
            to: a.email.clone()?,
            subject: "Your password was changed".to_owned(),
            body: Zeroizing::new(
                "The password of your account was just reset, and every session of the \
                 account has ended. If this was not you, tell your administrators at once.\n"
                    .to_owned(),
            ),
        })
    }

    /// Sends `mail`; a failure is logged, not reported.
    pub(crate) async fn send_best_effort(&self, tenant: TenantId, mail: Mail) {
        if let Err(e) = self.inner.svc.ports().mailer.send(mail).await {
            tracing::warn!(%tenant, error = %e, "recovery mail not sent");
        }
    }
}
