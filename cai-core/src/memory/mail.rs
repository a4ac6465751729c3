//! [`MemoryMailer`]: keeps sent mail for tests to read.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;

use crate::ports::{Mail, MailError, Mailer};

/// A [`Mailer`] that sends nothing and remembers every message, so a test can read the
/// invitation link a user would have received. [`fail_next`](Self::fail_next) makes the
/// next send fail, to test what the service does when mail is down.
#[derive(Debug, Default)]
pub struct MemoryMailer {
    sent: Mutex<Vec<Mail>>,
    fail_next: AtomicBool,
}

impl MemoryMailer {
    /// A mailer that has sent nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every message sent so far, oldest first.
    pub fn sent(&self) -> Vec<Mail> {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// With `true`, the next [`send`](Mailer::send) fails (and is not recorded); the
    /// switch then resets itself. `false` clears it.
    pub fn fail_next(&self, fail: bool) {
        self.fail_next.store(fail, Ordering::SeqCst);
    }
}

#[async_trait]
impl Mailer for MemoryMailer {
    async fn send(&self, mail: Mail) -> Result<(), MailError> {
        if self.fail_next.swap(false, Ordering::SeqCst) {
            return Err(MailError("memory mailer told to fail".to_owned()));
        }
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(mail);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use zeroize::Zeroizing;

    use super::*;
    use crate::domain::Email;

    fn mail(subject: &str) -> Mail {
        Mail {
            to: Email::parse("client@example.org").unwrap(),
            subject: subject.to_owned(),
            body: Zeroizing::new("https://example.org/#inv_secret".to_owned()),
        }
    }

    #[tokio::test]
    async fn records_and_fails_once_when_told() {
        let mailer = MemoryMailer::new();
        mailer.send(mail("one")).await.unwrap();
        mailer.fail_next(true);
        assert!(mailer.send(mail("two")).await.is_err());
        mailer.send(mail("three")).await.unwrap();
        mailer.fail_next(true);
        mailer.fail_next(false);
        mailer.send(mail("four")).await.unwrap();
        let subjects: Vec<String> = mailer.sent().into_iter().map(|m| m.subject).collect();
        assert_eq!(subjects, ["one", "three", "four"]);
        assert_eq!(
            mailer.sent()[0].body.as_str(),
            "https://example.org/#inv_secret"
        );
        assert!(!format!("{mailer:?}").contains("inv_secret"));
    }
}
