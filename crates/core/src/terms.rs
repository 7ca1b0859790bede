//! Free-text terms: words and phrases that name an excluded category.
//!
//! Narrative, notes, `display` and `code.text`, decoded attachments and
//! HL7 v2 text can repeat what a code says. Every text is read through
//! [`crate::text`] (references decoded, NFKC, case folded, invisible
//! characters removed, words of any script), and the policy's terms are
//! normalised the same way when it is compiled. A term is found when its
//! words are consecutive words of the text, separated there by any run of
//! separators: `hiv` is found in "HIV viral load", "(HIV)" and "HIV’s",
//! but not in "archive"; `termination of pregnancy` across a line break.
//!
//! A byte trie of the terms is walked from word starts alone, so it needs
//! no failure links: building it is a few allocations per term. A walk
//! covers at most as many words as the longest term ([`MAX_TERM_LEN`]
//! bytes), so a scan is linear in the text.

/// The longest term a policy may list, in bytes once normalised. A scan
/// walks at most this many words from each word start, so it stays linear
/// in the text.
pub const MAX_TERM_LEN: usize = 128;

/// A compiled term list; each term carries a category index.
#[derive(Debug, Clone)]
pub struct TermMatcher {
    /// The node each lower-cased first byte leads to; 0 for none.
    first: Box<[u32; 256]>,
    nodes: Vec<Node>,
    /// Children of every node, each node's run sorted by byte.
    edges: Vec<(u8, u32)>,
    /// Categories of the terms that end at each node, in term order.
    categories: Vec<u16>,
}

/// A trie node: its run of `edges` and its run of `categories`.
#[derive(Debug, Clone, Copy, Default)]
struct Node {
    edges: (u32, u32),
    categories: (u32, u32),
}

impl Default for TermMatcher {
    fn default() -> Self {
        Self {
            first: Box::new([0; 256]),
            nodes: Vec::new(),
            edges: Vec::new(),
            categories: Vec::new(),
        }
    }
}

impl TermMatcher {
    /// Builds a matcher from (term, category) pairs. Terms must be non-empty
    /// and lower case; `None` if one is empty or the trie outgrows `u32`.
    pub fn build(terms: impl IntoIterator<Item = (String, u16)>) -> Option<Self> {
        // Node 0 is the root; children and categories per node, by index.
        let mut children: Vec<Vec<(u8, u32)>> = vec![Vec::new()];
        let mut ends: Vec<Vec<u16>> = vec![Vec::new()];
        for (term, category) in terms {
            if term.is_empty() {
                return None;
            }
            let mut node = 0usize;
            for &b in term.as_bytes() {
                let b = b.to_ascii_lowercase();
                let existing = children
                    .get(node)?
                    .iter()
                    .find(|(e, _)| *e == b)
                    .map(|(_, n)| *n);
                node = match existing {
                    Some(n) => usize::try_from(n).ok()?,
                    None => {
                        let n = children.len();
                        children.get_mut(node)?.push((b, u32::try_from(n).ok()?));
                        children.push(Vec::new());
                        ends.push(Vec::new());
                        n
                    }
                };
            }
            ends.get_mut(node)?.push(category);
        }

        let mut matcher = Self::default();
        for (node, (mut kids, cats)) in children.into_iter().zip(ends).enumerate() {
            kids.sort_unstable_by_key(|(b, _)| *b);
            if node == 0 {
                for (b, n) in &kids {
                    *matcher.first.get_mut(usize::from(*b))? = *n;
                }
            }
            let edges_from = u32::try_from(matcher.edges.len()).ok()?;
            matcher.edges.extend(kids);
            let cats_from = u32::try_from(matcher.categories.len()).ok()?;
            matcher.categories.extend(cats);
            matcher.nodes.push(Node {
                edges: (edges_from, u32::try_from(matcher.edges.len()).ok()?),
                categories: (cats_from, u32::try_from(matcher.categories.len()).ok()?),
            });
        }
        Some(matcher)
    }

    /// Adds the category of every term in `text` to `out`, in the order
    /// the terms end in each form of the text ([`crate::text::forms`]),
    /// longer first at the same end.
    pub fn find_into(&self, text: &str, out: &mut Vec<u16>) {
        crate::text::forms(text, &mut |bytes| self.walk(bytes, out));
    }

    /// Finds the terms in a text already in a scanned form: normalised, or
    /// plain ASCII (whose case it folds, and whose runs of bytes other than
    /// letters and digits it reads as one space).
    fn walk(&self, bytes: &[u8], out: &mut Vec<u16>) {
        // Each category's first match in text order, as (end, start, place
        // among the terms ending at that node): memory stays proportional
        // to the categories however often a term recurs. Empty, and so
        // never allocated, for the text that names nothing.
        let mut first: Vec<(u16, (usize, usize, usize))> = Vec::new();
        let mut after_word = false;
        for (start, &b) in bytes.iter().enumerate() {
            let word_starts_here = !after_word;
            after_word = is_word(b);
            if !word_starts_here || !after_word {
                continue;
            }
            let mut node = self
                .first
                .get(usize::from(b.to_ascii_lowercase()))
                .copied()
                .unwrap_or(0);
            let mut end = start + 1;
            while node != 0 {
                let Some(n) = self.nodes.get(node as usize) else {
                    break;
                };
                let next = bytes.get(end).copied();
                if n.categories.0 != n.categories.1 && !next.is_some_and(is_word) {
                    let cats = self
                        .categories
                        .get(n.categories.0 as usize..n.categories.1 as usize)
                        .unwrap_or_default();
                    for (place, c) in cats.iter().enumerate() {
                        let key = (end, start, place);
                        match first.iter_mut().find(|(seen, _)| seen == c) {
                            Some((_, k)) => *k = (*k).min(key),
                            None => first.push((*c, key)),
                        }
                    }
                }
                let Some(next) = next else { break };
                if is_word(next) {
                    node = self.child(n, next.to_ascii_lowercase()).unwrap_or(0);
                    end += 1;
                } else {
                    // A run of separators is the one space between a
                    // term's words.
                    node = self.child(n, b' ').unwrap_or(0);
                    while bytes.get(end).is_some_and(|b| !is_word(*b)) {
                        end += 1;
                    }
                }
            }
        }
        first.sort_unstable_by_key(|(_, key)| *key);
        for (c, _) in first {
            if !out.contains(&c) {
                out.push(c);
            }
        }
    }

