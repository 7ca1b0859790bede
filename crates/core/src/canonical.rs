//! Canonical JSON (sorted keys, no white space) and the policy content hash.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Writes `value` with object keys sorted bytewise and no white space.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    // Explicit stack: depth is bounded by the parser, but we never recurse on input.
    enum Step<'a> {
        Value(&'a Value),
        Raw(&'static str),
        Key(&'a str),
    }
    let mut stack = vec![Step::Value(value)];
    while let Some(step) = stack.pop() {
        match step {
            Step::Raw(s) => out.push_str(s),
            Step::Key(k) => {
                out.push_str(&Value::String(k.to_owned()).to_string());
                out.push(':');
            }
            Step::Value(v) => match v {
                Value::Object(map) => {
                    let mut keys: Vec<&String> = map.keys().collect();
                    keys.sort();
                    out.push('{');
                    stack.push(Step::Raw("}"));
                    for (i, k) in keys.iter().enumerate().rev() {
                        if let Some(child) = map.get(k.as_str()) {
                            stack.push(Step::Value(child));
                            stack.push(Step::Key(k));
                            if i > 0 {
                                stack.push(Step::Raw(","));
                            }
                        }
                    }
                }
                Value::Array(items) => {
                    out.push('[');
                    stack.push(Step::Raw("]"));
                    for (i, item) in items.iter().enumerate().rev() {
                        stack.push(Step::Value(item));
                        if i > 0 {
                            stack.push(Step::Raw(","));
                        }
                    }
                }
                other => out.push_str(&other.to_string()),
            },
        }
    }
    out
}

/// `sha256:` and the hex SHA-256 of the canonical form.
pub fn content_hash(value: &Value) -> String {
    let digest = Sha256::digest(canonical_json(value).as_bytes());
    let mut hex = String::with_capacity(7 + 64);
    hex.push_str("sha256:");
    for byte in digest {
        for nibble in [byte >> 4, byte & 0xf] {
            hex.extend(char::from_digit(u32::from(nibble), 16));
        }
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_order_and_spacing_do_not_change_the_hash() {
        let a: Value =
            serde_json::from_str(r#"{"b": [1, {"y": 2, "x": "s"}], "a": null}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a":null,"b":[1,{"x":"s","y":2}]}"#).unwrap();
        assert_eq!(canonical_json(&a), r#"{"a":null,"b":[1,{"x":"s","y":2}]}"#);
        assert_eq!(content_hash(&a), content_hash(&b));
        let c: Value = serde_json::from_str(r#"{"a":null,"b":[1,{"x":"t","y":2}]}"#).unwrap();
        assert_ne!(content_hash(&a), content_hash(&c));
    }
}
