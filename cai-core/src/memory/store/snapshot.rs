//! [`MemorySnapshot`]: a deep, comparable copy of a [`MemoryStore`](super::MemoryStore)'s
//! state. Test support: it lets a test check that a call changed nothing (or only
//! what it may change) by comparing the store before and after.

use std::collections::BTreeMap;
use std::fmt;

use super::space::Space;
use crate::domain::{AuditEvent, Incident};
use crate::id::{EventId, TenantId};
use crate::ports::Notification;

/// Every record of a [`MemoryStore`](super::MemoryStore) at one moment, taken with
/// [`MemoryStore::snapshot`](super::MemoryStore::snapshot).
///
/// **Test support.** Two snapshots are equal when every record of every tenant is
/// equal, byte for byte (sealed bodies, custody and credentials included), and so are
/// the store's internal counters and indexes. [`Debug`] redacts key backups to their
/// length (the other records redact their secrets themselves); [`MemorySnapshot::diff`]
/// names what differs.
///
/// The audit trail, incidents and the notification outbox are append-only records of
/// what happened; [`MemorySnapshot::split`] separates them from the rest of the state,
/// so a test can require "nothing changed except these new records".
#[derive(Clone, PartialEq, Default)]
pub struct MemorySnapshot {
    pub(super) spaces: BTreeMap<TenantId, Space>,
}

/// One tenant's append-only records, as split off by [`MemorySnapshot::split`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TenantRecords {
    /// The audit trail by sequence number.
    pub audit: BTreeMap<u64, AuditEvent>,
    /// Incidents by the order they were recorded.
    pub incidents: BTreeMap<u64, Incident>,
    /// Every notification ever queued, by its audit event.
    pub notifications: BTreeMap<EventId, QueuedNotification>,
}

/// A notification's place in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedNotification {
    /// Its position in the tenant's outbox.
    pub seq: u64,
    /// Whether it was marked delivered.
    pub delivered: bool,
    /// The notification while it waits in the outbox (delivered ones leave it).
    pub pending: Option<Notification>,
}

impl MemorySnapshot {
    /// The tenants that have any data.
    pub fn tenants(&self) -> Vec<TenantId> {
        self.spaces.keys().copied().collect()
    }

    /// Splits the snapshot into the state without the append-only records (audit
    /// trail, incidents, notification outbox, with their sequence counters and id
    /// indexes) and those records by tenant. A tenant left with no data at all is
    /// dropped from the state part.
    pub fn split(mut self) -> (MemorySnapshot, BTreeMap<TenantId, TenantRecords>) {
        let mut records = BTreeMap::new();
        for (tenant, space) in &mut self.spaces {
            let audit = std::mem::take(&mut space.audit);
            let incidents = std::mem::take(&mut space.incidents);
            let mut outbox = std::mem::take(&mut space.outbox);
            let notifications = std::mem::take(&mut space.queued)
                .into_iter()
                .map(|(event, q)| {
                    let pending = outbox.remove(&q.seq);
                    (
                        event,
                        QueuedNotification {
                            seq: q.seq,
                            delivered: q.delivered,
                            pending,
                        },
                    )
                })
                .collect();
            space.audit_ids.clear();
            space.audit_seq = 0;
            space.incident_ids.clear();
            space.incident_seq = 0;
            space.outbox_seq = 0;
            records.insert(
                *tenant,
                TenantRecords {
                    audit,
                    incidents,
                    notifications,
                },
            );
        }
        let empty = Space::default();
        self.spaces.retain(|_, space| *space != empty);
        (self, records)
    }

