#!/usr/bin/env node
// Prints the raw and gzip sizes of the built .wasm files and exits 1 when the
// browser build (pkg/web) is over the gzip budget.
//
// The budget was set from the first measurement (2026-11-25: 245,689 bytes
// gzip, 730,851 raw after wasm-opt; 250,253 gzip before) with about 4% room
// for growth. Raise it deliberately, in its own commit, with the reason.
//
// Raised to 300,000 (2026-11-25): the patient and carer portal runs the
// person-centred plan, leaflet matching (a 19-entry catalogue), reminders
// and iCalendar, proxy scopes and the own-record rules in the page, with
// the same engine as the edge; measured 289,017 gzip (874,708 raw).
//
// Raised to 310,000 (2026-12-08): Appendix 1 in SNOMED CT, ICD-10, OPCS-4
// and CTV3 codelists, proxies' category grants and age rules, own
// organisation by holder, opt-out withdrawals and individual approvals
// (framework 7.2) are all in the page's engine; measured 302,345 gzip
// (843,303 raw) with the embedded policy minified.

import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

export const GZIP_BUDGET = 310_000;

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const builds = ["web", "node"];
const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;

const browser = join(root, "pkg", "web", "tiergate_wasm_bg.wasm");
if (!existsSync(browser)) {
  console.error("wasm-size: pkg/web/tiergate_wasm_bg.wasm is missing: run `make wasm`");
  process.exit(1);
}

let webGzip = 0;
for (const b of builds) {
  // pkg/node also has the module scripts/split.mjs moves cold functions to.
  for (const name of ["tiergate_wasm_bg.wasm", "tiergate_wasm_bg.cold.wasm"]) {
    const path = join(root, "pkg", b, name);
    if (!existsSync(path)) continue;
    const bytes = readFileSync(path);
    const gz = gzipSync(bytes, { level: 9 }).length;
    if (b === "web" && name === "tiergate_wasm_bg.wasm") webGzip = gz;
    console.log(`pkg/${b}/${name}  raw ${bytes.length} (${kb(bytes.length)})  gzip ${gz} (${kb(gz)})`);
  }
}

const buildFile = join(root, "pkg", "build.json");
if (existsSync(buildFile)) {
  const report = JSON.parse(readFileSync(buildFile, "utf8"));
  const web = report.sizes?.web;
  if (web?.unoptimised && report.wasmOpt) {
    const pct = (a, b) => `${(((a - b) / b) * 100).toFixed(1)}%`;
    console.log(
      `before wasm-opt: raw ${web.unoptimised.raw}  gzip ${web.unoptimised.gzip}; ` +
        `wasm-opt changed raw by ${pct(web.raw, web.unoptimised.raw)}, gzip by ${pct(web.gzip, web.unoptimised.gzip)}`,
    );
  } else if (!report.wasmOpt) {
    console.log("built without wasm-opt (WASM_OPT=0)");
  }
}

if (webGzip > GZIP_BUDGET) {
  console.error(`wasm-size: browser build is ${webGzip} bytes gzip, over the budget of ${GZIP_BUDGET}`);
  process.exit(1);
}
console.log(`browser build within budget: ${webGzip} <= ${GZIP_BUDGET} bytes gzip (${kb(GZIP_BUDGET - webGzip)} left)`);
