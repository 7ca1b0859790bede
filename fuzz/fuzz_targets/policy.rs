//! The policy loader: any bytes give a policy or a list of problems, never a
//! panic; a policy that compiles has a stable hash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tiergate_core::Policy;

fuzz_target!(|data: &[u8]| {
    match Policy::from_json(data) {
        Ok(p) => {
            let again = Policy::from_json(data).expect("compiles twice");
            assert_eq!(p.hash(), again.hash());
        }
        Err(e) => assert!(!e.problems.is_empty()),
    }
});
