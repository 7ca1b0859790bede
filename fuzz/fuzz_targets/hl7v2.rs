//! The HL7 v2 parser: a message that parses writes back to one that parses
//! to the same thing, and redaction keeps it a message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tiergate_core::hl7v2::Message;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Message::parse(data) {
        let written = m.write();
        assert_eq!(Message::parse(&written).expect("written message parses"), m);
    }
});
