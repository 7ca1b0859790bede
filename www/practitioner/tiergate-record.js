// <tiergate-shared-record patient="ID">: the shared record of one patient
// as a custom element, for a host page on this origin (the embeddable
// view uses it; a host system on another origin frames embed.html).
// It uses the session token of this tab; set one with `session.set`
// (www/shared/api.js) before adding the element. Light DOM, so the
// portal's styles and landmarks apply.
import { session } from "../shared/api.js";
import { h, replace } from "../shared/dom.js";
import { showRecord, statusBox } from "./record.js";

export class SharedRecordElement extends HTMLElement {
  static observedAttributes = ["patient"];

  connectedCallback() {
    this.#load();
  }

  attributeChangedCallback(_name, old, now) {
    if (this.isConnected && old !== null && old !== now) this.#load();
  }

  #load() {
    const patientId = this.getAttribute("patient");
    if (!patientId) {
      replace(this, statusBox("error", "No patient given: the launch context names none."));
      return;
    }
    if (!session.get()) {
      replace(this, statusBox("error", "Not signed in: launch this view from your clinical system again."));
      return;
    }
    const holder = h("div", { class: "record-holder" });
    replace(this, holder);
    const level = Number(this.getAttribute("heading-level")) || 1;
    showRecord(holder, {
      patientId,
      headingLevel: Math.min(Math.max(level, 1), 3),
      // Inside a host system, taking focus on load would pull it out of the host's page.
      focus: this.hasAttribute("autofocus"),
      // Break-glass explanations are recorded in the portal (same tab, same session).
      casesLink: "/practitioner/#/cases",
      onAuthLost: () => replace(this, statusBox("error", "Your session has ended: launch this view from your clinical system again.")),
    });
  }
}

if (!customElements.get("tiergate-shared-record")) customElements.define("tiergate-shared-record", SharedRecordElement);
