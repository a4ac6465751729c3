//! [`CallKeys`]: one participant's media keys for a call, with epoch changes, drop
//! counting and the protection status shown to users (R-E5).

use bytes::{Buf, Bytes, BytesMut};
use cai_crypto::e2e::{Device, MEDIA_EPOCH_BITS, MediaReceiver, MediaSender, VerificationCode};
use cai_crypto::sframe::{
    COUNTER_TOO_OLD, CallId, FrameDecryptor, FrameEncryptor, MediaKeyId, MediaProtection,
    MediaSuite, REPLAYED_FRAME, add_session_sender, session_frame_encryptor,
};
use cai_crypto::{DataKey, Error, KeyEpoch, Result};

/// How a call's media is protected, as every participant's UI shows it (R-E5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallProtection {
    /// End-to-end encrypted: frames are SFrame-encrypted and signed under MLS keys only
    /// the participants' devices hold. Participants compare the verification code.
    EndToEnd {
        /// The SFrame suite.
        suite: MediaSuite,
        /// The MLS epoch the code belongs to (both sides must be in the same epoch).
        epoch: u64,
        /// The group's verification code: 30 digits in 6 groups of 5
        /// (`cai_crypto::e2e::VerificationCode::digits`).
        verification_code: String,
    },
    /// Transport-only: the operator's server can access audio and video (frames are
    /// still SFrame-encrypted under the session key, which keeps out a media server
    /// without that key).
    TransportOnly,
}

impl CallProtection {
    /// Whether the call is end-to-end encrypted.
    pub fn is_end_to_end(&self) -> bool {
        matches!(self, CallProtection::EndToEnd { .. })
    }

    /// `"end_to_end"` or `"transport_only"`, for UIs and logs.
    pub fn as_str(&self) -> &'static str {
        match self {
            CallProtection::EndToEnd { .. } => "end_to_end",
            CallProtection::TransportOnly => "transport_only",
        }
    }

    /// The verification code in end-to-end mode.
    pub fn verification_code(&self) -> Option<&str> {
        match self {
            CallProtection::EndToEnd {
                verification_code, ..
            } => Some(verification_code),
            CallProtection::TransportOnly => None,
        }
    }

    /// The matching `cai_crypto::sframe::MediaProtection`.
    pub fn media_protection(&self) -> MediaProtection {
        match self {
            CallProtection::EndToEnd { suite, .. } => MediaProtection::EndToEnd(*suite),
            CallProtection::TransportOnly => MediaProtection::TransportOnly,
        }
    }
}

/// Frame counters of one participant's call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MediaStats {
    /// Frames protected for sending.
    pub frames_sent: u64,
    /// Frames received (after depacketisation), whatever became of them.
    pub frames_received: u64,
    /// Received frames that decrypted (and, in end-to-end mode, whose signature verified).
    pub frames_decrypted: u64,
    /// Received frames under a key of an earlier epoch, dropped.
    pub dropped_stale: u64,
    /// Received frames dropped for any other reason (unknown sender, replay, forgery,
    /// truncation).
    pub dropped_invalid: u64,
}

/// Why a received frame was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Its key belongs to an earlier epoch, whose keys were removed.
    StaleEpoch,
    /// Its key id names no sender of the current epoch.
    UnknownSender,
    /// Its counter was already received (or fell out of the replay window).
    Replayed,
    /// It did not authenticate, its signature was wrong, or it was malformed.
    Invalid,
}

/// A dropped frame: the reason and the key id it named, if readable. Carries no frame
/// bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("media frame dropped ({reason:?}, kid {kid:?})")]
pub struct FrameDropped {
    /// Why.
    pub reason: DropReason,
    /// The SFrame key id of the frame, when its header parsed.
    pub kid: Option<u64>,
}

/// A decrypted frame and who sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnprotectedFrame {
    /// The encoded frame (a view into the received buffer, not a copy).
    pub data: Bytes,
    /// The sender's index: roster index (session keys) or MLS leaf index (end to end).
    pub sender: u32,
    /// The epoch of the key: the session key epoch or the MLS epoch.
    pub epoch: u64,
}

