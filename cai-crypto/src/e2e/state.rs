//! The receiver side of one session: which epoch is newest, who may start the next one,
//! and the epoch secrets this device holds.
//!
//! [`SessionState::accept`] applies, in this order, and says which rule failed:
//!
//! 1. the bundle parses strictly and its Ed25519 signature verifies under the sender
//!    identity it names ([`Error::InvalidSignature`], parse errors), and that sender is in
//!    the bundle's roster ([`Error::Rejected`]);
//! 2. it is for this session ([`Error::Rejected`]);
//! 3. its epoch is newer than the newest accepted ([`Error::StaleEpoch`]) and exactly
//!    the next one ([`Error::Rejected`]): a device that missed bundles applies the stored
//!    chain in order;
//! 4. its sender may start it: a member (same device id and identity key) of the
//!    previously accepted roster, or, for the first bundle, one of the trusted identities
//!    given to [`SessionState::new`] ([`Error::Rejected`]);
//! 5. this device is in the roster with its current X25519 key
//!    ([`Error::NotARecipient`], [`Error::Rejected`]) and the secret unwraps
//!    ([`Error::NonContributory`], [`Error::Hpke`]).
//!
//! Only when all pass does the state move to the new epoch.

use std::collections::BTreeMap;

use super::bundle::EpochBundle;
use super::device::{DeviceId, LocalDevice};
use super::epoch::{EpochSecret, check_session};
use super::history::HistoryBundle;
use super::identity::IdentityPublicKey;
use super::roster::Roster;
use crate::{DataKey, Error, KeyEpoch, Result, SecretBytes};

/// Receiver-side epoch tracker of one session on one device.
#[derive(Clone)]
pub struct SessionState {
    session: Vec<u8>,
    trusted: Vec<IdentityPublicKey>,
    newest: Option<KeyEpoch>,
    roster: Option<Roster>,
    secrets: BTreeMap<u32, EpochSecret>,
}

impl SessionState {
    /// A state that has accepted nothing yet. The first bundle must be signed by one of
    /// `trusted_first_senders` (identity keys the application has verified, for instance
    /// from its directory). An empty list means trust on first use: any sender in the
    /// first bundle's roster is accepted — use it only when the roster is checked
    /// elsewhere.
    pub fn new(session: &[u8], trusted_first_senders: &[IdentityPublicKey]) -> Result<Self> {
        check_session(session)?;
        Ok(Self {
            session: session.to_vec(),
            trusted: trusted_first_senders.to_vec(),
            newest: None,
            roster: None,
            secrets: BTreeMap::new(),
        })
    }

    /// A state restored from storage: `newest` and its `roster` were accepted before.
    /// Epoch secrets are added back with [`insert_secret`](Self::insert_secret).
    pub fn resume(session: &[u8], newest: KeyEpoch, roster: Roster) -> Result<Self> {
        check_session(session)?;
        Ok(Self {
            session: session.to_vec(),
            trusted: Vec::new(),
            newest: Some(newest),
            roster: Some(roster),
            secrets: BTreeMap::new(),
        })
    }

    /// Parses `bundle` and [`accept_bundle`](Self::accept_bundle)s it.
    pub fn accept(&mut self, bundle: &[u8], device: &LocalDevice) -> Result<EpochSecret> {
        self.accept_bundle(&EpochBundle::parse(bundle)?, device)
    }

    /// Checks a parsed bundle against this state (see the module docs for the order of
    /// checks), unwraps its secret for `device` and moves to its epoch.
    pub fn accept_bundle(
        &mut self,
        bundle: &EpochBundle,
        device: &LocalDevice,
    ) -> Result<EpochSecret> {
        const WHAT: &str = "epoch bundle";
        if bundle.session() != self.session.as_slice() {
            return Err(Error::Rejected {
                what: WHAT,
                reason: "bundle is for another session",
            });
        }
        if let Some(current) = self.newest {
            if bundle.epoch() <= current {
                return Err(Error::StaleEpoch {
                    current: current.0,
                    got: bundle.epoch().0,
                });
            }
            // Epochs advance one at a time: a device that missed bundles replays the
            // stored chain in order. No member can skip epochs past a removal it was
            // not part of, or jump to u32::MAX and end the session for everyone.
            if Some(bundle.epoch()) != current.next().ok() {
                return Err(Error::Rejected {
                    what: WHAT,
                    reason: "epoch skips ahead: apply the missing bundles in order first",
                });
            }
        }
        match &self.roster {
            Some(previous) => {
                if !previous.is_member(bundle.sender_device(), bundle.sender_identity()) {
                    return Err(Error::Rejected {
                        what: WHAT,
                        reason: "sender was not in the previous roster",
                    });
                }
            }
            None => {
                if !self.trusted.is_empty() && !self.trusted.contains(bundle.sender_identity()) {
                    return Err(Error::Rejected {
                        what: WHAT,
                        reason: "sender is not a trusted identity",
                    });
                }
            }
        }
        let secret = bundle.open(device)?;
        self.newest = Some(bundle.epoch());
        self.roster = Some(bundle.roster().clone());
        self.secrets.insert(bundle.epoch().0, secret.clone());
        Ok(secret)
    }

