//! Which FHIR requests the edge serves, for which patient.
//!
//! Only reads are supported: a resource by id, a search for one patient's
//! resources, `Patient/{id}/$everything`, the `_history` of one resource,
//! and patient finding. Anything else is refused before the origin is
//! asked: writes (405), whole-system or type-level `_history`, bulk export,
//! any other operation, searches with no patient or more than one (403),
//! and malformed paths (400). Paths are matched on their raw, still
//! percent-encoded form and must consist of plain FHIR type, id and
//! operation characters, so no encoded `/` or `..` ever reaches the origin.
//!
//! The request sent upstream is rebuilt from what was parsed, never copied.

use crate::outcome::Refusal;

/// The NHS number identifier system.
pub const NHS_NUMBER_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";

/// Most patients a patient search may return (a larger result is refused
/// as too broad, so the search cannot be used to trawl).
pub const FIND_CAP: usize = 10;

/// What is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `GET [type]/[id]`.
    Read { resource_type: String, id: String },
    /// `GET [type]/[id]/_history` or `.../_history/[vid]`.
    History {
        resource_type: String,
        id: String,
        version: Option<String>,
    },
    /// `GET [type]?patient=..` or `GET Patient/[id]/[type]`.
    Search { resource_type: String },
    /// `GET Patient/[id]/$everything`.
    Everything,
    /// `GET Patient?identifier=..` or `?family=..&birthdate=..`: Summary
    /// tier 1 demographics of matching patients only.
    FindPatient,
}

impl Action {
    /// The FHIR restful interaction, for audit.
    pub fn interaction(&self) -> &'static str {
        match self {
            Self::Read { .. } => "read",
            Self::History {
                version: Some(_), ..
            } => "vread",
            Self::History { .. } => "history-instance",
            Self::Search { .. } | Self::FindPatient => "search-type",
            Self::Everything => "operation",
        }
    }
}

/// A request the edge will serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub action: Action,
    /// The patient named by the request (compartment, `patient`/`subject`
    /// parameter, or a `Patient` read). `None` for a read or history of a
    /// resource of another type, whose patient is taken from what the
    /// origin returns; and for patient finding.
    pub patient: Option<String>,
    /// Path and query to send to the origin, relative to its base (no
    /// leading `/`), rebuilt from what was parsed.
    pub upstream: String,
}

/// Routes a request under `/fhir/`. `path` is the raw URL path (starting
/// `/fhir/`), `query` the raw query string without `?`.
pub fn route(method: &str, path: &str, query: Option<&str>) -> Result<Route, Refusal> {
    let rest = path
        .strip_prefix("/fhir/")
        .or_else(|| (path == "/fhir").then_some(""))
        .ok_or(Refusal::NotFound)?;
    let segments: Vec<&str> = if rest.is_empty() {
        Vec::new()
    } else {
        rest.split('/').collect()
    };
    for s in &segments {
        if s.is_empty() || *s == "." || *s == ".." || !s.bytes().all(path_byte) {
            return Err(Refusal::BadRequest);
        }
    }
    if method != "GET" {
        return Err(Refusal::MethodNotAllowed);
    }
    let params = parse_query(query.unwrap_or(""))?;
    match segments.as_slice() {
        [] => Err(Refusal::Forbidden),
        [t] => {
            let t = resource_type(t)?;
            if t == "Patient" {
                find_patient(&params)
            } else {
                search(t, None, &params)
            }
        }
        [t, id] => {
            let t = resource_type(t)?;
            let id = fhir_id(id)?;
            no_other_patient(&params, (t == "Patient").then_some(id))?;
            Ok(Route {
                patient: (t == "Patient").then(|| id.to_owned()),
                upstream: format!("{t}/{id}"),
                action: Action::Read {
                    resource_type: t.to_owned(),
                    id: id.to_owned(),
                },
            })
        }
        [t, id, "_history"] | [t, id, "_history", _] => {
            let t = resource_type(t)?;
            let id = fhir_id(id)?;
            no_other_patient(&params, (t == "Patient").then_some(id))?;
            let version = match segments.get(3) {
                Some(v) => Some(fhir_id(v)?.to_owned()),
                None => None,
            };
            let upstream = match &version {
                Some(v) => format!("{t}/{id}/_history/{v}"),
                None => format!("{t}/{id}/_history"),
            };
            Ok(Route {
                patient: (t == "Patient").then(|| id.to_owned()),
                upstream,
                action: Action::History {
                    resource_type: t.to_owned(),
                    id: id.to_owned(),
                    version,
                },
            })
        }
        ["Patient", id, "$everything"] => {
            let id = fhir_id(id)?;
            no_other_patient(&params, Some(id))?;
            let mut forwarded = Vec::new();
            for (k, v) in &params {
                match k.as_str() {
                    "_since" | "_type" | "_count" | "start" | "end" => {
                        forwarded.push((k.as_str(), v.as_str()))
                    }
                    "patient" | "subject" | "_format" => {}
                    _ => return Err(Refusal::Forbidden),
                }
            }
            Ok(Route {
                action: Action::Everything,
                patient: Some(id.to_owned()),
                upstream: with_query(&format!("Patient/{id}/$everything"), &forwarded),
            })
        }
        ["Patient", id, t] if !t.starts_with('$') && !t.starts_with('_') => {
            let id = fhir_id(id)?;
            let t = resource_type(t)?;
            search(t, Some(id), &params)
        }
        _ => Err(Refusal::Forbidden),
    }
}

