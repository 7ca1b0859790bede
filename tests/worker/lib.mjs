// Helpers for the edge worker suites: keys and tokens, a local origin on
// 127.0.0.1 serving corpus records, and the built worker in workerd
// (Miniflare). Every server listens on 127.0.0.1; every wait is bounded.
import { generateKeyPairSync, sign } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { join } from "node:path";

import { Miniflare } from "miniflare";

import { clockBindings, nowSeconds } from "../lib/clock.mjs";
import { demoViewer, moveJson } from "../lib/demo.mjs";
import { root } from "../node/lib/vectors.mjs";

export { root };

const b64url = (buf) => Buffer.from(buf).toString("base64url");

/** A signing key (ES256 or RS256) and its public JWK. */
export function makeKey(alg, kid) {
  const { privateKey, publicKey } =
    alg === "ES256"
      ? generateKeyPairSync("ec", { namedCurve: "P-256" })
      : generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = { ...publicKey.export({ format: "jwk" }), kid, alg, use: "sig" };
  return { alg, kid, privateKey, jwk };
}

/** A compact JWS over `claims` (header overridable, for hostile tokens). */
export function token(key, claims, header = {}) {
  const h = b64url(JSON.stringify({ alg: key.alg, typ: "JWT", kid: key.kid, ...header }));
  const p = b64url(JSON.stringify(claims));
  const input = `${h}.${p}`;
  const sig =
    key.alg === "ES256"
      ? sign("sha256", Buffer.from(input), { key: key.privateKey, dsaEncoding: "ieee-p1363" })
      : sign("sha256", Buffer.from(input), key.privateKey);
  return `${input}.${b64url(sig)}`;
}

export const ISSUER = "https://idp.tiergate.test";
export const AUDIENCE = "tiergate";

/** A demo viewer file (crates/demo/data/viewers/NAME.json) as it stands on the suite's clock. */
export const viewer = (name) => demoViewer(name);

export function claimsFor(v, extra = {}) {
  const now = nowSeconds();
  return {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: v.user_id,
    name: v.name,
    org: v.organisation,
    profile: v.profile,
    purpose_of_use: v.purpose,
    ...(v.training ? { training_expires: v.training.expires } : {}),
    iat: now,
    nbf: now - 5,
    exp: now + 600,
    ...extra,
  };
}

/**
 * The records the origin serves, by `Type/id` and by patient, with their
 * dates moved to the suite's clock as the demo's are (the demo records
 * among them keep their scenarios on any day).
 */
function loadRecords() {
  const files = [
    ["tests/vectors/records/joe.json"],
    ["tests/vectors/records/brenda.json"],
    ["tests/vectors/records/phil-ed-patient.json"],
    ["tests/corpus/gpconnect/allergies_response1.json"],
  ];
  const byPatient = new Map();
  const byRef = new Map();
  for (const [file] of files) {
    const bundle = moveJson(readFileSync(join(root, file), "utf8"));
    const text = JSON.stringify(bundle);
    const patient = bundle.entry.find((e) => e.resource.resourceType === "Patient").resource;
    byPatient.set(patient.id, { text, bundle, patient });
    for (const e of bundle.entry) {
      if (e.resource.id) byRef.set(`${e.resource.resourceType}/${e.resource.id}`, e.resource);
    }
  }
  return { byPatient, byRef };
}

/** Joe's record re-identified as another patient (for faults that answer well in the end). */
export function recordAs(byPatient, id) {
  return byPatient.get("joe-patient").text.replaceAll("joe-patient", id);
}

const FHIR_JSON = "application/fhir+json";
const ERROR_JSON = JSON.stringify({
  resourceType: "OperationOutcome",
  issue: [{ severity: "error", code: "exception", diagnostics: "upstream exploded: Whitfield secret" }],
});
const ERROR_HTML = "<html><body><h1>Internal Server Error</h1><p>Whitfield secret</p></body></html>";
const XML = '<Bundle xmlns="http://hl7.org/fhir"><type value="searchset"/></Bundle>';

/**
 * Origin faults, by patient id: what the origin does instead of answering.
 * Each answer carries `Whitfield secret` where it says anything, so a test
 * can tell an upstream body reflected back.
 */
