//! The tiergate edge worker: I/O only.
//!
//! Authenticates, fetches the origin (with a timeout and a size cap),
//! reads and writes D1 (consent, break-glass windows, audit), serves the
//! demo origin and login when `DEMO=on`, and calls `tiergate-edge` and
//! `tiergate-core` for every decision. The policy and the demo's files are
//! compiled once, at build time (see [`tiergate_preinit`]), or else on an
//! isolate's first request; the demo moved to the day it runs is built on
//! an isolate's first demo request of each day ([`demo_on`]).

#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::OnceLock;
use std::time::Duration;

use futures_util::future::{select, Either};
use futures_util::StreamExt;
use serde_json::{json, Value};
use tiergate_core::{ConsentSet, DirectiveKind, Policy, Viewer};
use tiergate_edge::audit::{Audit, AuditRow, SCHEMA};
use tiergate_edge::breakglass::{self, Statement};
use tiergate_edge::demo::Demo;
use tiergate_edge::jwt::{self, Expectations, Jwks};
use tiergate_edge::pipeline::{self, DEFAULT_MAX_ORIGIN_BYTES};
use tiergate_edge::route::{self, Action};
use tiergate_edge::{claims, directive, find, Refusal};
use wasm_bindgen::JsValue;
use worker::{
    event, AbortController, Context, D1Database, D1PreparedStatement, Delay, Env, Fetch, Headers,
    Method, Request, RequestInit, RequestRedirect, Response, ScheduleContext, ScheduledEvent,
};

mod citizen;
mod privacy;

const LOGIN_HTML: &str = include_str!("login.html");
const DEFAULT_TIMEOUT_MS: u64 = 10_000;

/// Per-isolate state, built on the first request.
struct State {
    policy: Policy,
    /// The demo as its files are written; a demo request uses
    /// [`demo_on`]'s, moved to the day it runs.
    demo: Demo,
}

static STATE: OnceLock<Result<State, String>> = OnceLock::new();
static SCHEMA_READY: OnceLock<()> = OnceLock::new();
static JWKS: OnceLock<Result<Jwks, String>> = OnceLock::new();

fn state() -> Result<&'static State, Refusal> {
    STATE
        .get_or_init(|| {
            let policy = Policy::default_policy().map_err(|e| e.to_string())?;
            let demo = Demo::as_written(&policy).map_err(|e| e.to_string())?;
            Ok(State { policy, demo })
        })
        .as_ref()
        .map_err(|_| Refusal::Unavailable)
}

/// Builds the per-isolate state ahead of time; true when it built.
///
/// `scripts/preinit.mjs` (run by `make worker`) calls this once, at build time, on a scratch
/// instance whose imports all throw, and ships that instance's memory as the
/// module's initial memory: an isolate then starts with the policy and the
/// demo already compiled. Nothing calls it at run time; a module that was
/// not pre-initialised builds the state on its first request, as before.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn tiergate_preinit() -> bool {
    state().is_ok()
}

/// Configuration from the environment (`wrangler.toml` vars and secrets).
struct Config {
    origin: Option<String>,
    demo: bool,
    issuer: String,
    audience: String,
    timeout_ms: u64,
    max_bytes: usize,
    jwks: Option<&'static Jwks>,
    setting: Option<String>,
    /// The organisation that runs the origin (own-organisation pass-through).
    organisation: Option<String>,
    /// Where reminders are posted (`NOTIFY_WEBHOOK`); the demo outbox
    /// when unset and the demo is on.
    webhook: Option<String>,
    /// Benchmark baseline: record answers are checked and audited but not
    /// redacted. Honoured only with the demo on, so never in production.
    pass_through: bool,
}

fn var(env: &Env, name: &str) -> Option<String> {
    env.var(name)
        .map(|v| v.to_string())
        .or_else(|_| env.secret(name).map(|v| v.to_string()))
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

impl Config {
    fn origin_facts(&self) -> pipeline::Origin<'_> {
        pipeline::Origin {
            setting: self.setting.as_deref(),
            organisation: self.organisation.as_deref(),
        }
    }
}

fn config(env: &Env) -> Config {
    Config {
        origin: var(env, "ORIGIN_URL").map(|o| o.trim_end_matches('/').to_owned()),
        demo: var(env, "DEMO").as_deref() == Some("on"),
        issuer: var(env, "JWT_ISSUER").unwrap_or_default(),
        audience: var(env, "JWT_AUDIENCE").unwrap_or_else(|| "tiergate".into()),
        timeout_ms: var(env, "ORIGIN_TIMEOUT_MS")
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_TIMEOUT_MS),
        max_bytes: var(env, "MAX_ORIGIN_BYTES")
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_MAX_ORIGIN_BYTES),
        jwks: configured_jwks(env),
        setting: var(env, "ORIGIN_SETTING"),
        organisation: var(env, "ORIGIN_ORGANISATION"),
        webhook: var(env, "NOTIFY_WEBHOOK"),
        pass_through: var(env, "DEMO").as_deref() == Some("on")
            && var(env, "PASS_THROUGH").as_deref() == Some("on"),
    }
}

/// Milliseconds the edge's clock runs ahead of the real one
/// (`CLOCK_OFFSET_MS`). Only the demo build (`--features demo`: `make demo`
/// and the tests) accepts it, so that the suites can run the edge on other
/// days; any other build refuses to serve with it set.
fn clock_offset(env: &Env) -> Result<i64, Refusal> {
    match var(env, "CLOCK_OFFSET_MS") {
        None => Ok(0),
        Some(v) if cfg!(feature = "demo") => v.parse().map_err(|_| Refusal::Unavailable),
        Some(_) => Err(Refusal::Unavailable),
    }
}

