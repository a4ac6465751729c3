//! Session tokens (R-A7, R-A8): issue, authenticate (token → `Caller`), revoke.
//!
//! A token is good while all of these hold: its hash is in the account's token
//! record, it was issued less than `session_absolute` ago, it was used less than
//! `session_idle` ago, and the account is usable now (active or its temporary lock
//! over, inside its validity window). Locking or deactivating an account therefore
//! ends its sessions at once, whatever the token says; `cai-auth`'s lock, unlock,
//! password change and deactivation also delete the tokens themselves.

use cai_core::authz::Authentication;
use cai_core::domain::{AuditActor, AuditKind, AuditObject, Change, RequestMeta};
use cai_core::id::{AccountId, SubjectId, TenantId};
use cai_core::ports::{Batch, DynStore, StoreError};
use cai_core::{Caller, Timestamp};

use crate::audit::AuthTx;
use crate::authenticator::Authenticator;
use crate::error::{AuthError, Result};
use crate::records::{self, TokenEntry, TokenPurpose, TokenRecord};
use crate::token::{Presented, Token, hash_token};

/// How often a write that lost a race is retried after re-reading. Each round of a
/// race has one winner, so n concurrent writers of one account's token record need up
/// to n attempts: this bounds the logins of one account that may race at once well
/// above the 16 tokens an account may hold (the conformance suite races 6; with 5
/// attempts the last of them could lose every round).
pub(crate) const RETRIES: usize = 32;

/// A session, as login returns it: the token for the client (once) and the `Caller`
/// it stands for.
#[derive(Debug)]
pub struct IssuedSession {
    /// The bearer token. Send it to the client; it is not kept anywhere.
    pub token: Token,
    /// Who the token authenticates.
    pub caller: Caller,
    /// The absolute end of the session (the idle timeout may end it earlier).
    pub expires_at: Timestamp,
}

/// A `Caller` built by a host that authenticates users itself (its own identity
/// provider, a test) instead of through `cai-auth`'s tokens.
///
/// **What the host vouches for.** cai-core trusts every field of a `Caller`:
/// - `account` of `tenant` was authenticated by the host *in this request* (a verified
///   session, a verified signed token), never taken from a request body, header or
///   URL a client controls;
/// - `second_factor` is `true` only if a second factor was verified for that
///   authentication (administrative actions depend on it);
/// - `authenticated_at` is when the user last proved who they are (administrative
///   actions demand a recent one), from the host's own records, never from the client;
/// - `request` is what the host's transport observed (the peer address it trusts).
///
/// A host that cannot promise all four should use [`Authenticator::authenticate`].
pub fn caller_vouched_by_host(
    tenant: TenantId,
    account: AccountId,
    second_factor: bool,
    authenticated_at: Timestamp,
    request: RequestMeta,
) -> Caller {
    Caller::new(
        tenant,
        SubjectId::Account(account),
        Authentication {
            second_factor,
            at: authenticated_at,
        },
    )
    .with_request(request)
}

fn millis(t: Timestamp) -> i64 {
    t.unix_millis()
}

