//! Compiling and checking a policy document.
//!
//! [`Policy::from_json`] validates everything it can and reports every
//! problem with its JSON path; a policy that compiles has every reference
//! resolved, every code pattern parsed and every automaton built, so a
//! request only walks data.

use std::collections::{HashMap, HashSet};

use crate::fasthash::{FastMap, FastSet};

use serde_json::Value;

use crate::canonical::content_hash;
use crate::codes::{parse_pattern, CodeMatcher, CodePattern};
use crate::document::{MatchDef, PolicyDocument, ProfilePropertiesDef};
use crate::error::{PolicyError, Problem};
use crate::segment::{Placement, Segment};
use crate::terms::TermMatcher;

/// The default policy: the iLINKS framework as published.
/// (`policy/default.json`, white space between tokens removed at build
/// time.)
pub const DEFAULT_POLICY_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/default.min.json"));

/// The content hash of [`DEFAULT_POLICY_JSON`], fixed here so that building
/// the default policy (once per isolate, on the start-up path) need not
/// canonicalise and hash the whole document. A test recomputes it; when the
/// default policy changes, that test prints the new value.
pub const DEFAULT_POLICY_HASH: &str =
    "sha256:27dca1c0ee7deda2db14c51f62d0e335cef8df0b99d775059f15838148dd25ea";

/// Which rules can match each resource type (see `Policy::rules_by_type`).
fn rules_by_type(rules: &[Rule]) -> (FastMap<String, Vec<usize>>, Vec<usize>) {
    let any: Vec<usize> = rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.resource_types.is_none())
        .map(|(i, _)| i)
        .collect();
    let mut by_type: FastMap<String, Vec<usize>> = FastMap::default();
    for t in rules
        .iter()
        .filter_map(|r| r.resource_types.as_ref())
        .flatten()
    {
        by_type.entry(t.clone()).or_insert_with(|| {
            rules
                .iter()
                .enumerate()
                .filter(|(_, r)| r.resource_types.as_ref().is_none_or(|ts| ts.contains(t)))
                .map(|(i, _)| i)
                .collect()
        });
    }
    (by_type, any)
}

/// A role or service profile, compiled: the highest tier per segment.
#[derive(Debug, Clone)]
pub struct Profile {
    pub id: String,
    pub name: String,
    /// Indexed by segment; 0 means no access (`X`).
    pub grants: Vec<u8>,
    /// What differs besides tiers (own record, online viewing).
    pub properties: ProfilePropertiesDef,
}

impl Profile {
    /// The highest tier granted in `segment`, 0 for none.
    pub fn grant(&self, segment: usize) -> u8 {
        self.grants.get(segment).copied().unwrap_or(0)
    }

    /// Whether this profile may see `placement` by tier alone.
    pub fn reaches(&self, placement: Placement) -> bool {
        placement.tier >= 1 && self.grant(usize::from(placement.segment)) >= placement.tier
    }
}

/// One content line of tables 1-4, compiled.
#[derive(Debug, Clone)]
pub struct Content {
    pub id: String,
    /// Position in the document's `content` list.
    pub index: usize,
    pub label: String,
    pub placement: Placement,
}

/// A part of the record a patient may grant to a proxy, compiled.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProxyScope {
    pub id: String,
    pub display: String,
    /// Content line ids, in document order of the scope.
    pub content: Vec<String>,
    /// Actions the scope permits.
    pub permits: Vec<String>,
    /// Indices of the content lines.
    #[serde(skip)]
    pub(crate) content_ix: Vec<usize>,
}

/// A named code set, compiled per code system.
#[derive(Debug, Clone)]
pub(crate) struct CodeSet {
    pub(crate) by_system: FastMap<String, CodeMatcher>,
}

impl CodeSet {
    pub(crate) fn contains(&self, system: Option<&str>, code: &str) -> bool {
        system
            .and_then(|s| self.by_system.get(s))
            .is_some_and(|m| m.is_match(code))
    }
}

/// What a classification rule does with the entries it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Place the entry in these content items.
    Place(Vec<usize>),
    /// Shared only when a shared entry refers to it.
    Dependent,
    /// Shared only when everything it is about is shared.
    About,
    /// A list of other entries: shared when one of them is, without the rest.
    Container,
    /// Not placed by the framework yet: withheld from everyone but the
    /// person.
    Withhold,
}

#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub(crate) id: String,
    /// `None` matches every resource type.
    pub(crate) resource_types: Option<FastSet<String>>,
    pub(crate) settings: Vec<usize>,
    pub(crate) codes: Vec<usize>,
    pub(crate) categories: Vec<usize>,
    pub(crate) tags: Vec<usize>,
    pub(crate) statuses: Vec<String>,
    pub(crate) elements: Vec<String>,
    pub(crate) outcome: Outcome,
}

#[derive(Debug, Clone)]
pub(crate) struct Lift {
    pub(crate) grant: Placement,
    /// The content lines placed at `grant`: a content-scoped permit counts
    /// for the lift only through one of them.
    pub(crate) grant_content: Vec<usize>,
    /// `None` lifts every category.
    pub(crate) categories: Option<Vec<u16>>,
}

impl Lift {
    pub(crate) fn covers(&self, category: u16) -> bool {
        self.categories
            .as_ref()
            .is_none_or(|list| list.contains(&category))
    }
}

/// A compiled, validated policy. Build it once per process or isolate.
#[derive(Debug, Clone)]
pub struct Policy {
    pub(crate) document: PolicyDocument,
    pub(crate) hash: String,
    pub(crate) segments: Vec<Segment>,
    pub(crate) content: Vec<Content>,
    pub(crate) profiles: HashMap<String, Profile>,
    pub(crate) profile_order: Vec<String>,
    pub(crate) job_roles: HashMap<String, String>,
    pub(crate) settings: Vec<String>,
    pub(crate) org_types: FastMap<(String, String), usize>,
    pub(crate) sources: Vec<(String, usize)>,
    pub(crate) code_sets: Vec<CodeSet>,
    pub(crate) rules: Vec<Rule>,
    /// For each resource type a rule names, the rules that can match it
    /// (naming it, or any type), in order; for other types, `rules_any_type`.
    pub(crate) rules_by_type: FastMap<String, Vec<usize>>,
    pub(crate) rules_any_type: Vec<usize>,
    pub(crate) exclusion_systems: FastSet<String>,
    pub(crate) exclusion_matcher: CodeMatcher,
    /// Category codelists by code system: they match only that system
    /// (and codings with no system, when the policy says so).
    pub(crate) exclusion_codelists: FastMap<String, CodeMatcher>,
    pub(crate) categories: Vec<String>,
    /// For each category, the segment indices it is limited to (`None`:
    /// every segment).
    pub(crate) category_segments: Vec<Option<Vec<usize>>>,
    pub(crate) lifts: Vec<Lift>,
    pub(crate) terms: TermMatcher,
    pub(crate) mask_free_text: bool,
    pub(crate) skip_text: FastSet<String>,
    pub(crate) security_labels: FastMap<(String, String), SecurityAction>,
    pub(crate) hl7: Hl7Rules,
    pub(crate) audit: crate::audit::AuditRules,
    pub(crate) proxy_scopes: Vec<ProxyScope>,
    pub(crate) age_bands: Vec<crate::proxy::AgeBand>,
    /// Placements (from their tier up) that need an individual approval.
    pub(crate) approval_required: Vec<Placement>,
}

