//! The person-centred plan (framework 6.7): what the person likes to be
//! called, how they wish to be treated in an emergency, their preferences
//! (a female doctor, morning appointments) and the goals they set with a
//! health trainer or care coordinator.
//!
//! The person edits it in the patient portal; professionals see it in
//! Summary tier 3 (`care_plans`). On the wire it is a FHIR R4 CarePlan with
//! the category [`PLAN_CATEGORY_CODE`] in [`PLAN_CATEGORY_SYSTEM`], which
//! the default policy's rule `care-plan.person-centred` classifies. The
//! fields sit in extensions; goals are contained Goal resources the plan
//! refers to.
//!
//! ```
//! use tiergate_core::plan::{plan_from_careplan, plan_to_careplan, PlanFields, PlanGoal};
//!
//! let fields = PlanFields {
//!     preferred_name: Some("Joe".into()),
//!     emergency_wishes: Some("Call my wife Carol first.".into()),
//!     preferences: vec!["Morning appointments".into()],
//!     goals: vec![PlanGoal {
//!         text: "Walk to the pier and back three times a week".into(),
//!         set_with: Some("health trainer".into()),
//!         due: Some("2027-03-31".into()),
//!     }],
//! };
//! let careplan = plan_to_careplan("joe-patient", &fields, "2026-11-25T12:00:00Z")?;
//! assert_eq!(careplan["id"], "pcp-joe-patient");
//! assert_eq!(plan_from_careplan(&careplan)?, fields);
//! # Ok::<(), tiergate_core::plan::PlanError>(())
//! ```

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::fhirtime::{self, Edge};

/// The CarePlan category system of the person-centred plan.
pub const PLAN_CATEGORY_SYSTEM: &str =
    "https://fhir.tiergate.example/CodeSystem/care-plan-category";
/// The CarePlan category code of the person-centred plan.
pub const PLAN_CATEGORY_CODE: &str = "person-centred-plan";

const EXT_BASE: &str = "https://fhir.tiergate.example/StructureDefinition/";
const EXT_PREFERRED_NAME: &str = "pcp-preferred-name";
const EXT_EMERGENCY_WISHES: &str = "pcp-emergency-wishes";
const EXT_PREFERENCE: &str = "pcp-preference";
const EXT_SET_WITH: &str = "pcp-goal-set-with";

/// Longest preferred name, in characters.
pub const MAX_NAME: usize = 100;
/// Longest emergency wishes, in characters.
pub const MAX_WISHES: usize = 2000;
/// Longest preference, goal text or "set with", in characters.
pub const MAX_ITEM: usize = 500;
/// Most preferences, and most goals.
pub const MAX_ITEMS: usize = 20;

/// The plan as the person writes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanFields {
    /// "What I like to be called".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_name: Option<String>,
    /// "How I wish to be treated in an emergency".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emergency_wishes: Option<String>,
    /// Preferences, e.g. "a female doctor".
    #[serde(default)]
    pub preferences: Vec<String>,
    /// Goals, each set with someone (a health trainer, a coordinator).
    #[serde(default)]
    pub goals: Vec<PlanGoal>,
}

/// One goal of the plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanGoal {
    pub text: String,
    /// Who the goal was set with ("health trainer").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_with: Option<String>,
    /// Due date, a FHIR date (`YYYY-MM-DD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<String>,
}

/// A plan that cannot be read or written. Messages name the field (a JSON
/// pointer into [`PlanFields`]) and never quote what the person wrote.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// A field breaks a rule: too long, too many, empty, a control character.
    #[error("plan: `{field}`: {problem}")]
    Field {
        field: String,
        problem: &'static str,
    },
    /// The JSON does not have the shape of [`PlanFields`].
    #[error("plan: `{path}`: {message}")]
    Shape { path: String, message: String },
    /// The resource is not a person-centred plan CarePlan.
    #[error("plan: not a person-centred plan: {what}")]
    NotAPlan { what: &'static str },
}

fn field(field: impl Into<String>, problem: &'static str) -> PlanError {
    PlanError::Field {
        field: field.into(),
        problem,
    }
}

/// Bidirectional-text overrides and isolates can make text display other
/// than it reads; they are refused with the control characters.
fn is_refused(c: char, multiline: bool) -> bool {
    if multiline && c == '\n' {
        return false;
    }
    c.is_control() || crate::text::is_invisible_format(c)
}

