//! Verifying an ID token (OIDC Core §3.1.3.7) against a provider's configuration, its
//! keys, the nonce of this login and cai-core's clock.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cai_core::Timestamp;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Validation, decode};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::{MIN_NONCE_LEN, OidcAlgorithm, OidcKeys, OidcProvider};

/// Why an ID token was not accepted. Says which check failed, never what the token
/// contains (no claim values, no token text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OidcError {
    /// The expected nonce the host passed is shorter than
    /// [`MIN_NONCE_LEN`](super::MIN_NONCE_LEN) (a host mistake).
    #[error("expected nonce too short")]
    WeakNonce,
    /// The token text is longer than the provider's `max_token_bytes`.
    #[error("ID token larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// Not a compact JWS, or its header or claims do not parse.
    #[error("malformed ID token")]
    Malformed,
    /// `alg` is not one of the provider's pinned algorithms (`none` and HMAC never
    /// are), or does not fit the key `kid` names.
    #[error("signing algorithm not allowed")]
    AlgorithmNotAllowed,
    /// The header has no `kid`.
    #[error("ID token names no key id")]
    MissingKeyId,
    /// No key of the JWKS has the token's `kid`: the host should fetch the JWKS again
    /// (the provider may have rotated its keys) and retry once.
    #[error("unknown signing key")]
    UnknownKey,
    /// The signature does not verify with the key `kid` names.
    #[error("signature not valid")]
    BadSignature,
    /// `iss` is not the provider's issuer.
    #[error("wrong issuer")]
    WrongIssuer,
    /// `aud` does not contain the client id.
    #[error("wrong audience")]
    WrongAudience,
    /// Several audiences and no `azp`, or an `azp` that is not the client id.
    #[error("authorized party is not this client")]
    WrongAuthorizedParty,
    /// A required claim is missing: `iss`, `aud`, `exp`, `iat`, `nonce`, `sub`, and for
    /// a login `email`.
    #[error("required claim missing: {0}")]
    MissingClaim(&'static str),
    /// A claim has the wrong type or an impossible value.
    #[error("claim not valid: {0}")]
    InvalidClaim(&'static str),
    /// Now is at or past `exp` + skew.
    #[error("ID token expired")]
    Expired,
    /// `iat` is later than now + skew.
    #[error("ID token issued in the future")]
    IssuedInFuture,
    /// Now is at or past `iat` + `max_token_age` + skew.
    #[error("ID token too old")]
    TooOld,
    /// `nbf` is later than now + skew.
    #[error("ID token not yet valid")]
    NotYetValid,
    /// `nonce` is not the one of this login.
    #[error("nonce does not match")]
    NonceMismatch,
    /// The e-mail address is not verified by the provider (`email_verified` false, or
    /// missing where the provider's configuration requires it).
    #[error("e-mail address not verified by the provider")]
    EmailNotVerified,
}

impl OidcError {
    /// A stable name, for logs and the audit trail (`unknown_key`, `expired`, …).
    pub const fn code(&self) -> &'static str {
        match self {
            Self::WeakNonce => "weak_nonce",
            Self::TooLarge { .. } => "too_large",
            Self::Malformed => "malformed",
            Self::AlgorithmNotAllowed => "algorithm_not_allowed",
            Self::MissingKeyId => "missing_key_id",
            Self::UnknownKey => "unknown_key",
            Self::BadSignature => "bad_signature",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
            Self::WrongAuthorizedParty => "wrong_authorized_party",
            Self::MissingClaim(_) => "missing_claim",
            Self::InvalidClaim(_) => "invalid_claim",
            Self::Expired => "expired",
            Self::IssuedInFuture => "issued_in_future",
            Self::TooOld => "too_old",
            Self::NotYetValid => "not_yet_valid",
            Self::NonceMismatch => "nonce_mismatch",
            Self::EmailNotVerified => "email_not_verified",
        }
    }
}

/// What a verified ID token says, as far as `cai-auth` uses it. Holds no token text.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedIdToken {
    /// `iss`, equal to the provider's issuer.
    pub issuer: String,
    /// `sub`: the provider's stable identifier of the person.
    pub subject: String,
    /// `email`, as the provider sent it.
    pub email: Option<String>,
    /// `email_verified` (a boolean, or the strings `"true"`/`"false"` some providers
    /// send).
    pub email_verified: Option<bool>,
    /// `amr`: how the person authenticated (RFC 8176), empty if absent.
    pub amr: Vec<String>,
    /// `acr`: the authentication context class, if sent.
    pub acr: Option<String>,
    /// `iat`.
    pub issued_at: Timestamp,
    /// `exp`.
    pub expires_at: Timestamp,
    /// `auth_time`: when the person last authenticated at the provider, if sent.
    pub auth_time: Option<Timestamp>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Flag {
    Bool(bool),
    Text(String),
}

