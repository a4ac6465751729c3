//! Content items and their versions (R-S4, R-S5). The body of every version is sealed
//! before any port sees it: by the service under the session key (server-managed mode)
//! or by the client (every other mode). Ports only ever hold [`SealedBody`].

use std::fmt;

use cai_crypto::ContentKind;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};
use crate::id::{BlobId, ItemId, SessionId, SubjectId, TenantId};
use crate::time::Timestamp;

/// Ciphertext of one content version: a `cai-crypto` envelope (`CAIE`) or stream
/// (`CAIS`). The constructor checks the format's magic and version, so plaintext cannot
/// be stored by mistake, and the size limit. JSON: the bytes in standard base64; a
/// deserialized body is checked like [`SealedBody::new`] checks it.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedBody(Vec<u8>);

impl SealedBody {
    /// Largest body accepted inline: 16 MiB. Larger files belong in a blob store with a
    /// streamed envelope; the item then holds a reference.
    pub const MAX_LEN: usize = 16 << 20;

    /// Checks that `bytes` are an envelope or stream of a version this SDK reads.
    pub fn new(bytes: Vec<u8>) -> Result<Self> {
        if bytes.len() > Self::MAX_LEN {
            return Err(Error::TooLarge {
                what: "sealed content",
                limit: Self::MAX_LEN,
            });
        }
        let sealed = bytes.starts_with(&cai_crypto::envelope::MAGIC)
            && cai_crypto::envelope::EnvelopeHeader::parse(&bytes).is_ok()
            || bytes.starts_with(&cai_crypto::stream::MAGIC)
                && cai_crypto::stream::StreamHeader::parse(&bytes).is_ok();
        if !sealed {
            return Err(Error::Invalid {
                what: "sealed content",
                reason: "not a cai envelope or stream",
            });
        }
        Ok(Self(bytes))
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The bytes, owned.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Never true (a sealed body has at least a header); here for clippy's sake.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for SealedBody {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        crate::json::base64::serialize(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for SealedBody {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let bytes = crate::json::base64::deserialize(d)?;
        Self::new(bytes).map_err(serde::de::Error::custom)
    }
}

impl fmt::Debug for SealedBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedBody({} bytes)", self.0.len())
    }
}

/// A content item: its identity and kind. Versions hold the bodies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentItem {
    /// The item's id.
    pub id: ItemId,
    /// Its tenant.
    pub tenant: TenantId,
    /// Its session.
    pub session: SessionId,
    /// Message, note, file, document, …
    #[serde(with = "crate::json::content_kind")]
    pub kind: ContentKind,
    /// Who created it.
    pub author: SubjectId,
    /// When it was created.
    pub created_at: Timestamp,
    /// The newest version (1 for items never edited).
    pub latest_version: u32,
    /// For a file or recording uploaded with
    /// [`Counselling::upload_file`](crate::Counselling::upload_file): the blob holding
    /// its sealed stream (its versions hold the sealed manifest). `None` for every other
    /// item. At most one item of a tenant refers to a blob. JSON: left out when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob: Option<BlobId>,
}

/// One version of an item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentVersion {
    /// The item.
    pub item: ItemId,
    /// Its tenant.
    pub tenant: TenantId,
    /// Its session.
    pub session: SessionId,
    /// 1, 2, 3, …
    pub version: u32,
    /// Who wrote this version.
    pub author: SubjectId,
    /// When.
    pub created_at: Timestamp,
    /// Key epoch the body was sealed under.
    pub key_epoch: u32,
    /// The ciphertext.
    pub body: SealedBody,
}
