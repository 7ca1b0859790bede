//! Classification: which rule an entry matches, the care setting it came
//! from, the organisation that holds it, and the codes it carries.
//!
//! The setting is read, in order, from:
//! 1. a `meta.tag` whose system is the policy's `settings.tag_system` (the
//!    code is a setting id);
//! 2. `meta.source`, by the policy's `settings.sources` prefixes;
//! 3. the type of the author organisation (`recorder`, `asserter`,
//!    `performer`, `author`, `serviceProvider`, `requester`, `custodian`,
//!    ...), resolved inside the bundle or `contained`;
//! 4. the request's default setting (what the origin system is).
//!
//! An entry with no setting still matches rules that do not ask for one.

use std::collections::HashMap;

use crate::json::{Map, Value};

use crate::policy::{Outcome, Policy, Rule, SecurityAction};

/// Elements that name the organisation or person responsible for an entry.
const AUTHOR_ELEMENTS: &[&str] = &[
    "recorder",
    "asserter",
    "performer",
    "author",
    "serviceProvider",
    "requester",
    "informationSource",
    "organization",
    "custodian",
    "managingOrganization",
    "source",
    "sender",
    "participant",
];

/// A coding seen in a resource: system (if any) and code.
pub(crate) type Coding<'a> = (Option<&'a str>, &'a str);

/// Resources of a document, addressable by reference.
#[derive(Debug, Default)]
pub(crate) struct Index<'a> {
    by_ref: HashMap<String, usize>,
    resources: Vec<Option<&'a Map<'a>>>,
}

impl<'a> Index<'a> {
    pub(crate) fn new(entries: &[crate::decide::EntryView<'a>]) -> Self {
        let mut index = Index::default();
        for (i, e) in entries.iter().enumerate() {
            index.resources.push(e.resource);
            if let Some(r) = &e.reference {
                index.by_ref.entry(r.clone()).or_insert(i);
            }
            if let Some(u) = e.full_url {
                index.by_ref.entry(u.to_owned()).or_insert(i);
            }
        }
        index
    }

    pub(crate) fn position(&self, reference: &str) -> Option<usize> {
        self.by_ref
            .get(reference)
            .or_else(|| normalise_reference(reference).and_then(|r| self.by_ref.get(r)))
            .copied()
    }

    fn resolve(&self, reference: &str, holder: &'a Map<'a>) -> Option<&'a Map<'a>> {
        if let Some(local) = reference.strip_prefix('#') {
            return holder
                .get("contained")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_object)
                .find(|c| c.get("id").and_then(Value::as_str) == Some(local));
        }
        self.position(reference)
            .and_then(|i| self.resources.get(i).copied().flatten())
    }
}

/// `http://host/fhir/Type/id` and `Type/id/_history/2` to `Type/id`.
pub(crate) fn normalise_reference(reference: &str) -> Option<&str> {
    let trimmed = match reference.find("/_history/") {
        Some(at) => reference.get(..at)?,
        None => reference,
    };
    let mut parts = trimmed.rsplitn(3, '/');
    let id = parts.next()?;
    let rtype = parts.next()?;
    if id.is_empty() || !rtype.chars().next().is_some_and(|c| c.is_ascii_uppercase()) {
        return None;
    }
    let start = trimmed.len().checked_sub(id.len() + rtype.len() + 1)?;
    trimmed.get(start..)
}

/// What in a resource names an exclusion category.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sensitivity {
    /// Categories of codes.
    pub(crate) codes: Vec<u16>,
    /// Categories of terms in free text.
    pub(crate) text: Vec<u16>,
    /// Categories from security labels.
    pub(crate) labels: Vec<u16>,
    /// A label that withholds from everyone.
    pub(crate) withhold_label: bool,
    /// A label that withholds from online viewing.
    pub(crate) not_online: bool,
}

