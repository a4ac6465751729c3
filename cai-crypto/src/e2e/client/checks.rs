//! What a member computes and checks of a staged commit before merging it.

use super::*;

pub(super) fn export(
    provider: &Provider,
    group: &MlsGroup,
    label: &str,
    len: usize,
) -> Result<Vec<u8>> {
    group
        .export_secret(provider.crypto(), label, &[], len)
        .map_err(|e| mls("export secret", e))
}

/// The facts, members and epoch of the epoch a staged commit leads to.
pub(super) fn staged_facts(
    provider: &Provider,
    group: &MlsGroup,
    staged: &StagedCommit,
) -> Result<(EpochFacts, Vec<DeviceCredential>, u64)> {
    let epoch = staged.epoch().as_u64();
    let tree = staged
        .export_ratchet_tree(provider.crypto(), group.export_ratchet_tree())
        .map_err(|e| mls("staged tree", e))?
        .ok_or(Error::Mls {
            op: "staged tree",
            reason: "not a member's staged commit".into(),
        })?;
    let members = sorted(
        RatchetTreeIn::from(tree)
            .leaves()
            .map(|l| credential::of_leaf(l.credential(), l.signature_key().as_slice()))
            .collect::<Result<Vec<_>>>()?,
    );
    let authenticator = staged.epoch_authenticator().ok_or(Error::Mls {
        op: "staged epoch",
        reason: "no epoch authenticator".into(),
    })?;
    let key = content_key(epoch, |l, n| {
        staged
            .export_secret(provider.crypto(), l, &[], n)
            .map_err(|e| mls("export secret", e))
    })?;
    Ok((
        EpochFacts::new(authenticator.as_slice(), &key, &members),
        members,
        epoch,
    ))
}

/// The checks a member makes on another member's commit: cai's commit rules
/// ([`commit_changes`], the same the Delivery Service applies), then trust in the
/// devices added (one user key per account among them) and in the committer's new
/// leaf. Returns the committer's credential in the new epoch and the devices of the new
/// epoch as the proposals describe them.
pub(super) fn check_staged(
    group: &MlsGroup,
    trust: &TrustStore,
    sender: LeafNodeIndex,
    staged: &StagedCommit,
) -> Result<(DeviceCredential, Vec<DeviceCredential>)> {
    let changes = commit_changes(group.members(), sender, staged)?;
    trust.check_all(&changes.added)?;
    trust.check(&changes.new_committer)?;
    Ok((changes.new_committer, changes.members))
}
