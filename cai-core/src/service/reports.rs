//! Reports (R-P6): counts of sessions, contacts and time per period and per counsellor
//! or group, computed by the store ([`ReportStore`](crate::ports::ReportStore)), with
//! small cells suppressed here.
//!
//! Suppression, per cell, then per period:
//! 1. a cell counting fewer sessions or fewer contacts than the tenant's
//!    [`report_min_count`](crate::domain::TenantSettings::report_min_count) loses its
//!    numbers (`suppressed: true`);
//! 2. in a report by counsellor or group, where a period has suppressed cells whose
//!    sessions or contacts add up to less than the minimum, the period's smallest other
//!    cells are suppressed too, one by one, until they add up to at least the minimum
//!    or none is left. A report by total of the same period (or the sum of the shown
//!    cells) then tells at most what the suppressed cells hold together, never what one
//!    of them holds.
//!
//! A report carries no totals or margins beside its cells for the same reason. What
//! suppression cannot stop is differencing across *several* reports (a month against
//! its days); `from` and `to` must start a period so that reports never overlap in
//! part, and every report read is audited (`report_viewed`) so repeated probing shows
//! in the trail.

use super::{Caller, Counselling};
use crate::authz::{Action, Resource};
use crate::domain::{
    AuditKind, AuditObject, Change, Report, ReportBy, ReportCell, ReportPeriod, ReportQuery,
};
use crate::error::{Error, Result};
use crate::id::TenantId;
use crate::ports::{MAX_RAW_CELLS, RawCell};

impl Counselling {
    /// An aggregated, anonymised report of the tenant's sessions (R-P6). Needs
    /// `ViewReports` on the tenant (tenant administrators and auditors have it; it is
    /// not administrative, so no second factor is asked for). Refusals in order:
    /// a caller of another tenant, an unusable account, no permission (`denied`); a
    /// query that does not validate ([`ReportQuery::validate`], `invalid`); more than
    /// [`ReportQuery::MAX_CELLS`] cells (`invalid`, "more cells than a report holds":
    /// ask for a shorter range or longer periods). Cells below the tenant's minimum
    /// are suppressed (see the module documentation). Audited as `report_viewed`
    /// (object: the tenant; change `report`: the query).
    pub async fn report(
        &self,
        caller: &Caller,
        tenant: TenantId,
        query: ReportQuery,
    ) -> Result<Report> {
        self.observe("report", Some(tenant), Some(caller), async move {
            let (store, _, t, decision) = self
                .authorized(
                    caller,
                    tenant,
                    Action::ViewReports,
                    Resource::Tenant(tenant),
                )
                .await?;
            query.validate()?;
            let raw = store.session_report(tenant, &query, MAX_RAW_CELLS).await?;
            if raw.len() > ReportQuery::MAX_CELLS {
                return Err(Error::Invalid {
                    what: "report query",
                    reason: "more cells than a report holds",
                });
            }
            let min_count = t.settings.report_min_count;
            let cells = suppress(raw, query.by, min_count);
            let mut tx = self.tx_of(caller, tenant);
            tx.audit(
                &store,
                AuditKind::ReportViewed,
                AuditObject::Tenant(tenant),
                vec![Change::new(
                    "report",
                    None::<String>,
                    Some(describe(&query)),
                )],
                Some(&decision),
                false,
            )
            .await?;
            self.commit(&store, tx).await?;
            Ok(Report {
                query,
                min_count,
                cells,
            })
        })
        .await
    }
}

/// The query as the audit trail shows it: `2026-01-01T00:00:00.000Z..2027-01-01T00:00:00.000Z
/// month counsellor`.
fn describe(q: &ReportQuery) -> String {
    let time = |t: crate::Timestamp| t.to_rfc3339().unwrap_or_else(|_| t.to_string());
    let period = match q.period {
        ReportPeriod::Day => "day",
        ReportPeriod::Week => "week",
        ReportPeriod::Month => "month",
    };
    let by = match q.by {
        ReportBy::Total => "total",
        ReportBy::Counsellor => "counsellor",
        ReportBy::Group => "group",
    };
    format!("{}..{} {period} {by}", time(q.from), time(q.to))
}

