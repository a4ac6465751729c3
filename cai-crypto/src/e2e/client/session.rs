//! What a member does in a group: read its state, seal and open content, media keys,
//! history grants.

use super::*;

impl Device {
    /// The groups this device is a member of.
    pub fn groups(&self) -> impl Iterator<Item = &[u8]> {
        self.groups.keys().map(Vec::as_slice)
    }

    /// The current epoch of a group.
    pub fn epoch(&self, gid: &[u8]) -> Result<u64> {
        Ok(self.state(gid)?.group.epoch().as_u64())
    }

    /// The current members of a group, in credential byte order.
    pub fn members(&self, gid: &[u8]) -> Result<Vec<DeviceCredential>> {
        members_of(&self.state(gid)?.group)
    }

    /// The session's signed mode descriptor.
    pub fn descriptor(&self, gid: &[u8]) -> Result<&ModeDescriptor> {
        Ok(&self.state(gid)?.descriptor)
    }

    /// The epoch authenticator of the current epoch (RFC 9420 §8.7).
    pub fn epoch_authenticator(&self, gid: &[u8]) -> Result<Vec<u8>> {
        Ok(self
            .state(gid)?
            .group
            .epoch_authenticator()
            .as_slice()
            .to_vec())
    }

    /// The verification code of the current epoch.
    pub fn verification_code(&self, gid: &[u8]) -> Result<VerificationCode> {
        let st = self.state(gid)?;
        VerificationCode::derive(
            gid,
            st.group.epoch().as_u64(),
            st.group.epoch_authenticator().as_slice(),
        )
    }

    /// The keys this device holds for `epoch`, if any.
    pub fn epoch_keys(&self, gid: &[u8], epoch: u64) -> Result<Option<&EpochKeys>> {
        Ok(self.state(gid)?.epochs.get(&epoch))
    }

    /// Seals a content item in the current epoch, signed by this device.
    pub fn seal(&self, gid: &[u8], ctx: &ItemContext<'_>, plaintext: &[u8]) -> Result<Vec<u8>> {
        let st = self.state(gid)?;
        let epoch = st.group.epoch().as_u64();
        let keys = st.epochs.get(&epoch).ok_or(Error::EpochUnavailable {
            epoch,
            reason: "the current epoch's keys are missing",
        })?;
        content::seal(keys, gid, &self.signing, ctx, plaintext)
    }

    /// Opens a content item of any epoch this device holds keys for, and says who sent
    /// it. Items of other epochs are [`Error::EpochUnavailable`] (R-E4c).
    pub fn open(&self, gid: &[u8], ctx: &ItemContext<'_>, sealed: &[u8]) -> Result<Opened> {
        let st = self.state(gid)?;
        let (header, _) = crate::envelope::EnvelopeHeader::parse(sealed)?;
        let epoch = u64::from(header.epoch.0);
        let keys = st.epochs.get(&epoch).ok_or(Error::EpochUnavailable {
            epoch,
            reason: "this device was not a member then and holds no history grant for it",
        })?;
        content::open(keys, gid, ctx, sealed)
    }

    fn media_epoch(&self, st: &GroupState, suite: MediaSuite) -> Result<MediaEpoch> {
        let secret = Zeroizing::new(export(
            &self.provider,
            &st.group,
            SFRAME_EXPORTER_LABEL,
            suite.key_len(),
        )?);
        let mut senders = Vec::new();
        for m in st.group.members() {
            let key: [u8; 32] =
                m.signature_key
                    .as_slice()
                    .try_into()
                    .map_err(|_| Error::Untrusted {
                        reason: "leaf signature key is not an Ed25519 key",
                    })?;
            senders.push((m.index.u32(), IdentityPublicKey::from_bytes(&key)?));
        }
        Ok(MediaEpoch {
            epoch: st.group.epoch().as_u64(),
            secret,
            senders,
        })
    }

    /// A media sender for this device in the current epoch (RFC 9605 §5.2 keys).
    pub fn media_sender(&self, gid: &[u8], suite: MediaSuite) -> Result<MediaSender> {
        let st = self.state(gid)?;
        let keys = self.media_epoch(st, suite)?;
        MediaSender::new(
            gid,
            suite,
            &keys,
            st.group.own_leaf_index().u32(),
            &self.signing,
        )
    }

    /// A media receiver holding every sender's key of the current epoch.
    pub fn media_receiver(&self, gid: &[u8], suite: MediaSuite) -> Result<MediaReceiver> {
        let mut r = MediaReceiver::new(gid);
        self.update_media_receiver(gid, suite, &mut r)?;
        Ok(r)
    }

    /// Adds the current epoch's sender keys to `receiver` (after an epoch change).
    pub fn update_media_receiver(
        &self,
        gid: &[u8],
        suite: MediaSuite,
        receiver: &mut MediaReceiver,
    ) -> Result<()> {
        let st = self.state(gid)?;
        receiver.add_epoch(suite, &self.media_epoch(st, suite)?)
    }

    /// Seals the content keys of `epochs` (those this device holds) to `recipients`,
    /// the devices of one counsellor (R-E4b).
    pub fn grant_history(
        &self,
        gid: &[u8],
        recipients: &[DeviceCredential],
        epochs: core::ops::RangeInclusive<u64>,
    ) -> Result<Vec<u8>> {
        let st = self.state(gid)?;
        // Only to devices in the group: credentials from anywhere else (the server's
        // word for "the new counsellor's devices") would receive the history unseen.
        let members = members_of(&st.group)?;
        for r in recipients {
            if !members.contains(r) {
                return Err(Error::Rejected {
                    what: "history grant",
                    reason: "a recipient device is not a member of the group",
                });
            }
        }
        if epochs.start() > epochs.end() {
            return Err(Error::Rejected {
                what: "history grant",
                reason: "empty epoch range",
            });
        }
        let keys: Vec<&EpochKeys> = st.epochs.range(epochs).map(|(_, k)| k).collect();
        history::grant(gid, recipients, &keys)
    }

    /// Accepts a history grant after checking every epoch in it against `records` (the
    /// Delivery Service's stored records of the group). Returns how many epochs were
    /// added; nothing is added when any epoch is refused.
    pub fn accept_history(
        &mut self,
        gid: &[u8],
        grant: &[u8],
        records: &[Vec<u8>],
    ) -> Result<usize> {
        let st = self.groups.get(gid).ok_or_else(no_group)?;
        let keys = history::accept(
            grant,
            gid,
            &self.credential,
            &self.boxing,
            st.anchor,
            records,
        )?;
        let st = self.groups.get_mut(gid).ok_or_else(no_group)?;
        let mut added = 0;
        for k in keys {
            if let std::collections::btree_map::Entry::Vacant(v) = st.epochs.entry(k.epoch) {
                v.insert(k);
                added += 1;
            }
        }
        Ok(added)
    }
}