    /// Opens a history grant on `device` and keeps its epoch secrets. The granter must be
    /// in the newest accepted roster, every granted epoch must not be newer than the
    /// newest accepted one, and a granted secret must equal any already held for its
    /// epoch ([`Error::Rejected`] otherwise). Returns how many epochs were new.
    pub fn import_history(
        &mut self,
        bundle: &HistoryBundle,
        device: &LocalDevice,
    ) -> Result<usize> {
        const WHAT: &str = "history bundle";
        if bundle.session() != self.session.as_slice() {
            return Err(Error::Rejected {
                what: WHAT,
                reason: "bundle is for another session",
            });
        }
        let (Some(roster), Some(newest)) = (&self.roster, self.newest) else {
            return Err(Error::Rejected {
                what: WHAT,
                reason: "no epoch accepted yet",
            });
        };
        if !roster.is_member(bundle.granter_device(), bundle.granter_identity()) {
            return Err(Error::Rejected {
                what: WHAT,
                reason: "granter is not in the current roster",
            });
        }
        let secrets = bundle.open(device)?;
        for s in &secrets {
            if s.epoch() > newest {
                return Err(Error::Rejected {
                    what: WHAT,
                    reason: "grants an epoch newer than the newest accepted",
                });
            }
            if self.secrets.get(&s.epoch().0).is_some_and(|held| held != s) {
                return Err(Error::Rejected {
                    what: WHAT,
                    reason: "conflicts with an epoch secret already held",
                });
            }
        }
        let before = self.secrets.len();
        for s in secrets {
            self.secrets.entry(s.epoch().0).or_insert(s);
        }
        Ok(self.secrets.len() - before)
    }

    /// Adds a secret kept in storage (for instance after [`resume`](Self::resume)).
    pub fn insert_secret(&mut self, secret: EpochSecret) -> Result<()> {
        if secret.session() != self.session.as_slice() {
            return Err(Error::Rejected {
                what: "epoch secret",
                reason: "secret is for another session",
            });
        }
        self.secrets.insert(secret.epoch().0, secret);
        Ok(())
    }

    /// The newest accepted epoch.
    pub fn newest_epoch(&self) -> Option<KeyEpoch> {
        self.newest
    }

    /// The roster of the newest accepted epoch.
    pub fn roster(&self) -> Option<&Roster> {
        self.roster.as_ref()
    }

    /// The secret of `epoch`, if this device holds it.
    pub fn epoch_secret(&self, epoch: KeyEpoch) -> Result<&EpochSecret> {
        if let Some(s) = self.secrets.get(&epoch.0) {
            return Ok(s);
        }
        match self.newest {
            Some(newest) if epoch <= newest => Err(Error::NotARecipient),
            _ => Err(Error::Rejected {
                what: "epoch",
                reason: "its epoch bundle has not been accepted yet",
            }),
        }
    }

    /// `sender`'s content key in `epoch`. Says why when it cannot: the epoch is older
    /// than the newest and was never granted to this device ([`Error::NotARecipient`]),
    /// or its bundle has not been accepted yet ([`Error::Rejected`]).
    pub fn data_key(&self, epoch: KeyEpoch, sender: &DeviceId) -> Result<DataKey> {
        self.epoch_secret(epoch)?.data_key(sender)
    }

    /// `sender`'s media base secret in `epoch` (see [`data_key`](Self::data_key)).
    pub fn media_secret(&self, epoch: KeyEpoch, sender: &DeviceId) -> Result<SecretBytes<32>> {
        self.epoch_secret(epoch)?.media_secret(sender)
    }
}

impl core::fmt::Debug for SessionState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SessionState")
            .field("newest", &self.newest.map(|e| e.0))
            .field("devices", &self.roster.as_ref().map(Roster::len))
            .field("epochs_held", &self.secrets.len())
            .finish_non_exhaustive()
    }
}
