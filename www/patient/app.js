// The patient and carer portal: sign in (demo people in demo mode), choose
// whose record to open (your own, or someone who gave you access), then the
// record and what you can do with it. Views are chosen by the URL hash
// (#/record, #/sharing, ...) so the back button works. The edge decides
// what anyone may see; this page only shows what it returned.
import { demoSignIn, demoUsers } from "../shared/api.js";
import { focusHeading, h, replace } from "../shared/dom.js";
import { accessView, bookView, carersView } from "./people.js";
import { leafletsView, outboxView, remindersView } from "./extras.js";
import { recordView } from "./record.js";
import { sharingView } from "./sharing.js";
import { authLost, current, errorText, forgetMe, me, scopeNames, session, standingFor, statusBox } from "./ui.js";

// Replaced by a fresh element on every navigation, so a view still loading
// from an earlier navigation writes only to the element it was given,
// never over the current one.
let view = document.getElementById("view");
const account = document.getElementById("account");
const sections = document.getElementById("sections");
/** The first view of a page load keeps focus at the top (where the skip link is). */
let initial = true;

/** Every section: hash, link text, what it needs (a permit, or the person themself). */
const SECTIONS = [
  { hash: "#/record", text: "My record", view: recordView },
  { hash: "#/leaflets", text: "Leaflets and videos", view: leafletsView },
  { hash: "#/reminders", text: "Reminders", view: remindersView },
  { hash: "#/sharing", text: "Sharing choices", view: sharingView, needs: "manage-sharing" },
  { hash: "#/access", text: "Who has looked", view: accessView, needs: "view-access-log" },
  { hash: "#/carers", text: "Carers and access", view: carersView, needs: "manage-proxies" },
  { hash: "#/book", text: "Book", view: bookView, needs: "book" },
  { hash: "#/outbox", text: "Demo outbox", view: outboxView, always: true },
];

function setTitle(text) {
  document.title = `${text}: your health and care record`;
}

function renderAccount(who) {
  if (!who) {
    account.replaceChildren();
    return;
  }
  replace(
    account,
    h("p", { class: "signed-in" }, "Signed in as ", h("strong", { id: "signed-in-name" }, who.name ?? "you")),
    h("button", { type: "button", class: "button secondary", id: "sign-out", on: { click: signOut } }, "Sign out"),
  );
}

function renderSections(standing) {
  if (!standing) {
    sections.hidden = true;
    sections.replaceChildren();
    return;
  }
  const here = location.hash || "#/record";
  const items = SECTIONS.filter((s) => s.always || !s.needs || standing.permits.has(s.needs));
  replace(
    sections,
    h(
      "ul",
      {},
      items.map((s) => h("li", {}, h("a", { href: s.hash, "aria-current": here.startsWith(s.hash) ? "page" : null }, s.text))),
    ),
  );
  sections.hidden = false;
}

function signOut() {
  session.clear();
  current.clear();
  forgetMe();
  location.hash = "";
  route();
}

function onAuthLost() {
  session.clear();
  current.clear();
  forgetMe();
  route({ notice: "Your session has ended. Sign in again." });
}

async function signInView({ notice } = {}) {
  setTitle("Sign in");
  view.dataset.view = "sign-in";
  renderAccount(null);
  renderSections(null);
  const heading = h("h1", {}, "Sign in");
  const note = notice ? h("p", { class: "notice notice-info", role: "status" }, notice) : null;
  replace(view, heading, note, statusBox("loading", "Loading sign-in options…"));
  view.dataset.state = "loading";
  const here = view;
  let people;
  try {
    people = (await demoUsers()).body.citizens ?? [];
    if (here !== view) return;
  } catch (e) {
    if (here !== view) return;
    const msg = e?.status === 404 ? "Sign-in with NHS login is not set up for this site, and demo sign-in is off." : errorText(e);
    replace(view, heading, statusBox("error", msg, () => signInView()));
    view.dataset.state = "error";
    return;
  }
  if (!people.length) {
    replace(view, heading, statusBox("empty", "There are no demo people to sign in as."));
    return;
  }
  const select = h("select", { id: "citizen", name: "user", required: true }, people.map((u) => h("option", { value: u.key }, u.name)));
  const msg = h("div", { class: "form-message", "aria-live": "polite" });
  const button = h("button", { type: "submit", class: "button primary", id: "sign-in" }, "Sign in");
  const form = h(
    "form",
    {
      id: "sign-in-form",
      class: "card",
      on: {
        submit: async (ev) => {
          ev.preventDefault();
          const user = people.find((u) => u.key === select.value);
          if (!user) return;
          button.disabled = true;
          msg.replaceChildren(statusBox("loading", "Signing in…"));
          try {
            await demoSignIn(user);
          } catch (e) {
            button.disabled = false;
            msg.replaceChildren(h("p", { class: "error", role: "alert" }, errorText(e)));
            return;
          }
          current.clear();
          forgetMe();
          location.hash = "#/";
          route();
        },
      },
    },
    h("p", {}, "This is a demonstration. Choose a person to sign in as. In the real service you would sign in with NHS login."),
    h("div", { class: "field" }, h("label", { for: "citizen" }, "Sign in as"), select),
    button,
    msg,
  );
  replace(view, heading, note, form);
  view.dataset.state = "ready";
  if (!initial || notice) focusHeading(heading);
}

