//! A malicious member or creator built straight on openmls, outside `Device`: it holds
//! a genuine cross-signed credential and follows MLS, but writes cai's structures
//! (content items, signed frames, epoch records, history grants) itself — so a test can
//! make exactly the forgery it wants and check that `Device` refuses it.
//!
//! Every encoder here is also checked the other way (an honest use of it is accepted),
//! so a refusal is the check under test, not a wrong encoding.

use cai_crypto::e2e::{
    AccountRef, CIPHERSUITE, DeviceCredential, DeviceId, DeviceKeyPair, EXTENSION_MODE_DESCRIPTOR,
    IdentityPublicKey, LABEL_AUTHENTICATOR, LABEL_CONTENT_KEY, LABEL_CONTENT_KEY_ID,
    LABEL_HISTORY_INFO, LABEL_KEY_COMMITMENT, LABEL_MEDIA_SIGNATURE, LABEL_MEMBERS, MAGIC,
    MEDIA_EPOCH_BITS, SFRAME_EXPORTER_LABEL, SIGNATURE_CONTEXT, SUITE, VERSION, wrap,
};
use cai_crypto::sframe::{FrameEncryptor, MediaSuite};
use cai_crypto::{DataKey, ItemContext, KEY_ID_LEN, KeyEpoch, KeyId, SecretBytes, envelope};
use ed25519_dalek::{Signer as _, SigningKey};
use hmac::{Hmac, KeyInit, Mac};
use openmls::prelude::*;
use openmls_rust_crypto::OpenMlsRustCrypto;
use openmls_traits::signatures::{Signer, SignerError};
use sha2::{Digest, Sha256};
use tls_codec::{Deserialize as _, Serialize as _};

use crate::world::User;

/// An Ed25519 key held by the test.
pub(crate) struct Key(pub(crate) SigningKey);

impl Key {
    pub(crate) fn generate() -> Self {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).unwrap();
        Self(SigningKey::from_bytes(&seed))
    }

    pub(crate) fn public(&self) -> IdentityPublicKey {
        IdentityPublicKey::from_bytes(&self.0.verifying_key().to_bytes()).unwrap()
    }

    /// Ed25519 over `SIGNATURE_CONTEXT ‖ body`, as cai signs its structures.
    pub(crate) fn sign_cai(&self, body: &[u8]) -> [u8; 64] {
        let mut m = SIGNATURE_CONTEXT.to_vec();
        m.extend_from_slice(body);
        self.0.sign(&m).to_bytes()
    }
}

impl Signer for Key {
    fn sign(&self, payload: &[u8]) -> Result<Vec<u8>, SignerError> {
        Ok(self.0.sign(payload).to_bytes().to_vec())
    }

    fn signature_scheme(&self) -> openmls_traits::types::SignatureScheme {
        openmls_traits::types::SignatureScheme::ED25519
    }
}

pub(crate) fn preamble(kind: u8) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&[VERSION, kind, SUITE]);
    out
}

pub(crate) fn var8(out: &mut Vec<u8>, v: &[u8]) {
    out.push(u8::try_from(v.len()).unwrap());
    out.extend_from_slice(v);
}

fn capabilities() -> Capabilities {
    Capabilities::new(
        Some(&[ProtocolVersion::Mls10]),
        Some(&[CIPHERSUITE]),
        Some(&[ExtensionType::Unknown(EXTENSION_MODE_DESCRIPTOR)]),
        None,
        Some(&[CredentialType::Basic]),
    )
}

/// `SHA-256(LABEL_MEMBERS ‖ count ‖ (len16 credential)*)` over sorted credentials.
pub(crate) fn members_hash(members: &[DeviceCredential]) -> [u8; 32] {
    let mut sorted: Vec<&DeviceCredential> = members.iter().collect();
    sorted.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    let mut h = Sha256::new().chain_update(LABEL_MEMBERS);
    h.update((sorted.len() as u32).to_be_bytes());
    for m in sorted {
        h.update((m.as_bytes().len() as u16).to_be_bytes());
        h.update(m.as_bytes());
    }
    h.finalize().into()
}

pub(crate) fn key_commitment(key: &DataKey) -> [u8; 32] {
    Sha256::new()
        .chain_update(LABEL_KEY_COMMITMENT)
        .chain_update(key.id().as_bytes())
        .chain_update(key.epoch().0.to_be_bytes())
        .chain_update(key.secret().expose_secret())
        .finalize()
        .into()
}

