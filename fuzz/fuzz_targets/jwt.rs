//! The token and claims path. Any bytes as a bearer token: never a panic,
//! and anything that verifies meets every expectation. A genuine token with
//! one byte changed never verifies.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tiergate_edge::demo::Demo;
use tiergate_edge::jwt::{verify, Expectations, Jwks};

#[path = "common.rs"]
mod common;

const NOW: i64 = 1_795_000_000;

fn setup() -> &'static (Demo, Jwks, String) {
    static S: OnceLock<(Demo, Jwks, String)> = OnceLock::new();
    S.get_or_init(|| {
        let demo = Demo::as_written(common::policy()).unwrap();
        let jwks = demo.jwks();
        let token = demo.token("gp-1b", "tiergate", NOW).or_else(|| {
            let first = demo.users.first().map(|u| u.key.clone()).unwrap();
            demo.token(&first, "tiergate", NOW)
        }).unwrap();
        (demo, jwks, token)
    })
}

fuzz_target!(|data: &[u8]| {
    let (demo, jwks, genuine) = setup();
    let expect = Expectations { issuer: &demo.issuer, audience: "tiergate", now: NOW };
    let text = String::from_utf8_lossy(data);
    if let Ok(claims) = verify(&text, jwks, &expect) {
        assert_eq!(claims.get("aud").and_then(|a| a.as_str()), Some("tiergate"));
        assert_eq!(claims.get("iss").and_then(|a| a.as_str()), Some(demo.issuer.as_str()));
        assert!(claims.get("exp").and_then(|e| e.as_i64()).is_some_and(|e| e > NOW - 60));
        let _ = tiergate_edge::claims::viewer_from_claims(&claims, common::policy());
    }
    if let [at, value, ..] = data {
        let mut bytes = genuine.clone().into_bytes();
        let i = usize::from(*at) * bytes.len() / 256;
        if bytes[i] != *value {
            bytes[i] = *value;
            let mutated = String::from_utf8_lossy(&bytes);
            assert!(verify(&mutated, jwks, &expect).is_err(), "a changed token verified");
        }
    }
});
