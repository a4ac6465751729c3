//! Sessions, participants, invitations and rooms: participant order and replacement,
//! `sessions_of`, and the cascade of `DeleteSession`.

use crate::domain::{Invitation, ParticipantRole};
use crate::id::{AccountId, GroupId, GuestId, InvitationId, SessionId, SubjectId, TenantId};
use crate::ports::{CredentialKind, DynStore, InvitationFilter, Page, Write};

use super::data::{self, assert_missing, commit, commit_ok, ordered, read, rid};
use super::fixture::Fixture;

/// Participants are listed by subject (accounts before guests, then by id), whatever
/// the insertion order; `PutParticipant` on an existing subject replaces its record;
/// `RemoveParticipant` removes one and fails with `Missing` for a non-participant.
pub async fn participants(store: DynStore) {
    let t: TenantId = rid();
    let session: SessionId = rid();
    let owner: AccountId = ordered(5);
    let subjects = [
        SubjectId::Guest(ordered(1)),
        SubjectId::Account(ordered(9)),
        SubjectId::Account(owner),
        SubjectId::Guest(ordered::<GuestId>(0)),
        SubjectId::Account(ordered(2)),
    ];
    let mut writes = data::tenant_with_session(t, owner, session);
    for subject in subjects {
        if subject != SubjectId::Account(owner) {
            writes.push(data::insert_subject(t, session, subject));
        }
        let role = match subject {
            SubjectId::Guest(_) => ParticipantRole::Guest,
            SubjectId::Account(_) => ParticipantRole::Client,
        };
        writes.push(Write::PutParticipant(data::participant(
            t, session, subject, role,
        )));
    }
    commit_ok(&store, t, writes).await;
    let listed = |ps: Vec<crate::domain::Participant>| -> Vec<SubjectId> {
        ps.into_iter().map(|p| p.subject).collect()
    };
    let mut sorted = subjects.to_vec();
    sorted.sort_unstable();
    assert_eq!(
        listed(read(store.participants(t, session).await, "participants")),
        vec![
            SubjectId::Account(ordered(2)),
            SubjectId::Account(owner),
            SubjectId::Account(ordered(9)),
            SubjectId::Guest(ordered(0)),
            SubjectId::Guest(ordered(1)),
        ]
    );
    assert_eq!(
        listed(read(store.participants(t, session).await, "participants")),
        sorted
    );

    // Changing the part of an existing participant replaces the record.
    let mut host = data::participant(t, session, SubjectId::Account(owner), ParticipantRole::Host);
    host.joined_at = data::at(99);
    commit_ok(&store, t, vec![Write::PutParticipant(host.clone())]).await;
    let now = read(store.participants(t, session).await, "participants");
    assert_eq!(now.len(), subjects.len(), "replaced, not added");
    assert!(now.contains(&host));

    commit_ok(
        &store,
        t,
        vec![Write::RemoveParticipant {
            session,
            subject: SubjectId::Account(ordered(9)),
        }],
    )
    .await;
    let now = listed(read(store.participants(t, session).await, "participants"));
    assert!(!now.contains(&SubjectId::Account(ordered(9))));
    assert_eq!(now.len(), subjects.len() - 1);
    assert_missing(
        commit(
            &store,
            t,
            vec![Write::RemoveParticipant {
                session,
                subject: SubjectId::Account(ordered(9)),
            }],
        )
        .await,
        "removing a non-participant",
    );
    assert_missing(
        commit(
            &store,
            t,
            vec![Write::RemoveParticipant {
                session: rid(),
                subject: SubjectId::Account(owner),
            }],
        )
        .await,
        "removing from another session",
    );
    assert!(read(store.participants(t, rid()).await, "participants").is_empty());
}

