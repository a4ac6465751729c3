#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The signed mode descriptor outside end-to-end mode: a client accepts a session's mode
//! only from its creator's signature, and every item's context carries the descriptor's
//! binding, so a server can neither announce a weaker mode nor move items between
//! descriptors.

use std::io::{Read, Write};

use cai_crypto::e2e::{AccountRef, IdentityKey, TrustStore};
use cai_crypto::modes::{ModeBinding, ModeDescriptor, SessionMode};
use cai_crypto::stream::{StreamOpener, StreamSealer};
use cai_crypto::{ContentKind, DataKey, Error, ItemContext, KeyEpoch, envelope};

const TENANT: &[u8] = b"ten_1";
const SESSION: &[u8] = b"ses_9";

struct Creator {
    key: IdentityKey,
    account: AccountRef,
}

fn creator() -> Creator {
    Creator {
        key: IdentityKey::generate().unwrap(),
        account: AccountRef::new(b"acc_creator").unwrap(),
    }
}

fn signed(c: &Creator, mode: SessionMode) -> ModeDescriptor {
    ModeDescriptor::sign(&c.key, &c.account, TENANT, SESSION, mode).unwrap()
}

/// What a client calls, for a session whose owner is the test's creator account.
fn accept(
    bytes: &[u8],
    tenant: &[u8],
    session: &[u8],
    announced: SessionMode,
    trust: &mut TrustStore,
) -> Result<ModeDescriptor, Error> {
    let owner = AccountRef::new(b"acc_creator").unwrap();
    ModeDescriptor::accept(bytes, tenant, session, &owner, announced, trust)
}

fn pinned(c: &Creator) -> TrustStore {
    let mut trust = TrustStore::strict();
    trust.pin(c.account.clone(), c.key.public()).unwrap();
    trust
}

#[test]
fn a_pinned_creators_descriptor_is_accepted_for_its_mode() {
    let c = creator();
    for mode in SessionMode::ALL {
        let d = signed(&c, mode);
        let got = accept(d.as_bytes(), TENANT, SESSION, mode, &mut pinned(&c)).unwrap();
        assert_eq!(got.mode(), mode);
        assert_eq!(got.binding(), d.binding());
        assert_eq!(
            (got.tenant(), got.session(), got.creator()),
            (TENANT, SESSION, &c.account)
        );
        assert_eq!(got.creator_key(), &c.key.public());
        assert_eq!(got.binding(), ModeBinding::of_accepted(d.as_bytes()));
    }
}

#[test]
fn a_server_announcing_another_mode_is_refused_whichever_way() {
    let c = creator();
    for signed_mode in SessionMode::ALL {
        let d = signed(&c, signed_mode);
        for announced in SessionMode::ALL.into_iter().filter(|m| *m != signed_mode) {
            let err =
                accept(d.as_bytes(), TENANT, SESSION, announced, &mut pinned(&c)).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::Rejected {
                        what: "mode descriptor",
                        ..
                    }
                ),
                "{signed_mode:?} announced as {announced:?}: {err:?}"
            );
        }
    }
}

#[test]
fn another_sessions_descriptor_is_refused() {
    let c = creator();
    let d = signed(&c, SessionMode::Passphrase);
    for (tenant, session) in [(TENANT, &b"ses_8"[..]), (&b"ten_2"[..], SESSION)] {
        let err = accept(
            d.as_bytes(),
            tenant,
            session,
            SessionMode::Passphrase,
            &mut pinned(&c),
        )
        .unwrap_err();
        assert!(matches!(err, Error::Rejected { .. }), "{err:?}");
    }
}