impl Authenticator {
    /// The `Caller` a session token stands for (R-A7): tenant, account, whether a
    /// second factor was used and when the user last authenticated, with `request`
    /// attached. Every failure — malformed, unknown, revoked, idle too long, past its
    /// absolute end, account no longer usable — is [`AuthError::InvalidToken`].
    ///
    /// A guest's token ([`admit_guest`](Self::admit_guest)) gives the guest's `Caller`
    /// (confined by cai-core to its one session), checked as `admit_guest` describes.
    ///
    /// This is the way a host gets a `Caller` from a request: take the token from the
    /// `Authorization: Bearer` header (or a `Secure; HttpOnly` cookie), never from a
    /// URL.
    pub async fn authenticate(&self, token: &str, request: RequestMeta) -> Result<Caller> {
        if token.starts_with(crate::guest::GUEST_PREFIX) {
            return self.authenticate_guest(token, request).await;
        }
        let presented = Presented::parse(token, TokenPurpose::Session)?;
        let (tenant, account) = (presented.tenant, presented.account);
        let store = self.store(tenant).await?.ok_or(AuthError::InvalidToken)?;
        for _ in 0..RETRIES {
            let now = self.now();
            let usable = store
                .account(tenant, account)
                .await?
                .is_some_and(|a| a.is_usable_at(now));
            let Some(mut record) = records::load::<TokenRecord>(&store, tenant, account).await?
            else {
                return Err(AuthError::InvalidToken);
            };
            let before = record.value.entries.len();
            if !usable {
                // Locked, deactivated or outside its window: its sessions end now.
                record.value.entries.clear();
            }
            let found = find(&record.value, &presented, TokenPurpose::Session);
            let live = found
                .and_then(|i| record.value.entries.get(i))
                .filter(|e| self.is_live(e, now))
                .cloned();
            record.value.entries.retain(|e| self.is_live(e, now));
            let Some(mut entry) = live else {
                if record.value.entries.len() != before {
                    // Best effort: forget what has ended; the answer does not depend on it.
                    let _ = self
                        .put_tokens(&store, tenant, account, &record.value, record.revision)
                        .await;
                }
                return Err(AuthError::InvalidToken);
            };
            let stale = now.unix_millis().saturating_sub(entry.last_used_at)
                >= i64::try_from(self.inner.config.touch_interval.as_millis()).unwrap_or(i64::MAX);
            if stale || record.value.entries.len() != before {
                entry.last_used_at = millis(now);
                if let Some(e) = record
                    .value
                    .entries
                    .iter_mut()
                    .find(|e| e.hash == entry.hash)
                {
                    e.last_used_at = entry.last_used_at;
                }
                match self
                    .put_tokens(&store, tenant, account, &record.value, record.revision)
                    .await
                {
                    Ok(()) => {}
                    // Revoked or touched meanwhile: read again.
                    Err(AuthError::Core(cai_core::Error::Store(StoreError::Conflict {
                        ..
                    }))) => {
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            }
            return Ok(caller_vouched_by_host(
                tenant,
                account,
                entry.second_factor,
                Timestamp::from_unix_millis(entry.authenticated_at),
                request,
            ));
        }
        Err(AuthError::InvalidToken)
    }

    /// Ends the session of `token` (logout). A token that is already gone is not an
    /// error; a malformed one is [`AuthError::InvalidToken`].
    pub async fn revoke(&self, token: &str) -> Result<()> {
        let presented = Presented::parse(token, TokenPurpose::Session)?;
        let Some(store) = self.store(presented.tenant).await? else {
            return Ok(());
        };
        self.remove_token(&store, &presented, TokenPurpose::Session)
            .await
            .map(|_| ())
    }

    /// Ends every session of the caller's own account ("log out everywhere").
    pub async fn end_my_sessions(&self, caller: &Caller) -> Result<()> {
        let SubjectId::Account(account) = caller.subject else {
            return Err(AuthError::NotOwner);
        };
        let store = self
            .store(caller.tenant)
            .await?
            .ok_or(AuthError::InvalidToken)?;
        let mut tx = AuthTx::new(
            caller.tenant,
            self.now(),
            AuditActor::Subject(caller.subject),
            caller.request,
        );
        self.end_sessions_in(&store, &mut tx, account).await?;
        tx.audit(
            &store,
            AuditKind::AccountUpdated,
            AuditObject::Account(account),
            vec![Change::new("sessions", None::<String>, Some("all ended"))],
            None,
            false,
        )
        .await?;
        tx.commit(&self.inner.svc, &store).await
    }

    /// Adds the write that ends every token of `account` (sessions and tickets) to
    /// `tx`: an empty record under the revision read, so a token issued meanwhile
    /// makes the commit conflict rather than survive.
    pub(crate) async fn end_sessions_in(
        &self,
        store: &DynStore,
        tx: &mut AuthTx,
        account: AccountId,
    ) -> Result<()> {
        if let Some(r) = records::load::<TokenRecord>(store, tx.tenant, account).await? {
            tx.write(records::put(
                tx.tenant,
                account,
                &TokenRecord::default(),
                r.revision,
                tx.now,
            )?);
        }
        Ok(())
    }

    /// Issues a token of `purpose` for `account`, pruning ended ones and, past the
    /// per-account maximum, the least recently used.
    pub(crate) async fn issue(
        &self,
        store: &DynStore,
        tenant: TenantId,
        account: AccountId,
        purpose: TokenPurpose,
        authentication: Authentication,
    ) -> Result<(Token, Timestamp)> {
        self.issue_marked(store, tenant, account, purpose, authentication, false)
            .await
    }

    /// [`issue`](Self::issue), recording whether the first factor was `external`
    /// (OpenID Connect) rather than the password.
    pub(crate) async fn issue_marked(
        &self,
        store: &DynStore,
        tenant: TenantId,
        account: AccountId,
        purpose: TokenPurpose,
        authentication: Authentication,
        external: bool,
    ) -> Result<(Token, Timestamp)> {
        let config = &self.inner.config;
        for _ in 0..RETRIES {
            let now = self.now();
            let lifetime = match purpose {
                TokenPurpose::Session => config.session_absolute,
                TokenPurpose::PasswordChange
                | TokenPurpose::SecondFactor
                | TokenPurpose::Enrolment => config.ticket_validity,
            };
            let expires_at = now.plus(lifetime);
            let token = Token::generate(purpose, tenant, account)?;
            let (mut record, revision) =
                match records::load::<TokenRecord>(store, tenant, account).await? {
                    Some(r) => (r.value, r.revision),
                    None => (TokenRecord::default(), 0),
                };
            record.entries.retain(|e| self.is_live(e, now));
            record.entries.push(TokenEntry {
                hash: hex::encode(hash_token(token.expose())),
                purpose,
                created_at: millis(now),
                last_used_at: millis(now),
                authenticated_at: millis(authentication.at),
                second_factor: authentication.second_factor,
                expires_at: millis(expires_at),
                external,
            });
            while record.entries.len() > config.max_tokens_per_account {
                let oldest = record
                    .entries
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, e)| e.last_used_at)
                    .map(|(i, _)| i);
                if let Some(i) = oldest {
                    record.entries.remove(i);
                }
            }
            match self
                .put_tokens(store, tenant, account, &record, revision)
                .await
            {
                Ok(()) => return Ok((token, expires_at)),
                Err(AuthError::Core(cai_core::Error::Store(StoreError::Conflict { .. }))) => {}
                Err(e) => return Err(e),
            }
        }
        Err(AuthError::Unavailable("token record kept changing"))
    }

