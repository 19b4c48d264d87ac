// One formatter for every timestamp: Date.toLocaleString builds a new one
// per call, which a list rendering hundreds of rows a second pays for.
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "short", timeStyle: "medium" });

/** A server timestamp in the user's locale and time zone; fallback when absent. */
export function when(t: string | null | undefined, fallback = ""): string {
  if (!t) return fallback;
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? t : dateTime.format(d);
}
