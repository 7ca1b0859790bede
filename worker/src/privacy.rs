//! Proactive audit and investigation (framework 6.3, 6.6): break-glass
//! cases, the audit rules run over the audit table, exports, and
//! monitoring. Reading any of it needs a profile with audit access (the
//! privacy officer), except that professionals see and explain their own
//! break-glass cases. The rules, the case workflow and the metrics are in
//! `tiergate-core` and `tiergate-edge`; this is I/O.

use serde_json::{json, Value};
use tiergate_core::audit::{AuditEvent, Scanner};
use tiergate_core::Viewer;
use tiergate_edge::approval;
use tiergate_edge::audit::Audit;
use tiergate_edge::cases::{self, Case};
use tiergate_edge::metrics::{MetricRow, Metrics};
use tiergate_edge::Refusal;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, Method, Request, Response};

use crate::{
    audit_of, authenticate, ensure_schema, json_response, respond, write_audit, Config, Ctx, Fail,
};

/// Most rows one export or listing returns.
const MAX_ROWS: usize = 5000;

fn audit_access(viewer: &Viewer, ctx: &Ctx<'_>) -> bool {
    ctx.state
        .policy
        .profile(&viewer.profile)
        .is_some_and(|p| p.properties.audit_access)
}

/// Filters from the query string: organisation, user, patient, rule,
/// status, from, to. Values are bound as SQL parameters, never spliced.
struct Filters {
    pairs: Vec<(String, String)>,
}

impl Filters {
    fn from(req: &Request) -> Result<Self, Refusal> {
        let url = req.url().map_err(|_| Refusal::BadRequest)?;
        let mut pairs = Vec::new();
        for (k, v) in url.query_pairs() {
            let v = v.trim().to_owned();
            if v.is_empty() {
                continue;
            }
            if v.chars().count() > 128 || v.chars().any(char::is_control) {
                return Err(Refusal::BadRequest);
            }
            pairs.push((k.into_owned(), v));
        }
        Ok(Self { pairs })
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `WHERE` clause and parameters for the named columns.
    fn sql(&self, columns: &[(&str, &str)]) -> (String, Vec<JsValue>) {
        let mut clauses = Vec::new();
        let mut params = Vec::new();
        for (key, clause) in columns {
            if let Some(v) = self.get(key) {
                params.push(JsValue::from_str(v));
                clauses.push(clause.replace('?', &format!("?{}", params.len())));
            }
        }
        let sql = if clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", clauses.join(" AND "))
        };
        (sql, params)
    }
}

async fn rows<T: for<'de> serde::Deserialize<'de>>(
    db: &D1Database,
    sql: &str,
    params: &[JsValue],
) -> Result<Vec<T>, Refusal> {
    crate::query(Some(db), sql, params).await
}

/// The documents in the `json` column of the rows `sql` selects; a row
/// that does not read as `T` is skipped.
async fn json_rows<T: for<'de> serde::Deserialize<'de>>(
    db: &D1Database,
    sql: &str,
    params: &[JsValue],
) -> Result<Vec<T>, Refusal> {
    #[derive(serde::Deserialize)]
    struct JsonRow {
        json: String,
    }
    let found: Vec<JsonRow> = rows(db, sql, params).await?;
    Ok(found
        .iter()
        .filter_map(|r| serde_json::from_str(&r.json).ok())
        .collect())
}

