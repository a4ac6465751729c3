//! The key hierarchy: tenant key-encryption keys wrap per-session data keys (R-E1, R-E2,
//! R-P4).
//!
//! Every tenant has a **key-encryption key** ([`Kek`]): 256 secret bits named by a
//! public [`KekId`] (the tenant's KEK lineage) and a `version` that rotation bumps. Each
//! session's [`DataKey`] is stored only as a [`WrappedKey`]: the data key encrypted under
//! the KEK, bound to a caller-supplied *wrap context* (tenant and session, see
//! [`session_wrap_context`]) so a wrapped key cannot be moved to another session.
//!
//! * **Rotation** ([`rewrap`], [`KekRing::rotate`]) unwraps with the old KEK and wraps
//!   with the new one. Content is never re-encrypted: only the 170-byte wrapped key
//!   changes.
//! * **Crypto-shredding** (R-P4): data keys are random and independent of the KEK.
//!   Deleting every wrapped copy of a data key (and every cached clear copy) makes the
//!   content sealed under it unreadable, even to whoever holds the KEK.
//!
//! The format is specified byte by byte in `docs/KEYS.md`:
//!
//! ```text
//! magic "CAIW" | version 0x01 | suite 0x01 | kek_id[16] | kek_version u32be
//!   | key_id[16] | epoch u32be | salt[32] | commitment[32] | nonce[12]
//!   | ciphertext[32] | tag[16]                                   (170 bytes)
//! ```
//!
//! `wrap_subkey ‖ commitment = HKDF-SHA256(ikm = KEK, salt, info = "cai wrapped key v1"
//! ‖ suite ‖ kek_id ‖ kek_version ‖ key_id ‖ epoch, L = 64)` with a fresh random salt per
//! wrap; the commitment is checked in constant time before decryption; the associated
//! data is the 122-byte header (everything before the ciphertext) followed by the wrap
//! context.
//!
//! ```
//! use cai_crypto::hierarchy::{Kek, KekRing, session_wrap_context};
//! use cai_crypto::{ContentKind, DataKey, ItemContext, KeyEpoch, envelope};
//!
//! let mut ring = KekRing::new(Kek::generate(1)?);
//! let ctx = session_wrap_context(b"tenant-1", b"session-9")?;
//!
//! // A new session: generate its data key, store only the wrapped copy.
//! let dek = DataKey::generate(KeyEpoch::INITIAL)?;
//! let stored = ring.wrap(&dek, &ctx)?.to_bytes();
//! let item = ItemContext::new(b"tenant-1", b"session-9", b"msg-1", 1, ContentKind::Message);
//! let sealed = envelope::seal(&dek, &item, b"hello")?;
//! drop(dek);
//!
//! // Rotate the KEK: the wrapped key is re-wrapped, the content is untouched.
//! ring.rotate()?;
//! let stored = ring.rewrap_to_current(&cai_crypto::hierarchy::WrappedKey::parse(&stored)?, &ctx)?;
//! ring.retire(1)?;
//!
//! let dek = ring.unwrap(&stored, &ctx)?;
//! assert_eq!(envelope::open(&dek, &item, &sealed)?, b"hello");
//! # Ok::<(), cai_crypto::Error>(())
//! ```

use core::fmt;

use crate::aead::{NONCE_LEN, TAG_LEN, default_backend};
use crate::kdf::hkdf_sha256;
use crate::keys::{DataKey, KEY_ID_LEN, KeyEpoch, KeyId};
use crate::secret::{SecretBytes, ct_eq_slices, random_array};
use crate::{Error, Result};

/// `info` prefix for wrapped-key subkeys and commitments.
pub const LABEL_WRAPPED_KEY: &[u8] = b"cai wrapped key v1";

