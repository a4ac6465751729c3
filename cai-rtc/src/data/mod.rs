//! The data-channel protocol of a call: chat messages and files, every message a
//! `cai-crypto` envelope sealed with the session's data key, so a TURN relay, an SFU or
//! the signaling server sees ciphertext only. `docs/DATACHANNEL.md` specifies the bytes
//! for browser implementations.
//!
//! A message is `header (12 bytes) ‖ envelope v1`. The header — version, type, sender
//! index, sequence number — is public but bound into the envelope as its item id, with
//! the call instance's id ([`ChannelContext::call`]), so it cannot be altered and a
//! message of one call never opens in another. Files are offered (name, type, size, chunk size, SHA-256), then sent
//! in chunks sized to the negotiated max-message-size (at most [`MAX_MESSAGE_SIZE_CAP`]);
//! the receiver reassembles them under explicit limits ([`DataLimits`]) and checks the
//! hash.
//!
//! [`SealedChannel`] is the transport-free state machine: it turns chat and files into
//! messages and messages into [`Incoming`] values or typed [`DataError`]s. The
//! [`peer`](crate::peer) module carries its messages over a WebRTC data channel.

mod channel;
mod reassembly;
pub mod wire;

pub use channel::{ChannelContext, FileSend, Incoming, ReceivedFile, SealedChannel};

/// The largest data-channel message this crate sends or accepts: browsers accept about
/// 256 KiB, whatever larger value they advertise.
pub const MAX_MESSAGE_SIZE_CAP: usize = 256 * 1024;
/// The smallest max-message-size this crate works with: below it a chunk would carry
/// too little data to be worth its envelope.
pub const MIN_MESSAGE_SIZE: usize = 1024;
/// Default longest chat message (bytes of UTF-8).
pub const DEFAULT_MAX_CHAT_LEN: usize = 64 * 1024;
/// Default largest file received.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 64 * 1024 * 1024;
/// Default number of files a receiver reassembles at the same time (per channel).
pub const DEFAULT_MAX_FILES_IN_FLIGHT: usize = 4;

/// What a receiver accepts. Messages over [`max_message_size`](Self::max_message_size)
/// and files over [`max_file_size`](Self::max_file_size) are refused before any
/// decryption or allocation. (What this endpoint *sends* is sized by the remote's limit,
/// [`SealedChannel::set_send_limit`].)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataLimits {
    /// The largest message accepted, in bytes (this endpoint advertises
    /// [`MAX_MESSAGE_SIZE_CAP`]); also the size of sent messages until
    /// [`SealedChannel::set_send_limit`] sets the remote's.
    pub max_message_size: usize,
    /// The longest chat message, in bytes.
    pub max_chat_len: usize,
    /// The largest file, in bytes.
    pub max_file_size: u64,
    /// How many files may be reassembled at once; a further offer is refused.
    pub max_files_in_flight: usize,
}

impl Default for DataLimits {
    fn default() -> Self {
        Self {
            max_message_size: MAX_MESSAGE_SIZE_CAP,
            max_chat_len: DEFAULT_MAX_CHAT_LEN,
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            max_files_in_flight: DEFAULT_MAX_FILES_IN_FLIGHT,
        }
    }
}

impl DataLimits {
    /// Bytes of file data per chunk message of at most
    /// [`max_message_size`](Self::max_message_size) bytes.
    pub fn chunk_data_len(&self) -> usize {
        chunk_data_len(self.max_message_size)
    }
}

/// Bytes of file data per chunk in a message of at most `message_size` bytes: the size
/// minus the header, the envelope overhead and the chunk header.
pub fn chunk_data_len(message_size: usize) -> usize {
    message_size
        .saturating_sub(wire::HEADER_LEN + cai_crypto::envelope::OVERHEAD + wire::CHUNK_HEADER_LEN)
        .max(1)
}

/// The size of messages to send: the remote's advertised max-message-size (what the
/// transport negotiated), capped at [`MAX_MESSAGE_SIZE_CAP`]. Fails with
/// [`DataError::Limit`] below [`MIN_MESSAGE_SIZE`].
pub fn send_message_size(negotiated: usize) -> Result<usize, DataError> {
    let size = negotiated.min(MAX_MESSAGE_SIZE_CAP);
    if size < MIN_MESSAGE_SIZE {
        return Err(DataError::Limit {
            what: "negotiated max-message-size (at least 1024 bytes)",
        });
    }
    Ok(size)
}

