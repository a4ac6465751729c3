//! Brute-force detection (R-U3: "repeated wrong secrets are detected, slowed and
//! reported"): the policy and the arithmetic of one failure counter, with no I/O.
//!
//! One mechanism serves every secret a caller can guess — room passwords here, logins,
//! 2FA codes and recovery tokens in `cai-auth` — so the rules are written once and
//! tested once. Where counters are kept is the
//! [`FailureCounter`](crate::ports::FailureCounter) port's business (in memory:
//! [`MemoryFailureCounter`](crate::memory::MemoryFailureCounter)); what a failure
//! costs is decided here.
//!
//! ## The rule
//!
//! With a [`ThrottlePolicy`] of `free_attempts = f`, `base_delay = b`,
//! `max_delay = m`:
//!
//! * the first `f` failures cost nothing;
//! * failure number `n > f` blocks the counter until
//!   `last_failure + min(b · 2^(n − f − 1), m)`: the first failure past the free ones
//!   blocks for `b`, each further one doubles that, up to `m`. The arithmetic
//!   saturates, so even `u32::MAX` failures give `m`, never an overflow;
//! * a success clears the counter;
//! * a counter without a failure for `forget_after` starts over.
//!
//! A blocked caller is turned away *before* its secret is verified
//! ([`FailureState::check`]), so a guess costs the attacker time and the server
//! nothing. [`FailureOutcome::crossed_threshold`] is `true` for exactly one failure per
//! burst — the first one that blocks — so the service raises one
//! [`RepeatedWrongSecret`](crate::domain::IncidentKind::RepeatedWrongSecret) incident
//! per burst, not one per attempt.
//!
//! ## Clocks that run backwards
//!
//! Wall clocks get stepped back (NTP corrections, a VM restored from a snapshot). A
//! time before a counter's last failure counts as *no time passed*: the last failure
//! keeps the later of the two times, a block never ends earlier than it was set to end,
//! and a counter is not forgotten. A clock stepped back by `j` can therefore keep a
//! blocked counter blocked up to `j` longer — never shorter — and nothing panics.
//!
//! ```
//! use std::time::Duration;
//! use cai_core::Timestamp;
//! use cai_core::throttle::{FailureState, ThrottlePolicy};
//!
//! let policy = ThrottlePolicy::default();
//! let now = Timestamp::from_unix_millis(1_700_000_000_000);
//! let mut state = None;
//! for _ in 0..policy.free_attempts {
//!     let (next, outcome) = FailureState::after_failure(state.as_ref(), now, &policy);
//!     assert_eq!(outcome.blocked_for, None);
//!     state = Some(next);
//! }
//! // One more: blocked for the base delay, and reported once.
//! let (next, outcome) = FailureState::after_failure(state.as_ref(), now, &policy);
//! assert_eq!(outcome.blocked_for, Some(Duration::from_secs(1)));
//! assert!(outcome.crossed_threshold);
//! assert!(next.check(now).is_err());
//! assert!(next.check(now.plus(Duration::from_secs(1))).is_ok());
//! ```

use std::time::Duration;

use crate::error::{Error, Result};
use crate::time::Timestamp;

/// How failures are counted and what they cost. Build one with struct update syntax
/// from [`Default`] and check it with [`validate`](Self::validate); the arithmetic
/// never panics even on an unvalidated policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures that cost nothing (typos happen). Default 5.
    pub free_attempts: u32,
    /// The block after the first failure past the free ones; it doubles with each
    /// further failure. Default 1 s; at least 1 ms.
    pub base_delay: Duration,
    /// The longest block. Default 15 min; at least `base_delay`.
    pub max_delay: Duration,
    /// A counter without a failure for this long starts over. Default 24 h; at least
    /// `max_delay`, so no counter is forgotten while it is blocked.
    pub forget_after: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            free_attempts: 5,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(15 * 60),
            forget_after: Duration::from_secs(24 * 3600),
        }
    }
}

impl ThrottlePolicy {
    /// Checks the relations documented on the fields: `base_delay ≥ 1 ms` (timestamps
    /// count milliseconds, so a shorter delay would block nothing),
    /// `base_delay ≤ max_delay ≤ forget_after`.
    pub fn validate(&self) -> Result<()> {
        let invalid = |reason| Error::Invalid {
            what: "throttle policy",
            reason,
        };
        if self.base_delay < Duration::from_millis(1) {
            return Err(invalid("base delay shorter than 1 ms"));
        }
        if self.max_delay < self.base_delay {
            return Err(invalid("max delay shorter than base delay"));
        }
        if self.forget_after < self.max_delay {
            return Err(invalid("forget_after shorter than max delay"));
        }
        Ok(())
    }