/// `sessions_of` lists the sessions a subject takes part in, by id, and no others.
pub async fn sessions_of(store: DynStore) {
    let t: TenantId = rid();
    let me = SubjectId::Account(rid());
    let other = SubjectId::Account(rid());
    let owner: AccountId = rid();
    let mut writes = vec![
        Write::InsertTenant(data::tenant(t)),
        Write::InsertAccount(data::account(t, owner, "owner@example.org")),
        data::insert_subject(t, rid(), me),
        data::insert_subject(t, rid(), other),
    ];
    for n in [8u16, 3, 6, 1] {
        let session: SessionId = ordered(n);
        writes.push(Write::InsertSession(data::session(t, session, owner)));
        let who = if n == 6 { other } else { me };
        writes.push(Write::PutParticipant(data::participant(
            t,
            session,
            who,
            ParticipantRole::Client,
        )));
    }
    commit_ok(&store, t, writes).await;
    let mine: Vec<SessionId> = vec![ordered(1), ordered(3), ordered(8)];
    let all = Page::first(100);
    assert_eq!(
        read(store.sessions_of(t, me, all).await, "sessions of"),
        mine
    );
    assert_eq!(
        read(store.sessions_of(t, other, all).await, "sessions of"),
        vec![ordered::<SessionId>(6)]
    );
    assert!(
        read(
            store.sessions_of(t, SubjectId::Guest(rid()), all).await,
            "sessions of"
        )
        .is_empty()
    );
    assert!(read(store.sessions_of(rid(), me, all).await, "sessions of").is_empty());
    // Paged both ways.
    assert_eq!(
        read(
            store.sessions_of(t, me, Page::first(2)).await,
            "sessions of"
        ),
        mine[..2].to_vec()
    );
    assert_eq!(
        read(
            store
                .sessions_of(t, me, Page::first(2).after(mine[1]))
                .await,
            "sessions of"
        ),
        mine[2..].to_vec()
    );
    assert_eq!(
        read(
            store.sessions_of(t, me, Page::newest(2)).await,
            "sessions of"
        ),
        vec![mine[2], mine[1]]
    );
    assert_eq!(
        read(
            store
                .sessions_of(t, me, Page::newest(5).after(mine[1]))
                .await,
            "sessions of"
        ),
        vec![mine[0]]
    );
}

