// Building DOM nodes without HTML strings: record content only ever becomes
// text nodes, so nothing from a record can run or restyle the page.

/**
 * h("p", {class: "x", "data-ref": "Patient/1"}, "text", child, [more]):
 * attributes are set with setAttribute (no on* handlers: use `on`),
 * children are nodes or strings (as text), null/false are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "on") {
      for (const [type, fn] of Object.entries(v)) el.addEventListener(type, fn);
    } else if (k.startsWith("on")) {
      throw new Error("use the `on` attribute for event handlers");
    } else if (k === "text") {
      el.textContent = String(v);
    } else {
      el.setAttribute(k, v === true ? "" : String(v));
    }
  }
  append(el, children);
  return el;
}

/** Appends children (nodes, strings, nested arrays) to `el`. */
export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Replaces every child of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/**
 * The visible text of an XHTML fragment (FHIR narrative, an HTML letter),
 * as paragraphs of text. DOMParser builds an inert document (no scripts
 * run, nothing loads); only its text is kept.
 */
export function htmlToParagraphs(html) {
  const doc = new DOMParser().parseFromString(String(html), "text/html");
  for (const el of doc.querySelectorAll("script, style, template, noscript")) el.remove();
  for (const br of doc.querySelectorAll("br")) br.replaceWith("\n");
  const blocks = doc.body.querySelectorAll("p, li, h1, h2, h3, h4, h5, h6, tr, div:not(:has(p, li, div, tr))");
  const parts = blocks.length ? [...blocks].map((b) => b.textContent) : [doc.body.textContent];
  return parts.map((t) => t.replace(/[ \t]+/g, " ").trim()).filter(Boolean);
}

/** Moves focus to `el` (made focusable for the purpose) so screen readers announce it. */
export function focusHeading(el) {
  if (!el) return;
  if (!el.hasAttribute("tabindex")) el.setAttribute("tabindex", "-1");
  el.focus({ preventScroll: false });
}

/**
 * Same-page links (a skip link, a list of contents) scroll to and focus
 * their target's heading without changing location.hash, for pages whose
 * hash holds the view ("#/..." links are left alone).
 */
export function inPageLinks(doc = document) {
  doc.addEventListener("click", (ev) => {
    const a = ev.target instanceof Element ? ev.target.closest('a[href^="#"]:not([href^="#/"])') : null;
    const target = a ? doc.getElementById(a.getAttribute("href").slice(1)) : null;
    if (!target) return;
    ev.preventDefault();
    const heading = target.matches("main") ? target : (target.querySelector("h1, h2, h3") ?? target);
    heading.scrollIntoView({ block: "start" });
    focusHeading(heading);
  });
}

/** A loading, error or empty state (`data-state`); `retry` adds a "Try again" button. */
export function statusBox(kind, message, retry) {
  const box = h(
    "div",
    { class: `status status-${kind}`, role: kind === "error" ? "alert" : "status", "data-state": kind },
    kind === "loading" ? h("span", { class: "spinner", "aria-hidden": "true" }) : null,
    h("p", {}, message),
  );
  if (retry) box.append(h("button", { type: "button", class: "button secondary", on: { click: retry } }, "Try again"));
  return box;
}
