//! # tiergate-edge
//!
//! Everything the edge worker decides, as plain Rust with no wasm or JS
//! dependency, so it is tested natively: which requests are served and
//! for which patient ([`route`]), whether a bearer token verifies
//! ([`jwt`]) and which viewer it describes ([`claims`]), what a record
//! returned by the origin must look like before it is redacted
//! ([`context`]), patient finding ([`find`]), consent directives recorded
//! at the edge ([`directive`]), break glass ([`breakglass`]), individual
//! approvals ([`approval`]), audit events
//! ([`audit`]), refusals ([`outcome`]) and the built-in demo ([`demo`]).
//!
//! The worker crate (`worker/`) only does I/O around these functions and
//! calls `tiergate-core` to decide and redact.

#![forbid(unsafe_code)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod access;
pub mod approval;
pub mod audit;
pub mod booking;
pub mod breakglass;
pub mod cases;
pub mod claims;
pub mod context;
#[cfg(feature = "demo")]
pub mod demo;
#[cfg(not(feature = "demo"))]
#[path = "demo_off.rs"]
pub mod demo;
mod demo_people;
pub mod directive;
pub mod find;
pub mod jwt;
pub mod metrics;
pub mod outcome;
pub mod pipeline;
pub mod proxy;
pub mod relation;
pub mod route;

pub use outcome::Refusal;