    fn child(&self, node: &Node, b: u8) -> Option<u32> {
        self.edges
            .get(node.edges.0 as usize..node.edges.1 as usize)?
            .iter()
            .find(|(e, _)| *e == b)
            .map(|(_, n)| *n)
    }

    /// Whether any term occurs in `text` as a whole word.
    pub fn is_match(&self, text: &str) -> bool {
        let mut out = Vec::new();
        self.find_into(text, &mut out);
        !out.is_empty()
    }
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn matcher(terms: &[(&str, u16)]) -> TermMatcher {
        TermMatcher::build(terms.iter().map(|(t, c)| (crate::text::normalise(t), *c))).unwrap()
    }

    #[test]
    fn whole_words_any_case_any_separator() {
        let m = matcher(&[("hiv", 0), ("termination of pregnancy", 1)]);
        let mut out = Vec::new();
        m.find_into("HIV viral load", &mut out);
        assert_eq!(out, vec![0]);
        assert!(m.is_match("<div>Result: (hiv) negative</div>"));
        assert!(m.is_match("hiv-1 antibody"));
        assert!(!m.is_match("archive of notes"));
        assert!(!m.is_match("shivering"));
        assert!(!m.is_match("hivé"));
        assert!(m.is_match("History: Termination of pregnancy"));
        assert!(m.is_match("History: Termination  of\n pregnancy"));
        assert!(m.is_match("termination\u{a0}of\u{2009}pregnancy"));
        assert!(m.is_match("Had a “termination of pregnancy”"));
        assert!(!m.is_match("termination of pregnancyx"));
        assert!(!m.is_match("terminationof pregnancy"));
        assert!(!m.is_match(""));
        assert!(!TermMatcher::default().is_match("hiv"));
    }

    #[test]
    fn the_reported_notes_are_found() {
        let m = matcher(&[("hiv", 0), ("termination of pregnancy", 1)]);
        for note in [
            "Patient is “HIV” positive",
            "Discussed HIV’s implications",
            "HIV\u{a0}positive",
            "HIV—positive",
            "Had a “termination of pregnancy”",
            "Had a termination\nof pregnancy",
            "termination\tof  pregnancy",
        ] {
            assert!(m.is_match(note), "{note:?}");
        }
    }

    #[test]
    fn terms_written_with_unusual_characters_match_their_plain_form() {
        let m = matcher(&[
            ("HTLV\u{2011}III", 0),
            ("gender\u{a0}identity clinic", 1),
            ("ＩＶＦ", 2),
        ]);
        assert!(m.is_match("htlv-iii"));
        assert!(m.is_match("Gender identity\nclinic"));
        assert!(m.is_match("IVF cycle"));
    }

    #[test]
    fn nested_and_shared_terms_report_every_category_in_end_order() {
        let m = matcher(&[("hiv", 0), ("hiv test", 1), ("test", 2), ("hiv", 3)]);
        let mut out = Vec::new();
        m.find_into("an HIV test", &mut out);
        assert_eq!(out, vec![0, 3, 1, 2]);
    }

    #[test]
    fn an_empty_term_is_refused() {
        assert!(TermMatcher::build([(String::new(), 0)]).is_none());
    }

    /// A reading of the rule written apart from the trie: the term's words
    /// are consecutive words of the normalised text.
    fn oracle(terms: &[(String, u16)], text: &str) -> Vec<u16> {
        let words: Vec<String> = crate::text::normalise(text)
            .split(' ')
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect();
        let mut out = Vec::new();
        for (t, c) in terms {
            let tw: Vec<&str> = t.split(' ').collect();
            if words.windows(tw.len()).any(|w| w == tw.as_slice()) && !out.contains(c) {
                out.push(*c);
            }
        }
        out.sort_unstable();
        out
    }

    fn words() -> impl Strategy<Value = String> {
        proptest::string::string_regex("[abAB é(\u{a0}\u{200b}’—-]{1,8}").unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]
        #[test]
        fn agrees_with_consecutive_words(
            terms in proptest::collection::vec((words(), 0u16..4), 1..8),
            texts in proptest::collection::vec(words(), 1..12),
        ) {
            let terms: Vec<(String, u16)> = terms
                .into_iter()
                .map(|(t, c)| (crate::text::normalise(&t), c))
                .filter(|(t, _)| !t.is_empty())
                .collect();
            prop_assume!(!terms.is_empty());
            let text = texts.concat();
            let m = TermMatcher::build(terms.clone()).unwrap();
            let mut out = Vec::new();
            m.find_into(&text, &mut out);
            out.sort_unstable();
            out.dedup();
            prop_assert_eq!(out, oracle(&terms, &text));
        }
    }
}