/// Decodes standard or URL-safe base64, ignoring white space. `None` if it
/// is not base64.
pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for b in text.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            b' ' | b'\n' | b'\r' | b'\t' => continue,
            _ => return None,
        };
        acc = ((acc << 6) | u32::from(v)) & 0xffff;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

/// What classification found out about one entry.
#[derive(Debug, Clone, Default)]
pub(crate) struct Classified {
    pub(crate) rule: Option<usize>,
    pub(crate) setting: Option<usize>,
    /// The organisation whose system recorded the entry, never a party
    /// named inside it.
    pub(crate) holder: Option<String>,
}

impl Policy {
    pub(crate) fn classify(
        &self,
        res: &Map,
        holder: &Map,
        index: &Index<'_>,
        default_setting: Option<usize>,
    ) -> Classified {
        let rtype = res
            .get("resourceType")
            .and_then(Value::as_str)
            .unwrap_or("");
        let setting = self.tagged_setting(res).unwrap_or_else(|| {
            self.source_setting(res)
                .or_else(|| self.organisation_setting(res, holder, index))
                .or(default_setting)
        });
        let candidates = self
            .rules_by_type
            .get(rtype)
            .unwrap_or(&self.rules_any_type);
        let rule = candidates.iter().copied().find(|&i| {
            self.rules
                .get(i)
                .is_some_and(|r| self.rule_matches(r, res, rtype, setting))
        });
        Classified {
            rule,
            setting,
            holder: self.holding_organisation(res),
        }
    }

    /// The organisation that holds an entry, as the entry's own metadata or
    /// the policy's source map say (the origin's organisation is the
    /// caller's to supply for the rest).
    fn holding_organisation(&self, res: &Map) -> Option<String> {
        let own = &self.document.own_organisation;
        let meta = res.get("meta");
        if let Some(system) = &own.holder_tag_system {
            let tagged = meta
                .and_then(|m| m.get("tag"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|t| t.get("system").and_then(Value::as_str) == Some(system.as_str()));
            if let Some(t) = tagged {
                return t.get("code").and_then(Value::as_str).map(str::to_owned);
            }
        }
        if let Some(url) = &own.holder_extension {
            let ext = res
                .get("extension")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|e| e.get("url").and_then(Value::as_str) == Some(url.as_str()));
            if let Some(e) = ext {
                let value = e
                    .get("valueIdentifier")
                    .or_else(|| e.get("valueReference").and_then(|r| r.get("identifier")))
                    .and_then(|i| i.get("value"))
                    .or_else(|| e.get("valueCode"))
                    .and_then(Value::as_str);
                return value.map(str::to_owned);
            }
        }
        let source = meta.and_then(|m| m.get("source")).and_then(Value::as_str)?;
        own.sources
            .iter()
            .find(|s| source.starts_with(s.prefix.as_str()))
            .map(|s| s.organisation.clone())
    }

    /// `Some(None)` when a setting tag is present but names no known setting.
    fn tagged_setting(&self, res: &Map) -> Option<Option<usize>> {
        let system = &self.document.settings.tag_system;
        let tags = res
            .get("meta")
            .and_then(|m| m.get("tag"))
            .and_then(Value::as_array)?;
        tags.iter()
            .find(|t| t.get("system").and_then(Value::as_str) == Some(system.as_str()))
            .map(|t| {
                t.get("code")
                    .and_then(Value::as_str)
                    .and_then(|c| self.setting_index(c))
            })
    }

    fn source_setting(&self, res: &Map) -> Option<usize> {
        let source = res
            .get("meta")
            .and_then(|m| m.get("source"))
            .and_then(Value::as_str)?;
        self.sources
            .iter()
            .find(|(prefix, _)| source.starts_with(prefix.as_str()))
            .map(|(_, s)| *s)
    }

