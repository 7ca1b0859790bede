//! The demo, left out: a build without the `demo` feature (the production
//! worker) holds no demo patient, user or signing key. The same names as
//! the demo build's, answering as if there were nothing to show; the worker
//! refuses to serve at all when asked to run the demo.

use serde_json::Value;
use tiergate_core::{ConsentDirective, Policy};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DemoError {
    #[error("this build has no demo")]
    Absent,
}

pub use crate::demo_people::{Patient, User};

/// No demo: no patients, users, grants or key.
#[derive(Debug, Clone, Default)]
pub struct Demo {
    pub days: i64,
    pub patients: Vec<Patient>,
    pub users: Vec<User>,
    pub citizens: Vec<User>,
    pub grants: Vec<crate::proxy::Grant>,
    pub kid: String,
    pub issuer: String,
}

impl Demo {
    pub fn at(_policy: &Policy, _now: time::OffsetDateTime) -> Result<Self, DemoError> {
        Ok(Self::default())
    }

    pub fn as_written(_policy: &Policy) -> Result<Self, DemoError> {
        Ok(Self::default())
    }

    /// An empty key set: no token verifies against it.
    pub fn jwks(&self) -> crate::jwt::Jwks {
        crate::jwt::Jwks::default()
    }

    pub fn token(&self, _user: &str, _audience: &str, _now: i64) -> Option<String> {
        None
    }

    pub fn consent(&self, _patient: &str) -> &[ConsentDirective] {
        &[]
    }

    pub fn respond(&self, _upstream: &str) -> (u16, Vec<u8>) {
        (404, tiergate_core::not_found_body())
    }

    pub fn respond_with(&self, _upstream: &str, _writes: &[Value]) -> (u16, Vec<u8>) {
        (404, tiergate_core::not_found_body())
    }
}
