// Consent at the point of care (framework 6.2): when the edge withholds
// entries for want of consent for this organisation and context, the
// practitioner may record the patient's consent (scoped as the policy's
// consent model allows) or, in an emergency, break glass (reason required,
// time-limited, always investigated). The edge validates and enforces both.
import { ApiError, consents, recordConsent, recordWithdrawal, session } from "../shared/api.js";
import { h } from "../shared/dom.js";
import { policyInfo } from "../shared/engine.js";
import { formatDate, formatMinutes, formatTime } from "../shared/format.js";
import { SEGMENTS } from "../shared/labels.js";

const errorMessage = (e) => (e instanceof ApiError ? (e.requestId ? `${e.message} (reference ${e.requestId})` : e.message) : "Something went wrong. Try again.");

/**
 * The no-consent panel: a plain statement, then two forms in disclosure
 * sections. `onConsentRecorded()` and `onBreakGlass({reason, display,
 * detail})` reload the record.
 */
export function consentPanel({ patientId, engine, anyShown, onConsentRecorded, onBreakGlass, onAuthLost }) {
  const user = session.get()?.user ?? {};
  const org = user.organisation ?? "your organisation";
  const panel = h(
    "section",
    { class: "notice notice-consent", id: "consent-panel", "aria-labelledby": "consent-title", "data-consent": "required" },
    h("h2", { id: "consent-title" }, "No consent recorded for this context"),
    h(
      "p",
      {},
      anyShown
        ? `Some of this record is not shown because the patient has not given consent for ${org} to view it in this context.`
        : `This record is not shown because the patient has not given consent for ${org} to view it in this context.`,
    ),
    h("p", {}, "Ask the patient for consent and record it, or, only in an emergency when consent cannot be obtained, use emergency access (break glass)."),
  );
  panel.append(consentForm({ patientId, user, onConsentRecorded, onAuthLost }));
  panel.append(breakGlassForm({ engine, onBreakGlass }));
  return panel;
}