/// The four magic bytes that open every wrapped key.
pub const MAGIC: [u8; 4] = *b"CAIW";
/// The wrapped-key format version this module writes and reads.
pub const VERSION: u8 = 0x01;
/// Suite 0x01: AES-256-GCM under an HKDF-SHA256 subkey with an HKDF-derived commitment.
pub const SUITE_AES256GCM_HKDF_SHA256: u8 = 0x01;
/// Length of a [`KekId`].
pub const KEK_ID_LEN: usize = 16;
/// Length of the salt that selects the wrapping subkey.
pub const SALT_LEN: usize = 32;
/// Length of the key commitment.
pub const COMMITMENT_LEN: usize = 32;
/// Length of the wrapped key's header, which is also the start of the associated data.
pub const HEADER_LEN: usize =
    4 + 1 + 1 + KEK_ID_LEN + 4 + KEY_ID_LEN + 4 + SALT_LEN + COMMITMENT_LEN + NONCE_LEN;
/// Length of an encoded [`WrappedKey`] (fixed).
pub const WRAPPED_KEY_LEN: usize = HEADER_LEN + 32 + TAG_LEN;
/// Longest wrap context accepted, in bytes. Contexts must not be empty.
pub const MAX_WRAP_CONTEXT_LEN: usize = 1024;

/// Public, random name of a tenant's KEK lineage. All versions of one tenant's KEK share
/// it. Not secret.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KekId([u8; KEK_ID_LEN]);

impl KekId {
    /// A fresh random id.
    pub fn random() -> Result<Self> {
        Ok(Self(random_array()?))
    }

    /// An id from its bytes.
    pub const fn from_bytes(bytes: [u8; KEK_ID_LEN]) -> Self {
        Self(bytes)
    }

    /// The id's bytes.
    pub const fn as_bytes(&self) -> &[u8; KEK_ID_LEN] {
        &self.0
    }
}

impl fmt::Display for KekId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for KekId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KekId({self})")
    }
}

/// A tenant key-encryption key: public id and version, 256 secret bits.
///
/// Zeroized on drop, redacted in `Debug`. Kept by the server (in an HSM or KMS in
/// production; this type is the software form used to wrap and unwrap).
#[derive(Clone, PartialEq, Eq)]
pub struct Kek {
    id: KekId,
    version: u32,
    secret: SecretBytes<32>,
}

impl Kek {
    /// A fresh KEK with a fresh random lineage id (a new tenant).
    pub fn generate(version: u32) -> Result<Self> {
        Ok(Self {
            id: KekId::random()?,
            version,
            secret: SecretBytes::random()?,
        })
    }

    /// A KEK from parts the caller holds (loaded from a KMS).
    pub fn from_parts(id: KekId, version: u32, secret: SecretBytes<32>) -> Self {
        Self {
            id,
            version,
            secret,
        }
    }

    /// The next version of this KEK: same lineage id, `version + 1`, fresh secret.
    /// Fails with [`Error::LimitExceeded`] after `u32::MAX`.
    pub fn rotate(&self) -> Result<Self> {
        let version = self.version.checked_add(1).ok_or(Error::LimitExceeded {
            what: "KEK versions",
        })?;
        Ok(Self {
            id: self.id,
            version,
            secret: SecretBytes::random()?,
        })
    }

    /// The lineage id.
    pub fn id(&self) -> KekId {
        self.id
    }

    /// The version.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The secret bytes; keep the borrow short.
    pub fn secret(&self) -> &SecretBytes<32> {
        &self.secret
    }

    /// Wraps `dek` under this KEK for the wrap context `ctx` (1 to
    /// [`MAX_WRAP_CONTEXT_LEN`] bytes, typically [`session_wrap_context`]).
    pub fn wrap(&self, dek: &DataKey, ctx: &[u8]) -> Result<WrappedKey> {
        check_wrap_context(ctx)?;
        let salt: [u8; SALT_LEN] = random_array()?;
        let nonce: [u8; NONCE_LEN] = random_array()?;
        let (subkey, commitment) = self.derive(&salt, dek.id(), dek.epoch())?;
        let mut wrapped = WrappedKey {
            kek_id: self.id,
            kek_version: self.version,
            key_id: dek.id(),
            epoch: dek.epoch(),
            salt,
            commitment,
            nonce,
            ciphertext: *dek.secret().expose_secret(),
            tag: [0u8; TAG_LEN],
        };
        let aad = wrapped.aad(ctx);
        let aead = default_backend().prepare(subkey.expose_secret())?;
        match aead.seal_in_place(&nonce, &aad, &mut wrapped.ciphertext) {
            Ok(tag) => {
                wrapped.tag = tag;
                Ok(wrapped)
            }
            Err(e) => {
                zeroize::Zeroize::zeroize(&mut wrapped.ciphertext);
                Err(e)
            }
        }
    }

