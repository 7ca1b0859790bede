//! The patient and carer side of the edge: who am I, proxy grants, the
//! person-centred plan, booking, the person's own access log and
//! reminders. Every rule is in `tiergate-core` or `tiergate-edge`; this is
//! I/O. Every action is audited; a proxy's actions are audited as the
//! proxy, on behalf of the patient.

use serde_json::{json, Value};
use tiergate_core::Viewer;
use tiergate_edge::access::{self, LogRow};
use tiergate_edge::audit::Audit;
use tiergate_edge::proxy::{self, Grant};
use tiergate_edge::{booking, route, Refusal};
use wasm_bindgen::JsValue;
use worker::{D1Database, Method, Request, Response};

use crate::{
    authenticate, fetch_origin, fhir, json_response, write_audit, write_origin, Config, Ctx, Fail,
};

/// What the caller is to a patient.
pub enum Standing {
    /// A professional: professional rules apply.
    Professional,
    /// The person themself.
    Own,
    /// Someone the patient granted proxy access.
    Proxy(proxy::Held),
}

impl Standing {
    /// Whether this standing permits `action` (a policy proxy permit) for
    /// `patient`. For a proxy the policy's age rules need the patient's
    /// birth date, asked of the origin only here (a record read gets it
    /// from the record itself).
    pub async fn permits(
        &self,
        action: &str,
        patient: &str,
        db: Option<&D1Database>,
        cfg: &Config,
        ctx: &Ctx<'_>,
    ) -> bool {
        match self {
            Self::Own => true,
            Self::Proxy(held) => {
                let policy = &ctx.state.policy;
                let agreed = held.agreed.as_deref().and_then(|a| {
                    tiergate_core::fhirtime::parse(a, tiergate_core::fhirtime::Edge::Start)
                });
                let birth = birth_date(cfg, ctx, db, patient).await;
                let in_force =
                    policy.proxy_scopes_at(&held.scopes, agreed, birth.as_deref(), ctx.now);
                policy.scope_permits(&in_force, action)
            }
            Self::Professional => false,
        }
    }

    /// The patient the proxy acts for, for audit.
    pub fn on_behalf_of<'a>(&self, patient: &'a str) -> Option<&'a str> {
        matches!(self, Self::Proxy(..)).then_some(patient)
    }
}

pub fn own_record(viewer: &Viewer, ctx: &Ctx<'_>) -> bool {
    ctx.state
        .policy
        .profile(&viewer.profile)
        .is_some_and(|p| p.properties.own_record)
}

