// The JS API of the nodejs build: construction, errors, input forms,
// classification. The conformance vectors cover the decisions themselves.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";

import { Engine } from "./engine.mjs";
import { loadVectors, root } from "./lib/vectors.mjs";

const vectors = new Map(loadVectors().map((v) => [v.name, v]));
const vector = (name) => {
  const v = vectors.get(name);
  assert.ok(v, `vector ${name} exists`);
  return v;
};
const defaultPolicyText = readFileSync(join(root, "crates", "core", "policy", "default.json"), "utf8");
const engine = new Engine();
const allowed = vector("single-resource-allowed");
const { viewer, consent, now } = allowed.vector;

/** Calls `fn`, expects it to throw, returns the error. */
function thrown(fn) {
  try {
    fn();
  } catch (e) {
    return e;
  }
  assert.fail("expected an error");
}

describe("Engine construction", () => {
  test("the default policy is the one the vectors were decided with", () => {
    assert.match(engine.policyHash(), /^sha256:[0-9a-f]{64}$/);
    assert.equal(engine.policyHash(), allowed.vector.expected.decisions.summary.policy);
    assert.equal(new Engine(null).policyHash(), engine.policyHash());
    assert.equal(new Engine(undefined).policyHash(), engine.policyHash());
  });

  test("a policy as text, bytes or object compiles to the same hash", () => {
    assert.equal(new Engine(defaultPolicyText).policyHash(), engine.policyHash());
    assert.equal(new Engine(new TextEncoder().encode(defaultPolicyText)).policyHash(), engine.policyHash());
    assert.equal(new Engine(JSON.parse(defaultPolicyText)).policyHash(), engine.policyHash());
  });

  test("an invalid policy throws a PolicyError naming the JSON path", () => {
    const doc = JSON.parse(defaultPolicyText);
    doc.segments[0].tiers = "three";
    const e = thrown(() => new Engine(doc));
    assert.ok(e instanceof Error);
    assert.equal(e.name, "PolicyError");
    assert.equal(e.path, "/segments/0/tiers");
    assert.match(e.message, /`\/segments\/0\/tiers`/);
    assert.ok(Array.isArray(e.problems) && e.problems.length >= 1);
    assert.equal(e.problems[0].path, "/segments/0/tiers");
    assert.doesNotMatch(e.message, /three/, "messages never quote the input");
  });

  test("a policy that is not JSON throws a PolicyError", () => {
    const e = thrown(() => new Engine("{ not json"));
    assert.equal(e.name, "PolicyError");
    assert.match(e.message, /not valid JSON/);
  });

  test("a policy of the wrong JS type throws a TypeError", () => {
    assert.throws(() => new Engine(42), TypeError);
  });
});

