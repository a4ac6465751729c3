//! [`SealedChannel`]: chat and files to sealed messages and back, with replay and size
//! checks, independent of the transport that carries the messages.

use std::collections::HashMap;

use bytes::Bytes;
use cai_crypto::envelope::{EnvelopeHeader, Opener, Sealer};
use cai_crypto::sframe::CallId;
use cai_crypto::{ContentKind, DataKey, ItemContext, KeyId, ModeBinding};
use sha2::{Digest, Sha256};

use super::reassembly::Reassembly;
use super::wire::{self, FileOffer, Header, MessageType};
use super::{DataError, DataLimits};

/// Who seals on this channel and for which session: the ids bound into every envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelContext {
    /// The tenant id (1..=255 bytes), as in the session's item contexts.
    pub tenant: Vec<u8>,
    /// The session id (1..=255 bytes).
    pub session: Vec<u8>,
    /// The call instance (`admitted.call`): bound into every message's item id, so a
    /// message recorded in one call never opens in another (`docs/DATACHANNEL.md` §2).
    pub call: CallId,
    /// This endpoint's index in the call's roster (assigned by signaling).
    pub sender_index: u16,
    /// The session's mode binding, when the session has a signed mode descriptor: bound
    /// into every envelope like the session's other items (`docs/ENVELOPE.md`).
    pub mode: Option<ModeBinding>,
}

/// A message taken from the channel. `Debug` shows senders and sizes, never chat text
/// or file names.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Incoming {
    /// A chat message.
    Chat {
        /// The sender's roster index.
        sender: u16,
        /// The text.
        text: String,
    },
    /// A file was offered; its chunks follow.
    FileOffered {
        /// The sender's roster index.
        sender: u16,
        /// The offer (name, type, size, hash).
        offer: FileOffer,
    },
    /// A file arrived completely and matches its SHA-256.
    File(ReceivedFile),
}

/// A completely received, hash-checked file.
#[derive(Clone, PartialEq, Eq)]
pub struct ReceivedFile {
    /// The sender's roster index.
    pub sender: u16,
    /// The offer it was announced with.
    pub offer: FileOffer,
    /// The content.
    pub data: Vec<u8>,
}

impl core::fmt::Debug for Incoming {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Chat { sender, text } => f
                .debug_struct("Chat")
                .field("sender", sender)
                .field("text_len", &text.len())
                .finish_non_exhaustive(),
            Self::FileOffered { sender, offer } => f
                .debug_struct("FileOffered")
                .field("sender", sender)
                .field("offer", offer)
                .finish(),
            Self::File(file) => file.fmt(f),
        }
    }
}

impl core::fmt::Debug for ReceivedFile {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ReceivedFile")
            .field("sender", &self.sender)
            .field("file_id", &self.offer.file_id)
            .field("size", &self.offer.size)
            .finish_non_exhaustive()
    }
}

/// An outgoing file: its offer was sealed; [`SealedChannel::seal_next_chunk`] seals its
/// chunks one by one, so a sender never holds more than one sealed chunk per call.
#[derive(Debug, Clone)]
pub struct FileSend {
    offer: FileOffer,
    data: Bytes,
    next: u32,
}

impl FileSend {
    /// The offer.
    pub fn offer(&self) -> &FileOffer {
        &self.offer
    }

    /// Whether every chunk was sealed.
    pub fn is_done(&self) -> bool {
        u64::from(self.next) >= self.offer.chunk_count()
    }
}

/// The sealing and opening state of one data channel.
pub struct SealedChannel {
    ctx: ChannelContext,
    limits: DataLimits,
    send_limit: usize,
    sealer: Sealer,
    /// The openers of the current and the previous data key: messages sealed just before
    /// an epoch change still open.
    openers: Vec<(KeyId, Opener)>,
    next_seq: u64,
    next_file_id: u32,
    last_seq: HashMap<u16, u64>,
    files: Reassembly,
    /// The remote participant's index, once known: messages claiming anyone else are
    /// refused.
    remote: Option<u16>,
}

impl core::fmt::Debug for SealedChannel {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SealedChannel")
            .field("sender_index", &self.ctx.sender_index)
            .field("limits", &self.limits)
            .field("next_seq", &self.next_seq)
            .finish_non_exhaustive()
    }
}

impl SealedChannel {
    /// A channel sealing under `key` (the session's data key of the current epoch; in
    /// end-to-end mode the epoch's content key from MLS).
    ///
    /// Fails with [`DataError::Crypto`] when a context id is empty or too long.
    pub fn new(ctx: ChannelContext, key: &DataKey, limits: DataLimits) -> Result<Self, DataError> {
        // Validates the ids once, so sealing cannot fail on them later.
        item_context(&ctx, b"x", MessageType::Chat).encode_into(&mut Vec::new())?;
        Ok(Self {
            ctx,
            send_limit: limits.max_message_size,
            limits,
            sealer: Sealer::new(key)?,
            openers: vec![(key.id(), Opener::new(key))],
            next_seq: 0,
            next_file_id: 0,
            last_seq: HashMap::new(),
            files: Reassembly::default(),
            remote: None,
        })
    }

