//! End-to-end content items, signed by their sending device.
//!
//! Content is not sent as MLS application messages: those are meant to be decrypted
//! once, in order, by members of the epoch — but counselling content is stored, read
//! again on other devices, and handed over with the history (R-E4b). So each epoch
//! exports one content key (`MLS-Exporter(LABEL_CONTENT_KEY, "", 32)`, its key id from
//! `MLS-Exporter(LABEL_CONTENT_KEY_ID, "", 16)`), items are sealed as
//! [`envelope`](crate::envelope)s under it, and the envelope's plaintext carries the
//! sender's Ed25519 signature **inside** the encryption:
//!
//! ```text
//! plaintext = preamble(0x04) ‖ signer key[32] ‖ signature[64] ‖ body
//! signature = Ed25519(signer, SIGNATURE_CONTEXT ‖ preamble(0x04) ‖ len8 group id
//!                     ‖ epoch u64be ‖ signer key ‖ item context ‖ body)
//! ```
//!
//! A member can derive the content key, but not another member's signature key, so it
//! cannot produce an item that opens as someone else's; the server sees neither the
//! signature nor who signed.

use super::client::EpochKeys;
use super::credential::DeviceCredential;
use super::identity::{IDENTITY_PUBLIC_KEY_LEN, IdentityKey, IdentityPublicKey, SIGNATURE_LEN};
use super::wire::{Reader, put_preamble, put_var8, read_preamble};
use crate::{Error, ItemContext, Result, envelope};

/// Kind byte of a signed content plaintext.
pub const KIND_CONTENT: u8 = 0x04;
/// MLS exporter label of an epoch's content key.
pub const LABEL_CONTENT_KEY: &str = "cai content key v1";
/// MLS exporter label of an epoch's content key id.
pub const LABEL_CONTENT_KEY_ID: &str = "cai content key id v1";

/// An opened item and who sent it.
#[derive(Debug)]
pub struct Opened {
    /// The plaintext.
    pub plaintext: Vec<u8>,
    /// The sending device (its credential names account and device).
    pub sender: DeviceCredential,
    /// The epoch it was sealed in.
    pub epoch: u64,
}

fn signature_body(
    group_id: &[u8],
    epoch: u64,
    signer: &IdentityPublicKey,
    ctx: &ItemContext<'_>,
    body: &[u8],
) -> Result<Vec<u8>> {
    let mut m = Vec::with_capacity(body.len() + 400);
    put_preamble(&mut m, KIND_CONTENT);
    put_var8(&mut m, group_id)?;
    m.extend_from_slice(&epoch.to_be_bytes());
    m.extend_from_slice(&signer.to_bytes());
    ctx.encode_into(&mut m)?;
    m.extend_from_slice(body);
    Ok(m)
}

pub(crate) fn seal(
    keys: &EpochKeys,
    group_id: &[u8],
    signer: &IdentityKey,
    ctx: &ItemContext<'_>,
    body: &[u8],
) -> Result<Vec<u8>> {
    let public = signer.public();
    let sig = signer.sign(&super::signature_input(&signature_body(
        group_id,
        keys.epoch(),
        &public,
        ctx,
        body,
    )?));
    let mut inner = zeroize::Zeroizing::new(Vec::with_capacity(body.len() + 103));
    put_preamble(&mut inner, KIND_CONTENT);
    inner.extend_from_slice(&public.to_bytes());
    inner.extend_from_slice(&sig);
    inner.extend_from_slice(body);
    envelope::seal(keys.content_key(), ctx, &inner)
}

pub(crate) fn open(
    keys: &EpochKeys,
    group_id: &[u8],
    ctx: &ItemContext<'_>,
    sealed: &[u8],
) -> Result<Opened> {
    const WHAT: &str = "end-to-end content";
    let inner = zeroize::Zeroizing::new(envelope::open(keys.content_key(), ctx, sealed)?);
    let mut r = Reader::new(&inner, WHAT);
    read_preamble(&mut r, WHAT, KIND_CONTENT)?;
    let signer = IdentityPublicKey::from_bytes(&r.array::<IDENTITY_PUBLIC_KEY_LEN>()?)?;
    let sig: [u8; SIGNATURE_LEN] = r.array()?;
    let body = inner.get(r.position()..).unwrap_or_default();
    let sender = keys
        .members()
        .iter()
        .find(|m| *m.signature_key() == signer)
        .ok_or(Error::Rejected {
            what: WHAT,
            reason: "signed by a key that was not a member of its epoch",
        })?;
    super::check_signature_input(
        &signer,
        &signature_body(group_id, keys.epoch(), &signer, ctx, body)?,
        &sig,
    )?;
    Ok(Opened {
        plaintext: body.to_vec(),
        sender: sender.clone(),
        epoch: keys.epoch(),
    })
}
