//! The record tree redaction works on.
//!
//! A record is parsed once, by `serde_json`, into a tree that borrows its
//! strings from the record bytes instead of copying them, keeps object
//! members in a vector instead of a hash map, and allocates each finished
//! container once at its exact size. Parsing is the largest cost of
//! redaction, and this is over twice as fast as parsing into
//! `serde_json::Value` (see `bench/results/native.md`).
//!
//! Semantics are `serde_json::Value`'s with `preserve_order` and
//! `arbitrary_precision`: a repeated key keeps its first position and its
//! last value, numbers keep serde_json's text, and the output of
//! [`Value::write`] is byte for byte what `serde_json::to_vec` writes for the
//! same `serde_json::Value`.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// How serde_json's message for that limit starts.
const TOO_DEEP: &str = "recursion limit exceeded";

/// The key under which `serde_json` (with `arbitrary_precision`) hands a
/// number's text to a visitor.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// A JSON value whose strings borrow from the record where they can.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    /// The number's text, as written in the record.
    Number(Cow<'a, str>),
    String(Cow<'a, str>),
    Array(Vec<Value<'a>>),
    Object(Map<'a>),
}

/// An object's members, in record order, without repeated keys.
#[derive(Debug, Clone, Default)]
pub struct Map<'a> {
    members: Vec<(Cow<'a, str>, Value<'a>)>,
}

impl<'a> Value<'a> {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn as_array(&self) -> Option<&Vec<Value<'a>>> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&Map<'a>> {
        match self {
            Value::Object(map) => Some(map),
            _ => None,
        }
    }

    /// A member of an object; `None` for anything else.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        self.as_object().and_then(|m| m.get(key))
    }

    /// The value at a JSON Pointer (RFC 6901), as `serde_json::Value::pointer`.
    pub fn pointer(&self, pointer: &str) -> Option<&Value<'a>> {
        if pointer.is_empty() {
            return Some(self);
        }
        let rest = pointer.strip_prefix('/')?;
        rest.split('/').try_fold(self, |at, token| {
            let token = token.replace("~1", "/").replace("~0", "~");
            match at {
                Value::Object(map) => map.get(&token),
                Value::Array(items) => {
                    if token.starts_with('+') || (token.starts_with('0') && token.len() > 1) {
                        return None;
                    }
                    token.parse::<usize>().ok().and_then(|i| items.get(i))
                }
                _ => None,
            }
        })
    }

    /// Borrows every string of a `serde_json::Value`.
    pub fn from_serde(value: &'a serde_json::Value) -> Self {
        match value {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Number(Cow::Owned(n.to_string())),
            serde_json::Value::String(s) => Value::String(Cow::Borrowed(s)),
            serde_json::Value::Array(items) => {
                Value::Array(items.iter().map(Value::from_serde).collect())
            }
            serde_json::Value::Object(map) => Value::Object(Map::from_serde(map)),
        }
    }

    /// Compact JSON, as `serde_json::to_vec` writes it.
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            Value::Null => out.extend_from_slice(b"null"),
            Value::Bool(true) => out.extend_from_slice(b"true"),
            Value::Bool(false) => out.extend_from_slice(b"false"),
            Value::Number(text) => out.extend_from_slice(text.as_bytes()),
            Value::String(s) => write_str(s, out),
            Value::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    item.write(out);
                }
                out.push(b']');
            }
            Value::Object(map) => map.write(out),
        }
    }
}

impl<'a> Map<'a> {
    pub fn from_serde(map: &'a serde_json::Map<String, serde_json::Value>) -> Self {
        Map {
            members: map
                .iter()
                .map(|(k, v)| (Cow::Borrowed(k.as_str()), Value::from_serde(v)))
                .collect(),
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        self.members.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub(crate) fn get_mut(&mut self, key: &str) -> Option<&mut Value<'a>> {
        self.members
            .iter_mut()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value<'a>)> {
        self.members.iter().map(|(k, v)| (k.as_ref(), v))
    }

    pub fn values(&self) -> impl Iterator<Item = &Value<'a>> {
        self.members.iter().map(|(_, v)| v)
    }

