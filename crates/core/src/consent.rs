//! Consent directives: explicit consent and opt-outs (framework 6.2).
//!
//! Directives come in a compact JSON form or as FHIR R4 `Consent`
//! resources (see `docs/consent.md` for the mapping, and the precedence).
//! For each entry and placement, a deny (opt-out) in force that covers it
//! withholds it, whatever was permitted before or after: an opt-out stands
//! until it is withdrawn by name (a `withdraw` directive), or unless a
//! permit nested inside it (a FHIR provision's exception) carves the entry
//! out. Otherwise a permit in force that covers it shares it, and none means
//! no consent.
//!
//! Scope semantics:
//! * a permit's segment scope with a tier covers that tier and the tiers
//!   below it (tiers are cumulative);
//! * a deny's segment scope with a tier covers that tier and the tiers above
//!   it (opting out of tier 2 cannot leave tier 3 shared);
//! * content, category and entry scopes narrow a directive to those entries;
//! * a permit may not name exclusion categories: exclusions are lifted only
//!   by the policy.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::error::ConsentError;
use crate::fhirtime::{self, Edge};
use crate::policy::Policy;
use crate::segment::Placement;
use crate::viewer::Viewer;

/// A patient's directives, in the compact form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentSet {
    pub directives: Vec<ConsentDirective>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DirectiveKind {
    /// Explicit consent.
    Permit,
    /// Refusal or opt-out.
    Deny,
    /// The withdrawal of an earlier opt-out, named by `withdraws`.
    Withdraw,
}

/// One decision the person made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentDirective {
    pub id: String,
    pub kind: DirectiveKind,
    /// When the decision was made; later decisions override earlier ones.
    pub recorded: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<Period>,
    /// Who it applies to; empty means everyone.
    #[serde(default)]
    pub actors: Actors,
    /// What it applies to; empty means the whole record.
    #[serde(default)]
    pub scope: Scope,
    /// For a `withdraw`: the id of the opt-out it withdraws.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdraws: Option<String>,
    /// Why, in the recorder's words (required of a professional recording
    /// a person's withdrawal; never used in a decision).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Period {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
}

/// All given kinds must match; within a kind, any listed value will do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Actors {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub organisations: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
}

/// All given kinds must match; within a kind, any listed value will do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<SegmentScope>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub content: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    /// Single entries, as `Type/id` or a full URL.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entries: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentScope {
    pub segment: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<u8>,
}

/// What the directives say about one entry in one placement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConsentVerdict<'a> {
    Permit(&'a str),
    Deny(&'a str),
    Silent,
}

/// What a directive is matched against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EntryKey<'a> {
    pub(crate) reference: Option<&'a str>,
    pub(crate) full_url: Option<&'a str>,
    pub(crate) content: &'a [usize],
    pub(crate) categories: &'a [u16],
    /// When set, a content-scoped permit covers the entry only through
    /// one of these lines (the Diagnostics tier 3 lift: consent to a tier 2
    /// line is not consent to tier 3). Opt-outs match as ever.
    pub(crate) permit_content: Option<&'a [usize]>,
}

#[derive(Debug, Clone)]
struct Compiled {
    id: String,
    kind: DirectiveKind,
    recorded: OffsetDateTime,
    start: Option<OffsetDateTime>,
    end: Option<OffsetDateTime>,
    organisations: Vec<String>,
    profiles: Vec<String>,
    users: Vec<String>,
    segments: Vec<(u8, Option<u8>)>,
    content: Vec<usize>,
    categories: Vec<u16>,
    entries: Vec<String>,
}

/// Directives checked against the policy and ordered oldest first.
#[derive(Debug, Clone, Default)]
pub struct CompiledConsent {
    directives: Vec<Compiled>,
}

