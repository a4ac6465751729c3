#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
#![allow(clippy::indexing_slicing)]
//! RFC 9180 test vectors for the HPKE suite of `cai_crypto::e2e`: base mode,
//! DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, with AES-256-GCM (0x0002, the suite used)
//! and AES-128-GCM (0x0001).
//!
//! * BoringSSL-format file: recipient key pair from `skRm`/`pkRm`, receiver context from
//!   `enc = pkEm`, all 257 sequential encryptions opened, exporter values checked.
//! * RFC 9180 Appendix A text: `DeriveKeyPair(ikmR)` and `DeriveKeyPair(ikmE)` give the
//!   listed keys; the sender side with `ikmE` as its randomness reproduces `enc` and the
//!   first ciphertext; exporter values checked on both sides.

use std::collections::HashMap;
use std::convert::Infallible;

use hpke::aead::{Aead, AesGcm128, AesGcm256};
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::rand_core::{TryCryptoRng, TryRng};
use hpke::{Deserializable, Kem, OpModeR, OpModeS, Serializable};

type K = X25519HkdfSha256;

fn read(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/vectors/hpke/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.trim()).unwrap()
}

#[derive(Default, Debug)]
struct Vector {
    fields: HashMap<String, String>,
    /// (aad, ct, pt)
    encryptions: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)>,
    /// (context, length, value)
    exports: Vec<(Vec<u8>, usize, Vec<u8>)>,
}

impl Vector {
    fn get(&self, k: &str) -> Vec<u8> {
        h(self.fields.get(k).unwrap_or_else(|| panic!("missing {k}")))
    }
    fn num(&self, k: &str) -> u16 {
        self.fields[k].trim().parse().unwrap()
    }
}

/// Parses the BoringSSL `key = value` format: vectors separated by blank lines,
/// `# encryptions[i]` and `# exports[i]` introduce sub-records.
fn parse_boringssl(text: &str) -> Vec<Vector> {
    let mut out = Vec::new();
    for block in text.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let mut v = Vector::default();
        let mut section = "";
        let mut rec: HashMap<&str, &str> = HashMap::new();
        let flush = |section: &str, rec: &mut HashMap<&str, &str>, v: &mut Vector| {
            match section {
                "enc" => v
                    .encryptions
                    .push((h(rec["aad"]), h(rec["ct"]), h(rec["pt"]))),
                "exp" => v.exports.push((
                    h(rec["exporter_context"]),
                    rec["L"].trim().parse().unwrap(),
                    h(rec["exported_value"]),
                )),
                _ => {}
            }
            rec.clear();
        };
        for line in block.lines() {
            if let Some(tag) = line.strip_prefix("# ") {
                flush(section, &mut rec, &mut v);
                section = if tag.starts_with("encryptions") {
                    "enc"
                } else {
                    "exp"
                };
                continue;
            }
            let (k, val) = line.split_once(" =").unwrap();
            let val = val.trim();
            if section.is_empty() {
                v.fields.insert(k.to_string(), val.to_string());
            } else {
                rec.insert(k, val);
            }
        }
        flush(section, &mut rec, &mut v);
        out.push(v);
    }
    out
}

fn open_all<A: Aead>(v: &Vector) -> (usize, usize) {
    let sk = <K as Kem>::PrivateKey::from_bytes(&v.get("skRm")).unwrap();
    let pk = K::sk_to_pk(&sk);
    assert_eq!(pk.to_bytes().as_slice(), v.get("pkRm").as_slice(), "pkR");
    let enc = <K as Kem>::EncappedKey::from_bytes(&v.get("pkEm")).unwrap();
    let mut ctx =
        hpke::setup_receiver::<A, HkdfSha256, K>(&OpModeR::Base, &sk, &enc, &v.get("info"))
            .unwrap();
    for (i, (aad, ct, pt)) in v.encryptions.iter().enumerate() {
        assert_eq!(&ctx.open(ct, aad).unwrap(), pt, "encryption {i}");
    }
    for (c, len, val) in &v.exports {
        let mut out = vec![0u8; *len];
        ctx.export(c, &mut out).unwrap();
        assert_eq!(&out, val);
    }
    // A wrong info does not open the first ciphertext.
    let mut wrong =
        hpke::setup_receiver::<A, HkdfSha256, K>(&OpModeR::Base, &sk, &enc, b"other").unwrap();
    let (aad, ct, _) = &v.encryptions[0];
    assert!(wrong.open(ct, aad).is_err());
    (v.encryptions.len(), v.exports.len())
}

#[test]
fn rfc9180_boringssl_base_mode_x25519() {
    let vectors = parse_boringssl(&read("hpke_test_vectors_rfc9180_boringssl.txt"));
    let (mut cases, mut encs, mut exps) = (HashMap::new(), 0, 0);
    for v in &vectors {
        if v.num("mode") != 0 || v.num("kdf_id") != 1 {
            continue;
        }
        let (e, x) = match v.num("aead_id") {
            0x0001 => open_all::<AesGcm128>(v),
            0x0002 => open_all::<AesGcm256>(v),
            _ => continue, // ChaCha20-Poly1305: feature not compiled in.
        };
        *cases.entry(v.num("aead_id")).or_insert(0) += 1;
        encs += e;
        exps += x;
    }
    assert_eq!(cases.get(&2), Some(&1), "AES-256-GCM base vectors");
    assert_eq!(cases.get(&1), Some(&1), "AES-128-GCM base vectors");
    assert_eq!(encs, 2 * 257);
    assert_eq!(exps, 2 * 3);
    eprintln!("hpke boringssl: {cases:?} vectors, {encs} encryptions, {exps} exports");
}

