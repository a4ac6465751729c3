//! [`ReportStore`]: a report's counts in one SQL statement with `GROUP BY`, so the
//! database does the counting and nothing but the cells leaves it.
//!
//! Each session's period start is computed in the statement from its creation time:
//! the day from the RFC 3339 text's date (`YYYY-MM-DD`), the month from its `YYYY-MM`,
//! the week from the day, counted from a Monday (in integers, shifted so that every
//! timestamp from the year 0000 on divides as a positive number). Sessions keep
//! `created_at`, `status` and `last_activity` in their JSON body, read with the
//! backend's JSON and time functions (`driver::dialect`); a participant's part is its
//! body's `role`.
//!
//! No index or migration: the statement reads the tenant's sessions once, by the
//! primary key's tenant prefix, and their participants and groups by their primary
//! keys. A report is an occasional read of a report viewer, not a hot path; an
//! expression index on the creation time can come when tenants' histories make the
//! scan slow.

use async_trait::async_trait;
use cai_core::Timestamp;
use cai_core::domain::{ReportBy, ReportKey, ReportPeriod, ReportQuery};
use cai_core::id::{AccountId, SubjectId, TenantId};
use cai_core::ports::{MAX_RAW_CELLS, RawCell, ReportStore, StoreResult};

use super::super::driver::dialect::{json_text, millis};
use super::Engine;
use super::codec::{IdBlob, Row, RowExt, corrupt, query, subject_blob};

const REPORT: &str = "report";

/// A day in milliseconds.
const DAY_MS: i64 = 86_400_000;
/// 102 790 weeks: added before dividing, so that every day from 0000-01-01 on divides
/// as a positive number (integer division truncates towards zero in both databases).
const WEEK_SHIFT_MS: i64 = 102_790 * 7 * DAY_MS;

/// The period start of the session row `s`, in milliseconds.
fn period_start(period: ReportPeriod) -> String {
    let created = json_text("s.body", &["created_at"]);
    let day = millis(&format!("substr({created}, 1, 10) || 'T00:00:00.000Z'"));
    match period {
        ReportPeriod::Day => day,
        ReportPeriod::Month => millis(&format!("substr({created}, 1, 7) || '-01T00:00:00.000Z'")),
        // 1970-01-01 was a Thursday: three days after a Monday.
        ReportPeriod::Week => {
            format!("({day} - ((({day} + {WEEK_SHIFT_MS}) / {DAY_MS} + 3) % 7) * {DAY_MS})")
        }
    }
}

/// The statement for a report by `period` and `by`. Its parameters, in order: the
/// tenant; for a breakdown by counsellor the tenant and the lowest and highest account
/// subject; for one by group the tenant; `from` and `to`; the tenant again; the limit.
fn statement(period: ReportPeriod, by: ReportBy) -> String {
    let created = millis(&json_text("s.body", &["created_at"]));
    let ended = millis(&format!(
        "COALESCE({}, {})",
        json_text("s.body", &["status", "at"]),
        json_text("s.body", &["last_activity"])
    ));
    let start = period_start(period);
    let role = json_text("pa.body", &["role"]);
    let (key, key_join) = match by {
        ReportBy::Total => ("f.tenant".to_owned(), String::new()),
        ReportBy::Counsellor => (
            "pa.subject".to_owned(),
            format!(
                "JOIN participants pa ON pa.tenant = ? AND pa.session = f.session \
                 AND {role} IN ('host', 'counsellor') AND pa.subject BETWEEN ? AND ?"
            ),
        ),
        ReportBy::Group => (
            "g.grp".to_owned(),
            "JOIN session_groups g ON g.tenant = ? AND g.session = f.session".to_owned(),
        ),
    };
    format!(
        "WITH f AS (SELECT s.tenant AS tenant, s.id AS session, {created} AS created_ms, \
               {ended} AS ended_ms, {start} AS period FROM sessions s WHERE s.tenant = ?), \
         cells AS (SELECT DISTINCT f.period AS period, {key} AS k, f.session AS session, \
               CASE WHEN f.ended_ms > f.created_ms THEN f.ended_ms - f.created_ms ELSE 0 END \
               AS dur FROM f {key_join} WHERE f.created_ms >= ? AND f.created_ms < ?), \
         counts AS (SELECT period, k, COUNT(*) AS sessions, SUM(dur) AS dur FROM cells \
               GROUP BY period, k), \
         contacts AS (SELECT c.period AS period, c.k AS k, COUNT(DISTINCT pa.subject) AS n \
               FROM cells c JOIN participants pa ON pa.tenant = ? AND pa.session = c.session \
               WHERE {role} IN ('client', 'guest') GROUP BY c.period, c.k) \
         SELECT n.period AS period, n.k AS k, n.sessions AS sessions, \
               CAST(n.dur AS BIGINT) AS duration_ms, COALESCE(ct.n, 0) AS contacts \
         FROM counts n LEFT JOIN contacts ct ON ct.period = n.period AND ct.k = n.k \
         ORDER BY n.period, n.k LIMIT ?"
    )
}

