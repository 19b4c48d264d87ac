// What the "Add a route" form sends: the route (Windmill's http_trigger)
// and, for methods with credentials, the resource that holds them. Kept
// free of Svelte so Vitest covers it.

export type RouteAuth = "slack" | "discord" | "github" | "standard" | "hmac" | "windmill" | "api_key" | "basic_http" | "none";

export interface RouteForm {
  osUser: string;
  kind: "script" | "flow";
  target: string; // the script or flow path
  method: string;
  routePath: string;
  async: boolean;
  auth: RouteAuth;
  secret: string; // signing secret, public key, API key or password
  header: string; // API key or HMAC header
  username: string;
}

export interface Route {
  path: string;
  script_path: string;
  is_flow: boolean;
  route_path: string;
  http_method: string;
  is_async: boolean;
  authentication_method: string;
  authentication_resource_path?: string;
  workspaced_route: boolean;
  workspace_id: string;
}

/** What each choice asks the user for, in the form's words. */
export const authChoices: { value: RouteAuth; label: string; secretLabel?: string; hint: string }[] = [
  { value: "slack", label: "Slack signature", secretLabel: "Signing secret", hint: "Slack app → Basic Information → Signing Secret. millrun answers Slack's URL check itself." },
  { value: "discord", label: "Discord signature", secretLabel: "Public key", hint: "Discord developer portal → your application → Public Key. millrun answers Discord's PING itself." },
  { value: "github", label: "GitHub signature", secretLabel: "Webhook secret", hint: "The secret you type in the repository's webhook settings (X-Hub-Signature-256)." },
  { value: "standard", label: "Standard Webhooks / Svix", secretLabel: "Signing secret (whsec_…)", hint: "For senders that follow standardwebhooks.com." },
  { value: "hmac", label: "Other HMAC signature", secretLabel: "Secret", hint: "HMAC-SHA256 of the body, hex, in the header you name." },
  { value: "windmill", label: "millrun token", hint: "Callers send a millrun token, as on the other webhook URLs." },
  { value: "api_key", label: "API key header", secretLabel: "Key", hint: "Callers send this key in the header you name." },
  { value: "basic_http", label: "User and password", secretLabel: "Password", hint: "HTTP basic auth." },
  { value: "none", label: "None: anyone with the URL", hint: "Anyone who learns the URL can run this. Rate limits still apply." },
];

const signatureProviders: RouteAuth[] = ["slack", "discord", "github", "standard", "hmac"];

/** A route path suggestion for a script: its name under the provider. */
export function suggestRoutePath(target: string, auth: RouteAuth): string {
  const name = target.split("/").pop() ?? "hook";
  const prefix = signatureProviders.includes(auth) && auth !== "hmac" ? `${auth}/` : "";
  return prefix + name.replace(/[^A-Za-z0-9_.~-]/g, "-");
}

function slug(routePath: string): string {
  return routePath.replace(/[^A-Za-z0-9_]+/g, "_").replace(/^_+|_+$/g, "") || "route";
}

/** The API calls the form makes, in order: the resource (if any), then the route. */
export function routeRequests(f: RouteForm): { resource?: { path: string; resource_type: string; value: Record<string, unknown> }; trigger: Record<string, unknown> } {
  const routePath = f.routePath.trim().replace(/^\/+/, "");
  const name = `u/${f.osUser}/route_${slug(routePath)}`;
  const trigger: Record<string, unknown> = {
    path: name,
    script_path: f.target,
    is_flow: f.kind === "flow",
    route_path: routePath,
    http_method: f.method,
    is_async: f.async,
    authentication_method: signatureProviders.includes(f.auth) ? "signature" : f.auth,
  };
  let value: Record<string, unknown> | undefined;
  const secret = f.secret.trim();
  switch (f.auth) {
    case "slack":
    case "github":
      value = { provider: f.auth, secret };
      break;
    case "standard":
      value = { provider: "standard", secret };
      break;
    case "discord":
      value = { provider: "discord", public_key: secret };
      break;
    case "hmac":
      value = { provider: "hmac", header: f.header.trim() || "X-Signature", secret, algorithm: "sha256", encoding: "hex" };
      break;
    case "api_key":
      value = { header: f.header.trim() || "X-API-Key", key: secret };
      break;
    case "basic_http":
      value = { username: f.username.trim(), password: secret };
      break;
  }
  if (!value) return { trigger };
  const resourcePath = `${name}_auth`;
  trigger.authentication_resource_path = resourcePath;
  const type = signatureProviders.includes(f.auth) ? "signature_auth" : f.auth === "api_key" ? "api_key_auth" : "basic_http_auth";
  return { resource: { path: resourcePath, resource_type: type, value }, trigger };
}

/** Whether a secret field names a secret variable ("$var:u/you/name")
 * instead of holding the secret: millrun reads the variable's value when
 * it checks a call, so its format cannot be checked here. */
export function isVariableRef(secret: string): boolean {
  return /^\$var:[uf]\/\S+$/.test(secret.trim());
}

/** What is missing before the form can be sent, in words; "" when ready. */
export function routeFormProblem(f: RouteForm, confirmedOpen: boolean): string {
  if (!f.routePath.trim()) return "Give the route a path, e.g. slack/deploy.";
  const choice = authChoices.find((c) => c.value === f.auth);
  if (choice?.secretLabel && !f.secret.trim()) return `Paste the ${choice.secretLabel.toLowerCase()}.`;
  const ref = isVariableRef(f.secret);
  if (f.auth === "discord" && !ref && !/^[0-9a-fA-F]{64}$/.test(f.secret.trim())) return "A Discord public key is 64 hexadecimal characters.";
  if (f.auth === "standard" && !ref && !f.secret.trim().startsWith("whsec_")) return "A Standard Webhooks secret starts with whsec_.";
  if (f.auth === "basic_http" && !f.username.trim()) return "Choose a user name.";
  if (f.auth === "none" && !confirmedOpen) return "Confirm that anyone with the URL may run this.";
  return "";
}

/** The URL a route answers on. */
export function routeUrl(base: string, r: Pick<Route, "route_path" | "workspaced_route" | "workspace_id">): string {
  const prefix = r.workspaced_route ? `${encodeURIComponent(r.workspace_id)}/` : "";
  return `${base.replace(/\/+$/, "")}/api/r/${prefix}${r.route_path}`;
}

/** Where a route's URL goes, in the sender's own words, and whether that
 * sender is on the internet (and so needs the tunnel's public URL). */
export function whereToPaste(provider: string): { where: string; sender: string; remote: boolean } {
  switch (provider) {
    case "slack":
      return { sender: "Slack", remote: true, where: "Paste into your Slack app → Slash Commands → your command → Request URL." };
    case "discord":
      return { sender: "Discord", remote: true, where: "Paste into the Discord developer portal → your application → General Information → Interactions Endpoint URL." };
    case "github":
      return { sender: "GitHub", remote: true, where: "Paste into the repository → Settings → Webhooks → Payload URL, with content type application/json." };
    case "standard":
      return { sender: "The sender", remote: true, where: "Paste as the endpoint URL in the sending service's webhook settings." };
    default:
      return { sender: "A caller", remote: false, where: "Give this URL to whatever calls it." };
  }
}

/** The route a template's script is made for: offered once it is saved. */
export function routeForTemplate(templateId: string): RouteAuth | "" {
  return templateId === "slack" || templateId === "discord" || templateId === "github" ? templateId : "";
}
