//! Saving and restoring a device.

use super::*;

impl Device {
    /// The device's whole state — private keys, MLS groups, epoch keys, trust — to keep
    /// on the device (encrypted by the caller) or in its key backup. Zeroized on drop.
    pub fn save(&self) -> Result<Zeroizing<Vec<u8>>> {
        let mut out = Zeroizing::new(Vec::new());
        put_preamble(&mut out, KIND_DEVICE_STATE);
        out.extend_from_slice(self.signing.to_seed().expose_secret());
        out.extend_from_slice(self.boxing.to_secret().expose_secret());
        out.extend_from_slice(&(self.credential.as_bytes().len() as u16).to_be_bytes());
        out.extend_from_slice(self.credential.as_bytes());
        self.trust.encode(&mut out)?;
        out.extend_from_slice(&(self.groups.len() as u32).to_be_bytes());
        for (gid, st) in &self.groups {
            put_var8(&mut out, gid)?;
            out.extend_from_slice(&(st.descriptor.as_bytes().len() as u16).to_be_bytes());
            out.extend_from_slice(st.descriptor.as_bytes());
            out.extend_from_slice(&st.last_record);
            out.extend_from_slice(&st.anchor.0.to_be_bytes());
            out.extend_from_slice(&st.anchor.1);
            out.extend_from_slice(&(st.epochs.len() as u32).to_be_bytes());
            for k in st.epochs.values() {
                out.extend_from_slice(&k.epoch.to_be_bytes());
                out.extend_from_slice(k.content_key.id().as_bytes());
                out.extend_from_slice(k.content_key.secret().expose_secret());
                out.extend_from_slice(&k.record);
                out.extend_from_slice(&(k.members.len() as u16).to_be_bytes());
                for m in &k.members {
                    out.extend_from_slice(&(m.as_bytes().len() as u16).to_be_bytes());
                    out.extend_from_slice(m.as_bytes());
                }
            }
        }
        out.extend_from_slice(&self.provider.save()?);
        // `load` refuses more, so refuse to write it: a state that saves but never
        // loads again would lose every key in it.
        mls::check_state_len("device state", out.len())?;
        Ok(out)
    }

    /// Restores a device from [`save`](Self::save). A commit pending at the save stays
    /// pending: [`confirm`](Self::confirm) or [`discard`](Self::discard) it, or
    /// [`process`](Self::process) whichever commit the Delivery Service accepted.
    pub fn load(bytes: &[u8]) -> Result<Self> {
        const WHAT: &str = "device state";
        mls::check_state_len(WHAT, bytes.len())?;
        let mut r = Reader::new(bytes, WHAT);
        read_preamble(&mut r, WHAT, KIND_DEVICE_STATE)?;
        let signing = IdentityKey::from_seed(&SecretBytes::from_bytes(r.array()?));
        let boxing = DeviceKeyPair::from_secret(&SecretBytes::from_bytes(r.array()?));
        let n = usize::from(r.u16()?);
        let credential = DeviceCredential::parse(r.take(n)?)?;
        if *credential.signature_key() != signing.public()
            || *credential.box_key() != boxing.public()
        {
            return Err(Error::Malformed {
                what: WHAT,
                reason: "keys do not match the credential",
            });
        }
        let trust = TrustStore::decode(&mut r)?;
        let mut groups_raw = Vec::new();
        for _ in 0..r.u32()? {
            let gid = r.var8(255, "group id length")?.to_vec();
            let n = usize::from(r.u16()?);
            let descriptor = ModeDescriptor::parse(r.take(n)?)?;
            let last_record = r.array()?;
            let anchor = (r.u64()?, r.array()?);
            let mut epochs = BTreeMap::new();
            for _ in 0..r.u32()? {
                let epoch = r.u64()?;
                let id = KeyId::from_bytes(r.array()?);
                let secret = SecretBytes::from_bytes(r.array()?);
                let record = r.array()?;
                let mut members = Vec::new();
                for _ in 0..r.u16()? {
                    let n = usize::from(r.u16()?);
                    members.push(DeviceCredential::parse(r.take(n)?)?);
                }
                let key_epoch = u32::try_from(epoch).map_err(|_| Error::Malformed {
                    what: WHAT,
                    reason: "epoch out of range",
                })?;
                let key = DataKey::from_parts(id, KeyEpoch(key_epoch), secret);
                epochs.insert(epoch, EpochKeys::new(epoch, key, members, record));
            }
            groups_raw.push((gid, descriptor, last_record, anchor, epochs));
        }
        let provider = Provider::load(&mut r)?;
        r.finish()?;
        let mut groups = BTreeMap::new();
        for (gid, descriptor, last_record, anchor, epochs) in groups_raw {
            let group = MlsGroup::load(provider.storage(), &GroupId::from_slice(&gid))
                .map_err(|e| mls("load group", e))?
                .ok_or(Error::Malformed {
                    what: WHAT,
                    reason: "a group's MLS state is missing",
                })?;
            // A commit made before the save is still pending in the MLS state: its
            // record is signed again (Ed25519 is deterministic: the same bytes) so that
            // `confirm`, or processing the commit when the Delivery Service relays it,
            // works as before the save.
            let pending = match group.pending_commit() {
                Some(staged) => {
                    let (facts, members, epoch) = staged_facts(&provider, &group, staged)?;
                    let record = EpochRecord::sign(&signing, &gid, epoch, last_record, &facts)?;
                    Some((record, members))
                }
                None => None,
            };
            groups.insert(
                gid,
                GroupState {
                    group,
                    descriptor,
                    epochs,
                    last_record,
                    anchor,
                    pending,
                },
            );
        }
        Ok(Self {
            provider,
            signing,
            boxing,
            credential,
            trust,
            groups,
        })
    }
}