    /// What differs between `self` and `other`, one line per record added, removed or
    /// changed (`tenant field key: before -> after`); empty when they are equal.
    pub fn diff(&self, other: &MemorySnapshot) -> Vec<String> {
        let mut out = Vec::new();
        let empty = Space::default();
        let tenants: std::collections::BTreeSet<_> =
            self.spaces.keys().chain(other.spaces.keys()).collect();
        for tenant in tenants {
            let a = self.spaces.get(tenant).unwrap_or(&empty);
            let b = other.spaces.get(tenant).unwrap_or(&empty);
            let mut d = Differ {
                tenant: *tenant,
                out: &mut out,
            };
            if a.tenant != b.tenant {
                d.line("tenant", &"", &a.tenant, &b.tenant);
            }
            d.map("accounts", &a.accounts, &b.accounts);
            d.map("emails", &a.emails, &b.emails);
            d.map("guests", &a.guests, &b.guests);
            d.map("roles", &a.roles, &b.roles);
            d.map("groups", &a.groups, &b.groups);
            d.map("sessions", &a.sessions, &b.sessions);
            d.map("participants", &a.participants, &b.participants);
            d.map("invitations", &a.invitations, &b.invitations);
            d.map("rooms", &a.rooms, &b.rooms);
            d.map("items", &a.items, &b.items);
            d.map("versions", &a.versions, &b.versions);
            d.map("custody", &a.custody, &b.custody);
            d.map("grants", &a.grants, &b.grants);
            d.map("e2e", &a.e2e, &b.e2e);
            d.map("key_packages", &a.key_packages, &b.key_packages);
            d.map("backups", &lengths(&a.backups), &lengths(&b.backups));
            d.map("credentials", &a.credentials, &b.credentials);
            d.map("audit", &a.audit, &b.audit);
            d.map("audit_ids", &a.audit_ids, &b.audit_ids);
            d.map("incidents", &a.incidents, &b.incidents);
            d.map("incident_ids", &a.incident_ids, &b.incident_ids);
            d.map("outbox", &a.outbox, &b.outbox);
            d.map("queued", &a.queued, &b.queued);
            for (name, x, y) in [
                ("audit_seq", a.audit_seq, b.audit_seq),
                ("incident_seq", a.incident_seq, b.incident_seq),
                ("outbox_seq", a.outbox_seq, b.outbox_seq),
            ] {
                if x != y {
                    d.line(name, &"", &x, &y);
                }
            }
        }
        out
    }
}

fn lengths<K: Ord + Clone>(map: &BTreeMap<K, Vec<u8>>) -> BTreeMap<K, String> {
    map.iter()
        .map(|(k, v)| (k.clone(), format!("<{} bytes>", v.len())))
        .collect()
}

struct Differ<'a> {
    tenant: TenantId,
    out: &'a mut Vec<String>,
}

impl Differ<'_> {
    fn line(
        &mut self,
        field: &str,
        key: &dyn fmt::Debug,
        before: &dyn fmt::Debug,
        after: &dyn fmt::Debug,
    ) {
        self.out.push(format!(
            "{} {field} {key:?}: {before:?} -> {after:?}",
            self.tenant
        ));
    }

    fn map<K, V>(&mut self, field: &str, a: &BTreeMap<K, V>, b: &BTreeMap<K, V>)
    where
        K: Ord + fmt::Debug,
        V: PartialEq + fmt::Debug,
    {
        for (k, x) in a {
            match b.get(k) {
                None => self.line(field, k, &Some(x), &None::<()>),
                Some(y) if x != y => self.line(field, k, x, y),
                Some(_) => {}
            }
        }
        for (k, y) in b {
            if !a.contains_key(k) {
                self.line(field, k, &None::<()>, &Some(y));
            }
        }
    }
}

impl fmt::Debug for MemorySnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(&self.spaces).finish()
    }
}

impl fmt::Debug for Space {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Space")
            .field("tenant", &self.tenant)
            .field("accounts", &self.accounts)
            .field("emails", &self.emails)
            .field("guests", &self.guests)
            .field("roles", &self.roles)
            .field("groups", &self.groups)
            .field("sessions", &self.sessions)
            .field("participants", &self.participants)
            .field("invitations", &self.invitations)
            .field("rooms", &self.rooms)
            .field("items", &self.items)
            .field("versions", &self.versions)
            .field("custody", &self.custody)
            .field("grants", &self.grants)
            .field("e2e", &self.e2e)
            .field("key_packages", &self.key_packages)
            .field("backups", &lengths(&self.backups))
            .field("credentials", &self.credentials)
            .field("audit", &self.audit)
            .field("audit_ids", &self.audit_ids)
            .field("audit_seq", &self.audit_seq)
            .field("incidents", &self.incidents)
            .field("incident_ids", &self.incident_ids)
            .field("incident_seq", &self.incident_seq)
            .field("outbox", &self.outbox)
            .field("queued", &self.queued)
            .field("outbox_seq", &self.outbox_seq)
            .finish()
    }
}
