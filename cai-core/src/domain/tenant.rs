//! Tenants (R-T1) and their defaults (R-T3).

use std::time::Duration;

use cai_crypto::modes::SessionMode;
use serde::{Deserialize, Serialize};

use super::retention::RetentionPolicy;
use super::text::{Name, Region};
use crate::error::{Error, Result};
use crate::id::TenantId;
use crate::time::{Timestamp, minutes};

/// One counselling centre or customer. Tenants are strictly isolated: every stored
/// record carries its tenant id, and every port read takes one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    /// The tenant's id.
    pub id: TenantId,
    /// Display name.
    pub name: Name,
    /// Data-residency region, which decides the storage backend (R-T2).
    pub region: Region,
    /// Defaults and policies.
    pub settings: TenantSettings,
    /// When the tenant was created.
    pub created_at: Timestamp,
    /// Incremented by the store on every update (optimistic concurrency).
    pub revision: u64,
}

/// What a tenant decides for all its sessions and accounts (R-T3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSettings {
    /// The mode a session gets when its creator names none.
    #[serde(with = "crate::json::mode")]
    pub default_mode: SessionMode,
    /// The least protective mode a session may be created in. Asking for less is an
    /// error ([`Error::EncryptionDowngrade`]), never a silent change.
    #[serde(with = "crate::json::mode")]
    pub minimum_mode: SessionMode,
    /// Retention deadlines.
    pub retention: RetentionPolicy,
    /// Password rules (enforced by `cai-auth`).
    pub password_policy: PasswordPolicy,
    /// Second-factor rules (enforced by `cai-auth`; `authorize` checks the result).
    pub two_factor: TwoFactorPolicy,
    /// Whether counsellors added to a session later may be given its history's keys
    /// (R-E4b).
    pub allow_history_sharing: bool,
    /// How recent an administrator's last authentication must be for administrative
    /// actions. JSON: `admin_reauth_window_secs`, whole seconds.
    #[serde(rename = "admin_reauth_window_secs", with = "crate::json::secs")]
    pub admin_reauth_window: Duration,
    /// Whether authors may edit their chat messages. An edit is a new version; every
    /// earlier version is kept, readable by the session's readers, and audited (R-S5).
    /// Documents, notes and whiteboards always have versions. Left out of JSON input:
    /// `false`.
    #[serde(default)]
    pub allow_message_editing: bool,
    /// Whether content outside end-to-end mode needs the session's signed mode
    /// descriptor first (`docs/E2E.md` §5): until the owner attached it
    /// ([`Counselling::attach_mode_descriptor`]), posting and editing content is
    /// `conflict`, so no client — and not the server itself in server-managed mode —
    /// seals anything under a mode only the server vouches for. End-to-end sessions
    /// carry their descriptor in the group and need no attachment. Left out of JSON
    /// input: `false`.
    ///
    /// [`Counselling::attach_mode_descriptor`]: crate::service::Counselling::attach_mode_descriptor
    #[serde(default)]
    pub require_mode_descriptor: bool,
    /// The smallest count a report shows (R-P6): a report cell counting fewer
    /// sessions or fewer distinct clients and guests is suppressed
    /// ([`Counselling::report`]). Between [`TenantSettings::REPORT_MIN_COUNT_LOWEST`]
    /// and [`TenantSettings::REPORT_MIN_COUNT_HIGHEST`]; left out of JSON input:
    /// [`TenantSettings::REPORT_MIN_COUNT_DEFAULT`].
    ///
    /// [`Counselling::report`]: crate::service::Counselling::report
    #[serde(default = "default_report_min_count")]
    pub report_min_count: u32,
}

fn default_report_min_count() -> u32 {
    TenantSettings::REPORT_MIN_COUNT_DEFAULT
}

impl TenantSettings {
    /// The default [`TenantSettings::report_min_count`].
    pub const REPORT_MIN_COUNT_DEFAULT: u32 = 5;
    /// The lowest [`TenantSettings::report_min_count`]: with 1, a cell could show a
    /// single client.
    pub const REPORT_MIN_COUNT_LOWEST: u32 = 2;
    /// The highest [`TenantSettings::report_min_count`].
    pub const REPORT_MIN_COUNT_HIGHEST: u32 = 1000;

