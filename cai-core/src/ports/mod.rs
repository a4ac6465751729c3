//! Ports.
/// A storage error.
#[derive(Debug, Clone, thiserror::Error)]
#[error("store")]
pub struct StoreError;
