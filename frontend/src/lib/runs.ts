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
