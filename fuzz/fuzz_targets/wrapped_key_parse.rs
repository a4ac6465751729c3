//! Parses arbitrary bytes as every stored key format of `cai-crypto` — wrapped key,
//! passphrase parameters, key backup, key custody, recovery key — and checks that the
//! parsers never panic and that whatever they accept re-encodes to the same bytes
//! (strict, canonical formats). Accepted key backups are also opened with a recovery
//! key (no Argon2 work), and the bytes are run through the password strength estimate.
#![no_main]

use cai_crypto::SecretBytes;
use cai_crypto::backup::{BackupSecret, Expected, KeyBackup, PasswordPolicy, RecoveryKey};
use cai_crypto::hierarchy::WrappedKey;
use cai_crypto::modes::KeyCustody;
use cai_crypto::passphrase::PassphraseParams;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(w) = WrappedKey::parse(data) {
        assert_eq!(&w.to_bytes()[..], data);
    }
    if let Ok(p) = PassphraseParams::parse(data) {
        assert_eq!(p.to_bytes(), data);
    }
    if let Ok(b) = KeyBackup::parse(data) {
        assert_eq!(b.to_bytes(), data);
        let rk = RecoveryKey::from_secret(SecretBytes::from_bytes([7; 32]));
        let expected = Expected::new(b.account(), b.backup_version());
        let _ = b.open(BackupSecret::RecoveryKey(&rk), &expected);
    }
    let _ = PasswordPolicy::estimate_bits(data, &[b"account-7f3a"]);
    if let Ok(c) = KeyCustody::parse(data) {
        assert_eq!(c.to_bytes(), data);
    }
    if let Ok(text) = core::str::from_utf8(data) {
        let _ = RecoveryKey::parse(text);
    }
});
