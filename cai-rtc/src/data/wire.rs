//! The byte layout of data-channel messages (`docs/DATACHANNEL.md` §2–§4): the public
//! header, and the plaintext bodies sealed inside the envelope. Parsing is strict and
//! total: every input gives a value or a [`DataError`], never a panic.

use cai_crypto::sframe::{CALL_ID_LEN, CallId};

use super::DataError;

/// Version byte of every message.
pub const VERSION: u8 = 0x01;
/// Length of the public header: version, type, sender index (u16be), sequence (u64be).
pub const HEADER_LEN: usize = 12;
/// Prefix of the envelope item id: `"cai-dc2" ‖ call id ‖ header`.
pub const ITEM_PREFIX: &[u8] = b"cai-dc2";
/// Length of the envelope item id: prefix (7), call id (16), header (12).
pub const ITEM_ID_LEN: usize = 7 + CALL_ID_LEN + HEADER_LEN;
/// Length of the fixed part of a file-chunk body: file id (u32be), chunk index (u32be).
pub const CHUNK_HEADER_LEN: usize = 8;
/// Length of the fixed part of a file-offer body before the name.
pub const OFFER_FIXED_LEN: usize = 4 + 8 + 4 + 32 + 2;
/// Longest file name (bytes of UTF-8).
pub const MAX_NAME_LEN: usize = 255;
/// Longest media type (bytes of ASCII).
pub const MAX_MIME_LEN: usize = 127;

/// The message types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// A chat message: the body is UTF-8 text.
    Chat,
    /// A file offer: name, type, size, chunk size and SHA-256 of the file.
    FileOffer,
    /// One chunk of an offered file.
    FileChunk,
}

impl MessageType {
    /// The wire code.
    pub const fn code(self) -> u8 {
        match self {
            MessageType::Chat => 0x01,
            MessageType::FileOffer => 0x02,
            MessageType::FileChunk => 0x03,
        }
    }

    /// The type of wire code `code`.
    pub fn from_code(code: u8) -> Result<Self, DataError> {
        match code {
            0x01 => Ok(MessageType::Chat),
            0x02 => Ok(MessageType::FileOffer),
            0x03 => Ok(MessageType::FileChunk),
            other => Err(DataError::UnknownType(other)),
        }
    }
}

/// The public header of a message. Not secret, but bound into the envelope (item id), so
/// altering it makes the message fail to open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The message type.
    pub kind: MessageType,
    /// The sender's roster index.
    pub sender: u16,
    /// The sender's message sequence number on this channel, from 0, strictly increasing.
    pub seq: u64,
}

impl Header {
    /// The 12 header bytes.
    pub fn to_bytes(self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0] = VERSION;
        b[1] = self.kind.code();
        b[2..4].copy_from_slice(&self.sender.to_be_bytes());
        b[4..12].copy_from_slice(&self.seq.to_be_bytes());
        b
    }

    /// Splits a message into its header and the envelope after it.
    pub fn parse(message: &[u8]) -> Result<(Self, &[u8]), DataError> {
        let mut r = Reader::new(message, "message header");
        if message.len() < HEADER_LEN {
            return Err(r.truncated(HEADER_LEN));
        }
        let version = r.u8()?;
        if version != VERSION {
            return Err(DataError::UnsupportedVersion(version));
        }
        let kind = MessageType::from_code(r.u8()?)?;
        let sender = u16::from_be_bytes(r.array()?);
        let seq = u64::from_be_bytes(r.array()?);
        Ok((Self { kind, sender, seq }, r.rest()))
    }

    /// The envelope item id of this header in the call instance `call`
    /// (`admitted.call`): `"cai-dc2" ‖ call id ‖ header bytes` ([`ITEM_ID_LEN`] = 35
    /// bytes). The call id keeps a message recorded in one call from opening in another,
    /// where the same sender index and sequence number come again.
    pub fn item_id(self, call: &CallId) -> [u8; ITEM_ID_LEN] {
        let mut id = [0u8; ITEM_ID_LEN];
        let (prefix, rest) = id.split_at_mut(ITEM_PREFIX.len());
        let (call_part, header) = rest.split_at_mut(CALL_ID_LEN);
        prefix.copy_from_slice(ITEM_PREFIX);
        call_part.copy_from_slice(call.as_bytes());
        header.copy_from_slice(&self.to_bytes());
        id
    }
}

