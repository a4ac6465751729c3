//! The contexts that bind ciphertexts to their place, built from typed ids.
//!
//! Every id enters a context as the UTF-8 bytes of its text form (`"ses_…"`), as
//! `docs/CORE.md` tells frontend teams; these helpers make a Rust client or host use
//! the same bytes without spelling them out.

use cai_crypto::hierarchy::session_wrap_context;
use cai_crypto::{ContentKind, ItemContext, ModeBinding};

use crate::domain::Session;
use crate::error::Result;
use crate::id::{ItemId, SessionId, TenantId};

/// The ids of one item as its envelope binds them. Owns their text forms so an
/// [`ItemContext`] can borrow them.
///
/// ```
/// use cai_core::id::{ItemId, SessionId, TenantId};
/// use cai_core::service::ItemIds;
/// use cai_crypto::{ContentKind, envelope, DataKey, KeyEpoch};
///
/// let ids = ItemIds::new(TenantId::random()?, SessionId::random()?, ItemId::random()?);
/// let key = DataKey::generate(KeyEpoch::INITIAL)?;
/// let sealed = envelope::seal(&key, &ids.context(1, ContentKind::Message), b"hello")?;
/// assert_eq!(envelope::open(&key, &ids.context(1, ContentKind::Message), &sealed)?, b"hello");
/// // Another version, another item or another session does not open.
/// assert!(envelope::open(&key, &ids.context(2, ContentKind::Message), &sealed).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemIds {
    tenant: String,
    session: String,
    item: String,
    mode: Option<ModeBinding>,
}

impl ItemIds {
    /// The text forms of these ids, for a session without a mode descriptor.
    pub fn new(tenant: TenantId, session: SessionId, item: ItemId) -> Self {
        Self {
            tenant: tenant.to_string(),
            session: session.to_string(),
            item: item.to_string(),
            mode: None,
        }
    }

    /// The ids of `item` in session `s`, with the binding of the session's mode
    /// descriptor if it has one ([`Session::mode_binding`]).
    pub fn in_session(s: &Session, item: ItemId) -> Self {
        Self {
            mode: s.mode_binding(),
            ..Self::new(s.tenant, s.id, item)
        }
    }

    /// The same ids with the binding of an accepted mode descriptor (a client's
    /// `ModeDescriptor::accept(…)?.binding()`), or none.
    pub fn with_mode(self, mode: Option<ModeBinding>) -> Self {
        Self { mode, ..self }
    }

    /// The envelope context of `version` of the item, of `kind`.
    pub fn context(&self, version: u32, kind: ContentKind) -> ItemContext<'_> {
        ItemContext::new(
            self.tenant.as_bytes(),
            self.session.as_bytes(),
            self.item.as_bytes(),
            version,
            kind,
        )
        .with_mode(self.mode)
    }
}

/// The context a session's data key is wrapped under (`docs/KEYS.md`), from typed ids.
pub fn session_key_context(tenant: TenantId, session: SessionId) -> Result<Vec<u8>> {
    Ok(session_wrap_context(
        tenant.to_string().as_bytes(),
        session.to_string().as_bytes(),
    )?)
}
