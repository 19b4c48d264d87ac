// "Copy as curl" for a received request, so it can be sent again from a
// terminal (against millrun, or a script under development).
import { shellQuote } from "./urls";

// Headers curl sets itself, or that would be wrong when resent.
const skipped = new Set(["host", "content-length", "connection", "accept-encoding", "user-agent", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"]);

export function curlForRequest(base: string, r: { method: string; url: string; headers: Record<string, string>; body?: string }): string {
  const url = new URL(r.url, base.replace(/\/+$/, "") + "/").toString();
  const lines = [`curl -X ${r.method} ${shellQuote(url)}`];
  for (const [k, v] of Object.entries(r.headers).sort(([a], [b]) => a.localeCompare(b))) {
    if (skipped.has(k.toLowerCase())) continue;
    // Redacted credentials cannot be resent: leave a placeholder to fill.
    const value = v === "[redacted]" ? (k.toLowerCase() === "authorization" ? "Bearer <TOKEN>" : "<SECRET>") : v;
    lines.push(`-H ${shellQuote(`${k}: ${value}`)}`);
  }
  if (r.body) lines.push(`--data-binary ${shellQuote(r.body)}`);
  return lines.join(" \\\n  ");
}
