//! The record tree redaction works on.
//!
//! A record is parsed once, by `serde_json`, into a tree that borrows its
//! strings from the record bytes instead of copying them, and keeps object
//! members in a vector instead of a hash map. That makes parsing about
//! twice as fast as into `serde_json::Value`, and it is the largest cost of
//! redaction. Every entry keeps the bytes it was parsed from, so an entry
//! that passes untouched is copied out (whitespace dropped, strings
//! re-escaped only where they held escapes) rather than re-serialised.
//!
//! Semantics are `serde_json::Value`'s with `preserve_order`: a repeated
//! key keeps its first position and its last value, and numbers keep their
//! text. The output is byte for byte what `serde_json::to_vec` writes for
//! the same `serde_json::Value`.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// serde_json's nesting limit, counted from the top of the record.
const MAX_NESTING: usize = 128;

/// The key under which `serde_json` (with `arbitrary_precision`) hands a
/// number's text to a visitor.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// A JSON value whose strings borrow from the record where they can.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value<'a> {
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
pub(crate) struct Map<'a> {
    members: Vec<(Cow<'a, str>, Value<'a>)>,
}

impl<'a> Value<'a> {
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub(crate) fn as_array(&self) -> Option<&Vec<Value<'a>>> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    pub(crate) fn as_object(&self) -> Option<&Map<'a>> {
        match self {
            Value::Object(map) => Some(map),
            _ => None,
        }
    }

    /// A member of an object; `None` for anything else.
    pub(crate) fn get(&self, key: &str) -> Option<&Value<'a>> {
        self.as_object().and_then(|m| m.get(key))
    }

    /// Borrows every string of a `serde_json::Value`.
    pub(crate) fn from_serde(value: &'a serde_json::Value) -> Self {
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
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
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
    pub(crate) fn from_serde(map: &'a serde_json::Map<String, serde_json::Value>) -> Self {
        Map {
            members: map
                .iter()
                .map(|(k, v)| (Cow::Borrowed(k.as_str()), Value::from_serde(v)))
                .collect(),
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Value<'a>> {
        self.members.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub(crate) fn get_mut(&mut self, key: &str) -> Option<&mut Value<'a>> {
        self.members
            .iter_mut()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    pub(crate) fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub(crate) fn len(&self) -> usize {
        self.members.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &Value<'a>)> {
        self.members.iter().map(|(k, v)| (k.as_ref(), v))
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &Value<'a>> {
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

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
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
    /// Returns whether any key was repeated.
    fn dedup(&mut self) -> bool {
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
            for (k, v) in std::mem::take(&mut self.members) {
                match kept.iter_mut().find(|(o, _)| *o == k) {
                    Some(slot) => slot.1 = v,
                    None => kept.push((k, v)),
                }
            }
            self.members = kept;
        }
        repeated
    }
}

/// Objects compare as sets of members, as `serde_json::Map` does.
impl PartialEq for Map<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

pub(crate) fn write_str(s: &str, out: &mut Vec<u8>) {
    // Writing a string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Why a record could not be parsed.
#[derive(Debug)]
pub(crate) enum ParseError {
    Syntax(serde_json::Error),
    TooDeep,
}

impl From<serde_json::Error> for ParseError {
    fn from(e: serde_json::Error) -> Self {
        if e.to_string().starts_with("recursion limit exceeded") {
            ParseError::TooDeep
        } else {
            ParseError::Syntax(e)
        }
    }
}

/// A parsed value and the bytes it came from.
#[derive(Debug)]
pub(crate) struct Parsed<'a> {
    pub(crate) value: Value<'a>,
    pub(crate) raw: &'a str,
    /// Whether some object repeated a key, so the bytes say more than the value.
    pub(crate) repeated_key: bool,
}

/// Parses `text` as one JSON value nested `depth` deep in its record.
/// `scratch` may be shared by every parse of one record.
pub(crate) fn parse_at<'a>(
    text: &'a str,
    depth: usize,
    scratch: &Scratch<'a>,
) -> Result<Parsed<'a>, ParseError> {
    let repeated = Cell::new(false);
    let mut de = serde_json::Deserializer::from_str(text);
    let value = Seed {
        depth,
        repeated: &repeated,
        scratch,
    }
    .deserialize(&mut de)
    .map_err(|e| {
        if e.to_string().starts_with(TOO_DEEP) {
            ParseError::TooDeep
        } else {
            ParseError::from(e)
        }
    })?;
    de.end()?;
    Ok(Parsed {
        value,
        raw: text.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r')),
        repeated_key: repeated.get(),
    })
}

const TOO_DEEP: &str = "recursion limit exceeded";

