// The embeddable view (a shared-record tab inside another system): opens
// straight to one patient from a launch context in the URL.
//
//   /practitioner/embed.html?patient=ID#access_token=TOKEN
//   /practitioner/embed.html?nhs=9990000018#access_token=TOKEN
//
// The token travels in the fragment, which is never sent to a server or
// written to logs, and is moved into this tab's sessionStorage and
// removed from the address at once. `iss` and `launch` are reserved for
// a SMART on FHIR EHR launch (exchange the launch code for a token and a
// patient context); until that is configured such a launch is refused
// with a message. In demo mode `user=KEY` signs in as a demo user.
import { ApiError, demoSignIn, demoUsers, findPatients, session } from "../shared/api.js";
import { h, inPageLinks, replace } from "../shared/dom.js";
import { parseNhsNumber } from "../shared/format.js";
import { errorText, statusBox } from "./record.js";
import "./tiergate-record.js";

const root = document.getElementById("launch");
const fail = (msg) => {
  replace(root, statusBox("error", msg));
  root.dataset.state = "error";
};

async function launch() {
  const params = new URLSearchParams(location.search);
  const fragment = new URLSearchParams(location.hash.slice(1));
  const token = fragment.get("access_token");
  if (token) {
    const expires = Number(fragment.get("expires_in")) || 3600;
    session.set(token, { name: "Launched from clinical system" }, expires);
    history.replaceState(null, "", location.pathname + location.search);
  }
  if (params.has("launch") || params.has("iss")) {
    if (!session.get()) return fail("Launch from a clinical system (SMART on FHIR) is not configured for this service yet.");
  }
  const demoUser = params.get("user");
  if (demoUser && !session.get()) {
    try {
      const users = (await demoUsers()).body.users ?? [];
      const user = users.find((u) => u.key === demoUser);
      if (!user) return fail("Unknown demo user.");
      await demoSignIn(user);
    } catch (e) {
      return fail(errorText(e));
    }
  }
  if (!session.get()) return fail("Not signed in: launch this view from your clinical system again.");
  let patientId = params.get("patient");
  const nhs = params.get("nhs");
  if (!patientId && nhs) {
    const n = parseNhsNumber(nhs);
    if (!n) return fail("The launch context's NHS number is not valid.");
    replace(root, statusBox("loading", "Finding the patient…"));
    try {
      const found = ((await findPatients({ nhsNumber: n })).body?.entry ?? []).map((e) => e?.resource).filter((r) => r?.resourceType === "Patient");
      if (found.length !== 1) return fail(found.length ? "More than one patient has this NHS number: open the record from the portal." : "No patient found for the launch context.");
      patientId = found[0].id;
    } catch (e) {
      return fail(e instanceof ApiError ? errorText(e) : "The patient could not be found.");
    }
  }
  if (!patientId) return fail("No patient given: the launch context names none.");
  root.dataset.state = "record";
  replace(root, h("tiergate-shared-record", { patient: patientId }));
}

inPageLinks();
launch();