/// What a `meta.security` label does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SecurityAction {
    Category(u16),
    Withhold,
    /// Withheld from profiles that read the record online.
    NotOnline,
}

/// One message type rule: code, trigger events, content line, and an
/// optional (code set, content line) for messages whose orders are all in it.
pub(crate) type Hl7Type = (String, Vec<String>, usize, Option<(usize, usize)>);

/// HL7 v2 rules, compiled.
#[derive(Debug, Clone, Default)]
pub(crate) struct Hl7Rules {
    pub(crate) types: Vec<Hl7Type>,
    pub(crate) systems: HashMap<String, String>,
    pub(crate) coded: HashMap<String, Vec<usize>>,
    pub(crate) known: HashSet<String>,
    pub(crate) renumber: HashSet<String>,
}

impl Policy {
    /// Compiles the embedded default policy.
    pub fn default_policy() -> Result<Self, PolicyError> {
        // The hash is fixed at build time.
        Self::compile_text(DEFAULT_POLICY_JSON, DEFAULT_POLICY_HASH.to_owned())
    }

    /// Parses, validates and compiles a policy document.
    pub fn from_json(bytes: &[u8]) -> Result<Self, PolicyError> {
        let value = Self::parse(bytes)?;
        let text =
            std::str::from_utf8(bytes).map_err(|_| PolicyError::at_root("not UTF-8".to_owned()))?;
        Self::compile_text(text, content_hash(&value))
    }

    fn parse(bytes: &[u8]) -> Result<Value, PolicyError> {
        serde_json::from_slice(bytes).map_err(|e| {
            PolicyError::at_root(format!(
                "not valid JSON at line {}, column {}",
                e.line(),
                e.column()
            ))
        })
    }

    /// Validates and compiles a parsed policy document.
    pub fn from_value(value: Value) -> Result<Self, PolicyError> {
        let hash = content_hash(&value);
        Self::compile_text(&value.to_string(), hash)
    }

    fn compile_text(text: &str, hash: String) -> Result<Self, PolicyError> {
        let document: PolicyDocument = crate::shape::from_str(text).map_err(|e| PolicyError {
            problems: vec![Problem::new(e.path, e.message)],
        })?;
        Compiler::default().compile(document, hash)
    }

    /// The content hash (`sha256:` + hex) of the canonical document.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The document this policy was compiled from.
    pub fn document(&self) -> &PolicyDocument {
        &self.document
    }

    /// Segments, in document order.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Content lines, in document order.
    pub fn content(&self) -> &[Content] {
        &self.content
    }

    /// A profile by id.
    pub fn profile(&self, id: &str) -> Option<&Profile> {
        self.profiles.get(id)
    }

    /// The profile a national job-role code maps to, if the policy maps it.
    pub fn profile_for_job_role(&self, code: &str) -> Option<&str> {
        self.job_roles.get(code).map(String::as_str)
    }

    /// Profiles in document order.
    pub fn profiles(&self) -> impl Iterator<Item = &Profile> {
        self.profile_order
            .iter()
            .filter_map(|id| self.profiles.get(id))
    }

    /// Proxy scopes, in document order.
    pub fn proxy_scopes(&self) -> &[ProxyScope] {
        &self.proxy_scopes
    }

    /// A proxy scope by id.
    pub fn proxy_scope(&self, id: &str) -> Option<&ProxyScope> {
        self.proxy_scopes.iter().find(|s| s.id == id)
    }

    /// The scopes of a proxy grant in force on `now` for a patient born on
    /// `birth_date` (the Patient's FHIR `birthDate`): the granted scopes
    /// that the patient's age band gives, counting the person's agreement
    /// (`agreed`: when they made, renewed or agreed to the grant) only if
    /// it was on or after the day they reached that band. A partial birth
    /// date counts every band it may fall in and the latest day it may have
    /// been reached; no birth date counts every band. Without age bands in
    /// the policy, the grant as made.
    pub fn proxy_scopes_at(
        &self,
        granted: &[String],
        agreed: Option<time::OffsetDateTime>,
        birth_date: Option<&str>,
        now: time::OffsetDateTime,
    ) -> Vec<String> {
        crate::proxy::scopes_at(&self.age_bands, granted, agreed, birth_date, now)
    }

    /// Whether any of the granted `scopes` permits `action` (`book`,
    /// `manage-sharing`, `view-access-log`). Fail closed: an unknown scope
    /// id permits nothing.
    pub fn scope_permits(&self, scopes: &[String], action: &str) -> bool {
        scopes
            .iter()
            .filter_map(|id| self.proxy_scope(id))
            .any(|s| s.permits.iter().any(|p| p == action))
    }

    /// The content line indices the granted `scopes` cover. `Err` names the
    /// first scope id the policy does not define.
    pub(crate) fn scope_content(&self, scopes: &[String]) -> Result<HashSet<usize>, String> {
        let mut out = HashSet::new();
        for id in scopes {
            let scope = self.proxy_scope(id).ok_or_else(|| id.clone())?;
            out.extend(scope.content_ix.iter().copied());
        }
        Ok(out)
    }

    /// The audit rules, compiled.
    pub fn audit_rules(&self) -> &crate::audit::AuditRules {
        &self.audit
    }

    /// A segment's index by id.
    pub fn segment_index(&self, id: &str) -> Option<usize> {
        self.segments.iter().position(|s| s.id == id)
    }

