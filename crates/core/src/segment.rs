//! Segments, tiers and placements (framework section 7, tables 1-4).

use serde::Serialize;

/// One of the sharing model's segments (Summary, Community, Diagnostics,
/// Hospitals in the default policy). Tiers within it are cumulative.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Segment {
    pub id: String,
    pub letter: String,
    pub name: String,
    pub tiers: u8,
}

/// Where an entry sits: a segment (by index in the policy) and a tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Placement {
    pub segment: u8,
    pub tier: u8,
}

impl Placement {
    pub(crate) fn new(segment: usize, tier: u8) -> Self {
        Self {
            segment: u8::try_from(segment).unwrap_or(u8::MAX),
            tier,
        }
    }
}
