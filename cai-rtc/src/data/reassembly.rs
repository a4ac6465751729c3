//! Reassembly of incoming files: one partial file per (sender, file id), chunks strictly
//! in order, sizes checked against the offer, SHA-256 checked at the end. Any error
//! drops the partial file, so a peer cannot keep memory pinned with a broken transfer.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use super::wire::FileOffer;
use super::{DataError, DataLimits};

/// A file in reassembly.
struct Partial {
    offer: FileOffer,
    data: Vec<u8>,
    next: u32,
    hasher: Sha256,
}

/// The files being received on one channel.
#[derive(Default)]
pub(crate) struct Reassembly {
    files: HashMap<(u16, u32), Partial>,
}

impl Reassembly {
    /// Starts a file; returns it at once when it is empty (and its hash matches).
    pub(crate) fn offer(
        &mut self,
        sender: u16,
        offer: FileOffer,
        limits: &DataLimits,
    ) -> Result<Option<(FileOffer, Vec<u8>)>, DataError> {
        if offer.size > limits.max_file_size {
            return Err(DataError::FileTooLarge {
                size: offer.size,
                limit: limits.max_file_size,
            });
        }
        if offer.chunk_size as usize > limits.chunk_data_len() {
            return Err(DataError::Malformed {
                what: "file offer",
                reason: "chunk size above what fits in one message",
            });
        }
        if offer.chunk_count() > u64::from(u32::MAX) {
            return Err(DataError::Limit {
                what: "chunks per file (2^32 - 1)",
            });
        }
        let key = (sender, offer.file_id);
        if self.files.contains_key(&key) {
            return Err(DataError::DuplicateOffer {
                sender,
                file_id: offer.file_id,
            });
        }
        if self.files.len() >= limits.max_files_in_flight {
            return Err(DataError::TooManyFiles {
                limit: limits.max_files_in_flight,
            });
        }
        let partial = Partial {
            // Grows as authentic chunks arrive: an offer alone (a few bytes) must not
            // make the receiver reserve the whole announced size.
            data: Vec::new(),
            offer,
            next: 0,
            hasher: Sha256::new(),
        };
        if partial.offer.size == 0 {
            return finish(partial).map(Some);
        }
        self.files.insert(key, partial);
        Ok(None)
    }

    /// Adds a chunk; returns the file when it was the last one.
    pub(crate) fn chunk(
        &mut self,
        sender: u16,
        file_id: u32,
        index: u32,
        data: &[u8],
    ) -> Result<Option<(FileOffer, Vec<u8>)>, DataError> {
        let key = (sender, file_id);
        let partial = self
            .files
            .get_mut(&key)
            .ok_or(DataError::UnknownFile { sender, file_id })?;
        if let Err(e) = check_chunk(partial, file_id, index, data.len()) {
            self.files.remove(&key);
            return Err(e);
        }
        partial.data.extend_from_slice(data);
        partial.hasher.update(data);
        partial.next += 1;
        if u64::from(partial.next) < partial.offer.chunk_count() {
            return Ok(None);
        }
        match self.files.remove(&key) {
            Some(done) => finish(done).map(Some),
            None => Err(DataError::UnknownFile { sender, file_id }),
        }
    }

    /// Number of files in reassembly.
    pub(crate) fn in_flight(&self) -> usize {
        self.files.len()
    }
}

fn check_chunk(partial: &Partial, file_id: u32, index: u32, len: usize) -> Result<(), DataError> {
    let expected_index = partial.next;
    if index < expected_index {
        return Err(DataError::DuplicateChunk {
            file_id,
            index,
            expected: expected_index,
        });
    }
    if index > expected_index {
        return Err(DataError::OutOfOrderChunk {
            file_id,
            index,
            expected: expected_index,
        });
    }
    let offer = &partial.offer;
    let done = u64::from(index) * u64::from(offer.chunk_size);
    let expected = (offer.size - done).min(u64::from(offer.chunk_size)) as usize;
    if len != expected {
        return Err(DataError::ChunkLength {
            file_id,
            index,
            len,
            expected,
        });
    }
    Ok(())
}