    /// Exclusion category ids, in document order.
    /// Drops the categories limited to segments none of `placements` is in.
    /// An entry with no placement keeps them all (fail closed).
    pub(crate) fn keep_applicable(&self, categories: &mut Vec<u16>, placements: &[Placement]) {
        if placements.is_empty() {
            return;
        }
        categories.retain(|c| match self.category_segments.get(usize::from(*c)) {
            Some(Some(segments)) => placements
                .iter()
                .any(|p| segments.contains(&usize::from(p.segment))),
            _ => true,
        });
    }

    pub(crate) fn category_index(&self, id: &str) -> Option<u16> {
        self.categories
            .iter()
            .position(|c| c == id)
            .and_then(|i| u16::try_from(i).ok())
    }

    pub fn exclusion_categories(&self) -> &[String] {
        &self.categories
    }

    /// The exclusion categories a code belongs to (empty if none). Codes
    /// from systems outside the policy's exclusion systems never match;
    /// a code with no system matches when the policy says so.
    pub fn exclusion_categories_of(&self, system: Option<&str>, code: &str) -> Vec<&str> {
        let mut hits = Vec::new();
        self.match_exclusion(system, code, &mut hits);
        hits.iter()
            .filter_map(|i| self.categories.get(usize::from(*i)).map(String::as_str))
            .collect()
    }

    pub(crate) fn match_exclusion(&self, system: Option<&str>, code: &str, out: &mut Vec<u16>) {
        let applies = match system {
            Some(s) => self.exclusion_systems.contains(s),
            None => self.document.exclusions.match_codes_without_system,
        };
        if applies {
            self.exclusion_matcher.matches_into(code, out);
        }
        match system {
            Some(s) => {
                if let Some(m) = self.exclusion_codelists.get(s) {
                    m.matches_into(code, out);
                }
            }
            None if self.document.exclusions.match_codes_without_system => {
                for m in self.exclusion_codelists.values() {
                    m.matches_into(code, out);
                }
            }
            None => {}
        }
    }

    /// The exclusion categories whose terms occur in `text` (whole words,
    /// any case).
    pub fn term_categories_of(&self, text: &str) -> Vec<&str> {
        let mut hits = Vec::new();
        self.terms.find_into(text, &mut hits);
        hits.iter()
            .filter_map(|i| self.categories.get(usize::from(*i)).map(String::as_str))
            .collect()
    }

    /// A segment id and tier of this policy as a placement.
    pub fn placement(&self, segment: &str, tier: u8) -> Option<Placement> {
        let si = self.segments.iter().position(|s| s.id == segment)?;
        let tiers = self.segments.get(si).map_or(0, |s| s.tiers);
        (tier >= 1 && tier <= tiers).then(|| Placement::new(si, tier))
    }

    /// Whether `p` needs an individual approval (framework 7.2): the policy
    /// reserves its segment from a tier at or below its own.
    pub fn needs_approval(&self, p: Placement) -> bool {
        self.approval_required
            .iter()
            .any(|r| r.segment == p.segment && p.tier >= r.tier)
    }

    /// The placements reserved for individual approvals, as `community-3`.
    pub fn approval_placements(&self) -> Vec<String> {
        self.approval_required
            .iter()
            .map(|p| self.placement_label(*p))
            .collect()
    }

    pub(crate) fn setting_index(&self, id: &str) -> Option<usize> {
        self.settings.iter().position(|s| s == id)
    }

    /// A placement as `summary-2` style text.
    pub fn placement_label(&self, p: Placement) -> String {
        match self.segments.get(usize::from(p.segment)) {
            Some(s) => format!("{}-{}", s.id, p.tier),
            None => format!("?-{}", p.tier),
        }
    }
}

#[derive(Default)]
struct Compiler {
    problems: Vec<Problem>,
}

impl Compiler {
    fn problem(&mut self, path: String, message: impl Into<String>) {
        self.problems.push(Problem::new(path, message));
    }

    fn rule_problem(&mut self, path: String, rule: &str, message: impl Into<String>) {
        self.problems
            .push(Problem::new(path, message).in_rule(rule));
    }