    /// The care setting of the first organisation among the entry's
    /// authors whose type the policy maps to one.
    fn organisation_setting(&self, res: &Map, holder: &Map, index: &Index<'_>) -> Option<usize> {
        let mut refs = Vec::new();
        for key in AUTHOR_ELEMENTS {
            if let Some(v) = res.get(key) {
                collect_references(v, &mut refs);
            }
        }
        refs.into_iter().find_map(|r| {
            let target = r.get("reference").and_then(Value::as_str)?;
            let org = index.resolve(target, holder)?;
            if org.get("resourceType").and_then(Value::as_str) != Some("Organization") {
                return None;
            }
            let mut codings = Vec::new();
            codings_of(org.get("type")?, &mut codings);
            codings.iter().find_map(|(sys, code)| {
                sys.and_then(|s| {
                    self.org_types
                        .get(&(s.to_owned(), (*code).to_owned()))
                        .copied()
                })
            })
        })
    }

    fn rule_matches(&self, rule: &Rule, res: &Map, rtype: &str, setting: Option<usize>) -> bool {
        if let Some(types) = &rule.resource_types {
            if !types.contains(rtype) {
                return false;
            }
        }
        if !rule.settings.is_empty() && !setting.is_some_and(|s| rule.settings.contains(&s)) {
            return false;
        }
        if !rule.statuses.is_empty() {
            let status = res.get("status").and_then(Value::as_str);
            if !status.is_some_and(|s| rule.statuses.iter().any(|x| x == s)) {
                return false;
            }
        }
        if !rule.elements.is_empty() && !rule.elements.iter().any(|e| has_element(res, e)) {
            return false;
        }
        let cl = &self.document.classification;
        if !rule.codes.is_empty() && !self.any_in_sets(res, &cl.code_elements, &rule.codes) {
            return false;
        }
        if !rule.categories.is_empty()
            && !self.any_in_sets(res, &cl.category_elements, &rule.categories)
        {
            return false;
        }
        if !rule.tags.is_empty() {
            let mut codings = Vec::new();
            if let Some(tags) = res.get("meta").and_then(|m| m.get("tag")) {
                codings_of(tags, &mut codings);
            }
            if !self.codings_in_sets(&codings, &rule.tags) {
                return false;
            }
        }
        true
    }

    fn any_in_sets(&self, res: &Map, elements: &[String], sets: &[usize]) -> bool {
        let mut codings = Vec::new();
        for e in elements {
            if let Some(v) = res.get(e) {
                codings_of(v, &mut codings);
            }
        }
        self.codings_in_sets(&codings, sets)
    }

