#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
#![allow(clippy::indexing_slicing)]
//! The end-to-end parsers are total: arbitrary bytes, arbitrary bytes behind a valid
//! preamble, and mutations of valid structures never panic.

use std::sync::OnceLock;

use cai_crypto::KeyEpoch;
use cai_crypto::e2e::{DeviceId, EpochBundle, HistoryBundle, LocalDevice, Roster};
use proptest::prelude::*;

fn parse_all(bytes: &[u8]) {
    let _ = EpochBundle::parse(bytes);
    let _ = HistoryBundle::parse(bytes);
    let _ = Roster::parse(bytes);
    let _ = LocalDevice::from_backup_bytes(bytes);
}

/// A valid epoch bundle, history bundle and backup to mutate.
fn samples() -> &'static Vec<Vec<u8>> {
    static S: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    S.get_or_init(|| {
        let a = LocalDevice::generate(DeviceId::new(b"a").unwrap()).unwrap();
        let b = LocalDevice::generate(DeviceId::new(b"b").unwrap()).unwrap();
        let r = Roster::new(vec![a.roster_entry().unwrap(), b.roster_entry().unwrap()]).unwrap();
        let (bundle, s) = EpochBundle::create(b"s", KeyEpoch(1), &r, &a).unwrap();
        let h = HistoryBundle::create(b"s", &[&s], &a, &b.roster_entry().unwrap()).unwrap();
        vec![
            bundle.to_bytes().to_vec(),
            h.to_bytes().to_vec(),
            a.to_backup_bytes().unwrap().to_vec(),
            r.to_bytes().to_vec(),
        ]
    })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        parse_all(&bytes);
    }

    #[test]
    fn arbitrary_bodies_never_panic(
        kind in 0u8..5,
        body in proptest::collection::vec(any::<u8>(), 0..2048),
    ) {
        let mut bytes = b"CAIK\x01".to_vec();
        bytes.extend_from_slice(&[kind, 0x01]);
        bytes.extend_from_slice(&body);
        parse_all(&bytes);
    }

    #[test]
    fn mutations_never_panic(
        which in 0usize..4,
        edits in proptest::collection::vec((any::<u16>(), any::<u8>()), 1..8),
        cut in any::<u16>(),
    ) {
        let mut bytes = samples()[which].clone();
        for (pos, val) in edits {
            let len = bytes.len();
            bytes[usize::from(pos) % len] = val;
        }
        parse_all(&bytes);
        let len = bytes.len();
        parse_all(&bytes[..usize::from(cut) % (len + 1)]);
    }
}