    fn unique<'a>(&mut self, base: &str, ids: impl Iterator<Item = &'a str>) {
        let mut seen = HashSet::new();
        for (i, id) in ids.enumerate() {
            if id.trim().is_empty() {
                self.problem(format!("{base}/{i}/id"), "empty id");
            } else if !seen.insert(id) {
                self.problem(format!("{base}/{i}/id"), format!("duplicate id `{id}`"));
            }
        }
    }

    fn compile(mut self, doc: PolicyDocument, hash: String) -> Result<Policy, PolicyError> {
        // Segments.
        self.unique("/segments", doc.segments.iter().map(|s| s.id.as_str()));
        if doc.segments.is_empty() {
            self.problem("/segments".into(), "no segments");
        }
        if doc.segments.len() > 16 {
            self.problem("/segments".into(), "more than 16 segments");
        }
        let mut letters = HashSet::new();
        for (i, s) in doc.segments.iter().enumerate() {
            if !(1..=9).contains(&s.tiers) {
                self.problem(format!("/segments/{i}/tiers"), "tiers must be 1 to 9");
            }
            if s.letter.chars().count() != 1 || !letters.insert(s.letter.clone()) {
                self.problem(
                    format!("/segments/{i}/letter"),
                    "letter must be one character, unique",
                );
            }
        }
        let segments: Vec<Segment> = doc
            .segments
            .iter()
            .map(|s| Segment {
                id: s.id.clone(),
                letter: s.letter.clone(),
                name: s.name.clone(),
                tiers: s.tiers,
            })
            .collect();
        let seg_index = |id: &str| segments.iter().position(|s| s.id == id);

        // Content lines.
        self.unique("/content", doc.content.iter().map(|c| c.id.as_str()));
        let mut content = Vec::new();
        for (i, c) in doc.content.iter().enumerate() {
            let Some(si) = seg_index(&c.segment) else {
                self.rule_problem(
                    format!("/content/{i}/segment"),
                    &c.id,
                    format!("unknown segment `{}`", c.segment),
                );
                continue;
            };
            let max = segments.get(si).map_or(0, |s| s.tiers);
            if c.tier < 1 || c.tier > max {
                self.rule_problem(
                    format!("/content/{i}/tier"),
                    &c.id,
                    format!("tier {} out of range 1-{max}", c.tier),
                );
                continue;
            }
            content.push(Content {
                id: c.id.clone(),
                index: i,
                label: c.label.clone(),
                placement: Placement::new(si, c.tier),
            });
        }
        let content_index = |id: &str| content.iter().position(|c| c.id == id);

        // Profiles.
        self.unique("/profiles", doc.profiles.iter().map(|p| p.id.as_str()));
        if doc.profiles.is_empty() {
            self.problem("/profiles".into(), "no profiles");
        }
        let mut profiles = HashMap::new();
        let mut profile_order = Vec::new();
        for (i, p) in doc.profiles.iter().enumerate() {
            let mut grants = vec![0u8; segments.len()];
            for key in p.access.keys() {
                if seg_index(key).is_none() {
                    self.rule_problem(
                        format!("/profiles/{i}/access/{key}"),
                        &p.id,
                        format!("unknown segment `{key}`"),
                    );
                }
            }
            for (si, seg) in segments.iter().enumerate() {
                let path = format!("/profiles/{i}/access/{}", seg.id);
                match p.access.get(&seg.id) {
                    None => self.rule_problem(path, &p.id, "missing; use `X` for no access"),
                    Some(Value::String(x)) if x == "X" => {}
                    Some(v) => match v.as_u64().and_then(|t| u8::try_from(t).ok()) {
                        Some(t) if t >= 1 && t <= seg.tiers => {
                            if let Some(g) = grants.get_mut(si) {
                                *g = t;
                            }
                        }
                        _ => self.rule_problem(
                            path,
                            &p.id,
                            format!("tier out of range: expected 1-{} or `X`", seg.tiers),
                        ),
                    },
                }
            }
            profile_order.push(p.id.clone());
            profiles.insert(
                p.id.clone(),
                Profile {
                    id: p.id.clone(),
                    name: p.name.clone(),
                    grants,
                    properties: p.properties,
                },
            );
        }

        // Profile properties: only an own-record profile may relax the
        // framework's consent, exclusion and training rules.
        for (i, p) in doc.profiles.iter().enumerate() {
            let props = &p.properties;
            let reaches_any = profiles
                .get(&p.id)
                .is_some_and(|x| x.grants.iter().any(|g| *g > 0));
            if props.audit_access && (reaches_any || props.own_record) {
                // Separation of duties: who investigates access sees no record.
                self.rule_problem(
                    format!("/profiles/{i}/properties/audit_access"),
                    &p.id,
                    "a profile with audit access may reach no segment and is not an own-record profile",
                );
            }
            if props.own_record {
                continue;
            }
            for (key, relaxed) in [
                ("consent_required", !props.consent_required),
                ("exclusions_apply", !props.exclusions_apply),
                ("training_required", !props.training_required),
            ] {
                if relaxed {
                    self.rule_problem(
                        format!("/profiles/{i}/properties/{key}"),
                        &p.id,
                        "only an own-record profile (`own_record: true`) may set this to false",
                    );
                }
            }
        }

        // Job roles.
        let mut job_roles = HashMap::new();
        for (i, j) in doc.job_roles.iter().enumerate() {
            if !profiles.contains_key(&j.profile) {
                self.problem(
                    format!("/job_roles/{i}/profile"),
                    format!("unknown profile `{}`", j.profile),
                );
            }
            if j.code.trim().is_empty()
                || job_roles
                    .insert(j.code.clone(), j.profile.clone())
                    .is_some()
            {
                self.problem(
                    format!("/job_roles/{i}/code"),
                    "empty or duplicate job role code",
                );
            }
        }

        // Settings.
        let settings = doc.settings.ids.clone();
        {
            let mut seen = HashSet::new();
            for (i, s) in settings.iter().enumerate() {
                if s.is_empty() || !seen.insert(s.as_str()) {
                    self.problem(format!("/settings/ids/{i}"), "empty or duplicate setting");
                }
            }
        }
        let setting_idx = |id: &str| settings.iter().position(|s| s == id);
        let mut org_types = FastMap::default();
        for (i, t) in doc.settings.organisation_types.iter().enumerate() {
            match setting_idx(&t.setting) {
                Some(si) => {
                    org_types.insert((t.system.clone(), t.code.clone()), si);
                }
                None => self.problem(
                    format!("/settings/organisation_types/{i}/setting"),
                    format!("unknown setting `{}`", t.setting),
                ),
            }
        }
        let mut sources = Vec::new();
        for (i, s) in doc.settings.sources.iter().enumerate() {
            if s.prefix.is_empty() {
                self.problem(format!("/settings/sources/{i}/prefix"), "empty prefix");
            }
            match setting_idx(&s.setting) {
                Some(si) => sources.push((s.prefix.clone(), si)),
                None => self.problem(
                    format!("/settings/sources/{i}/setting"),
                    format!("unknown setting `{}`", s.setting),
                ),
            }
        }

        // Code sets.
        self.unique("/code_sets", doc.code_sets.iter().map(|c| c.id.as_str()));
        let mut code_sets = Vec::new();
        for (i, set) in doc.code_sets.iter().enumerate() {
            if set.codings.is_empty() {
                self.rule_problem(format!("/code_sets/{i}/codings"), &set.id, "empty code set");
            }
            let mut by_system = FastMap::default();
            for (j, sc) in set.codings.iter().enumerate() {
                let base = format!("/code_sets/{i}/codings/{j}");
                if sc.system.trim().is_empty() {
                    self.rule_problem(format!("{base}/system"), &set.id, "empty system");
                }
                if sc.codes.is_empty() {
                    self.rule_problem(format!("{base}/codes"), &set.id, "no codes");
                }
                let patterns = self.patterns(&base, &set.id, sc.codes.iter().map(String::as_str));
                let matcher = CodeMatcher::build(patterns.into_iter().map(|p| (p, 0)));
                if matcher.is_broken() {
                    self.rule_problem(base, &set.id, "could not build the code automaton");
                }
                by_system.insert(sc.system.clone(), matcher);
            }
            code_sets.push(CodeSet { by_system });
        }
        let code_set_idx = |id: &str| doc.code_sets.iter().position(|c| c.id == id);

        // Classification rules.
        self.unique(
            "/classification/rules",
            doc.classification.rules.iter().map(|r| r.id.as_str()),
        );
        let mut rules: Vec<Rule> = Vec::new();
        let mut placed = HashSet::new();
        for (i, r) in doc.classification.rules.iter().enumerate() {
            let base = format!("/classification/rules/{i}");
            let m = &r.matcher;
            if m.resource_types.is_empty() {
                self.rule_problem(
                    format!("{base}/match/resource_types"),
                    &r.id,
                    "no resource types",
                );
            }
            let any_type = m.resource_types.iter().any(|t| t == "*");
            if any_type && m.resource_types.len() > 1 {
                self.rule_problem(
                    format!("{base}/match/resource_types"),
                    &r.id,
                    "`*` must stand alone",
                );
            }
            let mut lookup = |key: &str, ids: &[String], f: &dyn Fn(&str) -> Option<usize>| {
                let mut out = Vec::new();
                for (j, id) in ids.iter().enumerate() {
                    match f(id) {
                        Some(x) => out.push(x),
                        None => self.rule_problem(
                            format!("{base}/match/{key}/{j}"),
                            &r.id,
                            format!("unknown {key} entry `{id}`"),
                        ),
                    }
                }
                out
            };
            let settings_ix = lookup("settings", &m.settings, &setting_idx);
            let codes_ix = lookup("codes", &m.codes, &code_set_idx);
            let cats_ix = lookup("categories", &m.categories, &code_set_idx);
            let tags_ix = lookup("tags", &m.tags, &code_set_idx);
            let outcome = match (r.disposition.as_deref(), r.content.is_empty()) {
                (None, false) => {
                    let mut ix = Vec::new();
                    for (j, c) in r.content.iter().enumerate() {
                        match content_index(c) {
                            Some(x) => ix.push(x),
                            None => self.rule_problem(
                                format!("{base}/content/{j}"),
                                &r.id,
                                format!("unknown content `{c}`"),
                            ),
                        }
                    }
                    Outcome::Place(ix)
                }
                (Some("dependent"), true) => Outcome::Dependent,
                (Some("about"), true) => Outcome::About,
                (Some("container"), true) => Outcome::Container,
                (Some("withhold"), true) => Outcome::Withhold,
                (Some(_), true) => {
                    self.rule_problem(
                        format!("{base}/disposition"),
                        &r.id,
                        "unknown disposition: expected `dependent`, `about`, `container` or `withhold`"
                            .to_owned(),
                    );
                    Outcome::Dependent
                }
                (_, _) => {
                    self.rule_problem(
                        base.clone(),
                        &r.id,
                        "a rule needs either `content` or `disposition`, not both",
                    );
                    Outcome::Dependent
                }
            };
            if let Some(earlier) = doc
                .classification
                .rules
                .iter()
                .take(i)
                .find(|earlier| r.enabled && earlier.enabled && subsumes(&earlier.matcher, m))
                .map(|e| e.id.as_str())
            {
                self.rule_problem(
                    base.clone(),
                    &r.id,
                    format!("unreachable: every entry it matches is classified first by rule `{earlier}`"),
                );
            }
            if !r.enabled {
                continue;
            }
            if let Outcome::Place(ix) = &outcome {
                placed.extend(ix.iter().copied());
            }
            rules.push(Rule {
                id: r.id.clone(),
                resource_types: if any_type {
                    None
                } else {
                    Some(m.resource_types.iter().cloned().collect())
                },
                settings: settings_ix,
                codes: codes_ix,
                categories: cats_ix,
                tags: tags_ix,
                statuses: m.statuses.clone(),
                elements: m.elements.clone(),
                outcome,
            });
        }
        for (i, c) in content.iter().enumerate() {
            if !placed.contains(&i) {
                self.rule_problem(
                    format!("/content/{}", c.index),
                    &c.id,
                    format!(
                        "content `{}` is not the target of any classification rule",
                        c.id
                    ),
                );
            }
        }

        // Exclusions.
        let ex = &doc.exclusions;
        if ex.systems.is_empty() && !ex.match_codes_without_system {
            self.problem(
                "/exclusions/systems".into(),
                "no code systems: no code could be excluded",
            );
        }
        self.unique(
            "/exclusions/categories",
            ex.categories.iter().map(|c| c.id.as_str()),
        );
        let mut all_patterns = Vec::new();
        let mut seen_codes: HashMap<CodePattern, String> = HashMap::new();
        for (i, cat) in ex.categories.iter().enumerate() {
            if cat.codes.is_empty() && cat.codelists.is_empty() {
                self.rule_problem(
                    format!("/exclusions/categories/{i}/codes"),
                    &cat.id,
                    "no codes",
                );
            }
            let Ok(ci) = u16::try_from(i) else {
                self.problem("/exclusions/categories".into(), "too many categories");
                break;
            };
            for (j, code) in cat.codes.iter().enumerate() {
                let path = format!("/exclusions/categories/{i}/codes/{j}/code");
                match parse_pattern(&code.code) {
                    Ok(p) => {
                        if let Some(other) = seen_codes.insert(p.clone(), cat.id.clone()) {
                            self.rule_problem(
                                path,
                                &cat.id,
                                format!("duplicate code (also in `{other}`)"),
                            );
                        }
                        all_patterns.push((p, ci));
                    }
                    Err(msg) => self.rule_problem(path, &cat.id, msg),
                }
            }
        }
        let mut by_system: HashMap<String, Vec<(CodePattern, u16)>> = HashMap::new();
        for (i, cat) in ex.categories.iter().enumerate() {
            let Ok(ci) = u16::try_from(i) else {
                break;
            };
            for (k, list) in cat.codelists.iter().enumerate() {
                let base = format!("/exclusions/categories/{i}/codelists/{k}");
                if list.systems.is_empty() || list.systems.iter().any(|s| s.trim().is_empty()) {
                    self.rule_problem(format!("{base}/systems"), &cat.id, "no code system");
                }
                for (field, value) in [
                    ("source", &list.source),
                    ("licence", &list.licence),
                    ("version", &list.version),
                ] {
                    if value.trim().is_empty() {
                        self.rule_problem(format!("{base}/{field}"), &cat.id, "empty");
                    }
                }
                if list.codes.is_empty() {
                    self.rule_problem(format!("{base}/codes"), &cat.id, "no codes");
                }
                for (j, code) in list.codes.iter().enumerate() {
                    let path = format!("{base}/codes/{j}/code");
                    match parse_pattern(&code.code) {
                        Ok(p) => {
                            for system in &list.systems {
                                let entries = by_system.entry(system.clone()).or_default();
                                if entries.iter().any(|(q, _)| *q == p) {
                                    self.rule_problem(
                                        path.clone(),
                                        &cat.id,
                                        "duplicate code in this system",
                                    );
                                } else {
                                    entries.push((p.clone(), ci));
                                }
                            }
                        }
                        Err(msg) => self.rule_problem(path, &cat.id, msg),
                    }
                }
            }
        }
        let exclusion_codelists: FastMap<String, CodeMatcher> = by_system
            .into_iter()
            .map(|(system, patterns)| (system, CodeMatcher::build(patterns)))
            .collect();
        let exclusion_matcher = CodeMatcher::build(all_patterns);
        if exclusion_matcher.is_broken() {
            self.problem(
                "/exclusions".into(),
                "could not build the exclusion automaton",
            );
        }
        let categories: Vec<String> = ex.categories.iter().map(|c| c.id.clone()).collect();
        let mut category_segments = Vec::new();
        for (i, cat) in ex.categories.iter().enumerate() {
            if cat.segments.is_empty() {
                category_segments.push(None);
                continue;
            }
            let mut ix = Vec::new();
            for (j, s) in cat.segments.iter().enumerate() {
                match seg_index(s) {
                    Some(x) => ix.push(x),
                    None => self.rule_problem(
                        format!("/exclusions/categories/{i}/segments/{j}"),
                        &cat.id,
                        format!("unknown segment `{s}`"),
                    ),
                }
            }
            category_segments.push(Some(ix));
        }
        self.unique("/exclusions/lifts", ex.lifts.iter().map(|l| l.id.as_str()));
        let mut lifts = Vec::new();
        for (i, l) in ex.lifts.iter().enumerate() {
            let base = format!("/exclusions/lifts/{i}");
            let grant = match seg_index(&l.grant.segment) {
                Some(si)
                    if l.grant.tier >= 1
                        && l.grant.tier <= segments.get(si).map_or(0, |s| s.tiers) =>
                {
                    Placement::new(si, l.grant.tier)
                }
                Some(_) => {
                    self.rule_problem(format!("{base}/grant/tier"), &l.id, "tier out of range");
                    continue;
                }
                None => {
                    self.rule_problem(
                        format!("{base}/grant/segment"),
                        &l.id,
                        format!("unknown segment `{}`", l.grant.segment),
                    );
                    continue;
                }
            };
            let cats = match &l.categories {
                Value::String(s) if s == "all" => None,
                Value::Array(items) => {
                    let mut list = Vec::new();
                    for (j, item) in items.iter().enumerate() {
                        let pos = item
                            .as_str()
                            .and_then(|id| categories.iter().position(|c| c == id))
                            .and_then(|p| u16::try_from(p).ok());
                        match pos {
                            Some(p) => list.push(p),
                            None => self.rule_problem(
                                format!("{base}/categories/{j}"),
                                &l.id,
                                "unknown exclusion category",
                            ),
                        }
                    }
                    Some(list)
                }
                _ => {
                    self.rule_problem(
                        format!("{base}/categories"),
                        &l.id,
                        "expected `all` or a list of category ids",
                    );
                    Some(Vec::new())
                }
            };
            lifts.push(Lift {
                grant,
                grant_content: content
                    .iter()
                    .filter(|c| c.placement == grant)
                    .map(|c| c.index)
                    .collect(),
                categories: cats,
            });
        }

        // Free text, security labels.
        let mut term_pairs = Vec::new();
        for (i, cat) in ex.categories.iter().enumerate() {
            let Ok(ci) = u16::try_from(i) else { break };
            let mut seen = HashSet::new();
            for (j, term) in cat.terms.iter().enumerate() {
                // Read as the scanned text is read, so that a term written
                // with any separator or styled letters matches its plain form.
                let t = crate::text::normalise(term);
                let path = format!("/exclusions/categories/{i}/terms/{j}");
                if t.chars().count() < 3 {
                    self.rule_problem(
                        path,
                        &cat.id,
                        "term shorter than 3 characters would match too much",
                    );
                } else if t.len() > crate::terms::MAX_TERM_LEN {
                    self.rule_problem(
                        path,
                        &cat.id,
                        format!("term longer than {} bytes", crate::terms::MAX_TERM_LEN),
                    );
                } else if !seen.insert(t.clone()) {
                    self.rule_problem(path, &cat.id, "duplicate term");
                } else {
                    term_pairs.push((t, ci));
                }
            }
        }
        let terms = TermMatcher::build(term_pairs).unwrap_or_else(|| {
            self.problem(
                "/exclusions/categories".into(),
                "could not build the term automaton",
            );
            TermMatcher::default()
        });
        let mask_free_text = match ex.free_text.action.as_str() {
            "withhold_entry" => false,
            "mask_field" => true,
            _ => {
                self.problem(
                    "/exclusions/free_text/action".into(),
                    "expected `withhold_entry` or `mask_field`",
                );
                false
            }
        };
        let mut security_labels = FastMap::default();
        for (i, l) in ex.security_labels.iter().enumerate() {
            let path = format!("/exclusions/security_labels/{i}");
            let action = match (&l.category, l.withhold || l.withhold_online) {
                (None, true) if l.withhold && l.withhold_online => {
                    self.problem(
                        path,
                        "a label has either `withhold` or `withhold_online`, not both",
                    );
                    continue;
                }
                (None, true) if l.withhold_online => SecurityAction::NotOnline,
                (Some(c), false) => match categories
                    .iter()
                    .position(|x| x == c)
                    .and_then(|p| u16::try_from(p).ok())
                {
                    Some(p) => SecurityAction::Category(p),
                    None => {
                        self.problem(
                            format!("{path}/category"),
                            format!("unknown exclusion category `{c}`"),
                        );
                        continue;
                    }
                },
                (None, true) => SecurityAction::Withhold,
                _ => {
                    self.problem(
                        path,
                        "a label needs either a `category`, `withhold: true` or `withhold_online: true`",
                    );
                    continue;
                }
            };
            if security_labels
                .insert((l.system.clone(), l.code.clone()), action)
                .is_some()
            {
                self.problem(path, "duplicate label");
            }
        }

        // HL7 v2.
        let h = &doc.hl7v2;
        let mut hl7 = Hl7Rules::default();
        for (i, t) in h.message_types.iter().enumerate() {
            let path = format!("/hl7v2/message_types/{i}");
            let Some(content_ix) = content_index(&t.content) else {
                self.problem(
                    format!("{path}/content"),
                    format!("unknown content `{}`", t.content),
                );
                continue;
            };
            let routine = match (&t.when_all_orders_in, &t.then_content) {
                (None, None) => None,
                (Some(set), Some(c)) => {
                    match (code_set_idx(set), content_index(c)) {
                        (Some(s), Some(c)) => Some((s, c)),
                        _ => {
                            self.problem(path, "unknown code set or content in `when_all_orders_in`/`then_content`");
                            continue;
                        }
                    }
                }
                _ => {
                    self.problem(path, "`when_all_orders_in` and `then_content` go together");
                    continue;
                }
            };
            hl7.types
                .push((t.code.clone(), t.events.clone(), content_ix, routine));
        }
        for (name, uri) in &h.coding_systems {
            match uri.as_str() {
                Some(u) => {
                    hl7.systems.insert(name.clone(), u.to_owned());
                }
                None => self.problem(
                    format!("/hl7v2/coding_systems/{name}"),
                    "expected a URI string",
                ),
            }
        }
        for f in &h.coded_fields {
            hl7.coded
                .entry(f.segment.clone())
                .or_default()
                .extend(f.fields.iter().copied());
        }
        hl7.known = h.known_segments.iter().cloned().collect();
        hl7.renumber = h.renumber.iter().cloned().collect();

        // Proxy scopes.
        self.unique(
            "/proxy_scopes",
            doc.proxy_scopes.iter().map(|s| s.id.as_str()),
        );
        let mut proxy_scopes = Vec::new();
        for (i, sc) in doc.proxy_scopes.iter().enumerate() {
            let base = format!("/proxy_scopes/{i}");
            if sc.display.trim().is_empty() {
                self.rule_problem(format!("{base}/display"), &sc.id, "empty display");
            }
            if sc.content.is_empty() && sc.permits.is_empty() {
                self.rule_problem(
                    base.clone(),
                    &sc.id,
                    "a scope needs `content` or `permits`: this one grants nothing",
                );
            }
            let mut content_ix = Vec::new();
            for (j, c) in sc.content.iter().enumerate() {
                match content_index(c) {
                    Some(x) if content_ix.contains(&x) => self.rule_problem(
                        format!("{base}/content/{j}"),
                        &sc.id,
                        format!("duplicate content `{c}`"),
                    ),
                    Some(x) => content_ix.push(x),
                    None => self.rule_problem(
                        format!("{base}/content/{j}"),
                        &sc.id,
                        format!("unknown content `{c}`"),
                    ),
                }
            }
            let mut seen = HashSet::new();
            for (j, p) in sc.permits.iter().enumerate() {
                if p.trim().is_empty() {
                    self.rule_problem(format!("{base}/permits/{j}"), &sc.id, "empty permit");
                } else if !seen.insert(p.as_str()) {
                    self.rule_problem(
                        format!("{base}/permits/{j}"),
                        &sc.id,
                        format!("duplicate permit `{p}`"),
                    );
                }
            }
            proxy_scopes.push(ProxyScope {
                id: sc.id.clone(),
                display: sc.display.clone(),
                content: sc.content.clone(),
                permits: sc.permits.clone(),
                content_ix,
            });
        }

        // Proxies' age bands: from 0, rising, naming the policy's scopes.
        self.unique(
            "/proxies/ages",
            doc.proxies.ages.iter().map(|b| b.id.as_str()),
        );
        let mut age_bands = Vec::new();
        let mut previous: Option<u8> = None;
        for (i, band) in doc.proxies.ages.iter().enumerate() {
            let base = format!("/proxies/ages/{i}");
            match previous {
                None if band.from_age != 0 => self.rule_problem(
                    format!("{base}/from_age"),
                    &band.id,
                    "the first band starts at 0, or some ages would have no rule",
                ),
                Some(p) if band.from_age <= p => {
                    self.rule_problem(format!("{base}/from_age"), &band.id, "bands rise in age")
                }
                _ => {}
            }
            previous = Some(band.from_age);
            for (field, ids) in [
                ("scopes", &band.scopes),
                ("with_agreement", &band.with_agreement),
            ] {
                for (j, id) in ids.iter().enumerate() {
                    if id != "*" && !doc.proxy_scopes.iter().any(|s| &s.id == id) {
                        self.rule_problem(
                            format!("{base}/{field}/{j}"),
                            &band.id,
                            format!("unknown proxy scope `{id}`"),
                        );
                    }
                }
            }
            age_bands.push(crate::proxy::AgeBand {
                from_age: band.from_age,
                scopes: crate::proxy::Scopes::from_ids(&band.scopes),
                with_agreement: crate::proxy::Scopes::from_ids(&band.with_agreement),
            });
        }

        // Consent, break glass.
        if doc.consent.purposes.is_empty() {
            self.problem(
                "/consent/purposes".into(),
                "no purposes: nothing could ever be shared",
            );
        }
        let bg = &doc.break_glass;
        self.unique(
            "/break_glass/reasons",
            bg.reasons.iter().map(|r| r.code.as_str()),
        );
        if bg.reason_required && bg.reasons.is_empty() {
            self.problem(
                "/break_glass/reasons".into(),
                "a reason is required but none are listed",
            );
        }
        if !(1..=1440).contains(&bg.max_minutes) {
            self.problem(
                "/break_glass/max_minutes".into(),
                "must be 1 to 1440 minutes",
            );
        }

        // Individual approvals (7.2).
        let mut approval_required = Vec::new();
        for (i, a) in doc.approvals.required.iter().enumerate() {
            let base = format!("/approvals/required/{i}");
            match seg_index(&a.segment) {
                Some(si) if a.tier >= 1 && a.tier <= segments.get(si).map_or(0, |s| s.tiers) => {
                    approval_required.push(Placement::new(si, a.tier));
                }
                Some(_) => self.problem(format!("{base}/tier"), "tier out of range"),
                None => self.problem(
                    format!("{base}/segment"),
                    format!("unknown segment `{}`", a.segment),
                ),
            }
        }
        if !doc.approvals.required.is_empty() && !(1..=366).contains(&doc.approvals.max_days) {
            self.problem("/approvals/max_days".into(), "must be 1 to 366 days");
        }

        // Audit rules.
        let profile_ids: HashSet<&str> = doc.profiles.iter().map(|p| p.id.as_str()).collect();
        let audit = crate::audit::compile(&doc.audit, &profile_ids, &mut self.problems);

        let skip_text: FastSet<String> = ex.free_text.skip_elements.iter().cloned().collect();
        let (rules_by_type, rules_any_type) = rules_by_type(&rules);
        if !self.problems.is_empty() {
            return Err(PolicyError {
                problems: self.problems,
            });
        }
        Ok(Policy {
            exclusion_systems: ex.systems.iter().cloned().collect(),
            document: doc,
            hash,
            segments,
            content,
            profiles,
            profile_order,
            job_roles,
            settings,
            org_types,
            sources,
            code_sets,
            rules_by_type,
            rules_any_type,
            rules,
            exclusion_matcher,
            exclusion_codelists,
            categories,
            category_segments,
            lifts,
            terms,
            mask_free_text,
            skip_text,
            security_labels,
            hl7,
            audit,
            proxy_scopes,
            age_bands,
            approval_required,
        })
    }

    fn patterns<'a>(
        &mut self,
        base: &str,
        owner: &str,
        codes: impl Iterator<Item = &'a str>,
    ) -> Vec<CodePattern> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for (k, code) in codes.enumerate() {
            match parse_pattern(code) {
                Ok(p) => {
                    if !seen.insert(p.clone()) {
                        self.rule_problem(
                            format!("{base}/codes/{k}"),
                            owner,
                            "duplicate code".to_owned(),
                        );
                    }
                    out.push(p);
                }
                Err(msg) => self.rule_problem(format!("{base}/codes/{k}"), owner, msg),
            }
        }
        out
    }
}

