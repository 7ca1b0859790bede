//! The built-in demo.
pub fn run(_now: time::OffsetDateTime) -> Result<String, String> {
    Err("demo data not built yet".into())
}
