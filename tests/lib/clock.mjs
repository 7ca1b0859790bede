// The clock of the suites that run against the edge (tests/worker,
// tests/portal). `TIERGATE_TEST_NOW` (an RFC 3339 instant) sets where it
// stands when the suite starts; without it, it is the real clock. It runs
// at the real rate either way. The worker under test gets the same clock
// (`clockBindings`: an offset its demo build accepts), and so do the
// browser pages (`installPageClock`), so that every "now" in a run is
// this one.
import assert from "node:assert/strict";

const setting = process.env.TIERGATE_TEST_NOW;
const target = setting ? Date.parse(setting) : null;
assert.ok(target === null || Number.isFinite(target), `TIERGATE_TEST_NOW is not a date-time: ${setting}`);

/** Milliseconds the suite's clock is ahead of the real one. */
export const offsetMs = target === null ? 0 : target - Date.now();

/** Now, in milliseconds since the epoch. */
export const nowMs = () => Date.now() + offsetMs;

/** Now, as a Date. */
export const now = () => new Date(nowMs());

/** Now, in whole seconds since the epoch (JWT claims). */
export const nowSeconds = () => Math.floor(nowMs() / 1000);


/** The instant `days` (and `ms`) from now, as RFC 3339 without milliseconds. */
export const isoIn = (days, ms = 0) => new Date(nowMs() + days * 86_400_000 + ms).toISOString().replace(/\.\d{3}Z$/, "Z");

/** Worker vars that put the edge on this clock. */
export const clockBindings = () => ({ CLOCK_OFFSET_MS: String(offsetMs) });

/** Puts a browser context on this clock (it then runs at the real rate). */
export async function installPageClock(context) {
  await context.clock.install({ time: nowMs() });
}
