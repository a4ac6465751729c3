//! The provider's signing keys: a JWKS (RFC 7517) the host fetched, parsed with limits.

use std::collections::HashMap;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse,
};
use serde::Deserialize;

use super::OidcAlgorithm;

/// The largest JWKS document accepted, in bytes.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;
/// The most keys a JWKS may list (usable or not).
pub const MAX_JWKS_KEYS: usize = 20;
/// The longest `kid` accepted, in bytes.
const MAX_KID_LEN: usize = 256;
/// RSA moduli accepted, in bits.
const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=4096;

/// Why a JWKS was refused as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    /// The document is larger than [`MAX_JWKS_BYTES`].
    #[error("JWKS larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// Not JSON of the shape `{"keys": [ … ]}`.
    #[error("malformed JWKS")]
    Malformed,
    /// More than [`MAX_JWKS_KEYS`] keys.
    #[error("JWKS lists more than {limit} keys")]
    TooManyKeys {
        /// The limit.
        limit: usize,
    },
    /// Two usable keys share a `kid`, so a token's key would be ambiguous.
    #[error("two signing keys share a key id")]
    DuplicateKeyId,
    /// No key is usable for verifying ID tokens.
    #[error("no usable signing key in the JWKS")]
    NoUsableKey,
}

/// Why one key of a JWKS was left out (the others are still used).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkipReason {
    /// It has no `kid`: tokens are matched to keys by `kid` only.
    NoKeyId,
    /// Its `use` or `key_ops` says it is not for verifying signatures (e.g. `enc`).
    NotForSignatures,
    /// A symmetric (`oct`) key: HMAC is never accepted.
    Symmetric,
    /// A key type, curve or `alg` this verifier does not support.
    Unsupported,
    /// An RSA modulus outside 2 048..=4 096 bits, or EC coordinates of the wrong size.
    KeySize,
    /// The key's fields do not parse.
    Malformed,
}

/// A key left out of the set, for the host's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedKey {
    /// Its `kid`, if it had one.
    pub kid: Option<String>,
    /// Why.
    pub reason: SkipReason,
}

struct Key {
    decoding: DecodingKey,
    /// The algorithms it verifies: its `alg` if it names one, else every algorithm of
    /// its type and curve.
    algorithms: Vec<OidcAlgorithm>,
}

/// The signing keys of one provider, by `kid`. Built by the host from the provider's
/// JWKS ([`from_jwks_json`](Self::from_jwks_json)) and replaced when the host fetches
/// it again. Public keys only; share one set behind an `Arc`.
///
/// **Fetching is the host's job** (`cai-auth` has no HTTP client): read the
/// provider's discovery document (`{issuer}/.well-known/openid-configuration`) at
/// start-up, take its `jwks_uri`, fetch that over TLS and parse it here. Fetch it again
/// every 24 hours (or as its `Cache-Control` allows), and once when a login answers
/// [`OidcError::UnknownKey`](super::OidcError::UnknownKey) — the provider rotated its
/// keys — then retry that login once; allow such refetches at most once a minute, and
/// keep the old set when a refetch fails.
pub struct OidcKeys {
    keys: HashMap<String, Key>,
    skipped: Vec<SkippedKey>,
}

#[derive(Deserialize)]
struct Set {
    keys: Vec<serde_json::Value>,
}

impl OidcKeys {
    /// Parses a JWKS document (the body of the provider's `jwks_uri`).
    ///
    /// Refused as a whole ([`JwksError`]): more than [`MAX_JWKS_BYTES`] bytes, not
    /// `{"keys": [...]}`, more than [`MAX_JWKS_KEYS`] keys, two usable keys with one
    /// `kid`, no usable key. Left out one by one ([`skipped`](Self::skipped)): keys
    /// without `kid`, with `use` other than `sig` or `key_ops` without `verify`,
    /// symmetric keys, unsupported types or curves (only RSA, EC P-256/P-384 and
    /// Ed25519), RSA keys outside 2 048..=4 096 bits, an `alg` that does not fit the
    /// key or is not a signature algorithm.
    pub fn from_jwks_json(json: &[u8]) -> Result<Self, JwksError> {
        if json.len() > MAX_JWKS_BYTES {
            return Err(JwksError::TooLarge {
                limit: MAX_JWKS_BYTES,
            });
        }
        let set: Set = serde_json::from_slice(json).map_err(|_| JwksError::Malformed)?;
        if set.keys.len() > MAX_JWKS_KEYS {
            return Err(JwksError::TooManyKeys {
                limit: MAX_JWKS_KEYS,
            });
        }
        let mut keys = HashMap::new();
        let mut skipped = Vec::new();
        for value in set.keys {
            let kid = value
                .get("kid")
                .and_then(serde_json::Value::as_str)
                .filter(|k| k.len() <= MAX_KID_LEN)
                .map(str::to_owned);
            match usable(value) {
                Ok((kid, key)) => {
                    if keys.insert(kid, key).is_some() {
                        return Err(JwksError::DuplicateKeyId);
                    }
                }
                Err(reason) => skipped.push(SkippedKey { kid, reason }),
            }
        }
        if keys.is_empty() {
            return Err(JwksError::NoUsableKey);
        }
        Ok(Self { keys, skipped })
    }

