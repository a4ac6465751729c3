//! [`ReportStore`] in memory: the same counts the SQL backends compute with `GROUP BY`,
//! here by walking the tenant's sessions once.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;

use super::MemoryStore;
use super::space::Space;
use crate::domain::{ParticipantRole, ReportBy, ReportKey, ReportQuery, Session, SessionStatus};
use crate::id::{SessionId, SubjectId, TenantId};
use crate::ports::{MAX_RAW_CELLS, RawCell, ReportStore, StoreResult};
use crate::time::Timestamp;

/// One cell being counted.
#[derive(Default)]
struct Tally {
    sessions: u64,
    contacts: BTreeSet<SubjectId>,
    duration_ms: u64,
}

/// How long `s` ran, in milliseconds: to its closing, or to its last activity while
/// open; never below zero.
pub(crate) fn duration_ms(s: &Session) -> u64 {
    let end = match s.status {
        SessionStatus::Closed { at } => at,
        SessionStatus::Open => s.last_activity,
    };
    u64::try_from(end.unix_millis().saturating_sub(s.created_at.unix_millis())).unwrap_or(0)
}

/// The keys `s` counts under in a report by `by`.
fn keys(space: &Space, s: &Session, by: ReportBy) -> Vec<Option<ReportKey>> {
    match by {
        ReportBy::Total => vec![None],
        ReportBy::Counsellor => space
            .participants_of(s.id)
            .filter(|p| matches!(p.role, ParticipantRole::Host | ParticipantRole::Counsellor))
            .filter_map(|p| match p.subject {
                SubjectId::Account(a) => Some(Some(ReportKey::Counsellor(a))),
                SubjectId::Guest(_) => None,
            })
            .collect(),
        ReportBy::Group => {
            let groups: BTreeSet<_> = s.groups.iter().copied().collect();
            groups
                .into_iter()
                .map(|g| Some(ReportKey::Group(g)))
                .collect()
        }
    }
}

/// The clients and guests taking part in `session`.
fn contacts(space: &Space, session: SessionId) -> impl Iterator<Item = SubjectId> + '_ {
    space
        .participants_of(session)
        .filter(|p| matches!(p.role, ParticipantRole::Client | ParticipantRole::Guest))
        .map(|p| p.subject)
}

/// The raw cells of `query` over `space`.
fn report(space: &Space, query: &ReportQuery, limit: u32) -> Vec<RawCell> {
    let Ok(periods) = query.periods() else {
        return Vec::new();
    };
    let mut cells: BTreeMap<(Timestamp, Option<ReportKey>), Tally> = BTreeMap::new();
    for s in space.sessions.values() {
        // The period whose start is the last one at or before the session's creation.
        let i = periods.partition_point(|(start, _)| *start <= s.created_at);
        let Some((start, end)) = i.checked_sub(1).and_then(|i| periods.get(i)) else {
            continue;
        };
        if s.created_at >= *end {
            continue;
        }
        for key in keys(space, s, query.by) {
            let tally = cells.entry((*start, key)).or_default();
            tally.sessions += 1;
            tally.duration_ms = tally.duration_ms.saturating_add(duration_ms(s));
            tally.contacts.extend(contacts(space, s.id));
        }
    }
    let limit = limit.min(MAX_RAW_CELLS) as usize;
    cells
        .into_iter()
        .take(limit)
        .map(|((period_start, key), t)| RawCell {
            period_start,
            key,
            sessions: t.sessions,
            contacts: t.contacts.len() as u64,
            duration_ms: t.duration_ms,
        })
        .collect()
}

#[async_trait]
impl ReportStore for MemoryStore {
    async fn session_report(
        &self,
        tenant: TenantId,
        query: &ReportQuery,
        limit: u32,
    ) -> StoreResult<Vec<RawCell>> {
        self.with(tenant, |space| report(space, query, limit))
    }
}
