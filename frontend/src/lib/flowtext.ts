// A flow document as text: the JSON view, and the YAML view that reads
// like the flow.yaml `wmill sync` writes.
import { parse, stringify } from "yaml";
import type { FlowDoc } from "./flows";

export type TextMode = "json" | "yaml";

export function docToText(doc: FlowDoc, mode: TextMode): string {
  // lineWidth 0: code in a step stays line for line as written.
  return mode === "json" ? JSON.stringify(doc, null, 2) : stringify(doc, { lineWidth: 0 });
}

export type Parsed = { ok: true; doc: FlowDoc } | { ok: false; error: string };

export function docFromText(text: string, mode: TextMode): Parsed {
  let v: unknown;
  try {
    v = mode === "json" ? JSON.parse(text) : parse(text);
  } catch (e) {
    return { ok: false, error: `Not valid ${mode === "json" ? "JSON" : "YAML"} yet: ${(e as Error).message.split("\n")[0]}` };
  }
  if (!v || typeof v !== "object" || Array.isArray(v)) return { ok: false, error: "The document is a flow: an object with summary and value." };
  const doc = v as FlowDoc;
  if (!doc.value || typeof doc.value !== "object" || !Array.isArray(doc.value.modules)) {
    return { ok: false, error: "The flow's steps go in value.modules (a list), as in Windmill's flow.yaml." };
  }
  return { ok: true, doc };
}