    /// Unwraps `wrapped` for the wrap context `ctx`.
    ///
    /// Checks, in this order: the KEK id and version ([`Error::WrongKey`]), the key
    /// commitment ([`Error::KeyCommitmentMismatch`]), then the AEAD tag over header and
    /// context ([`Error::AuthenticationFailed`], also for a wrong context).
    pub fn unwrap(&self, wrapped: &WrappedKey, ctx: &[u8]) -> Result<DataKey> {
        check_wrap_context(ctx)?;
        if wrapped.kek_id != self.id || wrapped.kek_version != self.version {
            return Err(Error::WrongKey);
        }
        let (subkey, commitment) = self.derive(&wrapped.salt, wrapped.key_id, wrapped.epoch)?;
        if !ct_eq_slices(&commitment, &wrapped.commitment) {
            return Err(Error::KeyCommitmentMismatch);
        }
        let aad = wrapped.aad(ctx);
        let aead = default_backend().prepare(subkey.expose_secret())?;
        let mut buf = wrapped.ciphertext;
        let result = aead.open_in_place(&wrapped.nonce, &aad, &mut buf, &wrapped.tag);
        // Moved into a zeroizing wrapper at once; dropped (and zeroized) on failure.
        let secret = SecretBytes::from_bytes(buf);
        zeroize::Zeroize::zeroize(&mut buf);
        result?;
        Ok(DataKey::from_parts(wrapped.key_id, wrapped.epoch, secret))
    }

    /// `wrap_subkey` and `commitment` for one wrap.
    fn derive(
        &self,
        salt: &[u8; SALT_LEN],
        key_id: KeyId,
        epoch: KeyEpoch,
    ) -> Result<(SecretBytes<32>, [u8; COMMITMENT_LEN])> {
        let mut okm = [0u8; 64];
        let result = hkdf_sha256(
            self.secret.expose_secret(),
            salt,
            &[
                LABEL_WRAPPED_KEY,
                &[SUITE_AES256GCM_HKDF_SHA256],
                self.id.as_bytes(),
                &self.version.to_be_bytes(),
                key_id.as_bytes(),
                &epoch.0.to_be_bytes(),
            ],
            &mut okm,
        );
        let out = split_okm(&okm);
        zeroize::Zeroize::zeroize(&mut okm);
        result?;
        out
    }
}

impl fmt::Debug for Kek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kek")
            .field("id", &self.id)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// Splits 64 bytes of HKDF output into a 32-byte secret subkey and a 32-byte commitment.
pub(crate) fn split_okm(okm: &[u8; 64]) -> Result<(SecretBytes<32>, [u8; 32])> {
    let (k, c) = okm.split_at(32);
    let subkey = SecretBytes::<32>::from_slice(k)?;
    let mut commitment = [0u8; 32];
    commitment.copy_from_slice(c);
    Ok((subkey, commitment))
}

fn check_wrap_context(ctx: &[u8]) -> Result<()> {
    if ctx.is_empty() || ctx.len() > MAX_WRAP_CONTEXT_LEN {
        return Err(Error::InvalidContext {
            field: "wrap context",
            len: ctx.len(),
            max: MAX_WRAP_CONTEXT_LEN,
        });
    }
    Ok(())
}

