//! # tiergate-core
//!
//! Decides, for one viewer and one patient record, which entries may be
//! shared across organisational boundaries under an information sharing
//! framework, and redacts the record to exactly those entries.
//!
//! The rules are data: a [`Policy`] document holds the segments and tiers,
//! the role and service profiles, classification rules, exclusion code
//! lists, consent semantics, break-glass and training rules. The default
//! policy encodes the iLINKS framework (North Mersey, 2016) as published.
//! The same crate compiles natively and to WebAssembly, so the edge, the
//! portals and the command line run identical rules.
//!
//! ## Example
//!
//! ```
//! use tiergate_core::{ConsentSet, Limits, Policy, Request, Viewer};
//!
//! // Compile once per process: profiles, code sets and automata are built here.
//! let policy = Policy::default_policy()?;
//!
//! let viewer = Viewer::from_json(br#"{
//!     "user_id": "u1", "organisation": "RVY", "profile": "6",
//!     "purpose": "direct-care", "training": {"expires": "2027-01-01"}
//! }"#)?;
//! let consent = ConsentSet::from_json(br#"{"directives": [{
//!     "id": "c1", "kind": "permit", "recorded": "2026-11-01T09:00:00Z",
//!     "actors": {"organisations": ["RVY"]},
//!     "scope": {"segments": [{"segment": "summary", "tier": 2}]}
//! }]}"#, &policy)?.compile(&policy)?;
//!
//! let record = br#"{"resourceType": "Bundle", "type": "searchset", "entry": [
//!   {"resource": {"resourceType": "AllergyIntolerance", "id": "a1",
//!     "meta": {"tag": [{"system": "https://fhir.tiergate.example/CodeSystem/care-setting", "code": "primary_care"}]}}},
//!   {"resource": {"resourceType": "Condition", "id": "c2",
//!     "meta": {"tag": [{"system": "https://fhir.tiergate.example/CodeSystem/care-setting", "code": "primary_care"}]},
//!     "code": {"coding": [{"system": "http://read.info/readv2", "code": "A788."}]}}}
//! ]}"#;
//!
//! let request = Request {
//!     viewer: &viewer,
//!     consent: &consent,
//!     now: time::macros::datetime!(2026-11-25 12:00 UTC),
//!     default_setting: None,
//!     holding_organisation: None,
//! };
//! let redacted = policy.redact(record, &request, Limits::default())?;
//! let body = String::from_utf8(redacted.body)?;
//! assert!(body.contains("\"a1\""));          // allergy: summary tier 2, consented
//! assert!(!body.contains("A788"));           // AIDS diagnosis: excluded for everyone
//! assert_eq!(redacted.decisions.summary.withheld_by_reason["excluded_category:hiv_aids"], 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Fail closed
//!
//! Anything not understood is withheld: an entry no rule classifies, an
//! entry with no `resource`, a consent provision with an element the engine
//! does not know, break glass without a reason. Errors carry JSON paths and
//! rule ids, never record content.

#![forbid(unsafe_code)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod audit;
pub mod canonical;
mod classify;
pub mod codes;
mod consent;
mod decide;
pub mod document;
mod error;
mod fasthash;
pub mod fhirtime;
pub mod hl7v2;
pub mod json;
pub mod leaflets;
pub mod plan;
mod policy;
mod proxy;
mod redact;
pub mod reminders;
mod segment;
mod shape;
pub mod terms;
pub mod text;
mod viewer;

pub use consent::fhir as consent_fhir;
pub use consent::{
    Actors, CompiledConsent, ConsentDirective, ConsentSet, DirectiveKind, Period, Scope,
    SegmentScope,
};
pub use decide::{
    Classification, Decisions, EntryDecision, PlacementOut, Reason, Request, Summary, Verdict,
};
pub use error::{BreakGlassError, ConsentError, PolicyError, Problem, RedactError, ViewerError};
#[doc(hidden)]
pub use policy::EntryDecider;
pub use policy::{Content, Policy, Profile, ProxyScope, DEFAULT_POLICY_HASH, DEFAULT_POLICY_JSON};
pub use redact::{not_found_body, parse_record, parse_tree, Limits, Outcome, Redacted};
pub use segment::{Placement, Segment};
pub use viewer::{ActiveBreakGlass, Approval, BreakGlass, Training, Viewer};
