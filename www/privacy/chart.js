// Charts as SVG built with DOM APIs (no HTML strings, no inline style: the
// page's CSP forbids both), each with a data table as its text
// alternative. Bars and cells carry data-key and data-value so the numbers
// can be checked against the source.
import { h } from "../shared/dom.js";

const SVG = "http://www.w3.org/2000/svg";

function s(tag, attrs = {}, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = String(text);
  return el;
}

const number = (n) => (typeof n === "number" ? n.toLocaleString("en-GB") : String(n ?? ""));
/** A rate (a fraction from 0 to 1) as "12.5%". */
export const percent = (r) => (typeof r === "number" && Number.isFinite(r) ? `${(r * 100).toLocaleString("en-GB", { maximumFractionDigits: 1 })}%` : "not available");

/**
 * A horizontal bar chart. `rows`: [{key, label, value, text?, cls?}];
 * `max` fixes the scale (for rates: 1). Returns the <svg>.
 */
export function barChart({ id, labelledBy, rows, max, description }) {
  const labelW = 190;
  const barW = 330;
  const valueW = 90;
  const rowH = 26;
  const top = 6;
  const width = labelW + barW + valueW;
  const height = top * 2 + Math.max(rows.length, 1) * rowH;
  const scale = max ?? Math.max(1, ...rows.map((r) => (typeof r.value === "number" ? r.value : 0)));
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-labelledby": `${labelledBy} ${id}-desc`, id, focusable: "false", preserveAspectRatio: "xMinYMin meet" });
  svg.append(s("desc", { id: `${id}-desc` }, description ?? rows.map((r) => `${r.label}: ${r.text ?? number(r.value)}`).join("; ")));
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    const v = typeof r.value === "number" && Number.isFinite(r.value) ? r.value : 0;
    const w = scale > 0 ? Math.max(v > 0 ? 2 : 0, (v / scale) * barW) : 0;
    const label = r.label.length > 26 ? `${r.label.slice(0, 25)}…` : r.label;
    const g = s("g", { "aria-hidden": "true" });
    g.append(
      s("text", { x: labelW - 8, y: y + rowH / 2 + 4, "text-anchor": "end" }, label),
      s("rect", { class: "track", x: labelW, y: y + 4, width: barW, height: rowH - 8 }),
      s("rect", { class: `bar ${r.cls ?? ""}`.trim(), x: labelW, y: y + 4, width: w.toFixed(2), height: rowH - 8, "data-key": r.key, "data-value": String(r.value) }),
      s("text", { x: labelW + barW + 6, y: y + rowH / 2 + 4 }, r.text ?? number(r.value)),
    );
    svg.append(g);
  });
  if (!rows.length) svg.append(s("text", { x: 8, y: top + rowH / 2 + 4 }, "No data"));
  return svg;
}

/**
 * A figure: caption, chart, and the data table in a disclosure.
 * `columns`: header cells after the first; `rows`: [{key, label, cells:
 * [{value, text}]}].
 */
export function chartFigure({ id, title, rows, max, table, description, note }) {
  const captionId = `${id}-caption`;
  const cols = table?.columns ?? ["Count"];
  const trows = table?.rows ?? rows.map((r) => ({ key: r.key, label: r.label, cells: [{ value: r.value, text: r.text }] }));
  return h(
    "figure",
    { class: "chart card", "data-chart": id },
    h("figcaption", { id: captionId }, title),
    note ? h("p", { class: "hint" }, note) : null,
    barChart({ id: `${id}-svg`, labelledBy: captionId, rows, max, description }),
    h(
      "details",
      { class: "chart-table" },
      h("summary", {}, `${title}: data table`),
      h(
        "table",
        { class: "data-table", "data-chart-table": id },
        h("caption", {}, title),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, table?.rowHeader ?? "Item"), cols.map((c) => h("th", { scope: "col" }, c)))),
        h(
          "tbody",
          {},
          trows.length
            ? trows.map((r) => h("tr", { "data-key": r.key }, h("th", { scope: "row" }, r.label), r.cells.map((c) => h("td", { "data-value": String(c.value ?? ""), "data-key": c.key ?? null }, c.text ?? number(c.value)))))
            : h("tr", {}, h("td", { colspan: String(cols.length + 1) }, "No data")),
        ),
      ),
    ),
  );
}
