//! The four session encryption modes (R-E1 to R-E4) and their key custody: what the
//! server stores per session so the session's keys can be recovered by whoever is
//! meant to read them, and by nobody else.
//!
//! | Mode | Who seals | Who can read | Server stores ([`KeyCustody`]) |
//! |---|---|---|---|
//! | [`ServerManaged`](SessionMode::ServerManaged) (R-E1) | server | server, participants via server | [`WrappedKey`] under the tenant KEK |
//! | [`SessionKey`](SessionMode::SessionKey) (R-E2) | clients | participants; the server can unwrap | [`WrappedKey`] under the tenant KEK |
//! | [`Passphrase`](SessionMode::Passphrase) (R-E3) | clients | holders of the passphrase | [`PassphraseParams`] (no key) |
//! | [`EndToEnd`](SessionMode::EndToEnd) (R-E4) | clients | participants' devices | nothing: the session's MLS group lives with the Delivery Service ([`crate::e2e`]) |
//!
//! [`SessionMode::can_change_to`] orders the modes by how little the server can read
//! (`ServerManaged < SessionKey < Passphrase < EndToEnd`) and never allows a silent
//! step down.
//!
//! ```
//! use cai_crypto::hierarchy::{Kek, session_wrap_context};
//! use cai_crypto::modes::{self, KeyCustody, SessionMode};
//! use cai_crypto::passphrase::Argon2Params;
//!
//! let kek = Kek::generate(1)?;
//! let ctx = session_wrap_context(b"tenant-1", b"session-9")?;
//!
//! // Session-key mode: the server stores the wrapped key, clients get the key to seal.
//! let (key, custody) = modes::create_wrapped(SessionMode::SessionKey, &kek, &ctx)?;
//! let stored = custody.to_bytes();
//! let custody = KeyCustody::parse(&stored)?;
//! assert_eq!(modes::recover_wrapped(&kek, &custody, &ctx)?, key);
//!
//! // Passphrase mode: the server stores parameters only; clients derive the key.
//! let (key, custody) = modes::create_passphrase(b"our phrase", Argon2Params::MINIMUM)?;
//! assert_eq!(modes::recover_passphrase(b"our phrase", &custody)?, key);
//!
//! assert!(!SessionMode::Passphrase.can_change_to(SessionMode::ServerManaged));
//! # Ok::<(), cai_crypto::Error>(())
//! ```

//! ## No silent downgrade: the signed mode descriptor
//!
//! A client learns a session's mode from a [`ModeDescriptor`] its creator's device signed
//! with the creator's user identity key — never from the server's word alone. In
//! end-to-end mode it is part of the MLS group context; in the other modes the creator
//! attaches it to the session, every client [`accept`](ModeDescriptor::accept)s it
//! (signature, session, announced mode, trusted creator key) before it seals or opens,
//! and its [`binding`](ModeDescriptor::binding) is part of every item's context
//! ([`ItemContext::with_mode`](crate::ItemContext::with_mode)), server-sealed items
//! included. A server that announces another mode than the owner signed, or hands out
//! another session's or another account's descriptor, is refused; an item sealed under
//! another descriptor does not open. A server can still *omit* the descriptor: a client
//! that wants the protection must not send plaintext to, or seal in, a session without
//! a descriptor it accepted, whatever mode is announced (`docs/E2E.md` §5).
//!
//! ```
//! use cai_crypto::e2e::{AccountRef, IdentityKey, TrustStore};
//! use cai_crypto::modes::{ModeDescriptor, SessionMode};
//! use cai_crypto::{ContentKind, DataKey, ItemContext, KeyEpoch, envelope};
//!
//! // The creator's device, once the server has given the session its id:
//! let creator_key = IdentityKey::generate()?;
//! let creator = AccountRef::new(b"acc_1")?;
//! let signed = ModeDescriptor::sign(&creator_key, &creator, b"ten_1", b"ses_9", SessionMode::SessionKey)?;
//!
//! // Another participant's device, with the creator's key pinned:
//! let mut trust = TrustStore::strict();
//! trust.pin(creator.clone(), creator_key.public())?;
//! let d = ModeDescriptor::accept(signed.as_bytes(), b"ten_1", b"ses_9", &creator, SessionMode::SessionKey, &mut trust)?;
//! let ctx = ItemContext::new(b"ten_1", b"ses_9", b"itm_1", 0, ContentKind::Message)
//!     .with_mode(Some(d.binding()));
//! let key = DataKey::generate(KeyEpoch::INITIAL)?;
//! let sealed = envelope::seal(&key, &ctx, b"hello")?;
//! assert!(envelope::open(&key, &ctx.with_mode(None), &sealed).is_err());
//!
//! // A server announcing server-managed mode for this session is refused.
//! assert!(ModeDescriptor::accept(signed.as_bytes(), b"ten_1", b"ses_9", &creator, SessionMode::ServerManaged, &mut trust).is_err());
//! # Ok::<(), cai_crypto::Error>(())
//! ```

