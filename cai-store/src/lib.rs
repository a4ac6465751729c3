//! cai-store