/// A member of a record's top level, unparsed.
#[derive(Debug)]
pub(crate) enum Member<'a> {
    Raw(&'a RawValue),
    /// The items of the member named for splitting, which is an array.
    Items(Vec<&'a RawValue>),
    /// The member named for splitting, which is not an array.
    NotArray,
}

/// A record's top level (an object): its members as raw text, in order,
/// with the items of the array member named `split` each on their own,
/// so that the bytes are read once.
pub(crate) fn top_level<'a>(
    text: &'a str,
    split: Option<&str>,
) -> Result<Vec<(Cow<'a, str>, Member<'a>)>, ParseError> {
    struct Members<'s>(Option<&'s str>);
    impl<'de> Visitor<'de> for Members<'_> {
        type Value = Vec<(Cow<'de, str>, Member<'de>)>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
            let mut members = Vec::new();
            while let Some(Key(k)) = a.next_key()? {
                let member = if Some(k.as_ref()) == self.0 {
                    a.next_value::<Items<'de>>()?
                        .0
                        .map_or(Member::NotArray, Member::Items)
                } else {
                    Member::Raw(a.next_value()?)
                };
                members.push((k, member));
            }
            Ok(members)
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let members = serde::Deserializer::deserialize_map(&mut de, Members(split))?;
    de.end()?;
    Ok(members)
}

/// An array's items unparsed, or `None` for any other value.
struct Items<'a>(Option<Vec<&'a RawValue>>);

