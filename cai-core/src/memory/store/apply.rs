//! Applying one [`Write`] to a tenant's space: preconditions first, then the change
//! and its documented cascades, every step through the undo log.

use super::space::{Queued, Tx};
use crate::domain::{Account, ContentItem, ContentVersion};
use crate::id::{AccountId, EventId, GuestId, ItemId, RoleId, SessionId, SubjectId, TenantId};
use crate::ports::{Credential, CredentialKind, StoreError, StoreResult, Write};

/// Whether every record a write carries belongs to `tenant`. Writes that name only
/// an id belong to the batch's tenant by construction.
pub(super) fn belongs_to(write: &Write, tenant: TenantId) -> bool {
    match write {
        Write::InsertTenant(t) | Write::UpdateTenant(t) => t.id == tenant,
        Write::InsertAccount(a) | Write::UpdateAccount(a) => a.tenant == tenant,
        Write::InsertGuest(g) => g.tenant == tenant,
        Write::InsertRole(r) | Write::UpdateRole(r) => r.tenant == tenant,
        Write::InsertGroup(g) | Write::UpdateGroup(g) => g.tenant == tenant,
        Write::InsertSession(s) | Write::UpdateSession(s) => s.tenant == tenant,
        Write::PutParticipant(p) => p.tenant == tenant,
        Write::InsertInvitation(i) | Write::UpdateInvitation(i) => i.tenant == tenant,
        Write::InsertRoom(r) | Write::UpdateRoom(r) => r.tenant == tenant,
        Write::InsertItem(i, v) => i.tenant == tenant && v.tenant == tenant,
        Write::AddVersion(v) => v.tenant == tenant,
        Write::InsertCustody(c) => c.tenant == tenant,
        Write::PutHistoryGrant(g) => g.tenant == tenant,
        Write::InsertE2eEpoch(e) => e.tenant == tenant,
        Write::VetoE2eEpoch { tenant: t, .. } => *t == tenant,
        Write::PutKeyPackage(k) => k.tenant == tenant,
        Write::PutCredential(c) => c.tenant == tenant,
        Write::AppendAudit(e) => e.tenant == tenant,
        Write::RecordIncident(i) => i.tenant == tenant,
        Write::QueueNotification(n) => n.tenant == tenant,
        Write::DeleteAccount(_)
        | Write::DeleteGuest(_)
        | Write::DeleteRole(_)
        | Write::DeleteSession(_)
        | Write::RemoveParticipant { .. }
        | Write::DeleteItem(_)
        | Write::DeleteSessionContent(_)
        | Write::DeleteCustody(_)
        | Write::PutKeyBackup { .. }
        | Write::TakeKeyPackage { .. }
        | Write::DeleteCredential { .. }
        | Write::MarkNotified(_) => true,
    }
}

const fn conflict(what: &'static str) -> StoreError {
    StoreError::Conflict { what }
}

const fn missing(what: &'static str) -> StoreError {
    StoreError::Missing { what }
}

/// `Conflict` if an insert's key is taken.
fn ensure_free(taken: bool, what: &'static str) -> StoreResult<()> {
    if taken { Err(conflict(what)) } else { Ok(()) }
}

/// The revision an update stores, if the stored record (its revision, `None` if there
/// is none) allows an update from `given`.
fn next_revision(stored: Option<u64>, given: u64, what: &'static str) -> StoreResult<u64> {
    match stored {
        None => Err(missing(what)),
        Some(r) if r != given => Err(conflict(what)),
        Some(r) => r.checked_add(1).ok_or(conflict(what)),
    }
}

