//! Blob stores (file bodies, R-S4): [`FolderBlobStore`], the default, and with the `s3`
//! feature `S3BlobStore` on S3-compatible object storage. Both implement cai-core's
//! [`BlobStore`](cai_core::ports::BlobStore) port and pass its conformance suite.

mod folder;
#[cfg(feature = "s3")]
mod s3;

pub use folder::FolderBlobStore;
#[cfg(feature = "s3")]
pub use s3::{DEFAULT_PART_LEN, MIN_PART_LEN, S3BlobStore};