impl<'de> serde::Deserialize<'de> for Items<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ItemsVisitor;
        impl<'de> Visitor<'de> for ItemsVisitor {
            type Value = Items<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Items<'de>, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = a.next_element()? {
                    items.push(item);
                }
                Ok(Items(Some(items)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Items<'de>, A::Error> {
                while a
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Items(None))
            }
            fn visit_unit<E>(self) -> Result<Items<'de>, E> {
                Ok(Items(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Items<'de>, E> {
                Ok(Items(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<Items<'de>, E> {
                Ok(Items(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Items<'de>, E> {
                Ok(Items(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Items<'de>, E> {
                Ok(Items(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Items<'de>, E> {
                Ok(Items(None))
            }
        }
        d.deserialize_any(ItemsVisitor)
    }
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
pub(crate) struct Scratch<'de> {
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

#[derive(Clone, Copy)]
struct Seed<'s, 'de> {
    depth: usize,
    repeated: &'s Cell<bool>,
    scratch: &'s Scratch<'de>,
}

impl<'s, 'de> Seed<'s, 'de> {
    fn nested<E: serde::de::Error>(self) -> Result<Self, E> {
        if self.depth + 1 >= MAX_NESTING {
            return Err(E::custom(TOO_DEEP));
        }
        Ok(Seed {
            depth: self.depth + 1,
            ..self
        })
    }
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
        let inner = self.nested()?;
        let items = &self.scratch.items;
        let base = with(items, |s| s.len());
        while let Some(item) = a.next_element_seed(inner)? {
            with(items, |s| s.push(item));
        }
        Ok(Value::Array(with(items, |s| {
            s.split_off(base.min(s.len()))
        })))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Value<'de>, A::Error> {
        let inner = self.nested()?;
        let members = &self.scratch.members;
        let base = with(members, |s| s.len());
        while let Some(Key(k)) = a.next_key()? {
            if k == NUMBER_TOKEN && with(members, |s| s.len()) == base {
                let text: String = a.next_value()?;
                return Ok(Value::Number(Cow::Owned(text)));
            }
            let v = a.next_value_seed(inner)?;
            with(members, |s| s.push((k, v)));
        }
        let mut map = Map {
            members: with(members, |s| s.split_off(base.min(s.len()))),
        };
        if map.dedup() {
            self.repeated.set(true);
        }
        Ok(Value::Object(map))
    }
}

/// Appends `text` (valid JSON) without insignificant whitespace, exactly
/// as `serde_json` would write the same value. Returns false, having
/// appended nothing, if a string's escapes could not be rewritten.
/// serde_json keeps a number's text except that an exponent is written
/// `e+` or `e-`, so that is the one change made to numbers.
pub(crate) fn minify_into(text: &str, out: &mut Vec<u8>) -> bool {
    let bytes = text.as_bytes();
    let start = out.len();
    out.reserve(bytes.len());
    let mut i = 0;
    let mut copied = 0;
    loop {
        while bytes
            .get(i)
            .is_some_and(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'"' | b'e' | b'E'))
        {
            i += 1;
        }
        let Some(&b) = bytes.get(i) else {
            break;
        };
        match b {
            b'"' => {
                let open = i;
                let mut escaped = false;
                i += 1;
                loop {
                    let rest = bytes.get(i..).unwrap_or_default();
                    let Some(at) = memchr::memchr2(b'"', b'\\', rest) else {
                        out.truncate(start);
                        return false;
                    };
                    i += at;
                    if bytes.get(i) == Some(&b'"') {
                        break;
                    }
                    escaped = true;
                    i += 2;
                }
                i += 1;
                if escaped {
                    out.extend_from_slice(bytes.get(copied..open).unwrap_or_default());
                    let Some(Ok(decoded)) =
                        text.get(open..i).map(serde_json::from_str::<Cow<'_, str>>)
                    else {
                        out.truncate(start);
                        return false;
                    };
                    write_str(&decoded, out);
                    copied = i;
                }
            }
            // An exponent (not the `e` of `true` or `false`): serde_json
            // writes it as `e` with a sign.
            b'e' | b'E' if i > 0 && bytes.get(i - 1).is_some_and(u8::is_ascii_digit) => {
                out.extend_from_slice(bytes.get(copied..i).unwrap_or_default());
                out.push(b'e');
                if !matches!(bytes.get(i + 1), Some(b'+' | b'-')) {
                    out.push(b'+');
                }
                i += 1;
                copied = i;
            }
            b' ' | b'\t' | b'\n' | b'\r' => {
                out.extend_from_slice(bytes.get(copied..i).unwrap_or_default());
                i += 1;
                while matches!(bytes.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
                    i += 1;
                }
                copied = i;
            }
            _ => i += 1,
        }
    }
    out.extend_from_slice(bytes.get(copied..).unwrap_or_default());
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_at_fresh(text: &str, depth: usize) -> Result<Parsed<'_>, ParseError> {
        parse_at(text, depth, &Scratch::default())
    }

    fn serde_compact(text: &str) -> Vec<u8> {
        let v: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
        serde_json::to_vec(&v).unwrap_or_default()
    }

    fn both(text: &str) -> (Vec<u8>, Vec<u8>) {
        let parsed = parse_at(text, 0, &Scratch::default()).ok();
        let mut written = Vec::new();
        if let Some(p) = &parsed {
            p.value.write(&mut written);
        }
        let mut via_raw = Vec::new();
        if let Some(p) = &parsed {
            if p.repeated_key || !minify_into(p.raw, &mut via_raw) {
                p.value.write(&mut via_raw);
            }
        }
        (written, via_raw)
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
            let expected = serde_compact(text);
            let (written, via_raw) = both(text);
            assert_eq!(
                String::from_utf8_lossy(&written),
                String::from_utf8_lossy(&expected),
                "{text}"
            );
            assert_eq!(
                String::from_utf8_lossy(&via_raw),
                String::from_utf8_lossy(&expected),
                "{text}"
            );
        }
    }

    #[test]
    fn repeated_keys_keep_first_position_and_last_value() {
        let p = parse_at_fresh(r#"{"code": "A", "id": "x", "code": "B"}"#, 0).ok();
        let p = p.as_ref();
        assert!(p.is_some_and(|p| p.repeated_key));
        let m = p.and_then(|p| p.value.as_object());
        assert_eq!(
            m.map(|m| m.iter().map(|(k, _)| k).collect::<Vec<_>>()),
            Some(vec!["code", "id"])
        );
        assert_eq!(
            m.and_then(|m| m.get("code")).and_then(Value::as_str),
            Some("B")
        );
        let many: String = (0..40).map(|i| format!("\"k{i}\":{i},")).collect();
        let text = format!("{{{many}\"k7\":\"last\"}}");
        let p = parse_at(&text, 0, &Scratch::default()).ok();
        assert!(p.as_ref().is_some_and(|p| p.repeated_key));
        assert_eq!(
            p.as_ref()
                .and_then(|p| p.value.get("k7"))
                .and_then(Value::as_str),
            Some("last")
        );
    }

    #[test]
    fn nesting_limit_matches_serde_json() {
        for depth in [126, 127, 128, 129, 130] {
            let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            let serde_ok = serde_json::from_str::<serde_json::Value>(&text).is_ok();
            let ours = parse_at(&text, 0, &Scratch::default());
            assert_eq!(ours.is_ok(), serde_ok, "depth {depth}");
            if !serde_ok {
                assert!(matches!(ours, Err(ParseError::TooDeep)), "depth {depth}");
            }
        }
        // The same limit counted from the top of the record.
        let inner = format!("{}{}", "[".repeat(126), "]".repeat(126));
        assert!(parse_at(&inner, 0, &Scratch::default()).is_ok());
        assert!(matches!(
            parse_at(&inner, 3, &Scratch::default()),
            Err(ParseError::TooDeep)
        ));
    }

    #[test]
    fn objects_compare_as_sets() {
        let a = parse_at_fresh(r#"{"a":1,"b":[1,2]}"#, 0)
            .ok()
            .map(|p| p.value);
        let b = parse_at_fresh(r#"{"b":[1,2],"a":1}"#, 0)
            .ok()
            .map(|p| p.value);
        let c = parse_at_fresh(r#"{"b":[2,1],"a":1}"#, 0)
            .ok()
            .map(|p| p.value);
        assert!(a.is_some());
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
