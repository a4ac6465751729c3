//! The invariant: what a failed call may leave behind (denial records only).

use super::*;

// ---------------------------------------------------------------------------------
// The invariant.

/// Audit kinds that record a denial.
pub(crate) fn is_denial(kind: AuditKind) -> bool {
    matches!(kind, AuditKind::AccessDenied | AuditKind::IncidentRecorded)
}

/// `after` equals `before` but for new denial records: audit events of a denial kind,
/// incidents (each with its `IncidentRecorded` event), and notifications of those
/// events. Existing records are unchanged.
pub(crate) fn only_denial_records(
    before: &MemorySnapshot,
    after: &MemorySnapshot,
) -> Result<(), String> {
    let (state_before, records_before) = before.clone().split();
    let (state_after, records_after) = after.clone().split();
    let mut problems = Vec::new();
    if state_before != state_after {
        problems.extend(state_before.diff(&state_after));
    }
    let tenants: BTreeSet<_> = records_before
        .keys()
        .chain(records_after.keys())
        .copied()
        .collect();
    let empty = TenantRecords::default();
    for t in tenants {
        let b = records_before.get(&t).unwrap_or(&empty);
        let a = records_after.get(&t).unwrap_or(&empty);
        let mut new_events = BTreeSet::new();
        let mut new_incident_events = BTreeSet::new();
        for (seq, e) in &b.audit {
            if a.audit.get(seq) != Some(e) {
                problems.push(format!("{t} audit #{seq} changed or removed: {e:?}"));
            }
        }
        for (seq, e) in &a.audit {
            if b.audit.contains_key(seq) {
                continue;
            }
            if is_denial(e.kind) {
                new_events.insert(e.id);
                if let AuditObject::Incident(id) = e.object {
                    new_incident_events.insert(id);
                }
            } else {
                problems.push(format!(
                    "{t} audit #{seq} of kind {:?} left behind: {e:?}",
                    e.kind
                ));
            }
        }
        for (seq, i) in &b.incidents {
            if a.incidents.get(seq) != Some(i) {
                problems.push(format!("{t} incident #{seq} changed or removed: {i:?}"));
            }
        }
        for (seq, i) in &a.incidents {
            if !b.incidents.contains_key(seq) && !new_incident_events.contains(&i.id) {
                problems.push(format!(
                    "{t} incident #{seq} without its IncidentRecorded event: {i:?}"
                ));
            }
        }
        for (event, n) in &b.notifications {
            if a.notifications.get(event) != Some(n) {
                problems.push(format!(
                    "{t} notification of {event} changed or removed: {n:?}"
                ));
            }
        }
        for (event, n) in &a.notifications {
            if !b.notifications.contains_key(event) && !new_events.contains(event) {
                problems.push(format!(
                    "{t} notification of {event} queued for a non-denial event: {n:?}"
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}
