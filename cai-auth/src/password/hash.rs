//! Argon2id password hashes as standard PHC strings
//! (`$argon2id$v=19$m=19456,t=2,p=1,keyid=…$salt$hash`), peppered (R-A1).
//!
//! Any Argon2 library verifies these strings given the pepper. The functions here are
//! synchronous and CPU-heavy; [`Authenticator`](crate::Authenticator) runs them on
//! cai-core's bounded blocking pool, never on the async executor.

use std::sync::{Mutex, PoisonError};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, ParamsBuilder, Version};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use crate::error::{AuthError, Result};
use crate::pepper::{Pepper, Peppers};

/// Longest password accepted anywhere, in bytes (1 024 characters of up to 4 bytes,
/// the longest any tenant policy may allow). Checked before any hashing: a longer
/// input is refused without work.
pub const MAX_PASSWORD_BYTES: usize = 4 * 1024;

/// Argon2id cost. The default is RFC 9106's second recommendation as OWASP states it:
/// 19 MiB, 2 passes, 1 lane (measured in `docs/AUTH.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HashParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl HashParams {
    /// m = 19 MiB, t = 2, p = 1.
    pub const DEFAULT: Self = Self {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };

    /// The smallest cost Argon2 accepts (8 KiB, 1 pass): for tests only, never in
    /// production.
    pub const INSECURE_TEST: Self = Self {
        memory_kib: 8,
        iterations: 1,
        parallelism: 1,
    };

    /// Largest memory a stored hash may ask for (1 GiB): a corrupt or planted record
    /// must not make one login allocate without bound.
    pub const MAX_MEMORY_KIB: u32 = 1024 * 1024;
    /// Most passes a stored hash may ask for.
    pub const MAX_ITERATIONS: u32 = 64;
    /// Most lanes a stored hash may ask for.
    pub const MAX_PARALLELISM: u32 = 16;

    /// Checks Argon2's own rules and the upper bounds above.
    pub fn validate(&self) -> Result<()> {
        if self.memory_kib > Self::MAX_MEMORY_KIB
            || self.iterations > Self::MAX_ITERATIONS
            || self.parallelism > Self::MAX_PARALLELISM
        {
            return Err(AuthError::Config("argon2 parameters above the limits"));
        }
        self.builder()
            .build()
            .map(|_| ())
            .map_err(|_| AuthError::Config("argon2 parameters invalid"))
    }

    fn builder(&self) -> ParamsBuilder {
        let mut b = ParamsBuilder::new();
        b.m_cost(self.memory_kib)
            .t_cost(self.iterations)
            .p_cost(self.parallelism)
            .output_len(32);
        b
    }

    /// The parameters a stored PHC string names (without checking its hash).
    pub fn of_phc(phc: &str) -> Result<Self> {
        let hash = PasswordHash::new(phc).map_err(|_| corrupt())?;
        let p = Params::try_from(&hash).map_err(|_| corrupt())?;
        Ok(Self {
            memory_kib: p.m_cost(),
            iterations: p.t_cost(),
            parallelism: p.p_cost(),
        })
    }
}

impl Default for HashParams {
    fn default() -> Self {
        Self::DEFAULT
    }
}

fn corrupt() -> AuthError {
    AuthError::Corrupt {
        what: "password hash",
    }
}

/// Argon2's working memory (19 MiB at the default cost), kept for the next hash
/// instead of freed: the allocator would keep freed blocks anyway — one per thread
/// that ever hashed, in its own arena — so a burst of logins on many threads grew the
/// process by a block per thread. Reused, the memory is one block per job running at
/// once (the blocking pool bounds that), at most [`SPARE_BLOCKS`] kept between jobs.
/// A block is zeroed before it is put back.
static SPARE: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());

/// Most working memories kept between jobs: enough for a blocking pool of one job per
/// CPU on any machine cai is likely to run on.
pub const SPARE_BLOCKS: usize = 16;

