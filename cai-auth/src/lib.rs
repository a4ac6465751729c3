//! # cai-auth
//!
//! Authentication for the cai SDK — **not yet implemented; this crate exposes nothing
//! yet.**
//!
//! It will hold password hashing (Argon2id with a pepper) and policy, lockout, TOTP and
//! e-mail second factors, self-service recovery, four-eyes resets for counsellors and
//! admins, session tokens and guest admission with pseudonym and invitation secret.