pub use crate::context::ModeBinding;
pub use crate::e2e::ModeDescriptor;
use crate::hierarchy::{self, Kek, WrappedKey};
use crate::keys::{DataKey, KeyEpoch, KeyId};
use crate::passphrase::{self, Argon2Params, PassphraseParams};
use crate::{Error, Result};

/// How a session's content is encrypted. Chosen when the session is created; see the
/// [module documentation](self) for the table of who can read what.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionMode {
    /// R-E1: server-managed at-rest encryption. Clients send plaintext over TLS; the
    /// server seals content under the session's data key, which it keeps wrapped under
    /// the tenant KEK ([`hierarchy`]). The server (and anyone who controls it) can read
    /// the content; the database alone cannot.
    ServerManaged,
    /// R-E2: per-session key. A data key is generated for each session and kept wrapped
    /// on the server; participants fetch it and seal on their devices, so content never
    /// reaches the server in clear. The server holds the KEK and *can* unwrap the key,
    /// so it is trusted not to; a database thief without the KEK cannot read.
    SessionKey,
    /// R-E3: passphrase. The owner sets a passphrase; clients derive the key with
    /// Argon2id ([`passphrase`]) and seal. The key is never stored or sent: the server
    /// cannot read (it can only test passphrase guesses offline at Argon2id cost). **A
    /// lost passphrase makes the content unrecoverable.**
    Passphrase,
    /// R-E4: end-to-end. One MLS group (RFC 9420) per session ([`crate::e2e`]); content
    /// and media keys come from the group's exporter, every item is signed by its
    /// sending device, and the server is only the Delivery Service.
    EndToEnd,
}

impl SessionMode {
    /// Every mode, from least to most protective.
    pub const ALL: [SessionMode; 4] = [
        SessionMode::ServerManaged,
        SessionMode::SessionKey,
        SessionMode::Passphrase,
        SessionMode::EndToEnd,
    ];

    /// Whether the server can read the session's content (alone, with what it stores).
    pub fn server_can_read(self) -> bool {
        matches!(self, SessionMode::ServerManaged | SessionMode::SessionKey)
    }

    /// Whether clients seal content themselves (the server never sees plaintext).
    pub fn client_seals(self) -> bool {
        !matches!(self, SessionMode::ServerManaged)
    }

    /// The rank in the protection order: 0 ServerManaged, 1 SessionKey, 2 Passphrase,
    /// 3 EndToEnd. Higher means the server can read less.
    pub fn protection_rank(self) -> u8 {
        match self {
            SessionMode::ServerManaged => 0,
            SessionMode::SessionKey => 1,
            SessionMode::Passphrase => 2,
            SessionMode::EndToEnd => 3,
        }
    }

    /// Whether a session in mode `self` may switch to `other` without an explicit,
    /// user-visible decision: only to the same or a more protective mode in the order
    /// `ServerManaged < SessionKey < Passphrase < EndToEnd`.
    ///
    /// Clients must check this against the mode they last saw before accepting a mode
    /// announced by the server, so a compromised server cannot silently downgrade a
    /// session (for instance make clients send plaintext to it). A change applies to
    /// new content; existing content keeps the custody it was sealed under.
    pub fn can_change_to(self, other: SessionMode) -> bool {
        other.protection_rank() >= self.protection_rank()
    }

    /// One-byte code for storage: 1, 2, 3, 4 in the order above.
    pub fn code(self) -> u8 {
        self.protection_rank() + 1
    }

    /// The mode with code `code`.
    pub fn from_code(code: u8) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|m| m.code() == code)
            .ok_or(Error::Malformed {
                what: "session mode",
                reason: "unknown code",
            })
    }
}

/// What the server stores per session so the session key can be recovered.
///
/// New variants may follow (the enum is non-exhaustive); match with a wildcard arm.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
// One custody value per session, read once per session open: boxing the fixed-size
// wrapped key would cost an allocation for nothing.
#[allow(clippy::large_enum_variant)]
pub enum KeyCustody {
    /// [`SessionMode::ServerManaged`] and [`SessionMode::SessionKey`]: the data key
    /// wrapped under the tenant KEK.
    Wrapped(WrappedKey),
    /// [`SessionMode::Passphrase`]: derivation parameters and verifier; no key material.
    Passphrase(PassphraseParams),
}

