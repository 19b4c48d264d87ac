// A flow's definition (Windmill's OpenFlow) as the step cards edit it;
// kept free of Svelte so Vitest covers it. The cards never rebuild a step:
// each edit replaces the fields it is about and leaves every other field
// as it came (a flow pushed by `wmill sync` keeps what the cards do not
// show).

export type Json = Record<string, unknown>;

export interface Transform {
  type: "static" | "javascript";
  value?: unknown;
  expr?: string;
  [k: string]: unknown;
}

export interface StepValue {
  type: string;
  language?: string;
  content?: string;
  path?: string;
  input_transforms?: Record<string, Transform>;
  iterator?: Transform;
  modules?: Step[];
  parallel?: boolean;
  parallelism?: Transform | number;
  skip_failures?: boolean;
  branches?: Branch[];
  default?: Step[];
  [k: string]: unknown;
}

export interface Step {
  id: string;
  summary?: string;
  value: StepValue;
  [k: string]: unknown;
}

export interface Branch {
  summary?: string;
  expr?: string;
  modules: Step[];
  skip_failure?: boolean;
  [k: string]: unknown;
}

export interface FlowValue {
  modules: Step[];
  failure_module?: Step;
  early_return?: string;
  [k: string]: unknown;
}

/** A flow as `wmill sync` writes its flow.yaml: summary, description,
 * value, schema, and the flow's other settings (tag, timeout...). */
export interface FlowDoc {
  summary: string;
  description?: string;
  value: FlowValue;
  schema?: unknown;
  [k: string]: unknown;
}

/** One argument of a step as a card shows it: a name and where its value comes from. */
export interface ArgRow {
  name: string;
  type: "static" | "javascript";
  text: string; // the expression, or the static value as typed
}

/** What the kinds of step are called on the cards. */
export const kindNames: Record<string, string> = {
  rawscript: "code",
  script: "saved script",
  flow: "saved flow",
  identity: "pass-through",
  forloopflow: "for loop",
  whileloopflow: "while loop",
  branchone: "branch to one",
  branchall: "branch to all",
};

export const containerKinds = ["forloopflow", "whileloopflow", "branchone", "branchall"];

// ---- values as typed ----

/** A static value as typed: JSON when it parses as JSON (42, true,
 * {"a": 1}), otherwise the text itself. */