/// Grants in force or not, for a grantee (any patient) or a patient.
async fn grants(
    db: Option<&D1Database>,
    cfg: &Config,
    ctx: &Ctx<'_>,
    column: &str,
    value: &str,
) -> Result<Vec<Grant>, Refusal> {
    #[derive(serde::Deserialize)]
    struct Row {
        grant_json: String,
    }
    let sql = if column == "grantee" {
        "SELECT grant_json FROM proxy_grants WHERE grantee = ?1 ORDER BY rowid"
    } else {
        "SELECT grant_json FROM proxy_grants WHERE patient = ?1 ORDER BY rowid"
    };
    let rows: Vec<Row> = crate::query(db, sql, &[JsValue::from_str(value)]).await?;
    let mut out: Vec<Grant> = if cfg.demo && cfg.origin.is_none() {
        ctx.demo
            .grants
            .iter()
            .filter(|g| {
                if column == "grantee" {
                    g.grantee == value
                } else {
                    g.patient == value
                }
            })
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    for r in rows {
        // A stored grant that no longer parses grants nothing.
        if let Ok(g) = serde_json::from_str::<Grant>(&r.grant_json) {
            // A stored copy (a revoked baseline grant) replaces the baseline.
            out.retain(|x| x.id != g.id);
            out.push(g);
        }
    }
    Ok(out)
}

/// Stores a grant, new or changed (revoked).
fn store_grant(db: &D1Database, g: &Grant) -> Result<worker::D1PreparedStatement, Refusal> {
    let text = serde_json::to_string(g).map_err(|_| Refusal::Unavailable)?;
    db.prepare("INSERT INTO proxy_grants (id, patient, grantee, grant_json, expires, revoked) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id) DO UPDATE SET grant_json = excluded.grant_json, revoked = excluded.revoked")
        .bind(&[
            JsValue::from_str(&g.id),
            JsValue::from_str(&g.patient),
            JsValue::from_str(&g.grantee),
            JsValue::from_str(&text),
            JsValue::from_str(&g.expires),
            g.revoked.as_deref().map_or(JsValue::NULL, JsValue::from_str),
        ])
        .map_err(|_| Refusal::Unavailable)
}

/// The caller's standing for `patient`. An own-record viewer with no
/// standing gets [`Refusal::NotFound`] (as if the record did not exist).
pub async fn standing(
    viewer: &Viewer,
    patient: &str,
    db: Option<&D1Database>,
    cfg: &Config,
    ctx: &Ctx<'_>,
) -> Result<Standing, Refusal> {
    if !own_record(viewer, ctx) {
        return Ok(Standing::Professional);
    }
    if viewer.patient.as_deref() == Some(patient) {
        return Ok(Standing::Own);
    }
    let grants = grants(db, cfg, ctx, "grantee", &viewer.user_id).await?;
    proxy::held(&grants, &viewer.user_id, patient, ctx.now)
        .map(Standing::Proxy)
        .ok_or(Refusal::NotFound)
}

/// The patient's birth date from the origin; `None` (the strictest age
/// rules) when it cannot say.
async fn birth_date(
    cfg: &Config,
    ctx: &Ctx<'_>,
    db: Option<&D1Database>,
    patient: &str,
) -> Option<String> {
    let (status, _, body) = fetch_origin(cfg, ctx, db, &format!("Patient/{patient}"), None)
        .await
        .ok()?;
    if status != 200 {
        return None;
    }
    let v: Value = serde_json::from_slice(&body).ok()?;
    (v.get("resourceType").and_then(Value::as_str) == Some("Patient")
        && v.get("id").and_then(Value::as_str) == Some(patient))
    .then(|| {
        v.get("birthDate")
            .and_then(Value::as_str)
            .map(str::to_owned)
    })
    .flatten()
}

/// The viewer core judges for this standing: an own-record viewer sees
/// `patient`'s record, narrowed to the granted scopes for a proxy.
pub fn viewer_for(viewer: &Viewer, patient: &str, standing: &Standing) -> Viewer {
    let mut v = viewer.clone();
    match standing {
        Standing::Professional => {}
        Standing::Own => {
            v.patient = Some(patient.to_owned());
            v.proxy_scopes = None;
            v.proxy_categories = None;
            v.proxy_agreed = None;
        }
        Standing::Proxy(held) => {
            v.patient = Some(patient.to_owned());
            v.proxy_scopes = Some(held.scopes.clone());
            v.proxy_categories = Some(held.categories.clone());
            v.proxy_agreed = held.agreed.clone();
        }
    }
    v
}

fn patient_of(path: &str, prefix: &str) -> Result<(String, Option<String>), Refusal> {
    let rest = path.strip_prefix(prefix).ok_or(Refusal::NotFound)?;
    let (id, more) = match rest.split_once('/') {
        None => (rest, None),
        Some((id, more)) => (id, Some(more.to_owned())),
    };
    Ok((route::fhir_id(id)?.to_owned(), more))
}

fn audit<'a>(
    ctx: &'a Ctx<'_>,
    viewer: &'a Viewer,
    action: &'a str,
    patient: &'a str,
    status: u16,
) -> Audit<'a> {
    Audit {
        patient: Some(patient),
        ..crate::audit_of(ctx, viewer, action, status)
    }
}

fn grant_json(g: &Grant, in_force: bool) -> Value {
    let mut v = serde_json::to_value(g).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.insert("in_force".into(), in_force.into());
    }
    v
}