    /// The block that failure number `failures` earns: `None` within the free
    /// attempts, else `min(base_delay · 2^(failures − free_attempts − 1), max_delay)`,
    /// saturating.
    pub fn delay_after(&self, failures: u32) -> Option<Duration> {
        let past_free = failures.checked_sub(self.free_attempts)?.checked_sub(1)?;
        let mut delay = self.base_delay;
        // At most 128 doublings: Duration::MAX is below 2^128 ns, so by then the delay
        // is saturated whatever base_delay was.
        for _ in 0..past_free.min(128) {
            if delay >= self.max_delay {
                break;
            }
            delay = delay.saturating_mul(2);
        }
        Some(delay.min(self.max_delay))
    }
}

/// The state of one failure counter, as a [`FailureCounter`](crate::ports::FailureCounter)
/// backend stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureState {
    /// Failures in the current burst (saturating).
    pub failures: u32,
    /// When the latest of them happened (the latest time seen, if the clock went back).
    pub last_failure: Timestamp,
    /// Until when the counter refuses attempts, if it does.
    pub blocked_until: Option<Timestamp>,
}

/// What one recorded failure did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FailureOutcome {
    /// Failures in the current burst, this one included.
    pub failures: u32,
    /// How long the counter now refuses attempts, from the time of the failure;
    /// `None` if it does not.
    pub blocked_for: Option<Duration>,
    /// This failure is the first of its burst to block: report it (once per burst).
    pub crossed_threshold: bool,
}

impl FailureOutcome {
    /// The outcome of one failure counted under several keys (per room and per
    /// source): the most failures, the longest block, and whether any counter crossed
    /// its threshold.
    pub fn merge(self, other: Self) -> Self {
        Self {
            failures: self.failures.max(other.failures),
            blocked_for: self.blocked_for.max(other.blocked_for),
            crossed_threshold: self.crossed_threshold || other.crossed_threshold,
        }
    }
}

/// Attempts are refused for now: too many wrong secrets. Carries no secret and no key,
/// so it can be shown to the caller (as HTTP 429 with `Retry-After`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many failed attempts; retry in {} s", self.retry_after_secs())]
pub struct Blocked {
    /// How long until the next attempt is accepted (if the clock runs forward).
    pub retry_after: Duration,
}

impl Blocked {
    /// [`retry_after`](Self::retry_after) in whole seconds, rounded up (at least 1), as
    /// an HTTP `Retry-After` header wants it: a caller who waits that long is let in.
    pub fn retry_after_secs(&self) -> u64 {
        let secs = self.retry_after.as_secs();
        let partial = u64::from(self.retry_after.subsec_nanos() > 0);
        secs.saturating_add(partial).max(1)
    }
}

impl FailureState {
    /// Whether this counter should start over at `now`: no failure for
    /// `policy.forget_after`, and no block still running (which a valid policy
    /// guarantees anyway). A `now` before the last failure never forgets.
    pub fn is_forgotten(&self, now: Timestamp, policy: &ThrottlePolicy) -> bool {
        now >= self.last_failure
            && now.since(self.last_failure) >= policy.forget_after
            && self.blocked_until.is_none_or(|until| until <= now)
    }

    /// `Err` while the counter refuses attempts. Call it before verifying a secret.
    pub fn check(&self, now: Timestamp) -> std::result::Result<(), Blocked> {
        match self.blocked_until {
            Some(until) if now < until => Err(Blocked {
                retry_after: until.since(now),
            }),
            _ => Ok(()),
        }
    }

    /// The state after one more failure at `now`, and what that failure did.
    /// `previous` is the stored state, `None` for a fresh counter; a forgotten one (see
    /// [`is_forgotten`](Self::is_forgotten)) starts over.
    pub fn after_failure(
        previous: Option<&FailureState>,
        now: Timestamp,
        policy: &ThrottlePolicy,
    ) -> (FailureState, FailureOutcome) {
        let previous = previous.filter(|p| !p.is_forgotten(now, policy));
        let (before, last_failure, blocked_until) = match previous {
            Some(p) => (p.failures, p.last_failure.max(now), p.blocked_until),
            None => (0, now, None),
        };
        let failures = before.saturating_add(1);
        let delay = policy.delay_after(failures);
        // A block is never shortened: not by a clock stepped back, not by an
        // unusual policy passed for a later failure.
        let blocked_until = match (blocked_until, delay.map(|d| last_failure.plus(d))) {
            (Some(old), Some(new)) => Some(old.max(new)),
            (old, new) => new.or(old),
        };
        let blocked_for = blocked_until
            .map(|until| until.since(now))
            .filter(|d| !d.is_zero());
        let blocks = |n| policy.delay_after(n).is_some_and(|d| !d.is_zero());
        let state = FailureState {
            failures,
            last_failure,
            blocked_until,
        };
        let outcome = FailureOutcome {
            failures,
            blocked_for,
            crossed_threshold: blocks(failures) && !blocks(before),
        };
        (state, outcome)
    }

