// The hostile catalogue's `engine` cases (text that hides an excluded term:
// typography, invisible characters, character references, markup, HL7 v2
// escapes) through the nodejs build: each as the catalogue expects, and
// byte for byte what the native CLI gives for the same input.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";

import { Engine } from "./engine.mjs";
import { CONSENT, NOW, VIEWER, checkExpect, engineCases } from "./lib/hostile.mjs";
import { replay } from "./lib/replay.mjs";
import { root } from "./lib/vectors.mjs";

const cli = ["debug", "release"].map((p) => join(root, "target", p, "tiergate")).find(existsSync);
const dir = mkdtempSync(join(tmpdir(), "tiergate-hostile-"));
const viewerFile = join(dir, "viewer.json");
const consentFile = join(dir, "consent.json");
writeFileSync(viewerFile, JSON.stringify(VIEWER));
writeFileSync(consentFile, JSON.stringify(CONSENT));
after(() => rmSync(dir, { recursive: true, force: true }));

const engine = new Engine();

test("the native CLI is built (cargo test builds it)", () => {
  assert.ok(cli, "target/debug/tiergate is missing: run `cargo test --workspace` first");
});

engineCases().forEach(({ name, vector, record, expect }, i) => {
  test(name, () => {
    const actual = replay(engine, vector, record);
    checkExpect(name, expect, actual);
    const file = join(dir, `case-${i}`);
    writeFileSync(file, record);
    // The CLI answers a withheld resource as a missing one: the same body,
    // with `tiergate: not found` on stderr.
    const out = execFileSync(cli, ["redact", "--viewer", viewerFile, "--consent", consentFile, "--now", NOW, file], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const native = out.at(-1) === 0x0a ? out.subarray(0, -1) : out;
    assert.ok(native.equals(Buffer.from(actual.body, "utf8")), `${name}: native and wasm differ`);
  });
});
