//! Parses arbitrary bytes as every end-to-end structure: epoch bundle, history bundle,
//! roster and device key backup. None may panic; whatever parses must re-encode to the
//! same bytes.
#![no_main]

use cai_crypto::e2e::{EpochBundle, HistoryBundle, LocalDevice, Roster};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(b) = EpochBundle::parse(data) {
        assert_eq!(b.to_bytes(), data);
        let _ = b.roster().hash();
    }
    if let Ok(h) = HistoryBundle::parse(data) {
        assert_eq!(h.to_bytes(), data);
    }
    if let Ok(r) = Roster::parse(data) {
        assert_eq!(r.to_bytes(), data);
    }
    if let Ok(d) = LocalDevice::from_backup_bytes(data)
        && let Ok(again) = d.to_backup_bytes()
    {
        assert_eq!(&again[..], data);
    }
});