/// The per-entry decision alone, for benchmarks: one request's context is
/// built once, then each call decides an entry whose classification is
/// already known (its content lines and exclusion categories), with the
/// rules `Policy::decide` applies after classifying: request-level blocks,
/// exclusions and their lifts, tiers, consent and break glass. Not a
/// redaction API: security labels, proxies, own-organisation pass-through,
/// contained and supporting entries are not considered.
#[doc(hidden)]
pub struct EntryDecider<'r> {
    policy: &'r Policy,
    ctx: crate::decide::Ctx<'r>,
    exclusions_apply: bool,
}

impl Policy {
    /// See [`EntryDecider`].
    #[doc(hidden)]
    pub fn entry_decider<'r>(
        &'r self,
        request: &'r crate::decide::Request<'r>,
    ) -> Result<EntryDecider<'r>, crate::error::RedactError> {
        let (ctx, _) = self.context(request, None)?;
        let exclusions_apply = self
            .profile(&request.viewer.profile)
            .is_some_and(|p| p.properties.exclusions_apply);
        Ok(EntryDecider {
            policy: self,
            ctx,
            exclusions_apply,
        })
    }
}

impl std::fmt::Debug for EntryDecider<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntryDecider")
            .field("policy", &self.policy.hash)
            .field("exclusions_apply", &self.exclusions_apply)
            .finish_non_exhaustive()
    }
}