export function typedValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function shown(v: unknown): string {
  if (v === undefined || v === null) return "";
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** A transform (or the bare value Windmill also accepts for a number) as a card's field. */
export function fieldOf(t: unknown): ArgRow {
  if (t && typeof t === "object" && "type" in (t as Json)) {
    const tr = t as Transform;
    return tr.type === "javascript" ? { name: "", type: "javascript", text: tr.expr ?? "" } : { name: "", type: "static", text: shown(tr.value) };
  }
  return { name: "", type: "static", text: shown(t) };
}

/** The transform for a field; undefined when it is left empty. */
export function transformOf(f: Pick<ArgRow, "type" | "text">, old?: unknown): Transform | undefined {
  if (f.text.trim() === "") return undefined;
  const keep = old && typeof old === "object" && "type" in (old as Json) ? (old as Transform) : {};
  if (f.type === "javascript") {
    const { value: _v, ...rest } = keep as Transform;
    return { ...rest, type: "javascript", expr: f.text };
  }
  const { expr: _e, ...rest } = keep as Transform;
  return { ...rest, type: "static", value: typedValue(f.text) };
}

// ---- arguments ----

export function argRows(step: Step): ArgRow[] {
  return Object.entries(step.value.input_transforms ?? {}).map(([name, t]) => ({ ...fieldOf(t), name }));
}

export function transformsOf(rows: ArgRow[]): Record<string, Transform> {
  const out: Record<string, Transform> = {};
  for (const r of rows) {
    const name = r.name.trim();
    if (!name) continue;
    out[name] = r.type === "javascript" ? { type: "javascript", expr: r.text } : { type: "static", value: typedValue(r.text) };
  }
  return out;
}

// ---- step options ----

/** The options every step may carry, as the options panel shows them. */
export interface StepOptions {
  retry: "none" | "constant" | "exponential";
  attempts: string;
  seconds: string;
  multiplier: string;
  timeout: ArgRow;
  sleep: ArgRow;
  skipIf: string;
  stopAfterIf: string;
  skipIfStopped: boolean;
  errorMessage: string;
  stopAfterAllItersIf: string;
  continueOnError: boolean;
  cacheTtl: string;
  approval: boolean;
  requiredEvents: string;
  approvalTimeout: string;
}

type RetryPart = { attempts?: number; seconds?: number; multiplier?: number; [k: string]: unknown };

export function optionsOf(step: Step): StepOptions {
  const retry = (step.retry ?? {}) as { constant?: RetryPart; exponential?: RetryPart };
  const kind = (retry.constant?.attempts ?? 0) > 0 ? "constant" : (retry.exponential?.attempts ?? 0) > 0 ? "exponential" : "none";
  const part = kind === "exponential" ? retry.exponential : retry.constant;
  const stop = step.stop_after_if as { expr?: string; skip_if_stopped?: boolean; error_message?: string } | undefined;
  const suspend = step.suspend as { required_events?: number; timeout?: number } | undefined;
  return {
    retry: kind,
    attempts: kind === "none" ? "" : String(part?.attempts ?? ""),
    seconds: kind === "none" ? "" : String(part?.seconds ?? ""),
    multiplier: String(retry.exponential?.multiplier ?? 1),
    timeout: fieldOf(step.timeout),
    sleep: fieldOf(step.sleep),
    skipIf: (step.skip_if as { expr?: string } | undefined)?.expr ?? "",
    stopAfterIf: stop?.expr ?? "",
    skipIfStopped: stop?.skip_if_stopped ?? false,
    errorMessage: stop?.error_message ?? "",
    stopAfterAllItersIf: (step.stop_after_all_iters_if as { expr?: string } | undefined)?.expr ?? "",
    continueOnError: step.continue_on_error === true,
    cacheTtl: step.cache_ttl === undefined || step.cache_ttl === null ? "" : String(step.cache_ttl),
    approval: !!suspend && (suspend.required_events ?? 0) > 0,
    requiredEvents: String(suspend?.required_events ?? 1),
    approvalTimeout: String(suspend?.timeout ?? 1800),
  };
}

/** The names of the options set on a step, for the panel's summary line. */
export function optionsSet(o: StepOptions): string[] {
  const out: string[] = [];
  if (o.retry !== "none") out.push(`retry ${o.attempts}× (${o.retry})`);
  if (o.timeout.text) out.push("timeout");
  if (o.sleep.text) out.push("sleep after");
  if (o.skipIf) out.push("skip if");
  if (o.stopAfterIf) out.push("stop if");
  if (o.stopAfterAllItersIf) out.push("stop after the loop if");
  if (o.continueOnError) out.push("continue on error");
  if (o.cacheTtl) out.push("cache");
  if (o.approval) out.push(`approval (${o.requiredEvents})`);
  return out;
}

const num = (s: string, fallback = 0) => (s.trim() === "" || isNaN(Number(s)) ? fallback : Number(s));

function setOrDelete(step: Step, key: string, v: unknown): Step {
  const out = { ...step };
  if (v === undefined) delete out[key];
  else out[key] = v;
  return out;
}

/** step with the options in change written; fields change does not name
 * are left exactly as they were. */
export function withOptions(step: Step, change: Partial<StepOptions>): Step {
  const o = { ...optionsOf(step), ...change };
  let s = step;
  const has = (...keys: (keyof StepOptions)[]) => keys.some((k) => k in change);
  if (has("retry", "attempts", "seconds", "multiplier")) {
    const old = (step.retry ?? {}) as { constant?: RetryPart; exponential?: RetryPart; [k: string]: unknown };
    if (o.retry === "none") s = setOrDelete(s, "retry", undefined);
    else {
      const attempts = Math.max(1, num(o.attempts, 1));
      const seconds = num(o.seconds, o.retry === "exponential" ? 1 : 0);
      const r = { ...old };
      if (o.retry === "constant") {
        r.constant = { ...old.constant, attempts, seconds };
        if (old.exponential) r.exponential = { ...old.exponential, attempts: 0 };
      } else {
        r.exponential = { ...old.exponential, attempts, seconds, multiplier: num(o.multiplier, 1) };
        if (old.constant) r.constant = { ...old.constant, attempts: 0 };
      }
      s = setOrDelete(s, "retry", r);
    }
  }
  if (has("timeout")) s = setOrDelete(s, "timeout", transformOf(o.timeout, step.timeout));
  if (has("sleep")) s = setOrDelete(s, "sleep", transformOf(o.sleep, step.sleep));
  if (has("skipIf")) s = setOrDelete(s, "skip_if", o.skipIf.trim() ? { ...(step.skip_if as Json), expr: o.skipIf } : undefined);
  if (has("stopAfterIf", "skipIfStopped", "errorMessage")) {
    const old = (step.stop_after_if ?? {}) as Json;
    const v: Json = { ...old, expr: o.stopAfterIf, skip_if_stopped: o.skipIfStopped };
    if (o.errorMessage) v.error_message = o.errorMessage;
    else delete v.error_message;
    s = setOrDelete(s, "stop_after_if", o.stopAfterIf.trim() ? v : undefined);
  }
  if (has("stopAfterAllItersIf")) {
    s = setOrDelete(s, "stop_after_all_iters_if", o.stopAfterAllItersIf.trim() ? { ...(step.stop_after_all_iters_if as Json), expr: o.stopAfterAllItersIf } : undefined);
  }
  if (has("continueOnError")) s = setOrDelete(s, "continue_on_error", o.continueOnError ? true : undefined);
  if (has("cacheTtl")) s = setOrDelete(s, "cache_ttl", o.cacheTtl.trim() ? num(o.cacheTtl) : undefined);
  if (has("approval", "requiredEvents", "approvalTimeout")) {
    s = setOrDelete(s, "suspend", o.approval
      ? { ...(step.suspend as Json), required_events: Math.max(1, num(o.requiredEvents, 1)), timeout: Math.max(1, num(o.approvalTimeout, 1800)) }
      : undefined);
  }
  return s;
}

// ---- walking the tree ----

/** The step lists inside a step: a loop's body, each branch, the default. */
export function childLists(step: Step): Step[][] {
  const v = step.value;
  const out: Step[][] = [];
  if (v.modules) out.push(v.modules);
  for (const b of v.branches ?? []) out.push(b.modules ?? []);
  if (v.default) out.push(v.default);
  return out;
}

/** Every step of the flow, nested ones and the failure handler included, outermost first. */
export function allSteps(flow: FlowValue): Step[] {
  const out: Step[] = [];
  const visit = (s: Step) => {
    out.push(s);
    for (const list of childLists(s)) list.forEach(visit);
  };
  flow.modules.forEach(visit);
  for (const k of ["failure_module", "preprocessor_module"]) {
    const m = flow[k] as Step | undefined;
    if (m) visit(m);
  }
  return out;
}

/** An id no step of the flow has (ids are unique across nested steps too). */
export function freshId(flow: FlowValue, base = "step"): string {
  const ids = new Set(allSteps(flow).map((s) => s.id));
  let n = 1;
  if (base === "step") n = flow.modules.length + 1;
  while (ids.has(`${base}${n}`)) n++;
  return `${base}${n}`;
}

// ---- new steps ----

export type NewKind = "python3" | "bun" | "bash" | "script" | "flow" | "forloopflow" | "whileloopflow" | "branchone" | "branchall" | "approval";

export const newKinds: { kind: NewKind; label: string }[] = [
  { kind: "python3", label: "Python code" },
  { kind: "bun", label: "TypeScript code" },
  { kind: "bash", label: "Bash code" },
  { kind: "script", label: "A saved script" },
  { kind: "flow", label: "A saved flow" },
  { kind: "forloopflow", label: "For loop (each item of a list)" },
  { kind: "whileloopflow", label: "While loop (until a condition)" },
  { kind: "branchone", label: "Branch to one (first condition that holds)" },
  { kind: "branchall", label: "Branch to all (every branch)" },
  { kind: "approval", label: "Approval (waits for a person)" },
];

const starter: Record<string, string> = {
  python3: "def main(previous=None):\n    return previous\n",
  bash: 'previous="$1"\necho "previous step said: $previous"\n',
  bun: "export async function main(previous: unknown) {\n  return previous;\n}\n",
};

// An approval step gives the links that resume or cancel the flow; the
// flow waits after it.
const approvalCode = "import wmill\n\ndef main():\n    # Post these links where the approver will see them (Slack, mail).\n    return wmill.get_resume_urls()\n";

function code(id: string, language: string, content = starter[language]): Step {
  return { id, value: { type: "rawscript", language, content, input_transforms: { previous: { type: "javascript", expr: "previous_result" } } } };
}

/** A new step of a kind, with ids no other step of flow has. */
export function newStep(flow: FlowValue, kind: NewKind | string = "python3"): Step {
  const id = freshId(flow, kind === "forloopflow" || kind === "whileloopflow" ? "loop" : kind === "branchone" || kind === "branchall" ? "branch" : kind === "approval" ? "approval" : "step");
  // Steps inside get their ids one after another, each unseen so far.
  const taken: FlowValue = { modules: [...flow.modules, { id, value: { type: "identity" } }], failure_module: flow.failure_module };
  const inner = (language = "python3", content?: string) => {
    const s = code(freshId(taken), language, content);
    taken.modules.push(s);
    return s;
  };
  switch (kind) {
    case "script":
    case "flow":
      return { id, value: { type: kind, path: "", input_transforms: {} } };
    case "forloopflow": {
      const body = inner("python3", "def main(item=None):\n    return item\n");
      body.value.input_transforms = { item: { type: "javascript", expr: "flow_input.iter.value" } };
      return { id, value: { type: "forloopflow", iterator: { type: "javascript", expr: "flow_input.items" }, skip_failures: false, parallel: false, modules: [body] } };
    }
    case "whileloopflow": {
      const body = inner("python3", "def main(index: int = 0):\n    return index\n");
      body.value.input_transforms = { index: { type: "javascript", expr: "flow_input.iter.index" } };
      return { id, value: { type: "whileloopflow", skip_failures: false, modules: [body] }, stop_after_if: { expr: "result >= 2", skip_if_stopped: false } };
    }
    case "branchone":
      return { id, value: { type: "branchone", branches: [{ summary: "", expr: "flow_input.ok === true", modules: [inner()] }], default: [inner()] } };
    case "branchall":
      return { id, value: { type: "branchall", parallel: true, branches: [{ summary: "", skip_failure: false, modules: [inner()] }, { summary: "", skip_failure: false, modules: [inner()] }] } };
    case "approval":
      return { id, value: { type: "rawscript", language: "python3", content: approvalCode, input_transforms: {} }, suspend: { required_events: 1, timeout: 1800 } };
    default:
      return code(id, kind);
  }
}

/** A failure handler: it gets the failed step's error (message, name,
 * step_id); what it returns is the flow's result. */
export function newFailureHandler(): Step {
  return { id: "failure", summary: "When a step fails", value: { type: "rawscript", language: "python3",
    content: "def main(error: dict = None):\n    print(f\"step {error['step_id']} failed: {error['message']}\")\n    return error\n",
    input_transforms: { error: { type: "javascript", expr: "error" } } } };
}

/** A new branch for a branchone or branchall step. */
export function newBranch(flow: FlowValue, type: string): Branch {
  const s = code(freshId(flow), "python3");
  return type === "branchone" ? { summary: "", expr: "false", modules: [s] } : { summary: "", skip_failure: false, modules: [s] };
}

// ---- checks ----

/** What would stop the flow from saving, in words; "" when none. */
export function flowProblem(flow: FlowValue): string {
  if (flow.modules.length === 0) return "Add a step.";
  const seen = new Set<string>();
  for (const m of allSteps(flow)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(m.id)) return `Step id "${m.id}" must be letters, digits and _, not starting with a digit (other steps use it as results.${m.id || "id"}).`;
    if (seen.has(m.id)) return `Two steps are called "${m.id}" (ids are unique across the flow, steps in loops and branches too).`;
    seen.add(m.id);
    if ((m.value.type === "script" || m.value.type === "flow") && !m.value.path?.trim()) return `Step ${m.id}: choose the saved ${m.value.type} it runs.`;
    if (m.value.type === "forloopflow" && !fieldOf(m.value.iterator).text.trim()) return `Step ${m.id}: say what the loop goes over (an expression giving a list).`;
    if (m.value.type === "whileloopflow" && !optionsOf(m).stopAfterIf.trim()) return `Step ${m.id}: say when the while loop stops (it would run forever).`;
    if (m.value.type === "branchone") {
      const i = (m.value.branches ?? []).findIndex((b) => !b.expr?.trim());
      if (i >= 0) return `Step ${m.id}: branch ${i + 1} needs a condition.`;
    }
  }
  if (flow.early_return && !flow.modules.some((m) => m.id === flow.early_return)) return `The caller is answered at step "${flow.early_return}", which no longer exists.`;
  return "";
}