/// Applies one write. On error the caller rolls the whole batch back.
pub(super) fn apply(tx: &mut Tx<'_>, write: Write) -> StoreResult<()> {
    match write {
        Write::InsertTenant(mut t) => {
            ensure_free(tx.space().tenant.is_some(), "tenant")?;
            t.revision = 0;
            tx.set(|s| &mut s.tenant, Some(t));
        }
        Write::UpdateTenant(mut t) => {
            let stored = tx.space().tenant.as_ref().map(|t| t.revision);
            t.revision = next_revision(stored, t.revision, "tenant")?;
            tx.set(|s| &mut s.tenant, Some(t));
        }
        Write::InsertAccount(a) => insert_account(tx, a)?,
        Write::UpdateAccount(a) => update_account(tx, a)?,
        Write::DeleteAccount(id) => delete_account(tx, id)?,
        Write::InsertGuest(g) => {
            ensure_free(tx.space().guests.contains_key(&g.id), "guest")?;
            tx.put(|s| &mut s.guests, g.id, g);
        }
        Write::DeleteGuest(id) => {
            if !tx.remove(|s| &mut s.guests, id) {
                return Err(missing("guest"));
            }
            remove_participations(tx, SubjectId::Guest(id));
            delete_key_packages(tx, SubjectId::Guest(id));
        }
        Write::InsertRole(mut r) => {
            ensure_free(tx.space().roles.contains_key(&r.id), "role")?;
            r.revision = 0;
            tx.put(|s| &mut s.roles, r.id, r);
        }
        Write::UpdateRole(mut r) => {
            let stored = tx.space().roles.get(&r.id).map(|r| r.revision);
            r.revision = next_revision(stored, r.revision, "role")?;
            tx.put(|s| &mut s.roles, r.id, r);
        }
        Write::DeleteRole(id) => delete_role(tx, id)?,
        Write::InsertGroup(mut g) => {
            ensure_free(tx.space().groups.contains_key(&g.id), "group")?;
            g.revision = 0;
            tx.put(|s| &mut s.groups, g.id, g);
        }
        Write::UpdateGroup(mut g) => {
            let stored = tx.space().groups.get(&g.id).map(|g| g.revision);
            g.revision = next_revision(stored, g.revision, "group")?;
            tx.put(|s| &mut s.groups, g.id, g);
        }
        Write::InsertSession(mut x) => {
            ensure_free(tx.space().sessions.contains_key(&x.id), "session")?;
            x.revision = 0;
            tx.put(|s| &mut s.sessions, x.id, x);
        }
        Write::UpdateSession(mut x) => {
            let stored = tx.space().sessions.get(&x.id).map(|x| x.revision);
            x.revision = next_revision(stored, x.revision, "session")?;
            tx.put(|s| &mut s.sessions, x.id, x);
        }
        Write::DeleteSession(id) => delete_session(tx, id)?,
        Write::PutParticipant(p) => tx.put(|s| &mut s.participants, (p.session, p.subject), p),
        Write::RemoveParticipant { session, subject } => {
            if !tx.remove(|s| &mut s.participants, (session, subject)) {
                return Err(missing("participant"));
            }
        }
        Write::InsertInvitation(mut i) => {
            ensure_free(tx.space().invitations.contains_key(&i.id), "invitation")?;
            i.revision = 0;
            tx.put(|s| &mut s.invitations, i.id, i);
        }
        Write::UpdateInvitation(mut i) => {
            let stored = tx.space().invitations.get(&i.id).map(|i| i.revision);
            i.revision = next_revision(stored, i.revision, "invitation")?;
            tx.put(|s| &mut s.invitations, i.id, i);
        }
        Write::InsertRoom(mut r) => {
            ensure_free(tx.space().rooms.contains_key(&r.id), "room")?;
            r.revision = 0;
            tx.put(|s| &mut s.rooms, r.id, r);
        }
        Write::UpdateRoom(mut r) => {
            let stored = tx.space().rooms.get(&r.id).map(|r| r.revision);
            r.revision = next_revision(stored, r.revision, "room")?;
            tx.put(|s| &mut s.rooms, r.id, r);
        }
        Write::InsertItem(item, version) => insert_item(tx, item, version)?,
        Write::AddVersion(v) => add_version(tx, v)?,
        Write::DeleteItem(id) => {
            if !tx.space().items.contains_key(&id) {
                return Err(missing("item"));
            }
            delete_item(tx, id);
        }
        Write::DeleteSessionContent(session) => {
            let items: Vec<ItemId> = items_of(tx, session);
            for id in items {
                delete_item(tx, id);
            }
        }
        Write::InsertCustody(c) => {
            let key = (c.session, c.epoch);
            ensure_free(tx.space().custody.contains_key(&key), "key custody")?;
            tx.put(|s| &mut s.custody, key, c);
        }
        Write::DeleteCustody(session) => delete_custody(tx, session),
        Write::PutHistoryGrant(g) => tx.put(|s| &mut s.grants, (g.session, g.recipient), g),
        Write::InsertE2eEpoch(e) => {
            let key = (e.session, e.epoch);
            ensure_free(tx.space().e2e.contains_key(&key), "end-to-end epoch")?;
            tx.put(|s| &mut s.e2e, key, e);
        }
        Write::VetoE2eEpoch {
            session,
            epoch,
            commit,
            ..
        } => {
            let newest = tx
                .space()
                .e2e
                .range((session, 0)..=(session, u32::MAX))
                .next_back()
                .map(|(_, e)| (e.epoch, e.commit == commit));
            if newest != Some((epoch, true)) {
                return Err(conflict("end-to-end epoch"));
            }
            tx.remove(|s| &mut s.e2e, (session, epoch));
        }
        Write::PutKeyPackage(k) => {
            let owned = tx
                .space()
                .key_packages
                .keys()
                .any(|(_, r)| *r == k.reference);
            ensure_free(owned, "key package")?;
            if k.last_resort {
                let old: Vec<Vec<u8>> = tx
                    .space()
                    .key_packages_of(k.owner)
                    .filter(|o| o.last_resort && o.device == k.device)
                    .map(|o| o.reference.clone())
                    .collect();
                for r in old {
                    tx.remove(|s| &mut s.key_packages, (k.owner, r));
                }
            }
            tx.put(|s| &mut s.key_packages, (k.owner, k.reference.clone()), k);
        }
        Write::TakeKeyPackage { owner, reference } => {
            let key = (owner, reference);
            match tx.space().key_packages.get(&key) {
                Some(k) if !k.last_resort => {
                    tx.remove(|s| &mut s.key_packages, key);
                }
                _ => return Err(missing("key package")),
            }
        }
        Write::PutKeyBackup { account, backup } => tx.put(|s| &mut s.backups, account, backup),
        Write::PutCredential(c) => put_credential(tx, c)?,
        Write::DeleteCredential { account, kind } => {
            tx.remove(|s| &mut s.credentials, (account, kind));
        }
        Write::AppendAudit(e) => {
            ensure_free(tx.space().audit_ids.contains_key(&e.id), "audit event")?;
            let seq = tx
                .space()
                .audit_seq
                .checked_add(1)
                .ok_or(conflict("audit sequence"))?;
            tx.set(|s| &mut s.audit_seq, seq);
            tx.put(|s| &mut s.audit_ids, e.id, seq);
            tx.put(|s| &mut s.audit, seq, e);
        }
        Write::RecordIncident(i) => {
            ensure_free(tx.space().incident_ids.contains_key(&i.id), "incident")?;
            let seq = tx
                .space()
                .incident_seq
                .checked_add(1)
                .ok_or(conflict("incident sequence"))?;
            tx.set(|s| &mut s.incident_seq, seq);
            tx.put(|s| &mut s.incident_ids, i.id, seq);
            tx.put(|s| &mut s.incidents, seq, i);
        }
        Write::QueueNotification(n) => {
            ensure_free(tx.space().queued.contains_key(&n.event), "notification")?;
            let seq = tx
                .space()
                .outbox_seq
                .checked_add(1)
                .ok_or(conflict("notification sequence"))?;
            let queued = Queued {
                seq,
                delivered: false,
            };
            tx.set(|s| &mut s.outbox_seq, seq);
            tx.put(|s| &mut s.queued, n.event, queued);
            tx.put(|s| &mut s.outbox, seq, n);
        }
        Write::MarkNotified(event) => mark_notified(tx, event)?,
    }
    Ok(())
}