/// `GET /me`: who the token says the caller is, and whom they may act for.
pub async fn me(
    req: Request,
    cfg: &Config,
    db: Option<&D1Database>,
    ctx: &Ctx<'_>,
) -> Result<Response, Fail> {
    let viewer = authenticate(&req, cfg, ctx)?;
    let fail = |r: Refusal| (r, Some(Box::new(viewer.clone())));
    if req.method() != Method::Get {
        return Err(fail(Refusal::MethodNotAllowed));
    }
    let policy = &ctx.state.policy;
    let mut acting_for = Vec::new();
    if own_record(&viewer, ctx) {
        // What each grant gives today, by the policy's age rules and the
        // person's agreement: the same rule the record and the actions
        // are judged by.
        let mut births: std::collections::BTreeMap<String, Option<String>> = Default::default();
        for g in grants(db, cfg, ctx, "grantee", &viewer.user_id)
            .await
            .map_err(fail)?
        {
            if !g.in_force(ctx.now) {
                continue;
            }
            let birth = match births.get(&g.patient) {
                Some(b) => b.clone(),
                None if policy.document().proxies.ages.is_empty() => None,
                None => {
                    let b = birth_date(cfg, ctx, db, &g.patient).await;
                    births.insert(g.patient.clone(), b.clone());
                    b
                }
            };
            acting_for.push(proxy::acting_for(&g, birth.as_deref(), policy, ctx.now));
        }
    }
    let profile = policy.profile(&viewer.profile);
    let row = crate::audit_of(ctx, &viewer, "me", 200).build();
    write_audit(db, &row, Vec::new())
        .await
        .map_err(|_| fail(Refusal::Unavailable))?;
    let scopes: Vec<Value> = policy
        .proxy_scopes()
        .iter()
        .map(|s| json!({"id": s.id, "display": s.display, "permits": s.permits}))
        .collect();
    // What a person may share with a proxy by name (Appendix 1).
    let categories: Vec<Value> = policy
        .document()
        .exclusions
        .categories
        .iter()
        .map(|c| json!({"id": c.id, "name": c.name}))
        .collect();
    json_response(
        200,
        &json!({
            "user_id": viewer.user_id,
            "name": viewer.name,
            "organisation": (!viewer.organisation.is_empty()).then_some(&viewer.organisation),
            "profile": viewer.profile,
            "profile_name": profile.map(|p| p.name.as_str()),
            "own_record": own_record(&viewer, ctx),
            "patient": viewer.patient,
            "acting_for": acting_for,
            "proxy_scopes": scopes,
            "exclusion_categories": categories,
            "policy": policy.hash(),
        }),
        ctx,
    )
}

