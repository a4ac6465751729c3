//! OpenID Connect (feature `oidc`): a centre brings its own identity provider.
//!
//! The host runs the authorization-code flow with PKCE against the provider (that is
//! the host's and the frontend's job: redirects, the code exchange, the `state`
//! parameter) and hands the **ID token** it received to
//! [`Authenticator::login_with_id_token`](crate::Authenticator::login_with_id_token),
//! with the provider's signing keys ([`OidcKeys`], parsed from the JWKS the host
//! fetched) and the nonce it generated for this login ([`OidcNonce`]). `cai-auth`
//! verifies the token ([`OidcProvider::verify_id_token`]: signature with a pinned
//! algorithm, issuer, audience, times against cai-core's clock port, nonce), maps it to
//! an account of the provider's tenant by its verified e-mail address, links the
//! account to the token's `(iss, sub)` on first use and from then on requires that
//! same identity, applies the account's usual checks, and gives the same session as a
//! password login ([`LoginOutcome`](crate::LoginOutcome)). The ID token never grants
//! roles. Nothing here makes a network request: no HTTP client is built in.
//!
//! `docs/AUTH.md`, section "OpenID Connect", lists every check in order, the errors,
//! the limits and a host-side recipe.

mod keys;
mod login;
mod verify;

use std::fmt;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cai_core::id::TenantId;
use zeroize::Zeroizing;

use crate::error::{AuthError, Result};

pub use keys::{JwksError, MAX_JWKS_BYTES, MAX_JWKS_KEYS, OidcKeys, SkipReason, SkippedKey};
pub use login::OidcLinkRecord;
pub use verify::{OidcError, VerifiedIdToken};

/// The shortest nonce [`OidcProvider::verify_id_token`] accepts as the expected one, in
/// characters: 22 base64url characters carry 128 bits.
pub const MIN_NONCE_LEN: usize = 22;
/// The largest allowed [`OidcProvider::clock_skew`].
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);
/// The largest allowed [`OidcProvider::max_token_age`].
pub const MAX_TOKEN_AGE_LIMIT: Duration = Duration::from_secs(3600);
/// The largest allowed [`OidcProvider::max_token_bytes`].
pub const MAX_TOKEN_BYTES_LIMIT: usize = 64 * 1024;

/// An asymmetric JWS algorithm an ID token may be signed with. There is no `none` and
/// no HMAC (`HS256`…) here, so no configuration can accept them: an HMAC "signature"
/// keyed with a provider's public key (algorithm confusion) is refused by type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OidcAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (the OIDC default; Keycloak's default).
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// RSASSA-PSS with SHA-256.
    Ps256,
    /// RSASSA-PSS with SHA-384.
    Ps384,
    /// RSASSA-PSS with SHA-512.
    Ps512,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// ECDSA on P-384 with SHA-384.
    Es384,
    /// Ed25519.
    EdDsa,
}

impl OidcAlgorithm {
    /// Every algorithm.
    pub const ALL: [OidcAlgorithm; 9] = [
        Self::Rs256,
        Self::Rs384,
        Self::Rs512,
        Self::Ps256,
        Self::Ps384,
        Self::Ps512,
        Self::Es256,
        Self::Es384,
        Self::EdDsa,
    ];

    /// The JOSE name (`RS256`, `ES256`, …).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Rs384 => "RS384",
            Self::Rs512 => "RS512",
            Self::Ps256 => "PS256",
            Self::Ps384 => "PS384",
            Self::Ps512 => "PS512",
            Self::Es256 => "ES256",
            Self::Es384 => "ES384",
            Self::EdDsa => "EdDSA",
        }
    }

    /// The algorithm with this JOSE name; `None` for `none`, HMAC and anything else.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    pub(crate) fn jws(self) -> jsonwebtoken::Algorithm {
        use jsonwebtoken::Algorithm as A;
        match self {
            Self::Rs256 => A::RS256,
            Self::Rs384 => A::RS384,
            Self::Rs512 => A::RS512,
            Self::Ps256 => A::PS256,
            Self::Ps384 => A::PS384,
            Self::Ps512 => A::PS512,
            Self::Es256 => A::ES256,
            Self::Es384 => A::ES384,
            Self::EdDsa => A::EdDSA,
        }
    }
}