impl KeyCustody {
    /// The stored bytes: a wrapped key (`"CAIW"…`) or passphrase parameters
    /// (`"CAIP"…`).
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            KeyCustody::Wrapped(w) => w.to_bytes().to_vec(),
            KeyCustody::Passphrase(p) => p.to_bytes(),
        }
    }

    /// Parses stored custody, dispatching on the magic bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        match bytes.get(..4) {
            Some(m) if m == hierarchy::MAGIC => WrappedKey::parse(bytes).map(Self::Wrapped),
            Some(m) if m == passphrase::MAGIC => {
                PassphraseParams::parse(bytes).map(Self::Passphrase)
            }
            Some(_) => Err(Error::BadMagic {
                expected: "key custody",
            }),
            None => Err(Error::Truncated {
                what: "key custody",
                needed: 4,
                got: bytes.len(),
            }),
        }
    }

    /// Id of the session key it holds.
    pub fn key_id(&self) -> KeyId {
        match self {
            KeyCustody::Wrapped(w) => w.key_id(),
            KeyCustody::Passphrase(p) => p.key_id(),
        }
    }

    /// Epoch of the session key it holds.
    pub fn epoch(&self) -> KeyEpoch {
        match self {
            KeyCustody::Wrapped(w) => w.epoch(),
            KeyCustody::Passphrase(p) => p.epoch(),
        }
    }

    /// Whether this custody fits `mode`.
    pub fn fits(&self, mode: SessionMode) -> bool {
        match self {
            KeyCustody::Wrapped(_) => {
                matches!(mode, SessionMode::ServerManaged | SessionMode::SessionKey)
            }
            KeyCustody::Passphrase(_) => mode == SessionMode::Passphrase,
        }
    }
}

/// A new session key for [`SessionMode::ServerManaged`] or [`SessionMode::SessionKey`]:
/// a fresh random [`DataKey`] at [`KeyEpoch::INITIAL`], wrapped under the tenant `kek`
/// for `wrap_context` (use [`hierarchy::session_wrap_context`]). Other modes are
/// [`Error::Rejected`].
pub fn create_wrapped(
    mode: SessionMode,
    kek: &Kek,
    wrap_context: &[u8],
) -> Result<(DataKey, KeyCustody)> {
    if !matches!(mode, SessionMode::ServerManaged | SessionMode::SessionKey) {
        return Err(Error::Rejected {
            what: "session mode",
            reason: "only server-managed and session-key modes use a tenant KEK",
        });
    }
    let key = DataKey::generate(KeyEpoch::INITIAL)?;
    let wrapped = kek.wrap(&key, wrap_context)?;
    Ok((key, KeyCustody::Wrapped(wrapped)))
}

/// Recovers a wrapped session key with the tenant `kek` (on the server, or for clients
/// in session-key mode via the server). Passphrase custody is [`Error::Rejected`].
pub fn recover_wrapped(kek: &Kek, custody: &KeyCustody, wrap_context: &[u8]) -> Result<DataKey> {
    match custody {
        KeyCustody::Wrapped(w) => kek.unwrap(w, wrap_context),
        KeyCustody::Passphrase(_) => Err(Error::Rejected {
            what: "key custody",
            reason: "only server-managed and session-key custody is wrapped under a KEK",
        }),
    }
}

/// A new session key for [`SessionMode::Passphrase`], derived on the client (see
/// [`passphrase::create`]). **A lost passphrase means the content is unrecoverable.**
pub fn create_passphrase(passphrase: &[u8], params: Argon2Params) -> Result<(DataKey, KeyCustody)> {
    let (key, stored) = passphrase::create(passphrase, params)?;
    Ok((key, KeyCustody::Passphrase(stored)))
}

/// Derives a passphrase-mode session key on the client ([`Error::WrongPassphrase`] for
/// a wrong passphrase). Wrapped custody is [`Error::Rejected`].
pub fn recover_passphrase(passphrase: &[u8], custody: &KeyCustody) -> Result<DataKey> {
    match custody {
        KeyCustody::Passphrase(p) => passphrase::derive(passphrase, p),
        KeyCustody::Wrapped(_) => Err(Error::Rejected {
            what: "key custody",
            reason: "only passphrase custody is derived from a passphrase",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for m in SessionMode::ALL {
            assert_eq!(SessionMode::from_code(m.code()).unwrap(), m);
        }
        assert!(SessionMode::from_code(0).is_err());
        assert!(SessionMode::from_code(5).is_err());
    }
}