    /// Removes the token `presented` of `purpose` if it is live, atomically: of two
    /// concurrent callers presenting the same token, exactly one gets `Some(entry)`.
    pub(crate) async fn remove_token(
        &self,
        store: &DynStore,
        presented: &Presented,
        purpose: TokenPurpose,
    ) -> Result<Option<TokenEntry>> {
        let (tenant, account) = (presented.tenant, presented.account);
        for _ in 0..RETRIES {
            let now = self.now();
            let Some(mut record) = records::load::<TokenRecord>(store, tenant, account).await?
            else {
                return Ok(None);
            };
            let Some(i) = find(&record.value, presented, purpose) else {
                return Ok(None);
            };
            let entry = record.value.entries.remove(i);
            match self
                .put_tokens(store, tenant, account, &record.value, record.revision)
                .await
            {
                Ok(()) => return Ok(Some(entry).filter(|e| self.is_live(e, now))),
                Err(AuthError::Core(cai_core::Error::Store(StoreError::Conflict { .. }))) => {}
                Err(e) => return Err(e),
            }
        }
        Err(AuthError::Unavailable("token record kept changing"))
    }

    /// Whether `entry` is still good at `now`: before its absolute end and, for a
    /// session, used within the idle timeout.
    pub(crate) fn is_live(&self, entry: &TokenEntry, now: Timestamp) -> bool {
        let now = now.unix_millis();
        let idle = i64::try_from(self.inner.config.session_idle.as_millis()).unwrap_or(i64::MAX);
        now < entry.expires_at
            && (entry.purpose != TokenPurpose::Session
                || now.saturating_sub(entry.last_used_at) < idle)
    }

    async fn put_tokens(
        &self,
        store: &DynStore,
        tenant: TenantId,
        account: AccountId,
        record: &TokenRecord,
        revision: u64,
    ) -> Result<()> {
        let mut batch = Batch::new(tenant);
        batch.push(records::put(tenant, account, record, revision, self.now())?);
        store.commit(batch).await.map_err(AuthError::from)
    }
}

/// The index of the entry of `purpose` whose hash is the presented token's. Every
/// entry is compared (in constant time each), whichever matches.
fn find(record: &TokenRecord, presented: &Presented, purpose: TokenPurpose) -> Option<usize> {
    let mut found = None;
    for (i, e) in record.entries.iter().enumerate() {
        if presented.matches(&e.hash) && e.purpose == purpose {
            found = Some(i);
        }
    }
    found
}
