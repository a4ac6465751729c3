//! [`ReportStore`]: a report's counts in one SQL statement with `GROUP BY`, so the
//! database does the counting and nothing but the cells leaves it.
//!
//! The periods are bound as a `VALUES` list of `(start_ms, end_ms)`, padded with empty
//! ranges to a power of two so the statement texts stay few (PostgreSQL's driver keeps
//! each text it numbered). Sessions keep `created_at`, `status` and `last_activity` in
//! their JSON body, read with the backend's JSON and time functions (`driver::dialect`);
//! a participant's part is its body's `role`.
//!
//! No index or migration: the statement reads the tenant's sessions once, by the
//! primary key's tenant prefix, and their participants and groups by their primary
//! keys. A report is an occasional read of an administrator, not a hot path; an
//! expression index on the creation time can come when tenants' histories make the
//! scan slow.

use async_trait::async_trait;
use cai_core::Timestamp;
use cai_core::domain::{ReportBy, ReportKey, ReportQuery};
use cai_core::id::{AccountId, SubjectId, TenantId};
use cai_core::ports::{MAX_RAW_CELLS, RawCell, ReportStore, StoreResult};

use super::super::driver::dialect::{json_text, millis};
use super::Engine;
use super::codec::{IdBlob, Row, RowExt, corrupt, query, subject_blob};

const REPORT: &str = "report";

/// The fewest rows of the padded `VALUES` list.
const MIN_ROWS: usize = 8;

/// The statement for `rows` period rows, broken down by `by`. Its parameters, in
/// order: `rows` pairs of period bounds; the tenant; for a breakdown by counsellor the
/// tenant and the lowest and highest account subject; for one by group the tenant; the
/// tenant again; the limit.
fn statement(rows: usize, by: ReportBy) -> String {
    let values = vec!["(?, ?)"; rows].join(", ");
    let created = millis(&json_text("s.body", &["created_at"]));
    let ended = millis(&format!(
        "COALESCE({}, {})",
        json_text("s.body", &["status", "at"]),
        json_text("s.body", &["last_activity"])
    ));
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
        "WITH periods (start_ms, end_ms) AS (VALUES {values}), \
         f AS (SELECT s.tenant AS tenant, s.id AS session, {created} AS created_ms, \
               {ended} AS ended_ms FROM sessions s WHERE s.tenant = ?), \
         cells AS (SELECT DISTINCT p.start_ms AS period, {key} AS k, f.session AS session, \
               CASE WHEN f.ended_ms > f.created_ms THEN f.ended_ms - f.created_ms ELSE 0 END \
               AS dur \
               FROM f JOIN periods p ON f.created_ms >= p.start_ms AND f.created_ms < p.end_ms \
               {key_join}), \
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
        let Ok(periods) = report.periods() else {
            return Ok(Vec::new());
        };
        let rows = periods.len().next_power_of_two().max(MIN_ROWS);
        let sql = statement(rows, report.by);
        let mut q = query(&sql);
        let empty = (Timestamp::EPOCH, Timestamp::EPOCH);
        for (start, end) in periods
            .iter()
            .copied()
            .chain(std::iter::repeat(empty))
            .take(rows)
        {
            q = q.bind(start.unix_millis()).bind(end.unix_millis());
        }
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
            let sql = statement(8, by);
            assert_eq!(sql.matches('?').count(), 16 + 1 + extra + 1 + 1, "{by:?}");
        }
    }
}