fn finish(partial: Partial) -> Result<(FileOffer, Vec<u8>), DataError> {
    let digest: [u8; 32] = partial.hasher.finalize().into();
    // Not secret: both hashes are public to the receiver; no constant-time need.
    if digest != partial.offer.sha256 {
        return Err(DataError::HashMismatch {
            file_id: partial.offer.file_id,
        });
    }
    Ok((partial.offer, partial.data))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer_for(data: &[u8], chunk_size: u32) -> FileOffer {
        FileOffer {
            file_id: 1,
            size: data.len() as u64,
            chunk_size,
            sha256: Sha256::digest(data).into(),
            name: "f".into(),
            mime: String::new(),
        }
    }

    #[test]
    fn in_order_chunks_complete_the_file() {
        let data: Vec<u8> = (0..250u8).collect();
        let limits = DataLimits::default();
        let mut r = Reassembly::default();
        assert!(
            r.offer(2, offer_for(&data, 100), &limits)
                .unwrap()
                .is_none()
        );
        assert!(r.chunk(2, 1, 0, &data[..100]).unwrap().is_none());
        assert!(matches!(
            r.chunk(2, 1, 0, &data[..100]),
            Err(DataError::DuplicateChunk { .. })
        ));
        // The duplicate dropped the file.
        assert_eq!(r.in_flight(), 0);
        assert!(
            r.offer(2, offer_for(&data, 100), &limits)
                .unwrap()
                .is_none()
        );
        assert!(matches!(
            r.chunk(2, 1, 1, &data[100..200]),
            Err(DataError::OutOfOrderChunk { .. })
        ));
        assert!(
            r.offer(2, offer_for(&data, 100), &limits)
                .unwrap()
                .is_none()
        );
        r.chunk(2, 1, 0, &data[..100]).unwrap();
        r.chunk(2, 1, 1, &data[100..200]).unwrap();
        assert!(matches!(
            r.chunk(2, 1, 2, &data[200..249]),
            Err(DataError::ChunkLength { .. })
        ));
        assert!(
            r.offer(2, offer_for(&data, 100), &limits)
                .unwrap()
                .is_none()
        );
        r.chunk(2, 1, 0, &data[..100]).unwrap();
        r.chunk(2, 1, 1, &data[100..200]).unwrap();
        let (offer, got) = r.chunk(2, 1, 2, &data[200..]).unwrap().unwrap();
        assert_eq!(got, data);
        assert_eq!(offer.size, 250);
    }

    #[test]
    fn hash_size_and_count_limits() {
        let data = vec![5u8; 10];
        let limits = DataLimits {
            max_file_size: 10,
            max_files_in_flight: 1,
            ..DataLimits::default()
        };
        let mut r = Reassembly::default();
        let mut bad = offer_for(&data, 10);
        bad.sha256[0] ^= 1;
        r.offer(0, bad, &limits).unwrap();
        assert!(matches!(
            r.offer(0, offer_for(&data, 10), &limits),
            Err(DataError::DuplicateOffer { .. })
        ));
        let mut other = offer_for(&data, 10);
        other.file_id = 2;
        assert!(matches!(
            r.offer(0, other, &limits),
            Err(DataError::TooManyFiles { limit: 1 })
        ));
        assert!(matches!(
            r.chunk(0, 1, 0, &data),
            Err(DataError::HashMismatch { file_id: 1 })
        ));
        let big = offer_for(&[0u8; 11], 11);
        assert!(matches!(
            r.offer(0, big, &limits),
            Err(DataError::FileTooLarge {
                size: 11,
                limit: 10
            })
        ));
        let (_, empty) = r.offer(0, offer_for(b"", 10), &limits).unwrap().unwrap();
        assert!(empty.is_empty());
        assert!(matches!(
            r.chunk(0, 9, 0, b"x"),
            Err(DataError::UnknownFile { .. })
        ));
    }
}
