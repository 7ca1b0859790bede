//! Proactive audit (framework 6.3): access events, the policy's audit rules,
//! and a scanner that runs those rules over the event stream.
//!
//! An [`AuditEvent`] says who accessed which patient's record, for what,
//! what was returned and withheld (counts only), and the facts the rules
//! need: break glass, the viewer organisation's relationships with the
//! patient, opt-outs in force. Events are read and written as NDJSON, and a
//! FHIR R4 `AuditEvent` (as the edge writes them) is read too; the mapping is
//! in `docs/audit.md`.
//!
//! The rules are data: the policy's `audit` section lists each rule with an
//! id, a severity, a kind and its parameters; the kinds are code
//! ([`RuleKind`]). [`AuditRules`] is compiled with the policy. A [`Scanner`]
//! takes events one at a time, in time order, and returns [`Alert`]s naming
//! the events that triggered them; [`scan`] runs a whole batch through the
//! same scanner. Per-user state is pruned by the rules' windows, so memory is
//! bounded by the number of users active within the longest window.
//!
//! ```
//! use tiergate_core::{audit, Policy};
//!
//! let policy = Policy::default_policy()?;
//! let line = r#"{"id": "e1", "time": "2026-11-25T12:00:00Z", "user": "u1",
//!   "organisation": "RVY", "profile": "6", "patient": "p1", "purpose": "direct-care",
//!   "kind": "read", "policy": "sha256:x", "break_glass": {"reason": "unconscious"}}"#;
//! let event = audit::AuditEvent::from_ndjson_line(&line.replace('\n', " "), 1)?.unwrap();
//! let alerts = audit::scan(policy.audit_rules(), [event])?;
//! assert_eq!(alerts[0].rule, "break-glass");
//! assert_eq!(alerts[0].events, ["e1"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use crate::document::{AuditDef, AuditRuleDef};
use crate::error::Problem;

/// At most this many event ids are named in one alert (the event that
/// crossed the threshold is always among them).
pub const MAX_ALERT_EVENTS: usize = 50;

// ---------------------------------------------------------------------------
// Events

/// What was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RequestKind {
    /// One resource (FHIR read, vread, history).
    Read,
    /// A search within a patient's record.
    Search,
    /// `Patient/$everything`.
    Everything,
    /// Finding a patient by demographics.
    FindPatient,
    /// Recording or withdrawing consent or an opt-out.
    ConsentChange,
    /// Work on a break-glass investigation case.
    BreakGlassCase,
    /// Anything else the source recorded (login, refused request).
    Other,
}

impl RequestKind {
    /// Whether the event is an access to record or patient data.
    pub fn is_access(self) -> bool {
        matches!(
            self,
            Self::Read | Self::Search | Self::Everything | Self::FindPatient
        )
    }
}

/// A legitimate relationship between the viewer's organisation and the
/// patient (framework 6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RelationshipKind {
    Encounter,
    Referral,
    CareTeam,
    Consent,
}

impl RelationshipKind {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "encounter" => Some(Self::Encounter),
            "referral" => Some(Self::Referral),
            "care-team" => Some(Self::CareTeam),
            "consent" => Some(Self::Consent),
            _ => None,
        }
    }
}

/// One relationship fact: of this kind, last recorded at this time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Relationship {
    pub kind: RelationshipKind,
    #[serde(with = "rfc3339")]
    pub time: OffsetDateTime,
}

/// Break glass used for this access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakGlassUse {
    /// The reason code from the policy's list.
    pub reason: String,
}

/// One access, as audit records it. Never carries record content: counts,
/// ids and policy vocabulary only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEvent {
    /// Unique event id (the edge uses the request id).
    pub id: String,
    /// When the access happened (RFC 3339).
    #[serde(with = "rfc3339")]
    pub time: OffsetDateTime,
    pub user: String,
    /// The viewer's surname and home address, when the directory knows
    /// them (for the same-surname/address rule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_surname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_address: Option<String>,
    /// The viewer's organisation (ODS code).
    pub organisation: String,
    /// The viewer's profile id (table 6).
    pub profile: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_surname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_address: Option<String>,
    /// Purpose of use.
    pub purpose: String,
    pub kind: RequestKind,
    /// Segments (`summary`) or placements (`summary-2`) requested or
    /// returned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<String>,
    /// Entries returned.
    #[serde(default)]
    pub returned: u64,
    /// Entries withheld, by reason class ([`withheld_class`]: each withheld
    /// entry counts once per distinct reason, as in the decision summary,
    /// and an excluded category or a restricting label is only `excluded`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub withheld: BTreeMap<String, u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub break_glass: Option<BreakGlassUse>,
    /// Content hash of the policy that decided.
    pub policy: String,
    /// The viewer organisation's relationships with the patient known at the
    /// time of access; `None` when nobody looked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relationships: Option<Vec<Relationship>>,
    /// Segments the patient had opted out of when the access was made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub opted_out: Vec<String>,
}

