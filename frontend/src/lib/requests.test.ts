import { describe, expect, it } from "vitest";
import { curlForRequest } from "./requests";

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
