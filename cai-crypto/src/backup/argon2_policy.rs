//! The client's Argon2id policy for password slots: which parameters it writes, and
//! which stored ones it is willing to run.

use crate::passphrase::Argon2Params;
use crate::{Error, Result};

/// The parameters a client writes into new password slots by default:
/// [`Argon2Params::RECOMMENDED`] (64 MiB, 3 passes, 1 lane; RFC 9106's second option).
pub const DEFAULT_ARGON2_PINNED: Argon2Params = Argon2Params::RECOMMENDED;

/// The most a client runs by default, whatever a stored backup asks for: 64 MiB, 6
/// passes, 4 lanes — memory a phone can spare, and at most twice the default time.
pub const DEFAULT_ARGON2_CAP: Argon2Params = Argon2Params::PHONE_CAP;

/// The client side of a password slot's cost: parameters are chosen and bounded by the
/// client, never by the server that stores the backup.
///
/// * **pinned**: what this client writes into a new password slot;
/// * **floor**: the cheapest stored parameters it runs (by default the pinned ones), so
///   a server cannot downgrade a slot to something cheap to guess;
/// * **cap**: the most expensive stored parameters it runs, so a server cannot make it
///   spend unbounded memory or time (and a phone never runs out of memory).
///
/// Each of memory, passes and lanes is compared on its own: stored parameters are run
/// only if `floor ≤ stored ≤ cap` holds for all three; otherwise opening fails with
/// [`Error::KdfParamsBelowFloor`] or [`Error::KdfParamsAboveCap`] **before** any Argon2
/// work. Invariant: `floor ≤ pinned ≤ cap`, within the global bounds of
/// [`Argon2Params`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Argon2Policy {
    floor: Argon2Params,
    pinned: Argon2Params,
    cap: Argon2Params,
}

impl Argon2Policy {
    /// Floor and pinned [`DEFAULT_ARGON2_PINNED`], cap [`DEFAULT_ARGON2_CAP`].
    pub const DEFAULT: Self = Self {
        floor: DEFAULT_ARGON2_PINNED,
        pinned: DEFAULT_ARGON2_PINNED,
        cap: DEFAULT_ARGON2_CAP,
    };

    /// A policy that writes `pinned`, runs nothing cheaper than `pinned` and nothing
    /// dearer than `cap`. [`Error::Rejected`] unless `pinned ≤ cap` in every parameter.
    pub fn new(pinned: Argon2Params, cap: Argon2Params) -> Result<Self> {
        if !at_most(&pinned, &cap) {
            return Err(Error::Rejected {
                what: "Argon2 policy",
                reason: "pinned parameters exceed the cap",
            });
        }
        Ok(Self {
            floor: pinned,
            pinned,
            cap,
        })
    }

    /// The same policy, but also running stored parameters down to `floor` — for
    /// backups written under an older, cheaper pinned setting. [`Error::Rejected`]
    /// unless `floor ≤ pinned` in every parameter.
    pub fn with_floor(self, floor: Argon2Params) -> Result<Self> {
        if !at_most(&floor, &self.pinned) {
            return Err(Error::Rejected {
                what: "Argon2 policy",
                reason: "floor exceeds the pinned parameters",
            });
        }
        Ok(Self { floor, ..self })
    }

    /// What new password slots get.
    pub fn pinned(&self) -> Argon2Params {
        self.pinned
    }

    /// The cheapest stored parameters run.
    pub fn floor(&self) -> Argon2Params {
        self.floor
    }

    /// The dearest stored parameters run.
    pub fn cap(&self) -> Argon2Params {
        self.cap
    }

    /// Whether `stored` may be run: `floor ≤ stored ≤ cap` in every parameter. The cap
    /// is checked first (the denial-of-service bound), then the floor.
    pub fn check(&self, stored: &Argon2Params) -> Result<()> {
        for (param, got, floor, cap) in [
            (
                "memory_kib",
                stored.memory_kib(),
                self.floor.memory_kib(),
                self.cap.memory_kib(),
            ),
            (
                "iterations",
                stored.iterations(),
                self.floor.iterations(),
                self.cap.iterations(),
            ),
            (
                "parallelism",
                stored.parallelism(),
                self.floor.parallelism(),
                self.cap.parallelism(),
            ),
        ] {
            if got > cap {
                return Err(Error::KdfParamsAboveCap { param, got, cap });
            }
            if got < floor {
                return Err(Error::KdfParamsBelowFloor { param, got, floor });
            }
        }
        Ok(())
    }
}

