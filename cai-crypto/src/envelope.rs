//! Envelope v1: one sealed content item (message, note, small file, document version).
//!
//! The format is specified byte by byte in `docs/ENVELOPE.md`; this module uses the
//! same names. In short:
//!
//! ```text
//! magic "CAIE" | version 0x01 | suite 0x01 | key_id[16] | epoch u32be | salt[32]
//!   | commitment[32] | nonce[12] | ciphertext | tag[16]
//! ```
//!
//! * **Per-sealer subkeys.** `subkey ‖ commitment = HKDF-SHA256(ikm = data key, salt,
//!   info = "cai envelope v1" ‖ suite ‖ key_id ‖ epoch, L = 64)`, with a fresh random
//!   256-bit `salt` for every [`Sealer`], so the data key itself never meets AES-GCM.
//! * **Nonces: a sequence number and fresh randomness.** The `i`-th item a sealer seals
//!   under a subkey has `nonce = u32be(i) ‖ 8 bytes from the operating system's CSPRNG`,
//!   drawn for that item. The sequence number makes nonces distinct within one sealer
//!   even if the random number generator fails; the random part keeps two *copies* of a
//!   sealer apart (a forked process, a restored VM snapshot), which share the subkey
//!   and the sequence number. A sealer moves to a new salt after
//!   [`MAX_SEALS_PER_SUBKEY`] items or [`MAX_BYTES_PER_SUBKEY`] bytes.
//! * **Key commitment.** AES-GCM is not key-committing, so the 32-byte `commitment`
//!   derived beside the subkey travels in the header and is compared in constant time
//!   before any decryption ([`Error::KeyCommitmentMismatch`]). A ciphertext therefore
//!   opens under at most one data key, which defeats partitioning-oracle attacks.
//! * **Associated data** is the whole 102-byte header followed by the encoded
//!   [`ItemContext`]: nothing in the header can be changed, and an envelope cannot be
//!   moved to another tenant, session, item, version or kind.
//!
//! ```
//! use cai_crypto::{ContentKind, DataKey, ItemContext, KeyEpoch, envelope};
//!
//! let key = DataKey::generate(KeyEpoch::INITIAL)?;
//! let ctx = ItemContext::new(b"tenant-1", b"session-9", b"msg-1", 1, ContentKind::Message);
//! let sealed = envelope::seal(&key, &ctx, b"I would like to talk about my week.")?;
//! assert_eq!(envelope::open(&key, &ctx, &sealed)?, b"I would like to talk about my week.");
//!
//! // Another context does not open it.
//! let moved = ItemContext::new(b"tenant-1", b"session-9", b"msg-2", 1, ContentKind::Message);
//! assert!(envelope::open(&key, &moved, &sealed).is_err());
//! # Ok::<(), cai_crypto::Error>(())
//! ```

use crate::aead::{AeadBackend, AeadKey, NONCE_LEN, TAG_LEN, default_backend};
use crate::kdf::{LABEL_ENVELOPE, hkdf_sha256};
use crate::keys::{DataKey, KEY_ID_LEN, KeyEpoch, KeyId};
pub use crate::secret::nonces_from_vdso;
use crate::secret::{SecretBytes, ct_eq_slices, fill_nonce_random, random_array};
use crate::{Error, ItemContext, Result};

