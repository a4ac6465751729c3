//! [`MemoryFailureCounter`]: brute-force counters in process memory, with a hard bound.

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroUsize;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;

use crate::ports::{AttemptKey, CheckError, CounterError, FailureCounter, Reservation};
use crate::throttle::{FailureOutcome, FailureState, ThrottlePolicy};
use crate::time::Timestamp;

/// A [`FailureCounter`] in process memory, for one-process hosts and tests.
///
/// **Bounded**: it holds at most [`capacity`](Self::capacity) counters (default
/// [`DEFAULT_CAPACITY`](Self::DEFAULT_CAPACITY), 100 000; a counter takes a few
/// hundred bytes including its source text, so the default stays in the tens of MiB).
/// Every recorded failure first drops the counters that are forgotten (no failure for
/// their policy's `forget_after`, and not blocked). A new counter that would exceed
/// the bound then evicts another: first the quiet ones (still within their free
/// attempts), the one closest to being forgotten first; a counter that has crossed
/// its threshold goes only when every held counter has. So a flood of distinct
/// sources cannot exhaust memory, and one guess each from many sources cannot push
/// out the counter of an object under attack: that takes as many sources each
/// guessing past its own threshold, every crossing reported as an incident. Size the
/// bound above the number of distinct keys you expect to fail within `forget_after`.
///
/// Counters do not survive a restart, and replicas do not share them.
#[derive(Debug)]
pub struct MemoryFailureCounter {
    inner: Mutex<Counters>,
    capacity: NonZeroUsize,
}

/// Ordered by when an entry will be forgotten (ties broken by a sequence number): the
/// front holds the forgotten ones, then the next to go.
type ForgetOrder = BTreeMap<(Timestamp, u64), AttemptKey>;

#[derive(Debug, Default)]
struct Counters {
    entries: HashMap<AttemptKey, Entry>,
    /// Entries that never blocked in their burst: evicted first.
    quiet: ForgetOrder,
    /// Entries that crossed their threshold (hold a block, even an expired one).
    crossed: ForgetOrder,
    next_seq: u64,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    state: FailureState,
    forget_at: Timestamp,
    seq: u64,
}

impl Entry {
    fn crossed(&self) -> bool {
        self.state.blocked_until.is_some()
    }
}

impl Counters {
    fn order(&mut self, crossed: bool) -> &mut ForgetOrder {
        if crossed {
            &mut self.crossed
        } else {
            &mut self.quiet
        }
    }

    fn remove(&mut self, key: &AttemptKey) -> Option<Entry> {
        let entry = self.entries.remove(key)?;
        self.order(entry.crossed())
            .remove(&(entry.forget_at, entry.seq));
        Some(entry)
    }

    /// Drops the counters forgotten by `now`.
    fn purge_forgotten(&mut self, now: Timestamp) {
        for crossed in [false, true] {
            while let Some(first) = self.order(crossed).first_entry() {
                if first.key().0 > now {
                    break;
                }
                let key = first.remove();
                self.entries.remove(&key);
            }
        }
    }

    /// Drops the quiet counter closest to being forgotten, or if none is quiet, the
    /// crossed one closest to being forgotten.
    fn evict_one(&mut self) {
        let evicted = match self.quiet.pop_first() {
            Some(first) => Some(first),
            None => self.crossed.pop_first(),
        };
        if let Some((_, key)) = evicted {
            self.entries.remove(&key);
        }
    }

    fn insert(&mut self, key: AttemptKey, state: FailureState, forget_at: Timestamp) {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        let entry = Entry {
            state,
            forget_at,
            seq,
        };
        self.order(entry.crossed())
            .insert((forget_at, seq), key.clone());
        self.entries.insert(key, entry);
    }
}

impl Default for MemoryFailureCounter {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryFailureCounter {
    /// The default bound on the number of counters.
    pub const DEFAULT_CAPACITY: NonZeroUsize = match NonZeroUsize::new(100_000) {
        Some(n) => n,
        None => NonZeroUsize::MIN,
    };

    /// An empty counter store holding at most [`DEFAULT_CAPACITY`](Self::DEFAULT_CAPACITY)
    /// counters.
    pub fn new() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }

