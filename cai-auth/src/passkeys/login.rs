//! Logging in with a passkey: as the second step of a password login, and without a
//! password (discoverable credentials, conditional UI).
//!
//! **Where the passwordless ceremony's state lives.** When it begins no account is
//! known, and cai-auth's storage has only per-account records, so the state travels
//! with the client: webauthn-rs's `DiscoverableAuthentication` (the challenge and the
//! policy, no secret) is sealed with AES-256-GCM under a key derived (HKDF-SHA256) from
//! the host's current pepper, bound to the tenant and an expiry, and handed out as the
//! ticket `pl1_<pepper id>_<hex nonce ‖ ciphertext ‖ tag>`. Beginning a login thus
//! writes nothing — an unauthenticated endpoint that costs no storage. The ticket
//! is single-use per account: its nonce is recorded in the account's passkeys record,
//! in the same revision-checked write that accepts the assertion, until the ticket
//! expires. (Two *different* accounts can each finish a login with one ticket only if
//! each of their authenticators signed its challenge — two genuine logins, which is
//! harmless.)

use std::fmt;

use cai_core::Timestamp;
use cai_core::authz::Authentication;
use cai_core::domain::{AuditActor, AuditKind, AuditObject, Change, RequestMeta};
use cai_core::id::{AccountId, ID_LEN, SubjectId, TenantId};
use cai_core::ports::{AttemptKey, AttemptScope, DynStore};
use cai_crypto::aead::{NONCE_LEN, TAG_LEN, default_backend};
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{AuthenticationResult, DiscoverableAuthentication, PublicKeyCredential};
use zeroize::Zeroizing;

use super::{
    PasskeyOptions, PasskeysRecord, PendingAuthentication, UsedLogin, is_conflict, parse_response,
};
use crate::audit::AuthTx;
use crate::authenticator::Authenticator;
use crate::error::{AuthError, Result};
use crate::login::{AttemptKeys, LoginOutcome};
use crate::records::{self, TokenPurpose, TokenRecord, Versioned};
use crate::sessions::{IssuedSession, RETRIES, caller_vouched_by_host};
use crate::token::{Presented, Token};

const TICKET_PREFIX: &str = "pl1_";
/// Longest ticket text accepted.
const MAX_TICKET_LEN: usize = 4096;
/// Most passwordless tickets one account may have used within their validity.
const MAX_USED_LOGINS: usize = 64;
const KEY_LABEL: &[u8] = b"cai-auth passkey login ticket v1";

/// A passwordless login begun: the options for `navigator.credentials.get` and the
/// ticket to send back with the browser's answer. `Debug` is redacted.
pub struct PasskeyLoginChallenge {
    /// `{"publicKey": PublicKeyCredentialRequestOptions, "mediation": "conditional"}`
    /// with no `allowCredentials`: the authenticator offers its discoverable
    /// credentials for the RP ID.
    pub options: PasskeyOptions,
    /// The sealed ceremony state, for
    /// [`Authenticator::finish_passkey_login`] (once).
    pub ticket: Token,
    /// When the ticket stops working.
    pub expires_at: Timestamp,
}

impl fmt::Debug for PasskeyLoginChallenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasskeyLoginChallenge")
            .field("options", &self.options)
            .field("ticket", &self.ticket)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// What the ticket seals.
#[derive(Serialize, Deserialize)]
struct Sealed {
    expires_at: i64,
    state: DiscoverableAuthentication,
}

fn aad(tenant: TenantId, pepper_id: &str) -> Vec<u8> {
    let mut aad = KEY_LABEL.to_vec();
    aad.push(0);
    aad.extend_from_slice(tenant.as_bytes());
    aad.extend_from_slice(pepper_id.as_bytes());
    aad
}

fn to_ms(t: Timestamp) -> i64 {
    t.unix_millis()
}

impl Authenticator {
    fn ticket_key(&self, pepper_id: &str) -> Result<Zeroizing<[u8; 32]>> {
        let pepper = self
            .inner
            .peppers
            .by_id(pepper_id)
            .ok_or(AuthError::InvalidToken)?;
        let mut key = Zeroizing::new([0u8; 32]);
        cai_crypto::kdf::hkdf_sha256(
            pepper.secret(),
            KEY_LABEL,
            &[pepper_id.as_bytes()],
            key.as_mut_slice(),
        )
        .map_err(|_| AuthError::Config("ticket key derivation"))?;
        Ok(key)
    }