fn now(offset_ms: i64) -> time::OffsetDateTime {
    let ms = i128::from(worker::Date::now().as_millis()) + i128::from(offset_ms);
    time::OffsetDateTime::from_unix_timestamp_nanos(ms * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

thread_local! {
    /// The demo of the day this isolate last served.
    static DEMO_TODAY: RefCell<Option<Rc<Demo>>> = const { RefCell::new(None) };
}

/// The demo as it stands at `now` (built once a day per isolate).
fn demo_on(state: &State, now: time::OffsetDateTime) -> Result<Rc<Demo>, Refusal> {
    #[cfg(feature = "demo")]
    let days = tiergate_demo::days_since(tiergate_demo::ANCHOR, now);
    #[cfg(not(feature = "demo"))]
    let days = 0;
    DEMO_TODAY.with(|today| {
        if let Some(d) = today.borrow().as_ref().filter(|d| d.days == days) {
            return Ok(Rc::clone(d));
        }
        let d = Rc::new(Demo::at(&state.policy, now).map_err(|_| Refusal::Unavailable)?);
        *today.borrow_mut() = Some(Rc::clone(&d));
        Ok(d)
    })
}

fn request_id() -> String {
    let mut b = [0u8; 16];
    if getrandom::getrandom(&mut b).is_err() {
        return format!("t{}", worker::Date::now().as_millis());
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// One request's context for audit.
struct Ctx<'a> {
    id: String,
    now: time::OffsetDateTime,
    recorded: String,
    state: &'a State,
    /// The demo as it stands today (its key alone when the demo is off).
    demo: &'a Demo,
}

/// The cron trigger: runs the audit rules over new audit events, so alerts
/// are raised even when no privacy officer is looking.
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let (Ok(offset), Ok(state)) = (clock_offset(&env), state()) else {
        return;
    };
    let t = now(offset);
    let ctx = Ctx {
        recorded: tiergate_core::fhirtime::format(t),
        id: request_id(),
        now: t,
        state,
        demo: &state.demo,
    };
    if let Ok(db) = env.d1("DB") {
        // A failed scan is retried by the next trigger (the cursor only
        // moves when the alerts commit).
        let _ = privacy::scan(&db, &ctx).await;
    }
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    let id = request_id();
    let unavailable = |id: &str| {
        respond(
            Refusal::Unavailable.status(),
            Refusal::Unavailable.body(),
            "",
            id,
            "application/fhir+json",
        )
    };
    let (Ok(offset), Ok(state)) = (clock_offset(&env), state()) else {
        return unavailable(&id);
    };
    let t = now(offset);
    let cfg = config(&env);
    if cfg.demo && !cfg!(feature = "demo") {
        // Asked to run the demo without one: serve nothing rather than
        // something other than what the operator meant.
        return unavailable(&id);
    }
    let today = if cfg.demo {
        match demo_on(state, t) {
            Ok(d) => Some(d),
            Err(_) => return unavailable(&id),
        }
    } else {
        None
    };
    let ctx = Ctx {
        recorded: tiergate_core::fhirtime::format(t),
        id,
        now: t,
        state,
        demo: today.as_deref().unwrap_or(&state.demo),
    };
    let db = env.d1("DB").ok();
    let path = req.path();
    let hash = state.policy.hash().to_owned();
    let db_ref = db.as_ref();
    let result = if path == "/fhir/Appointment" && req.method() == Method::Post {
        citizen::book(req, &cfg, db_ref, &ctx).await
    } else if path == "/fhir" || path.starts_with("/fhir/") {
        record(req, &cfg, db_ref, &ctx).await
    } else if path.starts_with("/consent/") {
        consent(req, &cfg, db_ref, &ctx).await
    } else if path == "/me" {
        citizen::me(req, &cfg, db_ref, &ctx).await
    } else if path.starts_with("/proxy/") {
        citizen::grants_endpoint(req, &cfg, db_ref, &ctx).await
    } else if path.starts_with("/plan/") {
        citizen::plan(req, &cfg, db_ref, &ctx).await
    } else if path.starts_with("/access/") {
        citizen::access_log(req, &cfg, db_ref, &ctx).await
    } else if path.starts_with("/reminders/") {
        citizen::send_reminders(req, &cfg, db_ref, &ctx).await
    } else if path == "/cases" || path.starts_with("/cases/") {
        privacy::cases_endpoint(req, &cfg, db_ref, &ctx).await
    } else if path.starts_with("/privacy/") {
        privacy::privacy_endpoint(req, &cfg, db_ref, &ctx).await
    } else if path == "/metrics" {
        privacy::metrics_endpoint(req, &cfg, db_ref, &ctx).await
    } else if path == "/" || path.starts_with("/demo/") {
        demo_pages(req, &cfg, db.as_ref(), &ctx).await
    } else {
        Err((Refusal::NotFound, None))
    };
    match result {
        Ok(r) => Ok(r),
        Err((refusal, viewer)) => {
            // Every refusal is audited too; if that fails, 503.
            let row = Audit {
                request_id: &ctx.id,
                recorded: &ctx.recorded,
                viewer: viewer.as_deref(),
                action: "refused",
                status: refusal.status(),
                failure: Some(refusal),
                policy: &hash,
                ..Audit::default()
            }
            .build();
            let refusal = match write_audit(db.as_ref(), &row, Vec::new()).await {
                Ok(()) => refusal,
                Err(()) => Refusal::Unavailable,
            };
            respond(
                refusal.status(),
                refusal.body(),
                &hash,
                &ctx.id,
                "application/fhir+json",
            )
        }
    }
}

/// A refusal, with the viewer (when known) for its audit row.
type Fail = (Refusal, Option<Box<Viewer>>);

fn respond(
    status: u16,
    body: Vec<u8>,
    policy: &str,
    id: &str,
    content_type: &str,
) -> worker::Result<Response> {
    let headers = Headers::new();
    headers.set("content-type", content_type)?;
    headers.set("cache-control", "no-store")?;
    headers.set("x-content-type-options", "nosniff")?;
    headers.set("x-request-id", id)?;
    if !policy.is_empty() {
        headers.set("x-tiergate-policy", policy)?;
    }
    Ok(Response::from_bytes(body)?
        .with_status(status)
        .with_headers(headers))
}

fn fhir(status: u16, body: Vec<u8>, ctx: &Ctx<'_>) -> Result<Response, Fail> {
    respond(
        status,
        body,
        ctx.state.policy.hash(),
        &ctx.id,
        "application/fhir+json",
    )
    .map_err(|_| (Refusal::Unavailable, None))
}

/// A JSON (not FHIR) answer: portal and investigation endpoints.
fn json_response(status: u16, body: &Value, ctx: &Ctx<'_>) -> Result<Response, Fail> {
    respond(
        status,
        serde_json::to_vec(body).unwrap_or_default(),
        ctx.state.policy.hash(),
        &ctx.id,
        "application/json",
    )
    .map_err(|_| (Refusal::Unavailable, None))
}

/// The audit event of an authenticated caller's action; callers add the
/// patient, entities and the rest.
fn audit_of<'a>(ctx: &'a Ctx<'_>, viewer: &'a Viewer, action: &'a str, status: u16) -> Audit<'a> {
    Audit {
        request_id: &ctx.id,
        recorded: &ctx.recorded,
        viewer: Some(viewer),
        action,
        status,
        policy: ctx.state.policy.hash(),
        ..Audit::default()
    }
}

/// Verifies the bearer token and maps it to a viewer.
fn authenticate(req: &Request, cfg: &Config, ctx: &Ctx<'_>) -> Result<Viewer, Fail> {
    let unauth = || (Refusal::Unauthenticated, None);
    let header = req
        .headers()
        .get("authorization")
        .ok()
        .flatten()
        .unwrap_or_default();
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .ok_or_else(unauth)?
        .trim();
    let now = ctx.now.unix_timestamp();
    let demo = ctx.demo;
    let is_demo_kid = token
        .split('.')
        .next()
        .and_then(|h| {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(h)
                .ok()
        })
        .and_then(|h| serde_json::from_slice::<Value>(&h).ok())
        .and_then(|h| {
            h.get("kid")
                .and_then(Value::as_str)
                .map(|k| !demo.kid.is_empty() && k == demo.kid)
        })
        .unwrap_or(false);
    let claims = if is_demo_kid {
        if !cfg.demo {
            return Err(unauth());
        }
        let expect = Expectations {
            issuer: &demo.issuer,
            audience: &cfg.audience,
            now,
        };
        jwt::verify(token, &demo.jwks(), &expect).map_err(|_| unauth())?
    } else {
        let jwks = cfg.jwks.ok_or_else(unauth)?;
        if cfg.issuer.is_empty() {
            return Err(unauth());
        }
        let expect = Expectations {
            issuer: &cfg.issuer,
            audience: &cfg.audience,
            now,
        };
        jwt::verify(token, jwks, &expect).map_err(|_| unauth())?
    };
    claims::viewer_from_claims(&claims, &ctx.state.policy).map_err(|_| unauth())
}

/// The configured JWKS, parsed once per isolate (the env is fixed). An
/// unreadable JWKS accepts no token.
fn configured_jwks(env: &Env) -> Option<&'static Jwks> {
    JWKS.get_or_init(|| {
        let text = var(env, "JWKS").ok_or_else(|| "unset".to_owned())?;
        Jwks::from_json(text.as_bytes()).map_err(|e| e.to_string())
    })
    .as_ref()
    .ok()
}

async fn ensure_schema(db: &D1Database) -> Result<(), ()> {
    if SCHEMA_READY.get().is_some() {
        return Ok(());
    }
    let stmts: Vec<D1PreparedStatement> = SCHEMA
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| db.prepare(s))
        .collect();
    db.batch(stmts).await.map_err(|_| ())?;
    let _ = SCHEMA_READY.set(());
    Ok(())
}