/// Why audit input or a scan failed. Messages name lines and JSON paths,
/// never content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    #[error("line {line}: not valid JSON (column {column})")]
    Json { line: usize, column: usize },
    #[error("line {line}: `{path}`: {message}")]
    Shape {
        line: usize,
        path: String,
        message: String,
    },
    #[error("event is earlier than the event before it; events must be in time order")]
    OutOfOrder,
    #[error("cannot write an event: {message}")]
    Write { message: String },
}

mod rfc3339 {
    use serde::{de::Visitor, ser::Error as _, Deserializer, Serializer};
    use time::format_description::well_known::Rfc3339;
    use time::OffsetDateTime;

    pub(super) fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        let text = t
            .format(&Rfc3339)
            .map_err(|_| S::Error::custom("time cannot be written as RFC 3339"))?;
        s.serialize_str(&text)
    }

    // Checked in a visitor, so that the deserializer reports the error at
    // the string itself (shape.rs finds the path from that position).
    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        struct Rfc3339Text;
        impl Visitor<'_> for Rfc3339Text {
            type Value = OffsetDateTime;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an RFC 3339 date-time")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<OffsetDateTime, E> {
                OffsetDateTime::parse(text, &Rfc3339)
                    .map_err(|_| E::custom("not an RFC 3339 date-time"))
            }
        }
        d.deserialize_str(Rfc3339Text)
    }
}

impl AuditEvent {
    /// Reads one NDJSON line: an event in this module's format, or a FHIR R4
    /// `AuditEvent`. `Ok(None)` for a blank line and for a FHIR event with
    /// no human user (an unauthenticated request cannot be attributed).
    pub fn from_ndjson_line(text: &str, line: usize) -> Result<Option<Self>, AuditError> {
        if text.trim().is_empty() {
            return Ok(None);
        }
        let shape = |e: crate::shape::ShapeError| {
            if e.syntax {
                AuditError::Json {
                    line,
                    column: e.column,
                }
            } else {
                AuditError::Shape {
                    line,
                    path: e.path,
                    message: e.message,
                }
            }
        };
        if text.contains("\"resourceType\"") {
            let value: Value = serde_json::from_str(text).map_err(|e| AuditError::Json {
                line,
                column: e.column(),
            })?;
            if value.get("resourceType").is_some() {
                return Self::from_fhir(&value, line);
            }
        }
        crate::shape::from_str(text).map(Some).map_err(shape)
    }

    /// This event as one line of NDJSON (no trailing newline).
    pub fn to_ndjson_line(&self) -> Result<String, AuditError> {
        serde_json::to_string(self).map_err(|e| AuditError::Write {
            message: if e.is_io() {
                "cannot be written".to_owned()
            } else {
                "cannot be written as JSON".to_owned()
            },
        })
    }