/// A file offer's body. `Debug` leaves out the name and media type (content, not for
/// logs).
#[derive(Clone, PartialEq, Eq)]
pub struct FileOffer {
    /// The sender's id for this file, unique per sender and channel.
    pub file_id: u32,
    /// Size of the file in bytes.
    pub size: u64,
    /// Bytes per chunk (every chunk but the last is exactly this long).
    pub chunk_size: u32,
    /// SHA-256 of the whole file.
    pub sha256: [u8; 32],
    /// The file name (UTF-8, at most [`MAX_NAME_LEN`] bytes, no `/`, `\` or control
    /// characters).
    pub name: String,
    /// The media type (printable ASCII, at most [`MAX_MIME_LEN`] bytes), possibly empty.
    pub mime: String,
}

impl core::fmt::Debug for FileOffer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FileOffer")
            .field("file_id", &self.file_id)
            .field("size", &self.size)
            .field("chunk_size", &self.chunk_size)
            .finish_non_exhaustive()
    }
}

impl FileOffer {
    /// Number of chunks: `ceil(size / chunk_size)`, 0 for an empty file.
    pub fn chunk_count(&self) -> u64 {
        self.size.div_ceil(u64::from(self.chunk_size.max(1)))
    }

    /// Encodes the body.
    pub fn encode(&self) -> Result<Vec<u8>, DataError> {
        check_name(&self.name)?;
        check_mime(&self.mime)?;
        let mut b = Vec::with_capacity(OFFER_FIXED_LEN + self.name.len() + 1 + self.mime.len());
        b.extend_from_slice(&self.file_id.to_be_bytes());
        b.extend_from_slice(&self.size.to_be_bytes());
        b.extend_from_slice(&self.chunk_size.to_be_bytes());
        b.extend_from_slice(&self.sha256);
        // Lengths are checked above, so they fit.
        b.extend_from_slice(&(self.name.len() as u16).to_be_bytes());
        b.extend_from_slice(self.name.as_bytes());
        b.push(self.mime.len() as u8);
        b.extend_from_slice(self.mime.as_bytes());
        Ok(b)
    }

    /// Decodes a body; rejects trailing bytes, bad names and a zero chunk size.
    pub fn decode(body: &[u8]) -> Result<Self, DataError> {
        let mut r = Reader::new(body, "file offer");
        let file_id = u32::from_be_bytes(r.array()?);
        let size = u64::from_be_bytes(r.array()?);
        let chunk_size = u32::from_be_bytes(r.array()?);
        let sha256: [u8; 32] = r.array()?;
        let name_len = usize::from(u16::from_be_bytes(r.array()?));
        let name = r.take(name_len)?;
        let mime_len = usize::from(r.u8()?);
        let mime = r.take(mime_len)?;
        if !r.rest().is_empty() {
            return Err(malformed("file offer", "trailing bytes"));
        }
        if chunk_size == 0 {
            return Err(malformed("file offer", "chunk size 0"));
        }
        let name =
            String::from_utf8(name.to_vec()).map_err(|_| malformed("file name", "not UTF-8"))?;
        let mime =
            String::from_utf8(mime.to_vec()).map_err(|_| malformed("media type", "not ASCII"))?;
        check_name(&name)?;
        check_mime(&mime)?;
        Ok(Self {
            file_id,
            size,
            chunk_size,
            sha256,
            name,
            mime,
        })
    }
}

/// Encodes a chunk body: `file_id u32be ‖ index u32be ‖ data`.
pub fn encode_chunk(file_id: u32, index: u32, data: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(CHUNK_HEADER_LEN + data.len());
    b.extend_from_slice(&file_id.to_be_bytes());
    b.extend_from_slice(&index.to_be_bytes());
    b.extend_from_slice(data);
    b
}

/// Decodes a chunk body into file id, index and data.
pub fn decode_chunk(body: &[u8]) -> Result<(u32, u32, &[u8]), DataError> {
    let mut r = Reader::new(body, "file chunk");
    let file_id = u32::from_be_bytes(r.array()?);
    let index = u32::from_be_bytes(r.array()?);
    Ok((file_id, index, r.rest()))
}