impl Default for Argon2Policy {
    /// [`Argon2Policy::DEFAULT`].
    fn default() -> Self {
        Self::DEFAULT
    }
}

fn at_most(a: &Argon2Params, b: &Argon2Params) -> bool {
    a.memory_kib() <= b.memory_kib()
        && a.iterations() <= b.iterations()
        && a.parallelism() <= b.parallelism()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::passphrase::MIN_MEMORY_KIB;

    #[test]
    fn defaults() {
        assert_eq!(
            DEFAULT_ARGON2_CAP,
            Argon2Params::new(64 * 1024, 6, 4).unwrap()
        );
        let p = Argon2Policy::default();
        assert_eq!(p, Argon2Policy::DEFAULT);
        assert_eq!(p.pinned(), Argon2Params::RECOMMENDED);
        assert_eq!(p.floor(), Argon2Params::RECOMMENDED);
        assert_eq!(p.cap(), DEFAULT_ARGON2_CAP);
        assert!(p.check(&Argon2Params::RECOMMENDED).is_ok());
        assert!(p.check(&DEFAULT_ARGON2_CAP).is_ok());
    }

    #[test]
    fn bounds_are_inclusive_and_one_past_is_refused() {
        let floor = Argon2Params::new(MIN_MEMORY_KIB + 8, 3, 2).unwrap();
        let cap = Argon2Params::new(MIN_MEMORY_KIB + 16, 5, 3).unwrap();
        let policy = Argon2Policy::new(floor, cap).unwrap();
        assert!(policy.check(&floor).is_ok());
        assert!(policy.check(&cap).is_ok());
        for (m, t, p, above) in [
            (MIN_MEMORY_KIB + 17, 5, 3, true),
            (MIN_MEMORY_KIB + 16, 6, 3, true),
            (MIN_MEMORY_KIB + 16, 5, 4, true),
            (MIN_MEMORY_KIB + 7, 3, 2, false),
            (MIN_MEMORY_KIB + 8, 2, 2, false),
            (MIN_MEMORY_KIB + 8, 3, 1, false),
        ] {
            let stored = Argon2Params::new(m, t, p).unwrap();
            let result = policy.check(&stored);
            if above {
                assert!(
                    matches!(result, Err(Error::KdfParamsAboveCap { .. })),
                    "{stored:?}"
                );
            } else {
                assert!(
                    matches!(result, Err(Error::KdfParamsBelowFloor { .. })),
                    "{stored:?}"
                );
            }
        }
        assert_eq!(
            policy.check(&Argon2Params::new(MIN_MEMORY_KIB + 17, 1 + 1, 1).unwrap()),
            Err(Error::KdfParamsAboveCap {
                param: "memory_kib",
                got: MIN_MEMORY_KIB + 17,
                cap: MIN_MEMORY_KIB + 16,
            })
        );
    }

    #[test]
    fn invariants_are_enforced() {
        let low = Argon2Params::MINIMUM;
        let high = Argon2Params::RECOMMENDED;
        assert!(matches!(
            Argon2Policy::new(high, low),
            Err(Error::Rejected { .. })
        ));
        // Memory within, lanes above: still refused (each parameter on its own).
        let wide = Argon2Params::new(64 * 1024, 3, 4).unwrap();
        assert!(Argon2Policy::new(wide, high).is_err());
        let policy = Argon2Policy::new(high, DEFAULT_ARGON2_CAP).unwrap();
        assert!(policy.with_floor(wide).is_err());
        let widened = policy.with_floor(low).unwrap();
        assert_eq!(widened.floor(), low);
        assert_eq!(widened.pinned(), high);
        assert!(widened.check(&low).is_ok());
        assert!(matches!(
            policy.check(&low),
            Err(Error::KdfParamsBelowFloor { .. })
        ));
    }
}
