//! Guests' session tokens (R-A7, R-S2): a guest link admits a guest to one ad-hoc
//! session ([`Authenticator::admit_guest`], over cai-core's `join_as_guest`), and the
//! token it returns goes through [`Authenticator::authenticate`] like any session
//! token, giving the guest's `Caller`.
//!
//! Guests have no account, so there is no credential record to keep a token's hash
//! in. A guest token is therefore **self-authenticating**: its text carries the
//! tenant, guest and session ids and the issue and expiry times, with an HMAC-SHA-256
//! over all of it under a key derived by HKDF-SHA-256 from the host's pepper:
//!
//! ```text
//! cg1_ <tenant 16 B> <guest 16 B> <session 16 B> <issued ms, i64 BE> <expires ms, i64 BE> <MAC 32 B>
//!      └───────────────── lowercase hex, 196 characters in all ([`GUEST_TOKEN_LEN`]) ─────────────────┘
//! MAC = HMAC-SHA-256(K, "cg1_" ‖ the 64 payload bytes)
//! K   = HKDF-SHA-256(ikm = pepper, salt = "cai-auth guest token", info = "cai-auth guest token v1 hmac-sha-256")
//! ```
//!
//! The MAC (256 bits) is compared in constant time against the key of every pepper in
//! [`Peppers`](crate::Peppers), so tokens survive a pepper rotation while the old
//! pepper is kept as a previous one, and all end when it is dropped.
//!
//! A token is good while **all** of these hold, checked on every `authenticate`: the MAC
//! matches; now is before its expiry (`min(admitted + AuthConfig::guest_session_absolute,
//! the guest's own end)`) and before `admitted + guest_session_absolute` as configured
//! now (so shortening the setting shortens tokens already out); the guest still exists,
//! belongs to that session and has not reached its end (the tenant's
//! `guest_deactivate_after`); and the guest is still a participant of the session
//! (`SessionStore::participants`). Removing the guest from the session therefore ends
//! its access at its next request. Every failure is [`AuthError::InvalidToken`].
//!
//! **No idle timeout**: nothing is written per request (there is no record to write
//! to), so a guest token is valid until its absolute end however long it lies unused.
//! A host that wants one keeps it itself. **No single revocation**: `revoke` refuses a
//! guest token; a guest is ended by removing it from the session
//! (`Counselling::remove_participant`), by the guest's end, or by dropping the pepper.
//!
//! **Wrong guest links** are counted per client address across all invitations of the
//! tenant (`AttemptScope::Invitation(ALL_INVITATIONS)` + the address;
//! `AuthConfig::guest_link_per_source`): a blocked address gets
//! [`AuthError::TooManyRequests`] before cai-core looks at the secret, and the first
//! block raises a `RepeatedWrongSecret` incident. cai-core's `join_as_guest` counts
//! nothing itself. Without a client address in the `RequestMeta` nothing is counted (a
//! guest link's 256-bit secret is not guessable; the counter limits probing and load).

use cai_core::authz::Authentication;
use cai_core::domain::{AuditActor, AuditObject, Guest, InvitationSecret, Pseudonym, RequestMeta};
use cai_core::id::{GuestId, ID_LEN, InvitationId, SessionId, SubjectId, TenantId};
use cai_core::ports::{AttemptKey, AttemptScope, AttemptSource, Reserved};
use cai_core::throttle::ThrottlePolicy;
use cai_core::{Caller, Timestamp};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::{Choice, ConstantTimeEq};
use zeroize::Zeroizing;

use crate::audit::AuthTx;
use crate::authenticator::Authenticator;
use crate::error::{AuthError, Result};
use crate::pepper::{Pepper, Peppers};
use crate::token::Token;

/// The prefix of every guest token.
pub(crate) const GUEST_PREFIX: &str = "cg1_";
const PAYLOAD_LEN: usize = 3 * ID_LEN + 16;
const MAC_LEN: usize = 32;
/// Length of a guest token's text.
pub const GUEST_TOKEN_LEN: usize = GUEST_PREFIX.len() + 2 * (PAYLOAD_LEN + MAC_LEN);

/// Wrong guest-link secrets from one client address are counted under this invitation
/// id, which no real invitation has (it is not a UUIDv7).
pub const ALL_INVITATIONS: InvitationId = InvitationId::from_bytes([0; ID_LEN]);