/// `GET|POST /proxy/Patient/{id}` and `DELETE /proxy/Patient/{id}/{grant}`:
/// the patient manages who may act for them. Only the person themself.
pub async fn grants_endpoint(
    mut req: Request,
    cfg: &Config,
    db: Option<&D1Database>,
    ctx: &Ctx<'_>,
) -> Result<Response, Fail> {
    let viewer = authenticate(&req, cfg, ctx)?;
    let fail = |r: Refusal| (r, Some(Box::new(viewer.clone())));
    let (patient, more) = patient_of(&req.path(), "/proxy/Patient/").map_err(fail)?;
    let standing = standing(&viewer, &patient, db, cfg, ctx)
        .await
        .map_err(fail)?;
    if !matches!(standing, Standing::Own) {
        return Err(fail(Refusal::Forbidden));
    }
    let db_ref = db.ok_or_else(|| fail(Refusal::Unavailable))?;
    match (req.method(), more) {
        (Method::Get, None) => {
            let all = grants(db, cfg, ctx, "patient", &patient)
                .await
                .map_err(fail)?;
            write_audit(
                db,
                &audit(ctx, &viewer, "proxy-read", &patient, 200).build(),
                Vec::new(),
            )
            .await
            .map_err(|_| fail(Refusal::Unavailable))?;
            let list: Vec<Value> = all
                .iter()
                .map(|g| grant_json(g, g.in_force(ctx.now)))
                .collect();
            json_response(200, &json!({"grants": list}), ctx)
        }
        (Method::Post, None) => {
            let body = req.bytes().await.map_err(|_| fail(Refusal::BadRequest))?;
            let policy = &ctx.state.policy;
            let scopes: Vec<&str> = policy
                .proxy_scopes()
                .iter()
                .map(|s| s.id.as_str())
                .collect();
            let categories: Vec<&str> = policy
                .exclusion_categories()
                .iter()
                .map(String::as_str)
                .collect();
            let g = proxy::grant(
                &body,
                &patient,
                viewer.name.as_deref(),
                &format!("g-{}", ctx.id),
                ctx.now,
                proxy::Known {
                    scopes: &scopes,
                    categories: &categories,
                },
            )
            .map_err(fail)?;
            let stmt = store_grant(db_ref, &g).map_err(fail)?;
            let row = Audit {
                entities: vec![format!("Grant/{}", g.id)],
                ..audit(ctx, &viewer, "proxy-grant", &patient, 201)
            }
            .build();
            write_audit(db, &row, vec![stmt])
                .await
                .map_err(|_| fail(Refusal::Unavailable))?;
            json_response(201, &grant_json(&g, true), ctx)
        }
        (Method::Post, Some(more)) if more.ends_with("/agree") => {
            // The person agrees to, or renews, a grant someone else made
            // for them (the policy's age rules count it from now).
            let grant_id = more.trim_end_matches("/agree");
            let existing = grants(db, cfg, ctx, "patient", &patient)
                .await
                .map_err(fail)?;
            let Some(mut g) = existing
                .into_iter()
                .find(|g| g.id == grant_id && g.in_force(ctx.now))
            else {
                return Err(fail(Refusal::NotFound));
            };
            g.agreed = Some(ctx.recorded.clone());
            let stmt = store_grant(db_ref, &g).map_err(fail)?;
            let row = Audit {
                entities: vec![format!("Grant/{}", g.id)],
                ..audit(ctx, &viewer, "proxy-agree", &patient, 200)
            }
            .build();
            write_audit(db, &row, vec![stmt])
                .await
                .map_err(|_| fail(Refusal::Unavailable))?;
            json_response(200, &grant_json(&g, true), ctx)
        }
        (Method::Delete, Some(grant_id)) => {
            let existing = grants(db, cfg, ctx, "patient", &patient)
                .await
                .map_err(fail)?;
            let Some(mut g) = existing
                .into_iter()
                .find(|g| g.id == grant_id && g.revoked.is_none())
            else {
                return Err(fail(Refusal::NotFound));
            };
            g.revoked = Some(ctx.recorded.clone());
            // A demo baseline grant is revoked by storing its revoked copy.
            let stmt = store_grant(db_ref, &g).map_err(fail)?;
            let row = Audit {
                entities: vec![format!("Grant/{}", g.id)],
                ..audit(ctx, &viewer, "proxy-revoke", &patient, 200)
            }
            .build();
            write_audit(db, &row, vec![stmt])
                .await
                .map_err(|_| fail(Refusal::Unavailable))?;
            json_response(200, &serde_json::to_value(&g).unwrap_or(Value::Null), ctx)
        }
        _ => Err(fail(Refusal::MethodNotAllowed)),
    }
}

/// `POST /fhir/Appointment`: a booking request by the patient or a proxy
/// whose grant permits booking; forwarded to the origin as a fresh
/// `proposed` Appointment.
pub async fn book(
    mut req: Request,
    cfg: &Config,
    db: Option<&D1Database>,
    ctx: &Ctx<'_>,
) -> Result<Response, Fail> {
    let viewer = authenticate(&req, cfg, ctx)?;
    let fail = |r: Refusal| (r, Some(Box::new(viewer.clone())));
    if !own_record(&viewer, ctx) {
        // Professionals book in their own systems; the edge is read-only
        // for them.
        return Err(fail(Refusal::MethodNotAllowed));
    }
    let body = req.bytes().await.map_err(|_| fail(Refusal::BadRequest))?;
    let b = booking::booking(&body, &format!("b-{}", ctx.id), ctx.now).map_err(fail)?;
    let standing = standing(&viewer, &b.patient, db, cfg, ctx)
        .await
        .map_err(fail)?;
    if !standing.permits("book", &b.patient, db, cfg, ctx).await {
        return Err(fail(Refusal::Forbidden));
    }
    let id = b
        .appointment
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    // Audit first: nothing is sent unless the record of it is kept.
    let row = Audit {
        entities: vec![format!("Appointment/{id}")],
        on_behalf_of: standing.on_behalf_of(&b.patient),
        ..audit(ctx, &viewer, "book", &b.patient, 201)
    }
    .build();
    write_audit(db, &row, Vec::new())
        .await
        .map_err(|_| fail(Refusal::Unavailable))?;
    write_origin(
        cfg,
        db,
        ctx,
        "POST",
        "Appointment",
        &b.patient,
        &b.appointment,
    )
    .await
    .map_err(fail)?;
    fhir(201, b.appointment.to_string().into_bytes(), ctx)
}

