// Builders for the webhook URLs and snippets the webhook panel shows. Kept
// free of Svelte so Vitest covers them.

export type Kind = "script" | "flow";

export interface Target {
  base: string; // e.g. http://127.0.0.1:8700 (no trailing slash)
  workspace: string;
  kind: Kind;
  path: string;
  hash?: string; // scripts only
}

function api(t: Target): string {
  return `${t.base.replace(/\/+$/, "")}/api/w/${encodeURIComponent(t.workspace)}/jobs`;
}

/** The async (returns a job id) and sync (returns the result) URLs. */
export function webhookUrls(t: Target) {
  const letter = t.kind === "flow" ? "f" : "p";
  const out = {
    asyncPath: `${api(t)}/run/${letter}/${t.path}`,
    syncPath: `${api(t)}/run_wait_result/${letter}/${t.path}`,
    asyncHash: "",
    syncHash: "",
  };
  if (t.kind === "script" && t.hash) {
    out.asyncHash = `${api(t)}/run/h/${t.hash}`;
    out.syncHash = `${api(t)}/run_wait_result/h/${t.hash}`;
  }
  return out;
}

/** Base64 of the UTF-8 JSON text, URL-safe and unpadded, as millrun accepts. */
export function encodePayload(args: unknown): string {
  const bytes = new TextEncoder().encode(JSON.stringify(args));
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  // Standard base64, padded: a Windmill cluster decodes only that
  // alphabet, so a URL copied here keeps working there (millrun reads both).
  return btoa(bin);
}

export function decodePayload(p: string): unknown {
  const norm = p.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(norm + "=".repeat((4 - (norm.length % 4)) % 4));
  const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

export type PayloadResult = { ok: true; url: string } | { ok: false; error: string };

/** The sync GET URL for a JSON text the user typed, or why it cannot be. */
export function getUrl(syncUrl: string, jsonText: string, token?: string): PayloadResult {
  let args: unknown;
  try {
    args = jsonText.trim() === "" ? {} : JSON.parse(jsonText);
  } catch (e) {
    return { ok: false, error: `Not valid JSON: ${(e as Error).message}` };
  }
  if (args === null || typeof args !== "object" || Array.isArray(args)) {
    return { ok: false, error: "The arguments must be a JSON object, like {\"name\": \"ann\"}." };
  }
  const q = new URLSearchParams({ payload: encodePayload(args) });
  if (token) q.set("token", token);
  return { ok: true, url: `${syncUrl}?${q.toString()}` };
}

export type TokenPlace = "header" | "query";

export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A curl call; the token in the Authorization header unless asked otherwise. */
export function curlSnippet(url: string, body: string, token: string, place: TokenPlace): string {
  const target = place === "query" ? `${url}?token=${encodeURIComponent(token)}` : url;
  const lines = [`curl -X POST ${shellQuote(target)}`, `  -H 'Content-Type: application/json'`];
  if (place === "header") lines.push(`  -H ${shellQuote(`Authorization: Bearer ${token}`)}`);
  lines.push(`  -d ${shellQuote(body || "{}")}`);
  return lines.join(" \\\n");
}

/** The same call with fetch. */
export function fetchSnippet(url: string, body: string, token: string, place: TokenPlace): string {
  const target = place === "query" ? `${url}?token=${encodeURIComponent(token)}` : url;
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (place === "header") headers.Authorization = `Bearer ${token}`;
  return [
    `const res = await fetch(${JSON.stringify(target)}, {`,
    `  method: "POST",`,
    `  headers: ${JSON.stringify(headers)},`,
    `  body: JSON.stringify(${body.trim() || "{}"}),`,
    `});`,
    `console.log(await res.text());`,
  ].join("\n");
}

/** The scope a webhook token for this target needs. */
export function scopeFor(t: Pick<Target, "kind" | "path">): string {
  return `jobs:run:${t.kind === "flow" ? "flows" : "scripts"}:${t.path}`;
}
