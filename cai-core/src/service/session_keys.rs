//! Session keys: what a client gets to seal and open a session's content in each
//! encryption mode, the unwrapping of wrapped data keys, and key epochs.

use std::fmt;

use cai_crypto::DataKey;
use cai_crypto::hierarchy::WrappedKey;
use cai_crypto::modes::{KeyCustody, SessionMode};

use super::sessions::wrap_context;
use super::{Caller, Counselling};
use crate::authz::Action;
use crate::domain::Session;
use crate::error::{Error, Result};
use crate::id::{SessionId, SubjectId, TenantId};
use crate::ports::DynStore;

/// What a participant's client needs to seal and open a session's content. JSON (serde
/// in `json/service.rs`): tagged by `type`; the session key's 32 bytes in base64 with
/// its `key_id` and `epoch`, custody and grants in base64.
pub enum SessionKeyMaterial {
    /// Server-managed: the server seals and opens; clients get no key.
    ServerSealed,
    /// Session-key mode (R-E2): the session's data key, handed to whoever may read the
    /// content — participants and members of a group the session is shared with.
    SessionKey(DataKey),
    /// Passphrase mode (R-E3): the derivation parameters; the client needs the
    /// passphrase. **Without it the content is unrecoverable.**
    Passphrase(Vec<u8>),
    /// End-to-end mode (R-E4): the server holds no key. The group's current epoch
    /// (`None` until the owner's device started the group), whose commits and records
    /// a device reads with [`Counselling::e2e_epochs`], and the history grant sealed
    /// to the caller, if any (R-E4b).
    EndToEnd {
        /// The group's current epoch.
        epoch: Option<u32>,
        /// A history grant for the caller.
        history_grant: Option<Vec<u8>>,
    },
}

impl fmt::Debug for SessionKeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionKeyMaterial::ServerSealed => f.write_str("ServerSealed"),
            SessionKeyMaterial::SessionKey(_) => f.write_str("SessionKey(<redacted>)"),
            SessionKeyMaterial::Passphrase(p) => write!(f, "Passphrase({} bytes)", p.len()),
            SessionKeyMaterial::EndToEnd {
                epoch,
                history_grant,
            } => write!(
                f,
                "EndToEnd(epoch {epoch:?}, history grant: {})",
                history_grant.is_some()
            ),
        }
    }
}

impl Counselling {
    /// What the caller's client needs to seal and open the session's content. Needs
    /// `ReadContent` and a relation to the session: participation (not waiting in a
    /// lobby), or membership of a group the session is shared with — team members read
    /// the case, so they get its key too; administrators never by their role.
    pub async fn session_keys(
        &self,
        caller: &Caller,
        tenant: TenantId,
        session: SessionId,
    ) -> Result<SessionKeyMaterial> {
        self.observe("session_keys", Some(tenant), Some(caller), async move {
            let (store, _, s, _, _) = self
                .session_action(caller, tenant, session, Action::ReadContent)
                .await?;
            Ok(match s.mode {
                SessionMode::ServerManaged => SessionKeyMaterial::ServerSealed,
                SessionMode::SessionKey => {
                    SessionKeyMaterial::SessionKey(self.session_data_key(&store, &s, 0).await?)
                }
                SessionMode::Passphrase => {
                    let c = store
                        .custody(tenant, session, 0)
                        .await?
                        .ok_or(Error::NotFound {
                            what: "key custody",
                        })?;
                    SessionKeyMaterial::Passphrase(c.custody)
                }
                _ => {
                    let epoch = store.e2e_latest(tenant, session).await?.map(|e| e.epoch);
                    let history_grant = match caller.subject {
                        SubjectId::Account(me) => store
                            .history_grant(tenant, session, me)
                            .await?
                            .map(|g| g.grant),
                        SubjectId::Guest(_) => None,
                    };
                    SessionKeyMaterial::EndToEnd {
                        epoch,
                        history_grant,
                    }
                }
            })
        })
        .await
    }

    /// Unwraps a wrapped-key session's data key through the `KeyProvider`.
    pub(crate) async fn session_data_key(
        &self,
        store: &DynStore,
        s: &Session,
        epoch: u32,
    ) -> Result<DataKey> {
        let c = store
            .custody(s.tenant, s.id, epoch)
            .await?
            .ok_or(Error::NotFound {
                what: "key custody",
            })?;
        // Stored data that does not parse is corruption, not the caller's mistake.
        let corrupt = Error::Store(crate::ports::StoreError::Corrupt {
            what: "session key custody",
        });
        let Ok(KeyCustody::Wrapped(wrapped)) = KeyCustody::parse(&c.custody) else {
            return Err(corrupt);
        };
        self.unwrap_key(s, &wrapped).await
    }

    async fn unwrap_key(&self, s: &Session, wrapped: &WrappedKey) -> Result<DataKey> {
        self.ports
            .keys
            .unwrap(s.tenant, wrapped, &wrap_context(s.tenant, s.id)?)
            .await
            .map_err(|e| Error::KeyProvider(e.to_string()))
    }
}