/// Characters allowed in a path segment: FHIR type, id and operation
/// characters only (no `%`, so nothing percent-encoded).
fn path_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'$')
}

fn resource_type(t: &str) -> Result<&str, Refusal> {
    if t.starts_with('$') || t.starts_with('_') || t == "metadata" {
        return Err(Refusal::Forbidden);
    }
    let mut chars = t.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_alphabetic())
        && t.len() <= 64;
    if ok {
        Ok(t)
    } else {
        Err(Refusal::BadRequest)
    }
}

/// A FHIR id: `[A-Za-z0-9\-\.]{1,64}`.
pub fn fhir_id(id: &str) -> Result<&str, Refusal> {
    if id.starts_with('$') || id.starts_with('_') {
        return Err(Refusal::Forbidden);
    }
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        && id != "."
        && id != "..";
    if ok {
        Ok(id)
    } else {
        Err(Refusal::BadRequest)
    }
}

/// Parses a query string into decoded (name, value) pairs.
pub fn parse_query(query: &str) -> Result<Vec<(String, String)>, Refusal> {
    let mut out = Vec::new();
    if query.len() > 4096 {
        return Err(Refusal::BadRequest);
    }
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = decode(k)?;
        let v = decode(v)?;
        if k.is_empty()
            || !k
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b':' | b'.'))
        {
            return Err(Refusal::BadRequest);
        }
        out.push((k, v));
        if out.len() > 32 {
            return Err(Refusal::BadRequest);
        }
    }
    Ok(out)
}

fn decode(s: &str) -> Result<String, Refusal> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or(Refusal::BadRequest)?;
                out.push(hex);
                i += 2;
            }
            _ => out.push(b),
        }
        i += 1;
    }
    let text = String::from_utf8(out).map_err(|_| Refusal::BadRequest)?;
    if text.chars().any(char::is_control) {
        return Err(Refusal::BadRequest);
    }
    Ok(text)
}

/// Percent-encodes a query component (RFC 3986 unreserved kept).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn with_query(path: &str, params: &[(&str, &str)]) -> String {
    if params.is_empty() {
        return path.to_owned();
    }
    let q: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    format!("{path}?{}", q.join("&"))
}

/// A patient id from a reference parameter value: `X`, `Patient/X` or
/// `https://base/Patient/X`. Comma lists (more than one patient) refused.
fn patient_of(value: &str) -> Result<&str, Refusal> {
    if value.contains(',') {
        return Err(Refusal::Forbidden);
    }
    let id = match value.rsplit_once("Patient/") {
        Some((base, id)) if base.is_empty() || base.ends_with('/') => id,
        Some(_) => return Err(Refusal::Forbidden),
        None if value.contains('/') => return Err(Refusal::Forbidden),
        None => value,
    };
    fhir_id(id)
}