/// The canonical wrap context of a session's data key: `len(tenant) tenant len(session)
/// session`, each `len` one byte, ids 1 to 255 bytes (the same encoding as the first two
/// fields of an [`ItemContext`](crate::ItemContext)).
pub fn session_wrap_context(tenant: &[u8], session: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(2 + tenant.len() + session.len());
    crate::context::push_id(&mut out, "tenant", tenant)?;
    crate::context::push_id(&mut out, "session", session)?;
    Ok(out)
}

/// A [`DataKey`] wrapped under a [`Kek`]: what the server stores per session. Public
/// fields only name keys; the ciphertext is useless without the KEK.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedKey {
    kek_id: KekId,
    kek_version: u32,
    key_id: KeyId,
    epoch: KeyEpoch,
    salt: [u8; SALT_LEN],
    commitment: [u8; COMMITMENT_LEN],
    nonce: [u8; NONCE_LEN],
    ciphertext: [u8; 32],
    tag: [u8; TAG_LEN],
}

impl WrappedKey {
    /// Parses exactly [`WRAPPED_KEY_LEN`] bytes, checking magic, version and suite.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let mut r = ByteReader::new("wrapped key", bytes);
        r.magic(MAGIC)?;
        r.version(VERSION)?;
        r.suite(SUITE_AES256GCM_HKDF_SHA256)?;
        if bytes.len() < WRAPPED_KEY_LEN {
            return Err(Error::Truncated {
                what: "wrapped key",
                needed: WRAPPED_KEY_LEN,
                got: bytes.len(),
            });
        }
        let parsed = Self {
            kek_id: KekId::from_bytes(r.take()?),
            kek_version: r.u32()?,
            key_id: KeyId::from_bytes(r.take()?),
            epoch: KeyEpoch(r.u32()?),
            salt: r.take()?,
            commitment: r.take()?,
            nonce: r.take()?,
            ciphertext: r.take()?,
            tag: r.take()?,
        };
        r.finish()?;
        Ok(parsed)
    }

    /// The [`WRAPPED_KEY_LEN`] bytes.
    pub fn to_bytes(&self) -> [u8; WRAPPED_KEY_LEN] {
        let mut out = [0u8; WRAPPED_KEY_LEN];
        let mut w = ByteWriter::new(&mut out);
        w.put(&self.header());
        w.put(&self.ciphertext);
        w.put(&self.tag);
        out
    }

    /// The KEK lineage this key is wrapped under.
    pub fn kek_id(&self) -> KekId {
        self.kek_id
    }

    /// The KEK version this key is wrapped under.
    pub fn kek_version(&self) -> u32 {
        self.kek_version
    }

    /// The id of the wrapped data key.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The epoch of the wrapped data key.
    pub fn epoch(&self) -> KeyEpoch {
        self.epoch
    }

    fn header(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        let mut w = ByteWriter::new(&mut out);
        w.put(&MAGIC);
        w.put(&[VERSION, SUITE_AES256GCM_HKDF_SHA256]);
        w.put(self.kek_id.as_bytes());
        w.put(&self.kek_version.to_be_bytes());
        w.put(self.key_id.as_bytes());
        w.put(&self.epoch.0.to_be_bytes());
        w.put(&self.salt);
        w.put(&self.commitment);
        w.put(&self.nonce);
        out
    }

    fn aad(&self, ctx: &[u8]) -> Vec<u8> {
        let mut aad = Vec::with_capacity(HEADER_LEN + ctx.len());
        aad.extend_from_slice(&self.header());
        aad.extend_from_slice(ctx);
        aad
    }
}

impl fmt::Debug for WrappedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WrappedKey")
            .field("kek_id", &self.kek_id)
            .field("kek_version", &self.kek_version)
            .field("key_id", &self.key_id)
            .field("epoch", &self.epoch.0)
            .finish_non_exhaustive()
    }
}

/// KEK rotation for one wrapped key: unwraps with `old`, wraps the same data key (same
/// id, epoch and secret) with `new` for the same context. Content sealed under the data
/// key is never re-encrypted.
pub fn rewrap(old: &Kek, new: &Kek, wrapped: &WrappedKey, ctx: &[u8]) -> Result<WrappedKey> {
    let dek = old.unwrap(wrapped, ctx)?;
    new.wrap(&dek, ctx)
}

