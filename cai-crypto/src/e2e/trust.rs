//! Which user identity keys a device trusts.
//!
//! Every member's credential is cross-signed by its user's identity key
//! ([`DeviceCredential`]); a [`TrustStore`] decides whether that key is the user's.
//! [`TrustStore::strict`] accepts only keys pinned beforehand (from a verified
//! directory, a QR code, an earlier verification); [`TrustStore::trust_on_first_use`]
//! also accepts the first key it sees per account — and says so, with a warning. A
//! key that differs from the one trusted is refused either way until the user accepts
//! the change ([`TrustStore::replace`]).

use std::collections::{BTreeMap, BTreeSet};

use super::credential::{AccountRef, DeviceCredential, MAX_ACCOUNT_ID_LEN};
use super::device::{DeviceId, MAX_DEVICE_ID_LEN};
use super::identity::{IDENTITY_PUBLIC_KEY_LEN, IdentityPublicKey};
use super::wire::{Reader, put_var8};
use crate::{Error, Result};

/// How far a user identity key is trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TrustLevel {
    /// Accepted the first time it was seen, not verified.
    FirstUse,
    /// Verified out of band (pinned, or the verification code was compared).
    Verified,
}

/// What a device knows about other users' identity keys and devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustStore {
    first_use: bool,
    users: BTreeMap<AccountRef, (IdentityPublicKey, TrustLevel)>,
    devices: BTreeSet<(AccountRef, DeviceId)>,
}

/// What [`TrustStore::admit`] learned about a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// A device seen before.
    Known,
    /// A new device of a trusted user.
    NewDevice,
    /// A user seen for the first time, trusted on first use.
    NewUser,
}

impl TrustStore {
    /// Trusts only keys [`pin`](Self::pin)ned beforehand.
    pub fn strict() -> Self {
        Self {
            first_use: false,
            users: BTreeMap::new(),
            devices: BTreeSet::new(),
        }
    }

    /// Trusts the first identity key seen per account (TOFU). New users then come with
    /// a [`MemberWarning::NewUser`](super::MemberWarning::NewUser), and the verification
    /// code is what turns first use into verified trust.
    pub fn trust_on_first_use() -> Self {
        Self {
            first_use: true,
            ..Self::strict()
        }
    }

    /// Pins `key` as `account`'s verified identity key (replacing nothing: a different
    /// key already pinned is [`Error::Untrusted`]; use [`replace`](Self::replace)).
    pub fn pin(&mut self, account: AccountRef, key: IdentityPublicKey) -> Result<()> {
        match self.users.get(&account) {
            Some((k, _)) if *k != key => Err(Error::Untrusted {
                reason: "another identity key is trusted for this account",
            }),
            _ => {
                self.users.insert(account, (key, TrustLevel::Verified));
                Ok(())
            }
        }
    }

    /// Replaces `account`'s identity key after the user confirmed the change (its
    /// known devices are forgotten).
    pub fn replace(&mut self, account: AccountRef, key: IdentityPublicKey) {
        self.devices.retain(|(a, _)| *a != account);
        self.users.insert(account, (key, TrustLevel::Verified));
    }

    /// The trusted key and level of `account`, if any.
    pub fn get(&self, account: &AccountRef) -> Option<(IdentityPublicKey, TrustLevel)> {
        self.users.get(account).copied()
    }

    /// Checks that `key` is `account`'s trusted identity key; a trust-on-first-use store
    /// learns an account it has not seen.
    pub(crate) fn admit_user(
        &mut self,
        account: &AccountRef,
        key: &IdentityPublicKey,
    ) -> Result<TrustLevel> {
        match self.users.get(account) {
            Some((k, level)) if k == key => Ok(*level),
            Some(_) => Err(Error::Untrusted {
                reason: "the user's identity key changed",
            }),
            None if self.first_use => {
                self.users
                    .insert(account.clone(), (*key, TrustLevel::FirstUse));
                Ok(TrustLevel::FirstUse)
            }
            None => Err(Error::Untrusted {
                reason: "unknown user identity key",
            }),
        }
    }

