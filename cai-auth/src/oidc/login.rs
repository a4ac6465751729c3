//! From a verified ID token to a cai login: the account by verified e-mail address,
//! the link to the provider's identity, the account's usual checks, the same outcome
//! as a password login.

use cai_core::Caller;
use cai_core::authz::Authentication;
use cai_core::domain::{
    Account, AuditActor, AuditKind, AuditObject, Change, Email, Incident, IncidentKind, RequestMeta,
};
use cai_core::id::{AccountId, IncidentId, SubjectId, TenantId};
use cai_core::ports::{
    AttemptKey, AttemptScope, AttemptSource, CredentialKind, DynStore, Reserved, StoreError, Write,
};
use cai_core::throttle::ThrottlePolicy;
use serde::{Deserialize, Serialize};

use super::{OidcError, OidcKeys, OidcProvider, VerifiedIdToken};
use crate::audit::AuthTx;
use crate::authenticator::{ALL_ACCOUNTS, Authenticator};
use crate::error::{AuthError, Result};
use crate::login::LoginOutcome;
use crate::records::{self, Record};
use crate::sessions::RETRIES;

/// The provider identity an account is linked to: the account's `OidcLink` credential
/// record, written at its first OpenID Connect login. JSON:
/// `{"issuer":"https://idp.example/realms/nord","subject":"3f1c…","linked_at":1790000000000}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcLinkRecord {
    /// The provider's issuer (`iss`).
    pub issuer: String,
    /// The person's identifier at the provider (`sub`).
    pub subject: String,
    /// When the link was made (Unix ms).
    pub linked_at: i64,
}

impl OidcLinkRecord {
    fn is(&self, token: &VerifiedIdToken) -> bool {
        self.issuer == token.issuer && self.subject == token.subject
    }
}

impl Record for OidcLinkRecord {
    const KIND: CredentialKind = CredentialKind::OidcLink;
    const WHAT: &'static str = "oidc link record";
}

/// The e-mail address a verified token vouches for, or why it vouches for none.
fn verified_email(provider: &OidcProvider, token: &VerifiedIdToken) -> Result<Email, OidcError> {
    let email = token
        .email
        .as_deref()
        .ok_or(OidcError::MissingClaim("email"))?;
    match token.email_verified {
        Some(true) => {}
        None if !provider.require_email_verified => {}
        _ => return Err(OidcError::EmailNotVerified),
    }
    Email::parse(email).map_err(|_| OidcError::InvalidClaim("email"))
}

impl Authenticator {
    /// Logs in with an OpenID Connect ID token from `provider`, verified with `keys`
    /// against `expected_nonce` (the [`OidcNonce`](super::OidcNonce) the host generated
    /// for this login and kept with its state). `request` carries the client address
    /// the host trusts (for counting and for the record, R-A9).
    ///
    /// In order (docs/AUTH.md has the full list):
    /// 1. a blocked client address answers [`AuthError::TooManyRequests`];
    /// 2. [`OidcProvider::verify_id_token`]: any failure is [`AuthError::Oidc`], recorded,
    ///    and counted against the client address (except `UnknownKey` and `WeakNonce`);
    /// 3. the token's `email` must be verified (`EmailNotVerified`, `MissingClaim`,
    ///    `InvalidClaim`, as [`AuthError::Oidc`]);
    /// 4. the account with that address in the provider's tenant; none:
    ///    [`AuthError::LoginFailed`];
    /// 5. an account linked to another `(iss, sub)`: [`AuthError::LoginFailed`], an
    ///    `ExternalIdentityMismatch` incident, the admins notified;
    /// 6. the account's usual checks (deactivated, locked, outside its validity window:
    ///    [`AuthError::LoginFailed`]), exactly as for a password login;
    /// 7. the login recorded, the link written on first use;
    /// 8. the second factor: with [`OidcProvider::trust_idp_mfa`] and an `amr`/`acr` it
    ///    counts, an AAL2 session; otherwise as after a right password —
    ///    [`LoginOutcome::SecondFactorRequired`] for an account with a TOTP or e-mail
    ///    codes, [`LoginOutcome::SecondFactorEnrolmentRequired`] where the tenant
    ///    requires a second factor the account lacks, else an AAL1 session.
    ///
    /// Never [`LoginOutcome::MustChangePassword`]: the password plays no part. The
    /// session's `authenticated_at` is the token's `auth_time` (else `iat`). The token
    /// grants no roles.
    pub async fn login_with_id_token(
        &self,
        provider: &OidcProvider,
        keys: &OidcKeys,
        id_token: &str,
        expected_nonce: &str,
        request: RequestMeta,
    ) -> Result<LoginOutcome> {
        provider.validate()?;
        let tenant = provider.tenant;
        let store = self.store(tenant).await?.ok_or(AuthError::LoginFailed)?;
        let (counted, source) = self.source_key(tenant, &request)?;
        let failures = self.inner.svc.ports().failures.clone();
        let reserved = failures.reserve_all(&counted, self.now()).await?;
        let token = match provider.verify_id_token(keys, id_token, expected_nonce, self.now()) {
            Ok(t) => t,
            Err(e) => {
                // A rotation the host has not fetched yet, or the host's own nonce, is
                // nobody's guess: not counted.
                let guess = !matches!(e, OidcError::UnknownKey | OidcError::WeakNonce);
                if !guess {
                    failures.refund_all(&counted, &reserved).await?;
                }
                let crossed = guess.then_some(&reserved);
                self.oidc_failed(&store, tenant, e, crossed, source, &request)
                    .await;
                return Err(e.into());
            }
        };
        // From here on the provider vouches for the token: nothing is a guess.
        failures.refund_all(&counted, &reserved).await?;
        let email = match verified_email(provider, &token) {
            Ok(e) => e,
            Err(e) => {
                self.oidc_failed(&store, tenant, e, None, None, &request)
                    .await;
                return Err(e.into());
            }
        };
        let Some(account) = store.account_by_email(tenant, &email).await? else {
            self.record_login(&store, tenant, None, &request, "failed (oidc): no account")
                .await;
            return Err(AuthError::LoginFailed);
        };
        let link = records::load::<OidcLinkRecord>(&store, tenant, account.id).await?;
        if link.as_ref().is_some_and(|l| !l.value.is(&token)) {
            self.link_mismatch(&store, &account, &token, &request).await;
            return Err(AuthError::LoginFailed);
        }
        self.refuse_unusable(&store, &account, &request).await?;
        self.oidc_succeeded(&store, &account, &token, link.is_some(), &request)
            .await?;
        let now = self.now();
        let authentication = Authentication {
            second_factor: provider.second_factor(&token),
            at: token.auth_time.unwrap_or(token.issued_at).min(now),
        };
        self.after_first_factor(&store, &account, authentication, None, &request)
            .await
    }

