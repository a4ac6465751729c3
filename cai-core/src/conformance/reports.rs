//! Reports ([`ReportStore`](crate::ports::ReportStore)): every backend counts the same
//! sessions into the same UTC periods — a millisecond before a boundary in one period,
//! the boundary itself in the next — counts sessions by creation (one that runs past
//! a boundary counts where it started, with its whole duration), counts clients and
//! guests once per cell and nobody waiting in a lobby, leaves out counsellors and
//! groups without sessions, and never counts another tenant's rows, even where that
//! tenant has records with the same ids.

use crate::domain::{
    ParticipantRole, ReportBy, ReportKey, ReportPeriod, ReportQuery, SessionStatus,
};
use crate::id::{AccountId, GroupId, GuestId, SessionId, SubjectId, TenantId};
use crate::ports::{DynStore, RawCell, Write};
use crate::time::Timestamp;

use super::data::{self, at, commit_ok, ordered, read, rid};

const DAY: i64 = 86_400_000;

/// The ids of the report world; the same in both tenants.
struct Ids {
    c1: AccountId,
    c2: AccountId,
    c3: AccountId,
    k1: AccountId,
    k2: AccountId,
    k3: AccountId,
    k4: AccountId,
    guest: GuestId,
    group_a: GroupId,
    group_b: GroupId,
    sessions: [SessionId; 8],
}

impl Ids {
    fn new() -> Self {
        Self {
            c1: ordered(1),
            c2: ordered(2),
            c3: ordered(3),
            k1: ordered(11),
            k2: ordered(12),
            k3: ordered(13),
            k4: ordered(14),
            guest: rid(),
            group_a: ordered(1),
            group_b: ordered(2),
            sessions: [rid(), rid(), rid(), rid(), rid(), rid(), rid(), rid()],
        }
    }
}

/// A session created at `created` (milliseconds after 2024-01-01, a Monday), owned by
/// `owner`, shared with `groups`, ending at `end` (`Some` closed, `None` open with its
/// last activity at `activity`).
struct Spec {
    owner: AccountId,
    created: i64,
    closed: Option<i64>,
    activity: i64,
    groups: Vec<GroupId>,
    people: Vec<(SubjectId, ParticipantRole)>,
}

