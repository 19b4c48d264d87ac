import { afterEach, describe, expect, it, vi } from "vitest";
import { jobsApi, scriptsApi, setWorkspace, triggersApi, ApiError } from "./api";

// The typed client is the one place URLs are written: these pin what it
// sends, and the route creation that must not leave a stray resource.

interface Call {
  method: string;
  url: string;
  body?: unknown;
}

function stubServer(answer: (c: Call) => { status: number; body: string; headers?: Record<string, string> }) {
  const calls: Call[] = [];
  vi.stubGlobal("fetch", async (url: string, init: RequestInit = {}) => {
    const c = { method: init.method ?? "GET", url, body: init.body ? JSON.parse(init.body as string) : undefined };
    calls.push(c);
    const a = answer(c);
    return new Response(a.body, { status: a.status, headers: { "Content-Type": "application/json", ...a.headers } });
  });
  return calls;
}

afterEach(() => {
  vi.unstubAllGlobals();
  setWorkspace("local");
});

describe("typed API client", () => {
  it("puts workspace routes under the session's workspace, queries encoded", async () => {
    const calls = stubServer(() => ({ status: 200, body: "[]" }));
    setWorkspace("my team");
    await scriptsApi.list(true);
    await triggersApi.list("u/me/a b", true);
    expect(calls.map((c) => c.url)).toEqual([
      "/api/w/my%20team/scripts/list?show_archived=true",
      "/api/w/my%20team/http_triggers/list?path=u%2Fme%2Fa+b&is_flow=true",
    ]);
  });

  it("reads a page of runs with its next cursor", async () => {
    const calls = stubServer(() => ({ status: 200, body: `[{"id":"j1"}]`, headers: { "X-Millrun-Next-Cursor": "c2" } }));
    const page = await jobsApi.list({ status: "failure" }, "c1");
    expect(page).toEqual({ jobs: [{ id: "j1" }], next: "c2" });
    expect(calls[0].url).toBe("/api/w/local/jobs/list?per_page=50&status=failure&cursor=c1");
  });

  it("removes the credentials it created when the route is refused", async () => {
    const calls = stubServer((c) => (c.url.includes("http_triggers/create") ? { status: 400, body: "Bad request: route taken" } : { status: 201, body: `"ok"` }));
    const err = await triggersApi.create({ path: "u/me/r" }, { path: "u/me/r_secret" }).catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).message).toBe("Bad request: route taken");
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual([
      "POST /api/w/local/resources/create",
      "POST /api/w/local/http_triggers/create",
      "DELETE /api/w/local/resources/delete/u/me/r_secret",
    ]);
  });

  it("shows millrun's hint beside an error whose body is Windmill's fixed words", async () => {
    stubServer(() => ({ status: 401, body: "Not authorized: Unauthorized", headers: { "X-Millrun-Hint": "the token has expired" } }));
    const err = await scriptsApi.get("u/me/x").catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(401);
    expect((err as ApiError).hint).toBe("the token has expired");
    expect((err as ApiError).message).toBe("Not authorized: Unauthorized: the token has expired");
  });

  it("says plainly when millrun cannot be reached", async () => {
    vi.stubGlobal("fetch", async () => {
      throw new TypeError("Failed to fetch");
    });
    await expect(scriptsApi.get("u/me/x")).rejects.toThrow("millrun is not reachable");
  });
});
