//! The contexts that bind ciphertexts to their place, built from typed ids.
//!
//! Every id enters a context as the UTF-8 bytes of its text form (`"ses_…"`), as
//! `docs/CORE.md` tells frontend teams; these helpers make a Rust client or host use
//! the same bytes without spelling them out.

use cai_crypto::hierarchy::session_wrap_context;
use cai_crypto::{ContentKind, ItemContext};

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
}

impl ItemIds {
    /// The text forms of these ids.
    pub fn new(tenant: TenantId, session: SessionId, item: ItemId) -> Self {
        Self {
            tenant: tenant.to_string(),
            session: session.to_string(),
            item: item.to_string(),
        }
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
    }
}

/// The context a session's data key is wrapped under (`docs/KEYS.md`), from typed ids.
pub fn session_key_context(tenant: TenantId, session: SessionId) -> Result<Vec<u8>> {
    Ok(session_wrap_context(
        tenant.to_string().as_bytes(),
        session.to_string().as_bytes(),
    )?)
}
