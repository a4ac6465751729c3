//! Outgoing mail (invitations, recovery codes) as a port.

use std::fmt;

use async_trait::async_trait;
use zeroize::Zeroizing;

use crate::domain::Email;

/// One message. The body may hold a secret (an invitation link): it is zeroized on
/// drop and redacted in `Debug`.
#[derive(Clone)]
pub struct Mail {
    /// Recipient.
    pub to: Email,
    /// Subject line (no secrets).
    pub subject: String,
    /// Body text.
    pub body: Zeroizing<String>,
}

impl fmt::Debug for Mail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mail")
            .field("to", &self.to)
            .field("subject", &self.subject)
            .field("body", &"<redacted>")
            .finish()
    }
}

/// Sends mail.
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Whether this port can serve now, for health checks ([`Counselling::health`]).
    /// The default answers yes; a backend that talks to a server overrides it with a
    /// cheap round trip (a `SELECT 1`, a KMS key lookup, an SMTP `NOOP`).
    ///
    /// [`Counselling::health`]: crate::Counselling::health
    async fn health(&self) -> Result<(), super::Unhealthy> {
        Ok(())
    }

    /// Sends one message; an error means it was not sent.
    async fn send(&self, mail: Mail) -> Result<(), MailError>;
}

/// A sending failure.
#[derive(Debug, Clone, thiserror::Error)]
#[error("mail not sent: {0}")]
pub struct MailError(pub String);