fn check_text(path: &str, text: &str, max: usize, multiline: bool) -> Result<(), PlanError> {
    if text.trim().is_empty() {
        return Err(field(path, "empty"));
    }
    if text.chars().count() > max {
        return Err(field(path, "too long"));
    }
    if text.chars().any(|c| is_refused(c, multiline)) {
        return Err(field(path, "contains a control character"));
    }
    Ok(())
}

fn check_date(path: &str, date: &str) -> Result<(), PlanError> {
    let ok = date.len() == 10 && fhirtime::parse(date, Edge::Start).is_some();
    if ok {
        Ok(())
    } else {
        Err(field(path, "not a date (YYYY-MM-DD)"))
    }
}

/// A FHIR id: 1-64 of `A-Z a-z 0-9 - .`.
fn check_id(id: &str) -> Result<(), PlanError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if ok {
        Ok(())
    } else {
        Err(field("/patient", "not a FHIR id"))
    }
}

impl PlanFields {
    /// Parses plan fields from JSON; errors name the JSON path.
    pub fn from_json(bytes: &[u8]) -> Result<Self, PlanError> {
        crate::shape::from_slice(bytes).map_err(|e| PlanError::Shape {
            path: e.path,
            message: e.message,
        })
    }

    /// Checks lengths, counts, dates and characters.
    pub fn validate(&self) -> Result<(), PlanError> {
        if let Some(n) = &self.preferred_name {
            check_text("/preferred_name", n, MAX_NAME, false)?;
        }
        if let Some(w) = &self.emergency_wishes {
            check_text("/emergency_wishes", w, MAX_WISHES, true)?;
        }
        if self.preferences.len() > MAX_ITEMS {
            return Err(field("/preferences", "too many"));
        }
        for (i, p) in self.preferences.iter().enumerate() {
            check_text(&format!("/preferences/{i}"), p, MAX_ITEM, false)?;
        }
        if self.goals.len() > MAX_ITEMS {
            return Err(field("/goals", "too many"));
        }
        for (i, g) in self.goals.iter().enumerate() {
            check_text(&format!("/goals/{i}/text"), &g.text, MAX_ITEM, true)?;
            if let Some(w) = &g.set_with {
                check_text(&format!("/goals/{i}/set_with"), w, MAX_NAME, false)?;
            }
            if let Some(d) = &g.due {
                check_date(&format!("/goals/{i}/due"), d)?;
            }
        }
        Ok(())
    }
}

fn ext(name: &str, value: &str) -> Value {
    json!({"url": format!("{EXT_BASE}{name}"), "valueString": value})
}

/// Writes the plan as a FHIR R4 CarePlan for `patient_id`, authored by the
/// patient, `recorded` (RFC 3339) as `created`. Validates first.
pub fn plan_to_careplan(
    patient_id: &str,
    fields: &PlanFields,
    recorded: &str,
) -> Result<Value, PlanError> {
    check_id(patient_id)?;
    fields.validate()?;
    let recorded_ok = recorded.len() > 10 && fhirtime::parse(recorded, Edge::Start).is_some();
    if !recorded_ok {
        return Err(field("/recorded", "not an RFC 3339 date-time"));
    }
    let patient = format!("Patient/{patient_id}");
    let mut extension = Vec::new();
    if let Some(n) = &fields.preferred_name {
        extension.push(ext(EXT_PREFERRED_NAME, n));
    }
    if let Some(w) = &fields.emergency_wishes {
        extension.push(ext(EXT_EMERGENCY_WISHES, w));
    }
    for p in &fields.preferences {
        extension.push(ext(EXT_PREFERENCE, p));
    }
    let mut contained = Vec::new();
    let mut goal_refs = Vec::new();
    for (i, g) in fields.goals.iter().enumerate() {
        let id = format!("goal-{}", i + 1);
        let mut goal = json!({
            "resourceType": "Goal",
            "id": id,
            "lifecycleStatus": "active",
            "description": {"text": g.text},
            "subject": {"reference": patient},
        });
        if let Some(obj) = goal.as_object_mut() {
            if let Some(w) = &g.set_with {
                obj.insert("extension".into(), json!([ext(EXT_SET_WITH, w)]));
            }
            if let Some(d) = &g.due {
                obj.insert("target".into(), json!([{"dueDate": d}]));
            }
        }
        contained.push(goal);
        goal_refs.push(json!({"reference": format!("#{id}")}));
    }
    let mut plan = Map::new();
    plan.insert("resourceType".into(), "CarePlan".into());
    plan.insert("id".into(), format!("pcp-{patient_id}").into());
    if !contained.is_empty() {
        plan.insert("contained".into(), Value::Array(contained));
    }
    if !extension.is_empty() {
        plan.insert("extension".into(), Value::Array(extension));
    }
    plan.insert("status".into(), "active".into());
    plan.insert("intent".into(), "plan".into());
    plan.insert(
        "category".into(),
        json!([{"coding": [{
            "system": PLAN_CATEGORY_SYSTEM,
            "code": PLAN_CATEGORY_CODE,
            "display": "Person-centred plan"
        }]}]),
    );
    plan.insert("title".into(), "My person-centred plan".into());
    plan.insert("subject".into(), json!({"reference": patient}));
    plan.insert("created".into(), recorded.into());
    plan.insert("author".into(), json!({"reference": patient}));
    if !goal_refs.is_empty() {
        plan.insert("goal".into(), Value::Array(goal_refs));
    }
    Ok(Value::Object(plan))
}

