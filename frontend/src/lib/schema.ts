// The argument schema (JSON Schema, as Windmill stores it) turned into form
// fields, and form input turned back into arguments.

export interface Property {
  type?: string;
  description?: string;
  default?: unknown;
  format?: string;
  items?: Property;
}

export interface Schema {
  properties?: Record<string, Property>;
  required?: string[];
  order?: string[];
}

export interface Field {
  name: string;
  type: string; // string, integer, number, boolean, array, object, or "" (any)
  required: boolean;
  initial: string; // what the input starts with
}

export function fields(schema: Schema | null | undefined): Field[] {
  if (!schema?.properties) return [];
  const names = schema.order?.length ? schema.order : Object.keys(schema.properties);
  return names
    .filter((n) => schema.properties![n])
    .map((name) => {
      const p = schema.properties![name];
      const type = p.type ?? "";
      let initial = "";
      if (p.default !== undefined && p.default !== null) {
        initial = type === "string" && typeof p.default === "string" ? p.default : JSON.stringify(p.default);
      }
      if (type === "boolean" && initial === "") initial = "false";
      return { name, type, required: (schema.required ?? []).includes(name), initial };
    });
}

export type Coerced = { ok: true; args: Record<string, unknown> } | { ok: false; errors: Record<string, string> };

/** Turns the form's text values into typed arguments, with an error per field. */
export function coerce(fs: Field[], values: Record<string, string>): Coerced {
  const args: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const f of fs) {
    const raw = values[f.name] ?? "";
    if (raw.trim() === "" && f.type !== "string") {
      if (f.required) errors[f.name] = "Required.";
      continue;
    }
    if (raw === "" && f.type === "string") {
      if (f.required) errors[f.name] = "Required.";
      continue;
    }
    switch (f.type) {
      case "string":
        args[f.name] = raw;
        break;
      case "integer":
        if (!/^-?\d+$/.test(raw.trim())) errors[f.name] = "A whole number, like 42.";
        else args[f.name] = Number(raw);
        break;
      case "number":
        if (Number.isNaN(Number(raw)) || raw.trim() === "") errors[f.name] = "A number, like 3.5.";
        else args[f.name] = Number(raw);
        break;
      case "boolean":
        args[f.name] = raw === "true";
        break;
      default: {
        try {
          const v = JSON.parse(raw);
          if (f.type === "array" && !Array.isArray(v)) errors[f.name] = "A JSON array, like [1, 2].";
          else if (f.type === "object" && (v === null || typeof v !== "object" || Array.isArray(v)))
            errors[f.name] = 'A JSON object, like {"a": 1}.';
          else args[f.name] = v;
        } catch {
          if (f.type === "") args[f.name] = raw; // untyped: take the text
          else errors[f.name] = "Not valid JSON.";
        }
      }
    }
  }
  return Object.keys(errors).length ? { ok: false, errors } : { ok: true, args };
}

/** Arguments to try a script with, from its parameters: each default, or
 * an empty value of the parameter's type. */
export function exampleArgs(schema: Schema | null | undefined): string {
  const empty: Record<string, unknown> = { string: "", integer: 0, number: 0, boolean: false, array: [], object: {} };
  const args: Record<string, unknown> = {};
  for (const name of schema?.properties ? (schema.order?.length ? schema.order : Object.keys(schema.properties)) : []) {
    const p = schema!.properties![name];
    if (!p) continue;
    args[name] = p.default !== undefined && p.default !== null ? p.default : (empty[p.type ?? ""] ?? null);
  }
  return JSON.stringify(args);
}