fn insert_account(tx: &mut Tx<'_>, mut a: Account) -> StoreResult<()> {
    ensure_free(tx.space().accounts.contains_key(&a.id), "account")?;
    if let Some(email) = &a.email {
        ensure_free(tx.space().emails.contains_key(email), "account e-mail")?;
        tx.put(|s| &mut s.emails, email.clone(), a.id);
    }
    a.revision = 0;
    tx.put(|s| &mut s.accounts, a.id, a);
    Ok(())
}

fn update_account(tx: &mut Tx<'_>, mut a: Account) -> StoreResult<()> {
    let old = tx.space().accounts.get(&a.id);
    let old_email = old.and_then(|o| o.email.clone());
    a.revision = next_revision(old.map(|o| o.revision), a.revision, "account")?;
    if let Some(email) = &a.email {
        let holder = tx.space().emails.get(email);
        ensure_free(holder.is_some_and(|h| *h != a.id), "account e-mail")?;
    }
    if old_email != a.email {
        if let Some(old_email) = old_email {
            tx.remove(|s| &mut s.emails, old_email);
        }
        if let Some(email) = &a.email {
            tx.put(|s| &mut s.emails, email.clone(), a.id);
        }
    }
    tx.put(|s| &mut s.accounts, a.id, a);
    Ok(())
}

