//! Passwords (R-A1, R-A2): peppered Argon2id hashes in PHC format, the tenant's policy
//! with every broken rule reported, and the shipped list of common passwords.

mod common;
mod hash;
mod policy;

pub use common::{common_password_count, is_common_password};
pub use hash::{HashParams, MAX_PASSWORD_BYTES, SPARE_BLOCKS, hash_password, verify_password};
pub use policy::{MIN_PERSONAL_PIECE, PasswordContext, PolicyViolation, evaluate_policy};
