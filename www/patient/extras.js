// Leaflets and videos matched to the record, reminders (list, .ics
// download, send to me and my carers) and the demo outbox. Matching and
// reminders run in the page's engine over the record the edge returned
// for this person, so nobody is told of anything they may not see.
import { request } from "../shared/api.js";
import { focusHeading, h, replace } from "../shared/dom.js";
import { formatDate, formatDateTime } from "../shared/format.js";
import { contextBanner } from "./record.js";
import { loadEngine } from "../shared/engine.js";
import { authLost, engineWith, errorText, fromEngine, record, statusBox } from "./ui.js";

const UNAVAILABLE = "This part of the service is not available in this version yet.";

const asList = (v) => (Array.isArray(v) ? v : v == null ? [] : [v]);

function contactText(c) {
  if (typeof c === "string") return c;
  if (!c || typeof c !== "object") return "";
  return [c.name ?? c.who ?? c.display, c.when ?? c.reason, c.phone ?? c.telecom ?? c.contact].filter(Boolean).join(": ");
}

function leafletCard(l) {
  const kind = String(l.kind ?? "leaflet").toLowerCase();
  return h(
    "li",
    { class: "card leaflet", "data-leaflet": l.id },
    h("p", {}, h("span", { class: "kind" }, kind === "video" ? "Video" : "Leaflet")),
    h("h2", { class: "entry-title" }, l.title),
    l.summary ? h("p", {}, l.summary) : null,
    l.for_whom ? h("p", { class: "hint" }, `Who it is for: ${l.for_whom}`) : null,
    asList(l.signs_to_look_out_for).length
      ? h("div", { class: "signs" }, h("h3", {}, "Signs to look out for"), h("ul", {}, asList(l.signs_to_look_out_for).map((s) => h("li", {}, typeof s === "string" ? s : (s.text ?? JSON.stringify(s))))))
      : null,
    asList(l.who_to_contact).length ? h("div", { class: "contact" }, h("h3", {}, "Who to contact"), h("ul", {}, asList(l.who_to_contact).map((c) => h("li", {}, contactText(c))))) : null,
  );
}

export async function leafletsView(root, { who, patient, standing, onAuthLost, canSwitch }) {
  const heading = h("h1", {}, "Leaflets and videos for you");
  const banner = contextBanner(who, patient, standing, canSwitch);
  replace(root, heading, banner, statusBox("loading", "Finding leaflets and videos…"));
  root.dataset.state = "loading";
  let list;
  try {
    const [rec, engine] = await Promise.all([record(patient), engineWith("leaflets")]);
    list = fromEngine(engine.leaflets(rec.text)) ?? [];
  } catch (e) {
    if (authLost(e)) return onAuthLost();
    replace(root, heading, banner, statusBox("error", e?.unavailable ? UNAVAILABLE : errorText(e), () => leafletsView(root, { who, patient, standing, onAuthLost, canSwitch })));
    root.dataset.state = "error";
    return;
  }
  replace(
    root,
    heading,
    banner,
    h("p", {}, "Chosen for the conditions in the record. They are written to help you understand your health and know when to get help."),
    list.length ? h("ul", { class: "leaflets", id: "leaflets" }, list.map(leafletCard)) : statusBox("empty", "There are no leaflets or videos matched to this record yet."),
  );
  root.dataset.state = "loaded";
  focusHeading(heading);
}

const FREQ = { DAILY: "Every day", WEEKLY: "Every week", MONTHLY: "Every month", YEARLY: "Every year" };

/** "Every week", "Every 2 weeks" from an RFC 5545 rule; "" when it cannot be read. */
export function repeatText(rrule) {
  if (typeof rrule !== "string") return "";
  const parts = Object.fromEntries(rrule.split(";").map((p) => p.split("=")));
  const base = FREQ[parts.FREQ];
  if (!base) return "Repeats";
  const n = Number(parts.INTERVAL ?? 1);
  if (n > 1) return `Every ${n} ${base.replace("Every ", "").replace("day", "days").replace("week", "weeks").replace("month", "months").replace("year", "years")}`;
  return base;
}

const whenText = (v) => (typeof v === "string" && v.includes("T") ? formatDateTime(v) : formatDate(String(v ?? "")));

/** One reminder from the engine: {uid, kind, summary, description?, location?, start, end?, rrule?, next, ...}. */
function reminderItem(r) {
  const title = r.summary ?? r.title ?? "Reminder";
  const when = r.next ?? r.start;
  const repeat = repeatText(r.rrule);
  return h(
    "li",
    { class: "entry reminder", "data-reminder": r.uid ?? title, "data-kind": r.kind ?? "" },
    h("h2", { class: "entry-title" }, title),
    h("p", { class: "entry-meta" }, when ? h("span", { class: "entry-date" }, r.rrule ? `Next: ${whenText(when)}` : whenText(when)) : null, h("span", {}, r.kind === "appointment" ? "Appointment" : "Something to do"), repeat ? h("span", {}, repeat) : null),
    r.location ? h("p", {}, `Where: ${r.location}`) : null,
    r.description && r.description !== title ? h("p", { class: "note" }, r.description) : null,
  );
}