/// Where the keys come from.
enum Source {
    Session {
        session_id: Vec<u8>,
        call_id: CallId,
        suite: MediaSuite,
        own_index: u16,
        epoch: KeyEpoch,
        // Boxed: the prepared AES key makes it far larger than the other variant.
        encryptor: Box<FrameEncryptor>,
        decryptor: FrameDecryptor,
    },
    EndToEnd(Box<E2eKeys>),
}

/// The end-to-end keys (boxed: much larger than the session keys).
struct E2eKeys {
    group_id: Vec<u8>,
    suite: MediaSuite,
    sender: MediaSender,
    receiver: MediaReceiver,
    code: VerificationCode,
}

/// One participant's media keys for a call: protects its own frames, unprotects the
/// others', follows epoch changes and counts what it drops.
pub struct CallKeys {
    source: Source,
    stats: MediaStats,
    /// Reused output of `encrypt_into` (session keys).
    scratch: Vec<u8>,
    /// Protected frames handed out as [`Bytes`] are cut from here, and received ones
    /// copied here to decrypt in place: one allocation per [`ARENA_BYTES`], reclaimed once
    /// earlier frames are dropped, instead of one per frame.
    send_arena: BytesMut,
    recv_arena: BytesMut,
}

/// Size of the buffers frames are cut from.
const ARENA_BYTES: usize = 8 * 1024;

/// `bytes` copied into `arena` and split off it.
fn cut(arena: &mut BytesMut, bytes: &[u8]) -> BytesMut {
    if arena.capacity() < bytes.len() {
        // Reclaims the whole buffer when every frame cut from it was dropped.
        arena.reserve(ARENA_BYTES.max(bytes.len()));
    }
    arena.extend_from_slice(bytes);
    arena.split()
}