    /// Checks every part; the default mode must be at least the minimum.
    pub fn validate(&self) -> Result<()> {
        if !self.minimum_mode.can_change_to(self.default_mode) {
            return Err(Error::Invalid {
                what: "tenant settings",
                reason: "default mode is below the minimum mode",
            });
        }
        if self.admin_reauth_window.is_zero() || self.admin_reauth_window > minutes(24 * 60) {
            return Err(Error::Invalid {
                what: "tenant settings",
                reason: "admin re-authentication window must be between 1 ms and 24 h",
            });
        }
        if !(Self::REPORT_MIN_COUNT_LOWEST..=Self::REPORT_MIN_COUNT_HIGHEST)
            .contains(&self.report_min_count)
        {
            return Err(Error::Invalid {
                what: "tenant settings",
                reason: "report minimum count must be between 2 and 1000",
            });
        }
        self.retention.validate()?;
        self.password_policy.validate()
    }
}

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            default_mode: SessionMode::SessionKey,
            minimum_mode: SessionMode::ServerManaged,
            retention: RetentionPolicy::default(),
            password_policy: PasswordPolicy::default(),
            two_factor: TwoFactorPolicy::default(),
            allow_history_sharing: false,
            admin_reauth_window: minutes(15),
            allow_message_editing: false,
            require_mode_descriptor: false,
            report_min_count: Self::REPORT_MIN_COUNT_DEFAULT,
        }
    }
}

/// Password rules (R-A2). `cai-auth` enforces them; the tenant stores them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordPolicy {
    /// Minimum length in characters.
    pub min_len: u16,
    /// Maximum length in characters.
    pub max_len: u16,
    /// Minimum number of digits.
    pub min_digits: u16,
    /// Minimum number of letters.
    pub min_letters: u16,
    /// Minimum number of special characters.
    pub min_special: u16,
    /// Which characters count as special (and are allowed).
    pub allowed_special: String,
    /// Forced change after this many days; `None` never.
    pub max_age_days: Option<u16>,
    /// Failed attempts before the account locks (default 10).
    pub max_failed_attempts: u16,
}

impl PasswordPolicy {
    /// Longest password any policy may allow: Argon2id input is bounded.
    pub const MAX_LEN_LIMIT: u16 = 1024;

    /// Checks that the rules can be satisfied and are bounded.
    pub fn validate(&self) -> Result<()> {
        let invalid = |reason| Error::Invalid {
            what: "password policy",
            reason,
        };
        if self.min_len < 8 {
            return Err(invalid("minimum length below 8"));
        }
        if self.max_len < self.min_len || self.max_len > Self::MAX_LEN_LIMIT {
            return Err(invalid("maximum length out of range"));
        }
        let required =
            u32::from(self.min_digits) + u32::from(self.min_letters) + u32::from(self.min_special);
        if required > u32::from(self.max_len) {
            return Err(invalid("required characters exceed the maximum length"));
        }
        if self.min_special > 0 && self.allowed_special.is_empty() {
            return Err(invalid("special characters required but none allowed"));
        }
        if self.allowed_special.chars().count() > 64
            || self
                .allowed_special
                .chars()
                .any(|c| c.is_alphanumeric() || c.is_control() || c.is_whitespace())
        {
            return Err(invalid("allowed special characters must be punctuation"));
        }
        if self.max_failed_attempts == 0 || self.max_failed_attempts > 100 {
            return Err(invalid("failed attempts before lock must be 1..=100"));
        }
        Ok(())
    }
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_len: 12,
            max_len: 256,
            min_digits: 1,
            min_letters: 1,
            min_special: 0,
            allowed_special: "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".to_owned(),
            max_age_days: None,
            max_failed_attempts: 10,
        }
    }
}

/// Second-factor rules (R-A4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwoFactorPolicy {
    /// Administrative roles must use a second factor (default: yes). `authorize`
    /// requires it for administrative actions whatever this says; the flag tells
    /// `cai-auth` to enforce enrolment.
    pub required_for_admins: bool,
    /// Everyone must use a second factor.
    pub required_for_everyone: bool,
}

impl Default for TwoFactorPolicy {
    fn default() -> Self {
        Self {
            required_for_admins: true,
            required_for_everyone: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        TenantSettings::default().validate().unwrap();
    }

    #[test]
    fn default_below_minimum_is_rejected() {
        let s = TenantSettings {
            default_mode: SessionMode::ServerManaged,
            minimum_mode: SessionMode::EndToEnd,
            ..TenantSettings::default()
        };
        assert!(s.validate().is_err());
    }

    #[test]
    fn report_min_count_limits() {
        let with = |n| TenantSettings {
            report_min_count: n,
            ..TenantSettings::default()
        };
        assert!(with(1).validate().is_err());
        with(2).validate().unwrap();
        with(1000).validate().unwrap();
        assert!(with(1001).validate().is_err());
    }

    #[test]
    fn password_policy_limits() {
        let base = PasswordPolicy::default;
        let p = PasswordPolicy {
            min_len: 4,
            ..base()
        };
        assert!(p.validate().is_err());
        let p = PasswordPolicy {
            min_digits: 200,
            min_letters: 100,
            ..base()
        };
        assert!(p.validate().is_err());
        let p = PasswordPolicy {
            allowed_special: "a!".into(),
            ..base()
        };
        assert!(p.validate().is_err());
    }
}