/// Is this a parameter naming the patient, and is it a plain one?
fn patient_param(name: &str) -> Result<bool, Refusal> {
    let (base, modifier) = name.split_once(':').unwrap_or((name, ""));
    if base != "patient" && base != "subject" {
        return Ok(false);
    }
    if !(modifier.is_empty() || modifier == "Patient") {
        return Err(Refusal::Forbidden);
    }
    Ok(true)
}

/// Parameters that reach other patients' records or change the shape of
/// the answer in ways the edge does not check.
fn refused_param(name: &str) -> bool {
    let base = name.split(':').next().unwrap_or(name);
    name.contains('.')
        || matches!(
            base,
            "_has"
                | "_revinclude"
                | "_contained"
                | "_containedType"
                | "_filter"
                | "_query"
                | "_list"
        )
        || name.contains(":iterate")
        || name.contains(":recurse")
}

/// On a read: any patient parameter must name the patient of the path.
fn no_other_patient(params: &[(String, String)], patient: Option<&str>) -> Result<(), Refusal> {
    for (k, v) in params {
        if patient_param(k)? && Some(patient_of(v)?) != patient {
            return Err(Refusal::Forbidden);
        }
    }
    Ok(())
}

fn search(
    t: &str,
    compartment: Option<&str>,
    params: &[(String, String)],
) -> Result<Route, Refusal> {
    let mut patient = compartment.map(str::to_owned);
    let mut forwarded = Vec::new();
    for (k, v) in params {
        if refused_param(k) {
            return Err(Refusal::Forbidden);
        }
        if patient_param(k)? {
            let id = patient_of(v)?;
            match &patient {
                Some(p) if p != id => return Err(Refusal::Forbidden),
                _ => patient = Some(id.to_owned()),
            }
            continue;
        }
        if k == "_format" {
            continue;
        }
        forwarded.push((k.as_str(), v.as_str()));
    }
    let patient = patient.ok_or(Refusal::Forbidden)?;
    let mut q = vec![("patient", patient.as_str())];
    q.extend(forwarded);
    Ok(Route {
        action: Action::Search {
            resource_type: t.to_owned(),
        },
        upstream: with_query(t, &q),
        patient: Some(patient),
    })
}

/// NHS number: ten digits with a valid modulus 11 check digit.
pub fn valid_nhs_number(n: &str) -> bool {
    let digits: Vec<u32> = n.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() != 10 || n.len() != 10 {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .take(9)
        .zip((2..=10).rev())
        .map(|(d, w)| d * w)
        .sum();
    let check = 11 - (sum % 11);
    let check = if check == 11 { 0 } else { check };
    check != 10 && digits.get(9) == Some(&check)
}

fn full_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
}