impl ConsentSet {
    /// Reads directives from JSON: the compact form (`{"directives": [...]}`),
    /// a FHIR `Consent`, a `Bundle` of them, or an array of either.
    pub fn from_json(bytes: &[u8], policy: &Policy) -> Result<Self, ConsentError> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| {
            ConsentError::new(
                "",
                format!("malformed JSON at line {}, column {}", e.line(), e.column()),
            )
        })?;
        Self::from_value(&value, policy)
    }

    /// As [`ConsentSet::from_json`], from a parsed value.
    pub fn from_value(value: &Value, policy: &Policy) -> Result<Self, ConsentError> {
        let mut directives = Vec::new();
        match value {
            Value::Object(map) if map.contains_key("directives") => {
                let set: ConsentSet = crate::shape::from_value(value)
                    .map_err(|e| ConsentError::new(e.path, e.message))?;
                directives = set.directives;
            }
            Value::Object(map) => match map.get("resourceType").and_then(Value::as_str) {
                Some("Consent") => fhir::read_consent(map, "", policy, &mut directives)?,
                Some("Bundle") => {
                    let entries = map.get("entry").and_then(Value::as_array);
                    for (i, e) in entries.into_iter().flatten().enumerate() {
                        let path = format!("/entry/{i}/resource");
                        let res = e
                            .get("resource")
                            .and_then(Value::as_object)
                            .ok_or_else(|| ConsentError::new(path.clone(), "missing resource"))?;
                        if res.get("resourceType").and_then(Value::as_str) != Some("Consent") {
                            return Err(ConsentError::new(path, "not a Consent resource"));
                        }
                        fhir::read_consent(res, &path, policy, &mut directives)?;
                    }
                }
                _ => {
                    return Err(ConsentError::new(
                        "/resourceType",
                        "expected a Consent, a Bundle of Consents or {\"directives\": [...]}",
                    ))
                }
            },
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let path = format!("/{i}");
                    match item.as_object() {
                        Some(m)
                            if m.get("resourceType").and_then(Value::as_str) == Some("Consent") =>
                        {
                            fhir::read_consent(m, &path, policy, &mut directives)?;
                        }
                        Some(_) => {
                            let d: ConsentDirective =
                                crate::shape::from_value(item).map_err(|e| {
                                    ConsentError::new(format!("{path}{}", e.path), e.message)
                                })?;
                            directives.push(d);
                        }
                        None => return Err(ConsentError::new(path, "expected an object")),
                    }
                }
            }
            _ => return Err(ConsentError::new("", "expected an object or an array")),
        }
        let set = ConsentSet { directives };
        set.compile(policy)?;
        Ok(set)
    }

    /// Checks every directive against the policy and orders them.
    pub fn compile(&self, policy: &Policy) -> Result<CompiledConsent, ConsentError> {
        let mut keyed = Vec::with_capacity(self.directives.len());
        let mut withdrawals: Vec<(String, OffsetDateTime)> = Vec::new();
        for (i, d) in self.directives.iter().enumerate() {
            let base = format!("/directives/{i}");
            if d.id.trim().is_empty() {
                return Err(ConsentError::new(format!("{base}/id"), "empty id"));
            }
            let recorded = fhirtime::parse(&d.recorded, Edge::Start).ok_or_else(|| {
                ConsentError::new(format!("{base}/recorded"), "not a date or date-time")
            })?;
            match (d.kind, &d.withdraws) {
                (DirectiveKind::Withdraw, Some(id)) if !id.trim().is_empty() => {
                    withdrawals.push((id.clone(), recorded));
                    continue;
                }
                (DirectiveKind::Withdraw, _) => {
                    return Err(ConsentError::new(
                        format!("{base}/withdraws"),
                        "a withdrawal names the opt-out it withdraws",
                    ))
                }
                (_, Some(_)) => {
                    return Err(ConsentError::new(
                        format!("{base}/withdraws"),
                        "only a withdrawal withdraws",
                    ))
                }
                (_, None) => {}
            }
            let bound = |v: &Option<String>, edge, name: &str| -> Result<_, ConsentError> {
                v.as_deref()
                    .map(|s| {
                        fhirtime::parse(s, edge).ok_or_else(|| {
                            ConsentError::new(
                                format!("{base}/period/{name}"),
                                "not a date or date-time",
                            )
                        })
                    })
                    .transpose()
            };
            let period = d.period.clone().unwrap_or_default();
            let start = bound(&period.start, Edge::Start, "start")?;
            let end = bound(&period.end, Edge::End, "end")?;
            for (j, p) in d.actors.profiles.iter().enumerate() {
                if policy.profile(p).is_none() {
                    return Err(ConsentError::new(
                        format!("{base}/actors/profiles/{j}"),
                        "not a profile of the policy".to_owned(),
                    ));
                }
            }
            let mut segments = Vec::new();
            for (j, s) in d.scope.segments.iter().enumerate() {
                let path = format!("{base}/scope/segments/{j}");
                let si = policy.segment_index(&s.segment).ok_or_else(|| {
                    ConsentError::new(
                        format!("{path}/segment"),
                        "not a segment of the policy".to_owned(),
                    )
                })?;
                let max = policy.segments.get(si).map_or(0, |seg| seg.tiers);
                if let Some(t) = s.tier {
                    if t < 1 || t > max {
                        return Err(ConsentError::new(
                            format!("{path}/tier"),
                            "tier out of range",
                        ));
                    }
                }
                segments.push((u8::try_from(si).unwrap_or(u8::MAX), s.tier));
            }
            let mut content = Vec::new();
            for (j, c) in d.scope.content.iter().enumerate() {
                let ci = policy
                    .content
                    .iter()
                    .position(|x| &x.id == c)
                    .ok_or_else(|| {
                        ConsentError::new(
                            format!("{base}/scope/content/{j}"),
                            "not a content line of the policy".to_owned(),
                        )
                    })?;
                content.push(ci);
            }
            if d.kind == DirectiveKind::Permit && !d.scope.categories.is_empty() {
                return Err(ConsentError::new(
                    format!("{base}/scope/categories"),
                    "a permit cannot name exclusion categories: exclusions are lifted only by the policy",
                ));
            }
            let mut categories = Vec::new();
            for (j, c) in d.scope.categories.iter().enumerate() {
                let ci = policy
                    .categories
                    .iter()
                    .position(|x| x == c)
                    .and_then(|p| u16::try_from(p).ok())
                    .ok_or_else(|| {
                        ConsentError::new(
                            format!("{base}/scope/categories/{j}"),
                            "not an exclusion category of the policy".to_owned(),
                        )
                    })?;
                categories.push(ci);
            }
            keyed.push((
                recorded,
                i,
                Compiled {
                    id: d.id.clone(),
                    kind: d.kind,
                    recorded,
                    start,
                    end,
                    organisations: d.actors.organisations.clone(),
                    profiles: d.actors.profiles.clone(),
                    users: d.actors.users.clone(),
                    segments,
                    content,
                    categories,
                    entries: d.scope.entries.clone(),
                },
            ));
        }
        keyed.sort_by_key(|k| (k.0, k.1));
        // An opt-out withdrawn by name, at or after it was made, is gone;
        // a withdrawal of anything else withdraws nothing.
        keyed.retain(|(_, _, c)| {
            c.kind != DirectiveKind::Deny
                || !withdrawals
                    .iter()
                    .any(|(id, at)| *id == c.id && *at >= c.recorded)
        });
        Ok(CompiledConsent {
            directives: keyed.into_iter().map(|(_, _, c)| c).collect(),
        })
    }
}