    /// Removes a member, keeping the others in order.
    pub(crate) fn shift_remove(&mut self, key: &str) -> Option<Value<'a>> {
        let at = self.members.iter().position(|(k, _)| k == key)?;
        Some(self.members.remove(at).1)
    }

    /// Keeps the members `keep` says to keep, in order.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&str, &mut Value<'a>) -> bool) {
        self.members.retain_mut(|(k, v)| keep(k, v));
    }

    pub(crate) fn from_members(members: Vec<(Cow<'a, str>, Value<'a>)>) -> Self {
        let mut map = Map { members };
        map.dedup();
        map
    }

    /// Sets a member: in place if the key is there, else last. Returns
    /// whether the key was there.
    pub(crate) fn insert(&mut self, key: impl Into<Cow<'a, str>>, value: Value<'a>) -> bool {
        let key = key.into();
        match self.get_mut(&key) {
            Some(slot) => {
                *slot = value;
                true
            }
            None => {
                self.members.push((key, value));
                false
            }
        }
    }

    pub fn write(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        for (i, (k, v)) in self.members.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(k, out);
            out.push(b':');
            v.write(out);
        }
        out.push(b'}');
    }

    /// serde_json's rule for a repeated key: first position, last value.
    fn dedup(&mut self) {
        let n = self.members.len();
        let repeated = if n <= 16 {
            self.members
                .iter()
                .enumerate()
                .any(|(i, (k, _))| self.members.iter().skip(i + 1).any(|(o, _)| o == k))
        } else {
            let mut keys: Vec<&str> = self.members.iter().map(|(k, _)| k.as_ref()).collect();
            keys.sort_unstable();
            keys.windows(2).any(|w| matches!(w, [a, b] if a == b))
        };
        if repeated {
            let mut kept: Vec<(Cow<'a, str>, Value<'a>)> = Vec::with_capacity(n);
            let mut at: std::collections::HashMap<Cow<'a, str>, usize> =
                std::collections::HashMap::with_capacity(n);
            for (k, v) in std::mem::take(&mut self.members) {
                match at.get(&k).and_then(|&i| kept.get_mut(i)) {
                    Some(slot) => slot.1 = v,
                    None => {
                        at.insert(k.clone(), kept.len());
                        kept.push((k, v));
                    }
                }
            }
            self.members = kept;
        }
    }
}

/// Objects compare as sets of members, as `serde_json::Map` does.
impl PartialEq for Map<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

pub(crate) fn write_str(s: &str, out: &mut Vec<u8>) {
    // Most strings need no escape: copy them without serde_json's machinery.
    if !needs_escape(s.as_bytes()) {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        return;
    }
    // Writing a string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Whether serde_json would escape any byte (a control character, `"` or
/// `\\`), eight bytes at a time.
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Whether any byte of `x` is below `n` (n <= 128), or equal to `b`.
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH != 0;
    let equal = |x: u64, b: u8| below(x ^ (ONES * u64::from(b)), 1);
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let x = u64::from_le_bytes(word.try_into().unwrap_or_default());
        if below(x, 0x20) || equal(x, b'"') || equal(x, b'\\') {
            return true;
        }
    }
    words
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// Why a record could not be parsed.
#[derive(Debug)]
pub(crate) enum ParseError {
    Syntax(serde_json::Error),
    TooDeep,
}

impl From<serde_json::Error> for ParseError {
    fn from(e: serde_json::Error) -> Self {
        if e.to_string().starts_with(TOO_DEEP) {
            ParseError::TooDeep
        } else {
            ParseError::Syntax(e)
        }
    }
}

/// Parses a record (any JSON value).
pub(crate) fn parse(text: &str) -> Result<Value<'_>, ParseError> {
    let scratch = Scratch::default();
    let mut de = serde_json::Deserializer::from_str(text);
    let value = Seed { scratch: &scratch }.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