/// The versions of one tenant's KEK lineage that are still in use: the current one wraps,
/// older ones only unwrap until they are retired (after every wrapped key has been
/// [re-wrapped](KekRing::rewrap_to_current)).
#[derive(Clone)]
pub struct KekRing {
    current: Kek,
    previous: Vec<Kek>,
}

impl KekRing {
    /// A ring whose current KEK is `current`.
    pub fn new(current: Kek) -> Self {
        Self {
            current,
            previous: Vec::new(),
        }
    }

    /// Adds an older version loaded from storage. Fails with [`Error::Rejected`] if it
    /// belongs to another lineage, is not older than the current version, or is
    /// already present.
    pub fn add_previous(&mut self, kek: Kek) -> Result<()> {
        if kek.id != self.current.id {
            return Err(Error::Rejected {
                what: "KEK",
                reason: "belongs to another KEK lineage",
            });
        }
        if kek.version >= self.current.version {
            return Err(Error::Rejected {
                what: "KEK",
                reason: "not older than the current version",
            });
        }
        if self.previous.iter().any(|k| k.version == kek.version) {
            return Err(Error::Rejected {
                what: "KEK",
                reason: "version already in the ring",
            });
        }
        self.previous.push(kek);
        Ok(())
    }

    /// Generates the next version, makes it current and keeps the old one for unwrapping.
    /// Returns the new version.
    pub fn rotate(&mut self) -> Result<u32> {
        let next = self.current.rotate()?;
        let old = core::mem::replace(&mut self.current, next);
        self.previous.push(old);
        Ok(self.current.version)
    }

    /// Forgets version `version`; keys still wrapped under it no longer unwrap. The
    /// current version cannot be retired ([`Error::Rejected`]); an unknown version is
    /// [`Error::WrongKey`].
    pub fn retire(&mut self, version: u32) -> Result<()> {
        if version == self.current.version {
            return Err(Error::Rejected {
                what: "KEK",
                reason: "the current version cannot be retired",
            });
        }
        let before = self.previous.len();
        self.previous.retain(|k| k.version != version);
        if self.previous.len() == before {
            return Err(Error::WrongKey);
        }
        Ok(())
    }

    /// The KEK that wraps.
    pub fn current(&self) -> &Kek {
        &self.current
    }

    /// The KEK of `version`, if the ring holds it.
    pub fn get(&self, version: u32) -> Option<&Kek> {
        core::iter::once(&self.current)
            .chain(self.previous.iter())
            .find(|k| k.version == version)
    }

    /// The versions held, newest first.
    pub fn versions(&self) -> Vec<u32> {
        let mut v: Vec<u32> = core::iter::once(&self.current)
            .chain(self.previous.iter())
            .map(|k| k.version)
            .collect();
        v.sort_unstable_by(|a, b| b.cmp(a));
        v
    }

    /// Wraps under the current KEK.
    pub fn wrap(&self, dek: &DataKey, ctx: &[u8]) -> Result<WrappedKey> {
        self.current.wrap(dek, ctx)
    }

    /// Unwraps with whichever held version wrapped it ([`Error::WrongKey`] if none).
    pub fn unwrap(&self, wrapped: &WrappedKey, ctx: &[u8]) -> Result<DataKey> {
        if wrapped.kek_id != self.current.id {
            return Err(Error::WrongKey);
        }
        self.get(wrapped.kek_version)
            .ok_or(Error::WrongKey)?
            .unwrap(wrapped, ctx)
    }

    /// Re-wraps under the current KEK (a no-op copy if it already is).
    pub fn rewrap_to_current(&self, wrapped: &WrappedKey, ctx: &[u8]) -> Result<WrappedKey> {
        let dek = self.unwrap(wrapped, ctx)?;
        if wrapped.kek_version == self.current.version {
            return Ok(wrapped.clone());
        }
        self.current.wrap(&dek, ctx)
    }
}