    /// Reads the fields that map from a FHIR R4 `AuditEvent` (see
    /// `docs/audit.md`). `Ok(None)` when no agent is a human user.
    pub fn from_fhir(value: &Value, line: usize) -> Result<Option<Self>, AuditError> {
        let shape = |path: &str, message: &str| AuditError::Shape {
            line,
            path: path.to_owned(),
            message: message.to_owned(),
        };
        if value.get("resourceType").and_then(Value::as_str) != Some("AuditEvent") {
            return Err(shape("/resourceType", "expected `AuditEvent`"));
        }
        let str_at = |ptr: &str| value.pointer(ptr).and_then(Value::as_str);
        let id = str_at("/id").ok_or_else(|| shape("/id", "missing"))?;
        let recorded = str_at("/recorded").ok_or_else(|| shape("/recorded", "missing"))?;
        let time = OffsetDateTime::parse(recorded, &Rfc3339)
            .map_err(|_| shape("/recorded", "not an RFC 3339 date-time"))?;
        let agents = value
            .get("agent")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let agent_type = |a: &Value| {
            a.pointer("/type/coding/0/code")
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let Some(human) = agents
            .iter()
            .find(|a| agent_type(a).as_deref() == Some("humanuser"))
        else {
            return Ok(None);
        };
        let Some(user) = human
            .pointer("/who/identifier/value")
            .and_then(Value::as_str)
        else {
            return Ok(None);
        };
        let organisation = agents
            .iter()
            .find(|a| agent_type(a).as_deref() == Some("dataprocessor"))
            .and_then(|a| a.pointer("/who/identifier/value"))
            .and_then(Value::as_str)
            .ok_or_else(|| shape("/agent", "no organisation (`dataprocessor`) agent"))?;
        let profile = human
            .pointer("/role/0/coding/0/code")
            .and_then(Value::as_str)
            .ok_or_else(|| shape("/agent", "no profile on the user agent"))?;
        let purpose = human
            .pointer("/purposeOfUse/0/coding/0/code")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let entities = value
            .get("entity")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let patient = entities
            .iter()
            .find(|e| e.pointer("/role/code").and_then(Value::as_str) == Some("1"))
            .and_then(|e| e.pointer("/what/reference"))
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("Patient/"))
            .map(str::to_owned);
        let subtype = str_at("/subtype/0/code").unwrap_or_default();
        let kind = match subtype {
            "read" | "vread" | "history-instance" => RequestKind::Read,
            "search-type" | "search-system" | "search" if patient.is_none() => {
                RequestKind::FindPatient
            }
            "search-type" | "search-system" | "search" => RequestKind::Search,
            "operation" | "everything" => RequestKind::Everything,
            "find-patient" => RequestKind::FindPatient,
            "consent-permit" | "consent-opt-out" | "consent-change" => RequestKind::ConsentChange,
            "break-glass-case" => RequestKind::BreakGlassCase,
            _ => RequestKind::Other,
        };
        let mut event = AuditEvent {
            id: id.to_owned(),
            time,
            user: user.to_owned(),
            user_surname: None,
            user_address: None,
            organisation: organisation.to_owned(),
            profile: profile.to_owned(),
            patient,
            patient_surname: None,
            patient_address: None,
            purpose: purpose.to_owned(),
            kind,
            segments: Vec::new(),
            returned: 0,
            withheld: BTreeMap::new(),
            break_glass: None,
            policy: String::new(),
            relationships: None,
            opted_out: Vec::new(),
        };
        let mut bg = false;
        let mut bg_reason = String::new();
        for (ei, e) in entities.iter().enumerate() {
            let Some(details) = e.get("detail").and_then(Value::as_array) else {
                continue;
            };
            for (di, d) in details.iter().enumerate() {
                let path = format!("/entity/{ei}/detail/{di}");
                let (Some(t), Some(v)) = (
                    d.get("type").and_then(Value::as_str),
                    d.get("valueString").and_then(Value::as_str),
                ) else {
                    continue;
                };
                let count = || {
                    v.parse::<u64>()
                        .map_err(|_| shape(&format!("{path}/valueString"), "expected a count"))
                };
                match t {
                    "policy" => v.clone_into(&mut event.policy),
                    "returned" => event.returned = count()?,
                    "break-glass" => bg = v == "true",
                    "break-glass-reason" => v.clone_into(&mut bg_reason),
                    "segment" => event.segments.push(v.to_owned()),
                    "opted-out" => event.opted_out.push(v.to_owned()),
                    _ => {
                        if let Some(reason) = t.strip_prefix("withheld:") {
                            *event
                                .withheld
                                .entry(withheld_class(reason).to_owned())
                                .or_default() += count()?;
                        } else if let Some(k) = t.strip_prefix("relationship:") {
                            let kind = RelationshipKind::parse(k).ok_or_else(|| {
                                shape(&format!("{path}/type"), "unknown relationship kind")
                            })?;
                            let time = OffsetDateTime::parse(v, &Rfc3339).map_err(|_| {
                                shape(&format!("{path}/valueString"), "not an RFC 3339 date-time")
                            })?;
                            event
                                .relationships
                                .get_or_insert_with(Vec::new)
                                .push(Relationship { kind, time });
                        } else if t == "relationships" && v == "none" {
                            event.relationships.get_or_insert_with(Vec::new);
                        }
                    }
                }
            }
        }
        let btg = value
            .get("purposeOfEvent")
            .and_then(Value::as_array)
            .is_some_and(|list| {
                list.iter()
                    .any(|p| p.pointer("/coding/0/code").and_then(Value::as_str) == Some("BTG"))
            });
        if bg || btg {
            event.break_glass = Some(BreakGlassUse { reason: bg_reason });
        }
        Ok(Some(event))
    }

    /// Entries withheld, summed over reasons.
    pub fn withheld_total(&self) -> u64 {
        self.withheld
            .values()
            .fold(0u64, |a, n| a.saturating_add(*n))
    }
}

// ---------------------------------------------------------------------------
// Rules

/// How serious an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "low" => Some(Self::Low),
            "medium" => Some(Self::Medium),
            "high" => Some(Self::High),
            _ => None,
        }
    }

    /// `low`, `medium` or `high`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kinds of audit rule: code. Which run, and with what parameters, is
/// the policy's business.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    BreakGlass,
    NoRelationship,
    SameSurnameOrAddress,
    VolumeSpike,
    OutOfHours,
    OptedOutSegment,
    Probing,
}