/// The four magic bytes that open every envelope.
pub const MAGIC: [u8; 4] = *b"CAIE";
/// The format version this module writes and reads.
pub const VERSION: u8 = 0x01;
/// Suite 0x01: AES-256-GCM, HKDF-SHA256 subkeys, HKDF-derived 256-bit commitment.
pub const SUITE_AES256GCM_HKDF_SHA256: u8 = 0x01;
/// Length of the salt that selects a subkey.
pub const SALT_LEN: usize = 32;
/// Length of the key commitment.
pub const COMMITMENT_LEN: usize = 32;
/// Length of the fixed header, which is also the start of the associated data.
pub const HEADER_LEN: usize = 4 + 1 + 1 + KEY_ID_LEN + 4 + SALT_LEN + COMMITMENT_LEN + NONCE_LEN;
/// Bytes an envelope adds to its plaintext.
pub const OVERHEAD: usize = HEADER_LEN + TAG_LEN;
/// Largest plaintext an envelope takes; larger content goes through [`crate::stream`].
pub const MAX_PLAINTEXT_LEN: usize = 64 * 1024 * 1024;
/// Items one sealer seals under one subkey before it draws a new salt: the range of the
/// 32-bit sequence number at the start of the nonce.
pub const MAX_SEALS_PER_SUBKEY: u64 = 1 << 32;
/// Plaintext bytes one sealer seals under one subkey before it draws a new salt
/// (2^40 bytes = 2^36 AES blocks, far inside AES-GCM's confidentiality bound).
pub const MAX_BYTES_PER_SUBKEY: u64 = 1 << 40;
/// Length of the nonce's sequence number (the rest is fresh randomness).
pub const NONCE_SEQ_LEN: usize = 4;
/// Bytes of a nonce drawn fresh from the OS for each item (after the sequence number).
pub const NONCE_RANDOM_LEN: usize = NONCE_LEN - NONCE_SEQ_LEN;
/// Items whose nonces [`Sealer::seal_batch`] draws with one call to the OS generator.
pub const BATCH_RANDOM_ITEMS: usize = 256;

/// The parsed fixed header of an envelope. Public values only: reading it tells a
/// server which key to fetch without touching any secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeHeader {
    /// Algorithm suite (only [`SUITE_AES256GCM_HKDF_SHA256`] exists).
    pub suite: u8,
    /// Id of the data key the item was sealed under.
    pub key_id: KeyId,
    /// Epoch of that key.
    pub epoch: KeyEpoch,
    /// Salt that selected the subkey.
    pub salt: [u8; SALT_LEN],
    /// Key commitment for `(data key, salt)`.
    pub commitment: [u8; COMMITMENT_LEN],
    /// AES-GCM nonce under the subkey.
    pub nonce: [u8; NONCE_LEN],
}

impl EnvelopeHeader {
    /// Parses the header and returns it with the rest (`ciphertext ‖ tag`), checking
    /// magic, version, suite and that the rest holds at least a tag.
    pub fn parse(bytes: &[u8]) -> Result<(Self, &[u8])> {
        if bytes.len() < OVERHEAD {
            if bytes.get(..4).is_some_and(|m| m != MAGIC) {
                return Err(Error::BadMagic {
                    expected: "envelope",
                });
            }
            return Err(Error::Truncated {
                what: "envelope",
                needed: OVERHEAD,
                got: bytes.len(),
            });
        }
        let (header, rest) = bytes.split_at(HEADER_LEN);
        let mut r = Reader(header);
        if r.take::<4>() != MAGIC {
            return Err(Error::BadMagic {
                expected: "envelope",
            });
        }
        let [version] = r.take::<1>();
        if version != VERSION {
            return Err(Error::UnsupportedVersion {
                what: "envelope",
                version,
            });
        }
        let [suite] = r.take::<1>();
        if suite != SUITE_AES256GCM_HKDF_SHA256 {
            return Err(Error::UnsupportedSuite {
                what: "envelope",
                suite,
            });
        }
        let parsed = EnvelopeHeader {
            suite,
            key_id: KeyId::from_bytes(r.take()),
            epoch: KeyEpoch(u32::from_be_bytes(r.take())),
            salt: r.take(),
            commitment: r.take(),
            nonce: r.take(),
        };
        Ok((parsed, rest))
    }

    /// The 102 header bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        let mut w = Writer(&mut out, 0);
        w.put(&MAGIC);
        w.put(&[VERSION, self.suite]);
        w.put(self.key_id.as_bytes());
        w.put(&self.epoch.0.to_be_bytes());
        w.put(&self.salt);
        w.put(&self.commitment);
        w.put(&self.nonce);
        out
    }
}

/// Reads fixed-size fields from a slice whose length the caller has checked.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let n = N.min(self.0.len());
        let (head, tail) = self.0.split_at(n);
        out[..n].copy_from_slice(head);
        self.0 = tail;
        out
    }
}

/// Writes fields into a buffer the caller sized exactly.
struct Writer<'a>(&'a mut [u8], usize);

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        if let Some(dst) = self.0.get_mut(self.1..self.1 + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
        self.1 += bytes.len();
    }
}

