//! Passphrase mode (R-E3): the session's data key is derived on the client from a
//! passphrase the session owner chooses, with Argon2id. The key is never stored and never
//! sent; the server keeps only [`PassphraseParams`] (salt, cost parameters, key id and a
//! verifier).
//!
//! **A lost passphrase cannot be recovered.** Nobody — not the counsellor, not the
//! platform operator, not the authors of this library — can derive the key without it,
//! so everything sealed under it is permanently unreadable. Applications must say so
//! plainly when a passphrase is set.
//!
//! Derivation (byte layout in `docs/KEYS.md`):
//!
//! ```text
//! master   = Argon2id v1.3 (password = passphrase, salt, m, t, p, tag length 32)
//! key      = HKDF-SHA256(ikm = master, salt = "", info = "cai passphrase key v1" ‖ key_id ‖ epoch)
//! verifier = HKDF-SHA256(ikm = master, salt = "", info = "cai passphrase verifier v1" ‖ key_id ‖ epoch)
//! ```
//!
//! The verifier lets [`derive()`] answer [`Error::WrongPassphrase`] instead of failing
//! later with an authentication error. It gives whoever holds the stored parameters (the
//! server, or a thief of its database) nothing beyond what one stored ciphertext already
//! gives: a way to test passphrase guesses offline, each guess costing one Argon2id run.
//! Passphrase mode is therefore only as strong as the passphrase; the cost parameters
//! (bounded by [`Argon2Params`]) slow guessing but cannot stop it for weak passphrases.
//!
//! Passphrases are bytes: 1 to [`MAX_PASSPHRASE_LEN`] of them. Clients should encode
//! text as UTF-8 in Unicode normalization form NFC so that the same passphrase typed on
//! different systems gives the same bytes.
//!
//! ```
//! use cai_crypto::passphrase::{self, Argon2Params, PassphraseParams};
//!
//! // Cheapest accepted cost, to keep the example fast; use the default in production.
//! let (key, params) = passphrase::create(b"correct horse battery staple", Argon2Params::MINIMUM)?;
//! let stored = params.to_bytes(); // goes to the server with the session
//!
//! let params = PassphraseParams::parse(&stored)?;
//! let again = passphrase::derive(b"correct horse battery staple", &params)?;
//! assert_eq!(again, key);
//! assert_eq!(
//!     passphrase::derive(b"wrong", &params),
//!     Err(cai_crypto::Error::WrongPassphrase)
//! );
//! # Ok::<(), cai_crypto::Error>(())
//! ```

use core::fmt;

use crate::hierarchy::{ByteReader, ByteWriter};
use crate::kdf::hkdf_sha256;
use crate::keys::{DataKey, KEY_ID_LEN, KeyEpoch, KeyId};
use crate::secret::{SecretBytes, ct_eq_slices, fill_random};
use crate::{Error, Result};

/// `info` prefix of the data key derived from the Argon2id output.
pub const LABEL_PASSPHRASE_KEY: &[u8] = b"cai passphrase key v1";
/// `info` prefix of the verifier derived from the Argon2id output.
pub const LABEL_PASSPHRASE_VERIFIER: &[u8] = b"cai passphrase verifier v1";

/// The four magic bytes that open encoded [`PassphraseParams`].
pub const MAGIC: [u8; 4] = *b"CAIP";
/// The format version this module writes and reads.
pub const VERSION: u8 = 0x01;
/// KDF 0x01: Argon2id version 0x13 (RFC 9106), 32-byte tag, then HKDF-SHA256.
pub const KDF_ARGON2ID_HKDF_SHA256: u8 = 0x01;

/// Longest passphrase accepted, in bytes.
pub const MAX_PASSPHRASE_LEN: usize = 1024;
/// Length of the salt this module generates.
pub const SALT_LEN: usize = 32;
/// Shortest salt accepted when parsing.
pub const MIN_SALT_LEN: usize = 16;
/// Longest salt accepted when parsing.
pub const MAX_SALT_LEN: usize = 32;
/// Length of the verifier.
pub const VERIFIER_LEN: usize = 32;

/// Smallest Argon2 memory accepted, in KiB (19 MiB, the OWASP minimum for Argon2id).
pub const MIN_MEMORY_KIB: u32 = 19 * 1024;
/// Largest Argon2 memory accepted, in KiB (256 MiB).
pub const MAX_MEMORY_KIB: u32 = 256 * 1024;
/// Fewest Argon2 passes accepted.
pub const MIN_ITERATIONS: u32 = 2;
/// Most Argon2 passes accepted.
pub const MAX_ITERATIONS: u32 = 16;
/// Fewest Argon2 lanes accepted.
pub const MIN_PARALLELISM: u32 = 1;
/// Most Argon2 lanes accepted.
pub const MAX_PARALLELISM: u32 = 4;