export const FAULTS = {
  /** Declares 100,000 bytes, sends the start of a record, closes the socket. */
  "truncated-patient": (req, res, { byPatient }) => {
    const text = recordAs(byPatient, "truncated-patient");
    res.writeHead(200, { "content-type": FHIR_JSON, "content-length": String(text.length + 50_000) });
    res.write(text.slice(0, 1000));
    setTimeout(() => res.socket?.destroy(), 50);
  },
  "error500-json-patient": (req, res) => send(res, 500, FHIR_JSON, ERROR_JSON),
  "error500-html-patient": (req, res) => send(res, 500, "text/html", ERROR_HTML),
  "error503-json-patient": (req, res) => send(res, 503, FHIR_JSON, ERROR_JSON),
  "error503-html-patient": (req, res) => send(res, 503, "text/html; charset=utf-8", ERROR_HTML),
  /** A good record, served as text/plain. */
  "text-plain-patient": (req, res, { byPatient }) =>
    send(res, 200, "text/plain", recordAs(byPatient, "text-plain-patient")),
  "xml-patient": (req, res) => send(res, 200, "application/fhir+xml", XML),
  "empty-patient": (req, res) => send(res, 200, FHIR_JSON, ""),
  "array-patient": (req, res) => send(res, 200, FHIR_JSON, '[{"resourceType":"Patient","id":"array-patient"}]'),
  "number-patient": (req, res) => send(res, 200, FHIR_JSON, "42"),
  /** Headers after 600 ms, then the whole record at once. */
  "slow-headers-patient": (req, res, { byPatient }) => {
    setTimeout(() => send(res, 200, FHIR_JSON, recordAs(byPatient, "slow-headers-patient")), 600);
  },
  /** Headers at once, then the record a few bytes every 100 ms (minutes in all). */
  "slow-body-patient": (req, res, { byPatient }) => {
    const text = recordAs(byPatient, "slow-body-patient");
    res.writeHead(200, { "content-type": FHIR_JSON });
    let i = 0;
    const timer = setInterval(() => {
      if (res.destroyed || i >= text.length) return clearInterval(timer), res.end();
      res.write(text.slice(i, i + 16));
      i += 16;
    }, 100);
    res.on("close", () => clearInterval(timer));
  },
  /**
   * 302 to another origin (`localhost` rather than `127.0.0.1`, another
   * port's worth of trust), which would answer with the record under
   * `/moved/`.
   */
  "redirect-patient": (req, res, { port }) => {
    res.writeHead(302, { location: `http://localhost:${port}/moved${req.url}` });
    res.end();
  },
};

function send(res, status, type, body) {
  res.writeHead(status, { "content-type": type });
  res.end(body);
}

/**
 * An origin on 127.0.0.1. Special patients: `html-patient` (an HTML page),
 * `huge-patient` (40 MiB, streamed without a length), `hang-patient`
 * (headers never sent), and the faults of `FAULTS` (by patient id; see
 * there). `hits` lists every request path.
 */
