//! # tiergate-wasm
//!
//! JavaScript bindings over [`tiergate_core`], for the browser portals
//! (`--target web`), Node tooling and tests (`--target nodejs`) and workerd
//! (the web build, instantiated from a compiled module with `initSync`).
//!
//! This crate translates and delegates; every rule lives in core. The shape
//! is JSON in, JSON out:
//!
//! * build one [`Engine`] per page, process or isolate from a policy (the
//!   embedded default when none is given): the policy is validated and
//!   compiled once;
//! * pass record bodies as strings or bytes, never as parsed object graphs
//!   (converting a parsed value to JS objects costs more than letting JS
//!   parse a string, and the bytes are what gets compared across runtimes);
//! * the redacted document comes back as a string; decisions, summaries and
//!   classifications come back as plain JS values (written as JSON text
//!   here and parsed by `JSON.parse`: one call across the boundary, not one
//!   per object, array and member);
//! * every failure is a JS `Error` whose `name` is the core error type
//!   (`PolicyError`, `ViewerError`, `ConsentError`, `BreakGlassError`,
//!   `RedactError`, `PlanError`, `LeafletError`), whose `message` names the
//!   JSON path and never quotes
//!   record content, and whose `path` property holds the JSON pointer when
//!   there is one. A `PolicyError` also carries every `problems` entry.
//!
//! ```js
//! import init, { Engine } from "./pkg/web/tiergate_wasm.js";
//! await init();
//! const engine = new Engine();                  // default policy
//! const out = engine.redact(bodyText, viewer, consent, "2026-11-25T12:00:00Z");
//! if (out.outcome === "not_found") { /* answer 404 */ }
//! const shown = JSON.parse(out.body);
//! ```

use js_sys::{ArrayBuffer, Reflect, Uint8Array};
use serde::Serialize;
use std::borrow::Cow;
use std::sync::OnceLock;
use tiergate_core::leaflets::{LeafletError, Leaflets};
use tiergate_core::plan::{plan_from_careplan, plan_to_careplan, PlanError, PlanFields};
use tiergate_core::reminders::{reminders, to_ics};
use tiergate_core::{
    BreakGlassError, Classification, ConsentError, ConsentSet, Decisions, Limits, Outcome, Policy,
    PolicyError, RedactError, Redacted, Request, Summary, Viewer, ViewerError,
};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &str = r#"
/** JSON text, its UTF-8 bytes, or (for small inputs such as a viewer) a plain object. */
export type JsonInput = string | Uint8Array | ArrayBuffer | object;

/** A FHIR R4 JSON record body: text or UTF-8 bytes, never a parsed object. */
export type RecordBody = string | Uint8Array | ArrayBuffer;

/** The instant a decision is made at: RFC 3339 text or a Date; omitted means now. */
export type Instant = string | Date;

export type Outcome = "document" | "not_found";

export interface BreakGlassWindow {
  reason: string | null;
  started: string;
  expires: string;
}

export interface Summary {
  /** Content hash of the policy that decided (`sha256:...`). */
  policy: string;
  user_id: string;
  organisation: string;
  profile: string;
  entries: number;
  allowed: number;
  withheld: number;
  /** Each withheld entry counts once under each distinct reason it has. */
  withheld_by_reason: Record<string, number>;
  break_glass?: BreakGlassWindow;
  allowed_by_break_glass: number;
  /** Whether this access must be investigated (break glass used). */
  investigate: boolean;
  /** Individual approvals (framework 7.2) that opened an allowed entry. */
  approvals?: string[];
}

export interface Placement {
  segment: string;
  tier: number;
  content: string;
}

export interface EntryDecision {
  index: number;
  resource_type?: string;
  id?: string;
  rule?: string;
  setting?: string;
  placements: Placement[];
  decision: "allow" | "withhold";
  /** Machine-readable reasons (`no_consent`, `excluded_category:hiv_aids`, ...); empty when allowed. */
  reasons: string[];
  allowed_by?: string;
  consent?: string;
  break_glass: boolean;
  /** The individual approval (framework 7.2) that opened its placement. */
  approval?: string;
}

