//! # cai-core
//!
//! The counselling domain of the cai SDK — **not yet implemented; this crate exposes
//! nothing yet.**
//!
//! It will hold tenants, accounts, guests with pseudonyms, roles, groups, sessions,
//! invitations, encryption modes as session settings, retention policies and audit
//! events; the deny-by-default authorization engine; the ports (async traits) that every
//! storage, key-custody, clock, mail and transport backend implements, with an in-memory
//! reference implementation and a conformance test suite; and the use-case service that
//! composes them. Content is sealed with `cai-crypto` before any port sees it.
//!
//! Until that lands, use `cai-crypto` directly.