/** Whose record: the person's own and everyone who gave them access. */
function chooserView(who) {
  setTitle("Whose record");
  view.dataset.view = "choose";
  renderSections(null);
  const heading = h("h1", {}, "Whose record do you want to see?");
  const open = (patient) => {
    current.set(patient);
    location.hash = "#/record";
  };
  const items = [];
  if (who.patient) items.push(h("li", {}, h("button", { type: "button", class: "button primary", id: "open-own", on: { click: () => open(who.patient) } }, "My own record")));
  for (const g of who.acting_for ?? []) {
    items.push(
      h(
        "li",
        { class: "card" },
        h("button", { type: "button", class: "button secondary", id: `open-${g.patient}`, "data-patient": g.patient, on: { click: () => open(g.patient) } }, `${g.patient_name ?? `Record ${g.patient}`}: you act for this person`),
        h("p", { class: "hint" }, g.scopes.length ? `What they let you do: ${scopeNames(who, g.scopes).join("; ")}. Until ${g.expires}.` : `Nothing for now. Until ${g.expires}.`),
        (g.awaiting_agreement ?? []).length
          ? h("p", { class: "hint", "data-awaiting": g.awaiting_agreement.join(" ") }, `Waiting for ${g.patient_name ?? "them"} to agree, at their age: ${scopeNames(who, g.awaiting_agreement).join("; ")}.`)
          : null,
      ),
    );
  }
  if (!items.length) {
    replace(view, heading, statusBox("empty", "You do not have a record here, and nobody has given you access to theirs."));
    view.dataset.state = "empty";
    focusHeading(heading);
    return;
  }
  replace(view, heading, h("ul", { class: "who-list" }, items));
  view.dataset.state = "ready";
  focusHeading(heading);
}

async function route({ notice } = {}) {
  const fresh = view.cloneNode(false);
  view.replaceWith(fresh);
  view = fresh;
  const here = view;
  const hashNow = location.hash || "#/";
  view.dataset.state = "loading";
  view.dataset.view = (SECTIONS.find((x) => hashNow.startsWith(x.hash))?.hash ?? hashNow).replace("#/", "") || "start";
  const s = session.get();
  if (!s) return signInView({ notice });
  let who;
  try {
    who = await me();
    if (here !== view) return;
  } catch (e) {
    if (here !== view) return;
    if (authLost(e)) return onAuthLost();
    renderAccount(null);
    replace(view, h("h1", {}, "Your record"), statusBox("error", errorText(e), () => route()));
    view.dataset.state = "error";
    return;
  }
  renderAccount(who);
  const hash = location.hash || "#/";
  if (hash.startsWith("#/outbox")) {
    renderSections(standingFor(who, current.get()) ?? { permits: new Set() });
    setTitle("Demo outbox");
    view.dataset.view = "outbox";
    return outboxView(view, { who, onAuthLost });
  }
  if (hash === "#/choose") return chooserView(who);
  let patient = current.get();
  if (!patient || !standingFor(who, patient)) {
    const options = (who.patient ? 1 : 0) + (who.acting_for ?? []).length;
    if (options === 1) {
      patient = who.patient ?? who.acting_for[0].patient;
      current.set(patient);
    } else {
      return chooserView(who);
    }
  }
  const standing = standingFor(who, patient);
  const section = SECTIONS.find((x) => hash.startsWith(x.hash)) ?? SECTIONS[0];
  renderSections(standing);
  setTitle(section.text);
  view.dataset.view = section.hash.slice(2);
  const options = (who.patient ? 1 : 0) + (who.acting_for ?? []).length;
  return section.view(view, { who, patient, standing, onAuthLost, canSwitch: options > 1 });
}

window.addEventListener("hashchange", () => route());
route().finally(() => {
  initial = false;
});