export interface Decisions {
  summary: Summary;
  entries: EntryDecision[];
}

export interface Redaction {
  outcome: Outcome;
  /** The redacted document as compact JSON; for `not_found`, a FHIR OperationOutcome. */
  body: string;
  summary: Summary;
}

export interface Classification {
  index: number;
  resource_type?: string;
  id?: string;
  /** The classification rule that matched; absent when none did (the entry is withheld). */
  rule?: string;
  setting?: string;
  placements: Placement[];
  disposition: "placed" | "dependent" | "about" | "container" | "unclassified";
  /** Exclusion categories named by the entry's codes, terms or security labels. */
  exclusion_categories: string[];
  /** A security label withholds it from everyone. */
  security_withheld: boolean;
}

export interface Problem {
  path: string;
  rule?: string;
  message: string;
}

/** A leaflet or video from the catalogue (`leaflets` returns `Leaflet[]` as JSON text). */
export interface Leaflet {
  id: string;
  title: string;
  kind: "leaflet" | "video";
  summary: string;
  for_whom: string;
  codes: string[];
  signs_to_look_out_for: string[];
  who_to_contact: string[];
}

/** An upcoming appointment or repeating task (`reminders` returns `Reminder[]` as JSON text). */
export interface Reminder {
  uid: string;
  kind: "appointment" | "task";
  summary: string;
  description?: string;
  location?: string;
  /** RFC 3339, UTC: the event, or the first of a series. */
  start: string;
  end?: string;
  /** ISO 8601 duration when there is no `end`. */
  duration?: string;
  /** RFC 5545 recurrence rule of a repeating task. */
  rrule?: string;
  /** The next occurrence at or after `now`. */
  next: string;
  /** Alarm trigger before the start (`-P1D`, `-PT1H`). */
  alarm: string;
  /** `Appointment/id` or `CarePlan/id`. */
  source: string;
}

export interface PlanGoal {
  text: string;
  set_with?: string;
  /** `YYYY-MM-DD`. */
  due?: string;
}

/** The person-centred plan (`planFromCarePlan` returns it as JSON text). */
export interface PlanFields {
  preferred_name?: string;
  emergency_wishes?: string;
  preferences: string[];
  goals: PlanGoal[];
}

/** A proxy scope a patient may grant (`proxyScopes` returns `ProxyScope[]` as JSON text). */
export interface ProxyScope {
  id: string;
  display: string;
  content: string[];
  permits: string[];
}

/** A content line of tables 1-4 (`contentLines` returns `ContentLine[]` as JSON text). */
export interface ContentLine {
  id: string;
  segment: string;
  tier: number;
  label: string;
}

/** What `policyInfo` returns as JSON text: the policy's names for display. */
export interface PolicyInfo {
  segments: { id: string; name: string }[];
  profiles: { id: string; name: string; group: string }[];
  contentLines: ContentLine[];
  breakGlass: {
    reasons: { code: string; display: string }[];
    /** How long one break-glass window lasts. */
    maxMinutes: number;
  };
}
"#;

static DEFAULT_POLICY: OnceLock<Result<Policy, PolicyError>> = OnceLock::new();

/// The embedded default policy, compiled on first use.
fn default_policy() -> Result<&'static Policy, &'static PolicyError> {
    DEFAULT_POLICY.get_or_init(Policy::default_policy).as_ref()
}

/// Compiles the default policy now; true when it compiled.
///
/// The Node build calls this once at build time (`scripts/wasm-build.mjs`
/// runs `scripts/preinit.mjs` on it) and ships the resulting memory,
/// so `new Engine()` in a fresh process finds the policy already compiled.
#[doc(hidden)]
#[wasm_bindgen(skip_typescript)]
pub fn tiergate_preinit() -> bool {
    default_policy().is_ok()
}

