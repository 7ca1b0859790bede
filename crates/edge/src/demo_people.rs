//! The demo's patients and users, as both the demo build and the build
//! without it (`demo_off.rs`) name them.

use serde_json::Value;
use tiergate_core::{ConsentDirective, Viewer};

/// One demo patient.
#[derive(Debug, Clone)]
pub struct Patient {
    pub key: String,
    pub id: String,
    pub nhs_number: String,
    pub family: String,
    pub birth_date: String,
    pub record: Value,
    pub consent: Vec<ConsentDirective>,
}

/// A demo user for the login page.
#[derive(Debug, Clone)]
pub struct User {
    pub key: String,
    pub viewer: Viewer,
}