/// One tenant's identity provider: what an ID token must say to be accepted, and how
/// its authentication counts. The host builds one per provider a centre uses (from its
/// own configuration) and passes it with every login; the tenant comes from here,
/// never from the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcProvider {
    /// The tenant whose accounts this provider authenticates.
    pub tenant: TenantId,
    /// The issuer identifier, compared byte for byte with `iss` (for Keycloak
    /// `https://HOST/realms/REALM`, as the discovery document's `issuer` says).
    pub issuer: String,
    /// The client id registered at the provider: `aud` must contain it; with several
    /// audiences `azp` must be it (OIDC Core §3.1.3.7).
    pub client_id: String,
    /// The pinned signing algorithms (default `RS256` and `ES256`). A token with any
    /// other `alg` is refused before its key is looked up.
    pub algorithms: Vec<OidcAlgorithm>,
    /// How far the provider's clock may be from ours (default 60 s, at most
    /// [`MAX_CLOCK_SKEW`]); applied to `exp`, `iat`, `nbf` and `auth_time`.
    pub clock_skew: Duration,
    /// The oldest `iat` accepted (default 10 min, at most [`MAX_TOKEN_AGE_LIMIT`]): an
    /// ID token is used once, right after the code exchange.
    pub max_token_age: Duration,
    /// The longest token text accepted, in bytes (default 16 KiB, at most
    /// [`MAX_TOKEN_BYTES_LIMIT`]), checked before anything is decoded.
    pub max_token_bytes: usize,
    /// Whether the e-mail address counts only with `email_verified: true` (default
    /// `true`). With `false`, a token without the claim is accepted too (for a
    /// provider that only issues addresses it verified, such as a centre's own
    /// directory); `email_verified: false` is always refused.
    pub require_email_verified: bool,
    /// Whether the provider's statement of a multi-factor authentication counts as a
    /// second factor (default `false`: every OIDC login is AAL1 by itself). See
    /// [`mfa_amr`](Self::mfa_amr) and [`mfa_acr`](Self::mfa_acr).
    pub trust_idp_mfa: bool,
    /// With `trust_idp_mfa`: an `amr` (RFC 8176) containing one of these makes the
    /// login AAL2 (default `mfa`, `otp`, `hwk`, `swk`).
    pub mfa_amr: Vec<String>,
    /// With `trust_idp_mfa`: an `acr` equal to one of these makes the login AAL2
    /// (default none; for Keycloak's step-up flows e.g. the level of the
    /// two-factor step).
    pub mfa_acr: Vec<String>,
}

impl OidcProvider {
    /// A provider for `tenant` with the defaults above.
    pub fn new(tenant: TenantId, issuer: impl Into<String>, client_id: impl Into<String>) -> Self {
        Self {
            tenant,
            issuer: issuer.into(),
            client_id: client_id.into(),
            algorithms: vec![OidcAlgorithm::Rs256, OidcAlgorithm::Es256],
            clock_skew: Duration::from_secs(60),
            max_token_age: Duration::from_secs(10 * 60),
            max_token_bytes: 16 * 1024,
            require_email_verified: true,
            trust_idp_mfa: false,
            mfa_amr: ["mfa", "otp", "hwk", "swk"]
                .into_iter()
                .map(str::to_owned)
                .collect(),
            mfa_acr: Vec::new(),
        }
    }

    /// Checks every value: a non-empty issuer and client id (at most 1 024 bytes), at
    /// least one algorithm, the skew, age and size within their limits. It also makes
    /// sure `jsonwebtoken` has a crypto provider: it installs the pure-Rust
    /// `rust_crypto` one as the process default unless the host installed one before
    /// (`jsonwebtoken::crypto::CryptoProvider::install_default`), so a host build that
    /// enables both of jsonwebtoken's backends cannot panic on verification.
    pub fn validate(&self) -> Result<()> {
        let text_ok = |s: &str| !s.is_empty() && s.len() <= 1024;
        if !text_ok(&self.issuer) || !text_ok(&self.client_id) {
            return Err(AuthError::Config(
                "OIDC issuer and client id must be 1..=1024 bytes",
            ));
        }
        if self.algorithms.is_empty() {
            return Err(AuthError::Config("OIDC provider needs an algorithm"));
        }
        if self.clock_skew > MAX_CLOCK_SKEW
            || self.max_token_age.is_zero()
            || self.max_token_age > MAX_TOKEN_AGE_LIMIT
        {
            return Err(AuthError::Config(
                "OIDC clock skew <= 5 min and 0 < max token age <= 1 h",
            ));
        }
        if !(1024..=MAX_TOKEN_BYTES_LIMIT).contains(&self.max_token_bytes) {
            return Err(AuthError::Config(
                "OIDC max token bytes must be 1 KiB..=64 KiB",
            ));
        }
        // jsonwebtoken picks its crypto backend from its features; a host build that
        // enables both without installing one would panic inside jsonwebtoken on the
        // first verification. Install the pure-Rust one unless the host installed its
        // own first (then this changes nothing).
        let _already_installed =
            jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
        Ok(())
    }

