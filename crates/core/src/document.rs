//! The policy document as written: JSON, governed data. [`crate::Policy`]
//! compiles it. Every field is documented in `docs/policy.md`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The whole policy document.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDocument {
    pub policy: PolicyMeta,
    pub segments: Vec<SegmentDef>,
    pub content: Vec<ContentDef>,
    pub profiles: Vec<ProfileDef>,
    /// National job-role codes (SDS job role names) and the profile each
    /// maps to, for identity providers that assert a job role, not a profile.
    #[serde(default)]
    pub job_roles: Vec<JobRoleDef>,
    pub settings: SettingsDef,
    pub code_sets: Vec<CodeSetDef>,
    pub classification: ClassificationDef,
    pub exclusions: ExclusionsDef,
    pub consent: ConsentPolicyDef,
    pub break_glass: BreakGlassDef,
    pub training: TrainingDef,
    pub own_organisation: OwnOrganisationDef,
    pub redaction: RedactionDef,
    pub hl7v2: Hl7v2Def,
    /// Audit rules (framework 6.3). A document without this section has
    /// none.
    #[serde(default)]
    pub audit: AuditDef,
    /// What a patient may grant to a proxy (`docs/patient.md`). A document
    /// without this section has none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proxy_scopes: Vec<ProxyScopeDef>,
    /// What a proxy sees beyond their scopes: Appendix 1 and the patient's
    /// age. A document without this section applies Appendix 1 to proxies
    /// and has no age rules.
    #[serde(default)]
    pub proxies: ProxiesDef,
    /// Tiers reached case by case (framework 7.2, Community tier 3): only
    /// with an approval the privacy officer recorded for the user and the
    /// patient. A document without this section needs none.
    #[serde(default)]
    pub approvals: ApprovalsDef,
}

/// Placements a profile's grant alone does not reach: each needs an
/// individual, time-limited approval for the user and the patient.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalsDef {
    /// Each placement from its tier up needs an approval. Applies to every
    /// profile that is not an own-record view.
    pub required: Vec<PlacementDef>,
    /// The longest an approval may last, in days.
    pub max_days: u32,
    /// Why, in the framework's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// Rules for proxies (carers, parents) beyond the scopes granted.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxiesDef {
    /// A proxy is not the person: an entry in an exclusion category is
    /// withheld from them unless the person granted that category to them
    /// by name. No tier lifts it.
    pub exclusions_apply: bool,
    /// Age bands by the patient's age on the day of the request, from
    /// `from_age` (whole years) until the next band's. The first starts at 0.
    #[serde(default)]
    pub ages: Vec<AgeBandDef>,
}

impl Default for ProxiesDef {
    fn default() -> Self {
        Self {
            exclusions_apply: true,
            ages: Vec::new(),
        }
    }
}

/// What a proxy grant gives while the patient is of an age.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgeBandDef {
    pub id: String,
    pub from_age: u8,
    /// Proxy scope ids a grant gives whoever made it (`*`: every scope).
    pub scopes: Vec<String>,
    /// Further scope ids a grant gives when the person themself made,
    /// renewed or agreed to it on or after the day they reached this band.
    #[serde(default)]
    pub with_agreement: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyMeta {
    pub id: String,
    pub title: String,
    pub version: String,
    #[serde(default)]
    pub notes: Vec<String>,
}

/// A segment of the sharing model (framework section 7).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentDef {
    pub id: String,
    /// The letter table 6 uses (`S`, `C`, `D`, `H`).
    pub letter: String,
    pub name: String,
    /// How many tiers; tiers are cumulative.
    pub tiers: u8,
}

/// One content line of tables 1-4: what a tier of a segment holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentDef {
    pub id: String,
    pub segment: String,
    pub tier: u8,
    pub label: String,
    #[serde(default)]
    pub sources: String,
}

/// A role or service profile (table 6). `access` maps each segment id to the
/// highest tier granted, or `"X"` for none.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileDef {
    pub id: String,
    pub group: String,
    pub name: String,
    pub access: Map<String, Value>,
    /// What differs for this profile besides its tiers; absent for the
    /// professional profiles of table 6.
    #[serde(default, skip_serializing_if = "ProfilePropertiesDef::is_default")]
    pub properties: ProfilePropertiesDef,
}

fn yes() -> bool {
    true
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_true(b: &bool) -> bool {
    *b
}

/// Properties of a profile that are not tiers: the own-record view (the
/// person themself, or someone acting for them) and online viewing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfilePropertiesDef {
    /// The viewer sees only the record of the patient the viewer names
    /// (`Viewer.patient`); any other record, or none named, gives nothing.
    #[serde(default)]
    pub own_record: bool,
    /// Whether sharing needs the patient's consent (with the policy's
    /// `consent.required`). Only an own-record profile may say no.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub consent_required: bool,
    /// Whether Appendix 1 exclusions apply. Only an own-record profile may
    /// say no: it is the person's own record.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub exclusions_apply: bool,
    /// Whether a training attestation is needed (with the policy's
    /// `training.required`). Only an own-record profile may say no.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub training_required: bool,
    /// Whether break glass may be used; a viewer of a profile that says no
    /// and asks for break glass is refused.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub break_glass: bool,
    /// The viewer reads the record online: entries whose security label
    /// says `withhold_online` are withheld.
    #[serde(default)]
    pub online: bool,
    /// The viewer investigates access (a privacy officer): audit metadata,
    /// alerts and break-glass cases, never clinical content. A profile
    /// with this set may reach no segment.
    #[serde(default, skip_serializing_if = "is_false")]
    pub audit_access: bool,
}

