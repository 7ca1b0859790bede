// The lint that keeps literal future dates out of tests on a moving clock
// (scripts/lint-test-dates.mjs), run over small trees made here.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";

import { root } from "./lib/vectors.mjs";

// Dates are assembled, so that this file's own text holds none for the lint to find.
const D = (y, m, d) => [y, m, d].join("-");

function lint(files) {
  const dir = mkdtempSync(join(tmpdir(), "tiergate-lint-dates-"));
  try {
    const all = {
      "crates/demo/src/lib.rs": "pub const ANCHOR: OffsetDateTime = datetime!(2026-11-25 12:00 UTC);\n",
      "tests/hostile/catalogue.json": JSON.stringify({ cases: [] }),
      ...files,
    };
    for (const [path, text] of Object.entries(all)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    const r = spawnSync(process.execPath, [join(root, "scripts", "lint-test-dates.mjs"), dir], { encoding: "utf8", timeout: 30_000 });
    return { status: r.status, out: r.stdout + r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("a future date in a test that reads the real clock fails, naming the line", () => {
  const r = lint({ "tests/x/a.test.mjs": `const t = Date.now();\n\nassert.equal(start, "${D("2026", "12", "03")}T10:20:00Z");\n` });
  assert.equal(r.status, 1, r.out);
  assert.ok(r.out.includes(`tests/x/a.test.mjs:3: ${D("2026", "12", "03")} is after 2026-11-25`), r.out);
});

test("the suites' clock counts as a clock, and so does Rust's", () => {
  const js = lint({ "tests/x/b.test.mjs": `import { now } from "../lib/clock.mjs";\nconst end = "${D("2031", "01", "01")}";\n` });
  assert.equal(js.status, 1, js.out);
  const rs = lint({ "crates/c/tests/t.rs": `let now = OffsetDateTime::now_utc();\nassert_eq!(x, "${D("2027", "01", "31")}");\n` });
  assert.equal(rs.status, 1, rs.out);
  assert.ok(rs.out.includes(`crates/c/tests/t.rs:2: ${D("2027", "01", "31")}`), rs.out);
});

test("the edge's hostile cases are checked, the core's are not", () => {
  const cases = [
    { name: "edge case", layer: "edge", request: { token: { claims: { training_expires: D("2027", "05", "01") } } } },
    { name: "core case", layer: "core", input: D("2030", "01", "01") },
  ];
  const r = lint({ "tests/hostile/catalogue.json": JSON.stringify({ cases }) });
  assert.equal(r.status, 1, r.out);
  assert.match(r.out, /edge case/);
  assert.doesNotMatch(r.out, /core case/);
});

test("fixed-clock tests and past dates pass; a source file's own code is not a test", () => {
  const r = lint({
    "tests/x/fixed.test.mjs": `const NOW = "${D("2026", "11", "25")}T12:00:00Z";\nassert.equal(jab.start, "${D("2026", "12", "09")}T15:30:00Z");\n`,
    "tests/x/past.test.mjs": `const t = new Date();\nconst recorded = "${D("2026", "01", "01")}";\n`,
    "crates/c/src/lib.rs": `fn now() { OffsetDateTime::now_utc() }\nconst LATER: &str = "${D("2030", "01", "01")}";\n#[cfg(test)]\nmod tests { const T: &str = "${D("2031", "01", "01")}"; }\n`,
  });
  assert.equal(r.status, 0, r.out);
});