impl EntryDecider<'_> {
    /// Decides one entry placed by content lines `content` (indices into
    /// [`Policy::content`]) carrying exclusion categories `categories`
    /// (indices into [`Policy::exclusion_categories`]).
    pub fn decide(
        &self,
        content: &[usize],
        categories: &[u16],
        reference: Option<&str>,
    ) -> crate::decide::EntryDecision {
        let policy = self.policy;
        let mut d = crate::decide::blank(0);
        if let Some(reason) = &self.ctx.blocked {
            d.reasons.push(reason.clone());
            return d;
        }
        let placements: Vec<Placement> = content
            .iter()
            .filter_map(|c| policy.content.get(*c))
            .map(|c| c.placement)
            .collect();
        let categories = if self.exclusions_apply {
            categories
        } else {
            &[]
        };
        let key = crate::consent::EntryKey {
            reference,
            full_url: None,
            content,
            categories,
            permit_content: None,
        };
        let unlifted = policy.unlifted(categories, &placements, key, &self.ctx);
        if !unlifted.is_empty() {
            d.reasons = unlifted
                .iter()
                .filter_map(|c| policy.categories.get(usize::from(*c)))
                .map(|c| crate::decide::Reason::ExcludedCategory(c.clone()))
                .collect();
            d.reasons.sort();
            d.reasons.dedup();
            return d;
        }
        policy.grant(&mut d, &placements, key, &self.ctx);
        d
    }
}

