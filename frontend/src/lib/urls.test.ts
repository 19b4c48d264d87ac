import { describe, expect, it } from "vitest";
import { curlSnippet, decodePayload, encodePayload, fetchSnippet, getUrl, scopeFor, webhookUrls } from "./urls";

const script = { base: "http://127.0.0.1:8700/", workspace: "local", kind: "script" as const, path: "u/ann/hello", hash: "0123456789abcdef" };

describe("webhookUrls", () => {
  it("builds Windmill's script URLs by path and by hash", () => {
    expect(webhookUrls(script)).toEqual({
      asyncPath: "http://127.0.0.1:8700/api/w/local/jobs/run/p/u/ann/hello",
      syncPath: "http://127.0.0.1:8700/api/w/local/jobs/run_wait_result/p/u/ann/hello",
      asyncHash: "http://127.0.0.1:8700/api/w/local/jobs/run/h/0123456789abcdef",
      syncHash: "http://127.0.0.1:8700/api/w/local/jobs/run_wait_result/h/0123456789abcdef",
    });
  });
  it("uses /f/ for flows and has no hash URLs", () => {
    const u = webhookUrls({ ...script, kind: "flow", path: "f/ops/deploy" });
    expect(u.syncPath).toBe("http://127.0.0.1:8700/api/w/local/jobs/run_wait_result/f/f/ops/deploy");
    expect(u.asyncHash).toBe("");
  });
});

describe("payload", () => {
  it("round-trips unicode in standard, padded base64 (the only alphabet Windmill decodes)", () => {
    const args = { name: "Zoë ✓", q: "a+b/c?>>>" };
    const p = encodePayload(args);
    expect(p).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(p).not.toMatch(/[-_]/);
    expect(decodePayload(p)).toEqual(args);
  });
  it("matches a known value", () => {
    expect(encodePayload({ a: 1 })).toBe("eyJhIjoxfQ==");
  });
  it("builds the GET URL or says what is wrong", () => {
    expect(getUrl("http://x/run_wait_result/p/u/a/b", '{"a":1}')).toEqual({ ok: true, url: "http://x/run_wait_result/p/u/a/b?payload=eyJhIjoxfQ%3D%3D" });
    expect(getUrl("http://x", "", "tok")).toEqual({ ok: true, url: "http://x?payload=e30%3D&token=tok" });
    const bad = getUrl("http://x", "{nope");
    expect(bad.ok).toBe(false);
    expect(getUrl("http://x", "[1,2]")).toEqual({ ok: false, error: expect.stringContaining("JSON object") });
  });
});

describe("snippets", () => {
  it("puts the token in the header by default", () => {
    const s = curlSnippet("http://x/run", '{"a":1}', "TOKEN", "header");
    expect(s).toContain("-H 'Authorization: Bearer TOKEN'");
    expect(s).not.toContain("token=");
    expect(s).toContain(`-d '{"a":1}'`);
  });
  it("can put the token in the query", () => {
    const s = curlSnippet("http://x/run", "", "TOKEN", "query");
    expect(s).toContain("'http://x/run?token=TOKEN'");
    expect(s).not.toContain("Authorization");
    expect(s).toContain("-d '{}'");
  });
  it("quotes single quotes for the shell", () => {
    expect(curlSnippet("http://x", `{"n":"it's"}`, "T", "header")).toContain(`'{"n":"it'\\''s"}'`);
  });
  it("builds a fetch call", () => {
    const s = fetchSnippet("http://x/run", '{"a":1}', "T", "header");
    expect(s).toContain('"Authorization":"Bearer T"');
    expect(s).toContain("JSON.stringify({\"a\":1})");
  });
  it("names the scope of a webhook token", () => {
    expect(scopeFor({ kind: "script", path: "u/a/b" })).toBe("jobs:run:scripts:u/a/b");
    expect(scopeFor({ kind: "flow", path: "f/x/y" })).toBe("jobs:run:flows:f/x/y");
  });
});
