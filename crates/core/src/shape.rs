//! Typed documents (policy, viewer, consent, plan, catalogue, audit event)
//! read straight from JSON text, with errors that name the JSON pointer of
//! the value at fault.
//!
//! serde_json reports where it stopped as a line and column; the pointer is
//! recovered from that position by [`pointer_at`], one pass over the text up
//! to it. Tracking the path while deserialising (a wrapping deserializer)
//! would instead be compiled again for every document type, and that code
//! was a fifth of the wasm module, which every runtime validates at start-up.
//!
//! The position serde_json gives for a document of the wrong shape is the
//! byte after the last one it read:
//! just after a scalar that has the wrong type or value, just after a key
//! that is not a field, just after the `}` of an object missing a field, or
//! at the first byte of a container that has the wrong type. Each of those
//! names one value, which is what [`pointer_at`] returns. For text that is
//! not JSON it is the byte after the offending one.

use serde::Deserialize;

/// A document that did not deserialise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ShapeError {
    /// JSON pointer to the value at fault (`""` is the whole document).
    pub(crate) path: String,
    /// What is wrong, in our own words (see [`crate::error::describe`]);
    /// for text that is not JSON, serde_json's fixed description.
    pub(crate) message: String,
    /// Whether the text is not JSON at all (rather than the wrong shape).
    pub(crate) syntax: bool,
    /// serde_json's position: 1-based line, bytes read on that line.
    pub(crate) line: usize,
    pub(crate) column: usize,
}

/// Deserialises a whole document (nothing but whitespace may follow).
pub(crate) fn from_str<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T, ShapeError> {
    serde_json::from_str(text).map_err(|e| shape_error(text, &e))
}

/// As [`from_str`], for bytes that must be UTF-8.
pub(crate) fn from_slice<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, ShapeError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => from_str(text),
        Err(e) => {
            let (line, column) = line_column(bytes, e.valid_up_to());
            Err(ShapeError {
                path: pointer_at(bytes, e.valid_up_to()),
                message: "not UTF-8".to_owned(),
                syntax: true,
                line,
                column,
            })
        }
    }
}

/// Deserialises a parsed value through its text, so that only one
/// deserializer is compiled per type.
pub(crate) fn from_value<T: for<'a> Deserialize<'a>>(
    value: &serde_json::Value,
) -> Result<T, ShapeError> {
    from_str(&value.to_string())
}

fn shape_error(text: &str, e: &serde_json::Error) -> ShapeError {
    let offset = offset_of(text.as_bytes(), e.line(), e.column());
    let pos = if e.is_eof() {
        // Reported at the last byte, which may end a complete value; the
        // fault is in what was still open.
        text.len() + 1
    } else if e.is_syntax() {
        // Reported just after the offending byte (read or peeked).
        offset.saturating_sub(1)
    } else {
        offset
    };
    let full = e.to_string();
    let position = format!(" at line {} column {}", e.line(), e.column());
    let message = full.strip_suffix(&position).unwrap_or(&full);
    let (mut path, at_key) = locate(text.as_bytes(), pos);
    if at_key && message.starts_with("unknown variant") {
        // `{"variant": ...}` for an enum: the key is the variant, and the
        // fault is the enum's value.
        path.truncate(path.rfind('/').unwrap_or(0));
    }
    let syntax = e.is_syntax() || e.is_eof();
    ShapeError {
        path,
        message: if syntax {
            message.to_owned()
        } else {
            crate::error::describe(message)
        },
        syntax,
        line: e.line(),
        column: e.column(),
    }
}

/// The byte offset of serde_json's (1-based line, bytes-read-on-that-line).
fn offset_of(text: &[u8], line: usize, column: usize) -> usize {
    let mut start = 0;
    if line > 1 {
        let mut newlines = 0;
        for (i, &b) in text.iter().enumerate() {
            if b == b'\n' {
                newlines += 1;
                if newlines == line - 1 {
                    start = i + 1;
                    break;
                }
            }
        }
    }
    start.saturating_add(column).min(text.len())
}

fn line_column(text: &[u8], offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    (line, offset - start)
}

/// One step of a JSON pointer.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

/// An open container, and the step to its current child, if any.
struct Open {
    object: bool,
    child: Option<Step>,
    next_index: usize,
}

/// The JSON pointer of the value at fault at `pos` (see [`locate`]).
pub(crate) fn pointer_at(text: &[u8], pos: usize) -> String {
    locate(text, pos).0
}