#[test]
fn only_the_trusted_creator_key_counts() {
    let c = creator();
    let d = signed(&c, SessionMode::SessionKey);
    // Strict and unknown: refused.
    let err = accept(
        d.as_bytes(),
        TENANT,
        SESSION,
        SessionMode::SessionKey,
        &mut TrustStore::strict(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Untrusted { .. }), "{err:?}");

    // The server (or anyone) signing a descriptor in the creator's name with its own
    // key: refused by a store that knows the creator's key, strict or not.
    let impostor = Creator {
        key: IdentityKey::generate().unwrap(),
        account: c.account.clone(),
    };
    let forged = signed(&impostor, SessionMode::ServerManaged);
    for mut trust in [pinned(&c), {
        let mut t = TrustStore::trust_on_first_use();
        t.pin(c.account.clone(), c.key.public()).unwrap();
        t
    }] {
        let err = accept(
            forged.as_bytes(),
            TENANT,
            SESSION,
            SessionMode::ServerManaged,
            &mut trust,
        )
        .unwrap_err();
        assert!(matches!(err, Error::Untrusted { .. }), "{err:?}");
    }

    // Trust on first use learns the creator, then holds on to that key.
    let mut tofu = TrustStore::trust_on_first_use();
    accept(
        d.as_bytes(),
        TENANT,
        SESSION,
        SessionMode::SessionKey,
        &mut tofu,
    )
    .unwrap();
    assert_eq!(tofu.get(&c.account).unwrap().0, c.key.public());
    let forged = signed(&impostor, SessionMode::SessionKey);
    assert!(
        accept(
            forged.as_bytes(),
            TENANT,
            SESSION,
            SessionMode::SessionKey,
            &mut tofu
        )
        .is_err()
    );
}

#[test]
fn only_the_sessions_owner_can_sign_it() {
    // A descriptor by another account — trusted, pinned, properly signed, even for the
    // right session and mode — is not the owner's word.
    let owner = creator();
    let other = Creator {
        key: IdentityKey::generate().unwrap(),
        account: AccountRef::new(b"acc_someone_else").unwrap(),
    };
    let mut trust = pinned(&owner);
    trust
        .pin(other.account.clone(), other.key.public())
        .unwrap();
    for mut trust in [trust, TrustStore::trust_on_first_use()] {
        let d = signed(&other, SessionMode::ServerManaged);
        let err = accept(
            d.as_bytes(),
            TENANT,
            SESSION,
            SessionMode::ServerManaged,
            &mut trust,
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Rejected {
                    what: "mode descriptor",
                    ..
                }
            ),
            "{err:?}"
        );
    }
    let mut tofu = TrustStore::trust_on_first_use();
    let d = signed(&other, SessionMode::ServerManaged);
    let _ = accept(
        d.as_bytes(),
        TENANT,
        SESSION,
        SessionMode::ServerManaged,
        &mut tofu,
    );
    assert!(
        tofu.get(&other.account).is_none(),
        "a refused descriptor taught the store a key"
    );
}

#[test]
fn an_altered_descriptor_does_not_verify() {
    let c = creator();
    let d = signed(&c, SessionMode::Passphrase);
    let bytes = d.as_bytes();
    for i in 0..bytes.len() {
        let mut altered = bytes.to_vec();
        altered[i] ^= 0x01;
        assert!(
            accept(
                &altered,
                TENANT,
                SESSION,
                SessionMode::Passphrase,
                &mut pinned(&c)
            )
            .is_err(),
            "byte {i} altered and accepted"
        );
    }
    assert!(ModeDescriptor::parse(&bytes[..bytes.len() - 1]).is_err());
    let mut longer = bytes.to_vec();
    longer.push(0);
    assert!(ModeDescriptor::parse(&longer).is_err());
}

fn ctx(binding: Option<ModeBinding>) -> ItemContext<'static> {
    ItemContext::new(TENANT, SESSION, b"itm_1", 1, ContentKind::Message).with_mode(binding)
}

#[test]
fn items_open_only_under_the_descriptor_they_were_sealed_under() {
    let c = creator();
    let key = DataKey::generate(KeyEpoch::INITIAL).unwrap();
    let session_key = signed(&c, SessionMode::SessionKey).binding();
    let passphrase = signed(&c, SessionMode::Passphrase).binding();
    assert_ne!(session_key, passphrase);

    let sealed = envelope::seal(&key, &ctx(Some(session_key)), b"hello").unwrap();
    assert_eq!(
        envelope::open(&key, &ctx(Some(session_key)), &sealed).unwrap(),
        b"hello"
    );
    for other in [None, Some(passphrase), Some(ModeBinding([0; 32]))] {
        assert!(matches!(
            envelope::open(&key, &ctx(other), &sealed),
            Err(Error::AuthenticationFailed)
        ));
    }
    // And an item sealed without a descriptor does not open as one with it.
    let unbound = envelope::seal(&key, &ctx(None), b"hello").unwrap();
    assert!(envelope::open(&key, &ctx(Some(session_key)), &unbound).is_err());
}