impl CompiledConsent {
    /// Whether there are no directives at all.
    pub fn is_empty(&self) -> bool {
        self.directives.is_empty()
    }

    fn in_force<'a>(
        &'a self,
        viewer: &'a Viewer,
        now: OffsetDateTime,
    ) -> impl Iterator<Item = &'a Compiled> + 'a {
        self.directives.iter().filter(move |d| {
            !(d.start.is_some_and(|s| now < s) || d.end.is_some_and(|e| now >= e))
                && d.applies_to(viewer)
        })
    }

    /// For audit: the segment ids this viewer's access falls under an
    /// opt-out for (a deny in force for them of a whole segment, any tier
    /// of it, or of the whole record). Narrower opt-outs (a content line, a
    /// category, an entry) are not a segment opt-out.
    pub fn opted_out_segments(
        &self,
        viewer: &Viewer,
        now: OffsetDateTime,
        policy: &Policy,
    ) -> Vec<String> {
        let mut out: Vec<u8> = Vec::new();
        for d in self.in_force(viewer, now) {
            if d.kind != DirectiveKind::Deny
                || !d.content.is_empty()
                || !d.categories.is_empty()
                || !d.entries.is_empty()
            {
                continue;
            }
            if d.segments.is_empty() {
                return policy.segments.iter().map(|s| s.id.clone()).collect();
            }
            out.extend(d.segments.iter().map(|(s, _)| *s));
        }
        out.sort_unstable();
        out.dedup();
        out.iter()
            .filter_map(|i| policy.segments.get(usize::from(*i)))
            .map(|s| s.id.clone())
            .collect()
    }

    /// The ids of the permits in force for this viewer (top-level ids: a
    /// nested provision's `id.0` counts as `id`).
    pub fn permits_in_force(&self, viewer: &Viewer, now: OffsetDateTime) -> Vec<String> {
        let mut out: Vec<String> = self
            .in_force(viewer, now)
            .filter(|d| d.kind == DirectiveKind::Permit)
            .map(|d| d.id.split('.').next().unwrap_or(&d.id).to_owned())
            .collect();
        out.dedup();
        out
    }

    /// Whether an opt-out in force applies to this viewer (what it covers
    /// is not said).
    pub fn restricts(&self, viewer: &Viewer, now: OffsetDateTime) -> bool {
        self.in_force(viewer, now)
            .any(|d| d.kind == DirectiveKind::Deny)
    }

    /// The opt-outs in force for this viewer (ids, oldest first, with when
    /// each was recorded); what each covers is not said.
    pub fn restricting(
        &self,
        viewer: &Viewer,
        now: OffsetDateTime,
    ) -> Vec<(String, OffsetDateTime)> {
        let mut out: Vec<(String, OffsetDateTime)> = Vec::new();
        for d in self
            .in_force(viewer, now)
            .filter(|d| d.kind == DirectiveKind::Deny)
        {
            if !out.iter().any(|(o, _)| *o == d.id) {
                out.push((d.id.clone(), d.recorded));
            }
        }
        out
    }

    /// For audit: when the latest permit in force for this viewer was
    /// recorded (the "recorded consent" relationship of framework 6.3).
    pub fn latest_permit(&self, viewer: &Viewer, now: OffsetDateTime) -> Option<OffsetDateTime> {
        self.in_force(viewer, now)
            .filter(|d| d.kind == DirectiveKind::Permit)
            .map(|d| d.recorded)
            .max()
    }

    /// What the directives in force for this viewer say of the entry in
    /// this placement: the first opt-out covering it that no permit nested
    /// inside it carves out, else the latest permit covering it, else
    /// nothing. A later permit never widens a standing opt-out.
    pub(crate) fn verdict(
        &self,
        viewer: &Viewer,
        now: OffsetDateTime,
        entry: EntryKey<'_>,
        placement: Option<Placement>,
    ) -> ConsentVerdict<'_> {
        let covering = || {
            self.directives.iter().filter(move |d| {
                !(d.start.is_some_and(|s| now < s) || d.end.is_some_and(|e| now >= e))
                    && d.applies_to(viewer)
                    && d.covers(entry, placement)
            })
        };
        let deny = covering().find(|d| {
            d.kind == DirectiveKind::Deny
                && !covering().any(|p| p.kind == DirectiveKind::Permit && p.is_exception_of(d))
        });
        if let Some(d) = deny {
            return ConsentVerdict::Deny(&d.id);
        }
        match covering().rfind(|d| d.kind == DirectiveKind::Permit) {
            Some(p) => ConsentVerdict::Permit(&p.id),
            None => ConsentVerdict::Silent,
        }
    }
}

