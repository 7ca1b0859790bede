// The practitioner portal: sign in (demo users in demo mode), find a
// patient, open the shared record. Views are chosen by the URL hash
// (#/ search, #/patient/{id} record, #/cases my break-glass cases) so the
// browser's back button works.
import { ApiError, demoSignIn, demoUsers, findPatients, session } from "../shared/api.js";
import { focusHeading, h, inPageLinks, replace } from "../shared/dom.js";
import { nhsNumberOf, personName } from "../shared/fhir.js";
import { formatDate, formatNhsNumber, isValidNhsNumber, parseNhsNumber } from "../shared/format.js";
import { profileName } from "../shared/labels.js";
import { casesView } from "./cases.js";
import { errorText, showRecord, statusBox } from "./record.js";

const view = document.getElementById("view");
const account = document.getElementById("account");
/** Focus moves to each new view's heading, but not on first load (the skip link comes first). */
let firstView = true;
function focusView(el) {
  if (firstView) firstView = false;
  else focusHeading(el);
}
/** Patients seen in search results this session (for the banner while the record loads). */
const known = new Map();

function setTitle(text) {
  document.title = `${text}: shared care record`;
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
    h("p", { class: "signed-in" }, "Signed in as ", h("strong", { id: "signed-in-name" }, u.name ?? "practitioner"), u.profile ? `, ${profileName(u.profile)}` : "", u.organisation ? `, ${u.organisation}` : ""),
    h("a", { href: "#/", class: "header-link" }, "Find a patient"),
    h("a", { href: "#/cases", class: "header-link", id: "cases-link" }, "My break-glass cases"),
    h("button", { type: "button", class: "button secondary", id: "sign-out", on: { click: signOut } }, "Sign out"),
  );
}

function signOut() {
  session.clear();
  known.clear();
  location.hash = "";
  route();
}

function authLost() {
  session.clear();
  route({ notice: "Your session has ended. Sign in again." });
}

async function signInView({ notice } = {}) {
  setTitle("Sign in");
  const heading = h("h1", {}, "Sign in");
  replace(view, heading, notice ? h("p", { class: "notice notice-info", role: "status" }, notice) : null, statusBox("loading", "Loading sign-in options…"));
  let users;
  try {
    users = (await demoUsers()).body.users ?? [];
  } catch (e) {
    const msg = e instanceof ApiError && e.status === 404 ? "Sign-in through your organisation's identity service is not set up for this site, and demo sign-in is off." : errorText(e);
    replace(view, heading, statusBox("error", msg, () => signInView()));
    return;
  }
  const select = h("select", { id: "demo-user", name: "user", required: true }, users.map((u) => h("option", { value: u.key }, `${u.name}: ${profileName(u.profile)}, ${u.organisation}`)));
  const msg = h("div", { class: "form-message", "aria-live": "polite" });
  const form = h(
    "form",
    {
      id: "sign-in-form",
      class: "card",
      on: {
        submit: async (ev) => {
          ev.preventDefault();
          const user = users.find((u) => u.key === select.value);
          if (!user) return;
          button.disabled = true;
          msg.replaceChildren(h("p", { class: "status-loading", role: "status" }, "Signing in…"));
          try {
            await demoSignIn(user);
          } catch (e) {
            button.disabled = false;
            msg.replaceChildren(h("p", { class: "error", role: "alert" }, errorText(e)));
            return;
          }
          route();
        },
      },
    },
    h("p", {}, "Demo mode: choose a demo practitioner. Each has a role profile and an organisation, which decide what of a record they may see."),
    h("div", { class: "field" }, h("label", { for: "demo-user" }, "Demo practitioner"), select),
  );
  const button = h("button", { type: "submit", class: "button primary", id: "sign-in" }, "Sign in");
  form.append(button, msg);
  replace(view, heading, notice ? h("p", { class: "notice notice-info", role: "status" }, notice) : null, form);
  focusView(heading);
}

function resultItem(p) {
  known.set(p.id, p);
  const nhs = formatNhsNumber(nhsNumberOf(p));
  return h(
    "li",
    { class: "result", "data-patient": p.id },
    h("a", { href: `#/patient/${encodeURIComponent(p.id)}` }, personName(p) || "Unnamed patient"),
    h("span", { class: "result-facts" }, nhs ? `NHS number ${nhs}` : "", p.birthDate ? `, born ${formatDate(p.birthDate)}` : ""),
  );
}

