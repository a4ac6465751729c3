//! End-to-end mode on MLS: the scenarios of issue 9, each against a real openmls group
//! and the Delivery Service checks.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod rogue;
mod world;

mod basics;
mod ds;
mod fork;
mod history;
mod impersonation;
mod inputs;
mod props;
mod removal;
mod state;
mod trust;
