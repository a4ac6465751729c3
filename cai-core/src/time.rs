//! Points in time. All time comes from the [`Clock`](crate::ports::Clock) port, so account
//! windows, invitation expiry, pseudonymisation dates and retention deadlines are
//! testable without sleeping.
//!
//! In JSON a [`Timestamp`] is an RFC 3339 string in UTC with exactly three fractional
//! digits, `"2026-12-01T21:56:02.123Z"` (see `docs/JSON.md`).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{Error, Result};

/// Milliseconds since the Unix epoch, UTC. Arithmetic saturates: a deadline far in the
/// future is "never", not an overflow.
///
/// Its JSON form is an RFC 3339 string ([`Timestamp::to_rfc3339`]), so only the
/// timestamps from [`Timestamp::MIN_RFC3339`] to [`Timestamp::MAX_RFC3339`] (the years
/// 0000 to 9999) have one; serializing any other is an error.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Self = Self(0);

    /// The timestamp `millis` milliseconds after the Unix epoch.
    pub const fn from_unix_millis(millis: i64) -> Self {
        Self(millis)
    }

    /// Milliseconds since the Unix epoch.
    pub const fn unix_millis(self) -> i64 {
        self.0
    }

    /// The earliest timestamp with an RFC 3339 form: `0000-01-01T00:00:00.000Z`.
    pub const MIN_RFC3339: Self = Self(-62_167_219_200_000);

    /// The latest timestamp with an RFC 3339 form: `9999-12-31T23:59:59.999Z`.
    pub const MAX_RFC3339: Self = Self(253_402_300_799_999);

    /// The RFC 3339 form in UTC with millisecond precision,
    /// `"2026-12-01T21:56:02.123Z"`: always `Z`, always three fractional digits, so the
    /// text sorts like the time. [`Error::Invalid`] outside the years 0000 to 9999
    /// ([`Timestamp::MIN_RFC3339`]..=[`Timestamp::MAX_RFC3339`]).
    pub fn to_rfc3339(self) -> Result<String> {
        let out_of_range = || Error::Invalid {
            what: "timestamp",
            reason: "outside the years 0000 to 9999",
        };
        if self < Self::MIN_RFC3339 || self > Self::MAX_RFC3339 {
            return Err(out_of_range());
        }
        let nanos = i128::from(self.0) * 1_000_000;
        let t = OffsetDateTime::from_unix_timestamp_nanos(nanos).map_err(|_| out_of_range())?;
        Ok(format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        ))
    }

    /// Parses an RFC 3339 date-time with any offset (`Z`, `+02:00`, …) and any number of
    /// fractional digits, normalised to UTC; digits below a millisecond are cut off
    /// (rounded towards the past). [`Error::Invalid`] for anything else, and for a time
    /// that falls outside [`Timestamp::MIN_RFC3339`]..=[`Timestamp::MAX_RFC3339`] once
    /// in UTC.
    pub fn parse_rfc3339(text: &str) -> Result<Self> {
        let t = OffsetDateTime::parse(text, &Rfc3339).map_err(|_| Error::Invalid {
            what: "timestamp",
            reason: "not an RFC 3339 date-time",
        })?;
        let millis = t.unix_timestamp_nanos().div_euclid(1_000_000);
        let millis = i64::try_from(millis)
            .ok()
            .map(Self)
            .filter(|m| (Self::MIN_RFC3339..=Self::MAX_RFC3339).contains(m));
        millis.ok_or(Error::Invalid {
            what: "timestamp",
            reason: "outside the years 0000 to 9999",
        })
    }

    /// `self + d`, saturating.
    pub fn plus(self, d: Duration) -> Self {
        Self(self.0.saturating_add(duration_millis(d)))
    }

    /// `self - d`, saturating.
    pub fn minus(self, d: Duration) -> Self {
        Self(self.0.saturating_sub(duration_millis(d)))
    }

    /// How long after `earlier` this is; zero if it is not after.
    pub fn since(self, earlier: Timestamp) -> Duration {
        let diff = self.0.saturating_sub(earlier.0);
        Duration::from_millis(u64::try_from(diff).unwrap_or(0))
    }
}

fn duration_millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t{}ms", self.0)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let text = self.to_rfc3339().map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse_rfc3339(&text).map_err(serde::de::Error::custom)
    }
}

