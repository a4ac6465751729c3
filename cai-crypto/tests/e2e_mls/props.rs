//! Issue 9, test 8: random add / remove / update / message sequences over up to 8
//! devices of 4 users. After every step all current members agree on the epoch, the
//! epoch authenticator and the member list (and with the Delivery Service); every
//! device reads exactly the messages of the epochs it holds keys for — those since it
//! last joined, while it is a member — and nothing else.

use std::collections::BTreeSet;

use cai_crypto::e2e::Device;
use proptest::prelude::*;

use crate::world::*;

const DEVICES: usize = 8;
/// Device index → (user index, device name).
const LAYOUT: [(usize, &str); DEVICES] = [
    (0, "laptop"),
    (0, "desk"),
    (1, "phone"),
    (1, "tablet"),
    (1, "laptop"),
    (2, "phone"),
    (2, "watch"),
    (3, "phone"),
];

#[derive(Debug, Clone)]
enum Op {
    Add {
        by: usize,
        who: usize,
    },
    Remove {
        by: usize,
        who: usize,
        account: bool,
    },
    Update {
        by: usize,
    },
    Message {
        by: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let i = || 0..DEVICES;
    prop_oneof![
        4 => (i(), i()).prop_map(|(by, who)| Op::Add { by, who }),
        2 => (i(), i(), any::<bool>()).prop_map(|(by, who, account)| Op::Remove { by, who, account }),
        2 => i().prop_map(|by| Op::Update { by }),
        3 => i().prop_map(|by| Op::Message { by }),
    ]
}

struct Message {
    epoch: u64,
    item: Vec<u8>,
    sealed: Vec<u8>,
    sender: usize,
}

struct Run {
    users: Vec<User>,
    d: Vec<Device>,
    server: Server,
    gid: Vec<u8>,
    /// Epoch of each device's latest join while it is a member.
    joined: [Option<u64>; DEVICES],
    messages: Vec<Message>,
}

impl Run {
    fn new() -> Self {
        let users: Vec<User> = ["counsellor", "client", "supervisor", "friend"]
            .iter()
            .map(|n| User::new(n))
            .collect();
        let mut d: Vec<Device> = LAYOUT.iter().map(|(u, n)| users[*u].device(n)).collect();
        let (server, gid) = Server::start(&users[0], &mut d[0]);
        let mut joined = [None; DEVICES];
        joined[0] = Some(0);
        Self {
            users,
            d,
            server,
            gid,
            joined,
            messages: Vec::new(),
        }
    }

    fn members(&self) -> Vec<usize> {
        (0..DEVICES).filter(|i| self.joined[*i].is_some()).collect()
    }

    /// Commits `h` by `by` and has every other device that is in the group process it.
    fn round(&mut self, by: usize, h: cai_crypto::e2e::Handshake) {
        self.server.commit(&mut self.d[by], &self.gid, h);
        for i in self.members() {
            if i != by {
                let p = self.server.sync(&mut self.d[i], &self.gid);
                assert_eq!(p.len(), 1);
                if p[0].removed_self {
                    self.joined[i] = None;
                }
            }
        }
    }

    fn apply(&mut self, op: &Op) {
        let members = self.members();
        let pick = |v: &[usize], n: usize| v[n % v.len()];
        match *op {
            Op::Add { by, who } => {
                let out: Vec<usize> = (0..DEVICES).filter(|i| !members.contains(i)).collect();
                if out.is_empty() {
                    return;
                }
                let (by, who) = (pick(&members, by), pick(&out, who));
                let key_package = kp(&self.d[who]);
                let h = self.d[by].add(&self.gid, &[key_package]).unwrap();
                self.round(by, h);
                let j = self.server.join(&mut self.d[who]);
                self.joined[who] = Some(j.epoch);
            }
            Op::Remove { by, who, account } => {
                let by = pick(&members, by);
                let others: Vec<usize> = members.iter().copied().filter(|i| *i != by).collect();
                if others.is_empty() {
                    return;
                }
                let who = pick(&others, who);
                let same_user = LAYOUT[who].0 == LAYOUT[by].0;
                let acc = self.users[LAYOUT[who].0].account.clone();
                let device = self.d[who].credential().device().clone();
                let h = if account && !same_user {
                    self.d[by].remove(&self.gid, &acc, None)
                } else {
                    self.d[by].remove(&self.gid, &acc, Some(&device))
                }
                .unwrap();
                self.round(by, h);
                assert!(self.joined[who].is_none(), "removed device still a member");
                assert!(self.d[who].groups().next().is_none());
            }
            Op::Update { by } => {
                let by = pick(&members, by);
                let h = self.d[by].update(&self.gid).unwrap();
                self.round(by, h);
            }
            Op::Message { by } => {
                let by = pick(&members, by);
                let item = format!("m{}", self.messages.len()).into_bytes();
                let sealed = self.d[by].seal(&self.gid, &ctx(&item), &item).unwrap();
                self.messages.push(Message {
                    epoch: self.server.ds.epoch(),
                    item,
                    sealed,
                    sender: by,
                });
            }
        }
    }

    fn check(&self) {
        let members = self.members();
        let first = &self.d[members[0]];
        let epoch = first.epoch(&self.gid).unwrap();
        let auth = first.epoch_authenticator(&self.gid).unwrap();
        let list = first.members(&self.gid).unwrap();
        assert_eq!(epoch, self.server.ds.epoch());
        assert_eq!(list, self.server.ds.members().unwrap());
        let expected: BTreeSet<Vec<u8>> = members
            .iter()
            .map(|i| self.d[*i].credential().as_bytes().to_vec())
            .collect();
        let got: BTreeSet<Vec<u8>> = list.iter().map(|c| c.as_bytes().to_vec()).collect();
        assert_eq!(got, expected);
        for i in &members {
            assert_eq!(self.d[*i].epoch(&self.gid).unwrap(), epoch);
            assert_eq!(self.d[*i].epoch_authenticator(&self.gid).unwrap(), auth);
            assert_eq!(self.d[*i].members(&self.gid).unwrap(), list);
        }
        for (i, d) in self.d.iter().enumerate() {
            for m in &self.messages {
                let readable = self.joined[i].is_some_and(|j| j <= m.epoch);
                let r = d.open(&self.gid, &ctx(&m.item), &m.sealed);
                if readable {
                    let o = r.unwrap();
                    assert_eq!(o.plaintext, m.item);
                    assert_eq!(o.sender, *self.d[m.sender].credential());
                    assert_eq!(o.epoch, m.epoch);
                } else {
                    assert!(
                        r.is_err(),
                        "device {i} read {:?} of epoch {}",
                        m.item,
                        m.epoch
                    );
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn members_agree_and_read_exactly_their_epochs(ops in prop::collection::vec(op(), 1..=20)) {
        let mut run = Run::new();
        for op in &ops {
            run.apply(op);
            run.check();
        }
    }
}