fn check_name(name: &str) -> Result<(), DataError> {
    let reason = if name.is_empty() {
        "empty"
    } else if name.len() > MAX_NAME_LEN {
        "longer than 255 bytes"
    } else if name
        .chars()
        .any(|c| c.is_control() || c == '/' || c == '\\')
    {
        "contains a path separator or control character"
    } else if name == "." || name == ".." {
        "a relative path"
    } else {
        return Ok(());
    };
    Err(malformed("file name", reason))
}

fn check_mime(mime: &str) -> Result<(), DataError> {
    if mime.len() > MAX_MIME_LEN {
        return Err(malformed("media type", "longer than 127 bytes"));
    }
    if !mime.bytes().all(|b| (0x21..0x7f).contains(&b)) {
        return Err(malformed("media type", "not printable ASCII"));
    }
    Ok(())
}

fn malformed(what: &'static str, reason: &'static str) -> DataError {
    DataError::Malformed { what, reason }
}

/// A cursor over untrusted bytes: every read is checked.
struct Reader<'a> {
    rest: &'a [u8],
    total: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8], what: &'static str) -> Self {
        Self {
            rest: bytes,
            total: bytes.len(),
            what,
        }
    }

    fn truncated(&self, needed: usize) -> DataError {
        DataError::Truncated {
            what: self.what,
            needed,
            got: self.total,
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DataError> {
        if self.rest.len() < n {
            return Err(self.truncated(self.total - self.rest.len() + n));
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DataError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn u8(&mut self) -> Result<u8, DataError> {
        Ok(self.array::<1>()?[0])
    }

    fn rest(&self) -> &'a [u8] {
        self.rest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer() -> FileOffer {
        FileOffer {
            file_id: 7,
            size: 1000,
            chunk_size: 300,
            sha256: [3; 32],
            name: "notes.pdf".into(),
            mime: "application/pdf".into(),
        }
    }

    #[test]
    fn header_round_trip() {
        let h = Header {
            kind: MessageType::FileChunk,
            sender: 0x0102,
            seq: 0x0304_0506_0708_090a,
        };
        let mut m = h.to_bytes().to_vec();
        m.extend_from_slice(b"env");
        assert_eq!(Header::parse(&m).unwrap(), (h, &b"env"[..]));
        let call = CallId::from_bytes([0xca; CALL_ID_LEN]);
        let item = h.item_id(&call);
        assert_eq!(&item[..7], ITEM_PREFIX);
        assert_eq!(&item[7..23], call.as_bytes());
        assert_eq!(&item[23..], &h.to_bytes());
        assert!(matches!(
            Header::parse(&m[..11]),
            Err(DataError::Truncated { .. })
        ));
        m[0] = 2;
        assert!(matches!(
            Header::parse(&m),
            Err(DataError::UnsupportedVersion(2))
        ));
        m[0] = 1;
        m[1] = 9;
        assert!(matches!(Header::parse(&m), Err(DataError::UnknownType(9))));
    }

    #[test]
    fn offer_round_trip_and_rejects() {
        let o = offer();
        let b = o.encode().unwrap();
        assert_eq!(FileOffer::decode(&b).unwrap(), o);
        assert_eq!(o.chunk_count(), 4);
        for cut in 0..b.len() {
            assert!(FileOffer::decode(&b[..cut]).is_err());
        }
        let mut long = b.clone();
        long.push(0);
        assert!(FileOffer::decode(&long).is_err());
        for bad in ["", "../x", "a/b", "a\\b", "a\nb", ".."] {
            let o = FileOffer {
                name: bad.into(),
                ..offer()
            };
            assert!(o.encode().is_err(), "{bad:?}");
        }
        let zero = FileOffer {
            chunk_size: 0,
            ..offer()
        };
        let mut b = zero.encode().unwrap();
        assert!(FileOffer::decode(&b).is_err());
        b[12..16].copy_from_slice(&1u32.to_be_bytes());
        assert!(FileOffer::decode(&b).is_ok());
    }

    #[test]
    fn chunk_round_trip() {
        let b = encode_chunk(1, 2, b"abc");
        assert_eq!(decode_chunk(&b).unwrap(), (1, 2, &b"abc"[..]));
        assert!(decode_chunk(&b[..7]).is_err());
    }
}
