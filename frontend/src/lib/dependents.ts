import { flowsApi, schedulesApi, tokensApi, triggersApi } from "./api";

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

/**
 * Archives, restores or deletes a flow after the user confirms what points
 * at it; false when they declined. Errors are the caller's to show.
 */
export async function changeFlow(what: "archive" | "restore" | "delete", path: string): Promise<boolean> {
  if (what !== "restore") {
    const { routes, tokens, schedules } = await dependentsOf("flow", path);
    const lines = [what === "archive"
      ? `Archive ${path}? Its webhook URLs will answer 404 and it leaves the Flows list until you restore it; its versions and past runs stay.`
      : `Delete ${path} and every version of it? Its webhook URLs will answer 404; its past runs stay in Runs.`];
    if (routes.length) lines.push(`Routes that run it will answer 404: ${routes.join(", ")}.`);
    if (tokens.length) lines.push(`Tokens scoped to it will run nothing: ${tokens.join(", ")}.`);
    if (schedules.length) lines.push(`Schedules that run it will record a failure at each due time until you delete them: ${schedules.join(", ")}.`);
    if (!confirm(lines.join("\n\n"))) return false;
  }
  if (what === "delete") await flowsApi.remove(path);
  else await flowsApi.archive(path, what === "archive");
  return true;
}
