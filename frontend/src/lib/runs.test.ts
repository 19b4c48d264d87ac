import { describe, expect, it } from "vitest";
import { cursorAfter } from "./runs";

describe("cursorAfter", () => {
  it("is the server's cursor for the job: microseconds and id", () => {
    expect(cursorAfter({ id: "abc", created_at: "2026-03-01T10:00:00.123456Z" })).toBe("1772359200123456_abc");
    expect(cursorAfter({ id: "x", created_at: "2026-03-01T10:00:00Z" })).toBe("1772359200000000_x");
    expect(cursorAfter({ id: "x", created_at: "yesterday" })).toBe("");
  });
});
