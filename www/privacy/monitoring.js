// Monitoring and evaluation: how much is shared and how the model is used,
// from the edge's /metrics (counts only, no patient identifiers): records
// shared by segment and tier, by profile and by organisation; withheld
// entries by reason; consent and opt-out rates; the break-glass rate. Each
// chart has a data table as its text alternative.
import { focusHeading, h, replace } from "../shared/dom.js";
import { formatDateTime } from "../shared/format.js";
import { profileName, segmentName, segmentOrder } from "../shared/labels.js";
import { metrics } from "./api.js";
import { chartFigure, percent } from "./chart.js";
import { loadFailed, statusBox } from "./ui.js";

const REASONS = {
  "no-consent": "No consent recorded",
  consent: "No consent recorded",
  "opt-out": "Patient opted out",
  opted_out: "Patient opted out",
  exclusion: "Excluded code (Appendix 1)",
  excluded: "Excluded code (Appendix 1)",
  tier: "Above the viewer's tier",
  profile: "Not in the viewer's profile",
  training: "Training not current",
  "not-online": "Not for online viewing",
  approval_required: "Needs an individual approval (7.2)",
};

const humanise = (id) => {
  const t = String(id ?? "").replace(/[_-]+/g, " ").trim();
  return t ? t[0].toUpperCase() + t.slice(1) : "Other";
};
const profileLabel = (id) => (id === "privacy-officer" ? "Privacy officer" : id === "own-record" ? "Own record (patient)" : profileName(id));
const entries = (o) => (o && typeof o === "object" ? Object.entries(o).filter(([, v]) => typeof v === "number") : []);
const byValue = (a, b) => b[1] - a[1] || String(a[0]).localeCompare(String(b[0]));

export async function monitoringView(root, ctx) {
  const heading = h("h1", {}, "Monitoring");
  const intro = h("p", {}, "How the shared record is used: counts from the audit, with no patient identifiers.");
  const body = h("div", { id: "monitoring-results", "aria-live": "polite" });
  const refresh = h("button", { type: "button", class: "button secondary", id: "metrics-refresh", on: { click: () => load() } }, "Refresh");
  replace(root, heading, intro, refresh, body);
  if (ctx.focus) focusHeading(heading);

  const load = async () => {
    root.dataset.state = "loading";
    refresh.disabled = true;
    replace(body, statusBox("loading", "Loading the figures…"));
    let m;
    try {
      m = (await metrics()).body;
    } catch (e) {
      refresh.disabled = false;
      loadFailed(e, ctx, root, body, load);
      return;
    }
    refresh.disabled = false;
    if (!ctx.isCurrent()) return;
    if (!m || typeof m !== "object") {
      root.dataset.state = "error";
      replace(body, statusBox("error", "The figures could not be read.", load));
      return;
    }
    if (!m.accesses) {
      root.dataset.state = "empty";
      replace(body, summary(m), statusBox("empty", "No record has been accessed yet, so there is nothing to chart."));
      return;
    }
    root.dataset.state = "loaded";
    replace(body, summary(m), h("div", { class: "charts" }, charts(m)));
  };
  await load();
}

function summary(m) {
  const bg = m.break_glass ?? {};
  const c = m.consent ?? {};
  const fig = (key, label, value) => h("div", { "data-metric": key }, h("dt", {}, label), h("dd", {}, value));
  return [
    m.generated ? h("p", { class: "hint", id: "metrics-generated" }, `Figures as at ${formatDateTime(m.generated) || m.generated}.`) : null,
    h(
      "dl",
      { class: "summary-figures", "aria-label": "Key figures" },
      fig("accesses", "Record accesses", (m.accesses ?? 0).toLocaleString("en-GB")),
      fig("patients_accessed", "Patients whose records were accessed", (c.patients_accessed ?? 0).toLocaleString("en-GB")),
      fig("consent_rate", "Consent rate", percent(c.consent_rate)),
      fig("opt_out_rate", "Opt-out rate", percent(c.opt_out_rate)),
      fig("break_glass_rate", "Break-glass rate", percent(bg.rate)),
    ),
  ];
}

