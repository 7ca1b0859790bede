//! Patient context: a record request is for exactly one patient.
//!
//! The route names the patient for searches, `$everything` and `Patient`
//! reads; for a read of another type the patient comes from what the
//! origin returns (its `subject` or `patient` reference). Either way every
//! resource the origin returns must belong to that one patient: a
//! response that spans patients is an origin fault and releases nothing.

use tiergate_core::json::Value;

use crate::outcome::Refusal;

/// The patient a reference value names (`Patient/X`, `https://../Patient/X`).
fn patient_ref(reference: &str) -> Option<&str> {
    let (base, id) = reference.rsplit_once("Patient/")?;
    (base.is_empty() || base.ends_with('/')).then_some(id)
}

/// Patients one resource belongs to (its own id for a Patient).
fn patients_of(res: &Value, out: &mut Vec<String>) {
    if res.get("resourceType").and_then(Value::as_str) == Some("Patient") {
        if let Some(id) = res.get("id").and_then(Value::as_str) {
            out.push(id.to_owned());
        }
        return;
    }
    for key in ["subject", "patient", "beneficiary"] {
        if let Some(r) = res
            .get(key)
            .and_then(|s| s.get("reference"))
            .and_then(Value::as_str)
            .and_then(patient_ref)
        {
            out.push(r.to_owned());
        }
    }
}

/// Checks a record from the origin against the patient of the request and
/// returns the record's patient. `expected` is the route's patient.
///
/// * every patient any resource names must be the same one (else 502);
/// * with an expected patient, it must be that one (else 502);
/// * a single resource with no patient of its own, read without one, is
///   answered as not found (records only exist for patients).
pub fn record_patient(record: &Value, expected: Option<&str>) -> Result<String, Refusal> {
    let mut found = Vec::new();
    let is_bundle = record.get("resourceType").and_then(Value::as_str) == Some("Bundle");
    if is_bundle {
        for e in record
            .get("entry")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(r) = e.get("resource") {
                patients_of(r, &mut found);
            }
        }
    } else {
        patients_of(record, &mut found);
    }
    found.sort();
    found.dedup();
    match (expected, found.as_slice()) {
        (_, [_, _, ..]) => Err(Refusal::BadGateway),
        (Some(e), [f]) if e != f => Err(Refusal::BadGateway),
        (Some(e), _) => Ok(e.to_owned()),
        (None, [f]) => Ok(f.clone()),
        (None, []) => Err(Refusal::NotFound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn single_resources() {
        let obs = json!({"resourceType": "Observation", "id": "o1", "subject": {"reference": "Patient/p1"}});
        assert_eq!(
            record_patient(&Value::from_serde(&obs), None).unwrap(),
            "p1"
        );
        assert_eq!(
            record_patient(&Value::from_serde(&obs), Some("p1")).unwrap(),
            "p1"
        );
        assert_eq!(
            record_patient(&Value::from_serde(&obs), Some("p2")),
            Err(Refusal::BadGateway)
        );
        let prac = json!({"resourceType": "Practitioner", "id": "d1"});
        assert_eq!(
            record_patient(&Value::from_serde(&prac), None),
            Err(Refusal::NotFound)
        );
        let group =
            json!({"resourceType": "Observation", "id": "o1", "subject": {"reference": "Group/g"}});
        assert_eq!(
            record_patient(&Value::from_serde(&group), None),
            Err(Refusal::NotFound)
        );
        let full = json!({"resourceType": "Condition", "id": "c", "subject": {"reference": "https://x.test/fhir/Patient/p9"}});
        assert_eq!(
            record_patient(&Value::from_serde(&full), None).unwrap(),
            "p9"
        );
    }

    #[test]
    fn bundles_must_not_span_patients() {
        let b = json!({"resourceType": "Bundle", "type": "searchset", "entry": [
            {"resource": {"resourceType": "Patient", "id": "p1"}},
            {"resource": {"resourceType": "Observation", "id": "o1", "subject": {"reference": "Patient/p1"}}},
            {"resource": {"resourceType": "Practitioner", "id": "d1"}}
        ]});
        assert_eq!(
            record_patient(&Value::from_serde(&b), Some("p1")).unwrap(),
            "p1"
        );
        assert_eq!(
            record_patient(&Value::from_serde(&b), Some("p2")),
            Err(Refusal::BadGateway)
        );
        let mixed = json!({"resourceType": "Bundle", "type": "searchset", "entry": [
            {"resource": {"resourceType": "Observation", "id": "o1", "subject": {"reference": "Patient/p1"}}},
            {"resource": {"resourceType": "Observation", "id": "o2", "subject": {"reference": "Patient/p2"}}}
        ]});
        assert_eq!(
            record_patient(&Value::from_serde(&mixed), Some("p1")),
            Err(Refusal::BadGateway)
        );
        assert_eq!(
            record_patient(&Value::from_serde(&mixed), None),
            Err(Refusal::BadGateway)
        );
        let empty = json!({"resourceType": "Bundle", "type": "searchset"});
        assert_eq!(
            record_patient(&Value::from_serde(&empty), Some("p1")).unwrap(),
            "p1"
        );
    }
}
