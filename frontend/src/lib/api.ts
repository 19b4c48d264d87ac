// The UI talks to the engine only through fetch('/api/...'), so the same
// UI runs in the desktop window and in a browser against `millrun serve`.

export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
    /** millrun's explanation (X-Millrun-Hint) of an answer whose body is Windmill's fixed words. */
    public hint = "",
  ) {
    super(message);
  }
}

async function request(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.body !== undefined && !headers.has("Content-Type")) headers.set("Content-Type", "application/json");
  let res: Response;
  try {
    res = await fetch(path, { ...init, headers, credentials: "same-origin" });
  } catch {
    throw new ApiError(0, "millrun is not reachable. Is it still running?");
  }
  if (!res.ok) {
    // Errors are Windmill-style text: "Kind: message". Where that text is
    // Windmill's exact words (a 401 is "Not authorized: Unauthorized"),
    // millrun says why in X-Millrun-Hint, shown after it.
    const text = (await res.text()).trim() || `${res.status} ${res.statusText}`;
    const hint = res.headers.get("X-Millrun-Hint") ?? "";
    throw new ApiError(res.status, hint ? `${text}: ${hint}` : text, hint);
  }
  return res;
}

// The answers' shapes are generated from the Go structs that write them
// (make types); the ones the pages use are named here too.
import type {
  Job,
  Me,
  Token,
  ScriptVersion,
  ScriptCheck,
  LoggedIn,
  LoginHint,
  LoggedOut,
  SettingsView,
  SettingsSaved,
  PackagesView,
  Schedule,
  CronExplained,
  Script as ScriptAnswer,
  Flow,
  JobCount,
  Tunnel,
} from "./api-types";
import type { ReceivedRequest, ReplayResult } from "./api-requests";
export type { Job, Me, ScriptVersion, PackagesView, ReceivedRequest, ReplayResult };
export type { Flow as FlowInfo, Tunnel as TunnelView, Token as TokenInfo };
export type { Status as FlowStatus } from "./api-flow-status";

export async function getJSON<T>(path: string): Promise<T> {
  return (await request(path)).json() as Promise<T>;
}

export async function send<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await request(path, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  const type = res.headers.get("Content-Type") ?? "";
  return (type.includes("json") ? res.json() : res.text()) as Promise<T>;
}

/** A script as scripts/get gives it: with its content. */
export type Script = ScriptAnswer & { content: string };
/** A script as scripts/list gives it: without its content, its runs counted. */
export type ScriptSummary = ScriptAnswer & { run_count: number; last_status: string };

export function ws(me: Me): string {
  return `/api/w/${encodeURIComponent(me.workspace)}`;
}

// ---- Endpoints: one typed function per route the UI calls, grouped as
// Windmill's generated services are. Components call these, never URLs.

import type { Route } from "./routes";

// The workspace every /api/w/<ws>/ route is under; the session sets it on
// login (whoami says which one this millrun serves).
let workspace = "local";
export function setWorkspace(id: string) {
  workspace = id;
}
const w = () => `/api/w/${encodeURIComponent(workspace)}`;
const q = (params: Record<string, string | boolean | number | undefined>) => {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") s.set(k, String(v));
  const text = s.toString();
  return text ? `?${text}` : "";
};

export interface Variable {
  path: string;
  value: string | null;
  is_secret: boolean;
  description: string;
  edited_at: string;
}

export interface JobsPage {
  jobs: Job[];
  next: string; // the cursor of the next page, "" at the end
}

export const sessionApi = {
  whoami: () => getJSON<Me>("/api/millrun/whoami"),
  login: (token: string) => send<LoggedIn>("POST", "/api/millrun/login", { token }),
  /** The command that makes a token for this millrun's data folder (asked before logging in). */
  hint: () => getJSON<LoginHint>("/api/millrun/login/hint"),
  logout: () => send<LoggedOut>("POST", "/api/millrun/logout"),
  /** Which page this window shows and whether it has focus (notifications skip what is in sight). */
  presence: (p: { client: string; path: string; focused: boolean }) => send("POST", "/api/millrun/presence", p),
};