impl Compiled {
    /// Whether this directive is an exception nested inside `parent`: a
    /// FHIR provision within its provision, made in the same Consent (ids
    /// `parent.0`, `parent.0.1`, recorded at the same instant).
    fn is_exception_of(&self, parent: &Compiled) -> bool {
        self.recorded == parent.recorded
            && self
                .id
                .strip_prefix(parent.id.as_str())
                .is_some_and(|rest| rest.starts_with('.'))
    }

    fn applies_to(&self, viewer: &Viewer) -> bool {
        (self.organisations.is_empty() || self.organisations.contains(&viewer.organisation))
            && (self.profiles.is_empty() || self.profiles.contains(&viewer.profile))
            && (self.users.is_empty() || self.users.contains(&viewer.user_id))
    }

    fn covers(&self, entry: EntryKey<'_>, placement: Option<Placement>) -> bool {
        let segment_ok = self.segments.is_empty()
            || placement.is_some_and(|p| {
                self.segments.iter().any(|(seg, tier)| {
                    *seg == p.segment
                        && match (tier, self.kind) {
                            (None, _) => true,
                            (Some(t), DirectiveKind::Permit) => p.tier <= *t,
                            (Some(t), DirectiveKind::Deny | DirectiveKind::Withdraw) => {
                                p.tier >= *t
                            }
                        }
                })
            });
        let content_ok = self.content.is_empty()
            || self.content.iter().any(|c| {
                entry.content.contains(c)
                    && match (self.kind, entry.permit_content) {
                        (DirectiveKind::Permit, Some(lines)) => lines.contains(c),
                        _ => true,
                    }
            });
        let category_ok = self.categories.is_empty()
            || self.categories.iter().any(|c| entry.categories.contains(c));
        let entry_ok = self.entries.is_empty()
            || self
                .entries
                .iter()
                .any(|e| Some(e.as_str()) == entry.reference || Some(e.as_str()) == entry.full_url);
        segment_ok && content_ok && category_ok && entry_ok
    }
}