/// A subkey selected by one salt: the prepared AEAD key and its commitment.
struct Subkey {
    salt: [u8; SALT_LEN],
    commitment: [u8; COMMITMENT_LEN],
    aead: Box<dyn AeadKey>,
}

impl Subkey {
    fn derive(key: &DataKey, salt: [u8; SALT_LEN], backend: &dyn AeadBackend) -> Result<Self> {
        let okm = derive_okm(key, &salt)?;
        let (k, c) = okm.expose_secret().split_at(32);
        let subkey = SecretBytes::<32>::from_slice(k)?;
        let mut commitment = [0u8; COMMITMENT_LEN];
        commitment.copy_from_slice(c);
        Ok(Self {
            salt,
            commitment,
            aead: backend.prepare(subkey.expose_secret())?,
        })
    }
}

/// `subkey ‖ commitment` for `(key, salt)`.
fn derive_okm(key: &DataKey, salt: &[u8; SALT_LEN]) -> Result<SecretBytes<64>> {
    let mut okm = [0u8; 64];
    let result = hkdf_sha256(
        key.secret().expose_secret(),
        salt,
        &[
            LABEL_ENVELOPE,
            &[SUITE_AES256GCM_HKDF_SHA256],
            key.id().as_bytes(),
            &key.epoch().0.to_be_bytes(),
        ],
        &mut okm,
    );
    let secret = SecretBytes::from_bytes(okm);
    zeroize::Zeroize::zeroize(&mut okm);
    result.map(|()| secret)
}

/// Seals many items under one data key, amortising subkey derivation.
///
/// Each nonce is a sequence number followed by 8 bytes drawn from the operating system
/// for that item (see the [module documentation](self)), so a copy of a sealer made
/// behind its back — a `fork()`, a restored VM or container snapshot — does not repeat
/// the original's nonces, provided the operating system's generator gives the copies
/// different output (`fork` does; after a VM restore, Linux reseeds when the hypervisor
/// exposes a VM generation ID). The sealer is still not `Clone`: there is no reason to
/// copy one, and within one sealer the sequence number alone keeps nonces distinct.
///
/// Cost: one call to the operating system's generator per item. As a system call that
/// dominates sealing a small item (`docs/BENCHMARKS.md`), so with the `vdso-nonces`
/// feature (default) on Linux with a vDSO `getrandom` (x86_64 6.11+, aarch64 6.14+) the random part comes from the
/// kernel's vDSO `getrandom`, with the same fork and snapshot guarantees and no system
/// call ([`nonces_from_vdso`] tells which source is used).
pub struct Sealer {
    key_id: KeyId,
    epoch: KeyEpoch,
    key: DataKey,
    backend: &'static dyn AeadBackend,
    subkey: Subkey,
    /// Sequence number of the next item under the current subkey.
    next_seq: u64,
    bytes_sealed: u64,
    aad: Vec<u8>,
}

impl core::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sealer")
            .field("key_id", &self.key_id)
            .field("epoch", &self.epoch.0)
            .field("backend", &self.backend.name())
            .finish_non_exhaustive()
    }
}

impl Sealer {
    /// A sealer on the [default backend](default_backend).
    pub fn new(key: &DataKey) -> Result<Self> {
        Self::with_backend(key, default_backend())
    }

    /// A sealer on a chosen backend (every backend produces the same format).
    pub fn with_backend(key: &DataKey, backend: &'static dyn AeadBackend) -> Result<Self> {
        Self::with_salt(key, random_array()?, backend)
    }

    /// A sealer whose first subkey comes from `salt`. Private: a caller-chosen salt
    /// would let two sealers share a subkey on purpose.
    fn with_salt(
        key: &DataKey,
        salt: [u8; SALT_LEN],
        backend: &'static dyn AeadBackend,
    ) -> Result<Self> {
        Ok(Self {
            key_id: key.id(),
            epoch: key.epoch(),
            key: key.clone(),
            backend,
            subkey: Subkey::derive(key, salt, backend)?,
            next_seq: 0,
            bytes_sealed: 0,
            aad: Vec::with_capacity(HEADER_LEN + 64),
        })
    }

    /// Seals `plaintext` for `ctx` into a new envelope.
    pub fn seal(&mut self, ctx: &ItemContext<'_>, plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(plaintext.len().saturating_add(OVERHEAD));
        self.seal_into(ctx, plaintext, &mut out)?;
        Ok(out)
    }

