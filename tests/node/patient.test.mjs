// The patient and carer portal's engine exports (issue 7) in the nodejs
// build: leaflets, reminders and their iCalendar file (parsed back with
// ical.js), the person-centred plan, proxy scopes and content lines.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";

import { Engine } from "./engine.mjs";
import { root } from "./lib/vectors.mjs";

const require = createRequire(import.meta.url);
const ICAL = require("ical.js");

const engine = new Engine();
const NOW = "2026-11-25T12:00:00Z";
const demo = (file) => readFileSync(join(root, "crates", "demo", "data", file), "utf8");
const consent = (file) => JSON.parse(demo(join("consents", file)));

/** The record as a patient-profile viewer receives it (redacted body text). */
function received(file, patient, scopes) {
  const viewer = {
    user_id: "me",
    organisation: "PATIENT",
    profile: "patient",
    purpose: "direct-care",
    training: null,
    patient,
  };
  if (scopes) viewer.proxy_scopes = scopes;
  return engine.redact(demo(file), viewer, consent(file), NOW).body;
}

function thrown(fn) {
  try {
    fn();
  } catch (e) {
    return e;
  }
  assert.fail("expected an error");
}

describe("own record and proxy scopes", () => {
  test("the person sees their own excluded entries but not a not-online one", () => {
    const body = JSON.parse(received("joe.json", "joe-patient"));
    const ids = body.entry.map((e) => e.resource.id);
    assert.ok(ids.includes("joe-complaint"));
    assert.ok(!ids.includes("joe-cxr"));
  });

  test("another person's record gives nothing", () => {
    const body = JSON.parse(received("joe.json", "susan-patient"));
    assert.equal((body.entry ?? []).length, 0);
  });

  test("an unknown proxy scope is a ViewerError naming /proxy_scopes", () => {
    const e = thrown(() => received("joe.json", "joe-patient", ["everything"]));
    assert.equal(e.name, "ViewerError");
    assert.equal(e.path, "/proxy_scopes");
  });

  test("proxyScopes lists each scope with its permits", () => {
    const scopes = JSON.parse(engine.proxyScopes());
    assert.deepEqual(
      scopes.map((s) => s.id),
      ["appointments", "record", "booking", "sharing", "access-log"],
    );
    const booking = scopes.find((s) => s.id === "booking");
    assert.deepEqual(booking.permits, ["book"]);
    assert.deepEqual(booking.content, []);
    assert.equal(engine.scopePermits(["appointments", "booking"], "book"), true);
    assert.equal(engine.scopePermits(["appointments"], "book"), false);
    assert.equal(engine.scopePermits(["nonsense"], "book"), false);
  });

  test("contentLines gives labels with segment and tier", () => {
    const lines = JSON.parse(engine.contentLines());
    const cp = lines.find((l) => l.id === "care_plans");
    assert.deepEqual(
      { segment: cp.segment, tier: cp.tier },
      { segment: "summary", tier: 3 },
    );
    assert.match(cp.label, /Care plans/);
    assert.equal(lines.length, 22);
  });
});

describe("leaflets", () => {
  test("each portal patient gets leaflets for what they were shown", () => {
    const joe = JSON.parse(engine.leaflets(received("joe.json", "joe-patient")));
    assert.ok(joe.some((l) => l.id === "type-2-diabetes"));
    assert.ok(joe.some((l) => l.id === "copd-rescue-pack"));
    const lily = JSON.parse(engine.leaflets(received("lily.json", "lily-patient")));
    const asthma = lily.find((l) => l.id === "asthma-children");
    assert.ok(asthma);
    assert.equal(asthma.kind, "video");
    assert.ok(asthma.signs_to_look_out_for.length > 0);
    assert.ok(asthma.who_to_contact.length > 0);
  });

  test("a carer with only the appointments grant gets none", () => {
    const body = received("joe.json", "joe-patient", ["appointments"]);
    assert.deepEqual(JSON.parse(engine.leaflets(body)), []);
  });
});