function consentForm({ patientId, user, onConsentRecorded, onAuthLost }) {
  const msg = h("div", { class: "form-message", "aria-live": "polite" });
  const segRows = SEGMENTS.map((s) =>
    h(
      "div",
      { class: "seg-choice" },
      h("input", { type: "checkbox", id: `cs-${s.id}`, name: "segment", value: s.id, checked: true }),
      h("label", { for: `cs-${s.id}` }, s.name),
      h("label", { for: `ct-${s.id}`, class: "visually-hidden" }, `${s.name}: up to tier`),
      h("select", { id: `ct-${s.id}`, name: `tier-${s.id}` }, [1, 2, 3].map((t) => h("option", { value: t, selected: t === 3 }, `up to tier ${t}`))),
    ),
  );
  const partsBox = h("fieldset", { class: "scope-parts", id: "consent-parts", hidden: true }, h("legend", {}, "Parts of the record"), segRows);
  const submit = h("button", { type: "submit", class: "button primary", id: "consent-submit" }, "Record consent and open the record");
  const form = h(
    "form",
    {
      class: "consent-form",
      id: "consent-form",
      "aria-labelledby": "consent-form-title",
      novalidate: true,
      on: {
        change: () => {
          partsBox.hidden = form.elements.scope.value !== "parts";
        },
        submit: async (ev) => {
          ev.preventDefault();
          msg.replaceChildren();
          if (!form.elements.confirm.checked) {
            msg.append(h("p", { class: "error", role: "alert" }, "Confirm that the patient has given consent."));
            form.elements.confirm.focus();
            return;
          }
          const permit = {};
          if (form.elements.who.value === "profile" && user.profile) permit.profiles = [user.profile];
          if (form.elements.scope.value === "parts") {
            const segments = SEGMENTS.filter((s) => form.elements[`cs-${s.id}`]?.checked).map((s) => ({ segment: s.id, tier: Number(form.elements[`tier-${s.id}`].value) }));
            if (!segments.length) {
              msg.append(h("p", { class: "error", role: "alert" }, "Choose at least one part of the record."));
              return;
            }
            permit.scope = { segments };
          }
          const end = form.elements.end.value;
          if (end) permit.period = { end };
          submit.disabled = true;
          msg.append(h("p", { role: "status", class: "status-loading" }, "Recording consent…"));
          try {
            await recordConsent(patientId, permit);
          } catch (e) {
            submit.disabled = false;
            if (e instanceof ApiError && e.status === 401) return onAuthLost(e);
            msg.replaceChildren(h("p", { class: "error", role: "alert" }, `Consent was not recorded: ${errorMessage(e)}`));
            return;
          }
          await onConsentRecorded();
        },
      },
    },
    h("fieldset", {}, h("legend", {}, "Who may view"), radio("who", "org", `Everyone at ${user.organisation ?? "my organisation"} (within their role)`, true), user.profile ? radio("who", "profile", `Only staff in my role at ${user.organisation ?? "my organisation"} (profile ${user.profile})`) : null),
    h("fieldset", {}, h("legend", {}, "What they may view"), radio("scope", "all", "The shared record, as each role allows", true), radio("scope", "parts", "Only some parts")),
    partsBox,
    h("div", { class: "field" }, h("label", { for: "consent-end" }, "Consent ends on (optional)"), h("input", { type: "date", id: "consent-end", name: "end", "aria-describedby": "consent-end-hint" }), h("p", { class: "hint", id: "consent-end-hint" }, "Leave empty for consent with no end date; the patient may withdraw it at any time.")),
    h("div", { class: "check" }, h("input", { type: "checkbox", id: "consent-confirm", name: "confirm", required: true }), h("label", { for: "consent-confirm" }, "The patient (or their authorised representative) has given consent for this, now.")),
    submit,
    msg,
  );
  // Before anything is recorded: say whether the patient's own choices
  // restrict what this viewer sees (never what they are about), since
  // recording consent will not change that.
  const restricted = h("div", { id: "consent-restrictions", "aria-live": "polite" });
  form.prepend(restricted);
  consents(patientId)
    .then(({ body }) => {
      if (!(body?.meta?.tag ?? []).some((t) => t.system === RESTRICTED_SYSTEM && t.code === "restricted")) return;
      // Each choice that restricts this viewer, as the edge names it: when it was made, never what it covers.
      const choices = (body?.entry ?? [])
        .map((e) => e?.resource)
        .filter((r) => r?.resourceType === "Consent" && (r.meta?.tag ?? []).some((t) => t.system === RESTRICTED_SYSTEM && t.code === "restricted") && typeof r.id === "string");
      restricted.append(
        h(
          "div",
          { class: "notice notice-info", "data-restricted": "true" },
          h("p", {}, "The patient has chosen not to share part of their record with you. Recording consent will not change that. If the patient tells you they now want to share it, record their withdrawal of that choice, with what they said."),
          choices.length ? h("ul", { class: "restrictions" }, choices.map((c, i) => withdrawalItem({ patientId, choice: c, index: i, onConsentRecorded, onAuthLost }))) : null,
        ),
      );
    })
    .catch(() => {});
  return h("details", { class: "action", id: "consent-action" }, h("summary", { id: "consent-form-title" }, "Record the patient's consent"), form);
}

/** One restricting choice, with a small form to record the patient's withdrawal of it. */
function withdrawalItem({ patientId, choice, index, onConsentRecorded, onAuthLost }) {
  const id = `withdraw-${index}`;
  const made = choice.dateTime ? formatDate(choice.dateTime) : null;
  const reason = h("textarea", { id: `${id}-reason`, name: "reason", rows: 2, "aria-describedby": `${id}-hint` });
  const confirm = h("input", { type: "checkbox", id: `${id}-confirm`, name: "confirm" });
  const msg = h("div", { class: "form-message", "aria-live": "polite" });
  const button = h("button", { type: "button", class: "button secondary", id: `${id}-submit` }, "Record the withdrawal");
  button.addEventListener("click", async () => {
    msg.replaceChildren();
    if (!reason.value.trim()) {
      msg.append(h("p", { class: "error", role: "alert" }, "Write what the patient told you."));
      reason.focus();
      return;
    }
    if (!confirm.checked) {
      msg.append(h("p", { class: "error", role: "alert" }, "Confirm that the patient has asked for this."));
      confirm.focus();
      return;
    }
    button.disabled = true;
    msg.append(h("p", { role: "status" }, "Recording the withdrawal…"));
    try {
      await recordWithdrawal(patientId, choice.id, reason.value.trim());
    } catch (e) {
      button.disabled = false;
      if (e instanceof ApiError && e.status === 401) return onAuthLost(e);
      msg.replaceChildren(h("p", { class: "error", role: "alert" }, `The withdrawal was not recorded: ${errorMessage(e)}`));
      return;
    }
    await onConsentRecorded();
  });
  return h(
    "li",
    { "data-restriction": choice.id },
    h(
      "details",
      {},
      h("summary", {}, made ? `A choice the patient made on ${made}` : "A choice the patient made"),
      h("div", { class: "field" }, h("label", { for: `${id}-reason` }, "What the patient told you"), h("p", { class: "hint", id: `${id}-hint` }, "Recorded with the withdrawal; the patient can see it."), reason),
      h("div", { class: "check" }, confirm, h("label", { for: `${id}-confirm` }, "The patient has asked, now, to withdraw this choice.")),
      button,
      msg,
    ),
  );
}

