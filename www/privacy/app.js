// The privacy officer page: sign in (the demo privacy officer in demo
// mode), then five sections chosen by the URL hash so that the back button
// and a reload keep the view and its filters: alerts (#/alerts?...),
// break-glass cases (#/cases?...), individual approvals (#/approvals?...),
// audit export (#/export?...) and
// monitoring (#/monitoring). The officer's profile has no clinical access:
// the edge answers only audit metadata, and this page never asks for more.
import { ApiError, demoSignIn, demoUsers, session } from "../shared/api.js";
import { focusHeading, h, inPageLinks, replace } from "../shared/dom.js";
import { profileName } from "../shared/labels.js";
import { alertsView } from "./alerts.js";
import { approvalsView } from "./approvals.js";
import { casesView } from "./cases.js";
import { exportView } from "./export.js";
import { monitoringView } from "./monitoring.js";
import { errorText, statusBox } from "./ui.js";

const OFFICER = { key: "privacy-officer", name: "Privacy officer", profile: "privacy-officer", organisation: "" };

const SECTIONS = [
  { id: "alerts", name: "Alerts", render: alertsView },
  { id: "cases", name: "Break-glass cases", render: casesView },
  { id: "approvals", name: "Approvals", render: approvalsView },
  { id: "export", name: "Audit export", render: exportView },
  { id: "monitoring", name: "Monitoring", render: monitoringView },
];

const view = document.getElementById("view");
const account = document.getElementById("account");
const sections = document.getElementById("sections");
/** Focus moves to each new view's heading, but not on first load (the skip link comes first). */
let firstView = true;

function focusView(el) {
  if (firstView) firstView = false;
  else focusHeading(el);
}

function setTitle(text) {
  document.title = `${text}: privacy officer`;
}

function displayProfile(id) {
  return id === "privacy-officer" ? "Privacy officer" : profileName(id);
}

function renderAccount() {
  const s = session.get();
  if (!s) {
    account.replaceChildren();
    return;
  }
  const u = s.user ?? {};
  replace(
    account,
    h("p", { class: "signed-in" }, "Signed in as ", h("strong", { id: "signed-in-name" }, u.name ?? "user"), u.profile ? `, ${displayProfile(u.profile)}` : "", u.organisation ? `, ${u.organisation}` : ""),
    h("button", { type: "button", class: "button secondary", id: "sign-out", on: { click: signOut } }, "Sign out"),
  );
}

function renderSections(current) {
  if (!session.get() || !current) {
    sections.hidden = true;
    sections.replaceChildren();
    return;
  }
  sections.hidden = false;
  replace(
    sections,
    h(
      "ul",
      {},
      SECTIONS.map((s) => h("li", {}, h("a", { href: `#/${s.id}`, id: `tab-${s.id}`, "aria-current": s.id === current ? "page" : null }, s.name))),
    ),
  );
}

function signOut() {
  session.clear();
  history.replaceState(null, "", location.pathname);
  route();
}

function authLost() {
  session.clear();
  route({ notice: "Your session has ended. Sign in again." });
}

/** A practitioner (or anyone without audit access) signed in here: say so plainly. */
function notPermitted() {
  setTitle("Not permitted");
  renderSections(null);
  const heading = h("h1", {}, "Not permitted");
  view.dataset.view = "forbidden";
  view.dataset.state = "forbidden";
  replace(
    view,
    heading,
    h(
      "div",
      { class: "notice notice-danger", role: "alert", id: "not-permitted" },
      h("p", {}, h("strong", {}, "You are not permitted to use the privacy officer page.")),
      h("p", {}, "It is for privacy officers, who investigate access to shared records. It shows audit metadata only. Your account does not have audit access: sign out and sign in as a privacy officer."),
    ),
    h("button", { type: "button", class: "button primary", on: { click: signOut } }, "Sign out"),
  );
  focusHeading(heading);
}