/// A compiled policy, ready to decide and redact. Build one per page,
/// process or isolate; every call only walks data.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Engine {
    /// The default policy is compiled once per module instance and shared.
    policy: Cow<'static, Policy>,
    /// The leaflet catalogue, compiled on first use.
    leaflets: std::cell::OnceCell<Leaflets>,
}

#[wasm_bindgen]
impl Engine {
    /// Validates and compiles `policy` (JSON text, bytes or an object); the
    /// embedded default policy when it is `undefined` or `null`. Throws a
    /// `PolicyError` listing every problem with its JSON path.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_optional_param_type = "JsonInput | null")] policy: Option<JsValue>,
    ) -> Result<Engine, JsValue> {
        let policy = match policy.filter(|p| !p.is_null() && !p.is_undefined()) {
            None => Cow::Borrowed(default_policy().map_err(policy_error)?),
            Some(p) => Cow::Owned(
                Policy::from_json(&json_input(&p, "policy", true)?)
                    .map_err(|e| policy_error(&e))?,
            ),
        };
        Ok(Engine {
            policy,
            leaflets: std::cell::OnceCell::new(),
        })
    }

    /// The content hash (`sha256:` + hex) of the policy document; every
    /// decision names it.
    #[wasm_bindgen(js_name = policyHash)]
    pub fn policy_hash(&self) -> String {
        self.policy.hash().to_owned()
    }

    /// What `viewer` may see of `record`: the redacted document as a string
    /// and the decision summary. `consent` may be `null` (no directives);
    /// `setting` names the care setting of the origin system for entries
    /// that do not carry one; `holdingOrganisation` is the organisation
    /// whose system the record comes from (own-organisation pass-through
    /// for entries that do not name their holder). Throws when nothing may
    /// be released.
    #[wasm_bindgen(unchecked_return_type = "Redaction")]
    pub fn redact(
        &self,
        #[wasm_bindgen(unchecked_param_type = "RecordBody")] record: JsValue,
        #[wasm_bindgen(unchecked_param_type = "JsonInput")] viewer: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "JsonInput | null")] consent: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "Instant | null")] now: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "string | null")] setting: Option<String>,
        #[wasm_bindgen(js_name = holdingOrganisation, unchecked_optional_param_type = "string | null")]
        holding_organisation: Option<String>,
    ) -> Result<JsValue, JsValue> {
        let out = self.run(
            &record,
            &viewer,
            &consent,
            &now,
            setting.as_deref(),
            holding_organisation.as_deref(),
        )?;
        let body = String::from_utf8(out.body)
            .map_err(|_| named_error("RedactError", "record: output is not UTF-8", None))?;
        // The body goes across as a string of its own: inside the JSON text
        // it would be escaped here and unescaped by `JSON.parse`.
        let redaction = to_js(&RedactionOut {
            outcome: &out.outcome,
            body: (),
            summary: &out.decisions.summary,
        })?;
        Reflect::set(
            &redaction,
            &JsValue::from_str("body"),
            &JsValue::from_str(&body),
        )
        .map_err(|_| named_error("Error", "cannot convert result", None))?;
        Ok(redaction)
    }

    /// The benchmark floor, not part of the API: a plain `serde_json`
    /// parse-and-serialise of a record, taken and returned as `redact`
    /// takes and returns it, so that `make bench` compares like with like.
    #[doc(hidden)]
    #[wasm_bindgen(js_name = __serdeRoundTrip)]
    pub fn serde_round_trip(
        &self,
        #[wasm_bindgen(unchecked_param_type = "RecordBody")] record: JsValue,
    ) -> Result<String, JsValue> {
        let record = json_input(&record, "record", false)?;
        let value = parse_json(&record)?;
        serde_json::to_string(&value)
            .map_err(|_| named_error("RedactError", "record: could not serialise", None))
    }

    /// Every entry's decision and reasons, for audit and developer tools
    /// (never for showing a viewer what was withheld). Same arguments as
    /// `redact`.
    #[wasm_bindgen(unchecked_return_type = "Decisions")]
    pub fn explain(
        &self,
        #[wasm_bindgen(unchecked_param_type = "RecordBody")] record: JsValue,
        #[wasm_bindgen(unchecked_param_type = "JsonInput")] viewer: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "JsonInput | null")] consent: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "Instant | null")] now: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "string | null")] setting: Option<String>,
        #[wasm_bindgen(js_name = holdingOrganisation, unchecked_optional_param_type = "string | null")]
        holding_organisation: Option<String>,
    ) -> Result<JsValue, JsValue> {
        let out = self.run(
            &record,
            &viewer,
            &consent,
            &now,
            setting.as_deref(),
            holding_organisation.as_deref(),
        )?;
        to_js::<Decisions>(&out.decisions)
    }

    /// Where one entry sits: the rule that matched, its care setting and
    /// its (segment, tier) placements. `entry` is a FHIR resource or a
    /// Bundle entry (`{fullUrl, resource}`). References to other entries are
    /// not resolved; use `classifyAll` on the whole document for that.
    #[wasm_bindgen(unchecked_return_type = "Classification")]
    pub fn classify(
        &self,
        #[wasm_bindgen(unchecked_param_type = "JsonInput")] entry: JsValue,
        setting: Option<String>,
    ) -> Result<JsValue, JsValue> {
        let value = parse_json(&json_input(&entry, "entry", true)?)?;
        let is_resource = value.get("resourceType").is_some();
        if is_resource && value.get("resourceType").and_then(|t| t.as_str()) == Some("Bundle") {
            return Err(type_error(
                "entry: a Bundle is a document: use `classifyAll`",
            ));
        }
        let document = if is_resource {
            value
        } else {
            serde_json::json!({"resourceType": "Bundle", "type": "collection", "entry": [value]})
        };
        let all = self.classify_value(&document, setting.as_deref())?;
        match all.into_iter().next() {
            Some(c) => to_js(&c),
            None => Err(type_error("entry: nothing to classify")),
        }
    }

    /// `classify` for every entry of a document (a Bundle's entries, or a
    /// single resource), resolving references within it.
    #[wasm_bindgen(js_name = classifyAll, unchecked_return_type = "Classification[]")]
    pub fn classify_all(
        &self,
        #[wasm_bindgen(unchecked_param_type = "RecordBody")] document: JsValue,
        setting: Option<String>,
    ) -> Result<JsValue, JsValue> {
        let value = parse_json(&json_input(&document, "document", false)?)?;
        to_js(&self.classify_value(&value, setting.as_deref())?)
    }
}

