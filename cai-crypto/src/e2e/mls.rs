//! The MLS profile of cai on `openmls`: cipher suite, capabilities, group
//! configuration, the provider (RustCrypto crypto + in-memory storage that can be saved
//! as bytes) and error mapping.

use std::collections::HashMap;
use std::sync::RwLock;

use openmls::prelude::{
    Capabilities, Ciphersuite, CredentialType, Extension, ExtensionType, Extensions,
    MlsGroupCreateConfig, MlsGroupJoinConfig, PURE_PLAINTEXT_WIRE_FORMAT_POLICY, ProposalType,
    ProtocolVersion, RequiredCapabilitiesExtension, SenderRatchetConfiguration, UnknownExtension,
};
use openmls_rust_crypto::{MemoryStorage, RustCrypto};
use openmls_traits::OpenMlsProvider;
use openmls_traits::signatures::{Signer, SignerError};
use openmls_traits::types::SignatureScheme;
use zeroize::Zeroizing;

use super::identity::IdentityKey;
use super::wire::Reader;
use crate::{Error, Result};

/// The one MLS cipher suite of cai: `MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519`
/// (0x0001), the suite every RFC 9420 implementation must support.
pub const CIPHERSUITE: Ciphersuite = Ciphersuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;

/// Group-context extension type (private-use range, RFC 9420 §17.3) that carries the
/// session's signed [`ModeDescriptor`](super::ModeDescriptor). Every member must support
/// it: the group's `required_capabilities` names it.
pub const EXTENSION_MODE_DESCRIPTOR: u16 = 0xF0C1;

/// Largest MLS message (commit, welcome, group info, key package) accepted, in bytes.
pub const MAX_MLS_MESSAGE_LEN: usize = 4 * 1024 * 1024;

/// Most leaves (devices) a group may hold.
pub const MAX_GROUP_MEMBERS: usize = 256;

/// Largest saved state (device or Delivery Service group), in bytes.
pub const MAX_STATE_LEN: usize = 64 * 1024 * 1024;

/// A copy of the provider's store (key, value pairs), zeroized on drop.
pub(crate) type Snapshot = Zeroizing<Vec<(Vec<u8>, Vec<u8>)>>;

/// The provider: RustCrypto primitives and an in-memory store that [`save`](Self::save)
/// turns into bytes.
#[derive(Default)]
pub(crate) struct Provider {
    crypto: RustCrypto,
    storage: MemoryStorage,
}

impl OpenMlsProvider for Provider {
    type CryptoProvider = RustCrypto;
    type RandProvider = RustCrypto;
    type StorageProvider = MemoryStorage;

    fn storage(&self) -> &MemoryStorage {
        &self.storage
    }

    fn crypto(&self) -> &RustCrypto {
        &self.crypto
    }

    fn rand(&self) -> &RustCrypto {
        &self.crypto
    }
}

impl Provider {
    /// The store as bytes: `count u32 ‖ (klen u32 ‖ vlen u32 ‖ k ‖ v)*`, sorted by key.
    /// Holds private keys: zeroized on drop; the caller encrypts it.
    pub(crate) fn save(&self) -> Result<Zeroizing<Vec<u8>>> {
        let values = self.storage.values.read().map_err(|_| Error::Mls {
            op: "save state",
            reason: "storage lock poisoned".into(),
        })?;
        let mut entries: Vec<_> = values.iter().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut out = Zeroizing::new(Vec::new());
        out.extend_from_slice(&len32(entries.len())?.to_be_bytes());
        for (k, v) in entries {
            out.extend_from_slice(&len32(k.len())?.to_be_bytes());
            out.extend_from_slice(&len32(v.len())?.to_be_bytes());
            out.extend_from_slice(k);
            out.extend_from_slice(v);
        }
        Ok(out)
    }

    /// A copy of the store, to [`restore`](Self::restore) when an operation that
    /// consumes stored keys (joining from a welcome) is refused after the fact.
    pub(crate) fn snapshot(&self) -> Result<Snapshot> {
        let values = self.storage.values.read().map_err(|_| poisoned())?;
        Ok(Zeroizing::new(
            values.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        ))
    }

    /// Puts back the store as it was at [`snapshot`](Self::snapshot).
    pub(crate) fn restore(&self, snapshot: &[(Vec<u8>, Vec<u8>)]) -> Result<()> {
        let mut values = self.storage.values.write().map_err(|_| poisoned())?;
        values.clear();
        values.extend(snapshot.iter().cloned());
        Ok(())
    }

