// A failed run's result, made readable: Windmill's {"error": {name,
// message, stack}} becomes a heading, a stack without the job folder's
// temporary paths, and the line of the script it failed at. Kept free of
// Svelte so Vitest covers it.

export interface Frame {
  line: number;
  fn: string;
}

export interface Failure {
  name: string;
  message: string; // its first line: the heading
  details: string; // the rest of the message (Bash's last log lines)
  stack: string; // "" when there is none
  /** The script's own line the error was raised at, when the stack names one. */
  at: Frame | null;
}

// A job runs in a fresh folder (or a fork server's) whose path says
// nothing to the user: main.py is what they wrote.
const jobFile = /(?:file:\/\/\/?)?(?:[A-Za-z]:)?(?:[\\/][^\\/\s"'():]+)+[\\/]((?:main|wrapper|warm)\.(?:py|mjs|ts|js|sh))/g;

export function cleanPaths(text: string): string {
  return text.replace(jobFile, "$1");
}

// Only files whose lines are the user's own: main.py as written, main.ts
// when Bun or Deno run it as is. (main.mjs is TypeScript bundled for
// Node: its lines are the bundle's.)
function userFrames(stack: string): Frame[] {
  const frames: Frame[] = [];
  for (const m of stack.matchAll(/File "main\.py", line (\d+), in (\S+)/g)) frames.push({ line: Number(m[1]), fn: m[2] });
  const python = frames.length > 0;
  for (const m of stack.matchAll(/at (?:(\S+) \()?main\.ts:(\d+):\d+\)?/g)) frames.push({ line: Number(m[2]), fn: m[1] ?? "" });
  // Python lists the innermost call last, JavaScript first.
  return python ? frames.reverse() : frames;
}

export function failureOf(result: unknown): Failure | null {
  const error = (result as { error?: unknown } | null)?.error;
  if (!error || typeof error !== "object") return null;
  const e = error as Record<string, unknown>;
  if (typeof e.message !== "string" && typeof e.name !== "string") return null;
  const message = String(e.message ?? "");
  const [first, ...rest] = cleanPaths(message).split("\n");
  const stack = typeof e.stack === "string" ? cleanPaths(e.stack).trimEnd() : "";
  return { name: String(e.name ?? "Error"), message: first, details: rest.join("\n").trim(), stack, at: userFrames(stack)[0] ?? null };
}

/** The logs without the traceback the failure already shows (a Python
 * error is written to stderr as well). */
export function logsWithout(logs: string, stack: string): string {
  if (!stack) return logs;
  const cleaned = cleanPaths(logs);
  const i = cleaned.lastIndexOf(stack);
  if (i < 0) return logs;
  return (cleaned.slice(0, i) + "(the traceback is shown above)" + cleaned.slice(i + stack.length)).trimEnd();
}

/** Lines around line (1-based), numbered, for an excerpt of the script. */
export function around(content: string, line: number, context = 2): { n: number; text: string }[] {
  const lines = content.split("\n");
  const from = Math.max(1, line - context);
  const to = Math.min(lines.length, line + context);
  const out = [];
  for (let n = from; n <= to; n++) out.push({ n, text: lines[n - 1] });
  return out;
}