    /// An empty counter store holding at most `capacity` counters.
    pub fn with_capacity(capacity: NonZeroUsize) -> Self {
        Self {
            inner: Mutex::new(Counters::default()),
            capacity,
        }
    }

    /// The bound on the number of counters.
    pub fn capacity(&self) -> usize {
        self.capacity.get()
    }

    /// How many counters are held now (forgotten ones included until the next
    /// recorded failure drops them).
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether no counter is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The stored state of one counter, if any (for tests and diagnostics).
    pub fn state(&self, key: &AttemptKey) -> Option<FailureState> {
        self.lock().entries.get(key).map(|e| e.state)
    }

    /// Counts one failure under `key`, with the lock held.
    fn count(
        counters: &mut Counters,
        capacity: NonZeroUsize,
        key: &AttemptKey,
        now: Timestamp,
        policy: &ThrottlePolicy,
    ) -> FailureOutcome {
        let previous = counters.remove(key);
        let (state, outcome) =
            FailureState::after_failure(previous.as_ref().map(|e| &e.state), now, policy);
        // Never forgotten while blocked, whatever the policy says.
        let forget_at = state
            .last_failure
            .plus(policy.forget_after)
            .max(state.blocked_until.unwrap_or(Timestamp::EPOCH));
        while counters.entries.len() >= capacity.get() {
            counters.evict_one();
        }
        counters.insert(key.clone(), state, forget_at);
        outcome
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counters> {
        // The state stays consistent across a panic elsewhere: every mutation is
        // completed before the guard drops.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl FailureCounter for MemoryFailureCounter {
    async fn check(&self, key: &AttemptKey, now: Timestamp) -> Result<(), CheckError> {
        match self.lock().entries.get(key) {
            Some(entry) => entry.state.check(now).map_err(CheckError::Blocked),
            None => Ok(()),
        }
    }

    async fn record_failure(
        &self,
        key: &AttemptKey,
        now: Timestamp,
        policy: &ThrottlePolicy,
    ) -> Result<FailureOutcome, CounterError> {
        let mut counters = self.lock();
        counters.purge_forgotten(now);
        Ok(Self::count(&mut counters, self.capacity, key, now, policy))
    }

    async fn record_success(&self, key: &AttemptKey) -> Result<(), CounterError> {
        self.lock().remove(key);
        Ok(())
    }

    async fn reserve(
        &self,
        key: &AttemptKey,
        now: Timestamp,
        policy: &ThrottlePolicy,
    ) -> Result<Reservation, CheckError> {
        // One lock for the check and the count: concurrent reservations serialize.
        let mut counters = self.lock();
        if let Some(entry) = counters.entries.get(key) {
            entry.state.check(now).map_err(CheckError::Blocked)?;
        }
        counters.purge_forgotten(now);
        let previous = counters
            .entries
            .get(key)
            .map(|e| e.state)
            .filter(|p| !p.is_forgotten(now, policy));
        let outcome = Self::count(&mut counters, self.capacity, key, now, policy);
        Ok(Reservation { outcome, previous })
    }

    async fn refund(
        &self,
        key: &AttemptKey,
        reservation: &Reservation,
        policy: &ThrottlePolicy,
    ) -> Result<(), CounterError> {
        let mut counters = self.lock();
        let Some(entry) = counters.remove(key) else {
            // Forgotten or evicted since: nothing to give back.
            return Ok(());
        };
        let restored = if entry.state.failures == reservation.outcome.failures {
            // Nothing counted since: exactly as before, block and last failure included.
            reservation.previous
        } else {
            // Others counted meanwhile: one failure fewer; their blocks stay.
            entry.state.after_refund(policy)
        };
        if let Some(state) = restored {
            let forget_at = state
                .last_failure
                .plus(policy.forget_after)
                .max(state.blocked_until.unwrap_or(Timestamp::EPOCH));
            counters.insert(key.clone(), state, forget_at);
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::id::{AccountId, RoomId, TenantId};
    use crate::ports::{AttemptScope, AttemptSource, Clock, ManualClock};
    use crate::throttle::Blocked;

    fn start() -> Timestamp {
        Timestamp::from_unix_millis(1_700_000_000_000)
    }

    fn room_key() -> AttemptKey {
        AttemptKey::per_scope(
            TenantId::random().unwrap(),
            AttemptScope::Room(RoomId::random().unwrap()),
        )
    }

    fn source(text: &str) -> AttemptSource {
        AttemptSource::parse(text).unwrap()
    }

    async fn fail(
        counter: &MemoryFailureCounter,
        key: &AttemptKey,
        n: u32,
        now: Timestamp,
        policy: &ThrottlePolicy,
    ) -> FailureOutcome {
        let mut last = FailureOutcome::default();
        for _ in 0..n {
            last = counter.record_failure(key, now, policy).await.unwrap();
        }
        last
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_reservations_stop_at_the_threshold() {
        let counter = std::sync::Arc::new(MemoryFailureCounter::new());
        let policy = ThrottlePolicy::default();
        let key = room_key();
        let now = start();
        let tasks: Vec<_> = (0..60)
            .map(|_| {
                let (counter, key) = (counter.clone(), key.clone());
                tokio::spawn(async move { counter.reserve(&key, now, &policy).await })
            })
            .collect();
        let mut passed = 0;
        for t in tasks {
            if t.await.unwrap().is_ok() {
                passed += 1;
            }
        }
        // The free attempts and the one that blocks; every other guess is refused.
        assert_eq!(passed, policy.free_attempts + 1);
        // Refunding an early reservation after others were counted takes one failure
        // off, and with it the block the sixth failure caused.
        let last = Reservation {
            outcome: FailureOutcome {
                failures: 3,
                blocked_for: None,
                crossed_threshold: false,
            },
            previous: None,
        };
        counter.refund(&key, &last, &policy).await.unwrap();
        counter.check(&key, now).await.unwrap();
        assert_eq!(counter.state(&key).unwrap().failures, policy.free_attempts);
    }

    #[tokio::test]
    async fn the_oldest_quiet_counter_goes_first_when_full() {
        let counter = MemoryFailureCounter::with_capacity(NonZeroUsize::new(2).unwrap());
        assert!(counter.is_empty());
        let policy = ThrottlePolicy::default();
        let clock = ManualClock::new(start());
        let (a, b, c) = (room_key(), room_key(), room_key());
        for key in [&a, &b, &c] {
            counter
                .record_failure(key, clock.now(), &policy)
                .await
                .unwrap();
            clock.advance(Duration::from_secs(1));
        }
        assert!(!counter.is_empty());
        assert_eq!(counter.len(), 2);
        assert_eq!(counter.state(&a), None, "the oldest went");
        assert!(counter.state(&b).is_some() && counter.state(&c).is_some());
        // Reservations count against the bound too.
        let d = room_key();
        counter.reserve(&d, clock.now(), &policy).await.unwrap();
        assert_eq!(counter.len(), 2);
        assert_eq!(counter.state(&b), None);
    }

    #[tokio::test]
    async fn a_refund_restores_the_counter_exactly() {
        let counter = MemoryFailureCounter::new();
        let policy = ThrottlePolicy::default();
        let key = room_key();
        let clock = ManualClock::new(start());
        // Past the free attempts, with the block run out.
        fail(
            &counter,
            &key,
            policy.free_attempts + 3,
            clock.now(),
            &policy,
        )
        .await;
        clock.advance(policy.max_delay);
        let before = counter.state(&key).unwrap();
        counter.check(&key, clock.now()).await.unwrap();
        // A right secret: reserved, then refunded — nothing blocks afterwards.
        let r = counter.reserve(&key, clock.now(), &policy).await.unwrap();
        assert!(
            counter.check(&key, clock.now()).await.is_err(),
            "reserved = counted"
        );
        counter.refund(&key, &r, &policy).await.unwrap();
        assert_eq!(counter.state(&key), Some(before));
        counter.check(&key, clock.now()).await.unwrap();
        // A fresh counter refunds to nothing.
        let fresh = room_key();
        let r = counter.reserve(&fresh, clock.now(), &policy).await.unwrap();
        counter.refund(&fresh, &r, &policy).await.unwrap();
        assert_eq!(counter.state(&fresh), None);
    }

    #[tokio::test]
    async fn reserve_all_is_all_or_nothing() {
        let counter = MemoryFailureCounter::new();
        let strict = ThrottlePolicy {
            free_attempts: 0,
            ..ThrottlePolicy::default()
        };
        let lenient = ThrottlePolicy::default();
        let (a, b) = (room_key(), room_key());
        let now = start();
        counter.reserve(&b, now, &strict).await.unwrap();
        // `b` is blocked now: reserving both refunds the reservation of `a`.
        let both = [(a.clone(), lenient), (b.clone(), strict)];
        assert!(matches!(
            counter.reserve_all(&both, now).await,
            Err(CheckError::Blocked(_))
        ));
        assert_eq!(counter.state(&a), None);
        assert_eq!(counter.state(&b).unwrap().failures, 1);
    }

    #[tokio::test]
    async fn check_blocks_until_retry_after_has_passed() {
        let counter = MemoryFailureCounter::new();
        let policy = ThrottlePolicy::default();
        let clock = ManualClock::new(start());
        let key = room_key();
        counter.check(&key, clock.now()).await.unwrap();

        let o = fail(&counter, &key, policy.free_attempts, clock.now(), &policy).await;
        assert_eq!(o.blocked_for, None);
        counter.check(&key, clock.now()).await.unwrap();

        let o = fail(&counter, &key, 2, clock.now(), &policy).await;
        assert_eq!(o.blocked_for, Some(Duration::from_secs(2)));
        match counter.check(&key, clock.now()).await {
            Err(CheckError::Blocked(Blocked { retry_after })) => {
                assert_eq!(retry_after, Duration::from_secs(2));
            }
            other => panic!("expected blocked, got {other:?}"),
        }
        clock.advance(Duration::from_millis(1999));
        assert!(matches!(
            counter.check(&key, clock.now()).await,
            Err(CheckError::Blocked(Blocked { retry_after })) if retry_after == Duration::from_millis(1)
        ));
        clock.advance(Duration::from_millis(1));
        counter.check(&key, clock.now()).await.unwrap();
    }

    #[tokio::test]
    async fn success_clears_and_a_new_burst_is_reported_again() {
        let counter = MemoryFailureCounter::new();
        let policy = ThrottlePolicy::default();
        let key = room_key();
        let o = fail(&counter, &key, policy.free_attempts + 1, start(), &policy).await;
        assert!(o.crossed_threshold);
        counter.record_success(&key).await.unwrap();
        assert_eq!(counter.state(&key), None);
        counter.check(&key, start()).await.unwrap();
        let o = fail(&counter, &key, policy.free_attempts + 1, start(), &policy).await;
        assert_eq!(o.failures, policy.free_attempts + 1);
        assert!(o.crossed_threshold);
    }

    #[tokio::test]
    async fn keys_are_isolated() {
        let counter = MemoryFailureCounter::new();
        let policy = ThrottlePolicy::default();
        let blocked = room_key();
        fail(
            &counter,
            &blocked,
            policy.free_attempts + 1,
            start(),
            &policy,
        )
        .await;
        assert!(counter.check(&blocked, start()).await.is_err());

        // Same object in another tenant, another object, another kind of scope with
        // the same id bytes: all untouched.
        let other_tenant = AttemptKey {
            tenant: TenantId::random().unwrap(),
            ..blocked.clone()
        };
        let AttemptScope::Room(room) = blocked.scope else {
            panic!("room scope expected");
        };
        let same_bytes = AttemptKey {
            scope: AttemptScope::Account(AccountId::from_bytes(*room.as_bytes())),
            ..blocked.clone()
        };
        for key in [other_tenant, room_key(), same_bytes] {
            counter.check(&key, start()).await.unwrap();
            let o = counter
                .record_failure(&key, start(), &policy)
                .await
                .unwrap();
            assert_eq!(o.failures, 1);
        }
    }

    #[tokio::test]
    async fn per_room_counts_every_source_and_per_source_only_its_own() {
        let counter = MemoryFailureCounter::new();
        let policy = ThrottlePolicy::default();
        let room = room_key();
        let (tenant, scope) = (room.tenant, room.scope);
        let now = start();

        // Five sources, one wrong guess each: no source is near its limit, the room is
        // at its free limit.
        for i in 0..policy.free_attempts {
            let keys =
                AttemptKey::scope_and_source(tenant, scope, Some(source(&format!("10.0.0.{i}"))));
            let o = counter
                .record_failure_all(&keys, now, &policy)
                .await
                .unwrap();
            assert_eq!(o.failures, i + 1); // the room's count dominates
            assert!(!o.crossed_threshold);
        }
        // A sixth source blocks the room for everyone, and it is reported once.
        let sixth = AttemptKey::scope_and_source(tenant, scope, Some(source("10.0.0.99")));
        let o = counter
            .record_failure_all(&sixth, now, &policy)
            .await
            .unwrap();
        assert!(o.crossed_threshold);
        assert_eq!(o.blocked_for, Some(policy.base_delay));
        let fresh = AttemptKey::scope_and_source(tenant, scope, Some(source("192.0.2.1")));
        assert!(matches!(
            counter.check_all(&fresh, now).await,
            Err(CheckError::Blocked(_))
        ));
        assert_eq!(
            counter
                .state(&AttemptKey::per_source(tenant, scope, source("10.0.0.99")))
                .map(|s| s.failures),
            Some(1)
        );

        // Per source: one source hammering a second room is blocked by its own
        // counter; once the block has passed, another source still gets through on
        // the room's counter until the room's own limit.
        let room2 = room_key();
        let hammer =
            AttemptKey::scope_and_source(room2.tenant, room2.scope, Some(source("198.51.100.1")));
        let o = fail_all(&counter, &hammer, policy.free_attempts + 1, now, &policy).await;
        assert!(o.crossed_threshold);
        assert!(counter.check(&hammer[1], now).await.is_err());
        counter.record_success(&room2).await.unwrap(); // someone else got in
        let other =
            AttemptKey::scope_and_source(room2.tenant, room2.scope, Some(source("198.51.100.2")));
        counter.check_all(&other, now).await.unwrap();
        assert!(counter.check_all(&hammer, now).await.is_err());
    }

    async fn fail_all(
        counter: &MemoryFailureCounter,
        keys: &[AttemptKey],
        n: u32,
        now: Timestamp,
        policy: &ThrottlePolicy,
    ) -> FailureOutcome {
        let mut merged = FailureOutcome::default();
        for _ in 0..n {
            merged = merged.merge(counter.record_failure_all(keys, now, policy).await.unwrap());
        }
        merged
    }

    #[tokio::test]
    async fn check_all_reports_the_longest_wait() {
        let counter = MemoryFailureCounter::new();
        let policy = ThrottlePolicy::default();
        let (a, b) = (room_key(), room_key());
        fail(&counter, &a, policy.free_attempts + 1, start(), &policy).await; // 1 s
        fail(&counter, &b, policy.free_attempts + 3, start(), &policy).await; // 4 s
        for keys in [[a.clone(), b.clone()], [b, a]] {
            assert!(matches!(
                counter.check_all(&keys, start()).await,
                Err(CheckError::Blocked(Blocked { retry_after })) if retry_after == Duration::from_secs(4)
            ));
        }
        counter.check_all(&[], start()).await.unwrap();
    }

    #[tokio::test]
    async fn a_flood_of_sources_is_bounded_and_cannot_evict_an_attacked_counter() {
        let capacity = NonZeroUsize::new(4).unwrap();
        let counter = MemoryFailureCounter::with_capacity(capacity);
        let policy = ThrottlePolicy::default();
        let clock = ManualClock::new(start());

        // A counter under attack: past its threshold.
        let attacked = room_key();
        fail(
            &counter,
            &attacked,
            policy.free_attempts + 1,
            clock.now(),
            &policy,
        )
        .await;

        // A flood of distinct sources, one guess each, later than the attack: never
        // more than `capacity` counters, and the attacked one stays.
        clock.advance(Duration::from_secs(1));
        for i in 0..1000 {
            let key =
                AttemptKey::per_source(attacked.tenant, attacked.scope, source(&format!("s{i}")));
            counter
                .record_failure(&key, clock.now(), &policy)
                .await
                .unwrap();
            assert!(counter.len() <= capacity.get());
        }
        assert_eq!(counter.len(), capacity.get());
        assert_eq!(
            counter.state(&attacked).map(|s| s.failures),
            Some(policy.free_attempts + 1)
        );
        let last = AttemptKey::per_source(attacked.tenant, attacked.scope, source("s999"));
        assert!(counter.state(&last).is_some());

        // Counters that all crossed their thresholds: the one closest to being
        // forgotten goes.
        let mut crossed = Vec::new();
        for _ in 0..capacity.get() {
            clock.advance(Duration::from_secs(1));
            let key = room_key();
            fail(
                &counter,
                &key,
                policy.free_attempts + 1,
                clock.now(),
                &policy,
            )
            .await;
            crossed.push(key);
        }
        assert_eq!(counter.len(), capacity.get());
        assert_eq!(counter.state(&attacked), None);
        assert!(crossed.iter().all(|k| counter.state(k).is_some()));

        // Once everything is forgotten, the next failure drops all of it.
        clock.advance(policy.forget_after);
        let newcomer = room_key();
        counter
            .record_failure(&newcomer, clock.now(), &policy)
            .await
            .unwrap();
        assert_eq!(counter.len(), 1);
        assert_eq!(counter.state(&newcomer).map(|s| s.failures), Some(1));
    }

    #[tokio::test]
    async fn eviction_prefers_forgotten_counters_over_live_ones() {
        let counter = MemoryFailureCounter::with_capacity(NonZeroUsize::new(3).unwrap());
        let short = ThrottlePolicy {
            forget_after: Duration::from_secs(900),
            ..ThrottlePolicy::default()
        };
        let long = ThrottlePolicy::default();
        let clock = ManualClock::new(start());
        let (a, b, c) = (room_key(), room_key(), room_key());
        counter
            .record_failure(&a, clock.now(), &long)
            .await
            .unwrap();
        counter
            .record_failure(&b, clock.now(), &short)
            .await
            .unwrap();
        clock.advance(Duration::from_secs(1));
        counter
            .record_failure(&c, clock.now(), &long)
            .await
            .unwrap();
        // `b` (short policy) is forgotten after 900 s; `a` is older but still counts.
        clock.advance(Duration::from_secs(900));
        let d = room_key();
        counter
            .record_failure(&d, clock.now(), &long)
            .await
            .unwrap();
        assert!(counter.state(&a).is_some());
        assert!(counter.state(&b).is_none());
        assert!(counter.state(&c).is_some());
        // Full of live counters: the one closest to being forgotten (`a`) goes.
        let e = room_key();
        counter
            .record_failure(&e, clock.now(), &long)
            .await
            .unwrap();
        assert!(counter.state(&a).is_none());
        assert_eq!(counter.len(), 3);
    }

    #[tokio::test]
    async fn a_clock_stepped_back_keeps_the_block() {
        let counter = MemoryFailureCounter::new();
        let policy = ThrottlePolicy::default();
        let key = room_key();
        fail(&counter, &key, policy.free_attempts + 1, start(), &policy).await;
        let back = start().minus(Duration::from_secs(60));
        assert!(matches!(
            counter.check(&key, back).await,
            Err(CheckError::Blocked(Blocked { retry_after })) if retry_after == Duration::from_secs(61)
        ));
        let o = counter.record_failure(&key, back, &policy).await.unwrap();
        assert_eq!(o.failures, policy.free_attempts + 2);
        assert_eq!(
            counter.state(&key).unwrap().blocked_until,
            Some(start().plus(Duration::from_secs(2)))
        );
    }

    #[test]
    fn default_capacity_is_documented_value() {
        assert_eq!(MemoryFailureCounter::new().capacity(), 100_000);
        assert!(MemoryFailureCounter::default().is_empty());
    }
}