/// Runs `f` with `count` blocks of working memory.
fn with_memory<T>(count: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
    let spare = SPARE.lock().unwrap_or_else(PoisonError::into_inner).pop();
    let mut memory = spare.unwrap_or_default();
    if memory.len() < count {
        memory.resize(count, Block::new());
    }
    let out = match memory.get_mut(..count) {
        Some(blocks) => f(blocks),
        None => f(&mut []),
    };
    memory.iter_mut().for_each(Zeroize::zeroize);
    let mut spares = SPARE.lock().unwrap_or_else(PoisonError::into_inner);
    if spares.len() < SPARE_BLOCKS {
        spares.push(memory);
    }
    out
}

fn hashing_failed<E>(_: E) -> AuthError {
    AuthError::Config("argon2 hashing failed")
}

fn params_with_key(pepper: &Pepper, params: &HashParams) -> Result<Params> {
    let keyid = argon2::KeyId::new(pepper.id().as_bytes())
        .map_err(|_| AuthError::Config("pepper id too long"))?;
    params
        .builder()
        .keyid(keyid)
        .build()
        .map_err(|_| AuthError::Config("argon2 parameters invalid"))
}

/// Hashes `password` under the current pepper with a fresh 16-byte salt.
pub fn hash_password(peppers: &Peppers, params: &HashParams, password: &[u8]) -> Result<String> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(AuthError::Config("password longer than the hashing limit"));
    }
    params.validate()?;
    let mut salt = Zeroizing::new([0u8; 16]);
    getrandom::fill(salt.as_mut_slice()).map_err(|_| AuthError::Rng)?;
    let pepper = peppers.current();
    let argon_params = params_with_key(pepper, params)?;
    let argon = Argon2::new_with_secret(
        pepper.secret(),
        Algorithm::Argon2id,
        Version::V0x13,
        argon_params.clone(),
    )
    .map_err(|_| AuthError::Config("pepper rejected by argon2"))?;
    let mut out = Zeroizing::new([0u8; Params::DEFAULT_OUTPUT_LEN]);
    with_memory(argon_params.block_count(), |blocks| {
        argon.hash_password_into_with_memory(password, salt.as_slice(), out.as_mut_slice(), blocks)
    })
    .map_err(hashing_failed)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&argon_params).map_err(hashing_failed)?,
        salt: Some(Salt::new(salt.as_slice()).map_err(hashing_failed)?),
        hash: Some(Output::new(out.as_slice()).map_err(hashing_failed)?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the stored `phc`. A record that does not parse, is not
/// Argon2id v19, names an unknown pepper or asks for more than the limits is
/// [`AuthError::Corrupt`]; a too-long password is simply wrong.
pub fn verify_password(peppers: &Peppers, phc: &str, password: &[u8]) -> Result<bool> {
    let hash = PasswordHash::new(phc).map_err(|_| corrupt())?;
    if hash.algorithm != argon2::ARGON2ID_IDENT || hash.version != Some(0x13) {
        return Err(corrupt());
    }
    let params = Params::try_from(&hash).map_err(|_| corrupt())?;
    let stored = HashParams {
        memory_kib: params.m_cost(),
        iterations: params.t_cost(),
        parallelism: params.p_cost(),
    };
    stored.validate().map_err(|_| corrupt())?;
    let id = std::str::from_utf8(params.keyid()).map_err(|_| corrupt())?;
    let pepper = peppers.by_id(id).ok_or(corrupt())?;
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return Err(corrupt());
    };
    if password.len() > MAX_PASSWORD_BYTES {
        return Ok(false);
    }
    let blocks = params.block_count();
    let argon =
        Argon2::new_with_secret(pepper.secret(), Algorithm::Argon2id, Version::V0x13, params)
            .map_err(|_| corrupt())?;
    let mut out = Zeroizing::new([0u8; Output::MAX_LENGTH]);
    let actual = out.get_mut(..expected.len()).ok_or(corrupt())?;
    with_memory(blocks, |memory| {
        argon.hash_password_into_with_memory(password, salt.as_ref(), actual, memory)
    })
    .map_err(|_| corrupt())?;
    Ok(bool::from(actual.ct_eq(expected.as_bytes())))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use argon2::PasswordVerifier;

    fn peppers() -> Peppers {
        Peppers::new(Pepper::new("k1", &[3; 32]).unwrap())
    }

    const P: HashParams = HashParams::INSECURE_TEST;

    #[test]
    fn a_hash_is_a_standard_phc_string_that_verifies_only_its_password() {
        let peppers = peppers();
        let phc = hash_password(&peppers, &P, b"correct horse").unwrap();
        assert!(
            phc.starts_with("$argon2id$v=19$m=8,t=1,p=1,keyid="),
            "{phc}"
        );
        assert!(verify_password(&peppers, &phc, b"correct horse").unwrap());
        assert!(!verify_password(&peppers, &phc, b"correct horsE").unwrap());
        assert!(!verify_password(&peppers, &phc, b"").unwrap());
        assert_eq!(HashParams::of_phc(&phc).unwrap(), P);
    }

    #[test]
    fn the_pepper_is_part_of_the_hash() {
        let phc = hash_password(&peppers(), &P, b"pw").unwrap();
        // Same id, other secret: the hash no longer verifies.
        let other = Peppers::new(Pepper::new("k1", &[4; 32]).unwrap());
        assert!(!verify_password(&other, &phc, b"pw").unwrap());
        // Unknown id: the record cannot be checked at all.
        let unknown = Peppers::new(Pepper::new("k2", &[3; 32]).unwrap());
        assert!(matches!(
            verify_password(&unknown, &phc, b"pw"),
            Err(AuthError::Corrupt { .. })
        ));
        // And plain argon2 without the secret does not verify it either.
        let plain = Argon2::default();
        assert!(
            plain
                .verify_password(b"pw", &PasswordHash::new(&phc).unwrap())
                .is_err()
        );
    }

    #[test]
    fn the_same_password_gets_a_fresh_salt_every_time() {
        let peppers = peppers();
        let a = hash_password(&peppers, &P, b"same").unwrap();
        let b = hash_password(&peppers, &P, b"same").unwrap();
        assert_ne!(a, b);
        assert!(verify_password(&peppers, &a, b"same").unwrap());
        assert!(verify_password(&peppers, &b, b"same").unwrap());
    }

    #[test]
    fn an_old_pepper_still_verifies_after_rotation() {
        let old = peppers();
        let phc = hash_password(&old, &P, b"pw").unwrap();
        let rotated = Peppers::new(Pepper::new("k2", &[9; 32]).unwrap())
            .with_previous(old.current().clone())
            .unwrap();
        assert!(verify_password(&rotated, &phc, b"pw").unwrap());
        let rehashed = hash_password(&rotated, &P, b"pw").unwrap();
        assert!(rehashed.contains(",keyid="));
        assert!(!verify_password(&old, &rehashed, b"pw").unwrap_or(false));
    }

    #[test]
    fn corrupt_and_foreign_records_are_errors_not_panics() {
        let peppers = peppers();
        let good = hash_password(&peppers, &P, b"pw").unwrap();
        let argon2i = good.replacen("argon2id", "argon2i", 1);
        let huge = good.replacen("m=8", "m=4194304", 1);
        for bad in [
            "",
            "plain text",
            "$argon2id$",
            argon2i.as_str(),
            huge.as_str(),
            "$2b$12$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234",
        ] {
            assert!(
                matches!(
                    verify_password(&peppers, bad, b"pw"),
                    Err(AuthError::Corrupt { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn over_long_passwords_are_refused_before_hashing() {
        let peppers = peppers();
        let long = vec![b'a'; MAX_PASSWORD_BYTES + 1];
        assert!(hash_password(&peppers, &P, &long).is_err());
        let ok = vec![b'a'; MAX_PASSWORD_BYTES];
        let phc = hash_password(&peppers, &P, &ok).unwrap();
        assert!(verify_password(&peppers, &phc, &ok).unwrap());
        assert!(!verify_password(&peppers, &phc, &long).unwrap());
    }

    #[test]
    fn parameters_are_bounded() {
        HashParams::DEFAULT.validate().unwrap();
        HashParams::INSECURE_TEST.validate().unwrap();
        for bad in [
            HashParams {
                memory_kib: HashParams::MAX_MEMORY_KIB + 1,
                ..HashParams::DEFAULT
            },
            HashParams {
                iterations: 0,
                ..HashParams::DEFAULT
            },
            HashParams {
                iterations: 65,
                ..HashParams::DEFAULT
            },
            HashParams {
                parallelism: 17,
                ..HashParams::DEFAULT
            },
            HashParams {
                memory_kib: 1,
                ..HashParams::DEFAULT
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
