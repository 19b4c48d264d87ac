// The Runs page's logic, kept free of Svelte so Vitest covers it.

/**
 * The keyset cursor that continues a list after this job, as the server
 * issues it (X-Millrun-Next-Cursor): created_at in microseconds, "_", id.
 */
export function cursorAfter(job: { id: string; created_at: string }): string {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?Z$/.exec(job.created_at);
  if (!m) return "";
  const seconds = Date.parse(m[1] + "Z") / 1000;
  const micros = Number((m[2] ?? "").padEnd(6, "0"));
  return `${seconds * 1_000_000 + micros}_${job.id}`;
}

/** What the Runs page is filtered by; "" is any. */
export interface RunFilters {
  path: string; // any part of the script or flow path
  status: string; // one status, or several comma-separated
  trigger: string;
  schedule: string; // the runs one schedule started
}

const names: (keyof RunFilters)[] = ["path", "status", "trigger", "schedule"];

export function filtersFrom(query: string): RunFilters {
  const q = new URLSearchParams(query);
  return { path: q.get("path") ?? "", status: q.get("status") ?? "", trigger: q.get("trigger") ?? "", schedule: q.get("schedule") ?? "" };
}

/** The filters as the query of the page's URL (#/runs?...), "" for none. */
export function filtersQuery(f: RunFilters): string {
  const q = new URLSearchParams();
  for (const k of names) if (f[k].trim()) q.set(k, f[k].trim());
  return q.toString();
}

export const filtering = (f: RunFilters) => filtersQuery(f) !== "";

/** The jobs list's query parameters for the filters. */
export function listParams(f: RunFilters): Record<string, string> {
  const p: Record<string, string> = {};
  if (f.path.trim()) p.script_path_contains = f.path.trim();
  if (f.status) p.status = f.status;
  if (f.trigger) p.trigger = f.trigger;
  if (f.schedule) p.schedule_path = f.schedule;
  return p;
}

/** Whether a job pushed live belongs in the list the filters show. */
export function runMatches(f: RunFilters, j: { script_path?: string; status: string; trigger: string; schedule_path?: string }): boolean {
  const part = f.path.trim().toLowerCase();
  return (!part || (j.script_path ?? "").toLowerCase().includes(part)) &&
    (!f.status || f.status.split(",").includes(j.status)) &&
    (!f.trigger || j.trigger === f.trigger) &&
    (!f.schedule || j.schedule_path === f.schedule);
}
