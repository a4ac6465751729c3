//! Joining a group from a welcome.

use super::*;

impl Device {
    /// Joins a group from a welcome and the record of the epoch it welcomes into.
    /// Checks that the group is the session's, that its mode descriptor is a valid
    /// end-to-end descriptor for that session by a trusted creator, that every member
    /// is trusted, and that the record describes the epoch.
    pub fn join(
        &mut self,
        tenant: &[u8],
        session: &[u8],
        welcome: &[u8],
        record: &[u8],
    ) -> Result<Joined> {
        check_len("welcome", welcome)?;
        let gid = session_group_id(tenant, session)?;
        if self.groups.contains_key(&gid) {
            return Err(Error::Rejected {
                what: "welcome",
                reason: "already a member",
            });
        }
        let record = EpochRecord::parse(record)?;
        // Processing a welcome consumes this device's key package; a welcome refused
        // below (wrong record, untrusted member, wrong descriptor) must not, or whoever
        // relays welcomes could burn the key package and keep the device out of the
        // genuine one.
        let snapshot = self.provider.snapshot()?;
        let joined = self.join_checked(tenant, session, gid, welcome, record);
        if joined.is_err() {
            self.provider.restore(&snapshot)?;
        }
        joined
    }

    fn join_checked(
        &mut self,
        tenant: &[u8],
        session: &[u8],
        gid: Vec<u8>,
        welcome: &[u8],
        record: EpochRecord,
    ) -> Result<Joined> {
        let MlsMessageBodyIn::Welcome(w) = MlsMessageIn::tls_deserialize_exact(welcome)
            .map_err(|e| mls("parse welcome", e))?
            .extract()
        else {
            return Err(Error::Rejected {
                what: "welcome",
                reason: "not a welcome message",
            });
        };
        let staged = StagedWelcome::new_from_welcome(&self.provider, &mls::join_config(), w, None)
            .map_err(|e| mls("process welcome", e))?;
        if staged.group_context().group_id().as_slice() != gid.as_slice() {
            return Err(Error::Rejected {
                what: "welcome",
                reason: "made for another session",
            });
        }
        let ext = staged
            .group_context()
            .extensions()
            .unknown(EXTENSION_MODE_DESCRIPTOR)
            .ok_or(Error::Rejected {
                what: "welcome",
                reason: "the group has no mode descriptor",
            })?;
        let descriptor = ModeDescriptor::parse(&ext.0)?;
        descriptor.check_session(tenant, session)?;
        if descriptor.mode() != SessionMode::EndToEnd {
            return Err(Error::Rejected {
                what: "mode descriptor",
                reason: "not an end-to-end session",
            });
        }
        match self.trust.get(descriptor.creator()) {
            Some((k, _)) if k != *descriptor.creator_key() => {
                return Err(Error::Untrusted {
                    reason: "mode descriptor signed by another key than the creator's",
                });
            }
            _ => {}
        }
        let members = sorted(
            staged
                .members()
                .map(|m| credential::of_leaf(&m.credential, &m.signature_key))
                .collect::<Result<Vec<_>>>()?,
        );
        self.trust.check_all(&members)?;
        let sender = staged
            .welcome_sender()
            .map_err(|e| mls("welcome sender", e))?;
        let sender = credential::of_leaf(sender.credential(), sender.signature_key().as_slice())?;
        let group = staged
            .into_group(&self.provider)
            .map_err(|e| mls("join group", e))?;
        let epoch = group.epoch().as_u64();
        let key = content_key(epoch, |l, n| export(&self.provider, &group, l, n))?;
        let facts = EpochFacts::new(group.epoch_authenticator().as_slice(), &key, &members);
        let checked = check_record(&record, &gid, epoch, record.previous(), &sender, &members)
            .and_then(|()| {
                if *record.facts() == facts {
                    Ok(())
                } else {
                    Err(Error::Rejected {
                        what: "epoch record",
                        reason: "does not describe the epoch this device computed: the group may be forked",
                    })
                }
            });
        checked?;
        let warnings = admit_all(&mut self.trust, &members)?;
        let keys = EpochKeys::new(epoch, key, members, record.digest());
        self.groups.insert(
            gid.clone(),
            GroupState::new(group, descriptor.clone(), keys),
        );
        Ok(Joined {
            group_id: gid,
            epoch,
            descriptor,
            warnings,
        })
    }
}