    /// Accepts messages only from `remote`, the participant at the other end of this
    /// channel (from signaling's `from`). Every participant of a call holds the sealing
    /// key, so without this a third participant could seal under another's index, or
    /// forward what another sent it. A peer sets it before it opens anything.
    pub fn expect_remote(&mut self, remote: u16) {
        self.remote = Some(remote);
    }

    /// The limits in force.
    pub fn limits(&self) -> &DataLimits {
        &self.limits
    }

    /// Replaces the receive limits.
    pub fn set_limits(&mut self, limits: DataLimits) {
        self.limits = limits;
    }

    /// The size of the messages this endpoint sends.
    pub fn send_limit(&self) -> usize {
        self.send_limit
    }

    /// Sizes sent messages to the remote's max-message-size (capped at 256 KiB, see
    /// [`send_message_size`](super::send_message_size)); returns the size in force.
    pub fn set_send_limit(&mut self, negotiated: usize) -> Result<usize, DataError> {
        self.send_limit = super::send_message_size(negotiated)?;
        Ok(self.send_limit)
    }

    /// Number of incoming files being reassembled.
    pub fn files_in_flight(&self) -> usize {
        self.files.in_flight()
    }

    /// Moves to a new data key (a new key epoch): seals under `key` from now on and
    /// opens messages under `key` and the key before it; older keys are forgotten.
    pub fn rekey(&mut self, key: &DataKey) -> Result<(), DataError> {
        self.sealer = Sealer::new(key)?;
        self.openers.retain(|(id, _)| *id != key.id());
        self.openers.insert(0, (key.id(), Opener::new(key)));
        self.openers.truncate(2);
        Ok(())
    }

    /// Seals a chat message. Fails with [`DataError::ChatTooLong`] over the chat limit and
    /// [`DataError::MessageTooLarge`] when it would not fit in one message.
    pub fn seal_chat(&mut self, text: &str) -> Result<Vec<u8>, DataError> {
        if text.len() > self.limits.max_chat_len {
            return Err(DataError::ChatTooLong {
                len: text.len(),
                limit: self.limits.max_chat_len,
            });
        }
        self.seal(MessageType::Chat, text.as_bytes())
    }

    /// Offers a file: returns the sealed offer message and the [`FileSend`] whose chunks
    /// [`seal_next_chunk`](Self::seal_next_chunk) seals. Chunks are as large as the
    /// [`send_limit`](Self::send_limit) allows.
    pub fn offer_file(
        &mut self,
        name: &str,
        mime: &str,
        data: Bytes,
    ) -> Result<(Vec<u8>, FileSend), DataError> {
        let chunk_size = u32::try_from(super::chunk_data_len(self.send_limit))
            .map_err(|_| DataError::Limit { what: "chunk size" })?;
        self.offer_file_with_chunk_size(name, mime, data, chunk_size)
    }

    /// Like [`offer_file`](Self::offer_file) with an explicit chunk size (1 up to what
    /// fits in the [`send_limit`](Self::send_limit)).
    pub fn offer_file_with_chunk_size(
        &mut self,
        name: &str,
        mime: &str,
        data: Bytes,
        chunk_size: u32,
    ) -> Result<(Vec<u8>, FileSend), DataError> {
        if chunk_size == 0 || chunk_size as usize > super::chunk_data_len(self.send_limit) {
            return Err(DataError::Limit {
                what: "chunk size: 1 up to what fits in one message",
            });
        }
        let offer = FileOffer {
            file_id: self.next_file_id,
            size: data.len() as u64,
            chunk_size,
            sha256: Sha256::digest(&data).into(),
            name: name.to_owned(),
            mime: mime.to_owned(),
        };
        if offer.chunk_count() > u64::from(u32::MAX) {
            return Err(DataError::Limit {
                what: "chunks per file (2^32 - 1)",
            });
        }
        let message = self.seal(MessageType::FileOffer, &offer.encode()?)?;
        self.next_file_id = self.next_file_id.wrapping_add(1);
        Ok((
            message,
            FileSend {
                offer,
                data,
                next: 0,
            },
        ))
    }

    /// Seals the next chunk of `file`, or `None` when all were sealed.
    pub fn seal_next_chunk(&mut self, file: &mut FileSend) -> Option<Result<Vec<u8>, DataError>> {
        if file.is_done() {
            return None;
        }
        let size = file.offer.chunk_size as usize;
        let start = file.next as usize * size;
        let end = (start + size).min(file.data.len());
        let data = file.data.get(start..end).unwrap_or_default();
        let body = wire::encode_chunk(file.offer.file_id, file.next, data);
        file.next += 1;
        Some(self.seal(MessageType::FileChunk, &body))
    }

    /// Seals one chunk with an explicit body, for boundary tests of receivers: `data` of
    /// any length under `file_id`/`index`.
    pub fn seal_raw_chunk(
        &mut self,
        file_id: u32,
        index: u32,
        data: &[u8],
    ) -> Result<Vec<u8>, DataError> {
        self.seal_unchecked(
            MessageType::FileChunk,
            &wire::encode_chunk(file_id, index, data),
        )
    }