describe("reminders and iCalendar", () => {
  const lilyBody = received("lily.json", "lily-patient", ["appointments", "booking"]);

  test("reminders lists Lily's appointments and tasks, soonest first", () => {
    const list = JSON.parse(engine.reminders(lilyBody, NOW));
    assert.deepEqual(
      list.map((r) => r.source),
      [
        "CarePlan/lily-asthma-plan",
        "CarePlan/lily-asthma-plan",
        "Appointment/lily-appt-immunisation",
        "Appointment/lily-appt-asthma-review",
      ],
    );
    const jab = list[2];
    assert.equal(jab.start, "2026-12-09T15:30:00Z");
    assert.equal(jab.location, "Treatment room, Allerton Road Surgery");
  });

  test("the .ics parses with ical.js: events, times, RRULE and alarms", () => {
    const text = engine.ics(lilyBody, NOW, "Lily's reminders, from the portal");
    for (const line of text.split("\r\n")) {
      assert.ok(Buffer.byteLength(line, "utf8") <= 75, `line over 75 octets: ${line}`);
    }
    assert.ok(text.endsWith("END:VCALENDAR\r\n"));
    const cal = new ICAL.Component(ICAL.parse(text));
    assert.equal(cal.getFirstPropertyValue("version"), "2.0");
    assert.ok(cal.getFirstPropertyValue("prodid"));
    // An X- property is TEXT by default (RFC 5545 3.8.8.2) and escaped as
    // TEXT; ical.js leaves unknown properties undecoded.
    assert.ok(text.includes("X-WR-CALNAME:Lily's reminders\\, from the portal\r\n"));
    const events = cal.getAllSubcomponents("vevent").map((c) => new ICAL.Event(c));
    assert.equal(events.length, 4);
    const jab = events.find((e) => e.uid === "appointment-lily-appt-immunisation@tiergate.example");
    assert.ok(jab);
    assert.equal(jab.summary, "Pre-school booster immunisations");
    assert.equal(jab.location, "Treatment room, Allerton Road Surgery");
    assert.equal(jab.startDate.toJSDate().toISOString(), "2026-12-09T15:30:00.000Z");
    assert.equal(jab.endDate.toJSDate().toISOString(), "2026-12-09T15:45:00.000Z");
    assert.ok(!jab.isRecurring());

    const weekly = events.find((e) => e.summary === "Wash the spacer and let it air-dry");
    assert.ok(weekly.isRecurring());
    const rule = weekly.component.getFirstPropertyValue("rrule");
    assert.equal(rule.freq, "WEEKLY");
    // The next occurrences after `now`, from the recurrence itself.
    const it = weekly.iterator();
    let next;
    const now = ICAL.Time.fromDateTimeString("2026-11-25T12:00:00Z");
    while ((next = it.next()) && next.compare(now) < 0);
    assert.equal(next.toJSDate().toISOString(), "2026-11-28T10:00:00.000Z");

    for (const e of events) {
      const alarms = e.component.getAllSubcomponents("valarm");
      assert.equal(alarms.length, 1);
      assert.equal(alarms[0].getFirstPropertyValue("action"), "DISPLAY");
      const trigger = alarms[0].getFirstPropertyValue("trigger");
      assert.ok(trigger.isNegative, "alarm before the event");
    }
    const dtstamps = new Set(events.map((e) => e.component.getFirstPropertyValue("dtstamp").toString()));
    assert.deepEqual([...dtstamps], ["2026-11-25T12:00:00Z"]);
  });

  test("long and special text survives folding and escaping", () => {
    const record = JSON.stringify({
      resourceType: "Appointment",
      id: "a1",
      status: "booked",
      start: "2026-12-01T10:00:00Z",
      end: "2026-12-01T10:30:00Z",
      serviceType: [{ text: "Clinic; room 3, \\ level 2 — café ☕ ".repeat(4).trim() }],
      description: "Line one\nline two",
    });
    const text = engine.ics(record, NOW, "x");
    const event = new ICAL.Event(new ICAL.Component(ICAL.parse(text)).getFirstSubcomponent("vevent"));
    assert.equal(event.summary, "Clinic; room 3, \\ level 2 — café ☕ ".repeat(4).trim());
    assert.equal(event.description, "Line one\nline two");
  });
});

describe("person-centred plan", () => {
  const fields = {
    preferred_name: "Lily",
    emergency_wishes: "Mum (Grace) stays with me.",
    preferences: ["A female doctor", "Explain things to me too, not only to Mum"],
    goals: [{ text: "Use my spacer by myself", set_with: "asthma nurse", due: "2027-06-30" }],
  };

  test("planToCarePlan and planFromCarePlan round-trip", () => {
    const careplan = JSON.parse(engine.planToCarePlan("lily-patient", fields, "2026-11-25T12:00:00Z"));
    assert.equal(careplan.resourceType, "CarePlan");
    assert.equal(careplan.id, "pcp-lily-patient");
    assert.equal(careplan.subject.reference, "Patient/lily-patient");
    assert.deepEqual(JSON.parse(engine.planFromCarePlan(careplan)), fields);
    // Professionals see it in Summary tier 3.
    const c = engine.classify(careplan);
    assert.equal(c.rule, "care-plan.person-centred");
    assert.deepEqual(c.placements, [{ segment: "summary", tier: 3, content: "care_plans" }]);
  });

  test("the demo plans read back", () => {
    const body = JSON.parse(demo("susan.json"));
    const pcp = body.entry.find((e) => e.resource.id === "pcp-susan-patient").resource;
    const plan = JSON.parse(engine.planFromCarePlan(JSON.stringify(pcp)));
    assert.ok(plan.preferences.includes("A female doctor"));
  });

  test("bad fields are a PlanError naming the field, not the text", () => {
    const e = thrown(() =>
      engine.planToCarePlan("lily-patient", { preferences: ["ok", "bad\u0007secret"] }, NOW),
    );
    assert.equal(e.name, "PlanError");
    assert.equal(e.path, "/preferences/1");
    assert.ok(!e.message.includes("secret"));
    const notPlan = thrown(() => engine.planFromCarePlan({ resourceType: "CarePlan", id: "x" }));
    assert.equal(notPlan.name, "PlanError");
  });
});
