//! The consent parser (compact and FHIR forms): any bytes give directives or
//! an error, never a panic; directives that parse compile.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tiergate_core::ConsentSet;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    if let Ok(set) = ConsentSet::from_json(data, common::policy()) {
        set.compile(common::policy()).expect("parsed directives compile");
    }
});
