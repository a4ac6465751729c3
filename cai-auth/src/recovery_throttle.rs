//! Counting and recording recovery attempts: the throttle keys (per client address,
//! per e-mail address — apart from the login counters), refused tokens in the audit
//! trail, and the incident of a client that crosses its threshold.

use cai_core::domain::{AuditActor, AuditKind, AuditObject, Change, RequestMeta};
use cai_core::id::{AccountId, ID_LEN, TenantId};
use cai_core::ports::{AttemptKey, AttemptScope, AttemptSource, DynStore, Reserved};
use cai_core::throttle::ThrottlePolicy;
use sha2::{Digest, Sha256};

use crate::audit::AuthTx;
use crate::authenticator::Authenticator;
use crate::error::Result;
use crate::recovery::RECOVERY_ATTEMPTS;

impl Authenticator {
    /// The failure counters of a recovery request or token: the client address (if
    /// known) and, for a request, the e-mail address (whether it has an account or not).
    pub(crate) fn recovery_keys(
        &self,
        tenant: TenantId,
        address: Option<&str>,
        request: &RequestMeta,
    ) -> Result<Vec<(AttemptKey, ThrottlePolicy)>> {
        let config = &self.inner.config.recovery;
        let mut keys = Vec::with_capacity(2);
        if let Some(ip) = request.client {
            let source = AttemptSource::parse(&ip.to_string())?;
            keys.push((
                AttemptKey::per_source(tenant, AttemptScope::Account(RECOVERY_ATTEMPTS), source),
                config.per_source,
            ));
        }
        if let Some(address) = address {
            keys.push((
                AttemptKey::per_scope(
                    tenant,
                    AttemptScope::Account(self.address_counter(tenant, address)),
                ),
                config.per_address,
            ));
        }
        Ok(keys)
    }

    /// The id the recovery requests for one e-mail address are counted under: keyed
    /// with the pepper, apart from the address's login counter.
    fn address_counter(&self, tenant: TenantId, address: &str) -> AccountId {
        let mut h = Sha256::new();
        h.update(b"cai-auth recovery address\0");
        h.update(self.inner.peppers.current().secret());
        h.update(tenant.as_bytes());
        h.update(address.as_bytes());
        let digest = h.finalize();
        let mut id = [0u8; ID_LEN];
        for (out, b) in id.iter_mut().zip(digest.iter()) {
            *out = *b;
        }
        AccountId::from_bytes(id)
    }

    /// Records a refused token (best effort: the answer does not depend on it), with a
    /// `RepeatedWrongSecret` incident when the client's counter just crossed its
    /// threshold.
    pub(crate) async fn recovery_refused(
        &self,
        store: &DynStore,
        tenant: TenantId,
        account: Option<AccountId>,
        what: &str,
        request: &RequestMeta,
        reserved: &Reserved,
    ) {
        let object = account.map_or(AuditObject::Tenant(tenant), AuditObject::Account);
        let mut tx = AuthTx::new(tenant, self.now(), AuditActor::System, *request);
        let result = async {
            tx.audit(
                store,
                AuditKind::AccessDenied,
                object,
                vec![Change::new("recovery", None::<String>, Some(what))],
                None,
                false,
            )
            .await?;
            if request.client.is_some()
                && reserved
                    .reservations
                    .first()
                    .is_some_and(|r| r.outcome.crossed_threshold)
            {
                self.recovery_flood(store, &mut tx, reserved, request)
                    .await?;
            }
            tx.commit(&self.inner.svc, store).await
        }
        .await;
        if let Err(e) = result {
            tracing::error!(%tenant, error = %e, "refused recovery attempt not recorded");
        }
    }

    /// Adds the `RepeatedWrongSecret` incident of a client whose recovery counter
    /// crossed its threshold.
    pub(crate) async fn recovery_flood(
        &self,
        store: &DynStore,
        tx: &mut AuthTx,
        reserved: &Reserved,
        request: &RequestMeta,
    ) -> Result<()> {
        let failures = reserved
            .reservations
            .first()
            .map_or(0, |r| r.outcome.failures);
        tx.repeated_wrong_secret(
            store,
            AuditObject::Tenant(tx.tenant),
            failures,
            request.client.map(|ip| ip.to_string()),
        )
        .await
    }
}
