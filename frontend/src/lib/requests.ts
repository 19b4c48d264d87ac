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

/** A form-encoded body (Slack's slash commands) as its fields, in order;
 * null when the body is not a form. */
export function formFields(headers: Record<string, string>, body: string | undefined): [string, string][] | null {
  const type = Object.entries(headers).find(([k]) => k.toLowerCase() === "content-type")?.[1] ?? "";
  if (!body || !type.toLowerCase().includes("application/x-www-form-urlencoded")) return null;
  return [...new URLSearchParams(body).entries()];
}

/** What the Check column says about a request: who was let in or why not,
 * a handshake millrun answered, or why an accepted call still failed. */
export function checkText(r: { auth_ok: boolean; auth_reason?: string; status: number; note?: string; response?: string; run_failed?: boolean }): { text: string; bad: boolean } {
  if (!r.auth_ok) return { text: r.auth_reason || "refused", bad: true };
  if (r.note) return { text: r.note, bad: false };
  if (r.status >= 400) return { text: (r.response ?? "").trim().slice(0, 200) || `answered ${r.status}`, bad: true };
  if (r.run_failed) return { text: `${r.auth_reason ? r.auth_reason + "; " : ""}the run failed`, bad: true };
  return { text: r.auth_reason || "let in", bad: false };
}

/** A request's URL as the Requests list shows it in a narrow column:
 * what was called (sync or async, the script, hash, flow or route), not
 * the /api/w/<workspace>/jobs/ every webhook URL starts with. */
export function calledWhat(url: string): string {
  let path = url;
  try {
    path = new URL(url, "http://x").pathname;
  } catch {
    /* shown as it is */
  }
  const run = /^\/api\/w\/[^/]+\/jobs\/(run|run_wait_result)\/([phf])\/(.+)$/.exec(path);
  if (run) {
    const mode = run[1] === "run" ? "async" : "sync";
    const what = run[2] === "h" ? `version ${run[3]}` : run[2] === "f" ? `flow ${run[3]}` : run[3];
    return `${mode} ${what}`;
  }
  const route = /^\/api\/r\/(.+)$/.exec(path);
  if (route) return `route ${route[1]}`;
  return path.replace(/^\/api\/w\/[^/]+\//, "");
}