function searchView() {
  setTitle("Find a patient");
  const heading = h("h1", {}, "Find a patient");
  const results = h("div", { id: "results", "aria-live": "polite" });
  const run = async (query, button) => {
    button.disabled = true;
    replace(results, statusBox("loading", "Searching…"));
    try {
      const r = await findPatients(query);
      const found = (r.body?.entry ?? []).map((e) => e?.resource).filter((x) => x?.resourceType === "Patient");
      if (!found.length) replace(results, statusBox("empty", "No patient found. Check the details and try again."));
      else replace(results, h("h2", { id: "results-title", tabindex: "-1" }, found.length === 1 ? "1 patient found" : `${found.length} patients found`), h("ul", { class: "results", "aria-labelledby": "results-title" }, found.map(resultItem)));
      focusHeading(results.querySelector("h2"));
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return authLost();
      replace(results, statusBox("error", errorText(e)));
    } finally {
      button.disabled = false;
    }
  };
  const nhsInput = h("input", { id: "nhs-number", name: "nhs", inputmode: "numeric", autocomplete: "off", "aria-describedby": "nhs-hint", size: 14 });
  const nhsError = h("p", { class: "error", id: "nhs-error", hidden: true });
  const nhsButton = h("button", { type: "submit", class: "button primary" }, "Search");
  const byNhs = h(
    "form",
    {
      id: "search-nhs",
      class: "card",
      "aria-labelledby": "search-nhs-title",
      novalidate: true,
      on: {
        submit: (ev) => {
          ev.preventDefault();
          const n = parseNhsNumber(nhsInput.value);
          if (!n || !isValidNhsNumber(n)) {
            nhsError.textContent = "Enter a valid 10-digit NHS number, for example 999 000 0018.";
            nhsError.hidden = false;
            nhsInput.setAttribute("aria-invalid", "true");
            nhsInput.setAttribute("aria-describedby", "nhs-hint nhs-error");
            nhsInput.focus();
            return;
          }
          nhsError.hidden = true;
          nhsInput.removeAttribute("aria-invalid");
          run({ nhsNumber: n }, nhsButton);
        },
      },
    },
    h("h2", { id: "search-nhs-title" }, "By NHS number"),
    h("div", { class: "field" }, h("label", { for: "nhs-number" }, "NHS number"), h("p", { class: "hint", id: "nhs-hint" }, "10 digits, for example 999 000 0018"), nhsError, nhsInput),
    nhsButton,
  );
  const family = h("input", { id: "family", name: "family", autocomplete: "off", required: true });
  const dob = h("input", { id: "birthdate", name: "birthdate", type: "date", required: true });
  const nameError = h("p", { class: "error", id: "name-error", hidden: true });
  const nameButton = h("button", { type: "submit", class: "button primary" }, "Search");
  const byName = h(
    "form",
    {
      id: "search-name",
      class: "card",
      "aria-labelledby": "search-name-title",
      novalidate: true,
      on: {
        submit: (ev) => {
          ev.preventDefault();
          if (!family.value.trim() || !dob.value) {
            nameError.textContent = "Enter the family name and the date of birth.";
            nameError.hidden = false;
            (family.value.trim() ? dob : family).focus();
            return;
          }
          nameError.hidden = true;
          run({ family: family.value.trim(), birthdate: dob.value }, nameButton);
        },
      },
    },
    h("h2", { id: "search-name-title" }, "By name and date of birth"),
    nameError,
    h("div", { class: "field" }, h("label", { for: "family" }, "Family name"), family),
    h("div", { class: "field" }, h("label", { for: "birthdate" }, "Date of birth"), dob),
    nameButton,
  );
  const demo = h("section", { class: "demo-patients", "aria-labelledby": "demo-patients-title", hidden: true });
  replace(view, heading, h("div", { class: "search-forms" }, byNhs, byName), results, demo);
  focusView(heading);
  // In demo mode, the demo patients' NHS numbers, to search with.
  demoUsers().then(
    (r) => {
      const ps = r.body?.patients ?? [];
      if (!ps.length) return;
      demo.hidden = false;
      replace(
        demo,
        h("h2", { id: "demo-patients-title" }, "Demo patients"),
        h(
          "ul",
          { class: "demo-list" },
          ps.map((p) =>
            h(
              "li",
              {},
              h(
                "button",
                {
                  type: "button",
                  class: "button link",
                  "data-nhs": p.nhs_number,
                  on: {
                    click: () => {
                      nhsInput.value = formatNhsNumber(p.nhs_number);
                      byNhs.requestSubmit();
                    },
                  },
                },
                `${p.family}, NHS number ${formatNhsNumber(p.nhs_number)}`,
              ),
            ),
          ),
        ),
      );
    },
    () => {},
  );
}

async function recordView(patientId) {
  setTitle("Shared record");
  const back = h("p", { class: "back" }, h("a", { href: "#/" }, "Back to patient search"));
  const holder = h("div", { id: "record", "aria-live": "off" });
  replace(view, back, holder);
  const focus = !firstView;
  firstView = false;
  await showRecord(holder, { patientId, known: known.get(patientId) ?? null, onAuthLost: authLost, focus });
  const name = holder.querySelector(".patient-name")?.textContent;
  if (name) setTitle(name);
}

async function myCasesView() {
  setTitle("My break-glass cases");
  const holder = h("div", { id: "my-cases" });
  replace(view, holder);
  const focus = !firstView;
  firstView = false;
  await casesView(holder, { known, onAuthLost: authLost, focus });
}

function route(opts = {}) {
  renderAccount();
  if (!session.get()) return signInView(opts);
  if (location.hash === "#/cases") return myCasesView();
  const m = /^#\/patient\/([^/]+)$/.exec(location.hash);
  if (m) return recordView(decodeURIComponent(m[1]));
  return searchView();
}

// The hash holds the view: in-page links move focus without touching it.
inPageLinks();
window.addEventListener("hashchange", () => {
  if (location.hash === "" || location.hash.startsWith("#/")) route();
});
route();