async function signInView({ notice } = {}) {
  setTitle("Sign in");
  renderSections(null);
  view.dataset.view = "sign-in";
  view.dataset.state = "loading";
  const heading = h("h1", {}, "Privacy officer sign in");
  const note = notice ? h("p", { class: "notice notice-info", role: "status" }, notice) : null;
  replace(view, heading, note, statusBox("loading", "Loading sign-in options…"));
  let users;
  try {
    users = (await demoUsers()).body.users ?? [];
  } catch (e) {
    view.dataset.state = "error";
    const msg = e instanceof ApiError && e.status === 404 ? "Sign-in through your organisation's identity service is not set up for this site, and demo sign-in is off." : errorText(e);
    replace(view, heading, note, statusBox("error", msg, () => signInView({ notice })));
    return;
  }
  // The privacy officer first; the practitioners too, so the demo can show that they are refused.
  const officer = users.find((u) => u.key === OFFICER.key) ?? OFFICER;
  const others = users.filter((u) => u.key !== OFFICER.key);
  const label = (u) => (u.key === OFFICER.key ? `${u.name ?? OFFICER.name}: privacy officer (audit metadata only)` : `${u.name}: ${displayProfile(u.profile)}, ${u.organisation}`);
  const select = h(
    "select",
    { id: "demo-user", name: "user", required: true, "aria-describedby": "demo-user-hint" },
    [officer, ...others].map((u) => h("option", { value: u.key }, label(u))),
  );
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
          const u = [officer, ...others].find((x) => x.key === select.value);
          if (!u) return;
          button.disabled = true;
          msg.replaceChildren(h("p", { role: "status" }, "Signing in…"));
          try {
            await demoSignIn({ key: u.key, name: u.name ?? OFFICER.name, profile: u.profile ?? OFFICER.profile, organisation: u.organisation ?? "" });
          } catch (e) {
            button.disabled = false;
            msg.replaceChildren(h("p", { class: "error", role: "alert" }, errorText(e)));
            return;
          }
          if (!location.hash.startsWith("#/")) history.replaceState(null, "", "#/alerts");
          route();
        },
      },
    },
    h("p", {}, "Demo mode: sign in as the demo privacy officer. The privacy officer's profile gives no access to any record's content, only to the audit: alerts, break-glass cases, exports and monitoring."),
    h("div", { class: "field" }, h("label", { for: "demo-user" }, "Demo user"), h("p", { class: "hint", id: "demo-user-hint" }, "Practitioners are listed too: the page refuses them."), select),
    button,
    msg,
  );
  view.dataset.state = "ready";
  replace(view, heading, note, form);
  focusView(heading);
}

/** "#/cases?status=escalated" -> {section: "cases", filters: {status: "escalated"}}. */
function parseHash() {
  const m = /^#\/([a-z-]+)(?:\?(.*))?$/.exec(location.hash);
  const section = SECTIONS.find((s) => s.id === m?.[1]) ?? SECTIONS[0];
  const filters = Object.fromEntries(new URLSearchParams(m?.[2] ?? ""));
  return { section, filters };
}

/** Sets the hash for a section and its filters; the hashchange renders it. */
function navigate(sectionId, filters = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(filters)) if (v) q.set(k, v);
  const hash = `#/${sectionId}${q.toString() ? `?${q}` : ""}`;
  if (location.hash === hash) route({ keepFocusOnResults: true });
  else location.hash = hash;
}

let generation = 0;

function route(opts = {}) {
  renderAccount();
  if (!session.get()) return signInView(opts);
  const { section, filters } = parseHash();
  const mine = ++generation;
  setTitle(section.name);
  renderSections(section.id);
  view.dataset.view = section.id;
  view.dataset.state = "loading";
  // Each rendering is numbered, so a reader (or a test) can tell a new answer from the last one.
  view.dataset.render = String(mine);
  const focus = !firstView;
  firstView = false;
  return section.render(view, {
    filters,
    focus,
    navigate: (f) => navigate(section.id, f),
    isCurrent: () => mine === generation,
    onAuthLost: authLost,
    onForbidden: notPermitted,
  });
}

inPageLinks();
window.addEventListener("hashchange", () => {
  if (location.hash === "" || location.hash.startsWith("#/")) route();
});
route();
