import { describe, expect, it } from "vitest";
import { calledWhat, checkText, curlForRequest, formFields } from "./requests";

describe("curlForRequest", () => {
  it("resends method, URL, headers and body, with placeholders for what was redacted", () => {
    const curl = curlForRequest("http://127.0.0.1:8700", {
      method: "POST",
      url: "/api/r/slack/deploy?x=1",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Authorization: "[redacted]", "X-Hook-Key": "[redacted]", Host: "127.0.0.1:8700", "Content-Length": "8", "X-Slack-Signature": "v0=abc" },
      body: "text=it's",
    });
    expect(curl).toBe(
      [
        "curl -X POST 'http://127.0.0.1:8700/api/r/slack/deploy?x=1'",
        "-H 'Authorization: Bearer <TOKEN>'",
        "-H 'Content-Type: application/x-www-form-urlencoded'",
        "-H 'X-Hook-Key: <SECRET>'",
        "-H 'X-Slack-Signature: v0=abc'",
        "--data-binary 'text=it'\\''s'",
      ].join(" \\\n  "),
    );
  });
  it("leaves out an empty body", () => {
    expect(curlForRequest("http://h/", { method: "GET", url: "/api/r/a", headers: {} })).toBe("curl -X GET 'http://h/api/r/a'");
  });
});

describe("formFields", () => {
  it("shows a Slack form as its fields", () => {
    expect(formFields({ "Content-Type": "application/x-www-form-urlencoded" }, "command=%2Fhello&text=a+b")).toEqual([["command", "/hello"], ["text", "a b"]]);
  });
  it("leaves other bodies alone", () => {
    expect(formFields({ "Content-Type": "application/json" }, '{"a":1}')).toBeNull();
  });
});

describe("checkText", () => {
  it("gives the reason of a 400 even though the token passed", () => {
    expect(checkText({ auth_ok: true, auth_reason: "token x", status: 400, response: "Bad request: the body is not JSON" })).toEqual({ text: "Bad request: the body is not JSON", bad: true });
  });
  it("says a 200 carried a failed run", () => {
    expect(checkText({ auth_ok: true, auth_reason: "token x", status: 200, run_failed: true })).toEqual({ text: "token x; the run failed", bad: true });
  });
  it("labels handshakes", () => {
    expect(checkText({ auth_ok: true, status: 200, note: "discord handshake: answered by millrun, no run" }).text).toMatch(/handshake/);
  });
});

describe("calledWhat", () => {
  it("names what a webhook URL calls, without the prefix every one has", () => {
    expect(calledWhat("/api/w/local/jobs/run_wait_result/p/u/ann/hello?include_header=x")).toBe("sync u/ann/hello");
    expect(calledWhat("http://127.0.0.1:8700/api/w/local/jobs/run/p/f/ops/deploy")).toBe("async f/ops/deploy");
    expect(calledWhat("/api/w/local/jobs/run_wait_result/h/0123456789abcdef")).toBe("sync version 0123456789abcdef");
    expect(calledWhat("/api/w/local/jobs/run/f/u/ann/flow")).toBe("async flow u/ann/flow");
    expect(calledWhat("/api/r/slack/deploy")).toBe("route slack/deploy");
    expect(calledWhat("/api/w/local/jobs_u/get/abc")).toBe("jobs_u/get/abc");
  });
});