    fn seal_ticket(&self, tenant: TenantId, sealed: &Sealed) -> Result<Token> {
        let pepper_id = self.inner.peppers.current().id().to_owned();
        let key = self.ticket_key(&pepper_id)?;
        let prepared = default_backend()
            .prepare(&key)
            .map_err(|_| AuthError::Config("ticket key"))?;
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| AuthError::Rng)?;
        let mut buf = serde_json::to_vec(sealed).map_err(|_| AuthError::Corrupt {
            what: "passkey login ticket",
        })?;
        let tag = prepared
            .seal_in_place(&nonce, &aad(tenant, &pepper_id), &mut buf)
            .map_err(|_| AuthError::Config("ticket sealing"))?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&buf);
        bytes.extend_from_slice(&tag);
        Ok(Token::from_presented(&format!(
            "{TICKET_PREFIX}{pepper_id}_{}",
            hex::encode(bytes)
        )))
    }

    /// Opens a ticket of `tenant`: its nonce (hex) and contents. Anything malformed,
    /// forged, of another tenant or expired is [`AuthError::InvalidToken`].
    fn open_ticket(&self, tenant: TenantId, ticket: &str) -> Result<(String, Sealed)> {
        let invalid = AuthError::InvalidToken;
        if ticket.len() > MAX_TICKET_LEN {
            return Err(invalid);
        }
        let rest = ticket
            .strip_prefix(TICKET_PREFIX)
            .ok_or(AuthError::InvalidToken)?;
        let (pepper_id, body) = rest.split_once('_').ok_or(AuthError::InvalidToken)?;
        let bytes = hex::decode(body).map_err(|_| AuthError::InvalidToken)?;
        if bytes.len() < NONCE_LEN + TAG_LEN {
            return Err(invalid);
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let (sealed, tag) = rest.split_at(rest.len() - TAG_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| AuthError::InvalidToken)?;
        let tag: [u8; TAG_LEN] = tag.try_into().map_err(|_| AuthError::InvalidToken)?;
        let key = self.ticket_key(pepper_id)?;
        let prepared = default_backend()
            .prepare(&key)
            .map_err(|_| AuthError::Config("ticket key"))?;
        let mut buf = sealed.to_vec();
        prepared
            .open_in_place(&nonce, &aad(tenant, pepper_id), &mut buf, &tag)
            .map_err(|_| AuthError::InvalidToken)?;
        let contents: Sealed = serde_json::from_slice(&buf).map_err(|_| AuthError::InvalidToken)?;
        if to_ms(self.now()) >= contents.expires_at {
            return Err(AuthError::InvalidToken);
        }
        Ok((hex::encode(nonce), contents))
    }

    /// Begins a passwordless login for `tenant`: request options for discoverable
    /// credentials (`mediation: "conditional"`, user verification required, no
    /// `allowCredentials`) and a sealed, single-use ticket valid for the ceremony's
    /// validity (default 5 minutes). Writes nothing.
    pub async fn begin_passkey_login(&self, tenant: TenantId) -> Result<PasskeyLoginChallenge> {
        let (webauthn, _) = self.webauthn()?;
        let (options, state) = webauthn
            .start_discoverable_authentication()
            .map_err(|_| AuthError::Config("passkeys: login could not start"))?;
        let expires_at = self.ceremony_end()?;
        let ticket = self.seal_ticket(tenant, &Sealed { expires_at, state })?;
        Ok(PasskeyLoginChallenge {
            options: PasskeyOptions::of(&options)?,
            ticket,
            expires_at: Timestamp::from_unix_millis(expires_at),
        })
    }

    /// Finishes a passwordless login with the ticket of
    /// [`begin_passkey_login`](Self::begin_passkey_login) and the browser's
    /// `PublicKeyCredential` (JSON, with `response.userHandle`): an AAL2 session.
    ///
    /// Checks, in order: the client address's failure counter
    /// ([`AuthError::TooManyRequests`]); the ticket — sealed by this host, for this
    /// tenant, not expired ([`AuthError::InvalidToken`]); the JSON, the user handle, the
    /// account and one of its passkeys with the credential id, and the assertion
    /// (challenge, origin, RP ID hash, user verification, signature, sign counter): any
    /// failure is [`AuthError::LoginFailed`], so an unknown user handle or credential
    /// reads like a bad signature; the ticket not used by this account before
    /// (`LoginFailed`); the account usable now, as at password login (`LoginFailed`,
    /// not counted). Every failure but the last is counted against the client address
    /// (there is no per-account count: a signature cannot be guessed, and counting
    /// would let anyone lock a user out by their user handle) and recorded (R-A9).
    pub async fn finish_passkey_login(
        &self,
        tenant: TenantId,
        ticket: &str,
        response_json: &str,
        request: RequestMeta,
    ) -> Result<IssuedSession> {
        let (webauthn, _) = self.webauthn()?;
        let store = self.store(tenant).await?;
        let keys = self.per_source_keys(tenant, &request)?;
        let failures = self.inner.svc.ports().failures.clone();
        let reserved = failures.reserve_all(&keys.keys, self.now()).await?;
        let fail = |account: Option<AccountId>, what: &'static str, error: AuthError| {
            let (store, keys, reserved) = (store.as_ref(), &keys, &reserved);
            async move {
                self.attempt_failed(store, tenant, account, Some(what), keys, reserved, &request)
                    .await;
                error
            }
        };
        let (nonce, sealed) = match self.open_ticket(tenant, ticket) {
            Ok(v) => v,
            Err(e) => return Err(fail(None, "passkey: invalid ticket", e).await),
        };
        let Some(response) = parse_response::<PublicKeyCredential>(response_json) else {
            return Err(fail(None, "passkey: malformed response", AuthError::LoginFailed).await);
        };
        let found = match (
            &store,
            webauthn.identify_discoverable_authentication(&response),
        ) {
            (Some(store), Ok((uuid, _))) => {
                let account = AccountId::from_bytes(*uuid.as_bytes());
                let a = store.account(tenant, account).await?;
                let record = match &a {
                    Some(_) => records::load::<PasskeysRecord>(store, tenant, account).await?,
                    None => None,
                };
                a.zip(record)
            }
            _ => None,
        };
        let Some((account, record)) = found else {
            return Err(fail(None, "passkey: unknown credential", AuthError::LoginFailed).await);
        };
        let verified = record
            .value
            .passkeys
            .iter()
            .find(|p| p.passkey.cred_id().as_slice() == response.raw_id.as_slice())
            .ok_or(AuthError::LoginFailed)
            .and_then(|p| {
                webauthn
                    .finish_discoverable_authentication_v2(&response, sealed.state, &p.passkey)
                    .map_err(|_| AuthError::LoginFailed)
            })
            .and_then(|r| {
                if r.user_verified() {
                    Ok(r)
                } else {
                    Err(AuthError::LoginFailed)
                }
            });
        let result = match verified {
            Ok(r) => r,
            Err(e) => {
                return Err(fail(Some(account.id), "passkey: assertion not accepted", e).await);
            }
        };
        let Some(store) = store.clone() else {
            return Err(AuthError::LoginFailed);
        };
        if record.value.used_logins.iter().any(|u| u.nonce == nonce) {
            return Err(fail(
                Some(account.id),
                "passkey: ticket replayed",
                AuthError::LoginFailed,
            )
            .await);
        }
        if !account.is_usable_at(self.now()) {
            // The right passkey is no guess: not counted. The answer is the same.
            failures.refund_all(&keys.keys, &reserved).await?;
        }
        self.refuse_unusable(&store, &account, &request).await?;
        let used = UsedLogin {
            nonce,
            expires_at: sealed.expires_at,
        };
        if let Err(e) = self
            .record_assertion(&store, tenant, account.id, &result, Some(used), None)
            .await
        {
            return Err(match e {
                AuthError::LoginFailed => {
                    fail(Some(account.id), "passkey: ticket replayed", e).await
                }
                e => {
                    failures.refund_all(&keys.keys, &reserved).await?;
                    e
                }
            });
        }
        failures.refund_all(&keys.keys, &reserved).await?;
        failures
            .record_success(&AttemptKey::per_scope(
                tenant,
                AttemptScope::Account(account.id),
            ))
            .await?;
        self.record_login_success(&store, &account, &request, None, "succeeded (passkey)")
            .await?;
        let now = self.now();
        let authentication = Authentication {
            second_factor: true,
            at: now,
        };
        let (token, expires_at) = self
            .issue(
                &store,
                tenant,
                account.id,
                TokenPurpose::Session,
                authentication,
            )
            .await?;
        Ok(IssuedSession {
            token,
            caller: caller_vouched_by_host(tenant, account.id, true, now, request),
            expires_at,
        })
    }

    /// Stores what an accepted assertion changes — the sign counter, backup state and
    /// last use of the passkey, the used passwordless ticket or the consumed
    /// second-factor state — in one revision-checked write, re-reading on a race. A
    /// ticket found used (a replay racing its original) is
    /// [`AuthError::LoginFailed`]; a second-factor state found gone is
    /// [`AuthError::WrongCode`].
    async fn record_assertion(
        &self,
        store: &DynStore,
        tenant: TenantId,
        account: AccountId,
        result: &AuthenticationResult,
        used: Option<UsedLogin>,
        consumed: Option<&str>,
    ) -> Result<()> {
        for _ in 0..RETRIES {
            let now = to_ms(self.now());
            let Some(Versioned {
                value: mut record,
                revision,
            }) = records::load::<PasskeysRecord>(store, tenant, account).await?
            else {
                return Err(AuthError::LoginFailed);
            };
            record.used_logins.retain(|u| u.expires_at > now);
            if let Some(used) = &used {
                if record.used_logins.iter().any(|u| u.nonce == used.nonce)
                    || record.used_logins.len() >= MAX_USED_LOGINS
                {
                    return Err(AuthError::LoginFailed);
                }
                record.used_logins.push(used.clone());
            }
            if let Some(ticket) = consumed {
                let before = record.authentications.len();
                record.authentications.retain(|p| p.ticket != ticket);
                if record.authentications.len() == before {
                    return Err(AuthError::WrongCode);
                }
            }
            let Some(p) = record
                .passkeys
                .iter_mut()
                .find(|p| p.passkey.cred_id() == result.cred_id())
            else {
                // Removed meanwhile.
                return Err(AuthError::LoginFailed);
            };
            p.passkey.update_credential(result);
            p.last_used_at = Some(now);
            match self
                .put_record(store, tenant, account, &record, revision)
                .await
            {
                Ok(()) => return Ok(()),
                Err(e) if is_conflict(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Err(AuthError::Unavailable("passkeys record kept changing"))
    }

    /// The live second-factor ticket `ticket` and its usable account.
    async fn live_second_factor(
        &self,
        ticket: &str,
    ) -> Result<(
        Presented,
        DynStore,
        cai_core::domain::Account,
        u16,
        Option<u16>,
    )> {
        let presented = Presented::parse(ticket, TokenPurpose::SecondFactor)?;
        let (tenant, account) = (presented.tenant, presented.account);
        let (store, a, policy) = self
            .usable_account(tenant, account)
            .await
            .map_err(|_| AuthError::InvalidToken)?;
        let now = self.now();
        let live = records::load::<TokenRecord>(&store, tenant, account)
            .await?
            .is_some_and(|t| {
                t.value.entries.iter().any(|e| {
                    e.purpose == TokenPurpose::SecondFactor
                        && presented.matches(&e.hash)
                        && self.is_live(e, now)
                })
            });
        if !live {
            return Err(AuthError::InvalidToken);
        }
        Ok((
            presented,
            store,
            a,
            policy.max_failed_attempts,
            policy.max_age_days,
        ))
    }

    /// Offers the account's passkeys for the second login step: the
    /// `RequestChallengeResponse` JSON (its `allowCredentials` list the account's
    /// passkeys, user verification required) for `navigator.credentials.get`. The
    /// state is kept in the account's record for the ceremony's validity, tied to
    /// `ticket`; calling again replaces it. Errors: [`AuthError::InvalidToken`] (ticket
    /// malformed, unknown, used, expired, account not usable), `NotFound` (the account
    /// has no passkey).
    pub async fn begin_passkey_second_factor(&self, ticket: &str) -> Result<PasskeyOptions> {
        let (webauthn, _) = self.webauthn()?;
        let (presented, store, a, _, _) = self.live_second_factor(ticket).await?;
        let (tenant, account) = (a.tenant, a.id);
        for _ in 0..RETRIES {
            let Some(Versioned {
                value: mut record,
                revision,
            }) = records::load::<PasskeysRecord>(&store, tenant, account)
                .await?
                .filter(|r| !r.value.passkeys.is_empty())
            else {
                return Err(AuthError::Core(cai_core::Error::NotFound {
                    what: "passkey",
                }));
            };
            let passkeys: Vec<_> = record.passkeys.iter().map(|p| p.passkey.clone()).collect();
            let (options, state) = webauthn
                .start_passkey_authentication(&passkeys)
                .map_err(|_| AuthError::Config("passkeys: authentication could not start"))?;
            let hash = hex::encode(presented.hash);
            let now = to_ms(self.now());
            record
                .authentications
                .retain(|p| p.ticket != hash && p.expires_at > now);
            while record.authentications.len() >= super::MAX_PENDING {
                record.authentications.remove(0);
            }
            record.authentications.push(PendingAuthentication {
                ticket: hash,
                expires_at: self.ceremony_end()?,
                state,
            });
            match self
                .put_record(&store, tenant, account, &record, revision)
                .await
            {
                Ok(()) => return PasskeyOptions::of(&options),
                Err(e) if is_conflict(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Err(AuthError::Unavailable("passkeys record kept changing"))
    }

    /// The second login step with a passkey: the ticket of
    /// [`LoginOutcome::SecondFactorRequired`] and the browser's `PublicKeyCredential`
    /// (JSON) answering [`begin_passkey_second_factor`](Self::begin_passkey_second_factor).
    /// Like [`complete_second_factor`](Self::complete_second_factor): an AAL2 session,
    /// or a change ticket that remembers the second factor.
    ///
    /// Checks, in order: the ticket ([`AuthError::InvalidToken`]); the failure counters
    /// of the client address and the account ([`AuthError::TooManyRequests`]); a
    /// pending, unexpired ceremony for this ticket ([`AuthError::InvalidToken`], not
    /// counted); the assertion — JSON, one of the account's passkeys, challenge,
    /// origin, RP ID hash, user verification, signature, sign counter
    /// ([`AuthError::WrongCode`], counted towards the lockout like a wrong code; the
    /// ceremony stays pending until it expires). The accepted assertion uses up the
    /// ceremony and the ticket: a replay is refused.
    pub async fn complete_second_factor_with_passkey(
        &self,
        ticket: &str,
        response_json: &str,
        request: RequestMeta,
    ) -> Result<LoginOutcome> {
        let (webauthn, _) = self.webauthn()?;
        let (presented, store, a, limit, max_age) = self.live_second_factor(ticket).await?;
        let (tenant, account) = (a.tenant, a.id);
        let keys: AttemptKeys = self.attempt_keys(tenant, account, limit, &request)?;
        let failures = self.inner.svc.ports().failures.clone();
        let reserved = failures.reserve_all(&keys.keys, self.now()).await?;
        let hash = hex::encode(presented.hash);
        let now = to_ms(self.now());
        let pending = match records::load::<PasskeysRecord>(&store, tenant, account).await {
            Ok(r) => r.and_then(|r| {
                r.value
                    .authentications
                    .into_iter()
                    .find(|p| p.ticket == hash && now < p.expires_at)
            }),
            Err(e) => {
                failures.refund_all(&keys.keys, &reserved).await?;
                return Err(e);
            }
        };
        let Some(pending) = pending else {
            failures.refund_all(&keys.keys, &reserved).await?;
            return Err(AuthError::InvalidToken);
        };
        let verified = parse_response::<PublicKeyCredential>(response_json)
            .and_then(|r| {
                webauthn
                    .finish_passkey_authentication(&r, &pending.state)
                    .ok()
            })
            .filter(AuthenticationResult::user_verified);
        let Some(result) = verified else {
            self.login_failed(
                Some(&store),
                tenant,
                Some("wrong passkey assertion"),
                &keys,
                &reserved,
                &request,
            )
            .await;
            return Err(AuthError::WrongCode);
        };
        failures.refund_all(&keys.keys, &reserved).await?;
        self.record_assertion(&store, tenant, account, &result, None, Some(&hash))
            .await
            .map_err(|e| match e {
                AuthError::LoginFailed => AuthError::WrongCode,
                e => e,
            })?;
        let password = self
            .take_second_factor_ticket(&store, &presented, tenant, account)
            .await?;
        let mut tx = AuthTx::new(
            tenant,
            self.now(),
            AuditActor::Subject(SubjectId::Account(account)),
            request,
        );
        tx.audit(
            &store,
            AuditKind::AccountUpdated,
            AuditObject::Account(account),
            vec![Change::new(
                "second_factor",
                None::<String>,
                Some("passkey used"),
            )],
            None,
            false,
        )
        .await?;
        tx.commit(&self.inner.svc, &store).await?;
        let authentication = Authentication {
            second_factor: true,
            at: self.now(),
        };
        self.after_authentication(
            &store,
            &a,
            password.as_ref().map(|p| (&p.value, max_age)),
            authentication,
            &request,
        )
        .await
    }
}

// `ID_LEN` is the user handle's length; a discoverable credential's handle of any
// other length is no account of ours (and `Uuid::from_slice` refuses it).
const _: () = assert!(ID_LEN == 16);