impl Default for ProfilePropertiesDef {
    fn default() -> Self {
        Self {
            own_record: false,
            consent_required: true,
            exclusions_apply: true,
            training_required: true,
            break_glass: true,
            online: false,
            audit_access: false,
        }
    }
}

impl ProfilePropertiesDef {
    /// Whether these are the properties of a table 6 profile.
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// A part of the record a patient may grant to a proxy (a carer, or the
/// parent of a child), and the actions it permits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyScopeDef {
    pub id: String,
    pub display: String,
    /// Content line ids the proxy may see under this scope.
    #[serde(default)]
    pub content: Vec<String>,
    /// Actions the scope permits (`book`, `manage-sharing`, ...).
    #[serde(default)]
    pub permits: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobRoleDef {
    pub code: String,
    #[serde(default)]
    pub display: String,
    pub profile: String,
}

/// How the care setting an entry came from is read.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsDef {
    pub ids: Vec<String>,
    /// `meta.tag` system whose code is a setting id.
    pub tag_system: String,
    /// Author organisation types that imply a setting.
    #[serde(default)]
    pub organisation_types: Vec<OrganisationTypeDef>,
    /// `meta.source` prefixes that imply a setting.
    #[serde(default)]
    pub sources: Vec<SourceDef>,
    /// Identifier systems whose value is an organisation code (ODS).
    pub organisation_identifier_systems: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganisationTypeDef {
    pub system: String,
    pub code: String,
    pub setting: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceDef {
    pub prefix: String,
    pub setting: String,
}

/// A named set of codes, by code system.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeSetDef {
    pub id: String,
    #[serde(default)]
    pub description: String,
    pub codings: Vec<SystemCodesDef>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemCodesDef {
    pub system: String,
    pub codes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassificationDef {
    /// Elements whose codings are an entry's codes (`codes` in a match).
    pub code_elements: Vec<String>,
    /// Elements whose codings are an entry's categories (`categories`).
    pub category_elements: Vec<String>,
    /// Ordered; the first rule that matches an entry classifies it.
    pub rules: Vec<RuleDef>,
}

/// A classification rule: a match and what it places the entry in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    pub id: String,
    #[serde(rename = "match")]
    pub matcher: MatchDef,
    /// Content ids the entry is placed in (one or more).
    #[serde(default)]
    pub content: Vec<String>,
    /// Instead of content: `dependent` (shared only when a shared entry
    /// refers to it), `about` (shared only when everything it is about is),
    /// `container` (a list, shared when one of its items is) or `withhold`
    /// (the framework has not placed it yet: only the person sees it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition: Option<String>,
    /// A switch: a rule that is off is checked but classifies nothing.
    #[serde(default = "on", skip_serializing_if = "is_on")]
    pub enabled: bool,
}

fn on() -> bool {
    true
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_on(v: &bool) -> bool {
    *v
}

/// All given conditions must hold; within one, any listed value will do.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchDef {
    /// FHIR resource types, or `*` for any.
    pub resource_types: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub settings: Vec<String>,
    /// Code set ids matched against the code elements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub codes: Vec<String>,
    /// Code set ids matched against the category elements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    /// Code set ids matched against `meta.tag`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub statuses: Vec<String>,
    /// Top-level element names, or `extension:URL`, of which one must be present.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub elements: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExclusionsDef {
    /// Code systems the exclusion codes belong to.
    pub systems: Vec<String>,
    /// Whether a coding with no system is checked too (fail closed: yes).
    pub match_codes_without_system: bool,
    pub categories: Vec<ExclusionCategoryDef>,
    pub lifts: Vec<LiftDef>,
    /// What to do when free text names an excluded category.
    pub free_text: FreeTextDef,
    /// `meta.security` labels that place an entry in a category or withhold it.
    #[serde(default)]
    pub security_labels: Vec<SecurityLabelDef>,
}

/// Free text (narrative, notes, display, `code.text`, decoded attachments)
/// is scanned for each category's terms.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreeTextDef {
    /// `withhold_entry`: the entry is treated as carrying the category;
    /// `mask_field`: the entry is judged on its codes and every string that
    /// names an unlifted category is removed.
    pub action: String,
    /// Elements whose strings are identifiers, not text, and are not scanned.
    #[serde(default)]
    pub skip_elements: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityLabelDef {
    pub system: String,
    pub code: String,
    /// The exclusion category the label stands for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Withhold from everyone, whatever the placement.
    #[serde(default)]
    pub withhold: bool,
    /// Withhold from profiles that read the record online (a clinician
    /// marked the entry as not for online viewing).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub withhold_online: bool,
    /// Why the label does what it does (for the people who govern it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A sensitive category (table 5, Appendix 1).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExclusionCategoryDef {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub reason: String,
    pub codes: Vec<ExclusionCodeDef>,
    /// Words and phrases that name the category in free text (whole words,
    /// any case).
    #[serde(default)]
    pub terms: Vec<String>,
    /// The category in other code systems (SNOMED CT, ICD-10, OPCS-4,
    /// CTV3): codes that match only codings of that system.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub codelists: Vec<CodelistDef>,
    /// Segment ids the category applies in (framework 7.3: blood-borne
    /// disease status is withheld within Diagnostics). Empty: everywhere.
    /// An entry with no placement (shared only alongside others) is held
    /// to it wherever it is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<String>,
}

/// A category's codes in one code system, with where they came from.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodelistDef {
    /// The code system's URIs (one system may go by several).
    pub systems: Vec<String>,
    /// Where the list comes from (a published codelist, a classification).
    pub source: String,
    pub licence: String,
    pub version: String,
    pub codes: Vec<ExclusionCodeDef>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExclusionCodeDef {
    pub code: String,
    #[serde(default)]
    pub display: String,
}

/// A placement whose grant lifts exclusions, for entries placed in the same
/// segment ("explicitly stated" in the framework's words).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiftDef {
    pub id: String,
    #[serde(default)]
    pub description: String,
    pub grant: PlacementDef,
    /// `"all"` or a list of category ids.
    pub categories: Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlacementDef {
    pub segment: String,
    pub tier: u8,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentPolicyDef {
    /// Whether sharing needs explicit consent (framework 6.2: yes).
    pub required: bool,
    /// Purposes of use for which anything is shared.
    pub purposes: Vec<String>,
    pub fhir: ConsentFhirDef,
}

/// Systems used when consent is written as FHIR Consent resources.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentFhirDef {
    pub profile_system: String,
    pub placement_system: String,
    pub category_system: String,
    pub content_system: String,
    pub organisation_systems: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakGlassDef {
    pub reason_required: bool,
    pub reasons: Vec<ReasonDef>,
    /// How long one break-glass access lasts.
    pub max_minutes: u32,
    /// Whether break glass overrides an explicit opt-out (default: no).
    pub overrides_opt_out: bool,
    /// Every use is flagged for investigation.
    pub investigate: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonDef {
    pub code: String,
    pub display: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingDef {
    pub required: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnOrganisationDef {
    /// Whether entries held by the viewer's own organisation pass without
    /// the framework's consent and tier rules (exclusions still apply).
    pub pass_through: bool,
    /// The `meta.tag` system whose code is the ODS code of the organisation
    /// whose system recorded (holds) the entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder_tag_system: Option<String>,
    /// An extension (on the resource) naming the holding organisation by
    /// `valueIdentifier`, `valueReference.identifier` or `valueCode`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder_extension: Option<String>,
    /// `meta.source` prefixes of systems each held by one organisation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<HolderSourceDef>,
}

/// A source system and the organisation that holds what it records.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HolderSourceDef {
    pub prefix: String,
    pub organisation: String,
}

/// How a redacted document is written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedactionDef {
    /// Whether a List that lost items says so; the signal is the same
    /// whatever was withheld.
    pub signal_withheld: bool,
    /// The extension and coding used as that signal.
    pub signal: SignalDef,
    /// Resource types whose `display` may stay on a reference to a resource
    /// that is not returned (people and places, not clinical content).
    pub directory_types: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalDef {
    pub url: String,
    pub system: String,
    pub code: String,
    pub display: String,
}

/// HL7 v2 messages: what each message type is, and where codes sit.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hl7v2Def {
    /// First match wins: message code (MSH-9.1), optional trigger events.
    pub message_types: Vec<Hl7MessageTypeDef>,
    /// Coding-system names (CWE-3) to FHIR system URIs.
    pub coding_systems: Map<String, Value>,
    /// Fields that hold coded elements, by segment. (Every field of every
    /// segment is searched for terms.)
    pub coded_fields: Vec<Hl7FieldsDef>,
    /// Segments passed through; any other segment is removed.
    pub known_segments: Vec<String>,
    /// Segments whose set ID (field 1) is renumbered after removals.
    pub renumber: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hl7MessageTypeDef {
    pub code: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
    /// The content line the whole message is placed in.
    pub content: String,
    /// A code set and content line for messages whose every order code
    /// (OBR-4) is in that set, e.g. routine tests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when_all_orders_in: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub then_content: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hl7FieldsDef {
    pub segment: String,
    pub fields: Vec<usize>,
}

/// The audit rules run over the access event stream (`docs/audit.md`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditDef {
    pub rules: Vec<AuditRuleDef>,
}

/// One audit rule: which kind of check (code), how serious its alerts are,
/// and the check's parameters (data).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditRuleDef {
    pub id: String,
    /// `break_glass`, `no_relationship`, `same_surname_or_address`,
    /// `volume_spike`, `out_of_hours`, `opted_out_segment` or `probing`.
    pub kind: String,
    /// `low`, `medium` or `high`.
    pub severity: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Parameters of the kind; unknown parameters are problems.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub params: Map<String, Value>,
}