fn find_patient(params: &[(String, String)]) -> Result<Route, Refusal> {
    let mut nhs = None;
    let mut family = None;
    let mut given = None;
    let mut birthdate = None;
    let mut gender = None;
    for (k, v) in params {
        let mut v = v.as_str();
        let slot = match k.as_str() {
            "identifier" => {
                let value = match v.split_once('|') {
                    Some((NHS_NUMBER_SYSTEM, n)) | Some(("", n)) => n,
                    Some(_) => return Err(Refusal::Forbidden),
                    None => v,
                };
                if !valid_nhs_number(value) {
                    return Err(Refusal::BadRequest);
                }
                v = value;
                &mut nhs
            }
            "family" | "name" => &mut family,
            "given" => &mut given,
            "birthdate" => {
                if !full_date(v) {
                    return Err(Refusal::TooCostly);
                }
                &mut birthdate
            }
            "gender" => &mut gender,
            "_count" | "_format" => continue,
            _ => return Err(Refusal::Forbidden),
        };
        if slot.is_some() {
            return Err(Refusal::BadRequest);
        }
        let text = v.trim();
        if text.is_empty() || text.len() > 100 || text.contains(',') {
            return Err(Refusal::BadRequest);
        }
        *slot = Some(text.to_owned());
    }
    let cap = (FIND_CAP + 1).to_string();
    let mut q: Vec<(&str, String)> = Vec::new();
    if let Some(n) = &nhs {
        q.push(("identifier", format!("{NHS_NUMBER_SYSTEM}|{n}")));
    } else {
        let (Some(f), Some(b)) = (&family, &birthdate) else {
            return Err(Refusal::TooCostly);
        };
        q.push(("family", f.clone()));
        q.push(("birthdate", b.clone()));
        if let Some(g) = &given {
            q.push(("given", g.clone()));
        }
        if let Some(g) = &gender {
            q.push(("gender", g.clone()));
        }
    }
    q.push(("_count", cap));
    let pairs: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Ok(Route {
        action: Action::FindPatient,
        patient: None,
        upstream: with_query("Patient", &pairs),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str, query: Option<&str>) -> Result<Route, Refusal> {
        route("GET", path, query)
    }

    #[test]
    fn reads() {
        let r = get("/fhir/Patient/joe-patient", None).unwrap();
        assert_eq!(r.patient.as_deref(), Some("joe-patient"));
        assert_eq!(r.upstream, "Patient/joe-patient");
        let r = get("/fhir/Observation/o1", None).unwrap();
        assert_eq!(r.patient, None);
        assert_eq!(
            r.action,
            Action::Read {
                resource_type: "Observation".into(),
                id: "o1".into()
            }
        );
        assert_eq!(r.upstream, "Observation/o1");
    }

    #[test]
    fn query_on_a_read_is_not_forwarded_and_cannot_name_another_patient() {
        let r = get("/fhir/Patient/p1", Some("_format=json&patient=p1")).unwrap();
        assert_eq!(r.upstream, "Patient/p1");
        assert_eq!(
            get("/fhir/Patient/p1", Some("patient=p2")),
            Err(Refusal::Forbidden)
        );
        assert_eq!(
            get("/fhir/Observation/o1", Some("patient=p2")),
            Err(Refusal::Forbidden)
        );
    }

    #[test]
    fn everything_and_compartment() {
        let r = get("/fhir/Patient/p1/$everything", Some("_count=50")).unwrap();
        assert_eq!(r.action, Action::Everything);
        assert_eq!(r.upstream, "Patient/p1/$everything?_count=50");
        let r = get("/fhir/Patient/p1/Observation", Some("code=1234-5")).unwrap();
        assert_eq!(r.upstream, "Observation?patient=p1&code=1234-5");
        assert_eq!(r.patient.as_deref(), Some("p1"));
        assert_eq!(
            get("/fhir/Patient/p1/Observation", Some("patient=p2")),
            Err(Refusal::Forbidden)
        );
        assert_eq!(
            get("/fhir/Patient/p1/$everything", Some("patient=p2")),
            Err(Refusal::Forbidden)
        );
        assert_eq!(
            get("/fhir/Patient/p1/$everything", Some("_revinclude=x")),
            Err(Refusal::Forbidden)
        );
    }

    #[test]
    fn searches_need_exactly_one_patient() {
        let r = get(
            "/fhir/Condition",
            Some("patient=Patient%2Fp1&clinical-status=active"),
        )
        .unwrap();
        assert_eq!(r.patient.as_deref(), Some("p1"));
        assert_eq!(r.upstream, "Condition?patient=p1&clinical-status=active");
        let r = get(
            "/fhir/Condition",
            Some("subject=https://x.example/fhir/Patient/p1"),
        )
        .unwrap();
        assert_eq!(r.patient.as_deref(), Some("p1"));
        for q in [
            None,
            Some("code=x"),
            Some("patient=p1,p2"),
            Some("patient=p1&patient=p2"),
            Some("patient=p1&subject=p2"),
            Some("subject=Group/g1"),
            Some("patient:missing=true"),
            Some("patient.name=smith"),
            Some("patient=p1&_has:Observation:patient:code=x"),
            Some("patient=p1&_revinclude=Provenance:target"),
            Some("patient=p1&_include:iterate=x"),
        ] {
            assert_eq!(get("/fhir/Condition", q), Err(Refusal::Forbidden), "{q:?}");
        }
        // The same patient twice is one patient.
        assert!(get("/fhir/Condition", Some("patient=p1&subject=Patient/p1")).is_ok());
    }

    #[test]
    fn history() {
        let r = get("/fhir/Condition/c1/_history", None).unwrap();
        assert_eq!(r.upstream, "Condition/c1/_history");
        assert_eq!(r.action.interaction(), "history-instance");
        let r = get("/fhir/Condition/c1/_history/3", None).unwrap();
        assert_eq!(r.upstream, "Condition/c1/_history/3");
        assert_eq!(r.action.interaction(), "vread");
        assert_eq!(get("/fhir/_history", None), Err(Refusal::Forbidden));
        assert_eq!(
            get("/fhir/Condition/_history", None),
            Err(Refusal::Forbidden)
        );
    }

    #[test]
    fn refused_operations() {
        for p in [
            "/fhir",
            "/fhir/",
            "/fhir/$export",
            "/fhir/Patient/$export",
            "/fhir/Group/g1/$export",
            "/fhir/Patient/p1/$validate",
            "/fhir/Observation/o1/$meta",
            "/fhir/metadata",
            "/fhir/Patient/p1/Observation/o1",
            "/fhir/$everything",
            "/fhir/Patient/p1/_history/1/extra",
        ] {
            assert_eq!(get(p, None), Err(Refusal::Forbidden), "{p}");
        }
    }

    #[test]
    fn writes_are_405() {
        for m in ["POST", "PUT", "PATCH", "DELETE", "HEAD"] {
            assert_eq!(
                route(m, "/fhir/Patient/p1", None),
                Err(Refusal::MethodNotAllowed)
            );
        }
    }

    #[test]
    fn traversal_and_odd_paths_are_400() {
        for p in [
            "/fhir/Patient/..",
            "/fhir/Patient/../Observation",
            "/fhir/Patient/./p1",
            "/fhir/Patient//p1",
            "/fhir/Patient/%2e%2e",
            "/fhir/Patient/p1%2FObservation",
            "/fhir/Patient/p1\\..",
            "/fhir/patient/p1",
            "/fhir/Patient/a b",
            "/fhir/Patient/p1/",
        ] {
            assert_eq!(get(p, None), Err(Refusal::BadRequest), "{p}");
        }
        assert_eq!(get("/other", None), Err(Refusal::NotFound));
        let long = format!("/fhir/Patient/{}", "a".repeat(65));
        assert_eq!(get(&long, None), Err(Refusal::BadRequest));
        assert_eq!(
            get("/fhir/Condition", Some("patient=%ZZ")),
            Err(Refusal::BadRequest)
        );
        assert_eq!(
            get("/fhir/Condition", Some("patient=p1%0d%0aX:1")),
            Err(Refusal::BadRequest)
        );
    }

    #[test]
    fn patient_finding() {
        let r = get(
            "/fhir/Patient",
            Some("identifier=https://fhir.nhs.uk/Id/nhs-number|9990000018"),
        )
        .unwrap();
        assert_eq!(r.action, Action::FindPatient);
        assert_eq!(r.patient, None);
        assert_eq!(
            r.upstream,
            "Patient?identifier=https%3A%2F%2Ffhir.nhs.uk%2FId%2Fnhs-number%7C9990000018&_count=11"
        );
        let r = get(
            "/fhir/Patient",
            Some("family=Whitfield&birthdate=1963-04-12"),
        )
        .unwrap();
        assert_eq!(
            r.upstream,
            "Patient?family=Whitfield&birthdate=1963-04-12&_count=11"
        );
        assert_eq!(
            get("/fhir/Patient", Some("identifier=9990000019")),
            Err(Refusal::BadRequest)
        );
        assert_eq!(
            get("/fhir/Patient", Some("family=Smith")),
            Err(Refusal::TooCostly)
        );
        assert_eq!(
            get("/fhir/Patient", Some("family=Smith&birthdate=1963")),
            Err(Refusal::TooCostly)
        );
        assert_eq!(get("/fhir/Patient", None), Err(Refusal::TooCostly));
        assert_eq!(
            get("/fhir/Patient", Some("address=x")),
            Err(Refusal::Forbidden)
        );
        assert_eq!(
            get("/fhir/Patient", Some("identifier=http://other|9990000018")),
            Err(Refusal::Forbidden)
        );
    }

    #[test]
    fn nhs_numbers() {
        for n in [
            "9990000018",
            "9990000026",
            "9990000034",
            "9990000042",
            "9990000050",
            "9990000069",
            "9990000077",
        ] {
            assert!(valid_nhs_number(n), "{n}");
        }
        for n in [
            "9990000019",
            "999000001",
            "99900000180",
            "999000001a",
            "+990000018",
        ] {
            assert!(!valid_nhs_number(n), "{n}");
        }
    }
}