    /// Whether `token` counts as a second factor under this configuration.
    pub fn second_factor(&self, token: &VerifiedIdToken) -> bool {
        self.trust_idp_mfa
            && (token.amr.iter().any(|m| self.mfa_amr.contains(m))
                || token.acr.as_ref().is_some_and(|a| self.mfa_acr.contains(a)))
    }
}

/// A fresh nonce for one login: 256 bits from the operating system, base64url (43
/// characters). The host sends it in the authorization request (`nonce=`), keeps it
/// with the login's state (server side, or in a `Secure; HttpOnly` cookie) and passes
/// it back to [`login_with_id_token`](crate::Authenticator::login_with_id_token),
/// once. Zeroized on drop; `Debug` is redacted.
pub struct OidcNonce {
    text: Zeroizing<String>,
}

impl OidcNonce {
    /// A fresh nonce.
    pub fn generate() -> Result<Self> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(bytes.as_mut_slice()).map_err(|_| AuthError::Rng)?;
        Ok(Self {
            text: Zeroizing::new(URL_SAFE_NO_PAD.encode(bytes.as_slice())),
        })
    }

    /// The nonce's text.
    pub fn expose(&self) -> &str {
        &self.text
    }
}

impl fmt::Debug for OidcNonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OidcNonce(<redacted>)")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_exclude_none_and_hmac() {
        for a in OidcAlgorithm::ALL {
            assert_eq!(OidcAlgorithm::from_name(a.name()), Some(a));
        }
        for bad in ["none", "None", "HS256", "HS384", "HS512", "rs256", ""] {
            assert_eq!(OidcAlgorithm::from_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn nonces_are_fresh_and_long_enough() {
        let a = OidcNonce::generate().unwrap();
        let b = OidcNonce::generate().unwrap();
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.expose().len(), 43);
        assert!(a.expose().len() >= MIN_NONCE_LEN);
        assert_eq!(format!("{a:?}"), "OidcNonce(<redacted>)");
    }

    #[test]
    fn defaults_are_valid_and_limits_hold() {
        let t = TenantId::random().unwrap();
        let p = OidcProvider::new(t, "https://idp.example/realms/nord", "cai");
        p.validate().unwrap();
        for edge in [
            OidcProvider {
                clock_skew: MAX_CLOCK_SKEW,
                max_token_age: MAX_TOKEN_AGE_LIMIT,
                max_token_bytes: MAX_TOKEN_BYTES_LIMIT,
                ..p.clone()
            },
            OidcProvider {
                clock_skew: Duration::ZERO,
                max_token_age: Duration::from_secs(1),
                max_token_bytes: 1024,
                issuer: "i".repeat(1024),
                client_id: "c".repeat(1024),
                ..p.clone()
            },
        ] {
            edge.validate().unwrap();
        }
        assert_eq!(
            p.algorithms,
            vec![OidcAlgorithm::Rs256, OidcAlgorithm::Es256]
        );
        assert_eq!(p.clock_skew, Duration::from_secs(60));
        for bad in [
            OidcProvider {
                issuer: String::new(),
                ..p.clone()
            },
            OidcProvider {
                client_id: String::new(),
                ..p.clone()
            },
            OidcProvider {
                algorithms: vec![],
                ..p.clone()
            },
            OidcProvider {
                clock_skew: Duration::from_secs(301),
                ..p.clone()
            },
            OidcProvider {
                max_token_age: Duration::ZERO,
                ..p.clone()
            },
            OidcProvider {
                max_token_age: Duration::from_secs(3601),
                ..p.clone()
            },
            OidcProvider {
                max_token_bytes: 1023,
                ..p.clone()
            },
            OidcProvider {
                issuer: "i".repeat(1025),
                ..p.clone()
            },
            OidcProvider {
                client_id: "c".repeat(1025),
                ..p.clone()
            },
            OidcProvider {
                max_token_bytes: MAX_TOKEN_BYTES_LIMIT + 1,
                ..p.clone()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
