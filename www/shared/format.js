// UK formatting for the portals: dates as "25 Nov 2026", NHS numbers as
// "999 000 0018", times in the 24-hour clock, all in UK time. Pure
// functions, no DOM, so both portals and tests can use them.

const TZ = "Europe/London";
const dateFmt = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: TZ });
const timeFmt = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", hour12: false, timeZone: TZ });
const monthFmt = new Intl.DateTimeFormat("en-GB", { month: "short", year: "numeric", timeZone: "UTC" });

/** "Sept" in some ICU versions: the NHS style is the three-letter month. */
const tidy = (s) => s.replace("Sept", "Sep");

/**
 * A FHIR date or dateTime as a UK date: "2026-11-25" -> "25 Nov 2026",
 * "2026-11" -> "Nov 2026", "2026" -> "2026". Date-only values are calendar
 * dates and never shift with the time zone. Unreadable input -> "".
 */
export function formatDate(value) {
  if (typeof value !== "string" || value === "") return "";
  let m = /^(\d{4})$/.exec(value);
  if (m) return m[1];
  m = /^(\d{4})-(\d{2})$/.exec(value);
  if (m) return tidy(monthFmt.format(new Date(Date.UTC(+m[1], +m[2] - 1, 1))));
  m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (m) {
    const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
    return tidy(new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" }).format(d));
  }
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? "" : tidy(dateFmt.format(d));
}

/** A FHIR dateTime as "25 Nov 2026, 14:05" (UK time); a date alone stays a date. */
export function formatDateTime(value) {
  if (typeof value !== "string" || !value.includes("T")) return formatDate(value);
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return "";
  return `${tidy(dateFmt.format(d))}, ${timeFmt.format(d)}`;
}

/** "14:05" (UK time) for a Date or an ISO string. */
export function formatTime(value) {
  const d = value instanceof Date ? value : new Date(value);
  return Number.isNaN(d.getTime()) ? "" : timeFmt.format(d);
}

/** A FHIR period as "3 Dec 2026 to 5 Dec 2026", "from 3 Dec 2026" or "until ...". */
export function formatPeriod(p) {
  if (!p || typeof p !== "object") return "";
  const s = formatDate(p.start);
  const e = formatDate(p.end);
  if (s && e) return s === e ? s : `${s} to ${e}`;
  if (s) return `from ${s}`;
  if (e) return `until ${e}`;
  return "";
}

/** Whole years between a birth date and `now` (a Date); null when unreadable. */
export function ageOn(birthDate, now = new Date()) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(birthDate ?? "");
  if (!m) return null;
  let age = now.getUTCFullYear() - +m[1];
  const before = now.getUTCMonth() + 1 < +m[2] || (now.getUTCMonth() + 1 === +m[2] && now.getUTCDate() < +m[3]);
  if (before) age -= 1;
  return age >= 0 ? age : null;
}

/** Digits only, if `text` (spaces and hyphens allowed) is ten digits; else null. */
export function parseNhsNumber(text) {
  if (typeof text !== "string") return null;
  const digits = text.replace(/[\s-]/g, "");
  return /^\d{10}$/.test(digits) ? digits : null;
}

/** The NHS number modulus 11 check digit test. */
export function isValidNhsNumber(text) {
  const n = parseNhsNumber(text);
  if (!n) return false;
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += +n[i] * (10 - i);
  let check = 11 - (sum % 11);
  if (check === 11) check = 0;
  return check !== 10 && check === +n[9];
}

/** "9990000018" -> "999 000 0018"; anything else is returned unchanged. */
export function formatNhsNumber(text) {
  const n = parseNhsNumber(text);
  return n ? `${n.slice(0, 3)} ${n.slice(3, 6)} ${n.slice(6)}` : (text ?? "");
}

/** UCUM codes as a UK reader expects them. */
const UNITS = {
  "mm[Hg]": "mmHg",
  "[in_i]": "in",
  "[lb_av]": "lb",
  "/min": "per minute",
  "{beats}/min": "beats per minute",
  "{breaths}/min": "breaths per minute",
  "Cel": "°C",
  "kg/m2": "kg/m²",
  "10*9/L": "× 10⁹/L",
  "10*12/L": "× 10¹²/L",
  "%": "%",
  "umol/L": "µmol/L",
  "ug/L": "µg/L",
};

/** A FHIR Quantity as "138 mmHg", "58 mmol/mol", "37.2 °C". */
export function formatQuantity(q) {
  if (!q || typeof q !== "object" || q.value === undefined || q.value === null) return "";
  const code = q.code ?? q.unit ?? "";
  const unit = UNITS[code] ?? q.unit ?? q.code ?? "";
  const value = typeof q.value === "number" ? q.value.toLocaleString("en-GB", { maximumFractionDigits: 3 }) : String(q.value);
  const cmp = q.comparator ? `${q.comparator} ` : "";
  if (!unit) return `${cmp}${value}`;
  return unit === "%" ? `${cmp}${value}%` : `${cmp}${value} ${unit}`;
}

/** A HumanName as "Joseph WHITFIELD" (NHS style: family name in capitals). */
export function formatName(name) {
  if (!name || typeof name !== "object") return "";
  if (name.text && !name.family && !name.given) return name.text;
  const given = Array.isArray(name.given) ? name.given.join(" ") : "";
  const family = typeof name.family === "string" ? name.family.toUpperCase() : "";
  const prefix = Array.isArray(name.prefix) ? `${name.prefix.join(" ")} ` : "";
  return `${prefix}${given} ${family}`.trim();
}

/** Minutes as "4 hours", "90 minutes", "1 hour 30 minutes". */
export function formatMinutes(minutes) {
  const h = Math.floor(minutes / 60);
  const m = Math.round(minutes % 60);
  const hs = h ? `${h} hour${h === 1 ? "" : "s"}` : "";
  const ms = m ? `${m} minute${m === 1 ? "" : "s"}` : "";
  return [hs, ms].filter(Boolean).join(" ") || "0 minutes";
}