    /// Removes the link of `account` to its provider identity, so that its next
    /// OpenID Connect login links it anew (a centre moving to another provider, or a
    /// mismatch an administrator has looked into). Needs `ManageAccounts`; audited
    /// and notified to the admins. An account without a link is an invalid input.
    pub async fn remove_oidc_link(
        &self,
        admin: &Caller,
        tenant: TenantId,
        account: AccountId,
    ) -> Result<()> {
        let (store, decision) = self.authorize_admin(admin, tenant, account).await?;
        let Some(link) = records::load::<OidcLinkRecord>(&store, tenant, account).await? else {
            return Err(cai_core::Error::Invalid {
                what: "account",
                reason: "has no OpenID Connect link",
            }
            .into());
        };
        let mut tx = self.admin_tx(admin, tenant);
        tx.write(Write::DeleteCredential {
            account,
            kind: CredentialKind::OidcLink,
        });
        tx.audit(
            &store,
            AuditKind::CredentialChanged,
            AuditObject::Account(account),
            vec![Change::new(
                "oidc_link",
                Some(link.value.issuer),
                None::<String>,
            )],
            Some(&decision),
            true,
        )
        .await?;
        tx.commit(&self.inner.svc, &store).await
    }

    /// The per-address counter an OIDC login is counted under (the one password logins
    /// use across the tenant's accounts), if the host named the client's address.
    #[allow(clippy::type_complexity)]
    fn source_key(
        &self,
        tenant: TenantId,
        request: &RequestMeta,
    ) -> Result<(Vec<(AttemptKey, ThrottlePolicy)>, Option<AttemptSource>)> {
        let source = request
            .client
            .map(|ip| AttemptSource::parse(&ip.to_string()))
            .transpose()?;
        let keys = source
            .iter()
            .map(|s| {
                (
                    AttemptKey::per_source(tenant, AttemptScope::Account(ALL_ACCOUNTS), s.clone()),
                    self.inner.config.per_source,
                )
            })
            .collect();
        Ok((keys, source))
    }

    /// Records a refused ID token (never fails the answer: problems are logged), and a
    /// `RepeatedWrongSecret` incident when counting it made the client's address cross
    /// its threshold.
    async fn oidc_failed(
        &self,
        store: &DynStore,
        tenant: TenantId,
        error: OidcError,
        counted: Option<&Reserved>,
        source: Option<AttemptSource>,
        request: &RequestMeta,
    ) {
        let mut tx = AuthTx::new(tenant, self.now(), AuditActor::System, *request);
        let result = async {
            tx.audit(
                store,
                AuditKind::LoginFailed,
                AuditObject::Tenant(tenant),
                vec![Change::new(
                    "login",
                    None::<String>,
                    Some(format!("failed (oidc: {})", error.code())),
                )],
                None,
                false,
            )
            .await?;
            let crossed = counted
                .and_then(|r| r.reservations.first())
                .filter(|r| r.outcome.crossed_threshold);
            if let (Some(r), Some(source)) = (crossed, source) {
                tx.repeated_wrong_secret(
                    store,
                    AuditObject::Tenant(tenant),
                    r.outcome.failures,
                    Some(source.as_str().to_owned()),
                )
                .await?;
            }
            tx.commit(&self.inner.svc, store).await
        }
        .await;
        if let Err(e) = result {
            tracing::error!(%tenant, error = %e, "refused ID token not recorded");
        }
    }