impl core::fmt::Debug for CallKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CallKeys")
            .field("protection", &self.protection().as_str())
            .field("epoch", &self.epoch())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl CallKeys {
    /// Keys from the key epoch's key (modes other than end to end: the call key in
    /// server-managed sessions, the session's data key otherwise) for the call
    /// instance `call_id` (`admitted.call`): this participant sends as `own_index` and
    /// receives from every other index of `roster`. Frames of another call instance —
    /// recorded earlier, replayed by a media server — do not open, even from the same
    /// index in the same key epoch (`docs/SFRAME.md` §3a).
    ///
    /// Fails with [`Error::Malformed`] for a session id `session_media_secret` refuses.
    pub fn session(
        session_id: &str,
        call_id: &CallId,
        data_key: &DataKey,
        own_index: u16,
        roster: &[u16],
    ) -> Result<Self> {
        let suite = MediaSuite::Aes256GcmSha512;
        let session_id = session_id.as_bytes().to_vec();
        let encryptor = Box::new(session_frame_encryptor(
            suite,
            data_key,
            &session_id,
            call_id,
            own_index,
        )?);
        let mut decryptor = FrameDecryptor::new();
        for &index in roster.iter().filter(|&&i| i != own_index) {
            add_session_sender(&mut decryptor, suite, data_key, &session_id, call_id, index)?;
        }
        Ok(Self {
            source: Source::Session {
                session_id,
                call_id: *call_id,
                suite,
                own_index,
                epoch: data_key.epoch(),
                encryptor,
                decryptor,
            },
            stats: MediaStats::default(),
            scratch: Vec::new(),
            send_arena: BytesMut::new(),
            recv_arena: BytesMut::new(),
        })
    }

    /// Keys from the MLS group `group_id` of `device` (end-to-end mode), in its current
    /// epoch, with the group's verification code.
    pub fn end_to_end(device: &Device, group_id: &[u8]) -> Result<Self> {
        let suite = MediaSuite::Aes256GcmSha512;
        Ok(Self {
            source: Source::EndToEnd(Box::new(E2eKeys {
                group_id: group_id.to_vec(),
                suite,
                sender: device.media_sender(group_id, suite)?,
                receiver: device.media_receiver(group_id, suite)?,
                code: device.verification_code(group_id)?,
            })),
            stats: MediaStats::default(),
            scratch: Vec::new(),
            send_arena: BytesMut::new(),
            recv_arena: BytesMut::new(),
        })
    }

    /// Moves a session-key call to `data_key`'s epoch with the new `roster` (a participant
    /// left or joined), in the same call instance (the call id given to
    /// [`session`](Self::session)). The old epoch's keys are removed at once: frames under
    /// them are dropped as [`DropReason::StaleEpoch`].
    ///
    /// Fails with [`Error::Sframe`] for an end-to-end call or an epoch not above the
    /// current one.
    pub fn rekey_session(&mut self, data_key: &DataKey, roster: &[u16]) -> Result<()> {
        let Source::Session {
            session_id,
            call_id,
            suite,
            own_index,
            epoch,
            encryptor,
            decryptor,
        } = &mut self.source
        else {
            return Err(Error::Sframe {
                reason: "an end-to-end call is rekeyed from its MLS group",
            });
        };
        if data_key.epoch() <= *epoch {
            return Err(Error::Sframe {
                reason: "the new key epoch must be above the current one",
            });
        }
        let mut next = FrameDecryptor::new();
        for &index in roster.iter().filter(|&&i| i != *own_index) {
            add_session_sender(&mut next, *suite, data_key, session_id, call_id, index)?;
        }
        **encryptor = session_frame_encryptor(*suite, data_key, session_id, call_id, *own_index)?;
        *decryptor = next;
        *epoch = data_key.epoch();
        Ok(())
    }

    /// Moves an end-to-end call to the current epoch of `device`'s group (after it
    /// processed the commit that removed or added a member). Keys of earlier epochs are
    /// removed; their frames are dropped as [`DropReason::StaleEpoch`].
    ///
    /// Fails with [`Error::Sframe`] for a session-key call or when the device is not past
    /// the call's epoch.
    pub fn rekey_end_to_end(&mut self, device: &Device) -> Result<()> {
        let Source::EndToEnd(keys) = &mut self.source else {
            return Err(Error::Sframe {
                reason: "a session-key call is rekeyed with a data key",
            });
        };
        let E2eKeys {
            group_id,
            suite,
            sender,
            receiver,
            code,
        } = &mut **keys;
        let epoch = device.epoch(group_id)?;
        // A second sender in the same epoch would start its counter again: the same key
        // and nonces twice.
        if epoch <= sender.epoch() {
            return Err(Error::Sframe {
                reason: "the new MLS epoch must be above the current one",
            });
        }
        *sender = device.media_sender(group_id, *suite)?;
        device.update_media_receiver(group_id, *suite, receiver)?;
        receiver.forget_before(epoch);
        *code = device.verification_code(group_id)?;
        Ok(())
    }

    /// The current epoch: the session key epoch or the MLS epoch.
    pub fn epoch(&self) -> u64 {
        match &self.source {
            Source::Session { epoch, .. } => u64::from(epoch.0),
            Source::EndToEnd(keys) => keys.sender.epoch(),
        }
    }

    /// How the call is protected, for the UI (R-E5).
    pub fn protection(&self) -> CallProtection {
        match &self.source {
            Source::Session { .. } => CallProtection::TransportOnly,
            Source::EndToEnd(keys) => CallProtection::EndToEnd {
                suite: keys.suite,
                epoch: keys.code.epoch(),
                verification_code: keys.code.digits(),
            },
        }
    }

    /// The group's verification code (end-to-end mode).
    pub fn verification_code(&self) -> Option<&VerificationCode> {
        match &self.source {
            Source::EndToEnd(keys) => Some(&keys.code),
            Source::Session { .. } => None,
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> MediaStats {
        self.stats
    }

    /// Protects one encoded frame of this participant (`metadata` is authenticated, not
    /// sent; the receiver passes the same bytes).
    pub fn protect(&mut self, frame: &[u8], metadata: &[u8]) -> Result<Vec<u8>> {
        let out = match &mut self.source {
            Source::Session { encryptor, .. } => {
                // Sized once: the packetiser takes ownership of every protected frame.
                let mut out = Vec::with_capacity(frame.len() + cai_crypto::sframe::MAX_OVERHEAD);
                encryptor.encrypt_into(frame, metadata, &mut out)?;
                out
            }
            Source::EndToEnd(keys) => keys.sender.protect(frame, metadata)?,
        };
        self.stats.frames_sent += 1;
        Ok(out)
    }

    /// Unprotects one received frame, or drops it — counted, never a panic.
    pub fn unprotect(
        &mut self,
        frame: &[u8],
        metadata: &[u8],
    ) -> core::result::Result<UnprotectedFrame, FrameDropped> {
        self.unprotect_bytes(frame, metadata)
    }

    /// Like [`unprotect`](Self::unprotect) for a frame the caller owns (as it comes out
    /// of depacketisation): with session keys it is decrypted in its own buffer, without
    /// a second allocation.
    pub fn unprotect_owned(
        &mut self,
        mut frame: Vec<u8>,
        metadata: &[u8],
    ) -> core::result::Result<UnprotectedFrame, FrameDropped> {
        self.stats.frames_received += 1;
        let current = self.epoch();
        let result = match &mut self.source {
            Source::Session { decryptor, .. } => {
                match decryptor.decrypt_in_place(&mut frame, metadata) {
                    Ok((info, range)) => {
                        // Plaintext in place; the view skips the header (no copy).
                        Ok(UnprotectedFrame {
                            data: Bytes::from(frame).slice(range),
                            sender: u32::from(info.media_key_id().map_or(0, |k| k.sender_index())),
                            epoch: current,
                        })
                    }
                    // A failed decryption leaves the header intact.
                    Err(e) => Err((e, header_kid(&frame))),
                }
            }
            Source::EndToEnd(keys) => unprotect_e2e(keys, &frame, metadata),
        };
        self.account(current, result)
    }

    /// Protects one frame for a sender that hands it on as [`Bytes`] (the packetiser):
    /// with session keys the frame is cut from a reused buffer, so sending allocates no
    /// buffer per frame.
    pub fn protect_bytes(&mut self, frame: &[u8], metadata: &[u8]) -> Result<Bytes> {
        let out = match &mut self.source {
            Source::Session { encryptor, .. } => {
                encryptor.encrypt_into(frame, metadata, &mut self.scratch)?;
                cut(&mut self.send_arena, &self.scratch).freeze()
            }
            Source::EndToEnd(keys) => Bytes::from(keys.sender.protect(frame, metadata)?),
        };
        self.stats.frames_sent += 1;
        Ok(out)
    }

    /// Like [`unprotect`](Self::unprotect) for a frame in a shared buffer (an RTP
    /// payload): with session keys it is copied into a reused buffer and decrypted there,
    /// so receiving allocates no buffer per frame.
    pub fn unprotect_bytes(
        &mut self,
        frame: &[u8],
        metadata: &[u8],
    ) -> core::result::Result<UnprotectedFrame, FrameDropped> {
        self.stats.frames_received += 1;
        let current = self.epoch();
        let result = match &mut self.source {
            Source::Session { decryptor, .. } => {
                let mut buf = cut(&mut self.recv_arena, frame);
                match decryptor.decrypt_in_place(&mut buf, metadata) {
                    Ok((info, range)) => {
                        buf.truncate(range.end);
                        buf.advance(range.start);
                        Ok(UnprotectedFrame {
                            data: buf.freeze(),
                            sender: u32::from(info.media_key_id().map_or(0, |k| k.sender_index())),
                            epoch: current,
                        })
                    }
                    Err(e) => Err((e, header_kid(&buf))),
                }
            }
            Source::EndToEnd(keys) => unprotect_e2e(keys, frame, metadata),
        };
        self.account(current, result)
    }

    /// Counts a frame's outcome and classifies a drop.
    fn account(
        &mut self,
        current: u64,
        result: core::result::Result<UnprotectedFrame, (Error, Option<u64>)>,
    ) -> core::result::Result<UnprotectedFrame, FrameDropped> {
        match result {
            Ok(done) => {
                self.stats.frames_decrypted += 1;
                Ok(done)
            }
            Err((e, kid)) => {
                let reason = classify(&self.source, current, &e);
                match reason {
                    DropReason::StaleEpoch => self.stats.dropped_stale += 1,
                    _ => self.stats.dropped_invalid += 1,
                }
                Err(FrameDropped { reason, kid })
            }
        }
    }
}

/// Unprotects an end-to-end frame (verifying its signature).
fn unprotect_e2e(
    keys: &mut E2eKeys,
    frame: &[u8],
    metadata: &[u8],
) -> core::result::Result<UnprotectedFrame, (Error, Option<u64>)> {
    match keys.receiver.unprotect(frame, metadata) {
        Ok(r) => Ok(UnprotectedFrame {
            data: Bytes::from(r.frame),
            sender: r.sender_index,
            epoch: r.epoch,
        }),
        Err(e) => Err((e, header_kid(frame))),
    }
}

/// The KID of a frame (the SFrame header starts the frame in both modes).
fn header_kid(frame: &[u8]) -> Option<u64> {
    cai_crypto::sframe::parse_header(frame).ok().map(|h| h.kid)
}

/// Maps a decryption error to a drop reason; an unknown key of an earlier epoch is stale.
fn classify(source: &Source, current: u64, e: &Error) -> DropReason {
    match e {
        Error::UnknownMediaKey { kid } => {
            let stale = match source {
                Source::Session { .. } => {
                    MediaKeyId::from_u64(*kid).is_ok_and(|k| u64::from(k.epoch().0) < current)
                }
                Source::EndToEnd(_) => {
                    // RFC 9605 §5.2 KIDs carry the epoch modulo 2^8: "earlier" is within
                    // the half of that circle behind the current epoch.
                    let mask = (1u64 << MEDIA_EPOCH_BITS) - 1;
                    let behind = (current.wrapping_sub(*kid)) & mask;
                    behind != 0 && behind < (1 << (MEDIA_EPOCH_BITS - 1))
                }
            };
            if stale {
                DropReason::StaleEpoch
            } else {
                DropReason::UnknownSender
            }
        }
        Error::Sframe { reason } if *reason == REPLAYED_FRAME => DropReason::Replayed,
        Error::Sframe { reason } if *reason == COUNTER_TOO_OLD => DropReason::Replayed,
        _ => DropReason::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cai_crypto::{KeyId, SecretBytes};

    const CALL: CallId = CallId::from_bytes([9; 16]);

    fn key(epoch: u32) -> DataKey {
        DataKey::from_parts(
            KeyId::from_bytes([epoch as u8; 16]),
            KeyEpoch(epoch),
            SecretBytes::from_bytes([3; 32]),
        )
    }

    #[test]
    fn drops_are_classified_and_counted() {
        let mut a = CallKeys::session("ses_x", &CALL, &key(1), 1, &[1, 2]).unwrap();
        let mut b = CallKeys::session("ses_x", &CALL, &key(1), 2, &[1, 2]).unwrap();
        let f = a.protect(b"frame", b"").unwrap();
        let got = b.unprotect(&f, b"").unwrap();
        assert_eq!(
            (&got.data[..], got.sender, got.epoch),
            (&b"frame"[..], 1, 1)
        );
        // The same frame again.
        assert_eq!(
            b.unprotect(&f, b"").unwrap_err().reason,
            DropReason::Replayed
        );
        // Garbage and a truncated frame.
        assert_eq!(
            b.unprotect(b"", b"").unwrap_err().reason,
            DropReason::Invalid
        );
        let mut t = a.protect(b"frame", b"").unwrap();
        let last = t.len() - 1;
        t[last] ^= 1;
        assert_eq!(
            b.unprotect(&t, b"").unwrap_err().reason,
            DropReason::Invalid
        );
        // A sender outside the roster.
        let mut c = CallKeys::session("ses_x", &CALL, &key(1), 3, &[1, 2, 3]).unwrap();
        let f3 = c.protect(b"x", b"").unwrap();
        assert_eq!(
            b.unprotect(&f3, b"").unwrap_err().reason,
            DropReason::UnknownSender
        );
        // After b moves on, a's old frames are stale; a's new ones decrypt.
        let old = a.protect(b"old", b"").unwrap();
        b.rekey_session(&key(2), &[1, 2]).unwrap();
        let dropped = b.unprotect(&old, b"").unwrap_err();
        assert_eq!(dropped.reason, DropReason::StaleEpoch);
        assert_eq!(dropped.kid, Some(1 << 16 | 1));
        a.rekey_session(&key(2), &[1, 2]).unwrap();
        assert_eq!(
            b.unprotect(&a.protect(b"new", b"").unwrap(), b"")
                .unwrap()
                .epoch,
            2
        );
        assert!(b.rekey_session(&key(2), &[1, 2]).is_err());
        assert_eq!(
            b.stats(),
            MediaStats {
                frames_sent: 0,
                frames_received: 7,
                frames_decrypted: 2,
                dropped_stale: 1,
                dropped_invalid: 4,
            }
        );
        assert_eq!(b.protection(), CallProtection::TransportOnly);
        assert!(b.verification_code().is_none());
    }

    #[test]
    fn frames_cut_from_reused_buffers_stay_intact() {
        let mut a = CallKeys::session("ses_x", &CALL, &key(1), 1, &[1, 2]).unwrap();
        let mut b = CallKeys::session("ses_x", &CALL, &key(1), 2, &[1, 2]).unwrap();
        // Enough 1,200-byte frames to use each buffer several times over, some kept
        // alive across a refill (so the buffer cannot be reclaimed) and some dropped.
        let mut kept = Vec::new();
        for i in 0..300u32 {
            let frame: Vec<u8> = (0..1200u32).map(|j| (i * 7 + j) as u8).collect();
            let sent = a.protect_bytes(&frame, b"m").unwrap();
            let got = b.unprotect_bytes(&sent, b"m").unwrap();
            assert_eq!(&got.data[..], &frame[..]);
            assert_eq!((got.sender, got.epoch), (1, 1));
            if i % 50 == 0 {
                kept.push((frame, sent, got));
            }
        }
        for (frame, _, got) in &kept {
            assert_eq!(&got.data[..], &frame[..]);
        }
        // A kept protected frame is still exactly what was sent: a replay now.
        assert_eq!(
            b.unprotect_bytes(&kept[0].1, b"m").unwrap_err().reason,
            DropReason::Replayed
        );
        // Owned frames decrypt the same way.
        let owned = a.protect(b"owned", b"").unwrap();
        assert_eq!(&b.unprotect_owned(owned, b"").unwrap().data[..], b"owned");
        assert_eq!(b.stats().frames_decrypted, 301);
    }

    #[test]
    fn frames_of_another_call_instance_are_dropped_not_opened() {
        // Same session, data key, epoch and indices; only the call id differs, as in a
        // call that started again after it emptied (or after a hub restart).
        let other = CallId::from_bytes([10; 16]);
        let mut earlier = CallKeys::session("ses_x", &other, &key(1), 1, &[1, 2]).unwrap();
        let mut a = CallKeys::session("ses_x", &CALL, &key(1), 1, &[1, 2]).unwrap();
        let mut b = CallKeys::session("ses_x", &CALL, &key(1), 2, &[1, 2]).unwrap();
        let recorded = earlier.protect(b"from the earlier call", b"").unwrap();
        let dropped = b.unprotect(&recorded, b"").unwrap_err();
        assert_eq!(dropped.reason, DropReason::Invalid);
        assert_eq!(dropped.kid, Some(1 << 16 | 1));
        // The receiver is unharmed: the same KID of its own call still opens after it.
        let own = a.protect(b"this call", b"").unwrap();
        assert_eq!(&b.unprotect(&own, b"").unwrap().data[..], b"this call");
        // Offered again, the recorded frame is still dropped (now possibly already as out
        // of the window, which that authentic frame moved).
        assert!(b.unprotect_owned(recorded, b"").is_err());
        assert_eq!(
            (b.stats().frames_decrypted, b.stats().dropped_invalid),
            (1, 2)
        );
        // After a rekey the call id stays: the earlier call's next epoch does not open
        // either.
        earlier.rekey_session(&key(2), &[1, 2]).unwrap();
        b.rekey_session(&key(2), &[1, 2]).unwrap();
        let later = earlier.protect(b"x", b"").unwrap();
        assert_eq!(
            b.unprotect(&later, b"").unwrap_err().reason,
            DropReason::Invalid
        );
    }
}