/// Argon2id cost parameters, always within the bounds above.
///
/// Parameters travel with the data they protect and are read from untrusted storage, so
/// every constructor and every parser checks the bounds: a forged header can neither
/// demand gigabytes of memory nor downgrade the cost to something trivial
/// ([`Error::KdfParamsOutOfBounds`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Argon2Params {
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
}

impl Argon2Params {
    /// The cheapest parameters accepted: 19 MiB, 2 passes, 1 lane. For tests, examples
    /// and very weak devices.
    pub const MINIMUM: Self = Self {
        memory_kib: MIN_MEMORY_KIB,
        iterations: MIN_ITERATIONS,
        parallelism: 1,
    };

    /// The default: 64 MiB, 3 passes, 1 lane (RFC 9106's second recommended option).
    pub const RECOMMENDED: Self = Self {
        memory_kib: 64 * 1024,
        iterations: 3,
        parallelism: 1,
    };

    /// The most a phone should run by default: 64 MiB, 6 passes, 4 lanes — the default
    /// cap of [`backup::Argon2Policy`](crate::backup::Argon2Policy) (within the global
    /// bounds; a unit test checks it).
    pub const PHONE_CAP: Self = Self {
        memory_kib: 64 * 1024,
        iterations: 6,
        parallelism: 4,
    };

    /// Checked parameters: memory in KiB, passes, lanes.
    pub fn new(memory_kib: u32, iterations: u32, parallelism: u32) -> Result<Self> {
        let p = Self {
            memory_kib,
            iterations,
            parallelism,
        };
        p.check().map(|()| p)
    }

    /// Memory in KiB.
    pub const fn memory_kib(&self) -> u32 {
        self.memory_kib
    }

    /// Number of passes.
    pub const fn iterations(&self) -> u32 {
        self.iterations
    }

    /// Number of lanes.
    pub const fn parallelism(&self) -> u32 {
        self.parallelism
    }

    fn check(&self) -> Result<()> {
        let reason = if self.memory_kib < MIN_MEMORY_KIB {
            "memory below 19 MiB"
        } else if self.memory_kib > MAX_MEMORY_KIB {
            "memory above 256 MiB"
        } else if self.iterations < MIN_ITERATIONS {
            "fewer than 2 iterations"
        } else if self.iterations > MAX_ITERATIONS {
            "more than 16 iterations"
        } else if self.parallelism < MIN_PARALLELISM {
            "parallelism below 1"
        } else if self.parallelism > MAX_PARALLELISM {
            "parallelism above 4"
        } else {
            return Ok(());
        };
        Err(Error::KdfParamsOutOfBounds { reason })
    }

    /// Appends `memory_kib ‖ iterations ‖ parallelism`, each u32 big-endian.
    pub(crate) fn encode_into(&self, w: &mut ByteWriter<'_>) {
        w.put(&self.memory_kib.to_be_bytes());
        w.put(&self.iterations.to_be_bytes());
        w.put(&self.parallelism.to_be_bytes());
    }

    /// Reads and bounds-checks what [`encode_into`](Self::encode_into) wrote.
    pub(crate) fn decode(r: &mut ByteReader<'_>) -> Result<Self> {
        let memory_kib = r.u32()?;
        let iterations = r.u32()?;
        let parallelism = r.u32()?;
        Self::new(memory_kib, iterations, parallelism)
    }
}

impl Default for Argon2Params {
    /// [`Argon2Params::RECOMMENDED`].
    fn default() -> Self {
        Self::RECOMMENDED
    }
}

/// Checks a passphrase or password: non-empty, at most [`MAX_PASSPHRASE_LEN`] bytes.
pub(crate) fn check_passphrase(passphrase: &[u8], what: &'static str) -> Result<()> {
    if passphrase.is_empty() {
        return Err(Error::Malformed {
            what,
            reason: "empty",
        });
    }
    if passphrase.len() > MAX_PASSPHRASE_LEN {
        return Err(Error::TooLarge {
            what,
            len: passphrase.len() as u64,
            limit: MAX_PASSPHRASE_LEN as u64,
        });
    }
    Ok(())
}