export async function remindersView(root, { who, patient, standing, onAuthLost, canSwitch }) {
  const heading = h("h1", {}, "Reminders");
  const banner = contextBanner(who, patient, standing, canSwitch);
  replace(root, heading, banner, statusBox("loading", "Working out your reminders…"));
  root.dataset.state = "loading";
  let list = null;
  let ics;
  let unavailable = false;
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
  try {
    const [rec, engine] = await Promise.all([record(patient), loadEngine()]);
    if (typeof engine.reminders !== "function") unavailable = true;
    else {
      list = fromEngine(engine.reminders(rec.text, now)) ?? [];
      if (typeof engine.ics === "function") ics = engine.ics(rec.text, now, "Health and care reminders");
    }
  } catch (e) {
    if (authLost(e)) return onAuthLost();
    replace(root, heading, banner, statusBox("error", errorText(e), () => remindersView(root, { who, patient, standing, onAuthLost, canSwitch })));
    root.dataset.state = "error";
    return;
  }
  const parts = [heading, banner, h("p", {}, "Upcoming appointments and things to do, from the record and care plans.")];
  if (unavailable) parts.push(statusBox("empty", "Reminders cannot be listed in this version of the service yet."));
  else parts.push(list.length ? h("ul", { class: "entries", id: "reminders", role: "list" }, list.map(reminderItem)) : statusBox("empty", "There are no upcoming appointments or reminders."));
  if (list?.length && typeof ics === "string") {
    const url = URL.createObjectURL(new Blob([ics], { type: "text/calendar;charset=utf-8" }));
    parts.push(
      h(
        "section",
        { class: "card", "aria-labelledby": "calendar-title" },
        h("h2", { id: "calendar-title" }, "Add to your calendar"),
        h("p", {}, "Download a calendar file (.ics) that works with most calendar apps."),
        h("a", { href: url, download: "tiergate-reminders.ics", id: "ics-download", class: "button secondary" }, "Download reminders (.ics)"),
      ),
    );
  }
  if (standing.kind === "own") {
    const msg = h("div", { id: "send-result", "aria-live": "polite" });
    const button = h("button", { type: "button", class: "button primary", id: "send-reminders" }, "Send reminders to me and my carers");
    button.addEventListener("click", async () => {
      button.disabled = true;
      replace(msg, statusBox("loading", "Sending…"));
      try {
        const r = await request(`/reminders/Patient/${encodeURIComponent(patient)}/send`, { method: "POST", body: {} });
        const sent = r.body?.sent ?? [];
        replace(
          msg,
          sent.length
            ? h(
                "div",
                { class: "notice notice-info", role: "status" },
                h("p", {}, r.body.delivered ? "Reminders sent:" : "Reminders recorded, but not every message could be delivered yet:"),
                h("ul", { id: "sent-list" }, sent.map((s) => h("li", {}, `${s.to} (${s.role === "carer" ? "carer" : "you"}): ${s.reminders} reminder${s.reminders === 1 ? "" : "s"}`))),
                h("p", {}, h("a", { href: "#/outbox", id: "outbox-link" }, "See the messages in the demo outbox")),
              )
            : statusBox("empty", "There was nothing to send."),
        );
      } catch (e) {
        if (authLost(e)) return onAuthLost();
        replace(msg, h("p", { class: "error", role: "alert" }, errorText(e, "Only the person themself can send reminders.")));
      } finally {
        button.disabled = false;
      }
    });
    parts.push(h("section", { class: "card", "aria-labelledby": "send-title" }, h("h2", { id: "send-title" }, "Send reminders"), h("p", {}, "We will send you, and each carer you have given access to, the reminders they are allowed to see."), button, msg));
  }
  replace(root, ...parts);
  root.dataset.state = "loaded";
  focusHeading(heading);
}

export async function outboxView(root, { onAuthLost }) {
  const heading = h("h1", {}, "Demo outbox");
  replace(root, heading, statusBox("loading", "Loading messages…"));
  root.dataset.state = "loading";
  let messages;
  try {
    messages = (await request("/demo/outbox", { auth: false })).body?.messages ?? [];
  } catch (e) {
    if (authLost(e)) return onAuthLost();
    replace(root, heading, statusBox("error", e?.status === 404 ? "The outbox is only available in demo mode." : errorText(e), () => outboxView(root, { onAuthLost })));
    root.dataset.state = "error";
    return;
  }
  const note = h("p", {}, "In the demo, messages are not sent by email or text: they are kept here so you can see what would have been sent.");
  if (!messages.length) {
    replace(root, heading, note, statusBox("empty", "No messages yet."));
    root.dataset.state = "loaded";
    return;
  }
  replace(
    root,
    heading,
    note,
    h(
      "ul",
      { class: "entries", id: "outbox", role: "list" },
      messages.map((m) => {
        const to = m.message?.to ?? {};
        const rems = asList(m.message?.reminders);
        return h(
          "li",
          { class: "message", "data-recipient": m.recipient ?? "", "data-role": to.role ?? "" },
          h("h2", { class: "entry-title" }, `To ${to.name ?? m.recipient ?? "someone"} (${to.role === "carer" ? "carer" : "patient"})`),
          h("p", { class: "entry-meta" }, h("span", {}, formatDateTime(m.recorded)), h("span", {}, `by ${m.channel}`)),
          m.message?.subject ? h("p", {}, h("strong", {}, m.message.subject)) : null,
          rems.length ? h("ul", {}, rems.map((r) => h("li", {}, r.summary ?? r.title ?? "Reminder", r.next || r.start ? `: ${whenText(r.next ?? r.start)}` : ""))) : null,
        );
      }),
    ),
  );
  root.dataset.state = "loaded";
  focusHeading(heading);
}