fn opt(v: &Option<String>) -> JsValue {
    v.as_deref().map_or(JsValue::NULL, JsValue::from_str)
}

fn audit_statement(db: &D1Database, row: &AuditRow) -> Result<D1PreparedStatement, ()> {
    db.prepare(
        "INSERT INTO audit_events (id, recorded, user_id, organisation, profile, patient, action, status, outcome, break_glass, investigate, policy, event) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )
    .bind(&[
        JsValue::from_str(&row.id),
        JsValue::from_str(&row.recorded),
        opt(&row.user_id),
        opt(&row.organisation),
        opt(&row.profile),
        opt(&row.patient),
        JsValue::from_str(&row.action),
        JsValue::from_f64(f64::from(row.status)),
        JsValue::from_str(&row.outcome),
        JsValue::from_f64(if row.break_glass { 1.0 } else { 0.0 }),
        JsValue::from_f64(if row.investigate { 1.0 } else { 0.0 }),
        JsValue::from_str(&row.policy),
        JsValue::from_str(&row.event),
    ])
    .map_err(|_| ())
}

/// Writes an audit row (and any statements that must commit with it, in
/// one D1 batch, which is a transaction). `Err` means nothing may be
/// released.
async fn write_audit(
    db: Option<&D1Database>,
    row: &AuditRow,
    mut with: Vec<D1PreparedStatement>,
) -> Result<(), ()> {
    let db = db.ok_or(())?;
    ensure_schema(db).await?;
    with.push(audit_statement(db, row)?);
    let results = db.batch(with).await.map_err(|_| ())?;
    if results.iter().all(|r| r.success()) {
        Ok(())
    } else {
        Err(())
    }
}

/// Fetches the origin (or the demo origin) with a deadline covering the
/// whole body, and a size cap enforced while streaming.
async fn fetch_origin(
    cfg: &Config,
    ctx: &Ctx<'_>,
    db: Option<&D1Database>,
    upstream: &str,
    patient: Option<&str>,
) -> Result<(u16, Option<String>, Vec<u8>), Refusal> {
    let Some(origin) = &cfg.origin else {
        if !cfg.demo {
            return Err(Refusal::Unavailable);
        }
        let writes = match patient {
            Some(p) => demo_writes(db, p).await?,
            None => Vec::new(),
        };
        let (status, body) = ctx.demo.respond_with(upstream, &writes);
        return Ok((status, Some("application/fhir+json".into()), body));
    };
    let url = format!("{origin}/{upstream}");
    let controller = AbortController::default();
    let signal = controller.signal();
    let max = cfg.max_bytes;
    let work = async {
        let headers = Headers::new();
        headers
            .set("accept", "application/fhir+json")
            .map_err(|_| Refusal::BadGateway)?;
        let mut init = outbound();
        init.with_method(Method::Get).with_headers(headers);
        let req = Request::new_with_init(&url, &init).map_err(|_| Refusal::BadGateway)?;
        let mut resp = Fetch::Request(req)
            .send_with_signal(&signal)
            .await
            .map_err(|_| Refusal::BadGateway)?;
        let status = resp.status_code();
        let ct = resp.headers().get("content-type").ok().flatten();
        let declared = resp
            .headers()
            .get("content-length")
            .ok()
            .flatten()
            .and_then(|l| l.parse::<usize>().ok());
        if declared.is_some_and(|l| l > max) {
            return Err(Refusal::BadGateway);
        }
        let mut stream = resp.stream().map_err(|_| Refusal::BadGateway)?;
        let mut body = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| Refusal::BadGateway)?;
            if body.len() + chunk.len() > max {
                return Err(Refusal::BadGateway);
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, ct, body))
    };
    let deadline = Delay::from(Duration::from_millis(cfg.timeout_ms));
    futures_util::pin_mut!(work);
    match select(work, deadline).await {
        Either::Left((r, _)) => r,
        Either::Right(_) => {
            controller.abort();
            Err(Refusal::GatewayTimeout)
        }
    }
}