#[derive(Deserialize)]
struct Claims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<Audience>,
    azp: Option<String>,
    exp: Option<serde_json::Number>,
    iat: Option<serde_json::Number>,
    nbf: Option<serde_json::Number>,
    auth_time: Option<serde_json::Number>,
    nonce: Option<String>,
    email: Option<String>,
    email_verified: Option<Flag>,
    amr: Option<Vec<String>>,
    acr: Option<String>,
}

/// Seconds since the epoch up to the end of year 9999, as JSON numbers may carry them
/// (integers, or fractions, which are cut down to the second).
fn seconds(n: &serde_json::Number, claim: &'static str) -> Result<i64, OidcError> {
    const MAX: i64 = 253_402_300_799;
    // `as` saturates: a fraction out of range stays out of range.
    let s = match (n.as_i64(), n.as_f64()) {
        (Some(i), _) => i,
        (None, Some(f)) => f.floor() as i64,
        _ => return Err(OidcError::InvalidClaim(claim)),
    };
    if (0..=MAX).contains(&s) {
        Ok(s)
    } else {
        Err(OidcError::InvalidClaim(claim))
    }
}

fn required_time(n: Option<&serde_json::Number>, claim: &'static str) -> Result<i64, OidcError> {
    seconds(n.ok_or(OidcError::MissingClaim(claim))?, claim).map(|s| s * 1000)
}

fn optional_time(
    n: Option<&serde_json::Number>,
    claim: &'static str,
) -> Result<Option<i64>, OidcError> {
    n.map(|n| seconds(n, claim).map(|s| s * 1000)).transpose()
}