impl fmt::Debug for KekRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KekRing")
            .field("id", &self.current.id)
            .field("versions", &self.versions())
            .finish_non_exhaustive()
    }
}

/// A checked reader over untrusted bytes: every read is bounds-checked and reports
/// [`Error::Truncated`] with the total length needed so far.
pub(crate) struct ByteReader<'a> {
    what: &'static str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> ByteReader<'a> {
    pub(crate) fn new(what: &'static str, bytes: &'a [u8]) -> Self {
        Self {
            what,
            bytes,
            pos: 0,
        }
    }

    /// The next `n` bytes.
    pub(crate) fn slice(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or(Error::Malformed {
            what: self.what,
            reason: "length overflow",
        })?;
        let out = self.bytes.get(self.pos..end).ok_or(Error::Truncated {
            what: self.what,
            needed: end,
            got: self.bytes.len(),
        })?;
        self.pos = end;
        Ok(out)
    }

    pub(crate) fn take<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.slice(N)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        let [b] = self.take::<1>()?;
        Ok(b)
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.take()?))
    }

    /// Reads and checks the magic bytes.
    pub(crate) fn magic(&mut self, magic: [u8; 4]) -> Result<()> {
        // A prefix that already differs from the magic is not this format, however short.
        let n = self.bytes.len().min(4);
        if self.bytes.get(..n) != magic.get(..n) {
            return Err(Error::BadMagic {
                expected: self.what,
            });
        }
        self.take::<4>().map(|_| ())
    }

    pub(crate) fn version(&mut self, expected: u8) -> Result<()> {
        let version = self.u8()?;
        if version != expected {
            return Err(Error::UnsupportedVersion {
                what: self.what,
                version,
            });
        }
        Ok(())
    }

    pub(crate) fn suite(&mut self, expected: u8) -> Result<()> {
        let suite = self.u8()?;
        if suite != expected {
            return Err(Error::UnsupportedSuite {
                what: self.what,
                suite,
            });
        }
        Ok(())
    }

    /// Bytes not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    /// Fails unless every byte was read.
    pub(crate) fn finish(&self) -> Result<()> {
        if self.remaining() != 0 {
            return Err(Error::Malformed {
                what: self.what,
                reason: "trailing bytes",
            });
        }
        Ok(())
    }
}

/// Writes into a fixed buffer whose size the caller computed; never panics (excess input
/// is dropped, which the fixed layouts of this crate never produce).
pub(crate) struct ByteWriter<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> ByteWriter<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    pub(crate) fn put(&mut self, bytes: &[u8]) {
        let end = self.pos.saturating_add(bytes.len()).min(self.buf.len());
        let n = end.saturating_sub(self.pos);
        if let (Some(dst), Some(src)) = (self.buf.get_mut(self.pos..end), bytes.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.pos = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_fixed() {
        assert_eq!(HEADER_LEN, 122);
        assert_eq!(WRAPPED_KEY_LEN, 170);
        let kek = Kek::generate(1).unwrap();
        let dek = DataKey::generate(KeyEpoch(4)).unwrap();
        let w = kek.wrap(&dek, b"ctx").unwrap();
        let bytes = w.to_bytes();
        assert_eq!(bytes.get(..4), Some(&MAGIC[..]));
        assert_eq!(bytes.get(22..26), Some(&1u32.to_be_bytes()[..]));
        assert_eq!(bytes.get(26..42), Some(&dek.id().as_bytes()[..]));
        assert_eq!(WrappedKey::parse(&bytes).unwrap(), w);
    }

    #[test]
    fn reader_reports_truncation() {
        let mut r = ByteReader::new("x", &[1, 2, 3]);
        assert_eq!(r.u8().unwrap(), 1);
        assert!(matches!(
            r.u32(),
            Err(Error::Truncated {
                needed: 5,
                got: 3,
                ..
            })
        ));
    }
}
