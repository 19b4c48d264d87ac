import { describe, expect, it } from "vitest";
import { cursorAfter, filtersFrom, filtersQuery, listParams, runMatches, filtering } from "./runs";

describe("cursorAfter", () => {
  it("is the server's cursor for the job: microseconds and id", () => {
    expect(cursorAfter({ id: "abc", created_at: "2026-03-01T10:00:00.123456Z" })).toBe("1772359200123456_abc");
    expect(cursorAfter({ id: "x", created_at: "2026-03-01T10:00:00Z" })).toBe("1772359200000000_x");
    expect(cursorAfter({ id: "x", created_at: "yesterday" })).toBe("");
  });
});

describe("run filters", () => {
  it("go to the URL and come back from it", () => {
    const f = { path: " hello ", status: "queued,running", trigger: "", schedule: "u/me/nightly" };
    const q = filtersQuery(f);
    expect(q).toBe("path=hello&status=queued%2Crunning&schedule=u%2Fme%2Fnightly");
    expect(filtersFrom(q)).toEqual({ path: "hello", status: "queued,running", trigger: "", schedule: "u/me/nightly" });
    expect(filtersQuery(filtersFrom(""))).toBe("");
    expect(filtering(filtersFrom("trigger=webhook"))).toBe(true);
  });

  it("ask the server for a part of the path", () => {
    expect(listParams(filtersFrom("path=ello&trigger=ui"))).toEqual({ script_path_contains: "ello", trigger: "ui" });
  });

  it("match live runs as the server does: any part of the path, in any case", () => {
    const job = { script_path: "u/ann/Hello_e2e", status: "success", trigger: "webhook" };
    expect(runMatches(filtersFrom("path=hello"), job)).toBe(true);
    expect(runMatches(filtersFrom("path=u/ann/"), job)).toBe(true);
    expect(runMatches(filtersFrom("path=bob"), job)).toBe(false);
    expect(runMatches(filtersFrom("status=queued,running"), job)).toBe(false);
    expect(runMatches(filtersFrom("status=success&trigger=webhook"), job)).toBe(true);
  });
});
