import { schedulesApi } from "./api";
import type { Schedule, CronExplained as Explained } from "./api-types";

// Schedules in the UI: the cron presets offered, the schedule form's
// checks, and how a schedule's state reads in words.

// A schedule as the API answers it, and the cron explained as it is typed.
export type { Schedule, Explained };

export const presets: { label: string; cron: string }[] = [
  { label: "Every day at 08:00", cron: "0 0 8 * * *" },
  { label: "Every weekday at 08:00", cron: "0 0 8 * * 1-5" },
  { label: "Every hour", cron: "0 0 * * * *" },
  { label: "Every 5 minutes", cron: "0 */5 * * * *" },
  { label: "Every Monday at 09:00", cron: "0 0 9 * * 1" },
];

export const missedChoices: { value: Schedule["missed"]; label: string }[] = [
  { value: "skip", label: "Skip runs missed while the computer slept or millrun was closed (as Windmill)" },
  { value: "run_once", label: "Run once on waking for what was missed" },
];

/** Switches a schedule on (its next run counted from now) or off. */
export async function toggleSchedule(s: Schedule): Promise<void> {
  await schedulesApi.setEnabled(s.path, !s.enabled);
}

/** This browser's time zone, the default for a new schedule. */
export function localZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

/** A free schedule path next to the script or flow it runs. */
export function suggestSchedulePath(target: string, taken: string[]): string {
  const base = `${target}_schedule`;
  if (!taken.includes(base)) return base;
  for (let i = 2; ; i++) if (!taken.includes(`${base}_${i}`)) return `${base}_${i}`;
}

const pathRE = /^[uf]\/[A-Za-z0-9_\-.]+(\/[A-Za-z0-9_\-.]+)+$/;

/** What is wrong with the form before it is sent, or "". */
export function scheduleFormProblem(f: { path: string; cron: string; timezone: string; onFailure: string }): string {
  if (!pathRE.test(f.path.trim())) return "The schedule's path looks like u/<you>/<name> or f/<folder>/<name>.";
  const n = f.cron.trim().split(/\s+/).filter(Boolean).length;
  if (n !== 6 && n !== 5) return "The cron has six fields: second minute hour day-of-month month day-of-week (such as 0 0 8 * * 1-5).";
  if (!f.timezone.trim()) return "Give a time zone, such as Europe/Paris or UTC.";
  if (f.onFailure.trim() && !/^(script|flow)\/[uf]\//.test(f.onFailure.trim()))
    return "On failure names a script or flow as script/u/<you>/<name> or flow/u/<you>/<name>, or stays empty.";
  return "";
}

/** A due time shown in the schedule's own zone, as the explain route gives it. */
export function showTime(iso: string): string {
  // "2026-12-07T08:00:00+01:00" → "Mon 7 Dec 2026, 08:00:00 (+01:00)"
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}:\d{2}:\d{2})(Z|[+-]\d{2}:\d{2})$/.exec(iso);
  if (!m) return iso;
  const [, y, mo, d, hms, off] = m;
  const day = new Date(Date.UTC(+y, +mo - 1, +d));
  const names = day.toLocaleDateString("en-GB", { weekday: "short", day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
  return `${names}, ${hms} (${off === "Z" ? "UTC" : off})`;
}