#[wasm_bindgen]
impl Engine {
    /// The catalogue's leaflets and videos that match codes in `record`, as
    /// JSON text (`Leaflet[]`). Pass the record the viewer received (the
    /// redacted body), never the origin's.
    pub fn leaflets(
        &self,
        #[wasm_bindgen(unchecked_param_type = "RecordBody")] record: JsValue,
    ) -> Result<String, JsValue> {
        let value = parse_json(&json_input(&record, "record", false)?)?;
        let leaflets = match self.leaflets.get() {
            Some(l) => l,
            None => {
                let compiled = Leaflets::default_catalogue().map_err(|e| leaflet_error(&e))?;
                self.leaflets.get_or_init(|| compiled)
            }
        };
        json_text(&leaflets.matching(&value))
    }

    /// Upcoming appointments and repeating care plan tasks in `record`,
    /// soonest first, as JSON text (`Reminder[]`).
    pub fn reminders(
        &self,
        #[wasm_bindgen(unchecked_param_type = "RecordBody")] record: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Instant")] now: JsValue,
    ) -> Result<String, JsValue> {
        let value = parse_json(&json_input(&record, "record", false)?)?;
        json_text(&reminders(&value, parse_now(&now)?))
    }

    /// The reminders of `record` as an iCalendar (RFC 5545) file.
    pub fn ics(
        &self,
        #[wasm_bindgen(unchecked_param_type = "RecordBody")] record: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Instant")] now: JsValue,
        #[wasm_bindgen(js_name = calendarName)] calendar_name: String,
    ) -> Result<String, JsValue> {
        let value = parse_json(&json_input(&record, "record", false)?)?;
        let now = parse_now(&now)?;
        Ok(to_ics(&reminders(&value, now), now, &calendar_name))
    }