/// An epoch record signed by `key`, with the facts given.
pub(crate) fn sign_record(
    key: &Key,
    gid: &[u8],
    epoch: u64,
    previous: [u8; 32],
    authenticator: &[u8],
    content_key: &DataKey,
    members: &[DeviceCredential],
) -> Vec<u8> {
    let mut out = preamble(0x03);
    var8(&mut out, gid);
    out.extend_from_slice(&epoch.to_be_bytes());
    out.extend_from_slice(&previous);
    out.extend_from_slice(
        &Sha256::new()
            .chain_update(LABEL_AUTHENTICATOR)
            .chain_update(authenticator)
            .finalize(),
    );
    out.extend_from_slice(&key_commitment(content_key));
    out.extend_from_slice(&members_hash(members));
    out.extend_from_slice(&key.public().to_bytes());
    let sig = key.sign_cai(&out);
    out.extend_from_slice(&sig);
    out
}

/// A content item sealed under `key` whose plaintext claims `claimed` as signer and
/// carries `signature` (see `content.rs` for the layout).
pub(crate) fn seal_content(
    key: &DataKey,
    ctx: &ItemContext<'_>,
    claimed: &IdentityPublicKey,
    signature: &[u8; 64],
    body: &[u8],
) -> Vec<u8> {
    let mut inner = preamble(0x04);
    inner.extend_from_slice(&claimed.to_bytes());
    inner.extend_from_slice(signature);
    inner.extend_from_slice(body);
    envelope::seal(key, ctx, &inner).unwrap()
}

/// What a content signature covers (without `SIGNATURE_CONTEXT`).
pub(crate) fn content_signature_body(
    gid: &[u8],
    epoch: u64,
    signer: &IdentityPublicKey,
    ctx: &ItemContext<'_>,
    body: &[u8],
) -> Vec<u8> {
    let mut m = preamble(0x04);
    var8(&mut m, gid);
    m.extend_from_slice(&epoch.to_be_bytes());
    m.extend_from_slice(&signer.to_bytes());
    ctx.encode_into(&mut m).unwrap();
    m.extend_from_slice(body);
    m
}

/// What a frame signature covers (without `SIGNATURE_CONTEXT`).
pub(crate) fn frame_signature_body(gid: &[u8], metadata: &[u8], sframe: &[u8]) -> Vec<u8> {
    let mut m = LABEL_MEDIA_SIGNATURE.to_vec();
    var8(&mut m, gid);
    m.extend_from_slice(&(metadata.len() as u16).to_be_bytes());
    m.extend_from_slice(metadata);
    m.extend_from_slice(sframe);
    m
}

/// One epoch's keys for a forged history grant.
pub(crate) struct GrantEpoch {
    pub(crate) epoch: u64,
    pub(crate) key: DataKey,
    pub(crate) members: Vec<DeviceCredential>,
}

/// A history grant in the documented format (`history.rs`), sealed to `recipients`.
pub(crate) fn encode_grant(
    gid: &[u8],
    recipients: &[DeviceCredential],
    epochs: &[GrantEpoch],
) -> Vec<u8> {
    let account = recipients[0].account();
    let mut header = preamble(0x05);
    var8(&mut header, gid);
    var8(&mut header, account.as_bytes());
    let grant_key = SecretBytes::<32>::random().unwrap();
    let mut out = header.clone();
    out.extend_from_slice(&(recipients.len() as u16).to_be_bytes());
    for c in recipients {
        let mut info = LABEL_HISTORY_INFO.to_vec();
        var8(&mut info, gid);
        var8(&mut info, c.account().as_bytes());
        var8(&mut info, c.device().as_bytes());
        let (enc, wrapped) =
            wrap::seal(c.box_key(), &info, &header, grant_key.expose_secret()).unwrap();
        var8(&mut out, c.device().as_bytes());
        out.extend_from_slice(&enc);
        out.extend_from_slice(&wrapped);
    }
    let mut body = (epochs.len() as u32).to_be_bytes().to_vec();
    for e in epochs {
        body.extend_from_slice(&e.epoch.to_be_bytes());
        body.extend_from_slice(e.key.id().as_bytes());
        body.extend_from_slice(e.key.secret().expose_secret());
        let mut members: Vec<&DeviceCredential> = e.members.iter().collect();
        members.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        body.extend_from_slice(&(members.len() as u16).to_be_bytes());
        for m in members {
            body.extend_from_slice(&(m.as_bytes().len() as u16).to_be_bytes());
            body.extend_from_slice(m.as_bytes());
        }
    }
    let key = cai_crypto::aead::default_backend()
        .prepare(grant_key.expose_secret())
        .unwrap();
    let tag = key.seal_in_place(&[0; 12], &out, &mut body).unwrap();
    body.extend_from_slice(&tag);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// RFC 9605 §5.2 base key of `sender_index` from an epoch's SFrame exporter secret.
pub(crate) fn media_base_key(secret: &[u8], sender_index: u32) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).unwrap();
    mac.update(&u64::from(sender_index).to_be_bytes());
    mac.update(&[1]);
    mac.finalize().into_bytes()[..16].to_vec()
}