/// The statement that opens a case for a new break-glass window (committed
/// with the window and the audit event).
pub fn open_case_statement(db: &D1Database, case: &Case) -> Result<D1PreparedStatement, Refusal> {
    let text = serde_json::to_string(case).map_err(|_| Refusal::Unavailable)?;
    db.prepare("INSERT INTO cases (id, user_id, organisation, patient, status, opened, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
        .bind(&[
            JsValue::from_str(&case.id),
            JsValue::from_str(&case.user_id),
            JsValue::from_str(&case.organisation),
            JsValue::from_str(&case.patient),
            JsValue::from_str(case.status.as_str()),
            JsValue::from_str(&case.opened),
            JsValue::from_str(&text),
        ])
        .map_err(|_| Refusal::Unavailable)
}

fn save_case_statement(db: &D1Database, case: &Case) -> Result<D1PreparedStatement, Refusal> {
    let text = serde_json::to_string(case).map_err(|_| Refusal::Unavailable)?;
    db.prepare("UPDATE cases SET status = ?2, json = ?3 WHERE id = ?1")
        .bind(&[
            JsValue::from_str(&case.id),
            JsValue::from_str(case.status.as_str()),
            JsValue::from_str(&text),
        ])
        .map_err(|_| Refusal::Unavailable)
}

/// `GET /cases`, `POST /cases/{id}/explanation`, `POST /cases/{id}/review`.
pub async fn cases_endpoint(
    mut req: Request,
    cfg: &Config,
    db: Option<&D1Database>,
    ctx: &Ctx<'_>,
) -> Result<Response, Fail> {
    let viewer = authenticate(&req, cfg, ctx)?;
    let fail = |r: Refusal| (r, Some(Box::new(viewer.clone())));
    // Schema: ensured by the first query (`json_rows`).
    let db_ref = db.ok_or_else(|| fail(Refusal::Unavailable))?;
    let officer = audit_access(&viewer, ctx);
    let path = req.path();
    let rest = path.strip_prefix("/cases").unwrap_or_default();
    match (req.method(), rest) {
        (Method::Get, "" | "/") => {
            let filters = Filters::from(&req).map_err(fail)?;
            let (mut sql, mut params) = filters.sql(&[
                ("organisation", "organisation = ?"),
                ("user", "user_id = ?"),
                ("patient", "patient = ?"),
                ("status", "status = ?"),
            ]);
            if !officer {
                // Professionals see their own cases only.
                params.push(JsValue::from_str(&viewer.user_id));
                let clause = format!("user_id = ?{}", params.len());
                sql = if sql.is_empty() {
                    format!(" WHERE {clause}")
                } else {
                    format!("{sql} AND {clause}")
                };
            }
            let cases: Vec<Value> = json_rows(
                db_ref,
                &format!("SELECT json FROM cases{sql} ORDER BY opened DESC LIMIT {MAX_ROWS}"),
                &params,
            )
            .await
            .map_err(fail)?;
            write_audit(
                db,
                &audit_of(ctx, &viewer, "case-list", 200).build(),
                Vec::new(),
            )
            .await
            .map_err(|_| fail(Refusal::Unavailable))?;
            json_response(200, &json!({"cases": cases}), ctx)
        }
        (Method::Post, rest) => {
            let Some((id, step)) = rest.trim_start_matches('/').split_once('/') else {
                return Err(fail(Refusal::NotFound));
            };
            let id = tiergate_edge::route::fhir_id(id).map_err(fail)?.to_owned();
            let mut case: Case = json_rows(
                db_ref,
                "SELECT json FROM cases WHERE id = ?1",
                &[JsValue::from_str(&id)],
            )
            .await
            .map_err(fail)?
            .into_iter()
            .next()
            .ok_or_else(|| fail(Refusal::NotFound))?;
            if !officer && case.user_id != viewer.user_id {
                // Someone else's case reads as missing.
                return Err(fail(Refusal::NotFound));
            }
            let body = req.bytes().await.map_err(|_| fail(Refusal::BadRequest))?;
            let action = match step {
                "explanation" => {
                    cases::explain(&mut case, &viewer.user_id, &body, &ctx.recorded)
                        .map_err(fail)?;
                    "case-explanation"
                }
                "review" if officer => {
                    cases::review(&mut case, &viewer.user_id, &body, &ctx.recorded)
                        .map_err(fail)?;
                    "case-review"
                }
                "review" => return Err(fail(Refusal::NotPermitted)),
                _ => return Err(fail(Refusal::NotFound)),
            };
            let stmt = save_case_statement(db_ref, &case).map_err(fail)?;
            let row = Audit {
                patient: Some(&case.patient),
                entities: vec![format!("Case/{}", case.id)],
                ..audit_of(ctx, &viewer, action, 200)
            }
            .build();
            write_audit(db, &row, vec![stmt])
                .await
                .map_err(|_| fail(Refusal::Unavailable))?;
            json_response(
                200,
                &serde_json::to_value(&case).unwrap_or(Value::Null),
                ctx,
            )
        }
        _ => Err(fail(Refusal::MethodNotAllowed)),
    }
}

#[derive(serde::Deserialize)]
struct EventRow {
    rowid: f64,
    event: String,
}

/// Runs the policy's audit rules over audit events not yet scanned and
/// stores the alerts they raise. The scanner replays the longest rule
/// window before the cursor so per-user baselines are right, and keeps
/// only alerts raised by new events; an alert's id is its rule and
/// triggering event, so a rescan never duplicates one.
pub async fn scan(db: &D1Database, ctx: &Ctx<'_>) -> Result<usize, Refusal> {
    ensure_schema(db).await.map_err(|_| Refusal::Unavailable)?;
    #[derive(serde::Deserialize)]
    struct Cursor {
        value: f64,
    }
    let cursor: Vec<Cursor> = rows(
        db,
        "SELECT value FROM scan_state WHERE key = 'audit_rowid'",
        &[],
    )
    .await?;
    let after = cursor.first().map_or(0.0, |c| c.value);
    let lookback = ctx.now - time::Duration::days(8);
    let since = tiergate_core::fhirtime::format(lookback);
    let events: Vec<EventRow> = rows(
        db,
        "SELECT rowid, event FROM audit_events WHERE rowid > ?1 OR recorded >= ?2 ORDER BY recorded, rowid LIMIT 200000",
        &[JsValue::from_f64(after), JsValue::from_str(&since)],
    )
    .await?;
    let mut parsed: Vec<(f64, AuditEvent)> = events
        .iter()
        .filter_map(|r| {
            let v: Value = serde_json::from_str(&r.event).ok()?;
            let e = AuditEvent::from_fhir(&v, 1).ok().flatten()?;
            Some((r.rowid, e))
        })
        .collect();
    parsed.sort_by(|a, b| a.1.time.cmp(&b.1.time).then(a.0.total_cmp(&b.0)));
    let new_ids: std::collections::HashSet<&str> = parsed
        .iter()
        .filter(|(rowid, _)| *rowid > after)
        .map(|(_, e)| e.id.as_str())
        .collect();
    let rules = ctx.state.policy.audit_rules();
    let mut scanner = Scanner::new(rules);
    let mut statements = Vec::new();
    for (_, e) in &parsed {
        let Ok(alerts) = scanner.feed(e) else {
            continue;
        };
        for a in alerts {
            let Some(trigger) = a.events.last() else {
                continue;
            };
            if !new_ids.contains(trigger.as_str()) {
                continue;
            }
            let id = format!("{}-{}", a.rule, trigger);
            let description = ctx
                .state
                .policy
                .document()
                .audit
                .rules
                .iter()
                .find(|r| r.id == a.rule)
                .map(|r| r.description.clone());
            let alert = json!({
                "id": id, "rule": a.rule, "severity": a.severity.as_str(), "description": description,
                "time": tiergate_core::fhirtime::format(a.time), "user_id": a.user, "organisation": a.organisation,
                "profile": e.profile, "patient": a.patient, "events": a.events, "message": a.message,
                "status": "open", "history": []
            });
            statements.push(
                db.prepare("INSERT OR IGNORE INTO alerts (id, rule, time, user_id, organisation, patient, status, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'open', ?7)")
                    .bind(&[
                        JsValue::from_str(&id),
                        JsValue::from_str(&a.rule),
                        JsValue::from_str(&tiergate_core::fhirtime::format(a.time)),
                        JsValue::from_str(&a.user),
                        JsValue::from_str(&a.organisation),
                        a.patient.as_deref().map_or(JsValue::NULL, JsValue::from_str),
                        JsValue::from_str(&alert.to_string()),
                    ])
                    .map_err(|_| Refusal::Unavailable)?,
            );
        }
    }
    let top = events.iter().map(|r| r.rowid).fold(after, f64::max);
    let raised = statements.len();
    statements.push(
        db.prepare("INSERT INTO scan_state (key, value) VALUES ('audit_rowid', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(&[JsValue::from_f64(top)])
            .map_err(|_| Refusal::Unavailable)?,
    );
    db.batch(statements)
        .await
        .map_err(|_| Refusal::Unavailable)?;
    Ok(raised)
}

/// `GET /privacy/alerts`, `POST /privacy/alerts/{id}`, `POST /privacy/scan`,
/// `GET /privacy/audit.csv`, `GET /privacy/audit.ndjson`,
/// `GET|POST /privacy/approvals`, `POST /privacy/approvals/{id}/revoke`.
pub async fn privacy_endpoint(
    mut req: Request,
    cfg: &Config,
    db: Option<&D1Database>,
    ctx: &Ctx<'_>,
) -> Result<Response, Fail> {
    let viewer = authenticate(&req, cfg, ctx)?;
    let fail = |r: Refusal| (r, Some(Box::new(viewer.clone())));
    if !audit_access(&viewer, ctx) {
        return Err(fail(Refusal::NotPermitted));
    }
    // Schema: ensured by the first query (`json_rows`).
    let db_ref = db.ok_or_else(|| fail(Refusal::Unavailable))?;
    let path = req.path();
    let filters = Filters::from(&req).map_err(fail)?;
    match (req.method(), path.as_str()) {
        (Method::Get, "/privacy/alerts") | (Method::Post, "/privacy/scan") => {
            scan(db_ref, ctx).await.map_err(fail)?;
            let mut f = filters;
            if f.get("status") == Some("all") {
                f.pairs.retain(|(k, _)| k != "status");
            }
            let (sql, params) = f.sql(&[
                ("organisation", "organisation = ?"),
                ("user", "user_id = ?"),
                ("patient", "patient = ?"),
                ("rule", "rule = ?"),
                ("status", "status = ?"),
            ]);
            let alerts: Vec<Value> = json_rows(
                db_ref,
                &format!("SELECT json FROM alerts{sql} ORDER BY time DESC LIMIT {MAX_ROWS}"),
                &params,
            )
            .await
            .map_err(fail)?;
            let rules: Vec<Value> = ctx
                .state
                .policy
                .document()
                .audit
                .rules
                .iter()
                .map(|r| json!({"id": r.id, "severity": r.severity, "description": r.description}))
                .collect();
            write_audit(
                db,
                &audit_of(ctx, &viewer, "alert-list", 200).build(),
                Vec::new(),
            )
            .await
            .map_err(|_| fail(Refusal::Unavailable))?;
            json_response(200, &json!({"alerts": alerts, "rules": rules}), ctx)
        }
        (Method::Post, p) if p.starts_with("/privacy/alerts/") => {
            let id = p.trim_start_matches("/privacy/alerts/");
            if id.is_empty() || id.len() > 200 || id.chars().any(|c| c.is_control() || c == '/') {
                return Err(fail(Refusal::BadRequest));
            }
            #[derive(serde::Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Body {
                status: String,
                #[serde(default)]
                note: Option<String>,
            }
            let body: Body = req.json().await.map_err(|_| fail(Refusal::BadRequest))?;
            if !matches!(body.status.as_str(), "open" | "closed")
                || body.note.as_deref().is_some_and(|n| {
                    n.chars().count() > 2000 || n.chars().any(|c| c.is_control() && c != '\n')
                })
            {
                return Err(fail(Refusal::BadRequest));
            }
            let mut alert: Value = json_rows(
                db_ref,
                "SELECT json FROM alerts WHERE id = ?1",
                &[JsValue::from_str(id)],
            )
            .await
            .map_err(fail)?
            .into_iter()
            .next()
            .ok_or_else(|| fail(Refusal::NotFound))?;
            if let Some(o) = alert.as_object_mut() {
                o.insert("status".into(), body.status.clone().into());
                let step = json!({"time": ctx.recorded, "actor": viewer.user_id, "action": body.status, "note": body.note});
                match o.get_mut("history").and_then(Value::as_array_mut) {
                    Some(h) => h.push(step),
                    None => {
                        o.insert("history".into(), json!([step]));
                    }
                }
            }
            let stmt = db_ref
                .prepare("UPDATE alerts SET status = ?2, json = ?3 WHERE id = ?1")
                .bind(&[
                    JsValue::from_str(id),
                    JsValue::from_str(&body.status),
                    JsValue::from_str(&alert.to_string()),
                ])
                .map_err(|_| fail(Refusal::Unavailable))?;
            let row = Audit {
                entities: vec![format!("Alert/{id}")],
                ..audit_of(ctx, &viewer, "alert-update", 200)
            }
            .build();
            write_audit(db, &row, vec![stmt])
                .await
                .map_err(|_| fail(Refusal::Unavailable))?;
            json_response(200, &alert, ctx)
        }
        (Method::Get, "/privacy/audit.csv" | "/privacy/audit.ndjson") => {
            let (sql, params) = filters.sql(&[
                ("organisation", "organisation = ?"),
                ("user", "user_id = ?"),
                ("patient", "patient = ?"),
                ("from", "recorded >= ?"),
                ("to", "substr(recorded, 1, 10) <= ?"),
            ]);
            #[derive(serde::Deserialize)]
            struct Row {
                id: String,
                recorded: String,
                user_id: Option<String>,
                organisation: Option<String>,
                profile: Option<String>,
                patient: Option<String>,
                action: String,
                status: u16,
                outcome: String,
                break_glass: u8,
                investigate: u8,
                policy: String,
                event: String,
            }
            let list: Vec<Row> = rows(
                db_ref,
                &format!("SELECT id, recorded, user_id, organisation, profile, patient, action, status, outcome, break_glass, investigate, policy, event FROM audit_events{sql} ORDER BY recorded, rowid LIMIT {MAX_ROWS}"),
                &params,
            )
            .await
            .map_err(fail)?;
            let csv = path.ends_with(".csv");
            let mut out = String::new();
            if csv {
                out.push_str("id,recorded,user_id,organisation,profile,patient,action,status,outcome,break_glass,investigate,policy\r\n");
                for r in &list {
                    let cells = [
                        r.id.as_str(),
                        &r.recorded,
                        r.user_id.as_deref().unwrap_or_default(),
                        r.organisation.as_deref().unwrap_or_default(),
                        r.profile.as_deref().unwrap_or_default(),
                        r.patient.as_deref().unwrap_or_default(),
                        &r.action,
                        &r.status.to_string(),
                        &r.outcome,
                        if r.break_glass != 0 { "true" } else { "false" },
                        if r.investigate != 0 { "true" } else { "false" },
                        &r.policy,
                    ];
                    let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
                    out.push_str(&line.join(","));
                    out.push_str("\r\n");
                }
            } else {
                for r in &list {
                    out.push_str(&r.event);
                    out.push('\n');
                }
            }
            let row = Audit {
                entities: vec![format!("Export/{}", list.len())],
                ..audit_of(ctx, &viewer, "audit-export", 200)
            }
            .build();
            write_audit(db, &row, Vec::new())
                .await
                .map_err(|_| fail(Refusal::Unavailable))?;
            let ct = if csv {
                "text/csv; charset=utf-8"
            } else {
                "application/fhir+ndjson"
            };
            respond(200, out.into_bytes(), ctx.state.policy.hash(), &ctx.id, ct)
                .map_err(|_| fail(Refusal::Unavailable))
        }
        (Method::Get, "/privacy/approvals") => {
            let (sql, params) = filters.sql(&[("user", "user_id = ?"), ("patient", "patient = ?")]);
            let list: Vec<approval::Stored> = json_rows(
                db_ref,
                &format!("SELECT json FROM approvals{sql} ORDER BY recorded DESC LIMIT {MAX_ROWS}"),
                &params,
            )
            .await
            .map_err(fail)?;
            let now = ctx.now;
            let listed: Vec<Value> = list
                .iter()
                .map(|a| {
                    let mut v = serde_json::to_value(a).unwrap_or(Value::Null);
                    if let Some(o) = v.as_object_mut() {
                        o.insert("in_force".into(), approval::in_force(a, now).into());
                    }
                    v
                })
                .collect();
            let rules = &ctx.state.policy.document().approvals;
            write_audit(
                db,
                &audit_of(ctx, &viewer, "approval-list", 200).build(),
                Vec::new(),
            )
            .await
            .map_err(|_| fail(Refusal::Unavailable))?;
            json_response(
                200,
                &json!({
                    "approvals": listed,
                    "placements": ctx.state.policy.approval_placements(),
                    "max_days": rules.max_days,
                }),
                ctx,
            )
        }
        (Method::Post, "/privacy/approvals") => {
            let body = req.bytes().await.map_err(|_| fail(Refusal::BadRequest))?;
            let stored = approval::record(
                &body,
                &ctx.state.policy,
                &format!("approval-{}", ctx.id),
                &viewer.user_id,
                ctx.now,
            )
            .map_err(fail)?;
            let stmt = save_approval_statement(db_ref, &stored, true).map_err(fail)?;
            let row = Audit {
                patient: Some(&stored.patient),
                entities: vec![format!("Approval/{}", stored.id)],
                approval: Some((&stored.id, &stored.user_id, &stored.expires)),
                ..audit_of(ctx, &viewer, "approval-grant", 201)
            }
            .build();
            write_audit(db, &row, vec![stmt])
                .await
                .map_err(|_| fail(Refusal::Unavailable))?;
            json_response(201, &json!(stored), ctx)
        }
        (Method::Post, p) if p.starts_with("/privacy/approvals/") && p.ends_with("/revoke") => {
            let id = p
                .trim_start_matches("/privacy/approvals/")
                .trim_end_matches("/revoke");
            if id.is_empty() || id.len() > 200 || id.chars().any(|c| c.is_control() || c == '/') {
                return Err(fail(Refusal::BadRequest));
            }
            let mut stored: approval::Stored = json_rows(
                db_ref,
                "SELECT json FROM approvals WHERE id = ?1",
                &[JsValue::from_str(id)],
            )
            .await
            .map_err(fail)?
            .into_iter()
            .next()
            .ok_or_else(|| fail(Refusal::NotFound))?;
            approval::revoke(&mut stored, &viewer.user_id, ctx.now).map_err(fail)?;
            let stmt = save_approval_statement(db_ref, &stored, false).map_err(fail)?;
            let row = Audit {
                patient: Some(&stored.patient),
                entities: vec![format!("Approval/{}", stored.id)],
                approval: Some((
                    &stored.id,
                    &stored.user_id,
                    stored.revoked.as_deref().unwrap_or_default(),
                )),
                ..audit_of(ctx, &viewer, "approval-revoke", 200)
            }
            .build();
            write_audit(db, &row, vec![stmt])
                .await
                .map_err(|_| fail(Refusal::Unavailable))?;
            json_response(200, &json!(stored), ctx)
        }
        _ => Err(fail(Refusal::NotFound)),
    }
}

/// Inserts a new approval, or saves one ended early.
fn save_approval_statement(
    db: &D1Database,
    a: &approval::Stored,
    new: bool,
) -> Result<D1PreparedStatement, Refusal> {
    let json = serde_json::to_string(a).map_err(|_| Refusal::Unavailable)?;
    let stmt = if new {
        db.prepare("INSERT INTO approvals (id, user_id, patient, recorded, expires, revoked, json) VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6)")
            .bind(&[
                JsValue::from_str(&a.id),
                JsValue::from_str(&a.user_id),
                JsValue::from_str(&a.patient),
                JsValue::from_str(&a.starts),
                JsValue::from_str(&a.expires),
                JsValue::from_str(&json),
            ])
    } else {
        db.prepare("UPDATE approvals SET revoked = ?2, json = ?3 WHERE id = ?1")
            .bind(&[
                JsValue::from_str(&a.id),
                JsValue::from_str(a.revoked.as_deref().unwrap_or_default()),
                JsValue::from_str(&json),
            ])
    };
    stmt.map_err(|_| Refusal::Unavailable)
}

/// The approvals (7.2) of `user` for `patient` in force now, for the
/// viewer of a record request.
pub async fn approvals_for(
    db: Option<&D1Database>,
    user: &str,
    organisation: &str,
    patient: &str,
    ctx: &Ctx<'_>,
) -> Result<Vec<tiergate_core::Approval>, Refusal> {
    let db = db.ok_or(Refusal::Unavailable)?;
    ensure_schema(db).await.map_err(|_| Refusal::Unavailable)?;
    let stored: Vec<approval::Stored> = json_rows(
        db,
        "SELECT json FROM approvals WHERE user_id = ?1 AND patient = ?2 AND revoked IS NULL",
        &[JsValue::from_str(user), JsValue::from_str(patient)],
    )
    .await?;
    Ok(approval::for_viewer(&stored, organisation, ctx.now))
}

/// A CSV cell (RFC 4180), with cells a spreadsheet would run as a formula
/// prefixed by an apostrophe.
fn csv_cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// `GET /metrics`: monitoring counts, no patient identifiers.
pub async fn metrics_endpoint(
    req: Request,
    cfg: &Config,
    db: Option<&D1Database>,
    ctx: &Ctx<'_>,
) -> Result<Response, Fail> {
    let viewer = authenticate(&req, cfg, ctx)?;
    let fail = |r: Refusal| (r, Some(Box::new(viewer.clone())));
    if !audit_access(&viewer, ctx) {
        return Err(fail(Refusal::NotPermitted));
    }
    // Schema: ensured by the first query (`rows`).
    let db_ref = db.ok_or_else(|| fail(Refusal::Unavailable))?;
    let list: Vec<MetricRow> = rows(
        db_ref,
        "SELECT organisation, profile, patient, action, status, break_glass, event FROM audit_events WHERE action IN ('read', 'vread', 'history-instance', 'search-type', 'operation') AND status = 200 ORDER BY rowid DESC LIMIT 200000",
        &[],
    )
    .await
    .map_err(fail)?;
    let mut m = Metrics::default();
    for r in &list {
        m.add(r);
    }
    #[derive(serde::Deserialize)]
    struct Kinds {
        patient: String,
        kind: String,
    }
    let kinds: Vec<Kinds> = rows(db_ref, "SELECT DISTINCT patient, kind FROM consents", &[])
        .await
        .map_err(fail)?;
    let mut with_permit = 0;
    let mut with_opt_out = 0;
    for p in m.patients() {
        let has = |k: &str| {
            kinds.iter().any(|x| x.patient == p && x.kind == k)
                || (cfg.demo
                    && cfg.origin.is_none()
                    && ctx.demo.consent(p).iter().any(|d| {
                        matches!(
                            (k, d.kind),
                            ("permit", tiergate_core::DirectiveKind::Permit)
                                | ("deny", tiergate_core::DirectiveKind::Deny)
                        )
                    }))
        };
        with_permit += u64::from(has("permit"));
        with_opt_out += u64::from(has("deny"));
    }
    write_audit(
        db,
        &audit_of(ctx, &viewer, "metrics", 200).build(),
        Vec::new(),
    )
    .await
    .map_err(|_| fail(Refusal::Unavailable))?;
    json_response(
        200,
        &m.report(&ctx.recorded, with_permit, with_opt_out),
        ctx,
    )
}