    /// The person-centred plan in a CarePlan, as JSON text (`PlanFields`).
    /// Throws a `PlanError` naming the field for anything else.
    #[wasm_bindgen(js_name = planFromCarePlan)]
    pub fn plan_from_care_plan(
        &self,
        #[wasm_bindgen(unchecked_param_type = "JsonInput")] careplan: JsValue,
    ) -> Result<String, JsValue> {
        let value = parse_json(&json_input(&careplan, "careplan", true)?)?;
        let fields = plan_from_careplan(&value).map_err(|e| plan_error(&e))?;
        json_text(&fields)
    }

    /// The person-centred plan written as a FHIR CarePlan (JSON text) for
    /// `patientId`, created at `recorded` (RFC 3339). Validates first.
    #[wasm_bindgen(js_name = planToCarePlan)]
    pub fn plan_to_care_plan(
        &self,
        #[wasm_bindgen(js_name = patientId)] patient_id: String,
        #[wasm_bindgen(unchecked_param_type = "JsonInput")] fields: JsValue,
        recorded: String,
    ) -> Result<String, JsValue> {
        let fields = PlanFields::from_json(&json_input(&fields, "fields", true)?)
            .map_err(|e| plan_error(&e))?;
        let careplan =
            plan_to_careplan(&patient_id, &fields, &recorded).map_err(|e| plan_error(&e))?;
        json_text(&careplan)
    }

    /// The policy's proxy scopes, as JSON text (`ProxyScope[]`).
    #[wasm_bindgen(js_name = proxyScopes)]
    pub fn proxy_scopes(&self) -> Result<String, JsValue> {
        json_text(self.policy.proxy_scopes())
    }

    /// Whether any of the granted scopes permits `action` (`book`,
    /// `manage-sharing`, `view-access-log`); unknown scopes permit nothing.
    #[wasm_bindgen(js_name = scopePermits)]
    pub fn scope_permits(&self, scopes: Vec<String>, action: String) -> bool {
        self.policy.scope_permits(&scopes, &action)
    }

    /// The policy's content lines with their segment, tier and label, as
    /// JSON text (`ContentLine[]`).
    #[wasm_bindgen(js_name = contentLines)]
    pub fn content_lines(&self) -> Result<String, JsValue> {
        json_text(&self.content_line_list())
    }

    /// The names a page shows, read from the compiled policy document, as
    /// JSON text (`PolicyInfo`): segments, profiles, content lines and the
    /// break-glass reasons and time limit.
    #[wasm_bindgen(js_name = policyInfo)]
    pub fn policy_info(&self) -> Result<String, JsValue> {
        let doc = self.policy.document();
        json_text(&PolicyInfoOut {
            segments: doc
                .segments
                .iter()
                .map(|s| NamedOut {
                    id: &s.id,
                    name: &s.name,
                    group: None,
                })
                .collect(),
            profiles: doc
                .profiles
                .iter()
                .map(|p| NamedOut {
                    id: &p.id,
                    name: &p.name,
                    group: Some(&p.group),
                })
                .collect(),
            content_lines: self.content_line_list(),
            break_glass: BreakGlassOut {
                reasons: &doc.break_glass.reasons,
                max_minutes: doc.break_glass.max_minutes,
            },
        })
    }
}

impl Engine {
    fn content_line_list(&self) -> Vec<ContentLineOut<'_>> {
        self.policy
            .content()
            .iter()
            .map(|c| ContentLineOut {
                id: &c.id,
                segment: self
                    .policy
                    .segments()
                    .get(usize::from(c.placement.segment))
                    .map_or("", |s| s.id.as_str()),
                tier: c.placement.tier,
                label: &c.label,
            })
            .collect()
    }
}