    /// Appends the envelope for `plaintext` to `out`. On error `out` is unchanged.
    pub fn seal_into(
        &mut self,
        ctx: &ItemContext<'_>,
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let (header, nonce) = self.begin(ctx, plaintext.len())?;
        let start = out.len();
        out.reserve(OVERHEAD + plaintext.len());
        out.extend_from_slice(&header);
        out.extend_from_slice(plaintext);
        let body = out.get_mut(start + HEADER_LEN..).unwrap_or_default();
        match self.subkey.aead.seal_in_place(&nonce, &self.aad, body) {
            Ok(tag) => {
                out.extend_from_slice(&tag);
                Ok(())
            }
            Err(e) => {
                out.truncate(start);
                Err(e)
            }
        }
    }

    /// Seals several items, drawing the random part of all their nonces from the OS in
    /// one call (per [`BATCH_RANDOM_ITEMS`] items) instead of one call per item. Just as
    /// fork- and snapshot-safe as [`seal`](Self::seal) — the randomness is drawn during
    /// this call and never kept — and much cheaper per item where the OS generator is a
    /// system call (see `docs/BENCHMARKS.md`). Returns one envelope per item, in order;
    /// on error nothing is returned (the sequence numbers already used stay used).
    pub fn seal_batch(&mut self, items: &[(ItemContext<'_>, &[u8])]) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::with_capacity(items.len());
        for chunk in items.chunks(BATCH_RANDOM_ITEMS) {
            // Nonces are public: nothing to wipe.
            let mut random = [0u8; BATCH_RANDOM_ITEMS * NONCE_RANDOM_LEN];
            let random = random
                .get_mut(..chunk.len() * NONCE_RANDOM_LEN)
                .unwrap_or_default();
            fill_nonce_random(random)?;
            for ((ctx, plaintext), r) in chunk.iter().zip(random.chunks_exact(NONCE_RANDOM_LEN)) {
                let mut envelope = Vec::with_capacity(plaintext.len().saturating_add(OVERHEAD));
                let (header, nonce) = self.begin_with(ctx, plaintext.len(), r)?;
                envelope.extend_from_slice(&header);
                envelope.extend_from_slice(plaintext);
                let body = envelope.get_mut(HEADER_LEN..).unwrap_or_default();
                let tag = self.subkey.aead.seal_in_place(&nonce, &self.aad, body)?;
                envelope.extend_from_slice(&tag);
                out.push(envelope);
            }
        }
        Ok(out)
    }

    /// Encrypts `buf` in place and returns the header and tag that frame it: the
    /// envelope is `header ‖ buf ‖ tag`. Saves the copy [`seal_into`](Self::seal_into)
    /// makes, for callers that write the three parts out themselves (vectored I/O).
    pub fn seal_detached(
        &mut self,
        ctx: &ItemContext<'_>,
        buf: &mut [u8],
    ) -> Result<([u8; HEADER_LEN], [u8; TAG_LEN])> {
        let (header, nonce) = self.begin(ctx, buf.len())?;
        let tag = self.subkey.aead.seal_in_place(&nonce, &self.aad, buf)?;
        Ok((header, tag))
    }

    /// Checks the length, forms the next nonce (its sequence number is burnt even if
    /// sealing then fails), and leaves the associated data in `self.aad`.
    fn begin(
        &mut self,
        ctx: &ItemContext<'_>,
        len: usize,
    ) -> Result<([u8; HEADER_LEN], [u8; NONCE_LEN])> {
        // Fresh from the OS for every item, never from state a copy of this sealer
        // would share: this is what keeps a forked or restored copy's nonces apart.
        let mut random = [0u8; NONCE_RANDOM_LEN];
        fill_nonce_random(&mut random)?;
        self.begin_with(ctx, len, &random)
    }

    /// [`begin`](Self::begin) with the nonce's random part drawn by the caller during
    /// the same call.
    fn begin_with(
        &mut self,
        ctx: &ItemContext<'_>,
        len: usize,
        random: &[u8],
    ) -> Result<([u8; HEADER_LEN], [u8; NONCE_LEN])> {
        if len > MAX_PLAINTEXT_LEN {
            return Err(Error::TooLarge {
                what: "envelope plaintext",
                len: len as u64,
                limit: MAX_PLAINTEXT_LEN as u64,
            });
        }
        if self.next_seq >= MAX_SEALS_PER_SUBKEY
            || self.bytes_sealed.saturating_add(len as u64) > MAX_BYTES_PER_SUBKEY
        {
            self.subkey = Subkey::derive(&self.key, random_array()?, self.backend)?;
            self.next_seq = 0;
            self.bytes_sealed = 0;
        }
        let seq = u32::try_from(self.next_seq).map_err(|_| Error::LimitExceeded {
            what: "seals per subkey",
        })?;
        let mut nonce = [0u8; NONCE_LEN];
        let (seq_part, random_part) = nonce.split_at_mut(NONCE_SEQ_LEN);
        seq_part.copy_from_slice(&seq.to_be_bytes());
        if random.len() != random_part.len() {
            return Err(Error::Malformed {
                what: "envelope nonce",
                reason: "random part of the wrong length",
            });
        }
        random_part.copy_from_slice(random);
        let header = EnvelopeHeader {
            suite: SUITE_AES256GCM_HKDF_SHA256,
            key_id: self.key_id,
            epoch: self.epoch,
            salt: self.subkey.salt,
            commitment: self.subkey.commitment,
            nonce,
        }
        .to_bytes();
        self.aad.clear();
        self.aad.extend_from_slice(&header);
        ctx.encode_into(&mut self.aad)?;
        self.next_seq += 1;
        self.bytes_sealed += len as u64;
        Ok((header, nonce))
    }
}

/// How many subkeys an [`Opener`] keeps.
const OPENER_CACHE: usize = 16;

/// Opens envelopes under one data key, caching the subkeys of recent salts so that a
/// history sealed by one sealer derives its subkey once.
pub struct Opener {
    key: DataKey,
    backend: &'static dyn AeadBackend,
    cache: Vec<Subkey>,
    next_slot: usize,
    aad: Vec<u8>,
}

impl core::fmt::Debug for Opener {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Opener")
            .field("key_id", &self.key.id())
            .field("epoch", &self.key.epoch().0)
            .field("backend", &self.backend.name())
            .finish_non_exhaustive()
    }
}

impl Opener {
    /// An opener on the [default backend](default_backend).
    pub fn new(key: &DataKey) -> Self {
        Self::with_backend(key, default_backend())
    }

