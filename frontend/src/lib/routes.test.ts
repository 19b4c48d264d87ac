import { describe, expect, it } from "vitest";
import { routeFormProblem, routeForTemplate, routeRequests, routeUrl, suggestRoutePath, whereToPaste, type RouteForm } from "./routes";

const form: RouteForm = { osUser: "ann", kind: "script", target: "u/ann/deploy", method: "post", routePath: "slack/deploy", async: false, auth: "slack", secret: " abc123 ", header: "", username: "" };

describe("routeRequests", () => {
  it("stores a Slack signing secret in a resource the route names", () => {
    expect(routeRequests(form)).toEqual({
      resource: { path: "u/ann/route_slack_deploy_auth", resource_type: "signature_auth", value: { provider: "slack", secret: "abc123" } },
      trigger: {
        path: "u/ann/route_slack_deploy", script_path: "u/ann/deploy", is_flow: false, route_path: "slack/deploy", http_method: "post",
        is_async: false, authentication_method: "signature", authentication_resource_path: "u/ann/route_slack_deploy_auth",
      },
    });
  });
  it("keeps Discord's key as public_key and slugs :params", () => {
    const r = routeRequests({ ...form, auth: "discord", routePath: "/discord/:guild", secret: "ab".repeat(32) });
    expect(r.resource?.value).toEqual({ provider: "discord", public_key: "ab".repeat(32) });
    expect(r.trigger.path).toBe("u/ann/route_discord_guild");
    expect(r.trigger.route_path).toBe("discord/:guild");
  });
  it("needs no resource for tokens or open routes", () => {
    expect(routeRequests({ ...form, auth: "windmill" }).resource).toBeUndefined();
    expect(routeRequests({ ...form, auth: "none", kind: "flow" }).trigger).toMatchObject({ authentication_method: "none", is_flow: true });
  });
  it("defaults the API key header", () => {
    expect(routeRequests({ ...form, auth: "api_key", secret: "k" }).resource).toMatchObject({ resource_type: "api_key_auth", value: { header: "X-API-Key", key: "k" } });
  });
});

describe("routeFormProblem", () => {
  it("names what is missing", () => {
    expect(routeFormProblem({ ...form, secret: "" }, false)).toBe("Paste the signing secret.");
    expect(routeFormProblem({ ...form, auth: "discord", secret: "xyz" }, false)).toMatch(/64 hexadecimal/);
    expect(routeFormProblem({ ...form, auth: "standard", secret: "abc" }, false)).toMatch(/whsec_/);
    expect(routeFormProblem({ ...form, auth: "none", secret: "" }, false)).toMatch(/Confirm/);
    expect(routeFormProblem({ ...form, auth: "none", secret: "" }, true)).toBe("");
    expect(routeFormProblem(form, false)).toBe("");
  });
  it("takes a secret variable's name in place of the secret", () => {
    expect(routeFormProblem({ ...form, auth: "discord", secret: "$var:u/ann/discord_key" }, false)).toBe("");
    expect(routeFormProblem({ ...form, auth: "standard", secret: " $var:f/ops/whsec " }, false)).toBe("");
    expect(routeFormProblem({ ...form, auth: "standard", secret: "$var:" }, false)).toMatch(/whsec_/);
    expect(routeRequests({ ...form, auth: "api_key", header: "X-Hook-Key", secret: "$var:u/ann/hook_key" }).resource?.value).toEqual({ header: "X-Hook-Key", key: "$var:u/ann/hook_key" });
  });
});

describe("routeUrl and suggestRoutePath", () => {
  it("builds /api/r URLs, with the workspace when asked", () => {
    expect(routeUrl("http://127.0.0.1:8700/", { route_path: "slack/deploy", workspaced_route: false, workspace_id: "local" })).toBe("http://127.0.0.1:8700/api/r/slack/deploy");
    expect(routeUrl("https://x.ngrok.app", { route_path: "a", workspaced_route: true, workspace_id: "local" })).toBe("https://x.ngrok.app/api/r/local/a");
  });
  it("suggests provider/name", () => {
    expect(suggestRoutePath("u/ann/deploy", "slack")).toBe("slack/deploy");
    expect(suggestRoutePath("u/ann/deploy", "api_key")).toBe("deploy");
  });
});

describe("whereToPaste", () => {
  it("names the field in the sender's own settings", () => {
    expect(whereToPaste("slack").where).toMatch(/Slash Commands → your command → Request URL/);
    expect(whereToPaste("discord").where).toMatch(/Interactions Endpoint URL/);
    expect(whereToPaste("github").where).toMatch(/Payload URL/);
  });
  it("says which senders live on the internet and need the tunnel", () => {
    expect(whereToPaste("slack")).toMatchObject({ sender: "Slack", remote: true });
    expect(whereToPaste("api_key").remote).toBe(false);
  });
});

describe("routeForTemplate", () => {
  it("offers the route a provider template is written for, and none otherwise", () => {
    expect(routeForTemplate("slack")).toBe("slack");
    expect(routeForTemplate("discord")).toBe("discord");
    expect(routeForTemplate("hello-python")).toBe("");
  });
});
