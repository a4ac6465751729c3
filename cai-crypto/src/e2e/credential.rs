//! Device credentials: who a leaf of an MLS group is, cross-signed by its user.
//!
//! The identity of an MLS basic credential is a [`DeviceCredential`]: account id, device
//! id, the user's identity key, the device's MLS signature key and its X25519 box key,
//! signed by the **user identity key**. Only the holder of that key can make a device
//! of the user, so a server that plants a "ghost" device must also replace the user's
//! identity key — which every member sees ([`TrustStore`](super::TrustStore)) and which
//! changes the verification code.

use core::fmt;

use super::device::{DEVICE_PUBLIC_KEY_LEN, DeviceId, DevicePublicKey, MAX_DEVICE_ID_LEN};
use super::identity::{IDENTITY_PUBLIC_KEY_LEN, IdentityKey, IdentityPublicKey};
use super::wire::{Reader, put_preamble, put_var8, read_preamble};
use crate::{Error, Result};

/// Kind byte of a device credential.
pub const KIND_CREDENTIAL: u8 = 0x01;
/// Longest account id, in bytes.
pub const MAX_ACCOUNT_ID_LEN: usize = 64;

/// An account id as the end-to-end layer sees it: opaque bytes, 1 to
/// [`MAX_ACCOUNT_ID_LEN`] long (cai-core uses the 16 bytes of the account's UUID).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountRef(Vec<u8>);

impl AccountRef {
    /// An account id; [`Error::InvalidContext`] unless 1 to [`MAX_ACCOUNT_ID_LEN`] bytes.
    pub fn new(bytes: &[u8]) -> Result<Self> {
        if bytes.is_empty() || bytes.len() > MAX_ACCOUNT_ID_LEN {
            return Err(Error::InvalidContext {
                field: "account id",
                len: bytes.len(),
                max: MAX_ACCOUNT_ID_LEN,
            });
        }
        Ok(Self(bytes.to_vec()))
    }

    /// The id's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for AccountRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountRef(")?;
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))?;
        write!(f, ")")
    }
}

/// A device's credential, signed by its user's identity key. Parsing checks the
/// encoding, the keys and the cross-signature, so a `DeviceCredential` value is always
/// one its user made.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceCredential {
    account: AccountRef,
    device: DeviceId,
    user_key: IdentityPublicKey,
    signature_key: IdentityPublicKey,
    box_key: DevicePublicKey,
    bytes: Vec<u8>,
}

impl DeviceCredential {
    /// Issues a credential for a device of `account`, signed by the user's identity key.
    pub fn issue(
        user: &IdentityKey,
        account: &AccountRef,
        device: &DeviceId,
        signature_key: &IdentityPublicKey,
        box_key: &DevicePublicKey,
    ) -> Result<Self> {
        box_key.validate()?;
        let mut out = Vec::with_capacity(256);
        put_preamble(&mut out, KIND_CREDENTIAL);
        put_var8(&mut out, account.as_bytes())?;
        put_var8(&mut out, device.as_bytes())?;
        out.extend_from_slice(&user.public().to_bytes());
        out.extend_from_slice(&signature_key.to_bytes());
        out.extend_from_slice(&box_key.to_bytes());
        let sig = user.sign(&super::signature_input(&out));
        out.extend_from_slice(&sig);
        Self::parse(&out)
    }

    /// Parses and verifies a credential (strict Ed25519, valid keys).
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        const WHAT: &str = "device credential";
        let mut r = Reader::new(bytes, WHAT);
        read_preamble(&mut r, WHAT, KIND_CREDENTIAL)?;
        let account = AccountRef::new(r.var8(MAX_ACCOUNT_ID_LEN, "account id length")?)?;
        let device = DeviceId::new(r.var8(MAX_DEVICE_ID_LEN, "device id length")?)?;
        let user_key = IdentityPublicKey::from_bytes(&r.array::<IDENTITY_PUBLIC_KEY_LEN>()?)?;
        let signature_key = IdentityPublicKey::from_bytes(&r.array::<IDENTITY_PUBLIC_KEY_LEN>()?)?;
        let box_key = DevicePublicKey::from_bytes(r.array::<DEVICE_PUBLIC_KEY_LEN>()?);
        box_key.validate()?;
        super::verify_signed_tail(&mut r, bytes, &user_key)?;
        Ok(Self {
            account,
            device,
            user_key,
            signature_key,
            box_key,
            bytes: bytes.to_vec(),
        })
    }

    /// The account this device belongs to.
    pub fn account(&self) -> &AccountRef {
        &self.account
    }

    /// The device's id.
    pub fn device(&self) -> &DeviceId {
        &self.device
    }

    /// The user identity key that signed this credential.
    pub fn user_key(&self) -> &IdentityPublicKey {
        &self.user_key
    }

    /// The device's MLS signature key (its leaf's `signature_key`).
    pub fn signature_key(&self) -> &IdentityPublicKey {
        &self.signature_key
    }

    /// The device's X25519 box key, to which history grants are sealed.
    pub fn box_key(&self) -> &DevicePublicKey {
        &self.box_key
    }

    /// The encoded credential (the MLS basic credential's identity).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for DeviceCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceCredential")
            .field("account", &self.account)
            .field("device", &self.device)
            .field("user_key", &self.user_key)
            .finish_non_exhaustive()
    }
}

/// The credential of an MLS leaf: a basic credential holding a [`DeviceCredential`]
/// whose signature key is the leaf's own. Anything else is [`Error::Untrusted`].
pub(crate) fn of_leaf(
    credential: &openmls::prelude::Credential,
    leaf_signature_key: &[u8],
) -> Result<DeviceCredential> {
    let basic = openmls::prelude::BasicCredential::try_from(credential.clone()).map_err(|_| {
        Error::Untrusted {
            reason: "not a basic credential",
        }
    })?;
    let c = DeviceCredential::parse(basic.identity()).map_err(|_| Error::Untrusted {
        reason: "credential is not a valid cross-signed cai device credential",
    })?;
    if c.signature_key.to_bytes().as_slice() != leaf_signature_key {
        return Err(Error::Untrusted {
            reason: "credential names another signature key than the leaf's",
        });
    }
    Ok(c)
}

/// The credentials of a group's members (an `MlsGroup`'s or a `PublicGroup`'s), in
/// credential byte order.
pub(crate) fn of_members(
    members: impl Iterator<Item = openmls::prelude::Member>,
) -> Result<Vec<DeviceCredential>> {
    let mut out = members
        .map(|m| of_leaf(&m.credential, &m.signature_key))
        .collect::<Result<Vec<_>>>()?;
    sort(&mut out);
    Ok(out)
}

/// Sorts credentials into byte order, the order every member list of this module uses.
pub(crate) fn sort(credentials: &mut [DeviceCredential]) {
    credentials.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
}