/// `PUT /plan/Patient/{id}`: the person's own plan (their words), stored
/// at the origin as the person-centred CarePlan professionals see in
/// Summary tier 3. Only the person themself.
pub async fn plan(
    mut req: Request,
    cfg: &Config,
    db: Option<&D1Database>,
    ctx: &Ctx<'_>,
) -> Result<Response, Fail> {
    let viewer = authenticate(&req, cfg, ctx)?;
    let fail = |r: Refusal| (r, Some(Box::new(viewer.clone())));
    let (patient, more) = patient_of(&req.path(), "/plan/Patient/").map_err(fail)?;
    if more.is_some() {
        return Err(fail(Refusal::NotFound));
    }
    if req.method() != Method::Put {
        return Err(fail(Refusal::MethodNotAllowed));
    }
    let standing = standing(&viewer, &patient, db, cfg, ctx)
        .await
        .map_err(fail)?;
    if !matches!(standing, Standing::Own) {
        return Err(fail(Refusal::Forbidden));
    }
    let body = req.bytes().await.map_err(|_| fail(Refusal::BadRequest))?;
    if body.len() > 16 * 1024 {
        return Err(fail(Refusal::BadRequest));
    }
    let fields =
        tiergate_core::plan::PlanFields::from_json(&body).map_err(|_| fail(Refusal::BadRequest))?;
    let careplan = tiergate_core::plan::plan_to_careplan(&patient, &fields, &ctx.recorded)
        .map_err(|_| fail(Refusal::BadRequest))?;
    let id = careplan
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let row = Audit {
        entities: vec![format!("CarePlan/{id}")],
        ..audit(ctx, &viewer, "plan-update", &patient, 200)
    }
    .build();
    write_audit(db, &row, Vec::new())
        .await
        .map_err(|_| fail(Refusal::Unavailable))?;
    write_origin(
        cfg,
        db,
        ctx,
        "PUT",
        &format!("CarePlan/{id}"),
        &patient,
        &careplan,
    )
    .await
    .map_err(fail)?;
    fhir(200, careplan.to_string().into_bytes(), ctx)
}

/// `GET /access/Patient/{id}`: who has looked at this record. For the
/// person, or a proxy whose grant permits viewing the access log.
pub async fn access_log(
    req: Request,
    cfg: &Config,
    db: Option<&D1Database>,
    ctx: &Ctx<'_>,
) -> Result<Response, Fail> {
    let viewer = authenticate(&req, cfg, ctx)?;
    let fail = |r: Refusal| (r, Some(Box::new(viewer.clone())));
    let (patient, more) = patient_of(&req.path(), "/access/Patient/").map_err(fail)?;
    if more.is_some() || req.method() != Method::Get {
        return Err(fail(Refusal::NotFound));
    }
    let standing = standing(&viewer, &patient, db, cfg, ctx)
        .await
        .map_err(fail)?;
    if !standing
        .permits("view-access-log", &patient, db, cfg, ctx)
        .await
    {
        return Err(fail(Refusal::Forbidden));
    }
    let rows: Vec<LogRow> = crate::query(
        db,
        "SELECT recorded, user_id, organisation, profile, action, status, break_glass, event FROM audit_events WHERE patient = ?1 ORDER BY recorded DESC, rowid DESC LIMIT 500",
        &[JsValue::from_str(&patient)],
    )
    .await
    .map_err(fail)?;
    let lines: Vec<Value> = rows
        .iter()
        .filter_map(|r| access::entry(r, &ctx.state.policy))
        .collect();
    let row = Audit {
        on_behalf_of: standing.on_behalf_of(&patient),
        ..audit(ctx, &viewer, "access-log", &patient, 200)
    }
    .build();
    write_audit(db, &row, Vec::new())
        .await
        .map_err(|_| fail(Refusal::Unavailable))?;
    json_response(200, &json!({"patient": patient, "entries": lines}), ctx)
}