/// The writes of the report world in `t`; `other` adds what only the other tenant has
/// (a fourth client, the third counsellor and group B in the first session), so a
/// backend that joined across tenants would count them.
fn world(t: TenantId, ids: &Ids, other: bool) -> Vec<Write> {
    use ParticipantRole::{Client, Counsellor, Guest, Host, Waiting};
    let acc = SubjectId::Account;
    let mut writes = vec![Write::InsertTenant(data::tenant(t))];
    for a in [ids.c1, ids.c2, ids.c3, ids.k1, ids.k2, ids.k3, ids.k4] {
        writes.push(Write::InsertAccount(data::account(
            t,
            a,
            &format!("{a}@example.org"),
        )));
    }
    writes.push(Write::InsertGroup(data::group(t, ids.group_a, &[ids.c1])));
    writes.push(Write::InsertGroup(data::group(t, ids.group_b, &[ids.c2])));
    let mut first_people = vec![
        (acc(ids.c1), Host),
        (acc(ids.k1), Client),
        (acc(ids.k2), Client),
    ];
    let mut first_groups = vec![ids.group_a];
    if other {
        first_people.push((acc(ids.k4), Client));
        first_people.push((acc(ids.c3), Counsellor));
        first_groups.push(ids.group_b);
    }
    let specs = [
        // 2024-01-01T23:59:59.999Z, closed an hour into the next day.
        Spec {
            owner: ids.c1,
            created: DAY - 1,
            closed: Some(DAY + 3_600_000),
            activity: DAY,
            groups: first_groups,
            people: first_people,
        },
        // 2024-01-02T00:00:00.000Z, open; a second counsellor, someone waiting.
        Spec {
            owner: ids.c1,
            created: DAY,
            closed: None,
            activity: DAY + 60_000,
            groups: vec![ids.group_a, ids.group_b],
            people: vec![
                (acc(ids.c1), Host),
                (acc(ids.c2), Counsellor),
                (acc(ids.k1), Client),
                (acc(ids.k3), Waiting),
            ],
        },
        // Sunday 2024-01-07T23:59:59.999Z, a guest; last activity before creation.
        Spec {
            owner: ids.c2,
            created: 7 * DAY - 1,
            closed: None,
            activity: 7 * DAY - 5_000,
            groups: vec![],
            people: vec![(acc(ids.c2), Host), (SubjectId::Guest(ids.guest), Guest)],
        },
        // Monday 2024-01-08T00:00:00.000Z.
        Spec {
            owner: ids.c2,
            created: 7 * DAY,
            closed: Some(7 * DAY + 1_000),
            activity: 7 * DAY,
            groups: vec![],
            people: vec![(acc(ids.c2), Host), (acc(ids.k2), Client)],
        },
        // 2024-01-31T23:59:59.999Z, nobody but the host.
        Spec {
            owner: ids.c1,
            created: 31 * DAY - 1,
            closed: None,
            activity: 31 * DAY - 1,
            groups: vec![ids.group_b],
            people: vec![(acc(ids.c1), Host)],
        },
        // 2024-02-01T00:00:00.000Z.
        Spec {
            owner: ids.c2,
            created: 31 * DAY,
            closed: Some(31 * DAY + 2_000),
            activity: 31 * DAY,
            groups: vec![],
            people: vec![(acc(ids.c2), Host), (acc(ids.k1), Client)],
        },
        // 2023-12-31T23:59:59.999Z: before every query.
        Spec {
            owner: ids.c1,
            created: -1,
            closed: None,
            activity: 0,
            groups: vec![ids.group_a],
            people: vec![(acc(ids.c1), Host), (acc(ids.k1), Client)],
        },
        // 2024-03-01T00:00:00.000Z: the end of the month query, so outside it.
        Spec {
            owner: ids.c1,
            created: 60 * DAY,
            closed: None,
            activity: 60 * DAY,
            groups: vec![ids.group_a],
            people: vec![(acc(ids.c1), Host), (acc(ids.k2), Client)],
        },
    ];
    for (id, spec) in ids.sessions.iter().zip(specs) {
        let mut s = data::session(t, *id, spec.owner);
        s.created_at = at(spec.created);
        s.last_activity = at(spec.activity);
        s.status = match spec.closed {
            Some(c) => SessionStatus::Closed { at: at(c) },
            None => SessionStatus::Open,
        };
        s.groups = spec.groups;
        s.groups.sort_unstable();
        writes.push(Write::InsertSession(s));
        for (subject, role) in spec.people {
            if let SubjectId::Guest(g) = subject {
                writes.push(Write::InsertGuest(data::guest(t, g, *id)));
            }
            writes.push(Write::PutParticipant(data::participant(
                t, *id, subject, role,
            )));
        }
    }
    writes
}

fn query(days: i64, period: ReportPeriod, by: ReportBy) -> ReportQuery {
    ReportQuery {
        from: at(0),
        to: at(days * DAY),
        period,
        by,
    }
}

fn cell(
    period_start: Timestamp,
    key: Option<ReportKey>,
    sessions: u64,
    contacts: u64,
    duration_ms: u64,
) -> RawCell {
    RawCell {
        period_start,
        key,
        sessions,
        contacts,
        duration_ms,
    }
}

