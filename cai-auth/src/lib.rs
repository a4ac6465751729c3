//! cai-auth