fn millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl OidcProvider {
    /// Verifies an ID token, in this order (the first failure is the answer). Call it
    /// with a provider that passed [`validate`](Self::validate) (as
    /// [`login_with_id_token`](crate::Authenticator::login_with_id_token) does).
    ///
    /// 1. `expected_nonce` has at least [`MIN_NONCE_LEN`] characters, else
    ///    [`OidcError::WeakNonce`];
    /// 2. the token has at most `max_token_bytes` bytes, else `TooLarge`;
    /// 3. three base64url parts with a JSON header, else `Malformed`;
    /// 4. the header's `alg` is one of the pinned `algorithms`, else
    ///    `AlgorithmNotAllowed` (`none` and HMAC are never);
    /// 5. the header has a `kid` (`MissingKeyId`) that names a key of `keys`
    ///    (`UnknownKey`: fetch the JWKS again and retry once) fit for `alg`
    ///    (`AlgorithmNotAllowed`);
    /// 6. the signature verifies with that key (`jsonwebtoken`), else `BadSignature`;
    ///    claims that do not parse are `Malformed`;
    /// 7. `iss` is the issuer, exactly (`MissingClaim`, `WrongIssuer`);
    /// 8. `aud` contains the client id (`MissingClaim`, `WrongAudience`); with several
    ///    audiences `azp` must be present, and any `azp` must be the client id
    ///    (`WrongAuthorizedParty`);
    /// 9. `exp` is present and now < `exp` + skew (`Expired`);
    /// 10. `iat` is present, not after now + skew (`IssuedInFuture`), and now <
    ///     `iat` + `max_token_age` + skew (`TooOld`);
    /// 11. `nbf`, if present, is not after now + skew (`NotYetValid`);
    /// 12. `nonce` is present and equal to `expected_nonce`, compared in constant time
    ///     (`MissingClaim`, `NonceMismatch`);
    /// 13. `sub` is present, 1..=255 bytes (`MissingClaim`, `InvalidClaim`);
    /// 14. `auth_time`, if present, is not after now + skew (`InvalidClaim`).
    ///
    /// Times are whole seconds in the token and compared with `now` in milliseconds;
    /// `now` is cai-core's clock port (the [`Authenticator`](crate::Authenticator)
    /// passes its own). Header fields that point elsewhere for keys (`jku`, `x5u`,
    /// `jwk`, `x5c`) are ignored: keys come from `keys` only.
    pub fn verify_id_token(
        &self,
        keys: &OidcKeys,
        token: &str,
        expected_nonce: &str,
        now: Timestamp,
    ) -> Result<VerifiedIdToken, OidcError> {
        if expected_nonce.len() < MIN_NONCE_LEN {
            return Err(OidcError::WeakNonce);
        }
        if token.len() > self.max_token_bytes {
            return Err(OidcError::TooLarge {
                limit: self.max_token_bytes,
            });
        }
        let mut parts = token.split('.');
        let (Some(header), Some(_), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(OidcError::Malformed);
        };
        let header = URL_SAFE_NO_PAD
            .decode(header)
            .map_err(|_| OidcError::Malformed)?;
        let header: Header = serde_json::from_slice(&header).map_err(|_| OidcError::Malformed)?;
        let alg = OidcAlgorithm::from_name(&header.alg)
            .filter(|a| self.algorithms.contains(a))
            .ok_or(OidcError::AlgorithmNotAllowed)?;
        let kid = header.kid.ok_or(OidcError::MissingKeyId)?;
        let key = keys.key_for(&kid, alg).map_err(|unknown| {
            if unknown {
                OidcError::UnknownKey
            } else {
                OidcError::AlgorithmNotAllowed
            }
        })?;

        // Signature only: every claim is checked below, against our clock.
        let mut validation = Validation::new(alg.jws());
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let claims = decode::<Claims>(token, key, &validation)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature
                | ErrorKind::InvalidRsaKey(_)
                | ErrorKind::InvalidEcdsaKey
                | ErrorKind::InvalidEddsaKey
                | ErrorKind::InvalidKeyFormat
                | ErrorKind::Provider(_) => OidcError::BadSignature,
                ErrorKind::InvalidAlgorithm
                | ErrorKind::InvalidAlgorithmName
                | ErrorKind::UnsupportedAlgorithm
                | ErrorKind::MissingAlgorithm => OidcError::AlgorithmNotAllowed,
                _ => OidcError::Malformed,
            })?
            .claims;
        self.check_claims(claims, expected_nonce, now)
    }

    fn check_claims(
        &self,
        c: Claims,
        expected_nonce: &str,
        now: Timestamp,
    ) -> Result<VerifiedIdToken, OidcError> {
        let issuer = c.iss.ok_or(OidcError::MissingClaim("iss"))?;
        if issuer != self.issuer {
            return Err(OidcError::WrongIssuer);
        }
        let audiences = match c.aud.ok_or(OidcError::MissingClaim("aud"))? {
            Audience::One(a) => vec![a],
            Audience::Many(list) => list,
        };
        if !audiences.contains(&self.client_id) {
            return Err(OidcError::WrongAudience);
        }
        match &c.azp {
            Some(azp) if *azp != self.client_id => return Err(OidcError::WrongAuthorizedParty),
            None if audiences.len() > 1 => return Err(OidcError::WrongAuthorizedParty),
            _ => {}
        }
        let (now, skew) = (now.unix_millis(), millis(self.clock_skew));
        let exp = required_time(c.exp.as_ref(), "exp")?;
        if now >= exp.saturating_add(skew) {
            return Err(OidcError::Expired);
        }
        let iat = required_time(c.iat.as_ref(), "iat")?;
        if iat > now.saturating_add(skew) {
            return Err(OidcError::IssuedInFuture);
        }
        if now
            >= iat
                .saturating_add(millis(self.max_token_age))
                .saturating_add(skew)
        {
            return Err(OidcError::TooOld);
        }
        if optional_time(c.nbf.as_ref(), "nbf")?.is_some_and(|nbf| nbf > now.saturating_add(skew)) {
            return Err(OidcError::NotYetValid);
        }
        let nonce = c.nonce.ok_or(OidcError::MissingClaim("nonce"))?;
        if !bool::from(nonce.as_bytes().ct_eq(expected_nonce.as_bytes())) {
            return Err(OidcError::NonceMismatch);
        }
        let subject = c.sub.ok_or(OidcError::MissingClaim("sub"))?;
        if subject.is_empty() || subject.len() > 255 {
            return Err(OidcError::InvalidClaim("sub"));
        }
        let auth_time = optional_time(c.auth_time.as_ref(), "auth_time")?;
        if auth_time.is_some_and(|t| t > now.saturating_add(skew)) {
            return Err(OidcError::InvalidClaim("auth_time"));
        }
        let email_verified = match c.email_verified {
            None => None,
            Some(Flag::Bool(b)) => Some(b),
            Some(Flag::Text(t)) => match t.as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => return Err(OidcError::InvalidClaim("email_verified")),
            },
        };
        Ok(VerifiedIdToken {
            issuer,
            subject,
            email: c.email,
            email_verified,
            amr: c.amr.unwrap_or_default(),
            acr: c.acr,
            issued_at: Timestamp::from_unix_millis(iat),
            expires_at: Timestamp::from_unix_millis(exp),
            auth_time: auth_time.map(Timestamp::from_unix_millis),
        })
    }
}
