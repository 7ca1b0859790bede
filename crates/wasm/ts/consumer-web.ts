// A portal's use of the web build, checked by `tsc --noEmit` against the
// generated declarations. Never run; only type-checked.
import init, {
  Engine,
  initSync,
  type Classification,
  type Decisions,
  type EntryDecision,
  type Redaction,
  type Summary,
} from "../../../pkg/web/tiergate_wasm.js";

export async function portal(body: Uint8Array, viewer: object, consent: object | null): Promise<unknown> {
  await init();
  const engine = new Engine(null);
  const hash: string = engine.policyHash();

  const out: Redaction = engine.redact(body, viewer, consent, "2026-11-25T12:00:00Z");
  if (out.outcome === "not_found") return null;
  const text: string = out.body;
  const summary: Summary = out.summary;
  const reasons: Record<string, number> = summary.withheld_by_reason;

  const decisions: Decisions = engine.explain(text, JSON.stringify(viewer), null, new Date(), "primary_care");
  const first: EntryDecision | undefined = decisions.entries[0];
  const verdict: "allow" | "withhold" | undefined = first?.decision;
  const labels: string[] = (first?.placements ?? []).map((p) => `${p.segment}-${p.tier}`);

  const one: Classification = engine.classify({ resourceType: "Condition", id: "c1" });
  const all: Classification[] = engine.classifyAll(text);

  // @ts-expect-error a record body is bytes or text, never a parsed object
  engine.redact({ resourceType: "Bundle" }, viewer, consent, undefined);

  engine.free();
  return { hash, reasons, verdict, labels, rule: one.rule, count: all.length };
}

export function worker(module: WebAssembly.Module): Engine {
  initSync({ module });
  return new Engine(null);
}

export function policyProblems(policy: string): string[] {
  try {
    new Engine(policy).free();
    return [];
  } catch (e) {
    const error = e as Error & { path?: string; problems?: { path: string; message: string }[] };
    return (error.problems ?? []).map((p) => `${p.path}: ${p.message}`);
  }
}

// The patient and carer portal (issue 7): leaflets, reminders, the plan and
// proxy scopes. JSON text comes back; the interfaces describe it.
import {
  type ContentLine,
  type Leaflet,
  type PlanFields,
  type ProxyScope,
  type Reminder,
} from "../../../pkg/web/tiergate_wasm.js";

export function patientPortal(engine: Engine, shown: string): string {
  const leaflets: Leaflet[] = JSON.parse(engine.leaflets(shown));
  const kinds: ("leaflet" | "video")[] = leaflets.map((l) => l.kind);
  const reminders: Reminder[] = JSON.parse(engine.reminders(shown, new Date()));
  const next: string | undefined = reminders[0]?.next;
  const ics: string = engine.ics(shown, "2026-11-25T12:00:00Z", "My reminders");
  const scopes: ProxyScope[] = JSON.parse(engine.proxyScopes());
  const canBook: boolean = engine.scopePermits(scopes.map((s) => s.id), "book");
  const lines: ContentLine[] = JSON.parse(engine.contentLines());
  const fields: PlanFields = { preferences: ["A female doctor"], goals: [{ text: "Walk daily" }] };
  const careplan: string = engine.planToCarePlan("p1", fields, "2026-11-25T12:00:00Z");
  const back: PlanFields = JSON.parse(engine.planFromCarePlan(careplan));
  return `${kinds.length} ${next} ${ics.length} ${canBook} ${lines.length} ${back.goals.length}`;
}

// The policy's names for a page's labels and its break-glass form.
import { type PolicyInfo } from "../../../pkg/web/tiergate_wasm.js";

export function labels(engine: Engine): string {
  const info: PolicyInfo = JSON.parse(engine.policyInfo());
  const segment: string | undefined = info.segments[0]?.name;
  const group: string | undefined = info.profiles[0]?.group;
  const line: ContentLine | undefined = info.contentLines[0];
  const reasons: string[] = info.breakGlass.reasons.map((r) => `${r.code}: ${r.display}`);
  const minutes: number = info.breakGlass.maxMinutes;
  return `${segment} ${group} ${line?.label} ${reasons.length} ${minutes}`;
}