/// A member (or creator) driven straight through openmls.
pub(crate) struct Rogue {
    pub(crate) provider: OpenMlsRustCrypto,
    pub(crate) key: Key,
    pub(crate) credential: DeviceCredential,
    pub(crate) group: Option<MlsGroup>,
}

impl Rogue {
    /// A device of `user` with a genuine cross-signed credential.
    pub(crate) fn new(user: &User, device: &str) -> Self {
        let key = Key::generate();
        let boxing = DeviceKeyPair::generate().unwrap();
        let credential = DeviceCredential::issue(
            &user.key,
            &user.account,
            &DeviceId::new(device.as_bytes()).unwrap(),
            &key.public(),
            &boxing.public(),
        )
        .unwrap();
        Self {
            provider: OpenMlsRustCrypto::default(),
            key,
            credential,
            group: None,
        }
    }

    fn credential_with_key(&self) -> CredentialWithKey {
        CredentialWithKey {
            credential: BasicCredential::new(self.credential.as_bytes().to_vec()).into(),
            signature_key: self.key.public().to_bytes().to_vec().into(),
        }
    }

    pub(crate) fn account(&self) -> &AccountRef {
        self.credential.account()
    }

    pub(crate) fn group(&self) -> &MlsGroup {
        self.group.as_ref().unwrap()
    }

    pub(crate) fn key_package(&self) -> Vec<u8> {
        let bundle = KeyPackage::builder()
            .leaf_node_capabilities(capabilities())
            .build(
                CIPHERSUITE,
                &self.provider,
                &self.key,
                self.credential_with_key(),
            )
            .unwrap();
        MlsMessageOut::from(bundle.key_package().clone())
            .tls_serialize_detached()
            .unwrap()
    }

    /// Creates a group with group id `gid` whose context carries `descriptor` (any
    /// bytes); returns the `GroupInfo` with the ratchet tree, and the record of epoch 0.
    pub(crate) fn create(&mut self, gid: &[u8], descriptor: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let extensions = Extensions::from_vec(vec![
            Extension::RequiredCapabilities(RequiredCapabilitiesExtension::new(
                &[ExtensionType::Unknown(EXTENSION_MODE_DESCRIPTOR)],
                &[],
                &[CredentialType::Basic],
            )),
            Extension::Unknown(
                EXTENSION_MODE_DESCRIPTOR,
                UnknownExtension(descriptor.to_vec()),
            ),
        ])
        .unwrap();
        let config = MlsGroupCreateConfig::builder()
            .ciphersuite(CIPHERSUITE)
            .wire_format_policy(PURE_PLAINTEXT_WIRE_FORMAT_POLICY)
            .use_ratchet_tree_extension(true)
            .capabilities(capabilities())
            .with_group_context_extensions(extensions)
            .build();
        let group = MlsGroup::new_with_group_id(
            &self.provider,
            &self.key,
            &config,
            GroupId::from_slice(gid),
            self.credential_with_key(),
        )
        .unwrap();
        let info = group
            .export_group_info(self.provider.crypto(), &self.key, true)
            .unwrap()
            .tls_serialize_detached()
            .unwrap();
        self.group = Some(group);
        let record = self.record([0; 32]);
        (info, record)
    }

