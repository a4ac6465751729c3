//! Retention policies per content kind (R-P2) and the presets of R-P7. Deadlines are
//! enforced by the retention job the host runs (`cai-store`); this module only says
//! what they are and validates them.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::time::{days, hours};

/// What happens to a session's content when the session is closed (R-S4). JSON:
/// `"keep"` or `"delete_on_close"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContentRetention {
    /// Keep it for later documentation, until the policy's `session_content` deadline.
    Keep,
    /// Delete it when the session is closed.
    DeleteOnClose,
}

/// How long each kind of data is kept. `None` means "until deleted by someone"; every
/// `Some` deadline is enforced automatically.
///
/// JSON: every duration in whole seconds, its field name ending in `_secs`
/// (`"ip_logs_secs": 1209600`); `None` is `null`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionPolicy {
    /// What closing a session does to its content.
    pub on_close: ContentRetention,
    /// Content of closed sessions, counted from closing.
    #[serde(
        rename = "session_content_secs",
        default,
        with = "crate::json::secs_opt"
    )]
    pub session_content: Option<Duration>,
    /// Uploaded files, counted from upload.
    #[serde(rename = "files_secs", default, with = "crate::json::secs_opt")]
    pub files: Option<Duration>,
    /// Technical logs with IP addresses: at most [`RetentionPolicy::MAX_IP_LOGS`].
    #[serde(rename = "ip_logs_secs", with = "crate::json::secs")]
    pub ip_logs: Duration,
    /// Login records (R-A9).
    #[serde(rename = "login_records_secs", with = "crate::json::secs")]
    pub login_records: Duration,
    /// Sessions without activity are deleted after this long.
    #[serde(
        rename = "inactive_sessions_secs",
        default,
        with = "crate::json::secs_opt"
    )]
    pub inactive_sessions: Option<Duration>,
    /// Accounts without login are deactivated after this long.
    #[serde(
        rename = "inactive_accounts_secs",
        default,
        with = "crate::json::secs_opt"
    )]
    pub inactive_accounts: Option<Duration>,
    /// Guests are deactivated this long after joining.
    #[serde(rename = "guest_deactivate_after_secs", with = "crate::json::secs")]
    pub guest_deactivate_after: Duration,
    /// Guests are deleted this long after joining (not before deactivation).
    #[serde(rename = "guest_delete_after_secs", with = "crate::json::secs")]
    pub guest_delete_after: Duration,
    /// Deactivated accounts are pseudonymised this long after deactivation, unless the
    /// deactivation names another date (R-I7).
    #[serde(rename = "pseudonymise_after_secs", with = "crate::json::secs")]
    pub pseudonymise_after: Duration,
    /// Accounts are anonymised this long after their exit date (R-I7).
    #[serde(
        rename = "anonymise_after_exit_secs",
        default,
        with = "crate::json::secs_opt"
    )]
    pub anonymise_after_exit: Option<Duration>,
    /// Audit trail entries.
    #[serde(rename = "audit_trail_secs", with = "crate::json::secs")]
    pub audit_trail: Duration,
}

/// The named presets of R-P7. JSON: `"standard"`, `"ephemeral"`, `"documentation"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetentionPreset {
    /// Anonymous users deactivated after 6 h and deleted after 47 h; inactive sessions
    /// deleted after 30 days; IP logs kept 14 days; content kept for documentation for
    /// 10 years after closing (a common duty for counselling records).
    Standard,
    /// For anonymous, low-threshold counselling: content deleted when the session
    /// closes, IP logs 14 days, guests as in `Standard`, inactive sessions 30 days.
    Ephemeral,
    /// For documentation-heavy settings: content kept until deleted, IP logs 52 days,
    /// login records 6 months, audit trail 10 years.
    Documentation,
}

impl RetentionPolicy {
    /// Longest IP log retention allowed (R-P2: at most six months).
    pub const MAX_IP_LOGS: Duration = days(183);
    /// Shortest audit trail retention allowed: an audit trail that forgets within a
    /// year helps no investigation.
    pub const MIN_AUDIT_TRAIL: Duration = days(365);

    /// The policy of a preset.
    pub fn preset(preset: RetentionPreset) -> Self {
        let standard = Self {
            on_close: ContentRetention::Keep,
            session_content: Some(days(3653)),
            files: Some(days(3653)),
            ip_logs: days(14),
            login_records: days(90),
            inactive_sessions: Some(days(30)),
            inactive_accounts: Some(days(730)),
            guest_deactivate_after: hours(6),
            guest_delete_after: hours(47),
            pseudonymise_after: days(30),
            anonymise_after_exit: Some(days(3 * 365)),
            audit_trail: days(3653),
        };
        match preset {
            RetentionPreset::Standard => standard,
            RetentionPreset::Ephemeral => Self {
                on_close: ContentRetention::DeleteOnClose,
                session_content: Some(Duration::ZERO),
                files: Some(days(30)),
                ..standard
            },
            RetentionPreset::Documentation => Self {
                session_content: None,
                files: None,
                ip_logs: days(52),
                login_records: days(183),
                inactive_sessions: None,
                ..standard
            },
        }
    }

    /// Checks the policy's limits: IP logs at most six months, guests not deleted before
    /// they are deactivated, the audit trail kept at least a year.
    pub fn validate(&self) -> Result<()> {
        let invalid = |reason| Error::Invalid {
            what: "retention policy",
            reason,
        };
        if self.ip_logs > Self::MAX_IP_LOGS {
            return Err(invalid("IP logs may be kept at most six months"));
        }
        if self.guest_delete_after < self.guest_deactivate_after {
            return Err(invalid("guests would be deleted before deactivation"));
        }
        if self.audit_trail < Self::MIN_AUDIT_TRAIL {
            return Err(invalid("audit trail must be kept at least a year"));
        }
        Ok(())
    }
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        Self::preset(RetentionPreset::Standard)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_valid_and_match_r_p7() {
        for p in [
            RetentionPreset::Standard,
            RetentionPreset::Ephemeral,
            RetentionPreset::Documentation,
        ] {
            RetentionPolicy::preset(p).validate().unwrap();
        }
        let s = RetentionPolicy::preset(RetentionPreset::Standard);
        assert_eq!(s.guest_deactivate_after, hours(6));
        assert_eq!(s.guest_delete_after, hours(47));
        assert_eq!(s.inactive_sessions, Some(days(30)));
        assert_eq!(s.ip_logs, days(14));
    }

    #[test]
    fn limits() {
        let p = RetentionPolicy {
            ip_logs: days(200),
            ..RetentionPolicy::default()
        };
        assert!(p.validate().is_err());
        let p = RetentionPolicy {
            guest_delete_after: hours(1),
            ..RetentionPolicy::default()
        };
        assert!(p.validate().is_err());
    }
}