    /// Records a token whose identity is not the one linked to the account: an
    /// `ExternalIdentityMismatch` incident (security relevant: the admins are told)
    /// and the refused login.
    async fn link_mismatch(
        &self,
        store: &DynStore,
        account: &Account,
        token: &VerifiedIdToken,
        request: &RequestMeta,
    ) {
        let tenant = account.tenant;
        let now = self.now();
        let mut tx = AuthTx::new(tenant, now, AuditActor::System, *request);
        let result = async {
            let id = IncidentId::random()?;
            tx.write(Write::RecordIncident(Incident {
                id,
                tenant,
                at: now,
                actor: None,
                kind: IncidentKind::ExternalIdentityMismatch {
                    account: account.id,
                    issuer: token.issuer.clone(),
                },
            }));
            tx.audit(
                store,
                AuditKind::IncidentRecorded,
                AuditObject::Incident(id),
                vec![Change::new(
                    "external_identity_mismatch",
                    None::<String>,
                    Some(format!("oidc: {}", token.issuer)),
                )],
                None,
                true,
            )
            .await?;
            tx.audit(
                store,
                AuditKind::LoginFailed,
                AuditObject::Account(account.id),
                vec![Change::new(
                    "login",
                    None::<String>,
                    Some("refused (oidc): linked identity differs"),
                )],
                None,
                false,
            )
            .await?;
            tx.commit(&self.inner.svc, store).await
        }
        .await;
        if let Err(e) = result {
            tracing::error!(%tenant, error = %e, "identity mismatch not recorded");
        }
    }

    /// Records the successful login and, on first use, links the account to the
    /// token's identity — in one batch. Of two first logins racing, one writes the
    /// link; the other re-reads it and is refused if it names another identity.
    async fn oidc_succeeded(
        &self,
        store: &DynStore,
        account: &Account,
        token: &VerifiedIdToken,
        mut linked: bool,
        request: &RequestMeta,
    ) -> Result<()> {
        let tenant = account.tenant;
        let mut account = account.clone();
        for _ in 0..RETRIES {
            let now = self.now();
            let mut tx = AuthTx::new(
                tenant,
                now,
                AuditActor::Subject(SubjectId::Account(account.id)),
                *request,
            );
            let mut changes = vec![
                Change::new("last_login", None::<String>, Some("succeeded")),
                Change::new("login_method", None::<String>, Some("oidc")),
            ];
            if !linked {
                let link = OidcLinkRecord {
                    issuer: token.issuer.clone(),
                    subject: token.subject.clone(),
                    linked_at: now.unix_millis(),
                };
                tx.write(records::put(tenant, account.id, &link, 0, now)?);
                changes.push(Change::new(
                    "oidc_link",
                    None::<String>,
                    Some(token.issuer.clone()),
                ));
            }
            // The clock of the `inactive_accounts` deadline, refreshed once a day.
            if account.last_active_stale_at(now) {
                let mut a = account.clone();
                a.last_active = Some(now);
                tx.write(Write::UpdateAccount(a));
            }
            tx.audit(
                store,
                AuditKind::LoginSucceeded,
                AuditObject::Account(account.id),
                changes,
                None,
                false,
            )
            .await?;
            match tx.commit(&self.inner.svc, store).await {
                Ok(()) => return Ok(()),
                Err(AuthError::Core(cai_core::Error::Store(StoreError::Conflict { .. }))) => {
                    if !linked {
                        match records::load::<OidcLinkRecord>(store, tenant, account.id).await? {
                            Some(l) if l.value.is(token) => linked = true,
                            Some(_) => {
                                self.link_mismatch(store, &account, token, request).await;
                                return Err(AuthError::LoginFailed);
                            }
                            None => {}
                        }
                    }
                    // The account may have changed (its `last_active`, an
                    // administrator's edit): re-read it; one made unusable meanwhile
                    // is not logged in after all.
                    account = store
                        .account(tenant, account.id)
                        .await
                        .map_err(cai_core::Error::from)?
                        .filter(|a| a.is_usable_at(now))
                        .ok_or(AuthError::LoginFailed)?;
                }
                Err(e) => return Err(e),
            }
        }
        Err(AuthError::Unavailable("OIDC link record kept changing"))
    }
}