/// Why a data-channel operation or an incoming message failed. Never carries plaintext
/// or key material. Every variant about incoming data means the message was dropped (and
/// for file errors, the partial file with it); the channel stays usable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// A message is longer than the max-message-size.
    #[error("data-channel message of {len} bytes exceeds the limit of {limit}")]
    MessageTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// A message or body ended early.
    #[error("{what} truncated: needed {needed} bytes, got {got}")]
    Truncated {
        /// Which structure.
        what: &'static str,
        /// Bytes needed.
        needed: usize,
        /// Bytes present.
        got: usize,
    },
    /// A structure breaks a rule of the format.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// Which structure.
        what: &'static str,
        /// Which rule.
        reason: &'static str,
    },
    /// The version byte is not 0x01.
    #[error("unsupported data-channel message version {0:#04x}")]
    UnsupportedVersion(u8),
    /// The type byte names no message type.
    #[error("unknown data-channel message type {0:#04x}")]
    UnknownType(u8),
    /// A sequence number not above the sender's last one: a replayed or reordered message.
    #[error("message {seq} of sender {sender} replayed or reordered (last was {last})")]
    Replayed {
        /// The sender index.
        sender: u16,
        /// The message's sequence number.
        seq: u64,
        /// The last accepted one.
        last: u64,
    },
    /// The message claims to come from this endpoint's own sender index.
    #[error("message claims this endpoint's own sender index {0}")]
    OwnSender(u16),
    /// The message claims another sender than the one at the other end of this channel
    /// (every participant holds the sealing key, so the index is checked, not trusted).
    #[error("message claims sender {sender}, but this channel's remote is {remote}")]
    ForeignSender {
        /// The index the message claims.
        sender: u16,
        /// The index of the channel's remote participant.
        remote: u16,
    },
    /// The envelope did not open (wrong or unknown key, tampering, another session).
    #[error("sealed message rejected: {0}")]
    Crypto(#[from] cai_crypto::Error),
    /// A chat message longer than the limit.
    #[error("chat message of {len} bytes exceeds the limit of {limit}")]
    ChatTooLong {
        /// Its length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// A file larger than the limit.
    #[error("file of {size} bytes exceeds the limit of {limit}")]
    FileTooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// An offer while the maximum number of files is already being received.
    #[error("too many files in flight (limit {limit})")]
    TooManyFiles {
        /// The limit.
        limit: usize,
    },
    /// An offer for a file id that is already being received.
    #[error("file {file_id} of sender {sender} offered twice")]
    DuplicateOffer {
        /// The sender.
        sender: u16,
        /// The file id.
        file_id: u32,
    },
    /// A chunk for a file that was not offered (or was already completed or dropped).
    #[error("chunk for unknown file {file_id} of sender {sender}")]
    UnknownFile {
        /// The sender.
        sender: u16,
        /// The file id.
        file_id: u32,
    },
    /// A chunk whose index was already received.
    #[error("duplicate chunk {index} of file {file_id} (expected {expected})")]
    DuplicateChunk {
        /// The file id.
        file_id: u32,
        /// The chunk's index.
        index: u32,
        /// The index expected next.
        expected: u32,
    },
    /// A chunk ahead of the next expected one (chunks arrive in order on the channel).
    #[error("out-of-order chunk {index} of file {file_id} (expected {expected})")]
    OutOfOrderChunk {
        /// The file id.
        file_id: u32,
        /// The chunk's index.
        index: u32,
        /// The index expected next.
        expected: u32,
    },
    /// A chunk of the wrong length (every chunk but the last is exactly `chunk_size`).
    #[error("chunk {index} of file {file_id} has {len} bytes, expected {expected}")]
    ChunkLength {
        /// The file id.
        file_id: u32,
        /// The chunk's index.
        index: u32,
        /// Its length.
        len: usize,
        /// The expected length.
        expected: usize,
    },
    /// The reassembled file's SHA-256 is not the offered one.
    #[error("file {file_id} does not match its offered SHA-256")]
    HashMismatch {
        /// The file id.
        file_id: u32,
    },
    /// A value outside what this implementation supports.
    #[error("limit exceeded: {what}")]
    Limit {
        /// Which limit.
        what: &'static str,
    },
}
