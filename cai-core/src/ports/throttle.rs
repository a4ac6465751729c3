//! Failure counters (R-U3) as a port: where the brute-force counters of
//! [`throttle`](crate::throttle) are kept. One process can keep them in memory
//! ([`MemoryFailureCounter`](crate::memory::MemoryFailureCounter)); several processes
//! behind a load balancer need a shared backend (Redis, the database), or an attacker
//! gets a fresh set of counters from every replica.
//!
//! A counter is named by an [`AttemptKey`]: the tenant, what is being guessed at (a
//! room's password, an account's login or 2FA code, an invitation token) and optionally
//! where the guesses come from. The service counts each failure twice — once per
//! object (`source: None`), which catches guessing spread over many addresses, and
//! once per object and source, which slows the one address that guesses without
//! locking everyone else out as early. [`AttemptKey::scope_and_source`] builds both
//! keys, and the `*_all` methods apply an operation to each:
//!
//! ```
//! use cai_core::Timestamp;
//! use cai_core::id::{RoomId, TenantId};
//! use cai_core::memory::MemoryFailureCounter;
//! use cai_core::ports::{AttemptKey, AttemptScope, AttemptSource, CheckError, FailureCounter};
//! use cai_core::throttle::ThrottlePolicy;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let counter = MemoryFailureCounter::new();
//! let policy = ThrottlePolicy::default();
//! let now = Timestamp::from_unix_millis(1_700_000_000_000);
//! let (tenant, room) = (TenantId::random()?, RoomId::random()?);
//! // The strictest key first: a source that is turned away touches nothing else.
//! let keys = [
//!     (AttemptKey::per_source(tenant, AttemptScope::Room(room), AttemptSource::parse("203.0.113.7")?), policy),
//!     (AttemptKey::per_scope(tenant, AttemptScope::Room(room)), policy),
//! ];
//! let verify = |guess: &str| guess == "the password"; // Argon2id in real life
//!
//! for _ in 0..policy.free_attempts {
//!     // Count first (atomically), then verify: guesses sent at once cannot all slip
//!     // past a check before the first failure is counted.
//!     let reserved = counter.reserve_all(&keys, now).await?;
//!     if verify("a guess") {
//!         counter.refund_all(&keys, &reserved).await?; // right: give the count back
//!     }
//! }
//! let reserved = counter.reserve_all(&keys, now).await?;
//! assert!(!verify("a guess"));
//! assert!(reserved.outcome.crossed_threshold); // raise one incident for this burst
//! assert!(matches!(counter.reserve_all(&keys, now).await, Err(CheckError::Blocked(_))));
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::id::{AccountId, InvitationId, RoomId, TenantId};
use crate::throttle::{Blocked, FailureOutcome, FailureState, ThrottlePolicy};
use crate::time::Timestamp;

/// What secret is being guessed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum AttemptScope {
    /// A counsellor room's password.
    Room(RoomId),
    /// An account's login, second factor or recovery token (`cai-auth`).
    Account(AccountId),
    /// An invitation's token.
    Invitation(InvitationId),
    /// Requests naming another tenant than the caller's, counted per caller (in the
    /// caller's tenant), so a flood of them raises one incident per burst, not one
    /// each.
    CrossTenant(TenantId),
}

/// Where attempts come from, as the host names it: a client address, a device id, a
/// network prefix. 1 to [`AttemptSource::MAX_LEN`] bytes of printable ASCII (space to
/// `~`). Not a secret, so `Debug` shows it; it may be personal data (an IP address), so
/// backends keep it no longer than the counter.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttemptSource(Arc<str>);

impl AttemptSource {
    /// Longest source, in bytes.
    pub const MAX_LEN: usize = 128;

    /// Validates a source name.
    pub fn parse(text: &str) -> Result<Self> {
        if text.len() > Self::MAX_LEN {
            return Err(Error::TooLarge {
                what: "attempt source",
                limit: Self::MAX_LEN,
            });
        }
        if text.is_empty() {
            return Err(Error::Invalid {
                what: "attempt source",
                reason: "empty",
            });
        }
        if !text.bytes().all(|b| (b' '..=b'~').contains(&b)) {
            return Err(Error::Invalid {
                what: "attempt source",
                reason: "not printable ASCII",
            });
        }
        Ok(Self(Arc::from(text)))
    }

    /// The source's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AttemptSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for AttemptSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The name of one failure counter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttemptKey {
    /// The tenant the guessed-at object belongs to; counters never cross tenants.
    pub tenant: TenantId,
    /// What is being guessed at.
    pub scope: AttemptScope,
    /// Where the guesses come from; `None` counts all sources together.
    pub source: Option<AttemptSource>,
}

impl AttemptKey {
    /// The counter of every attempt at `scope`, from anywhere.
    pub fn per_scope(tenant: TenantId, scope: AttemptScope) -> Self {
        Self {
            tenant,
            scope,
            source: None,
        }
    }

    /// The counter of the attempts at `scope` from `source`.
    pub fn per_source(tenant: TenantId, scope: AttemptScope, source: AttemptSource) -> Self {
        Self {
            tenant,
            scope,
            source: Some(source),
        }
    }

