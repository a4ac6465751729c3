//! Per-connection rate limiting: a token bucket over a monotonic clock that is passed in
//! ([`MonotonicClock`]), so tests move time by hand instead of sleeping.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Where the hub reads the time for rate limits.
pub trait MonotonicClock: Send + Sync {
    /// Now.
    fn now(&self) -> Instant;
}

/// The operating system's monotonic clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl MonotonicClock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that stands still until [`advance`](Self::advance)d (tests).
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<Instant>,
}

impl ManualClock {
    /// A clock standing at the moment it was made.
    pub fn new() -> Self {
        Self {
            now: Mutex::new(Instant::now()),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *now += by;
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl MonotonicClock for ManualClock {
    fn now(&self) -> Instant {
        *self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A token bucket: holds up to `burst` tokens, gains one every `interval`, and each
/// accepted event takes one. Starts full.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    burst: u32,
    interval: Duration,
    tokens: u32,
    /// When the next token is earned (only meaningful while not full).
    last: Instant,
}

impl TokenBucket {
    /// A full bucket of `burst` tokens, one more every `interval`.
    pub fn new(burst: u32, interval: Duration, now: Instant) -> Self {
        Self {
            burst,
            interval,
            tokens: burst,
            last: now,
        }
    }

    /// A full bucket of `burst` tokens refilled at `per_second` tokens a second.
    pub fn per_second(burst: u32, per_second: u32, now: Instant) -> Self {
        let interval = Duration::from_secs(1)
            .checked_div(per_second.max(1))
            .unwrap_or(Duration::from_secs(1));
        Self::new(burst, interval, now)
    }

    fn refill(&mut self, now: Instant) {
        if self.tokens >= self.burst {
            self.last = now;
            return;
        }
        let elapsed = now.saturating_duration_since(self.last);
        let interval = self.interval.as_nanos().max(1);
        let earned = elapsed.as_nanos() / interval;
        if earned == 0 {
            return;
        }
        let earned_u32 = u32::try_from(earned).unwrap_or(u32::MAX);
        self.tokens = self.tokens.saturating_add(earned_u32).min(self.burst);
        if self.tokens >= self.burst {
            self.last = now;
        } else {
            // Keep the fraction of an interval already earned.
            let used = self
                .interval
                .checked_mul(earned_u32)
                .unwrap_or(Duration::MAX);
            self.last = self.last.checked_add(used).unwrap_or(now);
        }
    }

    /// Takes a token at `now`, or says how long until one is there.
    pub fn take(&mut self, now: Instant) -> Result<(), Duration> {
        self.refill(now);
        if self.tokens > 0 {
            self.tokens -= 1;
            Ok(())
        } else {
            let next = self.last.checked_add(self.interval).unwrap_or(now);
            Err(next
                .saturating_duration_since(now)
                .max(Duration::from_millis(1)))
        }
    }

    /// Tokens left at `now`.
    pub fn available(&mut self, now: Instant) -> u32 {
        self.refill(now);
        self.tokens
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn exactly_the_burst_then_one_per_interval() {
        let clock = ManualClock::new();
        let mut b = TokenBucket::per_second(3, 2, clock.now());
        for _ in 0..3 {
            b.take(clock.now()).unwrap();
        }
        assert_eq!(b.take(clock.now()), Err(Duration::from_millis(500)));
        clock.advance(Duration::from_millis(499));
        assert_eq!(b.take(clock.now()), Err(Duration::from_millis(1)));
        clock.advance(Duration::from_millis(1));
        b.take(clock.now()).unwrap();
        assert!(b.take(clock.now()).is_err());
        clock.advance(Duration::from_secs(60));
        assert_eq!(b.available(clock.now()), 3);
    }
}