/// A count column as a `u64`.
fn count(row: &Row, column: &str) -> StoreResult<u64> {
    u64::try_from(row.int(column, REPORT)?).map_err(|_| corrupt(REPORT))
}

/// A cell from its row.
fn cell(row: &Row, by: ReportBy) -> StoreResult<RawCell> {
    let key = match by {
        ReportBy::Total => None,
        ReportBy::Counsellor => match row.subject("k", REPORT)? {
            SubjectId::Account(a) => Some(ReportKey::Counsellor(a)),
            SubjectId::Guest(_) => return Err(corrupt(REPORT)),
        },
        ReportBy::Group => Some(ReportKey::Group(row.id("k", REPORT)?)),
    };
    Ok(RawCell {
        period_start: Timestamp::from_unix_millis(row.int("period", REPORT)?),
        key,
        sessions: count(row, "sessions")?,
        contacts: count(row, "contacts")?,
        duration_ms: count(row, "duration_ms")?,
    })
}

#[async_trait]
impl ReportStore for Engine {
    async fn session_report(
        &self,
        tenant: TenantId,
        report: &ReportQuery,
        limit: u32,
    ) -> StoreResult<Vec<RawCell>> {
        if report.validate().is_err() {
            return Ok(Vec::new());
        }
        let sql = statement(report.period, report.by);
        let mut q = query(&sql);
        q = q.bind(tenant.blob());
        match report.by {
            ReportBy::Total => {}
            ReportBy::Counsellor => {
                q = q
                    .bind(tenant.blob())
                    .bind(subject_blob(SubjectId::Account(AccountId::from_bytes(
                        [0; 16],
                    ))))
                    .bind(subject_blob(SubjectId::Account(AccountId::from_bytes(
                        [0xff; 16],
                    ))));
            }
            ReportBy::Group => q = q.bind(tenant.blob()),
        }
        q = q
            .bind(report.from.unix_millis())
            .bind(report.to.unix_millis());
        let q = q
            .bind(tenant.blob())
            .bind(i64::from(limit.min(MAX_RAW_CELLS)));
        self.all(q, REPORT)
            .await?
            .iter()
            .map(|row| cell(row, report.by))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_have_one_placeholder_per_bound_value() {
        for (by, extra) in [
            (ReportBy::Total, 0),
            (ReportBy::Counsellor, 3),
            (ReportBy::Group, 1),
        ] {
            for period in [ReportPeriod::Day, ReportPeriod::Week, ReportPeriod::Month] {
                let sql = statement(period, by);
                assert_eq!(sql.matches('?').count(), 1 + extra + 2 + 1 + 1, "{by:?}");
            }
        }
    }

    #[test]
    fn the_week_shift_covers_the_year_0000_in_whole_weeks() {
        assert_eq!(WEEK_SHIFT_MS % (7 * DAY_MS), 0);
        assert!(WEEK_SHIFT_MS + Timestamp::MIN_RFC3339.unix_millis() > 0);
    }
}