    /// The keys one attempt is counted under: per scope and source if the source is
    /// known (first, as [`FailureCounter::reserve_all`] wants the strictest key
    /// first), and per scope. Pair each with its policy for the `*_all` methods.
    pub fn scope_and_source(
        tenant: TenantId,
        scope: AttemptScope,
        source: Option<AttemptSource>,
    ) -> Vec<Self> {
        // Per source first: `reserve_all` stops at the first blocked key, so a source
        // that is turned away never touches the per-scope counter.
        let mut keys = Vec::with_capacity(2);
        if let Some(source) = source {
            keys.push(Self::per_source(tenant, scope, source));
        }
        keys.push(Self::per_scope(tenant, scope));
        keys
    }
}

/// One failure counted in advance by [`FailureCounter::reserve`]: what it did, and the
/// counter's state before, to give it back exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reservation {
    /// What counting it did.
    pub outcome: FailureOutcome,
    /// The counter before (`None`: there was none, or it was forgotten).
    pub previous: Option<FailureState>,
}

/// The reservations of [`FailureCounter::reserve_all`], in key order, and their merged
/// outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reserved {
    /// The merged outcome: most failures, longest block, any threshold crossed.
    pub outcome: FailureOutcome,
    /// One per key.
    pub reservations: Vec<Reservation>,
}

/// Keeps failure counters. The arithmetic is [`FailureState`](crate::throttle::FailureState)'s;
/// a backend stores the state per [`AttemptKey`].
///
/// Invariants a backend keeps:
/// - **Per key**: counters of different keys never influence each other, and keys of
///   different tenants are different keys.
/// - **Atomic per key**: [`record_failure`](Self::record_failure) is one
///   read-modify-write, so concurrent failures all count (Redis `WATCH`/Lua, SQL
///   `UPDATE … RETURNING` or a serializable transaction).
/// - **Bounded**: memory or rows do not grow without bound under a flood of distinct
///   keys; forgotten counters (see
///   [`FailureState::is_forgotten`](crate::throttle::FailureState::is_forgotten)) may
///   be dropped at any time.
/// - **No secrets**: keys and states hold ids, a host-named source, counts and times,
///   never the guessed secret; errors carry no key material.
///
/// Verify a secret only after [`reserve`](Self::reserve) (check and count in one
/// atomic step), and [`refund`](Self::refund) when it was right: [`check`](Self::check)
/// followed by [`record_failure`](Self::record_failure) would let attempts checked at
/// the same moment all be verified before the first failure is recorded. Attempts
/// turned away are not failures: they tested no secret.
#[async_trait]
pub trait FailureCounter: Send + Sync {
    /// Whether this port can serve now, for health checks ([`Counselling::health`]).
    /// The default answers yes; a backend that talks to a server overrides it with a
    /// cheap round trip (a `SELECT 1`, a KMS key lookup, an SMTP `NOOP`).
    ///
    /// [`Counselling::health`]: crate::Counselling::health
    async fn health(&self) -> Result<(), super::Unhealthy> {
        Ok(())
    }

    /// `Err(CheckError::Blocked)` while the counter refuses attempts. Call it before
    /// verifying the secret, so a blocked caller costs no Argon2 time.
    async fn check(&self, key: &AttemptKey, now: Timestamp) -> Result<(), CheckError>;

    /// Counts one failure at `now` under `policy` and says what it did.
    async fn record_failure(
        &self,
        key: &AttemptKey,
        now: Timestamp,
        policy: &ThrottlePolicy,
    ) -> Result<FailureOutcome, CounterError>;

    /// Clears the counter: the right secret was given.
    async fn record_success(&self, key: &AttemptKey) -> Result<(), CounterError>;

    /// Atomically: refuses while the counter is blocked (like [`check`](Self::check)),
    /// else counts one failure *in advance*. Verify the secret only after a
    /// reservation, and [`refund`](Self::refund) it when the secret was right: so
    /// guesses sent at the same moment cannot all pass a check before the first
    /// failure is counted — once the threshold is reached, every further reservation
    /// is refused until the block ends. Backends must make the check and the count one
    /// atomic step per key.
    async fn reserve(
        &self,
        key: &AttemptKey,
        now: Timestamp,
        policy: &ThrottlePolicy,
    ) -> Result<Reservation, CheckError>;

    /// Gives back a failure counted by [`reserve`](Self::reserve): the secret was
    /// right. If nothing else was counted under the key since, the counter is exactly
    /// as before the reservation (its block and last failure included); otherwise one
    /// failure is taken off and blocks earned by the others stay
    /// ([`FailureState::after_refund`](crate::throttle::FailureState::after_refund)).
    async fn refund(
        &self,
        key: &AttemptKey,
        reservation: &Reservation,
        policy: &ThrottlePolicy,
    ) -> Result<(), CounterError>;