/// Two tenants with the same ids, one with a few extra participants and a group;
/// the first tenant's reports by total (days, weeks, months), by counsellor and by
/// group are exactly the expected cells.
pub async fn report_counts_and_buckets(store: DynStore) {
    let (t, u): (TenantId, TenantId) = (rid(), rid());
    let ids = Ids::new();
    commit_ok(&store, t, world(t, &ids, false)).await;
    commit_ok(&store, u, world(u, &ids, true)).await;
    let report = |t, q| {
        let store = store.clone();
        async move { read(store.session_report(t, &q, 100).await, "session_report") }
    };
    let day = |n: i64| at(n * DAY);

    let days = report(t, query(3, ReportPeriod::Day, ReportBy::Total)).await;
    assert_eq!(
        days,
        vec![
            cell(day(0), None, 1, 2, 3_600_001),
            cell(day(1), None, 1, 1, 60_000),
        ],
        "by day"
    );
    let weeks = report(t, query(14, ReportPeriod::Week, ReportBy::Total)).await;
    assert_eq!(
        weeks,
        vec![
            cell(day(0), None, 3, 3, 3_660_001),
            cell(day(7), None, 1, 1, 1_000),
        ],
        "by week"
    );
    let months = report(t, query(60, ReportPeriod::Month, ReportBy::Total)).await;
    assert_eq!(
        months,
        vec![
            cell(day(0), None, 5, 3, 3_661_001),
            cell(day(31), None, 1, 1, 2_000),
        ],
        "by month"
    );
    let counsellors = report(t, query(60, ReportPeriod::Month, ReportBy::Counsellor)).await;
    let c = |a| Some(ReportKey::Counsellor(a));
    assert_eq!(
        counsellors,
        vec![
            cell(day(0), c(ids.c1), 3, 2, 3_660_001),
            cell(day(0), c(ids.c2), 3, 3, 61_000),
            cell(day(31), c(ids.c2), 1, 1, 2_000),
        ],
        "by counsellor"
    );
    let groups = report(t, query(60, ReportPeriod::Month, ReportBy::Group)).await;
    let g = |id| Some(ReportKey::Group(id));
    assert_eq!(
        groups,
        vec![
            cell(day(0), g(ids.group_a), 2, 2, 3_660_001),
            cell(day(0), g(ids.group_b), 2, 1, 60_000),
        ],
        "by group"
    );

    // The other tenant sees its own extras and nothing of the first.
    let theirs = report(u, query(60, ReportPeriod::Month, ReportBy::Counsellor)).await;
    assert_eq!(
        theirs,
        vec![
            cell(day(0), c(ids.c1), 3, 3, 3_660_001),
            cell(day(0), c(ids.c2), 3, 3, 61_000),
            cell(day(0), c(ids.c3), 1, 3, 3_600_001),
            cell(day(31), c(ids.c2), 1, 1, 2_000),
        ],
        "the other tenant by counsellor"
    );
    // A tenant without records has no cells.
    assert!(
        report(rid(), query(60, ReportPeriod::Month, ReportBy::Total))
            .await
            .is_empty()
    );
}

/// At most `limit` cells, the first ones in order; a query that does not validate has
/// none.
pub async fn report_limit_and_invalid_queries(store: DynStore) {
    let t: TenantId = rid();
    let ids = Ids::new();
    commit_ok(&store, t, world(t, &ids, false)).await;
    let q = query(60, ReportPeriod::Month, ReportBy::Counsellor);
    let two = read(store.session_report(t, &q, 2).await, "session_report");
    assert_eq!(
        two.iter()
            .map(|c| (c.period_start, c.key))
            .collect::<Vec<_>>(),
        vec![
            (at(0), Some(ReportKey::Counsellor(ids.c1))),
            (at(0), Some(ReportKey::Counsellor(ids.c2))),
        ]
    );
    let misaligned = ReportQuery { from: at(1), ..q };
    assert!(
        read(
            store.session_report(t, &misaligned, 100).await,
            "session_report"
        )
        .is_empty()
    );
    let backwards = ReportQuery {
        from: q.to,
        to: q.from,
        ..q
    };
    assert!(
        read(
            store.session_report(t, &backwards, 100).await,
            "session_report"
        )
        .is_empty()
    );
}

/// Weeks before 1970 start on Mondays too (negative milliseconds divide like any
/// others): a Sunday a millisecond before midnight and the Wednesday after count in
/// two weeks.
pub async fn report_weeks_before_1970(store: DynStore) {
    let t: TenantId = rid();
    let (owner, sunday, wednesday): (AccountId, SessionId, SessionId) = (rid(), rid(), rid());
    let time = |text| Timestamp::parse_rfc3339(text).unwrap();
    let mut writes = vec![
        Write::InsertTenant(data::tenant(t)),
        Write::InsertAccount(data::account(t, owner, "owner@example.org")),
    ];
    for (id, created) in [
        (sunday, "1969-12-28T23:59:59.999Z"),
        (wednesday, "1969-12-31T12:00:00.000Z"),
    ] {
        let mut s = data::session(t, id, owner);
        s.created_at = time(created);
        s.last_activity = s.created_at;
        writes.push(Write::InsertSession(s));
    }
    commit_ok(&store, t, writes).await;
    let q = ReportQuery {
        from: time("1969-12-22T00:00:00Z"),
        to: time("1970-01-05T00:00:00Z"),
        period: ReportPeriod::Week,
        by: ReportBy::Total,
    };
    assert_eq!(
        read(store.session_report(t, &q, 100).await, "session_report"),
        vec![
            cell(time("1969-12-22T00:00:00Z"), None, 1, 0, 0),
            cell(time("1969-12-29T00:00:00Z"), None, 1, 0, 0),
        ]
    );
}