    /// Opens one received message. `Ok(None)` for a chunk that did not complete its file.
    ///
    /// Checks, in order: length at most the max-message-size
    /// ([`DataError::MessageTooLarge`]), header ([`DataError::Truncated`],
    /// [`DataError::UnsupportedVersion`], [`DataError::UnknownType`]), not this endpoint's
    /// own index ([`DataError::OwnSender`]), the channel's remote index once set
    /// ([`DataError::ForeignSender`], [`Self::expect_remote`]), sequence above the sender's last
    /// ([`DataError::Replayed`]), the envelope ([`DataError::Crypto`]), then the body.
    pub fn open(&mut self, message: &[u8]) -> Result<Option<Incoming>, DataError> {
        if message.len() > self.limits.max_message_size {
            return Err(DataError::MessageTooLarge {
                len: message.len(),
                limit: self.limits.max_message_size,
            });
        }
        let (header, envelope) = Header::parse(message)?;
        if header.sender == self.ctx.sender_index {
            return Err(DataError::OwnSender(header.sender));
        }
        if let Some(remote) = self.remote
            && header.sender != remote
        {
            return Err(DataError::ForeignSender {
                sender: header.sender,
                remote,
            });
        }
        if let Some(&last) = self.last_seq.get(&header.sender)
            && header.seq <= last
        {
            return Err(DataError::Replayed {
                sender: header.sender,
                seq: header.seq,
                last,
            });
        }
        let (env_header, _) = EnvelopeHeader::parse(envelope)?;
        let opener = self
            .openers
            .iter_mut()
            .find(|(id, _)| *id == env_header.key_id)
            .map(|(_, o)| o)
            .ok_or(cai_crypto::Error::WrongKey)?;
        let item = header.item_id(&self.ctx.call);
        let ctx = item_context(&self.ctx, &item, header.kind);
        let body = opener.open(&ctx, envelope)?;
        // Only an authentic message moves the window.
        self.last_seq.insert(header.sender, header.seq);
        self.body(header, &body)
    }

    fn body(&mut self, header: Header, body: &[u8]) -> Result<Option<Incoming>, DataError> {
        let sender = header.sender;
        match header.kind {
            MessageType::Chat => {
                if body.len() > self.limits.max_chat_len {
                    return Err(DataError::ChatTooLong {
                        len: body.len(),
                        limit: self.limits.max_chat_len,
                    });
                }
                let text = String::from_utf8(body.to_vec()).map_err(|_| DataError::Malformed {
                    what: "chat message",
                    reason: "not UTF-8",
                })?;
                Ok(Some(Incoming::Chat { sender, text }))
            }
            MessageType::FileOffer => {
                let offer = FileOffer::decode(body)?;
                match self.files.offer(sender, offer.clone(), &self.limits)? {
                    Some((offer, data)) => Ok(Some(Incoming::File(ReceivedFile {
                        sender,
                        offer,
                        data,
                    }))),
                    None => Ok(Some(Incoming::FileOffered { sender, offer })),
                }
            }
            MessageType::FileChunk => {
                let (file_id, index, data) = wire::decode_chunk(body)?;
                Ok(self
                    .files
                    .chunk(sender, file_id, index, data)?
                    .map(|(offer, data)| {
                        Incoming::File(ReceivedFile {
                            sender,
                            offer,
                            data,
                        })
                    }))
            }
        }
    }

    /// Seals a body and checks the message fits.
    fn seal(&mut self, kind: MessageType, body: &[u8]) -> Result<Vec<u8>, DataError> {
        let len = wire::HEADER_LEN + cai_crypto::envelope::OVERHEAD + body.len();
        if len > self.send_limit {
            return Err(DataError::MessageTooLarge {
                len,
                limit: self.send_limit,
            });
        }
        self.seal_unchecked(kind, body)
    }

    fn seal_unchecked(&mut self, kind: MessageType, body: &[u8]) -> Result<Vec<u8>, DataError> {
        let header = Header {
            kind,
            sender: self.ctx.sender_index,
            seq: self.next_seq,
        };
        let item = header.item_id(&self.ctx.call);
        let ctx = item_context(&self.ctx, &item, kind);
        let mut message = header.to_bytes().to_vec();
        message.extend_from_slice(&self.sealer.seal(&ctx, body)?);
        self.next_seq += 1;
        Ok(message)
    }
}

/// The envelope context of a message: the session's ids, the item id from the call id and
/// the header, and the content kind of the message type.
fn item_context<'a>(ctx: &'a ChannelContext, item: &'a [u8], kind: MessageType) -> ItemContext<'a> {
    let content = match kind {
        MessageType::Chat => ContentKind::Message,
        MessageType::FileOffer | MessageType::FileChunk => ContentKind::File,
    };
    ItemContext::new(&ctx.tenant, &ctx.session, item, 1, content).with_mode(ctx.mode)
}