/// FHIR R4 `Consent` to directives.
pub mod fhir {
    use super::*;

    const PROVISION_KEYS: &[&str] = &[
        "type",
        "period",
        "actor",
        "code",
        "data",
        "provision",
        "action",
    ];
    const MAX_NESTING: usize = 8;

    /// The extension that makes a Consent the withdrawal of an earlier
    /// opt-out (`valueReference` to `Consent/<id>`), and the one giving the
    /// recorder's reason (`valueString`).
    pub const WITHDRAWS_URL: &str = "https://fhir.tiergate.example/StructureDefinition/withdraws";
    pub const REASON_URL: &str =
        "https://fhir.tiergate.example/StructureDefinition/withdrawal-reason";

    /// A Consent that withdraws an earlier opt-out: no provision, and the
    /// withdrawn opt-out named by reference.
    fn read_withdrawal(
        res: &Map<String, Value>,
        id: &str,
        recorded: &str,
        path: &str,
    ) -> Result<Option<ConsentDirective>, ConsentError> {
        let extensions = res.get("extension").and_then(Value::as_array);
        let find = |url: &str| {
            extensions
                .into_iter()
                .flatten()
                .find(|e| e.get("url").and_then(Value::as_str) == Some(url))
        };
        let Some(ext) = find(WITHDRAWS_URL) else {
            return Ok(None);
        };
        if res.contains_key("provision") {
            return Err(ConsentError::new(
                format!("{path}/provision"),
                "a withdrawal has no provision of its own",
            ));
        }
        let withdrawn = ext
            .get("valueReference")
            .and_then(|r| r.get("reference"))
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("Consent/"))
            .filter(|r| !r.is_empty())
            .ok_or_else(|| {
                ConsentError::new(
                    format!("{path}/extension"),
                    "a withdrawal names the opt-out it withdraws as `Consent/<id>`",
                )
            })?;
        let reason = find(REASON_URL)
            .and_then(|e| e.get("valueString"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok(Some(ConsentDirective {
            id: id.to_owned(),
            kind: DirectiveKind::Withdraw,
            recorded: recorded.to_owned(),
            period: None,
            actors: Actors::default(),
            scope: Scope::default(),
            withdraws: Some(withdrawn.to_owned()),
            reason,
        }))
    }

    pub(super) fn read_consent(
        res: &Map<String, Value>,
        path: &str,
        policy: &Policy,
        out: &mut Vec<ConsentDirective>,
    ) -> Result<(), ConsentError> {
        let status = res.get("status").and_then(Value::as_str).unwrap_or("");
        if status != "active" {
            // Draft, proposed, rejected, inactive and entered-in-error
            // directives are not in force.
            return Ok(());
        }
        let id = res
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| ConsentError::new(format!("{path}/id"), "a Consent needs an id"))?;
        let recorded = res.get("dateTime").and_then(Value::as_str).ok_or_else(|| {
            ConsentError::new(format!("{path}/dateTime"), "a Consent needs dateTime")
        })?;
        if let Some(withdrawal) = read_withdrawal(res, id, recorded, path)? {
            out.push(withdrawal);
            return Ok(());
        }
        let provision = res
            .get("provision")
            .and_then(Value::as_object)
            .ok_or_else(|| {
                ConsentError::new(format!("{path}/provision"), "a Consent needs a provision")
            })?;
        // Depth-first, parents before children, so a nested exception is
        // later in the list and wins over its parent at the same time. A
        // nested provision stays within its parent: it inherits every
        // actor and scope kind it leaves empty, and may only narrow the
        // ones it names.
        let mut stack: Vec<Frame<'_>> = vec![Frame {
            prov: provision,
            path: format!("{path}/provision"),
            depth: 0,
            id: id.to_owned(),
            parent: None,
        }];
        while let Some(Frame {
            prov,
            path: ppath,
            depth,
            id: pid,
            parent,
        }) = stack.pop()
        {
            if depth > MAX_NESTING {
                return Err(ConsentError::new(ppath, "provisions nested too deeply"));
            }
            for key in prov.keys() {
                if !PROVISION_KEYS.contains(&key.as_str()) {
                    return Err(ConsentError::new(
                        format!("{ppath}/{key}"),
                        "provision element not supported: refusing to guess its meaning",
                    ));
                }
            }
            let kind = match prov.get("type").and_then(Value::as_str) {
                Some("permit") => DirectiveKind::Permit,
                Some("deny") => DirectiveKind::Deny,
                _ => {
                    return Err(ConsentError::new(
                        format!("{ppath}/type"),
                        "expected `permit` or `deny`",
                    ))
                }
            };
            let period = match prov.get("period").and_then(Value::as_object) {
                Some(p) => Some(Period {
                    start: p.get("start").and_then(Value::as_str).map(str::to_owned),
                    end: p.get("end").and_then(Value::as_str).map(str::to_owned),
                }),
                None => parent.as_ref().and_then(|p| p.period.clone()),
            };
            let mut actors = read_actors(prov, &ppath, policy)?;
            let mut scope = read_scope(prov, &ppath, policy)?;
            if let Some(parent) = &parent {
                actors = Actors {
                    organisations: within(
                        &parent.actors.organisations,
                        actors.organisations,
                        &ppath,
                        "actor",
                    )?,
                    profiles: within(&parent.actors.profiles, actors.profiles, &ppath, "actor")?,
                    users: within(&parent.actors.users, actors.users, &ppath, "actor")?,
                };
                scope.segments = if scope.segments.is_empty() {
                    parent.scope.segments.clone()
                } else if parent.scope.segments.is_empty()
                    || scope
                        .segments
                        .iter()
                        .all(|c| parent.scope.segments.iter().any(|p| p.segment == c.segment))
                {
                    scope.segments
                } else {
                    return Err(ConsentError::new(
                        format!("{ppath}/code"),
                        "a nested provision may not name a segment its parent does not cover",
                    ));
                };
                scope.content = within(&parent.scope.content, scope.content, &ppath, "code")?;
                scope.categories =
                    within(&parent.scope.categories, scope.categories, &ppath, "code")?;
                scope.entries = within(&parent.scope.entries, scope.entries, &ppath, "data")?;
            }
            let directive = ConsentDirective {
                id: pid.clone(),
                kind,
                recorded: recorded.to_owned(),
                period,
                actors,
                scope,
                withdraws: None,
                reason: None,
            };
            if kind == DirectiveKind::Deny || shares(prov, &ppath)? {
                out.push(directive.clone());
            }
            if let Some(children) = prov.get("provision").and_then(Value::as_array) {
                for (i, child) in children.iter().enumerate().rev() {
                    let cpath = format!("{ppath}/provision/{i}");
                    let child = child
                        .as_object()
                        .ok_or_else(|| ConsentError::new(cpath.clone(), "expected an object"))?;
                    stack.push(Frame {
                        prov: child,
                        path: cpath,
                        depth: depth + 1,
                        id: format!("{pid}.{i}"),
                        parent: Some(directive.clone()),
                    });
                }
            }
        }
        Ok(())
    }

    /// A provision waiting to be read, with the directive of its parent.
    struct Frame<'a> {
        prov: &'a Map<String, Value>,
        path: String,
        depth: usize,
        id: String,
        parent: Option<ConsentDirective>,
    }

    /// A nested provision's values of one kind: the parent's when it names
    /// none, its own when they are all within the parent's.
    fn within(
        parent: &[String],
        child: Vec<String>,
        path: &str,
        element: &str,
    ) -> Result<Vec<String>, ConsentError> {
        if child.is_empty() {
            Ok(parent.to_vec())
        } else if parent.is_empty() || child.iter().all(|c| parent.contains(c)) {
            Ok(child)
        } else {
            Err(ConsentError::new(
                format!("{path}/{element}"),
                "a nested provision may not reach beyond its parent",
            ))
        }
    }

    /// Whether a permit's actions include viewing (`access`, `use` or
    /// `disclose`); a permit only to `collect` or `correct` shares nothing.
    fn shares(prov: &Map<String, Value>, path: &str) -> Result<bool, ConsentError> {
        let Some(actions) = prov.get("action") else {
            return Ok(true);
        };
        let actions = actions
            .as_array()
            .ok_or_else(|| ConsentError::new(format!("{path}/action"), "expected an array"))?;
        let mut codes = Vec::new();
        for a in actions {
            for c in a
                .get("coding")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                codes.push(c.get("code").and_then(Value::as_str).unwrap_or(""));
            }
        }
        Ok(codes.is_empty()
            || codes
                .iter()
                .any(|c| matches!(*c, "access" | "use" | "disclose")))
    }

    fn read_actors(
        prov: &Map<String, Value>,
        path: &str,
        policy: &Policy,
    ) -> Result<Actors, ConsentError> {
        let mut actors = Actors::default();
        let fhir = &policy.document.consent.fhir;
        for (i, actor) in prov
            .get("actor")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let apath = format!("{path}/actor/{i}/reference/identifier");
            let ident = actor
                .get("reference")
                .and_then(|r| r.get("identifier"))
                .and_then(Value::as_object)
                .ok_or_else(|| {
                    ConsentError::new(
                        apath.clone(),
                        "an actor must be given by identifier (organisation, profile or user)",
                    )
                })?;
            let system = ident.get("system").and_then(Value::as_str).unwrap_or("");
            let value = ident
                .get("value")
                .and_then(Value::as_str)
                .ok_or_else(|| ConsentError::new(format!("{apath}/value"), "missing value"))?
                .to_owned();
            if fhir.organisation_systems.iter().any(|s| s == system) {
                actors.organisations.push(value);
            } else if system == fhir.profile_system {
                actors.profiles.push(value);
            } else if system == "https://fhir.nhs.uk/Id/sds-user-id" {
                actors.users.push(value);
            } else {
                return Err(ConsentError::new(
                    format!("{apath}/system"),
                    "unknown actor identifier system",
                ));
            }
        }
        Ok(actors)
    }

    fn read_scope(
        prov: &Map<String, Value>,
        path: &str,
        policy: &Policy,
    ) -> Result<Scope, ConsentError> {
        let mut scope = Scope::default();
        let fhir = &policy.document.consent.fhir;
        for (i, cc) in prov
            .get("code")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            for (j, coding) in cc
                .get("coding")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let cpath = format!("{path}/code/{i}/coding/{j}");
                let system = coding.get("system").and_then(Value::as_str).unwrap_or("");
                let code = coding
                    .get("code")
                    .and_then(Value::as_str)
                    .ok_or_else(|| ConsentError::new(format!("{cpath}/code"), "missing code"))?;
                if system == fhir.placement_system {
                    let (segment, tier) = match code.rsplit_once('-') {
                        Some((s, t)) if t.bytes().all(|b| b.is_ascii_digit()) => (
                            s,
                            Some(
                                t.parse::<u8>()
                                    .map_err(|_| ConsentError::new(cpath.clone(), "bad tier"))?,
                            ),
                        ),
                        _ => (code, None),
                    };
                    scope.segments.push(SegmentScope {
                        segment: segment.to_owned(),
                        tier,
                    });
                } else if system == fhir.content_system {
                    scope.content.push(code.to_owned());
                } else if system == fhir.category_system {
                    scope.categories.push(code.to_owned());
                } else {
                    return Err(ConsentError::new(
                        format!("{cpath}/system"),
                        "unknown provision code system",
                    ));
                }
            }
        }
        for (i, d) in prov
            .get("data")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            match d.get("meaning").and_then(Value::as_str) {
                None | Some("instance") => {}
                Some(_) => {
                    return Err(ConsentError::new(
                        format!("{path}/data/{i}/meaning"),
                        "only `instance` data references are supported: refusing to guess the rest",
                    ))
                }
            }
            let r = d
                .get("reference")
                .and_then(|r| r.get("reference"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    ConsentError::new(format!("{path}/data/{i}/reference"), "missing reference")
                })?;
            scope.entries.push(r.to_owned());
        }
        Ok(scope)
    }
}
