//! # cai-core
//!
//! The counselling domain of the cai SDK.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod authz;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod domain;
mod error;
pub mod id;
pub mod memory;
pub mod ports;
pub mod service;
mod time;

pub use error::{Error, Result};
pub use service::{Caller, Counselling, Ports, ServiceConfig};
pub use time::{Timestamp, days, hours, minutes};
