// The UI talks to the engine only through fetch('/api/...'), so the same
// UI runs in the desktop window and in a browser against `millrun serve`.

export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
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
    // Errors are Windmill-style text: "Kind: message".
    const text = (await res.text()).trim();
    throw new ApiError(res.status, text || `${res.status} ${res.statusText}`);
  }
  return res;
}

export async function getJSON<T>(path: string): Promise<T> {
  return (await request(path)).json() as Promise<T>;
}

export async function send<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await request(path, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  const type = res.headers.get("Content-Type") ?? "";
  return (type.includes("json") ? res.json() : res.text()) as Promise<T>;
}

export interface Me {
  label: string;
  full_access: boolean;
  workspace: string;
  os_user: string;
  base_url: string;
  version: string;
  desktop?: boolean; // the desktop window: no session, nothing to log out of
  notice?: string; // something to know about how millrun was started
}

export interface ScriptSummary {
  path: string;
  hash: string;
  language: string;
  summary: string;
  run_count: number;
  last_status: string;
  dedicated_worker: boolean | null; // null when off, as Windmill answers
  archived?: boolean; // only in lists asked with show_archived
}

export interface Script extends ScriptSummary {
  content: string;
  timeout?: number | null; // seconds; null: the default (15 minutes)
  description: string;
  schema: import("./schema").Schema;
  created_at: string;
}

export interface Job {
  id: string;
  type: "QueuedJob" | "CompletedJob";
  status: string;
  job_kind: string;
  script_path?: string;
  script_hash?: string;
  language?: string;
  args: Record<string, unknown>;
  result?: unknown;
  logs?: string;
  success?: boolean;
  canceled: boolean;
  canceled_reason?: string;
  created_at: string;
  started_at?: string;
  completed_at?: string;
  duration_ms?: number;
  trigger: string;
  created_by: string;
  headers?: Record<string, string>;
  flow_status?: { step: number; modules: { id: string; type: string; job?: string; duration_ms?: number }[]; early_answer?: { step: string; after_ms: number; result: unknown } };
  parent_job?: string;
  schedule_path?: string;
}

export interface TunnelView {
  state: "off" | "connecting" | "online" | "reconnecting" | "error";
  url?: string;
  error?: string;
  since: string;
  authtoken_hint: string;
  authtoken_source: string;
  domain: string;
  autostart: boolean;
  allow_cidrs?: string[];
}

export function ws(me: Me): string {
  return `/api/w/${encodeURIComponent(me.workspace)}`;
}

export interface ReceivedRequest {
  id: number;
  received_at: string;
  method: string;
  url: string;
  caller_ip: string;
  headers: Record<string, string>;
  status: number;
  duration_ms: number;
  job_id?: string;
  route?: string;
  auth_ok: boolean;
  auth_reason?: string;
  body_truncated: boolean;
  replay_of?: number;
  body?: string;
  body_base64?: string;
  response?: string; // the start of millrun's answer (in lists: for 400 and up)
  run_failed?: boolean;
  note?: string; // answered by millrun itself (a handshake)
}

export interface ReplayResult {
  status: number;
  job_id: string;
  body: string;
}