// ---- the whole document ----

// Fields of Windmill's Flow that the server owns or that say where a flow
// is: not part of the definition the editor shows and saves back.
const serverFields = ["path", "hash", "workspace_id", "edited_at", "edited_by", "archived", "extra_perms", "starred", "version_id", "draft", "has_draft", "draft_only"];

/** The editable document of a flow as flows/get answers it. */
export function docOf(flow: Json): FlowDoc {
  const doc: Json = {};
  for (const [k, v] of Object.entries(flow)) if (!serverFields.includes(k)) doc[k] = v;
  doc.summary = (doc.summary as string) ?? "";
  doc.value = (doc.value as FlowValue) ?? { modules: [] };
  return doc as FlowDoc;
}

/** The flows/create or flows/update body for doc at path. A schema that
 * is only the one millrun inferred is left out, so it follows the steps. */
export function saveBody(doc: FlowDoc, path: string, inferredSchema?: unknown): Json {
  const body: Json = { ...doc, path };
  if (inferredSchema !== undefined && sameJSON(doc.schema, inferredSchema)) delete body.schema;
  return body;
}

/** JSON equality, key order aside. */
export function sameJSON(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${Object.keys(v as Json).filter((k) => (v as Json)[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Json)[k])}`).join(",")}}`;
  }
  return JSON.stringify(v ?? null);
}