/// `POST /reminders/Patient/{id}/send`: sends the person, and each carer
/// they granted access, the reminders their own view of the record holds
/// (a carer's view is narrowed to their grant, so they are never told of
/// anything the grant does not cover). Delivered through the configured
/// notifier: a webhook (`NOTIFY_WEBHOOK`), or the demo outbox.
pub async fn send_reminders(
    req: Request,
    cfg: &Config,
    db: Option<&D1Database>,
    ctx: &Ctx<'_>,
) -> Result<Response, Fail> {
    let viewer = authenticate(&req, cfg, ctx)?;
    let fail = |r: Refusal| (r, Some(Box::new(viewer.clone())));
    let (patient, more) = patient_of(&req.path(), "/reminders/Patient/").map_err(fail)?;
    if more.as_deref() != Some("send") || req.method() != Method::Post {
        return Err(fail(Refusal::NotFound));
    }
    let standing = standing(&viewer, &patient, db, cfg, ctx)
        .await
        .map_err(fail)?;
    if !matches!(standing, Standing::Own) {
        return Err(fail(Refusal::Forbidden));
    }
    let policy = &ctx.state.policy;
    let upstream = format!("Patient/{patient}/$everything");
    let (status, ct, body) = fetch_origin(cfg, ctx, db, &upstream, Some(&patient))
        .await
        .map_err(fail)?;
    let r = route::route("GET", &format!("/fhir/{upstream}"), None).map_err(fail)?;
    let (record, _) =
        tiergate_edge::pipeline::accept_origin(status, ct.as_deref(), &body, &r, cfg.max_bytes)
            .map_err(fail)?;
    let consent = crate::consent_set(cfg, ctx, &[], &patient).map_err(fail)?;
    // The person, then each carer with a grant in force.
    let mut recipients: Vec<(Viewer, String, Option<String>)> = vec![(
        viewer_for(&viewer, &patient, &Standing::Own),
        viewer
            .name
            .clone()
            .unwrap_or_else(|| viewer.user_id.clone()),
        None,
    )];
    for g in grants(db, cfg, ctx, "patient", &patient)
        .await
        .map_err(fail)?
    {
        if g.in_force(ctx.now) {
            let mut carer = viewer.clone();
            carer.user_id = g.grantee.clone();
            carer.name = Some(g.grantee_name.clone());
            carer.patient = Some(patient.clone());
            carer.proxy_scopes = Some(g.scopes.clone());
            carer.proxy_categories = Some(g.categories.clone());
            carer.proxy_agreed = g.agreed_by_patient().map(str::to_owned);
            recipients.push((carer, g.grantee_name.clone(), Some(g.grantee.clone())));
        }
    }
    let mut sent = Vec::new();
    let mut messages = Vec::new();
    let mut statements = Vec::new();
    for (i, (who, name, grantee)) in recipients.iter().enumerate() {
        let served = tiergate_edge::pipeline::redact(
            &record,
            who,
            &consent,
            ctx.now,
            policy,
            cfg.origin_facts(),
        )
        .map_err(fail)?;
        let view: Value =
            serde_json::from_slice(&served.body).map_err(|_| fail(Refusal::BadGateway))?;
        let reminders = tiergate_core::reminders::reminders(&view, ctx.now);
        if reminders.is_empty() {
            continue;
        }
        let message = json!({
            "to": {"user_id": grantee.as_deref().unwrap_or(&who.user_id), "name": name,
                   "role": if grantee.is_some() { "carer" } else { "patient" }},
            "patient": patient,
            "subject": "Your upcoming appointments and reminders",
            "reminders": serde_json::to_value(&reminders).unwrap_or(Value::Null),
        });
        let id = format!("m-{}-{i}", ctx.id);
        if cfg.webhook.is_none() {
            statements.push(crate::outbox_statement(db, ctx, &id, &message).map_err(fail)?);
        }
        let role = if grantee.is_some() {
            "carer"
        } else {
            "patient"
        };
        sent.push(json!({"to": name, "role": role, "reminders": reminders.len()}));
        messages.push(message);
    }
    let row = Audit {
        entities: sent
            .iter()
            .enumerate()
            .map(|(i, _)| format!("Communication/m-{}-{i}", ctx.id))
            .collect(),
        ..audit(ctx, &viewer, "notify", &patient, 200)
    }
    .build();
    // The audit (and the demo outbox) commit before anything is delivered.
    write_audit(db, &row, statements)
        .await
        .map_err(|_| fail(Refusal::Unavailable))?;
    let mut delivered = true;
    for m in &messages {
        delivered &= crate::deliver(cfg, m).await.is_ok();
    }
    json_response(200, &json!({"sent": sent, "delivered": delivered}), ctx)
}
