//! [`RecoveryConfig`]: the tunables of password recovery and the four-eyes reset
//! (`AuthConfig::recovery`, `docs/AUTH.md` sections 4d and 4e).

use std::time::Duration;

use cai_core::throttle::ThrottlePolicy;

use crate::error::{AuthError, Result};

/// Tunables of password recovery and the four-eyes reset ([`AuthConfig::recovery`]).
///
/// [`AuthConfig::recovery`]: crate::AuthConfig::recovery
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryConfig {
    /// How long a mailed token works (default 30 min; 1 min ..= 24 h). It is refused
    /// from `issued + token_validity` on.
    pub token_validity: Duration,
    /// How long a four-eyes reset request waits for its approval before it lapses
    /// (default 72 h; at most 30 days).
    pub request_validity: Duration,
    /// How long a QR challenge can be confirmed after it is shown, and how long after
    /// the confirmation the new password can be set (default 10 min; at most 1 h;
    /// never past the token's end).
    pub challenge_validity: Duration,
    /// Wrong confirmations of one challenge before it is void and a new one must be
    /// shown (default 3).
    pub challenge_attempts: u8,
    /// The page the mailed link opens, such as `https://beratung.example/recover`. The
    /// token is appended as the URL *fragment* (`…/recover#cr1_…`), which browsers do not
    /// send to servers; the page posts it. `None` (the default): the mail carries the
    /// token as text only. Must start with `https://` (or `http://localhost`) and hold
    /// no `#`.
    pub link: Option<String>,
    /// Recovery requests and wrong tokens per client address (default 20 free, then
    /// 1 s doubling to 15 min). Every request counts; a right token gives its count
    /// back.
    pub per_source: ThrottlePolicy,
    /// Recovery requests per e-mail address, whether an account has it or not, so
    /// nobody floods a mailbox (default 3 free, then 1 min doubling to 1 h).
    pub per_address: ThrottlePolicy,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        Self {
            token_validity: Duration::from_secs(30 * 60),
            request_validity: Duration::from_secs(72 * 3600),
            challenge_validity: Duration::from_secs(10 * 60),
            challenge_attempts: 3,
            link: None,
            per_source: ThrottlePolicy {
                free_attempts: 20,
                ..ThrottlePolicy::default()
            },
            per_address: ThrottlePolicy {
                free_attempts: 3,
                base_delay: Duration::from_secs(60),
                max_delay: Duration::from_secs(3600),
                forget_after: Duration::from_secs(24 * 3600),
            },
        }
    }
}

impl RecoveryConfig {
    /// Checks every value.
    pub fn validate(&self) -> Result<()> {
        let minute = Duration::from_secs(60);
        if self.token_validity < minute || self.token_validity > Duration::from_secs(24 * 3600) {
            return Err(AuthError::Config(
                "recovery token validity must be 1 min ..= 24 h",
            ));
        }
        if self.request_validity < minute
            || self.request_validity > Duration::from_secs(30 * 24 * 3600)
        {
            return Err(AuthError::Config(
                "reset request validity must be 1 min ..= 30 days",
            ));
        }
        if self.challenge_validity < minute || self.challenge_validity > Duration::from_secs(3600) {
            return Err(AuthError::Config(
                "challenge validity must be 1 min ..= 1 h",
            ));
        }
        if self.challenge_attempts == 0 {
            return Err(AuthError::Config("challenge attempts must be at least 1"));
        }
        if let Some(link) = &self.link {
            let scheme_ok = link.starts_with("https://")
                || link.starts_with("http://localhost")
                || link.starts_with("http://127.0.0.1");
            if !scheme_ok
                || link.contains('#')
                || link.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                return Err(AuthError::Config(
                    "recovery link must be https:// (or http://localhost) without a fragment",
                ));
            }
        }
        self.per_source
            .validate()
            .map_err(|_| AuthError::Config("recovery per-source throttle invalid"))?;
        self.per_address
            .validate()
            .map_err(|_| AuthError::Config("recovery per-address throttle invalid"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_as_documented() {
        let c = RecoveryConfig::default();
        c.validate().unwrap();
        assert_eq!(c.token_validity, Duration::from_secs(30 * 60));
        assert_eq!(c.request_validity, Duration::from_secs(72 * 3600));
        assert_eq!(c.challenge_validity, Duration::from_secs(10 * 60));
        assert_eq!(c.challenge_attempts, 3);
        assert_eq!(c.link, None);
    }

    #[test]
    fn out_of_range_values_are_refused() {
        let ok = RecoveryConfig::default();
        let s = Duration::from_secs;
        let link = |l: &str| RecoveryConfig {
            link: Some(l.to_owned()),
            ..ok.clone()
        };
        link("https://beratung.example/recover").validate().unwrap();
        link("http://localhost:8080/recover").validate().unwrap();
        for bad in [
            RecoveryConfig {
                token_validity: s(59),
                ..ok.clone()
            },
            RecoveryConfig {
                token_validity: s(24 * 3600 + 1),
                ..ok.clone()
            },
            RecoveryConfig {
                request_validity: s(31 * 24 * 3600),
                ..ok.clone()
            },
            RecoveryConfig {
                challenge_validity: s(3601),
                ..ok.clone()
            },
            RecoveryConfig {
                challenge_attempts: 0,
                ..ok.clone()
            },
            link("ftp://beratung.example/"),
            link("http://beratung.example/recover"),
            link("https://beratung.example/recover#"),
            link("https://beratung.example/re\ncover"),
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