/// Whether a resource is a person-centred plan CarePlan.
pub fn is_plan(resource: &Value) -> bool {
    resource.get("resourceType").and_then(Value::as_str) == Some("CarePlan")
        && resource
            .get("category")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| c.get("coding").and_then(Value::as_array))
            .flatten()
            .any(|c| {
                c.get("system").and_then(Value::as_str) == Some(PLAN_CATEGORY_SYSTEM)
                    && c.get("code").and_then(Value::as_str) == Some(PLAN_CATEGORY_CODE)
            })
}

fn ext_values<'a>(
    holder: &'a Value,
    name: &'a str,
) -> impl Iterator<Item = Result<String, PlanError>> + 'a {
    holder
        .get("extension")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(move |e| {
            e.get("url")
                .and_then(Value::as_str)
                .and_then(|u| u.strip_prefix(EXT_BASE))
                == Some(name)
        })
        .map(|e| {
            e.get("valueString")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or(PlanError::NotAPlan {
                    what: "an extension has no valueString",
                })
        })
}

/// Reads the plan from a CarePlan, and validates it.
pub fn plan_from_careplan(careplan: &Value) -> Result<PlanFields, PlanError> {
    if careplan.get("resourceType").and_then(Value::as_str) != Some("CarePlan") {
        return Err(PlanError::NotAPlan {
            what: "not a CarePlan",
        });
    }
    if !is_plan(careplan) {
        return Err(PlanError::NotAPlan {
            what: "no person-centred plan category",
        });
    }
    let one = |name: &'static str| -> Result<Option<String>, PlanError> {
        let mut values = ext_values(careplan, name);
        let first = values.next().transpose()?;
        if values.next().is_some() {
            return Err(PlanError::NotAPlan {
                what: "a single-valued extension repeats",
            });
        }
        Ok(first)
    };
    let preferred_name = one(EXT_PREFERRED_NAME)?;
    let emergency_wishes = one(EXT_EMERGENCY_WISHES)?;
    let preferences = ext_values(careplan, EXT_PREFERENCE).collect::<Result<Vec<_>, _>>()?;
    let contained: Vec<&Value> = careplan
        .get("contained")
        .and_then(Value::as_array)
        .map(|c| c.iter().collect())
        .unwrap_or_default();
    let mut goals = Vec::new();
    for r in careplan
        .get("goal")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let local = r
            .get("reference")
            .and_then(Value::as_str)
            .and_then(|s| s.strip_prefix('#'))
            .ok_or(PlanError::NotAPlan {
                what: "a goal is not a contained Goal",
            })?;
        let goal = contained
            .iter()
            .find(|c| {
                c.get("id").and_then(Value::as_str) == Some(local)
                    && c.get("resourceType").and_then(Value::as_str) == Some("Goal")
            })
            .ok_or(PlanError::NotAPlan {
                what: "a goal reference does not resolve",
            })?;
        let text = goal
            .get("description")
            .and_then(|d| d.get("text"))
            .and_then(Value::as_str)
            .ok_or(PlanError::NotAPlan {
                what: "a goal has no description text",
            })?
            .to_owned();
        let mut set_with = ext_values(goal, EXT_SET_WITH);
        let set_with_value = set_with.next().transpose()?;
        let due = goal
            .get("target")
            .and_then(Value::as_array)
            .and_then(|t| t.first())
            .and_then(|t| t.get("dueDate"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        goals.push(PlanGoal {
            text,
            set_with: set_with_value,
            due,
        });
    }
    let fields = PlanFields {
        preferred_name,
        emergency_wishes,
        preferences,
        goals,
    };
    fields.validate()?;
    Ok(fields)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn full() -> PlanFields {
        PlanFields {
            preferred_name: Some("Sue".into()),
            emergency_wishes: Some("Please call my sister.\nI carry a lithium card.".into()),
            preferences: vec!["A female doctor".into(), "Afternoon appointments".into()],
            goals: vec![
                PlanGoal {
                    text: "Swim once a week".into(),
                    set_with: Some("health trainer".into()),
                    due: Some("2027-02-01".into()),
                },
                PlanGoal {
                    text: "Keep a mood diary".into(),
                    set_with: None,
                    due: None,
                },
            ],
        }
    }

    #[test]
    fn round_trips() {
        for f in [full(), PlanFields::default()] {
            let cp = plan_to_careplan("susan-patient", &f, "2026-11-25T12:00:00Z").unwrap();
            assert!(is_plan(&cp));
            assert_eq!(cp["subject"]["reference"], "Patient/susan-patient");
            assert_eq!(cp["author"]["reference"], "Patient/susan-patient");
            assert_eq!(cp["status"], "active");
            assert_eq!(cp["intent"], "plan");
            assert_eq!(plan_from_careplan(&cp).unwrap(), f);
        }
    }

    #[test]
    fn goals_are_contained_and_referenced() {
        let cp = plan_to_careplan("p1", &full(), "2026-11-25T12:00:00Z").unwrap();
        assert_eq!(cp["goal"][1]["reference"], "#goal-2");
        assert_eq!(cp["contained"][0]["target"][0]["dueDate"], "2027-02-01");
    }

    #[test]
    fn refuses_bad_fields_naming_the_field_not_the_text() {
        let cases: Vec<(PlanFields, &str)> = vec![
            (
                PlanFields {
                    preferred_name: Some("Sue\u{7}".into()),
                    ..Default::default()
                },
                "/preferred_name",
            ),
            (
                PlanFields {
                    preferred_name: Some("x".repeat(MAX_NAME + 1)),
                    ..Default::default()
                },
                "/preferred_name",
            ),
            (
                PlanFields {
                    preferences: vec!["ok".into(), "  ".into()],
                    ..Default::default()
                },
                "/preferences/1",
            ),
            (
                PlanFields {
                    preferences: vec!["p".into(); MAX_ITEMS + 1],
                    ..Default::default()
                },
                "/preferences",
            ),
            (
                PlanFields {
                    goals: vec![PlanGoal {
                        text: "secret\u{202E}txet".into(),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
                "/goals/0/text",
            ),
            (
                PlanFields {
                    goals: vec![PlanGoal {
                        text: "walk".into(),
                        due: Some("next spring".into()),
                        set_with: None,
                    }],
                    ..Default::default()
                },
                "/goals/0/due",
            ),
            (
                PlanFields {
                    preferred_name: Some("line\nbreak".into()),
                    ..Default::default()
                },
                "/preferred_name",
            ),
        ];
        for (f, path) in cases {
            let err = plan_to_careplan("p1", &f, "2026-11-25T12:00:00Z").unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains(&format!("`{path}`")), "{msg}");
            assert!(!msg.contains("secret") && !msg.contains("Sue") && !msg.contains("spring"));
        }
        assert!(plan_to_careplan("bad id/x", &full(), "2026-11-25T12:00:00Z").is_err());
        assert!(plan_to_careplan("p1", &full(), "yesterday").is_err());
    }

    #[test]
    fn other_care_plans_are_not_plans() {
        let cp = json!({"resourceType": "CarePlan", "id": "x", "status": "active"});
        assert!(matches!(
            plan_from_careplan(&cp),
            Err(PlanError::NotAPlan { .. })
        ));
        let mut cp = plan_to_careplan("p1", &full(), "2026-11-25T12:00:00Z").unwrap();
        cp["goal"][0]["reference"] = json!("Goal/elsewhere");
        assert!(plan_from_careplan(&cp).is_err());
    }

    #[test]
    fn fields_json_errors_do_not_quote_input() {
        let err = PlanFields::from_json(br#"{"preferred_name": 7, "x": "secret"}"#).unwrap_err();
        assert!(err.to_string().contains("/preferred_name"));
        let err = PlanFields::from_json(br#"{"extra": "secret"}"#).unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
    }
}