const KEY_SALT: &[u8] = b"cai-auth guest token";
const KEY_INFO: &[u8] = b"cai-auth guest token v1 hmac-sha-256";

/// A guest admitted through a guest link: the token for its client (once), the
/// `Caller` it stands for, and the guest.
#[derive(Debug)]
pub struct AdmittedGuest {
    /// The bearer token, for the guest's client. It is not kept anywhere.
    pub token: Token,
    /// The guest's `Caller` (what `authenticate` gives for the token).
    pub caller: Caller,
    /// The guest as stored (its session, pseudonym, end).
    pub guest: Guest,
    /// The token's absolute end.
    pub expires_at: Timestamp,
}

/// What a guest token says.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Claims {
    tenant: TenantId,
    guest: GuestId,
    session: SessionId,
    issued_at: Timestamp,
    expires_at: Timestamp,
}

fn key(pepper: &Pepper) -> Result<Zeroizing<[u8; 32]>> {
    let mut key = Zeroizing::new([0u8; 32]);
    cai_crypto::kdf::hkdf_sha256(pepper.secret(), KEY_SALT, &[KEY_INFO], key.as_mut_slice())
        .map_err(|_| AuthError::Config("guest token key"))?;
    Ok(key)
}

fn mac(pepper: &Pepper, payload: &[u8; PAYLOAD_LEN]) -> Result<[u8; MAC_LEN]> {
    let key = key(pepper)?;
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_slice())
        .map_err(|_| AuthError::Config("guest token key"))?;
    mac.update(GUEST_PREFIX.as_bytes());
    mac.update(payload);
    Ok(mac.finalize().into_bytes().into())
}

impl Claims {
    fn payload(&self) -> [u8; PAYLOAD_LEN] {
        let mut out = [0u8; PAYLOAD_LEN];
        let parts: [&[u8]; 5] = [
            self.tenant.as_bytes(),
            self.guest.as_bytes(),
            self.session.as_bytes(),
            &self.issued_at.unix_millis().to_be_bytes(),
            &self.expires_at.unix_millis().to_be_bytes(),
        ];
        let mut at = 0;
        for part in parts {
            for b in part {
                if let Some(slot) = out.get_mut(at) {
                    *slot = *b;
                }
                at += 1;
            }
        }
        out
    }

    /// The token's text, MAC'd under the current pepper.
    fn seal(&self, peppers: &Peppers) -> Result<Token> {
        let payload = self.payload();
        let tag = mac(peppers.current(), &payload)?;
        let mut text = Zeroizing::new(String::with_capacity(GUEST_TOKEN_LEN));
        text.push_str(GUEST_PREFIX);
        text.push_str(&hex::encode(payload));
        text.push_str(&hex::encode(tag));
        Ok(Token::from_presented(&text))
    }

    /// The claims of a token whose MAC matches under one of `peppers`; every other
    /// input is [`AuthError::InvalidToken`]. Checks no time.
    fn open(peppers: &Peppers, text: &str) -> Result<Self> {
        let bytes = text.as_bytes();
        if bytes.len() != GUEST_TOKEN_LEN
            || !text.starts_with(GUEST_PREFIX)
            || !bytes
                .iter()
                .skip(GUEST_PREFIX.len())
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(AuthError::InvalidToken);
        }
        let body = text
            .get(GUEST_PREFIX.len()..)
            .ok_or(AuthError::InvalidToken)?;
        let (payload_hex, mac_hex) = body.split_at(2 * PAYLOAD_LEN);
        let mut payload = [0u8; PAYLOAD_LEN];
        let mut presented = [0u8; MAC_LEN];
        hex::decode_to_slice(payload_hex, &mut payload).map_err(|_| AuthError::InvalidToken)?;
        hex::decode_to_slice(mac_hex, &mut presented).map_err(|_| AuthError::InvalidToken)?;
        let mut matched = Choice::from(0);
        for pepper in peppers.all() {
            matched |= mac(pepper, &payload)?.ct_eq(&presented);
        }
        if !bool::from(matched) {
            return Err(AuthError::InvalidToken);
        }
        let id = |from: usize| -> [u8; ID_LEN] {
            let mut out = [0u8; ID_LEN];
            if let Some(src) = payload.get(from..from + ID_LEN) {
                out.copy_from_slice(src);
            }
            out
        };
        let millis = |from: usize| -> i64 {
            let mut out = [0u8; 8];
            if let Some(src) = payload.get(from..from + 8) {
                out.copy_from_slice(src);
            }
            i64::from_be_bytes(out)
        };
        Ok(Self {
            tenant: TenantId::from_bytes(id(0)),
            guest: GuestId::from_bytes(id(ID_LEN)),
            session: SessionId::from_bytes(id(2 * ID_LEN)),
            issued_at: Timestamp::from_unix_millis(millis(3 * ID_LEN)),
            expires_at: Timestamp::from_unix_millis(millis(3 * ID_LEN + 8)),
        })
    }
}