/// The JSON pointer of the value that ends at `pos`, starts at `pos`, or
/// (for a key that ends at `pos`) is that key's member; otherwise of the
/// innermost container open at `pos`. A `pos` past the end names what was
/// open when the text ran out. Tolerates text that is not JSON after `pos`
/// or at all: it then names the container it was in. The flag says the
/// position is just after a key.
fn locate(text: &[u8], pos: usize) -> (String, bool) {
    let mut open: Vec<Open> = Vec::new();
    let mut i = 0;
    // Each pass parses one value at `i`, then finds the next one.
    loop {
        i = skip_ws(text, i);
        if i >= pos {
            return (render(&open, true), false);
        }
        match text.get(i) {
            Some(&b @ (b'{' | b'[')) => {
                open.push(Open {
                    object: b == b'{',
                    child: None,
                    next_index: 0,
                });
                i += 1;
            }
            // A value is missing here (serde_json reports such a byte as read).
            Some(b'}' | b']' | b',' | b':') | None => return (render(&open, true), false),
            Some(&b) => {
                i = if b == b'"' {
                    string_end(text, i)
                } else {
                    scalar_end(text, i)
                };
                if i >= pos {
                    return (render(&open, true), false);
                }
            }
        }
        // The next value: the first member or element of a container just
        // opened, or the one after a value just completed.
        loop {
            let Some(top) = open.last_mut() else {
                return (String::new(), false);
            };
            i = skip_ws(text, i);
            let at_pos = i >= pos;
            match text.get(i) {
                Some(b'}' | b']' | b',') if at_pos => return (render(&open, false), false),
                Some(b'}' | b']') => {
                    i += 1;
                    open.pop();
                    if i >= pos {
                        return (render(&open, true), false);
                    }
                }
                Some(b',') => i += 1,
                Some(b'"') if top.object && !at_pos => {
                    let end = string_end(text, i);
                    let key = text.get(i + 1..end.saturating_sub(1));
                    top.child = Some(Step::Key(unescape(key)));
                    i = skip_ws(text, end);
                    if end >= pos {
                        return (render(&open, true), true);
                    }
                    if i >= pos || text.get(i) != Some(&b':') {
                        return (render(&open, true), false);
                    }
                    i += 1;
                    break;
                }
                Some(_) if !top.object => {
                    top.child = Some(Step::Index(top.next_index));
                    top.next_index += 1;
                    break;
                }
                _ => return (render(&open, false), false),
            }
        }
    }
}

