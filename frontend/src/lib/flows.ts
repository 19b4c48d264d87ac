// A flow's definition (Windmill's OpenFlow subset) as the step cards edit
// it; kept free of Svelte so Vitest covers it.

export interface Transform {
  type: "static" | "javascript";
  value?: unknown;
  expr?: string;
}

export interface StepValue {
  type: "rawscript" | "script";
  language?: string;
  content?: string;
  path?: string;
  input_transforms: Record<string, Transform>;
}

export interface Step {
  id: string;
  value: StepValue;
}

export interface FlowValue {
  modules: Step[];
  early_return?: string;
}

/** One argument of a step as a card shows it: a name and where its value comes from. */
export interface ArgRow {
  name: string;
  type: "static" | "javascript";
  text: string; // the expression, or the static value as typed
}

export function argRows(step: Step): ArgRow[] {
  return Object.entries(step.value.input_transforms ?? {}).map(([name, t]) =>
    t.type === "javascript"
      ? { name, type: "javascript", text: t.expr ?? "" }
      : { name, type: "static", text: typeof t.value === "string" ? t.value : JSON.stringify(t.value ?? null) },
  );
}

/** The input_transforms for rows: a static value is JSON when it parses as
 * JSON (42, true, {"a": 1}), otherwise the text itself. */
export function transformsOf(rows: ArgRow[]): Record<string, Transform> {
  const out: Record<string, Transform> = {};
  for (const r of rows) {
    const name = r.name.trim();
    if (!name) continue;
    if (r.type === "javascript") {
      out[name] = { type: "javascript", expr: r.text };
    } else {
      let value: unknown = r.text;
      try {
        value = JSON.parse(r.text);
      } catch {
        // plain text
      }
      out[name] = { type: "static", value };
    }
  }
  return out;
}

/** A new inline step with an id no other step has. */
export function newStep(flow: FlowValue, language = "python3"): Step {
  let n = flow.modules.length + 1;
  const ids = new Set(flow.modules.map((m) => m.id));
  while (ids.has(`step${n}`)) n++;
  const content = language === "bash" ? 'echo "previous step said: $1"\n' : language === "python3" ? "def main(previous=None):\n    return previous\n" : "export async function main(previous: unknown) {\n  return previous;\n}\n";
  return { id: `step${n}`, value: { type: "rawscript", language, content, input_transforms: { previous: { type: "javascript", expr: "previous_result" } } } };
}

/** What would stop the flow from saving, in words; "" when none. */
export function flowProblem(flow: FlowValue): string {
  if (flow.modules.length === 0) return "Add a step.";
  const seen = new Set<string>();
  for (const m of flow.modules) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(m.id)) return `Step id "${m.id}" must be letters, digits and _, not starting with a digit (other steps use it as results.${m.id || "id"}).`;
    if (seen.has(m.id)) return `Two steps are called "${m.id}".`;
    seen.add(m.id);
    if (m.value.type === "script" && !m.value.path?.trim()) return `Step ${m.id}: choose the saved script it runs.`;
  }
  if (flow.early_return && !seen.has(flow.early_return)) return `The caller is answered at step "${flow.early_return}", which no longer exists.`;
  return "";
}
