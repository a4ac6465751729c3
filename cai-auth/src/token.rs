//! Opaque bearer tokens (R-A7, R-A8): 256 bits from the operating system's random
//! generator, handed to the client once and stored only as a SHA-256 hash.
//!
//! The text form is `<prefix><tenant id><account id><secret>`, all lowercase hex
//! (`cs1_` sessions, `cp1_` password-change tickets, `cf1_` second-factor tickets, `ce1_` enrolment tickets): the ids route the lookup to the
//! tenant's store and the account's record — they are names, not secrets — and the
//! hash covers the whole text, so a ticket never passes as a session even with the
//! same secret. Tokens belong in an `Authorization: Bearer` header or a `Secure;
//! HttpOnly` cookie, never in a URL (R-A8).

use std::fmt;

use cai_core::id::{AccountId, ID_LEN, TenantId};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::{AuthError, Result};
use crate::records::TokenPurpose;

const SECRET_LEN: usize = 32;
const PREFIX_LEN: usize = 4;
/// Length of every token's text.
pub const TOKEN_LEN: usize = PREFIX_LEN + 2 * (2 * ID_LEN + SECRET_LEN);

fn prefix(purpose: TokenPurpose) -> &'static str {
    match purpose {
        TokenPurpose::Session => "cs1_",
        TokenPurpose::PasswordChange => "cp1_",
        TokenPurpose::SecondFactor => "cf1_",
        TokenPurpose::Enrolment => "ce1_",
    }
}

/// A token as issued: give [`expose`](Self::expose) to the client once; it is not
/// kept anywhere. Zeroized on drop; `Debug` is redacted; there is no `Display`.
pub struct Token {
    text: Zeroizing<String>,
}

impl Token {
    /// A fresh token of `purpose` for `account` of `tenant`.
    pub(crate) fn generate(
        purpose: TokenPurpose,
        tenant: TenantId,
        account: AccountId,
    ) -> Result<Self> {
        let mut secret = Zeroizing::new([0u8; SECRET_LEN]);
        getrandom::fill(secret.as_mut_slice()).map_err(|_| AuthError::Rng)?;
        let mut text = Zeroizing::new(String::with_capacity(TOKEN_LEN));
        text.push_str(prefix(purpose));
        text.push_str(&hex::encode(tenant.as_bytes()));
        text.push_str(&hex::encode(account.as_bytes()));
        text.push_str(&Zeroizing::new(hex::encode(secret.as_slice())));
        Ok(Self { text })
    }