/** The tag on a consent read that says the patient's choices restrict this viewer. */
const RESTRICTED_SYSTEM = "https://fhir.tiergate.example/CodeSystem/consent-view";

function radio(name, value, label, checked = false) {
  const id = `${name}-${value}`;
  return h("div", { class: "radio" }, h("input", { type: "radio", id, name, value, checked }), h("label", { for: id }, label));
}

function breakGlassForm({ engine, onBreakGlass }) {
  const msg = h("div", { class: "form-message", "aria-live": "polite" });
  const select = h("select", { id: "bg-reason", name: "reason", required: true, "aria-describedby": "bg-reason-hint", disabled: true }, h("option", { value: "" }, "Loading reasons…"));
  const detail = h("textarea", { id: "bg-detail", name: "detail", rows: 3, maxlength: 500, "aria-describedby": "bg-detail-hint" });
  const submit = h("button", { type: "submit", class: "button danger", id: "bg-submit", disabled: true }, "Break glass and open the record");
  const limit = h("p", { class: "bg-limit", id: "bg-limit" });
  const sync = () => {
    submit.disabled = !select.value;
  };
  select.addEventListener("change", sync);
  // Reasons and the time limit as the policy the engine compiled states them.
  let bg;
  try {
    bg = policyInfo(engine).breakGlass;
  } catch {
    bg = { reasons: [], maxMinutes: 0 };
  }
  if (bg.reasons.length) {
    select.replaceChildren(h("option", { value: "" }, "Choose a reason"), ...bg.reasons.map((r) => h("option", { value: r.code }, r.display)));
    select.disabled = false;
  } else {
    select.replaceChildren(h("option", { value: "" }, "Reasons unavailable"));
    msg.replaceChildren(h("p", { class: "error", role: "alert" }, "Emergency access is unavailable: the sharing policy could not be read in this page. Reload it and try again."));
  }
  if (bg.maxMinutes) {
    const ends = new Date(Date.now() + bg.maxMinutes * 60_000);
    limit.replaceChildren(h("strong", {}, "Time limit: "), `emergency access lasts ${formatMinutes(bg.maxMinutes)} (until about ${formatTime(ends)} if you start now).`);
    limit.dataset.minutes = String(bg.maxMinutes);
  }
  const form = h(
    "form",
    {
      class: "bg-form",
      id: "bg-form",
      novalidate: true,
      on: {
        submit: async (ev) => {
          ev.preventDefault();
          msg.replaceChildren();
          if (!select.value) {
            msg.append(h("p", { class: "error", role: "alert" }, "A reason is required to break glass."));
            select.focus();
            return;
          }
          submit.disabled = true;
          await onBreakGlass({ reason: select.value, display: select.selectedOptions[0]?.textContent ?? select.value, detail: detail.value.trim() });
        },
      },
    },
    h(
      "div",
      { class: "notice notice-danger", id: "bg-warning" },
      h("p", {}, h("strong", {}, "Warning: "), "emergency access overrides the need for consent. It is recorded with your name, your reason and the time, and every use is investigated. Use it only when consent cannot be obtained and the information is needed now."),
    ),
    limit,
    h("div", { class: "field" }, h("label", { for: "bg-reason" }, "Reason (required)"), select, h("p", { class: "hint", id: "bg-reason-hint" }, "The reason is recorded with the access.")),
    h("div", { class: "field" }, h("label", { for: "bg-detail" }, "Details"), detail, h("p", { class: "hint", id: "bg-detail-hint" }, "What is happening and why consent cannot be obtained.")),
    submit,
    msg,
  );
  return h("details", { class: "action", id: "bg-action" }, h("summary", {}, "Emergency access (break glass)"), form);
}