/// Rows of a query (the schema is ensured first). Any failure is
/// [`Refusal::Unavailable`]: nothing is decided on a partial read.
async fn query<T: for<'de> serde::Deserialize<'de>>(
    db: Option<&D1Database>,
    sql: &str,
    params: &[JsValue],
) -> Result<Vec<T>, Refusal> {
    let db = db.ok_or(Refusal::Unavailable)?;
    ensure_schema(db).await.map_err(|_| Refusal::Unavailable)?;
    db.prepare(sql)
        .bind(params)
        .map_err(|_| Refusal::Unavailable)?
        .all()
        .await
        .map_err(|_| Refusal::Unavailable)?
        .results::<T>()
        .map_err(|_| Refusal::Unavailable)
}

#[derive(serde::Deserialize)]
struct ResourceRow {
    resource: String,
}

/// What the demo origin has been sent for a patient (bookings, plans).
async fn demo_writes(db: Option<&D1Database>, patient: &str) -> Result<Vec<Value>, Refusal> {
    let rows: Vec<ResourceRow> = query(
        db,
        "SELECT resource FROM demo_writes WHERE patient = ?1 ORDER BY recorded, rowid",
        &[JsValue::from_str(patient)],
    )
    .await?;
    Ok(rows
        .iter()
        .filter_map(|r| serde_json::from_str(&r.resource).ok())
        .collect())
}

/// Sends a write (`POST Type` or `PUT Type/id`) to the origin; the demo
/// origin keeps it in D1. Only a 2xx answer counts as done.
async fn write_origin(
    cfg: &Config,
    db: Option<&D1Database>,
    ctx: &Ctx<'_>,
    method: &str,
    upstream: &str,
    patient: &str,
    resource: &Value,
) -> Result<(), Refusal> {
    let Some(origin) = &cfg.origin else {
        if !cfg.demo {
            return Err(Refusal::Unavailable);
        }
        let db = db.ok_or(Refusal::Unavailable)?;
        let reference = format!(
            "{}/{}",
            resource
                .get("resourceType")
                .and_then(Value::as_str)
                .unwrap_or_default(),
            resource
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
        );
        let ok = db
            .prepare("INSERT INTO demo_writes (patient, reference, recorded, resource) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (patient, reference) DO UPDATE SET recorded = excluded.recorded, resource = excluded.resource")
            .bind(&[
                JsValue::from_str(patient),
                JsValue::from_str(&reference),
                JsValue::from_str(&ctx.recorded),
                JsValue::from_str(&resource.to_string()),
            ])
            .map_err(|_| Refusal::Unavailable)?
            .run()
            .await
            .map_err(|_| Refusal::Unavailable)?
            .success();
        return if ok {
            Ok(())
        } else {
            Err(Refusal::Unavailable)
        };
    };
    let headers = Headers::new();
    headers
        .set("content-type", "application/fhir+json")
        .map_err(|_| Refusal::BadGateway)?;
    let mut init = outbound();
    let m = if method == "PUT" {
        Method::Put
    } else {
        Method::Post
    };
    init.with_method(m)
        .with_headers(headers)
        .with_body(Some(JsValue::from_str(&resource.to_string())));
    let req = Request::new_with_init(&format!("{origin}/{upstream}"), &init)
        .map_err(|_| Refusal::BadGateway)?;
    send_ok(req, cfg.timeout_ms).await
}

/// Options for every request the edge makes: redirects are never
/// followed (a 3xx is an answer like any other, so it fails the status
/// checks), so nothing is ever sent to, or read from, a host that was not
/// configured.
fn outbound() -> RequestInit {
    let mut init = RequestInit::new();
    init.with_redirect(RequestRedirect::Manual);
    init
}

/// Sends a request with a deadline; only a 2xx answer is success.
async fn send_ok(req: Request, timeout_ms: u64) -> Result<(), Refusal> {
    let controller = AbortController::default();
    let signal = controller.signal();
    let fetch = Fetch::Request(req);
    let send = fetch.send_with_signal(&signal);
    let deadline = Delay::from(Duration::from_millis(timeout_ms));
    futures_util::pin_mut!(send);
    match select(send, deadline).await {
        Either::Left((Ok(resp), _)) if (200..300).contains(&resp.status_code()) => Ok(()),
        Either::Left(_) => Err(Refusal::BadGateway),
        Either::Right(_) => {
            controller.abort();
            Err(Refusal::GatewayTimeout)
        }
    }
}

