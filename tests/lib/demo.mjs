// The demo data as the edge should serve it on the suite's clock, worked
// out here on its own: the files under crates/demo/data are written as
// they stood at ANCHOR, and a demo running later moves every date forward
// by the whole days since (rounded down). This is the tests' reading of
// that rule, written apart from the Rust that implements it, so the two
// check each other.
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { root } from "../node/lib/vectors.mjs";
import { nowMs } from "./clock.mjs";

/** The instant the demo data files are written at. */
export const ANCHOR = Date.parse("2026-11-25T12:00:00Z");
export const dataDir = join(root, "crates", "demo", "data");

const DAY = 86_400_000;
const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

/** Whole days the demo has moved at `ms` (the suite's clock by default). */
export const demoDays = (ms = nowMs()) => Math.floor((ms - ANCHOR) / DAY);

const pad = (n, w = 2) => String(n).padStart(w, "0");
const isRealDate = (y, m, d) => {
  const t = new Date(Date.UTC(y, m - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
};
const plusDays = (y, m, d, days) => {
  const t = new Date(Date.UTC(y, m - 1, d) + days * DAY);
  return [t.getUTCFullYear(), t.getUTCMonth() + 1, t.getUTCDate()];
};

/** One string with its dates moved by `days` (see the Rust `shift` module for the same rule). */
export function moveString(s, days) {
  if (days === 0) return s;
  let m = /^(\d{4})-(\d{2})-(\d{2})(T[0-9:.Z+-]+)?$/.exec(s);
  if (m && isRealDate(+m[1], +m[2], +m[3])) {
    const [y, mo, d] = plusDays(+m[1], +m[2], +m[3], days);
    return `${pad(y, 4)}-${pad(mo)}-${pad(d)}${m[4] ?? ""}`;
  }
  m = /^(\d{4})-(\d{2})$/.exec(s);
  if (m && +m[2] >= 1 && +m[2] <= 12) {
    const [y, mo] = plusDays(+m[1], +m[2], 15, days);
    return `${pad(y, 4)}-${pad(mo)}`;
  }
  // Dates written into text: "November 2026", "2025-10", "2025-10-03", as words.
  const inYears = (y) => y >= 1900 && y < 2100;
  return s
    .replace(new RegExp(`(?<![\\p{L}\\p{N}-])(${MONTHS.join("|")}) (\\d{4})(?![\\p{L}\\p{N}])`, "gu"), (all, name, year) => {
      if (!inYears(+year)) return all;
      const [y, mo] = plusDays(+year, MONTHS.indexOf(name) + 1, 15, days);
      return `${MONTHS[mo - 1]} ${pad(y, 4)}`;
    })
    .replace(/(?<![\p{L}\p{N}-])(\d{4})-(\d{2})(?:-(\d{2}))?(?![\p{L}\p{N}-])/gu, (all, year, month, day) => {
      if (!inYears(+year) || +month < 1 || +month > 12) return all;
      if (day === undefined) {
        const [y, mo] = plusDays(+year, +month, 15, days);
        return `${pad(y, 4)}-${pad(mo)}`;
      }
      if (!isRealDate(+year, +month, +day)) return all;
      const [y, mo, d] = plusDays(+year, +month, +day, days);
      return `${pad(y, 4)}-${pad(mo)}-${pad(d)}`;
    });
}

/** A parsed JSON value with every date moved by `days`. */
export function moveValue(v, days) {
  if (typeof v === "string") return moveString(v, days);
  if (Array.isArray(v)) return v.map((x) => moveValue(x, days));
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, moveValue(x, days)]));
  return v;
}

/** A JSON text with every date moved (as a value). */
export const moveJson = (text, days = demoDays()) => moveValue(JSON.parse(text), days);

/** A demo data file (path under crates/demo/data) as the edge serves it now. */
export const demoFile = (path, days = demoDays()) => moveJson(readFileSync(join(dataDir, path), "utf8"), days);

/** A demo professional's viewer file, as now, without a break-glass statement. */
export function demoViewer(key, days = demoDays()) {
  const v = demoFile(join("viewers", `${key}.json`), days);
  delete v.break_glass;
  return v;
}
