// The `edge` cases of tests/hostile/catalogue.json, every one replayed
// against the built worker (worker/build) in workerd through Miniflare,
// with an origin on 127.0.0.1 and local D1. A case the catalogue holds but
// this suite does not replay fails the suite.
//
// Each case checks what its `expect` says, and every refusal is checked
// for the same things: a small fixed OperationOutcome (no record data, no
// request text quoted back), `Cache-Control: no-store`, no response header
// carrying request text, and an audit row for the request.
import assert from "node:assert/strict";
import { createHmac, createPublicKey, sign } from "node:crypto";
import { readFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { AUDIENCE, ISSUER, claimsFor, makeKey, root, startOrigin, startWorker, viewer } from "./lib.mjs";
import { nowSeconds } from "../lib/clock.mjs";

const BASE = "http://tiergate.test";
const catalogue = JSON.parse(readFileSync(join(root, "tests", "hostile", "catalogue.json"), "utf8"));
const EDGE = catalogue.cases.filter((c) => c.layer === "edge");

/**
 * Cases that show a bug in the worker: the catalogue holds the correct
 * outcome, the test is `todo` (it runs, and reports) until it is fixed.
 * None at present.
 */
const KNOWN_BUGS = {};

/** Response headers the worker may send (anything else is suspect). */
const ALLOWED_HEADERS = new Set([
  "content-type",
  "content-length",
  "cache-control",
  "x-content-type-options",
  "x-request-id",
  "x-tiergate-policy",
  "x-tiergate-consent",
  "x-tiergate-break-glass-expires",
  "date",
  "connection",
  "keep-alive",
  "transfer-encoding",
]);

/** Strings of the records the origin serves, that no refusal may carry. */
const RECORD_DATA = ["Whitfield", "Kavanagh", "Lowry", "Penicillin", "43W7", "entry"];

let origin;
let mf;
let url;
let es;
let rs;
const seen = new Set();

before(async () => {
  origin = await startOrigin();
  es = makeKey("ES256", "es-1");
  rs = makeKey("RS256", "rs-1");
  mf = await startWorker({
    bindings: {
      ORIGIN_URL: origin.url,
      JWKS: JSON.stringify({ keys: [es.jwk, rs.jwk] }),
      JWT_ISSUER: ISSUER,
      JWT_AUDIENCE: AUDIENCE,
      ORIGIN_TIMEOUT_MS: "3000",
      ORIGIN_SETTING: "primary_care",
      DEMO: "off",
    },
  });
  url = await mf.ready;
});

after(async () => {
  await mf?.dispose();
  await origin?.close();
});

const generate = (g) => g.prefix + g.repeat.repeat(g.times) + g.suffix;
const value = (v) => (typeof v === "string" ? v : generate(v));
const b64 = (s) => Buffer.from(s).toString("base64url");

/** The token a case describes. */
function makeToken(spec) {
  const now = nowSeconds();
  const claims = claimsFor(viewer(spec.viewer), spec.claims ?? {});
  for (const [k, dt] of Object.entries(spec.claims_from_now ?? {})) claims[k] = now + dt;
  const how = spec.sign ?? "es";
  const key = { es, rs, stranger: makeKey("ES256", "es-9") }[how] ?? es;
  const header = { alg: key.alg, typ: "JWT", kid: key.kid, ...(spec.header ?? {}) };
  for (const o of [header, claims]) for (const k of Object.keys(o)) if (o[k] === null) delete o[k];
  const input = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(claims))}`;
  switch (how) {
    case "unsigned":
      return `${input}.`;
    case "hs256-jwk":
      return `${input}.${createHmac("sha256", JSON.stringify(es.jwk)).update(input).digest("base64url")}`;
    case "hs256-pem":
      return `${input}.${createHmac("sha256", publicPem(es)).update(input).digest("base64url")}`;
    default:
      // The real key signs whatever header the case gives (alg confusion).
      return `${input}.${signWith(key, input)}`;
  }
}

/** A signature by `key` over `input`, as `token` makes one. */
function signWith(key, input) {
  const sig =
    key.alg === "ES256"
      ? sign("sha256", Buffer.from(input), { key: key.privateKey, dsaEncoding: "ieee-p1363" })
      : sign("sha256", Buffer.from(input), key.privateKey);
  return Buffer.from(sig).toString("base64url");
}

function publicPem(key) {
  return createPublicKey(key.privateKey).export({ format: "pem", type: "spki" });
}

/** Request body bytes, if any. */
function bodyOf(req) {
  if (req.body !== undefined) return Buffer.from(req.body);
  if (req.body_hex !== undefined) return Buffer.from(req.body_hex, "hex");
  if (req.generate) return Buffer.from(generate(req.generate));
  return undefined;
}

/** Sends a request byte for byte and parses the answer (Connection: close). */
function rawRequest(method, path, headers, body) {
  return new Promise((resolve, reject) => {
    const lines = [`${method} ${path} HTTP/1.1`, "Host: tiergate.test", "Connection: close"];
    for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
    if (body) lines.push(`Content-Length: ${body.length}`);
    const head = Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "utf8");
    const socket = net.connect(Number(url.port), url.hostname, () => socket.end(body ? Buffer.concat([head, body]) : head));
    const chunks = [];
    const timer = setTimeout(() => socket.destroy(new Error("raw request timed out")), 15_000);
    socket.on("data", (d) => chunks.push(d));
    socket.on("error", (e) => (clearTimeout(timer), reject(e)));
    socket.on("close", () => {
      clearTimeout(timer);
      const all = Buffer.concat(chunks);
      const split = all.indexOf("\r\n\r\n");
      const [statusLine, ...headerLines] = all.subarray(0, split).toString("latin1").split("\r\n");
      const h = new Headers();
      for (const l of headerLines) {
        const i = l.indexOf(":");
        h.append(l.slice(0, i).trim(), l.slice(i + 1).trim());
      }
      let text = all.subarray(split + 4);
      if (/chunked/i.test(h.get("transfer-encoding") ?? "")) text = dechunk(text);
      resolve({ status: Number(statusLine.split(" ")[1]), headers: h, text: text.toString("utf8") });
    });
  });
}

function dechunk(buf) {
  const out = [];
  let i = 0;
  while (i < buf.length) {
    const eol = buf.indexOf("\r\n", i);
    const n = parseInt(buf.subarray(i, eol).toString("latin1"), 16);
    if (!n) break;
    out.push(buf.subarray(eol + 2, eol + 2 + n));
    i = eol + 2 + n + 2;
  }
  return Buffer.concat(out);
}

/** Replays one case; returns the response. */
async function replay(c) {
  const req = c.request;
  const headers = {};
  let path = req.path;
  if (req.token) {
    const tok = makeToken(req.token);
    if (req.token.in === "query") path = path.replace("{token}", tok);
    else headers.authorization = `Bearer ${tok}`;
  }
  if (req.query_token) path = path.replace("{token}", makeToken(req.query_token));
  for (const [k, v] of Object.entries(req.headers ?? {})) headers[k] = value(v);
  const body = bodyOf(req);
  if (req.raw) return rawRequest(req.method, path, headers, body);
  const res = await mf.dispatchFetch(`${BASE}${path}`, { method: req.method, headers, body });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

async function consentRows(db, patient) {
  const r = await db.prepare("SELECT COUNT(*) AS n FROM consents WHERE patient = ?1").bind(patient).first();
  return r.n;
}

/** The strings a case sent that a response must never carry. */
function sent(c) {
  return Object.values(c.request.headers ?? {})
    .map(value)
    .flatMap((v) => v.split(/[\r\n]+/))
    .filter((v) => v.length > 3 && !["unconscious"].includes(v));
}

describe("hostile requests at the edge (tests/hostile/catalogue.json, layer edge)", () => {
  test("the catalogue has edge cases with unique names", () => {
    assert.ok(EDGE.length >= 40, `${EDGE.length} edge cases`);
    assert.equal(new Set(EDGE.map((c) => c.name)).size, EDGE.length);
    for (const c of catalogue.cases) assert.ok(["core", "engine", "edge"].includes(c.layer), `${c.name}: layer ${c.layer}`);
  });

  for (const c of EDGE) {
    const bug = KNOWN_BUGS[c.name];
    test(`${c.kind}: ${c.name}`, { timeout: 30_000, ...(bug ? { todo: bug } : {}) }, async () => {
      seen.add(c.name);
      const e = c.expect;
      const db = await mf.getD1Database("DB");
      const patient = c.request.path.match(/\/Patient\/([A-Za-z0-9.-]+)/)?.[1];
      const storedBefore = e.stored === false ? await consentRows(db, patient).catch(() => 0) : 0;
      const hitsBefore = origin.hits.length;

      const r = await replay(c);

      assert.equal(r.status, e.status, `status (body ${r.text.slice(0, 200)})`);
      assert.equal(r.headers.get("cache-control"), "no-store");
      const id = r.headers.get("x-request-id");
      assert.match(id ?? "", /^[0-9a-f]{32}$/, "x-request-id");
      if (e.status >= 400) {
        assert.ok(r.text.length < 400, "refusal body is small and fixed");
        const outcome = JSON.parse(r.text);
        assert.equal(outcome.resourceType, "OperationOutcome");
        assert.equal(outcome.issue.length, 1);
        if (e.issue) assert.equal(outcome.issue[0].code, e.issue);
        for (const s of RECORD_DATA) assert.ok(!r.text.includes(s), `record data in the refusal: ${s}`);
        assert.ok(!r.text.includes(patient ?? "\0"), "the request's patient quoted back");
      }
      // Nothing the request sent comes back in a header; no unexpected header.
      for (const [name, v] of r.headers) {
        assert.ok(ALLOWED_HEADERS.has(name.toLowerCase()), `unexpected response header ${name}`);
        for (const s of [...sent(c), ...(e.absent ?? [])]) assert.ok(!v.includes(s), `${name} reflects ${s.slice(0, 40)}`);
      }
      for (const s of e.absent ?? []) assert.ok(!r.text.includes(s), `body carries ${s.slice(0, 40)}`);
      for (const name of e.absent_headers ?? []) assert.equal(r.headers.get(name), null, `response header ${name}`);
      if (e.upstream === false) assert.deepEqual(origin.hits.slice(hitsBefore), [], "the origin was asked");
      if (e.stored === false) assert.equal(await consentRows(db, patient), storedBefore, "a consent was stored");

      // Every request is audited, refusals too; the event holds no request text but what is kept.
      const row = await db.prepare("SELECT status, event FROM audit_events WHERE id = ?1").bind(id).first();
      assert.ok(row, "no audit row");
      assert.equal(row.status, e.status);
      for (const s of e.audit?.present ?? []) assert.ok(row.event.includes(s), `audit lacks ${s}`);
      for (const s of e.audit?.absent ?? []) assert.ok(!row.event.includes(s), `audit carries ${s.slice(0, 40)}`);
      if (e.audit?.detail_max) {
        const detail = JSON.parse(row.event)
          .entity?.flatMap((x) => x.detail ?? [])
          .find((d) => d.type === "break-glass-detail")?.valueString;
        assert.ok(detail, "no break-glass detail in the audit event");
        assert.ok([...detail].length <= e.audit.detail_max, `detail of ${[...detail].length} characters`);
      }
    });
  }

  test("every edge case in the catalogue was replayed", () => {
    const missing = EDGE.map((c) => c.name).filter((n) => !seen.has(n));
    assert.deepEqual(missing, []);
  });
});