/// A demo outbox row for a message (committed with its audit row).
fn outbox_statement(
    db: Option<&D1Database>,
    ctx: &Ctx<'_>,
    id: &str,
    message: &Value,
) -> Result<D1PreparedStatement, Refusal> {
    let db = db.ok_or(Refusal::Unavailable)?;
    let recipient = message
        .pointer("/to/user_id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    db.prepare("INSERT INTO outbox (id, recorded, recipient, channel, message) VALUES (?1, ?2, ?3, ?4, ?5)")
        .bind(&[
            JsValue::from_str(id),
            JsValue::from_str(&ctx.recorded),
            JsValue::from_str(recipient),
            JsValue::from_str("demo-outbox"),
            JsValue::from_str(&message.to_string()),
        ])
        .map_err(|_| Refusal::Unavailable)
}

/// Posts a message to the notification webhook, if one is configured (the
/// demo outbox needs no delivery).
async fn deliver(cfg: &Config, message: &Value) -> Result<(), Refusal> {
    let Some(url) = &cfg.webhook else {
        return Ok(());
    };
    let headers = Headers::new();
    headers
        .set("content-type", "application/json")
        .map_err(|_| Refusal::BadGateway)?;
    let mut init = outbound();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(JsValue::from_str(&message.to_string())));
    let req = Request::new_with_init(url, &init).map_err(|_| Refusal::BadGateway)?;
    send_ok(req, cfg.timeout_ms).await
}

async fn stored_consents(db: Option<&D1Database>, patient: &str) -> Result<Vec<String>, Refusal> {
    let rows: Vec<ResourceRow> = query(
        db,
        "SELECT resource FROM consents WHERE patient = ?1 ORDER BY recorded, rowid",
        &[JsValue::from_str(patient)],
    )
    .await?;
    Ok(rows.into_iter().map(|r| r.resource).collect())
}

fn consent_set(
    cfg: &Config,
    ctx: &Ctx<'_>,
    stored: &[String],
    patient: &str,
) -> Result<ConsentSet, Refusal> {
    let baseline = if cfg.demo && cfg.origin.is_none() {
        ctx.demo.consent(patient)
    } else {
        &[]
    };
    directive::load(baseline, stored, &ctx.state.policy)
}

/// The open break-glass window for this user, patient and reason.
async fn open_window(
    db: Option<&D1Database>,
    user: &str,
    patient: &str,
    reason: &str,
) -> Result<Option<time::OffsetDateTime>, Refusal> {
    #[derive(serde::Deserialize)]
    struct Row {
        started: String,
    }
    let rows: Vec<Row> = query(
        db,
        "SELECT started FROM break_glass WHERE user_id = ?1 AND patient = ?2 AND reason = ?3 ORDER BY started DESC LIMIT 1",
        &[JsValue::from_str(user), JsValue::from_str(patient), JsValue::from_str(reason)],
    )
    .await?;
    Ok(rows.first().and_then(|r| {
        tiergate_core::fhirtime::parse(&r.started, tiergate_core::fhirtime::Edge::Start)
    }))
}