    /// How many usable keys there are.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there is none (never true for a parsed set).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The usable keys' ids, sorted.
    pub fn key_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.keys.keys().map(String::as_str).collect();
        ids.sort_unstable();
        ids
    }

    /// The keys left out, and why.
    pub fn skipped(&self) -> &[SkippedKey] {
        &self.skipped
    }

    /// The key `kid` names, if it may verify `alg`: `Err(true)` for an unknown `kid`,
    /// `Err(false)` for a known key that does not fit `alg`.
    pub(crate) fn key_for(&self, kid: &str, alg: OidcAlgorithm) -> Result<&DecodingKey, bool> {
        let key = self.keys.get(kid).ok_or(true)?;
        if key.algorithms.contains(&alg) {
            Ok(&key.decoding)
        } else {
            Err(false)
        }
    }
}

impl fmt::Debug for OidcKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcKeys")
            .field("key_ids", &self.key_ids())
            .field("skipped", &self.skipped)
            .finish()
    }
}

fn decoded_len(b64: &str) -> Result<usize, SkipReason> {
    let bytes = URL_SAFE_NO_PAD
        .decode(b64)
        .map_err(|_| SkipReason::Malformed)?;
    Ok(bytes.len())
}

fn usable(value: serde_json::Value) -> Result<(String, Key), SkipReason> {
    let jwk: Jwk = serde_json::from_value(value).map_err(|_| SkipReason::Malformed)?;
    let kid = jwk.common.key_id.clone().ok_or(SkipReason::NoKeyId)?;
    if kid.is_empty() || kid.len() > MAX_KID_LEN {
        return Err(SkipReason::Malformed);
    }
    match &jwk.common.public_key_use {
        None | Some(PublicKeyUse::Signature) => {}
        Some(_) => return Err(SkipReason::NotForSignatures),
    }
    if let Some(ops) = &jwk.common.key_operations
        && !ops.contains(&KeyOperations::Verify)
    {
        return Err(SkipReason::NotForSignatures);
    }
    use OidcAlgorithm as A;
    let fitting = match &jwk.algorithm {
        AlgorithmParameters::RSA(p) => {
            let n = URL_SAFE_NO_PAD
                .decode(&p.n)
                .map_err(|_| SkipReason::Malformed)?;
            let bits = n
                .iter()
                .position(|b| *b != 0)
                .and_then(|i| {
                    let top = n.get(i)?;
                    Some((n.len() - i - 1) * 8 + (8 - top.leading_zeros() as usize))
                })
                .unwrap_or(0);
            if !RSA_BITS.contains(&bits) {
                return Err(SkipReason::KeySize);
            }
            decoded_len(&p.e)?;
            vec![A::Rs256, A::Rs384, A::Rs512, A::Ps256, A::Ps384, A::Ps512]
        }
        AlgorithmParameters::EllipticCurve(p) => {
            let (size, alg) = match p.curve {
                EllipticCurve::P256 => (32, A::Es256),
                EllipticCurve::P384 => (48, A::Es384),
                _ => return Err(SkipReason::Unsupported),
            };
            if decoded_len(&p.x)? != size || decoded_len(&p.y)? != size {
                return Err(SkipReason::KeySize);
            }
            vec![alg]
        }
        AlgorithmParameters::OctetKeyPair(p) => {
            if p.curve != EllipticCurve::Ed25519 {
                return Err(SkipReason::Unsupported);
            }
            if decoded_len(&p.x)? != 32 {
                return Err(SkipReason::KeySize);
            }
            vec![A::EdDsa]
        }
        AlgorithmParameters::OctetKey(_) => return Err(SkipReason::Symmetric),
        _ => return Err(SkipReason::Unsupported),
    };
    let algorithms = match jwk.common.key_algorithm {
        None => fitting,
        Some(named) => {
            let alg = key_algorithm(named)
                .filter(|a| fitting.contains(a))
                .ok_or(SkipReason::Unsupported)?;
            vec![alg]
        }
    };
    let decoding = DecodingKey::from_jwk(&jwk).map_err(|_| SkipReason::Malformed)?;
    Ok((
        kid,
        Key {
            decoding,
            algorithms,
        },
    ))
}

fn key_algorithm(named: KeyAlgorithm) -> Option<OidcAlgorithm> {
    use OidcAlgorithm as A;
    Some(match named {
        KeyAlgorithm::RS256 => A::Rs256,
        KeyAlgorithm::RS384 => A::Rs384,
        KeyAlgorithm::RS512 => A::Rs512,
        KeyAlgorithm::PS256 => A::Ps256,
        KeyAlgorithm::PS384 => A::Ps384,
        KeyAlgorithm::PS512 => A::Ps512,
        KeyAlgorithm::ES256 => A::Es256,
        KeyAlgorithm::ES384 => A::Es384,
        KeyAlgorithm::EdDSA => A::EdDsa,
        _ => return None,
    })
}
