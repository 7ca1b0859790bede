//! Booking: the one write the edge accepts from the patient portal.
//!
//! A patient, or a proxy whose grant permits booking, asks for an
//! appointment by posting a FHIR R4 `Appointment` for that patient. The
//! edge never forwards what it was sent: it reads the few fields a booking
//! request needs, checks them, and builds a fresh `Appointment` with
//! status `proposed` (the origin's booking service confirms it), so no
//! other content, references or extensions reach the origin.

use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::outcome::Refusal;
use crate::route::fhir_id;

/// Longest appointment that may be requested, in minutes.
pub const MAX_MINUTES: i64 = 8 * 60;
/// Furthest ahead an appointment may be requested, in days.
pub const MAX_DAYS_AHEAD: i64 = 366;

/// A checked booking request.
#[derive(Debug, Clone, PartialEq)]
pub struct Booking {
    pub patient: String,
    /// The `Appointment` to send to the origin.
    pub appointment: Value,
}

fn text(v: &Value, pointer: &str, max: usize) -> Result<Option<String>, Refusal> {
    match v.pointer(pointer) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let t = s.trim();
            if t.chars().count() > max
                || t.chars().any(|c| {
                    (c.is_control() && c != '\n') || crate::breakglass::is_invisible_format(c)
                })
            {
                return Err(Refusal::BadRequest);
            }
            Ok((!t.is_empty()).then(|| t.to_owned()))
        }
        Some(_) => Err(Refusal::BadRequest),
    }
}

fn instant(v: &Value, field: &str) -> Result<OffsetDateTime, Refusal> {
    let s = v
        .get(field)
        .and_then(Value::as_str)
        .ok_or(Refusal::BadRequest)?;
    // A full instant with a zone, as FHIR requires for Appointment.start.
    if s.len() < 20 {
        return Err(Refusal::BadRequest);
    }
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|_| Refusal::BadRequest)
}

/// Checks a booking request body and builds the `Appointment` to forward.
/// `id` becomes the new appointment's id.
pub fn booking(body: &[u8], id: &str, now: OffsetDateTime) -> Result<Booking, Refusal> {
    if body.len() > 16 * 1024 {
        return Err(Refusal::BadRequest);
    }
    let v: Value = serde_json::from_slice(body).map_err(|_| Refusal::BadRequest)?;
    if v.get("resourceType").and_then(Value::as_str) != Some("Appointment") {
        return Err(Refusal::BadRequest);
    }
    let patients: Vec<&str> = v
        .get("participant")
        .and_then(Value::as_array)
        .ok_or(Refusal::BadRequest)?
        .iter()
        .filter_map(|p| p.pointer("/actor/reference").and_then(Value::as_str))
        .filter_map(|r| r.strip_prefix("Patient/"))
        .collect();
    let [patient] = patients.as_slice() else {
        // None, or more than one patient: not a booking for one person.
        return Err(Refusal::BadRequest);
    };
    let patient = fhir_id(patient).map_err(|_| Refusal::BadRequest)?;
    let start = instant(&v, "start")?;
    let end = instant(&v, "end")?;
    let minutes = (end - start).whole_minutes();
    if start <= now
        || (start - now).whole_days() > MAX_DAYS_AHEAD
        || minutes <= 0
        || minutes > MAX_MINUTES
    {
        return Err(Refusal::BadRequest);
    }
    let service = text(&v, "/serviceType/0/text", 80)?;
    let description = text(&v, "/description", 200)?;
    let comment = text(&v, "/comment", 500)?;
    let format = &time::format_description::well_known::Rfc3339;
    let mut appointment = json!({
        "resourceType": "Appointment",
        "id": id,
        "status": "proposed",
        "created": tiergate_core::fhirtime::format(now),
        "start": start.format(format).map_err(|_| Refusal::BadRequest)?,
        "end": end.format(format).map_err(|_| Refusal::BadRequest)?,
        "minutesDuration": minutes,
        "participant": [{"actor": {"reference": format!("Patient/{patient}")}, "status": "accepted", "required": "required"}]
    });
    if let Some(obj) = appointment.as_object_mut() {
        if let Some(s) = service {
            obj.insert("serviceType".into(), json!([{"text": s}]));
        }
        if let Some(d) = description {
            obj.insert("description".into(), d.into());
        }
        if let Some(c) = comment {
            obj.insert("comment".into(), c.into());
        }
    }
    Ok(Booking {
        patient: patient.to_owned(),
        appointment,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-25 12:00 UTC);

    fn body(extra: Value) -> Vec<u8> {
        let mut v = json!({
            "resourceType": "Appointment",
            "status": "booked",
            "start": "2026-12-03T09:30:00Z",
            "end": "2026-12-03T09:45:00Z",
            "serviceType": [{"text": "Flu vaccination"}],
            "participant": [{"actor": {"reference": "Patient/joe-patient"}}]
        });
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn a_request_becomes_a_fresh_proposed_appointment() {
        let b = booking(
            &body(json!({"id": "evil", "extension": [{"url": "x"}], "contained": [{}]})),
            "b1",
            NOW,
        )
        .unwrap();
        assert_eq!(b.patient, "joe-patient");
        let a = &b.appointment;
        assert_eq!(a["id"], "b1");
        assert_eq!(a["status"], "proposed");
        assert_eq!(a["minutesDuration"], 15);
        assert_eq!(a["serviceType"][0]["text"], "Flu vaccination");
        assert!(a.get("extension").is_none() && a.get("contained").is_none());
        assert_eq!(
            a["participant"][0]["actor"]["reference"],
            "Patient/joe-patient"
        );
    }

    #[test]
    fn bad_requests_are_refused() {
        let two = json!({"participant": [
            {"actor": {"reference": "Patient/joe-patient"}},
            {"actor": {"reference": "Patient/susan-patient"}}]});
        for extra in [
            json!({"resourceType": "Observation"}),
            json!({"participant": []}),
            two,
            json!({"participant": [{"actor": {"reference": "Patient/../x"}}]}),
            json!({"start": "2026-11-24T09:30:00Z", "end": "2026-11-24T09:45:00Z"}),
            json!({"end": "2026-12-03T09:00:00Z"}),
            json!({"end": "2026-12-04T09:00:00Z"}),
            json!({"start": "2026-12-03"}),
            json!({"start": "2028-12-03T09:30:00Z", "end": "2028-12-03T09:45:00Z"}),
            json!({"description": 7}),
            json!({"description": "x".repeat(201)}),
            json!({"serviceType": [{"text": "a\u{0007}b"}]}),
        ] {
            assert_eq!(
                booking(&body(extra.clone()), "b", NOW).unwrap_err(),
                Refusal::BadRequest,
                "{extra}"
            );
        }
        assert!(booking(b"not json", "b", NOW).is_err());
    }
}