/// Argon2id v1.3 with a 32-byte tag, no secret and no associated data.
pub(crate) fn argon2id(
    password: &[u8],
    salt: &[u8],
    params: &Argon2Params,
) -> Result<SecretBytes<32>> {
    params.check()?;
    let p = argon2::Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        Some(32),
    )
    .map_err(|_| Error::KdfParamsOutOfBounds {
        reason: "rejected by Argon2",
    })?;
    let ctx = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, p);
    let mut out = [0u8; 32];
    let result = ctx.hash_password_into(password, salt, &mut out);
    let master = SecretBytes::from_bytes(out);
    zeroize::Zeroize::zeroize(&mut out);
    result.map_err(|e| match e {
        argon2::Error::OutOfMemory => Error::LimitExceeded {
            what: "memory for Argon2",
        },
        _ => Error::KdfParamsOutOfBounds {
            reason: "rejected by Argon2",
        },
    })?;
    Ok(master)
}

/// HKDF-SHA256 with an empty salt, 32 bytes out.
pub(crate) fn hkdf32(ikm: &SecretBytes<32>, info: &[&[u8]]) -> Result<SecretBytes<32>> {
    let mut okm = [0u8; 32];
    let result = hkdf_sha256(ikm.expose_secret(), &[], info, &mut okm);
    let out = SecretBytes::from_bytes(okm);
    zeroize::Zeroize::zeroize(&mut okm);
    result.map(|()| out)
}

/// What the server stores for a passphrase-mode session: everything needed to derive
/// the key again except the passphrase. Contains no key material; see the module docs
/// for what the verifier does and does not give away.
#[derive(Clone)]
pub struct PassphraseParams {
    salt: Vec<u8>,
    argon2: Argon2Params,
    key_id: KeyId,
    epoch: KeyEpoch,
    verifier: [u8; VERIFIER_LEN],
}

impl PassphraseParams {
    /// Parses encoded parameters strictly: magic, version, KDF id, Argon2 bounds, salt
    /// length 16 to 32, exact total length.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        const WHAT: &str = "passphrase params";
        let mut r = ByteReader::new(WHAT, bytes);
        r.magic(MAGIC)?;
        r.version(VERSION)?;
        r.suite(KDF_ARGON2ID_HKDF_SHA256)?;
        let argon2 = Argon2Params::decode(&mut r)?;
        let salt_len = usize::from(r.u8()?);
        if !(MIN_SALT_LEN..=MAX_SALT_LEN).contains(&salt_len) {
            return Err(Error::Malformed {
                what: WHAT,
                reason: "salt length not in 16..=32",
            });
        }
        let salt = r.slice(salt_len)?.to_vec();
        let parsed = Self {
            salt,
            argon2,
            key_id: KeyId::from_bytes(r.take()?),
            epoch: KeyEpoch(r.u32()?),
            verifier: r.take()?,
        };
        r.finish()?;
        Ok(parsed)
    }

    /// The encoding [`parse`](Self::parse) reads.
    pub fn to_bytes(&self) -> Vec<u8> {
        let len = 4 + 1 + 1 + 12 + 1 + self.salt.len() + KEY_ID_LEN + 4 + VERIFIER_LEN;
        let mut out = vec![0u8; len];
        let mut w = ByteWriter::new(&mut out);
        w.put(&MAGIC);
        w.put(&[VERSION, KDF_ARGON2ID_HKDF_SHA256]);
        self.argon2.encode_into(&mut w);
        // The salt is 16..=32 bytes by construction.
        w.put(&[u8::try_from(self.salt.len()).unwrap_or(u8::MAX)]);
        w.put(&self.salt);
        w.put(self.key_id.as_bytes());
        w.put(&self.epoch.0.to_be_bytes());
        w.put(&self.verifier);
        out
    }

    /// The Argon2id salt.
    pub fn salt(&self) -> &[u8] {
        &self.salt
    }

    /// The Argon2id cost parameters.
    pub fn argon2_params(&self) -> Argon2Params {
        self.argon2
    }

    /// Id of the derived data key.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// Epoch of the derived data key.
    pub fn epoch(&self) -> KeyEpoch {
        self.epoch
    }
}

impl PartialEq for PassphraseParams {
    /// Compares the verifier in constant time.
    fn eq(&self, other: &Self) -> bool {
        let public = self.salt == other.salt
            && self.argon2 == other.argon2
            && self.key_id == other.key_id
            && self.epoch == other.epoch;
        ct_eq_slices(&self.verifier, &other.verifier) & public
    }
}

impl Eq for PassphraseParams {}

