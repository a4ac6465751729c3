#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Argon2 known-answer tests: RFC 9106 section 5 / the P-H-C reference `kats/` files
//! (version 0x13), run through the `argon2` crate that `cai-crypto` uses, with the exact
//! parameters including the secret and associated data.

use std::path::PathBuf;

use argon2::{Algorithm, Argon2, AssociatedData, ParamsBuilder, Version};
use sha2::{Digest, Sha256};

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/argon2")
}

fn hex_bytes(s: &str) -> Vec<u8> {
    hex::decode(s.split_whitespace().collect::<String>()).unwrap()
}

struct Kat {
    algorithm: Algorithm,
    version: u32,
    m_kib: u32,
    t: u32,
    p: u32,
    tag_len: usize,
    password: Vec<u8>,
    salt: Vec<u8>,
    secret: Vec<u8>,
    ad: Vec<u8>,
    tag: Vec<u8>,
}

fn run(kat: &Kat) -> Vec<u8> {
    let version = match kat.version {
        0x13 => Version::V0x13,
        0x10 => Version::V0x10,
        v => panic!("unknown Argon2 version {v}"),
    };
    let params = ParamsBuilder::new()
        .m_cost(kat.m_kib)
        .t_cost(kat.t)
        .p_cost(kat.p)
        .output_len(kat.tag_len)
        .data(AssociatedData::new(&kat.ad).unwrap())
        .build()
        .unwrap();
    let ctx = Argon2::new_with_secret(&kat.secret, kat.algorithm, version, params).unwrap();
    let mut out = vec![0u8; kat.tag_len];
    ctx.hash_password_into(&kat.password, &kat.salt, &mut out)
        .unwrap();
    out
}

/// Value after `label` up to the end of the line, e.g. `Salt[16]: 02 02 …`.
fn field<'a>(block: &'a str, label: &str) -> &'a str {
    block
        .lines()
        .find_map(|l| l.strip_prefix(label))
        .map(|rest| rest.split_once(':').map_or(rest, |(_, v)| v).trim())
        .unwrap_or_else(|| panic!("missing {label}"))
}

/// Number after `name: ` in the `Memory: 32 KiB, Iterations: 3, …` line.
fn number(line: &str, name: &str) -> u32 {
    let rest = line
        .split(name)
        .nth(1)
        .unwrap_or_else(|| panic!("missing {name}"));
    rest.trim_start_matches(':')
        .split_whitespace()
        .next()
        .unwrap()
        .trim_end_matches(',')
        .parse()
        .unwrap()
}

/// Parses the reference implementation's KAT text: one block per test, opened by
/// `Argon2id version number 19`, ending with `Tag: …`.
fn parse_kat_file(text: &str) -> Vec<Kat> {
    let mut kats = Vec::new();
    for block in text.split("Argon2id version number").skip(1) {
        let version: u32 = block.split_whitespace().next().unwrap().parse().unwrap();
        let cost = block.lines().find(|l| l.starts_with("Memory:")).unwrap();
        kats.push(Kat {
            algorithm: Algorithm::Argon2id,
            version,
            m_kib: number(cost, "Memory"),
            t: number(cost, "Iterations"),
            p: number(cost, "Parallelism"),
            tag_len: number(cost, "Tag length") as usize,
            password: hex_bytes(field(block, "Password[")),
            salt: hex_bytes(field(block, "Salt[")),
            secret: hex_bytes(field(block, "Secret[")),
            ad: hex_bytes(field(block, "Associated data[")),
            tag: hex_bytes(field(block, "Tag:")),
        });
    }
    kats
}

#[test]
fn reference_argon2id_kat_file() {
    let text = std::fs::read_to_string(vectors_dir().join("argon2id.txt")).unwrap();
    // The file is the reference one, byte for byte.
    let shasum = std::fs::read_to_string(vectors_dir().join("argon2id.shasum.txt")).unwrap();
    let expected = shasum.split_whitespace().next().unwrap();
    assert_eq!(hex::encode(Sha256::digest(text.as_bytes())), expected);

    let kats = parse_kat_file(&text);
    assert!(!kats.is_empty(), "no Argon2id vectors found");
    for (i, kat) in kats.iter().enumerate() {
        assert_eq!(kat.tag.len(), kat.tag_len);
        assert_eq!(
            hex::encode(run(kat)),
            hex::encode(&kat.tag),
            "argon2id.txt vector {i}"
        );
        // Sanity: the parsed inputs are the RFC 9106 ones.
        assert_eq!((kat.m_kib, kat.t, kat.p, kat.version), (32, 3, 4, 0x13));
    }
}

#[test]
fn rfc9106_section5_vectors() {
    let text = std::fs::read_to_string(vectors_dir().join("rfc9106_vectors.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let p = json.get("params").unwrap();
    let num = |k: &str| u32::try_from(p.get(k).unwrap().as_u64().unwrap()).unwrap();
    let hexf = |k: &str| hex_bytes(p.get(k).unwrap().as_str().unwrap());
    let tags = json.get("tags").unwrap().as_object().unwrap();
    assert!(tags.contains_key("argon2id"));
    for (name, tag) in tags {
        let algorithm = match name.as_str() {
            "argon2d" => Algorithm::Argon2d,
            "argon2i" => Algorithm::Argon2i,
            "argon2id" => Algorithm::Argon2id,
            other => panic!("unknown algorithm {other}"),
        };
        let kat = Kat {
            algorithm,
            version: num("version"),
            m_kib: num("m_cost_kib"),
            t: num("t_cost"),
            p: num("p_lanes"),
            tag_len: num("tag_len") as usize,
            password: hexf("password_hex"),
            salt: hexf("salt_hex"),
            secret: hexf("secret_hex"),
            ad: hexf("ad_hex"),
            tag: hex_bytes(tag.as_str().unwrap()),
        };
        assert_eq!(hex::encode(run(&kat)), hex::encode(&kat.tag), "{name}");
    }
}

#[test]
fn a_changed_input_changes_the_tag() {
    let text = std::fs::read_to_string(vectors_dir().join("argon2id.txt")).unwrap();
    let mut kat = parse_kat_file(&text).into_iter().next().unwrap();
    kat.secret.clear();
    assert_ne!(
        run(&kat),
        kat.tag,
        "the secret must be part of the computation"
    );
}