function charts(m) {
  const out = [];
  // Records shared by segment and tier: one bar per segment and tier, and a segment x tier table.
  const placements = entries(m.by_placement)
    .map(([k, v]) => {
      const i = k.lastIndexOf("-");
      return { key: k, segment: i > 0 ? k.slice(0, i) : k, tier: i > 0 ? k.slice(i + 1) : "", value: v };
    })
    .sort((a, b) => segmentOrder(a.segment) - segmentOrder(b.segment) || a.segment.localeCompare(b.segment) || a.tier.localeCompare(b.tier));
  const segments = [...new Set([...placements.map((p) => p.segment), ...entries(m.by_segment).map(([k]) => k)])].sort((a, b) => segmentOrder(a) - segmentOrder(b) || a.localeCompare(b));
  const tiers = [...new Set(placements.map((p) => p.tier))].sort();
  out.push(
    chartFigure({
      id: "by_segment",
      title: "Records shared by segment",
      note: "Record accesses that released anything from each segment.",
      rows: segments.map((sg) => ({ key: sg, label: segmentName(sg), value: m.by_segment?.[sg] ?? 0 })),
      table: { rowHeader: "Segment", columns: ["Record accesses"] },
    }),
    chartFigure({
      id: "by_placement",
      title: "Entries shared by segment and tier",
      note: "Record entries released, by the segment and tier they were shared under.",
      rows: placements.map((p) => ({ key: p.key, label: `${segmentName(p.segment)}, tier ${p.tier}`, value: p.value, cls: `tier-${p.tier}` })),
      table: {
        rowHeader: "Segment",
        columns: tiers.map((t) => `Tier ${t}`),
        rows: segments.map((sg) => ({
          key: sg,
          label: segmentName(sg),
          cells: tiers.map((t) => ({ key: `${sg}-${t}`, value: m.by_placement?.[`${sg}-${t}`] ?? 0 })),
        })),
      },
    }),
  );
  const simple = (id, title, obj, label, rowHeader, note) =>
    chartFigure({ id, title, note, rows: entries(obj).sort(byValue).map(([k, v]) => ({ key: k, label: label(k), value: v })), table: { rowHeader, columns: ["Count"] } });
  out.push(
    simple("by_profile", "Record accesses by profile", m.by_profile, profileLabel, "Profile"),
    simple("by_organisation", "Record accesses by organisation", m.by_organisation, (k) => k, "Organisation (ODS code)"),
    simple("withheld_by_reason", "Entries withheld, by reason", m.withheld_by_reason, (k) => REASONS[k] ?? humanise(k), "Reason"),
  );
  const c = m.consent ?? {};
  const accessed = c.patients_accessed ?? 0;
  out.push(
    chartFigure({
      id: "consent",
      title: "Consent and opt-out rates",
      note: `Of the ${accessed.toLocaleString("en-GB")} patients whose records were accessed.`,
      max: 1,
      rows: [
        { key: "consent_rate", label: "Consent recorded", value: c.consent_rate ?? 0, text: percent(c.consent_rate), cls: "bar-alt" },
        { key: "opt_out_rate", label: "Opted out", value: c.opt_out_rate ?? 0, text: percent(c.opt_out_rate), cls: "bar-warn" },
      ],
      table: {
        rowHeader: "Measure",
        columns: ["Patients", "Rate"],
        rows: [
          { key: "patients_accessed", label: "Patients accessed", cells: [{ key: "patients_accessed", value: accessed }, { value: "", text: "" }] },
          { key: "consent", label: "With consent recorded", cells: [{ key: "patients_with_permit", value: c.patients_with_permit ?? 0 }, { key: "consent_rate", value: c.consent_rate ?? 0, text: percent(c.consent_rate) }] },
          { key: "opt_out", label: "Opted out", cells: [{ key: "patients_with_opt_out", value: c.patients_with_opt_out ?? 0 }, { key: "opt_out_rate", value: c.opt_out_rate ?? 0, text: percent(c.opt_out_rate) }] },
        ],
      },
    }),
  );
  const bg = m.break_glass ?? {};
  out.push(
    chartFigure({
      id: "break_glass",
      title: "Break-glass rate",
      note: `${(bg.count ?? 0).toLocaleString("en-GB")} of ${(m.accesses ?? 0).toLocaleString("en-GB")} record accesses used break glass.`,
      max: 1,
      rows: [{ key: "rate", label: "Break glass", value: bg.rate ?? 0, text: percent(bg.rate), cls: "bar-warn" }],
      table: {
        rowHeader: "Measure",
        columns: ["Value"],
        rows: [
          { key: "count", label: "Break-glass accesses", cells: [{ key: "count", value: bg.count ?? 0 }] },
          { key: "accesses", label: "All record accesses", cells: [{ key: "accesses", value: m.accesses ?? 0 }] },
          { key: "rate", label: "Rate", cells: [{ key: "rate", value: bg.rate ?? 0, text: percent(bg.rate) }] },
        ],
      },
    }),
  );
  return out;
}