    /// Checks a credential, learning new devices (and, on first use, new users).
    pub(crate) fn admit(&mut self, c: &DeviceCredential) -> Result<Admission> {
        let admission = match self.users.get(c.account()) {
            Some((key, _)) if key == c.user_key() => {
                if self
                    .devices
                    .contains(&(c.account().clone(), c.device().clone()))
                {
                    Admission::Known
                } else {
                    Admission::NewDevice
                }
            }
            Some(_) => {
                return Err(Error::Untrusted {
                    reason: "the user's identity key changed",
                });
            }
            None if self.first_use => {
                self.users
                    .insert(c.account().clone(), (*c.user_key(), TrustLevel::FirstUse));
                Admission::NewUser
            }
            None => {
                return Err(Error::Untrusted {
                    reason: "unknown user identity key",
                });
            }
        };
        self.devices
            .insert((c.account().clone(), c.device().clone()));
        Ok(admission)
    }

    /// Checks a credential without learning anything.
    pub(crate) fn check(&self, c: &DeviceCredential) -> Result<()> {
        match self.users.get(c.account()) {
            Some((key, _)) if key == c.user_key() => Ok(()),
            Some(_) => Err(Error::Untrusted {
                reason: "the user's identity key changed",
            }),
            None if self.first_use => Ok(()),
            None => Err(Error::Untrusted {
                reason: "unknown user identity key",
            }),
        }
    }

    /// Checks credentials that are to be admitted together (a commit's adds, a
    /// welcome's members): each one as [`check`](Self::check) does, and — since `check`
    /// learns nothing — that all those of one account name the same user key, so that
    /// trust on first use cannot accept two keys for one user at once.
    pub(crate) fn check_all(&self, credentials: &[DeviceCredential]) -> Result<()> {
        let mut seen: BTreeMap<&AccountRef, &IdentityPublicKey> = BTreeMap::new();
        for c in credentials {
            self.check(c)?;
            if let Some(k) = seen.insert(c.account(), c.user_key())
                && k != c.user_key()
            {
                return Err(Error::Untrusted {
                    reason: "two identity keys for one user",
                });
            }
        }
        Ok(())
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        out.push(u8::from(self.first_use));
        out.extend_from_slice(&(self.users.len() as u32).to_be_bytes());
        for (a, (k, level)) in &self.users {
            put_var8(out, a.as_bytes())?;
            out.extend_from_slice(&k.to_bytes());
            out.push(match level {
                TrustLevel::FirstUse => 0,
                TrustLevel::Verified => 1,
            });
        }
        out.extend_from_slice(&(self.devices.len() as u32).to_be_bytes());
        for (a, d) in &self.devices {
            put_var8(out, a.as_bytes())?;
            put_var8(out, d.as_bytes())?;
        }
        Ok(())
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let bad = |reason| Error::Malformed {
            what: "trust store",
            reason,
        };
        let first_use = match r.u8()? {
            0 => false,
            1 => true,
            _ => return Err(bad("first-use flag is not 0 or 1")),
        };
        let mut users = BTreeMap::new();
        for _ in 0..r.u32()? {
            let a = AccountRef::new(r.var8(MAX_ACCOUNT_ID_LEN, "account id length")?)?;
            let k = IdentityPublicKey::from_bytes(&r.array::<IDENTITY_PUBLIC_KEY_LEN>()?)?;
            let level = match r.u8()? {
                0 => TrustLevel::FirstUse,
                1 => TrustLevel::Verified,
                _ => return Err(bad("unknown trust level")),
            };
            users.insert(a, (k, level));
        }
        let mut devices = BTreeSet::new();
        for _ in 0..r.u32()? {
            let a = AccountRef::new(r.var8(MAX_ACCOUNT_ID_LEN, "account id length")?)?;
            let d = DeviceId::new(r.var8(MAX_DEVICE_ID_LEN, "device id length")?)?;
            devices.insert((a, d));
        }
        Ok(Self {
            first_use,
            users,
            devices,
        })
    }
}