    /// [`reserve`](Self::reserve) under each key with its policy, in order, all or
    /// none: at the first blocked key the reservations already made are refunded and
    /// that key's wait is reported — so put the strictest key (per source) first, and a
    /// source that is turned away never touches the others. Outcomes are merged.
    async fn reserve_all(
        &self,
        keys: &[(AttemptKey, ThrottlePolicy)],
        now: Timestamp,
    ) -> Result<Reserved, CheckError> {
        let mut reserved = Reserved::default();
        for (key, policy) in keys {
            match self.reserve(key, now, policy).await {
                Ok(r) => {
                    reserved.outcome = reserved.outcome.merge(r.outcome);
                    reserved.reservations.push(r);
                }
                Err(e) => {
                    for ((key, policy), r) in keys.iter().zip(&reserved.reservations) {
                        self.refund(key, r, policy).await?;
                    }
                    return Err(e);
                }
            }
        }
        Ok(reserved)
    }

    /// [`refund`](Self::refund) of each reservation of [`reserve_all`](Self::reserve_all).
    async fn refund_all(
        &self,
        keys: &[(AttemptKey, ThrottlePolicy)],
        reserved: &Reserved,
    ) -> Result<(), CounterError> {
        for ((key, policy), r) in keys.iter().zip(&reserved.reservations) {
            self.refund(key, r, policy).await?;
        }
        Ok(())
    }

    /// [`check`](Self::check) of every key; when several are blocked, the longest
    /// wait is reported.
    async fn check_all(&self, keys: &[AttemptKey], now: Timestamp) -> Result<(), CheckError> {
        let mut longest: Option<Blocked> = None;
        for key in keys {
            match self.check(key, now).await {
                Ok(()) => {}
                Err(CheckError::Blocked(b)) => {
                    longest = Some(match longest {
                        Some(l) if l.retry_after >= b.retry_after => l,
                        _ => b,
                    });
                }
                Err(other) => return Err(other),
            }
        }
        longest.map_or(Ok(()), |b| Err(CheckError::Blocked(b)))
    }

    /// [`record_failure`](Self::record_failure) under every key, outcomes merged with
    /// [`FailureOutcome::merge`]: the most failures, the longest block, and
    /// `crossed_threshold` if any counter crossed.
    async fn record_failure_all(
        &self,
        keys: &[AttemptKey],
        now: Timestamp,
        policy: &ThrottlePolicy,
    ) -> Result<FailureOutcome, CounterError> {
        let mut merged = FailureOutcome::default();
        for key in keys {
            merged = merged.merge(self.record_failure(key, now, policy).await?);
        }
        Ok(merged)
    }

    /// [`record_success`](Self::record_success) under every key.
    ///
    /// Which keys a success clears is the caller's choice: clearing the per-scope
    /// counter too lets a legitimate user unlock an object for everyone, but also
    /// gives a distributed guesser a new set of free attempts after every legitimate
    /// success; the per-source counters still hold each guessing source back.
    async fn record_success_all(&self, keys: &[AttemptKey]) -> Result<(), CounterError> {
        for key in keys {
            self.record_success(key).await?;
        }
        Ok(())
    }
}

/// The counter backend failed (unreachable, timed out). Carries no key material.
/// Whether to let attempts through while counters are down is the caller's choice;
/// failing closed is the safe default.
#[derive(Debug, Clone, thiserror::Error)]
#[error("failure counter: {0}")]
pub struct CounterError(pub String);

/// Why [`FailureCounter::check`] turned an attempt away.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// Too many wrong secrets; retry later.
    #[error(transparent)]
    Blocked(#[from] Blocked),
    /// The counter could not be read.
    #[error(transparent)]
    Counter(#[from] CounterError),
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_bounded_printable_ascii() {
        assert_eq!(
            AttemptSource::parse("203.0.113.7").unwrap().as_str(),
            "203.0.113.7"
        );
        assert!(AttemptSource::parse("2001:db8::1").is_ok());
        assert!(AttemptSource::parse("device 42 ~").is_ok());
        assert!(AttemptSource::parse(&"a".repeat(128)).is_ok());
        assert!(matches!(
            AttemptSource::parse(&"a".repeat(129)),
            Err(Error::TooLarge { limit: 128, .. })
        ));
        for bad in ["", "tab\there", "new\nline", "nul\0", "ümlaut", "\u{7f}"] {
            assert!(
                matches!(AttemptSource::parse(bad), Err(Error::Invalid { .. })),
                "{bad:?}"
            );
        }
        let s = AttemptSource::parse("dev-1").unwrap();
        assert_eq!(format!("{s:?} {s}"), "\"dev-1\" dev-1");
    }

    #[test]
    fn scope_and_source_gives_one_or_two_keys() {
        let tenant = TenantId::random().unwrap();
        let scope = AttemptScope::Invitation(InvitationId::random().unwrap());
        assert_eq!(
            AttemptKey::scope_and_source(tenant, scope, None),
            [AttemptKey::per_scope(tenant, scope)]
        );
        let source = AttemptSource::parse("10.0.0.1").unwrap();
        assert_eq!(
            AttemptKey::scope_and_source(tenant, scope, Some(source.clone())),
            [
                AttemptKey::per_source(tenant, scope, source),
                AttemptKey::per_scope(tenant, scope)
            ]
        );
    }
}