export const scriptsApi = {
  list: (withArchived = false) => getJSON<ScriptSummary[]>(`${w()}/scripts/list${q({ show_archived: withArchived || undefined })}`),
  get: (path: string) => getJSON<Script>(`${w()}/scripts/get/p/${path}`),
  /** One version, as it was saved (a run's, say). */
  byHash: (hash: string) => getJSON<Script>(`${w()}/scripts/get/h/${hash}`),
  history: (path: string) => getJSON<ScriptVersion[]>(`${w()}/scripts/history/p/${path}`),
  create: (body: Record<string, unknown>) => send<string>("POST", `${w()}/scripts/create`, body),
  archive: (path: string, archived = true) => send("POST", `${w()}/scripts/archive/p/${path}`, { archived }),
  remove: (path: string) => send("POST", `${w()}/scripts/delete/p/${path}`),
  check: (language: string, content: string) => send<ScriptCheck>("POST", "/api/millrun/scripts/check", { language, content }),
};

export const flowsApi = {
  list: (withArchived = false) => getJSON<Flow[]>(`${w()}/flows/list${q({ show_archived: withArchived || undefined })}`),
  get: (path: string) => getJSON<Flow>(`${w()}/flows/get/${path}`),
  exists: (path: string) => getJSON<boolean>(`${w()}/flows/exists/${path}`),
  save: (existing: boolean, body: { path: string; [field: string]: unknown }) =>
    send("POST", existing ? `${w()}/flows/update/${body.path}` : `${w()}/flows/create`, body),
  archive: (path: string, archived: boolean) => send("POST", `${w()}/flows/archive/${path}`, { archived }),
  remove: (path: string) => send("DELETE", `${w()}/flows/delete/${path}`),
  /** Runs a flow that is not saved (Windmill's preview_flow); returns the job id. */
  preview: async (value: unknown, path: string, args: Record<string, unknown>) =>
    (await send<string>("POST", `${w()}/jobs/run/preview_flow`, { value, path, args })).trim(),
  /** The schema millrun gives a flow saved without one. */
  inferredSchema: (value: unknown, path: string) => send<unknown>("POST", "/api/millrun/flows/inferred_schema", { value, path }),
};

export const jobsApi = {
  /** One page of runs, newest first; filter uses Windmill's jobs/list parameters. */
  async list(filter: Record<string, string>, cursor = "", perPage = 50): Promise<JobsPage> {
    const res = await request(`${w()}/jobs/list${q({ per_page: String(perPage), ...filter, cursor })}`);
    return { jobs: (await res.json()) as Job[], next: res.headers.get("X-Millrun-Next-Cursor") ?? "" };
  },
  /** How many runs there are in all (flow steps aside), queued, running or done. */
  async count(): Promise<number> {
    const [done, queued] = await Promise.all([
      getJSON<JobCount>(`${w()}/jobs/completed/count`),
      getJSON<JobCount>(`${w()}/jobs/queue/count`),
    ]);
    return done.database_length + queued.database_length;
  },
  /** Starts a script by path ("p") or hash ("h"), or a flow ("f"), with args from the UI; returns the job id. */
  run: async (letter: "p" | "h" | "f", path: string, args: Record<string, unknown>) =>
    (await send<string>("POST", `${w()}/jobs/run/${letter}/${path}?trigger=ui`, args)).trim(),
  cancel: (id: string, reason: string) => send("POST", `${w()}/jobs_u/queue/cancel/${id}`, { reason }),
  /** Every job as it is queued, starts and ends ("job" events). */
  events: () => new EventSource("/api/millrun/jobs/events"),
  /** One job with its logs as they are written ("logs", "job", "end" events). */
  stream: (id: string) => new EventSource(`/api/millrun/jobs/${id}/stream`),
};