    /// An opener on a chosen backend.
    pub fn with_backend(key: &DataKey, backend: &'static dyn AeadBackend) -> Self {
        Self {
            key: key.clone(),
            backend,
            cache: Vec::new(),
            next_slot: 0,
            aad: Vec::with_capacity(HEADER_LEN + 64),
        }
    }

    /// Opens `envelope` for `ctx` and returns the plaintext.
    ///
    /// Checks, in this order: structure and size limit, key id and epoch
    /// ([`Error::WrongKey`]), the context's validity ([`Error::InvalidContext`]), key
    /// commitment ([`Error::KeyCommitmentMismatch`]), then the AEAD tag
    /// ([`Error::AuthenticationFailed`]). No plaintext is returned unless all pass.
    pub fn open(&mut self, ctx: &ItemContext<'_>, envelope: &[u8]) -> Result<Vec<u8>> {
        let checked = self.check(ctx, envelope)?;
        let mut plaintext = envelope
            .get(HEADER_LEN..HEADER_LEN + checked.ct_len)
            .unwrap_or_default()
            .to_vec();
        self.decrypt(&checked, &mut plaintext)?;
        Ok(plaintext)
    }

    /// Opens `envelope` in place and returns the plaintext as a slice of it, without
    /// copying. Same checks as [`open`](Self::open); on failure the ciphertext region
    /// of `envelope` is zeroed.
    pub fn open_in_place<'e>(
        &mut self,
        ctx: &ItemContext<'_>,
        envelope: &'e mut [u8],
    ) -> Result<&'e mut [u8]> {
        let checked = self.check(ctx, envelope)?;
        let body = envelope
            .get_mut(HEADER_LEN..HEADER_LEN + checked.ct_len)
            .unwrap_or_default();
        self.decrypt(&checked, body)?;
        Ok(body)
    }

    /// Everything up to the tag: structure, key, commitment; fills `self.aad`.
    fn check(&mut self, ctx: &ItemContext<'_>, envelope: &[u8]) -> Result<Checked> {
        let (header, body) = EnvelopeHeader::parse(envelope)?;
        let ct_len = body.len() - TAG_LEN;
        if ct_len > MAX_PLAINTEXT_LEN {
            return Err(Error::TooLarge {
                what: "envelope ciphertext",
                len: ct_len as u64,
                limit: MAX_PLAINTEXT_LEN as u64,
            });
        }
        if header.key_id != self.key.id() || header.epoch != self.key.epoch() {
            return Err(Error::WrongKey);
        }
        self.aad.clear();
        self.aad
            .extend_from_slice(envelope.get(..HEADER_LEN).unwrap_or_default());
        ctx.encode_into(&mut self.aad)?;

        let slot = self.subkey_slot(&header.salt)?;
        let commitment_ok = self
            .cache
            .get(slot)
            .is_some_and(|s| ct_eq_slices(&s.commitment, &header.commitment));
        if !commitment_ok {
            return Err(Error::KeyCommitmentMismatch);
        }
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(body.get(ct_len..).unwrap_or_default());
        Ok(Checked {
            slot,
            nonce: header.nonce,
            tag,
            ct_len,
        })
    }

    fn decrypt(&self, checked: &Checked, buf: &mut [u8]) -> Result<()> {
        let subkey = self
            .cache
            .get(checked.slot)
            .ok_or(Error::KeyCommitmentMismatch)?;
        subkey
            .aead
            .open_in_place(&checked.nonce, &self.aad, buf, &checked.tag)
            .inspect_err(|_| zeroize::Zeroize::zeroize(buf))
    }

    /// Index in the cache of the subkey for `salt`, derived on a miss.
    fn subkey_slot(&mut self, salt: &[u8; SALT_LEN]) -> Result<usize> {
        Ok(match self.cache.iter().position(|s| &s.salt == salt) {
            Some(pos) => pos,
            None => {
                let fresh = Subkey::derive(&self.key, *salt, self.backend)?;
                if self.cache.len() < OPENER_CACHE {
                    self.cache.push(fresh);
                    self.cache.len() - 1
                } else {
                    let slot = self.next_slot;
                    self.next_slot = (slot + 1) % OPENER_CACHE;
                    if let Some(entry) = self.cache.get_mut(slot) {
                        *entry = fresh;
                    }
                    slot
                }
            }
        })
    }
}