impl RuleKind {
    /// Every kind, with its name in the policy document.
    pub const ALL: [(&'static str, RuleKind); 7] = [
        ("break_glass", Self::BreakGlass),
        ("no_relationship", Self::NoRelationship),
        ("same_surname_or_address", Self::SameSurnameOrAddress),
        ("volume_spike", Self::VolumeSpike),
        ("out_of_hours", Self::OutOfHours),
        ("opted_out_segment", Self::OptedOutSegment),
        ("probing", Self::Probing),
    ];
}

/// A rule's parameters, compiled.
#[derive(Debug, Clone)]
enum Check {
    BreakGlass,
    NoRelationship {
        window: i64,
        kinds: Vec<RelationshipKind>,
        alert_if_unknown: bool,
    },
    SameSurnameOrAddress {
        surname: bool,
        address: bool,
    },
    VolumeSpike {
        window: i64,
        baseline_windows: i64,
        factor: f64,
        minimum: u64,
    },
    OutOfHours {
        profiles: HashSet<String>,
        /// Bit `n` set: day `n` (Monday = 0) is a working day.
        days: u8,
        start: u16,
        end: u16,
        offset: UtcOffset,
    },
    OptedOutSegment,
    Probing {
        requests: usize,
        withheld_at_least: u64,
        window: i64,
    },
}

#[derive(Debug, Clone)]
struct CompiledRule {
    id: String,
    severity: Severity,
    kind: RuleKind,
    check: Check,
}

/// The policy's audit rules, compiled once with the policy.
#[derive(Debug, Clone, Default)]
pub struct AuditRules {
    rules: Vec<CompiledRule>,
    /// Whether any rule keeps per-user state.
    stateful: bool,
    /// The longest window any stateful rule looks back over (seconds).
    horizon: i64,
}

impl AuditRules {
    /// Rule ids, kinds and severities, in document order.
    pub fn rules(&self) -> impl Iterator<Item = (&str, RuleKind, Severity)> {
        self.rules
            .iter()
            .map(|r| (r.id.as_str(), r.kind, r.severity))
    }

    /// Whether the policy has no audit rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

/// Reads one rule's parameters, reporting problems at their JSON paths.
struct Params<'a> {
    base: String,
    rule: &'a str,
    params: &'a Map<String, Value>,
    used: Vec<&'static str>,
    problems: &'a mut Vec<Problem>,
}

impl Params<'_> {
    fn problem(&mut self, key: &str, message: impl Into<String>) {
        self.problems
            .push(Problem::new(format!("{}/{key}", self.base), message).in_rule(self.rule));
    }

    fn get(&mut self, key: &'static str) -> Option<&Value> {
        self.used.push(key);
        let v = self.params.get(key);
        if v.is_none() {
            self.problems.push(
                Problem::new(self.base.clone(), format!("missing parameter `{key}`"))
                    .in_rule(self.rule),
            );
        }
        v
    }

    fn int(&mut self, key: &'static str, min: u64, max: u64) -> u64 {
        match self.get(key).map(Value::as_u64) {
            None => min,
            Some(Some(n)) if (min..=max).contains(&n) => n,
            Some(_) => {
                self.problem(key, format!("expected a whole number from {min} to {max}"));
                min
            }
        }
    }

    fn strings(&mut self, key: &'static str) -> Vec<(usize, String)> {
        match self.get(key) {
            None => Vec::new(),
            Some(Value::Array(items)) if !items.is_empty() => {
                let mut out = Vec::new();
                let mut bad = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item.as_str() {
                        Some(s) => out.push((i, s.to_owned())),
                        None => bad.push(i),
                    }
                }
                for i in bad {
                    self.problem(&format!("{key}/{i}"), "expected a string");
                }
                out
            }
            Some(_) => {
                self.problem(key, "expected a non-empty list of strings");
                Vec::new()
            }
        }
    }

    fn clock(&mut self, key: &'static str) -> u16 {
        let parsed = self.get(key).and_then(Value::as_str).and_then(|s| {
            let (h, m) = s.split_once(':')?;
            if h.len() != 2 || m.len() != 2 {
                return None;
            }
            let h: u16 = h.parse().ok()?;
            let m: u16 = m.parse().ok()?;
            ((h < 24 && m < 60) || (h == 24 && m == 0)).then(|| h * 60 + m)
        });
        match parsed {
            Some(v) => v,
            None => {
                if self.params.contains_key(key) {
                    self.problem(key, "expected a time of day `HH:MM` (00:00 to 24:00)");
                }
                0
            }
        }
    }

    fn finish(mut self) {
        let mut unknown: Vec<&String> = self
            .params
            .keys()
            .filter(|k| !self.used.contains(&k.as_str()))
            .collect();
        unknown.sort();
        for k in unknown {
            let msg = format!("unknown parameter `{k}`");
            self.problem(k, msg);
        }
    }
}