impl Authenticator {
    /// Admits a guest to the ad-hoc session of a guest link (R-S2, R-A7) and returns
    /// its session token: cai-core's `join_as_guest` (which checks the link and
    /// records the guest and its joining), with wrong links counted per client address
    /// of `request`. A wrong, used-up or withdrawn link is cai-core's
    /// `Error::NotAccepted` (as [`AuthError::Core`]); a blocked address
    /// [`AuthError::TooManyRequests`].
    ///
    /// The token (`cg1_…`, [`GUEST_TOKEN_LEN`] characters) is self-authenticating:
    /// tenant, guest, session, issue and expiry times under an HMAC-SHA-256 with a key
    /// derived from the pepper (nothing is stored for it). [`authenticate`](Self::authenticate)
    /// turns it into the guest's `Caller`, whose principal cai-core confines to that one
    /// session, while: the MAC matches; it is before [`AdmittedGuest::expires_at`]
    /// (`min(admission + AuthConfig::guest_session_absolute, the guest's own end)`) and
    /// before admission + the setting as configured now; the guest exists and has not
    /// reached its end; and it is still a participant of the session. Removing it
    /// from the session ends the token at its next use.
    ///
    /// There is **no idle timeout** (no record is written per request) and no
    /// revocation of one token: [`revoke`](Self::revoke) refuses guest tokens; remove
    /// the guest from the session instead. Tokens stay valid across a pepper rotation
    /// while the old pepper is kept as a previous one. `docs/AUTH.md`, "Guests", has
    /// the format.
    pub async fn admit_guest(
        &self,
        tenant: TenantId,
        secret: &InvitationSecret,
        pseudonym: Pseudonym,
        request: RequestMeta,
    ) -> Result<AdmittedGuest> {
        let source = request
            .client
            .map(|ip| AttemptSource::parse(&ip.to_string()))
            .transpose()?;
        let keys: Vec<(AttemptKey, ThrottlePolicy)> = source
            .iter()
            .map(|s| {
                (
                    AttemptKey::per_source(
                        tenant,
                        AttemptScope::Invitation(ALL_INVITATIONS),
                        s.clone(),
                    ),
                    self.inner.config.guest_link_per_source,
                )
            })
            .collect();
        let failures = self.inner.svc.ports().failures.clone();
        let reserved = failures.reserve_all(&keys, self.now()).await?;
        let (guest, caller) = match self
            .inner
            .svc
            .join_as_guest(tenant, secret, pseudonym)
            .await
        {
            Ok(joined) => {
                failures.refund_all(&keys, &reserved).await?;
                joined
            }
            Err(cai_core::Error::NotAccepted) => {
                self.guest_link_refused(tenant, &reserved, source, &request)
                    .await;
                return Err(AuthError::Core(cai_core::Error::NotAccepted));
            }
            Err(e) => {
                failures.refund_all(&keys, &reserved).await?;
                return Err(e.into());
            }
        };
        let issued_at = caller.authentication.at;
        let expires_at = issued_at
            .plus(self.inner.config.guest_session_absolute)
            .min(guest.expires_at);
        let token = Claims {
            tenant,
            guest: guest.id,
            session: guest.session,
            issued_at,
            expires_at,
        }
        .seal(&self.inner.peppers)?;
        Ok(AdmittedGuest {
            token,
            caller: caller.with_request(request),
            guest,
            expires_at,
        })
    }