export async function startOrigin() {
  const { byPatient, byRef } = loadRecords();
  const hits = [];
  const sockets = new Set();
  const fhir = (res, status, body) => {
    res.writeHead(status, { "content-type": "application/fhir+json" });
    res.end(typeof body === "string" ? body : JSON.stringify(body));
  };
  const server = createServer((req, res) => {
    const url = new URL(req.url, "http://127.0.0.1");
    hits.push(`${url.pathname}${url.search}`);
    const parts = url.pathname.split("/").filter(Boolean);
    const patientParam = url.searchParams.get("patient");
    const special = parts[1] ?? patientParam;
    if (special === "html-patient") {
      res.writeHead(200, { "content-type": "text/html" });
      return res.end("<html><body>Service temporarily unavailable</body></html>");
    }
    if (special === "huge-patient") {
      res.writeHead(200, { "content-type": "application/fhir+json" });
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      let sent = 0;
      const pump = () => {
        while (sent < 40) {
          sent += 1;
          if (!res.write(chunk)) return res.once("drain", pump);
        }
        res.end();
      };
      res.on("error", () => {});
      return pump();
    }
    if (special === "hang-patient") return; // never answers; closed at the end
    if (parts[0] === "moved") {
      // The other origin a redirect points at: it would serve the record.
      const id = parts[2] ?? patientParam;
      return fhir(res, 200, recordAs(byPatient, id));
    }
    if (Object.hasOwn(FAULTS, special)) return FAULTS[special](req, res, { byPatient, port: server.address().port });
    if (parts[0] === "Patient" && parts.length === 1) {
      const nhs = (url.searchParams.get("identifier") ?? "").split("|").pop();
      const matches = [...byPatient.values()]
        .filter((p) => p.patient.identifier?.some((i) => i.value === nhs))
        .map((p) => ({ resource: p.patient, search: { mode: "match" } }));
      return fhir(res, 200, { resourceType: "Bundle", type: "searchset", total: matches.length, entry: matches });
    }
    if (parts[0] === "Patient" && parts[2] === "$everything") {
      const p = byPatient.get(parts[1]);
      return p ? fhir(res, 200, p.text) : fhir(res, 404, { resourceType: "OperationOutcome" });
    }
    if (parts.length === 1 && patientParam) {
      const p = byPatient.get(patientParam);
      return p ? fhir(res, 200, p.text) : fhir(res, 200, { resourceType: "Bundle", type: "searchset" });
    }
    if (parts.length === 2) {
      const r = byRef.get(`${parts[0]}/${parts[1]}`);
      return r ? fhir(res, 200, r) : fhir(res, 404, { resourceType: "OperationOutcome" });
    }
    fhir(res, 404, { resourceType: "OperationOutcome" });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const close = () =>
    new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return { url: `http://127.0.0.1:${server.address().port}`, hits, close, byPatient };
}

/** A port on 127.0.0.1 with nothing listening. */
export async function closedPort() {
  const s = createServer();
  await new Promise((resolve) => s.listen(0, "127.0.0.1", resolve));
  const { port } = s.address();
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/**
 * The built worker in workerd, on the suite's clock. `build` names the
 * directory under worker/: `build` (the demo build the tests run) or
 * `build-production` (what `wrangler deploy` makes), which is given no
 * clock unless `clock` says so.
 */
export async function startWorker({ bindings, d1 = true, build = "build", clock = build === "build" }) {
  const mf = new Miniflare({
    modules: true,
    scriptPath: join(root, "worker", build, "index.js"),
    modulesRoot: join(root, "worker", build),
    modulesRules: [
      { type: "ESModule", include: ["**/*.js"] },
      { type: "CompiledWasm", include: ["**/*.wasm"] },
    ],
    compatibilityDate: "2026-04-26",
    host: "127.0.0.1",
    cf: false,
    bindings: { ...(clock ? clockBindings() : {}), ...bindings },
    ...(d1 ? { d1Databases: ["DB"] } : {}),
  });
  await mf.ready;
  return mf;
}

/**
 * The Consent resources the worker stored for a patient, oldest first, from
 * its D1 (what a professional may not read back in full).
 */
export async function storedConsents(mf, patient) {
  const db = await mf.getD1Database("DB");
  const rows = (await db.prepare("SELECT resource FROM consents WHERE patient = ?1 ORDER BY rowid").bind(patient).all()).results;
  return rows.map((r) => JSON.parse(r.resource));
}

/** The nodejs build of core: what the worker must produce. */
export function engine() {
  const require = createRequire(import.meta.url);
  const { Engine } = require(join(root, "pkg", "node", "tiergate_wasm.js"));
  return new Engine();
}

/** `Type/id` of each entry of a Bundle body. */
export function ids(body) {
  const doc = typeof body === "string" ? JSON.parse(body) : body;
  if (doc.resourceType !== "Bundle") return [`${doc.resourceType}/${doc.id}`];
  return (doc.entry ?? []).map((e) => `${e.resource.resourceType}/${e.resource.id}`);
}


/**
 * A JSON caller for the worker `getWorker()` returns (started in a
 * `before`): `call(path, {tok, method, body})` -> {status, headers, text, json()}.
 */
export function jsonCaller(getWorker, base = "http://tiergate.test") {
  return async (path, { tok, method = "GET", body } = {}) => {
    const res = await getWorker().dispatchFetch(`${base}${path}`, {
      method,
      headers: {
        ...(tok ? { authorization: `Bearer ${tok}` } : {}),
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
  };
}
