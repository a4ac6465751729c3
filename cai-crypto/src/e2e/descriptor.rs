//! The signed mode descriptor: which encryption mode a session has, said by its creator.
//!
//! A server that could tell a newly joining device "this session is server-managed"
//! would silently downgrade it. So the creator's device signs a [`ModeDescriptor`] with
//! the creator's user identity key, and in end-to-end mode the descriptor is a
//! group-context extension of the session's MLS group
//! ([`EXTENSION_MODE_DESCRIPTOR`](super::EXTENSION_MODE_DESCRIPTOR)): it enters the key
//! schedule, so a member holding another descriptor derives other keys, and every
//! joining device checks it against the session it meant to join. In the other three
//! modes the creator attaches it to the session (`cai-core`), clients accept it with
//! [`ModeDescriptor::accept`] before sealing or opening, and its
//! [`binding`](ModeDescriptor::binding) is part of every item's context, so an item
//! sealed under another descriptor does not open.

use core::fmt;

use super::credential::{AccountRef, MAX_ACCOUNT_ID_LEN};
use super::identity::{IDENTITY_PUBLIC_KEY_LEN, IdentityKey, IdentityPublicKey};
use super::trust::TrustStore;
use super::wire::{Reader, put_preamble, put_var8, read_preamble};
use crate::context::{MAX_ID_LEN, ModeBinding};
use crate::modes::SessionMode;
use crate::{Error, Result};

/// Kind byte of a mode descriptor.
pub const KIND_MODE_DESCRIPTOR: u8 = 0x02;

/// A session's encryption mode, signed by its creator's user identity key.
#[derive(Clone, PartialEq, Eq)]
pub struct ModeDescriptor {
    mode: SessionMode,
    tenant: Vec<u8>,
    session: Vec<u8>,
    creator: AccountRef,
    creator_key: IdentityPublicKey,
    bytes: Vec<u8>,
}

impl ModeDescriptor {
    /// Signs the descriptor of a new session on the creator's device.
    pub fn sign(
        creator_key: &IdentityKey,
        creator: &AccountRef,
        tenant: &[u8],
        session: &[u8],
        mode: SessionMode,
    ) -> Result<Self> {
        check_id("tenant id", tenant)?;
        check_id("session id", session)?;
        let mut out = Vec::with_capacity(200);
        put_preamble(&mut out, KIND_MODE_DESCRIPTOR);
        out.push(mode.code());
        put_var8(&mut out, tenant)?;
        put_var8(&mut out, session)?;
        put_var8(&mut out, creator.as_bytes())?;
        out.extend_from_slice(&creator_key.public().to_bytes());
        let sig = creator_key.sign(&super::signature_input(&out));
        out.extend_from_slice(&sig);
        Self::parse(&out)
    }

    /// Parses a descriptor and checks its signature against the key it names. Whether
    /// that key is the creator's is the caller's question ([`Self::creator_key`]).
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        const WHAT: &str = "mode descriptor";
        let mut r = Reader::new(bytes, WHAT);
        read_preamble(&mut r, WHAT, KIND_MODE_DESCRIPTOR)?;
        let mode = SessionMode::from_code(r.u8()?)?;
        let tenant = r.var8(MAX_ID_LEN, "tenant id length")?.to_vec();
        let session = r.var8(MAX_ID_LEN, "session id length")?.to_vec();
        let creator = AccountRef::new(r.var8(MAX_ACCOUNT_ID_LEN, "account id length")?)?;
        let creator_key = IdentityPublicKey::from_bytes(&r.array::<IDENTITY_PUBLIC_KEY_LEN>()?)?;
        super::verify_signed_tail(&mut r, bytes, &creator_key)?;
        Ok(Self {
            mode,
            tenant,
            session,
            creator,
            creator_key,
            bytes: bytes.to_vec(),
        })
    }

    /// Checks that the descriptor is for `tenant`/`session`, else [`Error::Rejected`].
    pub fn check_session(&self, tenant: &[u8], session: &[u8]) -> Result<()> {
        if self.tenant != tenant || self.session != session {
            return Err(Error::Rejected {
                what: "mode descriptor",
                reason: "made for another session",
            });
        }
        Ok(())
    }

    /// The mode.
    pub fn mode(&self) -> SessionMode {
        self.mode
    }

    /// The tenant id.
    pub fn tenant(&self) -> &[u8] {
        &self.tenant
    }

    /// The session id.
    pub fn session(&self) -> &[u8] {
        &self.session
    }

    /// The creator's account.
    pub fn creator(&self) -> &AccountRef {
        &self.creator
    }

    /// The creator's user identity key that signed it.
    pub fn creator_key(&self) -> &IdentityPublicKey {
        &self.creator_key
    }

    /// The encoded descriptor.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// SHA-256 of the encoding: what the other modes bind into their item contexts
    /// ([`ItemContext::with_mode`](crate::ItemContext::with_mode)).
    pub fn binding(&self) -> ModeBinding {
        ModeBinding::of_accepted(&self.bytes)
    }

    /// What a client does with the descriptor the server hands it for a session in
    /// any mode, before it seals or opens anything there: parses it and checks its
    /// signature, that it names `tenant`/`session`, that it was made by the session's
    /// `owner` (the account the session names as its owner; anyone else's descriptor,
    /// however trusted its key, is [`Error::Rejected`]), that its mode is the one the
    /// server `announced` (a mismatch is a downgrade attempt: [`Error::Rejected`]), and
    /// that the owner's identity key is the one `trust` holds for the owner
    /// ([`Error::Untrusted`] otherwise; a trust-on-first-use store learns it — the
    /// returned descriptor's [`creator_key`](Self::creator_key) is then worth showing
    /// as a new key). Returns the descriptor, whose [`binding`](Self::binding) goes into
    /// every item context of the session.
    pub fn accept(
        bytes: &[u8],
        tenant: &[u8],
        session: &[u8],
        owner: &AccountRef,
        announced: SessionMode,
        trust: &mut TrustStore,
    ) -> Result<Self> {
        let descriptor = Self::parse(bytes)?;
        descriptor.check_session(tenant, session)?;
        if descriptor.creator != *owner {
            return Err(Error::Rejected {
                what: "mode descriptor",
                reason: "made by another account than the session's owner",
            });
        }
        if descriptor.mode != announced {
            return Err(Error::Rejected {
                what: "mode descriptor",
                reason: "the creator signed another mode than the server announced",
            });
        }
        trust.admit_user(&descriptor.creator, &descriptor.creator_key)?;
        Ok(descriptor)
    }
}

impl fmt::Debug for ModeDescriptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModeDescriptor")
            .field("mode", &self.mode)
            .field("creator", &self.creator)
            .finish_non_exhaustive()
    }
}

/// The MLS group id of a session: `"cai1" ‖ len8 tenant ‖ len8 session`.
pub fn group_id(tenant: &[u8], session: &[u8]) -> Result<Vec<u8>> {
    check_id("tenant id", tenant)?;
    check_id("session id", session)?;
    let mut out = Vec::with_capacity(6 + tenant.len() + session.len());
    out.extend_from_slice(b"cai1");
    put_var8(&mut out, tenant)?;
    put_var8(&mut out, session)?;
    Ok(out)
}

fn check_id(field: &'static str, id: &[u8]) -> Result<()> {
    if id.is_empty() || id.len() > MAX_ID_LEN {
        return Err(Error::InvalidContext {
            field,
            len: id.len(),
            max: MAX_ID_LEN,
        });
    }
    Ok(())
}
