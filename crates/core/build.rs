//! Writes the Unicode and HTML data the text normaliser (`src/text.rs`)
//! needs, in forms small enough for every wasm module: the crates that
//! hold the data (`unicode-normalization`, `entities`) run here, at build
//! time, and their tables (over 70 KB of gzipped wasm) do not ship.
//!
//! * `fold.bin`: each character whose compatibility form (NFKC) differs
//!   from it, unless both are separators: (code point delta as a LEB128
//!   varint, length of the form in bytes, the form in UTF-8), by code
//!   point. Hangul syllables and the CJK compatibility ideographs are
//!   included like any other.
//! * `marks.rs`: the combining marks (general category M) as ranges.
//! * `entities.bin`: the HTML named character references (the WHATWG
//!   list), `name NUL value SOH` each, sorted by name.
//! * `default.min.json`: the default policy without the white space
//!   between tokens (its content hash is over the canonical form, so it
//!   is unchanged); every wasm module embeds it.

#![expect(clippy::panic, reason = "a build script reports failure by panicking")]

use std::fmt::Write as _;
use std::path::PathBuf;

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || is_combining_mark(c)
}

/// `json` without white space outside strings.
fn minify(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            out.push(c);
        }
    }
    out
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=policy/default.json");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into()));
    let write = |name: &str, bytes: &[u8]| {
        std::fs::write(out.join(name), bytes)
            .unwrap_or_else(|e| panic!("cannot write {name}: {e}"));
    };

    let mut fold = Vec::new();
    let mut previous = 0x7f_u32;
    let mut marks: Vec<(u32, u32)> = Vec::new();
    for c in (0x80..=0x10_ffff_u32).filter_map(char::from_u32) {
        let n = u32::from(c);
        if is_combining_mark(c) {
            match marks.last_mut() {
                Some((_, hi)) if *hi + 1 == n => *hi = n,
                _ => marks.push((n, n)),
            }
        }
        let form: String = std::iter::once(c).nfkc().collect();
        if form.chars().eq(std::iter::once(c)) || (!is_word(c) && !form.chars().any(is_word)) {
            continue;
        }
        let mut delta = n - previous;
        previous = n;
        while delta >= 0x80 {
            fold.push(u8::try_from(delta & 0x7f).unwrap_or(0) | 0x80);
            delta >>= 7;
        }
        fold.push(u8::try_from(delta).unwrap_or(0));
        let bytes = form.as_bytes();
        fold.push(u8::try_from(bytes.len()).unwrap_or_else(|_| panic!("long form for {n:X}")));
        fold.extend_from_slice(bytes);
    }
    write("fold.bin", &fold);

    let mut rs = String::from("/// Combining marks (general category M), as inclusive ranges.\n");
    let _ = write!(rs, "const MARKS: [(u32, u32); {}] = [", marks.len());
    for (lo, hi) in &marks {
        let _ = write!(rs, "({lo:#x}, {hi:#x}),");
    }
    rs.push_str("];\n");
    write("marks.rs", rs.as_bytes());

    let mut rows: Vec<(&str, &str)> = entities::ENTITIES
        .iter()
        .map(|e| (e.entity.trim_start_matches('&'), e.characters))
        .collect();
    rows.sort_unstable();
    rows.dedup_by(|a, b| a.0 == b.0);
    let mut table = String::new();
    for (name, value) in rows {
        assert!(!name.contains(['\0', '\u{1}']) && !value.contains(['\0', '\u{1}']));
        let _ = write!(table, "{name}\0{value}\u{1}");
    }
    write("entities.bin", table.as_bytes());

    let policy = std::fs::read_to_string("policy/default.json")
        .unwrap_or_else(|e| panic!("cannot read policy/default.json: {e}"));
    write("default.min.json", minify(&policy).as_bytes());
}