struct Key<'a>(Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// Members and items of the containers being parsed, on two stacks shared
/// by every level, so each finished container is one allocation of exactly
/// its size (JSON gives no size in advance).
struct Scratch<'de> {
    members: Cell<Vec<(Cow<'de, str>, Value<'de>)>>,
    items: Cell<Vec<Value<'de>>>,
}

impl Default for Scratch<'_> {
    fn default() -> Self {
        Scratch {
            members: Cell::new(Vec::new()),
            items: Cell::new(Vec::new()),
        }
    }
}

/// Runs `f` on a stack kept in a `Cell` (never borrowed across a nested parse).
fn with<T, R>(stack: &Cell<Vec<T>>, f: impl FnOnce(&mut Vec<T>) -> R) -> R {
    let mut s = stack.take();
    let r = f(&mut s);
    stack.set(s);
    r
}

/// serde_json itself enforces its nesting limit on every container.
#[derive(Clone, Copy)]
struct Seed<'s, 'de> {
    scratch: &'s Scratch<'de>,
}

impl<'de> DeserializeSeed<'de> for Seed<'_, 'de> {
    type Value = Value<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_, 'de> {
    type Value = Value<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Value<'de>, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value<'de>, E> {
        Ok(Value::Bool(b))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Value<'de>, E> {
        Ok(Value::Number(Cow::Owned(n.to_string())))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Value<'de>, E> {
        Ok(Value::Number(Cow::Owned(n.to_string())))
    }
    fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Value<'de>, E> {
        // With arbitrary_precision serde_json hands other numbers over as text.
        serde_json::Number::from_f64(n)
            .map(|n| Value::Number(Cow::Owned(n.to_string())))
            .ok_or_else(|| E::custom("number out of range"))
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Value<'de>, E> {
        Ok(Value::String(Cow::Borrowed(s)))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value<'de>, E> {
        Ok(Value::String(Cow::Owned(s.to_owned())))
    }
    fn visit_string<E>(self, s: String) -> Result<Value<'de>, E> {
        Ok(Value::String(Cow::Owned(s)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Value<'de>, A::Error> {
        let items = &self.scratch.items;
        let base = with(items, |s| s.len());
        while let Some(item) = a.next_element_seed(self)? {
            with(items, |s| s.push(item));
        }
        Ok(Value::Array(with(items, |s| {
            s.split_off(base.min(s.len()))
        })))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Value<'de>, A::Error> {
        let members = &self.scratch.members;
        let base = with(members, |s| s.len());
        while let Some(Key(k)) = a.next_key()? {
            if k == NUMBER_TOKEN && with(members, |s| s.len()) == base {
                let text: String = a.next_value()?;
                return Ok(Value::Number(Cow::Owned(text)));
            }
            let v = a.next_value_seed(self)?;
            with(members, |s| s.push((k, v)));
        }
        let mut map = Map {
            members: with(members, |s| s.split_off(base.min(s.len()))),
        };
        map.dedup();
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours(text: &str) -> Option<Value<'_>> {
        parse(text).ok()
    }

    #[test]
    fn writes_what_serde_json_writes() {
        for text in [
            r#"{"a": 1, "b": [true, false, null], "c": {"d": "e"}}"#,
            r#"{"n": [0, -0, 1.50, 1e10, -1.5E-7, 2E+3, 4e-0, 12345678901234567890123, -9223372036854775809]}"#,
            r#"{"t": true, "f": false, "e": "1e5 \u0065"}"#,
            r#"{"s": "quote \" slash \/ back \\ tab \t nl \n uni \u00e9 \ud83d\ude00 ctl \u0001 del \u007f"}"#,
            "{\"s\": \"é — ✓ \u{7f}\", \"k\\u0041\": \"\"}",
            r#"  [ { } , [ ] , "" ]  "#,
            r#"{"dup": 1, "x": 2, "dup": 3}"#,
        ] {
            let v: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
            let expected = serde_json::to_vec(&v).unwrap_or_default();
            let mut written = Vec::new();
            if let Some(tree) = ours(text) {
                tree.write(&mut written);
            }
            assert_eq!(
                String::from_utf8_lossy(&written),
                String::from_utf8_lossy(&expected),
                "{text}"
            );
        }
    }

    #[test]
    fn repeated_keys_keep_first_position_and_last_value() {
        let tree = ours(r#"{"code": "A", "id": "x", "code": "B"}"#);
        let m = tree.as_ref().and_then(Value::as_object);
        assert_eq!(
            m.map(|m| m.iter().map(|(k, _)| k).collect::<Vec<_>>()),
            Some(vec!["code", "id"])
        );
        assert_eq!(
            m.and_then(|m| m.get("code")).and_then(Value::as_str),
            Some("B")
        );
        // Past the size where keys are compared pairwise.
        let many: String = (0..40).map(|i| format!("\"k{i}\":{i},")).collect();
        let text = format!("{{{many}\"k7\":\"last\"}}");
        let tree = ours(&text);
        assert_eq!(
            tree.as_ref().and_then(Value::as_object).map(Map::len),
            Some(40)
        );
        assert_eq!(
            tree.as_ref()
                .and_then(|t| t.get("k7"))
                .and_then(Value::as_str),
            Some("last")
        );
    }

    #[test]
    fn nesting_limit_matches_serde_json() {
        for depth in [126, 127, 128, 129, 130, 100_000] {
            let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            let serde_ok = serde_json::from_str::<serde_json::Value>(&text).is_ok();
            let result = parse(&text);
            assert_eq!(result.is_ok(), serde_ok, "depth {depth}");
            if !serde_ok {
                assert!(matches!(result, Err(ParseError::TooDeep)), "depth {depth}");
            }
        }
    }

    #[test]
    fn escapes_are_found_at_every_position() {
        for len in 0..20 {
            let plain = "é".repeat(len / 2) + &"a".repeat(len % 2);
            assert!(!needs_escape(plain.as_bytes()), "{plain}");
            for at in 0..=plain.len() {
                for special in ["\"", "\\", "\n", "\u{1f}", "\u{0}"] {
                    let (a, b) = plain.split_at(plain.floor_char_boundary(at));
                    let s = format!("{a}{special}{b}");
                    assert!(needs_escape(s.as_bytes()), "{s:?}");
                }
            }
        }
        for s in ["\u{7f}", "~ !#[]{}", "\u{20}", "\u{ff}"] {
            assert!(!needs_escape(s.as_bytes()), "{s:?}");
        }
    }

    #[test]
    fn pointers_find_what_serde_json_finds() {
        let text = r#"{"a": {"b/c": [10, {"d~e": "x"}], "": 1}, "f": [[0]]}"#;
        let serde: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
        let tree = ours(text);
        for p in [
            "",
            "/a",
            "/a/b~1c",
            "/a/b~1c/0",
            "/a/b~1c/1/d~0e",
            "/a/",
            "/f/0/0",
            "/f/00",
            "/f/+0",
            "/f/1",
            "/missing",
            "a",
            "/a/b~1c/-",
        ] {
            let mut want = Vec::new();
            let mut got = Vec::new();
            if let Some(v) = serde.pointer(p) {
                want = serde_json::to_vec(v).unwrap_or_default();
            }
            if let Some(v) = tree.as_ref().and_then(|t| t.pointer(p)) {
                v.write(&mut got);
            }
            assert_eq!(got, want, "{p}");
        }
    }

    #[test]
    fn objects_compare_as_sets() {
        let a = ours(r#"{"a":1,"b":[1,2]}"#);
        let b = ours(r#"{"b":[1,2],"a":1}"#);
        let c = ours(r#"{"b":[2,1],"a":1}"#);
        assert!(a.is_some());
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn strings_borrow_from_the_record_unless_escaped() {
        let tree = ours(r#"{"plain": "abc", "escaped": "a\nb"}"#);
        let get = |k| tree.as_ref().and_then(|t| t.get(k));
        assert!(matches!(
            get("plain"),
            Some(Value::String(Cow::Borrowed("abc")))
        ));
        assert!(matches!(get("escaped"), Some(Value::String(Cow::Owned(s))) if s == "a\nb"));
    }
}
