//! The signed mode descriptor of sessions outside end-to-end mode: the owner's device
//! signs the session's mode once the session has its id, and the service stores it so
//! every client can check the mode against the creator's signature instead of taking
//! the server's word (`docs/E2E.md` §5).

use cai_crypto::modes::{ModeDescriptor, SessionMode};

use super::sessions::crypto_id;
use super::{Caller, Counselling};
use crate::authz::Action;
use crate::domain::{AuditKind, AuditObject, Change, Session};
use crate::error::{Error, Result};
use crate::id::{SessionId, SubjectId, TenantId};
use crate::ports::{Page, Write};

/// Longest mode descriptor accepted, in bytes (the longest well-formed one — 255-byte
/// tenant and session ids, a 64-byte account id — is 681 bytes).
pub const MAX_MODE_DESCRIPTOR_LEN: usize = 1024;

impl Counselling {
    /// Attaches the session's mode descriptor, signed by the owner's device with the
    /// owner's user identity key. From then on every item's context carries its binding
    /// (server-sealed items included) and [`Session::mode_descriptor`] hands it to every
    /// client, which accepts it with `ModeDescriptor::accept` before sealing or opening.
    ///
    /// Checks, in this order: the caller may view the session (else `not_found`); only
    /// its owner attaches (`invalid`); the session is open (`session_closed`) and not
    /// end-to-end (`wrong_mode`: its group carries the descriptor); the bytes are at
    /// most [`MAX_MODE_DESCRIPTOR_LEN`] (`too_large`); no descriptor yet (`conflict`)
    /// and no content yet (`conflict`: earlier items would not carry the binding); the
    /// descriptor parses and its signature verifies (`crypto`), and it names this
    /// tenant and session, the session's mode and the caller as creator (`invalid`).
    /// Whether the signing key is the owner's is for each client's trust store to say:
    /// the service holds no directory of identity keys. Audited as
    /// `session_keys_changed` with the binding (hex) as the new `mode_descriptor`.
    pub async fn attach_mode_descriptor(
        &self,
        caller: &Caller,
        tenant: TenantId,
        session: SessionId,
        descriptor: Vec<u8>,
    ) -> Result<Session> {
        self.observe(
            "attach_mode_descriptor",
            Some(tenant),
            Some(caller),
            async move {
                let (store, _, mut s, _, decision) = self
                    .session_action(caller, tenant, session, Action::ViewSession)
                    .await?;
                if caller.subject != SubjectId::Account(s.owner) {
                    return Err(Error::Invalid {
                        what: "mode descriptor",
                        reason: "only the session's owner attaches it",
                    });
                }
                if !s.is_open() {
                    return Err(Error::SessionClosed);
                }
                if s.mode == SessionMode::EndToEnd {
                    return Err(Error::WrongMode {
                        mode: s.mode,
                        reason: "an end-to-end session's group carries its mode descriptor",
                    });
                }
                if descriptor.len() > MAX_MODE_DESCRIPTOR_LEN {
                    return Err(Error::TooLarge {
                        what: "mode descriptor",
                        limit: MAX_MODE_DESCRIPTOR_LEN,
                    });
                }
                if s.mode_descriptor.is_some() {
                    return Err(Error::Conflict {
                        what: "mode descriptor",
                        reason: "already attached",
                    });
                }
                if !store
                    .items(tenant, session, Page::first(1))
                    .await?
                    .is_empty()
                {
                    return Err(Error::Conflict {
                        what: "mode descriptor",
                        reason: "the session already has content",
                    });
                }
                let parsed = ModeDescriptor::parse(&descriptor)?;
                let checks = [
                    (
                        parsed
                            .check_session(
                                crypto_id(&tenant).as_bytes(),
                                crypto_id(&session).as_bytes(),
                            )
                            .is_ok(),
                        "it names another session",
                    ),
                    (parsed.mode() == s.mode, "it names another mode"),
                    (
                        parsed.creator().as_bytes() == caller.subject.to_string().as_bytes(),
                        "it names another creator than the caller",
                    ),
                ];
                if let Some((_, reason)) = checks.iter().find(|(ok, _)| !ok) {
                    return Err(Error::Invalid {
                        what: "mode descriptor",
                        reason,
                    });
                }
                let binding = hex::encode(parsed.binding().0);
                s.mode_descriptor = Some(descriptor);
                let mut tx = self.tx_of(caller, tenant);
                tx.write(Write::UpdateSession(s.clone()));
                tx.audit(
                    &store,
                    AuditKind::SessionKeysChanged,
                    AuditObject::Session(session),
                    vec![Change::new(
                        "mode_descriptor",
                        None::<String>,
                        Some(binding),
                    )],
                    Some(&decision),
                    false,
                )
                .await?;
                self.commit(&store, tx).await?;
                s.revision += 1;
                Ok(s)
            },
        )
        .await
    }
}
