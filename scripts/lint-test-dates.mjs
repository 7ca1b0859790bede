// A test that runs on a moving clock must not expect a literal date that
// is still to come: it passes until that day and fails after. This lint
// fails on every date literal later than the demo data's anchor (the
// instant the fixed-clock tests decide at, read from crates/demo) in a
// test that reads a clock: the real one (`Date.now()`, `new Date()`,
// `now_utc()`, `SystemTime::now`) or the suites' clock (tests/lib/clock.mjs).
// Tests that decide at a fixed instant may use any date. The hostile
// catalogue's cases for the running edge count as such tests too.
//
//   node scripts/lint-test-dates.mjs [ROOT]   (exit 1 with every offending line)
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), "..");

const anchorSource = readFileSync(join(root, "crates", "demo", "src", "lib.rs"), "utf8");
const anchorMatch = /pub const ANCHOR: OffsetDateTime = datetime!\((\d{4}-\d{2}-\d{2})/.exec(anchorSource);
if (!anchorMatch) {
  console.error("lint-test-dates: cannot find ANCHOR in crates/demo/src/lib.rs");
  process.exit(2);
}
const anchor = anchorMatch[1];

const SKIP = new Set(["node_modules", "target", "vectors", "corpus", ".git", "build", "public", "pkg"]);

function walk(dir, keep, out = []) {
  for (const name of readdirSync(dir)) {
    if (SKIP.has(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, keep, out);
    else if (keep(path)) out.push(path);
  }
  return out;
}

const jsTest = (p) => /\.(mjs|cjs|js)$/.test(p);
const rs = (p) => p.endsWith(".rs");
const files = [
  ...walk(join(root, "tests"), jsTest),
  ...readdirSync(join(root, "crates")).flatMap((c) => {
    const tests = join(root, "crates", c, "tests");
    const src = join(root, "crates", c, "src");
    return [...(exists(tests) ? walk(tests, rs) : []), ...(exists(src) ? walk(src, rs) : [])];
  }),
  ...(exists(join(root, "worker", "src")) ? walk(join(root, "worker", "src"), rs) : []),
];

function exists(p) {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}

/** The part of a file that is test code: all of a test file; a Rust source's `#[cfg(test)]` modules. */
function testPart(path, text) {
  if (!rs(path) || !relative(root, path).split("/").includes("src")) return text;
  const at = text.indexOf("#[cfg(test)]");
  return at < 0 ? "" : text.slice(at);
}

const READS_CLOCK = [/\bDate\.now\(/, /new Date\(\s*\)/, /lib\/clock\.mjs/, /now_utc\(/, /SystemTime::now/, /\bDate::now\(/];
const DATE = /(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)/g;

const problems = [];
function check(label, text, firstLine = 1) {
  text.split("\n").forEach((line, i) => {
    for (const m of line.matchAll(DATE)) {
      if (m[0] > anchor) problems.push(`${label}:${firstLine + i}: ${m[0]} is after ${anchor}: compute it from the clock`);
    }
  });
}

for (const path of files) {
  const whole = readFileSync(path, "utf8");
  const part = testPart(path, whole);
  if (!part || !READS_CLOCK.some((r) => r.test(part))) continue;
  const skipped = whole.length - part.length;
  const firstLine = whole.slice(0, skipped).split("\n").length;
  check(relative(root, path), part, firstLine);
}

// The hostile catalogue: cases replayed against the running edge.
const catalogue = JSON.parse(readFileSync(join(root, "tests", "hostile", "catalogue.json"), "utf8"));
for (const c of catalogue.cases) {
  if (c.layer === "core") continue;
  check(`tests/hostile/catalogue.json (${c.name})`, JSON.stringify(c));
}

if (problems.length) {
  console.error(`lint-test-dates: ${problems.length} literal date(s) after ${anchor} in tests that read a clock:`);
  for (const p of problems) console.error(`  ${p}`);
  process.exit(1);
}
console.log(`lint-test-dates: ${files.length} files and the hostile catalogue, no literal date after ${anchor} in a test on a moving clock`);
