//! Code patterns and the matchers built from them.
//!
//! Read v2 codes are five characters, right-padded with dots (`43W7.`,
//! `62b..`); they are compared with the padding removed, so `43W7.` and
//! `43W7` are the same code. A trailing `%` (Appendix 1's notation) means
//! the code and every code below it in the hierarchy: a prefix match. A code
//! without `%` matches that code only, so `62b..` does not match `62b1.`.
//! Codes are case-sensitive, as Read codes are.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, Anchored, Input, MatchKind, StartKind};

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
#[derive(Debug, Clone, Default)]
pub struct CodeMatcher {
    exact: HashMap<String, Vec<u16>>,
    prefixes: Option<AhoCorasick>,
    prefix_values: Vec<u16>,
}

impl CodeMatcher {
    /// Builds a matcher. Patterns must already be valid.
    pub fn build(patterns: impl IntoIterator<Item = (CodePattern, u16)>) -> Self {
        let mut exact: HashMap<String, Vec<u16>> = HashMap::new();
        let mut stems = Vec::new();
        let mut prefix_values = Vec::new();
        for (pattern, value) in patterns {
            match pattern {
                CodePattern::Exact(code) => {
                    let values = exact.entry(code).or_default();
                    if !values.contains(&value) {
                        values.push(value);
                    }
                }
                CodePattern::Prefix(stem) => {
                    stems.push(stem);
                    prefix_values.push(value);
                }
            }
        }
        // A stem only matches at the start of a code: anchored searches for
        // a yes/no answer, unanchored overlapping ones filtered to offset 0
        // to list every matching stem (overlapping search cannot be anchored).
        let prefixes = if stems.is_empty() {
            None
        } else {
            AhoCorasickBuilder::new()
                .match_kind(MatchKind::Standard)
                .start_kind(StartKind::Both)
                .build(&stems)
                .ok()
        };
        Self {
            exact,
            prefixes,
            prefix_values,
        }
    }

    /// Whether the matcher failed to build its automaton even though it has
    /// prefix patterns (the caller treats that as an invalid policy).
    pub fn is_broken(&self) -> bool {
        self.prefixes.is_none() && !self.prefix_values.is_empty()
    }

    /// Adds the value of every pattern `code` matches to `out`.
    pub fn matches_into(&self, code: &str, out: &mut Vec<u16>) {
        let code = normalise(code);
        if code.is_empty() {
            return;
        }
        if let Some(values) = self.exact.get(code) {
            for v in values {
                if !out.contains(v) {
                    out.push(*v);
                }
            }
        }
        if let Some(ac) = &self.prefixes {
            if let Ok(iter) = ac.try_find_overlapping_iter(Input::new(code)) {
                for m in iter.filter(|m| m.start() == 0) {
                    if let Some(v) = self.prefix_values.get(m.pattern().as_usize()) {
                        if !out.contains(v) {
                            out.push(*v);
                        }
                    }
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
        if self.exact.contains_key(code) {
            return true;
        }
        self.prefixes.as_ref().is_some_and(|ac| {
            ac.try_find(Input::new(code).anchored(Anchored::Yes))
                .ok()
                .flatten()
                .is_some()
        })
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
    }
}
