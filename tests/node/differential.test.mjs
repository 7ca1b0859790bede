// Native and wasm give the same bytes on the fuzz seeds (issue 10): every
// committed seed of the redact fuzz target (FHIR JSON, GP Connect, HL7 v2;
// a seed's first byte picks the fuzz target's profile and is dropped here)
// is redacted by the native CLI (target/debug/tiergate, built by
// `cargo test`) and by the nodejs build of the engine, for three profiles
// with a whole-record consent, and the outputs must be byte-identical,
// including refusals.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";

import { Engine } from "./engine.mjs";
import { root } from "./lib/vectors.mjs";

const NOW = "2026-11-25T12:00:00Z";
const SETTING = "primary_care";
const VIEWERS = ["gp-1b", "admin-clerk-5", "aed-doctor-6"];
const CONSENT = { directives: [{ id: "whole-record", kind: "permit", recorded: "2026-01-01" }] };
const seeds = join(root, "fuzz", "corpus", "redact");
const cli = ["debug", "release"].map((p) => join(root, "target", p, "tiergate")).find(existsSync);
const dir = mkdtempSync(join(tmpdir(), "tiergate-differential-"));
const consentFile = join(dir, "consent.json");
writeFileSync(consentFile, JSON.stringify(CONSENT));

after(() => rmSync(dir, { recursive: true, force: true }));

/** The native CLI's answer: the body, or the refusal's message. */
function native(seed, viewerFile) {
  try {
    const out = execFileSync(cli, ["redact", "--viewer", viewerFile, "--consent", consentFile, "--now", NOW, "--setting", SETTING, seed], {
      maxBuffer: 64 * 1024 * 1024,
      stdio: ["ignore", "pipe", "pipe"],
    });
    return { ok: true, body: out };
  } catch (e) {
    return { ok: false, status: e.status };
  }
}

test("the native CLI is built (cargo test builds it)", () => {
  assert.ok(cli, "target/debug/tiergate is missing: run `cargo test --workspace` first");
});

const files = readdirSync(seeds).sort();
const core = new Engine();
let released = 0;

test("the seed corpus is there", () => {
  assert.ok(files.length >= 10, `${files.length} seeds`);
});

for (const file of files) {
  test(`native and wasm agree byte for byte: ${file}`, () => {
    const record = readFileSync(join(seeds, file)).subarray(1);
    const recordFile = join(dir, file);
    writeFileSync(recordFile, record);
    for (const name of VIEWERS) {
      const viewerFile = join(root, "crates", "demo", "data", "viewers", `${name}.json`);
      const viewer = JSON.parse(readFileSync(viewerFile, "utf8"));
      const n = native(recordFile, viewerFile);
      let w;
      try {
        const out = core.redact(new Uint8Array(record), viewer, CONSENT, NOW, SETTING);
        w = { ok: true, body: Buffer.from(out.body, "utf8") };
      } catch (e) {
        w = { ok: false, name: e.name };
      }
      assert.equal(w.ok, n.ok, `${file} as ${name}: native ${n.ok ? "released" : "refused"}, wasm ${w.ok ? "released" : `refused (${w.name})`}`);
      if (n.ok) {
        released += 1;
        // The CLI ends its output with a newline; the engine does not.
        const nativeBody = n.body.at(-1) === 0x0a ? n.body.subarray(0, -1) : n.body;
        assert.ok(nativeBody.equals(w.body), `${file} as ${name}: bodies differ`);
      }
    }
  });
}

test("most seeds release something, so the comparison compares bodies", () => {
  assert.ok(released >= files.length, `${released} released of ${files.length * VIEWERS.length}`);
});
