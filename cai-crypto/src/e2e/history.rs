//! History grants (R-E4b): earlier epochs' content keys, sealed to a counsellor's
//! devices, checked against the signed record chain before they are used.
//!
//! ```text
//! grant  = preamble(0x05) ‖ len8 group id ‖ len8 recipient account ‖ devices u16be
//!          ‖ (len8 device id ‖ enc[32] ‖ wrapped grant key[48])* ‖ body_len u32be ‖ body
//! body   = AES-256-GCM(grant key, nonce = 0^12, aad = everything before body_len,
//!                      epochs u32be ‖ (epoch u64be ‖ key id[16] ‖ key[32]
//!                      ‖ members u16be ‖ (len16 credential)*)*)
//! wrap   = HPKE base (see `wrap`) to the device's box key,
//!          info = LABEL_HISTORY_INFO ‖ len8 group id ‖ len8 account ‖ len8 device,
//!          aad = the header before the device list
//! ```
//!
//! The grant key is random per grant, so the fixed nonce is used once. A grant carries
//! no signature: the recipient trusts nothing in it until each epoch's key and member
//! list match that epoch's [`EpochRecord`](super::EpochRecord), and the records chain
//! (each names the digest of the one before) to the record of an epoch the recipient
//! took part in and checked itself. An altered key, an altered member list or an epoch
//! outside the chain is [`Error::HistoryRefused`] naming the epoch (R-E4c).

use std::collections::BTreeMap;

use zeroize::Zeroizing;

use super::client::EpochKeys;
use super::credential::{AccountRef, DeviceCredential, MAX_ACCOUNT_ID_LEN};
use super::device::{DeviceKeyPair, MAX_DEVICE_ID_LEN};
use super::record::{DIGEST_LEN, EpochRecord, key_commitment, members_hash};
use super::wire::{Reader, put_preamble, put_var8, read_preamble};
use super::wrap;
use crate::aead::{NONCE_LEN, TAG_LEN, default_backend};
use crate::secret::SecretBytes;
use crate::{DataKey, Error, KEY_ID_LEN, KeyEpoch, KeyId, Result};

/// Kind byte of a history grant.
pub const KIND_HISTORY_GRANT: u8 = 0x05;
/// HPKE `info` prefix of a grant key wrapped to a device.
pub const LABEL_HISTORY_INFO: &[u8] = b"cai e2e history grant v2";
/// Most epochs one grant carries.
pub const MAX_HISTORY_EPOCHS: usize = 4096;
/// Most devices one grant is sealed to.
const MAX_GRANT_DEVICES: usize = 64;
const WRAPPED_LEN: usize = 32 + TAG_LEN;
const WHAT: &str = "history grant";

fn wrap_info(group_id: &[u8], c: &DeviceCredential) -> Result<Vec<u8>> {
    let mut info = LABEL_HISTORY_INFO.to_vec();
    put_var8(&mut info, group_id)?;
    put_var8(&mut info, c.account().as_bytes())?;
    put_var8(&mut info, c.device().as_bytes())?;
    Ok(info)
}

/// Seals `epochs` to every device in `recipients` (all of one account).
pub(crate) fn grant(
    group_id: &[u8],
    recipients: &[DeviceCredential],
    epochs: &[&EpochKeys],
) -> Result<Vec<u8>> {
    let account = recipients.first().ok_or(Error::Rejected {
        what: WHAT,
        reason: "no recipient devices",
    })?;
    if recipients.iter().any(|c| c.account() != account.account()) {
        return Err(Error::Rejected {
            what: WHAT,
            reason: "recipients belong to different accounts",
        });
    }
    if recipients.len() > MAX_GRANT_DEVICES {
        return Err(Error::LimitExceeded {
            what: "devices per history grant",
        });
    }
    if epochs.is_empty() || epochs.len() > MAX_HISTORY_EPOCHS {
        return Err(Error::LimitExceeded {
            what: "epochs per history grant",
        });
    }
    let mut header = Vec::new();
    put_preamble(&mut header, KIND_HISTORY_GRANT);
    put_var8(&mut header, group_id)?;
    put_var8(&mut header, account.account().as_bytes())?;
    let grant_key = SecretBytes::<32>::random()?;
    let mut out = header.clone();
    out.extend_from_slice(&(recipients.len() as u16).to_be_bytes());
    for c in recipients {
        let (enc, wrapped) = wrap::seal(
            c.box_key(),
            &wrap_info(group_id, c)?,
            &header,
            grant_key.expose_secret(),
        )?;
        put_var8(&mut out, c.device().as_bytes())?;
        out.extend_from_slice(&enc);
        out.extend_from_slice(&wrapped);
    }
    let mut body = Zeroizing::new(Vec::new());
    body.extend_from_slice(&(epochs.len() as u32).to_be_bytes());
    for k in epochs {
        body.extend_from_slice(&k.epoch().to_be_bytes());
        body.extend_from_slice(k.content_key().id().as_bytes());
        body.extend_from_slice(k.content_key().secret().expose_secret());
        body.extend_from_slice(&(k.members().len() as u16).to_be_bytes());
        for m in k.members() {
            body.extend_from_slice(&(m.as_bytes().len() as u16).to_be_bytes());
            body.extend_from_slice(m.as_bytes());
        }
    }
    let aad = out.clone();
    let key = default_backend().prepare(grant_key.expose_secret())?;
    let mut ct = body.to_vec();
    let tag = key.seal_in_place(&[0; NONCE_LEN], &aad, &mut ct)?;
    ct.extend_from_slice(&tag);
    let len = u32::try_from(ct.len()).map_err(|_| Error::LimitExceeded {
        what: "history grant size",
    })?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&ct);
    Ok(out)
}