/// Whether every entry `later` can match is matched by `earlier`.
fn subsumes(earlier: &MatchDef, later: &MatchDef) -> bool {
    fn covers(e: &[String], l: &[String]) -> bool {
        e.is_empty() || (!l.is_empty() && l.iter().all(|x| e.contains(x)))
    }
    let types = earlier.resource_types.iter().any(|t| t == "*")
        || (!later.resource_types.iter().any(|t| t == "*")
            && later
                .resource_types
                .iter()
                .all(|t| earlier.resource_types.contains(t)));
    types
        && covers(&earlier.settings, &later.settings)
        && covers(&earlier.codes, &later.codes)
        && covers(&earlier.categories, &later.categories)
        && covers(&earlier.tags, &later.tags)
        && covers(&earlier.statuses, &later.statuses)
        && covers(&earlier.elements, &later.elements)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_policy_is_the_written_document_without_white_space() {
        let text = include_str!("../policy/default.json");
        let written: Value = serde_json::from_str(text).unwrap();
        let embedded: Value = serde_json::from_str(DEFAULT_POLICY_JSON).unwrap();
        assert_eq!(written, embedded);
        assert!(DEFAULT_POLICY_JSON.len() * 10 < text.len() * 9);
    }

    #[test]
    fn default_policy_hash_is_the_hash_of_the_embedded_document() {
        let value: Value = serde_json::from_str(DEFAULT_POLICY_JSON).unwrap();
        let hash = content_hash(&value);
        assert_eq!(
            DEFAULT_POLICY_HASH, hash,
            "the default policy changed: set DEFAULT_POLICY_HASH to {hash:?}"
        );
    }

    #[test]
    fn the_fast_default_path_compiles_what_the_checked_path_compiles() {
        let fast = Policy::default_policy().unwrap();
        let checked = Policy::from_json(DEFAULT_POLICY_JSON.as_bytes()).unwrap();
        assert_eq!(fast.hash(), checked.hash());
        assert_eq!(
            serde_json::to_value(fast.document()).unwrap(),
            serde_json::to_value(checked.document()).unwrap()
        );
        assert_eq!(format!("{fast:?}").len(), format!("{checked:?}").len());
    }
}
