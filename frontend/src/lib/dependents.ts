import { schedulesApi, tokensApi, triggersApi } from "./api";

// What points at a script or flow: the confirmations before archiving or
// deleting one name them and say what becomes of them.

export interface Dependents {
  routes: string[]; // their URLs, /api/r/...
  tokens: string[]; // labels of tokens scoped to it
  schedules: string[]; // enabled schedules that run it
}

export async function dependentsOf(kind: "script" | "flow", path: string): Promise<Dependents> {
  const isFlow = kind === "flow";
  const [routes, tokens, schedules] = await Promise.all([
    triggersApi.list(path, isFlow).catch(() => []),
    tokensApi.list().catch(() => []),
    schedulesApi.list({ path, isFlow }).catch(() => []),
  ]);
  const scope = `jobs:run:${isFlow ? "flows" : "scripts"}:${path}`;
  return {
    routes: routes.map((r) => "/api/r/" + r.route_path),
    tokens: tokens.filter((t) => t.scopes?.includes(scope)).map((t) => t.label),
    schedules: schedules.filter((s) => s.enabled).map((s) => s.path),
  };
}
