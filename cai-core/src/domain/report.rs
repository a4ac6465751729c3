//! Reports (R-P6): aggregated, anonymised statistics of a tenant's sessions — how many
//! sessions, how many distinct clients and guests, how long — per period and per
//! counsellor or group. A report holds counts only: never content, never who the
//! clients were. Cells that count fewer people or sessions than the tenant's minimum
//! ([`TenantSettings::report_min_count`](super::TenantSettings::report_min_count)) are
//! suppressed.
//!
//! Periods are calendar periods in UTC: a day starts at midnight, a week on Monday at
//! midnight (ISO 8601), a month on its first day. A query's `from` and `to` must each
//! be the start of a period, so every cell of every report covers a whole period and
//! two reports never overlap in part (which would let their difference tell what one
//! suppressed cell held).

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::error::{Error, Result};
use crate::id::{AccountId, GroupId};
use crate::time::Timestamp;

/// The length of a report's periods. JSON: `"day"`, `"week"`, `"month"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportPeriod {
    /// From midnight to midnight, UTC.
    Day,
    /// From Monday midnight to the next Monday midnight, UTC (ISO 8601 weeks).
    Week,
    /// From the first of a month at midnight to the first of the next, UTC.
    Month,
}

/// What a report's cells are broken down by. JSON: `"total"`, `"counsellor"`, `"group"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportBy {
    /// One cell per period: every session of the tenant.
    Total,
    /// One cell per period and counsellor: the sessions the account takes part in as
    /// host or counsellor (a session with two counsellors counts for both).
    Counsellor,
    /// One cell per period and group: the sessions shared with the group (team
    /// counselling, R-I4).
    Group,
}

/// What a report asks for: sessions created in `from..to` (`to` excluded), by period
/// and breakdown. JSON: `{"from":ts,"to":ts,"period":"month","by":"counsellor"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// The start of the first period (must be a period start).
    pub from: Timestamp,
    /// The start of the period after the last one (must be a period start, after
    /// `from`).
    pub to: Timestamp,
    /// The length of each period.
    pub period: ReportPeriod,
    /// The breakdown.
    pub by: ReportBy,
}

impl ReportQuery {
    /// Most periods one report covers: a year of days, seven years of weeks, thirty
    /// years of months.
    pub const MAX_PERIODS: usize = 366;
    /// Most cells one report holds (periods × counsellors or groups with sessions).
    pub const MAX_CELLS: usize = 10_000;

    /// Checks the query: `from` before `to` (else [`Error::Invalid`] "from is not
    /// before to"), both period starts ("from and to must start a period"), at most
    /// [`ReportQuery::MAX_PERIODS`] periods ("more periods than a report covers").
    pub fn validate(&self) -> Result<()> {
        self.periods().map(drop)
    }

    /// The query's periods, `(start, end)` with `end` excluded, oldest first; the
    /// errors of [`ReportQuery::validate`].
    pub fn periods(&self) -> Result<Vec<(Timestamp, Timestamp)>> {
        let invalid = |reason| Error::Invalid {
            what: "report query",
            reason,
        };
        if self.from >= self.to {
            return Err(invalid("from is not before to"));
        }
        let aligned = |t: Timestamp| self.period.start_of(t) == Some(t);
        if !aligned(self.from) || !aligned(self.to) {
            return Err(invalid("from and to must start a period"));
        }
        let mut periods = Vec::new();
        let mut start = self.from;
        while start < self.to {
            if periods.len() == Self::MAX_PERIODS {
                return Err(invalid("more periods than a report covers"));
            }
            let end = self
                .period
                .after(start)
                .ok_or(invalid("from and to must start a period"))?;
            periods.push((start, end));
            start = end;
        }
        Ok(periods)
    }
}

impl ReportPeriod {
    /// The start of the period `t` falls in; `None` outside the years 0000 to 9999.
    pub fn start_of(self, t: Timestamp) -> Option<Timestamp> {
        if t < Timestamp::MIN_RFC3339 || t > Timestamp::MAX_RFC3339 {
            return None;
        }
        let day = OffsetDateTime::from_unix_timestamp_nanos(
            i128::from(t.unix_millis()).checked_mul(1_000_000)?,
        )
        .ok()?
        .date();
        let start = match self {
            ReportPeriod::Day => day,
            ReportPeriod::Week => day.checked_sub(time::Duration::days(i64::from(
                day.weekday().number_days_from_monday(),
            )))?,
            ReportPeriod::Month => day.replace_day(1).ok()?,
        };
        midnight(start)
    }

    /// The start of the period after the one starting at `start` (a period start);
    /// `None` when that is past the year 9999.
    pub fn after(self, start: Timestamp) -> Option<Timestamp> {
        let day = OffsetDateTime::from_unix_timestamp_nanos(
            i128::from(start.unix_millis()).checked_mul(1_000_000)?,
        )
        .ok()?
        .date();
        let next = match self {
            ReportPeriod::Day => day.next_day()?,
            ReportPeriod::Week => day.checked_add(time::Duration::days(7))?,
            ReportPeriod::Month => {
                let (year, month) = match day.month() {
                    time::Month::December => (day.year().checked_add(1)?, time::Month::January),
                    m => (day.year(), m.next()),
                };
                Date::from_calendar_date(year, month, 1).ok()?
            }
        };
        midnight(next)
    }
}