#[derive(Serialize)]
struct ContentLineOut<'a> {
    id: &'a str,
    segment: &'a str,
    tier: u8,
    label: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PolicyInfoOut<'a> {
    segments: Vec<NamedOut<'a>>,
    profiles: Vec<NamedOut<'a>>,
    content_lines: Vec<ContentLineOut<'a>>,
    break_glass: BreakGlassOut<'a>,
}

#[derive(Serialize)]
struct NamedOut<'a> {
    id: &'a str,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BreakGlassOut<'a> {
    /// `{code, display}` as the document writes them.
    reasons: &'a [tiergate_core::document::ReasonDef],
    max_minutes: u32,
}

/// Compact JSON text of a core value.
fn json_text<T: Serialize + ?Sized>(value: &T) -> Result<String, JsValue> {
    serde_json::to_string(value)
        .map_err(|e| named_error("Error", &format!("cannot serialise result: {e}"), None))
}

fn plan_error(e: &PlanError) -> JsValue {
    let path = match e {
        PlanError::Field { field, .. } => Some(field.as_str()),
        PlanError::Shape { path, .. } => Some(path.as_str()),
        PlanError::NotAPlan { .. } => None,
    };
    named_error("PlanError", &e.to_string(), path)
}

fn leaflet_error(e: &LeafletError) -> JsValue {
    named_error(
        "LeafletError",
        &e.to_string(),
        e.problems.first().map(|p| p.path.as_str()),
    )
}

impl Engine {
    /// Reads the inputs in the order the command line does, then redacts.
    fn run(
        &self,
        record: &JsValue,
        viewer: &JsValue,
        consent: &JsValue,
        now: &JsValue,
        setting: Option<&str>,
        holding_organisation: Option<&str>,
    ) -> Result<Redacted, JsValue> {
        let policy = &self.policy;
        let viewer = Viewer::from_json(&json_input(viewer, "viewer", true)?)
            .map_err(|e| viewer_error(&e))?;
        viewer.validate(policy).map_err(|e| viewer_error(&e))?;
        let consent = if consent.is_null() || consent.is_undefined() {
            ConsentSet::default()
        } else {
            ConsentSet::from_json(&json_input(consent, "consent", true)?, policy)
                .map_err(|e| consent_error(&e))?
        };
        let compiled = consent.compile(policy).map_err(|e| consent_error(&e))?;
        let now = parse_now(now)?;
        let record = json_input(record, "record", false)?;
        let request = Request {
            viewer: &viewer,
            consent: &compiled,
            now,
            default_setting: setting,
            holding_organisation,
        };
        policy
            .redact(&record, &request, Limits::default())
            .map_err(|e| redact_error(&e))
    }

    /// Classification comes from core's decisions for a viewer who may see
    /// nothing (no training): rule, setting and placements are decided
    /// before anything about the viewer is.
    fn classify_value(
        &self,
        document: &serde_json::Value,
        setting: Option<&str>,
    ) -> Result<Vec<Classification>, JsValue> {
        self.policy
            .classify_document(document, setting)
            .map_err(|e| redact_error(&e))
    }
}

/// `body` is a placeholder (`null`) that keeps the member's place in the
/// object; the string is set afterwards.
#[derive(Serialize)]
struct RedactionOut<'a> {
    outcome: &'a Outcome,
    body: (),
    summary: &'a Summary,
}

/// Plain JS values, by way of JSON text: maps become objects, `None`
/// becomes `null`.
fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsValue> {
    js_sys::JSON::parse(&json_text(value)?)
        .map_err(|_| named_error("Error", "cannot convert result", None))
}

