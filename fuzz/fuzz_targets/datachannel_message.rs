//! Feeds arbitrary bytes to the sealed data channel's parsers (`cai_rtc::data`): the
//! public header, and the bodies a participant decrypts — file offers and chunks. Every
//! participant of a call holds the sealing key, so these bodies are untrusted input too.
//! Nothing may panic; an offer that decodes must encode back to the same bytes; a
//! channel opening arbitrary messages must only ever refuse them.
#![no_main]

use cai_crypto::{DataKey, KeyEpoch, KeyId, SecretBytes};
use cai_rtc::data::wire::{FileOffer, Header, decode_chunk};
use cai_rtc::data::{ChannelContext, DataLimits, SealedChannel};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Header::parse(data);
    if let Ok(offer) = FileOffer::decode(data) {
        let encoded = offer.encode().expect("a decoded offer encodes");
        assert_eq!(FileOffer::decode(&encoded).expect("round trip"), offer);
    }
    let _ = decode_chunk(data);
    let key = DataKey::from_parts(
        KeyId::from_bytes([1; 16]),
        KeyEpoch(1),
        SecretBytes::from_bytes([1; 32]),
    );
    let ctx = ChannelContext {
        tenant: b"ten_fuzz".to_vec(),
        session: b"ses_fuzz".to_vec(),
        call: cai_crypto::sframe::CallId::from_bytes([2; 16]),
        sender_index: 0,
        mode: None,
    };
    let mut channel = SealedChannel::new(ctx, &key, DataLimits::default()).expect("a channel");
    assert!(channel.open(data).is_err(), "forged bytes never open");
});
