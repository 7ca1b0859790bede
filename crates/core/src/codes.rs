//! Code patterns and the matchers built from them.
//!
//! Read v2 codes are five characters, right-padded with dots (`43W7.`,
//! `62b..`); they are compared with the padding removed, so `43W7.` and
//! `43W7` are the same code. A trailing `%` (Appendix 1's notation) means
//! the code and every code below it in the hierarchy: a prefix match. A code
//! without `%` matches that code only, so `62b..` does not match `62b1.`.
//! Codes are case-sensitive, as Read codes are.

use crate::fasthash::FastMap;

/// The longest code a pattern may hold; Read, CTV3, SNOMED CT and EMIS
/// local codes are all far shorter.
pub const MAX_CODE_LEN: usize = 64;

/// Strips surrounding white space and Read v2 dot padding.
pub fn normalise(code: &str) -> &str {
    code.trim().trim_end_matches('.')
}

/// A parsed code pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CodePattern {
    /// This code only.
    Exact(String),
    /// This code and every code below it.
    Prefix(String),
}

/// Parses a code as written in a policy. Errors are messages for the policy
/// checker.
pub fn parse_pattern(raw: &str) -> Result<CodePattern, &'static str> {
    if raw.trim().is_empty() {
        return Err("empty code");
    }
    if raw.chars().any(char::is_whitespace) {
        return Err("code contains white space");
    }
    if raw.len() > MAX_CODE_LEN {
        return Err("code is longer than 64 characters");
    }
    match raw.find('%') {
        None => {
            let code = normalise(raw);
            if code.is_empty() {
                Err("code is only dot padding")
            } else {
                Ok(CodePattern::Exact(code.to_owned()))
            }
        }
        Some(at) if at + 1 == raw.len() => {
            let stem = raw.get(..at).map(normalise).unwrap_or_default();
            if stem.is_empty() {
                Err("`%` pattern with no stem would match every code")
            } else {
                Ok(CodePattern::Prefix(stem.to_owned()))
            }
        }
        Some(_) => Err("malformed `%` pattern: `%` may only end a code"),
    }
}

/// Matches codes against exact codes and prefix patterns, each carrying a
/// value (a category or code-set index). Built once per policy.
///
/// A prefix pattern only matches at the start of a code and codes are at
/// most [`MAX_CODE_LEN`] bytes, so the stems are a hash map too: a code is
/// looked up once whole and once per prefix no longer than the longest stem.
/// Building is a few hash inserts (no automaton), which keeps compiling a
/// policy, once per isolate, cheap.
#[derive(Debug, Clone, Default)]
pub struct CodeMatcher {
    exact: FastMap<String, Vec<u16>>,
    prefixes: FastMap<String, Vec<u16>>,
    /// The shortest and longest stem, in bytes (0 when there are none).
    stem_lens: (usize, usize),
}

impl CodeMatcher {
    /// Builds a matcher. Patterns must already be valid.
    pub fn build(patterns: impl IntoIterator<Item = (CodePattern, u16)>) -> Self {
        let mut exact: FastMap<String, Vec<u16>> = FastMap::default();
        let mut prefixes: FastMap<String, Vec<u16>> = FastMap::default();
        let mut stem_lens = (usize::MAX, 0);
        for (pattern, value) in patterns {
            let (map, code) = match pattern {
                CodePattern::Exact(code) => (&mut exact, code),
                CodePattern::Prefix(stem) => {
                    stem_lens = (stem_lens.0.min(stem.len()), stem_lens.1.max(stem.len()));
                    (&mut prefixes, stem)
                }
            };
            let values = map.entry(code).or_default();
            if !values.contains(&value) {
                values.push(value);
            }
        }
        if prefixes.is_empty() {
            stem_lens = (0, 0);
        }
        Self {
            exact,
            prefixes,
            stem_lens,
        }
    }