/// Compiles the policy's `audit` section. `profiles` are the policy's
/// profile ids.
pub(crate) fn compile(
    def: &AuditDef,
    profiles: &HashSet<&str>,
    problems: &mut Vec<Problem>,
) -> AuditRules {
    let mut rules = Vec::new();
    let mut seen = HashSet::new();
    let mut horizon = 0i64;
    for (i, r) in def.rules.iter().enumerate() {
        let base = format!("/audit/rules/{i}");
        if r.id.trim().is_empty() {
            problems.push(Problem::new(format!("{base}/id"), "empty id"));
        } else if !seen.insert(r.id.as_str()) {
            problems.push(Problem::new(
                format!("{base}/id"),
                format!("duplicate id `{}`", r.id),
            ));
        }
        let severity = Severity::parse(&r.severity);
        if severity.is_none() {
            problems.push(
                Problem::new(
                    format!("{base}/severity"),
                    "expected `low`, `medium` or `high`",
                )
                .in_rule(&r.id),
            );
        }
        let kind = RuleKind::ALL
            .iter()
            .find(|(name, _)| *name == r.kind)
            .map(|(_, k)| *k);
        let Some(kind) = kind else {
            let names: Vec<&str> = RuleKind::ALL.iter().map(|(n, _)| *n).collect();
            problems.push(
                Problem::new(
                    format!("{base}/kind"),
                    format!(
                        "unknown rule kind; expected one of `{}`",
                        names.join("`, `")
                    ),
                )
                .in_rule(&r.id),
            );
            continue;
        };
        let before = problems.len();
        let check = compile_check(r, kind, &base, profiles, problems);
        if let Some(w) = match &check {
            Check::VolumeSpike {
                window,
                baseline_windows,
                ..
            } => Some(window.saturating_mul(baseline_windows.saturating_add(1))),
            Check::Probing { window, .. } => Some(*window),
            _ => None,
        } {
            horizon = horizon.max(w);
        }
        if let (Some(severity), true) = (severity, problems.len() == before) {
            rules.push(CompiledRule {
                id: r.id.clone(),
                severity,
                kind,
                check,
            });
        }
    }
    let stateful = rules
        .iter()
        .any(|r| matches!(r.check, Check::VolumeSpike { .. } | Check::Probing { .. }));
    AuditRules {
        rules,
        stateful,
        horizon,
    }
}