/// `DeleteSession` removes participants, invitations, items with all versions, key
/// custody, history grants and the session's guests; another session's records,
/// the room, accounts, key backups and audit events stay.
pub async fn delete_session_cascades(store: DynStore) {
    let doomed = Fixture::random(rid());
    let ids = doomed.ids;
    let t = ids.tenant;
    doomed.insert(&store).await;
    // A second session in the same tenant, sharing the participants.
    let kept: SessionId = rid();
    let kept_guest = data::guest(t, rid(), kept);
    let (kept_item, kept_first) = data::item(t, rid(), kept, SubjectId::Account(ids.client));
    let kept_invitation = data::invitation(t, rid(), kept, ids.counsellor);
    let kept_custody = data::custody(t, kept, 0);
    let kept_grant = data::history_grant(t, kept, ids.admin, ids.counsellor);
    let kept_participants = [
        data::participant(
            t,
            kept,
            SubjectId::Account(ids.counsellor),
            ParticipantRole::Host,
        ),
        data::participant(
            t,
            kept,
            SubjectId::Guest(kept_guest.id),
            ParticipantRole::Guest,
        ),
    ];
    let mut writes = vec![
        Write::InsertSession(data::session(t, kept, ids.counsellor)),
        Write::InsertGuest(kept_guest.clone()),
        Write::InsertItem(kept_item.clone(), kept_first.clone()),
        Write::InsertInvitation(kept_invitation.clone()),
        Write::InsertCustody(kept_custody.clone()),
        Write::PutHistoryGrant(kept_grant.clone()),
    ];
    writes.extend(kept_participants.iter().cloned().map(Write::PutParticipant));
    commit_ok(&store, t, writes).await;

    commit_ok(&store, t, vec![Write::DeleteSession(ids.session)]).await;

    assert!(read(store.session(t, ids.session).await, "session").is_none());
    assert!(read(store.participants(t, ids.session).await, "participants").is_empty());
    assert!(read(store.invitation(t, ids.invitation).await, "invitation").is_none());
    assert!(read(store.item(t, ids.item).await, "item").is_none());
    assert!(read(store.items(t, ids.session, Page::first(10)).await, "items").is_empty());
    for v in &doomed.versions {
        assert!(read(store.version(t, ids.item, v.version).await, "version").is_none());
    }
    assert!(read(store.versions(t, ids.item).await, "versions").is_empty());
    assert!(read(store.custodies(t, ids.session).await, "custodies").is_empty());
    assert!(
        read(
            store.history_grant(t, ids.session, ids.admin).await,
            "grant"
        )
        .is_none()
    );
    assert!(read(store.guest(t, ids.guest).await, "guest").is_none());
    assert_eq!(
        read(
            store
                .sessions_of(t, SubjectId::Account(ids.counsellor), Page::first(10))
                .await,
            "sessions of"
        ),
        vec![kept]
    );

    // The other session is whole.
    assert!(read(store.session(t, kept).await, "session").is_some());
    assert_eq!(
        read(store.participants(t, kept).await, "participants").len(),
        2
    );
    assert_eq!(
        read(store.guest(t, kept_guest.id).await, "guest"),
        Some(kept_guest)
    );
    assert_eq!(
        read(store.invitation(t, kept_invitation.id).await, "invitation"),
        Some(kept_invitation)
    );
    assert_eq!(
        read(store.item(t, kept_item.id).await, "item"),
        Some(kept_item.clone())
    );
    assert_eq!(
        read(store.versions(t, kept_item.id).await, "versions"),
        vec![kept_first]
    );
    assert_eq!(
        read(store.custodies(t, kept).await, "custodies"),
        vec![kept_custody]
    );
    assert_eq!(
        read(store.history_grant(t, kept, ids.admin).await, "grant"),
        Some(kept_grant)
    );

    // Nothing outside the session's own records goes.
    assert_eq!(
        read(store.room(t, ids.room).await, "room"),
        Some(doomed.room.clone())
    );
    for a in &doomed.accounts {
        assert_eq!(
            read(store.account(t, a.id).await, "account"),
            Some(a.clone())
        );
    }
    assert_eq!(
        read(store.group(t, ids.group).await, "group"),
        Some(doomed.group.clone())
    );
    assert_eq!(
        read(store.key_backup(t, ids.counsellor).await, "backup"),
        Some(doomed.backup.clone())
    );
    assert!(
        read(
            store
                .credential(t, ids.counsellor, CredentialKind::Password)
                .await,
            "credential"
        )
        .is_some()
    );
    assert_eq!(read(store.audit_events(t, 0, 10).await, "audit").len(), 1);
    assert_eq!(
        read(store.incidents(t, None, 10).await, "incidents"),
        vec![(1, doomed.incident.clone())]
    );
    assert_eq!(
        read(store.pending_notifications(t, 10).await, "notifications"),
        vec![doomed.notification.clone()]
    );
}