/// What [`Opener::check`] established about an envelope.
struct Checked {
    slot: usize,
    nonce: [u8; NONCE_LEN],
    tag: [u8; TAG_LEN],
    ct_len: usize,
}

/// Seals one item under a fresh subkey (sequence number 0). For many items use a
/// [`Sealer`].
pub fn seal(key: &DataKey, ctx: &ItemContext<'_>, plaintext: &[u8]) -> Result<Vec<u8>> {
    Sealer::new(key)?.seal(ctx, plaintext)
}

/// Opens one envelope. For many items under one key use an [`Opener`].
pub fn open(key: &DataKey, ctx: &ItemContext<'_>, envelope: &[u8]) -> Result<Vec<u8>> {
    Opener::new(key).open(ctx, envelope)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ContentKind;
    use crate::aead::all_backends;

    fn ctx() -> ItemContext<'static> {
        ItemContext::new(b"t", b"s", b"i", 1, ContentKind::Message)
    }

    #[test]
    fn detached_and_in_place_match_the_copying_api() {
        let key = DataKey::generate(KeyEpoch(2)).unwrap();
        for backend in all_backends() {
            let mut sealer = Sealer::with_backend(&key, backend).unwrap();
            let mut buf = b"in place".to_vec();
            let (header, tag) = sealer.seal_detached(&ctx(), &mut buf).unwrap();
            let mut env = [&header[..], &buf, &tag].concat();
            let mut opener = Opener::with_backend(&key, backend);
            assert_eq!(opener.open(&ctx(), &env).unwrap(), b"in place");
            assert_eq!(opener.open_in_place(&ctx(), &mut env).unwrap(), b"in place");
        }
    }

    fn header_of(env: &[u8]) -> EnvelopeHeader {
        EnvelopeHeader::parse(env).unwrap().0
    }

    #[test]
    fn nonces_are_a_sequence_number_and_fresh_randomness() {
        let key = DataKey::generate(KeyEpoch::INITIAL).unwrap();
        let mut sealer = Sealer::new(&key).unwrap();
        let a = header_of(&sealer.seal(&ctx(), b"a").unwrap());
        let b = header_of(&sealer.seal(&ctx(), b"b").unwrap());
        assert_eq!(a.salt, b.salt);
        assert_eq!(a.nonce[..NONCE_SEQ_LEN], [0, 0, 0, 0]);
        assert_eq!(b.nonce[..NONCE_SEQ_LEN], [0, 0, 0, 1]);
        assert_ne!(a.nonce[NONCE_SEQ_LEN..], b.nonce[NONCE_SEQ_LEN..]);
        let c = header_of(&Sealer::new(&key).unwrap().seal(&ctx(), b"c").unwrap());
        assert_ne!(a.salt, c.salt);
    }

    /// What a `fork()` or a restored snapshot produces: two sealers with the same
    /// subkey and the same sequence number. Their nonces must still differ.
    #[test]
    fn copies_of_a_sealer_do_not_repeat_nonces() {
        let key = DataKey::generate(KeyEpoch::INITIAL).unwrap();
        let salt = [0x42; SALT_LEN];
        for backend in all_backends() {
            let mut original = Sealer::with_salt(&key, salt, backend).unwrap();
            let mut copy = Sealer::with_salt(&key, salt, backend).unwrap();
            let mut seen = std::collections::HashSet::new();
            for i in 0..200u32 {
                for sealer in [&mut original, &mut copy] {
                    let env = sealer.seal(&ctx(), b"same").unwrap();
                    let h = header_of(&env);
                    assert_eq!((h.salt, &h.nonce[..4]), (salt, &i.to_be_bytes()[..]));
                    assert!(seen.insert(h.nonce), "nonce repeated at {i}");
                    assert_eq!(open(&key, &ctx(), &env).unwrap(), b"same");
                }
            }
        }
    }

    /// A batch seals like single seals (sequence numbers in order, fresh random parts,
    /// each envelope opening under its own context), across more than one draw from
    /// the OS; copies of a sealer sealing batches still do not repeat nonces.
    #[test]
    fn batches_seal_like_single_seals() {
        let key = DataKey::generate(KeyEpoch::INITIAL).unwrap();
        let salt = [0x24; SALT_LEN];
        let ids: Vec<String> = (0..BATCH_RANDOM_ITEMS + 3)
            .map(|i| format!("i{i}"))
            .collect();
        let items: Vec<(ItemContext<'_>, &[u8])> = ids
            .iter()
            .map(|id| {
                let ctx = ItemContext::new(b"t", b"s", id.as_bytes(), 1, ContentKind::Message);
                (ctx, id.as_bytes())
            })
            .collect();
        for backend in all_backends() {
            let mut original = Sealer::with_salt(&key, salt, backend).unwrap();
            let mut copy = Sealer::with_salt(&key, salt, backend).unwrap();
            assert!(original.seal_batch(&[]).unwrap().is_empty());
            let first = original.seal(&ctx(), b"before").unwrap();
            assert_eq!(header_of(&first).nonce[..NONCE_SEQ_LEN], [0, 0, 0, 0]);
            copy.seal(&ctx(), b"before").unwrap();
            let mut seen = std::collections::HashSet::new();
            for sealer in [&mut original, &mut copy] {
                let envs = sealer.seal_batch(&items).unwrap();
                assert_eq!(envs.len(), items.len());
                for (i, (env, (ctx, plain))) in envs.iter().zip(&items).enumerate() {
                    let h = header_of(env);
                    let seq = u32::try_from(i + 1).unwrap().to_be_bytes();
                    assert_eq!((h.salt, &h.nonce[..NONCE_SEQ_LEN]), (salt, &seq[..]));
                    assert!(seen.insert(h.nonce), "nonce repeated at {i}");
                    assert_eq!(open(&key, ctx, env).unwrap(), *plain);
                    assert!(open(&key, &items[(i + 1) % items.len()].0, env).is_err());
                }
            }
            let after = original.seal(&ctx(), b"after").unwrap();
            let seq = u32::try_from(items.len() + 1).unwrap().to_be_bytes();
            assert_eq!(header_of(&after).nonce[..NONCE_SEQ_LEN], seq);
        }
    }

    #[test]
    fn the_last_sequence_number_is_used_then_the_salt_changes() {
        let key = DataKey::generate(KeyEpoch::INITIAL).unwrap();
        let mut sealer = Sealer::new(&key).unwrap();
        sealer.next_seq = MAX_SEALS_PER_SUBKEY - 1;
        let last = header_of(&sealer.seal(&ctx(), b"x").unwrap());
        assert_eq!(last.nonce[..NONCE_SEQ_LEN], [0xff; NONCE_SEQ_LEN]);
        let next = header_of(&sealer.seal(&ctx(), b"y").unwrap());
        assert_ne!(next.salt, last.salt);
        assert_eq!(next.nonce[..NONCE_SEQ_LEN], [0; NONCE_SEQ_LEN]);
        assert_eq!(sealer.next_seq, 1);
    }

    #[test]
    fn the_byte_budget_is_used_exactly_then_the_salt_changes() {
        let key = DataKey::generate(KeyEpoch::INITIAL).unwrap();
        let mut sealer = Sealer::new(&key).unwrap();
        sealer.bytes_sealed = MAX_BYTES_PER_SUBKEY - 3;
        let at_limit = header_of(&sealer.seal(&ctx(), b"abc").unwrap());
        assert_eq!(sealer.bytes_sealed, MAX_BYTES_PER_SUBKEY);
        let past = header_of(&sealer.seal(&ctx(), b"d").unwrap());
        assert_ne!(past.salt, at_limit.salt);
        assert_eq!(past.nonce[..NONCE_SEQ_LEN], [0; NONCE_SEQ_LEN]);
        assert_eq!(sealer.bytes_sealed, 1);
        // An empty item fits even when the budget is spent.
        sealer.bytes_sealed = MAX_BYTES_PER_SUBKEY;
        let empty = header_of(&sealer.seal(&ctx(), b"").unwrap());
        assert_eq!(empty.salt, past.salt);
    }

    #[test]
    fn failures_name_their_cause() {
        let key = DataKey::generate(KeyEpoch::INITIAL).unwrap();
        let env = seal(&key, &ctx(), b"secret").unwrap();
        let other = DataKey::generate(KeyEpoch::INITIAL).unwrap();
        assert_eq!(open(&other, &ctx(), &env), Err(Error::WrongKey));
        let same_id_other_secret =
            DataKey::from_parts(key.id(), key.epoch(), SecretBytes::random().unwrap());
        assert_eq!(
            open(&same_id_other_secret, &ctx(), &env),
            Err(Error::KeyCommitmentMismatch)
        );
        let moved = ItemContext::new(b"t", b"s", b"i", 2, ContentKind::Message);
        assert_eq!(open(&key, &moved, &env), Err(Error::AuthenticationFailed));
        let mut bad = env.clone();
        bad[0] ^= 1;
        assert_eq!(
            open(&key, &ctx(), &bad),
            Err(Error::BadMagic {
                expected: "envelope"
            })
        );
        assert!(matches!(
            open(&key, &ctx(), &env[..OVERHEAD - 1]),
            Err(Error::Truncated { .. })
        ));
        let mut in_place = env.clone();
        let last = in_place.len() - 1;
        in_place[last] ^= 1;
        assert_eq!(
            Opener::new(&key).open_in_place(&ctx(), &mut in_place),
            Err(Error::AuthenticationFailed)
        );
        assert!(
            in_place[HEADER_LEN..last - TAG_LEN + 1]
                .iter()
                .all(|b| *b == 0)
        );
    }

    #[test]
    fn oversized_plaintext_is_refused_before_sealing() {
        let key = DataKey::generate(KeyEpoch::INITIAL).unwrap();
        let big = vec![0u8; MAX_PLAINTEXT_LEN + 1];
        assert!(matches!(
            seal(&key, &ctx(), &big),
            Err(Error::TooLarge { .. })
        ));
    }
}