    /// The token's text, for the client.
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// Takes the text a client presented (for example the bearer header).
    pub fn from_presented(text: &str) -> Self {
        Self {
            text: Zeroizing::new(text.to_owned()),
        }
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// A presented token that has the right shape: where to look, and its hash.
#[derive(Clone, Copy)]
pub(crate) struct Presented {
    pub(crate) tenant: TenantId,
    pub(crate) account: AccountId,
    pub(crate) hash: [u8; 32],
}

impl Presented {
    /// Parses `text` as a token of `purpose`. Every malformed input is
    /// [`AuthError::InvalidToken`]; nothing here panics or allocates beyond the bound.
    pub(crate) fn parse(text: &str, purpose: TokenPurpose) -> Result<Self> {
        let bytes = text.as_bytes();
        if bytes.len() != TOKEN_LEN
            || !text.starts_with(prefix(purpose))
            || !bytes
                .iter()
                .skip(PREFIX_LEN)
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(AuthError::InvalidToken);
        }
        let id = |from: usize| -> Result<[u8; ID_LEN]> {
            let hex_text = text
                .get(from..from + 2 * ID_LEN)
                .ok_or(AuthError::InvalidToken)?;
            let mut out = [0u8; ID_LEN];
            hex::decode_to_slice(hex_text, &mut out).map_err(|_| AuthError::InvalidToken)?;
            Ok(out)
        };
        Ok(Self {
            tenant: TenantId::from_bytes(id(PREFIX_LEN)?),
            account: AccountId::from_bytes(id(PREFIX_LEN + 2 * ID_LEN)?),
            hash: hash_token(text),
        })
    }

    /// Whether a stored hex hash is this token's, compared in constant time.
    pub(crate) fn matches(&self, stored_hex: &str) -> bool {
        let mut stored = [0u8; 32];
        if hex::decode_to_slice(stored_hex, &mut stored).is_err() {
            return false;
        }
        bool::from(stored.ct_eq(&self.hash))
    }
}

/// SHA-256 of a token's text.
pub(crate) fn hash_token(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn ids() -> (TenantId, AccountId) {
        (TenantId::random().unwrap(), AccountId::random().unwrap())
    }

    #[test]
    fn a_token_routes_to_its_account_and_matches_only_its_hash() {
        let (tenant, account) = ids();
        let t = Token::generate(TokenPurpose::Session, tenant, account).unwrap();
        assert_eq!(t.expose().len(), TOKEN_LEN);
        let p = Presented::parse(t.expose(), TokenPurpose::Session).unwrap();
        assert_eq!((p.tenant, p.account), (tenant, account));
        assert!(p.matches(&hex::encode(hash_token(t.expose()))));
        let other = Token::generate(TokenPurpose::Session, tenant, account).unwrap();
        assert!(!p.matches(&hex::encode(hash_token(other.expose()))));
        assert!(!p.matches("not hex"));
        assert!(!p.matches(""));
    }

    #[test]
    fn tokens_carry_256_fresh_bits() {
        let (tenant, account) = ids();
        let a = Token::generate(TokenPurpose::Session, tenant, account).unwrap();
        let b = Token::generate(TokenPurpose::Session, tenant, account).unwrap();
        let secret = |t: &Token| t.expose()[TOKEN_LEN - 64..].to_owned();
        assert_ne!(secret(&a), secret(&b));
        assert_eq!(secret(&a).len() * 4, 256);
    }

    #[test]
    fn a_ticket_is_not_a_session_token_and_vice_versa() {
        let (tenant, account) = ids();
        let ticket = Token::generate(TokenPurpose::PasswordChange, tenant, account).unwrap();
        assert!(matches!(
            Presented::parse(ticket.expose(), TokenPurpose::Session),
            Err(AuthError::InvalidToken)
        ));
        assert!(Presented::parse(ticket.expose(), TokenPurpose::PasswordChange).is_ok());
        // Same secret under the other prefix hashes differently.
        let forged = ticket.expose().replacen("cp1_", "cs1_", 1);
        let p = Presented::parse(&forged, TokenPurpose::Session).unwrap();
        assert!(!p.matches(&hex::encode(hash_token(ticket.expose()))));
    }

    #[test]
    fn malformed_tokens_are_invalid_not_panics() {
        let (tenant, account) = ids();
        let good = Token::generate(TokenPurpose::Session, tenant, account).unwrap();
        let upper = good.expose().to_uppercase();
        let short = &good.expose()[..TOKEN_LEN - 1];
        let long = format!("{}0", good.expose());
        let mut multibyte = good.expose()[..TOKEN_LEN - 2].to_owned();
        multibyte.push('é');
        for bad in [
            "",
            "cs1_",
            upper.as_str(),
            short,
            long.as_str(),
            multibyte.as_str(),
        ] {
            assert!(
                matches!(
                    Presented::parse(bad, TokenPurpose::Session),
                    Err(AuthError::InvalidToken)
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn debug_never_shows_the_token() {
        let (tenant, account) = ids();
        let t = Token::generate(TokenPurpose::Session, tenant, account).unwrap();
        let shown = format!("{t:?}");
        assert_eq!(shown, "Token(<redacted>)");
        assert!(!shown.contains(&t.expose()[TOKEN_LEN - 64..]));
    }
}