    /// Whether the matcher failed to build. It cannot (there is no automaton
    /// any more); kept so that policy checking keeps one shape.
    pub fn is_broken(&self) -> bool {
        false
    }

    /// The stems that are prefixes of `code`, shortest first.
    fn stems_of<'a>(&'a self, code: &'a str) -> impl Iterator<Item = &'a Vec<u16>> + 'a {
        let (min, max) = self.stem_lens;
        let lens = if self.prefixes.is_empty() {
            1..1
        } else {
            min.max(1)..max.min(code.len()).saturating_add(1)
        };
        lens.filter_map(move |n| code.get(..n).and_then(|stem| self.prefixes.get(stem)))
    }

    /// Adds the value of every pattern `code` matches to `out`: exact codes
    /// first, then stems from the shortest.
    pub fn matches_into(&self, code: &str, out: &mut Vec<u16>) {
        let code = normalise(code);
        if code.is_empty() {
            return;
        }
        let exact = self.exact.get(code).into_iter();
        for values in exact.chain(self.stems_of(code)) {
            for v in values {
                if !out.contains(v) {
                    out.push(*v);
                }
            }
        }
    }

    /// Whether `code` matches any pattern.
    pub fn is_match(&self, code: &str) -> bool {
        let code = normalise(code);
        if code.is_empty() {
            return false;
        }
        self.exact.contains_key(code) || self.stems_of(code).next().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> CodePattern {
        parse_pattern(s).unwrap()
    }

    #[test]
    fn parses_appendix_notation() {
        assert_eq!(p("43W7."), CodePattern::Exact("43W7".into()));
        assert_eq!(p("62b.."), CodePattern::Exact("62b".into()));
        assert_eq!(p("14OP"), CodePattern::Exact("14OP".into()));
        assert_eq!(p("43C%"), CodePattern::Prefix("43C".into()));
        assert_eq!(p("A9%"), CodePattern::Prefix("A9".into()));
        assert!(parse_pattern("").is_err());
        assert!(parse_pattern("%").is_err());
        assert!(parse_pattern("..%").is_err());
        assert!(parse_pattern("4%3").is_err());
        assert!(parse_pattern("43%%").is_err());
        assert!(parse_pattern("43 C").is_err());
        assert!(parse_pattern(".....").is_err());
    }

    #[test]
    fn exact_codes_ignore_padding_but_not_children() {
        let m = CodeMatcher::build([(p("62b.."), 1), (p("43W7."), 2)]);
        assert!(m.is_match("62b.."));
        assert!(m.is_match("62b"));
        assert!(!m.is_match("62b1."));
        assert!(!m.is_match("62B.."));
        assert!(m.is_match("43W7"));
        assert!(!m.is_match("43W"));
    }

    #[test]
    fn prefixes_match_children_only_at_the_start() {
        let m = CodeMatcher::build([(p("A9%"), 1), (p("A98%"), 2), (p("43C%"), 3)]);
        let mut out = Vec::new();
        m.matches_into("A981.", &mut out);
        out.sort_unstable();
        assert_eq!(out, vec![1, 2]);
        assert!(m.is_match("43C.."));
        assert!(m.is_match("43C1"));
        assert!(!m.is_match("X43C1"));
        assert!(!m.is_match("4"));
        assert!(!m.is_match("..."));
        // Overlapping stems, duplicates and exact codes: every value once,
        // exact first, then stems from the shortest.
        let m = CodeMatcher::build([
            (p("A98%"), 2),
            (p("A9%"), 1),
            (p("A981."), 4),
            (p("A9%"), 3),
            (p("A9812%"), 5),
        ]);
        let mut out = Vec::new();
        m.matches_into("A9812", &mut out);
        assert_eq!(out, vec![1, 3, 2, 5]);
        out.clear();
        m.matches_into("A981", &mut out);
        assert_eq!(out, vec![4, 1, 3, 2]);
        assert!(!m.is_match("A"));
        assert!(!CodeMatcher::build([]).is_match("A9"));
    }
}