async fn record(
    req: Request,
    cfg: &Config,
    db: Option<&D1Database>,
    ctx: &Ctx<'_>,
) -> Result<Response, Fail> {
    let state = ctx.state;
    let policy = &state.policy;
    let viewer = authenticate(&req, cfg, ctx)?;
    let fail = |r: Refusal, v: &Viewer| (r, Some(Box::new(v.clone())));
    let url = req.url().map_err(|_| fail(Refusal::BadRequest, &viewer))?;
    let method = req.method().to_string();
    let route = route::route(&method, url.path(), url.query()).map_err(|r| fail(r, &viewer))?;
    let statement: Option<Statement> = breakglass::from_headers(
        req.headers()
            .get(breakglass::REASON_HEADER)
            .ok()
            .flatten()
            .as_deref(),
        req.headers()
            .get(breakglass::DETAIL_HEADER)
            .ok()
            .flatten()
            .as_deref(),
    );
    if let Some(s) = &statement {
        // Refuse a bad statement before anything is fetched.
        let mut probe = viewer.clone();
        probe.break_glass = Some(breakglass::to_core(s, ctx.now));
        pipeline::check_break_glass(&probe, policy, ctx.now).map_err(|r| fail(r, &viewer))?;
    }
    let own_record = citizen::own_record(&viewer, ctx);
    if own_record && (route.action == Action::FindPatient || statement.is_some()) {
        // Finding patients and breaking glass are for professionals.
        return Err(fail(Refusal::Forbidden, &viewer));
    }
    let (status, ct, body) = fetch_origin(cfg, ctx, db, &route.upstream, route.patient.as_deref())
        .await
        .map_err(|r| fail(r, &viewer))?;
    let hash = policy.hash();
    if route.action == Action::FindPatient {
        let (record, _) = accept_any(status, ct.as_deref(), &body, cfg.max_bytes)
            .map_err(|r| fail(r, &viewer))?;
        let found = find::find(&record, &viewer, ctx.now, policy).map_err(|r| fail(r, &viewer))?;
        let row = Audit {
            request_id: &ctx.id,
            recorded: &ctx.recorded,
            viewer: Some(&viewer),
            action: "patient-find",
            status: 200,
            decisions: Some(&found.decisions),
            released: true,
            policy: hash,
            ..Audit::default()
        }
        .build();
        write_audit(db, &row, Vec::new())
            .await
            .map_err(|_| fail(Refusal::Unavailable, &viewer))?;
        return fhir(200, found.body, ctx);
    }
    let (record, patient) =
        pipeline::accept_origin(status, ct.as_deref(), &body, &route, cfg.max_bytes)
            .map_err(|r| fail(r, &viewer))?;
    // A person sees their own record, or one they were granted as a proxy
    // (narrowed to the grant); any other answers as if it did not exist.
    let standing = citizen::standing(&viewer, &patient, db, cfg, ctx)
        .await
        .map_err(|r| fail(r, &viewer))?;
    let mut viewer = citizen::viewer_for(&viewer, &patient, &standing);
    if cfg.pass_through {
        let row = Audit {
            request_id: &ctx.id,
            recorded: &ctx.recorded,
            viewer: Some(&viewer),
            action: "pass-through",
            patient: Some(&patient),
            status: 200,
            released: true,
            policy: hash,
            ..Audit::default()
        }
        .build();
        write_audit(db, &row, Vec::new())
            .await
            .map_err(|_| fail(Refusal::Unavailable, &viewer))?;
        return fhir(200, body, ctx);
    }
    if !own_record && !policy.document().approvals.required.is_empty() {
        // Placements reserved for individual approvals (7.2) open only
        // with one the privacy officer recorded for this user and patient.
        viewer.approvals =
            privacy::approvals_for(db, &viewer.user_id, &viewer.organisation, &patient, ctx)
                .await
                .map_err(|r| fail(r, &viewer))?;
    }
    let stored = stored_consents(db, &patient)
        .await
        .map_err(|r| fail(r, &viewer))?;
    let consent = consent_set(cfg, ctx, &stored, &patient).map_err(|r| fail(r, &viewer))?;
    let mut with = Vec::new();
    let mut window_expires = None;
    if let Some(s) = &statement {
        let open = open_window(db, &viewer.user_id, &patient, &s.reason)
            .await
            .map_err(|r| fail(r, &viewer))?;
        let started = breakglass::window_start(open, ctx.now, policy);
        if open != Some(started) {
            let expires = started
                + time::Duration::minutes(i64::from(policy.document().break_glass.max_minutes));
            if let Some(db) = db {
                let stmt = db
                    .prepare("INSERT INTO break_glass (id, user_id, patient, reason, detail, started, expires) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
                    .bind(&[
                        JsValue::from_str(&ctx.id),
                        JsValue::from_str(&viewer.user_id),
                        JsValue::from_str(&patient),
                        JsValue::from_str(&s.reason),
                        opt(&s.detail),
                        JsValue::from_str(&tiergate_core::fhirtime::format(started)),
                        JsValue::from_str(&tiergate_core::fhirtime::format(expires)),
                    ])
                    .map_err(|_| fail(Refusal::Unavailable, &viewer))?;
                with.push(stmt);
                // Every break glass opens an investigation case, committed
                // with the window and the audit event.
                let reason_display = policy
                    .document()
                    .break_glass
                    .reasons
                    .iter()
                    .find(|r| r.code == s.reason)
                    .map_or(s.reason.as_str(), |r| r.display.as_str());
                let opened = tiergate_core::fhirtime::format(started);
                let closes = tiergate_core::fhirtime::format(expires);
                let case = tiergate_edge::cases::open(&tiergate_edge::cases::Opening {
                    id: &format!("case-{}", ctx.id),
                    user_id: &viewer.user_id,
                    user_name: viewer.name.as_deref(),
                    organisation: &viewer.organisation,
                    profile: &viewer.profile,
                    patient: &patient,
                    reason: &s.reason,
                    reason_display,
                    detail: s.detail.as_deref(),
                    opened: &opened,
                    expires: &closes,
                });
                with.push(privacy::open_case_statement(db, &case).map_err(|r| fail(r, &viewer))?);
            }
        }
        viewer.break_glass = Some(breakglass::to_core(s, started));
        window_expires = Some(tiergate_core::fhirtime::format(
            started + time::Duration::minutes(i64::from(policy.document().break_glass.max_minutes)),
        ));
    }
    let served = pipeline::redact(
        &record,
        &viewer,
        &consent,
        ctx.now,
        policy,
        cfg.origin_facts(),
    )
    .map_err(|r| fail(r, &viewer))?;
    // Facts for the audit rules (ids, codes and times only).
    let compiled = consent
        .compile(policy)
        .map_err(|_| fail(Refusal::BadGateway, &viewer))?;
    let relationships =
        tiergate_edge::relation::relationships(&record, &viewer, &compiled, ctx.now);
    let opted_out = tiergate_edge::relation::opted_out(&compiled, &viewer, ctx.now, policy);
    let row = Audit {
        request_id: &ctx.id,
        recorded: &ctx.recorded,
        viewer: Some(&viewer),
        action: route.action.interaction(),
        patient: Some(&patient),
        status: served.status,
        failure: (!served.released).then_some(Refusal::NotFound),
        decisions: Some(&served.decisions),
        released: served.released,
        break_glass: statement
            .as_ref()
            .map(|s| (s.reason.as_str(), s.detail.as_deref())),
        on_behalf_of: standing.on_behalf_of(&patient),
        segments: tiergate_edge::relation::segments(&served.decisions),
        opted_out,
        relationships: Some(relationships),
        shared: tiergate_edge::relation::released_placements(&served.decisions),
        policy: hash,
        ..Audit::default()
    }
    .build();
    // Audit (and a new break-glass window) is confirmed before release.
    write_audit(db, &row, with)
        .await
        .map_err(|_| fail(Refusal::Unavailable, &viewer))?;
    let mut resp = fhir(served.status, served.body, ctx)?;
    if served.released && pipeline::consent_required(&served.decisions) {
        // Lets a portal offer consent at the point of care; says only that
        // consent would change the view, never what is behind it.
        resp.headers_mut()
            .set(pipeline::CONSENT_HEADER, "required")
            .map_err(|_| fail(Refusal::Unavailable, &viewer))?;
    }
    if served.released {
        // Says only that an approval would change the view (or when the
        // one in use ends), never what is behind it.
        let mut approval_headers = Vec::new();
        if tiergate_edge::approval::required(&served.decisions) {
            approval_headers.push((tiergate_edge::approval::HEADER, "required".to_owned()));
        }
        if let Some(until) =
            tiergate_edge::approval::used_until(&served.decisions, &viewer.approvals)
        {
            approval_headers.push((tiergate_edge::approval::EXPIRES_HEADER, until));
        }
        for (name, value) in approval_headers {
            resp.headers_mut()
                .set(name, &value)
                .map_err(|_| fail(Refusal::Unavailable, &viewer))?;
        }
    }
    if let Some(expires) = window_expires {
        // When this break-glass window closes, for the portal to show.
        resp.headers_mut()
            .set(breakglass::EXPIRES_HEADER, &expires)
            .map_err(|_| fail(Refusal::Unavailable, &viewer))?;
    }
    Ok(resp)
}

/// For patient finding: any JSON Bundle (no patient context).
fn accept_any(
    status: u16,
    ct: Option<&str>,
    body: &[u8],
    max: usize,
) -> Result<(Value, ()), Refusal> {
    if status != 200 {
        return Err(Refusal::BadGateway);
    }
    let ct = ct.unwrap_or("").to_ascii_lowercase();
    if !(ct.starts_with("application/fhir+json") || ct.starts_with("application/json"))
        || body.len() > max
    {
        return Err(Refusal::BadGateway);
    }
    let v: Value = serde_json::from_slice(body).map_err(|_| Refusal::BadGateway)?;
    Ok((v, ()))
}

async fn consent(
    mut req: Request,
    cfg: &Config,
    db: Option<&D1Database>,
    ctx: &Ctx<'_>,
) -> Result<Response, Fail> {
    let viewer = authenticate(&req, cfg, ctx)?;
    let fail = |r: Refusal, v: &Viewer| (r, Some(Box::new(v.clone())));
    let path = req.path();
    let rest = path
        .strip_prefix("/consent/Patient/")
        .ok_or_else(|| fail(Refusal::NotFound, &viewer))?;
    let (patient, kind) = match rest.split_once('/') {
        None => (rest, None),
        Some((p, "opt-out")) => (p, Some("opt-out")),
        Some((p, "withdraw")) => (p, Some("withdraw")),
        Some(_) => return Err(fail(Refusal::NotFound, &viewer)),
    };
    let patient = route::fhir_id(patient)
        .map_err(|r| fail(r, &viewer))?
        .to_owned();
    let policy = &ctx.state.policy;
    let hash = policy.hash();
    let db_ref = db.ok_or_else(|| fail(Refusal::Unavailable, &viewer))?;
    // People manage their own sharing choices (or a proxy whose grant
    // permits it); professionals record consent at the point of care.
    let standing = citizen::standing(&viewer, &patient, db, cfg, ctx)
        .await
        .map_err(|r| fail(r, &viewer))?;
    let citizen = !matches!(standing, citizen::Standing::Professional);
    if citizen
        && !standing
            .permits("manage-sharing", &patient, db, cfg, ctx)
            .await
    {
        return Err(fail(Refusal::Forbidden, &viewer));
    }
    let on_behalf_of = standing.on_behalf_of(&patient);
    match (req.method(), kind) {
        (Method::Get, None) => {
            let stored = stored_consents(db, &patient)
                .await
                .map_err(|r| fail(r, &viewer))?;
            let mut all: Vec<String> = Vec::new();
            if cfg.demo && cfg.origin.is_none() {
                for d in ctx.demo.consent(&patient) {
                    all.push(directive::to_fhir(d, &patient, &viewer, policy).to_string());
                }
            }
            // The person (and a proxy allowed to manage their sharing) sees
            // every choice; a professional, the permits in force for them
            // and whether the person's choices restrict them.
            let body = if citizen {
                all.extend(stored);
                directive::bundle(&all)
            } else {
                let compiled = consent_set(cfg, ctx, &stored, &patient)
                    .and_then(|set| set.compile(policy).map_err(|_| Refusal::BadGateway))
                    .map_err(|r| fail(r, &viewer))?;
                all.extend(stored);
                directive::professional_view(&all, &compiled, &viewer, &patient, ctx.now)
            };
            let row = Audit {
                request_id: &ctx.id,
                recorded: &ctx.recorded,
                viewer: Some(&viewer),
                action: "consent-read",
                patient: Some(&patient),
                status: 200,
                on_behalf_of,
                policy: hash,
                ..Audit::default()
            }
            .build();
            write_audit(db, &row, Vec::new())
                .await
                .map_err(|_| fail(Refusal::Unavailable, &viewer))?;
            fhir(200, serde_json::to_vec(&body).unwrap_or_default(), ctx)
        }
        (Method::Post, _) => {
            let body = req
                .bytes()
                .await
                .map_err(|_| fail(Refusal::BadRequest, &viewer))?;
            let (action, recorded) = match kind {
                None if citizen => (
                    "consent-permit",
                    directive::choice(
                        &body,
                        DirectiveKind::Permit,
                        &patient,
                        &viewer,
                        &format!("c-{}", ctx.id),
                        &ctx.recorded,
                        policy,
                    ),
                ),
                None => (
                    "consent-permit",
                    directive::permit(
                        &body,
                        &patient,
                        &viewer,
                        &format!("c-{}", ctx.id),
                        &ctx.recorded,
                        policy,
                    ),
                ),
                Some("withdraw") => {
                    // A standing opt-out, by name: the person's, or a
                    // professional's record of the person's withdrawal
                    // with a reason.
                    let stored = stored_consents(db, &patient)
                        .await
                        .map_err(|r| fail(r, &viewer))?;
                    let standing =
                        consent_set(cfg, ctx, &stored, &patient).map_err(|r| fail(r, &viewer))?;
                    // A professional names only what restricts them, by
                    // the neutral handle their consent view shows.
                    let restricting = if citizen {
                        None
                    } else {
                        Some(
                            standing
                                .compile(policy)
                                .map_err(|_| fail(Refusal::BadGateway, &viewer))?
                                .restricting(&viewer, ctx.now),
                        )
                    };
                    (
                        "consent-withdraw",
                        directive::withdraw(
                            &body,
                            directive::Standing {
                                directives: &standing,
                                professional: restricting.as_deref(),
                            },
                            &patient,
                            &viewer,
                            &format!("w-{}", ctx.id),
                            &ctx.recorded,
                            policy,
                        ),
                    )
                }
                Some(_) => (
                    "consent-opt-out",
                    directive::opt_out(
                        &body,
                        &patient,
                        &viewer,
                        &format!("o-{}", ctx.id),
                        &ctx.recorded,
                        policy,
                    ),
                ),
            };
            let recorded = recorded.map_err(|r| fail(r, &viewer))?;
            let kind_text = match recorded.directive.kind {
                DirectiveKind::Permit => "permit",
                DirectiveKind::Deny => "deny",
                DirectiveKind::Withdraw => "withdraw",
            };
            let stmt = db_ref
                .prepare("INSERT INTO consents (id, patient, recorded, kind, recorded_by, resource) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
                .bind(&[
                    JsValue::from_str(&recorded.directive.id),
                    JsValue::from_str(&patient),
                    JsValue::from_str(&ctx.recorded),
                    JsValue::from_str(kind_text),
                    JsValue::from_str(&viewer.user_id),
                    JsValue::from_str(&recorded.resource),
                ])
                .map_err(|_| fail(Refusal::Unavailable, &viewer))?;
            let row = Audit {
                request_id: &ctx.id,
                recorded: &ctx.recorded,
                viewer: Some(&viewer),
                action,
                patient: Some(&patient),
                status: 201,
                entities: vec![format!("Consent/{}", recorded.directive.id)],
                on_behalf_of,
                policy: hash,
                ..Audit::default()
            }
            .build();
            write_audit(db, &row, vec![stmt])
                .await
                .map_err(|_| fail(Refusal::Unavailable, &viewer))?;
            let answer = if citizen {
                recorded.resource
            } else {
                // A professional knows an opt-out only by its handle.
                directive::as_professional_sees(&recorded, &patient)
            };
            fhir(201, answer.into_bytes(), ctx)
        }
        _ => Err(fail(Refusal::MethodNotAllowed, &viewer)),
    }
}

async fn demo_pages(
    mut req: Request,
    cfg: &Config,
    db: Option<&D1Database>,
    ctx: &Ctx<'_>,
) -> Result<Response, Fail> {
    if !cfg.demo {
        return Err((Refusal::NotFound, None));
    }
    let demo = ctx.demo;
    let hash = ctx.state.policy.hash();
    let path = req.path();
    let audit = |action: &'static str, status: u16| Audit {
        request_id: &ctx.id,
        recorded: &ctx.recorded,
        action,
        status,
        policy: hash,
        ..Audit::default()
    };
    let html = |body: &str| {
        respond(
            200,
            body.as_bytes().to_vec(),
            hash,
            &ctx.id,
            "text/html; charset=utf-8",
        )
        .map_err(|_| (Refusal::Unavailable, None))
    };
    match (req.method(), path.as_str()) {
        (Method::Get, "/" | "/demo/login") => {
            write_audit(db, &audit("demo-page", 200).build(), Vec::new())
                .await
                .map_err(|_| (Refusal::Unavailable, None))?;
            html(LOGIN_HTML)
        }
        (Method::Get, "/demo/users") => {
            let users: Vec<Value> = demo
                .users
                .iter()
                .map(|u| json!({"key": u.key, "name": u.viewer.name, "profile": u.viewer.profile, "organisation": u.viewer.organisation}))
                .collect();
            let patients: Vec<Value> = demo
                .patients
                .iter()
                .map(|p| json!({"id": p.id, "nhs_number": p.nhs_number, "family": p.family}))
                .collect();
            let citizens: Vec<Value> = demo
                .citizens
                .iter()
                .map(|u| json!({"key": u.key, "name": u.viewer.name, "patient": u.viewer.patient, "user_id": u.viewer.user_id}))
                .collect();
            let reasons: Vec<Value> = ctx
                .state
                .policy
                .document()
                .break_glass
                .reasons
                .iter()
                .map(|r| json!({"code": r.code, "display": r.display}))
                .collect();
            write_audit(db, &audit("demo-page", 200).build(), Vec::new())
                .await
                .map_err(|_| (Refusal::Unavailable, None))?;
            let body = serde_json::to_vec(
                &json!({"users": users, "citizens": citizens, "patients": patients, "break_glass_reasons": reasons}),
            )
            .unwrap_or_default();
            respond(200, body, hash, &ctx.id, "application/json")
                .map_err(|_| (Refusal::Unavailable, None))
        }
        (Method::Get, "/demo/outbox") => {
            // The demo notifier: what would have been sent, newest first.
            #[derive(serde::Deserialize)]
            struct Row {
                id: String,
                recorded: String,
                recipient: String,
                channel: String,
                message: String,
            }
            let db_ref = db.ok_or((Refusal::Unavailable, None))?;
            ensure_schema(db_ref)
                .await
                .map_err(|_| (Refusal::Unavailable, None))?;
            let rows = db_ref
                .prepare("SELECT id, recorded, recipient, channel, message FROM outbox ORDER BY recorded DESC, rowid DESC LIMIT 200")
                .all()
                .await
                .map_err(|_| (Refusal::Unavailable, None))?
                .results::<Row>()
                .map_err(|_| (Refusal::Unavailable, None))?;
            write_audit(db, &audit("demo-page", 200).build(), Vec::new())
                .await
                .map_err(|_| (Refusal::Unavailable, None))?;
            let messages: Vec<Value> = rows
                .iter()
                .map(|r| json!({"id": r.id, "recorded": r.recorded, "recipient": r.recipient, "channel": r.channel,
                    "message": serde_json::from_str::<Value>(&r.message).unwrap_or(Value::Null)}))
                .collect();
            let body = serde_json::to_vec(&json!({"messages": messages})).unwrap_or_default();
            respond(200, body, hash, &ctx.id, "application/json")
                .map_err(|_| (Refusal::Unavailable, None))
        }
        (Method::Post, "/demo/token") => {
            let body: Value = req.json().await.map_err(|_| (Refusal::BadRequest, None))?;
            let user = body.get("user").and_then(Value::as_str).unwrap_or_default();
            let token = demo
                .token(user, &cfg.audience, ctx.now.unix_timestamp())
                .ok_or((Refusal::BadRequest, None))?;
            let viewer = demo
                .users
                .iter()
                .chain(&demo.citizens)
                .find(|u| u.key == user)
                .map(|u| u.viewer.clone());
            let row = Audit {
                viewer: viewer.as_ref(),
                ..audit("login", 200)
            }
            .build();
            write_audit(db, &row, Vec::new())
                .await
                .map_err(|_| (Refusal::Unavailable, None))?;
            let body = serde_json::to_vec(&json!({"token": token, "expires_in": 3600}))
                .unwrap_or_default();
            respond(200, body, hash, &ctx.id, "application/json")
                .map_err(|_| (Refusal::Unavailable, None))
        }
        _ => Err((Refusal::NotFound, None)),
    }
}