impl fmt::Debug for PassphraseParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PassphraseParams")
            .field("argon2", &self.argon2)
            .field("salt_len", &self.salt.len())
            .field("key_id", &self.key_id)
            .field("epoch", &self.epoch.0)
            .finish_non_exhaustive()
    }
}

/// Derives `(key, verifier)` for stored parameters.
fn derive_parts(
    passphrase: &[u8],
    salt: &[u8],
    argon2: &Argon2Params,
    key_id: KeyId,
    epoch: KeyEpoch,
) -> Result<(SecretBytes<32>, SecretBytes<32>)> {
    check_passphrase(passphrase, "passphrase")?;
    let master = argon2id(passphrase, salt, argon2)?;
    let epoch_be = epoch.0.to_be_bytes();
    let key = hkdf32(
        &master,
        &[LABEL_PASSPHRASE_KEY, key_id.as_bytes(), &epoch_be],
    )?;
    let verifier = hkdf32(
        &master,
        &[LABEL_PASSPHRASE_VERIFIER, key_id.as_bytes(), &epoch_be],
    )?;
    Ok((key, verifier))
}

/// Sets up passphrase mode for a new session at [`KeyEpoch::INITIAL`]: draws a salt and a
/// key id, derives the data key, and returns it with the parameters to store.
///
/// **If the passphrase is lost, content sealed under the returned key is unrecoverable.**
pub fn create(passphrase: &[u8], params: Argon2Params) -> Result<(DataKey, PassphraseParams)> {
    create_with_epoch(passphrase, params, KeyEpoch::INITIAL)
}

/// [`create`] for a given epoch (for instance when the owner changes the passphrase:
/// new content goes under a new key, old content still needs the old passphrase).
pub fn create_with_epoch(
    passphrase: &[u8],
    params: Argon2Params,
    epoch: KeyEpoch,
) -> Result<(DataKey, PassphraseParams)> {
    check_passphrase(passphrase, "passphrase")?;
    params.check()?;
    let mut salt = vec![0u8; SALT_LEN];
    fill_random(&mut salt)?;
    let key_id = KeyId::random()?;
    let (key, verifier) = derive_parts(passphrase, &salt, &params, key_id, epoch)?;
    let stored = PassphraseParams {
        salt,
        argon2: params,
        key_id,
        epoch,
        verifier: *verifier.expose_secret(),
    };
    Ok((DataKey::from_parts(key_id, epoch, key), stored))
}

/// Derives the session's data key from the passphrase on the client.
///
/// Fails with [`Error::WrongPassphrase`] when the verifier does not match (compared in
/// constant time) — a mistyped passphrase, or stored parameters that were altered.
/// **There is no other way to obtain the key: a lost passphrase cannot be recovered.**
pub fn derive(passphrase: &[u8], stored: &PassphraseParams) -> Result<DataKey> {
    let (key, verifier) = derive_parts(
        passphrase,
        &stored.salt,
        &stored.argon2,
        stored.key_id,
        stored.epoch,
    )?;
    if !ct_eq_slices(verifier.expose_secret(), &stored.verifier) {
        return Err(Error::WrongPassphrase);
    }
    Ok(DataKey::from_parts(stored.key_id, stored.epoch, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_enforced() {
        assert!(Argon2Params::new(MIN_MEMORY_KIB, 2, 1).is_ok());
        assert!(Argon2Params::new(MAX_MEMORY_KIB, 16, 4).is_ok());
        for (m, t, p) in [
            (MIN_MEMORY_KIB - 1, 2, 1),
            (MAX_MEMORY_KIB + 1, 2, 1),
            (MIN_MEMORY_KIB, 1, 1),
            (MIN_MEMORY_KIB, 17, 1),
            (MIN_MEMORY_KIB, 2, 0),
            (MIN_MEMORY_KIB, 2, 5),
        ] {
            assert!(matches!(
                Argon2Params::new(m, t, p),
                Err(Error::KdfParamsOutOfBounds { .. })
            ));
        }
        assert_eq!(
            Argon2Params::default(),
            Argon2Params::new(65536, 3, 1).unwrap()
        );
    }

    #[test]
    fn passphrase_limits() {
        assert!(matches!(
            check_passphrase(b"", "passphrase"),
            Err(Error::Malformed { .. })
        ));
        assert!(check_passphrase(&[b'a'; MAX_PASSPHRASE_LEN], "passphrase").is_ok());
        assert!(matches!(
            check_passphrase(&[b'a'; MAX_PASSPHRASE_LEN + 1], "passphrase"),
            Err(Error::TooLarge { .. })
        ));
    }
}