#[test]
fn streams_carry_the_binding_too() {
    let c = creator();
    let key = DataKey::generate(KeyEpoch::INITIAL).unwrap();
    let binding = signed(&c, SessionMode::SessionKey).binding();
    let mut sealer = StreamSealer::new(&key, &ctx(Some(binding)), Vec::new()).unwrap();
    sealer.write_all(&[7u8; 100_000]).unwrap();
    let sealed = sealer.finish().unwrap();

    let mut plain = Vec::new();
    StreamOpener::new(&key, &ctx(Some(binding)), &sealed[..])
        .unwrap()
        .read_to_end(&mut plain)
        .unwrap();
    assert_eq!(plain, vec![7u8; 100_000]);

    let refused = StreamOpener::new(&key, &ctx(None), &sealed[..]).and_then(|mut o| {
        o.read_to_end(&mut Vec::new())
            .map_err(|_| Error::AuthenticationFailed)
    });
    assert!(refused.is_err());
}

// ---------------------------------------------------------------------------------------
// Known-answer vector (tests/vectors/cai/mode_descriptor_v1.json): what an independent
// implementation checks its parser, signature check and binding against.
// ---------------------------------------------------------------------------------------

fn descriptor_vectors() -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors/cai/mode_descriptor_v1.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn hex_of(v: &serde_json::Value, field: &str) -> Vec<u8> {
    hex::decode(
        v[field]
            .as_str()
            .unwrap_or_else(|| panic!("missing {field}")),
    )
    .unwrap()
}

#[test]
fn known_answer_vectors_sign_parse_and_bind_alike() {
    use sha2::Digest;
    let v = descriptor_vectors();
    let cases = v["valid"].as_array().unwrap();
    assert_eq!(cases.len(), 4, "one vector per mode");
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let seed: [u8; 32] = hex_of(c, "creator_seed").try_into().unwrap();
        let key = IdentityKey::from_seed(&cai_crypto::SecretBytes::from_bytes(seed));
        assert_eq!(
            hex::encode(key.public().to_bytes()),
            c["creator_key"],
            "{name}: public key"
        );
        let mode =
            SessionMode::from_code(u8::try_from(c["mode"].as_u64().unwrap()).unwrap()).unwrap();
        let account = AccountRef::new(&hex_of(c, "creator")).unwrap();
        let (tenant, session) = (hex_of(c, "tenant"), hex_of(c, "session"));
        // Ed25519 is deterministic: signing again gives the vector's bytes.
        let d = ModeDescriptor::sign(&key, &account, &tenant, &session, mode).unwrap();
        let bytes = hex_of(c, "descriptor");
        assert_eq!(hex::encode(d.as_bytes()), c["descriptor"], "{name}: bytes");
        // The signed message is the context label and every byte before the signature.
        let mut message = b"cai e2e signature v2".to_vec();
        message.extend_from_slice(&bytes[..bytes.len() - 64]);
        assert_eq!(
            hex::encode(&message),
            c["signed_message"],
            "{name}: message"
        );
        key.public()
            .verify(&message, &bytes[bytes.len() - 64..])
            .unwrap();
        // The binding is SHA-256 of the bytes.
        assert_eq!(
            hex::encode(sha2::Sha256::digest(&bytes)),
            c["binding"],
            "{name}: binding"
        );
        assert_eq!(hex::encode(d.binding().0), c["binding"]);
        let parsed = ModeDescriptor::parse(&bytes).unwrap();
        assert_eq!(
            (parsed.mode(), parsed.tenant(), parsed.session()),
            (mode, &tenant[..], &session[..])
        );
        let mut trust = TrustStore::strict();
        trust.pin(account.clone(), key.public()).unwrap();
        ModeDescriptor::accept(&bytes, &tenant, &session, &account, mode, &mut trust).unwrap();
    }
    for c in v["invalid"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap();
        let err = format!(
            "{:?}",
            ModeDescriptor::parse(&hex_of(c, "descriptor")).unwrap_err()
        );
        let variant: String = err.chars().take_while(|c| c.is_alphanumeric()).collect();
        assert_eq!(variant, c["error"].as_str().unwrap(), "{name}");
    }
}
