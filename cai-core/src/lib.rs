//! cai-core