    /// The failure stays counted; the first block of the address raises an incident
    /// (best effort: the answer is the same either way).
    async fn guest_link_refused(
        &self,
        tenant: TenantId,
        reserved: &Reserved,
        source: Option<AttemptSource>,
        request: &RequestMeta,
    ) {
        let Some(r) = reserved.reservations.first() else {
            return;
        };
        if !r.outcome.crossed_threshold {
            return;
        }
        let result = async {
            let Some(store) = self.store(tenant).await? else {
                return Ok(());
            };
            let mut tx = AuthTx::new(tenant, self.now(), AuditActor::System, *request);
            tx.repeated_wrong(
                &store,
                AuditObject::Tenant(tenant),
                r.outcome.failures,
                source.map(|s| s.as_str().to_owned()),
                "guest link",
            )
            .await?;
            tx.commit(&self.inner.svc, &store).await
        }
        .await;
        if let Err(e) = result {
            tracing::error!(%tenant, error = %e, "blocked guest-link source not recorded");
        }
    }

    /// `authenticate` for a guest token (see the module documentation).
    pub(crate) async fn authenticate_guest(
        &self,
        token: &str,
        request: RequestMeta,
    ) -> Result<Caller> {
        let c = Claims::open(&self.inner.peppers, token)?;
        let now = self.now();
        let limit = c
            .issued_at
            .plus(self.inner.config.guest_session_absolute)
            .min(c.expires_at);
        if now >= limit {
            return Err(AuthError::InvalidToken);
        }
        let store = self.store(c.tenant).await?.ok_or(AuthError::InvalidToken)?;
        store
            .guest(c.tenant, c.guest)
            .await?
            .filter(|g| g.tenant == c.tenant && g.session == c.session && now < g.expires_at)
            .ok_or(AuthError::InvalidToken)?;
        let subject = SubjectId::Guest(c.guest);
        let present = store
            .participants(c.tenant, c.session)
            .await?
            .iter()
            .any(|p| p.subject == subject && p.session == c.session);
        if !present {
            return Err(AuthError::InvalidToken);
        }
        Ok(Caller::new(
            c.tenant,
            subject,
            Authentication {
                second_factor: false,
                at: c.issued_at,
            },
        )
        .with_request(request))
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            tenant: TenantId::random().unwrap(),
            guest: GuestId::random().unwrap(),
            session: SessionId::random().unwrap(),
            issued_at: Timestamp::from_unix_millis(1_790_000_000_000),
            expires_at: Timestamp::from_unix_millis(1_790_043_200_000),
        }
    }

    fn peppers(byte: u8) -> Peppers {
        Peppers::new(Pepper::new("g1", &[byte; 32]).unwrap())
    }

    #[test]
    fn a_sealed_token_opens_to_its_claims() {
        let c = claims();
        let t = c.seal(&peppers(1)).unwrap();
        assert_eq!(t.expose().len(), GUEST_TOKEN_LEN);
        assert!(t.expose().starts_with("cg1_"));
        assert!(Claims::open(&peppers(1), t.expose()).unwrap() == c);
    }

    #[test]
    fn another_pepper_or_any_flipped_bit_fails() {
        let c = claims();
        let t = c.seal(&peppers(1)).unwrap();
        assert!(matches!(
            Claims::open(&peppers(2), t.expose()),
            Err(AuthError::InvalidToken)
        ));
        let text = t.expose().as_bytes().to_vec();
        for i in 0..text.len() {
            for bit in 0..8 {
                let mut bad = text.clone();
                bad[i] ^= 1 << bit;
                let Ok(bad) = String::from_utf8(bad) else {
                    continue;
                };
                assert!(
                    matches!(
                        Claims::open(&peppers(1), &bad),
                        Err(AuthError::InvalidToken)
                    ),
                    "byte {i} bit {bit}"
                );
            }
        }
    }

    #[test]
    fn a_rotated_pepper_still_opens_old_tokens() {
        let old = Pepper::new("old", &[1; 32]).unwrap();
        let new = Pepper::new("new", &[2; 32]).unwrap();
        let c = claims();
        let t = c.seal(&Peppers::new(old.clone())).unwrap();
        let rotated = Peppers::new(new).with_previous(old).unwrap();
        assert!(Claims::open(&rotated, t.expose()).unwrap() == c);
    }

    #[test]
    fn the_mac_is_under_a_derived_key_not_the_pepper() {
        let p = Pepper::new("g1", &[7; 32]).unwrap();
        let k = key(&p).unwrap();
        assert_ne!(k.as_slice(), p.secret());
    }
}
