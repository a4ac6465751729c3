//! The report read (R-P6): a tenant's sessions counted per period and per counsellor
//! or group, computed where the data is (SQL `GROUP BY` in `cai-store`), so a report
//! never loads sessions or participants one by one. The backend returns the raw counts;
//! the service suppresses small cells ([`Counselling::report`]).
//!
//! [`Counselling::report`]: crate::service::Counselling::report

use async_trait::async_trait;

use crate::domain::{ReportKey, ReportQuery};
use crate::id::TenantId;
use crate::time::Timestamp;

use super::store::StoreResult;

/// One cell as the store counted it, before suppression. Holds counts only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawCell {
    /// The start of the cell's period (one of [`ReportQuery::periods`]).
    pub period_start: Timestamp,
    /// The counsellor or group; `None` in a report by total.
    pub key: Option<ReportKey>,
    /// Sessions of the cell.
    pub sessions: u64,
    /// Distinct subjects taking part in those sessions as client or guest.
    pub contacts: u64,
    /// The sessions' durations added up, in milliseconds.
    pub duration_ms: u64,
}

/// Aggregates for reports.
///
/// What every backend computes, identically (the conformance suite's `reports` cases
/// check it):
/// - a session belongs to the period (of [`ReportQuery::periods`]) its `created_at`
///   falls in, `start <= created_at < end`; sessions outside `from..to` count nowhere;
/// - by total: one cell per period with sessions, key `None`; by counsellor: one cell
///   per period and account taking part in at least one of its sessions as host or
///   counsellor, key [`ReportKey::Counsellor`]; by group: one cell per period and group
///   the session is shared with ([`Session::groups`]), key [`ReportKey::Group`];
/// - `sessions`: the cell's sessions; `contacts`: the distinct subjects taking part in
///   them as client or guest (waiting in a lobby does not count); `duration_ms`: for
///   each of its sessions, from `created_at` to the closing time when closed, else to
///   `last_activity`, never below zero, added up;
/// - only the tenant's own records; cells ordered by period start, then key; at most
///   `limit` cells (capped at [`ReportQuery::MAX_CELLS`] + 1), the first ones in that
///   order.
///
/// [`Session::groups`]: crate::domain::Session::groups
#[async_trait]
pub trait ReportStore: Send + Sync {
    /// The raw cells of `query` in `tenant`; none for a query that does not validate
    /// ([`ReportQuery::validate`]).
    async fn session_report(
        &self,
        tenant: TenantId,
        query: &ReportQuery,
        limit: u32,
    ) -> StoreResult<Vec<RawCell>>;
}

/// The most cells a backend returns for one report: one past
/// [`ReportQuery::MAX_CELLS`], so the service can tell a report that is too large.
pub const MAX_RAW_CELLS: u32 = ReportQuery::MAX_CELLS as u32 + 1;