describe("redact and explain", () => {
  test("record bytes, text and ArrayBuffer give the same bytes out", () => {
    const bytes = allowed.record;
    const text = new TextDecoder().decode(bytes);
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    const a = engine.redact(bytes, viewer, consent, now);
    const b = engine.redact(text, viewer, consent, now);
    const c = engine.redact(buffer, viewer, consent, now);
    const d = engine.redact(Buffer.from(bytes), viewer, consent, now);
    assert.equal(a.body, allowed.vector.expected.body);
    for (const other of [b, c, d]) assert.deepEqual(other, a);
  });

  test("the result is a string body, an outcome and the summary", () => {
    const out = engine.redact(allowed.record, viewer, consent, now);
    assert.deepEqual(Object.keys(out).sort(), ["body", "outcome", "summary"]);
    assert.equal(typeof out.body, "string");
    assert.equal(out.outcome, "document");
    assert.deepEqual(out.summary, engine.explain(allowed.record, viewer, consent, now).summary);
  });

  test("a withheld single resource reads as not found", () => {
    const v = vector("single-resource-excluded-not-found");
    const out = engine.redact(v.record, v.vector.viewer, v.vector.consent, v.vector.now);
    assert.equal(out.outcome, "not_found");
    assert.match(out.body, /"code":"not-found"/);
  });

  test("`now` as a Date is the same instant as RFC 3339 text", () => {
    const a = engine.explain(allowed.record, viewer, consent, now);
    const b = engine.explain(allowed.record, viewer, consent, new Date(now));
    assert.deepEqual(b, a);
  });

  test("omitted `now` means the current time", () => {
    const out = engine.redact(allowed.record, viewer, consent);
    assert.equal(out.summary.entries, 1);
  });

  test("no consent withholds what needs consent", () => {
    const out = engine.explain(allowed.record, viewer, null, now);
    assert.equal(out.entries[0].decision, "withhold");
    assert.deepEqual(out.entries[0].reasons, ["no_consent"]);
  });

  test("a parsed record object is refused: bodies cross as bytes or text", () => {
    const parsed = JSON.parse(new TextDecoder().decode(allowed.record));
    const e = thrown(() => engine.redact(parsed, viewer, consent, now));
    assert.ok(e instanceof TypeError);
    assert.match(e.message, /^record: /);
  });

  test("a malformed record throws without quoting it", () => {
    const e = thrown(() => engine.redact('{"resourceType": "Condition", "note": "HIV positive" ', viewer, consent, now));
    assert.equal(e.name, "RedactError");
    assert.match(e.message, /malformed JSON at line 1/);
    assert.doesNotMatch(e.message, /HIV/);
  });

  test("FHIR XML is refused", () => {
    const e = thrown(() => engine.redact("<Condition/>", viewer, consent, now));
    assert.equal(e.name, "RedactError");
    assert.match(e.message, /expected FHIR JSON/);
  });

  test("viewer problems throw a ViewerError with the path", () => {
    const { profile: _, ...noProfile } = viewer;
    const missing = thrown(() => engine.redact(allowed.record, noProfile, consent, now));
    assert.equal(missing.name, "ViewerError");
    assert.match(missing.message, /profile/);
    const unknown = thrown(() => engine.redact(allowed.record, { ...viewer, profile: "9z" }, consent, now));
    assert.equal(unknown.name, "ViewerError");
    assert.equal(unknown.path, "/profile");
    const badDate = thrown(() =>
      engine.redact(allowed.record, { ...viewer, training: { expires: "soon" } }, consent, now),
    );
    assert.equal(badDate.path, "/training/expires");
  });

  test("break glass without a reason is refused", () => {
    const v = { ...viewer, break_glass: { started: now } };
    const e = thrown(() => engine.redact(allowed.record, v, null, now));
    assert.equal(e.name, "BreakGlassError");
    assert.match(e.message, /reason is required/);
  });

  test("consent that cannot be understood throws a ConsentError", () => {
    const e = thrown(() => engine.redact(allowed.record, viewer, { resourceType: "Patient" }, now));
    assert.equal(e.name, "ConsentError");
    assert.equal(e.path, "/resourceType");
  });

  test("a bad `now` or unknown setting is a request error", () => {
    assert.equal(thrown(() => engine.redact(allowed.record, viewer, consent, "yesterday")).name, "RedactError");
    assert.equal(thrown(() => engine.redact(allowed.record, viewer, consent, new Date(Number.NaN))).name, "RedactError");
    const e = thrown(() => engine.redact(allowed.record, viewer, consent, now, "moon_base"));
    assert.equal(e.name, "RedactError");
    assert.match(e.message, /default setting is not one of the policy's/);
    assert.ok(!e.message.includes("moon_base"), e.message);
  });
});

describe("classify", () => {
  const resource = JSON.parse(new TextDecoder().decode(allowed.record));
  const expected = allowed.vector.expected.decisions.entries[0];

  test("a resource: rule, setting and placements", () => {
    const c = engine.classify(resource);
    assert.equal(c.rule, expected.rule);
    assert.equal(c.setting, expected.setting);
    assert.deepEqual(c.placements, expected.placements);
    assert.equal(c.resource_type, "AllergyIntolerance");
    assert.equal(c.id, resource.id);
  });

  test("a resource as text, or a Bundle entry, classifies the same", () => {
    const c = engine.classify(resource);
    assert.deepEqual(engine.classify(JSON.stringify(resource)), c);
    assert.deepEqual(engine.classify({ fullUrl: "urn:uuid:1", resource }), c);
  });

  test("an entry nothing classifies has no rule", () => {
    const c = engine.classify({ resourceType: "Basic", id: "b1" });
    assert.equal(c.rule, undefined);
    assert.deepEqual(c.placements, []);
    assert.equal(c.disposition, "unclassified");
  });

  test("exclusion categories come from codes and free text alike", () => {
    const tag = { system: "https://fhir.tiergate.example/CodeSystem/care-setting", code: "diagnostics" };
    const coded = engine.classify({
      resourceType: "Observation", id: "o1", meta: { tag: [tag] }, status: "final",
      code: { coding: [{ system: "http://read.info/readv2", code: "43W7." }] },
    });
    assert.deepEqual(coded.exclusion_categories, ["hiv_aids"]);
    assert.equal(coded.disposition, "placed");
    const text = engine.classify({ resourceType: "Condition", id: "c1", note: [{ text: "Referred to the GUM clinic" }] });
    assert.deepEqual(text.exclusion_categories, ["sexually_transmitted_diseases"]);
    const plain = engine.classify({ resourceType: "Practitioner", id: "p1" });
    assert.deepEqual(plain.exclusion_categories, []);
    assert.equal(plain.disposition, "dependent");
  });

  test("a Bundle goes to classifyAll, which agrees with the decisions", () => {
    assert.throws(() => engine.classify({ resourceType: "Bundle", type: "collection" }), TypeError);
    const v = vector("joe-aed-doctor-summary-tier-2");
    const all = engine.classifyAll(v.record, v.vector.setting);
    const entries = v.vector.expected.decisions.entries;
    assert.equal(all.length, entries.length);
    all.forEach((c, i) => {
      assert.equal(c.index, i);
      assert.equal(c.rule, entries[i].rule, `entry ${i} rule`);
      assert.deepEqual(c.placements, entries[i].placements, `entry ${i} placements`);
      assert.equal(c.setting, entries[i].setting, `entry ${i} setting`);
    });
  });
});

describe("the default policy compiled at build time", () => {
  test("pkg/node ships a pre-initialised module whose default policy is the one its text compiles to", () => {
    const wasm = readFileSync(join(root, "pkg", "node", "tiergate_wasm_bg.wasm"));
    const module = new WebAssembly.Module(wasm);
    assert.equal(WebAssembly.Module.customSections(module, "tiergate.preinit").length, 1);
    const compiled = new Engine(defaultPolicyText);
    assert.equal(new Engine().policyHash(), compiled.policyHash());
    for (const name of ["single-resource-allowed", vectors.keys().next().value]) {
      const v = vector(name).vector;
      assert.deepEqual(
        new Engine().redact(vector(name).record, v.viewer, v.consent, v.now),
        compiled.redact(vector(name).record, v.viewer, v.consent, v.now),
      );
    }
  });

  test("a fresh instance of pkg/node finds the default policy already compiled", () => {
    const module = new WebAssembly.Module(readFileSync(join(root, "pkg", "node", "tiergate_wasm_bg.wasm")));
    const imports = {};
    for (const imp of WebAssembly.Module.imports(module)) {
      imports[imp.module] ??= {};
      imports[imp.module][imp.name] = () => assert.fail(`the set-up called ${imp.name}`);
    }
    const instance = new WebAssembly.Instance(module, imports);
    const before = new Uint8Array(instance.exports.memory.buffer).slice();
    assert.equal(instance.exports.tiergate_preinit(), 1);
    const after = new Uint8Array(instance.exports.memory.buffer);
    assert.equal(after.length, before.length, "compiling the policy would grow memory");
    let changed = 0;
    for (let i = 0; i < after.length; i += 1) if (after[i] !== before[i]) changed += 1;
    assert.ok(changed < 4096, `${changed} bytes changed: only stack frames should`);
  });

  test("engines built from the default policy share it and free independently", () => {
    const a = new Engine();
    const b = new Engine();
    a.free();
    const v = allowed.vector;
    assert.equal(b.redact(allowed.record, v.viewer, v.consent, v.now).body, v.expected.body);
    b.free();
    assert.equal(new Engine().redact(allowed.record, v.viewer, v.consent, v.now).body, v.expected.body);
  });
});

describe("the benchmark floor", () => {
  test("__serdeRoundTrip parses and writes the whole record, as JSON.parse + JSON.stringify would", () => {
    const file = join(root, "tests", "corpus", "gpconnect", "meds_response.json");
    const text = readFileSync(file, "utf8");
    const out = engine.__serdeRoundTrip(new TextEncoder().encode(text));
    assert.equal(out, JSON.stringify(JSON.parse(text)));
    assert.throws(() => engine.__serdeRoundTrip('{"resourceType": "Bundle"'), /malformed JSON/);
  });
});