/// The cells of `raw` (ordered by period) with the suppression rules of the module
/// documentation applied for a minimum of `min`.
pub(crate) fn suppress(raw: Vec<RawCell>, by: ReportBy, min: u32) -> Vec<ReportCell> {
    let min = u64::from(min);
    let below = |c: &RawCell| c.sessions < min || c.contacts < min;
    let mut hidden: Vec<bool> = raw.iter().map(below).collect();
    if by != ReportBy::Total {
        let mut offset = 0;
        for period in raw.chunk_by(|a, b| a.period_start == b.period_start) {
            let end = offset + period.len();
            protect(period, hidden.get_mut(offset..end).unwrap_or_default(), min);
            offset = end;
        }
    }
    raw.into_iter()
        .zip(hidden)
        .map(|(c, suppressed)| ReportCell {
            period_start: c.period_start,
            key: c.key,
            sessions: (!suppressed).then_some(c.sessions),
            contacts: (!suppressed).then_some(c.contacts),
            duration_secs: (!suppressed).then_some(c.duration_ms / 1000),
            suppressed,
        })
        .collect()
}

/// Secondary suppression in one period: while the suppressed cells add up to less
/// than `min` sessions or contacts, suppress the smallest shown cell.
fn protect(cells: &[RawCell], hidden: &mut [bool], min: u64) {
    loop {
        let (mut sessions, mut contacts, mut any) = (0u64, 0u64, false);
        for (c, h) in cells.iter().zip(hidden.iter()) {
            if *h {
                any = true;
                sessions = sessions.saturating_add(c.sessions);
                contacts = contacts.saturating_add(c.contacts);
            }
        }
        if !any || (sessions >= min && contacts >= min) {
            return;
        }
        let smallest = cells
            .iter()
            .zip(hidden.iter())
            .enumerate()
            .filter(|(_, (_, h))| !**h)
            .min_by_key(|(_, (c, _))| (c.sessions.min(c.contacts), c.sessions, c.contacts))
            .map(|(i, _)| i);
        match smallest.and_then(|i| hidden.get_mut(i)) {
            Some(h) => *h = true,
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ReportKey;
    use crate::id::AccountId;
    use crate::time::Timestamp;

    fn cell(period: i64, key: u8, sessions: u64, contacts: u64) -> RawCell {
        RawCell {
            period_start: Timestamp::from_unix_millis(period),
            key: Some(ReportKey::Counsellor(AccountId::from_bytes([key; 16]))),
            sessions,
            contacts,
            duration_ms: 1999,
        }
    }

    fn hidden(cells: &[ReportCell]) -> Vec<bool> {
        cells.iter().map(|c| c.suppressed).collect()
    }

    #[test]
    fn a_cell_is_suppressed_below_the_minimum_and_shown_at_it() {
        let out = suppress(
            vec![cell(0, 1, 5, 5), cell(1, 1, 5, 4), cell(2, 1, 4, 9)],
            ReportBy::Total,
            5,
        );
        assert_eq!(hidden(&out), [false, true, true]);
        assert_eq!(out[0].duration_secs, Some(1));
        assert_eq!(
            (out[1].sessions, out[1].contacts, out[1].duration_secs),
            (None, None, None)
        );
    }

    #[test]
    fn one_suppressed_cell_in_a_period_takes_the_smallest_other_with_it() {
        // Period 0: one cell below; the smallest other (key 3) goes too, then the two
        // add up to 2 + 6 sessions, 2 + 6 contacts. Period 1: nothing below.
        let out = suppress(
            vec![
                cell(0, 1, 2, 2),
                cell(0, 2, 9, 9),
                cell(0, 3, 6, 6),
                cell(1, 1, 5, 5),
                cell(1, 2, 5, 5),
            ],
            ReportBy::Counsellor,
            5,
        );
        assert_eq!(hidden(&out), [true, false, true, false, false]);
    }

    #[test]
    fn suppressed_cells_that_add_up_to_the_minimum_need_no_help() {
        let out = suppress(
            vec![cell(0, 1, 3, 3), cell(0, 2, 2, 2), cell(0, 3, 7, 7)],
            ReportBy::Group,
            5,
        );
        assert_eq!(hidden(&out), [true, true, false]);
        // Alone in its period, a small cell stays suppressed and nothing else changes.
        let out = suppress(vec![cell(0, 1, 1, 1)], ReportBy::Counsellor, 5);
        assert_eq!(hidden(&out), [true]);
    }
}