/// A number of hours, as a [`Duration`].
pub const fn hours(n: u64) -> Duration {
    Duration::from_secs(n * 3600)
}

/// A number of days, as a [`Duration`].
pub const fn days(n: u64) -> Duration {
    Duration::from_secs(n * 86_400)
}

/// A number of minutes, as a [`Duration`].
pub const fn minutes(n: u64) -> Duration {
    Duration::from_secs(n * 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = Timestamp::from_unix_millis(i64::MAX - 1);
        assert_eq!(t.plus(days(1)).unix_millis(), i64::MAX);
        assert_eq!(Timestamp::EPOCH.since(t), Duration::ZERO);
        assert_eq!(
            Timestamp::from_unix_millis(5000).since(Timestamp::from_unix_millis(2000)),
            Duration::from_secs(3)
        );
    }

    #[test]
    fn rfc3339_limits_are_the_years_0000_to_9999() {
        let first = time::Date::from_calendar_date(0, time::Month::January, 1)
            .unwrap()
            .midnight()
            .assume_utc();
        assert_eq!(
            Timestamp::MIN_RFC3339.unix_millis(),
            i64::try_from(first.unix_timestamp_nanos() / 1_000_000).unwrap()
        );
        let after_last = time::Date::from_calendar_date(9999, time::Month::December, 31)
            .unwrap()
            .next_day();
        assert!(after_last.is_none(), "time cannot go past 9999 either");
        assert_eq!(
            Timestamp::MAX_RFC3339.to_rfc3339().unwrap(),
            "9999-12-31T23:59:59.999Z"
        );
        assert_eq!(
            Timestamp::MIN_RFC3339.to_rfc3339().unwrap(),
            "0000-01-01T00:00:00.000Z"
        );
        for t in [
            Timestamp::from_unix_millis(i64::MAX),
            Timestamp::from_unix_millis(i64::MIN),
            Timestamp::from_unix_millis(Timestamp::MAX_RFC3339.unix_millis() + 1),
            Timestamp::from_unix_millis(Timestamp::MIN_RFC3339.unix_millis() - 1),
        ] {
            assert!(t.to_rfc3339().is_err(), "{t:?}");
            assert!(serde_json::to_string(&t).is_err(), "{t:?}");
        }
    }

    #[test]
    fn rfc3339_forms() {
        let t = Timestamp::from_unix_millis(1_796_162_162_123);
        assert_eq!(t.to_rfc3339().unwrap(), "2026-12-01T21:56:02.123Z");
        assert_eq!(
            Timestamp::EPOCH.to_rfc3339().unwrap(),
            "1970-01-01T00:00:00.000Z"
        );
        assert_eq!(
            Timestamp::from_unix_millis(-1).to_rfc3339().unwrap(),
            "1969-12-31T23:59:59.999Z"
        );
        for (text, millis) in [
            ("2026-12-01T21:56:02.123Z", 1_796_162_162_123),
            ("2026-12-01T22:56:02.123+01:00", 1_796_162_162_123),
            ("2026-12-01T21:56:02.1239999Z", 1_796_162_162_123),
            ("2026-12-01T21:56:02Z", 1_796_162_162_000),
            // RFC 3339 §5.6 lets a space stand for the `T`.
            ("2026-12-01 21:56:02Z", 1_796_162_162_000),
            ("1969-12-31T23:59:59.9995Z", -1),
            ("0000-01-01T00:00:00Z", Timestamp::MIN_RFC3339.unix_millis()),
        ] {
            assert_eq!(
                Timestamp::parse_rfc3339(text).unwrap().unix_millis(),
                millis,
                "{text}"
            );
        }
        for bad in [
            "",
            "1796161362123",
            "2026-12-01",
            "2026-12-01T21:56:02",
            "2026-13-01T21:56:02Z",
            "2026-02-30T21:56:02Z",
            "2026-12-01T25:56:02Z",
            "+12026-12-01T21:56:02Z",
            "9999-12-31T23:30:00-01:00",
            "0000-01-01T00:30:00+01:00",
        ] {
            assert!(Timestamp::parse_rfc3339(bad).is_err(), "{bad}");
        }
    }
}