fn compile_check(
    r: &AuditRuleDef,
    kind: RuleKind,
    base: &str,
    profiles: &HashSet<&str>,
    problems: &mut Vec<Problem>,
) -> Check {
    let mut p = Params {
        base: format!("{base}/params"),
        rule: &r.id,
        params: &r.params,
        used: Vec::new(),
        problems,
    };
    let check = match kind {
        RuleKind::BreakGlass => Check::BreakGlass,
        RuleKind::OptedOutSegment => Check::OptedOutSegment,
        RuleKind::NoRelationship => {
            let days = p.int("window_days", 1, 3650);
            let mut kinds = Vec::new();
            for (i, s) in p.strings("relationships") {
                match RelationshipKind::parse(&s) {
                    Some(k) if !kinds.contains(&k) => kinds.push(k),
                    Some(_) => p.problem(&format!("relationships/{i}"), "duplicate kind"),
                    None => p.problem(
                        &format!("relationships/{i}"),
                        "expected `encounter`, `referral`, `care-team` or `consent`",
                    ),
                }
            }
            let alert_if_unknown = match p.get("if_unknown").map(Value::as_str) {
                Some(Some("alert")) => true,
                Some(Some("ignore")) | None => false,
                Some(_) => {
                    p.problem("if_unknown", "expected `alert` or `ignore`");
                    false
                }
            };
            Check::NoRelationship {
                window: i64::try_from(days).unwrap_or(1).saturating_mul(86_400),
                kinds,
                alert_if_unknown,
            }
        }
        RuleKind::SameSurnameOrAddress => {
            let (mut surname, mut address) = (false, false);
            for (i, s) in p.strings("compare") {
                match s.as_str() {
                    "surname" => surname = true,
                    "address" => address = true,
                    _ => p.problem(&format!("compare/{i}"), "expected `surname` or `address`"),
                }
            }
            Check::SameSurnameOrAddress { surname, address }
        }
        RuleKind::VolumeSpike => {
            let window = p.int("window_minutes", 1, 10_080);
            let baseline = p.int("baseline_windows", 1, 10_000);
            let factor = match p.get("factor").map(Value::as_f64) {
                Some(Some(f)) if f.is_finite() && f > 1.0 && f <= 1000.0 => f,
                None => 2.0,
                Some(_) => {
                    p.problem("factor", "expected a number greater than 1, at most 1000");
                    2.0
                }
            };
            let minimum = p.int("minimum", 1, 1_000_000);
            Check::VolumeSpike {
                window: i64::try_from(window).unwrap_or(1).saturating_mul(60),
                baseline_windows: i64::try_from(baseline).unwrap_or(1),
                factor,
                minimum,
            }
        }
        RuleKind::OutOfHours => {
            let mut set = HashSet::new();
            for (i, s) in p.strings("profiles") {
                if !profiles.contains(s.as_str()) {
                    p.problem(&format!("profiles/{i}"), format!("unknown profile `{s}`"));
                } else if !set.insert(s) {
                    p.problem(&format!("profiles/{i}"), "duplicate profile");
                }
            }
            const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
            let mut days = 0u8;
            for (i, s) in p.strings("days") {
                match DAYS.iter().position(|d| *d == s) {
                    Some(d) if days & (1 << d) == 0 => days |= 1 << d,
                    Some(_) => p.problem(&format!("days/{i}"), "duplicate day"),
                    None => p.problem(&format!("days/{i}"), "expected `mon` to `sun`"),
                }
            }
            let start = p.clock("start");
            let end = p.clock("end");
            if start >= end && p.params.contains_key("end") {
                p.problem("end", "must be later than `start`");
            }
            let offset = match p.params.get("utc_offset_minutes") {
                None => UtcOffset::UTC,
                Some(v) => {
                    p.used.push("utc_offset_minutes");
                    match v
                        .as_i64()
                        .filter(|m| (-840..=840).contains(m))
                        .and_then(|m| i32::try_from(m * 60).ok())
                        .and_then(|s| UtcOffset::from_whole_seconds(s).ok())
                    {
                        Some(o) => o,
                        None => {
                            p.problem("utc_offset_minutes", "expected minutes from -840 to 840");
                            UtcOffset::UTC
                        }
                    }
                }
            };
            Check::OutOfHours {
                profiles: set,
                days,
                start,
                end,
                offset,
            }
        }
        RuleKind::Probing => {
            let requests = p.int("requests", 2, 10_000);
            let withheld_at_least = p.int("withheld_at_least", 1, 1_000_000);
            let window = p.int("window_minutes", 1, 10_080);
            Check::Probing {
                requests: usize::try_from(requests).unwrap_or(2),
                withheld_at_least,
                window: i64::try_from(window).unwrap_or(1).saturating_mul(60),
            }
        }
    };
    p.finish();
    check
}

// ---------------------------------------------------------------------------
// Alerts and the scanner

/// Something a privacy officer should look at. Ids and counts only: never
/// record content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    pub rule: String,
    pub kind: RuleKind,
    pub severity: Severity,
    pub user: String,
    pub organisation: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patient: Option<String>,
    /// The time of the event that raised the alert.
    #[serde(with = "rfc3339")]
    pub time: OffsetDateTime,
    /// Ids of the triggering events, oldest first (at most
    /// [`MAX_ALERT_EVENTS`]; the last is the one that raised the alert).
    pub events: Vec<String>,
    pub message: String,
}

impl Alert {
    /// This alert as one line of NDJSON (no trailing newline).
    pub fn to_ndjson_line(&self) -> Result<String, AuditError> {
        serde_json::to_string(self).map_err(|e| AuditError::Write {
            message: if e.is_io() {
                "cannot be written".to_owned()
            } else {
                "cannot be written as JSON".to_owned()
            },
        })
    }
}

/// Per-rule state for one user.
#[derive(Debug, Clone, Default)]
struct RuleState {
    /// Volume: (window number, accesses) for the current and baseline
    /// windows, oldest first.
    buckets: VecDeque<(i64, u64)>,
    /// Volume: the sum of every bucket but the current one.
    past: u64,
    /// Volume: ids in the current window (capped), and whether it alerted.
    current_ids: VecDeque<String>,
    fired: bool,
    /// Probing: (time, id) of recent requests with entries withheld.
    recent: VecDeque<(i64, String)>,
}

#[derive(Debug, Clone, Default)]
struct UserState {
    last: i64,
    first_window: Vec<i64>,
    rules: Vec<RuleState>,
}

/// Runs the audit rules over events fed one at a time, in time order.
#[derive(Debug)]
pub struct Scanner<'a> {
    rules: &'a AuditRules,
    users: HashMap<String, UserState>,
    last: Option<i64>,
    next_prune: i64,
}

impl<'a> Scanner<'a> {
    pub fn new(rules: &'a AuditRules) -> Self {
        Self {
            rules,
            users: HashMap::new(),
            last: None,
            next_prune: i64::MIN,
        }
    }

