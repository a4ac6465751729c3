//! The storage conformance suite against [`MemoryStore`], the reference backend.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
#![allow(clippy::indexing_slicing)]

use std::sync::Arc;

use cai_core::memory::MemoryStore;
use cai_core::ports::DynStore;

cai_core::store_conformance_tests!(async { Arc::new(MemoryStore::new()) as DynStore });

cai_core::blob_conformance_tests!(async {
    Arc::new(cai_core::memory::MemoryBlobStore::new()) as cai_core::ports::DynBlobStore
});