/// Midnight UTC of `day` as a timestamp.
fn midnight(day: Date) -> Option<Timestamp> {
    let nanos = day.midnight().assume_utc().unix_timestamp_nanos();
    i64::try_from(nanos.div_euclid(1_000_000))
        .ok()
        .map(Timestamp::from_unix_millis)
}

/// Whom a cell of a broken-down report is about: a counsellor's account or a group.
/// JSON: the id, `"acc_…"` or `"grp_…"` (the prefix tells which).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ReportKey {
    /// A counsellor (the account taking part as host or counsellor).
    Counsellor(AccountId),
    /// A group the sessions are shared with.
    Group(GroupId),
}

/// One cell of a [`Report`]: a period and, in a breakdown, a counsellor or group. A
/// suppressed cell has no numbers.
///
/// JSON: `{"period_start":ts,"key":"acc_…"|"grp_…"|null,"sessions":12,"contacts":9,
/// "duration_secs":43200,"suppressed":false}`; suppressed:
/// `{…,"sessions":null,"contacts":null,"duration_secs":null,"suppressed":true}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportCell {
    /// The start of the cell's period.
    pub period_start: Timestamp,
    /// The counsellor or group (`None` in a report by total).
    pub key: Option<ReportKey>,
    /// Sessions created in the period.
    pub sessions: Option<u64>,
    /// Distinct clients and guests taking part in those sessions.
    pub contacts: Option<u64>,
    /// The sessions' durations added up, in whole seconds: creation to closing, or to
    /// the last activity while open.
    pub duration_secs: Option<u64>,
    /// Whether the numbers were withheld (below the tenant's minimum, or to protect
    /// another withheld cell of the period).
    pub suppressed: bool,
}

/// A report: the query, the minimum it was suppressed with, and its cells ordered by
/// period, then counsellor or group id. Periods and keys without sessions have no cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// What was asked.
    pub query: ReportQuery,
    /// The tenant's minimum count at the time of the report.
    pub min_count: u32,
    /// The cells.
    pub cells: Vec<ReportCell>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    #[test]
    fn period_starts_are_utc_calendar_boundaries() {
        let t = ts("2026-12-02T13:45:00.001Z"); // a Wednesday
        assert_eq!(
            ReportPeriod::Day.start_of(t),
            Some(ts("2026-12-02T00:00:00Z"))
        );
        assert_eq!(
            ReportPeriod::Week.start_of(t),
            Some(ts("2026-11-30T00:00:00Z"))
        );
        assert_eq!(
            ReportPeriod::Month.start_of(t),
            Some(ts("2026-12-01T00:00:00Z"))
        );
        assert_eq!(
            ReportPeriod::Month.after(ts("2026-12-01T00:00:00Z")),
            Some(ts("2027-01-01T00:00:00Z"))
        );
        assert_eq!(
            ReportPeriod::Month.after(ts("2028-02-01T00:00:00Z")),
            Some(ts("2028-03-01T00:00:00Z"))
        );
        assert_eq!(
            ReportPeriod::Week.start_of(ts("1970-01-01T00:00:00Z")),
            Some(ts("1969-12-29T00:00:00Z"))
        );
        assert_eq!(
            ReportPeriod::Day.start_of(Timestamp::from_unix_millis(i64::MIN)),
            None
        );
    }

    #[test]
    fn queries_must_be_aligned_ordered_and_bounded() {
        let q = |from, to, period| ReportQuery {
            from: ts(from),
            to: ts(to),
            period,
            by: ReportBy::Total,
        };
        let ok = q(
            "2026-01-01T00:00:00Z",
            "2027-01-01T00:00:00Z",
            ReportPeriod::Month,
        );
        assert_eq!(ok.periods().unwrap().len(), 12);
        for bad in [
            q(
                "2026-01-01T00:00:00Z",
                "2026-01-01T00:00:00Z",
                ReportPeriod::Day,
            ),
            q(
                "2026-01-02T00:00:00Z",
                "2026-01-01T00:00:00Z",
                ReportPeriod::Day,
            ),
            q(
                "2026-01-01T00:00:00.001Z",
                "2026-01-02T00:00:00Z",
                ReportPeriod::Day,
            ),
            q(
                "2026-01-01T00:00:00Z",
                "2026-01-05T00:00:00Z",
                ReportPeriod::Week,
            ),
            q(
                "2026-01-02T00:00:00Z",
                "2026-02-01T00:00:00Z",
                ReportPeriod::Month,
            ),
        ] {
            assert!(
                matches!(bad.validate(), Err(Error::Invalid { .. })),
                "{bad:?}"
            );
        }
        // 2024 has 366 days: exactly at the limit; one day more is past it.
        let leap = q(
            "2024-01-01T00:00:00Z",
            "2025-01-01T00:00:00Z",
            ReportPeriod::Day,
        );
        assert_eq!(leap.periods().unwrap().len(), ReportQuery::MAX_PERIODS);
        let over = q(
            "2024-01-01T00:00:00Z",
            "2025-01-02T00:00:00Z",
            ReportPeriod::Day,
        );
        assert!(matches!(
            over.validate(),
            Err(Error::Invalid {
                reason: "more periods than a report covers",
                ..
            })
        ));
    }
}