/// The bytes of a JSON input: text, bytes, or (when `objects`) a plain
/// object serialised with `JSON.stringify`, so core parses every input the
/// same way whatever the caller passed.
fn json_input(value: &JsValue, what: &str, objects: bool) -> Result<Vec<u8>, JsValue> {
    if let Some(text) = value.as_string() {
        return Ok(text.into_bytes());
    }
    if let Some(bytes) = value.dyn_ref::<Uint8Array>() {
        return Ok(bytes.to_vec());
    }
    if let Some(buffer) = value.dyn_ref::<ArrayBuffer>() {
        return Ok(Uint8Array::new(buffer).to_vec());
    }
    if objects && value.is_object() {
        if let Some(text) = js_sys::JSON::stringify(value)
            .ok()
            .and_then(|s| s.as_string())
        {
            return Ok(text.into_bytes());
        }
        return Err(type_error(&format!("{what}: cannot be serialised as JSON")));
    }
    let expected = if objects {
        "JSON text, bytes or an object"
    } else {
        "JSON text or bytes (pass the body, not a parsed object)"
    };
    Err(type_error(&format!("{what}: expected {expected}")))
}

fn parse_json(bytes: &[u8]) -> Result<serde_json::Value, JsValue> {
    tiergate_core::parse_record(bytes).map_err(|e| redact_error(&e))
}

/// RFC 3339 text or a `Date`; `undefined` or `null` is the current time.
fn parse_now(now: &JsValue) -> Result<OffsetDateTime, JsValue> {
    let bad_now = || redact_error(&RedactError::BadNow);
    let millis = if now.is_undefined() || now.is_null() {
        js_sys::Date::now()
    } else if let Some(date) = now.dyn_ref::<js_sys::Date>() {
        date.get_time()
    } else if let Some(text) = now.as_string() {
        return OffsetDateTime::parse(&text, &Rfc3339).map_err(|_| bad_now());
    } else {
        return Err(bad_now());
    };
    if !millis.is_finite() {
        return Err(bad_now());
    }
    // Whole milliseconds: a Date has no finer resolution.
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis as i64) * 1_000_000)
        .map_err(|_| bad_now())
}

/// A JS `Error` named after the core error type, with an optional `path`.
fn named_error(name: &str, message: &str, path: Option<&str>) -> JsValue {
    let error = js_sys::Error::new(message);
    error.set_name(name);
    if let Some(path) = path {
        set(&error, "path", &JsValue::from_str(path));
    }
    error.into()
}

fn type_error(message: &str) -> JsValue {
    js_sys::TypeError::new(message).into()
}

fn set(target: &js_sys::Error, key: &str, value: &JsValue) {
    // Setting a property on a fresh Error cannot fail; if it somehow does,
    // the message still says everything.
    let _ = Reflect::set(target, &JsValue::from_str(key), value);
}

fn policy_error(e: &PolicyError) -> JsValue {
    let path = e.problems.first().map(|p| p.path.as_str());
    let error: js_sys::Error = named_error("PolicyError", &e.to_string(), path).unchecked_into();
    if let Ok(problems) = to_js(&e.problems) {
        set(&error, "problems", &problems);
    }
    error.into()
}

fn viewer_error(e: &ViewerError) -> JsValue {
    let path = match e {
        ViewerError::Shape { path, .. } | ViewerError::BadDate { path } => path.as_str(),
        ViewerError::UnknownProfile { .. } => "/profile",
        ViewerError::UnknownProxyScope { .. } => "/proxy_scopes",
        ViewerError::BreakGlassNotApplicable { .. } => "/break_glass",
    };
    named_error("ViewerError", &e.to_string(), Some(path))
}

fn consent_error(e: &ConsentError) -> JsValue {
    named_error("ConsentError", &e.to_string(), Some(&e.path))
}

fn break_glass_error(e: &BreakGlassError) -> JsValue {
    named_error("BreakGlassError", &e.to_string(), Some("/break_glass"))
}

fn redact_error(e: &RedactError) -> JsValue {
    match e {
        RedactError::Viewer(v) => viewer_error(v),
        RedactError::Consent(c) => consent_error(c),
        RedactError::BreakGlass(b) => break_glass_error(b),
        RedactError::Structure { path, .. } => {
            named_error("RedactError", &e.to_string(), Some(path))
        }
        _ => named_error("RedactError", &e.to_string(), None),
    }
}