/// Cascades: credentials, key backup, history grants to it, group memberships,
/// participations. Content, audit events and grants it gave stay.
fn delete_account(tx: &mut Tx<'_>, id: AccountId) -> StoreResult<()> {
    let email = match tx.space().accounts.get(&id) {
        None => return Err(missing("account")),
        Some(a) => a.email.clone(),
    };
    tx.remove(|s| &mut s.accounts, id);
    if let Some(email) = email {
        tx.remove(|s| &mut s.emails, email);
    }
    for kind in CredentialKind::ALL {
        tx.remove(|s| &mut s.credentials, (id, kind));
    }
    tx.remove(|s| &mut s.backups, id);
    let grants: Vec<(SessionId, AccountId)> = tx
        .space()
        .grants
        .keys()
        .filter(|(_, recipient)| *recipient == id)
        .copied()
        .collect();
    for key in grants {
        tx.remove(|s| &mut s.grants, key);
    }
    // A cascade changes the group record like an update does, so its revision moves
    // on: an update prepared from an earlier read must not put the member back.
    let groups: Vec<_> = tx
        .space()
        .groups
        .values()
        .filter(|g| g.members.contains(&id))
        .cloned()
        .collect();
    for mut group in groups {
        group.members.retain(|m| *m != id);
        group.revision = group.revision.checked_add(1).ok_or(conflict("group"))?;
        tx.put(|s| &mut s.groups, group.id, group);
    }
    remove_participations(tx, SubjectId::Account(id));
    delete_key_packages(tx, SubjectId::Account(id));
    Ok(())
}

fn delete_key_packages(tx: &mut Tx<'_>, owner: SubjectId) {
    let refs: Vec<Vec<u8>> = tx
        .space()
        .key_packages_of(owner)
        .map(|k| k.reference.clone())
        .collect();
    for r in refs {
        tx.remove(|s| &mut s.key_packages, (owner, r));
    }
}

fn remove_participations(tx: &mut Tx<'_>, subject: SubjectId) {
    let keys: Vec<(SessionId, SubjectId)> = tx
        .space()
        .participants
        .keys()
        .filter(|(_, s)| *s == subject)
        .copied()
        .collect();
    for key in keys {
        tx.remove(|s| &mut s.participants, key);
    }
}

/// Cascade: the role leaves every account holding it (their revisions move on, as
/// for group memberships).
fn delete_role(tx: &mut Tx<'_>, id: RoleId) -> StoreResult<()> {
    if !tx.remove(|s| &mut s.roles, id) {
        return Err(missing("role"));
    }
    let holders: Vec<Account> = tx
        .space()
        .accounts
        .values()
        .filter(|a| a.roles.contains(&id))
        .cloned()
        .collect();
    for mut account in holders {
        account.roles.retain(|r| *r != id);
        account.revision = account.revision.checked_add(1).ok_or(conflict("account"))?;
        tx.put(|s| &mut s.accounts, account.id, account);
    }
    Ok(())
}

/// Cascades: participants, invitations, items with all versions, key custody,
/// history grants, guests of the session.
fn delete_session(tx: &mut Tx<'_>, id: SessionId) -> StoreResult<()> {
    if !tx.remove(|s| &mut s.sessions, id) {
        return Err(missing("session"));
    }
    let participants: Vec<(SessionId, SubjectId)> = tx
        .space()
        .participants_of(id)
        .map(|p| (p.session, p.subject))
        .collect();
    for key in participants {
        tx.remove(|s| &mut s.participants, key);
    }
    let invitations: Vec<_> = tx
        .space()
        .invitations
        .values()
        .filter(|i| i.session == id)
        .map(|i| i.id)
        .collect();
    for inv in invitations {
        tx.remove(|s| &mut s.invitations, inv);
    }
    for item in items_of(tx, id) {
        delete_item(tx, item);
    }
    delete_custody(tx, id);
    let guests: Vec<GuestId> = tx
        .space()
        .guests
        .values()
        .filter(|g| g.session == id)
        .map(|g| g.id)
        .collect();
    for guest in guests {
        tx.remove(|s| &mut s.guests, guest);
    }
    Ok(())
}