    /// Users with state held (for checking that memory stays bounded).
    pub fn users_tracked(&self) -> usize {
        self.users.len()
    }

    /// Feeds one event; returns the alerts it raises.
    pub fn feed(&mut self, event: &AuditEvent) -> Result<Vec<Alert>, AuditError> {
        let mut out = Vec::new();
        self.feed_into(event, &mut out)?;
        Ok(out)
    }

    /// Feeds one event, appending the alerts it raises to `out`.
    pub fn feed_into(
        &mut self,
        event: &AuditEvent,
        out: &mut Vec<Alert>,
    ) -> Result<(), AuditError> {
        let now = event.time.unix_timestamp();
        if self.last.is_some_and(|l| now < l) {
            return Err(AuditError::OutOfOrder);
        }
        self.last = Some(now);
        self.prune(now);
        let rules = self.rules;
        let mut state = if rules.stateful {
            if !self.users.contains_key(&event.user) {
                let n = rules.rules.len();
                self.users.insert(
                    event.user.clone(),
                    UserState {
                        last: now,
                        first_window: vec![i64::MIN; n],
                        rules: vec![RuleState::default(); n],
                    },
                );
            }
            let s = self.users.get_mut(&event.user);
            if let Some(s) = s {
                s.last = now;
                Some(s)
            } else {
                None
            }
        } else {
            None
        };
        for (ri, rule) in rules.rules.iter().enumerate() {
            let alert = |events: Vec<String>, message: String| Alert {
                rule: rule.id.clone(),
                kind: rule.kind,
                severity: rule.severity,
                user: event.user.clone(),
                organisation: event.organisation.clone(),
                patient: event.patient.clone(),
                time: event.time,
                events,
                message,
            };
            let this = || vec![event.id.clone()];
            match &rule.check {
                Check::BreakGlass => {
                    if event.break_glass.is_some() {
                        out.push(alert(this(), "break glass used: investigate".into()));
                    }
                }
                Check::NoRelationship {
                    window,
                    kinds,
                    alert_if_unknown,
                } => {
                    if event.patient.is_none()
                        || !event.kind.is_access()
                        || event.kind == RequestKind::FindPatient
                    {
                        continue;
                    }
                    let ok = match &event.relationships {
                        None => !alert_if_unknown,
                        Some(facts) => facts.iter().any(|f| {
                            let t = f.time.unix_timestamp();
                            kinds.contains(&f.kind) && t <= now && now - t <= *window
                        }),
                    };
                    if !ok {
                        let msg = if event.relationships.is_none() {
                            "no relationship with the patient is known for the viewer's organisation"
                        } else {
                            "no legitimate relationship with the patient within the window"
                        };
                        out.push(alert(this(), msg.into()));
                    }
                }
                Check::SameSurnameOrAddress { surname, address } => {
                    if event.patient.is_none() {
                        continue;
                    }
                    let same =
                        |a: &Option<String>, b: &Option<String>, norm: fn(&str) -> String| match (
                            a, b,
                        ) {
                            (Some(a), Some(b)) => {
                                let (a, b) = (norm(a), norm(b));
                                !a.is_empty() && a == b
                            }
                            _ => false,
                        };
                    let s =
                        *surname && same(&event.user_surname, &event.patient_surname, norm_name);
                    let a =
                        *address && same(&event.user_address, &event.patient_address, norm_address);
                    if s || a {
                        let what = match (s, a) {
                            (true, true) => "surname and address",
                            (true, false) => "surname",
                            _ => "address",
                        };
                        out.push(alert(
                            this(),
                            format!("viewer shares a {what} with the patient"),
                        ));
                    }
                }
                Check::OutOfHours {
                    profiles,
                    days,
                    start,
                    end,
                    offset,
                } => {
                    if !profiles.contains(&event.profile) {
                        continue;
                    }
                    let local = event.time.to_offset(*offset);
                    let day = local.weekday().number_days_from_monday();
                    let minute = u16::from(local.hour()) * 60 + u16::from(local.minute());
                    let in_hours = days & (1u8 << day) != 0 && *start <= minute && minute < *end;
                    if !in_hours {
                        out.push(alert(
                            this(),
                            format!(
                                "access outside working hours for profile `{}`",
                                event.profile
                            ),
                        ));
                    }
                }
                Check::OptedOutSegment => {
                    let hit = event.segments.iter().any(|s| {
                        let seg = segment_of(s);
                        event.opted_out.iter().any(|o| segment_of(o) == seg)
                    });
                    if hit {
                        out.push(alert(
                            this(),
                            "access requested a segment the patient has opted out of".into(),
                        ));
                    }
                }
                Check::VolumeSpike {
                    window,
                    baseline_windows,
                    factor,
                    minimum,
                } => {
                    let Some(user) = state.as_mut() else { continue };
                    if !event.kind.is_access() {
                        continue;
                    }
                    let (Some(st), Some(first)) =
                        (user.rules.get_mut(ri), user.first_window.get_mut(ri))
                    else {
                        continue;
                    };
                    let w = now.div_euclid(*window);
                    if *first == i64::MIN {
                        *first = w;
                    }
                    match st.buckets.back_mut() {
                        Some((bw, n)) if *bw == w => *n = n.saturating_add(1),
                        previous => {
                            let closed = previous.map_or(0, |(_, n)| *n);
                            st.past = st.past.saturating_add(closed);
                            st.buckets.push_back((w, 1));
                            st.current_ids.clear();
                            st.fired = false;
                        }
                    }
                    while let Some((_, n)) = st
                        .buckets
                        .front()
                        .filter(|(bw, _)| *bw < w - baseline_windows)
                    {
                        st.past = st.past.saturating_sub(*n);
                        st.buckets.pop_front();
                    }
                    if st.fired {
                        continue;
                    }
                    if st.current_ids.len() == MAX_ALERT_EVENTS {
                        st.current_ids.pop_back();
                    }
                    st.current_ids.push_back(event.id.clone());
                    let current = st.buckets.back().map_or(0, |(_, n)| *n);
                    let past = st.past;
                    let observed = (w - *first).min(*baseline_windows);
                    #[allow(clippy::cast_precision_loss)]
                    let baseline = if observed > 0 {
                        past as f64 / observed as f64
                    } else {
                        0.0
                    };
                    #[allow(clippy::cast_precision_loss)]
                    let over = current >= *minimum && current as f64 > baseline * factor;
                    if over && !st.fired {
                        st.fired = true;
                        out.push(alert(
                            st.current_ids.iter().cloned().collect(),
                            format!(
                                "{current} accesses in {} minutes against a baseline of {baseline:.1} per window",
                                window / 60
                            ),
                        ));
                    }
                }
                Check::Probing {
                    requests,
                    withheld_at_least,
                    window,
                } => {
                    let Some(user) = state.as_mut() else { continue };
                    let Some(st) = user.rules.get_mut(ri) else {
                        continue;
                    };
                    while st.recent.front().is_some_and(|(t, _)| now - *t >= *window) {
                        st.recent.pop_front();
                    }
                    if event.withheld_total() < *withheld_at_least {
                        continue;
                    }
                    st.recent.push_back((now, event.id.clone()));
                    if st.recent.len() >= *requests {
                        let ids: Vec<String> = st
                            .recent
                            .drain(..)
                            .map(|(_, id)| id)
                            .rev()
                            .take(MAX_ALERT_EVENTS)
                            .collect::<Vec<_>>()
                            .into_iter()
                            .rev()
                            .collect();
                        out.push(alert(
                            ids,
                            format!(
                                "{requests} requests with entries withheld within {} minutes",
                                window / 60
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Drops users with no event within the longest window. Runs at most
    /// once per window, so its cost is spread over the events in between.
    fn prune(&mut self, now: i64) {
        if now < self.next_prune {
            return;
        }
        let horizon = self.rules.horizon.max(60);
        self.users.retain(|_, u| now - u.last < horizon);
        self.next_prune = now.saturating_add(horizon);
    }
}

/// The class a withheld entry is counted under wherever anyone but the
/// person may see it (audit events, exports, metrics, alerts): the reason
/// code, except that an excluded category (`excluded_category:hiv_aids`) or
/// a restricting security label is only `excluded`, so that no audit trail
/// says which sensitive categories a patient's record holds.
pub fn withheld_class(reason: &str) -> &str {
    if reason.starts_with("excluded_category:") || reason == "security_label" {
        "excluded"
    } else {
        reason
    }
}

/// Runs every event through one [`Scanner`] and collects the alerts.
pub fn scan<I>(rules: &AuditRules, events: I) -> Result<Vec<Alert>, AuditError>
where
    I: IntoIterator,
    I::Item: std::borrow::Borrow<AuditEvent>,
{
    let mut scanner = Scanner::new(rules);
    let mut out = Vec::new();
    for e in events {
        scanner.feed_into(std::borrow::Borrow::borrow(&e), &mut out)?;
    }
    Ok(out)
}

fn norm_name(s: &str) -> String {
    s.trim().to_lowercase()
}

/// Letters and digits only, lower case: "12 High St." = "12 high st".
fn norm_address(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// `summary-2` -> `summary`; `summary` -> `summary`.
fn segment_of(s: &str) -> &str {
    match s.rsplit_once('-') {
        Some((seg, tier)) if !tier.is_empty() && tier.bytes().all(|b| b.is_ascii_digit()) => seg,
        _ => s,
    }
}