/// `invitations` lists a session's invitations or an inviter's, by id in the page's
/// order; `sessions_of_group` lists the sessions shared with a group; `groups` pages a
/// tenant's groups. Nothing of another tenant appears.
pub async fn listings(store: DynStore) {
    let (t, elsewhere): (TenantId, TenantId) = (rid(), rid());
    let owner: AccountId = ordered(1);
    let colleague: AccountId = ordered(2);
    let (s1, s2): (SessionId, SessionId) = (ordered(10), ordered(20));
    let team: GroupId = ordered(30);
    let mut writes = data::tenant_with_session(t, owner, s1);
    writes.push(Write::InsertAccount(data::account(
        t,
        colleague,
        "colleague@example.org",
    )));
    let mut shared = data::session(t, s2, owner);
    shared.groups = vec![team];
    writes.push(Write::InsertSession(shared));
    for n in 0..3u16 {
        writes.push(Write::InsertGroup(data::group(
            t,
            ordered(30 + n),
            &[colleague],
        )));
    }
    // Invitations 40..46: to s1 by the owner (even), to s2 by the colleague (odd).
    for n in 40..46u16 {
        let (session, by) = if n % 2 == 0 {
            (s1, owner)
        } else {
            (s2, colleague)
        };
        writes.push(Write::InsertInvitation(data::invitation(
            t,
            ordered(n),
            session,
            by,
        )));
    }
    commit_ok(&store, t, writes).await;
    data::insert_tenants(&store, &[elsewhere]).await;

    let ids = |list: Vec<Invitation>| -> Vec<InvitationId> { list.iter().map(|i| i.id).collect() };
    let to_s1 = read(
        store
            .invitations(t, InvitationFilter::Session(s1), Page::first(10))
            .await,
        "invitations",
    );
    assert_eq!(ids(to_s1), vec![ordered(40), ordered(42), ordered(44)]);
    let by_colleague = read(
        store
            .invitations(t, InvitationFilter::CreatedBy(colleague), Page::newest(2))
            .await,
        "invitations",
    );
    assert_eq!(ids(by_colleague), vec![ordered(45), ordered(43)]);
    let on = read(
        store
            .invitations(
                t,
                InvitationFilter::Session(s1),
                Page::first(10).after(ordered(41)),
            )
            .await,
        "invitations",
    );
    assert_eq!(ids(on), vec![ordered(42), ordered(44)]);
    assert!(
        read(
            store
                .invitations(elsewhere, InvitationFilter::Session(s1), Page::first(10))
                .await,
            "invitations"
        )
        .is_empty()
    );

    assert_eq!(
        read(
            store.sessions_of_group(t, team, Page::first(10)).await,
            "sessions of group"
        ),
        vec![s2]
    );
    assert!(
        read(
            store
                .sessions_of_group(t, ordered(31), Page::first(10))
                .await,
            "sessions of group"
        )
        .is_empty()
    );
    assert!(
        read(
            store
                .sessions_of_group(elsewhere, team, Page::first(10))
                .await,
            "sessions of group"
        )
        .is_empty()
    );

    // Every session and guest of the tenant, by id, paged both ways; none elsewhere.
    let (g1, g2): (GuestId, GuestId) = (ordered(50), ordered(51));
    commit_ok(
        &store,
        t,
        vec![
            Write::InsertGuest(data::guest(t, g1, s1)),
            Write::InsertGuest(data::guest(t, g2, s2)),
        ],
    )
    .await;
    let all = |r| read(r, "session ids");
    assert_eq!(
        all(store.session_ids(t, Page::first(10)).await),
        vec![s1, s2]
    );
    assert_eq!(all(store.session_ids(t, Page::newest(1)).await), vec![s2]);
    assert_eq!(
        all(store.session_ids(t, Page::first(10).after(s1)).await),
        vec![s2]
    );
    assert!(all(store.session_ids(elsewhere, Page::first(10)).await).is_empty());
    let guests = |r| read(r, "guest ids");
    assert_eq!(
        guests(store.guest_ids(t, Page::first(10)).await),
        vec![g1, g2]
    );
    assert_eq!(guests(store.guest_ids(t, Page::newest(1)).await), vec![g2]);
    assert_eq!(
        guests(store.guest_ids(t, Page::first(1).after(g1)).await),
        vec![g2]
    );
    assert!(guests(store.guest_ids(elsewhere, Page::first(10)).await).is_empty());

    let groups: Vec<GroupId> = read(store.groups(t, Page::newest(2)).await, "groups")
        .iter()
        .map(|g| g.id)
        .collect();
    assert_eq!(groups, vec![ordered(32), ordered(31)]);
    assert_eq!(
        read(
            store.groups(t, Page::first(10).after(ordered(30))).await,
            "groups"
        )
        .len(),
        2
    );
    assert!(read(store.groups(elsewhere, Page::first(10)).await, "groups").is_empty());
}