fn items_of(tx: &Tx<'_>, session: SessionId) -> Vec<ItemId> {
    tx.space()
        .items
        .values()
        .filter(|i| i.session == session)
        .map(|i| i.id)
        .collect()
}

fn insert_item(tx: &mut Tx<'_>, item: ContentItem, version: ContentVersion) -> StoreResult<()> {
    ensure_free(tx.space().items.contains_key(&item.id), "item")?;
    if let Some(blob) = item.blob {
        let taken = tx.space().items.values().any(|i| i.blob == Some(blob));
        ensure_free(taken, "item blob")?;
    }
    if version.item != item.id || version.session != item.session {
        return Err(conflict("item version belongs to another item"));
    }
    if version.version != 1 || item.latest_version != 1 {
        return Err(conflict("item version"));
    }
    tx.put(|s| &mut s.versions, (item.id, 1), version);
    tx.put(|s| &mut s.items, item.id, item);
    Ok(())
}

fn add_version(tx: &mut Tx<'_>, v: ContentVersion) -> StoreResult<()> {
    let Some(item) = tx.space().items.get(&v.item) else {
        return Err(missing("item"));
    };
    if v.session != item.session {
        return Err(conflict("item version belongs to another session"));
    }
    if Some(v.version) != item.latest_version.checked_add(1) {
        return Err(conflict("item version"));
    }
    let mut item = item.clone();
    item.latest_version = v.version;
    tx.put(|s| &mut s.versions, (v.item, v.version), v);
    tx.put(|s| &mut s.items, item.id, item);
    Ok(())
}

/// Removes an item and all its versions (absent items are the caller's concern).
fn delete_item(tx: &mut Tx<'_>, id: ItemId) {
    let versions: Vec<u32> = tx.space().versions_of(id).map(|v| v.version).collect();
    for version in versions {
        tx.remove(|s| &mut s.versions, (id, version));
    }
    tx.remove(|s| &mut s.items, id);
}

/// Crypto-shredding: every custody, history grant and end-to-end epoch of the session.
fn delete_custody(tx: &mut Tx<'_>, session: SessionId) {
    let epochs: Vec<u32> = tx.space().custody_of(session).map(|c| c.epoch).collect();
    for epoch in epochs {
        tx.remove(|s| &mut s.custody, (session, epoch));
    }
    let recipients: Vec<AccountId> = tx.space().grants_of(session).map(|g| g.recipient).collect();
    for recipient in recipients {
        tx.remove(|s| &mut s.grants, (session, recipient));
    }
    let epochs: Vec<u32> = tx.space().e2e_of(session).map(|e| e.epoch).collect();
    for epoch in epochs {
        tx.remove(|s| &mut s.e2e, (session, epoch));
    }
}

/// Revision 0 inserts; any other revision updates under the precondition. An insert
/// is stored with revision 1, not 0: revision 0 already means "insert", so a record
/// stored at 0 could never be updated.
fn put_credential(tx: &mut Tx<'_>, mut c: Credential) -> StoreResult<()> {
    let key = (c.account, c.kind);
    let stored = tx.space().credentials.get(&key).map(|c| c.revision);
    c.revision = if c.revision == 0 {
        ensure_free(stored.is_some(), "credential")?;
        1
    } else {
        next_revision(stored, c.revision, "credential")?
    };
    tx.put(|s| &mut s.credentials, key, c);
    Ok(())
}

/// Delivered notifications leave the outbox; marking one twice is not an error (a
/// second deliverer racing the first changes nothing).
fn mark_notified(tx: &mut Tx<'_>, event: EventId) -> StoreResult<()> {
    let Some(queued) = tx.space().queued.get(&event).copied() else {
        return Err(missing("notification"));
    };
    if !queued.delivered {
        tx.remove(|s| &mut s.outbox, queued.seq);
        tx.put(
            |s| &mut s.queued,
            event,
            Queued {
                delivered: true,
                ..queued
            },
        );
    }
    Ok(())
}