    /// The honest record of the current epoch, chained to `previous`.
    pub(crate) fn record(&self, previous: [u8; 32]) -> Vec<u8> {
        let g = self.group();
        sign_record(
            &self.key,
            g.group_id().as_slice(),
            g.epoch().as_u64(),
            previous,
            g.epoch_authenticator().as_slice(),
            &self.content_key(),
            &self.members(),
        )
    }

    pub(crate) fn members(&self) -> Vec<DeviceCredential> {
        self.group()
            .members()
            .map(|m| {
                let b = BasicCredential::try_from(m.credential).unwrap();
                DeviceCredential::parse(b.identity()).unwrap()
            })
            .collect()
    }

    /// Adds devices; returns (commit, welcome) and merges at once.
    pub(crate) fn add(&mut self, key_packages: &[Vec<u8>]) -> (Vec<u8>, Vec<u8>) {
        let kps: Vec<KeyPackage> = key_packages
            .iter()
            .map(|b| {
                let MlsMessageBodyIn::KeyPackage(kp) =
                    MlsMessageIn::tls_deserialize_exact(b).unwrap().extract()
                else {
                    panic!("not a key package")
                };
                kp.validate(self.provider.crypto(), ProtocolVersion::Mls10)
                    .unwrap()
            })
            .collect();
        let group = self.group.as_mut().unwrap();
        let (commit, welcome, _) = group.add_members(&self.provider, &self.key, &kps).unwrap();
        group.merge_pending_commit(&self.provider).unwrap();
        (
            commit.tls_serialize_detached().unwrap(),
            welcome.tls_serialize_detached().unwrap(),
        )
    }

    pub(crate) fn join(&mut self, welcome: &[u8]) {
        let MlsMessageBodyIn::Welcome(w) = MlsMessageIn::tls_deserialize_exact(welcome)
            .unwrap()
            .extract()
        else {
            panic!("not a welcome")
        };
        let join = MlsGroupJoinConfig::builder()
            .wire_format_policy(PURE_PLAINTEXT_WIRE_FORMAT_POLICY)
            .use_ratchet_tree_extension(true)
            .build();
        let group = StagedWelcome::new_from_welcome(&self.provider, &join, w, None)
            .unwrap()
            .into_group(&self.provider)
            .unwrap();
        self.group = Some(group);
    }

    pub(crate) fn export(&self, label: &str, len: usize) -> Vec<u8> {
        self.group()
            .export_secret(self.provider.crypto(), label, &[], len)
            .unwrap()
    }

    /// The current epoch's content key, derived as every member derives it.
    pub(crate) fn content_key(&self) -> DataKey {
        let epoch = self.group().epoch().as_u64();
        let secret: [u8; 32] = self.export(LABEL_CONTENT_KEY, 32).try_into().unwrap();
        let id: [u8; KEY_ID_LEN] = self
            .export(LABEL_CONTENT_KEY_ID, KEY_ID_LEN)
            .try_into()
            .unwrap();
        DataKey::from_parts(
            KeyId::from_bytes(id),
            KeyEpoch(u32::try_from(epoch).unwrap()),
            SecretBytes::from_bytes(secret),
        )
    }

    /// The leaf index of the member whose credential is `c`.
    pub(crate) fn leaf_of(&self, c: &DeviceCredential) -> u32 {
        self.group()
            .members()
            .find(|m| m.signature_key == c.signature_key().to_bytes().to_vec())
            .unwrap()
            .index
            .u32()
    }

    /// An SFrame frame encrypted under `sender`'s RFC 9605 key of the current epoch
    /// (which every member can derive), without any signature.
    pub(crate) fn sframe_as(&self, sender_index: u32, frame: &[u8], metadata: &[u8]) -> Vec<u8> {
        let suite = MediaSuite::Aes128GcmSha256;
        let secret = self.export(SFRAME_EXPORTER_LABEL, suite.key_len());
        let base = media_base_key(&secret, sender_index);
        let epoch = self.group().epoch().as_u64();
        let kid = (u64::from(sender_index) << MEDIA_EPOCH_BITS) | (epoch & 0xff);
        let mut enc = FrameEncryptor::from_rfc9605_base_key(suite, kid, &base, 7).unwrap();
        enc.encrypt(frame, metadata).unwrap()
    }
}