    /// The state after giving back one failure counted in advance (see
    /// [`FailureCounter::reserve`](crate::ports::FailureCounter::reserve)) because the
    /// secret was right: one failure fewer, and no block if the remaining failures are
    /// within the free attempts; a block owed to the remaining failures stays as it is.
    /// `None` when no failure remains.
    pub fn after_refund(&self, policy: &ThrottlePolicy) -> Option<FailureState> {
        let failures = self.failures.checked_sub(1).filter(|n| *n > 0)?;
        let blocked_until = match policy.delay_after(failures) {
            Some(_) => self.blocked_until,
            None => None,
        };
        Some(FailureState {
            failures,
            last_failure: self.last_failure,
            blocked_until,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::ports::{Clock, ManualClock};

    const SECOND: Duration = Duration::from_secs(1);

    fn start() -> Timestamp {
        Timestamp::from_unix_millis(1_700_000_000_000)
    }

    /// `n` failures at `now`, from a fresh counter.
    fn fail_n(n: u32, now: Timestamp, policy: &ThrottlePolicy) -> (FailureState, FailureOutcome) {
        let mut state = None;
        let mut outcome = FailureOutcome::default();
        for _ in 0..n {
            let (s, o) = FailureState::after_failure(state.as_ref(), now, policy);
            state = Some(s);
            outcome = o;
        }
        (state.unwrap(), outcome)
    }

    #[test]
    fn a_refund_gives_back_exactly_one_failure() {
        let policy = ThrottlePolicy::default();
        let now = Timestamp::from_unix_millis(1_000_000);
        let mut state: Option<FailureState> = None;
        for _ in 0..=policy.free_attempts {
            state = Some(FailureState::after_failure(state.as_ref(), now, &policy).0);
        }
        let blocked = state.unwrap();
        assert!(
            blocked.check(now).is_err(),
            "one past the free attempts blocks"
        );
        let back = blocked.after_refund(&policy).unwrap();
        assert_eq!(back.failures, policy.free_attempts);
        assert!(
            back.check(now).is_ok(),
            "the refund lifts the block it caused"
        );
        // Two past: the refund keeps the block the remaining failures earned.
        let two = FailureState::after_failure(Some(&blocked), now, &policy).0;
        let one = two.after_refund(&policy).unwrap();
        assert_eq!(one.failures, policy.free_attempts + 1);
        assert_eq!(one.blocked_until, two.blocked_until);
        // The last failure refunded leaves nothing.
        let first = FailureState::after_failure(None, now, &policy).0;
        assert_eq!(first.after_refund(&policy), None);
    }

    #[test]
    fn default_policy_is_valid_and_as_documented() {
        let p = ThrottlePolicy::default();
        p.validate().unwrap();
        assert_eq!(p.free_attempts, 5);
        assert_eq!(p.base_delay, SECOND);
        assert_eq!(p.max_delay, Duration::from_secs(900));
        assert_eq!(p.forget_after, Duration::from_secs(86_400));
    }

    #[test]
    fn validation_rejects_inconsistent_policies() {
        let ok = ThrottlePolicy::default();
        for bad in [
            ThrottlePolicy {
                base_delay: Duration::ZERO,
                ..ok
            },
            ThrottlePolicy {
                base_delay: Duration::from_micros(999),
                ..ok
            },
            ThrottlePolicy {
                max_delay: Duration::from_millis(999),
                ..ok
            },
            ThrottlePolicy {
                forget_after: Duration::from_secs(899),
                ..ok
            },
        ] {
            assert!(
                matches!(bad.validate(), Err(Error::Invalid { .. })),
                "{bad:?}"
            );
        }
        ThrottlePolicy {
            free_attempts: 0,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(1),
            forget_after: Duration::from_millis(1),
        }
        .validate()
        .unwrap();
    }

    #[test]
    fn free_attempts_cost_nothing() {
        let p = ThrottlePolicy::default();
        let (state, outcome) = fail_n(p.free_attempts, start(), &p);
        assert_eq!(outcome.failures, 5);
        assert_eq!(outcome.blocked_for, None);
        assert!(!outcome.crossed_threshold);
        assert_eq!(state.blocked_until, None);
        assert_eq!(state.check(start()), Ok(()));
    }

    #[test]
    fn one_past_the_free_attempts_blocks_for_the_base_delay() {
        let p = ThrottlePolicy::default();
        let (state, outcome) = fail_n(p.free_attempts + 1, start(), &p);
        assert_eq!(outcome.blocked_for, Some(SECOND));
        assert!(outcome.crossed_threshold);
        assert_eq!(state.blocked_until, Some(start().plus(SECOND)));
        assert_eq!(
            state.check(start()),
            Err(Blocked {
                retry_after: SECOND
            })
        );
        let just_before = start().plus(SECOND).minus(Duration::from_millis(1));
        assert_eq!(
            state.check(just_before),
            Err(Blocked {
                retry_after: Duration::from_millis(1)
            })
        );
        assert_eq!(state.check(start().plus(SECOND)), Ok(()));
    }

    #[test]
    fn each_further_failure_doubles_the_block_and_reports_once() {
        let p = ThrottlePolicy::default();
        let clock = ManualClock::new(start());
        let mut state = fail_n(p.free_attempts, clock.now(), &p).0;
        let mut reports = 0;
        for (i, expected) in [1u64, 2, 4, 8, 16, 32].into_iter().enumerate() {
            let (s, o) = FailureState::after_failure(Some(&state), clock.now(), &p);
            assert_eq!(o.failures, p.free_attempts + 1 + u32::try_from(i).unwrap());
            assert_eq!(o.blocked_for, Some(Duration::from_secs(expected)));
            reports += usize::from(o.crossed_threshold);
            state = s;
            clock.advance(Duration::from_secs(expected));
            assert_eq!(state.check(clock.now()), Ok(()));
        }
        assert_eq!(reports, 1);
    }

    #[test]
    fn the_block_is_capped_at_max_delay() {
        let p = ThrottlePolicy::default();
        // 1 s · 2^9 = 512 s < 900 s; 2^10 = 1024 s is capped.
        assert_eq!(p.delay_after(15), Some(Duration::from_secs(512)));
        assert_eq!(p.delay_after(16), Some(Duration::from_secs(900)));
        assert_eq!(p.delay_after(17), Some(Duration::from_secs(900)));
        let (state, outcome) = fail_n(40, start(), &p);
        assert_eq!(outcome.blocked_for, Some(Duration::from_secs(900)));
        assert_eq!(
            state.blocked_until,
            Some(start().plus(Duration::from_secs(900)))
        );
    }

    #[test]
    fn u32_max_failures_saturate_without_overflow() {
        let p = ThrottlePolicy::default();
        assert_eq!(p.delay_after(u32::MAX), Some(p.max_delay));
        let huge = ThrottlePolicy {
            max_delay: Duration::MAX,
            forget_after: Duration::MAX,
            ..p
        };
        assert_eq!(huge.delay_after(u32::MAX), Some(Duration::MAX));
        let saturated = FailureState {
            failures: u32::MAX,
            last_failure: start(),
            blocked_until: None,
        };
        let (state, outcome) = FailureState::after_failure(Some(&saturated), start(), &p);
        assert_eq!(state.failures, u32::MAX);
        assert_eq!(outcome.blocked_for, Some(p.max_delay));
        assert!(!outcome.crossed_threshold);
        // A block reaching past the end of time saturates too.
        let end = Timestamp::from_unix_millis(i64::MAX - 5);
        let (state, _) = FailureState::after_failure(Some(&saturated), end, &huge);
        assert_eq!(
            state.blocked_until,
            Some(Timestamp::from_unix_millis(i64::MAX))
        );
        assert!(state.check(end).is_err());
        // A policy where nothing is free but nothing is ever blocked past u32::MAX either.
        let never = ThrottlePolicy {
            free_attempts: u32::MAX,
            ..p
        };
        assert_eq!(fail_n(3, start(), &never).1.blocked_for, None);
        assert_eq!(never.delay_after(u32::MAX), None);
    }

    #[test]
    fn forget_after_exactly_starts_over() {
        let p = ThrottlePolicy::default();
        let (state, _) = fail_n(p.free_attempts + 3, start(), &p);
        let almost = start().plus(p.forget_after).minus(Duration::from_millis(1));
        assert!(!state.is_forgotten(almost, &p));
        let (kept, o) = FailureState::after_failure(Some(&state), almost, &p);
        assert_eq!(o.failures, p.free_attempts + 4);
        assert_eq!(kept.failures, p.free_attempts + 4);

        let exactly = start().plus(p.forget_after);
        assert!(state.is_forgotten(exactly, &p));
        let (fresh, o) = FailureState::after_failure(Some(&state), exactly, &p);
        assert_eq!(o.failures, 1);
        assert_eq!(o.blocked_for, None);
        assert_eq!(fresh.blocked_until, None);
        assert_eq!(fresh.last_failure, exactly);
    }

    #[test]
    fn a_new_burst_reports_again() {
        let p = ThrottlePolicy::default();
        let (state, first) = fail_n(p.free_attempts + 1, start(), &p);
        assert!(first.crossed_threshold);
        let later = start().plus(p.forget_after);
        let mut s = Some(state);
        let mut crossings = 0;
        for _ in 0..p.free_attempts + 3 {
            let (next, o) = FailureState::after_failure(s.as_ref(), later, &p);
            crossings += u32::from(o.crossed_threshold);
            s = Some(next);
        }
        assert_eq!(crossings, 1);
    }

    #[test]
    fn a_clock_running_backwards_neither_unblocks_early_nor_panics() {
        let p = ThrottlePolicy::default();
        let (state, _) = fail_n(p.free_attempts + 4, start(), &p); // blocked 8 s
        let until = start().plus(Duration::from_secs(8));
        assert_eq!(state.blocked_until, Some(until));

        // Stepped back an hour: still blocked, until the clock reaches `until` again.
        let back = start().minus(Duration::from_secs(3600));
        assert_eq!(
            state.check(back),
            Err(Blocked {
                retry_after: Duration::from_secs(3608)
            })
        );
        // Not forgotten, however far back.
        assert!(!state.is_forgotten(Timestamp::EPOCH, &p));
        assert!(!state.is_forgotten(Timestamp::from_unix_millis(i64::MIN), &p));

        // A failure in the past counts, keeps the later time and extends from it.
        let (next, o) = FailureState::after_failure(Some(&state), back, &p);
        assert_eq!(next.failures, p.free_attempts + 5);
        assert_eq!(next.last_failure, start());
        assert_eq!(
            next.blocked_until,
            Some(start().plus(Duration::from_secs(16)))
        );
        assert_eq!(o.blocked_for, Some(Duration::from_secs(3616)));

        // A later policy with a shorter delay does not shorten an existing block.
        let lenient = ThrottlePolicy {
            free_attempts: 100,
            ..p
        };
        let (next, o) = FailureState::after_failure(Some(&state), start(), &lenient);
        assert_eq!(next.blocked_until, Some(until));
        assert_eq!(o.blocked_for, Some(Duration::from_secs(8)));
        let _ =
            FailureState::after_failure(Some(&state), Timestamp::from_unix_millis(i64::MIN), &p);
    }

    #[test]
    fn outcomes_merge_to_the_worst() {
        let a = FailureOutcome {
            failures: 7,
            blocked_for: Some(SECOND),
            crossed_threshold: false,
        };
        let b = FailureOutcome {
            failures: 2,
            blocked_for: None,
            crossed_threshold: true,
        };
        let m = a.merge(b);
        assert_eq!(m.failures, 7);
        assert_eq!(m.blocked_for, Some(SECOND));
        assert!(m.crossed_threshold);
        assert_eq!(FailureOutcome::default().merge(b), b);
    }

    #[test]
    fn blocked_rounds_retry_after_up_to_whole_seconds() {
        let b = Blocked {
            retry_after: Duration::from_millis(1500),
        };
        assert_eq!(b.retry_after_secs(), 2);
        assert_eq!(b.to_string(), "too many failed attempts; retry in 2 s");
        let b = Blocked {
            retry_after: Duration::from_secs(3),
        };
        assert_eq!(b.retry_after_secs(), 3);
        let b = Blocked {
            retry_after: Duration::MAX,
        };
        assert_eq!(b.retry_after_secs(), u64::MAX);
        let b = Blocked {
            retry_after: Duration::from_millis(10),
        };
        assert_eq!(b.to_string(), "too many failed attempts; retry in 1 s");
    }
}
