//! The context a content item is sealed in, bound into every ciphertext as associated
//! data: a ciphertext moved to another tenant, session, item, version or kind no longer
//! opens.

use crate::{Error, Result};

/// Longest tenant, session or item id accepted, in bytes.
pub const MAX_ID_LEN: usize = 255;

/// What kind of content an item is. The code is part of the associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ContentKind {
    /// A chat message.
    Message,
    /// A counsellor's note.
    Note,
    /// An uploaded file.
    File,
    /// A document with versions.
    Document,
    /// Whiteboard state.
    Whiteboard,
    /// An audio or video recording.
    Recording,
    /// Key material (wrapped keys, key bundles) stored as content.
    KeyMaterial,
}

impl ContentKind {
    /// All kinds, in code order.
    pub const ALL: [ContentKind; 7] = [
        ContentKind::Message,
        ContentKind::Note,
        ContentKind::File,
        ContentKind::Document,
        ContentKind::Whiteboard,
        ContentKind::Recording,
        ContentKind::KeyMaterial,
    ];

    /// The one-byte wire code (see `docs/ENVELOPE.md`).
    pub fn code(self) -> u8 {
        match self {
            ContentKind::Message => 1,
            ContentKind::Note => 2,
            ContentKind::File => 3,
            ContentKind::Document => 4,
            ContentKind::Whiteboard => 5,
            ContentKind::Recording => 6,
            ContentKind::KeyMaterial => 7,
        }
    }

    /// The kind with wire code `code`.
    pub fn from_code(code: u8) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.code() == code)
            .ok_or(Error::Malformed {
                what: "content kind",
                reason: "unknown code",
            })
    }
}

/// Length of a [`ModeBinding`].
pub const MODE_BINDING_LEN: usize = 32;

/// The binding of a session's signed mode descriptor: SHA-256 of its encoding
/// ([`ModeDescriptor::binding`](crate::e2e::ModeDescriptor::binding)). Public.
///
/// In a session that has a descriptor, every item's context carries it
/// ([`ItemContext::with_mode`]), so an item sealed under one announced mode does not
/// open under another, and a client that opens an item knows the sealer saw the same
/// signed mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ModeBinding(pub [u8; MODE_BINDING_LEN]);

impl ModeBinding {
    /// The binding of descriptor bytes that were accepted before (a server that checked
    /// them when they were attached, a client that keeps what it accepted); equal to
    /// [`ModeDescriptor::binding`](crate::e2e::ModeDescriptor::binding) without parsing
    /// or verifying again.
    pub fn of_accepted(descriptor: &[u8]) -> Self {
        use sha2::Digest;
        Self(sha2::Sha256::digest(descriptor).into())
    }
}

/// Where a content item lives. Ids are opaque bytes (the domain's typed ids, encoded
/// by `cai-core`), each 1 to [`MAX_ID_LEN`] bytes long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemContext<'a> {
    /// Tenant id.
    pub tenant: &'a [u8],
    /// Session id.
    pub session: &'a [u8],
    /// Content item id.
    pub item: &'a [u8],
    /// Item version (documents have several).
    pub version: u32,
    /// Content kind.
    pub kind: ContentKind,
    /// The session's mode binding, in sessions with a signed mode descriptor.
    pub mode: Option<ModeBinding>,
}

impl<'a> ItemContext<'a> {
    /// A context; validated when it is encoded.
    pub fn new(
        tenant: &'a [u8],
        session: &'a [u8],
        item: &'a [u8],
        version: u32,
        kind: ContentKind,
    ) -> Self {
        Self {
            tenant,
            session,
            item,
            version,
            kind,
            mode: None,
        }
    }

    /// The same context carrying the session's mode binding (or none).
    pub fn with_mode(self, mode: Option<ModeBinding>) -> Self {
        Self { mode, ..self }
    }

    /// Number of bytes [`encode_into`](Self::encode_into) appends.
    pub fn encoded_len(&self) -> usize {
        let binding = if self.mode.is_some() {
            1 + MODE_BINDING_LEN
        } else {
            0
        };
        3 + self.tenant.len() + self.session.len() + self.item.len() + 4 + 1 + binding
    }

    /// Appends the canonical encoding:
    /// `len(tenant) tenant len(session) session len(item) item version:u32be kind:u8`,
    /// each `len` one byte, followed in a session with a mode descriptor by
    /// `0x01 ‖ binding` (33 bytes). The ids' length prefixes fix where `kind` ends, so
    /// the two forms cannot be confused.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<()> {
        for (field, value) in [
            ("tenant", self.tenant),
            ("session", self.session),
            ("item", self.item),
        ] {
            push_id(out, field, value)?;
        }
        out.extend_from_slice(&self.version.to_be_bytes());
        out.push(self.kind.code());
        if let Some(ModeBinding(binding)) = &self.mode {
            out.push(0x01);
            out.extend_from_slice(binding);
        }
        Ok(())
    }
}

/// Appends one id as `len:u8 ‖ id`, rejecting empty ids and ids over [`MAX_ID_LEN`].
/// Shared by every encoding that names tenants, sessions or items.
pub(crate) fn push_id(out: &mut Vec<u8>, field: &'static str, value: &[u8]) -> Result<()> {
    let len = u8::try_from(value.len())
        .ok()
        .filter(|l| *l > 0)
        .ok_or(Error::InvalidContext {
            field,
            len: value.len(),
            max: MAX_ID_LEN,
        })?;
    out.push(len);
    out.extend_from_slice(value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_is_length_prefixed() {
        let ctx = ItemContext::new(b"t1", b"s", b"item", 7, ContentKind::Note);
        let mut out = Vec::new();
        ctx.encode_into(&mut out).unwrap();
        assert_eq!(out, b"\x02t1\x01s\x04item\x00\x00\x00\x07\x02");
        assert_eq!(out.len(), ctx.encoded_len());
    }

    #[test]
    fn mode_binding_follows_the_kind() {
        let binding = ModeBinding([0xab; MODE_BINDING_LEN]);
        let ctx =
            ItemContext::new(b"t1", b"s", b"item", 7, ContentKind::Note).with_mode(Some(binding));
        let mut out = Vec::new();
        ctx.encode_into(&mut out).unwrap();
        let mut expected = b"\x02t1\x01s\x04item\x00\x00\x00\x07\x02\x01".to_vec();
        expected.extend_from_slice(&[0xab; MODE_BINDING_LEN]);
        assert_eq!(out, expected);
        assert_eq!(out.len(), ctx.encoded_len());
        assert_eq!(ctx.with_mode(None).encoded_len(), out.len() - 33);
    }

    #[test]
    fn empty_and_long_ids_are_rejected() {
        let long = [b'a'; MAX_ID_LEN + 1];
        for ctx in [
            ItemContext::new(b"", b"s", b"i", 0, ContentKind::File),
            ItemContext::new(b"t", &long, b"i", 0, ContentKind::File),
        ] {
            assert!(matches!(
                ctx.encode_into(&mut Vec::new()),
                Err(Error::InvalidContext { .. })
            ));
        }
    }

    #[test]
    fn kind_codes_round_trip() {
        for k in ContentKind::ALL {
            assert_eq!(ContentKind::from_code(k.code()).unwrap(), k);
        }
        assert!(ContentKind::from_code(0).is_err());
    }
}