export const requestsApi = {
  list: (filter: { before?: number; route?: string; job_id?: string; failed?: boolean; q?: string; limit?: number } = {}) =>
    getJSON<ReceivedRequest[]>(`/api/millrun/requests${q({ ...filter, before: filter.before || undefined, failed: filter.failed || undefined })}`),
  get: (id: number | string) => getJSON<ReceivedRequest>(`/api/millrun/requests/${id}`),
  replay: (id: number | string, runRefused: boolean) => send<ReplayResult>("POST", `/api/millrun/requests/${id}/replay`, runRefused ? { run_refused: true } : undefined),
  /** Every request as it is recorded ("request" events). */
  events: () => new EventSource("/api/millrun/requests/events"),
};

export const schedulesApi = {
  list: (target?: { path: string; isFlow: boolean }) =>
    getJSON<Schedule[]>(`${w()}/schedules/list${target ? q({ path: target.path, is_flow: target.isFlow }) : ""}`),
  create: (body: Record<string, unknown>) => send("POST", `${w()}/schedules/create`, body),
  update: (path: string, body: Record<string, unknown>) => send("POST", `${w()}/schedules/update/${path}`, body),
  remove: (path: string) => send("DELETE", `${w()}/schedules/delete/${path}`),
  setEnabled: (path: string, enabled: boolean) => send("POST", `${w()}/schedules/setenabled/${path}`, { enabled }),
  explain: (schedule: string, timezone: string) => send<CronExplained>("POST", "/api/millrun/schedules/explain", { schedule, timezone }),
};

export const variablesApi = {
  list: () => getJSON<Variable[]>(`${w()}/variables/list`),
  create: (body: { path: string; value: string; is_secret: boolean; description: string }) => send("POST", `${w()}/variables/create`, body),
  update: (path: string, body: Record<string, unknown>) => send("POST", `${w()}/variables/update/${path}`, body),
  remove: (path: string) => send("DELETE", `${w()}/variables/delete/${path}`),
};

export const tokensApi = {
  list: () => getJSON<Token[]>("/api/users/tokens/list"),
  /** Returns the new token's secret (shown once). */
  create: async (body: { label: string; scopes?: string[]; expiration?: string }) => (await send<string>("POST", "/api/users/tokens/create", body)).trim(),
  remove: (prefix: string) => send("DELETE", `/api/users/tokens/delete/${prefix}`),
};

export const triggersApi = {
  list: (path: string, isFlow: boolean) => getJSON<Route[]>(`${w()}/http_triggers/list${q({ path, is_flow: isFlow })}`),
  /**
   * Creates a route and, first, the resource holding its credentials. A
   * route the server refuses takes its new resource with it, so the
   * user's retry is not blocked by a leftover.
   */
  async create(trigger: unknown, resource?: { path: string }) {
    if (resource) await send("POST", `${w()}/resources/create`, resource);
    try {
      await send("POST", `${w()}/http_triggers/create`, trigger);
    } catch (e) {
      if (resource) await send("DELETE", `${w()}/resources/delete/${resource.path}`).catch(() => {});
      throw e;
    }
  },
  /** Deletes a route and the resource that held its credentials. */
  async remove(path: string, resourcePath?: string) {
    await send("DELETE", `${w()}/http_triggers/delete/${path}`);
    if (resourcePath) await send("DELETE", `${w()}/resources/delete/${resourcePath}`).catch(() => {});
  },
  /** A request signed as the route's sender would sign it, sent through the route. */
  test: <T>(path: string) => send<T>("POST", `/api/millrun/routes/test/${path}`),
};

export const resourcesApi = {
  get: <T>(path: string) => getJSON<T>(`${w()}/resources/get/${path}`),
};

export const settingsApi = {
  get: <T = SettingsView>() => getJSON<T>("/api/millrun/settings"),
  save: <T = SettingsSaved>(settings: unknown) => send<T>("POST", "/api/millrun/settings", settings),
};

export const packagesApi = {
  get: () => getJSON<PackagesView>("/api/millrun/packages"),
  clear: () => send<string>("POST", "/api/millrun/packages/clear"),
};

export const tunnelApi = {
  /** path: "config", "start" or "stop". */
  post: (path: "config" | "start" | "stop", body?: unknown) => send<Tunnel>("POST", `/api/millrun/tunnel/${path}`, body),
  /** The tunnel's state as it changes ("status" events). */
  events: () => new EventSource("/api/millrun/tunnel/events"),
};