    fn codings_in_sets(&self, codings: &[Coding<'_>], sets: &[usize]) -> bool {
        sets.iter()
            .filter_map(|i| self.code_sets.get(*i))
            .any(|set| {
                codings
                    .iter()
                    .any(|(system, code)| set.contains(*system, code))
            })
    }

    pub(crate) fn outcome(&self, rule: usize) -> Option<&Outcome> {
        self.rules.get(rule).map(|r| &r.outcome)
    }

    pub(crate) fn rule_id(&self, rule: usize) -> Option<&str> {
        self.rules.get(rule).map(|r| r.id.as_str())
    }

    /// Everything in a resource that names an exclusion category: codes
    /// anywhere (codings, `code` elements, extensions, components), terms in
    /// free text (narrative, notes, `display`, `text`, decoded attachments)
    /// and `meta.security` labels. Contained resources are judged on their own.
    pub(crate) fn sensitivity(&self, res: &Map) -> Sensitivity {
        let mut s = Sensitivity::default();
        for label in res
            .get("meta")
            .and_then(|m| m.get("security"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let system = label.get("system").and_then(Value::as_str).unwrap_or("");
            let code = label.get("code").and_then(Value::as_str).unwrap_or("");
            match self
                .security_labels
                .get(&(system.to_owned(), code.to_owned()))
            {
                Some(SecurityAction::Category(c)) => s.labels.push(*c),
                Some(SecurityAction::Withhold) => s.withhold_label = true,
                Some(SecurityAction::NotOnline) => s.not_online = true,
                None => {}
            }
        }
        let mut stack: Vec<(&str, &Value, &Map)> = res
            .iter()
            .filter(|(k, _)| *k != "contained")
            .map(|(k, v)| (k, v, res))
            .collect();
        while let Some((key, value, parent)) = stack.pop() {
            match value {
                Value::String(text) => self.scan_string(key, text, parent, &mut s),
                Value::Object(child) => stack.extend(child.iter().map(|(k, v)| (k, v, child))),
                Value::Array(items) => stack.extend(items.iter().map(|v| (key, v, parent))),
                _ => {}
            }
        }
        s.codes.sort_unstable();
        s.codes.dedup();
        s.text.sort_unstable();
        s.text.dedup();
        s
    }

    fn scan_string(&self, key: &str, text: &str, parent: &Map, s: &mut Sensitivity) {
        match key {
            "code" => {
                let system = parent.get("system").and_then(Value::as_str);
                self.match_exclusion(system, text, &mut s.codes);
            }
            "valueCode" => self.match_exclusion(None, text, &mut s.codes),
            "data"
                if parent.contains_key("contentType") || parent.get("resourceType").is_some() =>
            {
                if let Some(decoded) = decode_base64(text) {
                    self.terms
                        .find_into(&String::from_utf8_lossy(&decoded), &mut s.text);
                }
            }
            _ if self.skip_text.contains(key) => {}
            _ => self.terms.find_into(text, &mut s.text),
        }
    }
}

fn has_element(res: &Map, element: &str) -> bool {
    match element.strip_prefix("extension:") {
        Some(url) => res
            .get("extension")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|e| e.get("url").and_then(Value::as_str) == Some(url)),
        None => res.get(element).is_some_and(|v| !v.is_null()),
    }
}

/// References directly in `v`, in arrays of them, or one level down in a
/// wrapper such as `{"actor": Reference}` or STU3's `{"agent": Reference}`.
fn collect_references<'a>(v: &'a Value<'a>, out: &mut Vec<&'a Map<'a>>) {
    let mut stack = vec![(v, 0u8)];
    while let Some((v, depth)) = stack.pop() {
        match v {
            Value::Array(items) if depth < 3 => stack.extend(items.iter().map(|i| (i, depth + 1))),
            Value::Object(m) if m.contains_key("reference") || m.contains_key("identifier") => {
                out.push(m)
            }
            Value::Object(m) if depth < 2 => stack.extend(m.values().map(|i| (i, depth + 1))),
            _ => {}
        }
    }
}

/// Codings in a CodeableConcept, a Coding, or arrays of either.
pub(crate) fn codings_of<'a>(v: &'a Value<'a>, out: &mut Vec<Coding<'a>>) {
    match v {
        Value::Array(items) => {
            for item in items {
                if let Value::Object(_) = item {
                    codings_of_object(item, out);
                }
            }
        }
        Value::Object(_) => codings_of_object(v, out),
        _ => {}
    }
}

fn codings_of_object<'a>(v: &'a Value<'a>, out: &mut Vec<Coding<'a>>) {
    if let Some(code) = v.get("code").and_then(Value::as_str) {
        out.push((v.get("system").and_then(Value::as_str), code));
    }
    for c in v
        .get("coding")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(code) = c.get("code").and_then(Value::as_str) {
            out.push((c.get("system").and_then(Value::as_str), code));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::normalise_reference;

    #[test]
    fn references_normalise_to_type_and_id() {
        assert_eq!(normalise_reference("Condition/1"), Some("Condition/1"));
        assert_eq!(
            normalise_reference("http://h/fhir/Condition/1"),
            Some("Condition/1")
        );
        assert_eq!(
            normalise_reference("Condition/1/_history/3"),
            Some("Condition/1")
        );
        assert_eq!(normalise_reference("urn:uuid:abc"), None);
        assert_eq!(normalise_reference("#x"), None);
    }
}
