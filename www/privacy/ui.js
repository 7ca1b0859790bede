// Page parts shared by the privacy officer page's sections: status boxes,
// error text, filter forms kept in the URL hash, definition lists, tags.
import { ApiError, errorText } from "../shared/api.js";
import { h, statusBox } from "../shared/dom.js";

export { errorText, statusBox };

/** A string usable in an id attribute. */
export function safeId(s) {
  return String(s ?? "").replace(/[^A-Za-z0-9_-]/g, "_");
}

/** A definition list of [term, value] pairs; pairs with an empty value are left out. */
export function facts(pairs, attrs = {}) {
  return h(
    "dl",
    { class: "facts", ...attrs },
    pairs.filter(([, v]) => v !== undefined && v !== null && v !== "" && v !== false).map(([k, v, key]) => h("div", key ? { "data-fact": key } : {}, h("dt", {}, k), h("dd", {}, v))),
  );
}

export function tag(kind, text) {
  return h("span", { class: `tag tag-${safeId(kind)}` }, text);
}

/**
 * A filter form. `fields`: [{name, label, type: "text"|"date"|"select",
 * options: [[value, label]], hint}]; `values` fills it; `onSubmit(values)`
 * gets the non-empty values.
 */
export function filterForm({ id, title, fields, values, submitLabel = "Apply filters", onSubmit, onClear }) {
  const controls = new Map();
  const items = fields.map((f) => {
    const cid = `${id}-${f.name}`;
    let control;
    if (f.type === "select") {
      control = h("select", { id: cid, name: f.name }, f.options.map(([v, label]) => h("option", { value: v, selected: (values[f.name] ?? f.default ?? "") === v }, label)));
    } else {
      control = h("input", { id: cid, name: f.name, type: f.type === "date" ? "date" : "text", autocomplete: "off", spellcheck: "false", value: values[f.name] ?? "", "aria-describedby": f.hint ? `${cid}-hint` : null });
    }
    controls.set(f.name, control);
    return h("div", { class: "field" }, h("label", { for: cid }, f.label), f.hint ? h("p", { class: "hint", id: `${cid}-hint` }, f.hint) : null, control);
  });
  const read = () => {
    const out = {};
    for (const [k, c] of controls) if (c.value.trim() !== "") out[k] = c.value.trim();
    return out;
  };
  const form = h(
    "form",
    {
      id,
      class: "card filters",
      role: "search",
      "aria-label": title,
      novalidate: true,
      on: {
        submit: (ev) => {
          ev.preventDefault();
          onSubmit(read());
        },
      },
    },
    items,
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit", class: "button primary", id: `${id}-apply` }, submitLabel),
      onClear ? h("button", { type: "button", class: "button secondary", id: `${id}-clear`, on: { click: () => onClear() } }, "Clear") : null,
    ),
  );
  return { form, read, controls };
}

/**
 * A failed load in a section: a lost session signs out, a refusal (403)
 * says the page is not permitted, anything else is an error with a retry.
 * Returns true when the section should stop.
 */
export function loadFailed(e, ctx, root, holder, retry) {
  if (!ctx.isCurrent()) return true;
  if (e instanceof ApiError && e.status === 401) {
    ctx.onAuthLost();
    return true;
  }
  if (e instanceof ApiError && e.status === 403) {
    ctx.onForbidden();
    return true;
  }
  root.dataset.state = "error";
  holder.replaceChildren(statusBox("error", errorText(e), retry));
  return false;
}

/** A result heading with its count ("3 alerts"), focusable for announcing new results. */
export function countHeading(id, n, one, many) {
  return h("h2", { id, tabindex: "-1", "data-count": String(n) }, n === 1 ? `1 ${one}` : `${n} ${many}`);
}