/// The group id a grant names (for the server's "made for this session" check).
pub fn grant_group_id(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut r = Reader::new(bytes, WHAT);
    read_preamble(&mut r, WHAT, KIND_HISTORY_GRANT)?;
    Ok(r.var8(255, "group id length")?.to_vec())
}

/// Opens a grant on device `me` and checks every epoch against `records` (any order),
/// chained back from `anchor`, a record this device checked itself.
pub(crate) fn accept(
    bytes: &[u8],
    group_id: &[u8],
    me: &DeviceCredential,
    box_key: &DeviceKeyPair,
    anchor: (u64, [u8; DIGEST_LEN]),
    records: &[Vec<u8>],
) -> Result<Vec<EpochKeys>> {
    let mut r = Reader::new(bytes, WHAT);
    read_preamble(&mut r, WHAT, KIND_HISTORY_GRANT)?;
    if r.var8(255, "group id length")? != group_id {
        return Err(Error::Rejected {
            what: WHAT,
            reason: "made for another session",
        });
    }
    let account = AccountRef::new(r.var8(MAX_ACCOUNT_ID_LEN, "account id length")?)?;
    let header_len = r.position();
    let header = bytes.get(..header_len).unwrap_or_default();
    if account != *me.account() {
        return Err(Error::NotARecipient);
    }
    let devices = usize::from(r.u16()?);
    if devices > MAX_GRANT_DEVICES {
        return Err(Error::LimitExceeded {
            what: "devices per history grant",
        });
    }
    let mut mine = None;
    for _ in 0..devices {
        let device = r.var8(MAX_DEVICE_ID_LEN, "device id length")?;
        let enc: [u8; 32] = r.array()?;
        let wrapped: [u8; WRAPPED_LEN] = r.array()?;
        if device == me.device().as_bytes() {
            mine = Some((enc, wrapped));
        }
    }
    let aad_len = r.position();
    let (enc, wrapped) = mine.ok_or(Error::NotARecipient)?;
    let grant_key = wrap::open(box_key, &enc, &wrap_info(group_id, me)?, header, &wrapped)?;
    let grant_key: [u8; 32] = grant_key
        .as_slice()
        .try_into()
        .map_err(|_| Error::Malformed {
            what: WHAT,
            reason: "grant key is not 32 bytes",
        })?;
    let grant_key = SecretBytes::from_bytes(grant_key);
    let len = r.u32()? as usize;
    let ct = r.take(len)?;
    r.finish()?;
    let (ct, tag) = ct
        .split_at_checked(ct.len().saturating_sub(TAG_LEN))
        .ok_or(Error::AuthenticationFailed)?;
    let tag: [u8; TAG_LEN] = tag.try_into().map_err(|_| Error::AuthenticationFailed)?;
    let mut body = Zeroizing::new(ct.to_vec());
    default_backend()
        .prepare(grant_key.expose_secret())?
        .open_in_place(
            &[0; NONCE_LEN],
            bytes.get(..aad_len).unwrap_or_default(),
            &mut body,
            &tag,
        )?;
    let chain = chain(group_id, anchor, records)?;
    let mut b = Reader::new(&body, WHAT);
    let count = b.u32()? as usize;
    if count == 0 || count > MAX_HISTORY_EPOCHS {
        return Err(Error::LimitExceeded {
            what: "epochs per history grant",
        });
    }
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let epoch = b.u64()?;
        let id = KeyId::from_bytes(b.array::<KEY_ID_LEN>()?);
        let secret = SecretBytes::from_bytes(b.array::<32>()?);
        let mut members = Vec::new();
        for _ in 0..b.u16()? {
            let n = usize::from(b.u16()?);
            members.push(DeviceCredential::parse(b.take(n)?)?);
        }
        let refuse = |reason| Error::HistoryRefused { epoch, reason };
        let record = chain.get(&epoch).ok_or(refuse(
            "no signed record of this epoch chains to the group's",
        ))?;
        let key_epoch = u32::try_from(epoch).map_err(|_| refuse("epoch out of range"))?;
        let key = DataKey::from_parts(id, KeyEpoch(key_epoch), secret);
        if key_commitment(&key) != record.facts().key {
            return Err(refuse("content key differs from the signed record"));
        }
        let sorted = members
            .windows(2)
            .all(|w| matches!(w, [a, b] if a.as_bytes() < b.as_bytes()));
        if !sorted || members_hash(&members) != record.facts().members {
            return Err(refuse("member list differs from the signed record"));
        }
        if !members.iter().any(|m| m.signature_key() == record.signer()) {
            return Err(refuse("record signed by a non-member"));
        }
        out.push(EpochKeys::new(epoch, key, members, record.digest()));
    }
    b.finish()?;
    Ok(out)
}

/// Records from `anchor` back to the oldest one that chains, by epoch; each verified.
fn chain(
    group_id: &[u8],
    anchor: (u64, [u8; DIGEST_LEN]),
    records: &[Vec<u8>],
) -> Result<BTreeMap<u64, EpochRecord>> {
    let mut by_digest = BTreeMap::new();
    // Records that do not parse or name another group are not on the chain: skipped,
    // so one junk row cannot block every grant.
    for bytes in records {
        if let Ok(rec) = EpochRecord::parse(bytes)
            && rec.group_id() == group_id
        {
            by_digest.insert(rec.digest(), rec);
        }
    }
    let mut out = BTreeMap::new();
    let (mut epoch, mut digest) = anchor;
    while let Some(rec) = by_digest.remove(&digest) {
        if rec.epoch() != epoch || rec.verify().is_err() {
            break;
        }
        digest = *rec.previous();
        out.insert(epoch, rec);
        match epoch.checked_sub(1) {
            Some(e) => epoch = e,
            None => break,
        }
    }
    Ok(out)
}
