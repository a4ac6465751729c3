//! # cai-crypto
//!
//! The cryptography of the cai counselling SDK: how content is sealed, how keys are kept
//! and handed out, and how live media is encrypted so that a relay cannot read it. It
//! knows nothing of tenants, accounts or sessions beyond the opaque ids bound into
//! ciphertexts; `cai-core` builds the domain on top.
//!
//! ## What it gives you
//!
//! * [`envelope`] — **envelope v1** for content items: AES-256-GCM under per-sealer
//!   HKDF subkeys with a key commitment; the item's [`ItemContext`] (tenant, session,
//!   item, version, kind) is bound as associated data. Specified byte by byte in
//!   `docs/ENVELOPE.md` and implementable with WebCrypto alone.
//! * [`stream`] — the **streaming envelope** for files and recordings: constant memory
//!   for any size, every chunk authenticated, truncation/reordering/duplication detected.
//! * [`hierarchy`] — the **key hierarchy**: versioned tenant key-encryption keys
//!   ([`hierarchy::Kek`]) wrap per-session [`DataKey`]s; rotation re-wraps without
//!   re-encrypting content; deleting a wrapped key shreds its content (R-P4).
//! * [`modes`] — the **four session encryption modes** (R-E1..R-E4): server-managed,
//!   session key, passphrase (Argon2id with bounded parameters) and end-to-end.
//! * [`e2e`] — **end-to-end mode on MLS** (RFC 9420, `openmls`): one group per session
//!   with cross-signed device credentials, the Delivery Service's checks ([`e2e::DsGroup`],
//!   first commit per epoch wins), signed hash-chained epoch records, content keys from
//!   the MLS exporter with the sender's signature inside, RFC 9605 media keys with signed
//!   frames, verification codes and history grants checked against the records.
//! * [`backup`] — key backups (R-E4a): a user's private keys, by default opened only by
//!   a generated recovery key, so the server cannot open them by guessing; a password
//!   slot only after a strength check, with Argon2id costs the client pins and caps; each
//!   backup names its account and a version (no rollback). A login-password reset loses
//!   nothing.
//! * [`sframe`] — **media frame encryption** (SFrame, RFC 9605) for `cai-rtc`.
//! * [`aead`] — the AES-256-GCM backends: portable RustCrypto, or `ring` (feature
//!   `ring`) at several GB/s. The wire format never depends on the backend; wiping does.
//!   RustCrypto overwrites its expanded key (AES round keys, GHASH key) on drop; `ring`
//!   0.17 does not, and its round keys contain the subkey itself, so with the `ring`
//!   feature the subkeys of dropped sealers and openers stay in freed memory — an
//!   exception to *Secrets* below. The raw subkey bytes are wiped with either backend.
//!
//! ## Example
//!
//! ```
//! use cai_crypto::{ContentKind, DataKey, ItemContext, KeyEpoch, envelope};
//!
//! let session_key = DataKey::generate(KeyEpoch::INITIAL)?;
//! let ctx = ItemContext::new(b"tenant", b"session", b"item-1", 1, ContentKind::Message);
//!
//! let mut sealer = envelope::Sealer::new(&session_key)?;
//! let sealed = sealer.seal(&ctx, b"hello")?;
//!
//! let mut opener = envelope::Opener::new(&session_key);
//! assert_eq!(opener.open(&ctx, &sealed)?, b"hello");
//! # Ok::<(), cai_crypto::Error>(())
//! ```
//!
//! ## Secrets
//!
//! Every type of this crate holding a secret zeroizes itself on drop, prints
//! `<redacted>` in `Debug` and compares in constant time ([`SecretBytes`]). No [`Error`]
//! carries key bytes, plaintext or passphrases. Two exceptions lie in dependencies: with
//! the `ring` feature, `ring`'s prepared AES keys are not wiped when dropped (see
//! [`aead`]); and `openmls` keeps a device's MLS secrets in its own storage types, which
//! [`e2e::Device`] holds and serialises only as a zeroizing buffer.
//!
//! ## What it does not do
//!
//! It does not store anything, talk to a network, or decide who may hold which key:
//! that is `cai-core`'s authorization and `cai-store`'s persistence. It does not
//! implement primitives: AES-GCM, HKDF, Argon2, Ed25519, X25519, HPKE and SFrame come
//! from maintained crates (RustCrypto, dalek, `hpke`, `sframe`, `ring`), and MLS from
//! `openmls`.

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod aead;
pub mod backup;
mod context;
pub mod e2e;
pub mod envelope;
mod error;
pub mod hierarchy;
pub mod kdf;
mod keys;
pub mod modes;
pub mod passphrase;
mod secret;
pub mod sframe;
pub mod stream;

pub use context::{ContentKind, ItemContext, MAX_ID_LEN, MODE_BINDING_LEN, ModeBinding};
pub use error::{Error, Result};
pub use keys::{DataKey, KEY_ID_LEN, KeyEpoch, KeyId};
pub use secret::SecretBytes;