/// Serves fixed bytes as randomness, so that `gen_keypair_with_rng` inside
/// `setup_sender_with_rng` runs `DeriveKeyPair(ikmE)`.
struct FixedRng(Vec<u8>);

impl TryRng for FixedRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        unimplemented!()
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        unimplemented!()
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        assert!(dst.len() <= self.0.len(), "vector randomness exhausted");
        let rest = self.0.split_off(dst.len());
        dst.copy_from_slice(&self.0);
        self.0 = rest;
        Ok(())
    }
}
impl TryCryptoRng for FixedRng {}

/// Records of the `~~~` blocks after `heading`, up to the next `### ` heading. A record
/// is `key: value` lines; a value that wraps continues on following lines
/// without a colon.
fn md_section(text: &str, suite: &str, heading: &str) -> Vec<Vec<HashMap<String, String>>> {
    let start = text.find(suite).unwrap();
    let rest = &text[start..];
    let at = rest.find(heading).unwrap();
    let rest = &rest[at + heading.len()..];
    let end = rest
        .find("\n### ")
        .or_else(|| rest.find("\n## "))
        .unwrap_or(rest.len());
    let body = &rest[..end];
    let mut blocks = Vec::new();
    for (i, chunk) in body.split("~~~").enumerate() {
        if i % 2 == 0 {
            continue;
        }
        let mut records = Vec::new();
        for para in chunk.split("\n\n").filter(|p| !p.trim().is_empty()) {
            let mut rec = HashMap::new();
            let mut last = String::new();
            for line in para.lines().filter(|l| !l.trim().is_empty()) {
                match line.split_once(':') {
                    Some((k, v)) => {
                        last = k.trim().to_string();
                        rec.insert(last.clone(), v.trim().to_string());
                    }
                    None => rec.get_mut(&last).unwrap().push_str(line.trim()),
                }
            }
            records.push(rec);
        }
        blocks.push(records);
    }
    blocks
}

#[test]
fn rfc9180_appendix_a_x25519_aes128_base() {
    let text = read("rfc9180_appendixA_test_vectors_from_draft_md.txt");
    let suite = "## DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM";
    let blocks = md_section(&text, suite, "### Base Setup Information");
    assert!(blocks.len() >= 3, "setup, encryptions, exports");
    let setup = &blocks[0][0];
    let f = |k: &str| h(&setup[k]);
    assert_eq!(setup["mode"], "0");
    assert_eq!(setup["aead_id"], "1");

    // DeriveKeyPair.
    let (sk_r, pk_r) = K::derive_keypair(&f("ikmR"));
    assert_eq!(pk_r.to_bytes().as_slice(), f("pkRm").as_slice());
    let listed = <K as Kem>::PrivateKey::from_bytes(&f("skRm")).unwrap();
    assert_eq!(sk_r.to_bytes(), listed.to_bytes(), "skR (both clamped)");
    let (_, pk_e) = K::derive_keypair(&f("ikmE"));
    assert_eq!(pk_e.to_bytes().as_slice(), f("pkEm").as_slice());

    // Sender with ikmE as randomness: enc and the first ciphertext.
    let encs = &blocks[1];
    let mut rng = FixedRng(f("ikmE"));
    let (enc, mut sctx) = hpke::setup_sender_with_rng::<AesGcm128, HkdfSha256, K>(
        &OpModeS::Base,
        &pk_r,
        &f("info"),
        &mut rng,
    )
    .unwrap();
    assert_eq!(enc.to_bytes().as_slice(), f("enc").as_slice());
    let first = &encs[0];
    assert_eq!(first["sequence number"], "0");
    let ct = sctx.seal(&h(&first["pt"]), &h(&first["aad"])).unwrap();
    assert_eq!(ct, h(&first["ct"]));

    // Receiver: first ciphertext and the exporter values on both sides.
    let mut rctx =
        hpke::setup_receiver::<AesGcm128, HkdfSha256, K>(&OpModeR::Base, &sk_r, &enc, &f("info"))
            .unwrap();
    assert_eq!(rctx.open(&ct, &h(&first["aad"])).unwrap(), h(&first["pt"]));
    let exports = &blocks[2];
    for e in exports {
        let len: usize = e["L"].parse().unwrap();
        let (mut a, mut b) = (vec![0u8; len], vec![0u8; len]);
        sctx.export(&h(&e["exporter_context"]), &mut a).unwrap();
        rctx.export(&h(&e["exporter_context"]), &mut b).unwrap();
        assert_eq!(a, h(&e["exported_value"]));
        assert_eq!(b, a);
    }
    assert_eq!(exports.len(), 3);
    assert_eq!(encs.len(), 6);
}