    /// The inverse of [`save`](Self::save); bounded by the input's length.
    pub(crate) fn load(r: &mut Reader<'_>) -> Result<Self> {
        let count = r.u32()? as usize;
        let mut map = HashMap::with_capacity(count.min(4096));
        for _ in 0..count {
            let k = r.u32()? as usize;
            let v = r.u32()? as usize;
            let key = r.take(k)?.to_vec();
            let value = r.take(v)?.to_vec();
            if map.insert(key, value).is_some() {
                return Err(Error::Malformed {
                    what: "MLS state",
                    reason: "a key appears twice",
                });
            }
        }
        Ok(Self {
            crypto: RustCrypto::default(),
            storage: MemoryStorage {
                values: RwLock::new(map),
            },
        })
    }
}

fn poisoned() -> Error {
    Error::Mls {
        op: "state",
        reason: "storage lock poisoned".into(),
    }
}

fn len32(n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| Error::TooLarge {
        what: "MLS state",
        len: n as u64,
        limit: u64::from(u32::MAX),
    })
}

/// An Ed25519 key as openmls' [`Signer`]: the device's MLS signature key.
pub(crate) struct LeafSigner<'a>(pub(crate) &'a IdentityKey);

impl Signer for LeafSigner<'_> {
    fn sign(&self, payload: &[u8]) -> core::result::Result<Vec<u8>, SignerError> {
        Ok(self.0.sign(payload).to_vec())
    }

    fn signature_scheme(&self) -> SignatureScheme {
        SignatureScheme::ED25519
    }
}

/// What every cai leaf supports: MLS 1.0, the one suite, basic credentials, the
/// mode-descriptor extension and last-resort key packages (RFC 9420 §17.3 requires a
/// key package's extensions to be in its leaf's capabilities).
pub(crate) fn capabilities() -> Capabilities {
    Capabilities::new(
        Some(&[ProtocolVersion::Mls10]),
        Some(&[CIPHERSUITE]),
        Some(&[
            ExtensionType::Unknown(EXTENSION_MODE_DESCRIPTOR),
            ExtensionType::LastResort,
        ]),
        None,
        Some(&[CredentialType::Basic]),
    )
}

/// How a device joins: handshake messages are public (the Delivery Service verifies and
/// orders them); no MLS application messages are used (content is sealed with exporter
/// keys, see `content`).
pub(crate) fn join_config() -> MlsGroupJoinConfig {
    MlsGroupJoinConfig::builder()
        .wire_format_policy(PURE_PLAINTEXT_WIRE_FORMAT_POLICY)
        .use_ratchet_tree_extension(true)
        .sender_ratchet_configuration(SenderRatchetConfiguration::default())
        .max_past_epochs(0)
        .build()
}

/// How a session's creator makes its group: [`join_config`], plus the required
/// capabilities and the signed mode descriptor in the group context.
pub(crate) fn create_config(descriptor: &[u8]) -> Result<MlsGroupCreateConfig> {
    let extensions = Extensions::from_vec(vec![
        Extension::RequiredCapabilities(RequiredCapabilitiesExtension::new(
            &[ExtensionType::Unknown(EXTENSION_MODE_DESCRIPTOR)],
            &[] as &[ProposalType],
            &[CredentialType::Basic],
        )),
        Extension::Unknown(
            EXTENSION_MODE_DESCRIPTOR,
            UnknownExtension(descriptor.to_vec()),
        ),
    ])
    .map_err(|e| mls("group extensions", e))?;
    Ok(MlsGroupCreateConfig::builder()
        .ciphersuite(CIPHERSUITE)
        .wire_format_policy(PURE_PLAINTEXT_WIRE_FORMAT_POLICY)
        .use_ratchet_tree_extension(true)
        .capabilities(capabilities())
        .max_past_epochs(0)
        .with_group_context_extensions(extensions)
        .build())
}

/// An openmls error as [`Error::Mls`].
pub(crate) fn mls(op: &'static str, e: impl core::fmt::Display) -> Error {
    Error::Mls {
        op,
        reason: e.to_string(),
    }
}

/// Refuses saved state longer than [`MAX_STATE_LEN`], on save and on load alike.
pub(crate) fn check_state_len(what: &'static str, len: usize) -> Result<()> {
    if len > MAX_STATE_LEN {
        return Err(Error::TooLarge {
            what,
            len: len as u64,
            limit: MAX_STATE_LEN as u64,
        });
    }
    Ok(())
}

/// Refuses MLS input longer than [`MAX_MLS_MESSAGE_LEN`] before it is parsed.
pub(crate) fn check_len(what: &'static str, bytes: &[u8]) -> Result<()> {
    if bytes.len() > MAX_MLS_MESSAGE_LEN {
        return Err(Error::TooLarge {
            what,
            len: bytes.len() as u64,
            limit: MAX_MLS_MESSAGE_LEN as u64,
        });
    }
    Ok(())
}