fn skip_ws(text: &[u8], mut i: usize) -> usize {
    while matches!(text.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// The index after the closing quote of the string opening at `i`.
fn string_end(text: &[u8], mut i: usize) -> usize {
    i += 1;
    while let Some(&b) = text.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    text.len() + 1
}

/// The index after a number or literal starting at `i`.
fn scalar_end(text: &[u8], mut i: usize) -> usize {
    while let Some(&b) = text.get(i) {
        if matches!(b, b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r') {
            break;
        }
        i += 1;
    }
    i
}

/// A key's text from between its quotes (escapes decoded).
fn unescape(raw: Option<&[u8]>) -> String {
    let raw = raw.unwrap_or_default();
    let mut out = String::new();
    let mut units: Vec<u16> = Vec::new();
    let mut i = 0;
    let flush = |units: &mut Vec<u16>, out: &mut String| {
        out.extend(char::decode_utf16(units.drain(..)).map(|c| c.unwrap_or('\u{fffd}')));
    };
    while let Some(&b) = raw.get(i) {
        if b != b'\\' {
            flush(&mut units, &mut out);
            let end = raw
                .iter()
                .skip(i)
                .position(|&c| c == b'\\')
                .map_or(raw.len(), |n| i + n);
            out.push_str(&String::from_utf8_lossy(
                raw.get(i..end).unwrap_or_default(),
            ));
            i = end;
            continue;
        }
        let escaped = raw.get(i + 1).copied().unwrap_or(b'\\');
        i += 2;
        let simple = match escaped {
            b'n' => Some('\n'),
            b't' => Some('\t'),
            b'r' => Some('\r'),
            b'b' => Some('\u{8}'),
            b'f' => Some('\u{c}'),
            b'u' => None,
            other => Some(char::from(other)),
        };
        match simple {
            Some(c) => {
                flush(&mut units, &mut out);
                out.push(c);
            }
            None => {
                let hex = raw.get(i..i + 4).unwrap_or_default();
                let unit = std::str::from_utf8(hex)
                    .ok()
                    .and_then(|h| u16::from_str_radix(h, 16).ok())
                    .unwrap_or(0xfffd);
                units.push(unit);
                i += 4;
            }
        }
    }
    flush(&mut units, &mut out);
    out
}

fn render(open: &[Open], with_last_child: bool) -> String {
    let mut out = String::new();
    let last = open.len().saturating_sub(1);
    for (depth, o) in open.iter().enumerate() {
        if depth == last && !with_last_child {
            break;
        }
        match &o.child {
            Some(Step::Key(k)) => {
                out.push('/');
                out.push_str(&k.replace('~', "~0").replace('/', "~1"));
            }
            Some(Step::Index(n)) => {
                out.push('/');
                out.push_str(&n.to_string());
            }
            None => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        name: String,
        #[serde(default)]
        items: Vec<Item>,
        #[serde(default)]
        kind: Option<Kind>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        tier: u8,
        #[serde(default)]
        tags: Vec<String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Kind {
        Permit,
        Deny,
    }

    fn path_of(text: &str) -> (String, String) {
        match from_str::<Doc>(text) {
            Ok(d) => panic!("{text} deserialised: {d:?}"),
            Err(e) => (e.path, e.message),
        }
    }

    #[test]
    fn names_the_value_at_fault_in_every_layout() {
        // (document, pointer, start of message)
        let cases = [
            (r#"{"name": 3}"#, "/name", "invalid type: integer"),
            (
                r#"{"name": "a", "items": [{"tier": "x"}]}"#,
                "/items/0/tier",
                "invalid type: string",
            ),
            (
                r#"{"name":"a","items":[{"tier":1},{"tier":300}]}"#,
                "/items/1/tier",
                "invalid value",
            ),
            (
                r#"{"name": "a", "items": [{"tier": 1, "tags": [1]}]}"#,
                "/items/0/tags/0",
                "invalid type",
            ),
            (
                r#"{"name": "a", "items": [{"tier": 1, "tags": ["x", {}]}]}"#,
                "/items/0/tags/1",
                "invalid type: map",
            ),
            (
                r#"{"name": "a", "items": [{"tier": 1, "tags": [[]]}]}"#,
                "/items/0/tags/0",
                "invalid type: sequence",
            ),
            (
                r#"{"name": "a", "items": [[]]}"#,
                "/items/0",
                "invalid length 0",
            ),
            (
                r#"{"name": "a", "items": {"tier": 1}}"#,
                "/items",
                "invalid type: map",
            ),
            (
                r#"{"name": "a", "items": [{"tier": 1, "colour": 2}]}"#,
                "/items/0/colour",
                "unknown field",
            ),
            (
                r#"{"name": "a", "items": [{"tags": []}]}"#,
                "/items/0",
                "missing field `tier`",
            ),
            (r#"{"items": []}"#, "", "missing field `name`"),
            (
                r#"{"name": "a", "kind": "maybe"}"#,
                "/kind",
                "unknown variant",
            ),
            (
                r#"{"name": "a", "kind": {"maybe": 1}}"#,
                "/kind",
                "unknown variant",
            ),
            (r#"{"name": null}"#, "/name", "invalid type: null"),
            (r#"{"name": true}"#, "/name", "invalid type: boolean"),
            (
                "{\n  \"name\": \"a\",\n  \"items\": [\n    {\"tier\": -1}\n  ]\n}",
                "/items/0/tier",
                "invalid value",
            ),
            ("[1]", "/0", "invalid type: integer"),
            ("7", "", "invalid type: integer"),
            (r#"{"a/b~c": 1}"#, "/a~1b~0c", "unknown field"),
            (r#"{"\u006eame": 1}"#, "/name", "invalid type"),
            (r#"{"na\"me": 1}"#, "/na\"me", "unknown field"),
            (
                r#"{"name": "a", "items": [{"tier": 1}, {"tier": 2,}]}"#,
                "/items/1",
                "trailing comma",
            ),
            (
                r#"{"name": "a", "items": [{"tier": 1}"#,
                "/items",
                "EOF while parsing a list",
            ),
            (r#"{"name": "a"} x"#, "", "trailing characters"),
        ];
        for (text, pointer, message) in cases {
            let (path, got) = path_of(text);
            assert_eq!(path, pointer, "{text}");
            assert!(got.starts_with(message), "{text}: {got}");
            assert!(!got.contains(" at line "), "{got}");
        }
    }

    #[test]
    fn input_text_never_reaches_the_message() {
        let (_, message) = path_of(r#"{"name": "a", "kind": "HIV positive"}"#);
        assert!(!message.contains("HIV"), "{message}");
        let (_, message) = path_of(r#"{"name": "a", "hiv_status": 1}"#);
        assert!(!message.contains("hiv"), "{message}");
    }

    #[test]
    fn syntax_errors_say_so_with_their_position() {
        let e = from_str::<Doc>("{\n \"name\": }").unwrap_err();
        assert!(e.syntax);
        assert_eq!((e.line, e.path.as_str()), (2, "/name"));
        let e = from_slice::<Doc>(b"{\"name\": \"\xff\"}").unwrap_err();
        assert!(e.syntax);
        assert_eq!(e.message, "not UTF-8");
        let e = from_str::<Doc>(r#"{"name": 1}"#).unwrap_err();
        assert!(!e.syntax);
    }

    #[test]
    fn from_value_reads_what_from_str_reads() {
        let value = serde_json::json!({"name": "a", "items": [{"tier": "x"}]});
        let e = from_value::<Doc>(&value).unwrap_err();
        assert_eq!(e.path, "/items/0/tier");
        let ok: Doc = from_value(&serde_json::json!({"name": "a"})).unwrap();
        assert_eq!(ok.name, "a");
    }

    #[test]
    fn pointer_at_tolerates_anything() {
        for text in [
            "",
            "{",
            "[",
            "\"",
            "{\"a",
            "{\"a\":",
            "[1,",
            "}",
            "]]]",
            "{\"a\" 1}",
            "\\",
        ] {
            for pos in 0..=text.len() + 1 {
                let _ = pointer_at(text.as_bytes(), pos);
            }
        }
        assert_eq!(pointer_at(b"{\"a\": [1, 2, {\"b\": 3}]}", 19), "/a/2/b");
    }
}
